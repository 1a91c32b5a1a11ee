//===- ZeroPages.cpp - Zero-filled memory paid for as it is used ----------===//
#include "llamac/Runtime/ZeroPages.h"

#include "llamac/Artifact/Error.h"

#include <sys/mman.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace llamac::runtime {

ZeroPages::ZeroPages(uint64_t bytes) : bytes(bytes) {
  mapped = bytes ? bytes : 1;
  // MAP_NORESERVE: the pages are counted when touched, not now, so a long
  // --ctx is not refused by the overcommit heuristics for memory that it
  // may never use (checkMemoryFits has already compared the whole cache
  // with what this machine can give).
  memory = ::mmap(nullptr, mapped, PROT_READ | PROT_WRITE,
                  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (memory == MAP_FAILED) {
    int error = errno;
    memory = nullptr;
    throw artifact::Error("cannot reserve " + std::to_string(bytes) +
                          " bytes for the KV cache: " + std::strerror(error));
  }
}

ZeroPages::~ZeroPages() {
  if (memory)
    ::munmap(memory, mapped);
}

} // namespace llamac::runtime
