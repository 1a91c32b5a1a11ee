//===- Prompt.h - Text prompts as the model is fed them ---------*- C++ -*-===//
//
// One function turns a user's text into token ids for every way of
// generating from text: a raw completion (BOS first, unless the text
// already begins with <|begin_of_text|>), one chat turn in the Llama 3.2
// Instruct format (Chat.h), and the turns of a conversation, of which the
// first renders the whole template and the later ones only their own turn
// (the KV cache holds the rest).
//
//===----------------------------------------------------------------------===//
#ifndef LLAMAC_RUNTIME_PROMPT_H
#define LLAMAC_RUNTIME_PROMPT_H

#include "llamac/Tokenizer/Tokenizer.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace llamac::runtime {

struct PromptOptions {
  /// Wrap the text as a user message of the chat format; otherwise it is a
  /// raw completion.
  bool chat = false;
  /// The chat's system message (may be empty: the template's system block
  /// is there all the same).
  std::string system;
  /// The chat template's "Today Date" as ChatFormat takes it ("26 Jul 2024").
  std::string today;
  /// The model's begin-of-text id, put before a raw completion; none:
  /// nothing is put before it.
  std::optional<int64_t> bosTokenId;
};

/// The ids of `text` as the model is fed them. For a chat with
/// `continuing` (a conversation whose earlier turns are in the KV cache),
/// only this user turn and the assistant header; otherwise the whole
/// prompt. Throws an Error when there is nothing to feed ("the prompt is
/// empty").
std::vector<int32_t> encodePrompt(const tokenizer::Tokenizer &tokenizer,
                                  const PromptOptions &options,
                                  const std::string &text,
                                  bool continuing = false);

} // namespace llamac::runtime

#endif // LLAMAC_RUNTIME_PROMPT_H
