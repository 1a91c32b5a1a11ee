//===- CommandLine.h - A small command-line option parser -------*- C++ -*-===//
//
// What llamac-run needs to read its options, without LLVM: options in the
// spellings llama.cpp users know, `--name value` or `--name=value` (one
// dash works as well as two, as it did with llvm::cl), flags that take no
// value but `--flag=true|false|1|0`, positional arguments in their declared
// order, `--` before arguments that only look like options, and `--help`.
// Numbers are read as llvm::cl read them (0x.. hexadecimal, 0.. octal), and
// every mistake is reported in llvm::cl's words, which scripts and tests
// match:
//
//   llamac-run: for the --temp option: 'abc' value invalid for floating
//   point argument!
//
//===----------------------------------------------------------------------===//
#ifndef LLAMAC_TOOLS_COMMANDLINE_H
#define LLAMAC_TOOLS_COMMANDLINE_H

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace llamac::cli {

/// A mistake on the command line. The message is complete, the program's
/// name first, and fits on one line.
class UsageError : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

/// llvm::cl's reading of an integer: an optional '-' (signed types only),
/// then 0x/0X (hexadecimal), 0b/0B (binary), 0o or a leading 0 (octal) or
/// decimal digits, nothing else; nothing when the text is not one or is
/// out of the type's range.
std::optional<int64_t> parseSigned(std::string_view text, int64_t min,
                                   int64_t max);
std::optional<uint64_t> parseUnsigned(std::string_view text);
/// strtod's reading of all of `text` (not empty); nothing otherwise.
std::optional<double> parseDouble(std::string_view text);

class OptionParser {
public:
  /// `program` starts every message ("llamac-run", "llamac-run bench");
  /// `usage` follows it in the help's USAGE line ("[options] <artifact
  /// dir>"), `overview` heads the help.
  OptionParser(std::string program, std::string usage, std::string overview);

  /// A flag: given, `value` becomes true. The first name is the one
  /// messages use; one-letter names print with one dash.
  void flag(std::vector<std::string> names, bool &value, std::string help);
  /// An option with a value, stored into `value` (which holds the
  /// default): a std::string, int, int64_t, uint64_t or double.
  /// `valueName` stands for the value in the help.
  template <typename T>
  void option(std::vector<std::string> names, T &value, std::string valueName,
              std::string help) {
    add(std::move(names), kindOf(value), &value, std::move(valueName),
        std::move(help));
  }
  /// A positional argument, required; they are filled in declaration
  /// order.
  void positional(std::string &value, std::string name);

  /// Reads `args` (the program's own name not among them). Returns false
  /// when `--help` was given: the help is then the only thing done (see
  /// help()). Throws UsageError for anything it cannot read.
  bool parse(const std::vector<std::string> &args);

  /// Whether an option (by any of its names) was given.
  bool given(std::string_view name) const;

  /// What `--help` prints.
  std::string help() const;

private:
  enum class Kind { Flag, String, Int, Int64, UInt64, Double };
  struct Option {
    std::vector<std::string> names;
    Kind kind;
    void *target;
    std::string valueName;
    std::string help;
    int occurrences = 0;
  };

  static Kind kindOf(std::string &) { return Kind::String; }
  static Kind kindOf(int &) { return Kind::Int; }
  static Kind kindOf(int64_t &) { return Kind::Int64; }
  static Kind kindOf(uint64_t &) { return Kind::UInt64; }
  static Kind kindOf(double &) { return Kind::Double; }

  void add(std::vector<std::string> names, Kind kind, void *target,
           std::string valueName, std::string help);
  const Option *find(std::string_view name) const;
  Option *find(std::string_view name);
  /// Stores `value` into `option` or throws in llvm::cl's words.
  void assign(Option &option, const std::string &value) const;
  /// "--temp" or "-n": how messages name an option.
  static std::string spelling(const Option &option);
  [[noreturn]] void unknown(const std::string &argument) const;

  std::string program, usage, overview;
  std::vector<Option> options;
  std::vector<std::pair<std::string *, std::string>> positionals;
};

} // namespace llamac::cli

#endif // LLAMAC_TOOLS_COMMANDLINE_H
