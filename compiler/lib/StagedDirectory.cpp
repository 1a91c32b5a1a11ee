//===- StagedDirectory.cpp - Write a directory, then swap it in -----------===//
#include "llamac/Compiler/StagedDirectory.h"

#include "llvm/ADT/SmallString.h"
#include "llvm/ADT/Twine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fcntl.h>
#include <unistd.h>

using namespace llvm;

namespace llamac {

namespace {

constexpr StringLiteral kStagingTag = ".llamac-staging-";

Error makeError(const Twine &message) {
  return createStringError(inconvertibleErrorCode(), message);
}

/// The process id in a staging directory name `NAME.llamac-staging-PID-...`,
/// or 0 when `name` is not one.
pid_t stagingOwner(StringRef name) {
  size_t tag = name.find(kStagingTag);
  if (tag == StringRef::npos)
    return 0;
  name = name.drop_front(tag + kStagingTag.size());
  StringRef digits = name.take_while([](char c) { return c >= '0' && c <= '9'; });
  unsigned long long pid;
  if (digits.empty() || !name.drop_front(digits.size()).starts_with("-") ||
      getAsUnsignedInteger(digits, 10, pid) || pid == 0 ||
      pid > unsigned(INT32_MAX))
    return 0;
  return pid_t(pid);
}

/// `path` made absolute. Staging names must be: LLVM's createUniqueDirectory
/// puts a relative name under the system's temporary directory, possibly on
/// another file system, where the final rename would fail.
std::string absolutePath(StringRef path) {
  SmallString<256> absolute(path);
  sys::fs::make_absolute(absolute);
  return absolute.str().str();
}

/// Removes the staging directories beside `target` (of any artifact there)
/// whose process is gone: compiles that were killed. Those of running
/// compiles are left alone.
void removeAbandonedStaging(StringRef target) {
  StringRef parent = sys::path::parent_path(target);
  std::error_code ec;
  for (sys::fs::directory_iterator it(parent, ec), end; it != end && !ec;
       it.increment(ec)) {
    pid_t owner = stagingOwner(sys::path::filename(it->path()));
    if (owner == 0 || owner == ::getpid())
      continue;
    if (::kill(owner, 0) == 0 || errno != ESRCH)
      continue; // running (or not ours to signal): not abandoned
    sys::fs::remove_directories(it->path(), /*IgnoreErrors=*/true);
  }
}

} // namespace

Expected<StagedDirectory> StagedDirectory::create(StringRef target) {
  std::string absolute = absolutePath(target);
  removeAbandonedStaging(absolute);
  SmallString<256> path;
  std::string prefix = absolute + kStagingTag.str() + std::to_string(::getpid());
  if (std::error_code ec = sys::fs::createUniqueDirectory(prefix, path))
    return makeError(target + ": cannot create a staging directory: " +
                     ec.message());
  return StagedDirectory(path.str().str());
}

StagedDirectory::StagedDirectory(StagedDirectory &&other)
    : stagingPath(std::move(other.stagingPath)) {
  other.stagingPath.clear();
}

StagedDirectory::~StagedDirectory() {
  if (!stagingPath.empty())
    sys::fs::remove_directories(stagingPath, /*IgnoreErrors=*/true);
}

std::string StagedDirectory::file(StringRef name) const {
  return (stagingPath + "/" + name).str();
}

Error StagedDirectory::commit(StringRef target,
                              function_ref<bool(StringRef)> mayReplace,
                              function_ref<void()> placed) {
  std::string targetPath = target.str();
  if (!sys::fs::exists(target)) {
    if (std::error_code ec = sys::fs::rename(stagingPath, target))
      return makeError(target + ": " + ec.message());
    stagingPath.clear();
    if (placed)
      placed();
    return Error::success();
  }
  if (!mayReplace(target))
    return makeError(target +
                     ": exists and is not a llamac artifact; refusing to "
                     "replace it");
  // One system call swaps the two directories: the target is complete at
  // every moment. The previous contents end up at the staging path, which
  // the destructor removes (or, if killed first, the next compile).
  if (::renameat2(AT_FDCWD, stagingPath.c_str(), AT_FDCWD, targetPath.c_str(),
                  RENAME_EXCHANGE) == 0) {
    if (placed)
      placed();
    return Error::success();
  }
  if (errno != EINVAL && errno != ENOSYS)
    return makeError(target + ": cannot replace: " +
                     std::error_code(errno, std::generic_category()).message());
  // No RENAME_EXCHANGE on this file system: move the previous contents to a
  // staging name of ours first (removed later like any staging directory).
  SmallString<256> old;
  if (std::error_code ec = sys::fs::createUniqueDirectory(
          absolutePath(target) + kStagingTag + Twine(::getpid()) + "-old",
          old))
    return makeError(target + ": " + ec.message());
  sys::fs::remove(old);
  if (std::error_code ec = sys::fs::rename(target, old))
    return makeError(target + ": cannot move the previous artifact: " +
                     ec.message());
  if (std::error_code ec = sys::fs::rename(stagingPath, target)) {
    sys::fs::rename(old, target);
    return makeError(target + ": " + ec.message());
  }
  stagingPath = old.str().str();
  if (placed)
    placed();
  return Error::success();
}

} // namespace llamac
