//===- MicroKernels.cpp - llm-lower-micro-kernels -------------------------===//
//
// The code for products by vnni16x32 weights (see LLMOps.td), generated from
// the AMX and vector dialects. `llm-to-linalg` gives those products loops
// that name the tiles and a tag; here, on buffers, each tagged op becomes
//
//   scf.if (every tile is contiguous) { micro-kernel } else { the op itself }
//
// so that the fallback keeps the op's exact semantics for any layout.
//
// AMX (tag "amx_bf16"): operands A[mb, kb, mi, kr, kp] (bf16 input tiles),
// W[nb, kb, kr, ni, kp] (weight tiles) and C[mb, mi, nb, ni] (f32). Each
// 16 x 32 tile of A or W is 1 KiB contiguous; a C tile is 16 rows of 16
// floats, `row stride` apart. MLIR 19's AMX lowering computes a tile's row
// stride from the innermost *size* of the memref it loads from, so every
// tile is addressed through a memref.reinterpret_cast whose innermost size
// is that stride.
//
// GEMV (tag "vnni_gemv"): operands X[m, kb, kr, kp] (f32 inputs), W as above
// and Y[m, nb, ni] (f32). One 64-byte load holds 16 outputs x 2 inputs; the
// even and odd bf16 halves are widened exactly by a shift and a mask.
//
// Quantized GEMV (tags "q8_0_gemv", "q4_0_gemv"): the same loops over int8
// or 4-bit codes, dequantized in registers, with f16 block scales (see
// QuantGemv below). With inputs quantized too (tags "q8_0_i8_gemv",
// "q4_0_i8_gemv"): integer dot products per block (see QuantGemvI8).
//
// AMX on quantized weights (tags "amx_q8_0", "amx_q4_0"): operands as for
// "amx_bf16" with codes and scales in place of W; panels of weight tiles are
// dequantized and rounded to bf16 into a buffer, then multiplied as above.
//
// f32 panels (tag "f32_panels"): X[m, k], W[nb, k, 64] and Y[m, nb, 64],
// all f32; a register-blocked broadcast-FMA GEMM, or a GEMV streaming four
// panels for one row (see PanelProduct below).
//
//===----------------------------------------------------------------------===//
#include "llamac/Transforms/Passes.h"

#include "mlir/Dialect/AMX/AMXDialect.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/Builders.h"

namespace llamac {
#define GEN_PASS_DEF_LLMLOWERMICROKERNELSPASS
#include "llamac/Transforms/Passes.h.inc"
} // namespace llamac

using namespace mlir;

namespace {

constexpr llvm::StringLiteral kMicroKernel = "llm.micro_kernel";
constexpr int64_t kTile = 16;     // rows (and f32 columns) of a tile
constexpr int64_t kDepth = 32;    // bf16 columns of an input/weight tile
constexpr int64_t kGemvGroup = 4; // weight streams per GEMV iteration

/// Base buffer, offset and strides of a strided memref.
struct Strided {
  Value base, offset;
  SmallVector<Value> strides;
  SmallVector<Value> sizes;

  static Strided of(OpBuilder &b, Location loc, Value memref) {
    auto metadata = b.create<memref::ExtractStridedMetadataOp>(loc, memref);
    Strided s;
    s.base = metadata.getBaseBuffer();
    s.offset = metadata.getOffset();
    s.strides.assign(metadata.getStrides().begin(),
                     metadata.getStrides().end());
    s.sizes.assign(metadata.getSizes().begin(), metadata.getSizes().end());
    return s;
  }
};

/// Index arithmetic helpers.
struct IndexMath {
  OpBuilder &b;
  Location loc;
  Value c(int64_t value) {
    return b.create<arith::ConstantIndexOp>(loc, value);
  }
  Value add(Value x, Value y) { return b.create<arith::AddIOp>(loc, x, y); }
  Value mul(Value x, Value y) { return b.create<arith::MulIOp>(loc, x, y); }
  Value eq(Value x, int64_t value) {
    return b.create<arith::CmpIOp>(loc, arith::CmpIPredicate::eq, x, c(value));
  }
  Value all(ArrayRef<Value> conditions) {
    Value result = conditions.front();
    for (Value condition : conditions.drop_front())
      result = b.create<arith::AndIOp>(loc, result, condition);
    return result;
  }
  /// offset + sum(index_i * stride_i)
  Value at(Value offset, ArrayRef<std::pair<Value, Value>> terms) {
    Value result = offset;
    for (auto [index, stride] : terms)
      result = add(result, mul(index, stride));
    return result;
  }
};

/// A `rows x columns` view at `offset` of `base` whose rows are `rowStride`
/// elements apart (innermost size = row stride, as the AMX lowering wants).
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

/// A 1-D view of `size` contiguous elements at `offset` of `base`.
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

/// Replaces `op` by `if (contiguous) { build() } else { op untagged }`.
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
    fallback->removeAttr(kMicroKernel);
  }
  op.erase();
}

/// Succeeds when `op` is a bufferized product of `inputs` operands into one
/// result over `loops` loops; otherwise says so, naming its tag and what
/// its operands should be.
LogicalResult checkProductShape(linalg::GenericOp op, StringRef tag,
                                unsigned inputs, unsigned loops,
                                StringRef operands) {
  if (op.getNumDpsInputs() == inputs && op.getNumDpsInits() == 1 &&
      op.getNumLoops() == loops && op.hasPureBufferSemantics())
    return success();
  return op.emitOpError("tagged ")
         << tag << " but not a bufferized " << loops << "-loop product of "
         << operands;
}

/// The largest divisor of `depthTiles` not above `limit` (at least 1): how
/// many reduction tiles the AMX kernel runs between accumulator reloads.
int64_t unrollFor(int64_t depthTiles, int64_t limit) {
  for (int64_t u = std::min(limit, depthTiles); u > 1; --u)
    if (depthTiles % u == 0)
      return u;
  return 1;
}

/// True for the codes and scales of quantized weight tiles: i8
/// [nb, kb, 16, 16, 2] (Q8_0) or [nb, kb, 16, 16] (Q4_0, two codes a
/// byte) with a static kb, and f16 [nb, kb, 16].
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

/// Appends the run-time checks that every codes tile and scales row is
/// contiguous.
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

/// Offset of tile [nb, kb] of weight tiles (or of a scales row) `s`.
Value tileOffset(IndexMath &m, const Strided &s, Value nb, Value kb) {
  return m.at(s.offset, {{nb, s.strides[0]}, {kb, s.strides[1]}});
}

/// The 16 f16 scales of block [nb, kb], widened to f32.
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

//===----------------------------------------------------------------------===//
// AMX
//===----------------------------------------------------------------------===//

struct AMXMatmul {
  Strided a, w, c;
  Value rowTiles, outTiles;
  int64_t depthTiles, unroll;
  VectorType inputTile, accTile;

  /// One block of `tm` x `tn` accumulator tiles at (mb, nb).
  void emitBlock(OpBuilder &b, Location loc, Value mb, Value nb, int64_t tm,
                 int64_t tn) const {
    IndexMath m{b, loc};
    SmallVector<Value> mbs, nbs;
    for (int64_t i = 0; i < tm; ++i)
      mbs.push_back(m.add(mb, m.c(i)));
    for (int64_t j = 0; j < tn; ++j)
      nbs.push_back(m.add(nb, m.c(j)));
    OpFoldResult cRowStride = c.strides[1];
    auto cTile = [&](OpBuilder &b, int64_t i, int64_t j) {
      Value offset = m.at(c.offset, {{mbs[i], c.strides[0]},
                                     {nbs[j], c.strides[2]}});
      return tileView(b, loc, c.base, offset, kTile, cRowStride);
    };
    Value zero = m.c(0);
    auto kLoop = b.create<scf::ForOp>(loc, zero, m.c(depthTiles),
                                      m.c(unroll));
    OpBuilder::InsertionGuard g(b);
    b.setInsertionPointToStart(kLoop.getBody());
    IndexMath k{b, loc};
    Value kb0 = kLoop.getInductionVar();
    // The accumulators live in C between unrolled steps (MLIR 19 cannot
    // carry AMX tiles through scf.for), each loaded and stored once per
    // `unroll` reduction tiles.
    SmallVector<SmallVector<Value>> views(tm), acc(tm);
    for (int64_t i = 0; i < tm; ++i)
      for (int64_t j = 0; j < tn; ++j) {
        views[i].push_back(cTile(b, i, j));
        acc[i].push_back(b.create<amx::TileLoadOp>(
            loc, accTile, views[i][j], ValueRange{zero, zero}));
      }
    for (int64_t u = 0; u < unroll; ++u) {
      Value kb = k.add(kb0, k.c(u));
      SmallVector<Value> lhs, rhs;
      for (int64_t i = 0; i < tm; ++i) {
        Value offset =
            k.at(a.offset, {{mbs[i], a.strides[0]}, {kb, a.strides[1]}});
        Value view = tileView(b, loc, a.base, offset, kTile,
                              b.getIndexAttr(kDepth));
        lhs.push_back(b.create<amx::TileLoadOp>(loc, inputTile, view,
                                                ValueRange{zero, zero}));
      }
      for (int64_t j = 0; j < tn; ++j) {
        Value offset =
            k.at(w.offset, {{nbs[j], w.strides[0]}, {kb, w.strides[1]}});
        Value view = tileView(b, loc, w.base, offset, kTile,
                              b.getIndexAttr(kDepth));
        rhs.push_back(b.create<amx::TileLoadOp>(loc, inputTile, view,
                                                ValueRange{zero, zero}));
      }
      for (int64_t i = 0; i < tm; ++i)
        for (int64_t j = 0; j < tn; ++j)
          acc[i][j] = b.create<amx::TileMulFOp>(loc, accTile, lhs[i], rhs[j],
                                                acc[i][j]);
    }
    for (int64_t i = 0; i < tm; ++i)
      for (int64_t j = 0; j < tn; ++j)
        b.create<amx::TileStoreOp>(loc, views[i][j], ValueRange{zero, zero},
                                   acc[i][j]);
  }

  /// Loops over 2 x 2 blocks with 1-wide remainders: row tiles in chunks
  /// whose input tiles fit in L2 (about 512 KiB), then output tiles, then
  /// the rows of the chunk, so a strip of weight tiles stays in L1/L2 while
  /// the chunk's input tiles are reused from L2 for every strip.
  void emit(OpBuilder &b, Location loc) const {
    IndexMath m{b, loc};
    Value zero = m.c(0), one = m.c(1), two = m.c(2);
    const int64_t chunkTiles =
        std::max<int64_t>(2, (512 / std::max<int64_t>(depthTiles, 1)) & ~1);
    auto pairsEnd = [&](OpBuilder &b, Value begin, Value end) {
      // end - (end - begin) % 2
      Value count = b.create<arith::SubIOp>(loc, end, begin);
      return b.create<arith::SubIOp>(
          loc, end, b.create<arith::RemUIOp>(loc, count, two));
    };
    Value outPairs = pairsEnd(b, zero, outTiles);
    auto chunks = b.create<scf::ForOp>(loc, zero, rowTiles, m.c(chunkTiles));
    OpBuilder::InsertionGuard chunkGuard(b);
    b.setInsertionPointToStart(chunks.getBody());
    Value rowBegin = chunks.getInductionVar();
    Value rowEnd = b.create<arith::MinUIOp>(
        loc, b.create<arith::AddIOp>(loc, rowBegin, m.c(chunkTiles)),
        rowTiles);
    Value rowPairs = pairsEnd(b, rowBegin, rowEnd);
    auto rowLoops = [&](OpBuilder &b, Value nb, int64_t tn) {
      auto pairs = b.create<scf::ForOp>(loc, rowBegin, rowPairs, two);
      {
        OpBuilder::InsertionGuard g(b);
        b.setInsertionPointToStart(pairs.getBody());
        emitBlock(b, loc, pairs.getInductionVar(), nb, 2, tn);
      }
      auto rest = b.create<scf::ForOp>(loc, rowPairs, rowEnd, one);
      OpBuilder::InsertionGuard g(b);
      b.setInsertionPointToStart(rest.getBody());
      emitBlock(b, loc, rest.getInductionVar(), nb, 1, tn);
    };
    auto outLoop = b.create<scf::ForOp>(loc, zero, outPairs, two);
    {
      OpBuilder::InsertionGuard g(b);
      b.setInsertionPointToStart(outLoop.getBody());
      rowLoops(b, outLoop.getInductionVar(), 2);
    }
    auto outRest = b.create<scf::ForOp>(loc, outPairs, outTiles, one);
    OpBuilder::InsertionGuard g(b);
    b.setInsertionPointToStart(outRest.getBody());
    rowLoops(b, outRest.getInductionVar(), 1);
  }
};

LogicalResult lowerAMX(linalg::GenericOp op, int64_t unrollLimit) {
  if (failed(checkProductShape(op, "amx_bf16", 2, 7, "two tiled operands")))
    return failure();
  Value lhs = op.getDpsInputs()[0], rhs = op.getDpsInputs()[1],
        out = op.getDpsInits()[0];
  auto lhsType = cast<MemRefType>(lhs.getType());
  auto rhsType = cast<MemRefType>(rhs.getType());
  auto outType = cast<MemRefType>(out.getType());
  if (lhsType.getRank() != 5 || rhsType.getRank() != 5 ||
      outType.getRank() != 4 || !lhsType.getElementType().isBF16() ||
      !rhsType.getElementType().isBF16() || !outType.getElementType().isF32() ||
      lhsType.isDynamicDim(1) || lhsType.getShape().take_back(3) !=
                                     ArrayRef<int64_t>{kTile, kDepth / 2, 2} ||
      rhsType.getShape().take_back(3) !=
          ArrayRef<int64_t>{kDepth / 2, kTile, 2} ||
      outType.getDimSize(1) != kTile || outType.getDimSize(3) != kTile)
    return op.emitOpError("tagged amx_bf16 but its operands are not bf16 "
                          "[mb, kb, 16, 16, 2], [nb, kb, 16, 16, 2] tiles and "
                          "an f32 [mb, 16, nb, 16] result");
  OpBuilder b(op);
  Location loc = op.getLoc();
  AMXMatmul kernel;
  kernel.a = Strided::of(b, loc, lhs);
  kernel.w = Strided::of(b, loc, rhs);
  kernel.c = Strided::of(b, loc, out);
  kernel.rowTiles = kernel.a.sizes[0];
  kernel.outTiles = kernel.w.sizes[0];
  kernel.depthTiles = lhsType.getDimSize(1);
  kernel.unroll = unrollFor(kernel.depthTiles, unrollLimit);
  kernel.inputTile = VectorType::get({kTile, kDepth}, b.getBF16Type());
  kernel.accTile = VectorType::get({kTile, kTile}, b.getF32Type());
  IndexMath m{b, loc};
  auto tileContiguous = [&](const Strided &s) {
    return m.all({m.eq(s.strides[2], 2 * kTile), m.eq(s.strides[3], 2),
                  m.eq(s.strides[4], 1)});
  };
  Value contiguous =
      m.all({tileContiguous(kernel.a), tileContiguous(kernel.w),
             m.eq(kernel.c.strides[2], kTile), m.eq(kernel.c.strides[3], 1)});
  guard(b, op, contiguous,
        [&](OpBuilder &b, Location loc) { kernel.emit(b, loc); });
  return success();
}

//===----------------------------------------------------------------------===//
// AMX on quantized weights
//===----------------------------------------------------------------------===//

/// Weight tiles dequantized per panel into a bf16 buffer, then the AMX
/// kernel above on that buffer: a panel of `panelTiles` output tiles (all of
/// the reduction) is dequantized once and reused by every input row, so the
/// dequantization costs one pass over the codes per product, and the codes
/// (half or a quarter of bf16's bytes) are what is read from memory.
struct AMXQuantMatmul {
  bool q4;
  Strided a, codes, scales, c;
  Value rowTiles, outTiles;
  int64_t depthTiles, unroll, panelTiles;

  /// scratch[t, kb] = bf16(dequantized codes tile [nb, kb]) for every kb.
  void emitDequantize(OpBuilder &b, Location loc, Value nb, Value scratch,
                      Value t) const {
    IndexMath m{b, loc};
    auto f32x16 = VectorType::get({kTile}, b.getF32Type());
    auto f32x32 = VectorType::get({2 * kTile}, b.getF32Type());
    auto bf16x32 = VectorType::get({2 * kTile}, b.getBF16Type());
    auto splat = [&](VectorType type, int64_t value) -> Value {
      return b.create<arith::ConstantOp>(
          loc, DenseElementsAttr::get(
                   type, IntegerAttr::get(type.getElementType(), value)));
    };
    auto loop = b.create<scf::ForOp>(loc, m.c(0), m.c(depthTiles), m.c(1));
    OpBuilder::InsertionGuard g(b);
    b.setInsertionPointToStart(loop.getBody());
    IndexMath k{b, loc};
    Value kb = loop.getInductionVar();
    Value tileStart = tileOffset(k, codes, nb, kb);
    Value blockScales = loadBlockScales(b, loc, scales, nb, kb);
    // Lane 2*ni + kp of a pair row belongs to output ni.
    SmallVector<int64_t> duplicate, interleave;
    for (int64_t ni = 0; ni < kTile; ++ni) {
      duplicate.append({ni, ni});
      interleave.append({ni, kTile + ni});
    }
    Value pairScales =
        b.create<vector::ShuffleOp>(loc, blockScales, blockScales, duplicate);
    Value outStart = k.mul(k.add(k.mul(t, k.c(depthTiles)), kb),
                           k.c(kTile * kDepth));
    for (int64_t kr = 0; kr < kDepth / 2; ++kr) {
      Value weights;
      if (!q4) {
        Value view = vectorView(b, loc, codes.base,
                                k.add(tileStart, k.c(kr * 2 * kTile)),
                                2 * kTile);
        Value bytes = b.create<vector::LoadOp>(
            loc, VectorType::get({2 * kTile}, b.getI8Type()), view,
            ValueRange{k.c(0)});
        weights = b.create<arith::MulFOp>(
            loc, b.create<arith::SIToFPOp>(loc, f32x32, bytes), pairScales);
      } else {
        auto words = VectorType::get({kTile}, b.getI32Type());
        Value view = vectorView(b, loc, codes.base,
                                k.add(tileStart, k.c(kr * kTile)), kTile);
        Value packed = b.create<arith::ExtUIOp>(
            loc, words,
            b.create<vector::LoadOp>(loc,
                                     VectorType::get({kTile}, b.getI8Type()),
                                     view, ValueRange{k.c(0)}));
        Value eight = splat(words, 8);
        Value low = b.create<arith::SubIOp>(
            loc, b.create<arith::AndIOp>(loc, packed, splat(words, 15)), eight);
        Value high = b.create<arith::SubIOp>(
            loc, b.create<arith::ShRUIOp>(loc, packed, splat(words, 4)), eight);
        Value lowWeights = b.create<arith::MulFOp>(
            loc, b.create<arith::SIToFPOp>(loc, f32x16, low), blockScales);
        Value highWeights = b.create<arith::MulFOp>(
            loc, b.create<arith::SIToFPOp>(loc, f32x16, high), blockScales);
        weights = b.create<vector::ShuffleOp>(loc, lowWeights, highWeights,
                                              interleave);
      }
      Value rounded = b.create<arith::TruncFOp>(loc, bf16x32, weights);
      Value out = vectorView(b, loc, scratch,
                             k.add(outStart, k.c(kr * 2 * kTile)), 2 * kTile);
      b.create<vector::StoreOp>(loc, rounded, out, ValueRange{k.c(0)});
    }
  }

  void emit(OpBuilder &b, Location loc) const {
    IndexMath m{b, loc};
    auto scratchType = MemRefType::get(
        {panelTiles * depthTiles * kTile * kDepth}, b.getBF16Type());
    Value scratch = b.create<memref::AllocOp>(loc, scratchType,
                                              b.getI64IntegerAttr(64));
    auto panels = b.create<scf::ForOp>(loc, m.c(0), outTiles, m.c(panelTiles));
    {
      OpBuilder::InsertionGuard g(b);
      b.setInsertionPointToStart(panels.getBody());
      IndexMath p{b, loc};
      Value nb0 = panels.getInductionVar();
      Value count = b.create<arith::MinUIOp>(
          loc, p.c(panelTiles), b.create<arith::SubIOp>(loc, outTiles, nb0));
      auto tiles = b.create<scf::ForOp>(loc, p.c(0), count, p.c(1));
      {
        OpBuilder::InsertionGuard g(b);
        b.setInsertionPointToStart(tiles.getBody());
        Value t = tiles.getInductionVar();
        emitDequantize(b, loc, b.create<arith::AddIOp>(loc, nb0, t), scratch,
                       t);
      }
      AMXMatmul kernel;
      kernel.a = a;
      kernel.w = Strided::of(b, loc, scratch);
      kernel.w.strides = {p.c(depthTiles * kTile * kDepth),
                          p.c(kTile * kDepth)};
      kernel.c = c;
      kernel.c.offset = p.at(c.offset, {{nb0, c.strides[2]}});
      kernel.rowTiles = rowTiles;
      kernel.outTiles = count;
      kernel.depthTiles = depthTiles;
      kernel.unroll = unroll;
      kernel.inputTile = VectorType::get({kTile, kDepth}, b.getBF16Type());
      kernel.accTile = VectorType::get({kTile, kTile}, b.getF32Type());
      kernel.emit(b, loc);
    }
    b.create<memref::DeallocOp>(loc, scratch);
  }
};

LogicalResult lowerAMXQuant(linalg::GenericOp op, bool q4,
                            int64_t unrollLimit) {
  StringRef tag = q4 ? "amx_q4_0" : "amx_q8_0";
  if (failed(checkProductShape(op, tag, 3, 7,
                               "input tiles, quantized codes and scales")))
    return failure();
  Value lhs = op.getDpsInputs()[0], codes = op.getDpsInputs()[1],
        scales = op.getDpsInputs()[2], out = op.getDpsInits()[0];
  auto lhsType = cast<MemRefType>(lhs.getType());
  auto codesType = cast<MemRefType>(codes.getType());
  auto scalesType = cast<MemRefType>(scales.getType());
  auto outType = cast<MemRefType>(out.getType());
  if (lhsType.getRank() != 5 || outType.getRank() != 4 ||
      !areQuantTiles(codesType, scalesType, q4) ||
      !lhsType.getElementType().isBF16() ||
      !outType.getElementType().isF32() ||
      codesType.getDimSize(1) != lhsType.getDimSize(1) ||
      lhsType.getShape().take_back(3) !=
          ArrayRef<int64_t>{kTile, kDepth / 2, 2} ||
      outType.getDimSize(1) != kTile || outType.getDimSize(3) != kTile)
    return op.emitOpError("tagged ")
           << tag << " but its operands are not bf16 [mb, kb, 16, 16, 2] "
           << "tiles, " << quantCodesShape(q4)
           << " codes, f16 [nb, kb, 16] scales and an f32 [mb, 16, nb, 16] "
           << "result";
  OpBuilder b(op);
  Location loc = op.getLoc();
  AMXQuantMatmul kernel;
  kernel.q4 = q4;
  kernel.a = Strided::of(b, loc, lhs);
  kernel.codes = Strided::of(b, loc, codes);
  kernel.scales = Strided::of(b, loc, scales);
  kernel.c = Strided::of(b, loc, out);
  kernel.rowTiles = kernel.a.sizes[0];
  kernel.outTiles = kernel.codes.sizes[0];
  kernel.depthTiles = lhsType.getDimSize(1);
  kernel.unroll = unrollFor(kernel.depthTiles, unrollLimit);
  // About 512 KiB of bf16 tiles per panel (a tile is 1 KiB), an even
  // number of output tiles so the AMX kernel's 2 x 2 blocks cover it.
  kernel.panelTiles =
      std::max<int64_t>(2, (512 / std::max<int64_t>(kernel.depthTiles, 1)) & ~1);
  if (!codesType.isDynamicDim(0)) // no larger than the weight
    kernel.panelTiles = std::min(kernel.panelTiles, codesType.getDimSize(0));
  IndexMath m{b, loc};
  SmallVector<Value> conditions = {
      m.eq(kernel.a.strides[2], 2 * kTile), m.eq(kernel.a.strides[3], 2),
      m.eq(kernel.a.strides[4], 1), m.eq(kernel.c.strides[2], kTile),
      m.eq(kernel.c.strides[3], 1)};
  appendQuantContiguity(m, kernel.codes, kernel.scales, q4, conditions);
  guard(b, op, m.all(conditions),
        [&](OpBuilder &b, Location loc) { kernel.emit(b, loc); });
  return success();
}

//===----------------------------------------------------------------------===//
// GEMV
//===----------------------------------------------------------------------===//

/// The loops every GEMV kernel runs: each input row, its output tiles in
/// groups of kGemvGroup (one weight stream each), then the remaining tiles
/// one at a time. `emitGroup` generates the body for a group of the given
/// size starting at output tile `nb`; `beginRow`, if any, what each row
/// computes once before its groups.
void emitRowsInGroups(
    OpBuilder &b, Location loc, Value rows, Value outTiles,
    function_ref<void(OpBuilder &, Value row, Value nb, int64_t group)>
        emitGroup,
    function_ref<void(OpBuilder &, Value row)> beginRow = nullptr) {
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

/// Views of the output tiles y[row, nb + g], g < group.
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

/// An scf.for over the `depthTiles` reduction tiles carrying `init`; `body`
/// updates the carried values for tile `kb`. Returns their final values.
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

/// y[row, nb .. nb+group) += what `body` accumulates over the reduction
/// tiles, one f32 vector per output tile, starting from y's values.
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

struct VNNIGemv {
  Strided x, w, y;
  Value rows, outTiles;
  int64_t depthTiles;

  /// y[m, nb .. nb+group) += the products of `group` weight tile columns.
  void emitGroup(OpBuilder &b, Location loc, Value row, Value nb,
                 int64_t group) const {
    IndexMath m{b, loc};
    auto accType = VectorType::get({kTile}, b.getF32Type());
    auto pairType = VectorType::get({kDepth}, b.getBF16Type());
    auto wordType = VectorType::get({kTile}, b.getI32Type());
    Value xRow = m.at(x.offset, {{row, x.strides[0]}});
    emitAccumulateRow(b, loc, y, row, nb, group, depthTiles, [&](
        OpBuilder &b, Value kb, SmallVectorImpl<Value> &acc) {
      IndexMath k{b, loc};
      SmallVector<Value> tileStarts;
      for (int64_t g = 0; g < group; ++g)
        tileStarts.push_back(tileOffset(k, w, k.add(nb, k.c(g)), kb));
      Value inputs = vectorView(b, loc, x.base,
                                k.add(xRow, k.mul(kb, x.strides[1])), kDepth);
      Value highMask = b.create<arith::ConstantOp>(
          loc, DenseElementsAttr::get(wordType,
                                      b.getI32IntegerAttr(int32_t(0xFFFF0000))
                                          .getValue()));
      Value sixteen = b.create<arith::ConstantOp>(
          loc, DenseElementsAttr::get(wordType, b.getI32IntegerAttr(16)
                                                    .getValue()));
      for (int64_t kr = 0; kr < kDepth / 2; ++kr) {
        Value even = b.create<memref::LoadOp>(loc, inputs, k.c(2 * kr));
        Value odd = b.create<memref::LoadOp>(loc, inputs, k.c(2 * kr + 1));
        Value evenSplat = b.create<vector::SplatOp>(loc, accType, even);
        Value oddSplat = b.create<vector::SplatOp>(loc, accType, odd);
        for (int64_t g = 0; g < group; ++g) {
          Value view = vectorView(b, loc, w.base,
                                  k.add(tileStarts[g], k.c(kr * kDepth)),
                                  kDepth);
          Value pairs =
              b.create<vector::LoadOp>(loc, pairType, view, ValueRange{k.c(0)});
          Value words = b.create<vector::BitCastOp>(loc, wordType, pairs);
          // bf16 -> f32 is exact: the bf16 bits become the high half.
          Value low = b.create<vector::BitCastOp>(
              loc, accType, b.create<arith::ShLIOp>(loc, words, sixteen));
          Value high = b.create<vector::BitCastOp>(
              loc, accType, b.create<arith::AndIOp>(loc, words, highMask));
          acc[g] = b.create<vector::FMAOp>(loc, low, evenSplat, acc[g]);
          acc[g] = b.create<vector::FMAOp>(loc, high, oddSplat, acc[g]);
        }
      }
    });
  }

  void emit(OpBuilder &b, Location loc) const {
    emitRowsInGroups(b, loc, rows, outTiles,
                     [&](OpBuilder &b, Value row, Value nb, int64_t group) {
                       emitGroup(b, loc, row, nb, group);
                     });
  }
};

LogicalResult lowerGemv(linalg::GenericOp op) {
  if (failed(checkProductShape(op, "vnni_gemv", 2, 6,
                               "inputs and tiled weights")))
    return failure();
  Value input = op.getDpsInputs()[0], weight = op.getDpsInputs()[1],
        out = op.getDpsInits()[0];
  auto inputType = cast<MemRefType>(input.getType());
  auto weightType = cast<MemRefType>(weight.getType());
  auto outType = cast<MemRefType>(out.getType());
  if (inputType.getRank() != 4 || weightType.getRank() != 5 ||
      outType.getRank() != 3 || !inputType.getElementType().isF32() ||
      !weightType.getElementType().isBF16() ||
      !outType.getElementType().isF32() || weightType.isDynamicDim(1) ||
      inputType.getShape().take_back(2) != ArrayRef<int64_t>{kDepth / 2, 2} ||
      weightType.getShape().take_back(3) !=
          ArrayRef<int64_t>{kDepth / 2, kTile, 2} ||
      outType.getDimSize(2) != kTile)
    return op.emitOpError("tagged vnni_gemv but its operands are not f32 "
                          "[m, kb, 16, 2] inputs, bf16 [nb, kb, 16, 16, 2] "
                          "tiles and an f32 [m, nb, 16] result");
  OpBuilder b(op);
  Location loc = op.getLoc();
  VNNIGemv kernel;
  kernel.x = Strided::of(b, loc, input);
  kernel.w = Strided::of(b, loc, weight);
  kernel.y = Strided::of(b, loc, out);
  kernel.rows = kernel.x.sizes[0];
  kernel.outTiles = kernel.w.sizes[0];
  kernel.depthTiles = weightType.getDimSize(1);
  IndexMath m{b, loc};
  Value contiguous = m.all(
      {m.eq(kernel.x.strides[1], kDepth), m.eq(kernel.x.strides[2], 2),
       m.eq(kernel.x.strides[3], 1), m.eq(kernel.w.strides[2], kDepth),
       m.eq(kernel.w.strides[3], 2), m.eq(kernel.w.strides[4], 1),
       m.eq(kernel.y.strides[1], kTile), m.eq(kernel.y.strides[2], 1)});
  guard(b, op, contiguous,
        [&](OpBuilder &b, Location loc) { kernel.emit(b, loc); });
  return success();
}

//===----------------------------------------------------------------------===//
// Quantized GEMV
//===----------------------------------------------------------------------===//

/// What both quantized GEMVs read and write: inputs X[m, kb, 16, 2] (f32,
/// or i8 codes), weight codes and scales (see areQuantTiles) and the f32
/// result Y[m, nb, 16].
struct QuantGemvOperands {
  bool q4 = false;
  Strided x, w, s, y;
  Value rows, outTiles;
  int64_t depthTiles = 0;

  /// True when the operand types are those above, inputs of `element`.
  static bool typesMatch(Value input, Value codes, Value scales, Value out,
                         bool q4, Type element) {
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

  void bind(OpBuilder &b, Location loc, bool scheme4, Value input,
            Value codes, Value scales, Value out) {
    q4 = scheme4;
    x = Strided::of(b, loc, input);
    w = Strided::of(b, loc, codes);
    s = Strided::of(b, loc, scales);
    y = Strided::of(b, loc, out);
    rows = x.sizes[0];
    outTiles = w.sizes[0];
    depthTiles = cast<MemRefType>(codes.getType()).getDimSize(1);
  }

  /// The run-time condition of the kernels: whole contiguous input blocks,
  /// output tiles, codes tiles and scales rows.
  Value contiguous(OpBuilder &b, Location loc) const {
    IndexMath m{b, loc};
    SmallVector<Value> conditions = {
        m.eq(x.strides[1], kDepth), m.eq(x.strides[2], 2),
        m.eq(x.strides[3], 1), m.eq(y.strides[1], kTile),
        m.eq(y.strides[2], 1)};
    appendQuantContiguity(m, w, s, q4, conditions);
    return m.all(conditions);
  }
};

/// Tags "q8_0_gemv" / "q4_0_gemv": operands X[m, kb, kr, kp] (f32), codes
/// Q[nb, kb, kr, ni, kp] (i8, Q8_0) or Q[nb, kb, kr, ni] (two 4-bit codes a
/// byte, Q4_0), scales S[nb, kb, ni] (f16) and Y[m, nb, ni] (f32). Per
/// 32-input block, the codes are widened in registers (Q8_0: see
/// emitGroupQ8Pairs; Q4_0: one 16-byte load, split by nibble masks, the
/// offset of 8 subtracted once per block through the inputs' sum),
/// multiplied by the inputs into a block sum, and the block sum is scaled
/// by the 16 scales of the block: y += d * sum_k x_k * q_k.
struct QuantGemv : QuantGemvOperands {

  /// The Q4_0 codes (0..15, as f32; the offset of 8 is applied per block)
  /// of pair row `kr` of tile `tileStart`: low nibbles (even inputs) and
  /// high nibbles (odd inputs).
  std::pair<Value, Value> loadNibbles(OpBuilder &b, Location loc,
                                      Value tileStart, int64_t kr) const {
    IndexMath k{b, loc};
    auto f32s = VectorType::get({kTile}, b.getF32Type());
    auto words = VectorType::get({kTile}, b.getI32Type());
    auto splat = [&](int64_t value) -> Value {
      return b.create<arith::ConstantOp>(
          loc, DenseElementsAttr::get(words, b.getI32IntegerAttr(value)));
    };
    Value view = vectorView(b, loc, w.base, k.add(tileStart, k.c(kr * kTile)),
                            kTile);
    Value codes = b.create<arith::ExtUIOp>(
        loc, words,
        b.create<vector::LoadOp>(loc, VectorType::get({kTile}, b.getI8Type()),
                                 view, ValueRange{k.c(0)}));
    Value low = b.create<arith::AndIOp>(loc, codes, splat(15));
    Value high = b.create<arith::ShRUIOp>(loc, codes, splat(4));
    return {b.create<arith::SIToFPOp>(loc, f32s, low),
            b.create<arith::SIToFPOp>(loc, f32s, high)};
  }

  /// y[m, nb .. nb+group) += the products of `group` weight tile columns.
  void emitGroup(OpBuilder &b, Location loc, Value row, Value nb,
                 int64_t group) const {
    IndexMath m{b, loc};
    auto accType = VectorType::get({kTile}, b.getF32Type());
    Value xRow = m.at(x.offset, {{row, x.strides[0]}});
    emitAccumulateRow(b, loc, y, row, nb, group, depthTiles, [&](
        OpBuilder &b, Value kb, SmallVectorImpl<Value> &acc) {
      IndexMath k{b, loc};
      SmallVector<Value> tileStarts, sums;
      Value zeros = b.create<arith::ConstantOp>(
          loc, DenseElementsAttr::get(accType, b.getF32FloatAttr(0.0f)));
      for (int64_t g = 0; g < group; ++g) {
        tileStarts.push_back(tileOffset(k, w, k.add(nb, k.c(g)), kb));
        sums.push_back(zeros);
      }
      Value inputs = vectorView(b, loc, x.base,
                                k.add(xRow, k.mul(kb, x.strides[1])), kDepth);
      Value blockInputs = b.create<vector::LoadOp>(
          loc, VectorType::get({kDepth}, b.getF32Type()), inputs,
          ValueRange{k.c(0)});
      Value blockSum = b.create<vector::ReductionOp>(
          loc, vector::CombiningKind::ADD, blockInputs);
      Value offsetSum = b.create<vector::SplatOp>(
          loc, accType,
          b.create<arith::MulFOp>(
              loc, blockSum,
              b.create<arith::ConstantOp>(loc, b.getF32FloatAttr(8.0f))));
      for (int64_t kr = 0; kr < kDepth / 2; ++kr) {
        Value even = b.create<memref::LoadOp>(loc, inputs, k.c(2 * kr));
        Value odd = b.create<memref::LoadOp>(loc, inputs, k.c(2 * kr + 1));
        Value evenSplat = b.create<vector::SplatOp>(loc, accType, even);
        Value oddSplat = b.create<vector::SplatOp>(loc, accType, odd);
        for (int64_t g = 0; g < group; ++g) {
          auto [evenCodes, oddCodes] = loadNibbles(b, loc, tileStarts[g], kr);
          sums[g] = b.create<vector::FMAOp>(loc, evenCodes, evenSplat, sums[g]);
          sums[g] = b.create<vector::FMAOp>(loc, oddCodes, oddSplat, sums[g]);
        }
      }
      for (int64_t g = 0; g < group; ++g) {
        Value scales = loadBlockScales(b, loc, s, k.add(nb, k.c(g)), kb);
        // sum_k (q_k - 8) x_k = sum_k q_k x_k - 8 sum_k x_k: the offset
        // costs one subtraction per block instead of two per pair row.
        Value codeSum = b.create<arith::SubFOp>(loc, sums[g], offsetSum);
        acc[g] = b.create<vector::FMAOp>(loc, codeSum, scales, acc[g]);
      }
    });
  }

  /// Q8_0 without separating the pairs: each half of a 32-code pair row
  /// (8 outputs x 2 inputs) is sign-extended straight from memory and
  /// multiplied by the input pair broadcast to every lane pair, so lane
  /// 2*ni + kp accumulates output ni's products with input kp. Per 32
  /// codes: two widening loads, two conversions, two FMAs (no shifts).
  /// Blocks are scaled by their scales duplicated per lane pair; the pairs
  /// are added once per row and output tile.
  void emitGroupQ8Pairs(OpBuilder &b, Location loc, Value row, Value nb,
                        int64_t group) const {
    IndexMath m{b, loc};
    auto f32x16 = VectorType::get({kTile}, b.getF32Type());
    Value zero = m.c(0);
    Value zeros = b.create<arith::ConstantOp>(
        loc, DenseElementsAttr::get(f32x16, b.getF32FloatAttr(0.0f)));
    SmallVector<Value> init(2 * group, zeros);
    Value xRow = m.at(x.offset, {{row, x.strides[0]}});
    SmallVector<int64_t> pairBroadcast, halfScales[2];
    for (int64_t lane = 0; lane < kTile; ++lane) {
      pairBroadcast.push_back(lane % 2);
      for (int64_t half = 0; half < 2; ++half)
        halfScales[half].push_back(half * kTile / 2 + lane / 2);
    }
    SmallVector<Value> pairSums = emitDepthLoop(b, loc, depthTiles, init, [&](
        OpBuilder &b, Value kb, SmallVectorImpl<Value> &acc) {
      IndexMath k{b, loc};
      SmallVector<Value> tileStarts, sums(2 * group, zeros);
      for (int64_t g = 0; g < group; ++g)
        tileStarts.push_back(tileOffset(k, w, k.add(nb, k.c(g)), kb));
      Value inputs = vectorView(b, loc, x.base,
                                k.add(xRow, k.mul(kb, x.strides[1])), kDepth);
      for (int64_t kr = 0; kr < kDepth / 2; ++kr) {
        Value pair = b.create<vector::LoadOp>(
            loc, VectorType::get({2}, b.getF32Type()), inputs,
            ValueRange{k.c(2 * kr)});
        Value pairs =
            b.create<vector::ShuffleOp>(loc, pair, pair, pairBroadcast);
        for (int64_t g = 0; g < group; ++g)
          for (int64_t half = 0; half < 2; ++half) {
            Value view = vectorView(
                b, loc, w.base,
                k.add(tileStarts[g], k.c(kr * 2 * kTile + half * kTile)),
                kTile);
            Value codes = b.create<vector::LoadOp>(
                loc, VectorType::get({kTile}, b.getI8Type()), view,
                ValueRange{k.c(0)});
            Value weights = b.create<arith::SIToFPOp>(loc, f32x16, codes);
            Value &sum = sums[2 * g + half];
            sum = b.create<vector::FMAOp>(loc, weights, pairs, sum);
          }
      }
      for (int64_t g = 0; g < group; ++g) {
        Value scales = loadBlockScales(b, loc, s, k.add(nb, k.c(g)), kb);
        for (int64_t half = 0; half < 2; ++half) {
          Value laneScales = b.create<vector::ShuffleOp>(loc, scales, scales,
                                                         halfScales[half]);
          acc[2 * g + half] = b.create<vector::FMAOp>(
              loc, sums[2 * g + half], laneScales, acc[2 * g + half]);
        }
      }
    });
    SmallVector<int64_t> even, odd;
    for (int64_t ni = 0; ni < kTile; ++ni) {
      even.push_back(2 * ni);
      odd.push_back(2 * ni + 1);
    }
    SmallVector<Value> outViews = outputTileViews(b, loc, y, row, nb, group);
    for (int64_t g = 0; g < group; ++g) {
      Value low = pairSums[2 * g], high = pairSums[2 * g + 1];
      Value total = b.create<arith::AddFOp>(
          loc, b.create<vector::ShuffleOp>(loc, low, high, even),
          b.create<vector::ShuffleOp>(loc, low, high, odd));
      Value outView = outViews[g];
      Value previous =
          b.create<vector::LoadOp>(loc, f32x16, outView, ValueRange{zero});
      b.create<vector::StoreOp>(
          loc, b.create<arith::AddFOp>(loc, previous, total), outView,
          ValueRange{zero});
    }
  }

  void emit(OpBuilder &b, Location loc) const {
    emitRowsInGroups(b, loc, rows, outTiles,
                     [&](OpBuilder &b, Value row, Value nb, int64_t group) {
                       if (q4)
                         emitGroup(b, loc, row, nb, group);
                       else
                         emitGroupQ8Pairs(b, loc, row, nb, group);
                     });
  }
};

LogicalResult lowerQuantGemv(linalg::GenericOp op, bool q4) {
  StringRef tag = q4 ? "q4_0_gemv" : "q8_0_gemv";
  if (failed(checkProductShape(op, tag, 3, 6,
                               "inputs, quantized codes and scales")))
    return failure();
  Value input = op.getDpsInputs()[0], codes = op.getDpsInputs()[1],
        scales = op.getDpsInputs()[2], out = op.getDpsInits()[0];
  if (!QuantGemvOperands::typesMatch(input, codes, scales, out, q4,
                                     Float32Type::get(op.getContext())))
    return op.emitOpError("tagged ")
           << tag << " but its operands are not f32 [m, kb, 16, 2] inputs, "
           << quantCodesShape(q4)
           << " codes, f16 [nb, kb, 16] scales and an f32 [m, nb, 16] result";
  OpBuilder b(op);
  Location loc = op.getLoc();
  QuantGemv kernel;
  kernel.bind(b, loc, q4, input, codes, scales, out);
  guard(b, op, kernel.contiguous(b, loc),
        [&](OpBuilder &b, Location loc) { kernel.emit(b, loc); });
  return success();
}

//===----------------------------------------------------------------------===//
// Quantized GEMV with quantized inputs
//===----------------------------------------------------------------------===//

/// Tags "q8_0_i8_gemv" / "q4_0_i8_gemv": operands XQ[m, kb, kr, kp] (i8
/// input codes), codes and scales as for "q8_0_gemv" / "q4_0_gemv",
/// XD[m, kb] (f32 input scales) and Y[m, nb, ni] (f32). Integer dot products
/// (AVX512-VNNI `vpdpbusd`: 4 unsigned bytes times 4 signed bytes summed
/// into each i32 lane) per 32-input block, converted and scaled once per
/// block by the block's 16 weight scales times the input scale.
///
/// A 64-byte load of weight codes puts two outputs' pairs in each i32 lane
/// (bytes: output 2j's kp 0 and 1, then output 2j+1's), so every load is
/// multiplied twice: by the input pair in the lane's low half and zeros
/// ("even" lanes: output 2j) and by the pair in the high half ("odd").
/// Q8_0 codes are signed: they are made unsigned by flipping the sign bit
/// (`q + 128`), and 128 times the inputs each lane multiplies is taken off
/// by the lane's initial value. Q4_0's nibbles (0..15) are unsigned as they
/// are: split by masks and interleaved into the same pair order, with 8
/// times the inputs taken off.
struct QuantGemvI8 : QuantGemvOperands {
  /// Input scales XD[m, kb] (x holds the input codes).
  Strided xd;
  /// [depthTiles, 16] i32: the initial lane values of each block's integer
  /// sums for the current row (see emitCorrections).
  Value corrections;
  /// Blocks ahead whose codes are prefetched (0: none).
  int64_t prefetch = 0;

  /// Lane classes per output tile: Q8_0 even/odd outputs; Q4_0 even/odd
  /// outputs of the first and of the second eight.
  int64_t classes() const { return q4 ? 4 : 2; }

  /// The output each lane of class `c` sums for (several lanes per output:
  /// two for Q8_0, one per reduction row of a load; four for Q4_0).
  int64_t outputOfLane(int64_t c, int64_t lane) const {
    if (!q4)
      return 2 * (lane % 8) + c;
    return 8 * (c / 2) + 2 * (lane % 4) + c % 2;
  }

  static Value dot(OpBuilder &b, Location loc, Value acc, Value unsignedBytes,
                   Value signedBytes) {
    return b
        .create<LLVM::CallIntrinsicOp>(loc, acc.getType(),
                                       "llvm.x86.avx512.vpdpbusd.512",
                                       ValueRange{acc, unsignedBytes,
                                                  signedBytes})
        .getResult(0);
  }

  /// The 32 input codes of block `kb` of the row starting at `xRow`.
  Value loadInputBlock(OpBuilder &b, Location loc, Value xRow,
                       Value kb) const {
    IndexMath k{b, loc};
    return b.create<vector::LoadOp>(
        loc, VectorType::get({kDepth}, b.getI8Type()),
        vectorView(b, loc, x.base, k.add(xRow, k.mul(kb, x.strides[1])),
                   kDepth),
        ValueRange{k.c(0)});
  }

  /// corrections[kb] = each lane's offset correction for block kb of `row`.
  /// Every lane sums the pairs of one part of a load (its reduction rows are
  /// those of that part): its correction is the offset times the sum of
  /// those rows' inputs, so that no lane carries a large offset that only
  /// cancels after the conversion to f32. Computed once per row, not per
  /// group of output tiles.
  void emitCorrections(OpBuilder &b, Location loc, Value row) const {
    IndexMath m{b, loc};
    auto i32x16 = VectorType::get({kTile}, b.getI32Type());
    // A load's parts: its 256-bit halves (Q8_0, one pair row each) or
    // 128-bit quarters (Q4_0); partLanes[p] masks part p's lanes.
    const int64_t parts = q4 ? 4 : 2;
    SmallVector<Value> partLanes;
    for (int64_t part = 0; part < parts; ++part) {
      SmallVector<bool> inPart;
      for (int64_t lane = 0; lane < kTile; ++lane)
        inPart.push_back(lane / (kTile / parts) == part);
      partLanes.push_back(b.create<arith::ConstantOp>(
          loc, DenseElementsAttr::get(VectorType::get({kTile}, b.getI1Type()),
                                      inPart)));
    }
    Value xRow = m.at(x.offset, {{row, x.strides[0]}});
    auto loop = b.create<scf::ForOp>(loc, m.c(0), m.c(depthTiles), m.c(1));
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(loop.getBody());
    Value kb = loop.getInductionVar();
    IndexMath k{b, loc};
    Value block = loadInputBlock(b, loc, xRow, kb);
    Value wide = b.create<arith::ExtSIOp>(
        loc, VectorType::get({kDepth}, b.getI32Type()), block);
    Value offset = b.create<arith::ConstantIntOp>(loc, q4 ? -8 : -128, 32);
    Value correction;
    for (int64_t part = 0; part < parts; ++part) {
      SmallVector<int64_t> inputsOfPart;
      for (int64_t pair = part; pair < kDepth / 2; pair += parts) {
        inputsOfPart.push_back(2 * pair);
        inputsOfPart.push_back(2 * pair + 1);
      }
      Value partSum = b.create<vector::ReductionOp>(
          loc, vector::CombiningKind::ADD,
          b.create<vector::ShuffleOp>(loc, wide, wide, inputsOfPart));
      Value partCorrection = b.create<vector::SplatOp>(
          loc, i32x16, b.create<arith::MulIOp>(loc, partSum, offset));
      correction = part == 0 ? partCorrection
                             : b.create<arith::SelectOp>(
                                   loc, partLanes[part], partCorrection,
                                   correction);
    }
    b.create<vector::StoreOp>(loc, correction, corrections,
                              ValueRange{kb, k.c(0)});
  }

  /// y[m, nb .. nb+group) += the products of `group` weight tile columns.
  void emitGroup(OpBuilder &b, Location loc, Value row, Value nb,
                 int64_t group) const {
    IndexMath m{b, loc};
    auto f32x16 = VectorType::get({kTile}, b.getF32Type());
    auto i32x16 = VectorType::get({kTile}, b.getI32Type());
    auto bytes64 = VectorType::get({4 * kTile}, b.getI8Type());
    auto i32Splat = [&](int64_t value) -> Value {
      return b.create<arith::ConstantOp>(
          loc, DenseElementsAttr::get(i32x16, b.getI32IntegerAttr(value)));
    };
    Value zeros = b.create<arith::ConstantOp>(
        loc, DenseElementsAttr::get(f32x16, b.getF32FloatAttr(0.0f)));
    // A load's parts: its 256-bit halves (Q8_0, one pair row each) or
    // 128-bit quarters (Q4_0).
    const int64_t parts = q4 ? 4 : 2;
    Value signBits = i32Splat(int32_t(0x80808080u));
    Value lowNibbles = b.create<arith::ConstantOp>(
        loc, DenseElementsAttr::get(bytes64, b.getI8IntegerAttr(15)));
    Value four = b.create<arith::ConstantOp>(
        loc, DenseElementsAttr::get(bytes64, b.getI8IntegerAttr(4)));
    Value sixteen = i32Splat(16);
    SmallVector<int64_t> laneScales[4], unpackLow, unpackHigh;
    for (int64_t c = 0; c < classes(); ++c)
      for (int64_t lane = 0; lane < kTile; ++lane)
        laneScales[c].push_back(outputOfLane(c, lane));
    for (int64_t part = 0; part < 4; ++part)
      for (int64_t i = 0; i < 8; ++i)
        for (int64_t half = 0; half < 2; ++half) {
          unpackLow.push_back(half * 64 + 16 * part + i);
          unpackHigh.push_back(half * 64 + 16 * part + 8 + i);
        }

    Value xRow = m.at(x.offset, {{row, x.strides[0]}});
    Value dRow = m.at(xd.offset, {{row, xd.strides[0]}});
    SmallVector<Value> init(classes() * group, zeros);
    SmallVector<Value> sums = emitDepthLoop(b, loc, depthTiles, init, [&](
        OpBuilder &b, Value kb, SmallVectorImpl<Value> &acc) {
      IndexMath k{b, loc};
      Value block = loadInputBlock(b, loc, xRow, kb);
      // The block's 16 input pairs, one per 16-bit word.
      Value pairs = b.create<vector::BitCastOp>(
          loc, VectorType::get({kTile}, b.getI16Type()), block);
      Value correction = b.create<vector::LoadOp>(
          loc, i32x16, corrections, ValueRange{kb, k.c(0)});
      Value inputScale = b.create<memref::LoadOp>(
          loc,
          vectorView(b, loc, xd.base, k.add(dRow, k.mul(kb, xd.strides[1])),
                     1),
          ValueRange{k.c(0)});
      SmallVector<Value> tileStarts, dots(classes() * group, correction);
      for (int64_t g = 0; g < group; ++g)
        tileStarts.push_back(tileOffset(k, w, k.add(nb, k.c(g)), kb));
      // Each stream's tile `prefetch` blocks ahead, a cache line at a time:
      // the hardware prefetchers alone leave a core's misses too few to
      // reach the memory bandwidth. Near the end of the reduction, the
      // first blocks of the tile the stream reads next (`group` tiles on)
      // instead, so that the next group does not start cold.
      if (prefetch > 0) {
        int64_t tileBytes = q4 ? kTile * kTile : kTile * kDepth;
        Value wraps = b.create<arith::CmpIOp>(
            loc, arith::CmpIPredicate::sge, k.add(kb, k.c(prefetch)),
            k.c(depthTiles));
        Value wrapJump = b.create<arith::SubIOp>(
            loc, k.mul(k.c(group), w.strides[0]),
            k.mul(k.c(depthTiles), w.strides[1]));
        Value ahead = k.add(
            k.mul(k.c(prefetch), w.strides[1]),
            b.create<arith::SelectOp>(loc, wraps, wrapJump, k.c(0)));
        // The scales, a line every two blocks, the same way.
        Value scalesAhead = k.add(
            k.mul(k.c(prefetch), s.strides[1]),
            b.create<arith::SelectOp>(
                loc, wraps,
                b.create<arith::SubIOp>(loc, k.mul(k.c(group), s.strides[0]),
                                        k.mul(k.c(depthTiles), s.strides[1])),
                k.c(0)));
        for (int64_t g = 0; g < group; ++g) {
          Value scalesView = vectorView(
              b, loc, s.base,
              k.add(tileOffset(k, s, k.add(nb, k.c(g)), kb), scalesAhead),
              kTile);
          b.create<memref::PrefetchOp>(loc, scalesView, ValueRange{k.c(0)},
                                       /*isWrite=*/false, /*locality=*/3,
                                       /*isDataCache=*/true);
          Value aheadView = vectorView(b, loc, w.base,
                                       k.add(tileStarts[g], ahead), tileBytes);
          for (int64_t line = 0; line < tileBytes; line += 64)
            b.create<memref::PrefetchOp>(loc, aheadView, ValueRange{k.c(line)},
                                         /*isWrite=*/false, /*locality=*/3,
                                         /*isDataCache=*/true);
        }
      }
      // Load `l` covers pair rows l * parts .. l * parts + parts, one per
      // part.
      for (int64_t l = 0; l < kDepth / 2 / parts; ++l) {
        SmallVector<int64_t> pick;
        for (int64_t lane = 0; lane < kTile; ++lane)
          pick.push_back(l * parts + lane / (kTile / parts));
        Value even = b.create<arith::ExtUIOp>(
            loc, i32x16, b.create<vector::ShuffleOp>(loc, pairs, pairs, pick));
        Value odd = b.create<arith::ShLIOp>(loc, even, sixteen);
        for (int64_t g = 0; g < group; ++g) {
          Value codes = b.create<vector::LoadOp>(
              loc, bytes64,
              vectorView(b, loc, w.base,
                         k.add(tileStarts[g], k.c(l * 4 * kTile)), 4 * kTile),
              ValueRange{k.c(0)});
          SmallVector<Value> words;
          if (!q4) {
            words.push_back(b.create<arith::XOrIOp>(
                loc, b.create<vector::BitCastOp>(loc, i32x16, codes),
                signBits));
          } else {
            Value low = b.create<arith::AndIOp>(loc, codes, lowNibbles);
            Value high = b.create<arith::ShRUIOp>(loc, codes, four);
            for (ArrayRef<int64_t> mask : {unpackLow, unpackHigh})
              words.push_back(b.create<vector::BitCastOp>(
                  loc, i32x16,
                  b.create<vector::ShuffleOp>(loc, low, high, mask)));
          }
          for (auto [i, word] : llvm::enumerate(words)) {
            Value &evenDot = dots[g * classes() + 2 * i];
            Value &oddDot = dots[g * classes() + 2 * i + 1];
            evenDot = dot(b, loc, evenDot, word, even);
            oddDot = dot(b, loc, oddDot, word, odd);
          }
        }
      }
      for (int64_t g = 0; g < group; ++g) {
        Value scales = b.create<arith::MulFOp>(
            loc, loadBlockScales(b, loc, s, k.add(nb, k.c(g)), kb),
            b.create<vector::SplatOp>(loc, f32x16, inputScale));
        for (int64_t c = 0; c < classes(); ++c) {
          Value &sum = acc[g * classes() + c];
          sum = b.create<vector::FMAOp>(
              loc,
              b.create<arith::SIToFPOp>(loc, f32x16, dots[g * classes() + c]),
              b.create<vector::ShuffleOp>(loc, scales, scales, laneScales[c]),
              sum);
        }
      }
    });

    // Each output's lanes added: Q8_0 lanes j and j + 8 of its class, Q4_0
    // lanes j, j + 4, j + 8, j + 12.
    auto rotate = [&](Value v, int64_t by) -> Value {
      SmallVector<int64_t> mask;
      for (int64_t lane = 0; lane < kTile; ++lane)
        mask.push_back((lane + by) % kTile);
      return b.create<arith::AddFOp>(
          loc, v, b.create<vector::ShuffleOp>(loc, v, v, mask));
    };
    SmallVector<int64_t> interleave, concat;
    for (int64_t j = 0; j < kTile / 2; ++j) {
      interleave.push_back(j % 4);
      interleave.push_back(kTile + j % 4);
    }
    for (int64_t lane = 0; lane < kTile; ++lane)
      concat.push_back(lane < 8 ? lane : kTile + lane - 8);
    SmallVector<Value> outViews = outputTileViews(b, loc, y, row, nb, group);
    for (int64_t g = 0; g < group; ++g) {
      ArrayRef<Value> c(sums.data() + g * classes(), classes());
      Value total;
      if (!q4) {
        // Output 2j: even lanes j, j + 8; output 2j + 1: odd lanes j, j + 8.
        Value folded[2] = {rotate(c[0], 8), rotate(c[1], 8)};
        SmallVector<int64_t> pairsOf;
        for (int64_t j = 0; j < kTile / 2; ++j) {
          pairsOf.push_back(j);
          pairsOf.push_back(kTile + j);
        }
        total = b.create<vector::ShuffleOp>(loc, folded[0], folded[1],
                                            pairsOf);
      } else {
        Value folded[4];
        for (int64_t i = 0; i < 4; ++i)
          folded[i] = rotate(rotate(c[i], 8), 4);
        Value firstEight = b.create<vector::ShuffleOp>(loc, folded[0],
                                                       folded[1], interleave);
        Value lastEight = b.create<vector::ShuffleOp>(loc, folded[2],
                                                      folded[3], interleave);
        total = b.create<vector::ShuffleOp>(loc, firstEight, lastEight,
                                            concat);
      }
      Value previous = b.create<vector::LoadOp>(loc, f32x16, outViews[g],
                                                ValueRange{m.c(0)});
      b.create<vector::StoreOp>(loc,
                                b.create<arith::AddFOp>(loc, previous, total),
                                outViews[g], ValueRange{m.c(0)});
    }
  }

  void emit(OpBuilder &b, Location loc) {
    corrections = b.create<memref::AllocaOp>(
        loc, MemRefType::get({depthTiles, kTile}, b.getI32Type()));
    emitRowsInGroups(
        b, loc, rows, outTiles,
        [&](OpBuilder &b, Value row, Value nb, int64_t group) {
          emitGroup(b, loc, row, nb, group);
        },
        [&](OpBuilder &b, Value row) { emitCorrections(b, loc, row); });
  }
};

LogicalResult lowerQuantGemvI8(linalg::GenericOp op, bool q4,
                               int64_t prefetch) {
  StringRef tag = q4 ? "q4_0_i8_gemv" : "q8_0_i8_gemv";
  if (failed(checkProductShape(
          op, tag, 4, 6,
          "input codes, quantized codes, their scales and input scales")))
    return failure();
  Value inputCodes = op.getDpsInputs()[0], codes = op.getDpsInputs()[1],
        scales = op.getDpsInputs()[2], inputScales = op.getDpsInputs()[3],
        out = op.getDpsInits()[0];
  auto inputScalesType = cast<MemRefType>(inputScales.getType());
  if (!QuantGemvOperands::typesMatch(inputCodes, codes, scales, out, q4,
                                     IntegerType::get(op.getContext(), 8)) ||
      inputScalesType.getRank() != 2 ||
      !inputScalesType.getElementType().isF32())
    return op.emitOpError("tagged ")
           << tag << " but its operands are not i8 [m, kb, 16, 2] input "
           << "codes, " << quantCodesShape(q4)
           << " codes, f16 [nb, kb, 16] scales, f32 [m, kb] input scales "
           << "and an f32 [m, nb, 16] result";
  OpBuilder b(op);
  Location loc = op.getLoc();
  QuantGemvI8 kernel;
  kernel.bind(b, loc, q4, inputCodes, codes, scales, out);
  kernel.xd = Strided::of(b, loc, inputScales);
  kernel.prefetch = prefetch;
  guard(b, op, kernel.contiguous(b, loc),
        [&](OpBuilder &b, Location loc) { kernel.emit(b, loc); });
  return success();
}

//===----------------------------------------------------------------------===//
// f32 panels
//===----------------------------------------------------------------------===//

/// Tag "f32_panels": operands X[m, k] (f32 inputs), W[nb, k, ni] (f32
/// panels of kPanel outputs, k-major) and Y[m, nb, ni] (f32). For each
/// input k a panel holds kPanel contiguous weights, kPanel / kTile vectors:
/// they are loaded once and multiplied by each row's broadcast input into
/// that row's accumulators, which an scf.for carries through the k loop.
struct PanelProduct {
  static constexpr int64_t kPanel = 64;
  static constexpr int64_t kVectors = kPanel / kTile;
  /// Inputs (f32) of a chunk of rows in one depth block: 1 MiB, in L2.
  static constexpr int64_t kChunkInputs = 1 << 18;
  Strided x, w, y;
  Value rows, panels;
  int64_t depth, blockRows, depthBlock, prefetch;

  /// The f32 at `offset` of `base`, broadcast to a vector.
  Value broadcast(OpBuilder &b, Location loc, Value base, Value offset) const {
    IndexMath m{b, loc};
    Value view = vectorView(b, loc, base, offset, 1);
    Value scalar = b.create<memref::LoadOp>(loc, view, ValueRange{m.c(0)});
    return b.create<vector::SplatOp>(
        loc, VectorType::get({kTile}, b.getF32Type()), scalar);
  }

  /// Y[m0 .. m0+mr, nb, :] += X[m0 .. m0+mr, k0 .. k1] * W[nb, k0 .. k1, :]
  /// with mr x kVectors accumulators in registers.
  void emitBlock(OpBuilder &b, Location loc, Value m0, Value nb, int64_t mr,
                 Value k0, Value k1) const {
    IndexMath m{b, loc};
    auto vecType = VectorType::get({kTile}, b.getF32Type());
    SmallVector<Value> outViews, init, xRows;
    for (int64_t i = 0; i < mr; ++i) {
      Value row = m.add(m0, m.c(i));
      outViews.push_back(vectorView(
          b, loc, y.base,
          m.at(y.offset, {{row, y.strides[0]}, {nb, y.strides[1]}}), kPanel));
      for (int64_t j = 0; j < kVectors; ++j)
        init.push_back(b.create<vector::LoadOp>(loc, vecType, outViews[i],
                                                ValueRange{m.c(j * kTile)}));
      xRows.push_back(m.at(x.offset, {{row, x.strides[0]}}));
    }
    Value panel = m.at(w.offset, {{nb, w.strides[0]}});
    auto loop = b.create<scf::ForOp>(loc, k0, k1, m.c(1), init);
    {
      OpBuilder::InsertionGuard g(b);
      b.setInsertionPointToStart(loop.getBody());
      IndexMath k{b, loc};
      Value kv = loop.getInductionVar();
      SmallVector<Value> acc(loop.getRegionIterArgs().begin(),
                             loop.getRegionIterArgs().end());
      Value weightsView = vectorView(b, loc, w.base,
                                     k.add(panel, k.mul(kv, k.c(kPanel))),
                                     kPanel);
      SmallVector<Value> weights;
      for (int64_t j = 0; j < kVectors; ++j)
        weights.push_back(b.create<vector::LoadOp>(
            loc, vecType, weightsView, ValueRange{k.c(j * kTile)}));
      // The panel is streamed from L2 once per row block: fetch the
      // weights of input k + prefetch into L1 ahead of their FMAs.
      if (prefetch > 0) {
        Value aheadView = vectorView(
            b, loc, w.base,
            k.add(panel, k.mul(k.add(kv, k.c(prefetch)), k.c(kPanel))),
            kPanel);
        for (int64_t j = 0; j < kVectors; ++j)
          b.create<memref::PrefetchOp>(loc, aheadView,
                                       ValueRange{k.c(j * kTile)},
                                       /*isWrite=*/false, /*locality=*/3,
                                       /*isDataCache=*/true);
      }
      for (int64_t i = 0; i < mr; ++i) {
        Value input = broadcast(b, loc, x.base, k.add(xRows[i], kv));
        for (int64_t j = 0; j < kVectors; ++j)
          acc[i * kVectors + j] = b.create<vector::FMAOp>(
              loc, weights[j], input, acc[i * kVectors + j]);
      }
      b.create<scf::YieldOp>(loc, acc);
    }
    for (int64_t i = 0; i < mr; ++i)
      for (int64_t j = 0; j < kVectors; ++j)
        b.create<vector::StoreOp>(loc, loop.getResult(i * kVectors + j),
                                  outViews[i], ValueRange{m.c(j * kTile)});
  }

  /// One row times `group` panels from nb, streamed together over all k
  /// (the GEMV of decode).
  void emitGemvGroup(OpBuilder &b, Location loc, Value row, Value nb,
                     int64_t group) const {
    IndexMath m{b, loc};
    auto vecType = VectorType::get({kTile}, b.getF32Type());
    SmallVector<Value> outViews, init, panelStarts;
    for (int64_t g = 0; g < group; ++g) {
      Value panel = m.add(nb, m.c(g));
      outViews.push_back(vectorView(
          b, loc, y.base,
          m.at(y.offset, {{row, y.strides[0]}, {panel, y.strides[1]}}),
          kPanel));
      for (int64_t j = 0; j < kVectors; ++j)
        init.push_back(b.create<vector::LoadOp>(loc, vecType, outViews[g],
                                                ValueRange{m.c(j * kTile)}));
      panelStarts.push_back(m.at(w.offset, {{panel, w.strides[0]}}));
    }
    Value xRow = m.at(x.offset, {{row, x.strides[0]}});
    auto loop = b.create<scf::ForOp>(loc, m.c(0), m.c(depth), m.c(1), init);
    {
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(loop.getBody());
      IndexMath k{b, loc};
      Value kv = loop.getInductionVar();
      SmallVector<Value> acc(loop.getRegionIterArgs().begin(),
                             loop.getRegionIterArgs().end());
      Value input = broadcast(b, loc, x.base, k.add(xRow, kv));
      for (int64_t g = 0; g < group; ++g) {
        Value view = vectorView(
            b, loc, w.base, k.add(panelStarts[g], k.mul(kv, k.c(kPanel))),
            kPanel);
        for (int64_t j = 0; j < kVectors; ++j) {
          Value weights = b.create<vector::LoadOp>(
              loc, vecType, view, ValueRange{k.c(j * kTile)});
          acc[g * kVectors + j] = b.create<vector::FMAOp>(
              loc, weights, input, acc[g * kVectors + j]);
        }
      }
      b.create<scf::YieldOp>(loc, acc);
    }
    for (int64_t g = 0; g < group; ++g)
      for (int64_t j = 0; j < kVectors; ++j)
        b.create<vector::StoreOp>(loc, loop.getResult(g * kVectors + j),
                                  outViews[g], ValueRange{m.c(j * kTile)});
  }

  void emitGemv(OpBuilder &b, Location loc) const {
    emitRowsInGroups(b, loc, rows, panels,
                     [&](OpBuilder &b, Value row, Value nb, int64_t group) {
                       emitGemvGroup(b, loc, row, nb, group);
                     });
  }

  /// Rows in chunks whose inputs of one depth block stay in L2 (1 MiB);
  /// per chunk, depth blocks, then panels (a panel's depth block, 256 KiB
  /// at 1024 inputs, stays in L2 and is streamed into L1 with prefetches),
  /// then row blocks of `blockRows` rows and one block of the remaining
  /// rows. (Depth blocks small enough for L1 measured slower: each block
  /// reloads and stores the accumulators.)
  void emitGemm(OpBuilder &b, Location loc) const {
    IndexMath m{b, loc};
    const int64_t chunkRows = std::max<int64_t>(
        blockRows, (kChunkInputs / depthBlock) / blockRows * blockRows);
    Value zero = m.c(0), one = m.c(1);
    auto chunks = b.create<scf::ForOp>(loc, zero, rows, m.c(chunkRows));
    OpBuilder::InsertionGuard chunkGuard(b);
    b.setInsertionPointToStart(chunks.getBody());
    Value rowBegin = chunks.getInductionVar();
    Value rowEnd = b.create<arith::MinUIOp>(
        loc, m.add(rowBegin, m.c(chunkRows)), rows);
    Value blocksEnd = b.create<arith::SubIOp>(
        loc, rowEnd,
        b.create<arith::RemUIOp>(
            loc, b.create<arith::SubIOp>(loc, rowEnd, rowBegin),
            m.c(blockRows)));
    auto depthLoop = b.create<scf::ForOp>(loc, zero, m.c(depth),
                                          m.c(depthBlock));
    b.setInsertionPointToStart(depthLoop.getBody());
    Value k0 = depthLoop.getInductionVar();
    Value k1 = b.create<arith::MinUIOp>(loc, m.add(k0, m.c(depthBlock)),
                                        m.c(depth));
    auto panelLoop = b.create<scf::ForOp>(loc, zero, panels, one);
    b.setInsertionPointToStart(panelLoop.getBody());
    Value nb = panelLoop.getInductionVar();
    auto blocks = b.create<scf::ForOp>(loc, rowBegin, blocksEnd,
                                       m.c(blockRows));
    {
      OpBuilder::InsertionGuard g(b);
      b.setInsertionPointToStart(blocks.getBody());
      emitBlock(b, loc, blocks.getInductionVar(), nb, blockRows, k0, k1);
    }
    // The remaining rows (fewer than a block) as one smaller block.
    Value rest = b.create<arith::SubIOp>(loc, rowEnd, blocksEnd);
    for (int64_t mr = 1; mr < blockRows; ++mr) {
      auto branch = b.create<scf::IfOp>(loc, m.eq(rest, mr),
                                        /*withElse=*/false);
      OpBuilder::InsertionGuard g(b);
      b.setInsertionPointToStart(branch.thenBlock());
      emitBlock(b, loc, blocksEnd, nb, mr, k0, k1);
    }
  }
};

LogicalResult lowerPanels(linalg::GenericOp op, int64_t blockRows,
                          int64_t depthBlock, int64_t prefetch) {
  constexpr int64_t kPanel = PanelProduct::kPanel;
  if (failed(checkProductShape(op, "f32_panels", 2, 4,
                               "inputs and weight panels")))
    return failure();
  Value input = op.getDpsInputs()[0], weight = op.getDpsInputs()[1],
        out = op.getDpsInits()[0];
  auto inputType = cast<MemRefType>(input.getType());
  auto weightType = cast<MemRefType>(weight.getType());
  auto outType = cast<MemRefType>(out.getType());
  if (inputType.getRank() != 2 || weightType.getRank() != 3 ||
      outType.getRank() != 3 || !inputType.getElementType().isF32() ||
      !weightType.getElementType().isF32() ||
      !outType.getElementType().isF32() || weightType.isDynamicDim(1) ||
      weightType.getDimSize(2) != kPanel || outType.getDimSize(2) != kPanel)
    return op.emitOpError("tagged f32_panels but its operands are not f32 "
                          "[m, k] inputs, f32 [nb, k, 64] panels and an f32 "
                          "[m, nb, 64] result");
  OpBuilder b(op);
  Location loc = op.getLoc();
  PanelProduct kernel;
  kernel.x = Strided::of(b, loc, input);
  kernel.w = Strided::of(b, loc, weight);
  kernel.y = Strided::of(b, loc, out);
  kernel.rows = kernel.x.sizes[0];
  kernel.panels = kernel.w.sizes[0];
  kernel.depth = weightType.getDimSize(1);
  kernel.blockRows = blockRows;
  kernel.depthBlock = depthBlock;
  kernel.prefetch = prefetch;
  IndexMath m{b, loc};
  Value contiguous = m.all(
      {m.eq(kernel.x.strides[1], 1), m.eq(kernel.w.strides[1], kPanel),
       m.eq(kernel.w.strides[2], 1), m.eq(kernel.y.strides[2], 1)});
  bool oneRow = inputType.getDimSize(0) == 1;
  guard(b, op, contiguous, [&](OpBuilder &b, Location loc) {
    if (oneRow)
      return kernel.emitGemv(b, loc);
    // Fewer rows than a register block: streaming the panels is better.
    Value few = b.create<arith::CmpIOp>(loc, arith::CmpIPredicate::ult,
                                        kernel.rows, m.c(blockRows));
    auto branch = b.create<scf::IfOp>(loc, few, /*withElse=*/true);
    OpBuilder::InsertionGuard g(b);
    b.setInsertionPointToStart(branch.thenBlock());
    kernel.emitGemv(b, loc);
    b.setInsertionPointToStart(branch.elseBlock());
    kernel.emitGemm(b, loc);
  });
  return success();
}

struct LLMLowerMicroKernelsPass
    : public llamac::impl::LLMLowerMicroKernelsPassBase<
          LLMLowerMicroKernelsPass> {
  using LLMLowerMicroKernelsPassBase::LLMLowerMicroKernelsPassBase;

  void runOnOperation() override {
    if (unroll < 1 || f32Rows < 1 || f32Depth < 1 || f32Prefetch < 0 ||
        gemvPrefetch < 0) {
      getOperation()->emitError("llm-lower-micro-kernels: unroll, f32-rows "
                                "and f32-depth must be >= 1, f32-prefetch "
                                "and gemv-prefetch >= 0");
      return signalPassFailure();
    }
    SmallVector<linalg::GenericOp> tagged;
    getOperation()->walk([&](linalg::GenericOp op) {
      if (op->hasAttr(kMicroKernel))
        tagged.push_back(op);
    });
    for (linalg::GenericOp op : tagged) {
      auto kind = op->getAttrOfType<StringAttr>(kMicroKernel);
      LogicalResult lowered =
          !kind ? op.emitOpError("llm.micro_kernel must be a string")
          : kind.getValue() == "amx_bf16" ? lowerAMX(op, unroll)
          : kind.getValue() == "amx_q8_0"
              ? lowerAMXQuant(op, /*q4=*/false, unroll)
          : kind.getValue() == "amx_q4_0"
              ? lowerAMXQuant(op, /*q4=*/true, unroll)
          : kind.getValue() == "vnni_gemv" ? lowerGemv(op)
          : kind.getValue() == "f32_panels"
              ? lowerPanels(op, f32Rows, f32Depth, f32Prefetch)
          : kind.getValue() == "q8_0_gemv" ? lowerQuantGemv(op, /*q4=*/false)
          : kind.getValue() == "q4_0_gemv"
              ? lowerQuantGemv(op, /*q4=*/true)
          : kind.getValue() == "q8_0_i8_gemv"
              ? lowerQuantGemvI8(op, /*q4=*/false, gemvPrefetch)
          : kind.getValue() == "q4_0_i8_gemv"
              ? lowerQuantGemvI8(op, /*q4=*/true, gemvPrefetch)
              : op.emitOpError("unknown llm.micro_kernel '")
                    << kind.getValue() << "'";
      if (failed(lowered))
        return signalPassFailure();
    }
  }
};

} // namespace
