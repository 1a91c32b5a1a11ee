//===- PackWeights.cpp - llm-pack-weights ---------------------------------===//
//
// Chooses the vnni16x32 tile layout for the bf16 projection weights (see
// LLMOps.td): the graph is where the choice belongs, because the weight
// table, the packer, the prefill kernels (AMX) and the decode kernels (FMA
// on the same tiles) must all agree on it, and a weight is stored once.
//
//===----------------------------------------------------------------------===//
#include "llamac/IR/LLMOps.h"
#include "llamac/Transforms/Passes.h"

namespace llamac {
#define GEN_PASS_DEF_LLMPACKWEIGHTSPASS
#include "llamac/Transforms/Passes.h.inc"
} // namespace llamac

using namespace mlir;
using namespace llamac;

namespace {

/// True when `param` can be stored as vnni16x32 tiles: a bf16 [out, in]
/// matrix of whole tiles, read only by projections and embedding lookups.
bool isPackable(llm::ParamOp param) {
  auto type = param.getResult().getType();
  return !param.getLayout() && type.getRank() == 2 &&
         type.getElementType().isBF16() &&
         type.getDimSize(0) % llm::kVNNITileRows == 0 &&
         type.getDimSize(1) % llm::kVNNITileDepth == 0 &&
         llm::isUsedOnlyAsMatrix(param, /*plainProductsOnly=*/false);
}

struct LLMPackWeightsPass
    : public llamac::impl::LLMPackWeightsPassBase<LLMPackWeightsPass> {
  void runOnOperation() override {
    OpBuilder b(&getContext());
    Type bf16 = b.getBF16Type();
    llm::rewriteParamsByName(
        getOperation(), isPackable, [&](llm::ParamOp param) {
          auto type = param.getResult().getType();
          auto tiled = RankedTensorType::get(
              {type.getDimSize(0) / llm::kVNNITileRows,
               type.getDimSize(1) / llm::kVNNITileDepth,
               llm::kVNNITileDepth / 2, llm::kVNNITileRows, 2},
              bf16);
          b.setInsertionPoint(param);
          auto packed = b.create<llm::ParamOp>(
              param.getLoc(), tiled, param.getNameAttr(),
              b.getStringAttr(llm::kVNNILayout), param.getPartsAttr());
          for (Operation *user : param.getResult().getUsers())
            if (auto linear = dyn_cast<llm::LinearOp>(user);
                linear && llm::hasSeveralRows(linear.getInput().getType()))
              linear.setInputTypeAttr(TypeAttr::get(bf16));
          param.getResult().replaceAllUsesWith(packed.getResult());
          param.erase();
        });
  }
};

} // namespace
