//===- Embed.cpp - llm.embed -> linalg ------------------------------------===//
//
// An embedding lookup is a gathering linalg.generic: row `tokens[i]` of the
// table, each element read where the table's weight layout stores it and,
// for quantized codes, dequantized in the body.
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

struct EmbedLowering : OpConversionPattern<llm::EmbedOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(llm::EmbedOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    auto resultType = op.getResult().getType();
    Type elementType = resultType.getElementType();
    Value table = adaptor.getTable();
    llm::WeightLayoutAttr layout = op.getWeightLayoutAttr();
    SmallVector<OpFoldResult> sizes = {
        tensor::getMixedSize(rewriter, loc, adaptor.getTokens(), 0),
        rewriter.getIndexAttr(resultType.getDimSize(1))};
    MLIRContext *context = rewriter.getContext();
    auto generic = rewriter.create<linalg::GenericOp>(
        loc, resultType, ValueRange{adaptor.getTokens()},
        ValueRange{empty(rewriter, loc, sizes, elementType)},
        ArrayRef<AffineMap>{dimsMap(context, 2, {0}),
                            dimsMap(context, 2, {0, 1})},
        ArrayRef<IteratorType>{kPar, kPar},
        [&](OpBuilder &b, Location loc, ValueRange args) {
          Value row = b.create<arith::IndexCastOp>(loc, b.getIndexType(),
                                                   args[0]);
          Value column = b.create<linalg::IndexOp>(loc, 1);
          SmallVector<Value> at =
              matrixElementIndices(b, loc, layout, row, column);
          if (!layout || !layout.isQuantized()) {
            Value weight = b.create<tensor::ExtractOp>(loc, table, at);
            b.create<linalg::YieldOp>(
                loc, castFloat(b, loc, weight, elementType));
            return;
          }
          // Codes are in the tile order (Q4_0 without the pair dimension,
          // which picks the nibble); scales are [nb, kb, ni].
          artifact::QuantScheme scheme = layout.getLayout().scheme;
          Value pairIndex = at.back();
          if (scheme == artifact::QuantScheme::Q4_0)
            at.pop_back();
          Value code = b.create<tensor::ExtractOp>(loc, table, at);
          Value scale = b.create<tensor::ExtractOp>(
              loc, adaptor.getScales(), ValueRange{at[0], at[1], at[3]});
          b.create<linalg::YieldOp>(
              loc, dequantize(b, loc, scheme, code, scale, pairIndex,
                              elementType));
        });
    rewriter.replaceOp(op, generic.getResults());
    return success();
  }
};

} // namespace

void llamac::populateLLMEmbedLoweringPatterns(RewritePatternSet &patterns) {
  patterns.add<EmbedLowering>(patterns.getContext());
}
