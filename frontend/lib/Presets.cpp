//===- Presets.cpp - Embedded model configurations ------------------------===//
//
// Configurations llamac knows without a checkpoint, so tools can build and
// inspect the graph of a model by name. Each preset is a `config.json` text,
// run through the same parser as a file on disk so that a preset can never
// disagree with what reading the real file gives: the official files of the
// published Llama 3.2 1B and 3B and Llama 3.1 8B (Instruct), and a file in
// the same layout for llamac's test model.
//
//===----------------------------------------------------------------------===//

#include "llamac/Frontend/LlamaConfig.h"

#include "llvm/ADT/Twine.h"

using namespace llvm;
using namespace llamac;

namespace {

/// `config.json` of meta-llama/Llama-3.2-1B-Instruct.
constexpr const char kLlama32_1BInstruct[] = R"json({
  "architectures": [
    "LlamaForCausalLM"
  ],
  "attention_bias": false,
  "attention_dropout": 0.0,
  "bos_token_id": 128000,
  "eos_token_id": [
    128001,
    128008,
    128009
  ],
  "head_dim": 64,
  "hidden_act": "silu",
  "hidden_size": 2048,
  "initializer_range": 0.02,
  "intermediate_size": 8192,
  "max_position_embeddings": 131072,
  "mlp_bias": false,
  "model_type": "llama",
  "num_attention_heads": 32,
  "num_hidden_layers": 16,
  "num_key_value_heads": 8,
  "pretraining_tp": 1,
  "rms_norm_eps": 1e-05,
  "rope_scaling": {
    "factor": 32.0,
    "high_freq_factor": 4.0,
    "low_freq_factor": 1.0,
    "original_max_position_embeddings": 8192,
    "rope_type": "llama3"
  },
  "rope_theta": 500000.0,
  "tie_word_embeddings": true,
  "torch_dtype": "bfloat16",
  "transformers_version": "4.45.0.dev0",
  "use_cache": true,
  "vocab_size": 128256
}
)json";

/// `config.json` of meta-llama/Llama-3.2-3B-Instruct: wider and deeper than
/// the 1B, head_dim 128, still tied embeddings.
constexpr const char kLlama32_3BInstruct[] = R"json({
  "architectures": [
    "LlamaForCausalLM"
  ],
  "attention_bias": false,
  "attention_dropout": 0.0,
  "bos_token_id": 128000,
  "eos_token_id": [
    128001,
    128008,
    128009
  ],
  "head_dim": 128,
  "hidden_act": "silu",
  "hidden_size": 3072,
  "initializer_range": 0.02,
  "intermediate_size": 8192,
  "max_position_embeddings": 131072,
  "mlp_bias": false,
  "model_type": "llama",
  "num_attention_heads": 24,
  "num_hidden_layers": 28,
  "num_key_value_heads": 8,
  "pretraining_tp": 1,
  "rms_norm_eps": 1e-05,
  "rope_scaling": {
    "factor": 32.0,
    "high_freq_factor": 4.0,
    "low_freq_factor": 1.0,
    "original_max_position_embeddings": 8192,
    "rope_type": "llama3"
  },
  "rope_theta": 500000.0,
  "tie_word_embeddings": true,
  "torch_dtype": "bfloat16",
  "transformers_version": "4.45.0.dev0",
  "use_cache": true,
  "vocab_size": 128256
}
)json";

/// `config.json` of meta-llama/Llama-3.1-8B-Instruct: no `head_dim` (it is
/// hidden_size / heads = 128), a separate `lm_head`, and the 3.1 RoPE
/// scaling factor 8.
constexpr const char kLlama31_8BInstruct[] = R"json({
  "architectures": [
    "LlamaForCausalLM"
  ],
  "attention_bias": false,
  "attention_dropout": 0.0,
  "bos_token_id": 128000,
  "eos_token_id": [
    128001,
    128008,
    128009
  ],
  "hidden_act": "silu",
  "hidden_size": 4096,
  "initializer_range": 0.02,
  "intermediate_size": 14336,
  "max_position_embeddings": 131072,
  "mlp_bias": false,
  "model_type": "llama",
  "num_attention_heads": 32,
  "num_hidden_layers": 32,
  "num_key_value_heads": 8,
  "pretraining_tp": 1,
  "rms_norm_eps": 1e-05,
  "rope_scaling": {
    "factor": 8.0,
    "low_freq_factor": 1.0,
    "high_freq_factor": 4.0,
    "original_max_position_embeddings": 8192,
    "rope_type": "llama3"
  },
  "rope_theta": 500000.0,
  "tie_word_embeddings": false,
  "torch_dtype": "bfloat16",
  "transformers_version": "4.42.3",
  "use_cache": true,
  "vocab_size": 128256
}
)json";

/// A model in the exact Llama 3.2 layout, small enough to synthesize, compile
/// and run in a test in well under a second per step. It keeps the real
/// vocabulary (so the Llama 3 tokenizer applies), the RoPE scaling, norm
/// epsilon and special tokens of Llama 3.2 1B, and its grouped-query
/// attention (two query heads per KV head) and tied embeddings; only the
/// widths and the depth shrink.
constexpr const char kTiny[] = R"json({
  "architectures": [
    "LlamaForCausalLM"
  ],
  "attention_bias": false,
  "attention_dropout": 0.0,
  "bos_token_id": 128000,
  "eos_token_id": [
    128001,
    128008,
    128009
  ],
  "head_dim": 64,
  "hidden_act": "silu",
  "hidden_size": 256,
  "initializer_range": 0.02,
  "intermediate_size": 512,
  "max_position_embeddings": 131072,
  "mlp_bias": false,
  "model_type": "llama",
  "num_attention_heads": 4,
  "num_hidden_layers": 2,
  "num_key_value_heads": 2,
  "pretraining_tp": 1,
  "rms_norm_eps": 1e-05,
  "rope_scaling": {
    "factor": 32.0,
    "high_freq_factor": 4.0,
    "low_freq_factor": 1.0,
    "original_max_position_embeddings": 8192,
    "rope_type": "llama3"
  },
  "rope_theta": 500000.0,
  "tie_word_embeddings": true,
  "torch_dtype": "bfloat16",
  "use_cache": true,
  "vocab_size": 128256
}
)json";

struct Preset {
  /// The canonical name, listed by presetNames().
  const char *name;
  /// A shorter spelling accepted on the command line, or null.
  const char *alias;
  const char *configJSON;
};

constexpr Preset kPresets[] = {
    {"llama-3.2-1b", "1b", kLlama32_1BInstruct},
    {"llama-3.2-3b", "3b", kLlama32_3BInstruct},
    {"llama-3.1-8b", "8b", kLlama31_8BInstruct},
    {"tiny", nullptr, kTiny},
};

} // namespace

Expected<LlamaConfig> llamac::getPresetConfig(StringRef name) {
  for (const Preset &preset : kPresets)
    if (name.equals_insensitive(preset.name) ||
        (preset.alias && name.equals_insensitive(preset.alias)))
      return parseLlamaConfig(preset.configJSON,
                              ("preset '" + Twine(preset.name) + "'").str());

  std::string known;
  for (const Preset &preset : kPresets) {
    if (!known.empty())
      known += ", ";
    known += preset.name;
    if (preset.alias)
      known += std::string(" (alias ") + preset.alias + ")";
  }
  return createStringError(inconvertibleErrorCode(),
                           "unknown preset '" + name +
                               "'; known presets: " + known);
}

std::vector<std::string> llamac::presetNames() {
  std::vector<std::string> names;
  for (const Preset &preset : kPresets)
    names.push_back(preset.name);
  return names;
}
