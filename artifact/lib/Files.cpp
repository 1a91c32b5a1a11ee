//===- Files.cpp - Reading whole files ------------------------------------===//
#include "llamac/Artifact/Files.h"

#include "llamac/Artifact/Error.h"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace llamac::artifact {

std::string readFile(const std::string &path) {
  const bool standardInput = path == "-";
  int fd =
      standardInput ? STDIN_FILENO : ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    throw Error(path + ": " + std::strerror(errno));
  std::string bytes;
  struct stat status;
  if (::fstat(fd, &status) == 0 && S_ISREG(status.st_mode))
    bytes.reserve(size_t(status.st_size));
  char buffer[1 << 16];
  while (true) {
    ssize_t got = ::read(fd, buffer, sizeof(buffer));
    if (got < 0 && errno == EINTR)
      continue;
    if (got < 0) {
      int error = errno;
      if (!standardInput)
        ::close(fd);
      throw Error(path + ": " + std::strerror(error));
    }
    if (got == 0)
      break;
    bytes.append(buffer, size_t(got));
  }
  if (!standardInput)
    ::close(fd);
  return bytes;
}

} // namespace llamac::artifact
