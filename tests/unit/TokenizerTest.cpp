//===- TokenizerTest.cpp - The Llama 3 tokenizer --------------------------===//
//
// The golden cases through both the tokenizer.json reader and the compiled
// form, streaming decode across split characters, malformed tokenizer.json
// sections and corrupt compiled files, and a small benchmark whose figures
// are printed, not checked.
//
// LLAMAC_TOKENIZER_JSON is the real Llama 3 tokenizer.json
// (scripts/install-tokenizer.sh), LLAMAC_GOLDEN_DIR the shared golden data.
//
//===----------------------------------------------------------------------===//
#include "llamac/Tokenizer/Tokenizer.h"

#include <nlohmann/json.hpp>

#include <gtest/gtest.h>

#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <sstream>

#ifndef LLAMAC_TOKENIZER_JSON
#error "LLAMAC_TOKENIZER_JSON must name the Llama 3 tokenizer.json"
#endif
#ifndef LLAMAC_GOLDEN_DIR
#error "LLAMAC_GOLDEN_DIR must name the golden data directory"
#endif

using namespace llamac::tokenizer;
using json = nlohmann::json;
namespace fs = std::filesystem;

namespace {

struct Case {
  std::string text;
  std::vector<int32_t> ids;
};

std::string readFile(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

void writeFile(const std::string &path, std::string_view data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
}

std::vector<Case> readCases() {
  std::string path =
      std::string(LLAMAC_GOLDEN_DIR) + "/tokenizer/llama3-cases.jsonl";
  std::ifstream in(path);
  EXPECT_TRUE(in) << path;
  std::vector<Case> cases;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty())
      continue;
    json object = json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (object.is_discarded()) {
      ADD_FAILURE() << path << ": not JSON: " << line;
      continue;
    }
    Case c;
    c.text = object["text"].get<std::string>();
    for (const json &id : object["ids"])
      c.ids.push_back(id.get<int32_t>());
    cases.push_back(std::move(c));
  }
  return cases;
}

/// Whether `text` is well-formed UTF-8 (Unicode Table 3-7), written
/// independently of the decoder under test.
bool isValidUTF8(std::string_view text) {
  auto *p = reinterpret_cast<const unsigned char *>(text.data());
  size_t n = text.size();
  for (size_t i = 0; i < n;) {
    unsigned c = p[i];
    uint32_t cp;
    size_t len;
    if (c < 0x80) {
      ++i;
      continue;
    }
    if ((c & 0xe0) == 0xc0)
      len = 2, cp = c & 0x1f;
    else if ((c & 0xf0) == 0xe0)
      len = 3, cp = c & 0x0f;
    else if ((c & 0xf8) == 0xf0)
      len = 4, cp = c & 0x07;
    else
      return false;
    if (i + len > n)
      return false;
    for (size_t k = 1; k < len; ++k) {
      if ((p[i + k] & 0xc0) != 0x80)
        return false;
      cp = (cp << 6) | (p[i + k] & 0x3f);
    }
    static const uint32_t minimum[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < minimum[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
      return false;
    i += len;
  }
  return true;
}

/// A temporary directory removed at the end of the test program.
const std::string &tempDir() {
  static std::string dir = [] {
    std::string pattern =
        (fs::temp_directory_path() / "llamac-tokenizer-XXXXXX").string();
    if (!::mkdtemp(pattern.data()))
      std::abort();
    return pattern;
  }();
  static struct Remover {
    ~Remover() {
      std::error_code ignored;
      fs::remove_all(dir, ignored);
    }
  } remover;
  return dir;
}

/// The real tokenizer from JSON and from its compiled form, loaded once.
struct Loaded {
  std::unique_ptr<Tokenizer> json, compiled;
  std::string compiledPath;
  double jsonSeconds = 0, compiledSeconds = 0;
};

double secondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
      .count();
}

const Loaded &loaded() {
  static Loaded tokenizers = [] {
    Loaded l;
    auto start = std::chrono::steady_clock::now();
    try {
      l.json = Tokenizer::fromHuggingFaceJSON(LLAMAC_TOKENIZER_JSON);
    } catch (const Error &error) {
      throw Error(std::string(error.what()) +
                  " (install it with scripts/install-tokenizer.sh)");
    }
    l.jsonSeconds = secondsSince(start);
    l.compiledPath = tempDir() + "/tokenizer.bin";
    l.json->save(l.compiledPath);
    start = std::chrono::steady_clock::now();
    l.compiled = Tokenizer::load(l.compiledPath);
    l.compiledSeconds = secondsSince(start);
    return l;
  }();
  return tokenizers;
}

std::string join(const std::vector<int32_t> &ids) {
  std::string out;
  for (int32_t id : ids)
    out += (out.empty() ? "" : ",") + std::to_string(id);
  return out;
}

/// `text` as a JSON string, for messages.
std::string quoted(const std::string &text) {
  return json(text).dump(-1, ' ', false, json::error_handler_t::replace);
}

void checkGolden(const Tokenizer &tokenizer) {
  std::vector<Case> cases = readCases();
  ASSERT_GE(cases.size(), 100u);
  int failures = 0;
  for (const Case &c : cases) {
    std::vector<int32_t> ids = tokenizer.encode(c.text);
    if (ids != c.ids && ++failures <= 10)
      ADD_FAILURE() << "encode(" << quoted(c.text) << ")\n  got  " << join(ids)
                    << "\n  want " << join(c.ids);
    EXPECT_EQ(tokenizer.decode(c.ids), c.text);
  }
  EXPECT_EQ(failures, 0) << "of " << cases.size() << " cases";
}

TEST(TokenizerGolden, FromJSON) { checkGolden(*loaded().json); }
TEST(TokenizerGolden, Compiled) { checkGolden(*loaded().compiled); }

TEST(Tokenizer, Vocabulary) {
  const Tokenizer &t = *loaded().compiled;
  EXPECT_EQ(t.vocabSize(), 128256);
  EXPECT_EQ(t.specialTokenId("<|begin_of_text|>"), 128000);
  EXPECT_EQ(t.specialTokenId("<|eot_id|>"), 128009);
  EXPECT_EQ(t.specialTokenId("<|reserved_special_token_250|>"), 128255);
  EXPECT_EQ(t.specialTokenId("<|eot_id"), std::nullopt);
  EXPECT_EQ(t.specialTokenId("Hello"), std::nullopt);
  EXPECT_TRUE(t.isSpecial(128000));
  EXPECT_FALSE(t.isSpecial(9906));
  EXPECT_FALSE(t.isSpecial(-1));
  EXPECT_EQ(t.tokenBytes(9906), "Hello");
  EXPECT_EQ(t.tokenBytes(128009), "<|eot_id|>");
  EXPECT_THROW(t.tokenBytes(-1), Error);
  EXPECT_THROW(t.tokenBytes(128256), Error);
  EXPECT_THROW(t.decode({9906, 128256}), Error);
  EXPECT_THROW(t.decode({-5}), Error);
}

TEST(Tokenizer, SpecialTokensInText) {
  const Tokenizer &t = *loaded().compiled;
  std::string text = "<|start_header_id|>user<|end_header_id|>\n\nHi"
                     "<|eot_id|><|eot_id|>x<|eot_id";
  std::vector<int32_t> ids = t.encode(text);
  ASSERT_GE(ids.size(), 6u);
  EXPECT_EQ(ids[0], 128006);
  EXPECT_EQ(ids[2], 128007);
  EXPECT_EQ(t.decode(ids), text);
  int eot = 0;
  for (int32_t id : ids)
    eot += id == 128009;
  EXPECT_EQ(eot, 2); // the unterminated third one is plain text
  // No BOS is ever added.
  EXPECT_EQ(t.encode("Hello"), std::vector<int32_t>{9906});
}

TEST(Tokenizer, AnyBytesRoundTrip) {
  const Loaded &l = loaded();
  std::mt19937 random(7);
  std::uniform_int_distribution<int> byte(0, 255), length(0, 64);
  std::vector<std::string> texts = {
      "\xff",        "\xc3", "a\xe2\x82", "\xed\xa0\x80", "caf\xc3\xa9\xc3",
      "\xf0\x9f\x98"};
  for (int i = 0; i < 300; ++i) {
    std::string text;
    for (int n = length(random); n > 0; --n)
      text += static_cast<char>(byte(random));
    texts.push_back(text);
  }
  for (const std::string &text : texts) {
    std::vector<int32_t> ids = l.json->encode(text);
    EXPECT_EQ(l.json->decode(ids), text);
    EXPECT_EQ(l.compiled->encode(text), ids);
  }
}

TEST(Tokenizer, LongInputs) {
  const Tokenizer &t = *loaded().compiled;
  // One long pre-token each (whitespace, letters, symbols, digits): BPE over
  // many symbols must stay fast and exact.
  for (std::string text : {std::string(100000, ' '), std::string(50000, 'a'),
                           std::string(30000, '!'), std::string(3000, '7'),
                           std::string(20000, '\n') + "x"}) {
    std::vector<int32_t> ids = t.encode(text);
    EXPECT_EQ(t.decode(ids), text);
  }
}

//===----------------------------------------------------------------------===//
// Streaming decode
//===----------------------------------------------------------------------===//

const char *const multiByteTexts[] = {
    "日本語のテキストを分割します。東京都",
    "中文分词测试：你好，世界！龘靐齉",
    "한국어 텍스트 😀😃😄 🇫🇷🇯🇵",
    "👩‍👩‍👧‍👦 🧑🏽‍🚀 👍🏿",
    "e\xcc\x81 n\xcc\x83 a\xcc\x8a\xcc\x81 Z\xcd\x91\xcd\x97\xcc\x80\xcd\x9b",
    "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𐍈𐌰𐌹 𓀀𓀁 ꙮ",
    "mixed: Größe café naïve — “quotes” … ✓ ✗ ∑∫ 😀 end",
};

TEST(StreamDecoder, SplitCharactersComeOutWhole) {
  const Tokenizer &t = *loaded().compiled;
  int splitTokens = 0;
  for (const char *text : multiByteTexts) {
    std::vector<int32_t> ids = t.encode(text);
    StreamDecoder stream(t);
    std::string out;
    for (int32_t id : ids) {
      splitTokens += !isValidUTF8(t.tokenBytes(id));
      std::string piece = stream.push(id);
      EXPECT_TRUE(isValidUTF8(piece)) << text;
      out += piece;
    }
    std::string rest = stream.flush();
    EXPECT_TRUE(isValidUTF8(rest));
    out += rest;
    EXPECT_EQ(out, t.decode(ids));
    EXPECT_EQ(out, text);
  }
  // The texts are only a test if some tokens do end inside a character.
  EXPECT_GT(splitTokens, 10);
}

TEST(StreamDecoder, InvalidBytesBecomeReplacementCharacters) {
  const Tokenizer &t = *loaded().compiled;
  auto byteToken = [&](unsigned char byte) {
    std::vector<int32_t> ids =
        t.encode(std::string(1, static_cast<char>(byte)));
    EXPECT_EQ(ids.size(), 1u);
    return ids[0];
  };
  const std::string fffd = "\xef\xbf\xbd";
  StreamDecoder stream(t);
  EXPECT_EQ(stream.push(byteToken(0xe2)), "");
  EXPECT_EQ(stream.push(byteToken(0x82)), "");
  EXPECT_EQ(stream.push(byteToken(0xac)), "€");
  // E2 82 then 'A': one U+FFFD for the maximal subpart, then A.
  stream.push(byteToken(0xe2));
  stream.push(byteToken(0x82));
  EXPECT_EQ(stream.push(byteToken('A')), fffd + "A");
  EXPECT_EQ(stream.push(byteToken(0xff)), fffd);
  EXPECT_EQ(stream.push(byteToken(0xc0)), fffd); // never valid
  EXPECT_EQ(stream.push(byteToken(0xed)), "");
  EXPECT_EQ(stream.push(byteToken(0xa0)), fffd + fffd); // a surrogate
  EXPECT_EQ(stream.push(byteToken(0xf0)), "");
  EXPECT_EQ(stream.push(byteToken(0x9f)), "");
  EXPECT_EQ(stream.flush(), fffd); // incomplete at the end
  EXPECT_EQ(stream.flush(), "");
  EXPECT_EQ(stream.push(byteToken(0xc3)), "");
  EXPECT_EQ(stream.push(128009), fffd + "<|eot_id|>");
  EXPECT_THROW(stream.push(-1), Error);
}

TEST(StreamDecoder, RandomIdsAlwaysGiveValidUTF8) {
  const Tokenizer &t = *loaded().compiled;
  std::mt19937 random(11);
  // Mostly byte tokens and short tokens, where the odd bytes are.
  std::uniform_int_distribution<int32_t> any(0, t.vocabSize() - 1),
      low(0, 1000);
  for (int round = 0; round < 200; ++round) {
    StreamDecoder stream(t);
    std::string out;
    std::vector<int32_t> ids;
    for (int i = 0; i < 50; ++i) {
      ids.push_back(i % 3 ? low(random) : any(random));
      std::string piece = stream.push(ids.back());
      ASSERT_TRUE(isValidUTF8(piece));
      out += piece;
    }
    out += stream.flush();
    ASSERT_TRUE(isValidUTF8(out));
    if (isValidUTF8(t.decode(ids))) {
      EXPECT_EQ(out, t.decode(ids));
    }
  }
}

//===----------------------------------------------------------------------===//
// Malformed tokenizer.json
//===----------------------------------------------------------------------===//

/// GPT-2's byte-level spelling of a byte (independent of the runtime's).
std::string byteLevelChar(int byte) {
  int shifted = 0, cp = -1;
  for (int b = 0; b <= byte; ++b) {
    bool printable = (b >= '!' && b <= '~') || (b >= 0xa1 && b <= 0xac) ||
                     (b >= 0xae && b <= 0xff);
    cp = printable ? b : 256 + shifted++;
  }
  std::string out;
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else {
    out += static_cast<char>(0xc0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  }
  return out;
}

/// A small valid tokenizer.json in the Llama 3 shape: the 256 byte tokens,
/// "he", "ll", "hell", "Ġw" and one special token.
json miniTokenizer() {
  json vocab = json::object();
  for (int byte = 0; byte < 256; ++byte)
    vocab[byteLevelChar(byte)] = byte;
  vocab["he"] = 256;
  vocab["ll"] = 257;
  vocab["hell"] = 258;
  vocab["Ġw"] = 259;
  vocab["xy"] = 261; // no merge makes it: only ignore_merges does
  return json{
      {"version", "1.0"},
      {"truncation", nullptr},
      {"padding", nullptr},
      {"added_tokens", json::array({json{{"id", 260},
                                         {"content", "<|end|>"},
                                         {"single_word", false},
                                         {"lstrip", false},
                                         {"rstrip", false},
                                         {"normalized", false},
                                         {"special", true}}})},
      {"normalizer", nullptr},
      {"pre_tokenizer",
       json{{"type", "Sequence"},
            {"pretokenizers",
             json::array(
                 {json{{"type", "Split"},
                       {"pattern",
                        json{{"Regex",
                              "(?i:'s|'t|'re|'ve|'m|'ll|'d)|"
                              "[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}|"
                              " ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|"
                              "\\s+(?!\\S)|\\s+"}}},
                       {"behavior", "Isolated"},
                       {"invert", false}},
                  json{{"type", "ByteLevel"},
                       {"add_prefix_space", false},
                       {"trim_offsets", true},
                       {"use_regex", false}}})}}},
      {"post_processor", json{{"type", "ByteLevel"}}},
      {"decoder", json{{"type", "ByteLevel"}}},
      {"model", json{{"type", "BPE"},
                     {"dropout", nullptr},
                     {"unk_token", nullptr},
                     {"byte_fallback", false},
                     {"ignore_merges", true},
                     {"vocab", std::move(vocab)},
                     {"merges", json::array({"h e", "l l", "he ll",
                                             json::array({"Ġ", "w"})})}}},
  };
}

std::string writeJSON(const std::string &name, const json &value) {
  std::string path = tempDir() + "/" + name + ".json";
  writeFile(path, value.dump());
  return path;
}

TEST(TokenizerJSON, MiniTokenizerWorks) {
  auto t = Tokenizer::fromHuggingFaceJSON(writeJSON("mini", miniTokenizer()));
  EXPECT_EQ(t->vocabSize(), 262);
  EXPECT_EQ(t->encode("xy"), std::vector<int32_t>{261});
  EXPECT_EQ(t->encode("hello<|end|> w"),
            (std::vector<int32_t>{258, 'o', 260, 259}));
  EXPECT_EQ(t->decode({258, 'o', 260, 259}), "hello<|end|> w");
  std::string path = tempDir() + "/mini.bin";
  t->save(path);
  EXPECT_EQ(Tokenizer::load(path)->encode("hello hell"),
            (std::vector<int32_t>{258, 'o', ' ', 258}));

  json plain = miniTokenizer();
  plain["model"]["ignore_merges"] = false;
  t = Tokenizer::fromHuggingFaceJSON(writeJSON("plain", std::move(plain)));
  EXPECT_EQ(t->encode("xy"), (std::vector<int32_t>{'x', 'y'}));
  t->save(path);
  EXPECT_EQ(Tokenizer::load(path)->encode("xy"),
            (std::vector<int32_t>{'x', 'y'}));
}

struct Malformed {
  const char *name;
  std::function<void(json &)> edit;
  const char *section; // the error must name it
};

TEST(TokenizerJSON, MalformedSectionsAreClearErrors) {
  const Malformed variants[] = {
      {"no-model", [](json &o) { o.erase("model"); }, "model"},
      {"model-not-object", [](json &o) { o["model"] = 3; }, "model"},
      {"model-wordpiece", [](json &o) { o["model"]["type"] = "WordPiece"; },
       "model"},
      {"model-no-type", [](json &o) { o["model"].erase("type"); }, "model"},
      {"model-dropout", [](json &o) { o["model"]["dropout"] = 0.1; }, "model"},
      {"model-byte-fallback",
       [](json &o) { o["model"]["byte_fallback"] = true; }, "model"},
      {"no-vocab", [](json &o) { o["model"].erase("vocab"); }, "model.vocab"},
      {"vocab-array", [](json &o) { o["model"]["vocab"] = json::array(); },
       "model.vocab"},
      {"vocab-string-id", [](json &o) { o["model"]["vocab"]["he"] = "256"; },
       "model.vocab"},
      {"vocab-negative-id", [](json &o) { o["model"]["vocab"]["he"] = -1; },
       "model.vocab"},
      {"vocab-huge-id",
       [](json &o) { o["model"]["vocab"]["he"] = int64_t(1) << 40; },
       "model.vocab"},
      {"vocab-duplicate-id", [](json &o) { o["model"]["vocab"]["ll"] = 256; },
       "model.vocab"},
      {"vocab-not-byte-level",
       [](json &o) { o["model"]["vocab"]["a b"] = 261; }, "model.vocab"},
      {"vocab-missing-byte", [](json &o) { o["model"]["vocab"].erase("A"); },
       "model.vocab"},
      {"vocab-id-beyond-count",
       [](json &o) { o["model"]["vocab"]["xyz"] = 300; }, "model.vocab"},
      {"vocab-gap",
       [](json &o) {
         o["model"]["vocab"].erase("hell");
         o["model"]["merges"] = json::array({"h e", "l l"});
       },
       "model.vocab"},
      {"no-merges", [](json &o) { o["model"].erase("merges"); },
       "model.merges"},
      {"merge-unknown-left",
       [](json &o) { o["model"]["merges"].push_back("zz e"); },
       "model.merges[4]"},
      {"merge-unknown-result",
       [](json &o) { o["model"]["merges"].push_back("w w"); },
       "model.merges[4]"},
      {"merge-one-token", [](json &o) { o["model"]["merges"].push_back("he"); },
       "model.merges[4]"},
      {"merge-number", [](json &o) { o["model"]["merges"][0] = 5; },
       "model.merges[0]"},
      {"merge-triple",
       [](json &o) {
         o["model"]["merges"][1] = json::array({"l", "l", "l"});
       },
       "model.merges[1]"},
      {"normalizer-nfc",
       [](json &o) {
         o["normalizer"] = json{{"type", "NFC"}};
       },
       "normalizer"},
      {"normalizer-string", [](json &o) { o["normalizer"] = "NFC"; },
       "normalizer"},
      {"no-pre-tokenizer", [](json &o) { o.erase("pre_tokenizer"); },
       "pre_tokenizer"},
      {"pre-tokenizer-gpt2",
       [](json &o) {
         o["pre_tokenizer"] = json{{"type", "ByteLevel"},
                                   {"add_prefix_space", false},
                                   {"use_regex", true}};
       },
       "pre_tokenizer"},
      {"pre-tokenizer-other-regex",
       [](json &o) {
         o["pre_tokenizer"]["pretokenizers"][0]["pattern"] =
             json{{"Regex", "\\s+"}};
       },
       "pre_tokenizer"},
      {"pre-tokenizer-prefix-space",
       [](json &o) {
         o["pre_tokenizer"]["pretokenizers"][1]["add_prefix_space"] = true;
       },
       "pre_tokenizer"},
      {"pre-tokenizer-one-step",
       [](json &o) { o["pre_tokenizer"]["pretokenizers"].erase(1); },
       "pre_tokenizer"},
      {"pre-tokenizer-steps-not-objects",
       [](json &o) {
         o["pre_tokenizer"]["pretokenizers"] = json::array({1, 2});
       },
       "pre_tokenizer"},
      {"no-decoder", [](json &o) { o.erase("decoder"); }, "decoder"},
      {"decoder-wordpiece",
       [](json &o) {
         o["decoder"] = json{{"type", "WordPiece"}};
       },
       "decoder"},
      {"post-processor-number", [](json &o) { o["post_processor"] = 1; },
       "post_processor"},
      {"added-not-array", [](json &o) { o["added_tokens"] = json::object(); },
       "added_tokens"},
      {"added-not-object", [](json &o) { o["added_tokens"].push_back("x"); },
       "added_tokens[1]"},
      {"added-no-id", [](json &o) { o["added_tokens"][0].erase("id"); },
       "added_tokens[0]"},
      {"added-empty-content",
       [](json &o) { o["added_tokens"][0]["content"] = ""; },
       "added_tokens[0]"},
      {"added-collides", [](json &o) { o["added_tokens"][0]["id"] = 256; },
       "added_tokens[0]"},
      {"added-lstrip", [](json &o) { o["added_tokens"][0]["lstrip"] = true; },
       "added_tokens[0]"},
      {"added-special-string",
       [](json &o) { o["added_tokens"][0]["special"] = "yes"; },
       "added_tokens[0]"},
      {"added-twice",
       [](json &o) {
         o["added_tokens"].push_back(json{{"id", 261}, {"content", "<|end|>"}});
       },
       "added_tokens[1]"},
  };
  for (const Malformed &variant : variants) {
    json tokenizerJSON = miniTokenizer();
    variant.edit(tokenizerJSON);
    std::string path = writeJSON(variant.name, tokenizerJSON);
    try {
      Tokenizer::fromHuggingFaceJSON(path);
      ADD_FAILURE() << variant.name << ": no error";
    } catch (const Error &error) {
      std::string message = error.what();
      EXPECT_NE(message.find(path + ": " + variant.section), std::string::npos)
          << variant.name << ": " << message;
    }
  }
}

TEST(TokenizerJSON, NotJSONAtAll) {
  std::string truncated = tempDir() + "/truncated.json";
  std::string real = readFile(LLAMAC_TOKENIZER_JSON);
  writeFile(truncated, std::string_view(real).substr(0, real.size() / 2));
  try {
    Tokenizer::fromHuggingFaceJSON(truncated);
    ADD_FAILURE() << "no error";
  } catch (const Error &error) {
    EXPECT_NE(std::string(error.what()).find("invalid JSON"), std::string::npos)
        << error.what();
  }
  writeFile(truncated, "[1, 2]");
  EXPECT_THROW(Tokenizer::fromHuggingFaceJSON(truncated), Error);
  writeFile(truncated, "");
  EXPECT_THROW(Tokenizer::fromHuggingFaceJSON(truncated), Error);
  EXPECT_THROW(Tokenizer::fromHuggingFaceJSON(tempDir() + "/missing.json"),
               Error);
}

//===----------------------------------------------------------------------===//
// Corrupt compiled files
//===----------------------------------------------------------------------===//

void expectLoadError(const std::string &path, const std::string &what,
                     const std::string &label) {
  try {
    Tokenizer::load(path);
    ADD_FAILURE() << label << ": no error";
  } catch (const Error &error) {
    std::string message = error.what();
    EXPECT_NE(message.find(path), std::string::npos)
        << label << ": " << message;
    EXPECT_NE(message.find(what), std::string::npos)
        << label << ": " << message;
  }
}

TEST(TokenizerCompiled, CorruptFilesAreClearErrors) {
  // The mini tokenizer's image is small enough to damage at every byte.
  std::string good = tempDir() + "/mini-good.bin";
  Tokenizer::fromHuggingFaceJSON(writeJSON("mini-c", miniTokenizer()))
      ->save(good);
  std::string image = readFile(good);
  ASSERT_GT(image.size(), 64u);
  std::string bad = tempDir() + "/bad.bin";

  writeFile(bad, "");
  expectLoadError(bad, "not a compiled llamac tokenizer", "empty");
  writeFile(bad, std::string_view(image).substr(0, 10));
  expectLoadError(bad, "not a compiled llamac tokenizer", "10 bytes");
  for (size_t size : {size_t(64), image.size() / 2, image.size() - 1}) {
    writeFile(bad, std::string_view(image).substr(0, size));
    expectLoadError(bad, "truncated", "truncated to " + std::to_string(size));
  }
  writeFile(bad, image + std::string(8, '\0'));
  expectLoadError(bad, "bytes", "padded");
  std::string damaged = image;
  damaged[0] = 'X';
  writeFile(bad, damaged);
  expectLoadError(bad, "bad magic", "magic");
  damaged = image;
  damaged[8] = 2; // version
  writeFile(bad, damaged);
  expectLoadError(bad, "version 2", "version");

  // Every single-byte change anywhere is caught.
  for (size_t at = 0; at < image.size(); ++at) {
    damaged = image;
    damaged[at] = static_cast<char>(damaged[at] ^ 0x5a);
    writeFile(bad, damaged);
    expectLoadError(bad, "", "byte " + std::to_string(at));
  }

  expectLoadError(tempDir() + "/no-such.bin", "No such file", "missing");
  expectLoadError(tempDir(), "", "directory");
  // A JSON file is not a compiled tokenizer.
  expectLoadError(writeJSON("not-bin", miniTokenizer()), "bad magic", "json");
}

TEST(TokenizerCompiled, RealImageDamage) {
  const Loaded &l = loaded();
  std::string image = readFile(l.compiledPath);
  std::string bad = tempDir() + "/bad-real.bin";
  writeFile(bad, std::string_view(image).substr(0, image.size() / 3));
  expectLoadError(bad, "truncated", "truncated");
  std::mt19937 random(3);
  for (int i = 0; i < 5; ++i) {
    std::string damaged = image;
    size_t at =
        std::uniform_int_distribution<size_t>(64, image.size() - 1)(random);
    damaged[at] = static_cast<char>(damaged[at] ^ 1);
    writeFile(bad, damaged);
    expectLoadError(bad, "checksum", "bit flip at " + std::to_string(at));
  }
  EXPECT_THROW(l.json->save(tempDir() + "/no-dir/tokenizer.bin"), Error);
}

TEST(TokenizerCompiled, SameAsJSON) {
  const Loaded &l = loaded();
  EXPECT_EQ(readFile(l.compiledPath).size() % 8, 0u);
  EXPECT_EQ(l.compiled->vocabSize(), l.json->vocabSize());
  for (int32_t id = 0; id < l.json->vocabSize(); ++id)
    ASSERT_EQ(l.compiled->tokenBytes(id), l.json->tokenBytes(id)) << id;
  // Saving again gives the same bytes (the format is deterministic).
  std::string again = tempDir() + "/again.bin";
  l.compiled->save(again);
  EXPECT_EQ(readFile(again), readFile(l.compiledPath));
}

//===----------------------------------------------------------------------===//
// The vocabulary a GGUF file carries
//===----------------------------------------------------------------------===//

/// tokenizer.json's vocabulary as llama.cpp's converter puts it into
/// tokenizer.ggml.*: by id the byte-level spelling (type 1, normal) or the
/// added token's text (3 control if special, else 4 user-defined), merges
/// as "left right".
Tokenizer::GGUFVocabulary ggufVocabularyOf(const std::string &path) {
  json root = json::parse(readFile(path));
  Tokenizer::GGUFVocabulary vocabulary;
  size_t size = root["model"]["vocab"].size() + root["added_tokens"].size();
  vocabulary.tokens.resize(size);
  vocabulary.types.resize(size, 5);
  for (const auto &[spelling, id] : root["model"]["vocab"].items()) {
    vocabulary.tokens[id.get<size_t>()] = spelling;
    vocabulary.types[id.get<size_t>()] = 1;
  }
  for (const json &added : root["added_tokens"]) {
    size_t id = added["id"].get<size_t>();
    vocabulary.tokens[id] = added["content"].get<std::string>();
    vocabulary.types[id] = added["special"].get<bool>() ? 3 : 4;
  }
  for (const json &merge : root["model"]["merges"])
    vocabulary.merges.push_back(
        merge.is_string() ? merge.get<std::string>()
                          : merge[0].get<std::string>() + " " +
                                merge[1].get<std::string>());
  return vocabulary;
}

TEST(TokenizerGGUF, SameAsJSON) {
  const Loaded &l = loaded();
  std::unique_ptr<Tokenizer> fromGGUF = Tokenizer::fromGGUFVocabulary(
      ggufVocabularyOf(LLAMAC_TOKENIZER_JSON), "model.gguf");
  checkGolden(*fromGGUF);
  // The compiled form is byte for byte the one tokenizer.json gives.
  std::string path = tempDir() + "/gguf.bin";
  fromGGUF->save(path);
  EXPECT_EQ(readFile(path), readFile(l.compiledPath));
}

TEST(TokenizerGGUF, BrokenVocabulariesAreClearErrors) {
  const Tokenizer::GGUFVocabulary real =
      ggufVocabularyOf(LLAMAC_TOKENIZER_JSON);
  struct Case {
    const char *name;
    std::function<void(Tokenizer::GGUFVocabulary &)> breakIt;
    std::string expected;
  } cases[] = {
      {"no tokens", [](auto &v) { v = {}; }, "tokenizer.ggml.tokens is empty"},
      {"types of another length", [](auto &v) { v.types.pop_back(); },
       "token_type has 128255 entries for 128256 tokens"},
      {"an unknown type", [](auto &v) { v.types[9906] = 2; },
       "tokenizer.ggml.tokens[9906] \"Hello\" has token type 2"},
      {"a spelling outside the byte-level alphabet",
       [](auto &v) { v.tokens[9906] = "Hel lo"; },
       "outside the byte-level alphabet"},
      {"an empty token", [](auto &v) { v.tokens[5] = ""; }, "is empty"},
      {"a spelling twice", [](auto &v) { v.tokens[9906] = v.tokens[9907]; },
       "is listed twice"},
      {"a byte without a token",
       [](auto &v) { v.types[32] = 4; }, "no token for byte 0x41"},
      {"a merge of unknown tokens",
       [](auto &v) { v.merges[0] = "Hello zzzzq"; },
       "merges[0]: token \"zzzzq\" is not a normal token"},
      {"a merge without a space", [](auto &v) { v.merges[3] = "Hello"; },
       "is not two tokens separated by a space"},
  };
  for (const Case &c : cases) {
    SCOPED_TRACE(c.name);
    Tokenizer::GGUFVocabulary broken = real;
    c.breakIt(broken);
    try {
      Tokenizer::fromGGUFVocabulary(broken, "model.gguf");
      ADD_FAILURE() << "expected an error";
    } catch (const Error &error) {
      std::string message = error.what();
      EXPECT_EQ(message.rfind("model.gguf: ", 0), 0u) << message;
      EXPECT_NE(message.find(c.expected), std::string::npos) << message;
    }
  }
}

//===----------------------------------------------------------------------===//
// Benchmark (figures printed, not checked)
//===----------------------------------------------------------------------===//

double encodeMBPerSecond(const Tokenizer &t, const std::string &text,
                         size_t *tokens) {
  auto start = std::chrono::steady_clock::now();
  *tokens = t.encode(text).size();
  return text.size() / 1e6 / secondsSince(start);
}

TEST(TokenizerBenchmark, EncodeAndLoad) {
  const Loaded &l = loaded();
  std::string mixed;
  std::vector<Case> cases = readCases();
  while (mixed.size() < 4'000'000)
    for (const Case &c : cases)
      mixed += c.text + "\n";
  // ASCII prose: the English-looking cases (letters, spaces, punctuation).
  std::string prose, sample;
  for (const Case &c : cases) {
    bool ascii = c.text.size() > 200;
    for (char ch : c.text)
      ascii = ascii && static_cast<unsigned char>(ch) < 0x80 && ch != '_' &&
              ch != '=' && ch != '(';
    if (ascii)
      sample += c.text + "\n";
  }
  if (sample.empty())
    sample = "The quick brown fox jumps over the lazy dog. ";
  while (prose.size() < 4'000'000)
    prose += sample;

  size_t tokens;
  double mixedRate = encodeMBPerSecond(*l.compiled, mixed, &tokens);
  std::printf("encode, golden texts (%.1f MB, %zu tokens): %.1f MB/s\n",
              mixed.size() / 1e6, tokens, mixedRate);
  double proseRate = encodeMBPerSecond(*l.compiled, prose, &tokens);
  std::printf("encode, ASCII prose (%.1f MB, %zu tokens): %.1f MB/s\n",
              prose.size() / 1e6, tokens, proseRate);

  double best = 1e9;
  for (int i = 0; i < 10; ++i) {
    auto start = std::chrono::steady_clock::now();
    auto t = Tokenizer::load(l.compiledPath);
    best = std::min(best, secondsSince(start));
  }
  std::printf("load: tokenizer.json %.1f ms, compiled %.2f ms first, "
              "%.2f ms best of 10 (%.1f MB)\n",
              l.jsonSeconds * 1e3, l.compiledSeconds * 1e3, best * 1e3,
              fs::file_size(l.compiledPath) / 1e6);
  RecordProperty("encode_mixed_MBps", std::to_string(mixedRate));
  RecordProperty("encode_prose_MBps", std::to_string(proseRate));
}

} // namespace
