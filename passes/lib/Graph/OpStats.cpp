//===- OpStatsPass.cpp - llm-op-stats -------------------------------------===//
#include "llamac/Passes/GraphStats.h"
#include "llamac/Passes/Passes.h"

#include "mlir/Support/FileUtilities.h"
#include "llvm/Support/ToolOutputFile.h"

namespace llamac {
#define GEN_PASS_DEF_LLMOPSTATSPASS
#include "llamac/Passes/Passes.h.inc"
} // namespace llamac

using namespace mlir;

namespace {
struct LLMOpStatsPass
    : public llamac::impl::LLMOpStatsPassBase<LLMOpStatsPass> {
  using LLMOpStatsPassBase::LLMOpStatsPassBase;

  void runOnOperation() override {
    llamac::GraphStats stats = llamac::collectGraphStats(getOperation());
    if (outputFile == "-") {
      llamac::printGraphStats(stats, llvm::errs());
    } else {
      std::string error;
      auto file = openOutputFile(outputFile, &error);
      if (!file) {
        getOperation().emitError("llm-op-stats: ") << error;
        return signalPassFailure();
      }
      llamac::printGraphStats(stats, file->os());
      file->keep();
    }
    markAllAnalysesPreserved();
  }
};
} // namespace
