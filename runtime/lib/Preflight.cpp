//===- Preflight.cpp - Checks before an artifact runs ---------------------===//
#include "llamac/Runtime/Preflight.h"

#include "llamac/Runtime/Runtime.h"

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <unistd.h>

namespace llamac::runtime {

namespace {

std::optional<std::string> readSmallFile(const std::string &path) {
  std::ifstream in(path);
  if (!in)
    return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::optional<uint64_t> parseUnsigned(const std::string &text) {
  const char *begin = text.c_str();
  while (*begin == ' ' || *begin == '\t')
    ++begin;
  if (*begin < '0' || *begin > '9')
    return std::nullopt;
  char *end;
  unsigned long long value = std::strtoull(begin, &end, 10);
  return uint64_t(value);
}

/// This process's cgroup v2 directory, from /proc/self/cgroup ("0::/path").
std::optional<std::string> cgroupDirectory() {
  std::optional<std::string> self = readSmallFile("/proc/self/cgroup");
  if (!self)
    return std::nullopt;
  std::istringstream lines(*self);
  std::string line;
  while (std::getline(lines, line))
    if (line.rfind("0::", 0) == 0)
      return "/sys/fs/cgroup" + line.substr(3);
  return std::nullopt;
}

/// "2.47 GB", or "5.5 MB" below a gigabyte so small figures do not read 0.
std::string humanBytes(uint64_t bytes) {
  char text[32];
  if (bytes >= 1000000000)
    std::snprintf(text, sizeof(text), "%.2f GB", double(bytes) / 1e9);
  else
    std::snprintf(text, sizeof(text), "%.1f MB", double(bytes) / 1e6);
  return text;
}

uint64_t saturatingMultiply(uint64_t a, uint64_t b) {
  uint64_t product;
  if (__builtin_mul_overflow(a, b, &product))
    return UINT64_MAX;
  return product;
}

} // namespace

std::optional<uint64_t> parseMemAvailable(const std::string &meminfo) {
  std::istringstream lines(meminfo);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.rfind("MemAvailable:", 0) != 0)
      continue;
    std::optional<uint64_t> kib = parseUnsigned(line.substr(13));
    if (!kib)
      return std::nullopt;
    return saturatingMultiply(*kib, 1024);
  }
  return std::nullopt;
}

std::optional<uint64_t> cgroupRoom(const std::string &memoryMax,
                                   const std::string &memoryCurrent) {
  std::optional<uint64_t> limit = parseUnsigned(memoryMax);
  std::optional<uint64_t> used = parseUnsigned(memoryCurrent);
  if (!limit || !used) // "max": no limit
    return std::nullopt;
  return *limit > *used ? *limit - *used : 0;
}

std::optional<AvailableMemory> availableMemory() {
  if (const char *override = std::getenv("LLAMAC_AVAILABLE_MEMORY"))
    if (std::optional<uint64_t> bytes = parseUnsigned(override))
      return AvailableMemory{*bytes, "LLAMAC_AVAILABLE_MEMORY",
                             /*ceiling=*/true};
  std::optional<AvailableMemory> result;
  if (std::optional<std::string> meminfo = readSmallFile("/proc/meminfo"))
    if (std::optional<uint64_t> bytes = parseMemAvailable(*meminfo))
      result = AvailableMemory{*bytes, "MemAvailable in /proc/meminfo"};
  if (std::optional<std::string> dir = cgroupDirectory()) {
    std::optional<std::string> max = readSmallFile(*dir + "/memory.max");
    std::optional<std::string> current =
        readSmallFile(*dir + "/memory.current");
    if (max && current)
      if (std::optional<uint64_t> room = cgroupRoom(*max, *current))
        if (!result || *room < result->bytes)
          result = AvailableMemory{*room, "the cgroup limit in " + *dir +
                                              "/memory.max"};
  }
  return result;
}

uint64_t kvCacheBytes(const Manifest &manifest, int64_t contextLength) {
  // Keys and values.
  uint64_t bytes = 2 * cacheElementBytes(manifest.cacheElement);
  for (int64_t factor :
       {manifest.numLayers, manifest.numKVHeads, contextLength,
        cacheRowWidth(manifest.cacheElement, manifest.headDim)})
    bytes = saturatingMultiply(bytes, uint64_t(factor > 0 ? factor : 0));
  return bytes;
}

void checkMemoryFits(const Manifest &manifest, int64_t contextLength,
                     uint64_t residentWeights) {
  checkMemoryFits(manifest, contextLength, residentWeights,
                  availableMemory());
}

void checkMemoryFits(const Manifest &manifest, int64_t contextLength,
                     uint64_t residentWeights,
                     const std::optional<AvailableMemory> &available) {
  if (!available)
    return; // nothing to compare with: let the system decide
  uint64_t cache = kvCacheBytes(manifest, contextLength);
  uint64_t needed = manifest.weightsSize + cache;
  if (needed < cache) // wrapped
    needed = UINT64_MAX;
  // What the system can still give, plus what this process already holds.
  uint64_t room = available->bytes;
  if (!available->ceiling)
    room = room + residentWeights < room ? UINT64_MAX : room + residentWeights;
  if (needed <= room)
    return;
  throw Error("not enough memory: the weights (" +
                  humanBytes(manifest.weightsSize) + ") and the KV cache for " +
                  std::to_string(contextLength) + " tokens (" +
                  humanBytes(cache) + ") need " + humanBytes(needed) +
                  ", but " + humanBytes(available->bytes) + " are available (" +
                  available->source + "); lower --ctx",
              ErrorKind::OutOfMemory);
}

} // namespace llamac::runtime
