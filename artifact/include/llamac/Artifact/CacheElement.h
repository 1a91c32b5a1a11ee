//===- CacheElement.h - What the KV cache stores ----------------*- C++ -*-===//
//
// The element type of the keys and values the generated code keeps in the
// KV cache (`llamac compile --kv-type`), recorded in the manifest's
// kv_cache.dtype by the compiler and read by the runtime, which allocates
// the cache by it. Both sides take a row's layout from here: one row per
// (layer, KV head, position), cacheRowWidth elements wide.
//
//===----------------------------------------------------------------------===//
#ifndef LLAMAC_ARTIFACT_CACHEELEMENT_H
#define LLAMAC_ARTIFACT_CACHEELEMENT_H

#include "llamac/Artifact/WeightLayout.h"

#include <cstdint>
#include <optional>
#include <string_view>

namespace llamac::artifact {

enum class CacheElement : uint8_t {
  F32,
  /// Rounded to nearest, ties to even; widened exactly when read.
  BF16,
  /// The same with IEEE half precision (subnormals kept).
  F16,
  /// llama.cpp's q8_0 cache: each block of kQ8CacheBlockValues values of a
  /// row is kQ8CacheBlockBytes bytes, the f16 scale d = max|x| / 127
  /// (little-endian) then the codes roundeven(x * 127 / max|x|) as int8
  /// (0 for a block of zeros); a value reads back as code * d. A row is
  /// stored as bytes, its blocks one after the other.
  Q8_0,
};

/// The values of one q8_0 block, and its bytes: scale then codes.
inline constexpr int64_t kQ8CacheBlockValues = 32;
inline constexpr int64_t kQ8CacheScaleBytes = 2;
inline constexpr int64_t kQ8CacheBlockBytes =
    kQ8CacheScaleBytes + kQ8CacheBlockValues;

/// "f32", "bf16", "f16", "q8_0": the manifest's names (those of --kv-type).
std::string_view cacheElementName(CacheElement element);
std::optional<CacheElement> parseCacheElement(std::string_view name);
/// The element type a row is stored as (i8 for q8_0's bytes).
ElementType cacheStoredElement(CacheElement element);
/// Bytes of one element of a row (1 for q8_0's bytes).
uint64_t cacheElementBytes(CacheElement element);
/// Whether rows of `headDim` values can be stored as `element` (q8_0 needs
/// whole blocks).
bool cacheHoldsHeadDim(CacheElement element, int64_t headDim);
/// Elements of one stored row of `headDim` values (which
/// cacheHoldsHeadDim accepts): headDim, or q8_0's bytes.
int64_t cacheRowWidth(CacheElement element, int64_t headDim);

} // namespace llamac::artifact

#endif // LLAMAC_ARTIFACT_CACHEELEMENT_H
