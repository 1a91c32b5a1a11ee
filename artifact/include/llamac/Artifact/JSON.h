//===- JSON.h - Reading JSON files the way llamac always has ----*- C++ -*-===//
//
// Small helpers over nlohmann::json shared by the readers of manifest.json,
// tokenizer.json and the tools: integers as the files llamac reads have
// always been read (5 or 5.0), error reasons without the library's tags,
// short excerpts of values for messages.
//
//===----------------------------------------------------------------------===//
#ifndef LLAMAC_ARTIFACT_JSON_H
#define LLAMAC_ARTIFACT_JSON_H

#include <nlohmann/json_fwd.hpp>

#include <cstddef>
#include <cstdint>
#include <exception>
#include <optional>
#include <string>

namespace llamac::artifact {

/// The value of a JSON number that is an integer in int64_t's range (5 and
/// 5.0 both are); nothing for anything else.
std::optional<int64_t> jsonInteger(const nlohmann::json &value);

/// An exception's message without nlohmann's "[json.exception.NAME.ID] "
/// tag: "parse error at line 1, column 12: syntax error ...".
std::string jsonErrorReason(const std::exception &error);

/// Compact JSON text of `value` for a message: at most `limit` characters,
/// then "..."; containers nested deeper than a few levels print as "[...]"
/// or "{...}", so any value takes little time and stack.
std::string jsonExcerpt(const nlohmann::json &value, size_t limit = 60);

} // namespace llamac::artifact

#endif // LLAMAC_ARTIFACT_JSON_H
