//===- LlamaConfigTest.cpp - Tests of the config.json reader --------------===//
//
// Reads the golden configs and the embedded preset, checks the Hugging Face
// defaults, the round trip through toJSON, and that every malformed or
// unsupported config ends in one line naming the field.
//
//===----------------------------------------------------------------------===//

#include "llamac/Frontend/LlamaConfig.h"

#include "llvm/ADT/SmallString.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/Path.h"

#include "gtest/gtest.h"

#include <initializer_list>

using namespace llvm;
using namespace llamac;

namespace {

constexpr const char *kSource = "config.json";

/// A small valid config with every field `transformers` writes for Llama 3.
json::Object baseConfig() {
  return json::Object{
      {"architectures", json::Array{"LlamaForCausalLM"}},
      {"model_type", "llama"},
      {"hidden_act", "silu"},
      {"attention_bias", false},
      {"mlp_bias", false},
      {"hidden_size", 64},
      {"intermediate_size", 128},
      {"num_hidden_layers", 2},
      {"num_attention_heads", 4},
      {"num_key_value_heads", 2},
      {"head_dim", 16},
      {"vocab_size", 100},
      {"max_position_embeddings", 512},
      {"rms_norm_eps", 1e-5},
      {"rope_theta", 500000.0},
      {"rope_scaling", json::Object{{"rope_type", "llama3"},
                                    {"factor", 8.0},
                                    {"low_freq_factor", 1.0},
                                    {"high_freq_factor", 4.0},
                                    {"original_max_position_embeddings", 256}}},
      {"tie_word_embeddings", true},
      {"bos_token_id", 1},
      {"eos_token_id", json::Array{2, 3}},
      {"torch_dtype", "bfloat16"},
  };
}

std::string serialize(json::Object object) {
  return formatv("{0}", json::Value(std::move(object))).str();
}

Expected<LlamaConfig> parseObject(json::Object object) {
  return parseLlamaConfig(serialize(std::move(object)), kSource);
}

/// The base config with `key` set to `value`.
Expected<LlamaConfig> parseWith(StringRef key, json::Value value) {
  json::Object object = baseConfig();
  object[key] = std::move(value);
  return parseObject(std::move(object));
}

/// The base config without `key`.
Expected<LlamaConfig> parseWithout(StringRef key) {
  json::Object object = baseConfig();
  object.erase(key);
  return parseObject(std::move(object));
}

template <typename T> std::string errorOf(Expected<T> result) {
  if (result) {
    ADD_FAILURE() << "expected an error";
    return "";
  }
  return toString(result.takeError());
}

/// Checks the message is one line starting with the source and containing
/// each of `parts`.
void expectError(Expected<LlamaConfig> result,
                 std::initializer_list<const char *> parts) {
  std::string message = errorOf(std::move(result));
  EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  EXPECT_TRUE(StringRef(message).starts_with("config.json: ")) << message;
  for (const char *part : parts)
    EXPECT_NE(message.find(part), std::string::npos)
        << "'" << part << "' not in: " << message;
}

std::string goldenConfig(StringRef model) {
  SmallString<256> path(LLAMAC_GOLDEN_DIR);
  sys::path::append(path, model, "config.json");
  return std::string(path);
}

void expectLlama3Scaling(const LlamaConfig &config) {
  EXPECT_EQ(config.ropeScaling.kind, RopeScaling::Kind::Llama3);
  EXPECT_EQ(config.ropeScaling.factor, 32.0);
  EXPECT_EQ(config.ropeScaling.lowFreqFactor, 1.0);
  EXPECT_EQ(config.ropeScaling.highFreqFactor, 4.0);
  EXPECT_EQ(config.ropeScaling.originalMaxPositionEmbeddings, 8192);
}

void expectSameConfig(const LlamaConfig &a, const LlamaConfig &b) {
  EXPECT_EQ(a.hiddenSize, b.hiddenSize);
  EXPECT_EQ(a.intermediateSize, b.intermediateSize);
  EXPECT_EQ(a.numLayers, b.numLayers);
  EXPECT_EQ(a.numHeads, b.numHeads);
  EXPECT_EQ(a.numKVHeads, b.numKVHeads);
  EXPECT_EQ(a.headDim, b.headDim);
  EXPECT_EQ(a.vocabSize, b.vocabSize);
  EXPECT_EQ(a.maxPositionEmbeddings, b.maxPositionEmbeddings);
  EXPECT_EQ(a.rmsNormEps, b.rmsNormEps);
  EXPECT_EQ(a.ropeTheta, b.ropeTheta);
  EXPECT_EQ(a.ropeScaling.kind, b.ropeScaling.kind);
  EXPECT_EQ(a.ropeScaling.factor, b.ropeScaling.factor);
  EXPECT_EQ(a.ropeScaling.lowFreqFactor, b.ropeScaling.lowFreqFactor);
  EXPECT_EQ(a.ropeScaling.highFreqFactor, b.ropeScaling.highFreqFactor);
  EXPECT_EQ(a.ropeScaling.originalMaxPositionEmbeddings,
            b.ropeScaling.originalMaxPositionEmbeddings);
  EXPECT_EQ(a.tieWordEmbeddings, b.tieWordEmbeddings);
  EXPECT_EQ(a.bosTokenId, b.bosTokenId);
  EXPECT_EQ(a.eosTokenIds, b.eosTokenIds);
  EXPECT_EQ(a.torchDtype, b.torchDtype);
}

void expectRoundTrip(const LlamaConfig &config) {
  std::string text = config.toJSON();
  Expected<LlamaConfig> again = parseLlamaConfig(text, "round-trip");
  ASSERT_TRUE(bool(again)) << toString(again.takeError()) << "\n" << text;
  expectSameConfig(config, *again);
}

TEST(LlamaConfig, GoldenTied) {
  Expected<LlamaConfig> config = readLlamaConfig(goldenConfig("llama-golden"));
  ASSERT_TRUE(bool(config)) << toString(config.takeError());
  EXPECT_EQ(config->hiddenSize, 256);
  EXPECT_EQ(config->intermediateSize, 512);
  EXPECT_EQ(config->numLayers, 2);
  EXPECT_EQ(config->numHeads, 4);
  EXPECT_EQ(config->numKVHeads, 1);
  EXPECT_EQ(config->groupSize(), 4);
  EXPECT_EQ(config->headDim, 64);
  EXPECT_EQ(config->vocabSize, 1024);
  EXPECT_EQ(config->maxPositionEmbeddings, 131072);
  EXPECT_EQ(config->rmsNormEps, 1e-5);
  EXPECT_EQ(config->ropeTheta, 500000.0);
  expectLlama3Scaling(*config);
  EXPECT_TRUE(config->tieWordEmbeddings);
  EXPECT_EQ(config->bosTokenId, std::optional<int64_t>(1000));
  EXPECT_EQ(config->eosTokenIds, (std::vector<int64_t>{1001, 1008, 1009}));
  EXPECT_EQ(config->torchDtype, "bfloat16");
  expectRoundTrip(*config);
}

TEST(LlamaConfig, GoldenGQA) {
  Expected<LlamaConfig> config =
      readLlamaConfig(goldenConfig("llama-golden-gqa"));
  ASSERT_TRUE(bool(config)) << toString(config.takeError());
  EXPECT_EQ(config->hiddenSize, 256);
  EXPECT_EQ(config->intermediateSize, 768);
  EXPECT_EQ(config->numLayers, 3);
  EXPECT_EQ(config->numHeads, 8);
  EXPECT_EQ(config->numKVHeads, 2);
  EXPECT_EQ(config->groupSize(), 4);
  // 8 x 32 = 256 here, but head_dim comes from the file, not the division.
  EXPECT_EQ(config->headDim, 32);
  EXPECT_FALSE(config->tieWordEmbeddings);
  expectLlama3Scaling(*config);
  expectRoundTrip(*config);
}

TEST(LlamaConfig, Preset1B) {
  for (const char *name : {"llama-3.2-1b", "1b", "Llama-3.2-1B"}) {
    Expected<LlamaConfig> config = getPresetConfig(name);
    ASSERT_TRUE(bool(config)) << name << ": " << toString(config.takeError());
    EXPECT_EQ(config->hiddenSize, 2048);
    EXPECT_EQ(config->intermediateSize, 8192);
    EXPECT_EQ(config->numLayers, 16);
    EXPECT_EQ(config->numHeads, 32);
    EXPECT_EQ(config->numKVHeads, 8);
    EXPECT_EQ(config->groupSize(), 4);
    EXPECT_EQ(config->headDim, 64);
    EXPECT_EQ(config->vocabSize, 128256);
    EXPECT_EQ(config->maxPositionEmbeddings, 131072);
    EXPECT_EQ(config->rmsNormEps, 1e-5);
    EXPECT_EQ(config->ropeTheta, 500000.0);
    expectLlama3Scaling(*config);
    EXPECT_TRUE(config->tieWordEmbeddings);
    EXPECT_EQ(config->bosTokenId, std::optional<int64_t>(128000));
    EXPECT_EQ(config->eosTokenIds,
              (std::vector<int64_t>{128001, 128008, 128009}));
    EXPECT_EQ(config->torchDtype, "bfloat16");
    expectRoundTrip(*config);
  }
}

TEST(LlamaConfig, PresetTiny) {
  // The test model: Llama 3.2 1B with small widths, same vocabulary, RoPE,
  // special tokens; still grouped-query (2 query heads per KV head) and tied.
  for (const char *name : {"tiny", "TINY"}) {
    Expected<LlamaConfig> config = getPresetConfig(name);
    ASSERT_TRUE(bool(config)) << name << ": " << toString(config.takeError());
    EXPECT_EQ(config->hiddenSize, 256);
    EXPECT_EQ(config->intermediateSize, 512);
    EXPECT_EQ(config->numLayers, 2);
    EXPECT_EQ(config->numHeads, 4);
    EXPECT_EQ(config->numKVHeads, 2);
    EXPECT_EQ(config->groupSize(), 2);
    EXPECT_EQ(config->headDim, 64);
    EXPECT_EQ(config->vocabSize, 128256);
    EXPECT_EQ(config->maxPositionEmbeddings, 131072);
    EXPECT_EQ(config->rmsNormEps, 1e-5);
    EXPECT_EQ(config->ropeTheta, 500000.0);
    expectLlama3Scaling(*config);
    EXPECT_TRUE(config->tieWordEmbeddings);
    EXPECT_EQ(config->bosTokenId, std::optional<int64_t>(128000));
    EXPECT_EQ(config->eosTokenIds,
              (std::vector<int64_t>{128001, 128008, 128009}));
    EXPECT_EQ(config->torchDtype, "bfloat16");
    expectRoundTrip(*config);
  }
}

TEST(LlamaConfig, PresetNamesAndUnknownPreset) {
  std::vector<std::string> names = presetNames();
  EXPECT_EQ(names, (std::vector<std::string>{"llama-3.2-1b", "llama-3.2-3b",
                                             "llama-3.1-8b", "tiny"}));
  for (const std::string &name : names)
    EXPECT_TRUE(bool(getPresetConfig(name))) << name;

  std::string message = errorOf(getPresetConfig("llama-9000"));
  EXPECT_NE(message.find("unknown preset 'llama-9000'"), std::string::npos)
      << message;
  EXPECT_NE(message.find("llama-3.2-1b"), std::string::npos) << message;
  EXPECT_NE(message.find("1b"), std::string::npos) << message;
  EXPECT_NE(message.find("tiny"), std::string::npos) << message;
}

TEST(LlamaConfig, BiggerPresetsAreThePublishedModels) {
  // The model cards' figures: Llama 3.2 3B and Llama 3.1 8B (Instruct).
  Expected<LlamaConfig> threeB = getPresetConfig("3b");
  ASSERT_TRUE(bool(threeB)) << toString(threeB.takeError());
  EXPECT_EQ(threeB->hiddenSize, 3072);
  EXPECT_EQ(threeB->numLayers, 28);
  EXPECT_EQ(threeB->numHeads, 24);
  EXPECT_EQ(threeB->numKVHeads, 8);
  EXPECT_EQ(threeB->headDim, 128);
  EXPECT_EQ(threeB->intermediateSize, 8192);
  EXPECT_TRUE(threeB->tieWordEmbeddings);
  EXPECT_EQ(threeB->ropeScaling.factor, 32.0);

  Expected<LlamaConfig> eightB = getPresetConfig("llama-3.1-8b");
  ASSERT_TRUE(bool(eightB)) << toString(eightB.takeError());
  EXPECT_EQ(eightB->hiddenSize, 4096);
  EXPECT_EQ(eightB->numLayers, 32);
  EXPECT_EQ(eightB->numHeads, 32);
  EXPECT_EQ(eightB->numKVHeads, 8);
  // No head_dim in the file: hidden_size / num_attention_heads.
  EXPECT_EQ(eightB->headDim, 128);
  EXPECT_EQ(eightB->intermediateSize, 14336);
  EXPECT_FALSE(eightB->tieWordEmbeddings);
  EXPECT_EQ(eightB->ropeScaling.factor, 8.0);
  EXPECT_EQ(eightB->maxPositionEmbeddings, 131072);
  EXPECT_EQ(eightB->vocabSize, 128256);
}

TEST(LlamaConfig, BaseConfigParses) {
  Expected<LlamaConfig> config = parseObject(baseConfig());
  ASSERT_TRUE(bool(config)) << toString(config.takeError());
  EXPECT_EQ(config->numKVHeads, 2);
  EXPECT_EQ(config->ropeScaling.factor, 8.0);
  EXPECT_EQ(config->ropeScaling.originalMaxPositionEmbeddings, 256);
  EXPECT_EQ(config->eosTokenIds, (std::vector<int64_t>{2, 3}));
  Error err = config->validate();
  EXPECT_FALSE(bool(err)) << toString(std::move(err));
}

TEST(LlamaConfig, Defaults) {
  // Only the required fields: the rest take the `transformers` defaults.
  json::Object minimal{
      {"hidden_size", 64},      {"intermediate_size", 128},
      {"num_hidden_layers", 1}, {"num_attention_heads", 4},
      {"vocab_size", 100},      {"max_position_embeddings", 512},
      {"rms_norm_eps", 1e-6},
  };
  Expected<LlamaConfig> config = parseObject(minimal);
  ASSERT_TRUE(bool(config)) << toString(config.takeError());
  EXPECT_EQ(config->numKVHeads, 4);
  EXPECT_EQ(config->headDim, 16);
  EXPECT_EQ(config->ropeTheta, 10000.0);
  EXPECT_EQ(config->ropeScaling.kind, RopeScaling::Kind::None);
  EXPECT_FALSE(config->tieWordEmbeddings);
  EXPECT_FALSE(config->bosTokenId.has_value());
  EXPECT_TRUE(config->eosTokenIds.empty());
  EXPECT_TRUE(config->torchDtype.empty());
  expectRoundTrip(*config);

  // Null means "use the default" too.
  json::Object nulls = minimal;
  for (const char *key :
       {"num_key_value_heads", "head_dim", "rope_theta", "rope_scaling",
        "bos_token_id", "eos_token_id", "tie_word_embeddings", "torch_dtype"})
    nulls[key] = nullptr;
  Expected<LlamaConfig> withNulls = parseObject(nulls);
  ASSERT_TRUE(bool(withNulls)) << toString(withNulls.takeError());
  expectSameConfig(*config, *withNulls);

  // head_dim defaults to hidden / query heads, whatever the KV heads.
  json::Object gqa = minimal;
  gqa["num_key_value_heads"] = 2;
  Expected<LlamaConfig> implied = parseObject(gqa);
  ASSERT_TRUE(bool(implied)) << toString(implied.takeError());
  EXPECT_EQ(implied->numKVHeads, 2);
  EXPECT_EQ(implied->headDim, 16);
}

TEST(LlamaConfig, ExplicitHeadDimNeedNotDivideHidden) {
  json::Object object = baseConfig();
  object["hidden_size"] = 60;
  object["head_dim"] = 32; // 4 x 32 = 128 != 60: allowed in Llama 3.x.
  Expected<LlamaConfig> config = parseObject(std::move(object));
  ASSERT_TRUE(bool(config)) << toString(config.takeError());
  EXPECT_EQ(config->headDim, 32);
  expectRoundTrip(*config);
}

TEST(LlamaConfig, ImplicitHeadDimMustDivide) {
  json::Object object = baseConfig();
  object.erase("head_dim");
  object["hidden_size"] = 66;
  expectError(parseObject(std::move(object)),
              {"'hidden_size' (66)", "not divisible",
               "'num_attention_heads' (4)", "head_dim"});
}

TEST(LlamaConfig, RopeScalingVariants) {
  // Legacy key "type".
  Expected<LlamaConfig> legacy = parseWith(
      "rope_scaling", json::Object{{"type", "llama3"},
                                   {"factor", 32.0},
                                   {"low_freq_factor", 1},
                                   {"high_freq_factor", 4},
                                   {"original_max_position_embeddings", 8192}});
  ASSERT_TRUE(bool(legacy)) << toString(legacy.takeError());
  expectLlama3Scaling(*legacy);

  Expected<LlamaConfig> none =
      parseWith("rope_scaling", json::Object{{"rope_type", "default"}});
  ASSERT_TRUE(bool(none)) << toString(none.takeError());
  EXPECT_EQ(none->ropeScaling.kind, RopeScaling::Kind::None);
  expectRoundTrip(*none);

  Expected<LlamaConfig> absent = parseWithout("rope_scaling");
  ASSERT_TRUE(bool(absent)) << toString(absent.takeError());
  EXPECT_EQ(absent->ropeScaling.kind, RopeScaling::Kind::None);
}

TEST(LlamaConfig, IntegersAndSingleEos) {
  // Integral doubles are integers; a single eos id becomes a list of one.
  json::Object object = baseConfig();
  object["hidden_size"] = 64.0;
  object["eos_token_id"] = 7;
  object["bos_token_id"] = nullptr;
  Expected<LlamaConfig> config = parseObject(std::move(object));
  ASSERT_TRUE(bool(config)) << toString(config.takeError());
  EXPECT_EQ(config->hiddenSize, 64);
  EXPECT_EQ(config->eosTokenIds, (std::vector<int64_t>{7}));
  EXPECT_FALSE(config->bosTokenId.has_value());
  expectRoundTrip(*config);
}

TEST(LlamaConfig, NewDtypeKey) {
  json::Object object = baseConfig();
  object.erase("torch_dtype");
  object["dtype"] = "float32";
  Expected<LlamaConfig> config = parseObject(std::move(object));
  ASSERT_TRUE(bool(config)) << toString(config.takeError());
  EXPECT_EQ(config->torchDtype, "float32");
}

TEST(LlamaConfig, RepeatedKeyLastWins) {
  // Python's json module keeps the last value of a repeated key, and so
  // does llvm::json::parse: the config means what `transformers` reads.
  json::Object object = baseConfig();
  object.erase("hidden_size");
  std::string text = serialize(std::move(object));
  text.insert(1, "\"hidden_size\": 32, \"hidden_size\": 64, ");
  Expected<LlamaConfig> config = parseLlamaConfig(text, kSource);
  ASSERT_TRUE(bool(config)) << toString(config.takeError());
  EXPECT_EQ(config->hiddenSize, 64);
}

TEST(LlamaConfigErrors, BadJSON) {
  expectError(parseLlamaConfig("{\"hidden_size\": 64,", kSource),
              {"invalid JSON"});
  expectError(parseLlamaConfig("", kSource), {"invalid JSON"});
}

TEST(LlamaConfigErrors, TopLevelNotObject) {
  expectError(parseLlamaConfig("[1, 2, 3]", kSource),
              {"top level is not a JSON object"});
}

TEST(LlamaConfigErrors, MissingField) {
  for (const char *field :
       {"hidden_size", "intermediate_size", "num_hidden_layers",
        "num_attention_heads", "vocab_size", "max_position_embeddings",
        "rms_norm_eps"})
    expectError(
        parseWithout(field),
        {"missing required field", (std::string("'") + field + "'").c_str()});
}

TEST(LlamaConfigErrors, WrongType) {
  expectError(parseWith("hidden_size", "2048"),
              {"field 'hidden_size'", "must be an integer", "got string"});
  expectError(parseWith("hidden_size", nullptr),
              {"field 'hidden_size'", "must be an integer", "got null"});
  expectError(parseWith("hidden_size", 64.5),
              {"field 'hidden_size'", "must be an integer", "64.5"});
  expectError(parseWith("vocab_size", 1e30),
              {"field 'vocab_size'", "out of range"});
  expectError(parseWith("rms_norm_eps", "small"),
              {"field 'rms_norm_eps'", "must be a number", "got string"});
  expectError(parseWith("tie_word_embeddings", 1),
              {"field 'tie_word_embeddings'", "must be a boolean"});
  expectError(parseWith("rope_scaling", "llama3"),
              {"field 'rope_scaling'", "object or null", "got string"});
  expectError(parseWith("bos_token_id", "<s>"),
              {"field 'bos_token_id'", "must be an integer", "got string"});
  expectError(parseWith("torch_dtype", 16),
              {"field 'torch_dtype'", "must be a string"});
}

TEST(LlamaConfigErrors, NonPositiveSizes) {
  expectError(parseWith("num_attention_heads", 0),
              {"field 'num_attention_heads'", "must be positive", "got 0"});
  expectError(parseWith("hidden_size", -64),
              {"field 'hidden_size'", "must be positive", "-64"});
  expectError(parseWith("num_hidden_layers", -1),
              {"field 'num_hidden_layers'", "must be positive"});
  expectError(parseWith("intermediate_size", 0),
              {"field 'intermediate_size'", "must be positive"});
  expectError(parseWith("num_key_value_heads", 0),
              {"field 'num_key_value_heads'", "must be positive"});
  expectError(parseWith("head_dim", -16),
              {"field 'head_dim'", "must be positive"});
  expectError(parseWith("vocab_size", 0),
              {"field 'vocab_size'", "must be positive"});
  expectError(parseWith("max_position_embeddings", 0),
              {"field 'max_position_embeddings'", "must be positive"});
}

TEST(LlamaConfigErrors, TooLarge) {
  expectError(parseWith("vocab_size", int64_t(1) << 23),
              {"field 'vocab_size'", "exceeds"});
  expectError(parseWith("num_hidden_layers", 5000),
              {"field 'num_hidden_layers'", "exceeds"});
  expectError(parseWith("hidden_size", int64_t(1) << 40),
              {"field 'hidden_size'", "exceeds"});
  json::Object object = baseConfig();
  object["num_attention_heads"] = 1 << 20;
  object["num_key_value_heads"] = 1;
  object["head_dim"] = 1 << 10;
  expectError(parseObject(std::move(object)),
              {"'num_attention_heads'", "'head_dim'", "exceeds"});
}

TEST(LlamaConfigErrors, HeadsNotDivisibleByKVHeads) {
  json::Object object = baseConfig();
  object["num_attention_heads"] = 32;
  object["num_key_value_heads"] = 5;
  std::string message = errorOf(parseObject(std::move(object)));
  EXPECT_EQ(message, "config.json: field 'num_attention_heads' (32) is not "
                     "divisible by 'num_key_value_heads' (5)");
  // More KV heads than query heads.
  expectError(parseWith("num_key_value_heads", 8),
              {"'num_attention_heads' (4)", "'num_key_value_heads' (8)"});
}

TEST(LlamaConfigErrors, OddHeadDim) {
  expectError(parseWith("head_dim", 15), {"field 'head_dim'", "even"});
}

TEST(LlamaConfigErrors, BadNumbers) {
  expectError(parseWith("rms_norm_eps", 0.0),
              {"field 'rms_norm_eps'", "positive"});
  expectError(parseWith("rms_norm_eps", -1e-5),
              {"field 'rms_norm_eps'", "positive"});
  // 1e400 parses as infinity, which json::Value cannot be built from.
  json::Object object = baseConfig();
  object.erase("rms_norm_eps");
  std::string text = serialize(std::move(object));
  text.insert(text.size() - 1, ",\"rms_norm_eps\": 1e400");
  expectError(parseLlamaConfig(text, kSource),
              {"field 'rms_norm_eps'", "finite"});
  expectError(parseWith("rope_theta", 0), {"field 'rope_theta'", "positive"});
}

TEST(LlamaConfigErrors, UnknownRopeType) {
  expectError(parseWith("rope_scaling",
                        json::Object{{"rope_type", "yarn"}, {"factor", 4.0}}),
              {"field 'rope_scaling.rope_type'", "'yarn'", "llama3"});
  expectError(parseWith("rope_scaling",
                        json::Object{{"type", "linear"}, {"factor", 4.0}}),
              {"field 'rope_scaling.type'", "'linear'"});
  expectError(parseWith("rope_scaling", json::Object{{"factor", 4.0}}),
              {"field 'rope_scaling'", "no 'rope_type'"});
}

TEST(LlamaConfigErrors, BadLlama3Scaling) {
  json::Object scaling{{"rope_type", "llama3"},
                       {"factor", 32.0},
                       {"low_freq_factor", 1.0},
                       {"high_freq_factor", 4.0},
                       {"original_max_position_embeddings", 8192}};
  for (const char *key : {"factor", "low_freq_factor", "high_freq_factor",
                          "original_max_position_embeddings"}) {
    json::Object missing = scaling;
    missing.erase(key);
    expectError(parseWith("rope_scaling", std::move(missing)),
                {"missing required field",
                 (std::string("'rope_scaling.") + key + "'").c_str()});
  }
  json::Object bad = scaling;
  bad["factor"] = 0.5;
  expectError(parseWith("rope_scaling", std::move(bad)),
              {"field 'rope_scaling.factor'", ">= 1", "0.5"});
  bad = scaling;
  bad["high_freq_factor"] = 1.0;
  expectError(parseWith("rope_scaling", std::move(bad)),
              {"field 'rope_scaling.high_freq_factor'", "greater than"});
  bad = scaling;
  bad["low_freq_factor"] = 0;
  expectError(parseWith("rope_scaling", std::move(bad)),
              {"field 'rope_scaling.low_freq_factor'", "positive"});
  bad = scaling;
  bad["original_max_position_embeddings"] = 0;
  expectError(parseWith("rope_scaling", std::move(bad)),
              {"field 'rope_scaling.original_max_position_embeddings'"});
  bad = scaling;
  bad["original_max_position_embeddings"] = 8192.5;
  expectError(parseWith("rope_scaling", std::move(bad)),
              {"field 'rope_scaling.original_max_position_embeddings'",
               "must be an integer"});
}

TEST(LlamaConfigErrors, Biases) {
  expectError(parseWith("attention_bias", true),
              {"field 'attention_bias'", "biases"});
  expectError(parseWith("mlp_bias", true), {"field 'mlp_bias'", "biases"});
  expectError(parseWith("mlp_bias", "no"),
              {"field 'mlp_bias'", "must be a boolean"});
}

TEST(LlamaConfigErrors, OtherArchitectures) {
  expectError(parseWith("model_type", "mistral"),
              {"field 'model_type'", "'mistral'"});
  expectError(parseWith("hidden_act", "gelu"),
              {"field 'hidden_act'", "'gelu'", "silu"});
}

TEST(LlamaConfigErrors, TokenIds) {
  expectError(parseWith("eos_token_id", json::Array{2, "x", 3}),
              {"field 'eos_token_id[1]'", "must be an integer", "got string"});
  expectError(parseWith("eos_token_id", json::Array{2, 3, 100}),
              {"field 'eos_token_id[2]'", "(100)", "vocabulary"});
  expectError(parseWith("eos_token_id", "</s>"),
              {"field 'eos_token_id'", "got string"});
  expectError(parseWith("bos_token_id", -1),
              {"field 'bos_token_id'", "(-1)", "vocabulary"});
  expectError(parseWith("bos_token_id", 100),
              {"field 'bos_token_id'", "vocabulary [0, 100)"});
}

TEST(LlamaConfigErrors, ValidateWithoutSource) {
  LlamaConfig config;
  std::string message = toString(config.validate());
  EXPECT_EQ(message, "field 'hidden_size' must be positive, got 0");
}

TEST(LlamaConfigErrors, MissingFile) {
  std::string path = std::string(LLAMAC_GOLDEN_DIR) + "/no-such/config.json";
  std::string message = errorOf(readLlamaConfig(path));
  EXPECT_TRUE(StringRef(message).starts_with(path)) << message;
}

} // namespace
