//===- ConversationTest.cpp - A multi-turn chat over one KV cache ---------===//
//
// The turns a Conversation feeds, on the tiny random model with the real
// Llama 3 tokenizer (LLAMAC_TEST_ARTIFACTS/tiny, made by the
// test-artifacts fixture): the whole template first, then only the next
// turn after the previous reply's last token; a reply cut short closed
// with <|eot_id|>; /reset; messages and replies that meet the end of the
// context. What the random model says is not checked, only what is fed
// (the expected prompts are the template written out here, encoded) and
// where the cache stands. Sampling is greedy, so runs repeat exactly.
//
//===----------------------------------------------------------------------===//
#include "llamac/Runtime/Conversation.h"
#include "llamac/Runtime/Runtime.h"
#include "llamac/Runtime/Sampler.h"
#include "llamac/Tokenizer/Tokenizer.h"

#include "gtest/gtest.h"

#include <memory>
#include <string>
#include <vector>

#ifndef LLAMAC_TEST_ARTIFACTS
#error "LLAMAC_TEST_ARTIFACTS must name the directory of the test artifacts"
#endif

using namespace llamac::runtime;
using llamac::tokenizer::Tokenizer;
using Outcome = Conversation::Outcome;

namespace {

/// The tiny artifact and its tokenizer, loaded once.
struct Tiny {
  std::unique_ptr<Model> model;
  std::unique_ptr<Tokenizer> tokenizer;
};

Tiny &tiny() {
  static Tiny loaded = [] {
    std::string dir = std::string(LLAMAC_TEST_ARTIFACTS) + "/tiny";
    Tiny tiny;
    LoadOptions options;
    options.threads = 2;
    tiny.model = Model::load(dir, options);
    tiny.tokenizer = Tokenizer::load(dir + "/tokenizer.bin");
    return tiny;
  }();
  return loaded;
}

/// The first turn as the Llama 3.2 template renders it (no system message,
/// 26 Jul 2024).
std::string firstTurn(const std::string &message) {
  return "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n"
         "Cutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n"
         "<|eot_id|><|start_header_id|>user<|end_header_id|>\n\n" +
         message +
         "<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n";
}
/// A later turn.
std::string nextTurn(const std::string &message) {
  return "<|start_header_id|>user<|end_header_id|>\n\n" + message +
         "<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n";
}

std::vector<int32_t> encode(const std::string &text) {
  return tiny().tokenizer->encode(text);
}
std::vector<int32_t> after(int32_t token, std::vector<int32_t> ids) {
  ids.insert(ids.begin(), token);
  return ids;
}
int32_t endOfTurn() { return *tiny().tokenizer->specialTokenId("<|eot_id|>"); }

SamplerOptions greedy() {
  SamplerOptions options;
  options.temperature = 0;
  return options;
}

ConversationOptions replies(int64_t maxTokens,
                            std::vector<int64_t> stopIds = {}) {
  ConversationOptions options;
  options.today = "26 Jul 2024";
  options.maxReplyTokens = maxTokens;
  options.stopIds = std::move(stopIds);
  return options;
}

/// Well-formed UTF-8, checked independently of the stream decoder.
bool isValidUTF8(const std::string &text) {
  for (size_t i = 0; i < text.size();) {
    auto lead = static_cast<unsigned char>(text[i]);
    size_t length = lead < 0x80         ? 1
                    : (lead >> 5) == 6  ? 2
                    : (lead >> 4) == 14 ? 3
                    : (lead >> 3) == 30 ? 4
                                        : 0;
    if (!length || i + length > text.size())
      return false;
    for (size_t k = 1; k < length; ++k)
      if ((static_cast<unsigned char>(text[i + k]) & 0xc0) != 0x80)
        return false;
    i += length;
  }
  return true;
}

TEST(Conversation, LaterTurnsFollowTheLastReply) {
  Session session(*tiny().model, 512);
  Sampler sampler(greedy());
  Conversation conversation(session, *tiny().tokenizer, sampler, replies(3));
  std::string text;
  Conversation::Turn first =
      conversation.input("Hi there", [&](const std::string &piece) {
        EXPECT_TRUE(isValidUTF8(piece));
        text += piece;
      });
  ASSERT_EQ(first.outcome, Outcome::Replied);
  EXPECT_EQ(first.prompt, encode(firstTurn("Hi there")));
  ASSERT_EQ(first.result.tokens.size(), 3u);
  EXPECT_TRUE(first.notice.empty());
  std::string decoded = tiny().tokenizer->decode(first.result.tokens);
  if (isValidUTF8(decoded))
    EXPECT_EQ(text, decoded);
  // Two decode steps, then the reply cut short by the limit is closed: its
  // last token goes into the cache and <|eot_id|> waits for the next turn.
  EXPECT_EQ(session.position(), int64_t(first.prompt.size()) + 3);
  EXPECT_TRUE(conversation.started());

  int64_t before = session.position();
  Conversation::Turn second = conversation.input("And again?");
  ASSERT_EQ(second.outcome, Outcome::Replied);
  EXPECT_EQ(second.prompt, after(endOfTurn(), encode(nextTurn("And again?"))));
  EXPECT_EQ(session.position(), before + int64_t(second.prompt.size()) + 3);
}

TEST(Conversation, RepliesThatEndAtAStopIdAreNotClosed) {
  // The greedy reply's first token, from a conversation of its own.
  int32_t firstReplyToken;
  {
    Session session(*tiny().model, 512);
    Sampler sampler(greedy());
    Conversation probe(session, *tiny().tokenizer, sampler, replies(1));
    Conversation::Turn turn = probe.input("Hi there");
    ASSERT_EQ(turn.result.tokens.size(), 1u);
    firstReplyToken = turn.result.tokens[0];
  }
  Session session(*tiny().model, 512);
  Sampler sampler(greedy());
  Conversation conversation(session, *tiny().tokenizer, sampler,
                            replies(3, {firstReplyToken}));
  std::string text;
  Conversation::Turn turn = conversation.input(
      "Hi there", [&](const std::string &piece) { text += piece; });
  ASSERT_EQ(turn.outcome, Outcome::Replied);
  EXPECT_TRUE(turn.result.stoppedAtStopId);
  EXPECT_EQ(turn.result.tokens, std::vector<int32_t>{firstReplyToken});
  EXPECT_EQ(text, "") << "end ids are not text";
  // Nothing after the prompt is in the cache: the end token is fed with the
  // next turn, as it is.
  EXPECT_EQ(session.position(), int64_t(turn.prompt.size()));
  Conversation::Turn next = conversation.input("And again?");
  EXPECT_EQ(next.prompt,
            after(firstReplyToken, encode(nextTurn("And again?"))));
}

TEST(Conversation, ResetStartsOver) {
  Session session(*tiny().model, 512);
  Sampler sampler(greedy());
  Conversation conversation(session, *tiny().tokenizer, sampler, replies(2));
  ASSERT_EQ(conversation.input("Hi there").outcome, Outcome::Replied);
  Conversation::Turn reset = conversation.input("  /reset \n");
  EXPECT_EQ(reset.outcome, Outcome::Reset);
  EXPECT_EQ(reset.notice, "(conversation reset)");
  EXPECT_FALSE(conversation.started());
  EXPECT_EQ(session.position(), 0);
  Conversation::Turn again = conversation.input("And again?");
  EXPECT_EQ(again.prompt, encode(firstTurn("And again?")));
  EXPECT_EQ(session.position(), int64_t(again.prompt.size()) + 2);
}

TEST(Conversation, BlankLinesAndCommands) {
  Session session(*tiny().model, 64);
  Sampler sampler(greedy());
  Conversation conversation(session, *tiny().tokenizer, sampler, replies(2));
  EXPECT_EQ(conversation.input("").outcome, Outcome::Ignored);
  EXPECT_EQ(conversation.input(" \t\n").outcome, Outcome::Ignored);
  EXPECT_EQ(conversation.input("/exit").outcome, Outcome::Exit);
  EXPECT_EQ(conversation.input("/quit ").outcome, Outcome::Exit);
  EXPECT_EQ(session.position(), 0);
  EXPECT_FALSE(conversation.started());
}

TEST(Conversation, MessagesAndRepliesMeetTheEndOfTheContext) {
  const std::string message = "one two three four five six";
  const int64_t promptSize = int64_t(encode(firstTurn(message)).size());
  ConversationOptions noShift = replies(100);
  noShift.contextShift = false;
  {
    // The message alone does not leave room for a reply: nothing runs,
    // whether turns may be dropped or not (there are none).
    Session session(*tiny().model, promptSize);
    Sampler sampler(greedy());
    Conversation conversation(session, *tiny().tokenizer, sampler, replies(4));
    Conversation::Turn turn = conversation.input(message);
    EXPECT_EQ(turn.outcome, Outcome::TooLong);
    EXPECT_EQ(turn.notice,
              "context full: the conversation holds 0 tokens and this "
              "message needs " +
                  std::to_string(promptSize) + " more of the " +
                  std::to_string(promptSize) +
                  " (--ctx); /reset to start over");
    EXPECT_EQ(session.position(), 0);
    EXPECT_FALSE(conversation.started());
  }
  // Room for three tokens: the reply stops when the cache is full, and
  // without the context shift the next message cannot follow it.
  Session session(*tiny().model, promptSize + 2);
  Sampler sampler(greedy());
  Conversation conversation(session, *tiny().tokenizer, sampler, noShift);
  Conversation::Turn turn = conversation.input(message);
  ASSERT_EQ(turn.outcome, Outcome::Replied);
  EXPECT_TRUE(turn.result.stoppedAtContextEnd);
  EXPECT_EQ(turn.result.tokens.size(), 3u);
  EXPECT_EQ(turn.notice, "(context full: " + std::to_string(promptSize + 2) +
                             " tokens; /reset to start over)");
  EXPECT_EQ(conversation.input("more").outcome, Outcome::TooLong);
}

/// The ids of the template's system block alone (no system message).
std::vector<int32_t> systemBlock() {
  return encode("<|begin_of_text|><|start_header_id|>system<|end_header_id|>"
                "\n\nCutting Knowledge Date: December 2023\nToday Date: 26 "
                "Jul 2024\n\n<|eot_id|>");
}

TEST(Conversation, AFullContextDropsTheOldestTurns) {
  // Three messages of which the third does not fit after the first two:
  // the first turn is dropped, the system block and the second turn are
  // run again from position 0, and the third reply is the one a fresh
  // session gives after exactly those ids.
  const std::string m1 = "one two three four five six", m2 = "seven eight",
                    m3 = "nine ten eleven";
  std::vector<int32_t> reply1, reply2;
  {
    Session probe(*tiny().model, 512);
    Sampler sampler(greedy());
    Conversation conversation(probe, *tiny().tokenizer, sampler, replies(4));
    reply1 = conversation.input(m1).result.tokens;
    reply2 = conversation.input(m2).result.tokens;
  }
  ASSERT_EQ(reply1.size(), 4u);
  ASSERT_EQ(reply2.size(), 4u);
  const std::vector<int32_t> p1 = encode(firstTurn(m1)), n2 = encode(nextTurn(m2)),
                             n3 = encode(nextTurn(m3));
  // Cut short by the limit, each reply is closed: its last token fed, then
  // <|eot_id|> with the next turn.
  const int64_t afterTwo = int64_t(p1.size() + 4 + 1 + n2.size() + 4);
  Session session(*tiny().model, afterTwo + 1 + int64_t(n3.size()));
  Sampler sampler(greedy());
  Conversation conversation(session, *tiny().tokenizer, sampler, replies(4));
  ASSERT_EQ(conversation.input(m1).outcome, Outcome::Replied);
  ASSERT_EQ(conversation.input(m2).outcome, Outcome::Replied);
  ASSERT_EQ(session.position(), afterTwo);
  Conversation::Turn third = conversation.input(m3);
  ASSERT_EQ(third.outcome, Outcome::Replied) << third.notice;
  const std::vector<int32_t> header = systemBlock();
  EXPECT_EQ(third.droppedTurns, 1);
  EXPECT_EQ(third.droppedTokens, int64_t(p1.size() - header.size() + 4 + 1));
  EXPECT_EQ(third.prompt, after(endOfTurn(), n3));

  std::vector<int32_t> kept = header;
  kept.insert(kept.end(), n2.begin(), n2.end());
  kept.insert(kept.end(), reply2.begin(), reply2.end());
  EXPECT_EQ(third.notice, "(context full: dropped the 1 oldest turn, " +
                              std::to_string(third.droppedTokens) +
                              " tokens; " + std::to_string(kept.size()) +
                              " kept)");
  // The same ids in the same two calls (the kept ones, then the message).
  Session reference(*tiny().model, 512);
  reference.prefill(kept, /*lastOnly=*/true);
  Sampler referenceSampler(greedy());
  GenerateOptions generation;
  generation.maxNewTokens = 4;
  GenerationResult expected = generate(reference, after(endOfTurn(), n3),
                                       referenceSampler, generation);
  EXPECT_EQ(third.result.tokens, expected.tokens);
  EXPECT_EQ(session.position(), int64_t(kept.size() + 1 + n3.size()) + 4);

  // A message too long for the context even alone is still refused.
  std::string longMessage;
  for (int i = 0; i < 200; ++i)
    longMessage += " word";
  EXPECT_EQ(conversation.input(longMessage).outcome, Outcome::TooLong);
}

} // namespace
