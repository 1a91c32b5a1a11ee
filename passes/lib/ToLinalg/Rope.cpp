//===- Rope.cpp - llm.rope -> linalg --------------------------------------===//
//
// Rotary embeddings: the (llama3-scaled) inverse frequencies are compile-time
// constants; one generic computes the cos/sin table of every (token, pair)
// angle, another rotates each head's pairs (Hugging Face half-split).
//
//===----------------------------------------------------------------------===//
#include "LoweringUtils.h"
#include "llamac/Passes/Patterns.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Transforms/DialectConversion.h"

#include <cmath>

using namespace mlir;
using namespace llamac;
using namespace llamac::to_linalg;

namespace {

struct RopeLowering : OpConversionPattern<llm::RopeOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(llm::RopeOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    MLIRContext *context = rewriter.getContext();
    auto type = op.getResult().getType();
    Type elementType = type.getElementType();
    int64_t headDim = type.getDimSize(2);
    int64_t half = headDim / 2;

    // Inverse frequencies, rescaled by the llama3 rule when present, are
    // compile-time constants of the model.
    double theta = op.getTheta().convertToDouble();
    SmallVector<float> frequencies;
    for (int64_t i = 0; i < half; ++i) {
      double frequency = std::pow(theta, -2.0 * double(i) / double(headDim));
      if (auto scaling = op.getScalingAttr())
        frequency = scaling.scaleInverseFrequency(frequency);
      frequencies.push_back(float(frequency));
    }
    auto tableType = RankedTensorType::get({half}, rewriter.getF32Type());
    Value table = rewriter.create<arith::ConstantOp>(
        loc, DenseElementsAttr::get(tableType, ArrayRef<float>(frequencies)));

    Value input = adaptor.getInput();
    Value startPos = adaptor.getStartPos();
    SmallVector<OpFoldResult> sizes =
        tensor::getMixedSizes(rewriter, loc, input);

    // cos and sin of every (token, pair) angle, computed once for all heads.
    // The angle p * f is formed in f32 as the reference does; it is reduced
    // into [-pi, pi] in f64 before the f32 polynomial, whose own reduction
    // loses ~1e-5 rad at the angles of positions in the hundreds.
    SmallVector<OpFoldResult> angleSizes = {sizes[0],
                                            rewriter.getIndexAttr(half)};
    Type f32 = rewriter.getF32Type();
    Type f64 = rewriter.getF64Type();
    auto anglesType = RankedTensorType::get({type.getDimSize(0), half}, f32);
    auto angles = rewriter.create<linalg::GenericOp>(
        loc, TypeRange{anglesType, anglesType}, ValueRange{table},
        ValueRange{empty(rewriter, loc, angleSizes, f32),
                   empty(rewriter, loc, angleSizes, f32)},
        ArrayRef<AffineMap>{dimsMap(context, 2, {1}), dimsMap(context, 2, {0, 1}),
                            dimsMap(context, 2, {0, 1})},
        ArrayRef<IteratorType>{kPar, kPar},
        [&](OpBuilder &b, Location loc, ValueRange args) {
          Value token = b.create<linalg::IndexOp>(loc, 0);
          Value position = indexToFloat(
              b, loc, b.create<arith::AddIOp>(loc, startPos, token), f32);
          Value angle = b.create<arith::MulFOp>(loc, position, args[0]);
          Value wide = b.create<arith::ExtFOp>(loc, f64, angle);
          Value twoPi =
              b.create<arith::ConstantOp>(loc, b.getF64FloatAttr(2 * M_PI));
          Value turns = b.create<math::RoundEvenOp>(
              loc, b.create<arith::DivFOp>(loc, wide, twoPi));
          Value reduced = b.create<arith::TruncFOp>(
              loc, f32,
              b.create<arith::SubFOp>(
                  loc, wide, b.create<arith::MulFOp>(loc, turns, twoPi)));
          b.create<linalg::YieldOp>(
              loc, ValueRange{b.create<math::CosOp>(loc, reduced),
                              b.create<math::SinOp>(loc, reduced)});
        });
    Value cosTable = angles.getResult(0);
    Value sinTable = angles.getResult(1);

    auto generic = rewriter.create<linalg::GenericOp>(
        loc, type, ValueRange{input},
        ValueRange{empty(rewriter, loc, sizes, elementType)},
        ArrayRef<AffineMap>{dimsMap(context, 3, {0, 1, 2}),
                            dimsMap(context, 3, {0, 1, 2})},
        ArrayRef<IteratorType>{kPar, kPar, kPar},
        [&](OpBuilder &b, Location loc, ValueRange args) {
          Value token = b.create<linalg::IndexOp>(loc, 0);
          Value head = b.create<linalg::IndexOp>(loc, 1);
          Value lane = b.create<linalg::IndexOp>(loc, 2);
          Value halfValue = b.create<arith::ConstantIndexOp>(loc, half);
          // Lane j pairs with j + half (first half) or j - half (second).
          Value inFirstHalf = b.create<arith::CmpIOp>(
              loc, arith::CmpIPredicate::ult, lane, halfValue);
          Value pairIndex = b.create<arith::RemUIOp>(loc, lane, halfValue);
          Value partnerLane = b.create<arith::SelectOp>(
              loc, inFirstHalf, b.create<arith::AddIOp>(loc, lane, halfValue),
              pairIndex);
          Value partner = b.create<tensor::ExtractOp>(
              loc, input, ValueRange{token, head, partnerLane});
          Value rotated = b.create<arith::SelectOp>(
              loc, inFirstHalf, b.create<arith::NegFOp>(loc, partner),
              partner);
          Value cos = castFloat(
              b, loc,
              b.create<tensor::ExtractOp>(loc, cosTable,
                                          ValueRange{token, pairIndex}),
              elementType);
          Value sin = castFloat(
              b, loc,
              b.create<tensor::ExtractOp>(loc, sinTable,
                                          ValueRange{token, pairIndex}),
              elementType);
          Value result = b.create<arith::AddFOp>(
              loc, b.create<arith::MulFOp>(loc, args[0], cos),
              b.create<arith::MulFOp>(loc, rotated, sin));
          b.create<linalg::YieldOp>(loc, result);
        });
    rewriter.replaceOp(op, generic.getResults());
    return success();
  }
};

} // namespace

void llamac::populateLLMRopeLoweringPatterns(RewritePatternSet &patterns) {
  patterns.add<RopeLowering>(patterns.getContext());
}
