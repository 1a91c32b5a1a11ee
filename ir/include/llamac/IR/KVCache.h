//===- KVCache.h - The KV cache as the llm dialect types it -----*- C++ -*-===//
//
// The cache operands of llm.attention are [layers, kv_heads, capacity,
// row] tensors: a row per (layer, KV head, position) holding head_dim
// values as artifact::CacheElement lays them out. The element type says
// which: f32, bf16 and f16 rows are head_dim values; i8 rows are q8_0
// blocks as bytes (artifact::cacheRowWidth). This is the one mapping
// between the two, used by the graph builder, the verifiers and the
// lowerings.
//
//===----------------------------------------------------------------------===//
#ifndef LLAMAC_IR_KVCACHE_H
#define LLAMAC_IR_KVCACHE_H

#include "llamac/Artifact/CacheElement.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinTypes.h"

#include <optional>

namespace llamac::llm {

/// What a cache of element type `storage` stores; nothing for a type no
/// cache has.
std::optional<artifact::CacheElement> cacheElementOf(mlir::Type storage);
/// The element type of a cache that stores `element`.
mlir::Type cacheStorageType(mlir::MLIRContext *context,
                            artifact::CacheElement element);
/// [layers, kvHeads, ?, row width] of `element` for rows of `headDim`.
mlir::RankedTensorType cacheTensorType(mlir::MLIRContext *context,
                                       artifact::CacheElement element,
                                       int64_t layers, int64_t kvHeads,
                                       int64_t headDim);

/// The f16 scale of a q8_0 block from its first two bytes (i8 values: the
/// scale's bits, little-endian), as scalar arith ops at `b`'s insertion
/// point: how the lowerings that read a block element by element (inside
/// linalg bodies) rebuild it.
mlir::Value buildQ8BlockScale(mlir::OpBuilder &b, mlir::Location loc,
                              mlir::Value lowByte, mlir::Value highByte);

} // namespace llamac::llm

#endif // LLAMAC_IR_KVCACHE_H
