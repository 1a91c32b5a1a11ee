//===- llamac-run.cpp - Run a compiled llamac artifact --------------------===//
//
//   llamac-run ART_DIR --tokens 128000,9906,11 [-n N] [--ignore-eos]
//              [--dump-logits FILE] [--ctx N] [--threads N]
//
// Feeds the prompt ids exactly as given, generates greedily, prints the ids
// and the timings of both phases.
//
//===----------------------------------------------------------------------===//
#include "llamac/Runtime/Runtime.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <chrono>
#include <cstdio>

using namespace llvm;
namespace rt = llamac::runtime;

namespace {

/// Options live in a struct built after LLVM's own `--threads` (an LLVM
/// library option) is released, so the llama.cpp spelling can be ours.
struct Options {
  cl::OptionCategory category{"llamac-run options"};
  cl::opt<std::string> artifactDir{cl::Positional, cl::Required,
                                   cl::desc("<artifact dir>"), cl::cat(category)};
  cl::opt<std::string> tokenList{
      "tokens", cl::Required,
      cl::desc("Prompt token ids, comma-separated (used exactly as given)"),
      cl::value_desc("ids"), cl::cat(category)};
  cl::opt<int64_t> maxNewTokens{"n", cl::init(16),
                                cl::desc("Generate at most N tokens"),
                                cl::value_desc("N"), cl::cat(category)};
  cl::opt<bool> ignoreEos{"ignore-eos", cl::init(false),
                          cl::desc("Do not stop at an end-of-sequence id"),
                          cl::cat(category)};
  cl::opt<std::string> dumpLogits{
      "dump-logits", cl::init(""),
      cl::desc("Write the logits of every prompt position, then of each "
               "generated step, as raw little-endian float32 rows"),
      cl::value_desc("file"), cl::cat(category)};
  cl::opt<int64_t> contextLength{"ctx", cl::init(4096),
                                 cl::desc("Context length (KV cache size)"),
                                 cl::value_desc("N"), cl::cat(category)};
  cl::alias contextAlias{"c", cl::aliasopt(contextLength), cl::cat(category)};
  cl::opt<int> threads{"threads", cl::init(0),
                       cl::desc("Worker threads (default: all cores)"),
                       cl::value_desc("N"), cl::cat(category)};
  cl::alias threadsAlias{"t", cl::aliasopt(threads), cl::cat(category)};
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

double secondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
      .count();
}

int run(const Options &o) {
  if (o.maxNewTokens < 0)
    throw rt::Error("-n must be >= 0");
  std::vector<int32_t> prompt = parseTokens(o.tokenList);
  rt::LoadOptions options;
  options.threads = o.threads;
  auto model = rt::Model::load(o.artifactDir, options);
  rt::Session session(*model, o.contextLength);
  int64_t vocab = model->manifest().vocabSize;
  const auto &eos = model->manifest().eosTokenIds;

  // Logit rows go to a temporary file renamed at the end: no half output.
  std::unique_ptr<raw_fd_ostream> dump;
  std::string dumpTemp;
  if (!o.dumpLogits.empty()) {
    dumpTemp = o.dumpLogits + ".tmp";
    std::error_code ec;
    dump = std::make_unique<raw_fd_ostream>(dumpTemp, ec);
    if (ec)
      throw rt::Error(o.dumpLogits + ": " + ec.message());
  }
  auto writeRows = [&](const std::vector<float> &logits) {
    if (dump)
      dump->write(reinterpret_cast<const char *>(logits.data()),
                  logits.size() * sizeof(float));
  };

  auto start = std::chrono::steady_clock::now();
  std::vector<float> logits = session.prefill(prompt);
  double prefillSeconds = secondsSince(start);
  writeRows(logits);

  std::vector<int32_t> generated;
  double decodeSeconds = 0;
  int64_t decodeSteps = 0;
  const float *last = logits.data() + (prompt.size() - 1) * vocab;
  int32_t next = int32_t(rt::argmax(last, vocab));
  while (int64_t(generated.size()) < o.maxNewTokens) {
    generated.push_back(next);
    bool isEos = std::find(eos.begin(), eos.end(), next) != eos.end();
    if ((isEos && !o.ignoreEos) || int64_t(generated.size()) == o.maxNewTokens)
      break;
    auto stepStart = std::chrono::steady_clock::now();
    std::vector<float> row = session.decode(next);
    decodeSeconds += secondsSince(stepStart);
    ++decodeSteps;
    writeRows(row);
    next = int32_t(rt::argmax(row.data(), vocab));
  }

  if (dump) {
    dump->close();
    if (dump->has_error())
      throw rt::Error(o.dumpLogits + ": write failed");
    if (std::error_code ec = sys::fs::rename(dumpTemp, o.dumpLogits))
      throw rt::Error(o.dumpLogits + ": " + ec.message());
  }

  outs() << "generated:";
  for (int32_t id : generated)
    outs() << " " << id;
  outs() << "\n";
  outs() << format("prefill: %zu tokens in %.3f s (%.2f tok/s)\n",
                   prompt.size(), prefillSeconds,
                   prompt.size() / std::max(prefillSeconds, 1e-9));
  outs() << format("decode: %lld tokens in %.3f s (%.2f tok/s)\n",
                   (long long)decodeSteps, decodeSeconds,
                   decodeSteps ? decodeSteps / std::max(decodeSeconds, 1e-9)
                               : 0.0);
  outs() << format("threads: %d\n", model->threads());
  return 0;
}

} // namespace

int main(int argc, char **argv) {
  InitLLVM initLLVM(argc, argv);
  auto &registered = cl::getRegisteredOptions();
  if (auto it = registered.find("threads"); it != registered.end())
    it->second->removeArgument();
  Options options;
  cl::HideUnrelatedOptions(options.category);
  cl::ParseCommandLineOptions(argc, argv,
                              "Run a compiled llamac artifact on token ids\n");
  try {
    return run(options);
  } catch (const rt::Error &error) {
    errs() << "llamac-run: error: " << error.what() << "\n";
    return 1;
  } catch (const std::bad_alloc &) {
    errs() << "llamac-run: error: out of memory\n";
    return 1;
  }
}
