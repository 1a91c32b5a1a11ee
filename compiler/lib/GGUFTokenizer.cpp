//===- GGUFTokenizer.cpp - The tokenizer a GGUF file carries --------------===//

#include "llamac/Compiler/GGUFTokenizer.h"

#include "llvm/ADT/Twine.h"

using namespace llvm;
using namespace llamac;

namespace {

Error makeError(const GGUFFile &file, const Twine &message) {
  return createStringError(inconvertibleErrorCode(),
                           file.path() + ": " + message);
}

/// The array at `key`, whose elements (all of one type) must satisfy
/// `isElement`.
Expected<const GGUFValue *>
arrayAt(const GGUFFile &file, StringRef key, StringRef elementKind,
        function_ref<bool(const GGUFValue &)> isElement) {
  const GGUFValue *value = file.find(key);
  if (!value)
    return makeError(file, "missing metadata '" + key + "'");
  if (value->type != GGUFValueType::Array)
    return makeError(file, "metadata '" + key + "' must be an array of " +
                               elementKind + ", got " +
                               ggufValueTypeName(value->type));
  if (value->size() && !isElement(value->element(0)))
    return makeError(file, "metadata '" + key + "' must be an array of " +
                               elementKind + ", got an array of " +
                               ggufValueTypeName(value->elementType));
  return value;
}

} // namespace

Expected<std::optional<tokenizer::Tokenizer::GGUFVocabulary>>
llamac::readGGUFVocabulary(const GGUFFile &file) {
  if (!file.find("tokenizer.ggml.tokens"))
    return std::nullopt;
  for (auto [key, expected] :
       {std::pair<StringRef, StringRef>{"tokenizer.ggml.model", "gpt2"},
        {"tokenizer.ggml.pre", "llama-bpe"}}) {
    const GGUFValue *value = file.find(key);
    std::optional<StringRef> text = value ? value->getString() : std::nullopt;
    if (!text || *text != expected)
      return makeError(file, "metadata '" + key + "' is " +
                                 (text    ? "'" + *text + "'"
                                  : value ? ggufValueTypeName(value->type).str()
                                          : std::string("missing")) +
                                 "; llamac reads Llama 3's tokenizer (model "
                                 "'gpt2', pre-tokenizer 'llama-bpe')");
  }
  auto isString = [](const GGUFValue &v) {
    return v.type == GGUFValueType::String;
  };
  auto isInteger = [](const GGUFValue &v) { return v.isInteger(); };
  Expected<const GGUFValue *> tokens =
      arrayAt(file, "tokenizer.ggml.tokens", "strings", isString);
  if (!tokens)
    return tokens.takeError();
  Expected<const GGUFValue *> types =
      arrayAt(file, "tokenizer.ggml.token_type", "integers", isInteger);
  if (!types)
    return types.takeError();
  Expected<const GGUFValue *> merges =
      arrayAt(file, "tokenizer.ggml.merges", "strings", isString);
  if (!merges)
    return merges.takeError();

  tokenizer::Tokenizer::GGUFVocabulary vocabulary;
  vocabulary.tokens.reserve((*tokens)->size());
  for (const GGUFValue &token : (*tokens)->elements)
    vocabulary.tokens.push_back(token.string.str());
  vocabulary.types.reserve((*types)->size());
  for (size_t i = 0; i < (*types)->size(); ++i) {
    // Out-of-range types become -1, which the tokenizer refuses by name.
    std::optional<double> number = (*types)->element(i).getNumber();
    vocabulary.types.push_back(
        *number >= 0 && *number <= 1000 ? int32_t(*number) : -1);
  }
  vocabulary.merges.reserve((*merges)->size());
  for (const GGUFValue &merge : (*merges)->elements)
    vocabulary.merges.push_back(merge.string.str());
  return vocabulary;
}
