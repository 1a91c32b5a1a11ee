//===- Fingerprint.cpp - Telling an artifact's files apart ----------------===//
#include "llamac/Artifact/Fingerprint.h"

#include "llamac/Artifact/Error.h"

#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace llamac::artifact {

namespace {

constexpr uint64_t kBlockSize = 4096;
constexpr uint64_t kBlocks = 64;

/// FNV-1a, 64-bit.
uint64_t fnv1a(uint64_t hash, const uint8_t *bytes, uint64_t size) {
  for (uint64_t i = 0; i < size; ++i)
    hash = (hash ^ bytes[i]) * 0x100000001b3ULL;
  return hash;
}

} // namespace

std::string fileFingerprint(const void *data, uint64_t size) {
  const auto *bytes = static_cast<const uint8_t *>(data);
  uint64_t hash = 0xcbf29ce484222325ULL;
  uint8_t sizeBytes[8];
  for (int i = 0; i < 8; ++i)
    sizeBytes[i] = uint8_t(size >> (8 * i));
  hash = fnv1a(hash, sizeBytes, 8);
  if (size <= kBlocks * kBlockSize) {
    hash = fnv1a(hash, bytes, size);
  } else {
    // First and last block included; the others evenly spaced between.
    uint64_t last = size - kBlockSize;
    for (uint64_t i = 0; i + 1 < kBlocks; ++i)
      hash = fnv1a(hash, bytes + last / (kBlocks - 1) * i, kBlockSize);
    hash = fnv1a(hash, bytes + last, kBlockSize);
  }
  char text[17];
  std::snprintf(text, sizeof(text), "%016" PRIx64, hash);
  return text;
}

std::string fingerprintOfFile(const std::string &path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    throw Error(path + ": " + std::strerror(errno));
  struct stat status;
  if (::fstat(fd, &status) != 0) {
    int error = errno;
    ::close(fd);
    throw Error(path + ": " + std::strerror(error));
  }
  uint64_t size = uint64_t(status.st_size);
  void *mapped =
      size ? ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0) : nullptr;
  ::close(fd);
  if (mapped == MAP_FAILED)
    throw Error(path + ": cannot map: " + std::strerror(errno));
  std::string fingerprint = fileFingerprint(mapped, size);
  if (mapped)
    ::munmap(mapped, size);
  return fingerprint;
}

} // namespace llamac::artifact
