//===- ChooseLayouts.cpp - llm-choose-layouts -----------------------------===//
//
// The strategy of weight storage: which matrices get which #llm.layout and
// which products round or quantize their inputs, for the numerics asked
// and the module's target. Decisions only: llm-materialize-layouts applies
// them. The graph is where they belong because the weight table, the
// packer and every kernel reading a weight must agree, and a weight is
// stored once.
//
//===----------------------------------------------------------------------===//
#include "llamac/IR/LLMOps.h"
#include "llamac/Passes/Passes.h"
#include "llamac/Passes/Strategy.h"

namespace llamac {
#define GEN_PASS_DEF_LLMCHOOSELAYOUTSPASS
#include "llamac/Passes/Passes.h.inc"
} // namespace llamac

using namespace mlir;
using namespace llamac;
using artifact::WeightLayout;

namespace {

/// What one compile's numerics make of the matrices.
struct LayoutRule {
  /// The layout of every eligible matrix.
  WeightLayout layout;
  /// The element type a matrix must have (none: any float type).
  Type element;
  /// Whether products with an input_type already may read it.
  bool productsWithInputType = false;
  /// input_type for products of several rows / of one row (none: f32).
  Type severalRowsInput, oneRowInput;
};

/// The rule for `numerics` on `target`; nothing when the matrices keep the
/// checkpoint's layout.
std::optional<LayoutRule> ruleFor(const Numerics &numerics,
                                  llm::TargetAttr target, Builder &b) {
  LayoutRule rule;
  switch (numerics.dtype) {
  case llm::WeightPrecision::BF16:
    // Tiles exist for bf16 products (AMX, or vdpbf16ps without it); a
    // target with neither reads the checkpoint's rows.
    if (!numerics.bf16PrefillInputs)
      return std::nullopt;
    rule.layout = WeightLayout::bf16Tiles();
    rule.element = b.getBF16Type();
    rule.productsWithInputType = true;
    rule.severalRowsInput = b.getBF16Type();
    return rule;
  case llm::WeightPrecision::F32:
    // Panels feed register-blocked FMA kernels that hold 16-lane vectors
    // in AVX-512's 32 registers; other targets keep the generic products.
    if (!target.hasAVX512F())
      return std::nullopt;
    rule.layout = WeightLayout::f32Panels();
    rule.element = b.getF32Type();
    return rule;
  case llm::WeightPrecision::Q8_0:
  case llm::WeightPrecision::Q4_0:
    rule.layout = WeightLayout::quantizedTiles(numerics.quantScheme());
    if (numerics.bf16PrefillInputs)
      rule.severalRowsInput = b.getBF16Type();
    if (numerics.i8DecodeInputs)
      rule.oneRowInput = b.getI8Type();
    return rule;
  }
  return std::nullopt;
}

struct LLMChooseLayoutsPass
    : public llamac::impl::LLMChooseLayoutsPassBase<LLMChooseLayoutsPass> {
  using LLMChooseLayoutsPassBase::LLMChooseLayoutsPassBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    llm::TargetAttr target = llm::TargetAttr::lookup(module);
    if (!target) {
      module.emitError("llm-choose-layouts needs the target the module is "
                       "compiled for (module attribute llm.target)");
      return signalPassFailure();
    }
    llvm::Expected<Numerics> numerics =
        resolveNumerics({dtype, prefillInputs, decodeInputs}, target);
    if (!numerics) {
      module.emitError(toString(numerics.takeError()));
      return signalPassFailure();
    }
    Builder b(&getContext());
    std::optional<LayoutRule> rule = ruleFor(*numerics, target, b);
    if (!rule)
      return;
    auto layout = llm::WeightLayoutAttr::get(&getContext(), rule->layout);
    auto eligible = [&](llm::ParamOp param) {
      auto type = param.getResult().getType();
      Type element = type.getElementType();
      return !param.getLayout() && !param->hasAttr(kChosenLayoutAttrName) &&
             type.getRank() == 2 && isa<FloatType>(element) &&
             (!rule->element || element == rule->element) &&
             rule->layout.fits(type.getDimSize(0), type.getDimSize(1)) &&
             llm::isUsedOnlyAsMatrix(param, !rule->productsWithInputType);
    };
    llm::rewriteParamsByName(module, eligible, [&](llm::ParamOp param) {
      param->setAttr(kChosenLayoutAttrName, layout);
      for (Operation *user : param.getResult().getUsers()) {
        auto linear = dyn_cast<llm::LinearOp>(user);
        if (!linear)
          continue;
        Type input =
            linear.hasSeveralRows() ? rule->severalRowsInput : rule->oneRowInput;
        if (input)
          linear->setAttr(kChosenInputTypeAttrName, TypeAttr::get(input));
      }
    });
  }
};

} // namespace
