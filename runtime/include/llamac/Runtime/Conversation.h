//===- Conversation.h - A multi-turn chat over one KV cache -----*- C++ -*-===//
//
// What `llamac-run ART chat` does with each line the user types, for any
// front end: a message becomes the next user turn of the Llama 3 chat
// format, fed at the end of the session's KV cache, and the reply is
// generated and streamed as text. History is never recomputed: the first
// turn renders the whole template (system block included), later turns
// only their own, preceded by the previous reply's last token, which
// generation leaves unfed. A reply cut short by the token limit is closed
// with <|eot_id|> so that the next turn follows a complete one. "/reset"
// starts over, "/exit" and "/quit" end.
//
// When a message does not fit in what is left of the context, the oldest
// whole turns (a user message and its reply) are dropped until it fits with
// room for a reply, and what is kept — the system block and the later
// turns — is run again from position 0 (exact: the kept tokens at their new
// positions, as llama.cpp's context shift keeps the first tokens). Only a
// message that does not fit even alone is refused.
//
//===----------------------------------------------------------------------===//
#ifndef LLAMAC_RUNTIME_CONVERSATION_H
#define LLAMAC_RUNTIME_CONVERSATION_H

#include "llamac/Runtime/Generate.h"
#include "llamac/Runtime/Prompt.h"
#include "llamac/Runtime/Runtime.h"
#include "llamac/Runtime/Sampler.h"
#include "llamac/Tokenizer/Tokenizer.h"

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace llamac::runtime {

struct ConversationOptions {
  /// The system message of every conversation (may be empty).
  std::string system;
  /// The chat template's "Today Date" ("26 Jul 2024").
  std::string today;
  /// Most tokens a reply may have.
  int64_t maxReplyTokens = 512;
  /// A reply ends when it generates one of these (the model's end ids;
  /// empty: only at the token limit or the end of the context).
  std::vector<int64_t> stopIds;
  /// Drop the oldest turns when a message does not fit (otherwise refuse
  /// it and say to /reset).
  bool contextShift = true;
};

class Conversation {
public:
  /// What one line of input did.
  enum class Outcome {
    /// A blank line: nothing.
    Ignored,
    /// "/exit" or "/quit": the user is done.
    Exit,
    /// "/reset": the next message starts a new conversation.
    Reset,
    /// The message does not fit in what is left of the context; nothing
    /// ran.
    TooLong,
    /// The message was answered.
    Replied,
  };

  struct Turn {
    Outcome outcome = Outcome::Ignored;
    /// TooLong, Replied: the ids the message needs (on later turns the
    /// previous reply's last token first).
    std::vector<int32_t> prompt;
    /// Replied: the reply's tokens and figures.
    GenerationResult result;
    /// What to tell the user, or nothing: "(conversation reset)" and the
    /// context-full messages.
    std::string notice;
    /// Replied: turns dropped to make room for this one, and the tokens
    /// they held.
    int64_t droppedTurns = 0;
    int64_t droppedTokens = 0;
  };

  /// Receives the reply's text as it forms whole UTF-8 characters.
  using TextSink = std::function<void(const std::string &)>;

  /// A conversation in `session` (from its current position), sampling
  /// with `sampler`; the three outlive it.
  Conversation(Session &session, const tokenizer::Tokenizer &tokenizer,
               Sampler &sampler, ConversationOptions options);

  /// One line the user typed: trimmed, blank lines and commands handled,
  /// anything else send().
  Turn input(const std::string &line, const TextSink &onText = {});
  /// Answers `message` (no commands), streaming the reply to `onText`
  /// (end ids are not text).
  Turn send(const std::string &message, const TextSink &onText = {});
  /// Forgets the conversation: the next message starts a new one at the
  /// beginning of the cache.
  void reset();
  /// Whether a message was answered since the start or the last reset.
  bool started() const { return begun; }

private:
  bool isStopId(int32_t token) const;
  /// The ids this turn feeds: the pending token (if any), then `encoded`.
  std::vector<int32_t> turnPrompt(const std::vector<int32_t> &encoded) const;
  /// Drops the oldest turns until `encoded` fits with room for a reply and
  /// runs what is kept again; false when nothing could be dropped.
  bool makeRoom(const std::vector<int32_t> &encoded, Turn &turn);

  Session &session;
  const tokenizer::Tokenizer &tokenizer;
  Sampler &sampler;
  ConversationOptions options;
  /// How messages become the chat format's turns.
  PromptOptions promptOptions;
  bool begun = false;
  /// The last reply's last token, not yet in the cache.
  std::optional<int32_t> pending;
  /// The ids in the session's cache, in order, while the conversation knows
  /// them (it started at position 0), and where each turn begins in them
  /// (the first at the end of the system block).
  bool tracked = false;
  std::vector<int32_t> cached;
  std::vector<size_t> turnStarts;
};

} // namespace llamac::runtime

#endif // LLAMAC_RUNTIME_CONVERSATION_H
