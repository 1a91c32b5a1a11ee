//===- GraphBuilder.h - Llama config -> llm dialect graph -------*- C++ -*-===//
//
// Emits the computation graph of a Llama 3.x model as `llm` dialect IR: two
// functions sharing the same weights,
//
//   func.func @prefill(%tokens: tensor<?xi32>, %start_pos: index,
//                      %k_cache: tensor<LxKVx?xDxT>, %v_cache: ...)
//       -> (tensor<?xVxf32>, k_cache type, v_cache type)
//   func.func @decode(%tokens: tensor<1xi32>, ...) -> (tensor<1xVxf32>, ...)
//
// `prefill` processes n prompt tokens and returns the logits of every
// position, `decode` one token; both write their keys/values into the caches
// (capacity chosen at run time) at `start_pos` and return the updated caches.
//
//===----------------------------------------------------------------------===//
#ifndef LLAMAC_FRONTEND_GRAPHBUILDER_H
#define LLAMAC_FRONTEND_GRAPHBUILDER_H

#include "llamac/Artifact/CacheElement.h"
#include "llamac/Frontend/LlamaConfig.h"
#include "llamac/Frontend/Safetensors.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"

#include <map>
#include <string>

namespace mlir {
class MLIRContext;
} // namespace mlir

namespace llamac {

struct Checkpoint;

/// What the graph builder needs beyond the configuration.
struct GraphOptions {
  /// Element type of every weight unless `paramTypes` names it.
  DType weightType = DType::BF16;
  /// Per-tensor element types, e.g. as stored in a checkpoint.
  std::map<std::string, DType> paramTypes;
  /// What the KV cache arguments and results store (their element type
  /// and row width, see llm::cacheTensorType): the attention rounds or
  /// quantizes new keys and values to it.
  artifact::CacheElement cacheElement = artifact::CacheElement::F32;
};

/// The weight element type a config's `torch_dtype` implies (bf16 when the
/// field is absent); an error for types llamac does not read.
llvm::Expected<DType> weightTypeFromTorchDtype(llvm::StringRef torchDtype);

/// Options that give every param the element type it has in `checkpoint`.
GraphOptions graphOptionsFor(const Checkpoint &checkpoint);

/// Builds the module with `prefill` and `decode` for `config`. The config
/// must have been validated (parseLlamaConfig does that). The module carries
/// the configuration as its `llm.config` attribute.
mlir::OwningOpRef<mlir::ModuleOp> buildLlamaGraph(mlir::MLIRContext &context,
                                                  const LlamaConfig &config,
                                                  const GraphOptions &options);

} // namespace llamac

#endif // LLAMAC_FRONTEND_GRAPHBUILDER_H
