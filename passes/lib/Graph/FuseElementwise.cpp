//===- FuseElementwise.cpp - llm-fuse-elementwise -------------------------===//
#include "llamac/IR/LLMOps.h"
#include "llamac/Passes/Passes.h"
#include "llamac/Passes/Patterns.h"

#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace llamac {
#define GEN_PASS_DEF_LLMFUSEELEMENTWISEPASS
#include "llamac/Passes/Passes.h.inc"
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

/// add(linear(x), r) or add(r, linear(x)) -> linear(x) add(r): the
/// projection's sums start from r (the residual connections after o_proj
/// and down_proj), when the projection has no other use and r is defined
/// before it.
struct FuseResidualAdd : OpRewritePattern<llm::AddOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(llm::AddOp add,
                                PatternRewriter &rewriter) const override {
    for (auto [product, other] : {std::pair(add.getLhs(), add.getRhs()),
                                  std::pair(add.getRhs(), add.getLhs())}) {
      auto linear = product.getDefiningOp<llm::LinearOp>();
      if (!linear || linear.getAddend() || !linear->hasOneUse() ||
          product == other || other.getType() != linear.getType())
        continue;
      Operation *definition = other.getDefiningOp();
      if (definition && (definition->getBlock() != linear->getBlock() ||
                         !definition->isBeforeInBlock(linear)))
        continue;
      if (!definition &&
          cast<BlockArgument>(other).getOwner() != linear->getBlock())
        continue;
      rewriter.modifyOpInPlace(
          linear, [&] { linear.getAddendMutable().assign(other); });
      rewriter.replaceOp(add, linear.getResult());
      return success();
    }
    return rewriter.notifyMatchFailure(add, "no single-use llm.linear operand");
  }
};

struct LLMFuseElementwisePass
    : public llamac::impl::LLMFuseElementwisePassBase<LLMFuseElementwisePass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    populateLLMFuseElementwisePatterns(patterns);
    if (failed(applyPatternsAndFoldGreedily(getOperation(),
                                            std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace

void llamac::populateLLMFuseElementwisePatterns(RewritePatternSet &patterns) {
  patterns.add<FuseSiLUMul, FuseResidualAdd>(patterns.getContext());
}
