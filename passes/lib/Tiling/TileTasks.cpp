//===- TileTasks.cpp - llm-tile-tasks -------------------------------------===//
//
// The mechanism of task tiling: each op carrying `llm.task_tiles` (written
// by llm-choose-task-tiles) is tiled into an scf.forall of independent
// tasks.
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
#define GEN_PASS_DEF_LLMTILETASKSPASS
#include "llamac/Passes/Passes.h.inc"
} // namespace llamac

using namespace mlir;
using namespace llamac;

namespace {

struct LLMTileTasksPass
    : public llamac::impl::LLMTileTasksPassBase<LLMTileTasksPass> {
  void runOnOperation() override {
    SmallVector<TilingInterface> ops;
    getOperation().walk([&](TilingInterface op) {
      if (op->hasAttr(kTaskTilesAttrName))
        ops.push_back(op);
    });
    IRRewriter rewriter(&getContext());
    for (TilingInterface op : ops) {
      auto tiles = op->getAttrOfType<DenseI64ArrayAttr>(kTaskTilesAttrName);
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
        tiledOp->removeAttr(kTaskTilesAttrName);
      rewriter.replaceOp(op, tiled->replacements);
    }
  }
};

} // namespace
