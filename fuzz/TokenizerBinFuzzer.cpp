//===- TokenizerBinFuzzer.cpp - Fuzz the compiled tokenizer reader --------===//
//
// Any bytes as `tokenizer.bin`: the loader either refuses them with an error
// naming the file, or gives a tokenizer that encodes and decodes the probe
// texts without reading out of bounds, with ids in range, and streams valid
// UTF-8. (A crafted image may tokenize wrongly — its merges need not spell
// their results — but never unsafely.) The fuzz build skips the checksum
// (FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION), so mutations reach the bounds
// checks that keep a crafted file with a valid checksum safe.
//
// Seeds are compiled tokenizers; with LLAMAC_FUZZ_MAKE_SEEDS=OUT_DIR and
// tokenizer.json paths as arguments, the binary compiles each into OUT_DIR
// and exits (scripts/fuzz.sh does this with the tokenizer-json seeds).
//
//===----------------------------------------------------------------------===//
#include "FuzzUtil.h"

#include "llamac/Tokenizer/Tokenizer.h"

#include <cstdio>
#include <cstdlib>
#include <string>

namespace fuzz = llamac::fuzz;
using llamac::tokenizer::StreamDecoder;
using llamac::tokenizer::Tokenizer;

namespace {
const char *const kProbes[] = {
    "Hello world", "  two  spaces\n\nI'm you'RE 12345 x", "<|end|>x<|eot_id|>",
    "\xff\xfe\x80 caf\xc3\xa9 \xe4\xb8\xad\xf0\x9f\x98\x80", "",
};
} // namespace

extern "C" int LLVMFuzzerInitialize(int *argc, char ***argv) {
  const char *seedDir = std::getenv("LLAMAC_FUZZ_MAKE_SEEDS");
  if (!seedDir)
    return 0;
  for (int i = 1; i < *argc; ++i) {
    std::string json = (*argv)[i];
    std::string name = json.substr(json.find_last_of('/') + 1);
    Tokenizer::fromHuggingFaceJSON(json)->save(std::string(seedDir) + "/" +
                                               name + ".bin");
  }
  std::exit(0);
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string path = fuzz::writeInput(data, size, ".bin");
  std::unique_ptr<Tokenizer> tokenizer;
  try {
    tokenizer = Tokenizer::load(path);
  } catch (const llamac::artifact::Error &error) {
    fuzz::require(std::string(error.what()).rfind(path, 0) == 0,
                  "every error names the file");
    return 0;
  }
  for (const char *probe : kProbes) {
    std::vector<int32_t> ids = tokenizer->encode(probe);
    for (int32_t id : ids)
      fuzz::require(id >= 0 && id < tokenizer->vocabSize(), "ids in range");
    (void)tokenizer->decode(ids);
    StreamDecoder stream(*tokenizer);
    for (int32_t id : ids)
      fuzz::require(fuzz::isValidUTF8(stream.push(id)),
                    "streamed text is UTF-8");
  }
  return 0;
}
