//===- SynthCommand.cpp - llamac synth ------------------------------------===//
//
//   llamac synth MODEL_DIR --preset NAME [--seed N] [--max-shard-size SIZE]
//
// Writes a checkpoint of a preset's configuration with deterministic random
// weights (see llamac/Frontend/Synth.h), then reopens it with the same
// reader every other command uses, so the summary line describes what a
// later `llamac graph MODEL_DIR` will actually see.
//
//===----------------------------------------------------------------------===//
#include "Commands.h"

#include "llamac/Frontend/Checkpoint.h"
#include "llamac/Frontend/LlamaConfig.h"
#include "llamac/Frontend/Synth.h"

#include "llvm/ADT/SmallString.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Process.h"
#include "llvm/Support/raw_ostream.h"

#include <chrono>
#include <limits>
#include <optional>
#include <string>

using namespace llvm;

namespace {

int fail(const Twine &message) {
  errs() << "llamac: error: " << message << "\n";
  return 1;
}

/// Rewrites one stderr line with the share of the weights written. Only
/// used on a terminal: in a log, a line per update would be noise.
class ProgressLine {
public:
  explicit ProgressLine(StringRef dir) : dir(dir) {}

  void update(uint64_t done, uint64_t total) {
    unsigned percent = total ? unsigned(done * 100 / total) : 100;
    // Redrawing only when the percentage moves keeps the terminal traffic
    // negligible.
    if (shown && percent == lastPercent)
      return;
    shown = true;
    lastPercent = percent;
    errs() << "\rllamac synth: writing " << dir << ": "
           << format("%.2f / %.2f GB (%u%%)", double(done) / 1e9,
                     double(total) / 1e9, percent);
    errs().flush();
  }

  /// Erases the line, so that whatever follows starts on a clean line.
  void clear() {
    if (!shown)
      return;
    errs() << "\r\x1b[K";
    errs().flush();
    shown = false;
  }

private:
  std::string dir;
  bool shown = false;
  unsigned lastPercent = 0;
};

/// Parses a shard size as `save_pretrained`'s max_shard_size spells it:
/// bytes, or a number with KB/MB/GB (powers of 1000) or KiB/MiB/GiB.
std::optional<uint64_t> parseByteSize(StringRef text) {
  static constexpr std::pair<const char *, uint64_t> kUnits[] = {
      {"KiB", uint64_t(1) << 10}, {"MiB", uint64_t(1) << 20},
      {"GiB", uint64_t(1) << 30}, {"KB", 1000},
      {"MB", 1000000},            {"GB", 1000000000}};
  uint64_t unit = 1;
  for (const auto &[suffix, bytes] : kUnits)
    if (text.consume_back_insensitive(suffix)) {
      unit = bytes;
      break;
    }
  uint64_t count = 0;
  if (text.empty() || text.getAsInteger(10, count) || count == 0 ||
      count > std::numeric_limits<uint64_t>::max() / unit)
    return std::nullopt;
  return count * unit;
}

} // namespace

int runSynthCommand(int argc, char **argv) {
  cl::OptionCategory category("llamac synth options");
  cl::opt<std::string> modelDir(cl::Positional, cl::Required,
                                cl::desc("<MODEL_DIR>"), cl::cat(category));
  // cl::desc keeps a StringRef, so the text must outlive the option.
  const std::string presetHelp = "The model configuration to synthesize (" +
                                 join(llamac::presetNames(), ", ") + ")";
  cl::opt<std::string> preset("preset", cl::Required, cl::desc(presetHelp),
                              cl::value_desc("name"), cl::cat(category));
  cl::opt<uint64_t> seed(
      "seed",
      cl::desc("Seed of the random weights; the same seed gives a "
               "byte-identical checkpoint"),
      cl::value_desc("N"), cl::init(0), cl::cat(category));
  cl::opt<std::string> maxShardSize(
      "max-shard-size",
      cl::desc("Largest weight file before the weights are split into "
               "model-NNNNN-of-NNNNN.safetensors shards with an index, as "
               "save_pretrained does (bytes, or with KB/MB/GB)"),
      cl::value_desc("size"), cl::init("5GB"), cl::cat(category));
  cl::HideUnrelatedOptions(category);
  cl::ParseCommandLineOptions(
      argc, argv,
      "Write a Hugging Face checkpoint (config.json, generation_config.json,\n"
      "the weights in BF16: model.safetensors, or shards and\n"
      "model.safetensors.index.json above --max-shard-size) of a preset model\n"
      "with deterministic random weights, laid out like a download of the\n"
      "real model.\n\n"
      "MODEL_DIR must not exist, be empty, or hold a previous 'llamac synth'\n"
      "output, which is replaced. The checkpoint appears there only once it\n"
      "is complete.\n");

  auto config = llamac::getPresetConfig(preset);
  if (!config)
    return fail(toString(config.takeError()));
  std::optional<uint64_t> shardBytes = parseByteSize(maxShardSize);
  if (!shardBytes)
    return fail("--max-shard-size: '" + maxShardSize +
                "' is not a positive size (bytes, or a number with KB, MB, "
                "GB, KiB, MiB or GiB)");

  ProgressLine progressLine(modelDir);
  const bool showProgress = sys::Process::StandardErrIsDisplayed();
  auto start = std::chrono::steady_clock::now();
  Error written = llamac::synthesizeCheckpoint(
      modelDir, *config, seed, [&](uint64_t done, uint64_t total) {
        if (showProgress)
          progressLine.update(done, total);
      },
      *shardBytes);
  progressLine.clear();
  if (written)
    return fail(toString(std::move(written)));
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();

  // Reading back through the checkpoint reader checks the result with code
  // that is independent of the writer.
  auto checkpoint = llamac::Checkpoint::open(modelDir);
  if (!checkpoint)
    return fail("internal error: the synthesized checkpoint does not read "
                "back: " +
                toString(checkpoint.takeError()));
  uint64_t parameters = 0;
  for (const llamac::TensorInfo &tensor : checkpoint->weights->tensors())
    parameters += uint64_t(tensor.numElements());
  // The directory holds only what synth wrote.
  uint64_t bytes = 0;
  std::error_code ec;
  for (sys::fs::directory_iterator it(modelDir, ec), end; it != end && !ec;
       it.increment(ec)) {
    uint64_t size = 0;
    if (!sys::fs::file_size(it->path(), size))
      bytes += size;
  }

  outs() << "wrote " << modelDir << ": "
         << checkpoint->weights->tensors().size() << " tensors";
  if (size_t files = checkpoint->weights->numFiles(); files > 1)
    outs() << " in " << files << " shards";
  outs() << ", " << parameters << " parameters, " << bytes << " bytes, "
         << format("%.2f", seconds) << " s\n";
  return 0;
}
