//===- Fingerprint.h - Telling an artifact's files apart --------*- C++ -*-===//
//
// `llamac compile` writes a fingerprint of weights.bin and of model.so into
// the manifest; the runtime compares them before it maps the weights or
// dlopens the library. A truncated model.so would otherwise crash dlopen
// (SIGBUS), and another compile's library or weights would compute garbage
// or write out of bounds. Cheap whatever the file's size: its size and 64
// sampled blocks of 4 KiB.
//
//===----------------------------------------------------------------------===//
#ifndef LLAMAC_ARTIFACT_FINGERPRINT_H
#define LLAMAC_ARTIFACT_FINGERPRINT_H

#include <cstdint>
#include <string>

namespace llamac::artifact {

/// A 64-bit fingerprint of an artifact file as 16 hex digits: its size and
/// 64 evenly spaced 4 KiB blocks (all of it when smaller). Detects a
/// truncated file or one from another compile, not every flipped bit.
std::string fileFingerprint(const void *data, uint64_t size);

/// fileFingerprint() of the file at `path`; throws an Error naming the file
/// when it cannot be read.
std::string fingerprintOfFile(const std::string &path);

} // namespace llamac::artifact

#endif // LLAMAC_ARTIFACT_FINGERPRINT_H
