//===- Elementwise.cpp - llm.silu/mul/silu_mul/add -> linalg --------------===//
//
// Each elementwise op is one parallel linalg.generic over all dimensions.
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

/// Elementwise ops: one parallel linalg.generic over all dimensions.
template <typename OpTy>
struct ElementwiseLowering : OpConversionPattern<OpTy> {
  using OpConversionPattern<OpTy>::OpConversionPattern;
  using OpAdaptor = typename OpConversionPattern<OpTy>::OpAdaptor;

  static Value compute(OpBuilder &b, Location loc, ValueRange args);

  LogicalResult
  matchAndRewrite(OpTy op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    auto type = cast<RankedTensorType>(op.getResult().getType());
    ValueRange operands = adaptor.getOperands();
    unsigned rank = type.getRank();
    AffineMap identity = rewriter.getMultiDimIdentityMap(rank);
    SmallVector<AffineMap> maps(operands.size() + 1, identity);
    SmallVector<IteratorType> iterators(rank, kPar);
    Value init = empty(rewriter, loc,
                       tensor::getMixedSizes(rewriter, loc, operands[0]),
                       type.getElementType());
    auto generic = rewriter.create<linalg::GenericOp>(
        loc, type, operands, ValueRange{init}, maps, iterators,
        [&](OpBuilder &b, Location loc, ValueRange args) {
          b.create<linalg::YieldOp>(
              loc, compute(b, loc, args.drop_back()));
        });
    rewriter.replaceOp(op, generic.getResults());
    return success();
  }
};

template <>
Value ElementwiseLowering<llm::SiLUOp>::compute(OpBuilder &b, Location loc,
                                                ValueRange args) {
  // x / (1 + exp(-x)), as the reference writes it.
  Value x = args[0];
  Value one = b.create<arith::ConstantOp>(loc, b.getFloatAttr(x.getType(), 1.0));
  Value denominator = b.create<arith::AddFOp>(
      loc, one, b.create<math::ExpOp>(loc, b.create<arith::NegFOp>(loc, x)));
  return b.create<arith::DivFOp>(loc, x, denominator);
}

template <>
Value ElementwiseLowering<llm::MulOp>::compute(OpBuilder &b, Location loc,
                                               ValueRange args) {
  return b.create<arith::MulFOp>(loc, args[0], args[1]);
}

template <>
Value ElementwiseLowering<llm::SiLUMulOp>::compute(OpBuilder &b, Location loc,
                                                   ValueRange args) {
  Value activated = ElementwiseLowering<llm::SiLUOp>::compute(b, loc, args[0]);
  return b.create<arith::MulFOp>(loc, activated, args[1]);
}

template <>
Value ElementwiseLowering<llm::AddOp>::compute(OpBuilder &b, Location loc,
                                               ValueRange args) {
  return b.create<arith::AddFOp>(loc, args[0], args[1]);
}

} // namespace

void llamac::populateLLMElementwiseLoweringPatterns(
    RewritePatternSet &patterns) {
  patterns.add<ElementwiseLowering<llm::SiLUOp>,
               ElementwiseLowering<llm::MulOp>,
               ElementwiseLowering<llm::SiLUMulOp>,
               ElementwiseLowering<llm::AddOp>>(patterns.getContext());
}
