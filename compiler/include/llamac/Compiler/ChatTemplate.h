//===- ChatTemplate.h - The chat template a checkpoint comes with -*- C++ -*-===//
//
// Checkpoints carry the Jinja template their chat front-ends format
// conversations with: a GGUF file in `tokenizer.chat_template`, a Hugging
// Face directory in tokenizer_config.json's `chat_template`. llamac keeps
// it in the artifact's manifest (`tokenizer.chat_template`) for clients and
// servers that format with it; llamac-run's own chat writes Llama 3's
// header tokens itself.
//
//===----------------------------------------------------------------------===//
#ifndef LLAMAC_COMPILER_CHATTEMPLATE_H
#define LLAMAC_COMPILER_CHATTEMPLATE_H

#include "llamac/Frontend/GGUF.h"

#include "llvm/Support/Error.h"

#include <string>

namespace llamac {

/// The chat template of the checkpoint at `modelPath`: `gguf`'s
/// `tokenizer.chat_template` when it is a GGUF file (`gguf` non-null), else
/// the `chat_template` of `modelPath`/tokenizer_config.json (a string, or a
/// list of {name, template} objects, of which the one named "default" is
/// taken, as transformers does). Empty when there is none. A value of
/// another type, or a tokenizer_config.json that is not a JSON object, is
/// an error naming the file and the key.
llvm::Expected<std::string> readChatTemplate(llvm::StringRef modelPath,
                                             const GGUFFile *gguf);

} // namespace llamac

#endif // LLAMAC_COMPILER_CHATTEMPLATE_H
