//===- ReferenceModelTest.cpp - Compiled models vs a naive reference ------===//
//
// Compiles small Llama models of many shapes (head counts, GQA ratios 1 to 8,
// head_dim 32/64/128, hidden sizes other than heads * head_dim, tied and
// untied output, RoPE with and without llama3 scaling, 1 to 3 layers) and
// compares every logit of the compiled `prefill` with a forward pass written
// here straight from the math of the golden README: per token, per head
// loops, sharing no code with the compiler. The same models then check that
// incremental decoding through the KV cache reproduces one prefill, that
// reset() and split prompts change nothing, and that the runtime refuses
// prompts and tokens it cannot run.
//
// The synthetic weights (std 0.02) give nearly uniform attention, which would
// hide mistakes in RoPE, the causal mask or the query-to-KV head mapping, so
// most configurations overwrite the synthesized tensors with weights scaled
// like a trained model's activations: unit-variance residual stream and
// query/key projections large enough that attention is peaked.
//
//===----------------------------------------------------------------------===//

#include "llamac/Compiler/Compiler.h"
#include "llamac/Frontend/LlamaConfig.h"
#include "llamac/Frontend/Safetensors.h"
#include "llamac/Frontend/Synth.h"
#include "llamac/Runtime/Runtime.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/TargetParser/Host.h"

#include "gtest/gtest.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <vector>

using namespace llamac;
using llvm::ArrayRef;
using llvm::Expected;
using llvm::toString;

namespace {

//===----------------------------------------------------------------------===//
// Test configurations
//===----------------------------------------------------------------------===//

struct RopeParams {
  bool llama3 = false;
  double factor = 32.0;
  double lowFreqFactor = 1.0;
  double highFreqFactor = 4.0;
  int64_t originalMaxPositions = 8192;
};

/// What a configuration checks beyond prefill against the reference.
enum CheckFlags : unsigned {
  kPrefillOnly = 0,
  /// Incremental decode, reset() and split-prefill checks.
  kDecode = 1,
  /// Keep the synthesized std-0.02 weights instead of writing our own.
  kSynthWeights = 2,
};

struct TestModel {
  std::string name;
  int64_t numHeads, numKVHeads, headDim, hiddenSize, intermediateSize;
  int64_t numLayers, vocabSize;
  bool tied;
  double ropeTheta;
  RopeParams rope;
  /// Tokens of the prompt compared with the reference.
  int64_t seqLen;
  uint64_t seed;
  unsigned flags = kPrefillOnly;
};

constexpr RopeParams kNoRope{};
constexpr RopeParams kLlama32Rope{true, 32.0, 1.0, 4.0, 8192};
// Bands of llama3 scaling that fall inside a few hundred positions: with the
// real model's 8192 original positions only the lowest frequencies move, and
// they barely rotate over a test-length prompt, so a wrong rescale would go
// unnoticed.
constexpr RopeParams kShortRope{true, 8.0, 1.0, 4.0, 64};
constexpr RopeParams kShortRope2{true, 4.0, 2.0, 6.0, 96};
constexpr RopeParams kShortRope3{true, 16.0, 1.0, 8.0, 128};

// Most hidden sizes differ from heads * head_dim (Llama allows an explicit
// head_dim), and mha_d32_odd_sizes has no power-of-two width at all.
// clang-format off
const TestModel kModels[] = {
  //                           heads kv  hd hidden inter layers vocab
  //                           tied   theta  rope          seq seed flags
  {"mha_d64",                    4,  4,  64,  256,  512, 2,  512,
                               true,  5e5,   kLlama32Rope,   7, 11, kDecode},
  {"gqa2_d32_untied_len1",       6,  3,  32,  192,  320, 1,  768,
                               false, 1e4,   kNoRope,        1, 12},
  {"gqa4_d128_len300",           4,  1, 128,  320,  384, 2,  640,
                               true,  1e4,   kShortRope,   300, 13},
  {"gqa8_d64_untied_len300",     8,  1,  64,  256,  512, 3, 1024,
                               false, 5e4,   kShortRope3,  300, 14},
  {"gqa2_d128_untied",           8,  4, 128,  512,  768, 1,  512,
                               false, 1e6,   kNoRope,       33, 15, kDecode},
  {"gqa4_d32",                   8,  2,  32,  160,  256, 2,  896,
                               true,  2e4,   kShortRope2,   64, 16, kDecode},
  {"mha_d32_odd_sizes",          3,  3,  32,  100,  200, 1, 1000,
                               false, 1e4,   kNoRope,       17, 17},
  {"gqa8_d128",                 16,  2, 128,  256,  512, 1,  512,
                               true,  5e5,   kLlama32Rope,   5, 18},
  {"mha_d64_len2",               2,  2,  64,  128,  256, 3,  600,
                               true,  5e5,   kLlama32Rope,   2, 19},
  {"gqa2_d64_len128",            4,  2,  64,  200,  344, 2,  520,
                               false, 1e5,   kShortRope,   128, 20},
  {"synth_weights",              4,  2,  64,  256,  512, 2,  512,
                               true,  5e5,   kLlama32Rope,  12, 21,
                               kSynthWeights},
};
// clang-format on

std::vector<TestModel> randomModels(int count);

/// The hand-picked models, which cover every feature on purpose, and a few
/// drawn at random from fixed seeds, which cover the combinations nobody
/// thought of.
std::vector<TestModel> allModels() {
  std::vector<TestModel> models(std::begin(kModels), std::end(kModels));
  for (TestModel &model : randomModels(4))
    models.push_back(std::move(model));
  return models;
}

LlamaConfig makeConfig(const TestModel &model) {
  Expected<LlamaConfig> preset = getPresetConfig("tiny");
  EXPECT_TRUE(bool(preset)) << toString(preset.takeError());
  LlamaConfig config = *preset;
  config.numHeads = model.numHeads;
  config.numKVHeads = model.numKVHeads;
  config.headDim = model.headDim;
  config.hiddenSize = model.hiddenSize;
  config.intermediateSize = model.intermediateSize;
  config.numLayers = model.numLayers;
  config.vocabSize = model.vocabSize;
  config.tieWordEmbeddings = model.tied;
  config.ropeTheta = model.ropeTheta;
  config.ropeScaling = RopeScaling();
  if (model.rope.llama3) {
    config.ropeScaling.kind = RopeScaling::Kind::Llama3;
    config.ropeScaling.factor = model.rope.factor;
    config.ropeScaling.lowFreqFactor = model.rope.lowFreqFactor;
    config.ropeScaling.highFreqFactor = model.rope.highFreqFactor;
    config.ropeScaling.originalMaxPositionEmbeddings =
        model.rope.originalMaxPositions;
  }
  // The preset's special tokens are ids of the real 128256-token vocabulary.
  config.bosTokenId = model.vocabSize - 3;
  config.eosTokenIds = {model.vocabSize - 2, model.vocabSize - 1};
  return config;
}

//===----------------------------------------------------------------------===//
// Random numbers (our own, so the test does not depend on <random>'s
// implementation-defined distributions)
//===----------------------------------------------------------------------===//

class Rng {
public:
  explicit Rng(uint64_t seed) : state(seed) {}
  uint64_t next() {
    uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  /// Uniform in (0, 1).
  double uniform() { return (double(next() >> 11) + 0.5) * 0x1.0p-53; }
  /// Standard normal (Box-Muller).
  double normal() {
    return std::sqrt(-2.0 * std::log(uniform())) *
           std::cos(2.0 * M_PI * uniform());
  }
  int32_t below(int64_t n) { return int32_t(next() % uint64_t(n)); }

private:
  uint64_t state;
};

std::vector<TestModel> randomModels(int count) {
  std::vector<TestModel> models;
  for (int i = 0; i < count; ++i) {
    uint64_t seed = 101 + i;
    Rng rng(seed * 0xA24BAED4963EE407ull);
    auto pick = [&](std::initializer_list<int64_t> values) {
      return *(values.begin() + rng.below(int64_t(values.size())));
    };
    TestModel m{};
    m.seed = seed;
    m.headDim = pick({32, 64, 128});
    m.numKVHeads = pick({1, 2, 3});
    m.numHeads = m.numKVHeads * pick({1, 2, 4, 8});
    // Any width from 64 up, mostly not heads * head_dim.
    m.hiddenSize = 64 + 8 * rng.below(40) + pick({0, 0, 4});
    m.intermediateSize = 64 + 4 * rng.below(100);
    m.numLayers = 1 + rng.below(3);
    m.vocabSize = 512 + rng.below(513);
    m.tied = rng.below(2) == 0;
    m.ropeTheta = std::exp(std::log(1e4) + rng.uniform() * std::log(100.0));
    if (rng.below(3) != 0) {
      m.rope.llama3 = true;
      m.rope.factor = double(pick({2, 4, 8, 32}));
      m.rope.lowFreqFactor = double(pick({1, 2}));
      m.rope.highFreqFactor = m.rope.lowFreqFactor + double(1 + rng.below(6));
      m.rope.originalMaxPositions = pick({32, 100, 256, 8192});
    }
    m.seqLen = 1 + rng.below(96);
    m.name = "random" + std::to_string(i) + "_h" + std::to_string(m.numHeads) +
             "_kv" + std::to_string(m.numKVHeads) + "_d" +
             std::to_string(m.headDim) + "_len" + std::to_string(m.seqLen);
    models.push_back(std::move(m));
  }
  return models;
}

/// gtest prints a parameter by its name rather than its bytes.
void PrintTo(const TestModel &model, std::ostream *os) { *os << model.name; }

uint16_t floatToBF16(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, 4);
  // Round to nearest, ties to even (no NaNs are produced here).
  bits += 0x7FFF + ((bits >> 16) & 1);
  return uint16_t(bits >> 16);
}

float bf16ToFloat(uint16_t bf16) {
  uint32_t bits = uint32_t(bf16) << 16;
  float value;
  std::memcpy(&value, &bits, 4);
  return value;
}

//===----------------------------------------------------------------------===//
// Weights
//===----------------------------------------------------------------------===//

std::string modelFile(const std::string &dir) {
  return dir + "/model.safetensors";
}

/// The (mean, std) of our weights for a tensor. Activations stay around unit
/// scale: each projection has std ~ 1/sqrt(fan-in), except q/k whose larger
/// std makes the scores q.k/sqrt(d) a few units wide, so that each query
/// attends to a few positions and the positions (RoPE, mask) matter.
std::pair<double, double> weightDistribution(const std::string &name,
                                             const TestModel &model) {
  auto endsWith = [&](const char *suffix) {
    size_t n = std::strlen(suffix);
    return name.size() >= n && name.compare(name.size() - n, n, suffix) == 0;
  };
  double hidden = double(model.hiddenSize);
  double qDim = double(model.numHeads * model.headDim);
  if (endsWith("layernorm.weight") || endsWith("norm.weight"))
    return {1.0, 0.2};
  if (endsWith("q_proj.weight") || endsWith("k_proj.weight"))
    return {0.0, 1.5 / std::sqrt(hidden)};
  if (endsWith("v_proj.weight") || endsWith("gate_proj.weight") ||
      endsWith("up_proj.weight"))
    return {0.0, 1.0 / std::sqrt(hidden)};
  if (endsWith("o_proj.weight"))
    return {0.0, 1.0 / std::sqrt(qDim)};
  if (endsWith("down_proj.weight"))
    return {0.0, 1.0 / std::sqrt(double(model.intermediateSize))};
  if (endsWith("lm_head.weight"))
    return {0.0, 2.0 / std::sqrt(hidden)};
  // The embedding: the residual stream, and the output matrix when tied.
  return {0.0, 0.5};
}

/// Overwrites the data of every tensor of the synthesized checkpoint in
/// place (same names, shapes, offsets) with our own BF16 values.
void writeOwnWeights(const std::string &dir, const TestModel &model) {
  std::vector<TensorInfo> tensors;
  {
    Expected<std::unique_ptr<SafetensorsFile>> file =
        SafetensorsFile::open(modelFile(dir));
    ASSERT_TRUE(bool(file)) << toString(file.takeError());
    tensors = (*file)->tensors().vec();
  }
  std::fstream out(modelFile(dir),
                   std::ios::in | std::ios::out | std::ios::binary);
  ASSERT_TRUE(out.good());
  for (const TensorInfo &tensor : tensors) {
    ASSERT_EQ(tensor.dtype, DType::BF16) << tensor.name;
    auto [mean, std] = weightDistribution(tensor.name, model);
    // Each tensor's values depend on the seed and its name only.
    uint64_t key = model.seed * 0x100000001B3ull;
    for (char c : tensor.name)
      key = (key ^ uint8_t(c)) * 0x100000001B3ull;
    Rng rng(key);
    std::vector<uint8_t> data(tensor.byteSize);
    for (int64_t i = 0, e = tensor.numElements(); i < e; ++i) {
      uint16_t value = floatToBF16(float(mean + std * rng.normal()));
      data[2 * i] = uint8_t(value);
      data[2 * i + 1] = uint8_t(value >> 8);
    }
    out.seekp(std::streamoff(tensor.fileOffset));
    out.write(reinterpret_cast<const char *>(data.data()),
              std::streamsize(data.size()));
    ASSERT_TRUE(out.good()) << tensor.name;
  }
}

/// Every tensor of the checkpoint, widened exactly from BF16.
struct Weights {
  std::map<std::string, std::vector<float>> tensors;

  const std::vector<float> &get(const std::string &name) const {
    auto it = tensors.find(name);
    if (it == tensors.end()) {
      ADD_FAILURE() << "missing tensor " << name;
      static const std::vector<float> empty;
      return empty;
    }
    return it->second;
  }
};

Weights readWeights(const std::string &dir) {
  Weights weights;
  Expected<std::unique_ptr<SafetensorsFile>> file =
      SafetensorsFile::open(modelFile(dir));
  EXPECT_TRUE(bool(file)) << toString(file.takeError());
  if (!file)
    return weights;
  for (const TensorInfo &tensor : (*file)->tensors()) {
    EXPECT_EQ(tensor.dtype, DType::BF16) << tensor.name;
    ArrayRef<uint8_t> bytes = (*file)->bytes(tensor);
    std::vector<float> values(size_t(tensor.numElements()));
    for (size_t i = 0; i < values.size(); ++i)
      values[i] = bf16ToFloat(uint16_t(bytes[2 * i] | (bytes[2 * i + 1] << 8)));
    weights.tensors[tensor.name] = std::move(values);
  }
  return weights;
}

//===----------------------------------------------------------------------===//
// The reference forward pass
//===----------------------------------------------------------------------===//

/// y = W x for W [rows, cols] row-major. Float storage, double accumulation,
/// so that the reference's own rounding does not use up the tolerance.
std::vector<float> matVec(const std::vector<float> &w, const float *x,
                          int64_t rows, int64_t cols) {
  std::vector<float> y(static_cast<size_t>(rows));
  for (int64_t r = 0; r < rows; ++r) {
    const float *row = w.data() + r * cols;
    double sum = 0;
    for (int64_t c = 0; c < cols; ++c)
      sum += double(row[c]) * double(x[c]);
    y[r] = float(sum);
  }
  return y;
}

/// w * (x / sqrt(mean(x^2) + eps)).
std::vector<float> rmsNorm(const float *x, const std::vector<float> &w,
                           int64_t n, double eps) {
  double sumSquares = 0;
  for (int64_t i = 0; i < n; ++i)
    sumSquares += double(x[i]) * double(x[i]);
  float scale = float(1.0 / std::sqrt(sumSquares / double(n) + eps));
  std::vector<float> y(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i)
    y[i] = w[i] * (x[i] * scale);
  return y;
}

/// The RoPE inverse frequency of each of the headDim/2 pairs: theta^(-2i/d),
/// rescaled by the llama3 rule of Hugging Face's
/// `_compute_llama3_parameters`, computed in double and stored as float.
std::vector<float> ropeFrequencies(const TestModel &model) {
  std::vector<float> frequencies;
  for (int64_t i = 0; i < model.headDim / 2; ++i) {
    double f =
        std::pow(model.ropeTheta, -2.0 * double(i) / double(model.headDim));
    if (model.rope.llama3) {
      const RopeParams &r = model.rope;
      double oldContext = double(r.originalMaxPositions);
      double lowFreqWavelength = oldContext / r.lowFreqFactor;
      double highFreqWavelength = oldContext / r.highFreqFactor;
      double wavelength = 2.0 * M_PI / f;
      if (wavelength < highFreqWavelength) {
        // High frequencies: unchanged.
      } else if (wavelength > lowFreqWavelength) {
        f = f / r.factor;
      } else {
        double smooth = (oldContext / wavelength - r.lowFreqFactor) /
                        (r.highFreqFactor - r.lowFreqFactor);
        f = (1.0 - smooth) * f / r.factor + smooth * f;
      }
    }
    frequencies.push_back(float(f));
  }
  return frequencies;
}

/// Rotates one head vector in place at `position`, Hugging Face half-split
/// layout: pair i is (x[i], x[i + d/2]); x' = x cos(a) + rotate_half(x)
/// sin(a) with rotate_half([x1, x2]) = [-x2, x1].
void applyRope(float *x, int64_t headDim, int64_t position,
               const std::vector<float> &frequencies) {
  int64_t half = headDim / 2;
  for (int64_t i = 0; i < half; ++i) {
    float angle = float(position) * frequencies[i];
    float c = float(std::cos(double(angle)));
    float s = float(std::sin(double(angle)));
    float x1 = x[i], x2 = x[i + half];
    x[i] = x1 * c - x2 * s;
    x[i + half] = x2 * c + x1 * s;
  }
}

/// Which rows of a run have their projection inputs rounded to bf16, as
/// `--prefill-inputs=bf16` specifies (llm-pack-weights): matrix-matrix
/// products (prefill) by weights stored as vnni16x32 tiles round their
/// inputs; matrix-vector products (decode, the last-token output
/// projection) do not.
struct InputRounding {
  /// Per row: the layers' projections round (the row went through prefill).
  std::vector<bool> layers;
  /// Per row: the output projection rounds.
  std::vector<bool> head;

  /// The tile rule of llm-pack-weights: whole 16 x 32 tiles.
  static bool packed(int64_t rows, int64_t cols) {
    return rows % 16 == 0 && cols % 32 == 0;
  }
};

/// `x` rounded to bf16 (nearest, ties to even), as a rounded product input.
std::vector<float> roundedToBF16(const float *x, int64_t n) {
  std::vector<float> rounded(x, x + n);
  for (float &value : rounded)
    value = bf16ToFloat(floatToBF16(value));
  return rounded;
}

/// What a KV cache of narrower elements keeps of a token's f32 keys or
/// values (kv_heads x head_dim, in place). Null: f32, kept whole.
using CacheRounding = void (*)(std::vector<float> &row);
/// Each value rounded to nearest-even and widened back.
void throughBF16(std::vector<float> &row) {
  for (float &value : row)
    value = bf16ToFloat(floatToBF16(value));
}
/// The compiler's own IEEE half conversion (round to nearest, ties to even).
void throughF16(std::vector<float> &row) {
  for (float &value : row)
    value = float(static_cast<_Float16>(value));
}
/// llama.cpp's q8_0 cache, written out here: per block of 32 values (never
/// across heads: head_dim is a multiple of 32), the codes
/// round-half-even(x * 127 / max|x|) times the scale max|x| / 127 as f16.
void throughQ8_0(std::vector<float> &row) {
  constexpr size_t kBlock = 32;
  for (size_t first = 0; first < row.size(); first += kBlock) {
    float maxAbs = 0;
    for (size_t i = first; i < first + kBlock; ++i)
      maxAbs = std::max(maxAbs, std::fabs(row[i]));
    const float inverse = maxAbs == 0 ? 0.0f : 127.0f / maxAbs;
    const float scale = float(static_cast<_Float16>(maxAbs / 127.0f));
    for (size_t i = first; i < first + kBlock; ++i)
      row[i] = std::nearbyint(row[i] * inverse) * scale;
  }
}

/// Logits of every position of `tokens` (positions 0..n-1), row-major.
/// With `cacheRounding`, every key (after RoPE) and value is rounded as the
/// cache stores it before any query attends to it.
std::vector<float> referenceForward(const TestModel &model,
                                    const Weights &weights,
                                    const std::vector<int32_t> &tokens,
                                    double eps,
                                    const InputRounding *rounding = nullptr,
                                    CacheRounding cacheRounding = nullptr) {
  const int64_t n = int64_t(tokens.size());
  const int64_t hidden = model.hiddenSize, inter = model.intermediateSize;
  const int64_t heads = model.numHeads, kvHeads = model.numKVHeads;
  const int64_t d = model.headDim, vocab = model.vocabSize;
  const int64_t qDim = heads * d, kvDim = kvHeads * d;
  const int64_t group = heads / kvHeads;
  const std::vector<float> frequencies = ropeFrequencies(model);
  const std::vector<float> &embedding =
      weights.get("model.embed_tokens.weight");

  // w · x for row t, x rounded when the plan says so for this weight.
  auto project = [&](const std::vector<float> &w, const float *x,
                     int64_t rows, int64_t cols, int64_t t, bool head) {
    bool round = rounding && InputRounding::packed(rows, cols) &&
                 (head ? rounding->head[t] : rounding->layers[t]);
    if (!round)
      return matVec(w, x, rows, cols);
    std::vector<float> rounded = roundedToBF16(x, cols);
    return matVec(w, rounded.data(), rows, cols);
  };

  // The residual stream, one row per token.
  std::vector<float> x(static_cast<size_t>(n * hidden));
  for (int64_t t = 0; t < n; ++t)
    std::copy_n(embedding.data() + tokens[t] * hidden, hidden,
                x.data() + t * hidden);

  for (int64_t layer = 0; layer < model.numLayers; ++layer) {
    std::string prefix = "model.layers." + std::to_string(layer) + ".";
    auto w = [&](const char *name) -> const std::vector<float> & {
      return weights.get(prefix + name);
    };

    // Projections and RoPE of every position: the keys and values of all
    // positions are needed before any query can attend.
    std::vector<float> q(static_cast<size_t>(n * qDim)), k(size_t(n * kvDim)),
        v(size_t(n * kvDim));
    for (int64_t t = 0; t < n; ++t) {
      std::vector<float> h = rmsNorm(x.data() + t * hidden,
                                     w("input_layernorm.weight"), hidden, eps);
      std::vector<float> qt = project(w("self_attn.q_proj.weight"), h.data(),
                                      qDim, hidden, t, false);
      std::vector<float> kt = project(w("self_attn.k_proj.weight"), h.data(),
                                      kvDim, hidden, t, false);
      std::vector<float> vt = project(w("self_attn.v_proj.weight"), h.data(),
                                      kvDim, hidden, t, false);
      for (int64_t head = 0; head < heads; ++head)
        applyRope(qt.data() + head * d, d, t, frequencies);
      for (int64_t head = 0; head < kvHeads; ++head)
        applyRope(kt.data() + head * d, d, t, frequencies);
      if (cacheRounding) {
        cacheRounding(kt);
        cacheRounding(vt);
      }
      std::copy(qt.begin(), qt.end(), q.begin() + t * qDim);
      std::copy(kt.begin(), kt.end(), k.begin() + t * kvDim);
      std::copy(vt.begin(), vt.end(), v.begin() + t * kvDim);
    }

    // Causal attention, one query head at a time; query head j reads KV
    // head j / group (consecutive query heads share a KV head).
    const float scale = float(1.0 / std::sqrt(double(d)));
    for (int64_t t = 0; t < n; ++t) {
      std::vector<float> attended(static_cast<size_t>(qDim));
      for (int64_t head = 0; head < heads; ++head) {
        int64_t kvHead = head / group;
        const float *query = q.data() + t * qDim + head * d;
        std::vector<float> scores(static_cast<size_t>(t + 1));
        float maxScore = -INFINITY;
        for (int64_t s = 0; s <= t; ++s) {
          const float *key = k.data() + s * kvDim + kvHead * d;
          double dot = 0;
          for (int64_t i = 0; i < d; ++i)
            dot += double(query[i]) * double(key[i]);
          scores[s] = float(dot) * scale;
          maxScore = std::max(maxScore, scores[s]);
        }
        double total = 0;
        for (int64_t s = 0; s <= t; ++s) {
          scores[s] = std::exp(scores[s] - maxScore);
          total += scores[s];
        }
        for (int64_t i = 0; i < d; ++i) {
          double sum = 0;
          for (int64_t s = 0; s <= t; ++s)
            sum += double(scores[s]) * double(v[s * kvDim + kvHead * d + i]);
          attended[head * d + i] = float(sum / total);
        }
      }
      std::vector<float> out = project(w("self_attn.o_proj.weight"),
                                       attended.data(), hidden, qDim, t, false);
      for (int64_t i = 0; i < hidden; ++i)
        x[t * hidden + i] += out[i];
    }

    // SiLU-gated MLP.
    for (int64_t t = 0; t < n; ++t) {
      std::vector<float> h =
          rmsNorm(x.data() + t * hidden, w("post_attention_layernorm.weight"),
                  hidden, eps);
      std::vector<float> gate =
          project(w("mlp.gate_proj.weight"), h.data(), inter, hidden, t, false);
      std::vector<float> up =
          project(w("mlp.up_proj.weight"), h.data(), inter, hidden, t, false);
      std::vector<float> act(static_cast<size_t>(inter));
      for (int64_t i = 0; i < inter; ++i)
        act[i] = gate[i] / (1.0f + std::exp(-gate[i])) * up[i];
      std::vector<float> down =
          project(w("mlp.down_proj.weight"), act.data(), hidden, inter, t, false);
      for (int64_t i = 0; i < hidden; ++i)
        x[t * hidden + i] += down[i];
    }
  }

  const std::vector<float> &output =
      model.tied ? embedding : weights.get("lm_head.weight");
  std::vector<float> logits(static_cast<size_t>(n * vocab));
  for (int64_t t = 0; t < n; ++t) {
    std::vector<float> h = rmsNorm(
        x.data() + t * hidden, weights.get("model.norm.weight"), hidden, eps);
    std::vector<float> row = project(output, h.data(), vocab, hidden, t, true);
    std::copy(row.begin(), row.end(), logits.begin() + t * vocab);
  }
  return logits;
}

//===----------------------------------------------------------------------===//
// Comparison
//===----------------------------------------------------------------------===//

/// Tolerance of the compiled f32 model against the reference, relative to
/// the largest |logit| of the row (at least 1). The golden data's f32-vs-f64
/// gap is 2.4e-6 of the largest logit; summation order, the polynomial
/// exp/sin/cos and peaked attention over 300 positions stay well inside.
constexpr double kTolerance = 2e-4;
/// Incremental decode and split prompts against one prefill: the same
/// kernels' arithmetic in different shapes.
constexpr double kSameModelTolerance = 1e-5;

double maxAbs(const float *row, int64_t n) {
  double m = 0;
  for (int64_t i = 0; i < n; ++i)
    m = std::max(m, std::fabs(double(row[i])));
  return m;
}

struct RowStats {
  double maxAbsError = 0;
  double maxRelError = 0;
  double maxLogit = 0;
  int64_t argmaxChecked = 0;
};

/// Compares `actual` with `expected` row by row: |diff| <= tolerance *
/// max(1, max|expected row|), and the argmax wherever the expected top-1 /
/// top-2 margin is far above the tolerance.
RowStats compareRows(const std::vector<float> &expected,
                     const std::vector<float> &actual, int64_t vocab,
                     double tolerance, const std::string &what,
                     int64_t firstRow = 0) {
  RowStats stats;
  EXPECT_EQ(expected.size(), actual.size()) << what;
  if (expected.size() != actual.size())
    return stats;
  int64_t rows = int64_t(expected.size()) / vocab;
  int failures = 0;
  for (int64_t r = 0; r < rows; ++r) {
    const float *e = expected.data() + r * vocab;
    const float *a = actual.data() + r * vocab;
    double rowMax = maxAbs(e, vocab);
    double scale = std::max(1.0, rowMax);
    double worst = 0;
    int64_t worstIndex = 0;
    for (int64_t i = 0; i < vocab; ++i) {
      double diff = std::fabs(double(a[i]) - double(e[i]));
      if (!(diff <= worst)) { // NaN counts as the worst.
        worst = std::isnan(diff) ? INFINITY : diff;
        worstIndex = i;
      }
    }
    stats.maxAbsError = std::max(stats.maxAbsError, worst);
    stats.maxRelError = std::max(stats.maxRelError, worst / scale);
    stats.maxLogit = std::max(stats.maxLogit, rowMax);
    if (!(worst <= tolerance * scale) && failures++ < 5)
      ADD_FAILURE() << what << ": row " << firstRow + r << " logit "
                    << worstIndex << " is " << a[worstIndex] << ", expected "
                    << e[worstIndex] << " (|diff| " << worst << " > "
                    << tolerance * scale << ")";

    std::vector<float> sorted(e, e + vocab);
    std::partial_sort(sorted.begin(),
                      sorted.begin() + std::min<int64_t>(2, vocab),
                      sorted.end(), std::greater<float>());
    double margin =
        vocab > 1 ? double(sorted[0]) - double(sorted[1]) : INFINITY;
    if (margin > 10 * tolerance * scale) {
      ++stats.argmaxChecked;
      int64_t expectedTop = runtime::argmax(e, vocab);
      int64_t actualTop = runtime::argmax(a, vocab);
      if (expectedTop != actualTop && failures++ < 5)
        ADD_FAILURE() << what << ": row " << firstRow + r << " argmax "
                      << actualTop << ", expected " << expectedTop
                      << " (margin " << margin << ")";
    }
  }
  if (failures > 5)
    ADD_FAILURE() << what << ": " << failures - 5 << " more failures";
  return stats;
}

//===----------------------------------------------------------------------===//
// Fixtures
//===----------------------------------------------------------------------===//

/// A fresh directory under the test temp dir, removed with its contents.
class TempDir {
public:
  TempDir() {
    std::string pattern = ::testing::TempDir() + "llamac-ref-XXXXXX";
    std::vector<char> buffer(pattern.begin(), pattern.end());
    buffer.push_back('\0');
    if (mkdtemp(buffer.data()))
      dir = buffer.data();
    else
      ADD_FAILURE() << "mkdtemp " << pattern << ": " << std::strerror(errno);
  }
  ~TempDir() {
    // LLAMAC_REF_KEEP=1 keeps the checkpoints and artifacts for debugging.
    if (dir.empty())
      return;
    if (std::getenv("LLAMAC_REF_KEEP"))
      std::cout << "[ reference ] kept " << dir << "\n";
    else
      llvm::sys::fs::remove_directories(dir);
  }
  const std::string &path() const { return dir; }

private:
  std::string dir;
};

/// A synthesized, rewritten and compiled model with its weights.
struct CompiledModel {
  TempDir temp;
  std::string checkpointDir, artifactDir;
  LlamaConfig config;
  Weights weights;
  std::unique_ptr<runtime::Model> model;
};

CompileOptions f32Weights() {
  CompileOptions options;
  options.numerics.dtype = llm::WeightPrecision::F32;
  // The exact path the reference is for.
  options.numerics.kvCache = llm::KVCachePrecision::F32;
  return options;
}

std::unique_ptr<CompiledModel>
buildModel(const TestModel &test,
           const CompileOptions &options = f32Weights()) {
  auto built = std::make_unique<CompiledModel>();
  if (built->temp.path().empty())
    return nullptr;
  built->checkpointDir = built->temp.path() + "/checkpoint";
  built->artifactDir = built->temp.path() + "/artifact";
  built->config = makeConfig(test);
  if (llvm::Error err = built->config.validate()) {
    ADD_FAILURE() << test.name << ": " << toString(std::move(err));
    return nullptr;
  }
  if (llvm::Error err = synthesizeCheckpoint(built->checkpointDir,
                                             built->config, test.seed)) {
    ADD_FAILURE() << test.name << ": " << toString(std::move(err));
    return nullptr;
  }
  if (!(test.flags & kSynthWeights)) {
    writeOwnWeights(built->checkpointDir, test);
    if (::testing::Test::HasFatalFailure())
      return nullptr;
  }
  built->weights = readWeights(built->checkpointDir);

  std::string log;
  llvm::raw_string_ostream os(log);
  if (llvm::Error err = compileCheckpoint(built->checkpointDir,
                                          built->artifactDir, options, os)) {
    ADD_FAILURE() << test.name << ": " << toString(std::move(err)) << "\n"
                  << log;
    return nullptr;
  }
  try {
    built->model = runtime::Model::load(built->artifactDir, {/*threads=*/2});
  } catch (const runtime::Error &e) {
    ADD_FAILURE() << test.name << ": " << e.what();
    return nullptr;
  }
  return built;
}

/// The logits of `tokens` when the first `prefix` go through one prefill
/// and the rest one decode step each, in a session of their own.
std::vector<float> prefillThenDecode(runtime::Model &model,
                                     const std::vector<int32_t> &tokens,
                                     int64_t prefix) {
  runtime::Session session(model, int64_t(tokens.size()));
  std::vector<float> rows = session.prefill(
      std::vector<int32_t>(tokens.begin(), tokens.begin() + prefix));
  for (size_t t = size_t(prefix); t < tokens.size(); ++t) {
    std::vector<float> row = session.decode(tokens[t]);
    rows.insert(rows.end(), row.begin(), row.end());
  }
  return rows;
}

std::vector<int32_t> randomTokens(const TestModel &test, int64_t count) {
  Rng rng(test.seed ^ 0x70CE45ull);
  std::vector<int32_t> tokens;
  for (int64_t i = 0; i < count; ++i)
    tokens.push_back(rng.below(test.vocabSize));
  return tokens;
}

std::vector<float> rowsOf(const std::vector<float> &logits, int64_t begin,
                          int64_t end, int64_t vocab) {
  return std::vector<float>(logits.begin() + begin * vocab,
                            logits.begin() + end * vocab);
}

std::string formatError(double value) {
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "%.3g", value);
  return buffer;
}

//===----------------------------------------------------------------------===//
// Tests
//===----------------------------------------------------------------------===//

class ReferenceModelTest : public ::testing::TestWithParam<TestModel> {};

TEST_P(ReferenceModelTest, PrefillMatchesReference) {
  const TestModel &test = GetParam();
  std::unique_ptr<CompiledModel> built = buildModel(test);
  ASSERT_TRUE(built);
  const int64_t vocab = test.vocabSize, n = test.seqLen;
  std::vector<int32_t> tokens = randomTokens(test, n);
  std::vector<float> expected =
      referenceForward(test, built->weights, tokens, built->config.rmsNormEps);

  runtime::Session session(*built->model, n);
  std::vector<float> logits = session.prefill(tokens);
  ASSERT_EQ(logits.size(), size_t(n * vocab));
  RowStats stats =
      compareRows(expected, logits, vocab, kTolerance, test.name + " prefill");

  std::cout << "[ reference ] " << test.name << ": " << n
            << " rows, max|logit| " << formatError(stats.maxLogit)
            << ", max abs error " << formatError(stats.maxAbsError)
            << ", relative " << formatError(stats.maxRelError)
            << ", argmax checked on " << stats.argmaxChecked << " rows\n";
  // The last-token entry point gives the last row of the full prefill.
  {
    runtime::Session lastOnly(*built->model, n);
    std::vector<float> last = lastOnly.prefill(tokens, /*lastOnly=*/true);
    ASSERT_EQ(last.size(), size_t(vocab));
    compareRows(rowsOf(logits, n - 1, n, vocab), last, vocab,
                kSameModelTolerance, test.name + " last-token prefill", n - 1);
    compareRows(rowsOf(expected, n - 1, n, vocab), last, vocab, kTolerance,
                test.name + " last-token prefill vs reference", n - 1);
    EXPECT_EQ(lastOnly.position(), n);
  }
  RecordProperty("max_abs_error", formatError(stats.maxAbsError));
  RecordProperty("max_rel_error", formatError(stats.maxRelError));
  RecordProperty("max_logit", formatError(stats.maxLogit));

  if (!(test.flags & kDecode))
    return;
  ASSERT_GE(n, 4) << "the decode checks need a few tokens";

  // Incremental decode: a prefix through prefill, the rest one token at a
  // time through the KV cache, must give the rows of the single prefill.
  const int64_t prefix = n / 3;
  runtime::Session incremental(*built->model, n);
  std::vector<float> stepped = incremental.prefill(
      std::vector<int32_t>(tokens.begin(), tokens.begin() + prefix));
  for (int64_t t = prefix; t < n; ++t) {
    std::vector<float> row = incremental.decode(tokens[t]);
    ASSERT_EQ(row.size(), size_t(vocab));
    stepped.insert(stepped.end(), row.begin(), row.end());
  }
  EXPECT_EQ(incremental.position(), n);
  RowStats decodeStats = compareRows(
      rowsOf(logits, prefix, n, vocab), rowsOf(stepped, prefix, n, vocab),
      vocab, kSameModelTolerance, test.name + " decode", prefix);
  compareRows(expected, stepped, vocab, kTolerance,
              test.name + " decode vs reference");

  // reset() forgets the history: the same prompt gives the same logits.
  incremental.reset();
  EXPECT_EQ(incremental.position(), 0);
  std::vector<float> again = incremental.prefill(tokens);
  EXPECT_TRUE(again == logits)
      << test.name << ": prefill after reset() differs from the first run";

  // A prompt in two prefill calls equals one call.
  runtime::Session split(*built->model, n);
  const int64_t first = n / 2 + 1;
  std::vector<float> halves = split.prefill(
      std::vector<int32_t>(tokens.begin(), tokens.begin() + first));
  std::vector<float> rest =
      split.prefill(std::vector<int32_t>(tokens.begin() + first, tokens.end()));
  halves.insert(halves.end(), rest.begin(), rest.end());
  RowStats splitStats = compareRows(logits, halves, vocab, kSameModelTolerance,
                                    test.name + " split prefill");

  // A prompt longer than LoadOptions::prefillChunk runs as consecutive
  // prefills of at most that many tokens: the rows of one call, all of them
  // or the last, and the cache filled to the end.
  {
    runtime::LoadOptions chunkedOptions;
    chunkedOptions.threads = 2;
    chunkedOptions.prefillChunk = n / 3;
    std::unique_ptr<runtime::Model> chunkedModel =
        runtime::Model::load(built->artifactDir, chunkedOptions);
    runtime::Session chunked(*chunkedModel, n);
    compareRows(logits, chunked.prefill(tokens), vocab, kSameModelTolerance,
                test.name + " chunked prefill");
    EXPECT_EQ(chunked.position(), n);
    runtime::Session chunkedLast(*chunkedModel, n);
    compareRows(rowsOf(logits, n - 1, n, vocab),
                chunkedLast.prefill(tokens, /*lastOnly=*/true), vocab,
                kSameModelTolerance, test.name + " chunked last-token prefill",
                n - 1);
    EXPECT_EQ(chunkedLast.position(), n);
    // A prompt that does not fit is refused before any chunk runs.
    runtime::Session tooLong(*chunkedModel, n - 1);
    EXPECT_THROW(tooLong.prefill(tokens), runtime::Error);
    EXPECT_EQ(tooLong.position(), 0);
  }

  std::cout << "[ reference ] " << test.name << ": decode vs prefill max abs "
            << formatError(decodeStats.maxAbsError) << ", split prefill "
            << formatError(splitStats.maxAbsError) << "\n";
  RecordProperty("decode_vs_prefill_abs_error",
                 formatError(decodeStats.maxAbsError));
}

/// `--prefill-inputs=bf16` (AMX tiles): prefill rounds the inputs of the
/// products by tiled weights to bf16, decode and the last-token output
/// projection do not. The reference rounds exactly there. It cannot match
/// every row to float precision: when its f32 value and the kernel's (summed
/// in another order) straddle a bf16 rounding boundary, one input moves by a
/// bf16 ulp, and these random models amplify that (about one token in
/// fifteen has such a flip somewhere; attention then carries it to the later
/// rows). So most single-token prompts must match exactly, and every row of
/// every run must stay within a bound far below what a wrong layout or tile
/// gives. The kernels themselves are checked exactly on bf16-exact inputs
/// in MicroKernelTest.
constexpr double kFlipTolerance = 0.05;

TEST_P(ReferenceModelTest, BF16PrefillInputsMatchReference) {
  const TestModel &test = GetParam();
  // bf16 products run on AMX tiles or, without AMX, on vdpbf16ps.
  auto features = llvm::sys::getHostCPUFeatures();
  if (!features.lookup("amx-bf16") && !features.lookup("avx512bf16"))
    GTEST_SKIP() << "this CPU has neither AMX-BF16 nor AVX512-BF16";
  const int64_t hidden = test.hiddenSize, qDim = test.numHeads * test.headDim;
  if (!InputRounding::packed(qDim, hidden) &&
      !InputRounding::packed(hidden, test.intermediateSize) &&
      !InputRounding::packed(test.vocabSize, hidden))
    GTEST_SKIP() << test.name << ": no weight of whole 16 x 32 tiles";
  CompileOptions options;
  options.numerics.dtype = llm::WeightPrecision::BF16;
  options.numerics.prefillInputs = llm::PrefillInputs::BF16;
  options.numerics.kvCache = llm::KVCachePrecision::F32;
  std::unique_ptr<CompiledModel> built = buildModel(test, options);
  ASSERT_TRUE(built);
  const int64_t vocab = test.vocabSize, n = test.seqLen;
  std::vector<int32_t> tokens = randomTokens(test, n);
  auto reference = [&](const std::vector<int32_t> &prompt,
                       int64_t prefillRows, bool roundLastHead) {
    InputRounding rounding;
    const int64_t rows = int64_t(prompt.size());
    for (int64_t t = 0; t < rows; ++t) {
      rounding.layers.push_back(t < prefillRows);
      rounding.head.push_back(t < prefillRows &&
                              (roundLastHead || t + 1 < prefillRows));
    }
    return referenceForward(test, built->weights, prompt,
                            built->config.rmsNormEps, &rounding);
  };

  // Single tokens: exact but for rounding flips.
  Rng rng(test.seed ^ 0x5146u);
  int exact = 0;
  for (int i = 0; i < 16; ++i) {
    int32_t token = int32_t(rng.below(vocab));
    runtime::Session one(*built->model, 1);
    std::vector<float> got = one.prefill({token});
    RowStats row = compareRows(reference({token}, 1, true), got, vocab,
                               kFlipTolerance,
                               test.name + " bf16-input token " +
                                   std::to_string(token));
    exact += row.maxRelError <= kTolerance;
  }
  EXPECT_GE(exact, 12) << test.name
                       << ": too few single-token prompts match exactly";

  runtime::Session session(*built->model, n);
  std::vector<float> logits = session.prefill(tokens);
  RowStats stats = compareRows(reference(tokens, n, true), logits, vocab,
                               kFlipTolerance,
                               test.name + " bf16-input prefill");
  // What the option costs: the distance to the f32-input reference.
  RowStats departure = compareRows(
      referenceForward(test, built->weights, tokens, built->config.rmsNormEps),
      logits, vocab, 1.0, test.name + " bf16 vs f32 inputs");
  std::cout << "[ reference ] " << test.name << ": bf16 prefill inputs, "
            << exact << "/16 single tokens exact; prefill max relative error "
            << formatError(stats.maxRelError)
            << " vs the rounding reference, "
            << formatError(departure.maxRelError) << " vs f32 inputs\n";
  RecordProperty("bf16_inputs_vs_f32_inputs",
                 formatError(departure.maxRelError));

  runtime::Session lastOnly(*built->model, n);
  std::vector<float> last = lastOnly.prefill(tokens, /*lastOnly=*/true);
  compareRows(rowsOf(reference(tokens, n, false), n - 1, n, vocab), last,
              vocab, kFlipTolerance,
              test.name + " bf16-input last-token prefill", n - 1);

  if (!(test.flags & kDecode))
    return;
  const int64_t prefix = n / 3;
  std::vector<float> stepped = prefillThenDecode(*built->model, tokens, prefix);
  compareRows(reference(tokens, prefix, true), stepped, vocab, kFlipTolerance,
              test.name + " bf16-input prefill + decode");
}

INSTANTIATE_TEST_SUITE_P(Configs, ReferenceModelTest,
                         ::testing::ValuesIn(allModels()),
                         [](const ::testing::TestParamInfo<TestModel> &info) {
                           return info.param.name;
                         });

/// --kv-type bf16 / f16 / q8_0: prefill, and decode through the cache,
/// against the reference that rounds (or quantizes) every key and value the
/// same way, on the configs that decode (GQA ratios 1, 2 and 4, head_dim 32,
/// 64 and 128).
///
/// The bound is wider than kTolerance: a key or value that the compiled
/// model and the reference compute a few f32 ulps apart may fall on either
/// side of a rounding boundary, and then they store values one bf16 (2^-8)
/// or f16 (2^-11) ulp apart (the golden-long README sees the same), or q8_0
/// codes one apart (a 127th of the block's largest value). What the
/// test holds fixed is that the rounding is the reference's: the error
/// stays well below how far the f32 cache is from it.
TEST(ReferenceModelKVCache, NarrowCacheMatchesTheReferenceRoundingTheSame) {
  struct Precision {
    llm::KVCachePrecision kind;
    CacheRounding rounding;
    const char *name;
    double tolerance;
  };
  for (const Precision &precision :
       {Precision{llm::KVCachePrecision::BF16, throughBF16, "bf16", 5e-3},
        Precision{llm::KVCachePrecision::F16, throughF16, "f16", 1e-3},
        Precision{llm::KVCachePrecision::Q8_0, throughQ8_0, "q8_0", 5e-3}}) {
    for (const TestModel &test : kModels) {
      if (!(test.flags & kDecode))
        continue;
      CompileOptions options = f32Weights();
      options.numerics.kvCache = precision.kind;
      std::unique_ptr<CompiledModel> built = buildModel(test, options);
      ASSERT_TRUE(built);
      const int64_t vocab = test.vocabSize, n = test.seqLen;
      const std::string what = test.name + " --kv-type " + precision.name;
      std::vector<int32_t> tokens = randomTokens(test, n);
      std::vector<float> expected =
          referenceForward(test, built->weights, tokens,
                           built->config.rmsNormEps, nullptr,
                           precision.rounding);
      runtime::Session session(*built->model, n);
      std::vector<float> logits = session.prefill(tokens);
      RowStats stats = compareRows(expected, logits, vocab,
                                   precision.tolerance, what + " prefill");
      // The reference with an f32 cache is measurably elsewhere: the
      // rounding did happen, and is the reference's.
      std::vector<float> unrounded = referenceForward(
          test, built->weights, tokens, built->config.rmsNormEps);
      double moved = 0;
      for (size_t i = 0; i < logits.size(); ++i)
        moved = std::max(moved, double(std::fabs(logits[i] - unrounded[i])));
      EXPECT_LT(2 * stats.maxAbsError, moved) << what;

      const int64_t prefix = n / 3;
      std::vector<float> stepped =
          prefillThenDecode(*built->model, tokens, prefix);
      compareRows(expected, stepped, vocab, precision.tolerance,
                  what + " decode");
      std::cout << "[ reference ] " << what << ": max abs error "
                << formatError(stats.maxAbsError) << ", "
                << formatError(moved) << " from the f32 cache\n";
    }
  }
}

/// The runtime refuses what it cannot run with a message naming the cause.
TEST(ReferenceModelErrors, RuntimeRefusesBadInputs) {
  const TestModel &test = kModels[0];
  std::unique_ptr<CompiledModel> built = buildModel(test);
  ASSERT_TRUE(built);
  auto expectError = [](auto &&run, const char *needle, const char *what) {
    try {
      run();
      ADD_FAILURE() << what << ": no error";
    } catch (const runtime::Error &e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos)
          << what << ": '" << e.what() << "' does not mention " << needle;
    }
  };

  runtime::Session session(*built->model, 8);
  std::vector<int32_t> nine = randomTokens(test, 9);
  expectError([&] { session.prefill(nine); }, "context",
              "9 tokens in a context of 8");
  EXPECT_EQ(session.position(), 0);

  expectError(
      [&] {
        session.prefill({1, int32_t(test.vocabSize), 2});
      },
      "vocabulary", "token id == vocab");
  expectError([&] { session.decode(-1); }, "vocabulary", "token id -1");
  EXPECT_EQ(session.position(), 0);

  // The refused calls left the session usable: fill it, then one more.
  std::vector<int32_t> eight(nine.begin(), nine.begin() + 8);
  std::vector<float> logits = session.prefill(eight);
  EXPECT_EQ(logits.size(), size_t(8 * test.vocabSize));
  EXPECT_EQ(session.position(), 8);
  expectError([&] { session.decode(eight[0]); }, "context",
              "decode with a full cache");
  EXPECT_EQ(session.position(), 8);
}

} // namespace
