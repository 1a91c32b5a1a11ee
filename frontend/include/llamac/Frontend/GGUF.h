//===- GGUF.h - Memory-mapped GGUF reader -----------------------*- C++ -*-===//
//
// Reads a GGUF file, llama.cpp's model format (versions 2 and 3): a header
// (magic "GGUF", version, tensor and key-value counts), typed metadata
// key-values, tensor descriptions (name, dimensions, ggml type, offset), then
// the tensor data, aligned. The file is mapped, never copied, and everything
// is validated before anything is handed out: counts and lengths within the
// file, known value and tensor types, unique keys and names, the alignment,
// sizes that follow from the shapes and types, and tensor data inside the
// file, aligned and not overlapping. What the metadata means for a Llama
// model is Checkpoint's business (GGUFCheckpoint.cpp), not this reader's.
//
//===----------------------------------------------------------------------===//
#ifndef LLAMAC_FRONTEND_GGUF_H
#define LLAMAC_FRONTEND_GGUF_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/MemoryBuffer.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace llamac {

/// The value types of GGUF metadata, numbered as in the file.
enum class GGUFValueType : uint32_t {
  UInt8 = 0,
  Int8 = 1,
  UInt16 = 2,
  Int16 = 3,
  UInt32 = 4,
  Int32 = 5,
  Float32 = 6,
  Bool = 7,
  String = 8,
  Array = 9,
  UInt64 = 10,
  Int64 = 11,
  Float64 = 12,
};

/// "uint32", "string", ... for messages.
llvm::StringRef ggufValueTypeName(GGUFValueType type);

/// One metadata value. Strings point into the mapped file.
struct GGUFValue {
  GGUFValueType type = GGUFValueType::UInt8;
  /// Integers of any width and sign, widened (`isSigned` says which).
  uint64_t bits = 0;
  bool isSigned = false;
  double number = 0;
  llvm::StringRef string;
  /// For arrays: the element type, the number of elements, and either
  /// their bytes in the file (numbers and bools, decoded by element()) or,
  /// for strings and arrays, the decoded elements.
  GGUFValueType elementType = GGUFValueType::UInt8;
  uint64_t count = 0;
  llvm::ArrayRef<uint8_t> raw;
  std::vector<GGUFValue> elements;

  /// The number of elements of an array.
  size_t size() const;
  /// Element `i` of an array.
  GGUFValue element(size_t i) const;

  bool isInteger() const;
  /// The value as a non-negative integer, if it is an integer that is one.
  std::optional<uint64_t> getUnsigned() const;
  /// The value of a float or an integer type as a double.
  std::optional<double> getNumber() const;
  std::optional<llvm::StringRef> getString() const;
};

/// The ggml tensor types, numbered as in the file. Only some have a known
/// size (and so can be validated); fewer still can be compiled.
enum class GGMLType : uint32_t {
  F32 = 0,
  F16 = 1,
  Q4_0 = 2,
  Q4_1 = 3,
  Q5_0 = 6,
  Q5_1 = 7,
  Q8_0 = 8,
  Q8_1 = 9,
  Q2_K = 10,
  Q3_K = 11,
  Q4_K = 12,
  Q5_K = 13,
  Q6_K = 14,
  Q8_K = 15,
  I8 = 24,
  I16 = 25,
  I32 = 26,
  I64 = 27,
  F64 = 28,
  BF16 = 30,
};

/// How a ggml type stores its elements: blocks of `blockElements` values in
/// `blockBytes` bytes along the first (contiguous) dimension; for the block
/// types llamac decodes, where each block's f16 scales are (`scaleCount`
/// of them, at byte `scaleOffsets[i]` of the block: the K-quants'
/// super-block scale and min), which must be finite.
struct GGMLTypeTraits {
  GGMLType type;
  const char *name;
  uint64_t blockElements;
  uint64_t blockBytes;
  unsigned scaleCount = 0;
  unsigned scaleOffsets[2] = {0, 0};
};

/// The traits of type number `type`, or null for a number llamac does not
/// know.
const GGMLTypeTraits *getGGMLTypeTraits(uint32_t type);

/// One tensor: dimensions in ggml order (dims[0] is contiguous, so a
/// [rows, columns] matrix has dims {columns, rows}), offsets absolute within
/// the file.
struct GGUFTensor {
  std::string name;
  std::vector<uint64_t> dims;
  GGMLType type;
  uint64_t fileOffset = 0;
  uint64_t byteSize = 0;

  uint64_t numElements() const;
};

/// A validated, memory-mapped GGUF file.
class GGUFFile {
public:
  /// The alignment of tensor data when the file does not say
  /// (`general.alignment`).
  static constexpr uint64_t kDefaultAlignment = 32;

  /// Maps and validates the file at `path`.
  static llvm::Expected<std::unique_ptr<GGUFFile>> open(llvm::StringRef path);
  /// Validates an in-memory file; `name` prefixes error messages.
  static llvm::Expected<std::unique_ptr<GGUFFile>>
  fromBuffer(std::unique_ptr<llvm::MemoryBuffer> buffer, llvm::StringRef name);

  /// Whether the file at `path` starts with the GGUF magic.
  static bool hasMagic(llvm::StringRef path);

  uint32_t version() const { return fileVersion; }
  uint64_t alignment() const { return dataAlignment; }
  /// The metadata value of `key`, or null.
  const GGUFValue *find(llvm::StringRef key) const;
  /// Every key, in file order.
  llvm::ArrayRef<std::string> keys() const { return keyOrder; }
  /// Tensors in file order of their descriptions.
  llvm::ArrayRef<GGUFTensor> tensors() const { return tensorList; }
  /// The raw bytes of `tensor` (a view into the mapping).
  llvm::ArrayRef<uint8_t> bytes(const GGUFTensor &tensor) const;
  const llvm::MemoryBuffer &buffer() const { return *fileBuffer; }
  llvm::StringRef path() const { return filePath; }

private:
  GGUFFile() = default;
  std::unique_ptr<llvm::MemoryBuffer> fileBuffer;
  std::string filePath;
  uint32_t fileVersion = 0;
  uint64_t dataAlignment = kDefaultAlignment;
  llvm::StringMap<GGUFValue> metadata;
  std::vector<std::string> keyOrder;
  std::vector<GGUFTensor> tensorList;
};

} // namespace llamac

#endif // LLAMAC_FRONTEND_GGUF_H
