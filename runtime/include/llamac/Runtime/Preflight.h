//===- Preflight.h - Checks before an artifact runs -------------*- C++ -*-===//
//
// What the runtime checks before running anything, so that a bad artifact or
// a request too large for this machine ends in one clear error instead of
// wrong results or the kernel's OOM killer:
//
// - weights.bin and model.so belong to their manifest: their fingerprints
//   (llamac/Artifact/Fingerprint.h), written by `llamac compile`, are
//   compared at load;
// - the weights and the KV cache for the requested context fit in the memory
//   this process may use (MemAvailable, and the cgroup's limit if lower).
//
//===----------------------------------------------------------------------===//
#ifndef LLAMAC_RUNTIME_PREFLIGHT_H
#define LLAMAC_RUNTIME_PREFLIGHT_H

#include "llamac/Runtime/Runtime.h"

#include <cstdint>
#include <optional>
#include <string>

namespace llamac::runtime {

/// Memory this process may still use, and where the figure comes from.
struct AvailableMemory {
  uint64_t bytes = 0;
  std::string source; // e.g. "MemAvailable in /proc/meminfo"
  /// True when `bytes` is a ceiling on all this process uses
  /// (LLAMAC_AVAILABLE_MEMORY), false when it is what the system can still
  /// give (MemAvailable, cgroup room): memory already held is not in it.
  bool ceiling = false;
};

/// `MemAvailable` of a /proc/meminfo text, in bytes.
std::optional<uint64_t> parseMemAvailable(const std::string &meminfo);
/// Room left under a cgroup v2 limit: `memory.max` ("max" = none) minus
/// `memory.current`.
std::optional<uint64_t> cgroupRoom(const std::string &memoryMax,
                                   const std::string &memoryCurrent);

/// The smaller of MemAvailable and the room under this process's cgroup
/// limit. LLAMAC_AVAILABLE_MEMORY (bytes) overrides both, for tests and for
/// users who want a lower ceiling. Empty when nothing can be read.
std::optional<AvailableMemory> availableMemory();

/// Bytes of the key and value caches for `contextLength` tokens (saturating
/// at UINT64_MAX instead of wrapping).
uint64_t kvCacheBytes(const Manifest &manifest, int64_t contextLength);

/// Throws an Error with the figures (GB, or MB when small) when the weights
/// and the KV cache for `contextLength` tokens would not fit in the
/// available memory. `residentWeights` bytes of the weights are held
/// already (read at load), so what the system can still give need not
/// cover them again.
void checkMemoryFits(const Manifest &manifest, int64_t contextLength,
                     uint64_t residentWeights = 0);
/// The same against a given figure (none: nothing to compare with).
void checkMemoryFits(const Manifest &manifest, int64_t contextLength,
                     uint64_t residentWeights,
                     const std::optional<AvailableMemory> &available);

} // namespace llamac::runtime

#endif // LLAMAC_RUNTIME_PREFLIGHT_H
