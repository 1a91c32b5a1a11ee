//===- StagedDirectory.h - Write a directory, then swap it in ---*- C++ -*-===//
//
// The artifact is written into a staging directory beside its final place
// and swapped in with one atomic rename when complete, so a reader, or a
// compile killed at any moment (SIGKILL, power loss of the process), finds
// at the target either the previous complete directory or the new complete
// one, never a mix. A killed compile's staging directory is removed by the
// next compile that writes into the same parent directory.
//
//===----------------------------------------------------------------------===//
#ifndef LLAMAC_COMPILER_STAGEDDIRECTORY_H
#define LLAMAC_COMPILER_STAGEDDIRECTORY_H

#include "llvm/ADT/STLFunctionalExtras.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <string>

namespace llamac {

class StagedDirectory {
public:
  /// Creates `TARGET.llamac-staging-PID-XXXXXX` beside `target`, after
  /// removing the staging directories there whose process no longer runs.
  static llvm::Expected<StagedDirectory> create(llvm::StringRef target);
  StagedDirectory(StagedDirectory &&other);
  StagedDirectory &operator=(StagedDirectory &&) = delete;
  /// Removes the staging directory unless it was committed.
  ~StagedDirectory();

  /// The path of `name` inside the staging directory.
  std::string file(llvm::StringRef name) const;
  llvm::StringRef path() const { return stagingPath; }

  /// Puts the staged directory at `target`. An existing `target` is replaced
  /// only if `mayReplace(target)` says so, and atomically (renameat2
  /// RENAME_EXCHANGE); on a file system without that, two renames leave a
  /// short window in which `target` is absent. `placed`, if given, is
  /// called once the new directory is at `target`, before the previous
  /// contents (now at the staging path) are removed: a test's moment to kill
  /// the process.
  llvm::Error commit(llvm::StringRef target,
                     llvm::function_ref<bool(llvm::StringRef)> mayReplace,
                     llvm::function_ref<void()> placed = nullptr);

private:
  explicit StagedDirectory(std::string path) : stagingPath(std::move(path)) {}
  std::string stagingPath;
};

} // namespace llamac

#endif // LLAMAC_COMPILER_STAGEDDIRECTORY_H
