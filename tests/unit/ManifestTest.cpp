//===- ManifestTest.cpp - An artifact's manifest.json ---------------------===//
//
// A manifest written and read back is the same manifest; the file has the
// keys and the shape the docs give; and every way a manifest can be broken
// is one error that names the file and what is wrong.
//
//===----------------------------------------------------------------------===//
#include "llamac/Artifact/Manifest.h"
#include "llamac/Artifact/Error.h"

#include <nlohmann/json.hpp>

#include "gtest/gtest.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>

using namespace llamac::artifact;
using json = nlohmann::json;
namespace fs = std::filesystem;

namespace {

/// A fresh directory per test, removed at its end.
class ManifestTest : public ::testing::Test {
protected:
  void SetUp() override {
    std::string pattern =
        (fs::temp_directory_path() / "llamac-manifest-XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir = pattern;
  }
  void TearDown() override {
    std::error_code ignored;
    fs::remove_all(dir, ignored);
  }
  std::string manifestPath() const { return dir + "/manifest.json"; }

  std::string dir;
};

std::string readText(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

void writeText(const std::string &path, const std::string &text) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
}

/// A manifest with every field set, unlike any default.
Manifest sample() {
  Manifest m;
  m.configJSON = R"({"hidden_size": 256, "rope_theta": 500000.0,
                     "vocab_size": 1, "rope_scaling": {"rope_type": "llama3"}})";
  m.vocabSize = 1024;
  m.maxPositionEmbeddings = 131072;
  m.bosTokenId = 1000;
  m.eosTokenIds = {1001, 1008};
  m.tieWordEmbeddings = true;
  m.dtype = "q8_0";
  m.prefillInputs = "bf16";
  m.decodeInputs = "i8";
  m.requestedTargetCPU = "host";
  m.targetTriple = "x86_64-unknown-linux-gnu";
  m.targetCPU = "sapphirerapids";
  m.targetFeatures = {"avx512f", "amx-bf16", "prefer-256-bit"};
  m.computeUnits = {ComputeUnit::F32FMA, ComputeUnit::AMXBF16};
  m.libraryFile = "model.so";
  m.libraryFingerprint = "0123456789abcdef";
  m.weightsFile = "weights.bin";
  m.weightsSize = 1 << 20;
  m.weightsFingerprint = "fedcba9876543210";
  ManifestTensor embed{
      "model.embed_tokens.weight", 0, 65536, "bf16", {128, 256}, std::nullopt};
  ManifestTensor codes{"model.layers.0.mlp.down_proj.weight",
                       65536,
                       65536,
                       "i8",
                       {16, 8, 16, 16, 2},
                       WeightLayout::quantizedTiles(QuantScheme::Q8_0)};
  ManifestTensor scales{
      "model.layers.0.mlp.down_proj.weight",
      131072,
      4096,
      "f16",
      {16, 8, 16},
      WeightLayout::quantizedTiles(QuantScheme::Q8_0).scales()};
  m.tensors = {embed, codes, scales};
  m.numLayers = 2;
  m.numKVHeads = 1;
  m.headDim = 64;
  m.numQueryHeads = 4;
  m.kernels = {{"embed 1024x256xbf16 ?xi32", ""},
               {"linear ?x256xf32 64x8x16x16x2xi8", "amx_bf16"}};
  m.files = {"generation_config.json", "tokenizer.bin"};
  return m;
}

void expectSame(const Manifest &a, const Manifest &b) {
  EXPECT_EQ(a.abiVersion, b.abiVersion);
  EXPECT_EQ(json::parse(a.configJSON), json::parse(b.configJSON));
  EXPECT_EQ(a.vocabSize, b.vocabSize);
  EXPECT_EQ(a.maxPositionEmbeddings, b.maxPositionEmbeddings);
  EXPECT_EQ(a.bosTokenId, b.bosTokenId);
  EXPECT_EQ(a.eosTokenIds, b.eosTokenIds);
  EXPECT_EQ(a.tieWordEmbeddings, b.tieWordEmbeddings);
  EXPECT_EQ(a.dtype, b.dtype);
  EXPECT_EQ(a.prefillInputs, b.prefillInputs);
  EXPECT_EQ(a.decodeInputs, b.decodeInputs);
  EXPECT_EQ(a.requestedTargetCPU, b.requestedTargetCPU);
  EXPECT_EQ(a.targetTriple, b.targetTriple);
  EXPECT_EQ(a.targetCPU, b.targetCPU);
  EXPECT_EQ(a.targetFeatures, b.targetFeatures);
  EXPECT_EQ(a.computeUnits, b.computeUnits);
  EXPECT_EQ(a.libraryFile, b.libraryFile);
  EXPECT_EQ(a.libraryFingerprint, b.libraryFingerprint);
  EXPECT_EQ(a.weightsFile, b.weightsFile);
  EXPECT_EQ(a.weightsSize, b.weightsSize);
  EXPECT_EQ(a.weightsFingerprint, b.weightsFingerprint);
  ASSERT_EQ(a.tensors.size(), b.tensors.size());
  for (size_t i = 0; i < a.tensors.size(); ++i) {
    EXPECT_EQ(a.tensors[i].name, b.tensors[i].name) << i;
    EXPECT_EQ(a.tensors[i].offset, b.tensors[i].offset) << i;
    EXPECT_EQ(a.tensors[i].bytes, b.tensors[i].bytes) << i;
    EXPECT_EQ(a.tensors[i].dtype, b.tensors[i].dtype) << i;
    EXPECT_EQ(a.tensors[i].shape, b.tensors[i].shape) << i;
    EXPECT_EQ(a.tensors[i].layout, b.tensors[i].layout) << i;
  }
  EXPECT_EQ(a.numLayers, b.numLayers);
  EXPECT_EQ(a.numKVHeads, b.numKVHeads);
  EXPECT_EQ(a.headDim, b.headDim);
  EXPECT_EQ(a.numQueryHeads, b.numQueryHeads);
  ASSERT_EQ(a.kernels.size(), b.kernels.size());
  for (size_t i = 0; i < a.kernels.size(); ++i) {
    EXPECT_EQ(a.kernels[i].name, b.kernels[i].name) << i;
    EXPECT_EQ(a.kernels[i].microKernel, b.kernels[i].microKernel) << i;
  }
  EXPECT_EQ(a.files, b.files);
  EXPECT_EQ(a.chatTemplate, b.chatTemplate);
}

TEST_F(ManifestTest, WriteThenReadGivesTheSameManifest) {
  Manifest written = sample();
  written.write(manifestPath());
  Manifest read = Manifest::read(dir);
  // The config read back is the written object with the typed fields in
  // place of its own (vocab_size 1 became 1024).
  json config = json::parse(read.configJSON);
  EXPECT_EQ(config["vocab_size"], 1024);
  EXPECT_EQ(config["hidden_size"], 256);
  EXPECT_EQ(config["rope_scaling"]["rope_type"], "llama3");
  EXPECT_EQ(config["eos_token_id"], json({1001, 1008}));
  written.configJSON = read.configJSON;
  expectSame(written, read);
  // Reading is stable: written again, the file is the same.
  std::string first = readText(manifestPath());
  read.write(manifestPath());
  EXPECT_EQ(readText(manifestPath()), first);

  // A manifest with only the typed fields has a config of only those.
  Manifest bare = sample();
  bare.configJSON.clear();
  bare.eosTokenIds = {1001};
  bare.bosTokenId.reset();
  bare.write(manifestPath());
  config = json::parse(Manifest::read(dir).configJSON);
  EXPECT_EQ(config, json({{"vocab_size", 1024},
                          {"max_position_embeddings", 131072},
                          {"tie_word_embeddings", true},
                          {"bos_token_id", nullptr},
                          {"eos_token_id", 1001}}));
}

TEST_F(ManifestTest, TheFileHasTheDocumentedShape) {
  sample().write(manifestPath());
  std::string text = readText(manifestPath());
  std::string head =
      "{\n  \"abi_version\": " + std::to_string(LLAMAC_ABI_VERSION) +
      ",\n  \"compile\"";
  EXPECT_EQ(text.substr(0, head.size()), head)
      << "sorted keys, two-space indentation";
  EXPECT_EQ(text.back(), '\n');
  json root = json::parse(text);
  std::vector<std::string> keys;
  for (auto item = root.begin(); item != root.end(); ++item)
    keys.push_back(item.key());
  EXPECT_EQ(keys, (std::vector<std::string>{
                      "abi_version", "compile", "compute_units", "config",
                      "entry_points", "files", "format", "kernels", "kv_cache",
                      "library", "library_fingerprint", "target", "weights"}));
  EXPECT_EQ(root["format"], "llamac-artifact");
  EXPECT_EQ(root["compute_units"], json({"f32-fma", "amx-bf16"}));
  EXPECT_EQ(root["kernels"][0], json({{"name", "embed 1024x256xbf16 ?xi32"}}));
  EXPECT_EQ(root["kernels"][1]["micro_kernel"], "amx_bf16");
  EXPECT_EQ(root["entry_points"]["prefill_last"], LLAMAC_PREFILL_LAST_SYMBOL);
  EXPECT_EQ(root["kv_cache"]["dtype"], "f32");
  EXPECT_EQ(root["compile"]["target_cpu"], "host");
  const json &tensors = root["weights"]["tensors"];
  EXPECT_EQ(tensors[0].count("layout"), 0u);
  EXPECT_EQ(tensors[1]["layout"], "q8_0x16x32");
  EXPECT_EQ(tensors[2]["layout"], "q8_0x16x32_scales");
}

TEST_F(ManifestTest, ChatTemplateIsKeptWhenThereIsOne) {
  Manifest written = sample();
  written.chatTemplate = "{% for message in messages %}{{ message['content'] "
                         "}}<|eot_id|>{% endfor %}\n\u00e9";
  written.write(manifestPath());
  json root = json::parse(readText(manifestPath()));
  EXPECT_EQ(root["tokenizer"]["chat_template"], written.chatTemplate);
  Manifest read = Manifest::read(dir);
  EXPECT_EQ(read.chatTemplate, written.chatTemplate);
  // Without one there is no tokenizer object (the documented shape above).
  sample().write(manifestPath());
  EXPECT_FALSE(json::parse(readText(manifestPath())).contains("tokenizer"));
  EXPECT_EQ(Manifest::read(dir).chatTemplate, "");
}

TEST_F(ManifestTest, TensorsDescribeTheirMatrices) {
  Manifest m = sample();
  EXPECT_TRUE(m.tensors[0].isMatrix());
  EXPECT_FALSE(m.tensors[0].isScales());
  EXPECT_EQ(m.tensors[0].matrixElements(), 128 * 256);
  EXPECT_TRUE(m.tensors[1].isMatrix());
  EXPECT_EQ(m.tensors[1].matrixElements(), 16 * 8 * 16 * 16 * 2);
  EXPECT_TRUE(m.tensors[2].isScales());
  EXPECT_FALSE(m.tensors[2].isMatrix());
  ManifestTensor q4{"w",
                    0,
                    0,
                    "i8",
                    {16, 8, 16, 16},
                    WeightLayout::quantizedTiles(QuantScheme::Q4_0)};
  EXPECT_EQ(q4.matrixElements(), 2 * 16 * 8 * 16 * 16);
  ManifestTensor norm{"norm", 0, 0, "f32", {256}, std::nullopt};
  EXPECT_FALSE(norm.isMatrix());
}

TEST_F(ManifestTest, ComputeUnitsAndStopIds) {
  Manifest m = sample();
  EXPECT_TRUE(m.needsTileState());
  EXPECT_TRUE(m.usesComputeUnit(ComputeUnit::AMXBF16));
  m.computeUnits = {ComputeUnit::F32FMA};
  EXPECT_FALSE(m.usesComputeUnit(ComputeUnit::AMXBF16));
  EXPECT_FALSE(m.needsTileState());

  // generation_config.json adds end ids; each is listed once.
  sample().write(manifestPath());
  writeText(dir + "/generation_config.json",
            R"({"bos_token_id": 1000, "eos_token_id": [1001, 1009, 1009]})");
  Manifest read = Manifest::read(dir);
  EXPECT_EQ(read.eosTokenIds, (std::vector<int64_t>{1001, 1008}));
  EXPECT_EQ(read.generationEosTokenIds, (std::vector<int64_t>{1001, 1009}));
  EXPECT_EQ(read.stopTokenIds(), (std::vector<int64_t>{1001, 1008, 1009}));
  writeText(dir + "/generation_config.json", R"({"eos_token_id": 7})");
  EXPECT_EQ(Manifest::read(dir).stopTokenIds(),
            (std::vector<int64_t>{1001, 1008, 7}));
}

/// One way to break a written manifest and the message it must give.
struct Broken {
  const char *name;
  std::function<void(json &)> edit;
  const char *message; // after "DIR/manifest.json: "
};

TEST_F(ManifestTest, EveryBrokenFieldIsOneClearError) {
  auto tensor = [](json &m, size_t i) -> json & {
    return m["weights"]["tensors"][i];
  };
  const Broken variants[] = {
      {"not-object", [](json &m) { m = json::array({1}); },
       "not a JSON object"},
      {"no-format", [](json &m) { m.erase("format"); },
       "not a llamac artifact manifest"},
      {"other-format", [](json &m) { m["format"] = "gguf"; },
       "not a llamac artifact manifest"},
      {"no-abi", [](json &m) { m.erase("abi_version"); },
       "missing integer 'abi_version'"},
      {"abi-string", [](json &m) { m["abi_version"] = "5"; },
       "missing integer 'abi_version'"},
      {"abi-other", [](json &m) { m["abi_version"] = 999; },
       "artifact ABI version 999, this runtime reads version"},
      {"no-library", [](json &m) { m.erase("library"); },
       "missing string 'library'"},
      {"kernels-object", [](json &m) { m["kernels"] = json::object(); },
       "'kernels' is not an array"},
      {"kernel-string", [](json &m) { m["kernels"][0] = "embed"; },
       "kernels[0] is not an object with a string 'name'"},
      {"kernel-no-name", [](json &m) { m["kernels"][1].erase("name"); },
       "kernels[1] is not an object with a string 'name'"},
      {"kernel-micro-number",
       [](json &m) { m["kernels"][1]["micro_kernel"] = 3; },
       "kernels[1]: 'micro_kernel' is not a string"},
      {"no-compile", [](json &m) { m.erase("compile"); },
       "missing object 'compile'"},
      {"no-dtype", [](json &m) { m["compile"].erase("dtype"); },
       "missing string 'dtype'"},
      {"no-target", [](json &m) { m["target"] = 3; },
       "missing object 'target'"},
      {"no-cpu", [](json &m) { m["target"].erase("cpu"); },
       "missing string 'cpu'"},
      {"no-units", [](json &m) { m.erase("compute_units"); },
       "missing array 'compute_units'"},
      {"unknown-unit", [](json &m) { m["compute_units"].push_back("tpu"); },
       "unknown compute unit \"tpu\" (known: f32-fma, amx-bf16)"},
      {"unit-number", [](json &m) { m["compute_units"][0] = 1; },
       "unknown compute unit 1"},
      {"no-weights", [](json &m) { m.erase("weights"); },
       "missing object 'weights'"},
      {"no-weights-file", [](json &m) { m["weights"].erase("file"); },
       "missing string 'file'"},
      {"no-weights-size", [](json &m) { m["weights"]["size"] = 1.5; },
       "missing integer 'size'"},
      {"negative-size", [](json &m) { m["weights"]["size"] = -1; },
       "weights size -1 is negative"},
      {"tensor-not-object", [](json &m) { m["weights"]["tensors"][1] = "w"; },
       "malformed weight table"},
      {"tensor-no-name", [&](json &m) { tensor(m, 0).erase("name"); },
       "missing string 'name'"},
      {"tensor-no-offset", [&](json &m) { tensor(m, 0).erase("offset"); },
       "missing integer 'offset'"},
      {"tensor-no-bytes", [&](json &m) { tensor(m, 2)["bytes"] = "4096"; },
       "missing integer 'bytes'"},
      {"tensor-layout", [&](json &m) { tensor(m, 1)["layout"] = "tiles"; },
       "weight 'model.layers.0.mlp.down_proj.weight' has unknown layout "
       "'tiles'"},
      {"tensor-outside",
       [&](json &m) { tensor(m, 2)["offset"] = (1 << 20) - 4095; },
       "weight 'model.layers.0.mlp.down_proj.weight' lies outside "
       "weights.bin"},
      {"tensor-negative", [&](json &m) { tensor(m, 0)["offset"] = -4096; },
       "weight 'model.embed_tokens.weight' lies outside weights.bin"},
      {"no-config", [](json &m) { m.erase("config"); },
       "missing object 'config'"},
      {"no-vocab", [](json &m) { m["config"].erase("vocab_size"); },
       "missing integer 'vocab_size'"},
      {"no-max-positions",
       [](json &m) { m["config"]["max_position_embeddings"] = nullptr; },
       "missing integer 'max_position_embeddings'"},
      {"no-kv-cache", [](json &m) { m.erase("kv_cache"); },
       "missing object 'kv_cache'"},
      {"no-layers", [](json &m) { m["kv_cache"].erase("layers"); },
       "missing integer 'layers'"},
      {"no-kv-heads", [](json &m) { m["kv_cache"].erase("kv_heads"); },
       "missing integer 'kv_heads'"},
      {"no-head-dim", [](json &m) { m["kv_cache"]["head_dim"] = true; },
       "missing integer 'head_dim'"},
      {"zero-vocab", [](json &m) { m["config"]["vocab_size"] = 0; },
       "non-positive model sizes"},
      {"zero-layers", [](json &m) { m["kv_cache"]["layers"] = 0; },
       "non-positive model sizes"},
      {"no-query-heads", [](json &m) { m["kv_cache"].erase("query_heads"); },
       "missing integer 'query_heads'"},
      {"unknown-cache-dtype",
       [](json &m) { m["kv_cache"]["dtype"] = "q4_0"; },
       "kv_cache dtype 'q4_0' is not one of f32, bf16, f16, q8_0"},
      {"q8-cache-rows-not-whole-blocks",
       [](json &m) {
         m["kv_cache"]["dtype"] = "q8_0";
         m["kv_cache"]["head_dim"] = 48;
       },
       "a q8_0 KV cache cannot hold rows of head_dim 48"},
      {"query-heads-not-shared-evenly",
       [](json &m) { m["kv_cache"]["kv_heads"] = 3; },
       "4 query heads that are not a multiple of the kv heads (3)"},
  };
  sample().write(manifestPath());
  const json good = json::parse(readText(manifestPath()));
  ASSERT_NO_THROW(Manifest::read(dir));
  for (const Broken &variant : variants) {
    json broken = good;
    variant.edit(broken);
    writeText(manifestPath(), broken.dump(2));
    try {
      Manifest::read(dir);
      ADD_FAILURE() << variant.name << ": no error";
    } catch (const Error &error) {
      std::string expected = manifestPath() + ": " + variant.message;
      EXPECT_EQ(std::string(error.what()).substr(0, expected.size()), expected)
          << variant.name;
      EXPECT_EQ(error.kind(), ErrorKind::Invalid) << variant.name;
    }
  }
}

/// What reading `dir` says (empty when it succeeds).
std::string readError(const std::string &dir) {
  try {
    Manifest::read(dir);
  } catch (const Error &error) {
    return error.what();
  }
  return "";
}

TEST_F(ManifestTest, UnreadableFilesAreOneClearError) {
  EXPECT_EQ(readError(dir + "/missing"),
            dir + "/missing: no such artifact directory");
  EXPECT_EQ(readError(dir), manifestPath() +
                                ": No such file or directory (not a llamac "
                                "artifact? create one with 'llamac compile')");
  writeText(manifestPath(), "{\"format\": ");
  EXPECT_EQ(readError(dir).substr(0, manifestPath().size() + 15),
            manifestPath() + ": invalid JSON:");
  writeText(manifestPath(), "");
  EXPECT_NE(readError(dir).find("invalid JSON"), std::string::npos);

  sample().write(manifestPath());
  std::string generation = dir + "/generation_config.json";
  writeText(generation, "{\"eos_token_id\": [1, ");
  EXPECT_EQ(readError(dir).substr(0, generation.size() + 15),
            generation + ": invalid JSON:");
  // One that is no object adds no ids and is no error.
  writeText(generation, "[1, 2]");
  EXPECT_EQ(readError(dir), "");
}

TEST_F(ManifestTest, WriteErrorsNameTheFile) {
  std::string path = dir + "/no-such-dir/manifest.json";
  try {
    sample().write(path);
    ADD_FAILURE() << "no error";
  } catch (const Error &error) {
    EXPECT_EQ(std::string(error.what()), path + ": No such file or directory");
  }
  Manifest notJSON = sample();
  notJSON.configJSON = "{\"vocab_size\": ";
  EXPECT_THROW(notJSON.write(manifestPath()), Error);
  Manifest notObject = sample();
  notObject.configJSON = "[1024]";
  try {
    notObject.write(manifestPath());
    ADD_FAILURE() << "no error";
  } catch (const Error &error) {
    EXPECT_EQ(std::string(error.what()),
              manifestPath() + ": the model config is not a JSON object");
  }
}

} // namespace
