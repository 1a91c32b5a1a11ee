//===- Diagnostics.h - Shared pieces of the readers -------------*- C++ -*-===//
//
// Private to frontend/lib: the readers word their errors alike ("must be a
// number, got string", shapes as [2048, 512]) and check their JSON for what
// llvm::json::parse lets through.
//
//===----------------------------------------------------------------------===//
#ifndef LLAMAC_FRONTEND_LIB_DIAGNOSTICS_H
#define LLAMAC_FRONTEND_LIB_DIAGNOSTICS_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/Twine.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/JSON.h"

#include <cstdint>
#include <optional>
#include <string>

namespace llamac::diag {

inline llvm::Error makeError(const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), message);
}

/// The JSON kind name used in "must be X, got Y" messages.
llvm::StringRef jsonKindName(const llvm::json::Value &value);

/// A short rendering of `value` for error messages (long values are cut so
/// that the message stays on one readable line).
std::string renderJSON(const llvm::json::Value &value);

/// "[2048, 512]".
std::string formatShape(llvm::ArrayRef<int64_t> shape);

/// `text` from a file, safe inside a one-line message: control characters
/// escaped (\n, \x01), cut after 64 bytes ("...").
std::string printable(llvm::StringRef text);

/// A key that occurs twice in one JSON object.
struct DuplicateKey {
  std::string key;
  /// The top-level key whose value contains the duplicate; empty when the
  /// duplicate is itself at the top level.
  std::string topLevelKey;
};

/// Scans JSON text that llvm::json::parse has already accepted for a key
/// repeated within one object. llvm::json::parse silently keeps only the
/// last value of a repeated key, which would hide a tensor listed twice.
std::optional<DuplicateKey> findDuplicateKey(llvm::StringRef text);

} // namespace llamac::diag

#endif // LLAMAC_FRONTEND_LIB_DIAGNOSTICS_H
