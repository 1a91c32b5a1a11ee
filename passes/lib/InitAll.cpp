//===- InitAll.cpp - Everything llamac's tools register -------------------===//
#include "llamac/InitAll.h"

#include "llamac/IR/LLMDialect.h"
#include "llamac/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/Transforms/Passes.h"

void llamac::registerAllDialects(mlir::DialectRegistry &registry) {
  // The graph dialect and what the frontend emits beside it (func, tensor
  // reshapes, arith constants), plus the targets of the lowering to come.
  registry.insert<llm::LLMDialect, mlir::func::FuncDialect,
                  mlir::tensor::TensorDialect, mlir::arith::ArithDialect,
                  mlir::linalg::LinalgDialect, mlir::math::MathDialect,
                  mlir::memref::MemRefDialect, mlir::scf::SCFDialect>();
}

void llamac::registerAllPasses() {
  // Ours.
  registerLlamacPasses();
  // Generic upstream passes used in our pipelines and handy from the CLI:
  // canonicalize, cse, inline, symbol-dce, ...
  mlir::registerTransformsPasses();
}
