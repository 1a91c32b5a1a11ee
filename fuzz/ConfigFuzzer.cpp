//===- ConfigFuzzer.cpp - Fuzz the config.json reader ---------------------===//
//
// Any text: parseLlamaConfig either refuses it with an error that names the
// source, or returns a configuration whose documented invariants hold and
// that survives a round trip through toJSON().
//
//===----------------------------------------------------------------------===//
#include "FuzzUtil.h"

#include "llamac/Frontend/LlamaConfig.h"

using namespace llamac;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  llvm::StringRef text(reinterpret_cast<const char *>(data), size);
  llvm::Expected<LlamaConfig> config = parseLlamaConfig(text, "config.json");
  if (!config) {
    std::string message = llvm::toString(config.takeError());
    fuzz::require(message.rfind("config.json", 0) == 0,
                  "every error names the file");
    return 0;
  }
  fuzz::require(config->hiddenSize > 0 && config->numHeads > 0 &&
                    config->numKVHeads > 0 && config->headDim > 0 &&
                    config->numLayers > 0 && config->vocabSize > 0 &&
                    config->intermediateSize > 0,
                "sizes are positive");
  fuzz::require(config->numHeads % config->numKVHeads == 0,
                "heads are a multiple of the KV heads");
  fuzz::require(config->headDim % 2 == 0, "head_dim is even (RoPE pairs)");
  fuzz::require(!config->validate(), "an accepted config validates");

  std::string again = config->toJSON();
  llvm::Expected<LlamaConfig> reparsed = parseLlamaConfig(again, "again");
  if (!reparsed) {
    std::string message = llvm::toString(reparsed.takeError());
    fuzz::require(false, "toJSON() output parses again");
  }
  fuzz::require(reparsed->toJSON() == again, "toJSON() round-trips");
  return 0;
}
