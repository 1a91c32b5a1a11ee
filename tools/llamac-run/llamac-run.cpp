//===- llamac-run.cpp - Run a compiled llamac artifact --------------------===//
//
//   llamac-run ART (--tokens IDS | -p TEXT [--chat]) [sampling] [-n N] ...
//   llamac-run ART chat [--system TEXT] [sampling] ...
//   llamac-run tokenize (ART | tokenizer.json) [--jsonl]
//
// Each mode is a function with its own options (built after LLVM's library
// options that would clash with llama.cpp's spellings are released), so
// `--help` lists exactly what the mode takes.
//
//===----------------------------------------------------------------------===//
#include "llamac/Runtime/Bench.h"
#include "llamac/Runtime/Chat.h"
#include "llamac/Runtime/Generate.h"
#include "llamac/Runtime/Runtime.h"
#include "llamac/Runtime/Sampler.h"
#include "llamac/Tokenizer/Tokenizer.h"

#include "llvm/ADT/ScopeExit.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Process.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <ctime>
#include <iostream>
#include <string>

using namespace llvm;
namespace rt = llamac::runtime;
namespace tok = llamac::tokenizer;

namespace {

constexpr const char *kUsage =
    R"(llamac-run: run a compiled llamac artifact

USAGE:
  llamac-run ART --tokens 128000,9906,11 [options]   token ids in, ids out
  llamac-run ART -p "text" [--chat] [options]         text in, streamed text out
  llamac-run ART -f prompt.txt [--chat] [options]     the same, text from a file
  llamac-run ART chat [options]                       interactive conversation
  llamac-run tokenize (ART | tokenizer.json) [--jsonl] text on stdin -> ids
  llamac-run bench ART [-p 64,512] [-n 128] [-t 2] [--json] [--profile]

Run 'llamac-run ART --help', 'llamac-run ART chat --help' or
'llamac-run tokenize --help', 'llamac-run bench --help' for the options.
)";

/// LLVM's own (hidden) options with names llama.cpp users expect to be ours.
void releaseLLVMOptions() {
  auto &registered = cl::getRegisteredOptions();
  for (const char *name : {"threads", "stats", "seed"})
    if (auto it = registered.find(name); it != registered.end())
      it->second->removeArgument();
}

/// More worker threads than this is a typo, not a machine.
constexpr int kMaxThreads = 1024;

int checkedThreads(int threads) {
  if (threads < 0 || threads > kMaxThreads)
    throw rt::Error("--threads must be between 0 (all cores) and " +
                    std::to_string(kMaxThreads) + ", got " +
                    std::to_string(threads));
  return threads;
}

/// The bytes of `path`, exactly (a prompt file need not be UTF-8).
std::string readPromptFile(const std::string &path) {
  ErrorOr<std::unique_ptr<MemoryBuffer>> file =
      MemoryBuffer::getFileOrSTDIN(path, /*IsText=*/false,
                                   /*RequiresNullTerminator=*/false);
  if (!file)
    throw rt::Error(path + ": " + file.getError().message());
  return (*file)->getBuffer().str();
}

/// Options every generating mode shares.
struct CommonOptions {
  explicit CommonOptions(cl::OptionCategory &category)
      : contextLength("ctx", cl::init(4096),
                      cl::desc("Context length: tokens the KV cache holds"),
                      cl::value_desc("N"), cl::cat(category)),
        contextAlias("c", cl::aliasopt(contextLength), cl::cat(category)),
        threads("threads", cl::init(0),
                cl::desc("Worker threads (default: all cores)"),
                cl::value_desc("N"), cl::cat(category)),
        threadsAlias("t", cl::aliasopt(threads), cl::cat(category)),
        prefillChunk("prefill-chunk", cl::init(512),
                     cl::desc("Prompt tokens per prefill call: longer "
                              "prompts run in chunks, which bounds the "
                              "memory of the activations (default 512; 0 = "
                              "the whole prompt at once)"),
                     cl::value_desc("N"), cl::cat(category)),
        maxNewTokens("n", cl::init(-1),
                     cl::desc("Generate at most N tokens; -1: until EOS or "
                              "the context is full (the default, except "
                              "with --tokens: 16)"),
                     cl::value_desc("N"), cl::cat(category)),
        temperature("temp", cl::init(0.8),
                    cl::desc("Temperature; 0 = greedy (default 0.8; greedy "
                             "with --tokens unless given)"),
                    cl::cat(category)),
        topK("top-k", cl::init(40), cl::desc("Top-k sampling, 0 = off"),
             cl::cat(category)),
        topP("top-p", cl::init(0.95), cl::desc("Top-p sampling, 1 = off"),
             cl::cat(category)),
        minP("min-p", cl::init(0.05), cl::desc("Min-p sampling, 0 = off"),
             cl::cat(category)),
        repeatPenalty("repeat-penalty", cl::init(1.0),
                      cl::desc("Penalty for recent tokens, 1 = off"),
                      cl::cat(category)),
        repeatLastN("repeat-last-n", cl::init(64),
                    cl::desc("Tokens the repetition penalty looks back on"),
                    cl::cat(category)),
        seed("seed", cl::init(0),
             cl::desc("Random seed: the same seed gives the same text"),
             cl::cat(category)),
        ignoreEos("ignore-eos", cl::init(false),
                  cl::desc("Do not stop at an end-of-sequence id"),
                  cl::cat(category)),
        date("date", cl::init(""),
             cl::desc("'Today Date' of the chat template (YYYY-MM-DD; "
                      "default: today), for reproducible prompts"),
             cl::cat(category)) {}

  /// The -n limit; `fallback` when -n is not given.
  int64_t tokenLimit(int64_t fallback) const {
    if (maxNewTokens < -1)
      throw rt::Error("-n must be >= -1 (-1: until EOS or the context is "
                      "full), got " +
                      std::to_string(maxNewTokens));
    if (!maxNewTokens.getNumOccurrences())
      return fallback;
    return maxNewTokens == -1 ? contextLength.getValue()
                              : maxNewTokens.getValue();
  }

  /// --threads, checked: 0 (all cores) up to kMaxThreads.
  int threadCount() const { return checkedThreads(threads); }

  /// What --threads and --prefill-chunk ask of the loader.
  rt::LoadOptions loadOptions() const {
    if (prefillChunk < 0)
      throw rt::Error("--prefill-chunk must be >= 0 (0: the whole prompt at "
                      "once), got " +
                      std::to_string(prefillChunk));
    rt::LoadOptions options;
    options.threads = threadCount();
    options.prefillChunk = prefillChunk;
    return options;
  }

  rt::SamplerOptions sampler(bool greedyDefault) const {
    rt::SamplerOptions options;
    options.temperature =
        greedyDefault && !temperature.getNumOccurrences() ? 0.0 : temperature;
    options.topK = topK;
    options.topP = topP;
    options.minP = minP;
    options.repeatPenalty = repeatPenalty;
    options.repeatLastN = repeatLastN;
    options.seed = seed;
    options.validate();
    return options;
  }
  std::string today() const {
    return date.empty() ? rt::ChatFormat::formatDate(std::time(nullptr))
                        : rt::ChatFormat::parseDate(date);
  }

  cl::opt<int64_t> contextLength;
  cl::alias contextAlias;
  cl::opt<int> threads;
  cl::alias threadsAlias;
  cl::opt<int64_t> prefillChunk;
  cl::opt<int64_t> maxNewTokens;
  cl::opt<double> temperature;
  cl::opt<int64_t> topK;
  cl::opt<double> topP;
  cl::opt<double> minP;
  cl::opt<double> repeatPenalty;
  cl::opt<int64_t> repeatLastN;
  cl::opt<uint64_t> seed;
  cl::opt<bool> ignoreEos;
  cl::opt<std::string> date;
};

std::vector<int32_t> parseTokens(StringRef text) {
  std::vector<int32_t> tokens;
  SmallVector<StringRef> parts;
  text.split(parts, ',', -1, /*KeepEmpty=*/true);
  for (StringRef part : parts) {
    int64_t value;
    if (part.trim().getAsInteger(10, value) || value < 0 || value > INT32_MAX)
      throw rt::Error("--tokens: '" + part.str() +
                      "' is not a token id (expected e.g. 128000,9906,11)");
    tokens.push_back(int32_t(value));
  }
  return tokens;
}

/// The artifact's tokenizer, with a message that says how to get one.
std::unique_ptr<tok::Tokenizer> loadArtifactTokenizer(const std::string &dir) {
  std::string path = dir + "/tokenizer.bin";
  if (!sys::fs::exists(path))
    throw rt::Error(dir + ": the artifact has no tokenizer (compile a "
                          "checkpoint that has tokenizer.json, or use "
                          "--tokens)");
  return tok::Tokenizer::load(path);
}

/// Streams `token`'s text as soon as it forms whole characters; end ids are
/// not text.
void printStreamed(tok::StreamDecoder &stream, int32_t token,
                   const std::vector<int64_t> &stopIds) {
  if (std::find(stopIds.begin(), stopIds.end(), token) != stopIds.end())
    return;
  outs() << stream.push(token);
  outs().flush();
}

/// Prints the end-of-run figures to stderr.
void printStats(const rt::GenerationResult &result, int threads) {
  errs() << format("\nprompt: %lld tokens, TTFT %.3f s\n",
                   (long long)result.promptTokens, result.ttftSeconds);
  errs() << format("prefill: %.2f tok/s; decode: %.2f tok/s (%lld tokens); "
                   "threads: %d\n",
                   result.promptTokens / std::max(result.prefillSeconds, 1e-9),
                   result.decodeSteps
                       ? result.decodeSteps / std::max(result.decodeSeconds, 1e-9)
                       : 0.0,
                   (long long)result.decodeSteps, threads);
  if (result.stoppedAtContextEnd)
    errs() << "(stopped: the context is full; raise --ctx)\n";
}

int runGenerate(int argc, const char **argv) {
  cl::OptionCategory category("llamac-run options");
  cl::opt<std::string> artifactDir(cl::Positional, cl::Required,
                                   cl::desc("<artifact dir>"),
                                   cl::cat(category));
  cl::opt<std::string> tokenList(
      "tokens", cl::desc("Prompt token ids, comma-separated, used exactly "
                         "as given; prints ids (greedy by default)"),
      cl::value_desc("ids"), cl::cat(category));
  cl::opt<std::string> prompt(
      "p", cl::desc("Prompt text (BOS is added); streams the generated text"),
      cl::value_desc("text"), cl::cat(category));
  cl::alias promptAlias("prompt", cl::aliasopt(prompt), cl::cat(category));
  cl::opt<std::string> promptFile(
      "f", cl::desc("Read the prompt text from a file ('-': stdin), byte for "
                    "byte"),
      cl::value_desc("file"), cl::cat(category));
  cl::alias promptFileAlias("file", cl::aliasopt(promptFile),
                            cl::cat(category));
  cl::opt<bool> chat("chat",
                     cl::desc("Wrap -p as one user message of the Llama 3 "
                              "chat format"),
                     cl::cat(category));
  cl::opt<std::string> system("system",
                              cl::desc("System message (with --chat)"),
                              cl::cat(category));
  cl::opt<std::string> dumpLogits(
      "dump-logits",
      cl::desc("Write the logits of every prompt position, then of each "
               "generated step, as raw little-endian float32 rows"),
      cl::value_desc("file"), cl::cat(category));
  cl::opt<int64_t> prefillTokens(
      "prefill-tokens", cl::init(-1),
      cl::desc("Run only the first N prompt tokens through prefill and feed "
               "the others one at a time through decode steps (teacher "
               "forcing: the decode kernels on a given sequence, e.g. with "
               "--dump-logits); default: the whole prompt in prefill"),
      cl::value_desc("N"), cl::cat(category));
  CommonOptions common(category);
  cl::HideUnrelatedOptions(category);
  cl::ParseCommandLineOptions(argc, argv,
                              "Generate from token ids or text\n");
  if (prefillTokens.getNumOccurrences() && prefillTokens < 1)
    throw rt::Error("--prefill-tokens must be >= 1, got " +
                    std::to_string(prefillTokens));

  if (int(!tokenList.empty()) + int(!prompt.empty()) +
          int(!promptFile.empty()) !=
      1)
    throw rt::Error("give either --tokens IDS or -p TEXT or -f FILE (see "
                    "--help)");
  std::string promptText =
      promptFile.empty() ? prompt.getValue() : readPromptFile(promptFile);
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
    std::string text = promptText;
    if (chat) {
      std::vector<rt::ChatMessage> messages;
      if (!system.empty())
        messages.push_back({"system", system});
      messages.push_back({"user", promptText});
      text = rt::ChatFormat(common.today()).render(messages);
    } else if (manifest.bosTokenId &&
               !StringRef(text).starts_with("<|begin_of_text|>")) {
      promptTokens.push_back(int32_t(*manifest.bosTokenId));
    }
    std::vector<int32_t> encoded = tokenizer->encode(text);
    promptTokens.insert(promptTokens.end(), encoded.begin(), encoded.end());
    if (promptTokens.empty())
      throw rt::Error("the prompt is empty");
  }

  rt::Session session(*model, common.contextLength);
  rt::Sampler sampler(samplerOptions);
  rt::GenerateOptions generateOptions;
  generateOptions.maxNewTokens =
      common.tokenLimit(!tokenList.empty() ? 16 : common.contextLength);
  // Without an explicit count, running out of context ends the generation;
  // an explicit count that does not fit is an error.
  generateOptions.stopAtContextEnd =
      !common.maxNewTokens.getNumOccurrences() || common.maxNewTokens == -1;
  if (!common.ignoreEos)
    generateOptions.stopIds = manifest.stopTokenIds();
  generateOptions.prefillTokens = prefillTokens;

  // Logit rows go to a temporary file renamed at the end: no half output.
  std::unique_ptr<raw_fd_ostream> dump;
  std::string dumpTemp;
  // An error before the rename (context full, a bad token) leaves no file.
  auto removeDumpTemp = make_scope_exit([&] {
    if (!dumpTemp.empty()) {
      dump.reset();
      sys::fs::remove(dumpTemp);
    }
  });
  if (!dumpLogits.empty()) {
    dumpTemp = dumpLogits + ".tmp";
    std::error_code ec;
    dump = std::make_unique<raw_fd_ostream>(dumpTemp, ec);
    if (ec)
      throw rt::Error(dumpLogits + ": " + ec.message());
  }
  // Set only for --dump-logits: generate() then asks prefill for every
  // prompt row's logits (128256 floats each), which it otherwise skips.
  std::function<void(const float *, int64_t)> onLogits;
  if (dump)
    onLogits = [&](const float *rows, int64_t count) {
      dump->write(reinterpret_cast<const char *>(rows),
                  size_t(count) * manifest.vocabSize * sizeof(float));
    };

  std::optional<tok::StreamDecoder> stream;
  if (tokenizer)
    stream.emplace(*tokenizer);
  auto onToken = [&](int32_t token) {
    if (stream)
      printStreamed(*stream, token, generateOptions.stopIds);
    return true;
  };
  rt::GenerationResult result = rt::generate(
      session, promptTokens, sampler, generateOptions, onToken, onLogits);
  if (stream)
    outs() << stream->flush() << "\n";

  if (dump) {
    dump->close();
    if (dump->has_error())
      throw rt::Error(dumpLogits + ": write failed");
    if (std::error_code ec = sys::fs::rename(dumpTemp, dumpLogits))
      throw rt::Error(dumpLogits + ": " + ec.message());
    dumpTemp.clear();
  }
  if (!tokenizer) {
    outs() << "generated:";
    for (int32_t id : result.tokens)
      outs() << " " << id;
    outs() << "\n";
    outs() << format("prefill: %zu tokens in %.3f s (%.2f tok/s)\n",
                     promptTokens.size(), result.prefillSeconds,
                     promptTokens.size() /
                         std::max(result.prefillSeconds, 1e-9));
    outs() << format("decode: %lld tokens in %.3f s (%.2f tok/s)\n",
                     (long long)result.decodeSteps, result.decodeSeconds,
                     result.decodeSteps ? result.decodeSteps /
                                              std::max(result.decodeSeconds,
                                                       1e-9)
                                        : 0.0);
    outs() << format("threads: %d\n", model->threads());
  } else {
    printStats(result, model->threads());
  }
  return 0;
}

int runChat(int argc, const char **argv) {
  cl::OptionCategory category("llamac-run chat options");
  cl::opt<std::string> artifactDir(cl::Positional, cl::Required,
                                   cl::desc("<artifact dir>"),
                                   cl::cat(category));
  cl::opt<std::string> system("system", cl::desc("System message"),
                              cl::cat(category));
  CommonOptions common(category);
  cl::HideUnrelatedOptions(category);
  cl::ParseCommandLineOptions(
      argc, argv,
      "Interactive chat. Type a message and Enter; /reset starts over, "
      "/exit or end of input quits. The KV cache is kept between turns.\n");

  rt::Sampler sampler(common.sampler(/*greedyDefault=*/false));
  auto model = rt::Model::load(artifactDir, common.loadOptions());
  auto tokenizer = loadArtifactTokenizer(artifactDir);
  rt::ChatFormat format(common.today());
  rt::Session session(*model, common.contextLength);
  const rt::Manifest &manifest = model->manifest();
  const bool interactive = sys::Process::StandardInIsUserInput();

  std::optional<int32_t> pending; // the last reply's end token, not yet fed
  bool started = false;
  std::string line;
  while (true) {
    if (interactive)
      errs() << "> ";
    if (!std::getline(std::cin, line))
      break;
    std::string message = rt::trimWhitespace(line);
    if (message.empty())
      continue;
    if (message == "/exit" || message == "/quit")
      break;
    if (message == "/reset") {
      session.reset();
      started = false;
      pending.reset();
      errs() << "(conversation reset)\n";
      continue;
    }
    std::string text;
    if (!started) {
      std::vector<rt::ChatMessage> messages;
      if (!system.empty())
        messages.push_back({"system", system});
      messages.push_back({"user", message});
      text = format.render(messages);
    } else {
      text = format.renderTurn({"user", message});
    }
    std::vector<int32_t> tokens;
    if (pending)
      tokens.push_back(*pending);
    std::vector<int32_t> encoded = tokenizer->encode(text);
    tokens.insert(tokens.end(), encoded.begin(), encoded.end());
    if (session.position() + int64_t(tokens.size()) >= session.capacity()) {
      errs() << "context full: the conversation holds " << session.position()
             << " tokens and this message needs " << tokens.size()
             << " more of the " << session.capacity()
             << " (--ctx); /reset to start over\n";
      continue;
    }

    tok::StreamDecoder stream(*tokenizer);
    rt::GenerateOptions options;
    options.maxNewTokens = common.tokenLimit(session.capacity());
    options.stopAtContextEnd = true;
    if (!common.ignoreEos)
      options.stopIds = manifest.stopTokenIds();
    auto onToken = [&](int32_t token) {
      printStreamed(stream, token, options.stopIds);
      return true;
    };
    rt::GenerationResult result =
        rt::generate(session, tokens, sampler, options, onToken);
    outs() << stream.flush() << "\n";
    outs().flush();
    started = true;
    pending = result.pendingToken;
    // A reply cut short (by -n) still has to end its turn.
    if (!result.stoppedAtStopId && pending) {
      if (auto eot = tokenizer->specialTokenId("<|eot_id|>")) {
        std::vector<int32_t> close = {*pending};
        if (session.position() + 2 <= session.capacity()) {
          session.prefill(close, /*lastOnly=*/true);
          pending = *eot;
        }
      }
    }
    if (result.stoppedAtContextEnd)
      errs() << "(context full: " << session.capacity()
             << " tokens; /reset to start over)\n";
    // Every turn ends with its figures on stderr (the reply alone is on
    // stdout), so a script can tell the turns apart whatever was said.
    printStats(result, model->threads());
  }
  return 0;
}

int runTokenize(int argc, const char **argv) {
  cl::OptionCategory category("llamac-run tokenize options");
  cl::opt<std::string> path(cl::Positional, cl::Required,
                            cl::desc("<artifact dir | tokenizer.json>"),
                            cl::cat(category));
  cl::opt<bool> jsonl("jsonl",
                      cl::desc("Read one {\"text\": ...} object a line and "
                               "write one {\"ids\": [...]} line each"),
                      cl::cat(category));
  cl::HideUnrelatedOptions(category);
  cl::ParseCommandLineOptions(argc, argv,
                              "Token ids of the text on standard input (no "
                              "BOS added; special-token text is recognised)\n");
  std::unique_ptr<tok::Tokenizer> tokenizer =
      sys::fs::is_directory(path) ? loadArtifactTokenizer(path)
                                  : tok::Tokenizer::fromHuggingFaceJSON(path);
  auto printIds = [](const std::vector<int32_t> &ids) {
    json::Array array;
    for (int32_t id : ids)
      array.push_back(id);
    return array;
  };
  if (!jsonl) {
    std::string text((std::istreambuf_iterator<char>(std::cin)),
                     std::istreambuf_iterator<char>());
    std::vector<int32_t> ids = tokenizer->encode(text);
    for (size_t i = 0; i < ids.size(); ++i)
      outs() << (i ? " " : "") << ids[i];
    outs() << "\n";
    return 0;
  }
  std::string line;
  int64_t lineNumber = 0;
  while (std::getline(std::cin, line)) {
    ++lineNumber;
    if (rt::trimWhitespace(line).empty())
      continue;
    Expected<json::Value> value = json::parse(line);
    const json::Object *object = value ? value->getAsObject() : nullptr;
    std::optional<StringRef> text = object ? object->getString("text") : std::nullopt;
    if (!text) {
      if (!value)
        consumeError(value.takeError());
      throw rt::Error("stdin line " + std::to_string(lineNumber) +
                      ": expected a JSON object with a string \"text\"");
    }
    outs() << json::Value(json::Object{
                  {"ids", printIds(tokenizer->encode(text->str()))}})
           << "\n";
  }
  return 0;
}

std::vector<int64_t> parseSizes(StringRef text, StringRef flag) {
  std::vector<int64_t> sizes;
  SmallVector<StringRef> parts;
  text.split(parts, ',');
  for (StringRef part : parts) {
    int64_t value;
    if (part.trim().getAsInteger(10, value) || value < 1)
      throw rt::Error(flag.str() + ": '" + part.str() +
                      "' is not a positive count (expected e.g. 64,512)");
    sizes.push_back(value);
  }
  if (sizes.empty())
    throw rt::Error(flag.str() + ": no sizes given");
  return sizes;
}

int runBench(int argc, const char **argv) {
  cl::OptionCategory category("llamac-run bench options");
  cl::opt<std::string> artifactDir(cl::Positional, cl::Required,
                                   cl::desc("<artifact dir>"),
                                   cl::cat(category));
  cl::opt<std::string> promptSizes(
      "p", cl::init("64,512"),
      cl::desc("Prompt sizes to measure prefill on (pp)"),
      cl::value_desc("n,n,..."), cl::cat(category));
  cl::opt<std::string> generateSizes(
      "n", cl::init("128"), cl::desc("Tokens to generate (tg)"),
      cl::value_desc("n,n,..."), cl::cat(category));
  cl::opt<int> threads("threads", cl::init(0),
                       cl::desc("Worker threads (default: all cores)"),
                       cl::value_desc("N"), cl::cat(category));
  cl::alias threadsAlias("t", cl::aliasopt(threads), cl::cat(category));
  cl::opt<int> repetitions("r", cl::init(3),
                           cl::desc("Repetitions of each measurement"),
                           cl::cat(category));
  cl::opt<bool> json("json", cl::desc("Print one JSON object"),
                     cl::cat(category));
  cl::opt<bool> profile(
      "profile",
      cl::desc("Also print the time per kernel of one prefill (of the first "
               "-p size) and one decode step"),
      cl::cat(category));
  cl::HideUnrelatedOptions(category);
  cl::ParseCommandLineOptions(
      argc, argv,
      "Prefill and decode throughput (median and range over repetitions), "
      "time to first token, and the machine's read bandwidth and compute "
      "peak measured in the same run\n");

  rt::BenchOptions options;
  options.promptSizes = parseSizes(promptSizes, "-p");
  options.generateSizes = parseSizes(generateSizes, "-n");
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
  const rt::Measurement &peakF32 = peaks.f32FMA, &peakBF16 = peaks.bf16Dot,
                        &peakAMX = peaks.amxBF16;
  const bool usesAMX =
      info.usesComputeUnit(llamac::artifact::ComputeUnit::AMXBF16);
  rt::BenchResult result = rt::runBench(*model, options);
  std::optional<rt::KernelProfile> kernelProfile;
  if (profile)
    kernelProfile = rt::profileKernels(*model, options.promptSizes.front());
  // The highest arithmetic rate the machine offers for the units the
  // kernels use.
  double peak = peaks.highest(info.computeUnits);

  if (json) {
    json::Object pp, tg, ppGflops, tgGbs;
    for (auto &[size, m] : result.prefill) {
      pp[std::to_string(size)] = m.median;
      ppGflops[std::to_string(size)] = result.prefillGflops(m.median, size);
    }
    for (auto &[size, m] : result.decode) {
      tg[std::to_string(size)] = m.median;
      tgGbs[std::to_string(size)] =
          m.median * result.decodeBytesPerToken / 1e9;
    }
    json::Object out{
        {"artifact", artifactDir.getValue()},
        {"dtype", info.dtype},
        {"threads", used},
        {"repetitions", int(repetitions)},
        {"pp", std::move(pp)},
        {"tg", std::move(tg)},
        {"ttft_s", result.ttft.median},
        {"ttft_prompt_tokens", result.ttftPromptSize},
        {"decode_bytes_per_token", result.decodeBytesPerToken},
        {"decode_gb_s", std::move(tgGbs)},
        {"prefill_gflop_s", std::move(ppGflops)},
        {"flops_per_token", result.flopsPerToken},
        {"output_projection_flops", result.outputFlops},
        {"read_bandwidth_gb_s", bandwidth.median},
        {"peak_gflop_s", peak},
        {"peak_f32_fma_gflop_s", peakF32.median},
        {"peak_bf16_dot_gflop_s", peakBF16.median},
        {"peak_amx_bf16_gflop_s", peakAMX.median},
    };
    if (kernelProfile) {
      auto table = [](const std::vector<rt::Model::KernelTime> &times) {
        json::Array rows;
        for (const auto &time : times)
          rows.push_back(json::Object{{"kernel", time.kernel},
                                      {"calls", time.calls},
                                      {"ms", time.seconds * 1e3}});
        return rows;
      };
      out["profile"] = json::Object{
          {"prompt_tokens", kernelProfile->promptSize},
          {"prefill", table(kernelProfile->prefill)},
          {"decode", table(kernelProfile->decode)}};
    }
    outs() << json::Value(std::move(out)) << "\n";
    return 0;
  }
  outs() << format("model: %s (%s weights, %.2f GB read per token), %d "
                   "threads, %d repetitions\n",
                   artifactDir.c_str(), info.dtype.c_str(),
                   result.decodeBytesPerToken / 1e9, used, int(repetitions));
  outs() << format("machine: read bandwidth %.1f GB/s, f32 FMA peak %.0f "
                   "GFLOP/s, bf16 dot peak %.0f GFLOP/s",
                   bandwidth.median, peakF32.median, peakBF16.median);
  if (usesAMX)
    outs() << format(", AMX bf16 peak %.0f GFLOP/s", peakAMX.median);
  outs() << "\n\n";
  outs() << "| test   |            tok/s | achieved                          |\n";
  outs() << "|--------|------------------|-----------------------------------|\n";
  for (auto &[size, m] : result.prefill) {
    double gflops = result.prefillGflops(m.median, size);
    outs() << format("| pp%-4lld | %7.2f +/- %5.2f | %7.1f GFLOP/s (%4.1f%% of peak)  |\n",
                     (long long)size, m.median, (m.high - m.low) / 2, gflops,
                     peak > 0 ? 100 * gflops / peak : 0.0);
  }
  for (auto &[size, m] : result.decode) {
    double gbs = m.median * result.decodeBytesPerToken / 1e9;
    outs() << format("| tg%-4lld | %7.2f +/- %5.2f | %7.1f GB/s (%4.1f%% of bandwidth) |\n",
                     (long long)size, m.median, (m.high - m.low) / 2, gbs,
                     bandwidth.median > 0 ? 100 * gbs / bandwidth.median
                                          : 0.0);
  }
  outs() << format("\nTTFT (pp%lld): %.3f s\n",
                   (long long)result.ttftPromptSize, result.ttft.median);
  if (kernelProfile) {
    auto print = [](StringRef title,
                    const std::vector<rt::Model::KernelTime> &times) {
      double total = 0;
      for (const auto &time : times)
        total += time.seconds;
      outs() << "\n" << title << format(" (%.2f ms in kernels)\n", total * 1e3);
      for (const auto &time : times)
        outs() << format("  %-52s %5lld calls %9.3f ms %5.1f%%\n",
                         time.kernel.c_str(), (long long)time.calls,
                         time.seconds * 1e3,
                         total > 0 ? 100 * time.seconds / total : 0.0);
    };
    print(("profile: prefill of " + std::to_string(kernelProfile->promptSize) +
           " tokens")
              .c_str(),
          kernelProfile->prefill);
    print("profile: one decode step", kernelProfile->decode);
  }
  return 0;
}

} // namespace

int main(int argc, char **argv) {
  InitLLVM initLLVM(argc, argv);
  releaseLLVMOptions();
  if (argc < 2) {
    errs() << kUsage;
    return 1;
  }
  StringRef first = argv[1];
  if (first == "--help" || first == "-h" || first == "help") {
    outs() << kUsage;
    return 0;
  }
  try {
    // argv for the mode: "llamac-run MODE" then the mode's own arguments.
    std::vector<const char *> args;
    if (first == "bench") {
      args.push_back("llamac-run bench");
      args.insert(args.end(), argv + 2, argv + argc);
      return runBench(int(args.size()), args.data());
    }
    if (first == "tokenize") {
      args.push_back("llamac-run tokenize");
      args.insert(args.end(), argv + 2, argv + argc);
      return runTokenize(int(args.size()), args.data());
    }
    if (argc >= 3 && StringRef(argv[2]) == "chat") {
      args = {"llamac-run ART chat", argv[1]};
      args.insert(args.end(), argv + 3, argv + argc);
      return runChat(int(args.size()), args.data());
    }
    args.assign(argv, argv + argc);
    return runGenerate(int(args.size()), args.data());
  } catch (const rt::Error &error) {
    errs() << "llamac-run: error: " << error.what() << "\n";
    return 1;
  } catch (const std::bad_alloc &) {
    errs() << "llamac-run: error: out of memory\n";
    return 1;
  }
}
