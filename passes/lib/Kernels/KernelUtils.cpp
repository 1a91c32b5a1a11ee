//===- KernelUtils.cpp - What the micro-kernel lowerings share ------------===//
#include "KernelUtils.h"

#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

using namespace mlir;

namespace llamac::kernels {

Value tileView(OpBuilder &b, Location loc, Value base, Value offset,
               int64_t rows, OpFoldResult rowStride) {
  Type element = cast<MemRefType>(base.getType()).getElementType();
  std::optional<int64_t> staticStride = getConstantIntValue(rowStride);
  int64_t stride = staticStride ? *staticStride : ShapedType::kDynamic;
  auto type = MemRefType::get(
      {rows, stride}, element,
      StridedLayoutAttr::get(b.getContext(), ShapedType::kDynamic,
                             {stride, 1}));
  return b.create<memref::ReinterpretCastOp>(
      loc, type, base, OpFoldResult(offset),
      ArrayRef<OpFoldResult>{b.getIndexAttr(rows), rowStride},
      ArrayRef<OpFoldResult>{rowStride, b.getIndexAttr(1)});
}

Value vectorView(OpBuilder &b, Location loc, Value base, Value offset,
                 int64_t size) {
  Type element = cast<MemRefType>(base.getType()).getElementType();
  auto type = MemRefType::get(
      {size}, element,
      StridedLayoutAttr::get(b.getContext(), ShapedType::kDynamic, {1}));
  return b.create<memref::ReinterpretCastOp>(
      loc, type, base, OpFoldResult(offset),
      ArrayRef<OpFoldResult>{b.getIndexAttr(size)},
      ArrayRef<OpFoldResult>{b.getIndexAttr(1)});
}

void guard(OpBuilder &b, linalg::GenericOp op, Value contiguous,
           function_ref<void(OpBuilder &, Location)> build) {
  Location loc = op.getLoc();
  b.setInsertionPoint(op);
  auto branch = b.create<scf::IfOp>(loc, contiguous, /*withElse=*/true);
  {
    OpBuilder::InsertionGuard g(b);
    b.setInsertionPointToStart(branch.thenBlock());
    build(b, loc);
    b.setInsertionPointToStart(branch.elseBlock());
    Operation *fallback = b.clone(*op);
    fallback->removeAttr(llm::MicroKernelAttr::getAttrName());
  }
  op.erase();
}

LogicalResult checkProductShape(linalg::GenericOp op,
                                llm::MicroKernelAttr kernel, unsigned inputs,
                                unsigned loops, StringRef operands) {
  if (op.getNumDpsInputs() == inputs && op.getNumDpsInits() == 1 &&
      op.getNumLoops() == loops && op.hasPureBufferSemantics())
    return success();
  return op.emitOpError("tagged ")
         << kernel << " but not a bufferized " << loops << "-loop product of "
         << operands;
}

bool areQuantTiles(MemRefType codes, MemRefType scales, bool q4) {
  SmallVector<int64_t> tail = {kDepth / 2, kTile};
  if (!q4)
    tail.push_back(2);
  return codes.getRank() == int64_t(tail.size()) + 2 &&
         codes.getElementType().isInteger(8) && !codes.isDynamicDim(1) &&
         codes.getShape().drop_front(2) == ArrayRef<int64_t>(tail) &&
         scales.getRank() == 3 && scales.getElementType().isF16() &&
         scales.getDimSize(2) == kTile;
}

StringRef quantCodesShape(bool q4) {
  return q4 ? "i8 [nb, kb, 16, 16]" : "i8 [nb, kb, 16, 16, 2]";
}

void appendQuantContiguity(IndexMath &m, const Strided &codes,
                           const Strided &scales, bool q4,
                           SmallVector<Value> &conditions) {
  conditions.push_back(m.eq(scales.strides[2], 1));
  if (q4) {
    conditions.push_back(m.eq(codes.strides[2], kTile));
    conditions.push_back(m.eq(codes.strides[3], 1));
  } else {
    conditions.push_back(m.eq(codes.strides[2], kDepth));
    conditions.push_back(m.eq(codes.strides[3], 2));
    conditions.push_back(m.eq(codes.strides[4], 1));
  }
}

Value tileOffset(IndexMath &m, const Strided &s, Value nb, Value kb) {
  return m.at(s.offset, {{nb, s.strides[0]}, {kb, s.strides[1]}});
}

Value loadBlockScales(OpBuilder &b, Location loc, const Strided &scales,
                      Value nb, Value kb) {
  IndexMath m{b, loc};
  Value view = vectorView(b, loc, scales.base, tileOffset(m, scales, nb, kb),
                          kTile);
  Value half = b.create<vector::LoadOp>(
      loc, VectorType::get({kTile}, b.getF16Type()), view, ValueRange{m.c(0)});
  return b.create<arith::ExtFOp>(loc, VectorType::get({kTile}, b.getF32Type()),
                                 half);
}

void emitRowsInGroups(
    OpBuilder &b, Location loc, Value rows, Value outTiles,
    function_ref<void(OpBuilder &, Value row, Value nb, int64_t group)>
        emitGroup,
    function_ref<void(OpBuilder &, Value row)> beginRow) {
  IndexMath m{b, loc};
  Value zero = m.c(0), one = m.c(1), group = m.c(kGemvGroup);
  auto rowLoop = b.create<scf::ForOp>(loc, zero, rows, one);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(rowLoop.getBody());
  Value row = rowLoop.getInductionVar();
  if (beginRow)
    beginRow(b, row);
  Value groupsEnd = b.create<arith::SubIOp>(
      loc, outTiles, b.create<arith::RemUIOp>(loc, outTiles, group));
  auto groups = b.create<scf::ForOp>(loc, zero, groupsEnd, group);
  {
    OpBuilder::InsertionGuard g(b);
    b.setInsertionPointToStart(groups.getBody());
    emitGroup(b, row, groups.getInductionVar(), kGemvGroup);
  }
  auto rest = b.create<scf::ForOp>(loc, groupsEnd, outTiles, one);
  b.setInsertionPointToStart(rest.getBody());
  emitGroup(b, row, rest.getInductionVar(), 1);
}

SmallVector<Value> outputTileViews(OpBuilder &b, Location loc,
                                   const Strided &y, Value row, Value nb,
                                   int64_t group) {
  IndexMath m{b, loc};
  SmallVector<Value> views;
  for (int64_t g = 0; g < group; ++g)
    views.push_back(vectorView(
        b, loc, y.base,
        m.at(y.offset, {{row, y.strides[0]}, {m.add(nb, m.c(g)), y.strides[1]}}),
        kTile));
  return views;
}

SmallVector<Value> emitDepthLoop(
    OpBuilder &b, Location loc, int64_t depthTiles, ValueRange init,
    function_ref<void(OpBuilder &, Value kb, SmallVectorImpl<Value> &)> body) {
  IndexMath m{b, loc};
  auto loop =
      b.create<scf::ForOp>(loc, m.c(0), m.c(depthTiles), m.c(1), init);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(loop.getBody());
  SmallVector<Value> carried(loop.getRegionIterArgs().begin(),
                             loop.getRegionIterArgs().end());
  body(b, loop.getInductionVar(), carried);
  b.create<scf::YieldOp>(loc, carried);
  return SmallVector<Value>(loop.getResults().begin(), loop.getResults().end());
}

void emitAccumulateRow(
    OpBuilder &b, Location loc, const Strided &y, Value row, Value nb,
    int64_t group, int64_t depthTiles,
    function_ref<void(OpBuilder &, Value kb, SmallVectorImpl<Value> &)> body) {
  IndexMath m{b, loc};
  auto accType = VectorType::get({kTile}, b.getF32Type());
  SmallVector<Value> views = outputTileViews(b, loc, y, row, nb, group), init;
  for (Value view : views)
    init.push_back(
        b.create<vector::LoadOp>(loc, accType, view, ValueRange{m.c(0)}));
  SmallVector<Value> results = emitDepthLoop(b, loc, depthTiles, init, body);
  for (auto [result, view] : llvm::zip(results, views))
    b.create<vector::StoreOp>(loc, result, view, ValueRange{m.c(0)});
}

bool QuantGemvOperands::typesMatch(Value input, Value codes, Value scales,
                                   Value out, bool q4, Type element) {
  auto inputType = cast<MemRefType>(input.getType());
  auto outType = cast<MemRefType>(out.getType());
  return inputType.getRank() == 4 && outType.getRank() == 3 &&
         areQuantTiles(cast<MemRefType>(codes.getType()),
                       cast<MemRefType>(scales.getType()), q4) &&
         inputType.getElementType() == element &&
         outType.getElementType().isF32() &&
         inputType.getShape().take_back(2) ==
             ArrayRef<int64_t>{kDepth / 2, 2} &&
         outType.getDimSize(2) == kTile;
}

void QuantGemvOperands::bind(OpBuilder &b, Location loc, bool scheme4,
                             Value input, Value codes, Value scales,
                             Value out) {
  q4 = scheme4;
  x = Strided::of(b, loc, input);
  w = Strided::of(b, loc, codes);
  s = Strided::of(b, loc, scales);
  y = Strided::of(b, loc, out);
  rows = x.sizes[0];
  outTiles = w.sizes[0];
  depthTiles = cast<MemRefType>(codes.getType()).getDimSize(1);
}

Value QuantGemvOperands::contiguous(OpBuilder &b, Location loc) const {
  IndexMath m{b, loc};
  SmallVector<Value> conditions = {
      m.eq(x.strides[1], kDepth), m.eq(x.strides[2], 2),
      m.eq(x.strides[3], 1), m.eq(y.strides[1], kTile),
      m.eq(y.strides[2], 1)};
  appendQuantContiguity(m, w, s, q4, conditions);
  return m.all(conditions);
}

} // namespace llamac::kernels
