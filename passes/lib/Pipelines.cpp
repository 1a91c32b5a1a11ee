//===- Pipelines.cpp - llamac's named pass pipelines ----------------------===//
#include "llamac/Passes/Pipelines.h"

#include "llamac/Passes/Passes.h"
#include "llamac/Passes/Strategy.h"

#include "mlir/Conversion/AffineToStandard/AffineToStandard.h"
#include "mlir/Conversion/ArithToLLVM/ArithToLLVM.h"
#include "mlir/Conversion/ControlFlowToLLVM/ControlFlowToLLVM.h"
#include "mlir/Conversion/FuncToLLVM/ConvertFuncToLLVMPass.h"
#include "mlir/Conversion/MathToLLVM/MathToLLVM.h"
#include "mlir/Conversion/MemRefToLLVM/MemRefToLLVM.h"
#include "mlir/Conversion/ReconcileUnrealizedCasts/ReconcileUnrealizedCasts.h"
#include "mlir/Conversion/SCFToControlFlow/SCFToControlFlow.h"
#include "mlir/Conversion/VectorToLLVM/ConvertVectorToLLVMPass.h"
#include "mlir/Dialect/Bufferization/Transforms/OneShotAnalysis.h"
#include "mlir/Dialect/Bufferization/Transforms/Passes.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/Passes.h"
#include "mlir/Dialect/MemRef/Transforms/Passes.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"

using namespace mlir;
using namespace llamac;

namespace {

/// The numerics options of the pipelines that take them, typed as the pass
/// options of llm-choose-layouts are.
struct NumericsPipelineOptions
    : public PassPipelineOptions<NumericsPipelineOptions> {
  Option<llm::WeightPrecision> dtype{
      *this, "dtype", llvm::cl::desc("Precision of the matrices"),
      llvm::cl::init(llm::WeightPrecision::BF16),
      llvm::cl::values(
          clEnumValN(llm::WeightPrecision::F32, "f32", "f32"),
          clEnumValN(llm::WeightPrecision::BF16, "bf16", "bf16"),
          clEnumValN(llm::WeightPrecision::Q8_0, "q8_0", "Q8_0 blocks"),
          clEnumValN(llm::WeightPrecision::Q4_0, "q4_0", "Q4_0 blocks"))};
  Option<llm::PrefillInputs> prefillInputs{
      *this, "prefill-inputs",
      llvm::cl::desc("Activations entering prefill's products"),
      llvm::cl::init(llm::PrefillInputs::Auto),
      llvm::cl::values(clEnumValN(llm::PrefillInputs::Auto, "auto", "auto"),
                       clEnumValN(llm::PrefillInputs::BF16, "bf16", "bf16"),
                       clEnumValN(llm::PrefillInputs::F32, "f32", "f32"))};
  Option<llm::DecodeInputs> decodeInputs{
      *this, "decode-inputs",
      llvm::cl::desc("Activations entering decode's products by quantized "
                     "weights"),
      llvm::cl::init(llm::DecodeInputs::Auto),
      llvm::cl::values(clEnumValN(llm::DecodeInputs::Auto, "auto", "auto"),
                       clEnumValN(llm::DecodeInputs::I8, "i8", "i8"),
                       clEnumValN(llm::DecodeInputs::F32, "f32", "f32"))};

  NumericsOptions numerics() const {
    return {dtype, prefillInputs, decodeInputs};
  }
};

} // namespace

void llamac::buildLLMStrategyPipeline(OpPassManager &pm,
                                      const NumericsOptions &numerics) {
  // Stacked Q/K/V and gate/up weights: decided first, so that the layouts
  // apply to the stacks.
  pm.addPass(createLLMFuseProjectionsPass());
  // How each weight is stored (strategy), then stored so (mechanism).
  LLMChooseLayoutsPassOptions layouts;
  layouts.dtype = numerics.dtype;
  layouts.prefillInputs = numerics.prefillInputs;
  layouts.decodeInputs = numerics.decodeInputs;
  pm.addPass(createLLMChooseLayoutsPass(layouts));
  pm.addPass(createLLMMaterializeLayoutsPass());
  // The micro-kernel each product and attention runs on.
  pm.addPass(createLLMChooseMicroKernelsPass());
}

void llamac::buildLLMToLinalgPipeline(OpPassManager &pm) {
  // Graph-level fusion first: fewer, larger kernels.
  pm.addPass(createLLMFuseElementwisePass());
  // One kernel per distinct op, so code size does not grow with layers.
  pm.addPass(createLLMOutlineKernelsPass());
  // Weights become views of the runtime's buffer; logits a caller output.
  pm.addPass(createLLMLowerEntryABIPass());
  pm.addPass(createLLMToLinalgPass());
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
  // Split each kernel op's largest parallel loop into tasks (strategy, then
  // mechanism).
  pm.addPass(createLLMChooseTaskTilesPass());
  pm.addPass(createLLMTileTasksPass());
  pm.addPass(createCanonicalizerPass());
}

void llamac::buildLLMBufferizePipeline(OpPassManager &pm) {
  // Lets producers write straight into destinations (no extra copies).
  pm.addPass(bufferization::createEmptyTensorEliminationPass());
  bufferization::OneShotBufferizationOptions options;
  // Kernels are functions: bufferize across calls so that a kernel updates
  // the caller's KV cache in place. Fully dynamic layouts at function
  // boundaries accept a layer's slot of the cache without a copy.
  options.bufferizeFunctionBoundaries = true;
  // Copies as linalg.copy, which becomes loops: memref.copy of strided
  // buffers would call a support library the artifact does not link.
  options.memCpyFn = [](OpBuilder &b, Location loc, Value from, Value to) {
    b.create<linalg::CopyOp>(loc, from, to);
    return success();
  };
  pm.addPass(bufferization::createOneShotBufferizePass(options));
  // Results that alias arguments (caches, logits) need not be returned.
  pm.addPass(bufferization::createDropEquivalentBufferResultsPass());
  // Fused attention as vector code in tasks (before they are outlined, and
  // before deallocation frees its transposed keys).
  pm.addPass(createLLMLowerFlashAttentionPass());
  // Task loops become runtime parallel_for calls; before deallocation, which
  // does not know scf.forall.
  pm.addPass(createLLMOutlineTasksPass());
  // Kernel calls report to the runtime's optional profile hook.
  pm.addPass(createLLMInstrumentKernelsPass());
  // MLIR's buffer-deallocation-pipeline, with llm-free-after-last-use
  // before the deallocations are lowered: ownership-based deallocation frees
  // at the end of each block, which would keep every intermediate of a
  // prefill alive until the entry point returns.
  pm.addPass(memref::createExpandReallocPass(/*emitDeallocs=*/false));
  pm.addPass(createCanonicalizerPass());
  pm.addPass(bufferization::createOwnershipBasedBufferDeallocationPass());
  pm.addPass(createCanonicalizerPass());
  pm.addPass(bufferization::createBufferDeallocationSimplificationPass());
  pm.addPass(createLLMFreeAfterLastUsePass());
  pm.addPass(bufferization::createLowerDeallocationsPass());
  pm.addPass(createCSEPass());
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCanonicalizerPass());
}

void llamac::buildLLMLowerToLLVMPipeline(OpPassManager &pm) {
  // Products by tiled weights: AMX tiles and vector code.
  pm.addPass(createLLMLowerMicroKernelsPass());
  // Reductions accumulate in registers (so LLVM vectorizes them); the other
  // linalg ops become plain loops.
  pm.addPass(createLLMReductionsToLoopsPass());
  pm.addPass(createConvertLinalgToLoopsPass());
  // exp/sin/cos as polynomials: no libm calls in the loops.
  pm.addPass(createLLMApproximateMathPass());
  // Subviews to plain offset arithmetic (emits affine.apply), then affine
  // to arith.
  pm.addPass(memref::createExpandStridedMetadataPass());
  pm.addPass(createLowerAffinePass());
  pm.addPass(createConvertSCFToCFPass());
  ConvertVectorToLLVMPassOptions vectorOptions;
  vectorOptions.amx = true; // amx.tile_* ops (llm-lower-micro-kernels)
  pm.addPass(createConvertVectorToLLVMPass(vectorOptions));
  pm.addPass(createConvertMathToLLVMPass());
  pm.addPass(createArithToLLVMConversionPass());
  pm.addPass(createFinalizeMemRefToLLVMConversionPass());
  pm.addPass(createConvertFuncToLLVMPass());
  pm.addPass(createConvertControlFlowToLLVMPass());
  pm.addPass(createReconcileUnrealizedCastsPass());
  pm.addPass(createCanonicalizerPass());
}

void llamac::buildLLMCompilePipeline(OpPassManager &pm,
                                     const NumericsOptions &numerics) {
  buildLLMStrategyPipeline(pm, numerics);
  buildLLMToLinalgPipeline(pm);
  buildLLMBufferizePipeline(pm);
  buildLLMLowerToLLVMPipeline(pm);
}

void llamac::registerLLMPipelines() {
  PassPipelineRegistration<NumericsPipelineOptions>(
      "llm-strategy-pipeline",
      "llm graph -> fused projections, weight layouts and micro-kernels "
      "chosen for the module's llm.target",
      [](OpPassManager &pm, const NumericsPipelineOptions &options) {
        buildLLMStrategyPipeline(pm, options.numerics());
      });
  PassPipelineRegistration<>(
      "llm-to-linalg-pipeline",
      "llm graph -> one kernel function per distinct op, in linalg on tensors",
      buildLLMToLinalgPipeline);
  PassPipelineRegistration<>(
      "llm-bufferize-pipeline",
      "Tensors -> memrefs across function boundaries, in place, deallocated",
      buildLLMBufferizePipeline);
  PassPipelineRegistration<>(
      "llm-lower-to-llvm-pipeline",
      "Bufferized kernels -> micro-kernels, loops -> LLVM dialect",
      buildLLMLowerToLLVMPipeline);
  PassPipelineRegistration<NumericsPipelineOptions>(
      "llm-compile-pipeline",
      "llm graph -> LLVM dialect (all stages, what `llamac compile` runs)",
      [](OpPassManager &pm, const NumericsPipelineOptions &options) {
        buildLLMCompilePipeline(pm, options.numerics());
      });
}
