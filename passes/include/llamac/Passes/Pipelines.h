//===- Pipelines.h - llamac's named pass pipelines --------------*- C++ -*-===//
//
// The compile pipeline in four stages, each a builder function also
// registered by name, so that `llamac-opt --pass-pipeline=...` reproduces
// any stage of `llamac compile` and the whole of it:
//
//   llm-strategy-pipeline{dtype=... prefill-inputs=... decode-inputs=...}
//       llm graph -> fused projections, weight layouts and micro-kernels
//   llm-to-linalg-pipeline      -> one kernel function per distinct op,
//                                  linalg on tensors, split into tasks
//   llm-bufferize-pipeline      -> buffers, fused attention, parallel_for
//   llm-lower-to-llvm-pipeline  -> micro-kernels, loops, LLVM dialect
//   llm-compile-pipeline{...}   all four (what `llamac compile` runs)
//
//===----------------------------------------------------------------------===//
#ifndef LLAMAC_PASSES_PIPELINES_H
#define LLAMAC_PASSES_PIPELINES_H

#include "llamac/Passes/Strategy.h"

namespace mlir {
class OpPassManager;
} // namespace mlir

namespace llamac {

void buildLLMStrategyPipeline(mlir::OpPassManager &pm,
                              const NumericsOptions &numerics);
void buildLLMToLinalgPipeline(mlir::OpPassManager &pm);
void buildLLMBufferizePipeline(mlir::OpPassManager &pm);
void buildLLMLowerToLLVMPipeline(mlir::OpPassManager &pm);
void buildLLMCompilePipeline(mlir::OpPassManager &pm,
                             const NumericsOptions &numerics);

void registerLLMPipelines();

} // namespace llamac

#endif // LLAMAC_PASSES_PIPELINES_H
