//===- CacheRows.cpp - Rows as the KV cache stores them -------------------===//
//
// What llm.attention writes into its cache and how the generic (non-flash)
// lowering reads the history back, for every cache element type: f32
// as is, bf16/f16 rounded to nearest, q8_0 quantized in blocks of 32 along
// head_dim (artifact::CacheElement::Q8_0 gives the block's bytes).
//
//===----------------------------------------------------------------------===//
#include "LoweringUtils.h"

#include "llamac/IR/KVCache.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

using namespace mlir;
using namespace llamac;
using namespace llamac::to_linalg;

namespace {

constexpr int64_t kBlockValues = artifact::kQ8CacheBlockValues;
constexpr int64_t kScaleBytes = artifact::kQ8CacheScaleBytes;
constexpr int64_t kBlockBytes = artifact::kQ8CacheBlockBytes;

/// `rows` [a, b, blocks * width] as [a, b, blocks, width], where `outer`
/// are the sizes a and b.
Value splitIntoBlocks(OpBuilder &b, Location loc, Value rows,
                      ArrayRef<OpFoldResult> outer, int64_t blocks,
                      int64_t width) {
  auto type = cast<RankedTensorType>(rows.getType());
  return b.create<tensor::ExpandShapeOp>(
      loc,
      RankedTensorType::get({type.getDimSize(0), type.getDimSize(1), blocks,
                             width},
                            type.getElementType()),
      rows, ArrayRef<ReassociationIndices>{{0}, {1}, {2, 3}},
      ArrayRef<OpFoldResult>{outer[0], outer[1], b.getIndexAttr(blocks),
                             b.getIndexAttr(width)});
}

/// [kv, n, d] f32 rows -> [kv, n, d / 32 * 34] i8: per block of 32 values,
/// d = max|x| / 127 as f16 (little-endian bytes), then the codes
/// roundeven(x * 127 / max|x|) (0 for a block of zeros; clamped to
/// [-127, 127]), as llama.cpp's vectorized q8_0 quantization computes them.
Value quantizeRows(OpBuilder &b, Location loc, Value rows, int64_t kvHeads,
                   OpFoldResult numTokens, int64_t headDim) {
  MLIRContext *context = b.getContext();
  Type f32 = b.getF32Type(), i8 = b.getI8Type();
  const int64_t blocks = headDim / kBlockValues;
  auto index = [&](int64_t v) -> OpFoldResult { return b.getIndexAttr(v); };
  // [n, kv, d] -> [n, kv, blocks, 32].
  Value blockRows = splitIntoBlocks(b, loc, rows, {numTokens, index(kvHeads)},
                                    blocks, kBlockValues);
  // max|x| per block, [kv, n, blocks]; loops (n, kv, block, i).
  SmallVector<OpFoldResult> blockSizes = {index(kvHeads), numTokens,
                                          index(blocks)};
  Value maxAbs = generic(
      b, loc, {blockRows}, filled(b, loc, blockSizes, f32, 0.0),
      {dimsMap(context, 4, {0, 1, 2, 3}), dimsMap(context, 4, {1, 0, 2})},
      {kPar, kPar, kPar, kRed},
      [](OpBuilder &b, Location loc, ValueRange args) -> Value {
        return b.create<arith::MaximumFOp>(
            loc, args[1], b.create<math::AbsFOp>(loc, args[0]));
      });
  auto constant = [](OpBuilder &b, Location loc, float v) -> Value {
    return b.create<arith::ConstantOp>(loc, b.getF32FloatAttr(v));
  };
  // The codes, [kv, n, blocks, 32]; loops (kv, n, block, i).
  Value codes = generic(
      b, loc, {blockRows, maxAbs},
      empty(b, loc, {index(kvHeads), numTokens, index(blocks),
                     index(kBlockValues)},
            i8),
      {dimsMap(context, 4, {1, 0, 2, 3}), dimsMap(context, 4, {0, 1, 2}),
       dimsMap(context, 4, {0, 1, 2, 3})},
      {kPar, kPar, kPar, kPar},
      [&](OpBuilder &b, Location loc, ValueRange args) -> Value {
        Value zero = constant(b, loc, 0.0f);
        Value isZero = b.create<arith::CmpFOp>(loc, arith::CmpFPredicate::OEQ,
                                               args[1], zero);
        Value inverse = b.create<arith::SelectOp>(
            loc, isZero, zero,
            b.create<arith::DivFOp>(loc, constant(b, loc, 127.0f), args[1]));
        Value rounded = b.create<math::RoundEvenOp>(
            loc, b.create<arith::MulFOp>(loc, args[0], inverse));
        // Within int8 whatever the block holds (127 / max|x| overflows for
        // a subnormal maximum; inf or NaN inputs): fptosi of a value out of
        // range is poison.
        Value clamped = b.create<arith::MinimumFOp>(
            loc,
            b.create<arith::MaximumFOp>(loc, rounded,
                                        constant(b, loc, -127.0f)),
            constant(b, loc, 127.0f));
        return b.create<arith::FPToSIOp>(loc, b.getI8Type(), clamped);
      });
  // The scale's bytes, [kv, n, blocks, 2]: byte j of the f16 bits of d.
  Value scaleBytes = generic(
      b, loc, {maxAbs},
      empty(b, loc,
            {index(kvHeads), numTokens, index(blocks), index(kScaleBytes)}, i8),
      {dimsMap(context, 4, {0, 1, 2}), dimsMap(context, 4, {0, 1, 2, 3})},
      {kPar, kPar, kPar, kPar},
      [&](OpBuilder &b, Location loc, ValueRange args) -> Value {
        Type i16 = b.getI16Type();
        Value scale =
            b.create<arith::DivFOp>(loc, args[0], constant(b, loc, 127.0f));
        Value bits = b.create<arith::BitcastOp>(
            loc, i16, castFloat(b, loc, scale, b.getF16Type()));
        Value byte = b.create<arith::IndexCastOp>(
            loc, i16, b.create<linalg::IndexOp>(loc, 3));
        Value shift = b.create<arith::MulIOp>(
            loc, byte,
            b.create<arith::ConstantOp>(loc, b.getIntegerAttr(i16, 8)));
        return b.create<arith::TruncIOp>(
            loc, b.getI8Type(), b.create<arith::ShRUIOp>(loc, bits, shift));
      });
  // The blocks: scale bytes, then codes.
  Value blockBytes = empty(
      b, loc, {index(kvHeads), numTokens, index(blocks), index(kBlockBytes)},
      i8);
  SmallVector<OpFoldResult> unit(4, index(1));
  blockBytes = b.create<tensor::InsertSliceOp>(
      loc, scaleBytes, blockBytes,
      ArrayRef<OpFoldResult>{index(0), index(0), index(0), index(0)},
      ArrayRef<OpFoldResult>{index(kvHeads), numTokens, index(blocks),
                             index(kScaleBytes)},
      unit);
  blockBytes = b.create<tensor::InsertSliceOp>(
      loc, codes, blockBytes,
      ArrayRef<OpFoldResult>{index(0), index(0), index(0),
                             index(kScaleBytes)},
      ArrayRef<OpFoldResult>{index(kvHeads), numTokens, index(blocks),
                             index(kBlockValues)},
      unit);
  return b.create<tensor::CollapseShapeOp>(
      loc, blockBytes, ArrayRef<ReassociationIndices>{{0}, {1}, {2, 3}});
}

/// [kv, t, d / 32 * 34] q8_0 rows -> [kv, t, d] f32: code * d.
Value dequantizeRows(OpBuilder &b, Location loc, Value stored, int64_t kvHeads,
                     OpFoldResult visible, int64_t headDim) {
  MLIRContext *context = b.getContext();
  Type f32 = b.getF32Type();
  const int64_t blocks = headDim / kBlockValues;
  auto index = [&](int64_t v) -> OpFoldResult { return b.getIndexAttr(v); };
  Value blockBytes = splitIntoBlocks(b, loc, stored, {index(kvHeads), visible},
                                     blocks, kBlockBytes);
  // Bytes [first, first + count) of every block.
  auto bytes = [&](int64_t first, int64_t count) -> Value {
    return b.create<tensor::ExtractSliceOp>(
        loc, blockBytes,
        ArrayRef<OpFoldResult>{index(0), index(0), index(0), index(first)},
        ArrayRef<OpFoldResult>{index(kvHeads), visible, index(blocks),
                               index(count)},
        ArrayRef<OpFoldResult>(SmallVector<OpFoldResult>(4, index(1))));
  };
  Value scaleBytes = bytes(0, kScaleBytes), codes = bytes(kScaleBytes,
                                                          kBlockValues);
  // Each value from its code and its block's two scale bytes (loops
  // (kv, t, block, i); the bytes at constant indices of the block).
  auto scaleByte = [&](int64_t byte) {
    return AffineMap::get(4, 0,
                          {getAffineDimExpr(0, context),
                           getAffineDimExpr(1, context),
                           getAffineDimExpr(2, context),
                           getAffineConstantExpr(byte, context)},
                          context);
  };
  Value values = generic(
      b, loc, {codes, scaleBytes, scaleBytes},
      empty(b, loc,
            {index(kvHeads), visible, index(blocks), index(kBlockValues)},
            f32),
      {dimsMap(context, 4, {0, 1, 2, 3}), scaleByte(0), scaleByte(1),
       dimsMap(context, 4, {0, 1, 2, 3})},
      {kPar, kPar, kPar, kPar},
      [&](OpBuilder &b, Location loc, ValueRange args) -> Value {
        Value scale = llm::buildQ8BlockScale(b, loc, args[1], args[2]);
        return dequantize(b, loc, artifact::QuantScheme::Q8_0, args[0], scale,
                          Value(), f32);
      });
  return b.create<tensor::CollapseShapeOp>(
      loc, values, ArrayRef<ReassociationIndices>{{0}, {1}, {2, 3}});
}

} // namespace

namespace llamac::to_linalg {

Value storeCacheRows(OpBuilder &b, Location loc, Value rows, Type storedType,
                     OpFoldResult numTokens) {
  MLIRContext *context = b.getContext();
  auto rowsType = cast<RankedTensorType>(rows.getType());
  Type elementType = rowsType.getElementType();
  int64_t kvHeads = rowsType.getDimSize(1), headDim = rowsType.getDimSize(2);
  auto index = [&](int64_t v) -> OpFoldResult { return b.getIndexAttr(v); };
  if (llm::cacheElementOf(storedType) == artifact::CacheElement::Q8_0)
    return quantizeRows(b, loc, rows, kvHeads, numTokens, headDim);
  Value init = empty(b, loc, {index(kvHeads), numTokens, index(headDim)},
                     storedType);
  if (storedType == elementType)
    return b
        .create<linalg::TransposeOp>(loc, rows, init,
                                     ArrayRef<int64_t>{1, 0, 2})
        .getResult()[0];
  return generic(b, loc, {rows}, init,
                 {dimsMap(context, 3, {1, 0, 2}),
                  dimsMap(context, 3, {0, 1, 2})},
                 {kPar, kPar, kPar},
                 [&](OpBuilder &b, Location loc, ValueRange args) {
                   return roundToStorage(b, loc, args[0], storedType);
                 });
}

Value widenCacheRows(OpBuilder &b, Location loc, Value stored,
                     Type elementType, int64_t headDim, OpFoldResult visible) {
  MLIRContext *context = b.getContext();
  auto storedType = cast<RankedTensorType>(stored.getType());
  int64_t kvHeads = storedType.getDimSize(0);
  Type storage = storedType.getElementType();
  if (storage == elementType)
    return stored;
  if (llm::cacheElementOf(storage) == artifact::CacheElement::Q8_0)
    return dequantizeRows(b, loc, stored, kvHeads, visible, headDim);
  auto index = [&](int64_t v) -> OpFoldResult { return b.getIndexAttr(v); };
  return generic(
      b, loc, {stored},
      empty(b, loc, {index(kvHeads), visible, index(headDim)}, elementType),
      {dimsMap(context, 3, {0, 1, 2}), dimsMap(context, 3, {0, 1, 2})},
      {kPar, kPar, kPar},
      [&](OpBuilder &b, Location loc, ValueRange args) {
        return castFloat(b, loc, args[0], elementType);
      });
}

} // namespace llamac::to_linalg
