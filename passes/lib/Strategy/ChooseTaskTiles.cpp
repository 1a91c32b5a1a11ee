//===- ChooseTaskTiles.cpp - llm-choose-task-tiles ------------------------===//
//
// The strategy of task tiling, kept apart from its mechanism as in IREE:
// this pass writes `llm.task_tiles` (the tile size of each loop), and
// llm-tile-tasks only reads it, so tests can pin tile sizes.
//
//===----------------------------------------------------------------------===//
#include "llamac/Passes/Passes.h"
#include "llamac/Passes/Strategy.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/SCF/Transforms/TileUsingInterface.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Interfaces/TilingInterface.h"

namespace llamac {
#define GEN_PASS_DEF_LLMCHOOSETASKTILESPASS
#include "llamac/Passes/Passes.h.inc"
} // namespace llamac

using namespace mlir;
using namespace llamac;

namespace {

struct LLMChooseTaskTilesPass
    : public llamac::impl::LLMChooseTaskTilesPassBase<LLMChooseTaskTilesPass> {
  using LLMChooseTaskTilesPassBase::LLMChooseTaskTilesPassBase;

  void runOnOperation() override {
    if (maxTasks < 1 || minWork < 0 || dynamicTripCount < 1) {
      getOperation().emitError("llm-choose-task-tiles: max-tasks and "
                               "dynamic-trip-count must be >= 1 and "
                               "min-work >= 0");
      return signalPassFailure();
    }
    getOperation().walk([&](linalg::LinalgOp op) {
      auto function = op->getParentOfType<func::FuncOp>();
      if (!function || !function->hasAttr("llm.kernel") ||
          isa<linalg::FillOp>(op) || !op.hasPureTensorSemantics())
        return;
      SmallVector<int64_t> ranges = op.getStaticLoopRanges();
      SmallVector<utils::IteratorType> iterators = op.getIteratorTypesArray();
      // Estimated work: dynamic loops (tokens in prefill, the attended
      // history in decode) are assumed to run `dynamic-trip-count` times.
      int64_t work = 1;
      for (int64_t range : ranges)
        work *= ShapedType::isDynamic(range) ? dynamicTripCount.getValue()
                                             : range;
      if (work < minWork)
        return;
      // A micro-kernel (llm-lower-micro-kernels) works on whole weight
      // tiles: only the loop over them (the weight's first dimension) may
      // be split.
      std::optional<unsigned> onlyLoop;
      if (op->hasAttr(llm::MicroKernelAttr::getAttrName()) && op.getNumDpsInputs() >= 2)
        if (auto dim = dyn_cast<AffineDimExpr>(
                op.getMatchingIndexingMap(op.getDpsInputOperand(1))
                    .getResult(0)))
          onlyLoop = dim.getPosition();
      int64_t best = -1;
      for (auto [index, range] : llvm::enumerate(ranges))
        if (iterators[index] == utils::IteratorType::parallel &&
            !ShapedType::isDynamic(range) && range >= 2 &&
            (!onlyLoop || *onlyLoop == index) &&
            (best < 0 || range > ranges[best]))
          best = index;
      if (best < 0)
        return;
      int64_t tasks = std::min(maxTasks.getValue(), ranges[best]);
      SmallVector<int64_t> tiles(ranges.size(), 0);
      tiles[best] = llvm::divideCeil(ranges[best], tasks);
      op->setAttr(kTaskTilesAttrName, DenseI64ArrayAttr::get(op->getContext(), tiles));
    });
  }
};

} // namespace
