//===- Codegen.h - LLVM dialect -> native shared library --------*- C++ -*-===//
//
// The last step of compilation: the LLVM dialect module is translated to
// LLVM IR, optimized at O3 for the target CPU, emitted as an object file and
// linked into a shared library with lld.
//
//===----------------------------------------------------------------------===//
#ifndef LLAMAC_CODEGEN_CODEGEN_H
#define LLAMAC_CODEGEN_CODEGEN_H

#include "llamac/IR/LLMDialect.h"

#include "mlir/IR/BuiltinOps.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <memory>
#include <string>
#include <vector>

namespace llvm {
class LLVMContext;
class Module;
class TargetMachine;
class raw_pwrite_stream;
} // namespace llvm

namespace llamac {

/// The CPU code is generated for.
struct TargetCPU {
  std::string triple;
  std::string cpu;
  /// LLVM feature names enabled for `cpu` ("avx512f", "avx512bf16", ...).
  std::vector<std::string> features;

  /// "+a,+b,..." as LLVM's TargetMachine takes it.
  std::string featureString() const;
  /// True when `feature` (an LLVM name such as "amx-bf16") is enabled.
  bool hasFeature(llvm::StringRef feature) const;
};

/// The host CPU with the features it actually has (`name` empty or "host"),
/// or the named CPU with the features LLVM knows it to have.
llvm::Expected<TargetCPU> resolveTargetCPU(llvm::StringRef name);

/// The #llm.target attribute that records `target` in a module.
llm::TargetAttr getTargetAttr(mlir::MLIRContext *context,
                              const TargetCPU &target);
/// The target a module's #llm.target describes.
TargetCPU getTargetCPU(llm::TargetAttr target);

/// A TargetMachine for `target`, position-independent, at O3.
llvm::Expected<std::unique_ptr<llvm::TargetMachine>>
createTargetMachine(const TargetCPU &target);

/// Translates an LLVM-dialect module to LLVM IR. Only the functions named in
/// `exported` keep external linkage; the kernels become internal so that the
/// optimizer may inline and specialize them.
llvm::Expected<std::unique_ptr<llvm::Module>>
translateToLLVMIR(mlir::ModuleOp module, llvm::LLVMContext &context,
                  llvm::ArrayRef<std::string> exported);

/// Runs the O3 pipeline on `module` for `machine`.
void optimizeModule(llvm::Module &module, llvm::TargetMachine &machine);

/// Writes `module` as an object file (or assembly) to `os`.
llvm::Error emitCode(llvm::Module &module, llvm::TargetMachine &machine,
                     llvm::raw_pwrite_stream &os, bool assembly);

/// Links `objectPath` into the shared library `libraryPath` with ld.lld.
llvm::Error linkSharedLibrary(llvm::StringRef objectPath,
                              llvm::StringRef libraryPath);

} // namespace llamac

#endif // LLAMAC_CODEGEN_CODEGEN_H
