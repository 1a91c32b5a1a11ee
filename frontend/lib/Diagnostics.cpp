//===- Diagnostics.cpp - Shared pieces of the readers' messages -----------===//
#include "Diagnostics.h"

#include "llvm/Support/raw_ostream.h"

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

} // namespace llamac::diag
