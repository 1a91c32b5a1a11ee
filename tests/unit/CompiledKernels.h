//===- CompiledKernels.h - One kernel compiled alone, called natively -----===//
//
// What the micro-kernel tests share: an MLIR function `@run` (with
// `llvm.emit_c_interface`) taken through the passes a test names and then
// llm-lower-to-llvm, LLVM O3 for this CPU and a shared library, and the
// memref descriptors its C interface takes.
//
//===----------------------------------------------------------------------===//
#ifndef LLAMAC_TESTS_UNIT_COMPILEDKERNELS_H
#define LLAMAC_TESTS_UNIT_COMPILEDKERNELS_H

#include "mlir/Pass/PassManager.h"

#include <cstdint>
#include <functional>
#include <string>

namespace llamac::test {

/// A ranked memref as `_mlir_ciface_*` functions take it.
template <int Rank> struct Descriptor {
  void *allocated, *aligned;
  int64_t offset;
  int64_t sizes[Rank];
  int64_t strides[Rank];
};

/// A compiled kernel library, removed with its directory. A failure to
/// build is a gtest failure and leaves `entry` null.
class CompiledKernels {
public:
  /// Passes that run on the parsed module before llm-lower-to-llvm.
  using Preparation = std::function<void(mlir::OpPassManager &)>;

  explicit CompiledKernels(const std::string &source,
                           const Preparation &prepare = {});
  ~CompiledKernels();
  CompiledKernels(const CompiledKernels &) = delete;
  CompiledKernels &operator=(const CompiledKernels &) = delete;

  /// `_mlir_ciface_run`.
  void *entry = nullptr;

private:
  void build(const std::string &source, const Preparation &prepare);

  std::string directory, library;
  void *handle = nullptr;
};

} // namespace llamac::test

#endif // LLAMAC_TESTS_UNIT_COMPILEDKERNELS_H
