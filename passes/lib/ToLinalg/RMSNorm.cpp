//===- RMSNorm.cpp - llm.rms_norm -> linalg -------------------------------===//
//
// RMSNorm as two generics: the sum of squares of each row (a reduction),
// then the row scaled by its weight over the root mean square.
//
//===----------------------------------------------------------------------===//
#include "LoweringUtils.h"
#include "llamac/Passes/Patterns.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Transforms/DialectConversion.h"

using namespace mlir;
using namespace llamac;
using namespace llamac::to_linalg;

namespace {

struct RMSNormLowering : OpConversionPattern<llm::RMSNormOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(llm::RMSNormOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    auto type = op.getResult().getType();
    if (type.getRank() != 2 || type.isDynamicDim(1))
      return rewriter.notifyMatchFailure(op, "expects [tokens, hidden]");
    Location loc = op.getLoc();
    MLIRContext *context = rewriter.getContext();
    Type elementType = type.getElementType();
    Value input = adaptor.getInput();
    OpFoldResult rows = tensor::getMixedSize(rewriter, loc, input, 0);
    int64_t hidden = type.getDimSize(1);

    // sum_j x[i, j]^2
    Value sumInit = filled(rewriter, loc, {rows}, elementType, 0.0);
    Value sumSquares = generic(
        rewriter, loc, {input}, sumInit,
        {dimsMap(context, 2, {0, 1}), dimsMap(context, 2, {0})}, {kPar, kRed},
        [](OpBuilder &b, Location loc, ValueRange args) -> Value {
          Value square = b.create<arith::MulFOp>(loc, args[0], args[0]);
          return b.create<arith::AddFOp>(loc, args[1], square);
        });

    // w[j] * (x[i, j] / sqrt(sum / hidden + eps))
    Value weight = adaptor.getWeight();
    double epsilon = op.getEpsilon().convertToDouble();
    SmallVector<OpFoldResult> sizes = {rows, rewriter.getIndexAttr(hidden)};
    auto generic = rewriter.create<linalg::GenericOp>(
        loc, type, ValueRange{input, sumSquares, weight},
        ValueRange{empty(rewriter, loc, sizes, elementType)},
        ArrayRef<AffineMap>{dimsMap(context, 2, {0, 1}),
                            dimsMap(context, 2, {0}), dimsMap(context, 2, {1}),
                            dimsMap(context, 2, {0, 1})},
        ArrayRef<IteratorType>{kPar, kPar},
        [&](OpBuilder &b, Location loc, ValueRange args) {
          Value count = b.create<arith::ConstantOp>(
              loc, b.getFloatAttr(elementType, double(hidden)));
          Value eps = b.create<arith::ConstantOp>(
              loc, b.getFloatAttr(elementType, epsilon));
          Value mean = b.create<arith::DivFOp>(loc, args[1], count);
          Value rms = b.create<math::SqrtOp>(
              loc, b.create<arith::AddFOp>(loc, mean, eps));
          Value normalized = b.create<arith::DivFOp>(loc, args[0], rms);
          Value scaled = b.create<arith::MulFOp>(
              loc, castFloat(b, loc, args[2], elementType), normalized);
          b.create<linalg::YieldOp>(loc, scaled);
        });
    rewriter.replaceOp(op, generic.getResults());
    return success();
  }
};

} // namespace

void llamac::populateLLMRMSNormLoweringPatterns(RewritePatternSet &patterns) {
  patterns.add<RMSNormLowering>(patterns.getContext());
}
