//===- GGUFCheckpoint.cpp - A Llama model from a GGUF file ----------------===//
//
// What llama.cpp's converter writes for a LlamaForCausalLM, read back as the
// Hugging Face checkpoint it came from: the configuration from the `llama.*`
// metadata (llama3 RoPE scaling from the `rope_freqs` tensor, whose factors
// must be the ones the scaling parameters give), the tensors under their
// Hugging Face names and shapes, the Q/K rows that the converter permutes
// for its RoPE marked to be put back. Everything after this (validation
// against the configuration, the graph, the packer) is the same code as for
// safetensors.
//
//===----------------------------------------------------------------------===//

#include "llamac/Frontend/Checkpoint.h"
#include "llamac/Frontend/CheckpointWeights.h"

#include "Diagnostics.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/Twine.h"

#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <utility>

using namespace llvm;
using namespace llamac;

namespace {

Error makeError(StringRef path, const Twine &message) {
  return diag::makeError(path + ": " + message);
}

/// A float for messages, with the digits that tell two apart.
std::string formatNumber(double value) {
  char text[32];
  std::snprintf(text, sizeof(text), "%.9g", value);
  return text;
}

/// Reads the `llama.*` keys that make a configuration.
class MetadataReader {
public:
  explicit MetadataReader(const GGUFFile &file) : file(file) {}

  /// The unsigned integer at `key`; an error when it is missing (unless a
  /// default is given) or of another type.
  Expected<int64_t> integer(StringRef key,
                            std::optional<int64_t> fallback = std::nullopt) {
    const GGUFValue *value = file.find(key);
    if (!value) {
      if (fallback)
        return *fallback;
      return makeError(file.path(), "missing metadata '" + key + "'");
    }
    std::optional<uint64_t> number = value->getUnsigned();
    if (!number || *number > uint64_t(std::numeric_limits<int32_t>::max()))
      return makeError(file.path(), "metadata '" + key +
                                        "' must be a non-negative integer "
                                        "below 2^31, got " +
                                        describe(*value));
    return int64_t(*number);
  }

  Expected<double> number(StringRef key,
                          std::optional<double> fallback = std::nullopt) {
    const GGUFValue *value = file.find(key);
    if (!value) {
      if (fallback)
        return *fallback;
      return makeError(file.path(), "missing metadata '" + key + "'");
    }
    std::optional<double> number = value->getNumber();
    if (!number || !std::isfinite(*number))
      return makeError(file.path(), "metadata '" + key +
                                        "' must be a number, got " +
                                        describe(*value));
    return *number;
  }

  Expected<StringRef> string(StringRef key) {
    const GGUFValue *value = file.find(key);
    if (!value)
      return makeError(file.path(), "missing metadata '" + key + "'");
    std::optional<StringRef> text = value->getString();
    if (!text)
      return makeError(file.path(), "metadata '" + key +
                                        "' must be a string, got " +
                                        describe(*value));
    return *text;
  }

private:
  static std::string describe(const GGUFValue &value) {
    return ggufValueTypeName(value.type).str();
  }

  const GGUFFile &file;
};

/// The tensor called `name`, or null.
const GGUFTensor *findTensor(const GGUFFile &file, StringRef name) {
  for (const GGUFTensor &tensor : file.tensors())
    if (tensor.name == name)
      return &tensor;
  return nullptr;
}

/// The factor by which llama3 scaling divides frequency `frequency`, as
/// llama.cpp's converter writes it into `rope_freqs`.
double llama3Factor(double frequency, const RopeScaling &scaling) {
  const double original = double(scaling.originalMaxPositionEmbeddings);
  const double lowWavelength = original / scaling.lowFreqFactor;
  const double highWavelength = original / scaling.highFreqFactor;
  const double wavelength = 2 * M_PI / frequency;
  if (wavelength < highWavelength)
    return 1.0;
  if (wavelength > lowWavelength)
    return scaling.factor;
  double smooth = (original / wavelength - scaling.lowFreqFactor) /
                  (scaling.highFreqFactor - scaling.lowFreqFactor);
  return 1.0 / ((1 - smooth) / scaling.factor + smooth);
}

/// Reads the scaling parameters back from `rope_freqs.weight`: the factor
/// is its largest entry, the bands are Llama 3.1's (low 1, high 4) over
/// `llama.rope.scaling.original_context_length`, or else over the original
/// context that an entry between the bands implies (8192 when none is),
/// and every entry must be what those give, so a table made with other
/// parameters is an error rather than a silently different model.
Error readLlama3Scaling(const GGUFFile &file, const GGUFTensor &table,
                        LlamaConfig &config) {
  const int64_t half = config.headDim / 2;
  if (table.type != GGMLType::F32 || table.dims.size() != 1 ||
      int64_t(table.dims[0]) != half)
    return makeError(file.path(), "tensor 'rope_freqs.weight' must be F32 [" +
                                      Twine(half) +
                                      "] (head_dim / 2 RoPE factors)");
  ArrayRef<uint8_t> bytes = file.bytes(table);
  std::vector<float> factors(half);
  std::memcpy(factors.data(), bytes.data(), 4 * half);
  float largest = 0;
  for (float factor : factors) {
    if (!std::isfinite(factor) || factor <= 0)
      return makeError(file.path(), "tensor 'rope_freqs.weight' holds " +
                                        formatNumber(factor) +
                                        ", not a positive factor");
    largest = std::max(largest, factor);
  }
  if (largest == 1.0f) {
    // No scaling, and then no entry may say otherwise.
    for (int64_t i = 0; i < half; ++i)
      if (factors[i] != 1.0f)
        return makeError(file.path(),
                         "tensor 'rope_freqs.weight' entry " + Twine(i) +
                             " is " + formatNumber(factors[i]) +
                             ", below 1 (llamac reads only llama3 scaling)");
    return Error::success();
  }

  // The converter's frequencies are float32, as torch computes them.
  auto frequencyOf = [&](int64_t i) {
    float exponent = float(2 * i) / float(config.headDim);
    return 1.0f / std::pow(float(config.ropeTheta), exponent);
  };
  int64_t implied = 8192;
  for (int64_t i = 0; i < half; ++i)
    if (factors[i] > 1.0f && factors[i] < largest) {
      // factor = 1 / ((1 - s) / F + s) with s = (original / wavelength -
      // low) / (high - low), low 1 and high 4.
      double smooth =
          (1.0 / factors[i] - 1.0 / largest) / (1.0 - 1.0 / largest);
      double wavelength = 2 * M_PI / frequencyOf(i);
      double original = wavelength * (3 * smooth + 1);
      // Out of range, it stays 8192 and the check below says why.
      if (std::isfinite(original) && original >= 1 && original < 1e9)
        implied = int64_t(std::llround(original));
      break;
    }
  MetadataReader metadata(file);
  Expected<int64_t> original =
      metadata.integer("llama.rope.scaling.original_context_length", implied);
  if (!original)
    return original.takeError();
  if (*original <= 0)
    return makeError(file.path(),
                     "the RoPE scaling's original context is not positive");
  RopeScaling scaling;
  scaling.kind = RopeScaling::Kind::Llama3;
  scaling.factor = largest;
  scaling.lowFreqFactor = 1.0;
  scaling.highFreqFactor = 4.0;
  scaling.originalMaxPositionEmbeddings = *original;
  for (int64_t i = 0; i < half; ++i) {
    double expected = llama3Factor(frequencyOf(i), scaling);
    if (std::fabs(expected - factors[i]) > 1e-5 * expected)
      return makeError(
          file.path(),
          "tensor 'rope_freqs.weight' entry " + Twine(i) + " is " +
              formatNumber(factors[i]) + ", but llama3 scaling with factor " +
              formatNumber(largest) +
              ", low_freq_factor 1, high_freq_factor 4 and "
              "original context " +
              Twine(*original) + " gives " + formatNumber(expected) +
              " (llamac reads only that scaling)");
  }
  config.ropeScaling = scaling;
  return Error::success();
}

/// `blk.N.attn_q.weight` -> `model.layers.N.self_attn.q_proj.weight` and so
/// on; empty for a name that is not a Llama weight.
std::string huggingFaceName(StringRef name) {
  if (name == "token_embd.weight")
    return "model.embed_tokens.weight";
  if (name == "output_norm.weight")
    return "model.norm.weight";
  if (name == "output.weight")
    return "lm_head.weight";
  StringRef rest = name;
  unsigned layer;
  if (!rest.consume_front("blk.") || rest.consumeInteger(10, layer) ||
      !rest.consume_front("."))
    return "";
  static constexpr std::pair<const char *, const char *> kLayerNames[] = {
      {"attn_norm.weight", "input_layernorm.weight"},
      {"attn_q.weight", "self_attn.q_proj.weight"},
      {"attn_k.weight", "self_attn.k_proj.weight"},
      {"attn_v.weight", "self_attn.v_proj.weight"},
      {"attn_output.weight", "self_attn.o_proj.weight"},
      {"ffn_norm.weight", "post_attention_layernorm.weight"},
      {"ffn_gate.weight", "mlp.gate_proj.weight"},
      {"ffn_up.weight", "mlp.up_proj.weight"},
      {"ffn_down.weight", "mlp.down_proj.weight"}};
  for (const auto &[gguf, hf] : kLayerNames)
    if (rest == gguf)
      return "model.layers." + std::to_string(layer) + "." + hf;
  return "";
}

/// The ggml types llamac reads and the DType each becomes.
constexpr std::pair<GGMLType, DType> kReadTypes[] = {
    {GGMLType::F32, DType::F32},   {GGMLType::F16, DType::F16},
    {GGMLType::BF16, DType::BF16}, {GGMLType::Q8_0, DType::Q8_0},
    {GGMLType::Q4_0, DType::Q4_0}, {GGMLType::Q4_K, DType::Q4_K},
    {GGMLType::Q5_K, DType::Q5_K}, {GGMLType::Q6_K, DType::Q6_K},
};

std::optional<DType> dtypeOf(GGMLType type) {
  for (auto [ggml, dtype] : kReadTypes)
    if (ggml == type)
      return dtype;
  return std::nullopt;
}

} // namespace

const GGMLTypeTraits &llamac::blockTraits(DType dtype) {
  assert(isBlockDType(dtype) && "not a block DType");
  for (auto [ggml, read] : kReadTypes)
    if (read == dtype)
      return *getGGMLTypeTraits(uint32_t(ggml));
  llvm_unreachable("every DType is read from some ggml type");
}

Expected<LlamaConfig> llamac::readGGUFConfig(const GGUFFile &file) {
  MetadataReader metadata(file);
  Expected<StringRef> architecture = metadata.string("general.architecture");
  if (!architecture)
    return architecture.takeError();
  if (*architecture != "llama")
    return makeError(file.path(), "architecture '" +
                                      diag::printable(*architecture) +
                                      "' is not llama (llamac compiles Llama "
                                      "models only)");

  LlamaConfig config;
  struct Field {
    const char *key;
    int64_t *target;
  } fields[] = {
      {"llama.embedding_length", &config.hiddenSize},
      {"llama.feed_forward_length", &config.intermediateSize},
      {"llama.block_count", &config.numLayers},
      {"llama.attention.head_count", &config.numHeads},
      {"llama.context_length", &config.maxPositionEmbeddings},
  };
  for (const Field &field : fields) {
    Expected<int64_t> value = metadata.integer(field.key);
    if (!value)
      return value.takeError();
    *field.target = *value;
  }
  Expected<int64_t> kvHeads =
      metadata.integer("llama.attention.head_count_kv", config.numHeads);
  if (!kvHeads)
    return kvHeads.takeError();
  config.numKVHeads = *kvHeads;
  if (config.numHeads == 0)
    return makeError(file.path(), "metadata 'llama.attention.head_count' is 0");
  Expected<int64_t> headDim = metadata.integer(
      "llama.rope.dimension_count", config.hiddenSize / config.numHeads);
  if (!headDim)
    return headDim.takeError();
  config.headDim = *headDim;
  for (const char *key :
       {"llama.attention.key_length", "llama.attention.value_length"}) {
    Expected<int64_t> length = metadata.integer(key, config.headDim);
    if (!length)
      return length.takeError();
    if (*length != config.headDim)
      return makeError(file.path(), "metadata '" + Twine(key) + "' is " +
                                        Twine(*length) +
                                        ", but the RoPE dimension is " +
                                        Twine(config.headDim) +
                                        " (llamac needs them equal)");
  }
  Expected<double> epsilon =
      metadata.number("llama.attention.layer_norm_rms_epsilon");
  if (!epsilon)
    return epsilon.takeError();
  config.rmsNormEps = *epsilon;
  Expected<double> theta = metadata.number("llama.rope.freq_base", 10000.0);
  if (!theta)
    return theta.takeError();
  config.ropeTheta = *theta;
  // Linear scaling (the old key, or a factor with no type, which llama.cpp
  // takes for linear) would change the model; llamac does not do it.
  for (const char *key :
       {"llama.rope.scale_linear", "llama.rope.scaling.factor"})
    if (const GGUFValue *factor = file.find(key);
        factor && (!factor->getNumber() || *factor->getNumber() != 1.0) &&
        !file.find("llama.rope.scaling.type"))
      return makeError(file.path(), "metadata '" + Twine(key) +
                                        "' asks for linear RoPE scaling, "
                                        "which llamac does not do");
  if (const GGUFValue *type = file.find("llama.rope.scaling.type")) {
    std::optional<StringRef> name = type->getString();
    if (!name || (*name != "none" && *name != "llama3"))
      return makeError(file.path(),
                       "metadata 'llama.rope.scaling.type' is " +
                           (name ? "'" + diag::printable(*name) + "'"
                                 : ggufValueTypeName(type->type).str()) +
                           "; llamac reads only llama3 scaling (from "
                           "rope_freqs.weight) or none");
  }

  const GGUFTensor *embedding = findTensor(file, "token_embd.weight");
  if (!embedding)
    return makeError(file.path(), "missing tensor 'token_embd.weight'");
  std::optional<int64_t> embeddingRows;
  if (embedding->dims.size() == 2)
    embeddingRows = int64_t(embedding->dims[1]);
  Expected<int64_t> vocab = metadata.integer("llama.vocab_size", embeddingRows);
  if (!vocab)
    return vocab.takeError();
  config.vocabSize = *vocab;
  config.tieWordEmbeddings = findTensor(file, "output.weight") == nullptr;
  if (file.find("tokenizer.ggml.bos_token_id")) {
    Expected<int64_t> bos = metadata.integer("tokenizer.ggml.bos_token_id");
    if (!bos)
      return bos.takeError();
    config.bosTokenId = *bos;
  }
  for (const char *key :
       {"tokenizer.ggml.eos_token_id", "tokenizer.ggml.eot_token_id",
        "tokenizer.ggml.eom_token_id"}) {
    if (!file.find(key))
      continue;
    Expected<int64_t> id = metadata.integer(key);
    if (!id)
      return id.takeError();
    if (!llvm::is_contained(config.eosTokenIds, *id))
      config.eosTokenIds.push_back(*id);
  }

  if (Error err = config.validate())
    return makeError(file.path(), toString(std::move(err)));
  if (const GGUFTensor *table = findTensor(file, "rope_freqs.weight")) {
    if (Error err = readLlama3Scaling(file, *table, config))
      return std::move(err);
    // The scaling read back obeys the same rules as config.json's.
    if (Error err = config.validate())
      return makeError(file.path(),
                       "rope_freqs.weight: " + toString(std::move(err)));
  }
  return config;
}

Expected<std::unique_ptr<CheckpointWeights>>
CheckpointWeights::fromGGUF(std::unique_ptr<GGUFFile> file,
                            const LlamaConfig &config) {
  std::unique_ptr<CheckpointWeights> weights(new CheckpointWeights());
  weights->sourcePath = file->path().str();
  for (const GGUFTensor &tensor : file->tensors()) {
    if (tensor.name == "rope_freqs.weight")
      continue; // read into the configuration
    std::optional<DType> dtype = dtypeOf(tensor.type);
    if (!dtype)
      return makeError(file->path(),
                       "tensor '" + diag::printable(tensor.name) +
                           "' has type " +
                           getGGMLTypeTraits(uint32_t(tensor.type))->name +
                           ", which llamac does not read yet (F32, F16, BF16, "
                           "Q8_0, Q4_0, Q4_K, Q5_K and Q6_K are supported)");
    if (llvm::any_of(tensor.name,
                     [](char c) { return (unsigned char)c < 0x20; }))
      return makeError(file->path(), "tensor '" + diag::printable(tensor.name) +
                                         "' has a control character in its "
                                         "name");
    std::string name = huggingFaceName(tensor.name);
    TensorInfo info;
    // An unknown name keeps its GGUF spelling, so that the validation
    // against the configuration reports it as unexpected.
    info.name = name.empty() ? tensor.name : name;
    info.dtype = *dtype;
    info.shape.assign(tensor.dims.rbegin(), tensor.dims.rend());
    info.fileOffset = tensor.fileOffset;
    info.byteSize = tensor.byteSize;
    info.file = 0;
    if (StringRef(tensor.name).ends_with(".attn_q.weight"))
      info.ropeHeads = uint32_t(config.numHeads);
    else if (StringRef(tensor.name).ends_with(".attn_k.weight"))
      info.ropeHeads = uint32_t(config.numKVHeads);
    if (info.ropeHeads &&
        (info.shape.size() != 2 ||
         info.shape[0] != int64_t(info.ropeHeads) * config.headDim))
      return makeError(file->path(),
                       "tensor '" + diag::printable(tensor.name) +
                           "' has shape " + diag::formatShape(info.shape) +
                           ", expected [" +
                           Twine(int64_t(info.ropeHeads) * config.headDim) +
                           ", " + Twine(config.hiddenSize) + "]");
    if (weights->byName.count(info.name))
      return makeError(file->path(),
                       "tensor '" + info.name + "' appears twice");
    weights->byName[info.name] = weights->all.size();
    weights->all.push_back(std::move(info));
  }
  weights->files.push_back({nullptr, std::move(file)});
  return std::move(weights);
}
