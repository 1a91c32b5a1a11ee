//===- LowerMicroKernels.cpp - llm-lower-micro-kernels --------------------===//
//
// The mechanism of the product micro-kernels: a switch on the kind each
// tagged op carries (#llm.micro_kernel, chosen by llm-choose-micro-kernels),
// after checking that the module's target has the instructions that kind
// emits. The kernels themselves are one file per family in this folder:
//
//   scf.if (every block is contiguous) { micro-kernel } else { the op }
//
// so that the fallback keeps the op's exact semantics for any layout.
//
//===----------------------------------------------------------------------===//
#include "MicroKernels.h"
#include "llamac/Passes/Passes.h"

namespace llamac {
#define GEN_PASS_DEF_LLMLOWERMICROKERNELSPASS
#include "llamac/Passes/Passes.h.inc"
} // namespace llamac

using namespace mlir;
using namespace llamac;

namespace {

LogicalResult lowerMicroKernel(linalg::GenericOp op,
                               llm::MicroKernelAttr kernel) {
  switch (kernel.getKind()) {
  case llm::MicroKernelKind::AMXBF16:
  case llm::MicroKernelKind::AMXQ8_0:
  case llm::MicroKernelKind::AMXQ4_0:
    return kernels::lowerAMXProduct(op, kernel);
  case llm::MicroKernelKind::AVX512BF16:
  case llm::MicroKernelKind::AVX512BF16Q8_0:
  case llm::MicroKernelKind::AVX512BF16Q4_0:
    return kernels::lowerDotBF16Product(op, kernel);
  case llm::MicroKernelKind::TileGemv:
    return kernels::lowerTileGemv(op, kernel);
  case llm::MicroKernelKind::Q8_0Gemv:
  case llm::MicroKernelKind::Q4_0Gemv:
    return kernels::lowerQuantGemv(op, kernel);
  case llm::MicroKernelKind::Q8_0I8Gemv:
  case llm::MicroKernelKind::Q4_0I8Gemv:
    return kernels::lowerQuantGemvI8(op, kernel);
  case llm::MicroKernelKind::F32Panels:
    return kernels::lowerPanelProduct(op, kernel);
  case llm::MicroKernelKind::FlashTransposedKeys:
  case llm::MicroKernelKind::FlashKeyRows:
    break;
  }
  return op.emitOpError("micro_kernel ")
         << kernel << " is not a product's (llm-lower-flash-attention "
         << "lowers attention)";
}

struct LLMLowerMicroKernelsPass
    : public llamac::impl::LLMLowerMicroKernelsPassBase<
          LLMLowerMicroKernelsPass> {
  void runOnOperation() override {
    SmallVector<linalg::GenericOp> tagged;
    getOperation()->walk([&](linalg::GenericOp op) {
      if (op->hasAttr(llm::MicroKernelAttr::getAttrName()))
        tagged.push_back(op);
    });
    if (tagged.empty())
      return;
    llm::TargetAttr target = llm::TargetAttr::lookup(getOperation());
    for (linalg::GenericOp op : tagged) {
      auto kernel = op->getAttrOfType<llm::MicroKernelAttr>(
          llm::MicroKernelAttr::getAttrName());
      if (!kernel) {
        op.emitOpError(llm::MicroKernelAttr::getAttrName())
            << " must be a #llm.micro_kernel";
        return signalPassFailure();
      }
      // The mechanism never emits instructions the target lacks.
      ArrayRef<StringRef> needs = kernel.getRequiredFeatures();
      if (!needs.empty() && (!target || !target.hasFeatures(needs))) {
        op.emitOpError("micro_kernel ")
            << kernel << " needs a target with "
            << llvm::join(needs, ", ") << " ("
            << (target ? "target '" + target.getCpu().str() + "' lacks them"
                       : std::string("no llm.target on the module"))
            << ")";
        return signalPassFailure();
      }
      if (failed(lowerMicroKernel(op, kernel)))
        return signalPassFailure();
    }
  }
};

} // namespace
