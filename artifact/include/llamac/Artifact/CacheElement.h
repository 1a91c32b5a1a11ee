//===- CacheElement.h - What the KV cache stores ----------------*- C++ -*-===//
//
// The element type of the keys and values the generated code keeps in the
// KV cache (`llamac compile --kv-type`), recorded in the manifest's
// kv_cache.dtype by the compiler and read by the runtime, which allocates
// the cache by it.
//
//===----------------------------------------------------------------------===//
#ifndef LLAMAC_ARTIFACT_CACHEELEMENT_H
#define LLAMAC_ARTIFACT_CACHEELEMENT_H

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
};

/// "f32", "bf16", "f16": the manifest's names (those of --kv-type).
std::string_view cacheElementName(CacheElement element);
std::optional<CacheElement> parseCacheElement(std::string_view name);
/// Bytes of one element.
uint64_t cacheElementBytes(CacheElement element);

} // namespace llamac::artifact

#endif // LLAMAC_ARTIFACT_CACHEELEMENT_H
