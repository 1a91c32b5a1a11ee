//===- Tokenizer.cpp - The Llama 3 byte-level BPE tokenizer ---------------===//
//
// Both sources of a Tokenizer end in the same flat image: `tokenizer.json` is
// checked and converted into it, `tokenizer.bin` is that image on disk. So
// the compiled form cannot drift from what the JSON reader makes, and both go
// through the same validation.
//
// Compiled format, version 1 (little-endian; every section starts at a
// multiple of 8 bytes, padding is zero):
//
//   Header (64 bytes)          magic "LLAMACTK", version, sizes, checksum
//   uint32 offsets[V + 1]      token i's bytes are bytes[offsets[i], [i+1])
//   uint8  kinds[V]            0 model token, 1 added token, 2 special token
//   char   bytes[B]            the tokens' bytes (special tokens: their text)
//   uint32 merges[M][3]        (left, right, result) in rank order
//   int32  vocabTable[VT]      model token id or -1; open addressing, linear
//                              probing, slot = FNV-1a-64(bytes) & (VT - 1)
//   int32  mergeTable[MT]      merge rank or -1; slot = ((left << 32 | right)
//                              * 0x9e3779b97f4a7c15) >> (64 - log2 MT)
//
// V = vocabSize, M = numMerges; VT and MT are powers of two larger than the
// number of entries, so a probe always ends at an empty slot. The checksum
// covers the whole file but its own field.
//
//===----------------------------------------------------------------------===//
#include "llamac/Tokenizer/Tokenizer.h"

#include "PreTokenizer.h"

#include "llamac/Artifact/Files.h"
#include "llamac/Artifact/JSON.h"

#include <nlohmann/json.hpp>
#include <utf8proc.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <climits>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <unordered_map>

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the compiled tokenizer format is little-endian; this host is not"
#endif

namespace llamac::tokenizer {

namespace {

[[noreturn]] void fail(const std::string &message) { throw Error(message); }

//===----------------------------------------------------------------------===//
// The compiled image
//===----------------------------------------------------------------------===//

constexpr char formatMagic[8] = {'L', 'L', 'A', 'M', 'A', 'C', 'T', 'K'};
constexpr uint32_t formatVersion = 1;

struct Header {
  char magic[8];
  uint32_t version;
  uint32_t headerSize;
  uint64_t fileSize;
  uint64_t checksum;
  uint32_t vocabSize;
  uint32_t numMerges;
  uint32_t vocabTableSize;
  uint32_t mergeTableSize;
  uint32_t flags;
  uint32_t reserved;
  uint64_t tokenBytesSize;
};
static_assert(sizeof(Header) == 64, "the header is part of the file format");

enum TokenKind : uint8_t { ModelToken = 0, AddedToken = 1, SpecialToken = 2 };
enum HeaderFlags : uint32_t { IgnoreMergesFlag = 1 };

/// Ids are bounded well below INT32_MAX so that no size computed from them
/// overflows and a bad id in a JSON file cannot ask for gigabytes.
constexpr uint32_t maxVocabSize = 1u << 24;
constexpr uint32_t minTableSize = 16;

/// Where each section starts, from the header's counts.
struct Layout {
  uint64_t offsets, kinds, bytes, merges, vocabTable, mergeTable, end;
};

Layout layoutOf(const Header &header) {
  uint64_t at = sizeof(Header);
  auto take = [&](uint64_t size) {
    uint64_t start = at;
    at += (size + 7) & ~uint64_t(7);
    return start;
  };
  Layout layout;
  layout.offsets = take(4 * (uint64_t(header.vocabSize) + 1));
  layout.kinds = take(header.vocabSize);
  layout.bytes = take(header.tokenBytesSize);
  layout.merges = take(12 * uint64_t(header.numMerges));
  layout.vocabTable = take(4 * uint64_t(header.vocabTableSize));
  layout.mergeTable = take(4 * uint64_t(header.mergeTableSize));
  layout.end = at;
  return layout;
}

inline uint64_t mix(uint64_t x) {
  x *= 0xff51afd7ed558ccdull;
  return x ^ (x >> 32);
}

/// A 64-bit hash of `size` bytes (a multiple of 8). Four independent lanes
/// keep the multiplier busy (≈ 0.5 ms for the Llama 3 image); each step is a
/// bijection of its lane, so any change of a single word is always detected.
uint64_t checksum(const char *data, uint64_t size) {
  uint64_t lanes[4] = {1, 2, 3, 4};
  uint64_t words = size / 8, i = 0;
  for (; i + 4 <= words; i += 4)
    for (int k = 0; k < 4; ++k) {
      uint64_t word;
      std::memcpy(&word, data + 8 * (i + k), 8);
      lanes[k] = mix(lanes[k] ^ word);
    }
  for (; i < words; ++i) {
    uint64_t word;
    std::memcpy(&word, data + 8 * i, 8);
    lanes[0] = mix(lanes[0] ^ word);
  }
  uint64_t hash = mix(words);
  for (uint64_t lane : lanes)
    hash = mix(hash ^ lane);
  return hash;
}

/// The checksum of a whole image: the payload's, then every header word but
/// the checksum itself, so that no byte of the file goes unchecked.
uint64_t imageChecksum(const char *image, uint64_t size) {
  uint64_t hash = checksum(image + sizeof(Header), size - sizeof(Header));
  for (size_t at = 0; at < sizeof(Header); at += 8) {
    if (at == offsetof(Header, checksum))
      continue;
    uint64_t word;
    std::memcpy(&word, image + at, 8);
    hash = mix(hash ^ word);
  }
  return hash;
}

inline uint64_t hashBytes(std::string_view bytes) {
  uint64_t hash = 0xcbf29ce484222325ull;
  for (char c : bytes)
    hash = (hash ^ static_cast<unsigned char>(c)) * 0x100000001b3ull;
  return hash;
}

inline uint64_t hashPair(uint32_t left, uint32_t right) {
  return ((uint64_t(left) << 32) | right) * 0x9e3779b97f4a7c15ull;
}

uint32_t log2Of(uint32_t powerOfTwo) {
  uint32_t log = 0;
  while ((1u << log) < powerOfTwo)
    ++log;
  return log;
}

uint32_t tableSizeFor(uint64_t entries) {
  // Load factor at most 3/4 (about 1/2 for Llama 3's counts).
  uint64_t size = minTableSize;
  while (size * 3 < entries * 4 + 4)
    size *= 2;
  return static_cast<uint32_t>(size);
}

struct FreeDeleter {
  void operator()(char *p) const { std::free(p); }
};
using Storage = std::unique_ptr<char, FreeDeleter>;

Storage allocate(uint64_t size, bool zero) {
  // malloc's alignment (16) is enough for every section; raw memory, so the
  // typed views below alias nothing.
  void *memory =
      zero ? std::calloc(size ? size : 1, 1) : std::malloc(size ? size : 1);
  if (!memory)
    throw std::bad_alloc();
  return Storage(static_cast<char *>(memory));
}

} // namespace

/// The flat image and what is derived from it when it is attached.
struct Tokenizer::Image {
  Storage storage;
  uint64_t size = 0;
  Header header{};
  const uint32_t *offsets = nullptr;
  const uint8_t *kinds = nullptr;
  const char *bytes = nullptr;
  const uint32_t *merges = nullptr;
  const int32_t *vocabTable = nullptr;
  const int32_t *mergeTable = nullptr;
  uint32_t vocabMask = 0, mergeMask = 0, mergeShift = 0;
  bool ignoreMerges = false;

  /// The model token of each single byte.
  std::array<int32_t, 256> byteToken{};
  /// Added tokens, grouped by first byte, longest first within a group, for
  /// leftmost-longest matching; addedByFirst[b] .. [b + 1] is group b.
  std::vector<int32_t> addedIds;
  std::array<uint32_t, 257> addedByFirst{};
  std::array<bool, 256> addedFirst{};

  std::string_view token(uint32_t id) const {
    return {bytes + offsets[id], offsets[id + 1] - offsets[id]};
  }

  int32_t findToken(std::string_view text) const {
    for (uint64_t slot = hashBytes(text) & vocabMask;;
         slot = (slot + 1) & vocabMask) {
      int32_t id = vocabTable[slot];
      if (id < 0 || token(id) == text)
        return id;
    }
  }

  int32_t mergeRank(uint32_t left, uint32_t right) const {
    for (uint64_t slot = hashPair(left, right) >> mergeShift;;
         slot = (slot + 1) & mergeMask) {
      int32_t rank = mergeTable[slot];
      if (rank < 0)
        return -1;
      const uint32_t *merge = merges + 3 * uint64_t(rank);
      if (merge[0] == left && merge[1] == right)
        return rank;
    }
  }

  /// Checks the image (sizes, bounds, checksum) and sets the views; `source`
  /// names it in errors.
  void attach(const std::string &source);
};

void Tokenizer::Image::attach(const std::string &source) {
  auto bad = [&](const std::string &why) -> void {
    fail(source + ": corrupt compiled tokenizer: " + why +
         " (recreate it with 'llamac compile')");
  };
  if (size < sizeof(Header))
    fail(source + ": not a compiled llamac tokenizer (" + std::to_string(size) +
         " bytes, shorter than its header)");
  std::memcpy(&header, storage.get(), sizeof(Header));
  if (std::memcmp(header.magic, formatMagic, sizeof(formatMagic)) != 0)
    fail(source + ": not a compiled llamac tokenizer (bad magic)");
  if (header.version != formatVersion)
    fail(source + ": compiled tokenizer format version " +
         std::to_string(header.version) + ", this runtime reads version " +
         std::to_string(formatVersion) + "; recreate it with 'llamac compile'");
  if (header.headerSize != sizeof(Header))
    bad("header size " + std::to_string(header.headerSize));
  if (header.fileSize != size)
    fail(source + ": truncated or damaged compiled tokenizer: the file has " +
         std::to_string(size) + " bytes, its header says " +
         std::to_string(header.fileSize) +
         " (recreate it with 'llamac compile')");
  if (header.vocabSize == 0 || header.vocabSize > maxVocabSize)
    bad("vocabulary size " + std::to_string(header.vocabSize));
  if (header.tokenBytesSize > size || header.numMerges > size)
    bad("section sizes exceed the file");
  auto tableOK = [](uint32_t tableSize, uint64_t entries) {
    return tableSize >= minTableSize && (tableSize & (tableSize - 1)) == 0 &&
           tableSize > entries && tableSize <= (1u << 31);
  };
  if (!tableOK(header.vocabTableSize, header.vocabSize) ||
      !tableOK(header.mergeTableSize, header.numMerges))
    bad("hash table sizes");
  Layout layout = layoutOf(header);
  if (layout.end != size)
    bad("section sizes do not add up to the file size");
#ifndef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
  // (Fuzz builds skip it, so that mutated images reach the bounds checks
  // below, which are what keeps a crafted file with a valid checksum safe.)
  if (imageChecksum(storage.get(), size) != header.checksum)
    bad("checksum mismatch");
#endif

  const char *base = storage.get();
  offsets = reinterpret_cast<const uint32_t *>(base + layout.offsets);
  kinds = reinterpret_cast<const uint8_t *>(base + layout.kinds);
  bytes = base + layout.bytes;
  merges = reinterpret_cast<const uint32_t *>(base + layout.merges);
  vocabTable = reinterpret_cast<const int32_t *>(base + layout.vocabTable);
  mergeTable = reinterpret_cast<const int32_t *>(base + layout.mergeTable);
  vocabMask = header.vocabTableSize - 1;
  mergeMask = header.mergeTableSize - 1;
  mergeShift = 64 - log2Of(header.mergeTableSize);
  ignoreMerges = header.flags & IgnoreMergesFlag;

  // Bounds of everything an encode or decode will index with.
  uint32_t vocabSize = header.vocabSize;
  if (offsets[0] != 0 || offsets[vocabSize] != header.tokenBytesSize)
    bad("token offsets");
  for (uint32_t id = 0; id < vocabSize; ++id) {
    if (offsets[id + 1] <= offsets[id])
      bad("token " + std::to_string(id) + " is empty or out of order");
    if (kinds[id] > SpecialToken)
      bad("token " + std::to_string(id) + " has kind " +
          std::to_string(kinds[id]));
  }
  for (uint64_t i = 0; i < 3 * uint64_t(header.numMerges); ++i)
    if (merges[i] >= vocabSize || kinds[merges[i]] != ModelToken)
      bad("merge " + std::to_string(i / 3) + " names a token out of range");
  uint64_t used = 0;
  for (uint32_t slot = 0; slot < header.vocabTableSize; ++slot) {
    int32_t id = vocabTable[slot];
    if (id >= 0 && (uint32_t(id) >= vocabSize || kinds[id] != ModelToken))
      bad("vocabulary table entry out of range");
    used += id >= 0;
  }
  if (used >= header.vocabTableSize)
    bad("vocabulary table is full");
  used = 0;
  for (uint32_t slot = 0; slot < header.mergeTableSize; ++slot) {
    int32_t rank = mergeTable[slot];
    if (rank >= 0 && uint32_t(rank) >= header.numMerges)
      bad("merge table entry out of range");
    used += rank >= 0;
  }
  if (used >= header.mergeTableSize)
    bad("merge table is full");

  // Derived lookups: byte tokens (every byte must have one, or some text
  // could not be encoded) and the added tokens for matching.
  for (int byte = 0; byte < 256; ++byte) {
    char c = static_cast<char>(byte);
    byteToken[byte] = findToken(std::string_view(&c, 1));
    if (byteToken[byte] < 0) {
      char hex[8];
      std::snprintf(hex, sizeof(hex), "0x%02x", byte);
      fail(source + ": the vocabulary has no token for byte " + hex +
           " (not a byte-level BPE vocabulary)");
    }
  }
  for (uint32_t id = 0; id < vocabSize; ++id)
    if (kinds[id] != ModelToken)
      addedIds.push_back(static_cast<int32_t>(id));
  std::sort(addedIds.begin(), addedIds.end(), [&](int32_t a, int32_t b) {
    std::string_view ta = token(a), tb = token(b);
    if (ta[0] != tb[0])
      return static_cast<unsigned char>(ta[0]) <
             static_cast<unsigned char>(tb[0]);
    if (ta.size() != tb.size())
      return ta.size() > tb.size();
    return a < b;
  });
  uint32_t next = 0;
  for (int byte = 0; byte < 256; ++byte) {
    addedByFirst[byte] = next;
    while (next < addedIds.size() &&
           static_cast<unsigned char>(token(addedIds[next])[0]) == byte)
      ++next;
    addedFirst[byte] = next > addedByFirst[byte];
  }
  addedByFirst[256] = next;
}

namespace {

/// Lays out and fills an image from its contents; attach() then checks it
/// like any loaded file.
struct Contents {
  std::vector<std::string> tokens;
  std::vector<uint8_t> kinds;
  std::vector<std::array<uint32_t, 3>> merges;
  bool ignoreMerges = false;
};

void fillImage(Tokenizer::Image &image, const Contents &contents) {
  Header header{};
  std::memcpy(header.magic, formatMagic, sizeof(formatMagic));
  header.version = formatVersion;
  header.headerSize = sizeof(Header);
  header.vocabSize = static_cast<uint32_t>(contents.tokens.size());
  header.numMerges = static_cast<uint32_t>(contents.merges.size());
  uint64_t modelTokens = 0, tokenBytes = 0;
  for (size_t id = 0; id < contents.tokens.size(); ++id) {
    modelTokens += contents.kinds[id] == ModelToken;
    tokenBytes += contents.tokens[id].size();
  }
  if (tokenBytes > UINT32_MAX)
    fail("tokenizer: the tokens' bytes exceed 4 GB");
  header.tokenBytesSize = tokenBytes;
  header.vocabTableSize = tableSizeFor(modelTokens);
  header.mergeTableSize = tableSizeFor(contents.merges.size());
  header.flags = contents.ignoreMerges ? uint32_t(IgnoreMergesFlag) : 0u;
  Layout layout = layoutOf(header);
  header.fileSize = layout.end;

  image.size = layout.end;
  image.storage = allocate(layout.end, /*zero=*/true);
  char *base = image.storage.get();
  auto *offsets = reinterpret_cast<uint32_t *>(base + layout.offsets);
  auto *kinds = reinterpret_cast<uint8_t *>(base + layout.kinds);
  char *bytes = base + layout.bytes;
  uint32_t at = 0;
  for (size_t id = 0; id < contents.tokens.size(); ++id) {
    offsets[id] = at;
    kinds[id] = contents.kinds[id];
    std::memcpy(bytes + at, contents.tokens[id].data(),
                contents.tokens[id].size());
    at += static_cast<uint32_t>(contents.tokens[id].size());
  }
  offsets[contents.tokens.size()] = at;
  auto *merges = reinterpret_cast<uint32_t *>(base + layout.merges);
  for (size_t rank = 0; rank < contents.merges.size(); ++rank)
    std::memcpy(merges + 3 * rank, contents.merges[rank].data(), 12);

  auto *vocabTable = reinterpret_cast<int32_t *>(base + layout.vocabTable);
  std::fill_n(vocabTable, header.vocabTableSize, -1);
  uint64_t vocabMask = header.vocabTableSize - 1;
  for (size_t id = 0; id < contents.tokens.size(); ++id) {
    if (contents.kinds[id] != ModelToken)
      continue;
    uint64_t slot = hashBytes(contents.tokens[id]) & vocabMask;
    while (vocabTable[slot] >= 0)
      slot = (slot + 1) & vocabMask;
    vocabTable[slot] = static_cast<int32_t>(id);
  }
  auto *mergeTable = reinterpret_cast<int32_t *>(base + layout.mergeTable);
  std::fill_n(mergeTable, header.mergeTableSize, -1);
  uint64_t mergeMask = header.mergeTableSize - 1;
  uint32_t mergeShift = 64 - log2Of(header.mergeTableSize);
  for (size_t rank = 0; rank < contents.merges.size(); ++rank) {
    const auto &merge = contents.merges[rank];
    uint64_t slot = hashPair(merge[0], merge[1]) >> mergeShift;
    bool duplicate = false;
    for (; mergeTable[slot] >= 0; slot = (slot + 1) & mergeMask) {
      const uint32_t *other = merges + 3 * uint64_t(mergeTable[slot]);
      if (other[0] == merge[0] && other[1] == merge[1])
        duplicate = true;
    }
    // A pair listed twice keeps its first (best) rank.
    if (!duplicate)
      mergeTable[slot] = static_cast<int32_t>(rank);
  }

  std::memcpy(base, &header, sizeof(Header));
  header.checksum = imageChecksum(base, layout.end);
  std::memcpy(base, &header, sizeof(Header));
}

//===----------------------------------------------------------------------===//
// tokenizer.json
//===----------------------------------------------------------------------===//

using json = nlohmann::json;

/// tokenizer.json as read: a JSON tree of every section but for the entries
/// of model.vocab and model.merges (hundreds of thousands of small values,
/// most of the file), which are kept in flat lists beside it; the tree holds
/// an empty object and an empty array in their place. A whole tree would
/// allocate a node (and a string) per entry: reading the Llama 3 file that
/// way takes about three times as long.
struct TokenizerFile {
  json root;
  /// model.vocab's entries in file order; a repeated spelling is there
  /// each time (the last one counts, as in a tree).
  std::vector<std::pair<std::string, json>> vocab;
  /// model.merges' entries: "left right" strings, or any other value.
  struct Merge {
    std::string text;
    json other;
    bool isText = false;
  };
  std::vector<Merge> merges;
};

/// Builds a TokenizerFile from nlohmann's SAX events. Every value goes into
/// the tree where its parent is, except directly inside root.model.vocab or
/// root.model.merges, where it goes to the flat lists (a container there is
/// built whole, then added).
class TokenizerFileBuilder : public nlohmann::json_sax<json> {
public:
  explicit TokenizerFileBuilder(TokenizerFile &file) : file(file) {}

  bool null() override { return add(json(nullptr)); }
  bool boolean(bool value) override { return add(json(value)); }
  bool number_integer(number_integer_t value) override {
    return add(json(value));
  }
  bool number_unsigned(number_unsigned_t value) override {
    return add(json(value));
  }
  bool number_float(number_float_t value, const string_t &) override {
    return add(json(value));
  }
  bool string(string_t &value) override {
    if (!frames.empty() && frames.back().role == Role::Merges) {
      file.merges.push_back({std::move(value), json(), /*isText=*/true});
      return true;
    }
    return add(json(std::move(value)));
  }
  bool binary(binary_t &) override { return false; } // not in JSON text
  bool start_object(std::size_t) override {
    return open(json::value_t::object);
  }
  bool key(string_t &name) override {
    pendingKey = std::move(name);
    return true;
  }
  bool end_object() override { return close(); }
  bool start_array(std::size_t) override { return open(json::value_t::array); }
  bool end_array() override { return close(); }
  bool parse_error(std::size_t, const std::string &,
                   const nlohmann::detail::exception &error) override {
    message = artifact::jsonErrorReason(error);
    return false;
  }

  /// Why parsing stopped.
  std::string message;

private:
  /// What an open container is, as far as the flat lists are concerned.
  enum class Role : uint8_t { Root, Model, Vocab, Merges, Other };
  struct Frame {
    json *container;
    Role role;
  };

  /// Puts `value` where the innermost open container wants it; returns it.
  json *place(json value) {
    if (frames.empty()) {
      file.root = std::move(value);
      return &file.root;
    }
    Frame &top = frames.back();
    if (top.role == Role::Vocab) {
      file.vocab.emplace_back(std::move(pendingKey), std::move(value));
      return &file.vocab.back().second;
    }
    if (top.role == Role::Merges) {
      file.merges.push_back({std::string(), std::move(value), false});
      return &file.merges.back().other;
    }
    if (top.container->is_array()) {
      top.container->push_back(std::move(value));
      return &top.container->back();
    }
    json &slot = (*top.container)[std::move(pendingKey)];
    slot = std::move(value);
    return &slot;
  }

  bool add(json value) {
    place(std::move(value));
    return true;
  }

  bool open(json::value_t kind) {
    Role parent = frames.empty() ? Role::Other : frames.back().role;
    bool object = kind == json::value_t::object;
    Role role = Role::Other;
    if (frames.empty())
      role = object ? Role::Root : Role::Other;
    else if (parent == Role::Root && object && pendingKey == "model")
      role = Role::Model;
    else if (parent == Role::Model && object && pendingKey == "vocab")
      role = Role::Vocab;
    else if (parent == Role::Model && !object && pendingKey == "merges")
      role = Role::Merges;
    // A repeated key replaces the earlier value, lists included. (A
    // container inside a list stays valid while it is built: the list only
    // grows again after it is closed.)
    if (role == Role::Vocab)
      file.vocab.clear();
    if (role == Role::Merges)
      file.merges.clear();
    frames.push_back({place(json(kind)), role});
    return true;
  }

  bool close() {
    frames.pop_back();
    return true;
  }

  TokenizerFile &file;
  std::vector<Frame> frames;
  std::string pendingKey;
};

/// GPT-2's byte-level alphabet: printable Latin-1 bytes stand for
/// themselves, the other 68 bytes for U+0100 onwards, in byte order.
struct ByteLevelAlphabet {
  std::array<int16_t, 512> byteOfChar;

  ByteLevelAlphabet() {
    byteOfChar.fill(-1);
    int shifted = 0;
    for (int byte = 0; byte < 256; ++byte) {
      bool printable = (byte >= '!' && byte <= '~') ||
                       (byte >= 0xa1 && byte <= 0xac) ||
                       (byte >= 0xae && byte <= 0xff);
      byteOfChar[printable ? byte : 256 + shifted++] =
          static_cast<int16_t>(byte);
    }
  }

  /// The bytes a vocabulary entry stands for, or nullopt if it has a
  /// character outside the alphabet.
  std::optional<std::string> decode(std::string_view chars) const {
    std::string out;
    out.reserve(chars.size());
    auto *data = reinterpret_cast<const utf8proc_uint8_t *>(chars.data());
    utf8proc_ssize_t size = static_cast<utf8proc_ssize_t>(chars.size());
    for (utf8proc_ssize_t at = 0; at < size;) {
      utf8proc_int32_t cp;
      utf8proc_ssize_t len = utf8proc_iterate(data + at, size - at, &cp);
      if (len <= 0 || cp < 0 || cp >= 512 || byteOfChar[cp] < 0)
        return std::nullopt;
      out.push_back(static_cast<char>(byteOfChar[cp]));
      at += len;
    }
    return out;
  }
};

/// Short, quoted and escaped text of a JSON string for error messages.
std::string quote(std::string_view text) {
  std::string out = "\"";
  for (char c : text.substr(0, 40)) {
    if (c == '"' || c == '\\')
      out += '\\';
    if (static_cast<unsigned char>(c) < 0x20) {
      char hex[8];
      std::snprintf(hex, sizeof(hex), "\\x%02x", c);
      out += hex;
    } else {
      out += c;
    }
  }
  return out + (text.size() > 40 ? "...\"" : "\"");
}

/// The member `key` of the object `in`, or null when absent.
const json *member(const json &in, const char *key) {
  auto found = in.find(key);
  return found == in.end() ? nullptr : &*found;
}
/// The member `key` of `in` when it is an object (`kind`) or an array.
const json *memberOf(const json &in, const char *key, json::value_t kind) {
  const json *value = member(in, key);
  return value && value->type() == kind ? value : nullptr;
}
const json *objectAt(const json &in, const char *key) {
  return memberOf(in, key, json::value_t::object);
}
const json *arrayAt(const json &in, const char *key) {
  return memberOf(in, key, json::value_t::array);
}
/// The string member `key` of `in`, if it is one.
std::optional<std::string_view> stringAt(const json &in, const char *key) {
  const json *value = member(in, key);
  if (!value || !value->is_string())
    return std::nullopt;
  return std::string_view(value->get_ref<const std::string &>());
}
/// Whether `in` has the string `key` equal to `expected`.
bool hasString(const json &in, const char *key, std::string_view expected) {
  return stringAt(in, key) == expected;
}

std::string describe(const json *value) {
  if (!value)
    return "missing";
  if (value->is_object()) {
    if (std::optional<std::string_view> type = stringAt(*value, "type"))
      return "type " + quote(*type);
    return "an object without a type";
  }
  return artifact::jsonExcerpt(*value);
}

/// model.vocab's spellings -> the index of their entry (the last one when a
/// spelling is repeated): open addressing with linear probing over (hash,
/// index) pairs. A std::unordered_map spent most of the load chasing its
/// nodes for the 1.5 million look-ups of the Llama 3 file.
class SpellingIndex {
public:
  using Entries = std::vector<std::pair<std::string, json>>;

  /// Indexes `list`, which must outlive the index unchanged.
  void build(const Entries &list) {
    entries = &list;
    slots.assign(tableSizeFor(list.size()), Slot{0, kEmpty});
    mask = slots.size() - 1;
    count = 0;
    for (uint32_t index = 0; index < list.size(); ++index) {
      std::string_view spelling = list[index].first;
      uint64_t hash = hashBytes(spelling);
      Slot *slot = &slots[hash & mask];
      while (slot->index != kEmpty && !(slot->hash == uint32_t(hash) &&
                                        list[slot->index].first == spelling))
        slot = &slots[(slot - slots.data() + 1) & mask];
      count += slot->index == kEmpty;
      *slot = Slot{uint32_t(hash), index};
    }
  }

  /// The entry index of `spelling`, or nothing.
  std::optional<uint32_t> find(std::string_view spelling) const {
    uint64_t hash = hashBytes(spelling);
    for (uint64_t at = hash & mask;; at = (at + 1) & mask) {
      const Slot &slot = slots[at];
      if (slot.index == kEmpty)
        return std::nullopt;
      if (slot.hash == uint32_t(hash) &&
          (*entries)[slot.index].first == spelling)
        return slot.index;
    }
  }
  /// Distinct spellings.
  size_t size() const { return count; }

private:
  static constexpr uint32_t kEmpty = UINT32_MAX;
  struct Slot {
    uint32_t hash;
    uint32_t index;
  };
  const Entries *entries = nullptr;
  std::vector<Slot> slots;
  uint64_t mask = 0;
  size_t count = 0;
};

/// Reads and checks one tokenizer.json; every error names its section.
class JSONReader {
public:
  explicit JSONReader(const std::string &path) : path(path) {}

  Contents read();

private:
  [[noreturn]] void error(const std::string &section,
                          const std::string &message) const {
    fail(path + ": " + section + ": " + message);
  }
  static bool isNullOrAbsent(const json &in, const char *key) {
    const json *value = member(in, key);
    return !value || value->is_null();
  }
  /// A boolean option: absent or null gives `defaultValue`.
  bool flag(const std::string &section, const json &in, const char *key,
            bool defaultValue) const {
    const json *value = member(in, key);
    if (!value || value->is_null())
      return defaultValue;
    if (!value->is_boolean())
      error(section, "'" + std::string(key) + "' must be true or false, not " +
                         describe(value));
    return value->get<bool>();
  }

  void checkNormalizer(const json &root);
  void checkPreTokenizer(const json &root);
  void checkDecoder(const json &root);
  void checkPostProcessor(const json &root);
  void readModel(const json &root, Contents &contents);
  void readAddedTokens(const json &root, Contents &contents);
  /// The id of the vocabulary entry spelled `spelling` (byte-level
  /// characters), for model.merges[`rank`].
  uint32_t mergeTokenId(std::string_view spelling, size_t rank) const;

  /// Checks one id of model.vocab or added_tokens; the message names the
  /// token by `spelling` when there is one.
  int64_t checkId(const std::string &section,
                  std::optional<std::string_view> spelling,
                  const json *id) const {
    std::optional<int64_t> value =
        id ? artifact::jsonInteger(*id) : std::nullopt;
    auto what = [&] {
      return spelling ? "token " + quote(*spelling) : std::string("token");
    };
    if (!value || *value < 0)
      error(section, what() + " has id " + describe(id) +
                         ", expected a non-negative integer");
    if (*value >= idLimit)
      error(section, what() + " has id " + std::to_string(*value) +
                         ", but model.vocab and added_tokens list " +
                         std::to_string(idLimit) +
                         " tokens: ids must be contiguous from 0");
    return *value;
  }

  const std::string &path;
  TokenizerFile file;
  /// Ids are contiguous, so each is below the number of tokens listed; this
  /// also keeps a wild id from allocating gigabytes.
  int64_t idLimit = 0;
  ByteLevelAlphabet alphabet;
  /// model.vocab as spelled in the JSON (byte-level characters) -> the
  /// index in file.vocab of its (last) entry, and each entry's id.
  SpellingIndex vocabEntry;
  std::vector<int32_t> entryIds;
  std::vector<bool> assigned;
};

Contents JSONReader::read() {
  std::string text = artifact::readFile(path);
  TokenizerFileBuilder builder(file);
  if (!json::sax_parse(text, &builder))
    fail(path + ": invalid JSON: " + builder.message);
  text = std::string(); // the tree and lists hold what is needed
  const json &root = file.root;
  if (!root.is_object())
    fail(path + ": not a JSON object (a Hugging Face tokenizer.json?)");

  const json *model = objectAt(root, "model");
  const json *vocab = model ? objectAt(*model, "vocab") : nullptr;
  const json *added = arrayAt(root, "added_tokens");
  if (!added && !isNullOrAbsent(root, "added_tokens"))
    error("added_tokens",
          describe(member(root, "added_tokens")) + ", expected an array");
  if (!vocab)
    file.vocab.clear(); // entries of a model.vocab that was replaced
  vocabEntry.build(file.vocab);
  idLimit = std::min<int64_t>(int64_t(vocabEntry.size()) +
                                  (added ? int64_t(added->size()) : 0),
                              maxVocabSize);

  checkNormalizer(root);
  checkPreTokenizer(root);
  checkDecoder(root);
  checkPostProcessor(root);
  Contents contents;
  readModel(root, contents);
  readAddedTokens(root, contents);
  for (size_t id = 0; id < assigned.size(); ++id)
    if (!assigned[id])
      error("model.vocab", "id " + std::to_string(id) +
                               " has no token (neither in model.vocab nor in "
                               "added_tokens); ids must be contiguous");
  return contents;
}

void JSONReader::checkNormalizer(const json &root) {
  if (!isNullOrAbsent(root, "normalizer"))
    error("normalizer", describe(member(root, "normalizer")) +
                            " is not supported (only null: Llama 3 has none)");
}

void JSONReader::checkPreTokenizer(const json &root) {
  const std::string section = "pre_tokenizer";
  auto unsupported = [&](const std::string &why) {
    error(section, why + "; only the Llama 3 pre-tokenizer is supported: "
                         "Sequence[Split(Llama 3 pattern, Isolated), "
                         "ByteLevel(add_prefix_space=false, use_regex=false)]");
  };
  const json *pre = objectAt(root, "pre_tokenizer");
  if (!pre)
    unsupported(describe(member(root, "pre_tokenizer")));
  const json *steps = arrayAt(*pre, "pretokenizers");
  if (!hasString(*pre, "type", "Sequence") || !steps || steps->size() != 2)
    unsupported(
        describe(pre) +
        (steps ? " with " + std::to_string(steps->size()) + " steps" : ""));
  const json &splitStep = (*steps)[0], &byteLevelStep = (*steps)[1];
  if (!splitStep.is_object() || !hasString(splitStep, "type", "Split"))
    unsupported("first step is " + describe(&splitStep));
  const json *pattern = objectAt(splitStep, "pattern");
  std::optional<std::string_view> regex =
      pattern ? stringAt(*pattern, "Regex") : std::nullopt;
  if (!regex || *regex != detail::llama3SplitPattern)
    unsupported("the Split pattern is not the Llama 3 one");
  if (!hasString(splitStep, "behavior", "Isolated"))
    unsupported("Split behavior " + describe(member(splitStep, "behavior")));
  if (flag(section, splitStep, "invert", false))
    unsupported("Split with invert=true");
  if (!byteLevelStep.is_object() ||
      !hasString(byteLevelStep, "type", "ByteLevel"))
    unsupported("second step is " + describe(&byteLevelStep));
  // Hugging Face's defaults for both are true.
  if (flag(section, byteLevelStep, "add_prefix_space", true))
    unsupported("ByteLevel with add_prefix_space=true");
  if (flag(section, byteLevelStep, "use_regex", true))
    unsupported("ByteLevel with use_regex=true");
}

void JSONReader::checkDecoder(const json &root) {
  const json *decoder = objectAt(root, "decoder");
  if (!decoder || !hasString(*decoder, "type", "ByteLevel"))
    error("decoder",
          (member(root, "decoder")
               ? describe(member(root, "decoder")) + " is not supported"
               : std::string("missing")) +
              " (only ByteLevel is)");
}

void JSONReader::checkPostProcessor(const json &root) {
  // Post-processing only adds BOS/EOS in Hugging Face's encode with
  // add_special_tokens; encode() here never adds any, so any processor is
  // fine as long as the section is well-formed.
  if (isNullOrAbsent(root, "post_processor"))
    return;
  const json *post = objectAt(root, "post_processor");
  if (!post || !stringAt(*post, "type"))
    error("post_processor", "expected null or an object with a \"type\", got " +
                                describe(member(root, "post_processor")));
}

void JSONReader::readModel(const json &root, Contents &contents) {
  const json *model = objectAt(root, "model");
  if (!model)
    error("model", "missing or not an object");
  if (!member(*model, "type"))
    error("model", "'type' is missing (only \"BPE\" is supported)");
  if (!hasString(*model, "type", "BPE"))
    error("model", "type " + describe(member(*model, "type")) +
                       " is not supported (only \"BPE\" is)");
  if (!isNullOrAbsent(*model, "dropout")) {
    const json &dropout = (*model)["dropout"];
    if (!dropout.is_number() || dropout.get<double>() != 0.0)
      error("model", "BPE dropout is not supported");
  }
  for (const char *key : {"continuing_subword_prefix", "end_of_word_suffix"})
    if (!isNullOrAbsent(*model, key) && !hasString(*model, key, ""))
      error("model", "'" + std::string(key) + "' is not supported");
  if (flag("model", *model, "byte_fallback", false))
    error("model",
          "byte_fallback is not supported (byte-level BPE needs none)");
  contents.ignoreMerges = flag("model", *model, "ignore_merges", false);

  // model.vocab: byte-level spelling -> id.
  if (!objectAt(*model, "vocab"))
    error("model.vocab", describe(member(*model, "vocab")) +
                             ", expected an object of token -> id");
  contents.tokens.reserve(idLimit);
  contents.kinds.reserve(idLimit);
  entryIds.assign(file.vocab.size(), -1);
  for (uint32_t index = 0; index < file.vocab.size(); ++index) {
    const auto &[spelling, idValue] = file.vocab[index];
    if (*vocabEntry.find(spelling) != index)
      continue; // a later entry spells the same token
    int64_t id = checkId("model.vocab", spelling, &idValue);
    std::optional<std::string> bytes = alphabet.decode(spelling);
    if (!bytes || bytes->empty())
      error("model.vocab", "token " + quote(spelling) +
                               " is empty or has a character outside the "
                               "byte-level alphabet");
    if (size_t(id) >= contents.tokens.size()) {
      contents.tokens.resize(id + 1);
      contents.kinds.resize(id + 1, ModelToken);
      assigned.resize(id + 1, false);
    }
    if (assigned[id])
      error("model.vocab", "id " + std::to_string(id) +
                               " is given to two tokens, " + quote(spelling) +
                               " and another");
    assigned[id] = true;
    contents.tokens[id] = std::move(*bytes);
    entryIds[index] = static_cast<int32_t>(id);
  }
  std::array<bool, 256> hasByte{};
  for (const std::string &bytes : contents.tokens)
    if (bytes.size() == 1)
      hasByte[static_cast<unsigned char>(bytes[0])] = true;
  for (int byte = 0; byte < 256; ++byte)
    if (!hasByte[byte]) {
      char hex[8];
      std::snprintf(hex, sizeof(hex), "0x%02x", byte);
      error("model.vocab", std::string("no token for byte ") + hex +
                               " (not a byte-level BPE vocabulary)");
    }

  // model.merges: "left right" strings or [left, right] pairs, best first.
  if (!arrayAt(*model, "merges"))
    error("model.merges",
          describe(member(*model, "merges")) + ", expected an array");
  contents.merges.reserve(file.merges.size());
  std::string joined;
  for (size_t rank = 0; rank < file.merges.size(); ++rank) {
    const TokenizerFile::Merge &merge = file.merges[rank];
    std::string_view left, right;
    if (merge.isText) {
      std::string_view text = merge.text;
      size_t space = text.find(' ');
      left = text.substr(0, space);
      right = space == std::string_view::npos ? std::string_view()
                                              : text.substr(space + 1);
      if (left.empty() || right.empty() ||
          right.find(' ') != std::string_view::npos)
        error("model.merges[" + std::to_string(rank) + "]",
              quote(text) + " is not two tokens separated by a space");
    } else if (const json &pair = merge.other;
               pair.is_array() && pair.size() == 2 && pair[0].is_string() &&
               pair[1].is_string()) {
      left = pair[0].get_ref<const std::string &>();
      right = pair[1].get_ref<const std::string &>();
    } else {
      error("model.merges[" + std::to_string(rank) + "]",
            describe(&merge.other) + " is not \"left right\" or [left, right]");
    }
    uint32_t leftId = mergeTokenId(left, rank);
    uint32_t rightId = mergeTokenId(right, rank);
    joined.assign(left);
    joined.append(right);
    contents.merges.push_back({leftId, rightId, mergeTokenId(joined, rank)});
  }
}

uint32_t JSONReader::mergeTokenId(std::string_view spelling,
                                  size_t rank) const {
  std::optional<uint32_t> entry = vocabEntry.find(spelling);
  if (!entry)
    error("model.merges[" + std::to_string(rank) + "]",
          "token " + quote(spelling) + " is not in model.vocab");
  return static_cast<uint32_t>(entryIds[*entry]);
}

void JSONReader::readAddedTokens(const json &root, Contents &contents) {
  if (isNullOrAbsent(root, "added_tokens"))
    return;
  const json *added = arrayAt(root, "added_tokens");
  if (!added)
    error("added_tokens",
          describe(member(root, "added_tokens")) + ", expected an array");
  std::unordered_map<std::string_view, int32_t> contentIds;
  for (size_t index = 0; index < added->size(); ++index) {
    std::string where = "added_tokens[" + std::to_string(index) + "]";
    const json &token = (*added)[index];
    if (!token.is_object())
      error(where, describe(&token) + ", expected an object");
    int64_t id = checkId(where, std::nullopt, member(token, "id"));
    std::optional<std::string_view> content = stringAt(token, "content");
    if (!content || content->empty())
      error(where, "'content' is " + describe(member(token, "content")) +
                       ", expected a non-empty string");
    for (const char *option : {"single_word", "lstrip", "rstrip"})
      if (flag(where, token, option, false))
        error(where, quote(*content) + " has " + option +
                         "=true, which is not supported");
    bool special = flag(where, token, "special", false);
    if (!contentIds.try_emplace(*content, int32_t(id)).second)
      error(where, quote(*content) + " is listed twice");

    if (size_t(id) < assigned.size() && assigned[id]) {
      // An added token may repeat a model token, with the same id.
      std::optional<uint32_t> model = vocabEntry.find(*content);
      if (contents.kinds[id] != ModelToken || !model || entryIds[*model] != id)
        error(where, quote(*content) + " has id " + std::to_string(id) +
                         ", which is already " + quote(contents.tokens[id]));
    }
    if (size_t(id) >= contents.tokens.size()) {
      contents.tokens.resize(id + 1);
      contents.kinds.resize(id + 1, ModelToken);
      assigned.resize(id + 1, false);
    }
    assigned[id] = true;
    contents.tokens[id] = std::string(*content);
    contents.kinds[id] = special ? SpecialToken : AddedToken;
  }
}

//===----------------------------------------------------------------------===//
// Files
//===----------------------------------------------------------------------===//

std::string systemError(const std::string &what) {
  return what + ": " + std::strerror(errno);
}

} // namespace

//===----------------------------------------------------------------------===//
// Tokenizer
//===----------------------------------------------------------------------===//

/// Buffers reused across the pieces of one encode() call.
struct Tokenizer::Scratch {
  std::vector<int32_t> ids, prev, next;
  std::vector<uint64_t> heap;
};

Tokenizer::Tokenizer(std::unique_ptr<Image> image) : image(std::move(image)) {}
Tokenizer::~Tokenizer() = default;

std::unique_ptr<Tokenizer>
Tokenizer::fromHuggingFaceJSON(const std::string &path) {
  Contents contents = JSONReader(path).read();
  auto image = std::make_unique<Image>();
  fillImage(*image, contents);
  image->attach(path);
  return std::unique_ptr<Tokenizer>(new Tokenizer(std::move(image)));
}

std::unique_ptr<Tokenizer>
Tokenizer::fromGGUFVocabulary(const GGUFVocabulary &vocabulary,
                              const std::string &source) {
  // llama.cpp's token types.
  enum : int32_t { Normal = 1, Control = 3, UserDefined = 4 };
  const std::vector<std::string> &tokens = vocabulary.tokens;
  if (tokens.empty())
    fail(source + ": tokenizer.ggml.tokens is empty");
  if (tokens.size() > uint64_t(INT32_MAX))
    fail(source + ": tokenizer.ggml.tokens has too many entries");
  if (vocabulary.types.size() != tokens.size())
    fail(source + ": tokenizer.ggml.token_type has " +
         std::to_string(vocabulary.types.size()) + " entries for " +
         std::to_string(tokens.size()) + " tokens");
  ByteLevelAlphabet alphabet;
  Contents contents;
  contents.ignoreMerges = true;
  contents.tokens.resize(tokens.size());
  contents.kinds.resize(tokens.size(), ModelToken);
  std::unordered_map<std::string_view, uint32_t> idOfSpelling;
  std::array<bool, 256> hasByte{};
  for (size_t id = 0; id < tokens.size(); ++id) {
    const std::string where =
        source + ": tokenizer.ggml.tokens[" + std::to_string(id) + "] " +
        quote(tokens[id]);
    if (tokens[id].empty())
      fail(where + " is empty");
    switch (vocabulary.types[id]) {
    case Normal: {
      std::optional<std::string> bytes = alphabet.decode(tokens[id]);
      if (!bytes || bytes->empty())
        fail(where + " has a character outside the byte-level alphabet");
      if (!idOfSpelling.try_emplace(tokens[id], uint32_t(id)).second)
        fail(where + " is listed twice");
      if (bytes->size() == 1)
        hasByte[static_cast<unsigned char>((*bytes)[0])] = true;
      contents.tokens[id] = std::move(*bytes);
      break;
    }
    case Control:
    case UserDefined:
      contents.tokens[id] = tokens[id];
      contents.kinds[id] =
          vocabulary.types[id] == Control ? SpecialToken : AddedToken;
      break;
    default:
      fail(where + " has token type " + std::to_string(vocabulary.types[id]) +
           " (llamac reads normal 1, control 3 and user-defined 4)");
    }
  }
  for (int byte = 0; byte < 256; ++byte)
    if (!hasByte[byte]) {
      char hex[8];
      std::snprintf(hex, sizeof(hex), "0x%02x", byte);
      fail(source + ": tokenizer.ggml.tokens has no token for byte " + hex +
           " (not a byte-level BPE vocabulary)");
    }
  auto idOf = [&](std::string_view spelling, size_t rank) {
    auto found = idOfSpelling.find(spelling);
    if (found == idOfSpelling.end())
      fail(source + ": tokenizer.ggml.merges[" + std::to_string(rank) +
           "]: token " + quote(spelling) + " is not a normal token");
    return found->second;
  };
  contents.merges.reserve(vocabulary.merges.size());
  std::string joined;
  for (size_t rank = 0; rank < vocabulary.merges.size(); ++rank) {
    std::string_view text = vocabulary.merges[rank];
    size_t space = text.find(' ');
    std::string_view left = text.substr(0, space);
    std::string_view right = space == std::string_view::npos
                                 ? std::string_view()
                                 : text.substr(space + 1);
    if (left.empty() || right.empty() ||
        right.find(' ') != std::string_view::npos)
      fail(source + ": tokenizer.ggml.merges[" + std::to_string(rank) + "] " +
           quote(text) + " is not two tokens separated by a space");
    joined.assign(left);
    joined.append(right);
    contents.merges.push_back(
        {idOf(left, rank), idOf(right, rank), idOf(joined, rank)});
  }
  auto image = std::make_unique<Image>();
  fillImage(*image, contents);
  image->attach(source);
  return std::unique_ptr<Tokenizer>(new Tokenizer(std::move(image)));
}

std::unique_ptr<Tokenizer> Tokenizer::load(const std::string &compiledPath) {
  int fd = ::open(compiledPath.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    fail(systemError(compiledPath));
  auto image = std::make_unique<Image>();
  try {
    struct stat info;
    if (::fstat(fd, &info) != 0)
      fail(systemError(compiledPath));
    if (!S_ISREG(info.st_mode))
      fail(compiledPath + ": not a regular file");
    image->size = static_cast<uint64_t>(info.st_size);
    image->storage = allocate(image->size, /*zero=*/false);
    for (uint64_t done = 0; done < image->size;) {
      ssize_t got = ::read(fd, image->storage.get() + done, image->size - done);
      if (got < 0 && errno == EINTR)
        continue;
      if (got < 0)
        fail(systemError(compiledPath));
      if (got == 0) // shrank while being read
        image->size = done;
      done += static_cast<uint64_t>(got);
    }
  } catch (...) {
    ::close(fd);
    throw;
  }
  ::close(fd);
  image->attach(compiledPath);
  return std::unique_ptr<Tokenizer>(new Tokenizer(std::move(image)));
}

void Tokenizer::save(const std::string &compiledPath) const {
  std::string temporary = compiledPath + ".tmp." + std::to_string(::getpid());
  int fd =
      ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0)
    fail(systemError(temporary));
  const char *data = image->storage.get();
  for (uint64_t done = 0; done < image->size;) {
    ssize_t wrote = ::write(fd, data + done, image->size - done);
    if (wrote < 0 && errno == EINTR)
      continue;
    if (wrote <= 0) {
      std::string message = systemError(temporary);
      ::close(fd);
      ::unlink(temporary.c_str());
      fail(message);
    }
    done += static_cast<uint64_t>(wrote);
  }
  if (::close(fd) != 0) {
    std::string message = systemError(temporary);
    ::unlink(temporary.c_str());
    fail(message);
  }
  if (::rename(temporary.c_str(), compiledPath.c_str()) != 0) {
    std::string message = systemError(compiledPath);
    ::unlink(temporary.c_str());
    fail(message);
  }
}

int32_t Tokenizer::vocabSize() const {
  return static_cast<int32_t>(image->header.vocabSize);
}

std::string_view Tokenizer::bytesOf(int32_t id) const {
  if (id < 0 || uint32_t(id) >= image->header.vocabSize)
    throw Error("token id " + std::to_string(id) + " is out of range [0, " +
                    std::to_string(image->header.vocabSize) + ")",
                artifact::ErrorKind::TokenOutOfRange);
  return image->token(static_cast<uint32_t>(id));
}

std::string Tokenizer::tokenBytes(int32_t id) const {
  return std::string(bytesOf(id));
}

bool Tokenizer::isSpecial(int32_t id) const {
  return id >= 0 && uint32_t(id) < image->header.vocabSize &&
         image->kinds[id] == SpecialToken;
}

std::optional<int32_t> Tokenizer::specialTokenId(std::string_view text) const {
  for (int32_t id : image->addedIds)
    if (image->kinds[id] == SpecialToken && image->token(id) == text)
      return id;
  return std::nullopt;
}

std::optional<int32_t> Tokenizer::lookupToken(std::string_view bytes) const {
  int32_t id = image->findToken(bytes);
  if (id < 0)
    return std::nullopt;
  return id;
}

std::string Tokenizer::decode(const std::vector<int32_t> &ids) const {
  size_t total = 0;
  for (int32_t id : ids)
    total += bytesOf(id).size();
  std::string text;
  text.reserve(total);
  for (int32_t id : ids)
    text += image->token(static_cast<uint32_t>(id));
  return text;
}

std::vector<int32_t> Tokenizer::encode(std::string_view text) const {
  const Image &im = *image;
  std::vector<int32_t> out;
  out.reserve(text.size() / 3 + 1);
  Scratch scratch;
  // Added tokens first, leftmost-longest (as Hugging Face's matcher); the
  // text between them goes through the pre-tokenizer and BPE.
  size_t segment = 0;
  for (size_t pos = 0; pos < text.size(); ++pos) {
    auto first = static_cast<unsigned char>(text[pos]);
    if (!im.addedFirst[first])
      continue;
    for (uint32_t i = im.addedByFirst[first]; i < im.addedByFirst[first + 1];
         ++i) {
      int32_t id = im.addedIds[i];
      std::string_view token = im.token(id);
      if (text.compare(pos, token.size(), token) != 0)
        continue;
      encodeOrdinary(text.substr(segment, pos - segment), out, scratch);
      out.push_back(id);
      segment = pos + token.size();
      pos = segment - 1;
      break;
    }
  }
  encodeOrdinary(text.substr(segment), out, scratch);
  return out;
}

void Tokenizer::encodeOrdinary(std::string_view text, std::vector<int32_t> &out,
                               Scratch &scratch) const {
  for (size_t pos = 0; pos < text.size();) {
    size_t end = detail::llama3PieceEnd(text, pos);
    encodePiece(text.substr(pos, end - pos), out, scratch);
    pos = end;
  }
}

void Tokenizer::encodePiece(std::string_view piece, std::vector<int32_t> &out,
                            Scratch &scratch) const {
  const Image &im = *image;
  if (piece.size() == 1) {
    out.push_back(im.byteToken[static_cast<unsigned char>(piece[0])]);
    return;
  }
  // ignore_merges: a piece that is a token is that token, even where the
  // merges would split it differently.
  if (im.ignoreMerges)
    if (std::optional<int32_t> id = lookupToken(piece)) {
      out.push_back(*id);
      return;
    }

  // BPE: repeatedly merge the adjacent pair with the lowest rank (leftmost on
  // ties), as Hugging Face does: a min-heap of (rank, left position) over a
  // linked list of symbols; entries made stale by a merge are skipped.
  if (piece.size() > size_t(INT32_MAX))
    fail("tokenizer: a single pre-token of " + std::to_string(piece.size()) +
         " bytes is too long to encode");
  auto n = static_cast<int32_t>(piece.size());
  std::vector<int32_t> &ids = scratch.ids, &prev = scratch.prev,
                       &next = scratch.next;
  std::vector<uint64_t> &heap = scratch.heap;
  ids.resize(n);
  prev.resize(n);
  next.resize(n);
  heap.clear();
  for (int32_t i = 0; i < n; ++i) {
    ids[i] = im.byteToken[static_cast<unsigned char>(piece[i])];
    prev[i] = i - 1;
    next[i] = i + 1 < n ? i + 1 : -1;
  }
  auto candidate = [&](int32_t left) {
    int32_t right = next[left];
    if (right < 0)
      return false;
    int32_t rank = im.mergeRank(ids[left], ids[right]);
    if (rank < 0)
      return false;
    heap.push_back((uint64_t(rank) << 32) | uint32_t(left));
    return true;
  };
  for (int32_t i = 0; i + 1 < n; ++i)
    candidate(i);
  std::greater<uint64_t> later;
  std::make_heap(heap.begin(), heap.end(), later);
  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), later);
    uint64_t top = heap.back();
    heap.pop_back();
    auto rank = static_cast<uint32_t>(top >> 32);
    auto left = static_cast<int32_t>(top & 0xffffffffu);
    int32_t right = next[left];
    const uint32_t *merge = im.merges + 3 * uint64_t(rank);
    if (ids[left] < 0 || right < 0 || uint32_t(ids[left]) != merge[0] ||
        uint32_t(ids[right]) != merge[1])
      continue; // stale
    ids[left] = static_cast<int32_t>(merge[2]);
    ids[right] = -1;
    next[left] = next[right];
    if (next[left] >= 0)
      prev[next[left]] = left;
    if (prev[left] >= 0 && candidate(prev[left]))
      std::push_heap(heap.begin(), heap.end(), later);
    if (candidate(left))
      std::push_heap(heap.begin(), heap.end(), later);
  }
  for (int32_t i = 0; i >= 0; i = next[i])
    out.push_back(ids[i]);
}

//===----------------------------------------------------------------------===//
// StreamDecoder
//===----------------------------------------------------------------------===//

std::string StreamDecoder::push(int32_t id) {
  pending += tokenizer->tokenBytes(id);
  return drain(/*atEnd=*/false);
}

std::string StreamDecoder::flush() { return drain(/*atEnd=*/true); }

std::string StreamDecoder::drain(bool atEnd) {
  static const char replacement[] = "\xef\xbf\xbd"; // U+FFFD
  std::string out;
  out.reserve(pending.size());
  auto *p = reinterpret_cast<const unsigned char *>(pending.data());
  size_t n = pending.size(), i = 0;
  while (i < n) {
    unsigned char lead = p[i];
    if (lead < 0x80) {
      out += static_cast<char>(lead);
      ++i;
      continue;
    }
    // The well-formed sequences (Unicode Table 3-7): the lead byte fixes the
    // length and the range of the second byte; later bytes are 80..BF.
    int length;
    unsigned char low = 0x80, high = 0xbf;
    if (lead >= 0xc2 && lead <= 0xdf)
      length = 2;
    else if (lead >= 0xe0 && lead <= 0xef) {
      length = 3;
      low = lead == 0xe0 ? 0xa0 : 0x80;
      high = lead == 0xed ? 0x9f : 0xbf;
    } else if (lead >= 0xf0 && lead <= 0xf4) {
      length = 4;
      low = lead == 0xf0 ? 0x90 : 0x80;
      high = lead == 0xf4 ? 0x8f : 0xbf;
    } else {
      out += replacement; // never a lead byte
      ++i;
      continue;
    }
    int k = 1;
    for (; k < length; ++k) {
      if (i + k >= n)
        break;
      unsigned char byte = p[i + k];
      if (byte < (k == 1 ? low : 0x80) || byte > (k == 1 ? high : 0xbf))
        break;
    }
    if (k == length) {
      out.append(pending, i, length);
      i += length;
    } else if (i + k >= n && !atEnd) {
      break; // incomplete so far: wait for the next token
    } else {
      out += replacement; // the maximal ill-formed subpart p[i, i + k)
      i += k;
    }
  }
  pending.erase(0, i);
  if (atEnd)
    pending.clear();
  return out;
}

} // namespace llamac::tokenizer
