//===- Diagnostics.h - Shared pieces of the readers' messages ---*- C++ -*-===//
//
// Private to frontend/lib: the readers word their errors alike ("must be a
// number, got string", shapes as [2048, 512]).
//
//===----------------------------------------------------------------------===//
#ifndef LLAMAC_FRONTEND_LIB_DIAGNOSTICS_H
#define LLAMAC_FRONTEND_LIB_DIAGNOSTICS_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/Twine.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/JSON.h"

#include <cstdint>
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

} // namespace llamac::diag

#endif // LLAMAC_FRONTEND_LIB_DIAGNOSTICS_H
