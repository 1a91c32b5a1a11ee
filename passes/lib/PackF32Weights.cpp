//===- PackF32Weights.cpp - llm-pack-f32-weights --------------------------===//
//
// Chooses the f32panel64 layout (see LLMOps.td) for the f32 projection and
// embedding matrices, the f32 counterpart of llm-pack-weights: the weight
// table, the packer, the FMA micro-kernels (prefill GEMM, decode GEMV) and
// the embedding gather all read the same panels, and a weight is stored
// once.
//
//===----------------------------------------------------------------------===//
#include "llamac/IR/LLMOps.h"
#include "llamac/Transforms/Passes.h"

namespace llamac {
#define GEN_PASS_DEF_LLMPACKF32WEIGHTSPASS
#include "llamac/Transforms/Passes.h.inc"
} // namespace llamac

using namespace mlir;
using namespace llamac;

namespace {

/// True when `param` can be stored as f32panel64 panels: an f32 [out, in]
/// matrix of whole panels, read only by projections and embedding lookups
/// (a matrix that does not tile keeps its layout and the generic product).
bool isPackable(llm::ParamOp param) {
  auto type = param.getResult().getType();
  return !param.getLayout() && type.getRank() == 2 &&
         type.getElementType().isF32() &&
         type.getDimSize(0) % llm::kF32PanelWidth == 0 &&
         llm::isUsedOnlyAsMatrix(param, /*plainProductsOnly=*/true);
}

struct LLMPackF32WeightsPass
    : public llamac::impl::LLMPackF32WeightsPassBase<LLMPackF32WeightsPass> {
  void runOnOperation() override {
    OpBuilder b(&getContext());
    llm::rewriteParamsByName(
        getOperation(), isPackable, [&](llm::ParamOp param) {
          auto type = param.getResult().getType();
          auto panels = RankedTensorType::get(
              {type.getDimSize(0) / llm::kF32PanelWidth, type.getDimSize(1),
               llm::kF32PanelWidth},
              type.getElementType());
          b.setInsertionPoint(param);
          auto packed = b.create<llm::ParamOp>(
              param.getLoc(), panels, param.getNameAttr(),
              b.getStringAttr(llm::kF32PanelLayout), param.getPartsAttr());
          param.getResult().replaceAllUsesWith(packed.getResult());
          param.erase();
        });
  }
};

} // namespace
