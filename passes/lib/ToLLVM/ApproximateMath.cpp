//===- ApproximateMath.cpp - llm-approximate-math -------------------------===//
#include "llamac/Passes/Passes.h"

#include "mlir/Dialect/Math/Transforms/Approximation.h"
#include "mlir/Dialect/Math/Transforms/Passes.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace llamac {
#define GEN_PASS_DEF_LLMAPPROXIMATEMATHPASS
#include "llamac/Passes/Passes.h.inc"
} // namespace llamac

using namespace mlir;

namespace {
struct LLMApproximateMathPass
    : public llamac::impl::LLMApproximateMathPassBase<LLMApproximateMathPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    populateMathPolynomialApproximationPatterns(patterns);
    if (failed(applyPatternsAndFoldGreedily(getOperation(),
                                            std::move(patterns))))
      signalPassFailure();
  }
};
} // namespace
