//===- JSON.cpp - Reading JSON files the way llamac always has ------------===//
#include "llamac/Artifact/JSON.h"

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstring>

namespace llamac::artifact {

namespace {

/// Containers deeper than this print as "[...]" in excerpts.
constexpr int kExcerptDepth = 8;

void appendExcerpt(const nlohmann::json &value, std::string &out, size_t limit,
                   int depth) {
  const bool object = value.is_object();
  if (!object && !value.is_array()) {
    out += value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    return;
  }
  if (depth >= kExcerptDepth) {
    out += object ? "{...}" : "[...]";
    return;
  }
  out += object ? '{' : '[';
  bool first = true;
  for (auto item = value.begin(); item != value.end(); ++item) {
    if (out.size() > limit)
      return; // the caller cuts the text here anyway
    if (!first)
      out += ',';
    first = false;
    if (object)
      out +=
          nlohmann::json(item.key())
              .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) +
          ":";
    appendExcerpt(*item, out, limit, depth + 1);
  }
  out += object ? '}' : ']';
}

} // namespace

std::optional<int64_t> jsonInteger(const nlohmann::json &value) {
  if (value.is_number_unsigned()) {
    uint64_t number = value.get<uint64_t>();
    if (number > uint64_t(INT64_MAX))
      return std::nullopt;
    return int64_t(number);
  }
  if (value.is_number_integer())
    return value.get<int64_t>();
  if (value.is_number_float()) {
    double number = value.get<double>(), whole;
    // 2^63 itself is out of range; every double below it converts exactly.
    if (std::modf(number, &whole) == 0.0 && number >= -0x1p63 &&
        number < 0x1p63)
      return int64_t(number);
  }
  return std::nullopt;
}

std::string jsonErrorReason(const std::exception &error) {
  const char *message = error.what();
  if (message[0] == '[')
    if (const char *end = std::strstr(message, "] "))
      return end + 2;
  return message;
}

std::string jsonExcerpt(const nlohmann::json &value, size_t limit) {
  std::string text;
  appendExcerpt(value, text, limit, 0);
  return text.size() > limit ? text.substr(0, limit) + "..." : text;
}

} // namespace llamac::artifact
