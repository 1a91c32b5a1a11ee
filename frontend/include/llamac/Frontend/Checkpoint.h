//===- Checkpoint.h - A Hugging Face Llama checkpoint directory -*- C++ -*-===//
//
// A checkpoint directory holds `config.json` and `model.safetensors`, or the
// shards that `model.safetensors.index.json` lists; a GGUF file holds both
// in one. Opening it checks that
// every tensor the Llama graph needs is present with the shape the
// configuration implies, so the graph builder and later the weight packer
// never meet a surprise.
//
//===----------------------------------------------------------------------===//
#ifndef LLAMAC_FRONTEND_CHECKPOINT_H
#define LLAMAC_FRONTEND_CHECKPOINT_H

#include "llamac/Frontend/LlamaConfig.h"
#include "llamac/Frontend/CheckpointWeights.h"

#include <memory>
#include <string>
#include <vector>

namespace llamac {

/// The name and shape of one parameter the Llama graph reads.
struct ExpectedTensor {
  std::string name;
  std::vector<int64_t> shape;
  /// False only for `lm_head.weight` when the embedding is tied.
  bool required = true;
};

/// Every parameter tensor of a Llama model with config `config`, in the
/// order the graph uses them (embedding, layers, final norm, lm_head).
std::vector<ExpectedTensor> expectedTensors(const LlamaConfig &config);

/// Checks `weights` against `config`: every required tensor present,
/// shapes as expected, no tensor llamac does not know. Errors name the
/// tensor and the file.
llvm::Error validateWeights(const CheckpointWeights &weights,
                            const LlamaConfig &config);

/// The configuration that the `llama.*` metadata of a GGUF file describes
/// (llama3 RoPE scaling read back from its `rope_freqs.weight`), validated.
/// Errors name the file and the key.
llvm::Expected<LlamaConfig> readGGUFConfig(const GGUFFile &file);

/// An opened, validated checkpoint: a directory or a GGUF file.
struct Checkpoint {
  /// The directory, or the GGUF file.
  std::string directory;
  LlamaConfig config;
  std::unique_ptr<CheckpointWeights> weights;

  /// Reads `dir/config.json` and `dir/model.safetensors` (or, when there is
  /// none, the shards of `dir/model.safetensors.index.json`), or when `dir`
  /// is a GGUF file (by its magic) the configuration and the tensors in it,
  /// and validates them.
  static llvm::Expected<Checkpoint> open(llvm::StringRef dir);
};

} // namespace llamac

#endif // LLAMAC_FRONTEND_CHECKPOINT_H
