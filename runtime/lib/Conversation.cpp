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
  // A conversation that starts after other tokens does not know them, so
  // it cannot run them again.
  tracked = session.position() == 0;
}

void Conversation::reset() {
  session.reset();
  begun = false;
  pending.reset();
  tracked = true;
  cached.clear();
  turnStarts.clear();
}

std::vector<int32_t>
Conversation::turnPrompt(const std::vector<int32_t> &encoded) const {
  std::vector<int32_t> prompt;
  if (pending)
    prompt.push_back(*pending);
  prompt.insert(prompt.end(), encoded.begin(), encoded.end());
  return prompt;
}

bool Conversation::makeRoom(const std::vector<int32_t> &encoded, Turn &turn) {
  if (!options.contextShift || !tracked || turnStarts.empty())
    return false;
  const int64_t capacity = session.capacity();
  // Room for a reply: as many tokens as a reply may have, but at most a
  // quarter of the context, so that long replies do not empty it.
  const int64_t reserve =
      std::max<int64_t>(1, std::min(options.maxReplyTokens, capacity / 4));
  const size_t header = turnStarts.front();
  // Where the kept ids begin after dropping the `drop` oldest turns.
  auto keptFromAfter = [&](size_t drop) {
    return drop < turnStarts.size() ? turnStarts[drop] : cached.size();
  };
  // Drop turns from the oldest until the kept ones, the pending token and
  // the message fit; dropping them all drops the pending token too.
  size_t drop = 1;
  for (; drop <= turnStarts.size(); ++drop) {
    int64_t kept = int64_t(header + cached.size() - keptFromAfter(drop));
    int64_t prompt = int64_t(encoded.size()) +
                     (drop < turnStarts.size() && pending ? 1 : 0);
    if (kept + prompt + reserve <= capacity)
      break;
  }
  if (drop > turnStarts.size())
    return false;
  size_t keptFrom = keptFromAfter(drop);
  std::vector<int32_t> kept(cached.begin(), cached.begin() + header);
  kept.insert(kept.end(), cached.begin() + keptFrom, cached.end());
  turn.droppedTurns = int64_t(drop);
  turn.droppedTokens = int64_t(keptFrom - header);
  std::vector<size_t> starts;
  for (size_t i = drop; i < turnStarts.size(); ++i)
    starts.push_back(turnStarts[i] - turn.droppedTokens);
  if (drop == turnStarts.size())
    pending.reset();
  session.reset();
  session.prefill(kept, /*lastOnly=*/true);
  cached = std::move(kept);
  turnStarts = std::move(starts);
  turn.notice = "(context full: dropped the " + std::to_string(drop) +
                " oldest turn" + (drop == 1 ? "" : "s") + ", " +
                std::to_string(turn.droppedTokens) + " tokens; " +
                std::to_string(cached.size()) + " kept)";
  return true;
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
  std::vector<int32_t> encoded =
      encodePrompt(tokenizer, promptOptions, message, /*continuing=*/begun);
  turn.prompt = turnPrompt(encoded);
  // The reply needs at least one position after the message.
  if (session.position() + int64_t(turn.prompt.size()) >=
          session.capacity() &&
      makeRoom(encoded, turn))
    turn.prompt = turnPrompt(encoded);
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
  if (!begun && tracked) {
    // The first turn: where the system block ends is where the turns
    // begin (the template's blocks are delimited by special tokens, so the
    // block encodes to a prefix of the whole prompt).
    std::vector<int32_t> header =
        tokenizer.encode(ChatFormat(options.today)
                             .render(options.system.empty()
                                         ? std::vector<ChatMessage>{}
                                         : std::vector<ChatMessage>{
                                               {"system", options.system}},
                                     /*primeAssistant=*/false));
    tracked = header.size() < turn.prompt.size() &&
              std::equal(header.begin(), header.end(), turn.prompt.begin());
    if (tracked)
      turnStarts.push_back(header.size());
  } else if (tracked) {
    // A later turn begins after the previous reply's last token.
    turnStarts.push_back(cached.size() + (pending ? 1 : 0));
  }
  turn.result = generate(session, turn.prompt, sampler, generation, onToken);
  if (tracked) {
    cached.insert(cached.end(), turn.prompt.begin(), turn.prompt.end());
    size_t fed = turn.result.tokens.size() -
                 (turn.result.pendingToken && !turn.result.tokens.empty() ? 1 : 0);
    cached.insert(cached.end(), turn.result.tokens.begin(),
                  turn.result.tokens.begin() + fed);
  }
  if (std::string rest = stream.flush(); onText && !rest.empty())
    onText(rest);
  begun = true;
  pending = turn.result.pendingToken;
  // A reply cut short (by the token limit) still has to end its turn.
  if (!turn.result.stoppedAtStopId && pending)
    if (std::optional<int32_t> eot = tokenizer.specialTokenId("<|eot_id|>"))
      if (session.position() + 2 <= session.capacity()) {
        session.prefill({*pending}, /*lastOnly=*/true);
        if (tracked)
          cached.push_back(*pending);
        pending = *eot;
      }
  // What is tracked must be what the cache holds; should the two ever
  // disagree, the conversation stops shifting rather than run wrong ids.
  if (tracked && int64_t(cached.size()) != session.position())
    tracked = false;
  if (turn.result.stoppedAtContextEnd)
    turn.notice = "(context full: " + std::to_string(session.capacity()) +
                  " tokens; " +
                  (options.contextShift && tracked
                       ? "the next message drops the oldest turns)"
                       : "/reset to start over)");
  return turn;
}

} // namespace llamac::runtime
