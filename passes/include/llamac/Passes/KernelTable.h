//===- KernelTable.h - The module's list of instrumented kernels -*- C++
//-*-===//
//
// llm-instrument-kernels numbers the kernels its profile calls report and
// records them, in that order, on the module; the compiler copies the list
// into the manifest so that profiles can name what they time. This header
// is the one place that knows how the list is stored.
//
//===----------------------------------------------------------------------===//
#ifndef LLAMAC_PASSES_KERNELTABLE_H
#define LLAMAC_PASSES_KERNELTABLE_H

#include "llamac/IR/LLMDialect.h"

#include "mlir/IR/BuiltinOps.h"

#include <string>
#include <vector>

namespace llamac {

struct KernelTableEntry {
  /// The kernel's symbol and the shapes it works on,
  /// e.g. "linear_13 1x2048xf32 8192x2048xbf16".
  std::string label;
  /// The micro-kernel its product runs on; null: generic code.
  llm::MicroKernelAttr microKernel;
};

/// Records `entries` on `module`, replacing any earlier table.
void setKernelTable(mlir::ModuleOp module,
                    const std::vector<KernelTableEntry> &entries);

/// The table setKernelTable() recorded; empty if there is none.
std::vector<KernelTableEntry> getKernelTable(mlir::ModuleOp module);

} // namespace llamac

#endif // LLAMAC_PASSES_KERNELTABLE_H
