//===- Synth.h - Checkpoints with deterministic random weights --*- C++ -*-===//
//
// Writes a Hugging Face checkpoint directory for any Llama configuration,
// filled with reproducible random weights, so that a full-size model can be
// compiled, run and benchmarked without downloading anything. The files are
// laid out like a download from Hugging Face: the same tensor names, shapes
// and BF16 storage, one `model.safetensors` for the 1B and shards with an
// index for the 3B and 8B, so that everything downstream reads a synthetic
// checkpoint and a real one through the same code.
//
//===----------------------------------------------------------------------===//
#ifndef LLAMAC_FRONTEND_SYNTH_H
#define LLAMAC_FRONTEND_SYNTH_H

#include "llamac/Frontend/LlamaConfig.h"

#include "llvm/ADT/STLFunctionalExtras.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <string>
#include <vector>

namespace llamac {

/// The standard deviation of the synthetic weight matrices: the
/// `initializer_range` Llama configurations use for initialization.
constexpr double kSynthWeightStd = 0.02;

/// Hugging Face's default `max_shard_size` for `save_pretrained` ("5GB",
/// decimal): the published Llama 3.2 3B and 3.1 8B checkpoints are split by
/// it into 2 and 4 files, the 1B stays one `model.safetensors`.
constexpr uint64_t kHuggingFaceMaxShardBytes = 5000000000;

/// One safetensors file of a synthesized checkpoint.
struct SynthWeightFile {
  /// `model.safetensors`, or `model-00001-of-00004.safetensors` and so on.
  std::string name;
  /// Its tensors, in the order they are written.
  std::vector<std::string> tensors;
  /// The bytes of its tensor data (the header not included).
  uint64_t dataBytes = 0;
};

/// The files the weights of `config` are written to, split as Hugging
/// Face's `save_pretrained` splits a state dict: the tensors in the order of
/// `LlamaForCausalLM.state_dict()` (per layer the attention and MLP
/// projections, then the two norms), a new file started whenever the next
/// tensor would take the current one past `maxShardBytes` (a tensor larger
/// than that gets a file of its own). One file is `model.safetensors`; more
/// are `model-<i>-of-<n>.safetensors`, numbered from 1 in five digits.
std::vector<SynthWeightFile>
planSynthWeightFiles(const LlamaConfig &config,
                     uint64_t maxShardBytes = kHuggingFaceMaxShardBytes);

/// Writes a checkpoint for `config` into the directory `dir`:
///
///  - `config.json`: `config.toJSON()` with `torch_dtype` "bfloat16";
///  - `generation_config.json`: the special tokens of `config` and the
///    sampling defaults of Llama 3.2 Instruct (do_sample, temperature 0.6,
///    top_p 0.9);
///  - the weights, in the files `planSynthWeightFiles(config,
///    maxShardBytes)` gives: every tensor of `expectedTensors(config)`
///    (`lm_head.weight` only when the embedding is untied), as BF16, with
///    contiguous data and `"__metadata__": {"format": "pt"}`, the header
///    padded with spaces to a multiple of 8 bytes as Hugging Face does;
///  - with more than one file, `model.safetensors.index.json` as
///    `save_pretrained` writes it: `{"metadata": {"total_size": <tensor
///    bytes>}, "weight_map": {<tensor>: <file>}}`, keys sorted, indent 2.
///
/// The weights depend only on `seed` and the tensor's name, never on the
/// order, the other tensors or the sharding. Element `i` of a tensor is
/// derived from the `i`-th output of a splitmix64 stream whose state starts
/// at a 64-bit key mixed from `seed` and the FNV-1a hash of the name. The
/// output's four 16-bit fields are summed (an Irwin-Hall distribution with
/// n = 4) and rescaled to zero mean and unit variance: a bell curve, bounded
/// at +-sqrt(12) = +-3.46 standard deviations, that costs one integer hash
/// per value. Matrices and the embedding get std `kSynthWeightStd` around 0;
/// RMSNorm weights get the same std around 1. Values are rounded to BF16 to
/// nearest, ties to even.
///
/// The checkpoint appears at `dir` all at once or not at all: it is written
/// into a fresh sibling directory `<dir>.tmp-XXXXXX` that is renamed onto
/// `dir` at the end, and removed on failure. `dir` may be absent or an empty
/// directory. A non-empty directory is refused, unless it holds only the
/// files this function writes (a previous synthetic checkpoint, sharded or
/// not), which is then replaced: the old directory is renamed aside, the new
/// one renamed in, the old one deleted. The free disk space is checked
/// first.
///
/// `progress`, if given, is called from the calling thread with the bytes of
/// the weight files written so far and their total size, about every
/// 16 MiB and once at the end.
llvm::Error synthesizeCheckpoint(
    llvm::StringRef dir, const LlamaConfig &config, uint64_t seed,
    llvm::function_ref<void(uint64_t done, uint64_t total)> progress = {},
    uint64_t maxShardBytes = kHuggingFaceMaxShardBytes);

} // namespace llamac

#endif // LLAMAC_FRONTEND_SYNTH_H
