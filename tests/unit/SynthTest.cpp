//===- SynthTest.cpp - Tests of synthetic checkpoints ---------------------===//
//
// Synthesizes checkpoints into a temporary directory and checks them with
// the independent readers (Checkpoint::open validates every name, shape and
// dtype), byte for byte against each other for determinism, statistically
// against the documented distribution, and checks that every refused or
// failed run leaves the file system as it was.
//
//===----------------------------------------------------------------------===//

#include "llamac/Frontend/Synth.h"
#include "llamac/Frontend/Checkpoint.h"

#include "llvm/ADT/SmallString.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/Endian.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/Support/xxhash.h"

#include "gtest/gtest.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <unistd.h>

using namespace llvm;
using namespace llamac;

namespace {

std::string joinPath(StringRef dir, StringRef name) {
  SmallString<256> path(dir);
  sys::path::append(path, name);
  return std::string(path);
}

/// The names in `dir`, sorted.
std::vector<std::string> listDir(StringRef dir) {
  std::vector<std::string> names;
  std::error_code ec;
  for (sys::fs::directory_iterator it(dir, ec), end; it != end && !ec;
       it.increment(ec))
    names.push_back(sys::path::filename(it->path()).str());
  EXPECT_FALSE(ec) << dir.str() << ": " << ec.message();
  std::sort(names.begin(), names.end());
  return names;
}

std::string readFile(StringRef path) {
  ErrorOr<std::unique_ptr<MemoryBuffer>> buffer = MemoryBuffer::getFile(
      path, /*IsText=*/false, /*RequiresNullTerminator=*/false);
  if (!buffer) {
    ADD_FAILURE() << path.str() << ": " << buffer.getError().message();
    return "";
  }
  return (*buffer)->getBuffer().str();
}

uint64_t hashFile(StringRef path) {
  ErrorOr<std::unique_ptr<MemoryBuffer>> buffer = MemoryBuffer::getFile(
      path, /*IsText=*/false, /*RequiresNullTerminator=*/false);
  if (!buffer) {
    ADD_FAILURE() << path.str() << ": " << buffer.getError().message();
    return 0;
  }
  return xxh3_64bits(arrayRefFromStringRef((*buffer)->getBuffer()));
}

std::string errorOf(Error error) {
  if (!error) {
    ADD_FAILURE() << "expected an error";
    return "";
  }
  return toString(std::move(error));
}

void expectContains(const std::string &message,
                    std::initializer_list<std::string> parts) {
  EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  for (const std::string &part : parts)
    EXPECT_NE(message.find(part), std::string::npos)
        << "'" << part << "' not in: " << message;
}

LlamaConfig tinyConfig() {
  Expected<LlamaConfig> config = getPresetConfig("tiny");
  EXPECT_TRUE(bool(config)) << toString(config.takeError());
  return *config;
}

/// A model small enough to write many times per test: the tiny preset with
/// a 1024-token vocabulary.
LlamaConfig smallConfig() {
  LlamaConfig config = tinyConfig();
  config.vocabSize = 1024;
  config.bosTokenId = 1;
  config.eosTokenIds = {2};
  return config;
}

/// BF16 values of one tensor, widened to float.
std::vector<float> tensorValues(const Checkpoint &checkpoint, StringRef name) {
  const TensorInfo *tensor = checkpoint.weights->find(name);
  EXPECT_NE(tensor, nullptr) << name.str();
  if (!tensor)
    return {};
  EXPECT_EQ(tensor->dtype, DType::BF16);
  ArrayRef<uint8_t> bytes = checkpoint.weights->bytes(*tensor);
  std::vector<float> values(bytes.size() / 2);
  for (size_t i = 0; i < values.size(); ++i) {
    uint32_t bits = uint32_t(support::endian::read16le(&bytes[2 * i])) << 16;
    std::memcpy(&values[i], &bits, sizeof(float));
  }
  return values;
}

struct Moments {
  double mean = 0;
  double std = 0;
  double maxAbsDeviation = 0;
  /// Share of values within one standard deviation of the mean.
  double withinOneStd = 0;
};

Moments momentsOf(const std::vector<float> &values, double center,
                  double expectedStd) {
  Moments moments;
  double sum = 0, sumSquares = 0;
  size_t within = 0;
  for (float value : values) {
    sum += value;
    double deviation = double(value) - center;
    sumSquares += deviation * deviation;
    moments.maxAbsDeviation =
        std::max(moments.maxAbsDeviation, std::fabs(deviation));
    within += std::fabs(deviation) < expectedStd;
  }
  double n = double(values.size());
  moments.mean = sum / n;
  moments.std = std::sqrt(sumSquares / n -
                          (moments.mean - center) * (moments.mean - center));
  moments.withinOneStd = double(within) / n;
  return moments;
}

class SynthTest : public ::testing::Test {
protected:
  void SetUp() override {
    SmallString<256> path;
    ASSERT_FALSE(sys::fs::createUniqueDirectory("llamac-synth-test", path));
    root = std::string(path);
  }
  void TearDown() override {
    // Undo the read-only test's permissions so the tree can be removed.
    sys::fs::setPermissions(root, sys::fs::all_all);
    sys::fs::remove_directories(root);
  }

  std::string path(StringRef name) const { return joinPath(root, name); }

  std::string root;
};

TEST_F(SynthTest, TinyIsAValidHuggingFaceCheckpoint) {
  std::string dir = path("tiny");
  std::vector<std::pair<uint64_t, uint64_t>> reports;
  ASSERT_FALSE(bool(synthesizeCheckpoint(dir, tinyConfig(), /*seed=*/0,
                                         [&](uint64_t done, uint64_t total) {
                                           reports.push_back({done, total});
                                         })));
  // Nothing but the checkpoint: no temporary directory left behind.
  EXPECT_EQ(listDir(root), std::vector<std::string>{"tiny"});
  EXPECT_EQ(listDir(dir),
            (std::vector<std::string>{"config.json", "generation_config.json",
                                      "model.safetensors"}));

  // The reader checks every tensor name and shape against the config.
  Expected<Checkpoint> checkpoint = Checkpoint::open(dir);
  ASSERT_TRUE(bool(checkpoint)) << toString(checkpoint.takeError());
  const LlamaConfig &config = checkpoint->config;
  EXPECT_EQ(config.hiddenSize, 256);
  EXPECT_EQ(config.vocabSize, 128256);
  EXPECT_EQ(config.numLayers, 2);
  EXPECT_TRUE(config.tieWordEmbeddings);
  EXPECT_EQ(config.torchDtype, "bfloat16");

  // Tied: every tensor but lm_head, BF16, contiguous (in the state dict's
  // order, which SynthPlan checks).
  std::vector<ExpectedTensor> expected = expectedTensors(config);
  ASSERT_EQ(expected.back().name, "lm_head.weight");
  expected.pop_back();
  ArrayRef<TensorInfo> tensors = checkpoint->weights->tensors();
  ASSERT_EQ(tensors.size(), expected.size());
  std::vector<std::string> expectedNames, names;
  for (size_t i = 0; i < tensors.size(); ++i) {
    expectedNames.push_back(expected[i].name);
    names.push_back(tensors[i].name);
  }
  llvm::sort(expectedNames);
  llvm::sort(names);
  EXPECT_EQ(names, expectedNames);
  uint64_t header = support::endian::read64le(
      readFile(joinPath(dir, "model.safetensors")).data());
  EXPECT_EQ(header % 8, 0u);
  uint64_t offset = 8 + header;
  uint64_t parameters = 0;
  for (size_t i = 0; i < tensors.size(); ++i) {
    EXPECT_EQ(tensors[i].dtype, DType::BF16) << tensors[i].name;
    EXPECT_EQ(tensors[i].fileOffset, offset) << tensors[i].name;
    offset += tensors[i].byteSize;
    parameters += tensors[i].numElements();
  }
  uint64_t fileSize = 0;
  ASSERT_FALSE(
      sys::fs::file_size(joinPath(dir, "model.safetensors"), fileSize));
  EXPECT_EQ(offset, fileSize);
  EXPECT_EQ(parameters, 128256u * 256 +
                            2 * (2 * 256 + 4 * 64 * 256 * 2 + 2 * 2 * 64 * 256 +
                                 3 * 256 * 512) +
                            256);
  Expected<std::unique_ptr<SafetensorsFile>> file =
      SafetensorsFile::open(joinPath(dir, "model.safetensors"));
  ASSERT_TRUE(bool(file)) << toString(file.takeError());
  EXPECT_EQ((*file)->metadata(),
            (std::map<std::string, std::string>{{"format", "pt"}}));

  // Progress: increasing, ending at the file size.
  ASSERT_FALSE(reports.empty());
  EXPECT_EQ(reports.back(), std::make_pair(fileSize, fileSize));
  for (size_t i = 1; i < reports.size(); ++i)
    EXPECT_LE(reports[i - 1].first, reports[i].first);

  // The fields Hugging Face loaders look for besides the ones llamac reads.
  Expected<json::Value> configJSON =
      json::parse(readFile(joinPath(dir, "config.json")));
  ASSERT_TRUE(bool(configJSON)) << toString(configJSON.takeError());
  const json::Object &object = *configJSON->getAsObject();
  EXPECT_EQ(*object.get("architectures"),
            json::Value(json::Array{"LlamaForCausalLM"}));
  EXPECT_EQ(object.getString("model_type"), StringRef("llama"));
  EXPECT_EQ(object.getString("hidden_act"), StringRef("silu"));
  EXPECT_EQ(object.getString("torch_dtype"), StringRef("bfloat16"));

  Expected<json::Value> generation =
      json::parse(readFile(joinPath(dir, "generation_config.json")));
  ASSERT_TRUE(bool(generation)) << toString(generation.takeError());
  const json::Object &gen = *generation->getAsObject();
  EXPECT_EQ(gen.getInteger("bos_token_id"), std::optional<int64_t>(128000));
  EXPECT_EQ(*gen.get("eos_token_id"),
            json::Value(json::Array{128001, 128008, 128009}));
  EXPECT_EQ(gen.getBoolean("do_sample"), std::optional<bool>(true));
  EXPECT_EQ(gen.getNumber("temperature"), std::optional<double>(0.6));
  EXPECT_EQ(gen.getNumber("top_p"), std::optional<double>(0.9));
}

TEST_F(SynthTest, WeightsFollowTheDocumentedDistribution) {
  std::string dir = path("tiny");
  ASSERT_FALSE(bool(synthesizeCheckpoint(dir, tinyConfig(), /*seed=*/7)));
  Expected<Checkpoint> checkpoint = Checkpoint::open(dir);
  ASSERT_TRUE(bool(checkpoint)) << toString(checkpoint.takeError());

  for (const char *name :
       {"model.embed_tokens.weight", "model.layers.0.self_attn.q_proj.weight",
        "model.layers.1.mlp.down_proj.weight"}) {
    SCOPED_TRACE(name);
    Moments moments =
        momentsOf(tensorValues(*checkpoint, name), 0.0, kSynthWeightStd);
    EXPECT_NEAR(moments.mean, 0.0, 0.002);
    EXPECT_NEAR(moments.std, kSynthWeightStd, 0.1 * kSynthWeightStd);
    // Irwin-Hall with n = 4 is bounded at sqrt(12) std (plus BF16 rounding).
    EXPECT_LE(moments.maxAbsDeviation, 3.47 * kSynthWeightStd);
    // Bell-shaped: a normal puts 68% within one std, a uniform 58%.
    EXPECT_GT(moments.withinOneStd, 0.64);
    EXPECT_LT(moments.withinOneStd, 0.72);
  }
  for (const char *name : {"model.layers.0.input_layernorm.weight",
                           "model.layers.1.post_attention_layernorm.weight",
                           "model.norm.weight"}) {
    SCOPED_TRACE(name);
    // 256 values only, and BF16 steps near 1 are 2^-7: loose bounds.
    Moments moments =
        momentsOf(tensorValues(*checkpoint, name), 1.0, kSynthWeightStd);
    EXPECT_NEAR(moments.mean, 1.0, 0.005);
    EXPECT_GT(moments.std, 0.5 * kSynthWeightStd);
    EXPECT_LT(moments.std, 1.5 * kSynthWeightStd);
  }
}

TEST_F(SynthTest, SameSeedSameBytesOtherSeedOtherBytes) {
  std::string a = path("a"), b = path("b"), c = path("c");
  ASSERT_FALSE(bool(synthesizeCheckpoint(a, tinyConfig(), /*seed=*/42)));
  ASSERT_FALSE(bool(synthesizeCheckpoint(b, tinyConfig(), /*seed=*/42)));
  ASSERT_FALSE(bool(synthesizeCheckpoint(c, tinyConfig(), /*seed=*/43)));
  uint64_t hashA = hashFile(joinPath(a, "model.safetensors"));
  EXPECT_EQ(hashA, hashFile(joinPath(b, "model.safetensors")));
  EXPECT_NE(hashA, hashFile(joinPath(c, "model.safetensors")));
  EXPECT_EQ(readFile(joinPath(a, "config.json")),
            readFile(joinPath(c, "config.json")));

  // Every tensor changes with the seed, not only some.
  Expected<Checkpoint> first = Checkpoint::open(a);
  Expected<Checkpoint> other = Checkpoint::open(c);
  ASSERT_TRUE(first && other);
  for (const TensorInfo &tensor : first->weights->tensors())
    EXPECT_NE(first->weights->bytes(tensor),
              other->weights->bytes(*other->weights->find(tensor.name)))
        << tensor.name;
}

TEST_F(SynthTest, TensorsDoNotDependOnEachOther) {
  // Untying adds lm_head.weight at the end; every other tensor keeps its
  // bytes, and lm_head is not a copy of the embedding.
  LlamaConfig tied = smallConfig();
  LlamaConfig untied = tied;
  untied.tieWordEmbeddings = false;
  ASSERT_FALSE(bool(synthesizeCheckpoint(path("tied"), tied, /*seed=*/5)));
  ASSERT_FALSE(bool(synthesizeCheckpoint(path("untied"), untied, /*seed=*/5)));
  Expected<Checkpoint> a = Checkpoint::open(path("tied"));
  Expected<Checkpoint> b = Checkpoint::open(path("untied"));
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->weights->find("lm_head.weight"), nullptr);
  const TensorInfo *head = b->weights->find("lm_head.weight");
  ASSERT_NE(head, nullptr);
  EXPECT_EQ(b->weights->tensors().back().name, "lm_head.weight");
  EXPECT_NE(b->weights->bytes(*head),
            b->weights->bytes(*b->weights->find("model.embed_tokens.weight")));
  for (const TensorInfo &tensor : a->weights->tensors())
    EXPECT_EQ(a->weights->bytes(tensor),
              b->weights->bytes(*b->weights->find(tensor.name)))
        << tensor.name;
}

TEST_F(SynthTest, WritesIntoAnEmptyDirectory) {
  std::string dir = path("empty");
  ASSERT_FALSE(sys::fs::create_directory(dir));
  ASSERT_FALSE(bool(synthesizeCheckpoint(dir, smallConfig(), /*seed=*/0)));
  EXPECT_TRUE(bool(Checkpoint::open(dir)));
  EXPECT_EQ(listDir(root), std::vector<std::string>{"empty"});
}

TEST_F(SynthTest, ReplacesAPreviousSynthOutput) {
  std::string dir = path("model");
  ASSERT_FALSE(bool(synthesizeCheckpoint(dir, smallConfig(), /*seed=*/1)));
  uint64_t before = hashFile(joinPath(dir, "model.safetensors"));
  // A trailing separator names the same directory.
  ASSERT_FALSE(bool(synthesizeCheckpoint(dir + "/", smallConfig(),
                                         /*seed=*/2)));
  EXPECT_NE(hashFile(joinPath(dir, "model.safetensors")), before);
  ASSERT_FALSE(bool(synthesizeCheckpoint(dir, smallConfig(), /*seed=*/1)));
  EXPECT_EQ(hashFile(joinPath(dir, "model.safetensors")), before);
  EXPECT_TRUE(bool(Checkpoint::open(dir)));
  // Neither the old copy nor a temporary directory is left behind.
  EXPECT_EQ(listDir(root), std::vector<std::string>{"model"});

  // Through a symbolic link, the directory it points to is replaced and the
  // link stays a link.
  std::string link = path("link");
  ASSERT_FALSE(sys::fs::create_link(dir, link));
  ASSERT_FALSE(bool(synthesizeCheckpoint(link, smallConfig(), /*seed=*/2)));
  EXPECT_TRUE(sys::fs::is_symlink_file(link));
  EXPECT_NE(hashFile(joinPath(dir, "model.safetensors")), before);
  EXPECT_EQ(listDir(root), (std::vector<std::string>{"link", "model"}));
}

TEST_F(SynthTest, RefusesADirectoryThatIsNotASynthOutput) {
  std::string dir = path("mine");
  ASSERT_FALSE(sys::fs::create_directory(dir));
  {
    std::error_code ec;
    raw_fd_ostream(joinPath(dir, "notes.txt"), ec) << "keep me";
    ASSERT_FALSE(ec);
  }
  expectContains(errorOf(synthesizeCheckpoint(dir, smallConfig(), 0)),
                 {dir, "non-empty", "refusing"});
  EXPECT_EQ(listDir(root), std::vector<std::string>{"mine"});
  EXPECT_EQ(listDir(dir), std::vector<std::string>{"notes.txt"});

  // A downloaded checkpoint has more than the three files synth writes
  // (tokenizer, README, license) and is not replaced either.
  std::string download = path("download");
  ASSERT_FALSE(bool(synthesizeCheckpoint(download, smallConfig(), 0)));
  {
    std::error_code ec;
    raw_fd_ostream(joinPath(download, "tokenizer.json"), ec) << "{}";
    ASSERT_FALSE(ec);
  }
  uint64_t before = hashFile(joinPath(download, "model.safetensors"));
  expectContains(errorOf(synthesizeCheckpoint(download, smallConfig(), 9)),
                 {download, "non-empty"});
  EXPECT_EQ(hashFile(joinPath(download, "model.safetensors")), before);
  EXPECT_EQ(listDir(root), (std::vector<std::string>{"download", "mine"}));

  std::string file = path("file");
  {
    std::error_code ec;
    raw_fd_ostream(file, ec) << "x";
    ASSERT_FALSE(ec);
  }
  expectContains(errorOf(synthesizeCheckpoint(file, smallConfig(), 0)),
                 {file, "not a directory"});
}

TEST_F(SynthTest, MissingParentIsAClearErrorAndLeavesNothing) {
  std::string dir = joinPath(path("no-such-parent"), "model");
  expectContains(errorOf(synthesizeCheckpoint(dir, smallConfig(), 0)),
                 {dir, path("no-such-parent"), "No such file or directory"});

  std::string file = path("a-file");
  {
    std::error_code ec;
    raw_fd_ostream(file, ec) << "x";
    ASSERT_FALSE(ec);
  }
  std::string underFile = joinPath(file, "model");
  expectContains(errorOf(synthesizeCheckpoint(underFile, smallConfig(), 0)),
                 {underFile, "not a directory"});
  EXPECT_EQ(listDir(root), std::vector<std::string>{"a-file"});
}

TEST_F(SynthTest, UnwritableParentIsAClearErrorAndLeavesNothing) {
  // Permissions do not bind root, which CI containers often are.
  if (::geteuid() == 0)
    GTEST_SKIP() << "running as root";
  ASSERT_FALSE(
      sys::fs::setPermissions(root, sys::fs::owner_read | sys::fs::owner_exe));
  std::string dir = path("model");
  expectContains(errorOf(synthesizeCheckpoint(dir, smallConfig(), 0)),
                 {dir, "Permission denied"});
  ASSERT_FALSE(sys::fs::setPermissions(root, sys::fs::all_all));
  EXPECT_TRUE(listDir(root).empty());
}

TEST_F(SynthTest, RefusesWhenTheDiskIsTooSmall) {
  // 2^22 x 2^20 BF16 values: 8 TiB, more than any test machine has free.
  LlamaConfig huge = smallConfig();
  huge.vocabSize = 1 << 22;
  huge.hiddenSize = 1 << 20;
  ASSERT_FALSE(bool(huge.validate()));
  std::string dir = path("huge");
  expectContains(errorOf(synthesizeCheckpoint(dir, huge, 0)),
                 {dir, "not enough disk space", "available", "bytes"});
  EXPECT_TRUE(listDir(root).empty());
}

/// The file names of `files`.
std::vector<std::string> namesOf(ArrayRef<SynthWeightFile> files) {
  std::vector<std::string> names;
  for (const SynthWeightFile &file : files)
    names.push_back(file.name);
  return names;
}

LlamaConfig presetConfig(StringRef name) {
  Expected<LlamaConfig> config = getPresetConfig(name);
  EXPECT_TRUE(bool(config)) << toString(config.takeError());
  return config ? *config : LlamaConfig();
}

TEST(SynthPlan, PresetsAreShardedLikeTheDownloads) {
  // The published checkpoints: Llama-3.2-1B-Instruct is one
  // model.safetensors, 3B two shards, Llama-3.1-8B-Instruct four; the
  // totals are their indexes' metadata.total_size (and 2 bytes times the
  // parameter count Hugging Face lists).
  struct Case {
    const char *preset;
    size_t files;
    uint64_t totalBytes;
  } cases[] = {{"llama-3.2-1b", 1, 2471628800},
               {"llama-3.2-3b", 2, 6425499648},
               {"llama-3.1-8b", 4, 16060522496}};
  for (const Case &c : cases) {
    SCOPED_TRACE(c.preset);
    LlamaConfig config = presetConfig(c.preset);
    std::map<std::string, uint64_t> bytesOf;
    for (const ExpectedTensor &tensor : expectedTensors(config)) {
      uint64_t bytes = 2;
      for (int64_t extent : tensor.shape)
        bytes *= uint64_t(extent);
      bytesOf[tensor.name] = bytes;
    }
    std::vector<SynthWeightFile> files = planSynthWeightFiles(config);
    ASSERT_EQ(files.size(), c.files);
    uint64_t total = 0;
    size_t tensors = 0;
    for (size_t i = 0; i < files.size(); ++i) {
      uint64_t bytes = 0;
      for (const std::string &name : files[i].tensors)
        bytes += bytesOf.at(name);
      EXPECT_EQ(files[i].dataBytes, bytes) << files[i].name;
      EXPECT_LE(files[i].dataBytes, kHuggingFaceMaxShardBytes);
      // Each shard is full: the next file's first tensor did not fit.
      if (i + 1 < files.size())
        EXPECT_GT(files[i].dataBytes + bytesOf.at(files[i + 1].tensors[0]),
                  kHuggingFaceMaxShardBytes)
            << files[i].name;
      total += files[i].dataBytes;
      tensors += files[i].tensors.size();
    }
    EXPECT_EQ(total, c.totalBytes);
    EXPECT_EQ(tensors, size_t(2 + 9 * config.numLayers +
                              (config.tieWordEmbeddings ? 0 : 1)));
  }
  EXPECT_EQ(namesOf(planSynthWeightFiles(presetConfig("llama-3.2-1b"))),
            std::vector<std::string>{"model.safetensors"});
  EXPECT_EQ(namesOf(planSynthWeightFiles(presetConfig("llama-3.1-8b"))),
            (std::vector<std::string>{"model-00001-of-00004.safetensors",
                                      "model-00002-of-00004.safetensors",
                                      "model-00003-of-00004.safetensors",
                                      "model-00004-of-00004.safetensors"}));
}

TEST(SynthPlan, ShardsFollowTheStateDictOrderAndTheLimit) {
  LlamaConfig config = smallConfig();
  // One file per tensor: every tensor is larger than one byte.
  std::vector<SynthWeightFile> single = planSynthWeightFiles(config, 1);
  ASSERT_EQ(single.size(), size_t(2 + 9 * config.numLayers));
  // LlamaForCausalLM.state_dict(): the embedding, per layer attention,
  // MLP, then the norms, the final norm last.
  std::vector<std::string> order;
  for (const SynthWeightFile &file : single) {
    ASSERT_EQ(file.tensors.size(), 1u);
    order.push_back(file.tensors.front());
  }
  EXPECT_EQ(std::vector<std::string>(order.begin(), order.begin() + 10),
            (std::vector<std::string>{
                "model.embed_tokens.weight",
                "model.layers.0.self_attn.q_proj.weight",
                "model.layers.0.self_attn.k_proj.weight",
                "model.layers.0.self_attn.v_proj.weight",
                "model.layers.0.self_attn.o_proj.weight",
                "model.layers.0.mlp.gate_proj.weight",
                "model.layers.0.mlp.up_proj.weight",
                "model.layers.0.mlp.down_proj.weight",
                "model.layers.0.input_layernorm.weight",
                "model.layers.0.post_attention_layernorm.weight"}));
  EXPECT_EQ(order.back(), "model.norm.weight");
  ASSERT_EQ(single.size(), 20u);
  EXPECT_EQ(single.front().name, "model-00001-of-00020.safetensors");
  EXPECT_EQ(single.back().name, "model-00020-of-00020.safetensors");

  // A limit that fits whole layers: shards close before the tensor that
  // would overflow them, and nothing but a lone tensor exceeds the limit.
  const uint64_t limit = 2 * 256 * 512 * 2 + 1000;
  std::vector<SynthWeightFile> files = planSynthWeightFiles(config, limit);
  ASSERT_GT(files.size(), 2u);
  std::vector<std::string> flattened;
  for (size_t i = 0; i < files.size(); ++i) {
    if (files[i].tensors.size() > 1)
      EXPECT_LE(files[i].dataBytes, limit) << files[i].name;
    flattened.insert(flattened.end(), files[i].tensors.begin(),
                     files[i].tensors.end());
  }
  EXPECT_EQ(flattened, order);
}

TEST_F(SynthTest, ShardedCheckpointHoldsTheSameTensors) {
  LlamaConfig config = smallConfig();
  std::string whole = path("whole"), sharded = path("sharded");
  ASSERT_FALSE(bool(synthesizeCheckpoint(whole, config, /*seed=*/3)));
  std::vector<std::pair<uint64_t, uint64_t>> reports;
  const uint64_t limit = 400000;
  ASSERT_FALSE(bool(synthesizeCheckpoint(
      sharded, config, /*seed=*/3,
      [&](uint64_t done, uint64_t total) { reports.push_back({done, total}); },
      limit)));

  std::vector<SynthWeightFile> plan = planSynthWeightFiles(config, limit);
  ASSERT_GT(plan.size(), 1u);
  std::vector<std::string> expectedNames = {"config.json",
                                            "generation_config.json"};
  for (const SynthWeightFile &file : plan)
    expectedNames.push_back(file.name);
  expectedNames.push_back("model.safetensors.index.json");
  std::sort(expectedNames.begin(), expectedNames.end());
  EXPECT_EQ(listDir(sharded), expectedNames);
  EXPECT_EQ(listDir(root), (std::vector<std::string>{"sharded", "whole"}));

  // The reader validates the index against every shard; each tensor is
  // byte for byte the unsharded checkpoint's.
  Expected<Checkpoint> a = Checkpoint::open(whole);
  Expected<Checkpoint> b = Checkpoint::open(sharded);
  ASSERT_TRUE(bool(a)) << toString(a.takeError());
  ASSERT_TRUE(bool(b)) << toString(b.takeError());
  EXPECT_EQ(b->weights->numFiles(), plan.size());
  ASSERT_EQ(a->weights->tensors().size(), b->weights->tensors().size());
  uint64_t tensorBytes = 0;
  for (const TensorInfo &tensor : a->weights->tensors()) {
    const TensorInfo *other = b->weights->find(tensor.name);
    ASSERT_NE(other, nullptr) << tensor.name;
    EXPECT_EQ(a->weights->bytes(tensor), b->weights->bytes(*other))
        << tensor.name;
    tensorBytes += tensor.byteSize;
  }

  // The index as save_pretrained writes it.
  Expected<json::Value> index =
      json::parse(readFile(joinPath(sharded, "model.safetensors.index.json")));
  ASSERT_TRUE(bool(index)) << toString(index.takeError());
  const json::Object &indexObject = *index->getAsObject();
  ASSERT_NE(indexObject.getObject("metadata"), nullptr);
  EXPECT_EQ(indexObject.getObject("metadata")->getInteger("total_size"),
            std::optional<int64_t>(tensorBytes));
  const json::Object *weightMap = indexObject.getObject("weight_map");
  ASSERT_NE(weightMap, nullptr);
  EXPECT_EQ(weightMap->size(), b->weights->tensors().size());
  for (const TensorInfo &tensor : b->weights->tensors())
    EXPECT_EQ(sys::path::filename(b->weights->pathOf(tensor)),
              *weightMap->getString(tensor.name))
        << tensor.name;

  // Progress runs over all the files once, to their total size.
  uint64_t total = 0;
  for (const SynthWeightFile &file : plan) {
    uint64_t size = 0;
    ASSERT_FALSE(sys::fs::file_size(joinPath(sharded, file.name), size));
    total += size;
  }
  ASSERT_FALSE(reports.empty());
  EXPECT_EQ(reports.back(), std::make_pair(total, total));
  for (size_t i = 1; i < reports.size(); ++i)
    EXPECT_LE(reports[i - 1].first, reports[i].first);

  // A sharded synth output is recognized as one and replaced, in either
  // direction, without leftovers.
  ASSERT_FALSE(bool(synthesizeCheckpoint(sharded, config, /*seed=*/3)));
  EXPECT_EQ(listDir(sharded),
            (std::vector<std::string>{"config.json", "generation_config.json",
                                      "model.safetensors"}));
  ASSERT_FALSE(
      bool(synthesizeCheckpoint(whole, config, /*seed=*/3, {}, limit)));
  EXPECT_EQ(listDir(whole), expectedNames);
  EXPECT_EQ(listDir(root), (std::vector<std::string>{"sharded", "whole"}));

  expectContains(
      errorOf(synthesizeCheckpoint(path("zero"), config, 0, {}, 0)),
      {"zero", "shard size"});
}

TEST_F(SynthTest, RefusesAnInvalidConfig) {
  LlamaConfig config = smallConfig();
  config.numKVHeads = 3;
  std::string dir = path("bad");
  expectContains(errorOf(synthesizeCheckpoint(dir, config, 0)),
                 {dir, "num_attention_heads"});
  EXPECT_TRUE(listDir(root).empty());
}

} // namespace
