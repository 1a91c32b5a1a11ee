//===- CommandLine.cpp - A small command-line option parser ---------------===//
#include "CommandLine.h"

#include <algorithm>
#include <climits>
#include <cstdlib>
#include <utility>

namespace llamac::cli {

namespace {

/// The radix `text` is written in, its prefix consumed.
unsigned consumeRadix(std::string_view &text) {
  if (text.size() >= 2 && text[0] == '0') {
    char marker = text[1];
    if (marker == 'x' || marker == 'X') {
      text.remove_prefix(2);
      return 16;
    }
    if (marker == 'b' || marker == 'B') {
      text.remove_prefix(2);
      return 2;
    }
    if (marker == 'o') {
      text.remove_prefix(2);
      return 8;
    }
    if (marker >= '0' && marker <= '9') {
      text.remove_prefix(1);
      return 8;
    }
  }
  return 10;
}

int digitValue(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'z')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'Z')
    return c - 'A' + 10;
  return INT_MAX;
}

/// Levenshtein distance, for suggesting the option meant.
size_t editDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j)
    row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1,
                         diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

} // namespace

std::optional<uint64_t> parseUnsigned(std::string_view text) {
  unsigned radix = consumeRadix(text);
  if (text.empty())
    return std::nullopt;
  uint64_t value = 0;
  for (char c : text) {
    int digit = digitValue(c);
    if (digit >= int(radix) || value > (UINT64_MAX - uint64_t(digit)) / radix)
      return std::nullopt;
    value = value * radix + uint64_t(digit);
  }
  return value;
}

std::optional<int64_t> parseSigned(std::string_view text, int64_t min,
                                   int64_t max) {
  bool negative = !text.empty() && text[0] == '-';
  std::optional<uint64_t> magnitude =
      parseUnsigned(negative ? text.substr(1) : text);
  if (!magnitude)
    return std::nullopt;
  // -2^63 is the one magnitude that fits only as a negative number.
  if (*magnitude > uint64_t(INT64_MAX) + (negative ? 1 : 0))
    return std::nullopt;
  int64_t value = negative ? int64_t(0 - *magnitude) : int64_t(*magnitude);
  if (value < min || value > max)
    return std::nullopt;
  return value;
}

std::optional<double> parseDouble(std::string_view text) {
  if (text.empty())
    return std::nullopt;
  std::string copy(text); // strtod wants a terminated string
  char *end = nullptr;
  double value = std::strtod(copy.c_str(), &end);
  if (end != copy.c_str() + copy.size())
    return std::nullopt;
  return value;
}

OptionParser::OptionParser(std::string program, std::string usage,
                           std::string overview)
    : program(std::move(program)), usage(std::move(usage)),
      overview(std::move(overview)) {}

void OptionParser::add(std::vector<std::string> names, Kind kind, void *target,
                       std::string valueName, std::string help) {
  options.push_back(
      {std::move(names), kind, target, std::move(valueName), std::move(help)});
}

void OptionParser::flag(std::vector<std::string> names, bool &value,
                        std::string help) {
  add(std::move(names), Kind::Flag, &value, "", std::move(help));
}
void OptionParser::positional(std::string &value, std::string name) {
  positionals.emplace_back(&value, std::move(name));
}

const OptionParser::Option *OptionParser::find(std::string_view name) const {
  for (const Option &option : options)
    if (std::find(option.names.begin(), option.names.end(), name) !=
        option.names.end())
      return &option;
  return nullptr;
}

OptionParser::Option *OptionParser::find(std::string_view name) {
  return const_cast<Option *>(std::as_const(*this).find(name));
}

bool OptionParser::given(std::string_view name) const {
  const Option *option = find(name);
  return option && option->occurrences > 0;
}

std::string OptionParser::spelling(const Option &option) {
  const std::string &name = option.names.front();
  return (name.size() == 1 ? "-" : "--") + name;
}

void OptionParser::assign(Option &option, const std::string &value) const {
  auto invalid = [&](const char *type) {
    throw UsageError(program + ": for the " + spelling(option) + " option: '" +
                     value + "' value invalid for " + type + " argument!");
  };
  switch (option.kind) {
  case Kind::Flag:
    if (value == "true" || value == "TRUE" || value == "True" || value == "1")
      *static_cast<bool *>(option.target) = true;
    else if (value == "false" || value == "FALSE" || value == "False" ||
             value == "0")
      *static_cast<bool *>(option.target) = false;
    else
      throw UsageError(program + ": for the " + spelling(option) +
                       " option: '" + value +
                       "' is invalid value for boolean argument! Try 0 or 1");
    return;
  case Kind::String:
    *static_cast<std::string *>(option.target) = value;
    return;
  case Kind::Int:
    if (std::optional<int64_t> number = parseSigned(value, INT_MIN, INT_MAX))
      *static_cast<int *>(option.target) = int(*number);
    else
      invalid("integer");
    return;
  case Kind::Int64:
    if (std::optional<int64_t> number =
            parseSigned(value, INT64_MIN, INT64_MAX))
      *static_cast<int64_t *>(option.target) = *number;
    else
      invalid("long");
    return;
  case Kind::UInt64:
    if (std::optional<uint64_t> number = parseUnsigned(value))
      *static_cast<uint64_t *>(option.target) = *number;
    else
      invalid("ulong");
    return;
  case Kind::Double:
    if (std::optional<double> number = parseDouble(value))
      *static_cast<double *>(option.target) = *number;
    else
      invalid("floating point");
    return;
  }
}

void OptionParser::unknown(const std::string &argument) const {
  std::string message = program + ": Unknown command line argument '" +
                        argument + "'.  Try: '" + program + " --help'";
  // Suggest the option meant when one is close enough to be a typo.
  std::string_view name = argument;
  name.remove_prefix(std::min(name.find_first_not_of('-'), name.size()));
  name = name.substr(0, name.find('='));
  const Option *nearest = nullptr;
  size_t best = SIZE_MAX;
  for (const Option &option : options)
    for (const std::string &candidate : option.names)
      if (size_t distance = editDistance(name, candidate); distance < best) {
        best = distance;
        nearest = &option;
      }
  if (nearest && best <= std::max<size_t>(1, name.size() / 3))
    message += "; did you mean '" + spelling(*nearest) + "'?";
  throw UsageError(message);
}

bool OptionParser::parse(const std::vector<std::string> &args) {
  size_t nextPositional = 0;
  auto addPositional = [&](const std::string &value) {
    if (nextPositional == positionals.size())
      throw UsageError(program +
                       ": Too many positional arguments specified! Can "
                       "specify at most " +
                       std::to_string(positionals.size()) +
                       " positional arguments: See: " + program + " --help");
    *positionals[nextPositional++].first = value;
  };
  bool optionsEnded = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string &argument = args[i];
    if (optionsEnded || argument.size() < 2 || argument[0] != '-') {
      addPositional(argument);
      continue;
    }
    if (argument == "--") {
      optionsEnded = true;
      continue;
    }
    std::string_view name = argument;
    name.remove_prefix(name.compare(0, 2, "--") == 0 ? 2 : 1);
    std::optional<std::string> value;
    if (size_t equals = name.find('='); equals != std::string_view::npos) {
      value = std::string(name.substr(equals + 1));
      name = name.substr(0, equals);
    }
    if (name == "help" && !value)
      return false;
    Option *option = find(name);
    if (!option)
      unknown(argument);
    ++option->occurrences;
    if (option->kind == Kind::Flag) {
      assign(*option, value.value_or("true"));
      continue;
    }
    if (!value) {
      // The next argument is the value whatever it looks like: `-n -1`.
      if (i + 1 == args.size())
        throw UsageError(program + ": for the " + spelling(*option) +
                         " option: requires a value!");
      value = args[++i];
    }
    assign(*option, *value);
  }
  if (nextPositional < positionals.size())
    throw UsageError(program +
                     ": Not enough positional command line arguments "
                     "specified! Must specify at least " +
                     std::to_string(positionals.size()) +
                     " positional argument: See: " + program + " --help");
  return true;
}

std::string OptionParser::help() const {
  std::string text = "OVERVIEW: " + overview + "\n\nUSAGE: " + program + " " +
                     usage + "\n\nOPTIONS:\n";
  std::vector<std::pair<std::string, std::string>> rows;
  size_t width = 0;
  for (const Option &option : options) {
    std::string names;
    for (const std::string &name : option.names)
      names += (names.empty() ? "" : ", ") +
               std::string(name.size() == 1 ? "-" : "--") + name;
    if (option.kind != Kind::Flag)
      names += " <" + option.valueName + ">";
    width = std::max(width, names.size());
    rows.emplace_back(std::move(names), option.help);
  }
  rows.emplace_back("--help", "Display the options of this command");
  width = std::max<size_t>(width, 6);
  // Descriptions wrap at 80 columns, aligned after the widest names.
  const size_t indent = width + 4, columns = std::max<size_t>(80, indent + 30);
  for (const auto &[names, help] : rows) {
    std::string line =
        "  " + names + std::string(width - names.size() + 2, ' ');
    size_t start = 0;
    while (start < help.size()) {
      size_t end = help.size();
      if (indent + (end - start) > columns) {
        end = help.rfind(' ', start + (columns - indent));
        if (end == std::string::npos || end <= start)
          end = help.find(' ', start + (columns - indent));
        if (end == std::string::npos)
          end = help.size();
      }
      text += line + help.substr(start, end - start) + "\n";
      line = std::string(indent, ' ');
      start = end + 1;
    }
  }
  return text;
}

} // namespace llamac::cli
