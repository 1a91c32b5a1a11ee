//===- ReductionsToLoops.cpp - llm-reductions-to-loops --------------------===//
//
//   for each outer index (i, j, ...):
//     acc = out[map_out(i, j, ...)]
//     for k: acc = body(in_0[map_0(i, j, ..., k)], ..., acc)
//     out[map_out(i, j, ...)] = acc
//
//===----------------------------------------------------------------------===//
#include "llamac/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace llamac {
#define GEN_PASS_DEF_LLMREDUCTIONSTOLOOPSPASS
#include "llamac/Transforms/Passes.h.inc"
} // namespace llamac

using namespace mlir;

namespace {

/// The indices `map` (a projected permutation) selects from `ivs`.
SmallVector<Value> indicesFor(AffineMap map, ValueRange ivs) {
  SmallVector<Value> indices;
  for (unsigned result = 0; result < map.getNumResults(); ++result)
    indices.push_back(ivs[map.getDimPosition(result)]);
  return indices;
}

struct ReductionToLoops : OpInterfaceRewritePattern<linalg::LinalgOp> {
  using OpInterfaceRewritePattern::OpInterfaceRewritePattern;

  LogicalResult matchAndRewrite(linalg::LinalgOp op,
                                PatternRewriter &rewriter) const override {
    if (!op.hasPureBufferSemantics() || op.getNumDpsInits() != 1 ||
        op->getNumRegions() != 1)
      return rewriter.notifyMatchFailure(op, "needs one output buffer");
    unsigned numLoops = op.getNumLoops();
    SmallVector<utils::IteratorType> iterators = op.getIteratorTypesArray();
    if (numLoops == 0 || iterators.back() != utils::IteratorType::reduction)
      return rewriter.notifyMatchFailure(op, "innermost loop not a reduction");
    for (OpOperand &operand : op->getOpOperands()) {
      if (!isa<MemRefType>(operand.get().getType()))
        return rewriter.notifyMatchFailure(op, "scalar operand");
      if (!op.getMatchingIndexingMap(&operand).isProjectedPermutation())
        return rewriter.notifyMatchFailure(op, "non-permutation map");
    }
    OpOperand *output = op.getDpsInitOperand(0);
    AffineMap outputMap = op.getMatchingIndexingMap(output);
    if (outputMap.isFunctionOfDim(numLoops - 1))
      return rewriter.notifyMatchFailure(op, "output indexed by reduction");

    Location loc = op.getLoc();
    SmallVector<Range> ranges = op.createLoopRanges(rewriter, loc);
    auto valuesOf = [&](auto member) {
      SmallVector<Value> values;
      for (const Range &range : ranges)
        values.push_back(
            getValueOrCreateConstantIndexOp(rewriter, loc, member(range)));
      return values;
    };
    SmallVector<Value> lbs = valuesOf([](const Range &r) { return r.offset; });
    SmallVector<Value> ubs = valuesOf([](const Range &r) { return r.size; });
    SmallVector<Value> steps = valuesOf([](const Range &r) { return r.stride; });
    Block *body = op.getBlock();

    scf::buildLoopNest(
        rewriter, loc, ArrayRef<Value>(lbs).drop_back(),
        ArrayRef<Value>(ubs).drop_back(), ArrayRef<Value>(steps).drop_back(),
        [&](OpBuilder &b, Location loc, ValueRange outerIvs) {
          SmallVector<Value> ivs(outerIvs);
          // The output does not depend on the reduction loop: any index
          // stands in for it when applying the output map.
          ivs.push_back(lbs.back());
          SmallVector<Value> outIndices = indicesFor(outputMap, ivs);
          Value init =
              b.create<memref::LoadOp>(loc, output->get(), outIndices);
          auto reduction = b.create<scf::ForOp>(
              loc, lbs.back(), ubs.back(), steps.back(), ValueRange{init},
              [&](OpBuilder &b, Location loc, Value k, ValueRange iterArgs) {
                ivs.back() = k;
                IRMapping mapping;
                for (OpOperand *input : op.getDpsInputOperands()) {
                  Value element = b.create<memref::LoadOp>(
                      loc, input->get(),
                      indicesFor(op.getMatchingIndexingMap(input), ivs));
                  mapping.map(body->getArgument(input->getOperandNumber()),
                              element);
                }
                mapping.map(body->getArgument(output->getOperandNumber()),
                            iterArgs[0]);
                for (Operation &nested : body->without_terminator()) {
                  if (auto index = dyn_cast<linalg::IndexOp>(nested)) {
                    mapping.map(index.getResult(), ivs[index.getDim()]);
                    continue;
                  }
                  b.clone(nested, mapping);
                }
                auto yield = cast<linalg::YieldOp>(body->getTerminator());
                b.create<scf::YieldOp>(
                    loc, mapping.lookupOrDefault(yield.getOperand(0)));
              });
          b.create<memref::StoreOp>(loc, reduction.getResult(0),
                                    output->get(), outIndices);
        });
    rewriter.eraseOp(op);
    return success();
  }
};

struct LLMReductionsToLoopsPass
    : public llamac::impl::LLMReductionsToLoopsPassBase<
          LLMReductionsToLoopsPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<ReductionToLoops>(&getContext());
    if (failed(applyPatternsAndFoldGreedily(getOperation(),
                                            std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace
