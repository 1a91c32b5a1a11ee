//===- Diagnostics.cpp - Shared pieces of the readers ---------------------===//
#include "Diagnostics.h"

#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Support/raw_ostream.h"

#include <cstdio>

using namespace llvm;

namespace llamac::diag {

StringRef jsonKindName(const json::Value &value) {
  switch (value.kind()) {
  case json::Value::Null:
    return "null";
  case json::Value::Boolean:
    return "boolean";
  case json::Value::Number:
    return "number";
  case json::Value::String:
    return "string";
  case json::Value::Array:
    return "array";
  case json::Value::Object:
    return "object";
  }
  return "unknown";
}

std::string renderJSON(const json::Value &value) {
  std::string text;
  raw_string_ostream os(text);
  os << value;
  os.flush();
  if (text.size() > 40)
    text = text.substr(0, 37) + "...";
  return text;
}

std::string formatShape(ArrayRef<int64_t> shape) {
  std::string text = "[";
  for (size_t i = 0, e = shape.size(); i != e; ++i) {
    if (i)
      text += ", ";
    text += std::to_string(shape[i]);
  }
  return text + "]";
}

std::string printable(StringRef text) {
  std::string out;
  for (char c : text.take_front(64)) {
    if (c == '\n') {
      out += "\\n";
    } else if ((unsigned char)c < 0x20 || c == 0x7f) {
      char hex[8];
      std::snprintf(hex, sizeof(hex), "\\x%02x", (unsigned char)c);
      out += hex;
    } else {
      out += c;
    }
  }
  if (text.size() > 64)
    out += "...";
  return out;
}

/// Decodes the JSON string literal `literal` (quotes included), resolving
/// escapes, so that "a" and "\u0061" compare equal as they do after parsing.
static std::string decodeStringLiteral(StringRef literal) {
  Expected<json::Value> value = json::parse(literal);
  if (!value) {
    consumeError(value.takeError());
    return literal.str();
  }
  if (std::optional<StringRef> text = value->getAsString())
    return text->str();
  return literal.str();
}

std::optional<DuplicateKey> findDuplicateKey(StringRef text) {
  struct Frame {
    bool isObject;
    /// In an object: the next string is a key, not a value.
    bool expectKey;
    StringSet<> keys;
  };
  SmallVector<Frame, 8> stack;
  std::string topLevelKey;
  for (size_t i = 0, e = text.size(); i < e; ++i) {
    char c = text[i];
    switch (c) {
    case '{':
      stack.push_back({/*isObject=*/true, /*expectKey=*/true, {}});
      break;
    case '[':
      stack.push_back({/*isObject=*/false, /*expectKey=*/false, {}});
      break;
    case '}':
    case ']':
      if (!stack.empty())
        stack.pop_back();
      break;
    case ',':
      if (!stack.empty() && stack.back().isObject)
        stack.back().expectKey = true;
      break;
    case '"': {
      size_t start = i;
      // The text is valid JSON, so the literal is terminated; skip escaped
      // characters (including \" and \\) in pairs.
      for (++i; i < e && text[i] != '"'; ++i)
        if (text[i] == '\\')
          ++i;
      if (stack.empty() || !stack.back().isObject || !stack.back().expectKey)
        break;
      Frame &frame = stack.back();
      frame.expectKey = false;
      std::string key = decodeStringLiteral(text.slice(start, i + 1));
      if (stack.size() == 1)
        topLevelKey = key;
      if (!frame.keys.insert(key).second)
        return DuplicateKey{key, stack.size() == 1 ? "" : topLevelKey};
      break;
    }
    default:
      break;
    }
  }
  return std::nullopt;
}

} // namespace llamac::diag
