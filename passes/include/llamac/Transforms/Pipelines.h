//===- Pipelines.h - llamac's named pass pipelines --------------*- C++ -*-===//
//
// The compilation of an `llm` module, in three stages that can each be run
// and inspected on their own (`llamac-opt --pass-pipeline=...`, `llamac
// compile --emit=...`):
//
//   llm-to-linalg-pipeline   llm graph -> kernels in linalg on tensors
//   llm-bufferize-pipeline   tensors -> memrefs, in place where possible
//   llm-lower-to-llvm        loops, math approximations -> LLVM dialect
//
// `llm-compile-pipeline` runs all three.
//
//===----------------------------------------------------------------------===//
#ifndef LLAMAC_TRANSFORMS_PIPELINES_H
#define LLAMAC_TRANSFORMS_PIPELINES_H

namespace mlir {
class OpPassManager;
} // namespace mlir

namespace llamac {

void buildLLMToLinalgPipeline(mlir::OpPassManager &pm);
void buildLLMBufferizePipeline(mlir::OpPassManager &pm);
void buildLLMLowerToLLVMPipeline(mlir::OpPassManager &pm);
void buildLLMCompilePipeline(mlir::OpPassManager &pm);

/// Registers the pipelines above by name.
void registerLLMPipelines();

} // namespace llamac

#endif // LLAMAC_TRANSFORMS_PIPELINES_H
