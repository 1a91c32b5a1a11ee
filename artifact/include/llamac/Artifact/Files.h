//===- Files.h - Reading whole files ----------------------------*- C++ -*-===//
#ifndef LLAMAC_ARTIFACT_FILES_H
#define LLAMAC_ARTIFACT_FILES_H

#include <string>

namespace llamac::artifact {

/// The bytes of the file at `path`, exactly ("-": standard input). An Error
/// "PATH: reason" (strerror's) when it cannot be read.
std::string readFile(const std::string &path);

} // namespace llamac::artifact

#endif // LLAMAC_ARTIFACT_FILES_H
