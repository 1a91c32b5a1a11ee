//===- QuantizeWeights.cpp - llm-quantize-weights -------------------------===//
//
// Chooses block-quantized storage (Q8_0 / Q4_0, see LLMOps.td) for the
// projection and embedding matrices. Like llm-pack-weights, the decision is
// taken on the graph so that the weight table, the packer and the kernels
// agree on it; the packer does the arithmetic at compile time.
//
//===----------------------------------------------------------------------===//
#include "llamac/IR/LLMOps.h"
#include "llamac/Transforms/Passes.h"

namespace llamac {
#define GEN_PASS_DEF_LLMQUANTIZEWEIGHTSPASS
#include "llamac/Transforms/Passes.h.inc"
} // namespace llamac

using namespace mlir;
using namespace llamac;

namespace {

/// True when `param` can be quantized: a float [out, in] matrix of whole
/// 16 x 32 tiles, read only by projections and embedding lookups.
bool isQuantizable(llm::ParamOp param) {
  auto type = param.getResult().getType();
  return !param.getLayout() && type.getRank() == 2 &&
         isa<FloatType>(type.getElementType()) &&
         type.getDimSize(0) % llm::kVNNITileRows == 0 &&
         type.getDimSize(1) % llm::kQuantBlock == 0 &&
         llm::isUsedOnlyAsMatrix(param, /*plainProductsOnly=*/true);
}

struct LLMQuantizeWeightsPass
    : public llamac::impl::LLMQuantizeWeightsPassBase<LLMQuantizeWeightsPass> {
  using LLMQuantizeWeightsPassBase::LLMQuantizeWeightsPassBase;

  void runOnOperation() override {
    llm::QuantScheme quant = scheme == "q8_0"   ? llm::QuantScheme::Q8_0
                             : scheme == "q4_0" ? llm::QuantScheme::Q4_0
                                                : llm::QuantScheme::None;
    if (quant == llm::QuantScheme::None) {
      getOperation().emitError("llm-quantize-weights: unknown scheme '")
          << scheme << "' (q8_0, q4_0)";
      return signalPassFailure();
    }
    if (!matrixInputType.empty() && matrixInputType != "bf16") {
      getOperation().emitError(
          "llm-quantize-weights: unknown matrix-input-type '")
          << matrixInputType << "' (bf16)";
      return signalPassFailure();
    }
    if (!vectorInputType.empty() && vectorInputType != "i8") {
      getOperation().emitError(
          "llm-quantize-weights: unknown vector-input-type '")
          << vectorInputType << "' (i8)";
      return signalPassFailure();
    }
    OpBuilder b(&getContext());
    llm::rewriteParamsByName(
        getOperation(), isQuantizable, [&](llm::ParamOp param) {
          auto type = param.getResult().getType();
          int64_t tilesOut = type.getDimSize(0) / llm::kVNNITileRows;
          int64_t tilesIn = type.getDimSize(1) / llm::kVNNITileDepth;
          SmallVector<int64_t> shape = {tilesOut, tilesIn,
                                        llm::kVNNITileDepth / 2,
                                        llm::kVNNITileRows};
          if (quant == llm::QuantScheme::Q8_0)
            shape.push_back(2);
          auto codesType = RankedTensorType::get(shape, b.getI8Type());
          b.setInsertionPoint(param);
          auto codes = b.create<llm::ParamOp>(
              param.getLoc(), codesType, param.getNameAttr(),
              b.getStringAttr(llm::getQuantLayout(quant)),
              param.getPartsAttr());
          auto scales = b.create<llm::ParamOp>(
              param.getLoc(), llm::getQuantScalesType(codesType),
              param.getNameAttr(),
              b.getStringAttr(llm::getQuantScalesLayout(quant)),
              param.getPartsAttr());
          for (OpOperand &use :
               llvm::make_early_inc_range(param.getResult().getUses())) {
            Operation *user = use.getOwner();
            use.set(codes.getResult());
            if (auto linear = dyn_cast<llm::LinearOp>(user)) {
              linear.getScalesMutable().assign(scales.getResult());
              bool severalRows =
                  llm::hasSeveralRows(linear.getInput().getType());
              if (!matrixInputType.empty() && severalRows)
                linear.setInputTypeAttr(TypeAttr::get(b.getBF16Type()));
              if (!vectorInputType.empty() && !severalRows)
                linear.setInputTypeAttr(TypeAttr::get(b.getI8Type()));
            } else
              cast<llm::EmbedOp>(user).getScalesMutable().assign(
                  scales.getResult());
          }
          param.erase();
        });
  }
};

} // namespace
