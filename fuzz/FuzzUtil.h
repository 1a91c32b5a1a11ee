//===- FuzzUtil.h - Helpers shared by the fuzz targets ----------*- C++ -*-===//
//
// A fuzz target reports a broken property by trapping: libFuzzer then saves
// the input as a crash, the same as for a sanitizer report.
//
//===----------------------------------------------------------------------===//
#ifndef LLAMAC_FUZZ_FUZZUTIL_H
#define LLAMAC_FUZZ_FUZZUTIL_H

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace llamac::fuzz {

/// Stops the run with a message when `condition` is false.
void require(bool condition, const char *what);

/// Writes `data` to a file of this process's own (the readers under test
/// take paths) and returns its path; `suffix` names the kind of file.
std::string writeInput(const uint8_t *data, size_t size, const char *suffix);

/// Whether `text` is well-formed UTF-8 (no surrogates, no overlong forms).
bool isValidUTF8(std::string_view text);

} // namespace llamac::fuzz

#endif // LLAMAC_FUZZ_FUZZUTIL_H
