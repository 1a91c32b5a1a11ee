//===- Chat.h - The Llama 3.2 Instruct prompt format ------------*- C++ -*-===//
//
//   <|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n
//   Cutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n
//   {system}<|eot_id|>
//   <|start_header_id|>user<|end_header_id|>\n\n{content}<|eot_id|>
//   ...
//   <|start_header_id|>assistant<|end_header_id|>\n\n      (to prime)
//
// as the model's own chat template renders it (contents trimmed; the system
// block is always present, empty when there is no system message).
//
//===----------------------------------------------------------------------===//
#ifndef LLAMAC_RUNTIME_CHAT_H
#define LLAMAC_RUNTIME_CHAT_H

#include <ctime>
#include <string>
#include <vector>

namespace llamac::runtime {

struct ChatMessage {
  std::string role; ///< "system", "user" or "assistant"
  std::string content;
};

class ChatFormat {
public:
  /// `todayDate` as the template writes it, e.g. "26 Jul 2024".
  explicit ChatFormat(std::string todayDate);

  /// The whole conversation, beginning with <|begin_of_text|>; with the
  /// assistant header at the end when `primeAssistant`.
  std::string render(const std::vector<ChatMessage> &messages,
                     bool primeAssistant = true) const;
  /// One more message after a completed turn (what a multi-turn session
  /// appends to its KV cache).
  std::string renderTurn(const ChatMessage &message,
                         bool primeAssistant = true) const;

  /// "%d %b %Y" in the C locale ("27 Nov 2026").
  static std::string formatDate(std::time_t time);
  /// Parses a --date value given as YYYY-MM-DD or already as "27 Nov 2026";
  /// throws Error otherwise.
  static std::string parseDate(const std::string &text);

private:
  std::string today;
};

/// Python's str.strip() on ASCII whitespace, as the template's `| trim`.
std::string trimWhitespace(const std::string &text);

} // namespace llamac::runtime

#endif // LLAMAC_RUNTIME_CHAT_H
