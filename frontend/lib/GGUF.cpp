//===- GGUF.cpp - Memory-mapped GGUF reader -------------------------------===//
//
// A cursor walks the header, the metadata and the tensor descriptions,
// checking every length against the bytes that are left before it reads
// them, so a corrupt or hostile file ends in one error naming the file (and
// the key or tensor), never in a read past the end or an allocation sized by
// a bogus count. The tensor data is checked as a whole once every
// description is read: sizes from shapes and types, offsets aligned, inside
// the file and not overlapping.
//
//===----------------------------------------------------------------------===//

#include "llamac/Frontend/GGUF.h"

#include "Diagnostics.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/Twine.h"
#include "llvm/Support/Endian.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MathExtras.h"

#include <algorithm>
#include <cassert>
#include <cstring>
#include <limits>

#include <unistd.h>

using namespace llvm;
using namespace llamac;

namespace {

Error makeError(StringRef path, const Twine &message) {
  return diag::makeError(path + ": " + message);
}

/// ggml's GGML_MAX_DIMS.
constexpr uint32_t kMaxDims = 4;
/// ggml's GGML_MAX_NAME (64) includes the terminating NUL.
constexpr uint64_t kMaxTensorName = 63;
/// Arrays nest (an array of arrays); no real file goes deeper than one level.
constexpr unsigned kMaxArrayDepth = 4;
/// The smallest encoding of a key-value (an empty key, a type, one byte)
/// and of a tensor description (an empty name, n_dims, one dim, type,
/// offset): counts above remaining / these are certainly corrupt.
constexpr uint64_t kMinKeyValueBytes = 8 + 4 + 1;
constexpr uint64_t kMinTensorInfoBytes = 8 + 4 + 8 + 4 + 8;

constexpr GGMLTypeTraits kTypeTraits[] = {
    {GGMLType::F32, "F32", 1, 4},       {GGMLType::F16, "F16", 1, 2},
    {GGMLType::Q4_0, "Q4_0", 32, 18, 1, {0}},
    {GGMLType::Q4_1, "Q4_1", 32, 20},
    {GGMLType::Q5_0, "Q5_0", 32, 22},
    {GGMLType::Q5_1, "Q5_1", 32, 24},
    {GGMLType::Q8_0, "Q8_0", 32, 34, 1, {0}},
    {GGMLType::Q8_1, "Q8_1", 32, 36},
    {GGMLType::Q2_K, "Q2_K", 256, 84},
    {GGMLType::Q3_K, "Q3_K", 256, 110},
    {GGMLType::Q4_K, "Q4_K", 256, 144, 2, {0, 2}},
    {GGMLType::Q5_K, "Q5_K", 256, 176, 2, {0, 2}},
    {GGMLType::Q6_K, "Q6_K", 256, 210, 1, {208}},
    {GGMLType::Q8_K, "Q8_K", 256, 292},
    {GGMLType::I8, "I8", 1, 1},         {GGMLType::I16, "I16", 1, 2},
    {GGMLType::I32, "I32", 1, 4},       {GGMLType::I64, "I64", 1, 8},
    {GGMLType::F64, "F64", 1, 8},       {GGMLType::BF16, "BF16", 1, 2},
};

/// The fixed size of a scalar value type, 0 for strings and arrays.
uint64_t scalarSize(GGUFValueType type) {
  switch (type) {
  case GGUFValueType::UInt8:
  case GGUFValueType::Int8:
  case GGUFValueType::Bool:
    return 1;
  case GGUFValueType::UInt16:
  case GGUFValueType::Int16:
    return 2;
  case GGUFValueType::UInt32:
  case GGUFValueType::Int32:
  case GGUFValueType::Float32:
    return 4;
  case GGUFValueType::UInt64:
  case GGUFValueType::Int64:
  case GGUFValueType::Float64:
    return 8;
  case GGUFValueType::String:
  case GGUFValueType::Array:
    return 0;
  }
  return 0;
}

bool isKnownValueType(uint32_t type) { return type <= 12; }

/// More strings and arrays inside arrays than any tokenizer has (Llama 3:
/// 128,256 tokens and 280,147 merges) is taken for a hostile file: each
/// costs a GGUFValue.
constexpr uint64_t kMaxDecodedValues = uint64_t(1) << 24;

/// The scalar of `type` (not a string or array) stored at `bytes`.
GGUFValue decodeScalar(GGUFValueType type, const uint8_t *bytes) {
  GGUFValue value;
  value.type = type;
  const unsigned size = unsigned(scalarSize(type));
  uint64_t bits = 0;
  for (unsigned i = 0; i < size; ++i)
    bits |= uint64_t(bytes[i]) << (8 * i);
  if (type == GGUFValueType::Float32) {
    float number;
    uint32_t word = uint32_t(bits);
    std::memcpy(&number, &word, 4);
    value.number = number;
    return value;
  }
  if (type == GGUFValueType::Float64) {
    std::memcpy(&value.number, &bits, 8);
    return value;
  }
  value.isSigned = type == GGUFValueType::Int8 ||
                   type == GGUFValueType::Int16 ||
                   type == GGUFValueType::Int32 || type == GGUFValueType::Int64;
  // Sign-extend the narrower signed types.
  value.bits = value.isSigned && size < 8
                   ? uint64_t(SignExtend64(bits, 8 * size))
                   : bits;
  return value;
}

/// Reads the file front to back; every read is checked against the end.
class Cursor {
public:
  Cursor(StringRef path, ArrayRef<uint8_t> data) : path(path), data(data) {}

  uint64_t offset() const { return position; }
  uint64_t remaining() const { return data.size() - position; }

  /// `what` names the field in the message when the file ends early.
  Expected<uint64_t> readUInt(unsigned bytes, const Twine &what) {
    if (remaining() < bytes)
      return makeError(path, "file ends inside " + what + " (offset " +
                                 Twine(position) + ")");
    uint64_t value = 0;
    for (unsigned i = 0; i < bytes; ++i)
      value |= uint64_t(data[position + i]) << (8 * i);
    position += bytes;
    return value;
  }

  Expected<StringRef> readString(const Twine &what) {
    Expected<uint64_t> length = readUInt(8, "the length of " + what);
    if (!length)
      return length.takeError();
    if (*length > remaining())
      return makeError(path, what + " has length " + Twine(*length) +
                                 ", past the end of the file (" +
                                 Twine(remaining()) + " bytes left)");
    StringRef text(reinterpret_cast<const char *>(data.data() + position),
                   size_t(*length));
    position += *length;
    return text;
  }

  Expected<GGUFValue> readValue(GGUFValueType type, const Twine &what,
                                unsigned depth) {
    if (type == GGUFValueType::String) {
      Expected<StringRef> text = readString(what);
      if (!text)
        return text.takeError();
      GGUFValue value;
      value.type = type;
      value.string = *text;
      return value;
    }
    if (type == GGUFValueType::Array)
      return readArray(what, depth);
    unsigned size = unsigned(scalarSize(type));
    if (remaining() < size)
      return makeError(path, "file ends inside " + what + " (offset " +
                                 Twine(position) + ")");
    const uint8_t *bytes = data.data() + position;
    if (type == GGUFValueType::Bool && *bytes > 1)
      return makeError(path, what + " is a bool of value " +
                                 Twine(unsigned(*bytes)) + " (must be 0 or 1)");
    position += size;
    return decodeScalar(type, bytes);
  }

private:
  Expected<GGUFValue> readArray(const Twine &what, unsigned depth) {
    if (depth >= kMaxArrayDepth)
      return makeError(path, what + " nests arrays deeper than " +
                                 Twine(kMaxArrayDepth) + " levels");
    Expected<uint64_t> elementType = readUInt(4, "the element type of " + what);
    if (!elementType)
      return elementType.takeError();
    if (!isKnownValueType(uint32_t(*elementType)))
      return makeError(path, what + " has unknown element type " +
                                 Twine(*elementType));
    Expected<uint64_t> count = readUInt(8, "the length of " + what);
    if (!count)
      return count.takeError();
    auto type = GGUFValueType(*elementType);
    // Strings take at least their 8-byte length, arrays their 12-byte
    // header: a count that cannot fit is refused before anything is
    // allocated for it.
    uint64_t minimum = scalarSize(type)                ? scalarSize(type)
                       : type == GGUFValueType::String ? 8
                                                       : 12;
    if (*count > remaining() / minimum)
      return makeError(path, what + " has " + Twine(*count) + " elements of " +
                                 ggufValueTypeName(type) +
                                 ", more than the file holds");
    GGUFValue value;
    value.type = GGUFValueType::Array;
    value.elementType = type;
    value.count = *count;
    if (scalarSize(type)) {
      // Numbers stay in the file, decoded when asked for: a byte array
      // costs no memory of its own, whatever its length.
      value.raw = data.slice(position, *count * minimum);
      if (type == GGUFValueType::Bool)
        for (uint64_t i = 0; i < *count; ++i)
          if (value.raw[i] > 1)
            return makeError(
                path, what + "[" + Twine(i) + "] is a bool of value " +
                          Twine(unsigned(value.raw[i])) + " (must be 0 or 1)");
      position += *count * minimum;
      return value;
    }
    // Strings and arrays are decoded: a bounded number of them, so that a
    // file cannot make us hold many times its own size.
    if (*count > kMaxDecodedValues - decodedValues)
      return makeError(path, what +
                                 " brings the strings and arrays inside "
                                 "arrays past " +
                                 Twine(kMaxDecodedValues));
    decodedValues += *count;
    value.elements.reserve(size_t(*count));
    for (uint64_t i = 0; i < *count; ++i) {
      Expected<GGUFValue> element =
          readValue(type, what + "[" + Twine(i) + "]", depth + 1);
      if (!element)
        return element.takeError();
      value.elements.push_back(std::move(*element));
    }
    return value;
  }

  uint64_t decodedValues = 0;
  StringRef path;
  ArrayRef<uint8_t> data;
  uint64_t position = 0;
};

} // namespace

StringRef llamac::ggufValueTypeName(GGUFValueType type) {
  switch (type) {
  case GGUFValueType::UInt8:
    return "uint8";
  case GGUFValueType::Int8:
    return "int8";
  case GGUFValueType::UInt16:
    return "uint16";
  case GGUFValueType::Int16:
    return "int16";
  case GGUFValueType::UInt32:
    return "uint32";
  case GGUFValueType::Int32:
    return "int32";
  case GGUFValueType::Float32:
    return "float32";
  case GGUFValueType::Bool:
    return "bool";
  case GGUFValueType::String:
    return "string";
  case GGUFValueType::Array:
    return "array";
  case GGUFValueType::UInt64:
    return "uint64";
  case GGUFValueType::Int64:
    return "int64";
  case GGUFValueType::Float64:
    return "float64";
  }
  return "unknown";
}

bool GGUFValue::isInteger() const {
  return scalarSize(type) != 0 && type != GGUFValueType::Float32 &&
         type != GGUFValueType::Float64 && type != GGUFValueType::Bool;
}

std::optional<uint64_t> GGUFValue::getUnsigned() const {
  if (!isInteger() || (isSigned && int64_t(bits) < 0))
    return std::nullopt;
  return bits;
}

std::optional<double> GGUFValue::getNumber() const {
  if (type == GGUFValueType::Float32 || type == GGUFValueType::Float64)
    return number;
  if (isInteger())
    return isSigned ? double(int64_t(bits)) : double(bits);
  return std::nullopt;
}

size_t GGUFValue::size() const { return size_t(count); }

GGUFValue GGUFValue::element(size_t i) const {
  assert(type == GGUFValueType::Array && i < count && "not an element");
  if (!elements.empty())
    return elements[i];
  return decodeScalar(elementType, raw.data() + i * scalarSize(elementType));
}

std::optional<StringRef> GGUFValue::getString() const {
  if (type != GGUFValueType::String)
    return std::nullopt;
  return string;
}

const GGMLTypeTraits *llamac::getGGMLTypeTraits(uint32_t type) {
  for (const GGMLTypeTraits &traits : kTypeTraits)
    if (uint32_t(traits.type) == type)
      return &traits;
  return nullptr;
}

uint64_t GGUFTensor::numElements() const {
  uint64_t count = 1;
  for (uint64_t dim : dims)
    count *= dim;
  return count;
}

bool GGUFFile::hasMagic(StringRef path) {
  int fd;
  if (sys::fs::openFileForRead(path, fd))
    return false;
  char magic[4] = {};
  ssize_t got = ::read(fd, magic, 4);
  ::close(fd);
  return got == 4 && std::memcmp(magic, "GGUF", 4) == 0;
}

Expected<std::unique_ptr<GGUFFile>> GGUFFile::open(StringRef path) {
  // Mapped, not read: the weights are paged in only when packed.
  ErrorOr<std::unique_ptr<MemoryBuffer>> buffer =
      MemoryBuffer::getFile(path, /*IsText=*/false,
                            /*RequiresNullTerminator=*/false);
  if (!buffer)
    return makeError(path, buffer.getError().message());
  return fromBuffer(std::move(*buffer), path);
}

Expected<std::unique_ptr<GGUFFile>>
GGUFFile::fromBuffer(std::unique_ptr<MemoryBuffer> buffer, StringRef name) {
  assert(buffer && "null buffer");
  ArrayRef<uint8_t> data(
      reinterpret_cast<const uint8_t *>(buffer->getBufferStart()),
      buffer->getBufferSize());
  std::unique_ptr<GGUFFile> file(new GGUFFile());
  file->filePath = name.str();
  Cursor cursor(name, data);

  if (data.size() < 4 || std::memcmp(data.data(), "GGUF", 4) != 0)
    return makeError(name, "not a GGUF file (no 'GGUF' magic)");
  consumeError(cursor.readUInt(4, "the magic").takeError()); // checked above
  Expected<uint64_t> version = cursor.readUInt(4, "the version");
  if (!version)
    return version.takeError();
  if (*version == 1)
    return makeError(name, "GGUF version 1 is not supported (only 2 and 3; "
                           "convert the model again with a current "
                           "llama.cpp)");
  if (*version != 2 && *version != 3) {
    // llama.cpp can write big-endian files; their version reads byte-swapped.
    if (*version == (2u << 24) || *version == (3u << 24))
      return makeError(name, "a big-endian GGUF file (llamac reads "
                             "little-endian files)");
    return makeError(name, "unknown GGUF version " + Twine(*version) +
                               " (llamac reads versions 2 and 3)");
  }
  file->fileVersion = uint32_t(*version);
  Expected<uint64_t> tensorCount = cursor.readUInt(8, "the tensor count");
  if (!tensorCount)
    return tensorCount.takeError();
  Expected<uint64_t> keyCount = cursor.readUInt(8, "the metadata count");
  if (!keyCount)
    return keyCount.takeError();
  if (*keyCount > cursor.remaining() / kMinKeyValueBytes)
    return makeError(name, "metadata count " + Twine(*keyCount) +
                               " is more than the file can hold");
  if (*tensorCount > cursor.remaining() / kMinTensorInfoBytes)
    return makeError(name, "tensor count " + Twine(*tensorCount) +
                               " is more than the file can hold");

  for (uint64_t i = 0; i < *keyCount; ++i) {
    Expected<StringRef> key =
        cursor.readString("the key of metadata entry " + Twine(i));
    if (!key)
      return key.takeError();
    if (key->empty())
      return makeError(name,
                       "metadata entry " + Twine(i) + " has an empty key");
    if (file->metadata.count(*key))
      return makeError(name, "metadata key '" + diag::printable(*key) +
                                 "' appears twice");
    Expected<uint64_t> type = cursor.readUInt(
        4, "the type of metadata '" + diag::printable(*key) + "'");
    if (!type)
      return type.takeError();
    if (!isKnownValueType(uint32_t(*type)))
      return makeError(name, "metadata '" + diag::printable(*key) +
                                 "' has unknown type " + Twine(*type));
    Expected<GGUFValue> value = cursor.readValue(
        GGUFValueType(*type), "metadata '" + diag::printable(*key) + "'",
        /*depth=*/0);
    if (!value)
      return value.takeError();
    file->keyOrder.push_back(key->str());
    file->metadata[*key] = std::move(*value);
  }

  if (const GGUFValue *alignment = file->find("general.alignment")) {
    if (alignment->type != GGUFValueType::UInt32)
      return makeError(name, "'general.alignment' must be uint32, got " +
                                 ggufValueTypeName(alignment->type));
    if (alignment->bits == 0 || !isPowerOf2_64(alignment->bits))
      return makeError(name, "'general.alignment' is " +
                                 Twine(alignment->bits) +
                                 ", not a power of two");
    file->dataAlignment = alignment->bits;
  }

  // Descriptions: offsets are relative to the data section, which starts
  // at the next multiple of the alignment after them.
  std::vector<uint64_t> relativeOffsets;
  StringMap<bool> seen;
  for (uint64_t i = 0; i < *tensorCount; ++i) {
    Expected<StringRef> tensorName =
        cursor.readString("the name of tensor " + Twine(i));
    if (!tensorName)
      return tensorName.takeError();
    if (tensorName->empty() || tensorName->size() > kMaxTensorName)
      return makeError(name, "tensor " + Twine(i) + " has a name of " +
                                 Twine(tensorName->size()) + " bytes (1 to " +
                                 Twine(kMaxTensorName) + " allowed)");
    if (!seen.insert({*tensorName, true}).second)
      return makeError(name, "tensor '" + diag::printable(*tensorName) +
                                 "' appears twice");
    GGUFTensor tensor;
    tensor.name = tensorName->str();
    Expected<uint64_t> dimCount =
        cursor.readUInt(4, "the dimension count of tensor '" +
                               diag::printable(*tensorName) + "'");
    if (!dimCount)
      return dimCount.takeError();
    if (*dimCount == 0 || *dimCount > kMaxDims)
      return makeError(name, "tensor '" + diag::printable(*tensorName) +
                                 "' has " + Twine(*dimCount) +
                                 " dimensions (1 to 4 allowed)");
    uint64_t elements = 1;
    for (uint64_t d = 0; d < *dimCount; ++d) {
      Expected<uint64_t> dim = cursor.readUInt(
          8, "the dimensions of tensor '" + diag::printable(*tensorName) + "'");
      if (!dim)
        return dim.takeError();
      if (*dim == 0 || *dim > uint64_t(std::numeric_limits<int64_t>::max()) ||
          elements > uint64_t(std::numeric_limits<int64_t>::max()) / *dim)
        return makeError(name, "tensor '" + diag::printable(*tensorName) +
                                   "' has dimension " + Twine(d) + " of " +
                                   Twine(*dim) +
                                   (*dim == 0 ? "" : ", too many elements"));
      elements *= *dim;
      tensor.dims.push_back(*dim);
    }
    Expected<uint64_t> type = cursor.readUInt(
        4, "the type of tensor '" + diag::printable(*tensorName) + "'");
    if (!type)
      return type.takeError();
    const GGMLTypeTraits *traits = getGGMLTypeTraits(uint32_t(*type));
    if (!traits)
      return makeError(name, "tensor '" + diag::printable(*tensorName) +
                                 "' has unknown ggml type " + Twine(*type));
    tensor.type = traits->type;
    if (tensor.dims[0] % traits->blockElements != 0)
      return makeError(name, "tensor '" + diag::printable(*tensorName) +
                                 "' of type " + traits->name + " has " +
                                 Twine(tensor.dims[0]) +
                                 " elements per row, not a multiple of its "
                                 "block of " +
                                 Twine(traits->blockElements));
    uint64_t blocks = elements / traits->blockElements;
    if (blocks > std::numeric_limits<uint64_t>::max() / traits->blockBytes)
      return makeError(name, "tensor '" + diag::printable(*tensorName) +
                                 "' is too large");
    tensor.byteSize = blocks * traits->blockBytes;
    Expected<uint64_t> offset = cursor.readUInt(
        8, "the offset of tensor '" + diag::printable(*tensorName) + "'");
    if (!offset)
      return offset.takeError();
    if (*offset % file->dataAlignment != 0)
      return makeError(name, "tensor '" + diag::printable(*tensorName) +
                                 "' starts at offset " + Twine(*offset) +
                                 ", not a multiple of the " + "alignment " +
                                 Twine(file->dataAlignment));
    relativeOffsets.push_back(*offset);
    file->tensorList.push_back(std::move(tensor));
  }

  const uint64_t dataStart = alignTo(cursor.offset(), file->dataAlignment);
  if (dataStart > data.size() && !file->tensorList.empty())
    return makeError(name, "file ends before its tensor data (" +
                               Twine(data.size()) + " bytes, data at " +
                               Twine(dataStart) + ")");
  const uint64_t dataSize =
      data.size() > dataStart ? data.size() - dataStart : 0;
  std::vector<size_t> order(file->tensorList.size());
  for (size_t i = 0; i < order.size(); ++i) {
    GGUFTensor &tensor = file->tensorList[i];
    uint64_t relative = relativeOffsets[i];
    if (relative > dataSize || tensor.byteSize > dataSize - relative)
      return makeError(name, "tensor '" + diag::printable(tensor.name) + "' (" +
                                 Twine(tensor.byteSize) +
                                 " bytes at data offset " + Twine(relative) +
                                 ") lies past the end of the file (" +
                                 Twine(dataSize) + " bytes of data)");
    tensor.fileOffset = dataStart + relative;
    order[i] = i;
  }
  llvm::sort(order, [&](size_t a, size_t b) {
    return file->tensorList[a].fileOffset < file->tensorList[b].fileOffset;
  });
  for (size_t i = 1; i < order.size(); ++i) {
    const GGUFTensor &previous = file->tensorList[order[i - 1]];
    const GGUFTensor &next = file->tensorList[order[i]];
    if (previous.fileOffset + previous.byteSize > next.fileOffset)
      return makeError(name, "tensors '" + diag::printable(previous.name) +
                                 "' and '" + diag::printable(next.name) +
                                 "' overlap");
  }
  file->fileBuffer = std::move(buffer);
  return std::move(file);
}

const GGUFValue *GGUFFile::find(StringRef key) const {
  auto it = metadata.find(key);
  return it == metadata.end() ? nullptr : &it->second;
}

ArrayRef<uint8_t> GGUFFile::bytes(const GGUFTensor &tensor) const {
  assert(tensor.fileOffset + tensor.byteSize <= fileBuffer->getBufferSize() &&
         "tensor of another file");
  return ArrayRef<uint8_t>(
      reinterpret_cast<const uint8_t *>(fileBuffer->getBufferStart()) +
          tensor.fileOffset,
      tensor.byteSize);
}
