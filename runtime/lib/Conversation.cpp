//===- Conversation.cpp - A multi-turn chat over one KV cache -------------===//
#include "llamac/Runtime/Conversation.h"

#include "llamac/Runtime/Chat.h"

#include <algorithm>

namespace llamac::runtime {

Conversation::Conversation(Session &session,
                           const tokenizer::Tokenizer &tokenizer,
                           Sampler &sampler, ConversationOptions options)
    : session(session), tokenizer(tokenizer), sampler(sampler),
      options(std::move(options)) {
  promptOptions.chat = true;
  promptOptions.system = this->options.system;
  promptOptions.today = this->options.today;
}

void Conversation::reset() {
  session.reset();
  begun = false;
  pending.reset();
}

bool Conversation::isStopId(int32_t token) const {
  return std::find(options.stopIds.begin(), options.stopIds.end(), token) !=
         options.stopIds.end();
}

Conversation::Turn Conversation::input(const std::string &line,
                                       const TextSink &onText) {
  Turn turn;
  std::string message = trimWhitespace(line);
  if (message.empty())
    return turn;
  if (message == "/exit" || message == "/quit") {
    turn.outcome = Outcome::Exit;
    return turn;
  }
  if (message == "/reset") {
    reset();
    turn.outcome = Outcome::Reset;
    turn.notice = "(conversation reset)";
    return turn;
  }
  return send(message, onText);
}

Conversation::Turn Conversation::send(const std::string &message,
                                      const TextSink &onText) {
  Turn turn;
  if (pending)
    turn.prompt.push_back(*pending);
  std::vector<int32_t> encoded =
      encodePrompt(tokenizer, promptOptions, message, /*continuing=*/begun);
  turn.prompt.insert(turn.prompt.end(), encoded.begin(), encoded.end());
  // The reply needs at least one position after the message.
  if (session.position() + int64_t(turn.prompt.size()) >= session.capacity()) {
    turn.outcome = Outcome::TooLong;
    turn.notice =
        "context full: the conversation holds " +
        std::to_string(session.position()) + " tokens and this message needs " +
        std::to_string(turn.prompt.size()) + " more of the " +
        std::to_string(session.capacity()) + " (--ctx); /reset to start over";
    return turn;
  }

  tokenizer::StreamDecoder stream(tokenizer);
  GenerateOptions generation;
  generation.maxNewTokens = options.maxReplyTokens;
  generation.stopAtContextEnd = true;
  generation.stopIds = options.stopIds;
  auto onToken = [&](int32_t token) {
    if (!isStopId(token)) {
      std::string text = stream.push(token);
      if (onText && !text.empty())
        onText(text);
    }
    return true;
  };
  turn.outcome = Outcome::Replied;
  turn.result = generate(session, turn.prompt, sampler, generation, onToken);
  if (std::string rest = stream.flush(); onText && !rest.empty())
    onText(rest);
  begun = true;
  pending = turn.result.pendingToken;
  // A reply cut short (by the token limit) still has to end its turn.
  if (!turn.result.stoppedAtStopId && pending)
    if (std::optional<int32_t> eot = tokenizer.specialTokenId("<|eot_id|>"))
      if (session.position() + 2 <= session.capacity()) {
        session.prefill({*pending}, /*lastOnly=*/true);
        pending = *eot;
      }
  if (turn.result.stoppedAtContextEnd)
    turn.notice = "(context full: " + std::to_string(session.capacity()) +
                  " tokens; /reset to start over)";
  return turn;
}

} // namespace llamac::runtime
