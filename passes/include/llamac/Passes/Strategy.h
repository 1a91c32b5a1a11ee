//===- Strategy.h - What the strategy passes decide -------------*- C++ -*-===//
//
// The numerics a compile asks for and how `auto` resolves on a target, and
// the discardable attributes by which `llm-choose-layouts` (strategy) tells
// `llm-materialize-layouts` (mechanism) what to do. The driver resolves the
// numerics with the same function before it reads a checkpoint, so that a
// request the target cannot serve fails first.
//
//===----------------------------------------------------------------------===//
#ifndef LLAMAC_PASSES_STRATEGY_H
#define LLAMAC_PASSES_STRATEGY_H

#include "llamac/Artifact/CacheElement.h"
#include "llamac/IR/LLMDialect.h"

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

namespace llamac {

/// What a compile asks of the products' numerics (`llamac compile --dtype
/// --prefill-inputs --decode-inputs`, the options of `llm-choose-layouts`).
struct NumericsOptions {
  llm::WeightPrecision dtype = llm::WeightPrecision::BF16;
  llm::PrefillInputs prefillInputs = llm::PrefillInputs::Auto;
  llm::DecodeInputs decodeInputs = llm::DecodeInputs::Auto;
  /// `llamac compile --kv-type`: what the KV cache stores.
  llm::KVCachePrecision kvCache = llm::KVCachePrecision::Auto;
};

/// The numerics with `auto` resolved for a target.
struct Numerics {
  llm::WeightPrecision dtype = llm::WeightPrecision::BF16;
  /// Prefill's matrix products round their inputs (and dequantized
  /// weights) to bf16, for AMX tiles.
  bool bf16PrefillInputs = false;
  /// Decode's products by quantized weights quantize their inputs to int8
  /// per block of 32, for VNNI dot products.
  bool i8DecodeInputs = false;
  /// The KV cache's element type (never Auto): the graph's cache tensors
  /// have it, new keys and values are rounded to it and attention widens
  /// it to f32.
  llm::KVCachePrecision kvCache = llm::KVCachePrecision::F32;

  /// The block quantization of the matrices (None for f32 and bf16).
  artifact::QuantScheme quantScheme() const;
  /// What the manifest says the KV cache stores.
  artifact::CacheElement cacheElement() const;
};

/// Resolves `auto`: bf16 prefill inputs for bf16 or quantized weights on a
/// target with AMX-BF16, i8 decode inputs for quantized weights on a target
/// with AVX512-VNNI, a bf16 KV cache on a target with AVX512-BF16, else f16
/// with F16C, else f32. An explicit request the weights or the target rule out
/// is an error that names the option as `llamac compile` spells it.
llvm::Expected<Numerics> resolveNumerics(const NumericsOptions &options,
                                         llm::TargetAttr target);

/// `llm.chosen_layout = #llm.layout<...>` on an llm.param: store it so.
inline constexpr llvm::StringLiteral kChosenLayoutAttrName =
    "llm.chosen_layout";
/// `llm.chosen_input_type = T` on an llm.linear: round (or quantize) its
/// inputs to T once its weight is stored in its chosen layout.
inline constexpr llvm::StringLiteral kChosenInputTypeAttrName =
    "llm.chosen_input_type";

/// `llm.task_tiles = array<i64: ...>` on a linalg op of a kernel function:
/// tile sizes per loop (0: not tiled), written by llm-choose-task-tiles,
/// read by llm-tile-tasks.
inline constexpr llvm::StringLiteral kTaskTilesAttrName = "llm.task_tiles";

} // namespace llamac

#endif // LLAMAC_PASSES_STRATEGY_H
