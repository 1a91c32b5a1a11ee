//===- TokenizerTextFuzzer.cpp - Fuzz encode and decode -------------------===//
//
// On the real Llama 3 tokenizer (loaded once): any bytes encode to ids in
// range that decode back to exactly those bytes, and the stream decoder
// prints valid UTF-8 that equals the input whenever the input is valid
// UTF-8. The same bytes read as token ids (some out of range) must decode or
// be refused with an error, never crash.
//
//===----------------------------------------------------------------------===//
#include "FuzzUtil.h"

#include "llamac/Tokenizer/Tokenizer.h"

#include <cstdlib>
#include <cstring>

namespace fuzz = llamac::fuzz;
using llamac::tokenizer::StreamDecoder;
using llamac::tokenizer::Tokenizer;

namespace {
const Tokenizer &tokenizer() {
  static std::unique_ptr<Tokenizer> loaded = [] {
    const char *path = std::getenv("LLAMAC_TOKENIZER_JSON");
    return Tokenizer::fromHuggingFaceJSON(path ? path : LLAMAC_TOKENIZER_JSON);
  }();
  return *loaded;
}

/// Streams `ids` and checks that every piece is valid UTF-8.
std::string streamText(const std::vector<int32_t> &ids) {
  StreamDecoder stream(tokenizer());
  std::string text;
  for (int32_t id : ids) {
    std::string piece = stream.push(id);
    fuzz::require(fuzz::isValidUTF8(piece), "streamed text is UTF-8");
    text += piece;
  }
  std::string rest = stream.flush();
  fuzz::require(fuzz::isValidUTF8(rest), "flushed text is UTF-8");
  return text + rest;
}
} // namespace

extern "C" int LLVMFuzzerInitialize(int *, char ***) {
  tokenizer(); // ~0.3 s once, not inside the first input's time
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string_view text(reinterpret_cast<const char *>(data), size);
  std::vector<int32_t> ids = tokenizer().encode(text);
  for (int32_t id : ids)
    fuzz::require(id >= 0 && id < tokenizer().vocabSize(), "ids in range");
  fuzz::require(tokenizer().decode(ids) == text, "decode(encode(s)) == s");
  std::string streamed = streamText(ids);
  if (fuzz::isValidUTF8(text))
    fuzz::require(streamed == text, "valid UTF-8 streams back unchanged");

  // The bytes as little-endian 32-bit ids, a few of them out of range.
  std::vector<int32_t> raw(size / 4);
  if (!raw.empty())
    std::memcpy(raw.data(), data, raw.size() * 4);
  for (int32_t &id : raw)
    id = int32_t(uint32_t(id) % uint32_t(tokenizer().vocabSize() + 16));
  try {
    std::string decoded = tokenizer().decode(raw);
    fuzz::require(streamText(raw).size() >= (decoded.empty() ? 0 : 1),
                  "streaming decodes what decode() accepts");
  } catch (const llamac::artifact::Error &) {
    // An id past the vocabulary: refused, as documented.
  }
  return 0;
}
