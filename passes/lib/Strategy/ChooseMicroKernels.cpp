//===- ChooseMicroKernels.cpp - llm-choose-micro-kernels ------------------===//
//
// The strategy of the generated code: which micro-kernel each product and
// attention runs on, with which tuning values, asked of the module's
// target. Decisions only, recorded as #llm.micro_kernel; llm-to-linalg
// carries them to the ops the mechanism passes lower.
//
//===----------------------------------------------------------------------===//
#include "llamac/IR/KVCache.h"
#include "llamac/IR/LLMOps.h"
#include "llamac/Passes/Passes.h"

namespace llamac {
#define GEN_PASS_DEF_LLMCHOOSEMICROKERNELSPASS
#include "llamac/Passes/Passes.h.inc"
} // namespace llamac

using namespace mlir;
using namespace llamac;
using artifact::QuantScheme;
using artifact::WeightLayout;
using llm::MicroKernelKind;

namespace {

/// f32 lanes of the attention kernel's vectors: one AVX-512 register, two
/// AVX2 ones (what was measured; the kernel itself is written for any).
constexpr int64_t kAttentionLanes = 16;

/// The kernel that multiplies weights stored in `layout` by inputs of
/// `inputType` (none: f32) on `target`, if any.
std::optional<MicroKernelKind> productKernelFor(const WeightLayout &layout,
                                                Type inputType,
                                                llm::TargetAttr target) {
  bool bf16Inputs = inputType && inputType.isBF16();
  bool i8Inputs = inputType && inputType.isInteger(8);
  if (inputType && !bf16Inputs && !i8Inputs)
    return std::nullopt;
  // Products of bf16 tiles run on the matrix unit, or as vectors on CPUs
  // with AVX512-BF16 but no AMX.
  bool onMatrixUnit = target.hasAMXBF16() || !target.hasAVX512BF16();
  if (layout == WeightLayout::bf16Tiles()) {
    if (i8Inputs)
      return std::nullopt;
    if (!bf16Inputs)
      return MicroKernelKind::TileGemv;
    return onMatrixUnit ? MicroKernelKind::AMXBF16
                        : MicroKernelKind::AVX512BF16;
  }
  if (layout == WeightLayout::f32Panels())
    return inputType ? std::optional<MicroKernelKind>()
                     : MicroKernelKind::F32Panels;
  bool q4 = layout.scheme == QuantScheme::Q4_0;
  if (layout == WeightLayout::quantizedTiles(layout.scheme) &&
      layout.isQuantized()) {
    if (bf16Inputs && onMatrixUnit)
      return q4 ? MicroKernelKind::AMXQ4_0 : MicroKernelKind::AMXQ8_0;
    if (bf16Inputs)
      return q4 ? MicroKernelKind::AVX512BF16Q4_0
                : MicroKernelKind::AVX512BF16Q8_0;
    if (i8Inputs)
      return q4 ? MicroKernelKind::Q4_0I8Gemv : MicroKernelKind::Q8_0I8Gemv;
    return q4 ? MicroKernelKind::Q4_0Gemv : MicroKernelKind::Q8_0Gemv;
  }
  return std::nullopt;
}

/// The largest divisor of `depthTiles` not above `limit` (at least 1).
int64_t largestDivisorUpTo(int64_t depthTiles, int64_t limit) {
  for (int64_t u = std::min(limit, depthTiles); u > 1; --u)
    if (depthTiles % u == 0)
      return u;
  return 1;
}

struct LLMChooseMicroKernelsPass
    : public llamac::impl::LLMChooseMicroKernelsPassBase<
          LLMChooseMicroKernelsPass> {
  using LLMChooseMicroKernelsPassBase::LLMChooseMicroKernelsPassBase;

  void runOnOperation() override {
    if (amxUnroll < 1 || bf16DotRows < 1 || bf16DotDepth < 1 ||
        f32Rows < 1 || f32Depth < 1 || f32Prefetch < 0 || gemvPrefetch < 0) {
      getOperation().emitError("llm-choose-micro-kernels: amx-unroll, "
                               "bf16-dot-rows, bf16-dot-depth, "
                               "f32-rows and f32-depth must be >= 1, "
                               "f32-prefetch and gemv-prefetch >= 0");
      return signalPassFailure();
    }
    llm::TargetAttr target = llm::TargetAttr::lookup(getOperation());
    if (!target) {
      getOperation().emitError("llm-choose-micro-kernels needs the target "
                               "the module is compiled for (module "
                               "attribute llm.target)");
      return signalPassFailure();
    }
    getOperation().walk([&](Operation *op) {
      if (auto linear = dyn_cast<llm::LinearOp>(op);
          linear && !linear.getMicroKernel())
        if (llm::MicroKernelAttr kernel = chooseProductKernel(linear, target);
            kernel && target.hasFeatures(kernel.getRequiredFeatures()))
          linear.setMicroKernelAttr(kernel);
      if (auto attention = dyn_cast<llm::AttentionOp>(op);
          attention && !attention.getMicroKernel())
        if (llm::MicroKernelAttr kernel =
                chooseAttentionKernel(attention, target))
          attention.setMicroKernelAttr(kernel);
    });
  }

  /// Null when the product stays generic (a plain 2-D weight).
  llm::MicroKernelAttr chooseProductKernel(llm::LinearOp linear,
                                           llm::TargetAttr target) {
    llm::WeightLayoutAttr layout = linear.getWeightLayoutAttr();
    if (!layout)
      return {};
    std::optional<Type> inputType = linear.getInputType();
    std::optional<MicroKernelKind> kind =
        productKernelFor(layout.getLayout(), inputType ? *inputType : Type(),
                         target);
    if (!kind)
      return {};
    MLIRContext *context = &getContext();
    int64_t depthTiles =
        linear.getWeightMatrixShape().second / WeightLayout::kTileDepth;
    switch (*kind) {
    case MicroKernelKind::AMXBF16:
    case MicroKernelKind::AMXQ8_0:
    case MicroKernelKind::AMXQ4_0:
      return llm::MicroKernelAttr::get(
          context, *kind, largestDivisorUpTo(depthTiles, amxUnroll),
          std::nullopt, std::nullopt, std::nullopt, std::nullopt);
    case MicroKernelKind::AVX512BF16:
    case MicroKernelKind::AVX512BF16Q8_0:
    case MicroKernelKind::AVX512BF16Q4_0:
      return llm::MicroKernelAttr::get(
          context, *kind, std::nullopt, bf16DotRows.getValue(),
          largestDivisorUpTo(depthTiles, bf16DotDepth), std::nullopt,
          std::nullopt);
    case MicroKernelKind::F32Panels:
      return llm::MicroKernelAttr::get(context, *kind, std::nullopt,
                                       f32Rows.getValue(), f32Depth.getValue(),
                                       f32Prefetch.getValue(), std::nullopt);
    case MicroKernelKind::Q8_0I8Gemv:
    case MicroKernelKind::Q4_0I8Gemv:
      return llm::MicroKernelAttr::get(context, *kind, std::nullopt,
                                       std::nullopt, std::nullopt,
                                       gemvPrefetch.getValue(), std::nullopt);
    default:
      return llm::MicroKernelAttr::get(context, *kind);
    }
  }

  /// The fused kernel for f32 attention (over an f32, bf16, f16 or q8_0
  /// cache, widened as it is read) whose head vectors are whole vectors
  /// (and, for q8_0, whose vectors fall within a block); null otherwise
  /// (generic loops).
  llm::MicroKernelAttr chooseAttentionKernel(llm::AttentionOp attention,
                                             llm::TargetAttr target) {
    auto query = attention.getQuery().getType();
    if (!query.getElementType().isF32() ||
        query.getDimSize(2) % kAttentionLanes != 0)
      return {};
    if (llm::cacheElementOf(
            attention.getKeyCache().getType().getElementType()) ==
            artifact::CacheElement::Q8_0 &&
        artifact::kQ8CacheBlockValues % kAttentionLanes != 0)
      return {};
    // Many queries share each key: transposing the history once makes
    // `lanes` scores one vector of FMAs. One query (decode) reads the key
    // rows as they are, which costs less than transposing the history on
    // every step.
    bool severalTokens = query.isDynamicDim(0) || query.getDimSize(0) > 1;
    if (!severalTokens)
      return llm::MicroKernelAttr::get(
          &getContext(), MicroKernelKind::FlashKeyRows, std::nullopt,
          std::nullopt, std::nullopt, std::nullopt, kAttentionLanes);
    // Each prefill task holds a score vector per query row in registers
    // while one key vector per head_dim element serves them all: half the
    // target's vector registers go to scores, the rest to that key vector,
    // the broadcast query values and the softmax. Tokens per task: as many
    // as fill that half with whole groups of query heads.
    int64_t group = query.getDimSize(1) /
                    attention.getKeyCache().getType().getDimSize(1);
    int64_t registersPerVector =
        llvm::divideCeil(kAttentionLanes * 32, target.getVectorBits());
    int64_t scoreVectors = target.getVectorRegisters() / 2 / registersPerVector;
    int64_t rows = std::max<int64_t>(1, scoreVectors / group);
    return llm::MicroKernelAttr::get(
        &getContext(), MicroKernelKind::FlashTransposedKeys, std::nullopt,
        rows, std::nullopt, std::nullopt, kAttentionLanes);
  }
};

} // namespace
