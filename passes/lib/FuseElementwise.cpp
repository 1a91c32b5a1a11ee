//===- FuseElementwise.cpp - llm-fuse-elementwise -------------------------===//
#include "llamac/IR/LLMOps.h"
#include "llamac/Transforms/Passes.h"

#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace llamac {
#define GEN_PASS_DEF_LLMFUSEELEMENTWISEPASS
#include "llamac/Transforms/Passes.h.inc"
} // namespace llamac

using namespace mlir;
using namespace llamac;

namespace {

/// mul(silu(a), b) or mul(b, silu(a)) -> silu_mul(a, b), when the silu has
/// no other use (otherwise its result must be stored anyway).
struct FuseSiLUMul : OpRewritePattern<llm::MulOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(llm::MulOp mul,
                                PatternRewriter &rewriter) const override {
    for (auto [gated, other] : {std::pair(mul.getLhs(), mul.getRhs()),
                                std::pair(mul.getRhs(), mul.getLhs())}) {
      auto silu = gated.getDefiningOp<llm::SiLUOp>();
      if (!silu || !silu->hasOneUse() || gated == other)
        continue;
      rewriter.replaceOpWithNewOp<llm::SiLUMulOp>(mul, mul.getType(),
                                                   silu.getInput(), other);
      rewriter.eraseOp(silu);
      return success();
    }
    return rewriter.notifyMatchFailure(mul, "no single-use llm.silu operand");
  }
};

struct LLMFuseElementwisePass
    : public llamac::impl::LLMFuseElementwisePassBase<LLMFuseElementwisePass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<FuseSiLUMul>(&getContext());
    if (failed(applyPatternsAndFoldGreedily(getOperation(),
                                            std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace
