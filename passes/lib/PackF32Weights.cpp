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

#include "llvm/ADT/MapVector.h"

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
  if (param.getLayout() || type.getRank() != 2 ||
      !type.getElementType().isF32() ||
      type.getDimSize(0) % llm::kF32PanelWidth != 0)
    return false;
  for (OpOperand &use : param.getResult().getUses()) {
    auto linear = dyn_cast<llm::LinearOp>(use.getOwner());
    auto embed = dyn_cast<llm::EmbedOp>(use.getOwner());
    if (!(linear && &use == &linear.getWeightMutable() &&
          !linear.getInputType()) &&
        !(embed && &use == &embed.getTableMutable()))
      return false;
  }
  return true;
}

struct LLMPackF32WeightsPass
    : public llamac::impl::LLMPackF32WeightsPassBase<LLMPackF32WeightsPass> {
  void runOnOperation() override {
    // All params of a name (one per entry function) or none: the buffer
    // holds each weight once.
    llvm::MapVector<StringRef, SmallVector<llm::ParamOp>> byName;
    getOperation().walk(
        [&](llm::ParamOp param) { byName[param.getName()].push_back(param); });
    OpBuilder b(&getContext());
    for (auto &[name, params] : byName) {
      if (!llvm::all_of(params, isPackable))
        continue;
      for (llm::ParamOp param : params) {
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
      }
    }
  }
};

} // namespace
