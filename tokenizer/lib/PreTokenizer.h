//===- PreTokenizer.h - The Llama 3 pre-tokenizer split ---------*- C++ -*-===//
//
// Internal to the tokenizer. The Llama 3 pre-tokenizer splits text with the
// regular expression
//
//   (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|
//   ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
//
// (one line, no break after `|`), which needs Unicode classes and a negative
// look-ahead. It is implemented here by hand over utf8proc's character
// categories, one function that returns where the match starting at a
// position ends.
//
//===----------------------------------------------------------------------===//
#ifndef LLAMAC_TOKENIZER_LIB_PRETOKENIZER_H
#define LLAMAC_TOKENIZER_LIB_PRETOKENIZER_H

#include <cstddef>
#include <string_view>

namespace llamac::tokenizer::detail {

/// The pattern as `tokenizer.json` spells it (its Split pre-tokenizer's
/// "Regex"); a tokenizer.json with another pattern is rejected.
extern const char *const llama3SplitPattern;

/// The end of the pre-token that starts at byte `pos` of `text` (pos <
/// text.size()); the result is > pos. Every character matches one of the
/// alternatives, so the pieces tile the text. Invalid UTF-8 is taken one byte
/// at a time and classed like a symbol (as U+FFFD would be).
size_t llama3PieceEnd(std::string_view text, size_t pos);

} // namespace llamac::tokenizer::detail

#endif // LLAMAC_TOKENIZER_LIB_PRETOKENIZER_H
