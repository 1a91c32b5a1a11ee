//===- GGUFFuzzer.cpp - Fuzz the GGUF reader and its Llama reading --------===//
//
// Any bytes: the reader either refuses them with an error naming the file,
// or hands out tensors whose bytes lie inside the file, aligned, with sizes
// that follow from their dimensions and types, and not overlapping. A file
// that passes then goes through the Llama reading (configuration from the
// metadata, tensors under Hugging Face names) and every tensor is read the
// way the packer reads it, Q/K rows put back included; each tensor's first
// and last byte is touched, so an out-of-bounds view is an AddressSanitizer
// report.
//
//===----------------------------------------------------------------------===//
#include "FuzzUtil.h"

#include "llamac/Frontend/Checkpoint.h"
#include "llamac/Frontend/CheckpointWeights.h"
#include "llamac/Frontend/GGUF.h"

#include "llvm/Support/MemoryBuffer.h"

using namespace llamac;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  // A copy of exactly `size` bytes, so that ASan sees any read past the end.
  auto buffer = llvm::MemoryBuffer::getMemBufferCopy(
      llvm::StringRef(reinterpret_cast<const char *>(data), size),
      "model.gguf");
  llvm::Expected<std::unique_ptr<GGUFFile>> file =
      GGUFFile::fromBuffer(std::move(buffer), "model.gguf");
  if (!file) {
    std::string message = llvm::toString(file.takeError());
    fuzz::require(message.rfind("model.gguf: ", 0) == 0,
                  "every error names the file");
    return 0;
  }
  unsigned checksum = 0;
  for (const GGUFTensor &tensor : (*file)->tensors()) {
    const GGMLTypeTraits *traits = getGGMLTypeTraits(uint32_t(tensor.type));
    fuzz::require(traits != nullptr, "a known type");
    fuzz::require(tensor.numElements() % traits->blockElements == 0 &&
                      tensor.numElements() / traits->blockElements *
                              traits->blockBytes ==
                          tensor.byteSize,
                  "byte size = blocks x block size");
    fuzz::require(tensor.fileOffset + tensor.byteSize <= size,
                  "tensor inside the file");
    fuzz::require(tensor.fileOffset % (*file)->alignment() == 0,
                  "tensor aligned");
    llvm::ArrayRef<uint8_t> bytes = (*file)->bytes(tensor);
    checksum += bytes.front() + bytes.back();
  }

  llvm::Expected<LlamaConfig> config = readGGUFConfig(**file);
  if (!config) {
    llvm::consumeError(config.takeError());
    return 0;
  }
  llvm::Expected<std::unique_ptr<CheckpointWeights>> weights =
      CheckpointWeights::fromGGUF(std::move(*file), *config);
  if (!weights) {
    llvm::consumeError(weights.takeError());
    return 0;
  }
  // What Checkpoint::open does next: a tensor that passes has the shape the
  // configuration implies, and only then is it read.
  if (llvm::Error error = validateWeights(**weights, *config)) {
    llvm::consumeError(std::move(error));
    return 0;
  }
  std::vector<uint8_t> scratch;
  for (const TensorInfo &tensor : (*weights)->tensors()) {
    llvm::ArrayRef<uint8_t> bytes = (*weights)->bytes(tensor, scratch);
    fuzz::require(bytes.size() == tensor.byteSize, "rows put back whole");
    checksum += bytes.front() + bytes.back();
  }
  // Keeps the reads above from being optimized away.
  volatile unsigned sink = checksum;
  (void)sink;
  return 0;
}
