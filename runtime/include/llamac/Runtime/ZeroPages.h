//===- ZeroPages.h - Zero-filled memory paid for as it is used --*- C++ -*-===//
//
// The KV cache of a long context is mostly positions not reached yet. An
// anonymous mapping reads as zeros and the kernel gives it a page the first
// time that page is written, so a cache for 131,072 tokens costs at start-up
// what one for 4,096 does: no time spent zeroing it, no memory held for
// positions a conversation never reaches.
//
//===----------------------------------------------------------------------===//
#ifndef LLAMAC_RUNTIME_ZEROPAGES_H
#define LLAMAC_RUNTIME_ZEROPAGES_H

#include <cstdint>

namespace llamac::runtime {

class ZeroPages {
public:
  /// `bytes` of zeros (at least one page is mapped); throws Error when the
  /// address space cannot be reserved.
  explicit ZeroPages(uint64_t bytes);
  ~ZeroPages();
  ZeroPages(const ZeroPages &) = delete;
  ZeroPages &operator=(const ZeroPages &) = delete;

  void *data() const { return memory; }
  uint64_t size() const { return bytes; }

private:
  void *memory = nullptr;
  uint64_t bytes = 0;
  uint64_t mapped = 0;
};

} // namespace llamac::runtime

#endif // LLAMAC_RUNTIME_ZEROPAGES_H
