//===- ChatTemplate.cpp - The chat template a checkpoint comes with -------===//

#include "llamac/Compiler/ChatTemplate.h"

#include "llvm/ADT/Twine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"

using namespace llvm;
using namespace llamac;

namespace {

Error makeError(const Twine &message) {
  return createStringError(inconvertibleErrorCode(), message);
}

/// tokenizer_config.json files are tens of kilobytes; anything this large
/// is not one.
constexpr uint64_t kMaxTokenizerConfigBytes = 64 << 20;

Expected<std::string> fromTokenizerConfig(StringRef modelDir) {
  std::string path = (modelDir + "/tokenizer_config.json").str();
  uint64_t size = 0;
  if (!sys::fs::exists(path))
    return std::string();
  if (std::error_code error = sys::fs::file_size(path, size))
    return makeError(path + ": " + error.message());
  if (size > kMaxTokenizerConfigBytes)
    return makeError(path + ": " + Twine(size) +
                     " bytes, more than a tokenizer_config.json holds");
  ErrorOr<std::unique_ptr<MemoryBuffer>> buffer =
      MemoryBuffer::getFile(path, /*IsText=*/false,
                            /*RequiresNullTerminator=*/false);
  if (!buffer)
    return makeError(path + ": " + buffer.getError().message());
  Expected<json::Value> root = json::parse((*buffer)->getBuffer());
  if (!root)
    return makeError(path + ": not valid JSON: " +
                     toString(root.takeError()));
  const json::Object *object = root->getAsObject();
  if (!object)
    return makeError(path + ": not a JSON object");
  const json::Value *value = object->get("chat_template");
  if (!value || value->getAsNull())
    return std::string();
  if (std::optional<StringRef> text = value->getAsString())
    return text->str();
  if (const json::Array *named = value->getAsArray()) {
    for (const json::Value &entry : *named) {
      const json::Object *item = entry.getAsObject();
      std::optional<StringRef> name = item ? item->getString("name") : std::nullopt;
      std::optional<StringRef> text =
          item ? item->getString("template") : std::nullopt;
      if (!name || !text)
        return makeError(path + ": 'chat_template' must be a string or a "
                                "list of {\"name\", \"template\"} strings");
      if (*name == "default")
        return text->str();
    }
    return std::string(); // named templates only, none the default
  }
  return makeError(path + ": 'chat_template' must be a string or a list of "
                          "{\"name\", \"template\"} strings");
}

} // namespace

Expected<std::string> llamac::readChatTemplate(StringRef modelPath,
                                               const GGUFFile *gguf) {
  if (!gguf)
    return fromTokenizerConfig(modelPath);
  const GGUFValue *value = gguf->find("tokenizer.chat_template");
  if (!value)
    return std::string();
  std::optional<StringRef> text = value->getString();
  if (!text)
    return makeError(gguf->path() +
                     ": metadata 'tokenizer.chat_template' must be a string, "
                     "got " + ggufValueTypeName(value->type));
  return text->str();
}
