//===- Synth.cpp - Checkpoints with deterministic random weights ----------===//
//
// The 1B checkpoint is 2.47 GB, so the writer streams: each tensor is
// generated in fixed-size chunks straight into a reused buffer of BF16 values
// and written with one large write per chunk. Values come from a counter
// based generator (element i of a tensor is a hash of the tensor's key and
// i), which keeps every tensor independent of the others and of the order,
// and makes a chunk computable without the chunks before it.
//
// The directory is assembled under a temporary name and renamed into place,
// so an interrupted or failed run never leaves a checkpoint at the
// destination that a later `Checkpoint::open` could mistake for a good one.
//
//===----------------------------------------------------------------------===//

#include "llamac/Frontend/Synth.h"
#include "llamac/Frontend/Checkpoint.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/SmallString.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/Twine.h"
#include "llvm/Support/Endian.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Signals.h"
#include "llvm/Support/ThreadPool.h"
#include "llvm/Support/Threading.h"
#include "llvm/Support/raw_ostream.h"

#include <cmath>
#include <cstdio>
#include <cstring>
#include <future>
#include <iterator>
#include <limits>
#include <map>
#include <utility>
#include <vector>

using namespace llvm;
using namespace llamac;

namespace {

/// Elements generated and written per step: 2 MiB of BF16, large enough
/// that write calls cost nothing, small enough to stay in the L2 cache.
constexpr uint64_t kChunkElements = uint64_t(1) << 20;

/// How often, in bytes, the progress callback is called.
constexpr uint64_t kProgressInterval = uint64_t(16) << 20;

/// Room reserved for the JSON files and the safetensors header on top of
/// the tensor data when checking the free space.
constexpr uint64_t kSpaceSlack = uint64_t(1) << 20;

/// The files a synthetic checkpoint consists of. A non-empty destination
/// is only replaced if it holds nothing else, so that a real download
/// (which also has tokenizer files, a README, a license...) is never
/// mistaken for a previous synthetic checkpoint and deleted.
constexpr const char *kConfigFile = "config.json";
constexpr const char *kGenerationConfigFile = "generation_config.json";
constexpr const char *kWeightsFile = "model.safetensors";
constexpr const char *kIndexFile = "model.safetensors.index.json";

/// `model-00001-of-00004.safetensors`: the name `save_pretrained` gives
/// shard `number` of `count`.
std::string shardFileName(size_t number, size_t count) {
  char name[64];
  std::snprintf(name, sizeof(name), "model-%05zu-of-%05zu.safetensors", number,
                count);
  return name;
}

/// Whether `name` is a shard file name as shardFileName() makes them.
bool isShardFileName(StringRef name) {
  // "model-" 5 digits "-of-" 5 digits ".safetensors"
  if (!name.consume_front("model-") || !name.consume_back(".safetensors") ||
      name.size() != 14 || name.substr(5, 4) != "-of-")
    return false;
  return llvm::all_of(name.substr(0, 5), isDigit) &&
         llvm::all_of(name.substr(9), isDigit);
}

Error makeError(const Twine &message) {
  return createStringError(inconvertibleErrorCode(), message);
}

/// The splitmix64 output function (Steele, Lea, Flood 2014): a bijective
/// mix of a 64-bit state with full avalanche.
inline uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

/// splitmix64's state increment (2^64 divided by the golden ratio).
constexpr uint64_t kGolden = 0x9E3779B97F4A7C15ULL;

/// FNV-1a, spelled out rather than taken from a library so that the weights
/// of a given (seed, name) can never change with an LLVM upgrade.
uint64_t fnv1a64(StringRef text) {
  uint64_t hash = 0xCBF29CE484222325ULL;
  for (unsigned char c : text) {
    hash ^= c;
    hash *= 0x100000001B3ULL;
  }
  return hash;
}

/// The initial splitmix64 state of the stream of tensor `name`.
uint64_t tensorKey(uint64_t seed, StringRef name) {
  return mix64(fnv1a64(name) ^ mix64(seed + kGolden));
}

/// `value` rounded to BF16, to nearest with ties to even. The values
/// generated here are finite, so NaN needs no special case.
inline uint16_t toBF16(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof(bits));
  bits += 0x7FFF + ((bits >> 16) & 1);
  return uint16_t(bits >> 16);
}

/// Writes elements [first, first + count) of the tensor with stream `key`
/// to `out` as little-endian BF16, distributed with `mean` and `stddev`.
void generateChunk(uint64_t key, uint64_t first, uint64_t count, float mean,
                   float stddev, uint16_t *out) {
  // The sum of four uniform 16-bit integers has mean 4 * 65535 / 2 and
  // variance 4 * (65536^2 - 1) / 12; centring and dividing by the standard
  // deviation gives zero mean and unit variance.
  constexpr int32_t kCenter = 2 * 65535;
  const float scale =
      float(double(stddev) / std::sqrt((65536.0 * 65536.0 - 1.0) / 3.0));
  uint64_t state = key + first * kGolden;
  for (uint64_t i = 0; i < count; ++i) {
    state += kGolden;
    uint64_t bits = mix64(state);
    int32_t sum = int32_t(bits & 0xFFFF) + int32_t((bits >> 16) & 0xFFFF) +
                  int32_t((bits >> 32) & 0xFFFF) + int32_t(bits >> 48);
    uint16_t value = toBF16(mean + float(sum - kCenter) * scale);
    // The file is little-endian whatever the host is.
    out[i] = support::endian::byte_swap<uint16_t, endianness::little>(value);
  }
}

/// A tensor to write and its place in its file's data section.
struct PlannedTensor {
  std::string name;
  std::vector<int64_t> shape;
  uint64_t elements = 0;
  uint64_t begin = 0;
  /// RMSNorm weights are 1-dimensional and scale around 1.
  bool isNorm = false;
};

/// The layout of one safetensors file.
struct FilePlan {
  std::string name;
  std::vector<PlannedTensor> tensors;
  /// The JSON header, padded to a multiple of 8 bytes.
  std::string header;
  uint64_t dataBytes = 0;

  uint64_t fileBytes() const { return 8 + header.size() + dataBytes; }
};

/// Every weight file, and the index when there is more than one.
struct Plan {
  std::vector<FilePlan> files;
  /// `model.safetensors.index.json`, or empty for a single file.
  std::string index;

  uint64_t weightBytes() const {
    uint64_t bytes = 0;
    for (const FilePlan &file : files)
      bytes += file.fileBytes();
    return bytes;
  }
};

/// Where `name` comes in `LlamaForCausalLM.state_dict()`, which registers
/// per layer the attention, then the MLP, then the two norms (the graph's
/// expectedTensors() lists each norm before the projections it feeds).
/// Only the order inside a layer differs, so a rank for the suffix is
/// enough.
int stateDictRank(StringRef name) {
  static constexpr const char *kLayerOrder[] = {
      "self_attn.q_proj.weight", "self_attn.k_proj.weight",
      "self_attn.v_proj.weight", "self_attn.o_proj.weight",
      "mlp.gate_proj.weight",    "mlp.up_proj.weight",
      "mlp.down_proj.weight",    "input_layernorm.weight",
      "post_attention_layernorm.weight"};
  for (int rank = 0, e = int(std::size(kLayerOrder)); rank < e; ++rank)
    if (name.ends_with(kLayerOrder[rank]))
      return rank;
  return 0;
}

/// The header of a file holding `tensors` back to back, in that order.
std::string safetensorsHeader(ArrayRef<PlannedTensor> tensors) {
  // Written in data order with json::OStream, which keeps the order given,
  // like the header `safetensors` itself serializes.
  std::string header;
  raw_string_ostream os(header);
  json::OStream json(os);
  json.object([&] {
    json.attributeObject("__metadata__",
                         [&] { json.attribute("format", "pt"); });
    for (const PlannedTensor &tensor : tensors)
      json.attributeObject(tensor.name, [&] {
        json.attribute("dtype", "BF16");
        json.attributeArray("shape", [&] {
          for (int64_t extent : tensor.shape)
            json.value(extent);
        });
        json.attributeArray("data_offsets", [&] {
          json.value(tensor.begin);
          json.value(tensor.begin + 2 * tensor.elements);
        });
      });
  });
  os.flush();
  // Padding with spaces keeps the data 8-byte aligned in the file, as the
  // reference implementation does.
  header.append((8 - header.size() % 8) % 8, ' ');
  return header;
}

/// `model.safetensors.index.json` for `files`, as `save_pretrained` writes
/// it: `json.dumps(index, indent=2, sort_keys=True)` and a newline.
std::string indexJSON(ArrayRef<FilePlan> files) {
  std::map<std::string, std::string> weightMap;
  uint64_t totalSize = 0;
  for (const FilePlan &file : files) {
    totalSize += file.dataBytes;
    for (const PlannedTensor &tensor : file.tensors)
      weightMap[tensor.name] = file.name;
  }
  std::string text;
  raw_string_ostream os(text);
  json::OStream json(os, /*IndentSize=*/2);
  json.object([&] {
    json.attributeObject("metadata",
                         [&] { json.attribute("total_size", totalSize); });
    json.attributeObject("weight_map", [&] {
      for (const auto &[tensor, file] : weightMap)
        json.attribute(tensor, file);
    });
  });
  os << "\n";
  return text;
}

Plan makePlan(const LlamaConfig &config, uint64_t maxShardBytes) {
  std::map<std::string, const ExpectedTensor *> byName;
  std::vector<ExpectedTensor> expected = expectedTensors(config);
  for (const ExpectedTensor &tensor : expected)
    byName[tensor.name] = &tensor;

  Plan plan;
  for (const SynthWeightFile &file :
       planSynthWeightFiles(config, maxShardBytes)) {
    FilePlan filePlan;
    filePlan.name = file.name;
    for (const std::string &name : file.tensors) {
      const ExpectedTensor &expectedTensor = *byName.at(name);
      PlannedTensor tensor;
      tensor.name = name;
      tensor.shape = expectedTensor.shape;
      tensor.elements = 1;
      for (int64_t extent : expectedTensor.shape)
        tensor.elements *= uint64_t(extent);
      tensor.begin = filePlan.dataBytes;
      tensor.isNorm = expectedTensor.shape.size() == 1;
      filePlan.dataBytes += 2 * tensor.elements;
      filePlan.tensors.push_back(std::move(tensor));
    }
    filePlan.header = safetensorsHeader(filePlan.tensors);
    plan.files.push_back(std::move(filePlan));
  }
  if (plan.files.size() > 1)
    plan.index = indexJSON(plan.files);
  return plan;
}

/// "2.47 GB" for messages (decimal units, as disk sizes are quoted).
std::string formatBytes(uint64_t bytes) {
  if (bytes >= 1000000000)
    return formatv("{0:f2} GB", double(bytes) / 1e9).str();
  if (bytes >= 1000000)
    return formatv("{0:f1} MB", double(bytes) / 1e6).str();
  return formatv("{0} bytes", bytes).str();
}

std::string joinPath(StringRef dir, StringRef name) {
  SmallString<256> path(dir);
  sys::path::append(path, name);
  return std::string(path);
}

/// Writes `contents` to the new file `path`; errors name `shownPath`, the
/// file's eventual place, since the temporary directory is gone by the time
/// the user reads the message.
Error writeTextFile(StringRef path, StringRef shownPath, StringRef contents) {
  std::error_code ec;
  raw_fd_ostream os(path, ec, sys::fs::OF_None);
  if (ec)
    return makeError("cannot create '" + shownPath + "': " + ec.message());
  os << contents;
  os.close();
  if (os.has_error()) {
    ec = os.error();
    os.clear_error();
    return makeError("cannot write '" + shownPath + "': " + ec.message());
  }
  return Error::success();
}

/// Streams the safetensors file of `plan` to `path`. Progress counts from
/// `doneBefore` (the files written before this one) up to `total`.
Error writeWeights(StringRef path, StringRef shownPath, const FilePlan &plan,
                   uint64_t seed, uint64_t doneBefore, uint64_t total,
                   function_ref<void(uint64_t, uint64_t)> progress) {
  std::error_code ec;
  raw_fd_ostream os(path, ec, sys::fs::OF_None);
  if (ec)
    return makeError("cannot create '" + shownPath + "': " + ec.message());
  // Every write is large, and unbuffered there is nothing left to flush
  // (and fail again, fatally) when the stream is destroyed after an error.
  os.SetUnbuffered();
  // An interrupted run must not leave gigabytes behind in the temporary
  // directory.
  sys::RemoveFileOnSignal(path);
  auto fail = [&](std::error_code error) {
    os.clear_error();
    sys::DontRemoveFileOnSignal(path);
    return makeError("cannot write '" + shownPath + "': " + error.message());
  };

  std::string prefix(8, '\0');
  support::endian::write64le(prefix.data(), plan.header.size());
  prefix += plan.header;
  os << prefix;
  if (os.has_error())
    return fail(os.error());

  // Generating and writing take about as long as each other (some two
  // seconds each for the 1B model), so one worker generates chunk k + 1 into
  // one buffer while this thread writes chunk k from the other. The values do
  // not depend on the schedule: a chunk is a pure function of its position.
  struct Chunk {
    const PlannedTensor *tensor;
    uint64_t key;
    uint64_t first;
    uint64_t count;
  };
  std::vector<Chunk> chunks;
  for (const PlannedTensor &tensor : plan.tensors) {
    const uint64_t key = tensorKey(seed, tensor.name);
    for (uint64_t first = 0; first < tensor.elements; first += kChunkElements)
      chunks.push_back({&tensor, key, first,
                        std::min(kChunkElements, tensor.elements - first)});
  }
  std::vector<uint16_t> buffers[2] = {std::vector<uint16_t>(kChunkElements),
                                      std::vector<uint16_t>(kChunkElements)};
  // Declared after the buffers, so that on an early return it is destroyed,
  // and its pending task finished, before them.
  DefaultThreadPool pool(hardware_concurrency(1));
  auto generate = [&](size_t index) {
    return pool.async([&chunks, &buffers, index] {
      const Chunk &chunk = chunks[index];
      generateChunk(chunk.key, chunk.first, chunk.count,
                    chunk.tensor->isNorm ? 1.0f : 0.0f, float(kSynthWeightStd),
                    buffers[index % 2].data());
    });
  };

  uint64_t done = doneBefore + 8 + plan.header.size();
  uint64_t lastReported = doneBefore;
  std::shared_future<void> pending;
  if (!chunks.empty())
    pending = generate(0);
  for (size_t index = 0; index < chunks.size(); ++index) {
    pending.wait();
    // Chunk index + 1 overwrites the buffer of chunk index - 1, which has
    // been written by now.
    if (index + 1 < chunks.size())
      pending = generate(index + 1);
    os.write(reinterpret_cast<const char *>(buffers[index % 2].data()),
             2 * chunks[index].count);
    // A full disk shows up here, not at close, so a doomed run stops
    // early instead of generating the rest.
    if (os.has_error()) {
      pool.wait();
      return fail(os.error());
    }
    done += 2 * chunks[index].count;
    if (progress && done - lastReported >= kProgressInterval) {
      progress(done, total);
      lastReported = done;
    }
  }
  os.close();
  if (os.has_error())
    return fail(os.error());
  sys::DontRemoveFileOnSignal(path);
  return Error::success();
}

/// `generation_config.json` as Llama 3.2 Instruct ships it. Written with
/// json::OStream to keep the file's key order and to print 0.6 and 0.9 as
/// such rather than as their 17-digit expansions.
std::string generationConfigJSON(const LlamaConfig &config) {
  std::string text;
  raw_string_ostream os(text);
  json::OStream json(os, /*IndentSize=*/2);
  json.object([&] {
    if (config.bosTokenId)
      json.attribute("bos_token_id", *config.bosTokenId);
    json.attribute("do_sample", true);
    if (config.eosTokenIds.size() == 1)
      json.attribute("eos_token_id", config.eosTokenIds.front());
    else if (!config.eosTokenIds.empty())
      json.attributeArray("eos_token_id", [&] {
        for (int64_t id : config.eosTokenIds)
          json.value(id);
      });
    json.attributeBegin("temperature");
    json.rawValue("0.6");
    json.attributeEnd();
    json.attributeBegin("top_p");
    json.rawValue("0.9");
    json.attributeEnd();
  });
  os << "\n";
  return text;
}

/// What is at the destination path before writing.
enum class Destination { Absent, EmptyDir, PreviousSynth };

/// Classifies `dir` (`shown` in messages) or explains why it cannot be used.
Expected<Destination> inspectDestination(StringRef dir, StringRef shown) {
  sys::fs::file_status status;
  if (std::error_code ec = sys::fs::status(dir, status)) {
    if (ec == std::errc::no_such_file_or_directory)
      return Destination::Absent;
    return makeError("cannot access '" + shown + "': " + ec.message());
  }
  if (!sys::fs::is_directory(status))
    return makeError("'" + shown + "' exists and is not a directory");

  bool empty = true, onlyOurs = true, hasConfig = false, hasWeights = false;
  std::error_code ec;
  for (sys::fs::directory_iterator it(dir, ec), end; it != end && !ec;
       it.increment(ec)) {
    empty = false;
    StringRef name = sys::path::filename(it->path());
    hasConfig |= name == kConfigFile;
    hasWeights |= name == kWeightsFile || name == kIndexFile;
    onlyOurs &= name == kConfigFile || name == kWeightsFile ||
                name == kGenerationConfigFile || name == kIndexFile ||
                isShardFileName(name);
  }
  if (ec)
    return makeError("cannot read directory '" + shown + "': " + ec.message());
  if (empty)
    return Destination::EmptyDir;
  if (onlyOurs && hasConfig && hasWeights)
    return Destination::PreviousSynth;
  return makeError("'" + shown +
                   "' is a non-empty directory that is not a checkpoint "
                   "written by 'llamac synth'; refusing to replace it (choose "
                   "a new directory, or remove it first)");
}

/// Fills the fresh directory `tmp`; errors name the files under `shown`.
Error writeCheckpointFiles(StringRef tmp, StringRef shown,
                           const LlamaConfig &config, const Plan &plan,
                           uint64_t seed,
                           function_ref<void(uint64_t, uint64_t)> progress) {
  if (Error err =
          writeTextFile(joinPath(tmp, kConfigFile),
                        joinPath(shown, kConfigFile), config.toJSON() + "\n"))
    return err;
  if (Error err = writeTextFile(joinPath(tmp, kGenerationConfigFile),
                                joinPath(shown, kGenerationConfigFile),
                                generationConfigJSON(config)))
    return err;
  if (!plan.index.empty())
    if (Error err = writeTextFile(joinPath(tmp, kIndexFile),
                                  joinPath(shown, kIndexFile), plan.index))
      return err;
  const uint64_t total = plan.weightBytes();
  uint64_t done = 0;
  for (const FilePlan &file : plan.files) {
    if (Error err = writeWeights(joinPath(tmp, file.name),
                                 joinPath(shown, file.name), file, seed, done,
                                 total, progress))
      return err;
    done += file.fileBytes();
  }
  if (progress)
    progress(total, total);
  return Error::success();
}

} // namespace

std::vector<SynthWeightFile>
llamac::planSynthWeightFiles(const LlamaConfig &config,
                             uint64_t maxShardBytes) {
  std::vector<ExpectedTensor> tensors;
  for (ExpectedTensor &tensor : expectedTensors(config))
    // An optional tensor is the tied `lm_head.weight`, which Hugging Face
    // does not save.
    if (tensor.required)
      tensors.push_back(std::move(tensor));
  // Layers are contiguous in expectedTensors(); the stable sort by (layer,
  // rank) only reorders within one.
  auto layerOf = [](StringRef name) -> int64_t {
    if (!name.consume_front("model.layers."))
      return name.starts_with("model.embed_tokens")
                 ? -1
                 : std::numeric_limits<int64_t>::max();
    int64_t layer = 0;
    name.consumeInteger(10, layer);
    return layer;
  };
  std::stable_sort(tensors.begin(), tensors.end(),
                   [&](const ExpectedTensor &a, const ExpectedTensor &b) {
                     int64_t layerA = layerOf(a.name), layerB = layerOf(b.name);
                     if (layerA != layerB)
                       return layerA < layerB;
                     return stateDictRank(a.name) < stateDictRank(b.name);
                   });

  // huggingface_hub's split_state_dict_into_shards: a tensor that would
  // take the current shard past the limit starts a new one; a tensor above
  // the limit on its own is a shard by itself.
  std::vector<SynthWeightFile> files;
  SynthWeightFile current;
  for (const ExpectedTensor &tensor : tensors) {
    uint64_t bytes = 2;
    for (int64_t extent : tensor.shape)
      bytes *= uint64_t(extent);
    if (bytes > maxShardBytes) {
      files.push_back({"", {tensor.name}, bytes});
      continue;
    }
    if (!current.tensors.empty() && current.dataBytes + bytes > maxShardBytes)
      files.push_back(std::exchange(current, {}));
    current.tensors.push_back(tensor.name);
    current.dataBytes += bytes;
  }
  if (!current.tensors.empty())
    files.push_back(std::move(current));

  if (files.size() == 1)
    files.front().name = kWeightsFile;
  else
    for (size_t i = 0; i < files.size(); ++i)
      files[i].name = shardFileName(i + 1, files.size());
  return files;
}

Error llamac::synthesizeCheckpoint(
    StringRef dir, const LlamaConfig &inputConfig, uint64_t seed,
    function_ref<void(uint64_t done, uint64_t total)> progress,
    uint64_t maxShardBytes) {
  if (dir.empty())
    return makeError("no checkpoint directory given");
  if (maxShardBytes == 0)
    return makeError("cannot synthesize '" + dir +
                     "': the largest shard size must be at least one byte");
  if (Error err = inputConfig.validate())
    return makeError("cannot synthesize '" + dir +
                     "': invalid configuration: " + toString(std::move(err)));
  // The tensors are BF16 whatever the source configuration said.
  LlamaConfig config = inputConfig;
  config.torchDtype = "bfloat16";

  // An absolute, normalized path: the temporary and backup directories must
  // be siblings of `dir` on the same file system for the renames to work,
  // and "out/" must mean "out", not a "." inside it.
  SmallString<256> target(dir);
  if (std::error_code ec = sys::fs::make_absolute(target))
    return makeError("cannot resolve '" + dir + "': " + ec.message());
  sys::path::remove_dots(target, /*remove_dot_dot=*/true);
  // A symbolic link stands for the directory it points to: that directory
  // is the one replaced, so the link keeps working, and the old contents
  // are deleted where they are rather than through the link.
  if (sys::fs::is_symlink_file(target)) {
    SmallString<256> resolved;
    if (std::error_code ec = sys::fs::real_path(target, resolved))
      return makeError("cannot resolve the symbolic link '" + dir +
                       "': " + ec.message());
    target = resolved;
  }
  StringRef parent = sys::path::parent_path(target);
  if (parent.empty())
    return makeError("'" + dir + "' cannot be a checkpoint directory");

  sys::fs::file_status parentStatus;
  if (std::error_code ec = sys::fs::status(parent, parentStatus))
    return makeError("cannot create '" + dir + "': parent directory '" +
                     parent + "': " + ec.message());
  if (!sys::fs::is_directory(parentStatus))
    return makeError("cannot create '" + dir + "': '" + parent +
                     "' is not a directory");

  Expected<Destination> destination = inspectDestination(target, dir);
  if (!destination)
    return destination.takeError();

  Plan plan = makePlan(config, maxShardBytes);
  // The old checkpoint is only deleted after the new one is complete, so
  // the whole new size must fit next to it.
  const uint64_t needed = plan.weightBytes() + kSpaceSlack;
  ErrorOr<sys::fs::space_info> space = sys::fs::disk_space(parent);
  if (!space)
    return makeError("cannot determine the free space in '" + parent +
                     "': " + space.getError().message());
  if (space->available < needed)
    return makeError(formatv("not enough disk space for '{0}': the "
                             "checkpoint needs {1} ({2} bytes), '{3}' has {4} "
                             "({5} bytes) available",
                             dir, formatBytes(needed), needed, parent,
                             formatBytes(space->available), space->available)
                         .str());

  SmallString<256> tmp;
  if (std::error_code ec =
          sys::fs::createUniqueDirectory(Twine(target) + ".tmp", tmp))
    return makeError("cannot create a temporary directory next to '" + dir +
                     "' in '" + parent + "': " + ec.message());
  auto discard = [&](Error err) {
    sys::fs::remove_directories(tmp);
    return err;
  };

  if (Error err = writeCheckpointFiles(tmp, dir, config, plan, seed, progress))
    return discard(makeError(toString(std::move(err)) + "; '" + dir +
                             "' was left unchanged"));

  if (*destination != Destination::PreviousSynth) {
    // rename() replaces an empty directory, and fails rather than replace
    // one that has been filled since it was inspected.
    if (std::error_code ec = sys::fs::rename(tmp, target))
      return discard(makeError("cannot move the new checkpoint to '" + dir +
                               "': " + ec.message()));
    return Error::success();
  }

  // Replace the previous checkpoint: move it aside, move the new one in,
  // and only then delete the old one. Should the second rename fail, the
  // old checkpoint is put back.
  SmallString<256> old;
  sys::fs::createUniquePath(Twine(target) + ".old-%%%%%%", old,
                            /*MakeAbsolute=*/false);
  if (std::error_code ec = sys::fs::rename(target, old))
    return discard(makeError("cannot replace '" + dir +
                             "': moving the previous checkpoint aside "
                             "failed: " +
                             ec.message()));
  if (std::error_code ec = sys::fs::rename(tmp, target)) {
    std::error_code restored = sys::fs::rename(old, target);
    std::string note = restored ? "; the previous checkpoint is now at '" +
                                      std::string(old) + "'"
                                : "; the previous checkpoint was kept";
    return discard(makeError("cannot move the new checkpoint to '" + dir +
                             "': " + ec.message() + note));
  }
  // The new checkpoint is in place; a failure to delete the old copy costs
  // disk space but not correctness, and the copy has a recognizable name.
  sys::fs::remove_directories(old);
  return Error::success();
}
