//===- TaskTiling.cpp - llm-choose-task-tiles, llm-tile-tasks -------------===//
//
// Strategy and mechanism of splitting kernel ops into parallel tasks, kept
// apart as in IREE: the strategy writes `llm.task_tiles`, the mechanism only
// reads it.
//
//===----------------------------------------------------------------------===//
#include "llamac/Transforms/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/SCF/Transforms/TileUsingInterface.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Interfaces/TilingInterface.h"

namespace llamac {
#define GEN_PASS_DEF_LLMCHOOSETASKTILESPASS
#define GEN_PASS_DEF_LLMTILETASKSPASS
#include "llamac/Transforms/Passes.h.inc"
} // namespace llamac

using namespace mlir;

namespace {

constexpr llvm::StringLiteral kTaskTiles = "llm.task_tiles";

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
      if (op->hasAttr("llm.micro_kernel") && op.getNumDpsInputs() >= 2)
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
      op->setAttr(kTaskTiles, DenseI64ArrayAttr::get(op->getContext(), tiles));
    });
  }
};

struct LLMTileTasksPass
    : public llamac::impl::LLMTileTasksPassBase<LLMTileTasksPass> {
  void runOnOperation() override {
    SmallVector<TilingInterface> ops;
    getOperation().walk([&](TilingInterface op) {
      if (op->hasAttr(kTaskTiles))
        ops.push_back(op);
    });
    IRRewriter rewriter(&getContext());
    for (TilingInterface op : ops) {
      auto tiles = op->getAttrOfType<DenseI64ArrayAttr>(kTaskTiles);
      if (tiles.size() != op.getLoopIteratorTypes().size()) {
        op->emitOpError("llm.task_tiles has ")
            << tiles.size() << " entries but the op has "
            << op.getLoopIteratorTypes().size() << " loops";
        return signalPassFailure();
      }
      scf::SCFTilingOptions options;
      options.setTileSizes(getAsIndexOpFoldResult(&getContext(),
                                                  tiles.asArrayRef()));
      options.setLoopType(scf::SCFTilingOptions::LoopType::ForallOp);
      rewriter.setInsertionPoint(op);
      FailureOr<scf::SCFTilingResult> tiled =
          scf::tileUsingSCF(rewriter, op, options);
      if (failed(tiled)) {
        op->emitOpError("could not be tiled into tasks");
        return signalPassFailure();
      }
      for (Operation *tiledOp : tiled->tiledOps)
        tiledOp->removeAttr(kTaskTiles);
      rewriter.replaceOp(op, tiled->replacements);
    }
  }
};

} // namespace
