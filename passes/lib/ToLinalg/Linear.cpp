//===- Linear.cpp - llm.linear -> linalg ----------------------------------===//
//
// The pattern picks the lowering of a product by how its weight is stored
// (weight_layout) and how its inputs are rounded (input_type); the
// lowerings of plain and panel weights and the helpers the tile lowerings
// share are here, the tile lowerings in LinearTiles.cpp.
//
//===----------------------------------------------------------------------===//
#include "LinearLowering.h"
#include "llamac/Passes/Patterns.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

using namespace mlir;
using namespace llamac;
using namespace llamac::to_linalg;
using artifact::WeightLayout;

namespace {

struct LinearLowering : OpConversionPattern<llm::LinearOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(llm::LinearOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    if (op.getResult().getType().getRank() != 2)
      return rewriter.notifyMatchFailure(op, "expects [tokens, features]");
    llm::WeightLayoutAttr layout = op.getWeightLayoutAttr();
    std::optional<Type> inputType = op.getInputType();
    bool roundedInputs = inputType && isa<FloatType>(*inputType);
    if (!layout) {
      if (inputType)
        return rewriter.notifyMatchFailure(
            op, "input_type is only implemented with tiled weights");
      rewriter.replaceOp(op, lowerPlainProduct(op, adaptor, rewriter));
      return success();
    }
    Value result;
    switch (layout.getLayout().kind) {
    case artifact::LayoutKind::Panels:
      if (inputType)
        return rewriter.notifyMatchFailure(
            op, "input_type is not implemented with panel weights");
      result = lowerPanelProduct(op, adaptor, rewriter);
      break;
    case artifact::LayoutKind::Tiles:
      if (roundedInputs)
        result = lowerTileMatmul(op, adaptor, rewriter);
      else if (layout.isQuantized())
        result = lowerQuantizedRows(op, adaptor, rewriter);
      else
        result = lowerTileRows(op, adaptor, rewriter);
      break;
    }
    rewriter.replaceOp(op, result);
    return success();
  }
};

} // namespace

namespace llamac::to_linalg {

Value lowerPlainProduct(llm::LinearOp op, LinearAdaptor adaptor,
                        ConversionPatternRewriter &rewriter) {
  auto type = op.getResult().getType();
  Location loc = op.getLoc();
  SmallVector<OpFoldResult> sizes = {
      tensor::getMixedSize(rewriter, loc, adaptor.getInput(), 0),
      rewriter.getIndexAttr(type.getDimSize(1))};
  // Sums start from the addend (a fused residual connection) or zero.
  Value init = adaptor.getAddend()
                   ? adaptor.getAddend()
                   : filled(rewriter, loc, sizes, type.getElementType(), 0.0);
  // The named op casts both inputs to the accumulator type in its body, so
  // bf16 weights are widened in registers, never materialized as f32.
  return rewriter
      .create<linalg::MatmulTransposeBOp>(
          loc, TypeRange{type},
          ValueRange{adaptor.getInput(), adaptor.getWeight()}, ValueRange{init})
      .getResult(0);
}

/// Products by f32panel64 weights (prefill and decode alike): loops [m,
/// nb, ni, k] over the input [M, in], the panels [out/64, in, 64] and the
/// result as [M, out/64, 64] (micro-kernel f32_panels).
Value lowerPanelProduct(llm::LinearOp op, LinearAdaptor adaptor,
                        ConversionPatternRewriter &rewriter) {
  Location loc = op.getLoc();
  MLIRContext *context = rewriter.getContext();
  auto type = op.getResult().getType();
  Type elementType = type.getElementType();
  int64_t panels = op.getWeight().getType().getDimSize(0);
  Value input = adaptor.getInput();
  OpFoldResult rows = tensor::getMixedSize(rewriter, loc, input, 0);
  Value init = rowsAccumulator(rewriter, loc, adaptor.getAddend(), rows, type,
                               panels, WeightLayout::kPanelWidth);
  // Loops: m, nb, ni, k.
  return taggedRowsProduct(
      rewriter, loc, type, ValueRange{input, adaptor.getWeight()}, init,
      {dimsMap(context, 4, {0, 3}), dimsMap(context, 4, {1, 3, 2}),
       dimsMap(context, 4, {0, 1, 2})},
      {kPar, kPar, kPar, kRed}, op.getMicroKernelAttr(),
      [&](OpBuilder &b, Location loc, ValueRange args) {
        Value weight = castFloat(b, loc, args[1], elementType);
        return multiplyAccumulate(b, loc, {args[0], weight, args[2]});
      });
}

Value rowsAccumulator(ConversionPatternRewriter &rewriter, Location loc,
                      Value addend, OpFoldResult rows, RankedTensorType type,
                      int64_t tilesOut, int64_t tile) {
  if (!addend)
    return filled(
        rewriter, loc,
        {rows, rewriter.getIndexAttr(tilesOut), rewriter.getIndexAttr(tile)},
        type.getElementType(), 0.0);
  auto tiled = RankedTensorType::get({type.getDimSize(0), tilesOut, tile},
                                     type.getElementType());
  return rewriter.create<tensor::ExpandShapeOp>(
      loc, tiled, addend, ArrayRef<ReassociationIndices>{{0}, {1, 2}},
      ArrayRef<OpFoldResult>{rows, rewriter.getIndexAttr(tilesOut),
                             rewriter.getIndexAttr(tile)});
}

Value inputPairTiles(ConversionPatternRewriter &rewriter, Location loc,
                     Value input, OpFoldResult rows, int64_t tilesIn) {
  auto inputType = cast<RankedTensorType>(input.getType());
  auto tilesType = RankedTensorType::get(
      {inputType.getDimSize(0), tilesIn, WeightLayout::kTileDepth / 2, 2},
      inputType.getElementType());
  return rewriter.create<tensor::ExpandShapeOp>(
      loc, tilesType, input, ArrayRef<ReassociationIndices>{{0}, {1, 2, 3}},
      ArrayRef<OpFoldResult>{
          rows, rewriter.getIndexAttr(tilesIn),
          rewriter.getIndexAttr(WeightLayout::kTileDepth / 2),
          rewriter.getIndexAttr(2)});
}

Value taggedRowsProduct(
    ConversionPatternRewriter &rewriter, Location loc, RankedTensorType type,
    ValueRange inputs, Value init, ArrayRef<AffineMap> maps,
    ArrayRef<IteratorType> iterators, llm::MicroKernelAttr kernel,
    function_ref<Value(OpBuilder &, Location, ValueRange)> body) {
  Value product = generic(rewriter, loc, inputs, init, maps, iterators, body);
  if (kernel)
    product.getDefiningOp()->setAttr(llm::MicroKernelAttr::getAttrName(),
                                     kernel);
  return rewriter.create<tensor::CollapseShapeOp>(
      loc, type, product, ArrayRef<ReassociationIndices>{{0}, {1, 2}});
}

} // namespace llamac::to_linalg

void llamac::populateLLMLinearLoweringPatterns(RewritePatternSet &patterns) {
  patterns.add<LinearLowering>(patterns.getContext());
}
