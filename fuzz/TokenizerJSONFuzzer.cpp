//===- TokenizerJSONFuzzer.cpp - Fuzz the tokenizer.json loader -----------===//
//
// Any bytes as `tokenizer.json`: the loader either refuses them with an
// error naming the file, or gives a tokenizer for which decode(encode(s)) is
// s for every probe text, that saves and reloads (tokenizer.bin) with the
// same ids, and whose stream decoder only ever prints valid UTF-8.
//
//===----------------------------------------------------------------------===//
#include "FuzzUtil.h"

#include "llamac/Tokenizer/Tokenizer.h"

#include <unistd.h>

namespace fuzz = llamac::fuzz;
using llamac::tokenizer::StreamDecoder;
using llamac::tokenizer::Tokenizer;

namespace {
/// Texts that reach every branch of the pre-tokenizer and the special-token
/// matcher, and bytes that are not UTF-8.
const char *const kProbes[] = {
    "Hello world", "  two  spaces\n\nI'm you'RE 12345 x", "<|end|>x<|eot_id|>",
    "\xff\xfe\x80 caf\xc3\xa9 \xe4\xb8\xad\xf0\x9f\x98\x80", "",
};
} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string path = fuzz::writeInput(data, size, ".json");
  std::unique_ptr<Tokenizer> tokenizer;
  try {
    tokenizer = Tokenizer::fromHuggingFaceJSON(path);
  } catch (const llamac::artifact::Error &error) {
    fuzz::require(std::string(error.what()).rfind(path, 0) == 0,
                  "every error names the file");
    return 0;
  }
  fuzz::require(tokenizer->vocabSize() > 0, "a non-empty vocabulary");
  std::string compiledPath = path + ".bin";
  tokenizer->save(compiledPath);
  std::unique_ptr<Tokenizer> compiled = Tokenizer::load(compiledPath);
  ::unlink(compiledPath.c_str());
  fuzz::require(compiled->vocabSize() == tokenizer->vocabSize(),
                "the compiled form has the same vocabulary");
  for (const char *probe : kProbes) {
    std::vector<int32_t> ids = tokenizer->encode(probe);
    for (int32_t id : ids)
      fuzz::require(id >= 0 && id < tokenizer->vocabSize(), "ids in range");
    fuzz::require(tokenizer->decode(ids) == probe, "decode(encode(s)) == s");
    fuzz::require(compiled->encode(probe) == ids,
                  "the compiled form encodes alike");
    StreamDecoder stream(*tokenizer);
    std::string streamed;
    for (int32_t id : ids) {
      std::string piece = stream.push(id);
      fuzz::require(fuzz::isValidUTF8(piece), "streamed text is UTF-8");
      streamed += piece;
    }
    std::string rest = stream.flush();
    fuzz::require(fuzz::isValidUTF8(rest), "flushed text is UTF-8");
  }
  return 0;
}
