//===- Error.h - What the libraries reading an artifact report -*- C++ -*-===//
//
// One exception type for every mistake a user can cause in the libraries
// that read an artifact (a missing or damaged file, a value out of range, a
// prompt too long for the context): its message is one line that says what
// is wrong, ready to print. A kind lets callers that must tell some apart
// (the C API's status codes) do so without parsing messages.
//
//===----------------------------------------------------------------------===//
#ifndef LLAMAC_ARTIFACT_ERROR_H
#define LLAMAC_ARTIFACT_ERROR_H

#include <cstdint>
#include <stdexcept>
#include <string>

namespace llamac::artifact {

/// What kind of mistake an Error reports.
enum class ErrorKind : uint8_t {
  /// Anything not listed below: a bad file, a bad value.
  Invalid,
  /// Tokens that do not fit in a session's context.
  ContextFull,
  /// A token id outside the vocabulary.
  TokenOutOfRange,
  /// More memory than the system can give (a KV cache too large for it).
  OutOfMemory,
};

/// Everything these libraries report to a user: one line, says what is
/// wrong.
class Error : public std::runtime_error {
public:
  explicit Error(const std::string &message,
                 ErrorKind kind = ErrorKind::Invalid)
      : std::runtime_error(message), errorKind(kind) {}
  explicit Error(const char *message, ErrorKind kind = ErrorKind::Invalid)
      : std::runtime_error(message), errorKind(kind) {}

  ErrorKind kind() const { return errorKind; }

private:
  ErrorKind errorKind;
};

} // namespace llamac::artifact

#endif // LLAMAC_ARTIFACT_ERROR_H
