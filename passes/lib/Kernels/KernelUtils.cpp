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
  auto type =
      MemRefType::get({rows, stride}, element,
                      StridedLayoutAttr::get(
                          b.getContext(), ShapedType::kDynamic, {stride, 1}));
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

namespace {
bool matches(MemRefType type, const OperandSpec &spec) {
  if (type.getElementType() !=
          llm::getMLIRType(type.getContext(), spec.element) ||
      type.getRank() != int64_t(spec.shape.size()))
    return false;
  for (auto [size, wanted] : llvm::zip(type.getShape(), spec.shape))
    if ((wanted == kStaticSize && ShapedType::isDynamic(size)) ||
        (wanted >= 0 && size != wanted))
      return false;
  return true;
}
} // namespace

OperandSpec inputTilesSpec() {
  return {artifact::ElementType::BF16,
          {kAnySize, kStaticSize, kTile, kDepth / 2, 2},
          3};
}

OperandSpec accumulatorTilesSpec() {
  return {artifact::ElementType::F32, {kAnySize, kTile, kAnySize, kTile}, 2};
}

SmallVector<OperandSpec> bf16TileProductSpecs() {
  OperandSpec weights = inputTilesSpec();
  weights.shape = {kAnySize, kAnySize, kDepth / 2, kTile, 2};
  return {inputTilesSpec(), weights, accumulatorTilesSpec()};
}

LogicalResult lowerBF16TileProduct(
    linalg::GenericOp op, llm::MicroKernelAttr config, TuningCheck checkTuning,
    function_ref<void(OpBuilder &, Location, const ProductOperands &,
                      int64_t depthTiles)>
        emit) {
  SmallVector<OperandSpec> specs = bf16TileProductSpecs();
  if (failed(matchProductOperands(op, config, 7, "two tiled operands", specs,
                                  kBF16TileProductShapes)))
    return failure();
  int64_t depthTiles =
      cast<MemRefType>(op.getDpsInputs()[0].getType()).getDimSize(1);
  if (failed(checkTuning(depthTiles)))
    return failure();
  OpBuilder b(op);
  ProductOperands operands = bindProductOperands(b, op, specs);
  guard(b, op, operands.contiguous, [&](OpBuilder &b, Location loc) {
    emit(b, loc, operands, depthTiles);
  });
  return success();
}

OperandSpec quantCodesSpec(bool q4) {
  OperandSpec spec{
      artifact::ElementType::I8, {kAnySize, kStaticSize, kDepth / 2, kTile}, 2};
  if (!q4) {
    spec.shape.push_back(2);
    spec.contiguousDims = 3;
  }
  return spec;
}

OperandSpec quantScalesSpec() {
  return {artifact::ElementType::F16, {kAnySize, kAnySize, kTile}, 1};
}

StringRef quantCodesShape(bool q4) {
  return q4 ? "i8 [nb, kb, 16, 16]" : "i8 [nb, kb, 16, 16, 2]";
}

LogicalResult matchProductOperands(linalg::GenericOp op,
                                   llm::MicroKernelAttr kernel, unsigned loops,
                                   StringRef what, ArrayRef<OperandSpec> specs,
                                   const Twine &description) {
  StringRef kind = llm::stringifyMicroKernelKind(kernel.getKind());
  if (op.getNumDpsInputs() + 1 != specs.size() || op.getNumDpsInits() != 1 ||
      op.getNumLoops() != loops || !op.hasPureBufferSemantics())
    return op.emitOpError("tagged ") << kind << " but not a bufferized "
                                     << loops << "-loop product of " << what;
  for (auto [operand, spec] : llvm::zip(op->getOperands(), specs))
    if (!matches(cast<MemRefType>(operand.getType()), spec))
      return op.emitOpError("tagged ")
             << kind << " but its operands are not " << description;
  return success();
}

ProductOperands bindProductOperands(OpBuilder &b, linalg::GenericOp op,
                                    ArrayRef<OperandSpec> specs) {
  Location loc = op.getLoc();
  IndexMath m{b, loc};
  ProductOperands bound;
  SmallVector<Value> conditions;
  for (auto [operand, spec] : llvm::zip(op->getOperands(), specs)) {
    bound.strided.push_back(Strided::of(b, loc, operand));
    bound.types.push_back(cast<MemRefType>(operand.getType()));
    const Strided &s = bound.strided.back();
    int64_t rank = spec.shape.size(), elements = 1;
    for (int64_t dim = rank - 1; dim >= rank - int64_t(spec.contiguousDims);
         --dim) {
      conditions.push_back(m.eq(s.strides[dim], elements));
      assert(
          (spec.shape[dim] > 0 || dim == rank - int64_t(spec.contiguousDims)) &&
          "a contiguous dimension's inner sizes must be known");
      elements *= spec.shape[dim];
    }
  }
  bound.contiguous = m.all(conditions);
  return bound;
}

Value tileOffset(IndexMath &m, const Strided &s, Value nb, Value kb) {
  return m.at(s.offset, {{nb, s.strides[0]}, {kb, s.strides[1]}});
}

Value loadBlockScales(OpBuilder &b, Location loc, const Strided &scales,
                      Value nb, Value kb) {
  IndexMath m{b, loc};
  Value view =
      vectorView(b, loc, scales.base, tileOffset(m, scales, nb, kb), kTile);
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

SmallVector<Value> outputTileViews(OpBuilder &b, Location loc, const Strided &y,
                                   Value row, Value nb, int64_t group) {
  IndexMath m{b, loc};
  SmallVector<Value> views;
  for (int64_t g = 0; g < group; ++g)
    views.push_back(
        vectorView(b, loc, y.base,
                   m.at(y.offset, {{row, y.strides[0]},
                                   {m.add(nb, m.c(g)), y.strides[1]}}),
                   kTile));
  return views;
}

SmallVector<Value> emitDepthLoop(
    OpBuilder &b, Location loc, int64_t depthTiles, ValueRange init,
    function_ref<void(OpBuilder &, Value kb, SmallVectorImpl<Value> &)> body) {
  IndexMath m{b, loc};
  auto loop = b.create<scf::ForOp>(loc, m.c(0), m.c(depthTiles), m.c(1), init);
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

SmallVector<OperandSpec>
QuantGemvOperands::specs(bool q4, artifact::ElementType inputs) {
  return {{inputs, {kAnySize, kAnySize, kDepth / 2, 2}, 3},
          quantCodesSpec(q4),
          quantScalesSpec(),
          {artifact::ElementType::F32, {kAnySize, kAnySize, kTile}, 2}};
}

void QuantGemvOperands::bind(bool scheme4, const ProductOperands &operands) {
  q4 = scheme4;
  x = operands.strided[0];
  w = operands.strided[1];
  s = operands.strided[2];
  y = operands.strided.back();
  rows = x.sizes[0];
  outTiles = w.sizes[0];
  depthTiles = operands.types[1].getDimSize(1);
}

std::pair<Value, Value> broadcastInputPair(OpBuilder &b, Location loc,
                                           Value inputs, int64_t kr,
                                           VectorType type) {
  IndexMath k{b, loc};
  Value even = b.create<memref::LoadOp>(loc, inputs, k.c(2 * kr));
  Value odd = b.create<memref::LoadOp>(loc, inputs, k.c(2 * kr + 1));
  return {b.create<vector::SplatOp>(loc, type, even),
          b.create<vector::SplatOp>(loc, type, odd)};
}

} // namespace llamac::kernels
