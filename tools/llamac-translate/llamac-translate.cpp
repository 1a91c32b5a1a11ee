//===- llamac-translate.cpp - llamac's mlir-translate ---------------------===//
//
// mlir-translate with the llm dialect registered, so that an LLVM-dialect
// module from llamac-opt (which keeps llm.* attributes such as the
// module's #llm.target) translates to LLVM IR as `llamac compile` does.
//
//===----------------------------------------------------------------------===//
#include "llamac/Passes/InitAll.h"

#include "mlir/IR/DialectRegistry.h"
#include "llvm/IR/LLVMContext.h"
#include "llvm/IR/Module.h"
#include "mlir/Target/LLVMIR/Export.h"
#include "mlir/Tools/mlir-translate/MlirTranslateMain.h"
#include "mlir/Tools/mlir-translate/Translation.h"

int main(int argc, char **argv) {
  mlir::TranslateFromMLIRRegistration toLLVMIR(
      "mlir-to-llvmir", "Translate the LLVM dialect to LLVM IR",
      [](mlir::Operation *op, llvm::raw_ostream &output) {
        llvm::LLVMContext context;
        std::unique_ptr<llvm::Module> module =
            mlir::translateModuleToLLVMIR(op, context);
        if (!module)
          return mlir::failure();
        module->print(output, nullptr);
        return mlir::success();
      },
      [](mlir::DialectRegistry &registry) {
        llamac::registerAllDialects(registry);
      });
  return mlir::failed(mlir::mlirTranslateMain(
      argc, argv, "llamac translation driver\n"));
}
