//===- GraphStats.cpp - Op and parameter statistics of a graph ------------===//
#include "llamac/Passes/GraphStats.h"

#include "llamac/IR/LLMOps.h"

#include "mlir/IR/BuiltinTypes.h"
#include "mlir/Interfaces/FunctionInterfaces.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/Support/Format.h"

using namespace mlir;

namespace llamac {

GraphStats collectGraphStats(ModuleOp module) {
  GraphStats stats;
  // A weight is identified by its name: prefill and decode read the same
  // tensors, and a tied embedding is one tensor however often it is used.
  llvm::StringMap<RankedTensorType> params;
  for (auto function : module.getOps<FunctionOpInterface>()) {
    GraphStats::Function &entry = stats.functions.emplace_back();
    entry.name = function.getName().str();
    function.walk([&](Operation *op) {
      if (op == function.getOperation())
        return;
      ++entry.numOps;
      ++entry.opCounts[op->getName().getStringRef().str()];
      if (auto param = dyn_cast<llm::ParamOp>(op))
        params.try_emplace(param.getName(), param.getResult().getType());
    });
  }
  for (const auto &[name, type] : params) {
    ++stats.numParams;
    stats.paramElements += type.getNumElements();
    stats.paramBytes +=
        type.getNumElements() * type.getElementTypeBitWidth() / 8;
    std::string spelling;
    llvm::raw_string_ostream(spelling) << type.getElementType();
    ++stats.paramsByElementType[spelling];
  }
  return stats;
}

void printGraphStats(const GraphStats &stats, llvm::raw_ostream &os) {
  for (const GraphStats::Function &function : stats.functions) {
    os << "// function @" << function.name << ": " << function.numOps
       << " ops\n";
    for (const auto &[name, count] : function.opCounts)
      os << "//   " << llvm::left_justify(name, 24) << " " << count << "\n";
  }
  os << "// parameters: " << stats.numParams << " tensors, "
     << stats.paramElements << " elements, " << stats.paramBytes << " bytes ("
     << llvm::format("%.2f", double(stats.paramBytes) / 1e9) << " GB)";
  const char *separator = "; by type: ";
  for (const auto &[type, count] : stats.paramsByElementType) {
    os << separator << type << " " << count;
    separator = ", ";
  }
  os << "\n";
}

} // namespace llamac
