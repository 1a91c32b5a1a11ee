//===- GGUFTokenizer.h - The tokenizer a GGUF file carries ------*- C++ -*-===//
//
// A GGUF file made from a Llama 3 checkpoint carries its tokenizer in the
// `tokenizer.ggml.*` metadata. This reads it into the tokenizer library's
// GGUFVocabulary, so that `llamac compile MODEL.gguf` writes the same
// compiled tokenizer.bin as the checkpoint's tokenizer.json gives. It sits
// in the compiler because it joins the two libraries (the frontend's GGUF
// reader, LLVM-based, and the tokenizer, which has no LLVM).
//
//===----------------------------------------------------------------------===//
#ifndef LLAMAC_COMPILER_GGUFTOKENIZER_H
#define LLAMAC_COMPILER_GGUFTOKENIZER_H

#include "llamac/Frontend/GGUF.h"
#include "llamac/Tokenizer/Tokenizer.h"

#include "llvm/Support/Error.h"

#include <optional>

namespace llamac {

/// The vocabulary of `file`, or nullopt when it has no
/// `tokenizer.ggml.tokens`. Only llama.cpp's "gpt2" model with the
/// "llama-bpe" pre-tokenizer (Llama 3's) is read; anything else, and
/// arrays of the wrong types or lengths, are errors naming the file and
/// the key.
llvm::Expected<std::optional<tokenizer::Tokenizer::GGUFVocabulary>>
readGGUFVocabulary(const GGUFFile &file);

} // namespace llamac

#endif // LLAMAC_COMPILER_GGUFTOKENIZER_H
