//===- Safetensors.h - Memory-mapped safetensors reader ---------*- C++ -*-===//
//
// Reads a `.safetensors` file: an 8-byte little-endian header length, a JSON
// header describing each tensor, then the raw tensor bytes. The file is
// mapped, never copied, and the header is validated completely before any
// tensor is handed out, so a tensor's bytes are always inside the file.
//
//===----------------------------------------------------------------------===//
#ifndef LLAMAC_FRONTEND_SAFETENSORS_H
#define LLAMAC_FRONTEND_SAFETENSORS_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/MemoryBuffer.h"

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace llamac {

/// Element types llamac reads from checkpoints: safetensors' floats, and
/// the llama.cpp blocks a GGUF file may hold: Q8_0/Q4_0 (32 values along a
/// row: an f16 scale and 32 int8 codes, or 16 bytes of 4-bit codes offset
/// by 8) and the K-quants Q4_K/Q5_K/Q6_K (256 values: sub-block scales
/// quantized against an f16 super-block scale).
enum class DType { BF16, F16, F32, Q8_0, Q4_0, Q4_K, Q5_K, Q6_K };

/// Whether `dtype` is one of llama.cpp's block types.
bool isBlockDType(DType dtype);

/// Bytes per element of a float `dtype` (not of a block type).
size_t dtypeSize(DType dtype);
/// The safetensors / ggml spelling ("BF16", "F16", "F32", "Q8_0", ...).
llvm::StringRef dtypeName(DType dtype);

/// One tensor of the file; offsets are absolute within the file.
struct TensorInfo {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;
  uint64_t fileOffset = 0;
  uint64_t byteSize = 0;
  /// Which file of a sharded checkpoint holds it (CheckpointWeights sets
  /// it; 0 in a SafetensorsFile's own list).
  uint32_t file = 0;
  /// Non-zero for the Q and K projections of a GGUF file: llama.cpp's
  /// converter interleaves the two halves of each of these heads' rows
  /// (for its RoPE); CheckpointWeights::bytes puts them back.
  uint32_t ropeHeads = 0;

  int64_t numElements() const;
};

/// A validated, memory-mapped safetensors file.
class SafetensorsFile {
public:
  /// Maps and validates the file at `path`.
  static llvm::Expected<std::unique_ptr<SafetensorsFile>>
  open(llvm::StringRef path);
  /// Validates an in-memory file; `name` prefixes error messages.
  static llvm::Expected<std::unique_ptr<SafetensorsFile>>
  fromBuffer(std::unique_ptr<llvm::MemoryBuffer> buffer, llvm::StringRef name);

  /// Tensors in order of their data offsets.
  llvm::ArrayRef<TensorInfo> tensors() const { return tensorList; }
  /// The tensor called `name`, or null.
  const TensorInfo *find(llvm::StringRef name) const;
  /// The raw little-endian bytes of `tensor` (a view into the mapping).
  llvm::ArrayRef<uint8_t> bytes(const TensorInfo &tensor) const;
  /// Says that `tensor` has been read: when the file is mapped, the pages
  /// that hold only its bytes leave this process's memory (the kernel
  /// reads them from the file again should they be touched). Packing
  /// gigabytes tensor by tensor then needs memory for one tensor, not the
  /// whole checkpoint. Contents never change; a file read into memory
  /// rather than mapped keeps its pages.
  void releasePages(const TensorInfo &tensor) const;
  /// The optional `__metadata__` string map.
  const std::map<std::string, std::string> &metadata() const {
    return metadataMap;
  }
  llvm::StringRef path() const { return filePath; }
  const llvm::MemoryBuffer &buffer() const { return *fileBuffer; }

private:
  SafetensorsFile() = default;
  std::unique_ptr<llvm::MemoryBuffer> fileBuffer;
  std::string filePath;
  std::vector<TensorInfo> tensorList;
  std::map<std::string, size_t, std::less<>> index;
  std::map<std::string, std::string> metadataMap;
};

/// Drops the whole pages of `bytes`, a view into `buffer`, from this
/// process's memory when `buffer` maps its file (see
/// SafetensorsFile::releasePages); does nothing for a buffer in memory.
void releaseMappedPages(const llvm::MemoryBuffer &buffer,
                        llvm::ArrayRef<uint8_t> bytes);

} // namespace llamac

#endif // LLAMAC_FRONTEND_SAFETENSORS_H
