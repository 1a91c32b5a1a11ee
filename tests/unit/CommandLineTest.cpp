//===- CommandLineTest.cpp - llamac-run's option parser -------------------===//
//
// Spellings, values and numbers as llvm::cl read them, and each mistake in
// llvm::cl's words (which llamac-run printed before it dropped LLVM, and
// which its lit tests match), written out here.
//
//===----------------------------------------------------------------------===//
#include "CommandLine.h"

#include "gtest/gtest.h"

#include <climits>
#include <cmath>
#include <sstream>

using namespace llamac::cli;

namespace {

/// A parser with one option of each kind, as llamac-run declares them.
struct Options {
  Options() : parser("prog", "[options] <dir>", "Try the parser") {
    parser.positional(dir, "dir");
    parser.option({"n"}, count, "N", "How many");
    parser.option({"threads", "t"}, threads, "N", "Worker threads");
    parser.option({"seed"}, seed, "N", "Random seed");
    parser.option({"temp"}, temperature, "number", "Temperature");
    parser.option({"p", "prompt"}, prompt, "text", "Prompt text");
    parser.flag({"chat"}, chat, "Chat format");
  }
  OptionParser parser;
  std::string dir, prompt;
  int64_t count = -1;
  int threads = 0;
  uint64_t seed = 0;
  double temperature = 0.8;
  bool chat = false;
};

/// What parsing `args` throws (empty when it does not).
std::string mistake(const std::vector<std::string> &args) {
  Options options;
  try {
    options.parser.parse(args);
  } catch (const UsageError &error) {
    return error.what();
  }
  return "";
}

TEST(CommandLine, ReadsEverySpelling) {
  Options o;
  ASSERT_TRUE(o.parser.parse({"art", "-n", "-1", "--threads=2", "-temp", "0.5",
                              "--seed", "0x10", "--chat", "--prompt", "-x"}));
  EXPECT_EQ(o.dir, "art");
  EXPECT_EQ(o.count, -1) << "a value may start with a dash";
  EXPECT_EQ(o.threads, 2);
  EXPECT_EQ(o.temperature, 0.5) << "one dash is as good as two";
  EXPECT_EQ(o.seed, 16u);
  EXPECT_TRUE(o.chat);
  EXPECT_EQ(o.prompt, "-x");
  for (const char *name :
       {"n", "threads", "t", "temp", "seed", "chat", "p", "prompt"})
    EXPECT_TRUE(o.parser.given(name)) << name;
  EXPECT_FALSE(o.parser.given("ctx"));

  Options defaults;
  ASSERT_TRUE(defaults.parser.parse({"art"}));
  EXPECT_FALSE(defaults.parser.given("n"));
  EXPECT_EQ(defaults.count, -1);
  EXPECT_EQ(defaults.temperature, 0.8);
}

TEST(CommandLine, FlagsLastValuesAndDoubleDash) {
  Options o;
  ASSERT_TRUE(o.parser.parse(
      {"--chat=1", "-t", "1", "--t=3", "--chat=false", "--", "-art"}));
  EXPECT_FALSE(o.chat);
  EXPECT_EQ(o.threads, 3) << "the last occurrence wins";
  EXPECT_EQ(o.dir, "-art") << "after --, arguments are positional";
  Options stdinPath;
  ASSERT_TRUE(stdinPath.parser.parse({"-", "-p="}));
  EXPECT_EQ(stdinPath.dir, "-");
  EXPECT_EQ(stdinPath.prompt, "") << "a string may be empty";
  EXPECT_TRUE(stdinPath.parser.given("p"));
}

TEST(CommandLine, NumbersReadAsLLVMReadThem) {
  EXPECT_EQ(parseSigned("42", INT64_MIN, INT64_MAX), 42);
  EXPECT_EQ(parseSigned("010", INT64_MIN, INT64_MAX), 8);
  EXPECT_EQ(parseSigned("0o17", INT64_MIN, INT64_MAX), 15);
  EXPECT_EQ(parseSigned("0b101", INT64_MIN, INT64_MAX), 5);
  EXPECT_EQ(parseSigned("-0x10", INT64_MIN, INT64_MAX), -16);
  EXPECT_EQ(parseSigned("0", INT64_MIN, INT64_MAX), 0);
  EXPECT_EQ(parseSigned("9223372036854775807", INT64_MIN, INT64_MAX),
            INT64_MAX);
  EXPECT_EQ(parseSigned("-9223372036854775808", INT64_MIN, INT64_MAX),
            INT64_MIN);
  for (const char *bad :
       {"9223372036854775808", "-9223372036854775809", "", "-", "+5", " 5",
        "5 ", "1.5", "1e3", "0x", "08", "0b2", "abc"})
    EXPECT_EQ(parseSigned(bad, INT64_MIN, INT64_MAX), std::nullopt) << bad;
  EXPECT_EQ(parseSigned("2147483647", INT_MIN, INT_MAX), INT_MAX);
  EXPECT_EQ(parseSigned("2147483648", INT_MIN, INT_MAX), std::nullopt);

  EXPECT_EQ(parseUnsigned("18446744073709551615"), UINT64_MAX);
  EXPECT_EQ(parseUnsigned("18446744073709551616"), std::nullopt);
  EXPECT_EQ(parseUnsigned("-1"), std::nullopt);

  EXPECT_EQ(parseDouble("1e3"), 1000.0);
  EXPECT_EQ(parseDouble("0x10"), 16.0);
  EXPECT_EQ(parseDouble("-0.25"), -0.25);
  EXPECT_TRUE(std::isnan(*parseDouble("nan")))
      << "NaN is read; the sampler refuses it";
  for (const char *bad : {"", "abc", "1.5x", "1,5"})
    EXPECT_EQ(parseDouble(bad), std::nullopt) << bad;
}

TEST(CommandLine, MistakesInLLVMWords) {
  const std::pair<std::vector<std::string>, std::string> cases[] = {
      {{"art", "--temp", "abc"},
       "prog: for the --temp option: 'abc' value invalid for floating point "
       "argument!"},
      {{"art", "--seed", "-1"},
       "prog: for the --seed option: '-1' value invalid for ulong argument!"},
      {{"art", "-n", "5x"},
       "prog: for the -n option: '5x' value invalid for long argument!"},
      {{"art", "-t", "abc"},
       "prog: for the --threads option: 'abc' value invalid for integer "
       "argument!"},
      {{"art", "--threads=4294967296"},
       "prog: for the --threads option: '4294967296' value invalid for "
       "integer argument!"},
      {{"art", "--chat=yes"},
       "prog: for the --chat option: 'yes' is invalid value for boolean "
       "argument! Try 0 or 1"},
      {{"art", "--temp"}, "prog: for the --temp option: requires a value!"},
      {{"art", "--frobnicate"},
       "prog: Unknown command line argument '--frobnicate'.  Try: 'prog "
       "--help'"},
      {{"art", "--tmp", "1"},
       "prog: Unknown command line argument '--tmp'.  Try: 'prog --help'; "
       "did you mean '--temp'?"},
      {{"art", "extra"},
       "prog: Too many positional arguments specified! Can specify at most 1 "
       "positional arguments: See: prog --help"},
      {{},
       "prog: Not enough positional command line arguments specified! Must "
       "specify at least 1 positional argument: See: prog --help"},
  };
  for (const auto &[args, message] : cases)
    EXPECT_EQ(mistake(args), message);
}

TEST(CommandLine, HelpListsEveryOption) {
  Options o;
  EXPECT_FALSE(o.parser.parse({"--help"})) << "before any other check";
  Options late;
  EXPECT_FALSE(late.parser.parse({"art", "-n", "3", "-help"}));
  std::string help = o.parser.help();
  for (const char *part :
       {"OVERVIEW: Try the parser\n", "USAGE: prog [options] <dir>\n",
        "  -n <N>", "--threads, -t <N>", "-p, --prompt <text>", "  --chat ",
        "  --help "})
    EXPECT_NE(help.find(part), std::string::npos) << part << " in\n" << help;
  std::istringstream lines(help);
  for (std::string line; std::getline(lines, line);)
    EXPECT_LE(line.size(), 80u) << line;
}

} // namespace
