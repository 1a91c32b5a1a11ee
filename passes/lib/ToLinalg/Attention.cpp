//===- Attention.cpp - llm.attention -> linalg ----------------------------===//
//
// The new keys and values are appended to the layer's cache rows
// (transposed and rounded or quantized to what the cache stores,
// storeCacheRows, then tensor.insert_slice), then the queries attend to the
// visible history:
// with a flash micro-kernel as one llm.flash_attention over the history as
// stored (lowered on buffers by llm-lower-flash-attention, which widens it
// as it reads), otherwise as generics that materialize the scores (scores,
// masked max, exp, sum, weighted sum) over the history widened to f32.
//
//===----------------------------------------------------------------------===//
#include "LoweringUtils.h"
#include "llamac/Passes/Patterns.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Transforms/DialectConversion.h"

#include <limits>

using namespace mlir;
using namespace llamac;
using namespace llamac::to_linalg;

namespace {

struct AttentionLowering : OpConversionPattern<llm::AttentionOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(llm::AttentionOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    MLIRContext *context = rewriter.getContext();
    auto queryType = op.getQuery().getType();
    auto cacheType = op.getKeyCache().getType();
    Type elementType = queryType.getElementType();
    // What the cache stores: the activations' type, or a narrower one the
    // new rows are rounded (bf16, f16) or quantized (q8_0) to; the verifier
    // saw to it that the activations are f32 then.
    Type storedType = cacheType.getElementType();
    int64_t queryHeads = queryType.getDimSize(1);
    int64_t headDim = queryType.getDimSize(2);
    int64_t rowWidth = cacheType.getDimSize(3);
    int64_t kvHeads = cacheType.getDimSize(1);
    int64_t group = queryHeads / kvHeads;
    int64_t layer = op.getLayer();
    double scale = op.getScale().convertToDouble();

    Value startPos = adaptor.getStartPos();
    OpFoldResult numTokens =
        tensor::getMixedSize(rewriter, loc, adaptor.getQuery(), 0);
    Value numTokensValue =
        getValueOrCreateConstantIndexOp(rewriter, loc, numTokens);
    auto index = [&](int64_t v) -> OpFoldResult {
      return rewriter.getIndexAttr(v);
    };

    // 1. Append the new keys/values to this layer's cache rows
    //    [start_pos, start_pos + n): [n, kv, d] -> [kv, n, row] as the
    //    cache stores them -> cache slot.
    auto append = [&](Value cache, Value rows) {
      Value stored =
          storeCacheRows(rewriter, loc, rows, storedType, numTokens);
      return rewriter.create<tensor::InsertSliceOp>(
          loc, stored, cache,
          ArrayRef<OpFoldResult>{index(layer), index(0), startPos, index(0)},
          ArrayRef<OpFoldResult>{index(1), index(kvHeads), numTokens,
                                 index(rowWidth)},
          ArrayRef<OpFoldResult>{index(1), index(1), index(1), index(1)});
    };
    Value newKeyCache = append(adaptor.getKeyCache(), adaptor.getKey());
    Value newValueCache = append(adaptor.getValueCache(), adaptor.getValue());

    // 2. The visible history: rows [0, start_pos + n) of this layer.
    Value visibleValue =
        rewriter.create<arith::AddIOp>(loc, startPos, numTokensValue);
    OpFoldResult visible = visibleValue;
    auto history = [&](Value cache) -> Value {
      auto sliceType = RankedTensorType::get(
          {kvHeads, ShapedType::kDynamic, rowWidth}, storedType);
      return rewriter.create<tensor::ExtractSliceOp>(
          loc, sliceType, cache,
          ArrayRef<OpFoldResult>{index(layer), index(0), index(0), index(0)},
          ArrayRef<OpFoldResult>{index(1), index(kvHeads), visible,
                                 index(rowWidth)},
          ArrayRef<OpFoldResult>{index(1), index(1), index(1), index(1)});
    };
    Value keys = history(newKeyCache);
    Value values = history(newValueCache);

    // 3. With a flash micro-kernel: one fused op over the history, lowered
    //    on buffers (llm-lower-flash-attention).
    if (llm::MicroKernelAttr kernel = op.getMicroKernelAttr()) {
      Value init = empty(rewriter, loc,
                         tensor::getMixedSizes(rewriter, loc,
                                               adaptor.getQuery()),
                         elementType);
      Value output =
          rewriter
              .create<llm::FlashAttentionOp>(
                  loc, TypeRange{queryType}, adaptor.getQuery(), keys, values,
                  startPos, init, op.getScaleAttr(), kernel)
              .getResult()
              .front();
      rewriter.replaceOp(op, {output, newKeyCache, newValueCache});
      return success();
    }

    // 4. Otherwise generic loops over the history widened to f32. Query
    //    heads grouped by the KV head they share: [n, kv, g, d].
    keys = widenCacheRows(rewriter, loc, keys, elementType, headDim, visible);
    values =
        widenCacheRows(rewriter, loc, values, elementType, headDim, visible);
    auto groupedType = RankedTensorType::get(
        {queryType.getDimSize(0), kvHeads, group, headDim}, elementType);
    Value query = rewriter.create<tensor::ExpandShapeOp>(
        loc, groupedType, adaptor.getQuery(),
        SmallVector<ReassociationIndices>{{0}, {1, 2}, {3}},
        ArrayRef<OpFoldResult>{numTokens, index(kvHeads), index(group),
                               index(headDim)});

    // 5. scores[kv, g, i, t] = sum_d q[i, kv, g, d] * K[kv, t, d].
    SmallVector<OpFoldResult> scoreSizes = {index(kvHeads), index(group),
                                            numTokens, visible};
    Value scoresInit = filled(rewriter, loc, scoreSizes, elementType, 0.0);
    Value scores = generic(rewriter, loc, {query, keys}, scoresInit,
                           {dimsMap(context, 5, {2, 0, 1, 4}),
                            dimsMap(context, 5, {0, 3, 4}),
                            dimsMap(context, 5, {0, 1, 2, 3})},
                           {kPar, kPar, kPar, kPar, kRed}, multiplyAccumulate);

    // Causal mask: token i (absolute position start_pos + i) sees t <= it.
    auto isVisible = [&](OpBuilder &b, Location loc) {
      Value token = b.create<linalg::IndexOp>(loc, 2);
      Value t = b.create<linalg::IndexOp>(loc, 3);
      Value position = b.create<arith::AddIOp>(loc, startPos, token);
      return b.create<arith::CmpIOp>(loc, arith::CmpIPredicate::ule, t,
                                     position);
    };
    auto scaleConstant = [&](OpBuilder &b, Location loc) {
      return b.create<arith::ConstantOp>(loc,
                                         b.getFloatAttr(elementType, scale));
    };
    AffineMap rowMap = dimsMap(context, 4, {0, 1, 2});
    AffineMap scoreMap = dimsMap(context, 4, {0, 1, 2, 3});
    SmallVector<OpFoldResult> rowSizes = {index(kvHeads), index(group),
                                          numTokens};

    // 6. Row maxima of the scaled, masked scores.
    Value maxInit = filled(rewriter, loc, rowSizes, elementType,
                           -std::numeric_limits<double>::infinity());
    Value maxima = generic(
        rewriter, loc, {scores}, maxInit, {scoreMap, rowMap},
        {kPar, kPar, kPar, kRed},
        [&](OpBuilder &b, Location loc, ValueRange args) -> Value {
          Value scaled =
              b.create<arith::MulFOp>(loc, args[0], scaleConstant(b, loc));
          Value larger = b.create<arith::MaximumFOp>(loc, args[1], scaled);
          return b.create<arith::SelectOp>(loc, isVisible(b, loc), larger,
                                           args[1]);
        });

    // 7. Unnormalized probabilities exp(s * scale - max), 0 where masked.
    Value weights = generic(
        rewriter, loc, {scores, maxima},
        empty(rewriter, loc, scoreSizes, elementType),
        {scoreMap, rowMap, scoreMap}, {kPar, kPar, kPar, kPar},
        [&](OpBuilder &b, Location loc, ValueRange args) -> Value {
          Value scaled =
              b.create<arith::MulFOp>(loc, args[0], scaleConstant(b, loc));
          Value shifted = b.create<arith::SubFOp>(loc, scaled, args[1]);
          Value weight = b.create<math::ExpOp>(loc, shifted);
          Value zero = b.create<arith::ConstantOp>(
              loc, b.getFloatAttr(elementType, 0.0));
          return b.create<arith::SelectOp>(loc, isVisible(b, loc), weight,
                                           zero);
        });

    // 8. Row sums of the weights.
    Value sumInit = filled(rewriter, loc, rowSizes, elementType, 0.0);
    Value sums = generic(
        rewriter, loc, {weights}, sumInit, {scoreMap, rowMap},
        {kPar, kPar, kPar, kRed},
        [](OpBuilder &b, Location loc, ValueRange args) -> Value {
          return b.create<arith::AddFOp>(loc, args[1], args[0]);
        });

    // 9. out[i, kv, g, d] = sum_t w[kv, g, i, t] * V[kv, t, d] / sum[kv, g, i].
    SmallVector<OpFoldResult> outSizes = {numTokens, index(kvHeads),
                                          index(group), index(headDim)};
    Value outInit = filled(rewriter, loc, outSizes, elementType, 0.0);
    Value weighted;
    if (ShapedType::isDynamic(queryType.getDimSize(0))) {
      // Prefill: V's history transposed to [kv, d, t] once, so that the sum
      // over t reads both operands contiguously and becomes a vectorized,
      // register-blocked dot product (llm-reductions-to-loops).
      Value transposed =
          rewriter
              .create<linalg::TransposeOp>(
                  loc, values,
                  empty(rewriter, loc, {index(kvHeads), index(headDim), visible},
                        elementType),
                  ArrayRef<int64_t>{0, 2, 1})
              .getResult()[0];
      weighted = generic(rewriter, loc, {weights, transposed}, outInit,
                         {dimsMap(context, 5, {1, 2, 0, 4}),
                          dimsMap(context, 5, {1, 3, 4}),
                          dimsMap(context, 5, {0, 1, 2, 3})},
                         {kPar, kPar, kPar, kPar, kRed}, multiplyAccumulate);
    } else {
      // Decode: transposing the whole history for one token would cost more
      // than it saves. Loops (i, kv, g, t, d): each history row of V is read
      // contiguously and accumulated into the output row.
      weighted = generic(rewriter, loc, {weights, values}, outInit,
                         {dimsMap(context, 5, {1, 2, 0, 3}),
                          dimsMap(context, 5, {1, 3, 4}),
                          dimsMap(context, 5, {0, 1, 2, 4})},
                         {kPar, kPar, kPar, kRed, kPar}, multiplyAccumulate);
    }
    Value normalized = generic(
        rewriter, loc, {weighted, sums},
        empty(rewriter, loc, outSizes, elementType),
        {dimsMap(context, 4, {0, 1, 2, 3}), dimsMap(context, 4, {1, 2, 0}),
         dimsMap(context, 4, {0, 1, 2, 3})},
        {kPar, kPar, kPar, kPar},
        [](OpBuilder &b, Location loc, ValueRange args) -> Value {
          return b.create<arith::DivFOp>(loc, args[0], args[1]);
        });
    Value output = rewriter.create<tensor::CollapseShapeOp>(
        loc, queryType, normalized,
        SmallVector<ReassociationIndices>{{0}, {1, 2}, {3}});
    rewriter.replaceOp(op, {output, newKeyCache, newValueCache});
    return success();
  }
};

} // namespace

void llamac::populateLLMAttentionLoweringPatterns(
    RewritePatternSet &patterns) {
  patterns.add<AttentionLowering>(patterns.getContext());
}
