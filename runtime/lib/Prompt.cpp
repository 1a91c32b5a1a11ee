//===- Prompt.cpp - Text prompts as the model is fed them -----------------===//
#include "llamac/Runtime/Prompt.h"

#include "llamac/Runtime/Chat.h"
#include "llamac/Runtime/Runtime.h"

namespace llamac::runtime {

std::vector<int32_t> encodePrompt(const tokenizer::Tokenizer &tokenizer,
                                  const PromptOptions &options,
                                  const std::string &text, bool continuing) {
  std::vector<int32_t> ids;
  if (options.chat) {
    ChatFormat format(options.today);
    ChatMessage user{"user", text};
    if (continuing)
      return tokenizer.encode(format.renderTurn(user));
    std::vector<ChatMessage> messages;
    if (!options.system.empty())
      messages.push_back({"system", options.system});
    messages.push_back(std::move(user));
    return tokenizer.encode(format.render(messages));
  }
  // The text may spell its own BOS; the model must not see two.
  if (options.bosTokenId && text.rfind("<|begin_of_text|>", 0) != 0)
    ids.push_back(int32_t(*options.bosTokenId));
  std::vector<int32_t> encoded = tokenizer.encode(text);
  ids.insert(ids.end(), encoded.begin(), encoded.end());
  if (ids.empty())
    throw Error("the prompt is empty");
  return ids;
}

} // namespace llamac::runtime
