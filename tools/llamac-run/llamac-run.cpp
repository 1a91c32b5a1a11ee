//===- llamac-run.cpp - Run a compiled llamac artifact --------------------===//
//
//   llamac-run ART (--tokens IDS | -p TEXT [--chat]) [sampling] [-n N] ...
//   llamac-run ART chat [--system TEXT] [sampling] ...
//   llamac-run tokenize (ART | tokenizer.json) [--jsonl]
//   llamac-run bench ART [-p 64,512] [-n 128] [-d 0,4096] [-t 2] [--json] [--profile]
//
// Each mode is a function with its own options (CommandLine.h), so that
// `--help` lists exactly what the mode takes. What a mode does beyond
// reading options and printing is in the runtime library (prompts,
// generation, the chat conversation, benchmarks). No LLVM: the tool ships
// with the runtime alone.
//
//===----------------------------------------------------------------------===//
#include "CommandLine.h"

#include "llamac/Artifact/Files.h"
#include "llamac/Runtime/Bench.h"
#include "llamac/Runtime/Chat.h"
#include "llamac/Runtime/Conversation.h"
#include "llamac/Runtime/Generate.h"
#include "llamac/Runtime/Prompt.h"
#include "llamac/Runtime/Runtime.h"
#include "llamac/Runtime/Sampler.h"
#include "llamac/Tokenizer/Tokenizer.h"

#include <nlohmann/json.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <functional>
#include <iostream>
#include <iterator>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace rt = llamac::runtime;
namespace tok = llamac::tokenizer;
using llamac::cli::OptionParser;
using json = nlohmann::json;

namespace {

constexpr const char *kUsage =
    R"(llamac-run: run a compiled llamac artifact

USAGE:
  llamac-run ART --tokens 128000,9906,11 [options]   token ids in, ids out
  llamac-run ART -p "text" [--chat] [options]         text in, streamed text out
  llamac-run ART -f prompt.txt [--chat] [options]     the same, text from a file
  llamac-run ART chat [options]                       interactive conversation
  llamac-run tokenize (ART | tokenizer.json) [--jsonl] text on stdin -> ids
  llamac-run bench ART [-p 64,512] [-n 128] [-d 0,4096] [-t 2] [--json] [--profile]

Run 'llamac-run ART --help', 'llamac-run ART chat --help' or
'llamac-run tokenize --help', 'llamac-run bench --help' for the options.
)";

int checkedThreads(int threads) {
  constexpr int kMaxThreads = rt::LoadOptions::kMaxThreads;
  if (threads < 0 || threads > kMaxThreads)
    throw rt::Error("--threads must be between 0 (all cores) and " +
                    std::to_string(kMaxThreads) + ", got " +
                    std::to_string(threads));
  return threads;
}

/// printf to a string, for the figures printed below.
template <typename... Args>
std::string format(const char *pattern, Args... args) {
  int size = std::snprintf(nullptr, 0, pattern, args...);
  std::string text(size_t(std::max(size, 0)) + 1, '\0');
  std::snprintf(text.data(), text.size(), pattern, args...);
  text.pop_back();
  return text;
}

void print(const std::string &text) {
  std::fwrite(text.data(), 1, text.size(), stdout);
}
void printError(const std::string &text) {
  std::fwrite(text.data(), 1, text.size(), stderr);
}

bool isDirectory(const std::string &path) {
  struct stat status;
  return ::stat(path.c_str(), &status) == 0 && S_ISDIR(status.st_mode);
}

/// `text` without leading and trailing ASCII whitespace.
std::string_view trimmed(std::string_view text) {
  const char *space = " \t\n\v\f\r";
  size_t begin = text.find_first_not_of(space);
  if (begin == std::string_view::npos)
    return {};
  return text.substr(begin, text.find_last_not_of(space) - begin + 1);
}

/// A decimal integer, all of `text` (surrounding whitespace allowed).
std::optional<int64_t> decimal(std::string_view text) {
  text = trimmed(text);
  int64_t value;
  auto [end, error] =
      std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || error != std::errc() || end != text.data() + text.size())
    return std::nullopt;
  return value;
}

/// The comma-separated parts of `text`, empty ones included.
std::vector<std::string> splitCommas(const std::string &text) {
  std::vector<std::string> parts;
  size_t begin = 0;
  while (true) {
    size_t comma = text.find(',', begin);
    parts.push_back(text.substr(begin, comma - begin));
    if (comma == std::string::npos)
      return parts;
    begin = comma + 1;
  }
}

/// Options every generating mode shares.
struct CommonOptions {
  /// Declares them on `parser`, which must outlive the queries below.
  void declare(OptionParser &parser) {
    this->parser = &parser;
    parser.option({"ctx", "c"}, contextLength, "N",
                  "Context length: tokens the KV cache holds");
    parser.option({"threads", "t"}, threads, "N",
                  "Worker threads (default: all cores)");
    parser.option({"prefill-chunk"}, prefillChunk, "N",
                  "Prompt tokens per prefill call: longer prompts run in "
                  "chunks, which bounds the memory of the activations "
                  "(default 512; 0 = the whole prompt at once)");
    parser.option({"n"}, maxNewTokens, "N",
                  "Generate at most N tokens; -1: until EOS or the context "
                  "is full (the default, except with --tokens: 16)");
    parser.option({"temp"}, sampling.temperature, "number",
                  "Temperature; 0 = greedy (default 0.8; greedy with "
                  "--tokens unless given)");
    parser.option({"top-k"}, sampling.topK, "N", "Top-k sampling, 0 = off");
    parser.option({"top-p"}, sampling.topP, "number",
                  "Top-p sampling, 1 = off");
    parser.option({"min-p"}, sampling.minP, "number",
                  "Min-p sampling, 0 = off");
    parser.option({"repeat-penalty"}, sampling.repeatPenalty, "number",
                  "Penalty for recent tokens, 1 = off");
    parser.option({"repeat-last-n"}, sampling.repeatLastN, "N",
                  "Tokens the repetition penalty looks back on");
    parser.option({"seed"}, sampling.seed, "N",
                  "Random seed: the same seed gives the same text");
    parser.flag({"ignore-eos"}, ignoreEos,
                "Do not stop at an end-of-sequence id");
    parser.option({"date"}, date, "date",
                  "'Today Date' of the chat template (YYYY-MM-DD; default: "
                  "today), for reproducible prompts");
  }

  /// The -n limit; `fallback` when -n is not given.
  int64_t tokenLimit(int64_t fallback) const {
    if (maxNewTokens < -1)
      throw rt::Error("-n must be >= -1 (-1: until EOS or the context is "
                      "full), got " +
                      std::to_string(maxNewTokens));
    if (!parser->given("n"))
      return fallback;
    return maxNewTokens == -1 ? contextLength : maxNewTokens;
  }
  /// Without an explicit count, running out of context ends the
  /// generation; an explicit count that does not fit is an error.
  bool stopAtContextEnd() const {
    return !parser->given("n") || maxNewTokens == -1;
  }

  /// What --threads and --prefill-chunk ask of the loader.
  rt::LoadOptions loadOptions() const {
    if (prefillChunk < 0)
      throw rt::Error("--prefill-chunk must be >= 0 (0: the whole prompt at "
                      "once), got " +
                      std::to_string(prefillChunk));
    rt::LoadOptions options;
    options.threads = checkedThreads(threads);
    options.prefillChunk = prefillChunk;
    return options;
  }

  /// The sampling options, checked; greedy unless --temp is given when
  /// `greedyDefault`.
  rt::SamplerOptions sampler(bool greedyDefault) const {
    rt::SamplerOptions options = sampling;
    if (greedyDefault && !parser->given("temp"))
      options.temperature = 0.0;
    options.validate();
    return options;
  }
  std::string today() const {
    return date.empty() ? rt::ChatFormat::formatDate(std::time(nullptr))
                        : rt::ChatFormat::parseDate(date);
  }
  /// The ids generation stops at: the model's end ids, or none with
  /// --ignore-eos.
  std::vector<int64_t> stopIds(const rt::Manifest &manifest) const {
    return ignoreEos ? std::vector<int64_t>() : manifest.stopTokenIds();
  }

  const OptionParser *parser = nullptr;
  int64_t contextLength = 4096;
  int threads = 0;
  int64_t prefillChunk = rt::LoadOptions().prefillChunk;
  int64_t maxNewTokens = -1;
  /// llama.cpp's defaults, the sampler's own.
  rt::SamplerOptions sampling;
  bool ignoreEos = false;
  std::string date;
};

std::vector<int32_t> parseTokens(const std::string &text) {
  std::vector<int32_t> tokens;
  for (const std::string &part : splitCommas(text)) {
    std::optional<int64_t> value = decimal(part);
    if (!value || *value < 0 || *value > INT32_MAX)
      throw rt::Error("--tokens: '" + part +
                      "' is not a token id (expected e.g. 128000,9906,11)");
    tokens.push_back(int32_t(*value));
  }
  return tokens;
}

/// The artifact's tokenizer, with a message that says how to get one.
std::unique_ptr<tok::Tokenizer> loadArtifactTokenizer(const std::string &dir) {
  std::string path = dir + "/tokenizer.bin";
  if (::access(path.c_str(), F_OK) != 0)
    throw rt::Error(dir + ": the artifact has no tokenizer (compile a "
                          "checkpoint that has tokenizer.json, or use "
                          "--tokens)");
  return tok::Tokenizer::load(path);
}

/// Prints streamed text as soon as it comes.
void printStreamed(const std::string &text) {
  print(text);
  std::fflush(stdout);
}

/// Prints the end-of-run figures to stderr.
void printStats(const rt::GenerationResult &result, int threads) {
  printError(format("\nprompt: %lld tokens, TTFT %.3f s\n",
                    (long long)result.promptTokens, result.ttftSeconds));
  printError(format(
      "prefill: %.2f tok/s; decode: %.2f tok/s (%lld tokens); threads: %d\n",
      result.promptTokens / std::max(result.prefillSeconds, 1e-9),
      result.decodeSteps
          ? result.decodeSteps / std::max(result.decodeSeconds, 1e-9)
          : 0.0,
      (long long)result.decodeSteps, threads));
  if (result.stoppedAtContextEnd)
    printError("(stopped: the context is full; raise --ctx)\n");
}

/// --dump-logits: rows go to a temporary file renamed when the run is
/// complete, and a failed run leaves neither.
class LogitsFile {
public:
  explicit LogitsFile(std::string path)
      : path(std::move(path)), temporary(this->path + ".tmp") {
    file = std::fopen(temporary.c_str(), "wb");
    if (!file)
      throw rt::Error(this->path + ": " + std::strerror(errno));
  }
  ~LogitsFile() {
    if (file)
      std::fclose(file);
    if (!committed)
      std::remove(temporary.c_str());
  }
  LogitsFile(const LogitsFile &) = delete;
  LogitsFile &operator=(const LogitsFile &) = delete;

  void write(const float *rows, size_t floats) {
    failed |= std::fwrite(rows, sizeof(float), floats, file) != floats;
  }
  void commit() {
    bool closed = std::fclose(file) == 0;
    file = nullptr;
    if (failed || !closed)
      throw rt::Error(path + ": write failed");
    if (std::rename(temporary.c_str(), path.c_str()) != 0)
      throw rt::Error(path + ": " + std::strerror(errno));
    committed = true;
  }

private:
  std::string path, temporary;
  std::FILE *file = nullptr;
  bool failed = false, committed = false;
};

/// Reads a mode's options; false when `--help` asked for them instead, which
/// are then printed.
bool readOptions(OptionParser &parser, const std::vector<std::string> &args) {
  if (parser.parse(args))
    return true;
  print(parser.help());
  return false;
}

int runGenerate(const std::string &program,
                const std::vector<std::string> &args) {
  OptionParser parser(program, "[options] <artifact dir>",
                      "Generate from token ids or text");
  std::string artifactDir, tokenList, prompt, promptFile, system, dumpLogits;
  bool chat = false;
  int64_t prefillTokens = -1;
  parser.positional(artifactDir, "artifact dir");
  parser.option({"tokens"}, tokenList, "ids",
                "Prompt token ids, comma-separated, used exactly as given; "
                "prints ids (greedy by default)");
  parser.option({"p", "prompt"}, prompt, "text",
                "Prompt text (BOS is added); streams the generated text");
  parser.option({"f", "file"}, promptFile, "file",
                "Read the prompt text from a file ('-': stdin), byte for "
                "byte");
  parser.flag({"chat"}, chat,
              "Wrap -p as one user message of the Llama 3 chat format");
  parser.option({"system"}, system, "text", "System message (with --chat)");
  parser.option({"dump-logits"}, dumpLogits, "file",
                "Write the logits of every prompt position, then of each "
                "generated step, as raw little-endian float32 rows");
  parser.option({"prefill-tokens"}, prefillTokens, "N",
                "Run only the first N prompt tokens through prefill and feed "
                "the others one at a time through decode steps (teacher "
                "forcing: the decode kernels on a given sequence, e.g. with "
                "--dump-logits); default: the whole prompt in prefill");
  CommonOptions common;
  common.declare(parser);
  if (!readOptions(parser, args))
    return 0;
  if (parser.given("prefill-tokens") && prefillTokens < 1)
    throw rt::Error("--prefill-tokens must be >= 1, got " +
                    std::to_string(prefillTokens));

  if (int(!tokenList.empty()) + int(!prompt.empty()) +
          int(!promptFile.empty()) !=
      1)
    throw rt::Error("give either --tokens IDS or -p TEXT or -f FILE (see "
                    "--help)");
  std::string promptText =
      promptFile.empty() ? prompt : llamac::artifact::readFile(promptFile);
  if ((chat || !system.empty()) && !tokenList.empty())
    throw rt::Error("--chat and --system need -p TEXT or -f FILE");
  rt::SamplerOptions samplerOptions =
      common.sampler(/*greedyDefault=*/!tokenList.empty());
  auto model = rt::Model::load(artifactDir, common.loadOptions());
  const rt::Manifest &manifest = model->manifest();

  std::unique_ptr<tok::Tokenizer> tokenizer;
  std::vector<int32_t> promptTokens;
  if (!tokenList.empty()) {
    promptTokens = parseTokens(tokenList);
  } else {
    tokenizer = loadArtifactTokenizer(artifactDir);
    rt::PromptOptions promptOptions;
    promptOptions.chat = chat;
    promptOptions.system = system;
    if (chat)
      promptOptions.today = common.today();
    promptOptions.bosTokenId = manifest.bosTokenId;
    promptTokens = rt::encodePrompt(*tokenizer, promptOptions, promptText);
  }

  rt::Session session(*model, common.contextLength);
  rt::Sampler sampler(samplerOptions);
  rt::GenerateOptions generateOptions;
  generateOptions.maxNewTokens =
      common.tokenLimit(!tokenList.empty() ? 16 : common.contextLength);
  generateOptions.stopAtContextEnd = common.stopAtContextEnd();
  generateOptions.stopIds = common.stopIds(manifest);
  generateOptions.prefillTokens = prefillTokens;

  std::optional<LogitsFile> dump;
  if (!dumpLogits.empty())
    dump.emplace(dumpLogits);
  // Set only for --dump-logits: generate() then asks prefill for every
  // prompt row's logits (128256 floats each), which it otherwise skips.
  std::function<void(const float *, int64_t)> onLogits;
  if (dump)
    onLogits = [&](const float *rows, int64_t count) {
      dump->write(rows, size_t(count) * size_t(manifest.vocabSize));
    };

  std::optional<tok::StreamDecoder> stream;
  if (tokenizer)
    stream.emplace(*tokenizer);
  const std::vector<int64_t> &stopIds = generateOptions.stopIds;
  auto onToken = [&](int32_t token) {
    // End ids are not text.
    if (stream &&
        std::find(stopIds.begin(), stopIds.end(), token) == stopIds.end())
      printStreamed(stream->push(token));
    return true;
  };
  rt::GenerationResult result = rt::generate(
      session, promptTokens, sampler, generateOptions, onToken, onLogits);
  if (stream)
    print(stream->flush() + "\n");
  if (dump)
    dump->commit();

  if (!tokenizer) {
    std::string ids = "generated:";
    for (int32_t id : result.tokens)
      ids += " " + std::to_string(id);
    print(ids + "\n");
    print(format("prefill: %zu tokens in %.3f s (%.2f tok/s)\n",
                 promptTokens.size(), result.prefillSeconds,
                 promptTokens.size() / std::max(result.prefillSeconds, 1e-9)));
    print(format("decode: %lld tokens in %.3f s (%.2f tok/s)\n",
                 (long long)result.decodeSteps, result.decodeSeconds,
                 result.decodeSteps
                     ? result.decodeSteps / std::max(result.decodeSeconds, 1e-9)
                     : 0.0));
    print(format("threads: %d\n", model->threads()));
  } else {
    printStats(result, model->threads());
  }
  return 0;
}

int runChat(const std::string &program, const std::vector<std::string> &args) {
  OptionParser parser(program, "[options]",
                      "Interactive chat. Type a message and Enter; /reset "
                      "starts over, /exit or end of input quits. The KV "
                      "cache is kept between turns; when it is full, the "
                      "oldest turns are dropped.");
  std::string artifactDir, system;
  bool noContextShift = false;
  parser.positional(artifactDir, "artifact dir");
  parser.option({"system"}, system, "text", "System message");
  parser.flag({"no-context-shift"}, noContextShift,
              "When the context is full, refuse the message (and say to "
              "/reset) instead of dropping the oldest turns");
  CommonOptions common;
  common.declare(parser);
  if (!readOptions(parser, args))
    return 0;

  rt::Sampler sampler(common.sampler(/*greedyDefault=*/false));
  auto model = rt::Model::load(artifactDir, common.loadOptions());
  auto tokenizer = loadArtifactTokenizer(artifactDir);
  rt::ConversationOptions options;
  options.system = system;
  options.today = common.today();
  options.stopIds = common.stopIds(model->manifest());
  options.contextShift = !noContextShift;
  rt::Session session(*model, common.contextLength);
  options.maxReplyTokens = common.tokenLimit(session.capacity());
  rt::Conversation conversation(session, *tokenizer, sampler,
                                std::move(options));
  const bool interactive = ::isatty(STDIN_FILENO);

  std::string line;
  while (true) {
    if (interactive)
      printError("> ");
    if (!std::getline(std::cin, line))
      break;
    rt::Conversation::Turn turn = conversation.input(line, printStreamed);
    if (turn.outcome == rt::Conversation::Outcome::Exit)
      break;
    if (turn.outcome == rt::Conversation::Outcome::Replied) {
      print("\n");
      std::fflush(stdout);
    }
    if (!turn.notice.empty())
      printError(turn.notice + "\n");
    // Every turn ends with its figures on stderr (the reply alone is on
    // stdout), so a script can tell the turns apart whatever was said.
    if (turn.outcome == rt::Conversation::Outcome::Replied)
      printStats(turn.result, model->threads());
  }
  return 0;
}

int runTokenize(const std::string &program,
                const std::vector<std::string> &args) {
  OptionParser parser(program, "[options] <artifact dir | tokenizer.json>",
                      "Token ids of the text on standard input (no BOS "
                      "added; special-token text is recognised)");
  std::string path;
  bool jsonl = false;
  parser.positional(path, "artifact dir | tokenizer.json");
  parser.flag({"jsonl"}, jsonl,
              "Read one {\"text\": ...} object a line and write one "
              "{\"ids\": [...]} line each");
  if (!readOptions(parser, args))
    return 0;
  std::unique_ptr<tok::Tokenizer> tokenizer =
      isDirectory(path) ? loadArtifactTokenizer(path)
                        : tok::Tokenizer::fromHuggingFaceJSON(path);
  if (!jsonl) {
    std::string text((std::istreambuf_iterator<char>(std::cin)),
                     std::istreambuf_iterator<char>());
    std::string ids;
    for (int32_t id : tokenizer->encode(text))
      ids += (ids.empty() ? "" : " ") + std::to_string(id);
    print(ids + "\n");
    return 0;
  }
  std::string line;
  int64_t lineNumber = 0;
  while (std::getline(std::cin, line)) {
    ++lineNumber;
    if (trimmed(line).empty())
      continue;
    json value = json::parse(line, nullptr, /*allow_exceptions=*/false);
    auto text = value.is_object() ? value.find("text") : value.end();
    if (!value.is_object() || text == value.end() || !text->is_string())
      throw rt::Error("stdin line " + std::to_string(lineNumber) +
                      ": expected a JSON object with a string \"text\"");
    json ids = tokenizer->encode(text->get_ref<const std::string &>());
    print(json{{"ids", std::move(ids)}}.dump() + "\n");
  }
  return 0;
}

std::vector<int64_t> parseSizes(const std::string &text,
                                const std::string &flag, int64_t least = 1) {
  std::vector<int64_t> sizes;
  for (const std::string &part : splitCommas(text)) {
    std::optional<int64_t> value = decimal(part);
    if (!value || *value < least)
      throw rt::Error(flag + ": '" + part + "' is not a " +
                      (least ? "positive" : "non-negative") +
                      " count (expected e.g. " +
                      (least ? "64,512" : "0,4096") + ")");
    sizes.push_back(*value);
  }
  return sizes;
}

/// Time per kernel, most expensive first, as JSON rows.
json profileRows(const std::vector<rt::Model::KernelTime> &times) {
  json rows = json::array();
  for (const auto &time : times)
    rows.push_back({{"kernel", time.kernel},
                    {"micro_kernel", time.microKernel},
                    {"calls", time.calls},
                    {"ms", time.seconds * 1e3}});
  return rows;
}

/// The same as a table.
void printProfile(const std::string &title,
                  const std::vector<rt::Model::KernelTime> &times) {
  double total = 0;
  for (const auto &time : times)
    total += time.seconds;
  print("\n" + title + format(" (%.2f ms in kernels)\n", total * 1e3));
  for (const auto &time : times) {
    // The micro-kernel a product runs on follows its name in brackets.
    std::string label = time.kernel;
    if (!time.microKernel.empty())
      label += " [" + time.microKernel + "]";
    print(format("  %-60s %5lld calls %9.3f ms %5.1f%%\n", label.c_str(),
                 (long long)time.calls, time.seconds * 1e3,
                 total > 0 ? 100 * time.seconds / total : 0.0));
  }
}

int runBench(const std::string &program, const std::vector<std::string> &args) {
  OptionParser parser(program, "[options] <artifact dir>",
                      "Prefill and decode throughput (median and range over "
                      "repetitions), time to first token, and the machine's "
                      "read bandwidth and compute peak measured in the same "
                      "run");
  std::string artifactDir, promptSizes = "64,512", generateSizes = "128",
              depths = "0";
  int threads = 0, repetitions = 3;
  bool printJSON = false, profile = false;
  parser.positional(artifactDir, "artifact dir");
  parser.option({"p"}, promptSizes, "n,n,...",
                "Prompt sizes to measure prefill on (pp)");
  parser.option({"n"}, generateSizes, "n,n,...", "Tokens to generate (tg)");
  parser.option({"d"}, depths, "n,n,...",
                "Tokens already in the KV cache when each pp and tg test "
                "starts (like llama-bench -d)");
  parser.option({"threads", "t"}, threads, "N",
                "Worker threads (default: all cores)");
  parser.option({"r"}, repetitions, "N", "Repetitions of each measurement");
  parser.flag({"json"}, printJSON, "Print one JSON object");
  parser.flag({"profile"}, profile,
              "Also print the time per kernel of one prefill (of the first "
              "-p size) and one decode step");
  if (!readOptions(parser, args))
    return 0;

  rt::BenchOptions options;
  options.promptSizes = parseSizes(promptSizes, "-p");
  options.generateSizes = parseSizes(generateSizes, "-n");
  options.depths = parseSizes(depths, "-d", /*least=*/0);
  if (repetitions < 1)
    throw rt::Error("-r must be at least 1, got " +
                    std::to_string(repetitions));
  options.repetitions = repetitions;
  rt::LoadOptions loadOptions;
  loadOptions.threads = checkedThreads(threads);
  auto model = rt::Model::load(artifactDir, loadOptions);
  int used = model->threads();

  rt::Measurement bandwidth = rt::probeReadBandwidth(used);
  const rt::Manifest &info = model->manifest();
  rt::ComputePeaks peaks = rt::probeComputePeaks(info.computeUnits, used);
  const bool usesAMX =
      info.usesComputeUnit(llamac::artifact::ComputeUnit::AMXBF16);
  rt::BenchResult result = rt::runBench(*model, options);
  std::optional<rt::KernelProfile> kernelProfile;
  if (profile)
    kernelProfile = rt::profileKernels(*model, options.promptSizes.front());
  // The highest arithmetic rate the machine offers for the units the
  // kernels use.
  double peak = peaks.highest(info.computeUnits);

  if (printJSON) {
    json pp = json::object(), tg = json::object(), ppGflops = json::object(),
         tgGbs = json::object();
    // Keys "512", or "512@d4096" after a depth (rt::benchPointName).
    for (auto &[point, m] : result.prefill) {
      pp[rt::benchPointName(point)] = m.median;
      ppGflops[rt::benchPointName(point)] =
          result.prefillGflops(m.median, point);
    }
    for (auto &[point, m] : result.decode) {
      tg[rt::benchPointName(point)] = m.median;
      tgGbs[rt::benchPointName(point)] =
          m.median * result.decodeBytes(point) / 1e9;
    }
    json out = {{"artifact", artifactDir},
                {"dtype", info.dtype},
                {"threads", used},
                {"repetitions", repetitions},
                {"pp", std::move(pp)},
                {"tg", std::move(tg)},
                {"ttft_s", result.ttft.median},
                {"ttft_prompt_tokens", result.ttftPromptSize},
                {"ttft_depth", result.ttftDepth},
                {"depths", options.depths},
                {"decode_bytes_per_token", result.decodeBytesPerToken},
                {"kv_cache_bytes_per_position", result.cacheBytesPerPosition},
                {"decode_gb_s", std::move(tgGbs)},
                {"prefill_gflop_s", std::move(ppGflops)},
                {"flops_per_token", result.flopsPerToken},
                {"output_projection_flops", result.outputFlops},
                {"attention_flops_per_query_key", result.attentionFlopsPerPair},
                {"read_bandwidth_gb_s", bandwidth.median},
                {"peak_gflop_s", peak},
                {"peak_f32_fma_gflop_s", peaks.f32FMA.median},
                {"peak_bf16_dot_gflop_s", peaks.bf16Dot.median},
                {"peak_amx_bf16_gflop_s", peaks.amxBF16.median}};
    if (kernelProfile)
      out["profile"] = {{"prompt_tokens", kernelProfile->promptSize},
                        {"prefill", profileRows(kernelProfile->prefill)},
                        {"decode", profileRows(kernelProfile->decode)}};
    print(out.dump(-1, ' ', false, json::error_handler_t::replace) + "\n");
    return 0;
  }
  print(format("model: %s (%s weights, %.2f GB read per token), %d "
               "threads, %d repetitions\n",
               artifactDir.c_str(), info.dtype.c_str(),
               result.decodeBytesPerToken / 1e9, used, repetitions));
  print(format("machine: read bandwidth %.1f GB/s, f32 FMA peak %.0f "
               "GFLOP/s, bf16 dot peak %.0f GFLOP/s",
               bandwidth.median, peaks.f32FMA.median, peaks.bf16Dot.median));
  if (usesAMX)
    print(format(", AMX bf16 peak %.0f GFLOP/s", peaks.amxBF16.median));
  print("\n\n");
  // Tests are named as llama-bench names them: pp512, tg128 @ d4096.
  auto testName = [](const char *kind, rt::BenchPoint point) {
    std::string name = kind + std::to_string(point.size);
    if (point.depth)
      name += " @ d" + std::to_string(point.depth);
    return name;
  };
  print("| test            |            tok/s | achieved                          |\n");
  print("|-----------------|------------------|-----------------------------------|\n");
  for (auto &[point, m] : result.prefill) {
    double gflops = result.prefillGflops(m.median, point);
    print(format(
        "| %-15s | %7.2f +/- %5.2f | %7.1f GFLOP/s (%4.1f%% of peak)  |\n",
        testName("pp", point).c_str(), m.median, (m.high - m.low) / 2, gflops,
        peak > 0 ? 100 * gflops / peak : 0.0));
  }
  for (auto &[point, m] : result.decode) {
    double gbs = m.median * result.decodeBytes(point) / 1e9;
    print(format(
        "| %-15s | %7.2f +/- %5.2f | %7.1f GB/s (%4.1f%% of bandwidth) |\n",
        testName("tg", point).c_str(), m.median, (m.high - m.low) / 2, gbs,
        bandwidth.median > 0 ? 100 * gbs / bandwidth.median : 0.0));
  }
  print("(GFLOP/s count every matrix and causal attention, q.k and the sum "
        "of v; GB/s the weights and the KV cache read per step)\n");
  print(format("\nTTFT (%s): %.3f s\n",
               testName("pp", {result.ttftDepth, result.ttftPromptSize})
                   .c_str(),
               result.ttft.median));
  if (kernelProfile) {
    printProfile("profile: prefill of " +
                     std::to_string(kernelProfile->promptSize) + " tokens",
                 kernelProfile->prefill);
    printProfile("profile: one decode step", kernelProfile->decode);
  }
  return 0;
}

/// What messages call the program: argv[0] without its directory.
std::string programName(const char *argv0) {
  const char *slash = std::strrchr(argv0, '/');
  return slash ? slash + 1 : argv0;
}

} // namespace

int main(int argc, char **argv) {
  if (argc < 2) {
    printError(kUsage);
    return 1;
  }
  std::string first = argv[1];
  if (first == "--help" || first == "-h" || first == "help") {
    print(kUsage);
    return 0;
  }
  try {
    // Each mode gets its own arguments and the name its messages start with.
    if (first == "bench")
      return runBench("llamac-run bench",
                      std::vector<std::string>(argv + 2, argv + argc));
    if (first == "tokenize")
      return runTokenize("llamac-run tokenize",
                         std::vector<std::string>(argv + 2, argv + argc));
    if (argc >= 3 && std::string(argv[2]) == "chat") {
      std::vector<std::string> args = {argv[1]};
      args.insert(args.end(), argv + 3, argv + argc);
      return runChat("llamac-run ART chat", args);
    }
    return runGenerate(programName(argv[0]),
                       std::vector<std::string>(argv + 1, argv + argc));
  } catch (const llamac::cli::UsageError &error) {
    printError(std::string(error.what()) + "\n");
  } catch (const rt::Error &error) {
    printError("llamac-run: error: " + std::string(error.what()) + "\n");
  } catch (const std::bad_alloc &) {
    printError("llamac-run: error: out of memory\n");
  } catch (const std::exception &error) {
    printError("llamac-run: error: " + std::string(error.what()) + "\n");
  }
  return 1;
}
