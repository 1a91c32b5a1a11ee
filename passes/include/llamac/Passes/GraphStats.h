//===- GraphStats.h - Op and parameter statistics of a graph ----*- C++ -*-===//
#ifndef LLAMAC_PASSES_GRAPHSTATS_H
#define LLAMAC_PASSES_GRAPHSTATS_H

#include "mlir/IR/BuiltinOps.h"
#include "llvm/Support/raw_ostream.h"

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace llamac {

/// What `llm-op-stats` and `llamac graph --stats` report.
struct GraphStats {
  struct Function {
    std::string name;
    int64_t numOps = 0;
    /// Op name -> count, sorted by name.
    std::map<std::string, int64_t> opCounts;
  };
  std::vector<Function> functions;
  /// Distinct `llm.param` names in the module.
  int64_t numParams = 0;
  int64_t paramElements = 0;
  int64_t paramBytes = 0;
  /// Element type spelling -> number of params of that type.
  std::map<std::string, int64_t> paramsByElementType;
};

/// Counts the ops of every function in `module` and its distinct params.
GraphStats collectGraphStats(mlir::ModuleOp module);

/// Writes `stats` as `// `-prefixed lines, so the report can follow IR on
/// the same stream and the stream still parses.
void printGraphStats(const GraphStats &stats, llvm::raw_ostream &os);

} // namespace llamac

#endif // LLAMAC_PASSES_GRAPHSTATS_H
