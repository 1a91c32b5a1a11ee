//===- Manifest.cpp - An artifact's manifest.json -------------------------===//
#include "llamac/Artifact/Manifest.h"

#include "llamac/Artifact/Error.h"
#include "llamac/Artifact/Files.h"
#include "llamac/Artifact/JSON.h"

#include <nlohmann/json.hpp>

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

namespace llamac::artifact {

namespace {

using json = nlohmann::json;

[[noreturn]] void fail(const std::string &message) { throw Error(message); }

/// The member `key` of `object` (a JSON object), or null when absent.
const json *member(const json &object, const char *key) {
  auto found = object.find(key);
  return found == object.end() ? nullptr : &*found;
}

/// Typed access to manifest fields with errors that name the field.
class ManifestReader {
public:
  explicit ManifestReader(const std::string &path) : path(path) {}

  const json &object(const json &in, const char *key) const {
    const json *value = member(in, key);
    if (!value || !value->is_object())
      fail(path + ": missing object '" + key + "'");
    return *value;
  }
  const json &array(const json &in, const char *key) const {
    const json *value = member(in, key);
    if (!value || !value->is_array())
      fail(path + ": missing array '" + key + "'");
    return *value;
  }
  int64_t integer(const json &in, const char *key) const {
    const json *value = member(in, key);
    std::optional<int64_t> number = value ? jsonInteger(*value) : std::nullopt;
    if (!number)
      fail(path + ": missing integer '" + key + "'");
    return *number;
  }
  std::string string(const json &in, const char *key) const {
    const json *value = member(in, key);
    if (!value || !value->is_string())
      fail(path + ": missing string '" + key + "'");
    return value->get<std::string>();
  }
  /// A string that older artifacts may lack: empty when absent.
  static std::string optionalString(const json &in, const char *key) {
    const json *value = member(in, key);
    return value && value->is_string() ? value->get<std::string>() : "";
  }
  /// The strings of an array that may be absent; other values are skipped.
  static std::vector<std::string> strings(const json &in, const char *key) {
    std::vector<std::string> result;
    if (const json *list = member(in, key); list && list->is_array())
      for (const json &item : *list)
        if (item.is_string())
          result.push_back(item.get<std::string>());
    return result;
  }

  std::vector<ManifestKernel> kernels(const json &root) const;
  std::vector<ComputeUnit> computeUnits(const json &root) const;
  ManifestTensor tensor(const json &entry, uint64_t weightsSize) const;

private:
  const std::string &path;
};

std::vector<ManifestKernel> ManifestReader::kernels(const json &root) const {
  std::vector<ManifestKernel> result;
  const json *list = member(root, "kernels");
  if (!list)
    return result;
  if (!list->is_array())
    fail(path + ": 'kernels' is not an array");
  for (size_t index = 0; index < list->size(); ++index) {
    const json &entry = (*list)[index];
    const json *name = entry.is_object() ? member(entry, "name") : nullptr;
    if (!name || !name->is_string())
      fail(path + ": kernels[" + std::to_string(index) +
           "] is not an object with a string 'name'");
    const json *microKernel = member(entry, "micro_kernel");
    if (microKernel && !microKernel->is_string())
      fail(path + ": kernels[" + std::to_string(index) +
           "]: 'micro_kernel' is not a string");
    result.push_back({name->get<std::string>(),
                      microKernel ? microKernel->get<std::string>() : ""});
  }
  return result;
}

std::vector<ComputeUnit> ManifestReader::computeUnits(const json &root) const {
  std::vector<ComputeUnit> result;
  for (const json &entry : array(root, "compute_units")) {
    std::optional<ComputeUnit> unit =
        entry.is_string() ? parseComputeUnit(entry.get<std::string>())
                          : std::nullopt;
    if (!unit)
      fail(path + ": unknown compute unit " + jsonExcerpt(entry) +
           " (known: f32-fma, amx-bf16)");
    result.push_back(*unit);
  }
  return result;
}

ManifestTensor ManifestReader::tensor(const json &entry,
                                      uint64_t weightsSize) const {
  if (!entry.is_object())
    fail(path + ": malformed weight table");
  ManifestTensor tensor;
  tensor.name = string(entry, "name");
  int64_t offset = integer(entry, "offset");
  int64_t bytes = integer(entry, "bytes");
  tensor.dtype = optionalString(entry, "dtype");
  if (const json *shape = member(entry, "shape"); shape && shape->is_array())
    for (const json &dim : *shape)
      tensor.shape.push_back(jsonInteger(dim).value_or(0));
  std::string layout = optionalString(entry, "layout");
  if (!layout.empty()) {
    tensor.layout = WeightLayout::parse(layout);
    if (!tensor.layout)
      fail(path + ": weight '" + tensor.name + "' has unknown layout '" +
           layout + "'");
  }
  // Both below 2^63, so their sum cannot wrap.
  if (offset < 0 || bytes < 0 ||
      uint64_t(offset) + uint64_t(bytes) > weightsSize)
    fail(path + ": weight '" + tensor.name + "' lies outside weights.bin");
  tensor.offset = uint64_t(offset);
  tensor.bytes = uint64_t(bytes);
  return tensor;
}

/// Adds the ids of an `eos_token_id` field (one id or a list) to `ids`,
/// skipping ids already there.
void addEndIds(const json &object, std::vector<int64_t> &ids) {
  const json *eos = member(object, "eos_token_id");
  if (!eos)
    return;
  auto add = [&](const json &value) {
    if (std::optional<int64_t> id = jsonInteger(value);
        id && std::find(ids.begin(), ids.end(), *id) == ids.end())
      ids.push_back(*id);
  };
  if (eos->is_array())
    for (const json &id : *eos)
      add(id);
  else
    add(*eos);
}

json parseJSON(const std::string &text, const std::string &path) {
  try {
    return json::parse(text);
  } catch (const json::exception &error) {
    fail(path + ": invalid JSON: " + jsonErrorReason(error));
  }
}

} // namespace

std::vector<int64_t> Manifest::stopTokenIds() const {
  std::vector<int64_t> ids;
  for (const std::vector<int64_t> *list :
       {&eosTokenIds, &generationEosTokenIds})
    for (int64_t id : *list)
      if (std::find(ids.begin(), ids.end(), id) == ids.end())
        ids.push_back(id);
  return ids;
}

bool Manifest::usesComputeUnit(ComputeUnit unit) const {
  return std::find(computeUnits.begin(), computeUnits.end(), unit) !=
         computeUnits.end();
}

bool Manifest::needsTileState() const {
  return std::any_of(computeUnits.begin(), computeUnits.end(),
                     artifact::needsTileState);
}

Manifest Manifest::read(const std::string &dir) {
  std::string path = dir + "/manifest.json";
  std::string text;
  try {
    text = readFile(path);
  } catch (const Error &error) {
    struct stat info;
    if (::stat(dir.c_str(), &info) != 0)
      fail(dir + ": no such artifact directory");
    fail(std::string(error.what()) +
         " (not a llamac artifact? create one with 'llamac compile')");
  }
  const json root = parseJSON(text, path);
  if (!root.is_object())
    fail(path + ": not a JSON object");
  ManifestReader reader(path);

  Manifest manifest;
  if (ManifestReader::optionalString(root, "format") != "llamac-artifact")
    fail(path + ": not a llamac artifact manifest");
  manifest.abiVersion = reader.integer(root, "abi_version");
  if (manifest.abiVersion != LLAMAC_ABI_VERSION)
    fail(path + ": artifact ABI version " +
         std::to_string(manifest.abiVersion) + ", this runtime reads version " +
         std::to_string(LLAMAC_ABI_VERSION) + "; recompile with this llamac");
  manifest.libraryFile = reader.string(root, "library");
  manifest.libraryFingerprint =
      ManifestReader::optionalString(root, "library_fingerprint");
  manifest.kernels = reader.kernels(root);
  const json &compile = reader.object(root, "compile");
  manifest.dtype = reader.string(compile, "dtype");
  manifest.prefillInputs =
      ManifestReader::optionalString(compile, "prefill_inputs");
  manifest.decodeInputs =
      ManifestReader::optionalString(compile, "decode_inputs");
  manifest.requestedTargetCPU =
      ManifestReader::optionalString(compile, "target_cpu");
  const json &target = reader.object(root, "target");
  manifest.targetCPU = reader.string(target, "cpu");
  manifest.targetTriple = ManifestReader::optionalString(target, "triple");
  manifest.targetFeatures = ManifestReader::strings(target, "features");
  manifest.computeUnits = reader.computeUnits(root);

  const json &weights = reader.object(root, "weights");
  manifest.weightsFile = reader.string(weights, "file");
  int64_t weightsSize = reader.integer(weights, "size");
  if (weightsSize < 0)
    fail(path + ": weights size " + std::to_string(weightsSize) +
         " is negative");
  manifest.weightsSize = uint64_t(weightsSize);
  manifest.weightsFingerprint =
      ManifestReader::optionalString(weights, "fingerprint");
  if (const json *tensors = member(weights, "tensors");
      tensors && tensors->is_array())
    for (const json &entry : *tensors)
      manifest.tensors.push_back(reader.tensor(entry, manifest.weightsSize));

  const json &config = reader.object(root, "config");
  manifest.configJSON = config.dump();
  if (const json *tied = member(config, "tie_word_embeddings");
      tied && tied->is_boolean())
    manifest.tieWordEmbeddings = tied->get<bool>();
  manifest.vocabSize = reader.integer(config, "vocab_size");
  manifest.maxPositionEmbeddings =
      reader.integer(config, "max_position_embeddings");
  if (const json *bos = member(config, "bos_token_id"))
    manifest.bosTokenId = jsonInteger(*bos);
  addEndIds(config, manifest.eosTokenIds);
  // generation_config.json (copied from the checkpoint) may name more end
  // ids than config.json; generation stops at any of them. An artifact
  // without one is fine.
  std::string generationPath = dir + "/generation_config.json";
  std::string generationText;
  bool hasGeneration = true;
  try {
    generationText = readFile(generationPath);
  } catch (const Error &) {
    hasGeneration = false;
  }
  if (hasGeneration) {
    json generation = parseJSON(generationText, generationPath);
    if (generation.is_object())
      addEndIds(generation, manifest.generationEosTokenIds);
  }

  const json &cache = reader.object(root, "kv_cache");
  manifest.numLayers = reader.integer(cache, "layers");
  manifest.numKVHeads = reader.integer(cache, "kv_heads");
  manifest.headDim = reader.integer(cache, "head_dim");
  manifest.numQueryHeads = reader.integer(cache, "query_heads");
  std::string cacheElement = reader.string(cache, "dtype");
  if (std::optional<CacheElement> element = parseCacheElement(cacheElement))
    manifest.cacheElement = *element;
  else
    fail(path + ": kv_cache dtype '" + cacheElement +
         "' is not one of f32, bf16, f16, q8_0");
  manifest.files = ManifestReader::strings(root, "files");
  if (const json *tokenizer = member(root, "tokenizer");
      tokenizer && tokenizer->is_object())
    manifest.chatTemplate =
        ManifestReader::optionalString(*tokenizer, "chat_template");
  if (manifest.vocabSize <= 0 || manifest.numLayers <= 0 ||
      manifest.numKVHeads <= 0 || manifest.headDim <= 0)
    fail(path + ": non-positive model sizes");
  if (!cacheHoldsHeadDim(manifest.cacheElement, manifest.headDim))
    fail(path + ": a " + std::string(cacheElementName(manifest.cacheElement)) +
         " KV cache cannot hold rows of head_dim " +
         std::to_string(manifest.headDim));
  if (manifest.numQueryHeads < manifest.numKVHeads ||
      manifest.numQueryHeads % manifest.numKVHeads)
    fail(path + ": " + std::to_string(manifest.numQueryHeads) +
         " query heads that are not a multiple of the kv heads (" +
         std::to_string(manifest.numKVHeads) + ")");
  return manifest;
}

void Manifest::write(const std::string &path) const {
  json config = json::object();
  if (!configJSON.empty()) {
    try {
      config = json::parse(configJSON);
    } catch (const json::exception &error) {
      fail(path +
           ": the model config is not valid JSON: " + jsonErrorReason(error));
    }
    if (!config.is_object())
      fail(path + ": the model config is not a JSON object");
  }
  config["vocab_size"] = vocabSize;
  config["max_position_embeddings"] = maxPositionEmbeddings;
  config["tie_word_embeddings"] = tieWordEmbeddings;
  config["bos_token_id"] = bosTokenId ? json(*bosTokenId) : json(nullptr);
  // One id is written as a number, as `transformers` does.
  if (eosTokenIds.empty())
    config["eos_token_id"] = nullptr;
  else if (eosTokenIds.size() == 1)
    config["eos_token_id"] = eosTokenIds.front();
  else
    config["eos_token_id"] = eosTokenIds;

  json units = json::array();
  for (ComputeUnit unit : computeUnits)
    units.push_back(std::string(computeUnitName(unit)));
  json tensorList = json::array();
  for (const ManifestTensor &tensor : tensors) {
    json entry = {{"name", tensor.name},
                  {"offset", tensor.offset},
                  {"bytes", tensor.bytes},
                  {"dtype", tensor.dtype},
                  {"shape", tensor.shape}};
    if (tensor.layout)
      entry["layout"] = tensor.layout->name();
    tensorList.push_back(std::move(entry));
  }
  json kernelList = json::array();
  for (const ManifestKernel &kernel : kernels) {
    json entry = {{"name", kernel.name}};
    if (!kernel.microKernel.empty())
      entry["micro_kernel"] = kernel.microKernel;
    kernelList.push_back(std::move(entry));
  }

  json root = json::object();
  root["format"] = "llamac-artifact";
  root["abi_version"] = abiVersion;
  root["config"] = std::move(config);
  root["compile"] = {{"dtype", dtype},
                     {"prefill_inputs", prefillInputs},
                     {"decode_inputs", decodeInputs},
                     {"target_cpu", requestedTargetCPU}};
  root["target"] = {{"triple", targetTriple},
                    {"cpu", targetCPU},
                    {"features", targetFeatures}};
  root["compute_units"] = std::move(units);
  root["library"] = libraryFile;
  root["library_fingerprint"] = libraryFingerprint;
  root["entry_points"] = {{"prefill", LLAMAC_PREFILL_SYMBOL},
                          {"prefill_last", LLAMAC_PREFILL_LAST_SYMBOL},
                          {"decode", LLAMAC_DECODE_SYMBOL}};
  root["weights"] = {{"file", weightsFile},
                     {"size", weightsSize},
                     {"fingerprint", weightsFingerprint},
                     {"tensors", std::move(tensorList)}};
  root["kv_cache"] = {{"layers", numLayers},
                      {"kv_heads", numKVHeads},
                      {"head_dim", headDim},
                      {"query_heads", numQueryHeads},
                      {"dtype", std::string(cacheElementName(cacheElement))}};
  root["kernels"] = std::move(kernelList);
  root["files"] = files;
  if (!chatTemplate.empty())
    root["tokenizer"] = {{"chat_template", chatTemplate}};

  // nlohmann::json keeps object keys sorted, as the files llamac wrote with
  // llvm::json were.
  std::string text =
      root.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
  std::FILE *file = std::fopen(path.c_str(), "wb");
  if (!file)
    fail(path + ": " + std::strerror(errno));
  bool written = std::fwrite(text.data(), 1, text.size(), file) == text.size();
  int error = errno;
  if (std::fclose(file) != 0 && written) {
    written = false;
    error = errno;
  }
  if (!written)
    fail(path + ": write failed: " + std::strerror(error));
}

} // namespace llamac::artifact
