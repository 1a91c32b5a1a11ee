//===- Checkpoint.cpp - A Hugging Face Llama checkpoint directory ---------===//
//
// Matches the tensors of `model.safetensors` (or of its shards) against the
// parameter list the configuration implies, using the Hugging Face
// `LlamaForCausalLM` names.
//
//===----------------------------------------------------------------------===//

#include "llamac/Frontend/Checkpoint.h"

#include "Diagnostics.h"

#include "llvm/ADT/SmallString.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/ADT/Twine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"

using namespace llvm;
using namespace llamac;
using diag::formatShape;
using diag::makeError;

namespace {

std::string joinPath(StringRef dir, StringRef name) {
  SmallString<256> path(dir);
  sys::path::append(path, name);
  return std::string(path);
}

} // namespace

std::vector<ExpectedTensor> llamac::expectedTensors(const LlamaConfig &config) {
  const int64_t hidden = config.hiddenSize;
  const int64_t inter = config.intermediateSize;
  const int64_t qDim = config.numHeads * config.headDim;
  const int64_t kvDim = config.numKVHeads * config.headDim;

  std::vector<ExpectedTensor> tensors;
  tensors.reserve(3 + 9 * config.numLayers);
  auto add = [&](std::string name, std::vector<int64_t> shape,
                 bool required = true) {
    tensors.push_back({std::move(name), std::move(shape), required});
  };
  add("model.embed_tokens.weight", {config.vocabSize, hidden});
  for (int64_t i = 0; i < config.numLayers; ++i) {
    std::string layer = "model.layers." + std::to_string(i) + ".";
    add(layer + "input_layernorm.weight", {hidden});
    // Linear weights are [out, in]: the layer computes x * W^T.
    add(layer + "self_attn.q_proj.weight", {qDim, hidden});
    add(layer + "self_attn.k_proj.weight", {kvDim, hidden});
    add(layer + "self_attn.v_proj.weight", {kvDim, hidden});
    add(layer + "self_attn.o_proj.weight", {hidden, qDim});
    add(layer + "post_attention_layernorm.weight", {hidden});
    add(layer + "mlp.gate_proj.weight", {inter, hidden});
    add(layer + "mlp.up_proj.weight", {inter, hidden});
    add(layer + "mlp.down_proj.weight", {hidden, inter});
  }
  add("model.norm.weight", {hidden});
  // With tied embeddings the output projection is the embedding matrix;
  // some exporters still write a copy, which is accepted and ignored.
  add("lm_head.weight", {config.vocabSize, hidden},
      /*required=*/!config.tieWordEmbeddings);
  return tensors;
}

Error llamac::validateWeights(const CheckpointWeights &weights,
                              const LlamaConfig &config) {
  std::vector<ExpectedTensor> expected = expectedTensors(config);

  // Report the first missing tensor, and how many others are missing, so a
  // checkpoint for the wrong model is recognisable from one line.
  const ExpectedTensor *firstMissing = nullptr;
  size_t missingCount = 0;
  StringSet<> known;
  for (const ExpectedTensor &tensor : expected) {
    known.insert(tensor.name);
    const TensorInfo *info = weights.find(tensor.name);
    if (!info) {
      if (tensor.required && missingCount++ == 0)
        firstMissing = &tensor;
      continue;
    }
    if (info->shape != tensor.shape)
      return makeError(weights.pathOf(*info) + ": tensor '" + tensor.name +
                       "' has shape " + formatShape(info->shape) +
                       ", expected " + formatShape(tensor.shape));
  }
  if (firstMissing) {
    std::string others;
    if (missingCount > 1)
      others =
          " and " + std::to_string(missingCount - 1) + " more missing tensors";
    return makeError(weights.path() + ": missing tensor '" +
                     firstMissing->name +
                     "' (expected shape " + formatShape(firstMissing->shape) +
                     ")" + others);
  }

  for (const TensorInfo &info : weights.tensors()) {
    if (known.contains(info.name))
      continue;
    // Older exports saved the RoPE inverse frequencies as a buffer; llamac
    // recomputes them from the config.
    if (StringRef(info.name).ends_with("rotary_emb.inv_freq"))
      continue;
    return makeError(weights.pathOf(info) + ": unexpected tensor '" +
                     info.name +
                     "' (shape " + formatShape(info.shape) +
                     ") that a Llama model of this configuration does not "
                     "have");
  }
  return Error::success();
}

namespace {
/// The checkpoint of `config` and `weights` once the weights are what the
/// configuration implies.
Expected<Checkpoint>
validated(StringRef source, LlamaConfig config,
          Expected<std::unique_ptr<CheckpointWeights>> weights) {
  if (!weights)
    return weights.takeError();
  Checkpoint checkpoint;
  checkpoint.directory = source.str();
  checkpoint.config = std::move(config);
  checkpoint.weights = std::move(*weights);
  if (Error err = validateWeights(*checkpoint.weights, checkpoint.config))
    return std::move(err);
  return std::move(checkpoint);
}
} // namespace

Expected<Checkpoint> Checkpoint::open(StringRef dir) {
  if (sys::fs::is_regular_file(dir) && GGUFFile::hasMagic(dir)) {
    Expected<std::unique_ptr<GGUFFile>> file = GGUFFile::open(dir);
    if (!file)
      return file.takeError();
    Expected<LlamaConfig> config = readGGUFConfig(**file);
    if (!config)
      return config.takeError();
    return validated(dir, *config,
                     CheckpointWeights::fromGGUF(std::move(*file), *config));
  }
  if (!sys::fs::is_directory(dir)) {
    if (sys::fs::exists(dir))
      return makeError(dir + ": neither a checkpoint directory nor a GGUF "
                             "file");
    return makeError(dir + ": no such directory");
  }

  Expected<LlamaConfig> config = readLlamaConfig(joinPath(dir, "config.json"));
  if (!config)
    return config.takeError();
  // A single file wins over an index, as in Hugging Face's loader.
  std::string weightsPath = joinPath(dir, "model.safetensors");
  std::string indexPath = joinPath(dir, "model.safetensors.index.json");
  return validated(dir, *config,
                   !sys::fs::exists(weightsPath) && sys::fs::exists(indexPath)
                       ? CheckpointWeights::openIndex(indexPath)
                       : CheckpointWeights::openFile(weightsPath));
}
