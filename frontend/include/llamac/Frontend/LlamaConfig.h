//===- LlamaConfig.h - Hugging Face config.json for Llama 3.x ---*- C++ -*-===//
//
// The model hyper-parameters llamac needs, read from a Hugging Face
// `config.json` and validated so that every later stage can trust them.
//
//===----------------------------------------------------------------------===//
#ifndef LLAMAC_FRONTEND_LLAMACONFIG_H
#define LLAMAC_FRONTEND_LLAMACONFIG_H

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace llamac {

/// RoPE frequency scaling as Hugging Face names it in `rope_scaling`.
struct RopeScaling {
  enum class Kind { None, Llama3 };
  Kind kind = Kind::None;
  /// Only meaningful for Kind::Llama3.
  double factor = 1.0;
  double lowFreqFactor = 1.0;
  double highFreqFactor = 1.0;
  int64_t originalMaxPositionEmbeddings = 0;
};

/// A validated Llama 3.x configuration. All sizes are positive and mutually
/// consistent once `parseLlamaConfig` has returned it.
struct LlamaConfig {
  int64_t hiddenSize = 0;
  int64_t intermediateSize = 0;
  int64_t numLayers = 0;
  int64_t numHeads = 0;
  /// Defaults to numHeads when the file omits it (multi-head attention).
  int64_t numKVHeads = 0;
  /// Defaults to hiddenSize / numHeads when the file omits it.
  int64_t headDim = 0;
  int64_t vocabSize = 0;
  int64_t maxPositionEmbeddings = 0;
  double rmsNormEps = 1e-5;
  double ropeTheta = 10000.0;
  RopeScaling ropeScaling;
  bool tieWordEmbeddings = false;
  std::optional<int64_t> bosTokenId;
  /// `eos_token_id` may be a single id or a list; both end up here.
  std::vector<int64_t> eosTokenIds;
  /// `torch_dtype` as written ("bfloat16", "float32", ...), empty if absent.
  std::string torchDtype;

  /// Query heads that share one KV head.
  int64_t groupSize() const { return numHeads / numKVHeads; }
  /// Checks every field and their relations; the message names the field.
  llvm::Error validate() const;
  /// Serializes back to Hugging Face `config.json` field names.
  std::string toJSON() const;
};

/// Parses and validates the text of a `config.json`. `sourceName` prefixes
/// every error message (usually the file path).
llvm::Expected<LlamaConfig> parseLlamaConfig(llvm::StringRef jsonText,
                                             llvm::StringRef sourceName);

/// Reads and parses the file at `path`.
llvm::Expected<LlamaConfig> readLlamaConfig(llvm::StringRef path);

/// The configuration of Llama 3.2 1B Instruct, the embedded default model.
/// Returns the names of the embedded presets with `presetNames`.
llvm::Expected<LlamaConfig> getPresetConfig(llvm::StringRef name);
std::vector<std::string> presetNames();

} // namespace llamac

#endif // LLAMAC_FRONTEND_LLAMACONFIG_H
