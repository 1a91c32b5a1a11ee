//===- Safetensors.cpp - Memory-mapped safetensors reader -----------------===//
//
// The header is checked completely before any tensor is exposed: every
// tensor has a supported dtype, a shape whose byte size matches its data
// range, and a data range inside the file that overlaps no other tensor. A
// corrupt or hostile file therefore ends in one error naming the file and
// the tensor, never in an out-of-bounds read later.
//
//===----------------------------------------------------------------------===//

#include "llamac/Frontend/Safetensors.h"

#include "Diagnostics.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/ADT/Twine.h"
#include "llvm/Support/Endian.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MathExtras.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <cassert>
#include <limits>
#include <optional>
#include <tuple>

#include <sys/mman.h>
#include <unistd.h>

using namespace llvm;
using namespace llamac;
using diag::formatShape;

namespace {

/// Headers larger than this are refused: real headers are a few hundred
/// KiB, and the limit bounds the memory a corrupt length can make us use.
/// The Rust reference implementation uses the same limit.
constexpr uint64_t kMaxHeaderSize = uint64_t(100) << 20;

Error makeError(StringRef path, const Twine &message) {
  return createStringError(inconvertibleErrorCode(), path + ": " + message);
}

Error tensorError(StringRef path, StringRef tensor, const Twine &message) {
  return makeError(path, "tensor '" + tensor + "': " + message);
}

std::string formatRange(uint64_t begin, uint64_t end) {
  return "[" + std::to_string(begin) + ", " + std::to_string(end) + "]";
}

/// The dtypes of the safetensors format that llamac does not read; they are
/// reported as unsupported rather than as garbage.
bool isOtherSafetensorsDType(StringRef name) {
  static const char *const kOthers[] = {
      "BOOL",    "U8",  "I8",      "I16",     "U16",     "I32",
      "U32",     "I64", "U64",     "F64",     "F8_E4M3", "F8_E5M2",
      "F8_E8M0", "F4",  "F6_E2M3", "F6_E3M2", "C64"};
  return llvm::is_contained(kOthers, name);
}

std::optional<DType> parseDType(StringRef name) {
  if (name == "BF16")
    return DType::BF16;
  if (name == "F16")
    return DType::F16;
  if (name == "F32")
    return DType::F32;
  return std::nullopt;
}

/// A tensor entry as read from the header, before sorting.
struct RawTensor {
  TensorInfo info;
  uint64_t begin = 0;
  uint64_t end = 0;
};

/// Reads one tensor entry `name: {dtype, shape, data_offsets}` of a file
/// whose data section starts at byte `dataStart` and holds `dataSize` bytes.
Expected<RawTensor> parseTensorEntry(StringRef path, StringRef name,
                                     const json::Value &value,
                                     uint64_t dataStart, uint64_t dataSize) {
  const json::Object *entry = value.getAsObject();
  if (!entry)
    return tensorError(path, name,
                       "entry must be an object, got " + diag::jsonKindName(value));
  RawTensor tensor;
  tensor.info.name = name.str();

  const json::Value *dtypeValue = entry->get("dtype");
  if (!dtypeValue)
    return tensorError(path, name, "missing 'dtype'");
  std::optional<StringRef> dtypeText = dtypeValue->getAsString();
  if (!dtypeText)
    return tensorError(
        path, name, "'dtype' must be a string, got " + diag::jsonKindName(*dtypeValue));
  std::optional<DType> dtype = parseDType(*dtypeText);
  if (!dtype) {
    if (isOtherSafetensorsDType(*dtypeText))
      return tensorError(path, name,
                         "unsupported dtype '" + *dtypeText +
                             "' (llamac reads BF16, F16, F32)");
    return tensorError(path, name, "unknown dtype '" + *dtypeText + "'");
  }
  tensor.info.dtype = *dtype;

  const json::Value *shapeValue = entry->get("shape");
  if (!shapeValue)
    return tensorError(path, name, "missing 'shape'");
  const json::Array *shape = shapeValue->getAsArray();
  if (!shape)
    return tensorError(
        path, name, "'shape' must be an array, got " + diag::jsonKindName(*shapeValue));
  // The byte size is computed with overflow checks, so that a shape with a
  // huge product cannot wrap around and match a small data range.
  uint64_t byteSize = dtypeSize(*dtype);
  bool overflow = false;
  for (size_t i = 0, e = shape->size(); i != e; ++i) {
    const json::Value &dim = (*shape)[i];
    std::optional<uint64_t> extent = dim.getAsUINT64();
    if (!extent || *extent > uint64_t(std::numeric_limits<int64_t>::max()))
      return tensorError(path, name,
                         "shape[" + Twine(i) +
                             "] must be a non-negative integer, got " +
                             diag::renderJSON(dim));
    tensor.info.shape.push_back(int64_t(*extent));
    bool productOverflowed = false;
    byteSize = SaturatingMultiply(byteSize, *extent, &productOverflowed);
    overflow |= productOverflowed;
  }
  if (overflow || byteSize > uint64_t(std::numeric_limits<int64_t>::max()))
    return tensorError(path, name,
                       "shape " + formatShape(tensor.info.shape) +
                           " is too large");

  const json::Value *offsetsValue = entry->get("data_offsets");
  if (!offsetsValue)
    return tensorError(path, name, "missing 'data_offsets'");
  const json::Array *offsets = offsetsValue->getAsArray();
  if (!offsets || offsets->size() != 2)
    return tensorError(path, name,
                       "'data_offsets' must be an array [begin, end], got " +
                           diag::renderJSON(*offsetsValue));
  std::optional<uint64_t> begin = (*offsets)[0].getAsUINT64();
  std::optional<uint64_t> end = (*offsets)[1].getAsUINT64();
  if (!begin || !end)
    return tensorError(path, name,
                       "'data_offsets' must hold two non-negative integers, "
                       "got " +
                           diag::renderJSON(*offsetsValue));
  if (*begin > *end)
    return tensorError(path, name,
                       "data_offsets " + formatRange(*begin, *end) +
                           ": begin is after end");
  if (*end > dataSize)
    return tensorError(path, name,
                       "data_offsets " + formatRange(*begin, *end) +
                           " run past the end of the data section (" +
                           Twine(dataSize) + " bytes)");
  if (*end - *begin != byteSize)
    return tensorError(path, name,
                       "data_offsets " + formatRange(*begin, *end) + " hold " +
                           Twine(*end - *begin) + " bytes, but shape " +
                           formatShape(tensor.info.shape) + " of " +
                           dtypeName(*dtype) + " needs " + Twine(byteSize) +
                           " bytes");
  // Writers pad the header so that every tensor starts at a multiple of its
  // element size; one that does not is damaged or hand-made, and its
  // elements could not be read in place.
  if ((dataStart + *begin) % dtypeSize(*dtype) != 0)
    return tensorError(path, name,
                       "data_offsets " + formatRange(*begin, *end) +
                           " put it at file offset " + Twine(dataStart + *begin) +
                           ", misaligned for its " + Twine(dtypeSize(*dtype)) +
                           "-byte " + dtypeName(*dtype) + " elements");
  tensor.begin = *begin;
  tensor.end = *end;
  tensor.info.byteSize = byteSize;
  return tensor;
}

/// Reads `__metadata__`, a flat map of strings.
Error parseMetadata(StringRef path, const json::Value &value,
                    std::map<std::string, std::string> &metadata) {
  const json::Object *object = value.getAsObject();
  if (!object)
    return makeError(path, "'__metadata__' must be an object of strings, got " +
                               diag::jsonKindName(value));
  for (const auto &[key, entry] : *object) {
    std::optional<StringRef> text = entry.getAsString();
    if (!text)
      return makeError(path, "'__metadata__' entry '" + StringRef(key) +
                                 "' must be a string, got " + diag::jsonKindName(entry));
    metadata[key.str()] = text->str();
  }
  return Error::success();
}

} // namespace

size_t llamac::dtypeSize(DType dtype) {
  switch (dtype) {
  case DType::BF16:
  case DType::F16:
    return 2;
  case DType::F32:
    return 4;
  case DType::Q8_0:
  case DType::Q4_0:
  case DType::Q4_K:
  case DType::Q5_K:
  case DType::Q6_K:
    break;
  }
  llvm_unreachable("not a float DType");
}

bool llamac::isBlockDType(DType dtype) {
  return dtype != DType::BF16 && dtype != DType::F16 && dtype != DType::F32;
}

StringRef llamac::dtypeName(DType dtype) {
  switch (dtype) {
  case DType::BF16:
    return "BF16";
  case DType::F16:
    return "F16";
  case DType::F32:
    return "F32";
  case DType::Q8_0:
    return "Q8_0";
  case DType::Q4_0:
    return "Q4_0";
  case DType::Q4_K:
    return "Q4_K";
  case DType::Q5_K:
    return "Q5_K";
  case DType::Q6_K:
    return "Q6_K";
  }
  llvm_unreachable("unknown DType");
}

int64_t TensorInfo::numElements() const {
  // The reader has checked that the product fits (it is at most byteSize).
  int64_t count = 1;
  for (int64_t extent : shape)
    count *= extent;
  return count;
}

Expected<std::unique_ptr<SafetensorsFile>>
SafetensorsFile::open(StringRef path) {
  // Large files are mapped, not read: the weights are only paged in when a
  // later stage touches them.
  ErrorOr<std::unique_ptr<MemoryBuffer>> buffer =
      MemoryBuffer::getFile(path, /*IsText=*/false,
                            /*RequiresNullTerminator=*/false);
  if (!buffer)
    return makeError(path, buffer.getError().message());
  return fromBuffer(std::move(*buffer), path);
}

Expected<std::unique_ptr<SafetensorsFile>>
SafetensorsFile::fromBuffer(std::unique_ptr<MemoryBuffer> buffer,
                            StringRef name) {
  assert(buffer && "null buffer");
  uint64_t fileSize = buffer->getBufferSize();
  if (fileSize < 8)
    return makeError(name, "truncated: file is " + Twine(fileSize) +
                               " bytes, shorter than the 8-byte header "
                               "length");
  uint64_t headerSize = support::endian::read64le(buffer->getBufferStart());
  if (headerSize == 0)
    return makeError(name, "header length is 0");
  if (headerSize > fileSize - 8)
    return makeError(name, "header length " + Twine(headerSize) +
                               " runs past the end of the file (" +
                               Twine(fileSize) + " bytes)");
  if (headerSize > kMaxHeaderSize)
    return makeError(name, "header length " + Twine(headerSize) +
                               " exceeds the limit of " +
                               Twine(kMaxHeaderSize) + " bytes");

  StringRef headerText(buffer->getBufferStart() + 8, headerSize);
  Expected<json::Value> header = json::parse(headerText);
  if (!header)
    return makeError(name, "header is not valid JSON: " +
                               toString(header.takeError()));
  const json::Object *entries = header->getAsObject();
  if (!entries)
    return makeError(name,
                     "header is not a JSON object, got " + diag::jsonKindName(*header));
  if (std::optional<diag::DuplicateKey> duplicate =
          diag::findDuplicateKey(headerText)) {
    if (duplicate->topLevelKey.empty())
      return makeError(name, "duplicate tensor name '" + duplicate->key +
                                 "' in the header");
    return tensorError(name, duplicate->topLevelKey,
                       "duplicate key '" + duplicate->key + "'");
  }

  std::unique_ptr<SafetensorsFile> file(new SafetensorsFile());
  file->filePath = name.str();
  uint64_t dataStart = 8 + headerSize;
  uint64_t dataSize = fileSize - dataStart;

  std::vector<RawTensor> raw;
  raw.reserve(entries->size());
  for (const auto &[key, value] : *entries) {
    if (StringRef(key) == "__metadata__") {
      if (Error err = parseMetadata(name, value, file->metadataMap))
        return std::move(err);
      continue;
    }
    Expected<RawTensor> tensor = parseTensorEntry(name, key, value, dataStart, dataSize);
    if (!tensor)
      return tensor.takeError();
    raw.push_back(std::move(*tensor));
  }

  // Sort by data range (names break ties, as json::Object iterates in hash
  // order) so that the order, and which error is reported, is stable.
  llvm::sort(raw, [](const RawTensor &a, const RawTensor &b) {
    return std::tie(a.begin, a.end, a.info.name) <
           std::tie(b.begin, b.end, b.info.name);
  });
  // Empty tensors own no bytes and cannot overlap anything.
  const RawTensor *previous = nullptr;
  for (const RawTensor &tensor : raw) {
    if (tensor.begin == tensor.end)
      continue;
    if (previous && tensor.begin < previous->end)
      return makeError(name, "tensors '" + previous->info.name + "' " +
                                 formatRange(previous->begin, previous->end) +
                                 " and '" + tensor.info.name + "' " +
                                 formatRange(tensor.begin, tensor.end) +
                                 " overlap");
    if (!previous || tensor.end > previous->end)
      previous = &tensor;
  }

  file->tensorList.reserve(raw.size());
  for (RawTensor &tensor : raw) {
    tensor.info.fileOffset = dataStart + tensor.begin;
    file->index.emplace(tensor.info.name, file->tensorList.size());
    file->tensorList.push_back(std::move(tensor.info));
  }
  file->fileBuffer = std::move(buffer);
  return std::move(file);
}

const TensorInfo *SafetensorsFile::find(StringRef name) const {
  auto it = index.find(name);
  if (it == index.end())
    return nullptr;
  return &tensorList[it->second];
}

ArrayRef<uint8_t> SafetensorsFile::bytes(const TensorInfo &tensor) const {
  assert(tensor.fileOffset + tensor.byteSize <= fileBuffer->getBufferSize() &&
         "tensor of another file");
  return ArrayRef<uint8_t>(
      reinterpret_cast<const uint8_t *>(fileBuffer->getBufferStart()) +
          tensor.fileOffset,
      tensor.byteSize);
}

void SafetensorsFile::releasePages(const TensorInfo &tensor) const {
  releaseMappedPages(*fileBuffer, bytes(tensor));
}

void llamac::releaseMappedPages(const MemoryBuffer &buffer,
                                ArrayRef<uint8_t> bytes) {
  // Only a mapping of the file may be dropped: pages of a buffer the file
  // was read into would come back zeroed.
  if (buffer.getBufferKind() != MemoryBuffer::MemoryBuffer_MMap)
    return;
  const uintptr_t page = uintptr_t(::sysconf(_SC_PAGESIZE));
  // Inward to whole pages: a page shared with a neighbour stays.
  uintptr_t begin = alignTo(uintptr_t(bytes.data()), page);
  uintptr_t end = alignDown(uintptr_t(bytes.data() + bytes.size()), page);
  if (begin < end)
    ::madvise(reinterpret_cast<void *>(begin), end - begin, MADV_DONTNEED);
}
