//===- PreTokenizer.cpp - The Llama 3 pre-tokenizer split -----------------===//
//
// A hand-written matcher for the Llama 3 split pattern. The regex is applied
// like `find_iter`: at each position the alternatives are tried in order and
// the first that matches, with the regex's greedy backtracking, wins. Working
// each alternative out by hand gives:
//
//  1. `(?i:'s|'t|'re|'ve|'m|'ll|'d)`: an apostrophe and one of the suffixes in
//     any case. Unicode case folding also maps U+017F (long s) to `s`; no
//     other letter of the suffixes has a fold partner.
//  2. `[^\r\n\p{L}\p{N}]?\p{L}+`: a run of letters, optionally preceded by one
//     character that is neither CR/LF, letter nor number (so ` word`,
//     `\tword`, `'word`, `.word`, but not `\nword` or `1word`).
//  3. `\p{N}{1,3}`: one to three numbers.
//  4. ` ?[^\s\p{L}\p{N}]+[\r\n]*`: a run of "other" characters (not space,
//     letter, number), optionally preceded by one U+0020, followed by any
//     CR/LF.
//  5. `\s*[\r\n]+`: in a whitespace run that contains CR or LF, everything up
//     to and including the last CR/LF (the greedy `\s*` backs off to it).
//  6. `\s+(?!\S)`: a whitespace run at the end of the text; before a
//     non-space, the run without its last character (that one then starts
//     the next piece, as in ` word`), if that leaves at least one.
//  7. `\s+`: otherwise the single whitespace character.
//
// `\s` is the Unicode White_Space property (Oniguruma and Rust's regex agree):
// U+0009..U+000D, U+0085 and the categories Zs, Zl, Zp. `\p{L}` is Lu Ll Lt
// Lm Lo, `\p{N}` is Nd Nl No, all from utf8proc.
//
//===----------------------------------------------------------------------===//
#include "PreTokenizer.h"

#include <utf8proc.h>

#include <array>
#include <cstdint>

namespace llamac::tokenizer::detail {

const char *const llama3SplitPattern =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| "
    "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

namespace {

/// What the pattern distinguishes about a character.
enum class Class : uint8_t {
  Letter,  // \p{L}
  Number,  // \p{N}
  Newline, // \r or \n (also \s)
  Space,   // the rest of \s
  Other,   // [^\s\p{L}\p{N}], and invalid UTF-8 bytes
};

Class classify(int32_t cp) {
  if (cp == '\r' || cp == '\n')
    return Class::Newline;
  if ((cp >= 0x09 && cp <= 0x0d) || cp == 0x85)
    return Class::Space;
  switch (utf8proc_category(cp)) {
  case UTF8PROC_CATEGORY_LU:
  case UTF8PROC_CATEGORY_LL:
  case UTF8PROC_CATEGORY_LT:
  case UTF8PROC_CATEGORY_LM:
  case UTF8PROC_CATEGORY_LO:
    return Class::Letter;
  case UTF8PROC_CATEGORY_ND:
  case UTF8PROC_CATEGORY_NL:
  case UTF8PROC_CATEGORY_NO:
    return Class::Number;
  case UTF8PROC_CATEGORY_ZS:
  case UTF8PROC_CATEGORY_ZL:
  case UTF8PROC_CATEGORY_ZP:
    return Class::Space;
  default:
    return Class::Other;
  }
}

/// ASCII is most text: its classes are looked up once (from utf8proc too).
const std::array<Class, 128> asciiClass = [] {
  std::array<Class, 128> table{};
  for (int32_t cp = 0; cp < 128; ++cp)
    table[cp] = classify(cp);
  return table;
}();

struct Char {
  int32_t cp; // -1 for an invalid byte
  uint32_t len;
  Class cls;
};

/// The character at `pos` (< text.size()).
inline Char charAt(std::string_view text, size_t pos) {
  auto byte = static_cast<unsigned char>(text[pos]);
  if (byte < 0x80)
    return {byte, 1, asciiClass[byte]};
  utf8proc_int32_t cp;
  utf8proc_ssize_t len = utf8proc_iterate(
      reinterpret_cast<const utf8proc_uint8_t *>(text.data() + pos),
      static_cast<utf8proc_ssize_t>(text.size() - pos), &cp);
  if (len <= 0)
    return {-1, 1, Class::Other};
  return {cp, static_cast<uint32_t>(len), classify(cp)};
}

/// The end of the run of characters of class `cls` that starts at `pos`.
inline size_t skipClass(std::string_view text, size_t pos, Class cls) {
  while (pos < text.size()) {
    Char c = charAt(text, pos);
    if (c.cls != cls)
      break;
    pos += c.len;
  }
  return pos;
}

/// Simple case folding of the letters the contractions use.
inline int32_t foldSuffixLetter(int32_t cp) {
  if (cp >= 'A' && cp <= 'Z')
    return cp - 'A' + 'a';
  if (cp == 0x017f) // LATIN SMALL LETTER LONG S folds to 's'
    return 's';
  return cp;
}

/// Alternative 1: the end of a contraction at `pos`, or 0.
size_t contractionEnd(std::string_view text, size_t pos) {
  if (text[pos] != '\'' || pos + 1 >= text.size())
    return 0;
  Char first = charAt(text, pos + 1);
  size_t next = pos + 1 + first.len;
  switch (foldSuffixLetter(first.cp)) {
  case 's':
  case 't':
  case 'm':
  case 'd':
    return next;
  case 'r':
  case 'v':
  case 'l': {
    if (next >= text.size())
      return 0;
    Char second = charAt(text, next);
    int32_t want = foldSuffixLetter(first.cp) == 'l' ? 'l' : 'e';
    return foldSuffixLetter(second.cp) == want ? next + second.len : 0;
  }
  default:
    return 0;
  }
}

} // namespace

size_t llama3PieceEnd(std::string_view text, size_t pos) {
  if (size_t end = contractionEnd(text, pos))
    return end;

  Char c = charAt(text, pos);
  size_t next = pos + c.len;
  bool hasNext = next < text.size();
  Class nextClass = hasNext ? charAt(text, next).cls : Class::Other;

  // 2: letters, possibly after one non-CR/LF non-number character.
  if (c.cls == Class::Letter)
    return skipClass(text, next, Class::Letter);
  if ((c.cls == Class::Space || c.cls == Class::Other) && hasNext &&
      nextClass == Class::Letter)
    return skipClass(text, next, Class::Letter);

  // 3: at most three numbers.
  if (c.cls == Class::Number) {
    size_t end = next;
    for (int more = 0; more < 2 && end < text.size(); ++more) {
      Char d = charAt(text, end);
      if (d.cls != Class::Number)
        break;
      end += d.len;
    }
    return end;
  }

  // 4: symbols, possibly after one U+0020, then any CR/LF.
  if (c.cls == Class::Other ||
      (c.cp == ' ' && hasNext && nextClass == Class::Other)) {
    size_t end = skipClass(text, next, Class::Other);
    return skipClass(text, end, Class::Newline);
  }

  // 5-7: c is whitespace. Scan the run, noting where its last CR/LF ends and
  // where its last character starts.
  size_t end = pos, lastNewlineEnd = 0, lastStart = pos;
  while (end < text.size()) {
    Char d = charAt(text, end);
    if (d.cls != Class::Space && d.cls != Class::Newline)
      break;
    lastStart = end;
    end += d.len;
    if (d.cls == Class::Newline)
      lastNewlineEnd = end;
  }
  if (lastNewlineEnd)
    return lastNewlineEnd; // 5
  if (end == text.size())
    return end; // 6, at the end of the text
  if (lastStart > pos)
    return lastStart; // 6, leaving the last space for the next piece
  return end;         // 7
}

} // namespace llamac::tokenizer::detail
