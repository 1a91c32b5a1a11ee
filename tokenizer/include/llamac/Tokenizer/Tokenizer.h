//===- Tokenizer.h - The Llama 3 byte-level BPE tokenizer -------*- C++ -*-===//
//
// Text <-> token ids for Llama 3.x, equal to Hugging Face `tokenizers` on the
// model's `tokenizer.json`: added (special) tokens are matched first, the rest
// is split by the Llama 3 pre-tokenizer pattern (written by hand over
// utf8proc's Unicode categories), and each piece is byte-level BPE encoded
// with merge ranks (a piece that is a whole vocabulary entry is one token:
// `ignore_merges`).
//
// A Tokenizer comes from `tokenizer.json` (slow: ~9 MB of JSON) or from its
// compiled form, `tokenizer.bin`, which `llamac compile` stores in the
// artifact: one versioned, checksummed binary with the token bytes, the
// merges and their ready-made hash tables, which loads in milliseconds.
//
// Bytes, not text: encode accepts any bytes (invalid UTF-8 is classed like a
// symbol by the pre-tokenizer and encoded byte by byte), and decode returns
// the exact bytes of the tokens, so decode(encode(s)) == s for every s. For
// printing, StreamDecoder only ever returns valid UTF-8.
//
// A Tokenizer is immutable once made: its const methods may be called from
// several threads at once. Errors (a malformed tokenizer.json, a damaged
// tokenizer.bin, an id out of range) are artifact::Error.
//
// Plain C++17 with utf8proc (Unicode classes) and nlohmann-json
// (tokenizer.json): no LLVM.
//
//===----------------------------------------------------------------------===//
#ifndef LLAMAC_TOKENIZER_TOKENIZER_H
#define LLAMAC_TOKENIZER_TOKENIZER_H

#include "llamac/Artifact/Error.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace llamac::tokenizer {

using Error = artifact::Error;

class Tokenizer {
public:
  /// Reads a Hugging Face `tokenizer.json`. Only what Llama 3.x uses is
  /// accepted: model BPE over the byte-level alphabet, no normalizer, the
  /// Llama 3 pre-tokenizer (Sequence[Split(pattern), ByteLevel]), a ByteLevel
  /// decoder, added tokens without lstrip/rstrip/single_word. Anything else is
  /// an Error that names the section.
  static std::unique_ptr<Tokenizer>
  fromHuggingFaceJSON(const std::string &path);

  /// The vocabulary a GGUF file carries (`tokenizer.ggml.tokens`,
  /// `token_type`, `merges`) for llama.cpp's "gpt2" model with the
  /// "llama-bpe" pre-tokenizer, which is Llama 3's tokenizer.json in other
  /// clothes: the same byte-level spellings and merges, the added tokens
  /// among the tokens by type.
  struct GGUFVocabulary {
    /// By id: the byte-level spelling of a normal token, the text of a
    /// control or user-defined one.
    std::vector<std::string> tokens;
    /// By id, llama.cpp's token types: 1 normal, 3 control (a special
    /// token), 4 user-defined (an added token that is not special).
    std::vector<int32_t> types;
    /// "left right" spellings, best first.
    std::vector<std::string> merges;
  };
  /// A tokenizer from `vocabulary`; errors name `source` and what is wrong
  /// (an unknown type, a spelling outside the byte-level alphabet, a merge
  /// of unknown tokens...). Encodes as tokenizer.json of the same
  /// vocabulary does (ignore_merges, as Llama 3's).
  static std::unique_ptr<Tokenizer>
  fromGGUFVocabulary(const GGUFVocabulary &vocabulary,
                     const std::string &source);
  /// Reads a compiled tokenizer written by save(). A file that is not one,
  /// of another version, truncated or corrupt is an Error.
  static std::unique_ptr<Tokenizer> load(const std::string &compiledPath);
  /// Writes the compiled form (to a temporary file renamed into place, so a
  /// reader never sees half a file).
  void save(const std::string &compiledPath) const;

  ~Tokenizer();
  Tokenizer(const Tokenizer &) = delete;
  Tokenizer &operator=(const Tokenizer &) = delete;

  /// The ids of `text`. Text equal to an added token's content (such as
  /// `<|eot_id|>`) becomes that token; no BOS or EOS is added.
  std::vector<int32_t> encode(std::string_view text) const;
  /// The bytes of the tokens, concatenated (special tokens as their text).
  /// An id outside [0, vocabSize()) is an Error.
  std::string decode(const std::vector<int32_t> &ids) const;
  /// The bytes of one token (possibly part of a UTF-8 character).
  std::string tokenBytes(int32_t id) const;
  /// Number of ids, added tokens included (128256 for Llama 3).
  int32_t vocabSize() const;
  /// The id of the special token whose text is `text`, if there is one.
  std::optional<int32_t> specialTokenId(std::string_view text) const;
  /// Whether `id` is a special token (such as `<|eot_id|>`).
  bool isSpecial(int32_t id) const;

  /// Opaque: the flat image that is also the compiled file's content.
  struct Image;

private:
  struct Scratch;
  explicit Tokenizer(std::unique_ptr<Image> image);
  std::string_view bytesOf(int32_t id) const;
  void encodeOrdinary(std::string_view text, std::vector<int32_t> &out,
                      Scratch &scratch) const;
  void encodePiece(std::string_view piece, std::vector<int32_t> &out,
                   Scratch &scratch) const;
  std::optional<int32_t> lookupToken(std::string_view bytes) const;

  std::unique_ptr<Image> image;
};

/// Turns ids into text as they are generated. A token may end in the middle
/// of a UTF-8 character: those bytes are held back until the character is
/// complete, so every returned string is valid UTF-8 and the concatenation of
/// all push() results and flush() equals decode() of the ids whenever that is
/// valid UTF-8.
///
/// Invalid bytes become U+FFFD, one per maximal ill-formed subpart (the
/// Unicode "best practice", as Python, ICU and WHATWG do it); flush() turns an
/// incomplete character left at the end into one U+FFFD.
class StreamDecoder {
public:
  explicit StreamDecoder(const Tokenizer &tokenizer) : tokenizer(&tokenizer) {}

  /// The text that `id` completes (possibly empty). Out-of-range id: Error.
  std::string push(int32_t id);
  /// What is still held back, then starts afresh.
  std::string flush();

private:
  std::string drain(bool atEnd);
  const Tokenizer *tokenizer;
  std::string pending;
};

} // namespace llamac::tokenizer

#endif // LLAMAC_TOKENIZER_TOKENIZER_H
