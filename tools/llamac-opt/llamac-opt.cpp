//===- llamac-opt.cpp - llamac's mlir-opt ---------------------------------===//
//
// The MlirOptMain driver with the `llm` dialect, the upstream dialects we
// use and every llamac pass, so each pass and pipeline can be run, timed and
// inspected on its own (--pass-pipeline, --mlir-print-ir-after-all, ...).
//
//===----------------------------------------------------------------------===//
#include "llamac/Passes/InitAll.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"

int main(int argc, char **argv) {
  mlir::DialectRegistry registry;
  llamac::registerAllDialects(registry);
  llamac::registerAllPasses();
  return mlir::asMainReturnCode(mlir::MlirOptMain(
      argc, argv, "llamac optimizer driver: llm dialect passes\n", registry));
}
