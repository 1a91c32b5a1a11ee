//===- CompiledKernels.cpp - One kernel compiled alone, called natively ---===//
#include "CompiledKernels.h"

#include "llamac/Codegen/Codegen.h"
#include "llamac/Passes/InitAll.h"
#include "llamac/Passes/Pipelines.h"

#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "llvm/IR/LLVMContext.h"
#include "llvm/IR/Module.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/Target/TargetMachine.h"
#include "gtest/gtest.h"

#include <dlfcn.h>

using namespace llamac::test;

CompiledKernels::CompiledKernels(const std::string &source,
                                 const Preparation &prepare) {
  build(source, prepare);
}

CompiledKernels::~CompiledKernels() {
  if (handle)
    ::dlclose(handle);
  if (!directory.empty())
    llvm::sys::fs::remove_directories(directory);
}

// gtest's ASSERT_* return from a void function, not a constructor.
void CompiledKernels::build(const std::string &source,
                            const Preparation &prepare) {
  llvm::SmallString<128> dir;
  if (llvm::sys::fs::createUniqueDirectory("llamac-microkernel", dir)) {
    ADD_FAILURE() << "cannot create a temporary directory";
    return;
  }
  directory = dir.str().str();
  mlir::DialectRegistry registry;
  llamac::registerAllDialects(registry);
  mlir::MLIRContext context(registry);
  mlir::OwningOpRef<mlir::ModuleOp> module =
      mlir::parseSourceString<mlir::ModuleOp>(source, &context);
  ASSERT_TRUE(module) << source;
  // The micro-kernels ask the target (this CPU) what they may emit.
  auto target = llamac::resolveTargetCPU("host");
  ASSERT_TRUE(bool(target)) << llvm::toString(target.takeError());
  (*module)->setAttr(llamac::llm::TargetAttr::getAttrName(),
                     llamac::getTargetAttr(&context, *target));
  mlir::PassManager pm(&context);
  if (prepare)
    prepare(pm);
  llamac::buildLLMLowerToLLVMPipeline(pm);
  ASSERT_TRUE(mlir::succeeded(pm.run(*module)));
  llvm::LLVMContext llvmContext;
  auto llvmModule =
      llamac::translateToLLVMIR(*module, llvmContext, {"_mlir_ciface_run"});
  ASSERT_TRUE(bool(llvmModule)) << llvm::toString(llvmModule.takeError());
  auto machine = llamac::createTargetMachine(*target);
  ASSERT_TRUE(bool(machine)) << llvm::toString(machine.takeError());
  llamac::optimizeModule(**llvmModule, **machine);
  std::string object = directory + "/kernel.o";
  library = directory + "/kernel.so";
  {
    std::error_code ec;
    llvm::raw_fd_ostream os(object, ec);
    ASSERT_FALSE(ec) << object << ": " << ec.message();
    llvm::Error error =
        llamac::emitCode(**llvmModule, **machine, os, /*assembly=*/false);
    ASSERT_FALSE(bool(error)) << llvm::toString(std::move(error));
  }
  llvm::Error error = llamac::linkSharedLibrary(object, library);
  ASSERT_FALSE(bool(error)) << llvm::toString(std::move(error));
  handle = ::dlopen(library.c_str(), RTLD_NOW | RTLD_LOCAL);
  ASSERT_TRUE(handle) << ::dlerror();
  entry = ::dlsym(handle, "_mlir_ciface_run");
  ASSERT_TRUE(entry);
}
