//===- MaterializeLayouts.cpp - llm-materialize-layouts -------------------===//
//
// The mechanism of weight storage: applies what llm-choose-layouts
// recorded (llm.chosen_layout on params, llm.chosen_input_type on
// products). The stored types come from the layout itself
// (WeightLayoutAttr::getStoredType), so this pass has no knowledge of any
// particular layout.
//
//===----------------------------------------------------------------------===//
#include "llamac/IR/LLMOps.h"
#include "llamac/Passes/Passes.h"
#include "llamac/Passes/Strategy.h"

#include "mlir/IR/Builders.h"

namespace llamac {
#define GEN_PASS_DEF_LLMMATERIALIZELAYOUTSPASS
#include "llamac/Passes/Passes.h.inc"
} // namespace llamac

using namespace mlir;
using namespace llamac;

namespace {

/// Stores `param` in `layout`: a param of the stored type (and one of the
/// scales for a quantized layout) that its users read.
LogicalResult materialize(llm::ParamOp param, llm::WeightLayoutAttr layout) {
  auto type = param.getResult().getType();
  if (param.getLayout())
    return param.emitOpError("has llm.chosen_layout ")
           << layout << " but is already stored as " << param.getLayoutAttr();
  RankedTensorType stored =
      type.getRank() == 2 ? layout.getStoredType(param.getContext(),
                                                 type.getDimSize(0),
                                                 type.getDimSize(1))
                          : RankedTensorType();
  if (!stored)
    return param.emitOpError("has llm.chosen_layout ")
           << layout << ", which cannot store " << type
           << " (a 2-D matrix of whole "
           << layout.getLayout().storedShapeDescription() << " blocks)";
  if (!llm::isUsedOnlyAsMatrix(param, /*plainProductsOnly=*/false))
    return param.emitOpError("has llm.chosen_layout ")
           << layout << " but is read as something else than a matrix";
  OpBuilder b(param);
  auto values = b.create<llm::ParamOp>(param.getLoc(), stored,
                                       param.getNameAttr(), layout,
                                       param.getPartsAttr());
  llm::ParamOp scales;
  if (layout.isQuantized()) {
    llm::WeightLayoutAttr scalesLayout = layout.getScales();
    scales = b.create<llm::ParamOp>(
        param.getLoc(),
        scalesLayout.getStoredType(param.getContext(), type.getDimSize(0),
                                   type.getDimSize(1)),
        param.getNameAttr(), scalesLayout, param.getPartsAttr());
  }
  for (OpOperand &use :
       llvm::make_early_inc_range(param.getResult().getUses())) {
    Operation *user = use.getOwner();
    use.set(values.getResult());
    if (auto linear = dyn_cast<llm::LinearOp>(user)) {
      linear.setWeightLayoutAttr(layout);
      if (scales)
        linear.getScalesMutable().assign(scales.getResult());
    } else {
      auto embed = cast<llm::EmbedOp>(user);
      embed.setWeightLayoutAttr(layout);
      if (scales)
        embed.getScalesMutable().assign(scales.getResult());
    }
  }
  param.erase();
  return success();
}

struct LLMMaterializeLayoutsPass
    : public llamac::impl::LLMMaterializeLayoutsPassBase<
          LLMMaterializeLayoutsPass> {
  void runOnOperation() override {
    SmallVector<llm::ParamOp> params;
    SmallVector<llm::LinearOp> products;
    getOperation().walk([&](Operation *op) {
      if (auto param = dyn_cast<llm::ParamOp>(op);
          param && param->hasAttr(kChosenLayoutAttrName))
        params.push_back(param);
      if (auto linear = dyn_cast<llm::LinearOp>(op);
          linear && linear->hasAttr(kChosenInputTypeAttrName))
        products.push_back(linear);
    });
    for (llm::ParamOp param : params) {
      auto layout = dyn_cast<llm::WeightLayoutAttr>(
          param->getAttr(kChosenLayoutAttrName));
      if (!layout) {
        param.emitOpError(kChosenLayoutAttrName) << " must be a #llm.layout";
        return signalPassFailure();
      }
      if (failed(materialize(param, layout)))
        return signalPassFailure();
    }
    for (llm::LinearOp linear : products) {
      auto input = dyn_cast<TypeAttr>(linear->getAttr(kChosenInputTypeAttrName));
      if (!input) {
        linear.emitOpError(kChosenInputTypeAttrName) << " must be a type";
        return signalPassFailure();
      }
      linear.setInputTypeAttr(input);
      linear->removeAttr(kChosenInputTypeAttrName);
    }
  }
};

} // namespace
