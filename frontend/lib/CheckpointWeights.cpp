//===- CheckpointWeights.cpp - The tensors of a checkpoint ----------------===//
//
// The index of a sharded checkpoint is Hugging Face's
// `{"metadata": {...}, "weight_map": {"tensor name": "shard file", ...}}`.
// It is checked as strictly as a safetensors header: a tensor listed twice,
// a shard named by a path rather than a file of the directory, a tensor in
// a shard the index does not say, or one the index promises that its shard
// does not hold, each ends in one error naming the tensor and the file.
//
//===----------------------------------------------------------------------===//

#include "llamac/Frontend/CheckpointWeights.h"

#include "Diagnostics.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/SmallString.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/ADT/Twine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"

#include <algorithm>
#include <cassert>
#include <cstring>

using namespace llvm;
using namespace llamac;

namespace {

/// Real indexes are tens of KiB (the 8B's lists 291 tensors); the limit
/// bounds what a corrupt file can make us read.
constexpr uint64_t kMaxIndexSize = uint64_t(64) << 20;

Error makeError(StringRef path, const Twine &message) {
  return diag::makeError(path + ": " + message);
}

/// A shard must be a file beside the index: a name with a directory in it
/// could reach anywhere on the machine.
/// Control characters (NUL above all, which would cut the name short when
/// the file is opened) are refused too.
bool isPlainFileName(StringRef name) {
  return !name.empty() && name != "." && name != ".." &&
         name.find_first_of("/\\") == StringRef::npos &&
         llvm::none_of(name, [](char c) { return (unsigned char)c < 0x20; });
}

} // namespace

void CheckpointWeights::add(std::unique_ptr<SafetensorsFile> file) {
  const uint32_t index = uint32_t(files.size());
  for (const TensorInfo &tensor : file->tensors()) {
    byName[tensor.name] = all.size();
    all.push_back(tensor);
    all.back().file = index;
  }
  files.push_back({std::move(file), nullptr});
}

const MemoryBuffer &CheckpointWeights::SourceFile::buffer() const {
  return safetensors ? safetensors->buffer() : gguf->buffer();
}

StringRef CheckpointWeights::SourceFile::path() const {
  return safetensors ? safetensors->path() : gguf->path();
}

Expected<std::unique_ptr<CheckpointWeights>>
CheckpointWeights::openFile(StringRef path) {
  Expected<std::unique_ptr<SafetensorsFile>> file = SafetensorsFile::open(path);
  if (!file)
    return file.takeError();
  std::unique_ptr<CheckpointWeights> weights(new CheckpointWeights());
  weights->sourcePath = path.str();
  weights->add(std::move(*file));
  return std::move(weights);
}

Expected<std::unique_ptr<CheckpointWeights>>
CheckpointWeights::openIndex(StringRef indexPath) {
  // The size first, so that a huge file is never read.
  uint64_t size = 0;
  if (std::error_code ec = sys::fs::file_size(indexPath, size))
    return makeError(indexPath, ec.message());
  if (size > kMaxIndexSize)
    return makeError(indexPath, "index of " + Twine(size) +
                                    " bytes is larger than the limit of " +
                                    Twine(kMaxIndexSize) + " bytes");
  ErrorOr<std::unique_ptr<MemoryBuffer>> buffer =
      MemoryBuffer::getFile(indexPath, /*IsText=*/true);
  if (!buffer)
    return makeError(indexPath, buffer.getError().message());
  StringRef text = (*buffer)->getBuffer();
  if (text.size() > kMaxIndexSize)
    return makeError(indexPath, "index grew past the limit of " +
                                    Twine(kMaxIndexSize) +
                                    " bytes while it was read");
  Expected<json::Value> root = json::parse(text);
  if (!root)
    return makeError(indexPath,
                     "not valid JSON: " + toString(root.takeError()));
  const json::Object *object = root->getAsObject();
  if (!object)
    return makeError(indexPath,
                     "must be a JSON object, got " + diag::jsonKindName(*root));
  if (std::optional<diag::DuplicateKey> duplicate =
          diag::findDuplicateKey(text))
    return makeError(indexPath,
                     "key '" + duplicate->key + "' appears twice" +
                         (duplicate->topLevelKey.empty()
                              ? std::string()
                              : " in '" + duplicate->topLevelKey + "'"));
  if (const json::Value *metadata = object->get("metadata");
      metadata && !metadata->getAsObject())
    return makeError(indexPath, "'metadata' must be an object, got " +
                                    diag::jsonKindName(*metadata));
  const json::Value *mapValue = object->get("weight_map");
  if (!mapValue)
    return makeError(indexPath, "missing object 'weight_map'");
  const json::Object *weightMap = mapValue->getAsObject();
  if (!weightMap)
    return makeError(indexPath, "'weight_map' must be an object, got " +
                                    diag::jsonKindName(*mapValue));
  if (weightMap->empty())
    return makeError(indexPath, "'weight_map' lists no tensors");

  // Tensor -> shard, and the shards in a fixed order (Hugging Face's names
  // sort in shard order; json::Object does not keep the file's).
  StringMap<std::string> shardOf;
  std::vector<std::string> shards;
  StringSet<> seenShards;
  for (const auto &[name, value] : *weightMap) {
    std::optional<StringRef> shard = value.getAsString();
    if (!shard)
      return makeError(indexPath, "'weight_map' entry '" + StringRef(name) +
                                      "' must be a file name, got " +
                                      diag::jsonKindName(value));
    if (!isPlainFileName(*shard))
      return makeError(indexPath, "'weight_map' entry '" + StringRef(name) +
                                      "' names '" + *shard +
                                      "', which is not a file name in the "
                                      "checkpoint directory");
    shardOf[name] = shard->str();
    if (seenShards.insert(*shard).second)
      shards.push_back(shard->str());
  }
  std::sort(shards.begin(), shards.end());

  std::unique_ptr<CheckpointWeights> weights(new CheckpointWeights());
  weights->sourcePath = indexPath.str();
  StringRef directory = sys::path::parent_path(indexPath);
  for (const std::string &shard : shards) {
    SmallString<256> shardPath(directory);
    sys::path::append(shardPath, shard);
    Expected<std::unique_ptr<SafetensorsFile>> file =
        SafetensorsFile::open(shardPath);
    if (!file)
      return file.takeError();
    for (const TensorInfo &tensor : (*file)->tensors()) {
      auto listed = shardOf.find(tensor.name);
      if (listed == shardOf.end())
        return makeError(shardPath, "tensor '" + tensor.name +
                                        "' is not in the index " +
                                        sys::path::filename(indexPath));
      if (const TensorInfo *earlier = weights->find(tensor.name))
        return makeError(indexPath,
                         "tensor '" + tensor.name + "' is in both " +
                             sys::path::filename(weights->pathOf(*earlier)) +
                             " and " + shard);
      if (listed->second != shard)
        return makeError(indexPath, "tensor '" + tensor.name + "' is in " +
                                        shard + ", but the index lists it in " +
                                        listed->second);
    }
    weights->add(std::move(*file));
  }
  for (const auto &[name, value] : *weightMap)
    if (!weights->find(name))
      return makeError(indexPath, "tensor '" + StringRef(name) +
                                      "' is listed in " + *value.getAsString() +
                                      ", which does not hold it");
  return std::move(weights);
}

const TensorInfo *CheckpointWeights::find(StringRef name) const {
  auto it = byName.find(name);
  return it == byName.end() ? nullptr : &all[it->second];
}

ArrayRef<uint8_t> CheckpointWeights::bytes(const TensorInfo &tensor) const {
  assert(tensor.file < files.size() && "tensor of another checkpoint");
  assert(tensor.ropeHeads == 0 && "permuted rows: use bytes(tensor, scratch)");
  const MemoryBuffer &buffer = files[tensor.file].buffer();
  assert(tensor.fileOffset + tensor.byteSize <= buffer.getBufferSize() &&
         "tensor outside its file");
  return ArrayRef<uint8_t>(
      reinterpret_cast<const uint8_t *>(buffer.getBufferStart()) +
          tensor.fileOffset,
      tensor.byteSize);
}

ArrayRef<uint8_t>
CheckpointWeights::bytes(const TensorInfo &tensor,
                         std::vector<uint8_t> &scratch) const {
  if (tensor.ropeHeads == 0)
    return bytes(tensor);
  TensorInfo plain = tensor;
  plain.ropeHeads = 0;
  ArrayRef<uint8_t> stored = bytes(plain);
  // llama.cpp's converter stores row h*D + 2i + s of head h (D rows a
  // head) where Hugging Face has row h*D + s*D/2 + i, for s in {0, 1}.
  // Whole rows move, so this holds for quantized blocks too (a block never
  // spans two rows).
  const uint64_t rows = uint64_t(tensor.shape[0]);
  const uint64_t rowBytes = tensor.byteSize / rows;
  const uint64_t headRows = rows / tensor.ropeHeads;
  scratch.resize(tensor.byteSize);
  for (uint64_t head = 0; head < tensor.ropeHeads; ++head)
    for (uint64_t half = 0; half < 2; ++half)
      for (uint64_t i = 0; i < headRows / 2; ++i) {
        uint64_t to = head * headRows + half * (headRows / 2) + i;
        uint64_t from = head * headRows + 2 * i + half;
        std::memcpy(scratch.data() + to * rowBytes,
                    stored.data() + from * rowBytes, rowBytes);
      }
  return scratch;
}

StringRef CheckpointWeights::pathOf(const TensorInfo &tensor) const {
  assert(tensor.file < files.size() && "tensor of another checkpoint");
  return files[tensor.file].path();
}

void CheckpointWeights::releasePages(const TensorInfo &tensor) const {
  assert(tensor.file < files.size() && "tensor of another checkpoint");
  const MemoryBuffer &buffer = files[tensor.file].buffer();
  releaseMappedPages(
      buffer, ArrayRef<uint8_t>(
                  reinterpret_cast<const uint8_t *>(buffer.getBufferStart()) +
                      tensor.fileOffset,
                  tensor.byteSize));
}
