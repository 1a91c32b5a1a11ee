//===- LlamaConfig.cpp - Hugging Face config.json for Llama 3.x -----------===//
//
// Reads the fields of a Hugging Face `LlamaConfig` that change the
// computation, applies the same defaults as `transformers`, and rejects what
// llamac cannot compile (biases, other activations, other RoPE variants).
// Every error is one line: "<source>: field '<name>' <problem>".
//
//===----------------------------------------------------------------------===//

#include "llamac/Frontend/LlamaConfig.h"

#include "Diagnostics.h"

#include "llvm/ADT/Twine.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/raw_ostream.h"

#include <cmath>
#include <cstdio>

using namespace llvm;
using namespace llamac;
using diag::formatShape;
using diag::makeError;

namespace {

/// Bounds that keep every size product later stages compute (weight element
/// counts, byte offsets, KV-cache sizes) far inside int64_t. They are orders
/// of magnitude above any published Llama model.
constexpr int64_t kMaxDim = int64_t(1) << 24;
constexpr int64_t kMaxVocab = int64_t(1) << 22;
constexpr int64_t kMaxLayers = 1024;

/// `value` as an int64_t if it is a number with an integral value in range.
/// json::Value::getAsInteger accepts the double 2^63 and then converts it,
/// which is undefined behaviour, so out-of-range numbers are screened first.
std::optional<int64_t> getExactInteger(const json::Value &value) {
  std::optional<double> number = value.getAsNumber();
  if (!number || !(*number < 0x1p63 && *number >= -0x1p63))
    return std::nullopt;
  return value.getAsInteger();
}

/// `value` printed compactly ("1e-05", "500000") for error messages.
std::string formatDouble(double value) {
  char text[32];
  snprintf(text, sizeof(text), "%g", value);
  return text;
}

/// Reads typed fields of one JSON object and words errors consistently.
class FieldReader {
public:
  FieldReader(const json::Object &object, StringRef source, StringRef prefix)
      : object(object), source(source), prefix(prefix) {}

  /// "<source>: field '<prefix><name>' <message>".
  Error fieldError(StringRef name, const Twine &message) const {
    return makeError(source + ": field '" + prefix + name + "' " + message);
  }

  /// The value of `name`, or null when absent. JSON null counts as absent,
  /// as `transformers` treats `None` as "use the default".
  const json::Value *lookup(StringRef name) const {
    const json::Value *value = object.get(name);
    if (!value || value->kind() == json::Value::Null)
      return nullptr;
    return value;
  }

  Error missing(StringRef name) const {
    return makeError(source + ": missing required field '" + prefix + name +
                     "'");
  }

  Error wrongType(StringRef name, StringRef expected,
                  const json::Value &value) const {
    return fieldError(name, "must be " + expected + ", got " + diag::jsonKindName(value));
  }

  Expected<int64_t> toInteger(StringRef name, const json::Value &value) const {
    if (value.kind() != json::Value::Number)
      return wrongType(name, "an integer", value);
    if (std::optional<int64_t> result = getExactInteger(value))
      return *result;
    double number = *value.getAsNumber();
    if (std::isfinite(number) && std::trunc(number) == number)
      return fieldError(name, "is out of range, got " + diag::renderJSON(value));
    return fieldError(name, "must be an integer, got " + diag::renderJSON(value));
  }

  /// A required integer; an integral double such as 2048.0 is accepted.
  Expected<int64_t> getInteger(StringRef name) const {
    const json::Value *value = object.get(name);
    if (!value)
      return missing(name);
    return toInteger(name, *value);
  }

  /// An optional integer: `fallback` when absent or null.
  Expected<int64_t> getInteger(StringRef name, int64_t fallback) const {
    const json::Value *value = lookup(name);
    if (!value)
      return fallback;
    return toInteger(name, *value);
  }

  Expected<double> toNumber(StringRef name, const json::Value &value) const {
    if (std::optional<double> number = value.getAsNumber())
      return *number;
    return wrongType(name, "a number", value);
  }

  Expected<double> getNumber(StringRef name) const {
    const json::Value *value = object.get(name);
    if (!value)
      return missing(name);
    return toNumber(name, *value);
  }

  Expected<double> getNumber(StringRef name, double fallback) const {
    const json::Value *value = lookup(name);
    if (!value)
      return fallback;
    return toNumber(name, *value);
  }

  Expected<bool> getBoolean(StringRef name, bool fallback) const {
    const json::Value *value = lookup(name);
    if (!value)
      return fallback;
    if (std::optional<bool> flag = value->getAsBoolean())
      return *flag;
    return wrongType(name, "a boolean", *value);
  }

  /// An optional string; empty when absent or null.
  Expected<std::string> getString(StringRef name) const {
    const json::Value *value = lookup(name);
    if (!value)
      return std::string();
    if (std::optional<StringRef> text = value->getAsString())
      return text->str();
    return wrongType(name, "a string", *value);
  }

private:
  const json::Object &object;
  StringRef source;
  StringRef prefix;
};

/// Reads `rope_scaling`: absent, null or rope_type "default" mean no
/// scaling; "llama3" needs all four of its parameters.
Error parseRopeScaling(const json::Object &root, StringRef source,
                       RopeScaling &scaling) {
  scaling = RopeScaling();
  FieldReader top(root, source, "");
  const json::Value *value = top.lookup("rope_scaling");
  if (!value)
    return Error::success();
  const json::Object *object = value->getAsObject();
  if (!object)
    return top.wrongType("rope_scaling", "an object or null", *value);

  FieldReader reader(*object, source, "rope_scaling.");
  // `transformers` renamed "type" to "rope_type" and still accepts the old
  // key; the new key wins when both are present, as it does there.
  StringRef typeKey = reader.lookup("rope_type") ? "rope_type" : "type";
  const json::Value *typeValue = reader.lookup(typeKey);
  if (!typeValue)
    return top.fieldError("rope_scaling", "has no 'rope_type'");
  std::optional<StringRef> type = typeValue->getAsString();
  if (!type)
    return reader.wrongType(typeKey, "a string", *typeValue);
  if (*type == "default")
    return Error::success();
  if (*type != "llama3")
    return reader.fieldError(typeKey, "is '" + *type +
                                          "', which llamac does not support "
                                          "(supported: 'llama3', 'default')");

  scaling.kind = RopeScaling::Kind::Llama3;
  Expected<double> factor = reader.getNumber("factor");
  if (!factor)
    return factor.takeError();
  Expected<double> low = reader.getNumber("low_freq_factor");
  if (!low)
    return low.takeError();
  Expected<double> high = reader.getNumber("high_freq_factor");
  if (!high)
    return high.takeError();
  Expected<int64_t> original =
      reader.getInteger("original_max_position_embeddings");
  if (!original)
    return original.takeError();
  scaling.factor = *factor;
  scaling.lowFreqFactor = *low;
  scaling.highFreqFactor = *high;
  scaling.originalMaxPositionEmbeddings = *original;
  return Error::success();
}

/// Reads `eos_token_id`: an integer, a list of integers, or null.
Error parseEosTokenIds(const json::Object &root, StringRef source,
                       std::vector<int64_t> &ids) {
  ids.clear();
  FieldReader reader(root, source, "");
  const json::Value *value = reader.lookup("eos_token_id");
  if (!value)
    return Error::success();
  if (value->kind() == json::Value::Number) {
    Expected<int64_t> id = reader.toInteger("eos_token_id", *value);
    if (!id)
      return id.takeError();
    ids.push_back(*id);
    return Error::success();
  }
  const json::Array *list = value->getAsArray();
  if (!list)
    return reader.wrongType("eos_token_id",
                            "an integer, a list of integers or null", *value);
  for (size_t i = 0, e = list->size(); i != e; ++i) {
    std::string element = formatv("eos_token_id[{0}]", i).str();
    Expected<int64_t> id = reader.toInteger(element, (*list)[i]);
    if (!id)
      return id.takeError();
    ids.push_back(*id);
  }
  return Error::success();
}

/// Rejects architecture variants llamac does not implement: a config of
/// another model family, another activation, or projection biases.
Error checkSupportedVariant(const FieldReader &reader) {
  Expected<std::string> modelType = reader.getString("model_type");
  if (!modelType)
    return modelType.takeError();
  if (!modelType->empty() && *modelType != "llama")
    return reader.fieldError("model_type", "is '" + *modelType +
                                               "', llamac compiles 'llama'");

  Expected<std::string> act = reader.getString("hidden_act");
  if (!act)
    return act.takeError();
  if (!act->empty() && *act != "silu")
    return reader.fieldError("hidden_act",
                             "is '" + *act + "', llamac supports 'silu'");

  for (StringRef bias : {"attention_bias", "mlp_bias"}) {
    Expected<bool> flag = reader.getBoolean(bias, false);
    if (!flag)
      return flag.takeError();
    if (*flag)
      return reader.fieldError(bias, "is true; llamac does not support "
                                     "biases in the projections");
  }
  return Error::success();
}

Expected<LlamaConfig> parseObject(const json::Object &root, StringRef source) {
  FieldReader reader(root, source, "");
  if (Error err = checkSupportedVariant(reader))
    return std::move(err);

  LlamaConfig config;
  // Required integers, in the order a reader of config.json expects them.
  struct IntField {
    StringRef name;
    int64_t *slot;
  };
  IntField required[] = {
      {"hidden_size", &config.hiddenSize},
      {"intermediate_size", &config.intermediateSize},
      {"num_hidden_layers", &config.numLayers},
      {"num_attention_heads", &config.numHeads},
      {"vocab_size", &config.vocabSize},
      {"max_position_embeddings", &config.maxPositionEmbeddings},
  };
  for (IntField &field : required) {
    Expected<int64_t> value = reader.getInteger(field.name);
    if (!value)
      return value.takeError();
    *field.slot = *value;
  }

  // The defaults `transformers` applies when these are absent or null.
  Expected<int64_t> kvHeads =
      reader.getInteger("num_key_value_heads", config.numHeads);
  if (!kvHeads)
    return kvHeads.takeError();
  config.numKVHeads = *kvHeads;

  if (reader.lookup("head_dim")) {
    Expected<int64_t> headDim = reader.getInteger("head_dim");
    if (!headDim)
      return headDim.takeError();
    config.headDim = *headDim;
  } else {
    // The implied head size is only meaningful when it divides evenly;
    // `transformers` would silently round down and then fail on shapes.
    if (config.numHeads > 0 && config.hiddenSize > 0 &&
        config.hiddenSize % config.numHeads != 0)
      return makeError(
          source + ": field 'hidden_size' (" + Twine(config.hiddenSize) +
          ") is not divisible by 'num_attention_heads' (" +
          Twine(config.numHeads) + ") and 'head_dim' is not given");
    if (config.numHeads > 0)
      config.headDim = config.hiddenSize / config.numHeads;
  }

  Expected<double> eps = reader.getNumber("rms_norm_eps");
  if (!eps)
    return eps.takeError();
  config.rmsNormEps = *eps;

  Expected<double> theta = reader.getNumber("rope_theta", 10000.0);
  if (!theta)
    return theta.takeError();
  config.ropeTheta = *theta;

  if (Error err = parseRopeScaling(root, source, config.ropeScaling))
    return std::move(err);

  Expected<bool> tie = reader.getBoolean("tie_word_embeddings", false);
  if (!tie)
    return tie.takeError();
  config.tieWordEmbeddings = *tie;

  if (const json::Value *bos = reader.lookup("bos_token_id")) {
    Expected<int64_t> id = reader.toInteger("bos_token_id", *bos);
    if (!id)
      return id.takeError();
    config.bosTokenId = *id;
  }
  if (Error err = parseEosTokenIds(root, source, config.eosTokenIds))
    return std::move(err);

  // Recent `transformers` versions write "dtype" instead of "torch_dtype".
  StringRef dtypeKey = reader.lookup("torch_dtype") ? "torch_dtype" : "dtype";
  Expected<std::string> dtype = reader.getString(dtypeKey);
  if (!dtype)
    return dtype.takeError();
  config.torchDtype = std::move(*dtype);

  if (Error err = config.validate())
    return makeError(source + ": " + toString(std::move(err)));
  return config;
}

} // namespace

Error LlamaConfig::validate() const {
  auto fieldError = [](StringRef name, const Twine &message) {
    return makeError("field '" + name + "' " + message);
  };
  struct Bounded {
    StringRef name;
    int64_t value;
    int64_t max;
  };
  const Bounded sizes[] = {
      {"hidden_size", hiddenSize, kMaxDim},
      {"intermediate_size", intermediateSize, kMaxDim},
      {"num_hidden_layers", numLayers, kMaxLayers},
      {"num_attention_heads", numHeads, kMaxDim},
      {"num_key_value_heads", numKVHeads, kMaxDim},
      {"head_dim", headDim, kMaxDim},
      {"vocab_size", vocabSize, kMaxVocab},
      {"max_position_embeddings", maxPositionEmbeddings, kMaxDim},
  };
  for (const Bounded &size : sizes) {
    if (size.value <= 0)
      return fieldError(size.name,
                        "must be positive, got " + Twine(size.value));
    if (size.value > size.max)
      return fieldError(size.name, "(" + Twine(size.value) +
                                       ") exceeds llamac's limit of " +
                                       Twine(size.max));
  }
  if (numHeads % numKVHeads != 0)
    return fieldError("num_attention_heads",
                      "(" + Twine(numHeads) +
                          ") is not divisible by 'num_key_value_heads' (" +
                          Twine(numKVHeads) + ")");
  // Both factors are at most 2^24, so the product cannot overflow; bounding
  // it keeps every weight (at most 2^24 x 2^24 elements) inside int64.
  if (numHeads * headDim > kMaxDim)
    return fieldError("num_attention_heads",
                      "times 'head_dim' (" + Twine(numHeads) + " x " +
                          Twine(headDim) + ") exceeds llamac's limit of " +
                          Twine(kMaxDim));
  // RoPE rotates pairs of dimensions.
  if (headDim % 2 != 0)
    return fieldError("head_dim",
                      "(" + Twine(headDim) + ") must be even for RoPE");
  if (!(rmsNormEps > 0) || !std::isfinite(rmsNormEps))
    return fieldError("rms_norm_eps", "must be positive and finite, got " +
                                          formatDouble(rmsNormEps));
  if (!(ropeTheta > 0) || !std::isfinite(ropeTheta))
    return fieldError("rope_theta", "must be positive and finite, got " +
                                        formatDouble(ropeTheta));

  if (ropeScaling.kind == RopeScaling::Kind::Llama3) {
    // The llama3 rule divides frequencies by `factor` and wavelengths by the
    // two band factors; these are the checks `transformers` warns about.
    if (!std::isfinite(ropeScaling.factor) || !(ropeScaling.factor >= 1.0))
      return fieldError("rope_scaling.factor",
                        "must be >= 1, got " +
                            formatDouble(ropeScaling.factor));
    if (!std::isfinite(ropeScaling.lowFreqFactor) ||
        !(ropeScaling.lowFreqFactor > 0))
      return fieldError("rope_scaling.low_freq_factor",
                        "must be positive, got " +
                            formatDouble(ropeScaling.lowFreqFactor));
    if (!std::isfinite(ropeScaling.highFreqFactor) ||
        !(ropeScaling.highFreqFactor > ropeScaling.lowFreqFactor))
      return fieldError("rope_scaling.high_freq_factor",
                        "(" + formatDouble(ropeScaling.highFreqFactor) +
                            ") must be greater than 'low_freq_factor' (" +
                            formatDouble(ropeScaling.lowFreqFactor) + ")");
    if (ropeScaling.originalMaxPositionEmbeddings <= 0 ||
        ropeScaling.originalMaxPositionEmbeddings > kMaxDim)
      return fieldError("rope_scaling.original_max_position_embeddings",
                        "must be in [1, " + Twine(kMaxDim) + "], got " +
                            Twine(ropeScaling.originalMaxPositionEmbeddings));
  }

  auto checkToken = [&](StringRef name, int64_t id) -> Error {
    if (id < 0 || id >= vocabSize)
      return fieldError(name, "(" + Twine(id) +
                                  ") is outside the vocabulary [0, " +
                                  Twine(vocabSize) + ")");
    return Error::success();
  };
  if (bosTokenId)
    if (Error err = checkToken("bos_token_id", *bosTokenId))
      return err;
  for (size_t i = 0, e = eosTokenIds.size(); i != e; ++i)
    if (Error err =
            checkToken(formatv("eos_token_id[{0}]", i).str(), eosTokenIds[i]))
      return err;
  return Error::success();
}

std::string LlamaConfig::toJSON() const {
  json::Object root;
  root["architectures"] = json::Array{"LlamaForCausalLM"};
  root["model_type"] = "llama";
  root["hidden_act"] = "silu";
  root["attention_bias"] = false;
  root["mlp_bias"] = false;
  root["hidden_size"] = hiddenSize;
  root["intermediate_size"] = intermediateSize;
  root["num_hidden_layers"] = numLayers;
  root["num_attention_heads"] = numHeads;
  root["num_key_value_heads"] = numKVHeads;
  root["head_dim"] = headDim;
  root["vocab_size"] = vocabSize;
  root["max_position_embeddings"] = maxPositionEmbeddings;
  // json::Value prints doubles with 17 significant digits, so they read
  // back bit-identical.
  root["rms_norm_eps"] = rmsNormEps;
  root["rope_theta"] = ropeTheta;
  if (ropeScaling.kind == RopeScaling::Kind::Llama3) {
    root["rope_scaling"] =
        json::Object{{"rope_type", "llama3"},
                     {"factor", ropeScaling.factor},
                     {"low_freq_factor", ropeScaling.lowFreqFactor},
                     {"high_freq_factor", ropeScaling.highFreqFactor},
                     {"original_max_position_embeddings",
                      ropeScaling.originalMaxPositionEmbeddings}};
  } else {
    root["rope_scaling"] = nullptr;
  }
  root["tie_word_embeddings"] = tieWordEmbeddings;
  if (bosTokenId)
    root["bos_token_id"] = *bosTokenId;
  else
    root["bos_token_id"] = nullptr;
  // A single id is written as a number, as `transformers` does.
  if (eosTokenIds.empty())
    root["eos_token_id"] = nullptr;
  else if (eosTokenIds.size() == 1)
    root["eos_token_id"] = eosTokenIds.front();
  else
    root["eos_token_id"] = json::Array(eosTokenIds);
  if (!torchDtype.empty())
    root["torch_dtype"] = torchDtype;
  // Two-space indentation like the files `transformers` writes; keys are
  // printed sorted, as there.
  return formatv("{0:2}", json::Value(std::move(root))).str();
}

Expected<LlamaConfig> llamac::parseLlamaConfig(StringRef jsonText,
                                               StringRef sourceName) {
  // Note: llvm::json::parse keeps the last value of a repeated key, which is
  // also what Python's json module (and so `transformers`) does, so a config
  // with repeated keys means the same thing here as in the reference.
  Expected<json::Value> parsed = json::parse(jsonText);
  if (!parsed)
    return makeError(sourceName +
                     ": invalid JSON: " + toString(parsed.takeError()));
  const json::Object *root = parsed->getAsObject();
  if (!root)
    return makeError(sourceName + ": top level is not a JSON object");
  return parseObject(*root, sourceName);
}

Expected<LlamaConfig> llamac::readLlamaConfig(StringRef path) {
  ErrorOr<std::unique_ptr<MemoryBuffer>> buffer =
      MemoryBuffer::getFile(path, /*IsText=*/false,
                            /*RequiresNullTerminator=*/false);
  if (!buffer)
    return makeError(path + ": " + buffer.getError().message());
  return parseLlamaConfig((*buffer)->getBuffer(), path);
}
