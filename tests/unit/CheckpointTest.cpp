//===- CheckpointTest.cpp - Tests of checkpoint directory validation ------===//
//
// Opens the golden checkpoints, and checkpoints written to a temporary
// directory with one tensor missing, misshapen or extra.
//
//===----------------------------------------------------------------------===//

#include "llamac/Frontend/Checkpoint.h"

#include "llvm/ADT/SmallString.h"
#include "llvm/Support/Endian.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#include "gtest/gtest.h"

#include <cstdio>
#include <functional>
#include <map>
#include <initializer_list>

using namespace llvm;
using namespace llamac;

namespace {

std::string goldenDir(StringRef model) {
  SmallString<256> path(LLAMAC_GOLDEN_DIR);
  sys::path::append(path, model);
  return std::string(path);
}

template <typename T> std::string errorOf(Expected<T> result) {
  if (result) {
    ADD_FAILURE() << "expected an error";
    return "";
  }
  return toString(result.takeError());
}

void expectContains(const std::string &message,
                    std::initializer_list<const char *> parts) {
  EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  for (const char *part : parts)
    EXPECT_NE(message.find(part), std::string::npos)
        << "'" << part << "' not in: " << message;
}

/// A tensor to write: BF16 with the given shape.
struct TensorSpec {
  std::string name;
  std::vector<int64_t> shape;
};

/// Serializes `tensors` as a safetensors file with contiguous BF16 data,
/// every byte `fill`.
std::string makeSafetensors(const std::vector<TensorSpec> &tensors,
                            char fill = '\x3f') {
  json::Object header;
  header["__metadata__"] = json::Object{{"format", "pt"}};
  uint64_t offset = 0;
  for (const TensorSpec &tensor : tensors) {
    uint64_t size = 2;
    for (int64_t extent : tensor.shape)
      size *= uint64_t(extent);
    header[tensor.name] =
        json::Object{{"dtype", "BF16"},
                     {"shape", json::Array(tensor.shape)},
                     {"data_offsets", json::Array{offset, offset + size}}};
    offset += size;
  }
  std::string headerText = formatv("{0}", json::Value(std::move(header)));
  // Padded to 8 bytes like the Hugging Face writer: tensors stay aligned.
  headerText.append((8 - headerText.size() % 8) % 8, ' ');
  std::string bytes(8, '\0');
  support::endian::write64le(bytes.data(), headerText.size());
  bytes += headerText;
  bytes.append(offset, fill);
  return bytes;
}

/// A tiny config: hidden 8, MLP 16, 2 layers, 2 heads of 4 sharing 1 KV
/// head, vocab 32.
json::Object tinyConfig(bool tied) {
  return json::Object{
      {"model_type", "llama"},
      {"hidden_size", 8},
      {"intermediate_size", 16},
      {"num_hidden_layers", 2},
      {"num_attention_heads", 2},
      {"num_key_value_heads", 1},
      {"head_dim", 4},
      {"vocab_size", 32},
      {"max_position_embeddings", 64},
      {"rms_norm_eps", 1e-5},
      {"tie_word_embeddings", tied},
  };
}

LlamaConfig parsedTinyConfig(bool tied) {
  Expected<LlamaConfig> config = parseLlamaConfig(
      formatv("{0}", json::Value(tinyConfig(tied))).str(), "tiny");
  EXPECT_TRUE(bool(config)) << toString(config.takeError());
  return config ? *config : LlamaConfig();
}

/// Every tensor the tiny config expects, lm_head included.
std::vector<TensorSpec> allTensors(bool tied) {
  std::vector<TensorSpec> specs;
  for (const ExpectedTensor &tensor : expectedTensors(parsedTinyConfig(tied)))
    specs.push_back({tensor.name, tensor.shape});
  return specs;
}

void removeTensor(std::vector<TensorSpec> &specs, StringRef name) {
  auto it = llvm::find_if(
      specs, [&](const TensorSpec &spec) { return spec.name == name; });
  ASSERT_NE(it, specs.end()) << name.str();
  specs.erase(it);
}

TEST(ExpectedTensors, Llama32_1B) {
  Expected<LlamaConfig> config = getPresetConfig("1b");
  ASSERT_TRUE(bool(config)) << toString(config.takeError());
  std::vector<ExpectedTensor> tensors = expectedTensors(*config);
  ASSERT_EQ(tensors.size(), 3u + 9u * 16u);
  EXPECT_EQ(tensors.front().name, "model.embed_tokens.weight");
  EXPECT_EQ(tensors.front().shape, (std::vector<int64_t>{128256, 2048}));
  EXPECT_EQ(tensors[tensors.size() - 2].name, "model.norm.weight");
  EXPECT_EQ(tensors.back().name, "lm_head.weight");
  EXPECT_FALSE(tensors.back().required) << "tied: lm_head is optional";

  // Layer 3 in the Hugging Face order.
  const char *const layerNames[] = {
      "input_layernorm.weight",  "self_attn.q_proj.weight",
      "self_attn.k_proj.weight", "self_attn.v_proj.weight",
      "self_attn.o_proj.weight", "post_attention_layernorm.weight",
      "mlp.gate_proj.weight",    "mlp.up_proj.weight",
      "mlp.down_proj.weight"};
  const std::vector<int64_t> layerShapes[] = {
      {2048}, {2048, 2048}, {512, 2048},  {512, 2048}, {2048, 2048},
      {2048}, {8192, 2048}, {8192, 2048}, {2048, 8192}};
  for (size_t j = 0; j < 9; ++j) {
    const ExpectedTensor &tensor = tensors[1 + 3 * 9 + j];
    EXPECT_EQ(tensor.name, std::string("model.layers.3.") + layerNames[j]);
    EXPECT_EQ(tensor.shape, layerShapes[j]) << tensor.name;
    EXPECT_TRUE(tensor.required) << tensor.name;
  }
}

TEST(ExpectedTensors, UntiedNeedsLmHead) {
  std::vector<ExpectedTensor> tensors =
      expectedTensors(parsedTinyConfig(/*tied=*/false));
  ASSERT_EQ(tensors.size(), 3u + 9u * 2u);
  EXPECT_EQ(tensors.back().name, "lm_head.weight");
  EXPECT_TRUE(tensors.back().required);
  EXPECT_EQ(tensors.back().shape, (std::vector<int64_t>{32, 8}));
  // q_proj is heads * head_dim = 8 rows; k_proj 1 * 4.
  EXPECT_EQ(tensors[2].name, "model.layers.0.self_attn.q_proj.weight");
  EXPECT_EQ(tensors[2].shape, (std::vector<int64_t>{8, 8}));
  EXPECT_EQ(tensors[3].shape, (std::vector<int64_t>{4, 8}));
  EXPECT_EQ(tensors[5].shape, (std::vector<int64_t>{8, 8}));
}

TEST(Checkpoint, GoldenTied) {
  Expected<Checkpoint> checkpoint = Checkpoint::open(goldenDir("llama-golden"));
  ASSERT_TRUE(bool(checkpoint)) << toString(checkpoint.takeError());
  EXPECT_EQ(checkpoint->directory, goldenDir("llama-golden"));
  EXPECT_EQ(checkpoint->config.numLayers, 2);
  EXPECT_TRUE(checkpoint->config.tieWordEmbeddings);
  ASSERT_NE(checkpoint->weights, nullptr);
  EXPECT_EQ(checkpoint->weights->tensors().size(), 20u);
  EXPECT_EQ(checkpoint->weights->find("lm_head.weight"), nullptr);
  const TensorInfo *k =
      checkpoint->weights->find("model.layers.1.self_attn.k_proj.weight");
  ASSERT_NE(k, nullptr);
  EXPECT_EQ(k->shape, (std::vector<int64_t>{64, 256}));
}

TEST(Checkpoint, GoldenGQA) {
  Expected<Checkpoint> checkpoint =
      Checkpoint::open(goldenDir("llama-golden-gqa"));
  ASSERT_TRUE(bool(checkpoint)) << toString(checkpoint.takeError());
  EXPECT_EQ(checkpoint->config.numLayers, 3);
  EXPECT_FALSE(checkpoint->config.tieWordEmbeddings);
  EXPECT_EQ(checkpoint->weights->tensors().size(), 30u);
  ASSERT_NE(checkpoint->weights->find("lm_head.weight"), nullptr);
  for (const TensorInfo &tensor : checkpoint->weights->tensors())
    EXPECT_EQ(tensor.dtype, DType::BF16) << tensor.name;
}

TEST(Checkpoint, NoSuchDirectory) {
  std::string dir = goldenDir("no-such-model");
  std::string message = errorOf(Checkpoint::open(dir));
  EXPECT_EQ(message, dir + ": no such directory");
}

TEST(Checkpoint, NotADirectory) {
  std::string path = goldenDir("llama-golden") + "/config.json";
  expectContains(errorOf(Checkpoint::open(path)),
                 {"config.json", "neither a checkpoint directory nor a GGUF file"});
}

/// Writes checkpoints into a fresh temporary directory.
class CheckpointDirTest : public ::testing::Test {
protected:
  void SetUp() override {
    ASSERT_FALSE(sys::fs::createUniqueDirectory("llamac-ckpt-test", dir));
  }
  void TearDown() override { sys::fs::remove_directories(dir); }

  void write(StringRef name, StringRef bytes) {
    SmallString<256> path(dir);
    sys::path::append(path, name);
    std::error_code ec;
    raw_fd_ostream os(path, ec);
    ASSERT_FALSE(ec) << ec.message();
    os << bytes;
  }

  void writeCheckpoint(const json::Object &config,
                       const std::vector<TensorSpec> &tensors) {
    write("config.json",
          formatv("{0:2}", json::Value(json::Object(config))).str());
    write("model.safetensors", makeSafetensors(tensors));
  }

  Expected<Checkpoint> open() { return Checkpoint::open(dir); }

  std::string weightsPath() const {
    SmallString<256> path(dir);
    sys::path::append(path, "model.safetensors");
    return std::string(path);
  }

  SmallString<256> dir;
};

TEST_F(CheckpointDirTest, ValidUntied) {
  writeCheckpoint(tinyConfig(false), allTensors(false));
  Expected<Checkpoint> checkpoint = open();
  ASSERT_TRUE(bool(checkpoint)) << toString(checkpoint.takeError());
  EXPECT_EQ(checkpoint->weights->tensors().size(), 21u);
  EXPECT_EQ(checkpoint->weights->path(), weightsPath());
}

TEST_F(CheckpointDirTest, TiedWithAndWithoutLmHead) {
  std::vector<TensorSpec> tensors = allTensors(true);
  writeCheckpoint(tinyConfig(true), tensors);
  Expected<Checkpoint> withCopy = open();
  EXPECT_TRUE(bool(withCopy)) << toString(withCopy.takeError());

  removeTensor(tensors, "lm_head.weight");
  writeCheckpoint(tinyConfig(true), tensors);
  Expected<Checkpoint> without = open();
  EXPECT_TRUE(bool(without)) << toString(without.takeError());
}

TEST_F(CheckpointDirTest, MissingTensor) {
  std::vector<TensorSpec> tensors = allTensors(false);
  removeTensor(tensors, "model.layers.1.mlp.up_proj.weight");
  writeCheckpoint(tinyConfig(false), tensors);
  std::string message = errorOf(open());
  EXPECT_EQ(message, weightsPath() +
                         ": missing tensor 'model.layers.1.mlp.up_proj.weight' "
                         "(expected shape [16, 8])");
}

TEST_F(CheckpointDirTest, ManyMissingTensors) {
  std::vector<TensorSpec> tensors = allTensors(false);
  removeTensor(tensors, "model.norm.weight");
  removeTensor(tensors, "model.layers.0.input_layernorm.weight");
  writeCheckpoint(tinyConfig(false), tensors);
  expectContains(errorOf(open()),
                 {"missing tensor 'model.layers.0.input_layernorm.weight'",
                  "[8]", "and 1 more"});
}

TEST_F(CheckpointDirTest, LmHeadMissingWhenUntied) {
  std::vector<TensorSpec> tensors = allTensors(false);
  removeTensor(tensors, "lm_head.weight");
  writeCheckpoint(tinyConfig(false), tensors);
  expectContains(
      errorOf(open()),
      {"model.safetensors", "missing tensor 'lm_head.weight'", "[32, 8]"});
}

TEST_F(CheckpointDirTest, ShapeMismatch) {
  std::vector<TensorSpec> tensors = allTensors(false);
  for (TensorSpec &tensor : tensors)
    if (tensor.name == "model.layers.0.self_attn.k_proj.weight")
      tensor.shape = {8, 8}; // As if num_key_value_heads were 2.
  writeCheckpoint(tinyConfig(false), tensors);
  std::string message = errorOf(open());
  EXPECT_EQ(message, weightsPath() +
                         ": tensor 'model.layers.0.self_attn.k_proj.weight' "
                         "has shape [8, 8], expected [4, 8]");
}

TEST_F(CheckpointDirTest, TransposedShape) {
  std::vector<TensorSpec> tensors = allTensors(false);
  for (TensorSpec &tensor : tensors)
    if (tensor.name == "model.layers.1.mlp.down_proj.weight")
      tensor.shape = {16, 8};
  writeCheckpoint(tinyConfig(false), tensors);
  expectContains(errorOf(open()), {"'model.layers.1.mlp.down_proj.weight'",
                                   "[16, 8]", "expected [8, 16]"});
}

TEST_F(CheckpointDirTest, UnexpectedTensor) {
  std::vector<TensorSpec> tensors = allTensors(false);
  tensors.push_back({"model.layers.0.self_attn.q_proj.bias", {8}});
  writeCheckpoint(tinyConfig(false), tensors);
  expectContains(errorOf(open()),
                 {"unexpected tensor 'model.layers.0.self_attn.q_proj.bias'"});

  // A layer beyond num_hidden_layers.
  tensors = allTensors(false);
  tensors.push_back({"model.layers.2.input_layernorm.weight", {8}});
  writeCheckpoint(tinyConfig(false), tensors);
  expectContains(errorOf(open()),
                 {"unexpected tensor 'model.layers.2.input_layernorm.weight'"});
}

TEST_F(CheckpointDirTest, RotaryInvFreqIgnored) {
  std::vector<TensorSpec> tensors = allTensors(false);
  tensors.push_back({"model.layers.0.self_attn.rotary_emb.inv_freq", {2}});
  tensors.push_back({"model.layers.1.self_attn.rotary_emb.inv_freq", {2}});
  writeCheckpoint(tinyConfig(false), tensors);
  Expected<Checkpoint> checkpoint = open();
  EXPECT_TRUE(bool(checkpoint)) << toString(checkpoint.takeError());
}

/// The tiny untied checkpoint as three shards and an index; shard i's
/// bytes are all 'a' + i. `index` edits the index before it is written.
class ShardedCheckpointTest : public CheckpointDirTest {
protected:
  static constexpr int kShards = 3;

  static std::string shardName(int i) {
    char name[40];
    std::snprintf(name, sizeof name, "model-%05d-of-%05d.safetensors", i + 1,
                  kShards);
    return name;
  }

  std::vector<std::vector<TensorSpec>> shards() {
    std::vector<TensorSpec> tensors = allTensors(false);
    std::vector<std::vector<TensorSpec>> parts(kShards);
    for (size_t i = 0; i < tensors.size(); ++i)
      parts[i * kShards / tensors.size()].push_back(tensors[i]);
    return parts;
  }

  /// Tensor -> shard file. (Edited as a std::map: a json::Object copied
  /// after an erase brings the erased key back in LLVM 19.)
  using WeightMap = std::map<std::string, std::string>;

  WeightMap weightMapOf(const std::vector<std::vector<TensorSpec>> &parts) {
    WeightMap weightMap;
    for (int i = 0; i < kShards; ++i)
      for (const TensorSpec &tensor : parts[i])
        weightMap[tensor.name] = shardName(i);
    return weightMap;
  }

  void writeSharded(const std::vector<std::vector<TensorSpec>> &parts,
                    const WeightMap &weightMap) {
    write("config.json", formatv("{0}", json::Value(tinyConfig(false))).str());
    for (int i = 0; i < kShards; ++i)
      write(shardName(i), makeSafetensors(parts[i], char('a' + i)));
    json::Object entries;
    for (const auto &[tensor, shard] : weightMap)
      entries[tensor] = shard;
    json::Object index{{"metadata", json::Object{{"total_size", 1234}}},
                       {"weight_map", std::move(entries)}};
    write("model.safetensors.index.json",
          formatv("{0:2}", json::Value(std::move(index))).str());
  }

  void writeSharded() {
    std::vector<std::vector<TensorSpec>> parts = shards();
    writeSharded(parts, weightMapOf(parts));
  }

  std::string path(StringRef name) const {
    SmallString<256> path(dir);
    sys::path::append(path, name);
    return std::string(path);
  }
  std::string indexPath() const { return path("model.safetensors.index.json"); }

};

TEST_F(ShardedCheckpointTest, OpensEveryShard) {
  writeSharded();
  Expected<Checkpoint> checkpoint = open();
  ASSERT_TRUE(bool(checkpoint)) << toString(checkpoint.takeError());
  const CheckpointWeights &weights = *checkpoint->weights;
  EXPECT_EQ(weights.path(), indexPath());
  EXPECT_EQ(weights.numFiles(), size_t(kShards));
  ASSERT_EQ(weights.tensors().size(), 21u);
  std::vector<std::vector<TensorSpec>> parts = shards();
  for (int i = 0; i < kShards; ++i)
    for (const TensorSpec &spec : parts[i]) {
      const TensorInfo *tensor = weights.find(spec.name);
      ASSERT_NE(tensor, nullptr) << spec.name;
      EXPECT_EQ(tensor->shape, spec.shape) << spec.name;
      EXPECT_EQ(weights.pathOf(*tensor), path(shardName(i))) << spec.name;
      // The bytes are those of the shard that holds it.
      ArrayRef<uint8_t> bytes = weights.bytes(*tensor);
      EXPECT_EQ(bytes.size(), tensor->byteSize);
      EXPECT_TRUE(llvm::all_of(bytes, [&](uint8_t b) { return b == 'a' + i; }))
          << spec.name;
    }
}

TEST_F(ShardedCheckpointTest, ASingleFileWinsOverAnIndex) {
  writeCheckpoint(tinyConfig(false), allTensors(false));
  write("model.safetensors.index.json", "not even JSON");
  Expected<Checkpoint> checkpoint = open();
  ASSERT_TRUE(bool(checkpoint)) << toString(checkpoint.takeError());
  EXPECT_EQ(checkpoint->weights->path(), weightsPath());
  EXPECT_EQ(checkpoint->weights->numFiles(), 1u);
}

TEST_F(ShardedCheckpointTest, NeitherWeightsNorIndex) {
  write("config.json", formatv("{0}", json::Value(tinyConfig(false))).str());
  expectContains(errorOf(open()), {"model.safetensors", "No such file"});
}

TEST_F(ShardedCheckpointTest, MalformedIndex) {
  struct Case {
    const char *name;
    std::string index;
    std::vector<const char *> expected;
  };
  const std::string shard = shardName(0);
  const Case cases[] = {
      {"not JSON", "{\"weight_map\": ", {"not valid JSON"}},
      {"not an object", "[1, 2]", {"must be a JSON object, got array"}},
      {"no map", "{\"metadata\": {}}", {"missing object 'weight_map'"}},
      {"map not an object", "{\"weight_map\": []}",
       {"'weight_map' must be an object, got array"}},
      {"metadata not an object", "{\"metadata\": 3, \"weight_map\": {}}",
       {"'metadata' must be an object, got number"}},
      {"empty map", "{\"weight_map\": {}}", {"lists no tensors"}},
      {"entry not a string",
       "{\"weight_map\": {\"model.norm.weight\": 1}}",
       {"entry 'model.norm.weight' must be a file name, got number"}},
      {"path outside the directory",
       "{\"weight_map\": {\"model.norm.weight\": \"../" + shard + "\"}}",
       {"names '../model-00001-of-00003.safetensors'",
        "not a file name in the checkpoint directory"}},
      {"absolute path",
       "{\"weight_map\": {\"model.norm.weight\": \"/etc/passwd\"}}",
       {"'/etc/passwd'", "not a file name"}},
      {"control character in a shard name",
       "{\"weight_map\": {\"model.norm.weight\": \"" + shard +
           "\\u0000.txt\"}}",
       {"not a file name in the checkpoint directory"}},
      {"tensor listed twice",
       "{\"weight_map\": {\"model.norm.weight\": \"" + shard +
           "\", \"model.norm.weight\": \"" + shard + "\"}}",
       {"key 'model.norm.weight' appears twice in 'weight_map'"}},
  };
  for (const Case &c : cases) {
    SCOPED_TRACE(c.name);
    writeSharded();
    write("model.safetensors.index.json", c.index);
    std::string message = errorOf(open());
    EXPECT_TRUE(StringRef(message).starts_with(indexPath())) << message;
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
    for (const char *part : c.expected)
      EXPECT_NE(message.find(part), std::string::npos)
          << "'" << part << "' not in: " << message;
  }
}

TEST_F(ShardedCheckpointTest, IndexMustDescribeTheShards) {
  // In the first shard.
  const std::string moved = "model.layers.0.self_attn.k_proj.weight";
  {
    SCOPED_TRACE("a tensor of a shard the index does not list");
    std::vector<std::vector<TensorSpec>> parts = shards();
    WeightMap index = weightMapOf(parts);
    index.erase("model.norm.weight");
    writeSharded(parts, index);
    expectContains(errorOf(open()),
                   {"tensor 'model.norm.weight' is not in the index "
                    "model.safetensors.index.json"});
  }
  {
    SCOPED_TRACE("a listed tensor its shard does not hold");
    std::vector<std::vector<TensorSpec>> parts = shards();
    WeightMap index = weightMapOf(parts);
    index["model.layers.7.mlp.up_proj.weight"] = shardName(1);
    writeSharded(parts, index);
    expectContains(errorOf(open()),
                   {"tensor 'model.layers.7.mlp.up_proj.weight' is listed in "
                    "model-00002-of-00003.safetensors, which does not hold "
                    "it"});
  }
  {
    SCOPED_TRACE("a tensor in the shard the index does not say");
    std::vector<std::vector<TensorSpec>> parts = shards();
    WeightMap index = weightMapOf(parts);
    index[moved] = shardName(2);
    writeSharded(parts, index);
    std::string message = errorOf(open());
    EXPECT_TRUE(StringRef(message).starts_with(indexPath())) << message;
    expectContains(message, {"tensor 'model.layers.0.self_attn.k_proj.weight' "
                             "is in model-00001-of-00003.safetensors",
                             "but the index lists it in"});
  }
  {
    SCOPED_TRACE("a tensor in two shards");
    std::vector<std::vector<TensorSpec>> parts = shards();
    WeightMap index = weightMapOf(parts);
    auto it = llvm::find_if(parts[0], [&](const TensorSpec &spec) {
      return spec.name == moved;
    });
    ASSERT_NE(it, parts[0].end());
    parts[2].push_back(*it);
    writeSharded(parts, index);
    expectContains(errorOf(open()),
                   {"tensor 'model.layers.0.self_attn.k_proj.weight' is in "
                    "both model-00001-of-00003.safetensors and "
                    "model-00003-of-00003.safetensors"});
  }
}

TEST_F(ShardedCheckpointTest, EveryShardIsValidated) {
  {
    SCOPED_TRACE("a missing shard");
    writeSharded();
    ASSERT_FALSE(sys::fs::remove(path(shardName(1))));
    std::string message = errorOf(open());
    EXPECT_TRUE(StringRef(message).starts_with(path(shardName(1)))) << message;
    expectContains(message, {"No such file"});
  }
  {
    SCOPED_TRACE("a corrupt shard");
    writeSharded();
    write(shardName(2), "oops");
    std::string message = errorOf(open());
    EXPECT_TRUE(StringRef(message).starts_with(path(shardName(2)))) << message;
    expectContains(message, {"truncated"});
  }
  {
    SCOPED_TRACE("a misshapen tensor names its shard");
    std::vector<std::vector<TensorSpec>> parts = shards();
    for (TensorSpec &tensor : parts[2])
      if (tensor.name == "model.norm.weight")
        tensor.shape = {9};
    writeSharded(parts, weightMapOf(parts));
    EXPECT_EQ(errorOf(open()), path(shardName(2)) +
                                   ": tensor 'model.norm.weight' has shape "
                                   "[9], expected [8]");
  }
  {
    SCOPED_TRACE("a tensor missing from all shards names the index");
    std::vector<std::vector<TensorSpec>> parts = shards();
    WeightMap index = weightMapOf(parts);
    removeTensor(parts[2], "model.norm.weight");
    index.erase("model.norm.weight");
    writeSharded(parts, index);
    EXPECT_EQ(errorOf(open()), indexPath() +
                                   ": missing tensor 'model.norm.weight' "
                                   "(expected shape [8])");
  }
}

TEST_F(CheckpointDirTest, MissingWeights) {
  write("config.json", formatv("{0}", json::Value(tinyConfig(false))).str());
  std::string message = errorOf(open());
  EXPECT_TRUE(StringRef(message).starts_with(weightsPath())) << message;
}

TEST_F(CheckpointDirTest, MissingConfig) {
  write("model.safetensors", makeSafetensors(allTensors(false)));
  expectContains(errorOf(open()), {"config.json"});
}

TEST_F(CheckpointDirTest, BadConfig) {
  json::Object config = tinyConfig(false);
  config["num_key_value_heads"] = 3;
  writeCheckpoint(config, allTensors(false));
  expectContains(errorOf(open()),
                 {"config.json: field 'num_attention_heads' (2)",
                  "'num_key_value_heads' (3)"});
}

TEST_F(CheckpointDirTest, CorruptWeights) {
  writeCheckpoint(tinyConfig(false), allTensors(false));
  write("model.safetensors", "oops");
  expectContains(errorOf(open()), {"model.safetensors", "truncated"});
}

} // namespace
