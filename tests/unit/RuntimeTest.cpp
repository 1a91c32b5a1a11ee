//===- RuntimeTest.cpp - Sampler, chat format and prompts -----------------===//
//
// The sampler against distributions and rules written out here, the chat
// format against token ids assembled from the golden tokenizer cases and
// the vocabulary of the real tokenizer.json (not from the code tested), and
// the prompts fed for text against the template written out here.
//
//===----------------------------------------------------------------------===//
#include "llamac/Runtime/Runtime.h"
#include "llamac/Runtime/Chat.h"
#include "llamac/Runtime/Prompt.h"
#include "llamac/Runtime/Sampler.h"
#include "llamac/Tokenizer/Tokenizer.h"

#include <nlohmann/json.hpp>

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <map>

using namespace llamac::runtime;
using llamac::tokenizer::Tokenizer;
using json = nlohmann::json;

namespace {

SamplerOptions plain(double temperature, uint64_t seed = 0) {
  SamplerOptions options;
  options.temperature = temperature;
  options.topK = 0;
  options.topP = 1.0;
  options.minP = 0.0;
  options.repeatPenalty = 1.0;
  options.seed = seed;
  return options;
}

TEST(SamplerTest, GreedyTakesTheFirstLargest) {
  Sampler sampler(plain(0.0));
  std::vector<float> logits = {0.5f, 2.0f, -1.0f, 2.0f};
  EXPECT_EQ(sampler.sample(logits.data(), 4), 1);
}

TEST(SamplerTest, SameSeedSameTokensOtherSeedOtherTokens) {
  std::vector<float> logits(64);
  for (int i = 0; i < 64; ++i)
    logits[i] = float(std::sin(i * 0.7));
  auto draw = [&](uint64_t seed) {
    SamplerOptions options;
    options.seed = seed;
    options.temperature = 1.5;
    options.topK = 0;
    options.minP = 0;
    Sampler sampler(options);
    std::vector<int32_t> tokens;
    for (int i = 0; i < 100; ++i)
      tokens.push_back(sampler.sample(logits.data(), 64));
    return tokens;
  };
  EXPECT_EQ(draw(42), draw(42));
  EXPECT_NE(draw(42), draw(43));
}

TEST(SamplerTest, FollowsTheSoftmaxDistribution) {
  // p(1) = 3 / (1 + 3) at temperature 1; at temperature 0.5 the odds
  // square: 9 / 10.
  std::vector<float> logits = {0.0f, float(std::log(3.0))};
  for (auto [temperature, expected] :
       {std::pair{1.0, 0.75}, std::pair{0.5, 0.9}}) {
    Sampler sampler(plain(temperature, 7));
    int ones = 0, draws = 20000;
    for (int i = 0; i < draws; ++i)
      ones += sampler.sample(logits.data(), 2);
    EXPECT_NEAR(double(ones) / draws, expected, 0.015) << temperature;
  }
}

TEST(SamplerTest, CutsKeepOnlyTheLikelyTokens) {
  std::vector<float> logits = {1.0f, 3.0f, 2.9f, 0.0f};
  SamplerOptions topK = plain(2.0, 1);
  topK.topK = 1;
  SamplerOptions topP = plain(2.0, 1);
  topP.topP = 0.01;
  SamplerOptions minP = plain(2.0, 1);
  minP.minP = 0.95; // only token 1 is within 95% of the best
  for (const SamplerOptions &options : {topK, topP, minP}) {
    Sampler sampler(options);
    for (int i = 0; i < 200; ++i)
      ASSERT_EQ(sampler.sample(logits.data(), 4), 1);
  }
  // top-k 2 never picks outside the two best.
  SamplerOptions two = plain(5.0, 3);
  two.topK = 2;
  Sampler sampler(two);
  std::map<int32_t, int> seen;
  for (int i = 0; i < 500; ++i)
    ++seen[sampler.sample(logits.data(), 4)];
  EXPECT_EQ(seen.size(), 2u);
  EXPECT_TRUE(seen.count(1) && seen.count(2));
}

TEST(SamplerTest, RepetitionPenaltyDemotesRecentTokens) {
  std::vector<float> logits = {2.0f, 1.9f, -1.0f};
  SamplerOptions options = plain(0.0);
  options.repeatPenalty = 1.5;
  Sampler sampler(options);
  sampler.remember(0); // 2.0 / 1.5 < 1.9
  EXPECT_EQ(sampler.sample(logits.data(), 3), 1);
  // Now 0 and 1 are both recent: 2.0/1.5 > 1.9/1.5.
  EXPECT_EQ(sampler.sample(logits.data(), 3), 0);
}

TEST(SamplerTest, RejectsOutOfRangeValues) {
  auto rejects = [](auto change, const char *name) {
    SamplerOptions options;
    change(options);
    try {
      Sampler sampler(options);
      ADD_FAILURE() << name << " accepted";
    } catch (const Error &error) {
      EXPECT_NE(std::string(error.what()).find(name), std::string::npos)
          << error.what();
    }
  };
  rejects([](SamplerOptions &o) { o.temperature = -0.1; }, "--temp");
  rejects([](SamplerOptions &o) { o.topK = -1; }, "--top-k");
  rejects([](SamplerOptions &o) { o.topP = 0.0; }, "--top-p");
  rejects([](SamplerOptions &o) { o.topP = 1.5; }, "--top-p");
  rejects([](SamplerOptions &o) { o.minP = 1.0; }, "--min-p");
  rejects([](SamplerOptions &o) { o.repeatPenalty = 0.0; }, "--repeat-penalty");
}

TEST(ChatFormatTest, Dates) {
  EXPECT_EQ(ChatFormat::parseDate("2024-07-26"), "26 Jul 2024");
  EXPECT_EQ(ChatFormat::parseDate("3 Jan 2025"), "3 Jan 2025");
  EXPECT_THROW(ChatFormat::parseDate("yesterday"), Error);
  EXPECT_THROW(ChatFormat::parseDate("2024-13-01"), Error);
  EXPECT_EQ(trimWhitespace("  \n hi there\t\n"), "hi there");
}

/// ids of a vocabulary entry, read straight from tokenizer.json.
class VocabLookup {
public:
  VocabLookup() {
    std::ifstream in(LLAMAC_TOKENIZER_JSON, std::ios::binary);
    EXPECT_TRUE(bool(in)) << LLAMAC_TOKENIZER_JSON;
    vocab = json::parse(in)["model"]["vocab"];
  }
  int32_t operator()(const std::string &piece) const {
    auto id = vocab.find(piece);
    EXPECT_TRUE(id != vocab.end() && id->is_number_integer()) << piece;
    return id != vocab.end() ? id->get<int32_t>() : -1;
  }

private:
  json vocab;
};

/// The golden tokenizer case whose text is `text`.
std::vector<int32_t> goldenIds(const std::string &text) {
  std::ifstream cases(std::string(LLAMAC_GOLDEN_DIR) +
                      "/tokenizer/llama3-cases.jsonl");
  std::string line;
  while (std::getline(cases, line)) {
    json object = json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (object.is_discarded() || object["text"] != text)
      continue;
    return object["ids"].get<std::vector<int32_t>>();
  }
  ADD_FAILURE() << "no golden case for " << text;
  return {};
}

/// The real Llama 3 tokenizer, loaded once.
const Tokenizer &realTokenizer() {
  static std::unique_ptr<Tokenizer> tokenizer =
      Tokenizer::fromHuggingFaceJSON(LLAMAC_TOKENIZER_JSON);
  return *tokenizer;
}

TEST(ChatFormatTest, TwoTurnConversationTokenIds) {
  const Tokenizer *tokenizer = &realTokenizer();
  VocabLookup vocab;
  ChatFormat format(ChatFormat::parseDate("2024-07-26"));
  std::vector<ChatMessage> messages = {{"user", " Hi "},
                                       {"assistant", "Hello"},
                                       {"user", "How are you?\n"}};

  // The system block with an empty system message and this date, and a
  // user turn, are golden cases; the rest is header + content + <|eot_id|>.
  std::vector<int32_t> expected = goldenIds(
      "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n"
      "Cutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n"
      "<|eot_id|>");
  std::vector<int32_t> userHi =
      goldenIds("<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>");
  expected.insert(expected.end(), userHi.begin(), userHi.end());
  const int32_t start = 128006, end = 128007, eot = 128009;
  const int32_t blankLines = vocab("ĊĊ");
  for (int32_t id : {start, vocab("assistant"), end, blankLines,
                     vocab("Hello"), eot, start, vocab("user"), end,
                     blankLines, vocab("How"), vocab("Ġare"), vocab("Ġyou"),
                     vocab("?"), eot, start, vocab("assistant"), end,
                     blankLines})
    expected.push_back(id);
  EXPECT_EQ(tokenizer->encode(format.render(messages)), expected);

  // What a multi-turn session feeds turn by turn adds up to the same ids.
  std::vector<int32_t> incremental =
      tokenizer->encode(format.render({messages[0]}));
  for (int32_t id : {vocab("Hello"), eot})
    incremental.push_back(id);
  std::vector<int32_t> next = tokenizer->encode(format.renderTurn(messages[2]));
  incremental.insert(incremental.end(), next.begin(), next.end());
  EXPECT_EQ(incremental, expected);
}

/// The chat template as the model's own Jinja template renders one user
/// turn on 26 Jul 2024, written out here.
std::string chatTemplate(const std::string &system, const std::string &user) {
  return "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n"
         "Cutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n" +
         system + "<|eot_id|><|start_header_id|>user<|end_header_id|>\n\n" +
         user + "<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n";
}

TEST(PromptTest, RawCompletionsBeginWithOneBOS) {
  const Tokenizer &tokenizer = realTokenizer();
  const int32_t bos = *tokenizer.specialTokenId("<|begin_of_text|>");
  PromptOptions raw;
  raw.bosTokenId = bos;
  std::vector<int32_t> expected = {bos};
  for (int32_t id : tokenizer.encode("Once upon a time"))
    expected.push_back(id);
  EXPECT_EQ(encodePrompt(tokenizer, raw, "Once upon a time"), expected);
  // A text that spells its own BOS does not get a second one.
  EXPECT_EQ(encodePrompt(tokenizer, raw, "<|begin_of_text|>Once upon a time"),
            expected);
  EXPECT_EQ(encodePrompt(tokenizer, raw, ""), std::vector<int32_t>{bos});
  // A model without BOS: the text alone; nothing at all is an error.
  PromptOptions noBOS;
  EXPECT_EQ(encodePrompt(tokenizer, noBOS, "Once upon a time"),
            tokenizer.encode("Once upon a time"));
  try {
    encodePrompt(tokenizer, noBOS, "");
    ADD_FAILURE() << "no error";
  } catch (const Error &error) {
    EXPECT_EQ(std::string(error.what()), "the prompt is empty");
  }
}

TEST(PromptTest, ChatTurnsAreTheTemplate) {
  const Tokenizer &tokenizer = realTokenizer();
  PromptOptions chat;
  chat.chat = true;
  chat.system = " Be brief.\n";
  chat.today = ChatFormat::parseDate("2024-07-26");
  chat.bosTokenId = *tokenizer.specialTokenId("<|begin_of_text|>");
  // The first turn: the whole template, contents trimmed, one BOS (the
  // template's own).
  EXPECT_EQ(encodePrompt(tokenizer, chat, "  Hi there\n"),
            tokenizer.encode(chatTemplate("Be brief.", "Hi there")));
  // Later turns: only the user's turn and the assistant header.
  EXPECT_EQ(encodePrompt(tokenizer, chat, "And again?", /*continuing=*/true),
            tokenizer.encode("<|start_header_id|>user<|end_header_id|>\n\n"
                             "And again?<|eot_id|><|start_header_id|>"
                             "assistant<|end_header_id|>\n\n"));
  // Without a system message the system block is there, empty.
  chat.system.clear();
  EXPECT_EQ(encodePrompt(tokenizer, chat, "Hi there"),
            tokenizer.encode(chatTemplate("", "Hi there")));
  // A raw prompt's --system is not a chat's.
  PromptOptions raw = chat;
  raw.chat = false;
  raw.system = "Be brief.";
  std::vector<int32_t> ids = encodePrompt(tokenizer, raw, "Hi there");
  EXPECT_EQ(ids.size(), tokenizer.encode("Hi there").size() + 1);
}

} // namespace
