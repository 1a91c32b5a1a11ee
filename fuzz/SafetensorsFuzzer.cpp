//===- SafetensorsFuzzer.cpp - Fuzz the safetensors reader ----------------===//
//
// Any bytes: the reader either refuses them with an error or hands out
// tensors whose bytes lie inside the file, whose sizes agree with their
// shapes and dtypes, and which do not overlap. Each tensor's first and last
// byte is read, so an out-of-bounds view is an AddressSanitizer report.
//
//===----------------------------------------------------------------------===//
#include "FuzzUtil.h"

#include "llamac/Frontend/Safetensors.h"

#include "llvm/Support/MemoryBuffer.h"

using namespace llamac;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  // A copy of exactly `size` bytes, so that ASan sees any read past the end.
  auto buffer = llvm::MemoryBuffer::getMemBufferCopy(
      llvm::StringRef(reinterpret_cast<const char *>(data), size),
      "model.safetensors");
  llvm::Expected<std::unique_ptr<SafetensorsFile>> file =
      SafetensorsFile::fromBuffer(std::move(buffer), "model.safetensors");
  if (!file) {
    std::string message = llvm::toString(file.takeError());
    fuzz::require(message.rfind("model.safetensors: ", 0) == 0,
                  "every error names the file");
    return 0;
  }
  uint64_t previousEnd = 0;
  unsigned checksum = 0;
  for (const TensorInfo &tensor : (*file)->tensors()) {
    fuzz::require((*file)->find(tensor.name) == &tensor, "find() by name");
    uint64_t elements = 1;
    for (int64_t extent : tensor.shape) {
      fuzz::require(extent >= 0, "non-negative extents");
      elements *= uint64_t(extent);
    }
    fuzz::require(elements * dtypeSize(tensor.dtype) == tensor.byteSize,
                  "byte size = elements x dtype size");
    fuzz::require(tensor.fileOffset >= 8 &&
                      tensor.fileOffset + tensor.byteSize <= size,
                  "tensor inside the file");
    fuzz::require(tensor.fileOffset % dtypeSize(tensor.dtype) == 0,
                  "tensor aligned to its element size");
    if (tensor.byteSize == 0)
      continue;
    fuzz::require(tensor.fileOffset >= previousEnd, "tensors do not overlap");
    previousEnd = tensor.fileOffset + tensor.byteSize;
    llvm::ArrayRef<uint8_t> bytes = (*file)->bytes(tensor);
    checksum += bytes.front() + bytes.back();
  }
  // Keeps the reads above from being optimized away.
  volatile unsigned sink = checksum;
  (void)sink;
  return 0;
}
