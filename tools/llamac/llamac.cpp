//===- llamac.cpp - The llamac compiler driver ----------------------------===//
//
//   llamac graph [MODEL_DIR | --preset NAME] [--stats] [-o FILE]
//
// Each command is a function with its own options, so `llamac CMD --help`
// lists exactly what that command takes.
//
//===----------------------------------------------------------------------===//
#include "Commands.h"
#include "llamac/Compiler/Compiler.h"
#include "llamac/Frontend/Checkpoint.h"
#include "llamac/Frontend/GGUF.h"
#include "llamac/Frontend/GraphBuilder.h"
#include "llamac/Frontend/LlamaConfig.h"
#include "llamac/Passes/InitAll.h"
#include "llamac/Passes/GraphStats.h"

#include "mlir/IR/AsmState.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Process.h"
#include "llvm/Support/raw_ostream.h"

#include <string>
#include <vector>

using namespace llvm;

namespace {

constexpr const char *kUsage = R"(llamac: an ahead-of-time compiler for Llama-architecture models

USAGE: llamac <command> [options]

COMMANDS:
  graph    Print the llm dialect IR of a checkpoint's model (or a preset)
  compile  Compile a checkpoint into an artifact (model.so, weights.bin, ...)
  synth    Write a checkpoint with deterministic random weights (1B layout)

Run 'llamac <command> --help' for the options of a command.
)";

/// Prints `message` as the one line a user sees and returns the exit code.
int fail(const Twine &message) {
  errs() << "llamac: error: " << message << "\n";
  return 1;
}

int fail(Error error) { return fail(toString(std::move(error))); }

/// Argument vector for a command: "llamac CMD" as argv[0], then its args.
struct CommandArgs {
  std::string name;
  std::vector<const char *> argv;
  CommandArgs(StringRef command, int argc, char **argv)
      : name(("llamac " + command).str()) {
    this->argv.push_back(name.c_str());
    for (int i = 2; i < argc; ++i)
      this->argv.push_back(argv[i]);
  }
};

/// LLVM registers a hidden `--stats` (pass statistics) that would clash with
/// ours; the driver runs no LLVM pass whose statistics anyone reads here.
void releaseLLVMStatsOption() {
  auto &options = cl::getRegisteredOptions();
  if (auto it = options.find("stats"); it != options.end())
    it->second->removeArgument();
}

int runGraph(int argc, char **argv) {
  releaseLLVMStatsOption();
  cl::OptionCategory category("llamac graph options");
  cl::opt<std::string> modelPath(
      cl::Positional, cl::desc("<MODEL_DIR | config.json>"), cl::init(""),
      cl::cat(category));
  // cl::desc keeps a pointer: the text must outlive the option.
  std::string presetHelp =
      "Use an embedded model configuration instead of a checkpoint (" +
      join(llamac::presetNames(), ", ") + ")";
  cl::opt<std::string> preset(
      "preset", cl::desc(presetHelp),
      cl::value_desc("name"), cl::init(""), cl::cat(category));
  cl::opt<bool> stats("stats",
                      cl::desc("Append op counts per function and the "
                               "parameter size as // comments"),
                      cl::init(false), cl::cat(category));
  cl::opt<std::string> outputPath("o", cl::desc("Write the IR to <file>"),
                                  cl::value_desc("file"), cl::init("-"),
                                  cl::cat(category));
  mlir::registerAsmPrinterCLOptions();
  mlir::registerMLIRContextCLOptions();
  cl::HideUnrelatedOptions(category);

  CommandArgs args("graph", argc, argv);
  cl::ParseCommandLineOptions(
      int(args.argv.size()), args.argv.data(),
      "Print the llm dialect IR (prefill and decode) of a Llama model.\n\n"
      "MODEL_DIR is a Hugging Face checkpoint directory (config.json and,\n"
      "if present, model.safetensors or the shards of\n"
      "model.safetensors.index.json, which are then validated against the\n"
      "config and give each weight its element type), or a GGUF file.\n");

  if (modelPath.empty() == preset.empty())
    return fail("give either a MODEL_DIR or --preset NAME (see --help)");

  llamac::LlamaConfig config;
  llamac::GraphOptions options;
  if (!preset.empty()) {
    auto presetConfig = llamac::getPresetConfig(preset);
    if (!presetConfig)
      return fail(presetConfig.takeError());
    config = *presetConfig;
  } else if ((sys::fs::is_directory(modelPath) &&
              (sys::fs::exists(modelPath + "/model.safetensors") ||
               sys::fs::exists(modelPath + "/model.safetensors.index.json"))) ||
             (sys::fs::is_regular_file(modelPath) &&
              llamac::GGUFFile::hasMagic(modelPath))) {
    auto checkpoint = llamac::Checkpoint::open(modelPath);
    if (!checkpoint)
      return fail(checkpoint.takeError());
    config = checkpoint->config;
    options = llamac::graphOptionsFor(*checkpoint);
  } else {
    std::string configPath = modelPath;
    if (sys::fs::is_directory(modelPath))
      configPath = modelPath + "/config.json";
    auto fileConfig = llamac::readLlamaConfig(configPath);
    if (!fileConfig)
      return fail(fileConfig.takeError());
    config = *fileConfig;
  }
  if (options.paramTypes.empty()) {
    auto weightType = llamac::weightTypeFromTorchDtype(config.torchDtype);
    if (!weightType)
      return fail(weightType.takeError());
    options.weightType = *weightType;
  }

  mlir::DialectRegistry registry;
  llamac::registerAllDialects(registry);
  mlir::MLIRContext context(registry);
  auto module = llamac::buildLlamaGraph(context, config, options);
  if (failed(mlir::verify(*module)))
    return fail("internal error: the generated graph does not verify "
                "(diagnostics above)");

  // writeToOutput writes a temporary file and renames it: no half-written
  // output if we are interrupted.
  Error written = writeToOutput(outputPath, [&](raw_ostream &os) -> Error {
    module->print(os, mlir::OpPrintingFlags());
    os << "\n";
    if (stats)
      llamac::printGraphStats(llamac::collectGraphStats(*module), os);
    return Error::success();
  });
  if (written)
    return fail(std::move(written));
  return 0;
}

int runCompile(int argc, char **argv) {
  releaseLLVMStatsOption();
  cl::OptionCategory category("llamac compile options");
  cl::opt<std::string> modelDir(cl::Positional, cl::Required,
                                cl::desc("<MODEL_DIR>"), cl::cat(category));
  cl::opt<std::string> outputDir("o", cl::desc("Artifact directory to write"),
                                 cl::value_desc("dir"), cl::init(""),
                                 cl::cat(category));
  cl::opt<std::string> dtype("dtype",
                             cl::desc("Weight precision: bf16 (default), "
                                      "f32, or q8_0 / q4_0 (matrices "
                                      "block-quantized, llama.cpp's rules); "
                                      "activations and sums are always f32"),
                             cl::init("bf16"), cl::cat(category));
  cl::opt<std::string> prefillInputs(
      "prefill-inputs",
      cl::desc("Precision of the activations entering prefill's matrix "
               "products: auto (default: bf16 when the weights are bf16, "
               "q8_0 or q4_0 and the CPU has AMX-BF16 or AVX512-BF16; f32 "
               "otherwise), bf16 "
               "or f32. With q8_0/q4_0, bf16 also rounds the dequantized "
               "weights to bf16 in prefill; f32 is exact"),
      cl::value_desc("auto|bf16|f32"), cl::init("auto"), cl::cat(category));
  cl::opt<std::string> decodeInputs(
      "decode-inputs",
      cl::desc("Precision of the activations entering decode's products by "
               "q8_0/q4_0 weights: auto (default: i8 when the weights are "
               "quantized and the CPU has AVX512-VNNI, f32 otherwise), i8 "
               "(inputs quantized in blocks of 32, integer dot products) or "
               "f32 (exact)"),
      cl::value_desc("auto|i8|f32"), cl::init("auto"), cl::cat(category));
  cl::opt<std::string> kvType(
      "kv-type",
      cl::desc("Element type of the KV cache: auto (default: bf16 when the "
               "CPU has AVX512-BF16, else f16 with F16C, else f32), bf16 or "
               "f16 (half the memory and the bandwidth of decode; new keys "
               "and values rounded to nearest, read back widened to f32), "
               "q8_0 (34/128 of f32: blocks of 32 values as int8 codes and an "
               "f16 scale, as llama.cpp's q8_0 cache) or f32 (exact)"),
      cl::value_desc("auto|f32|bf16|f16|q8_0"), cl::init("auto"),
      cl::cat(category));
  cl::opt<std::string> targetCPU(
      "target-cpu",
      cl::desc("CPU to generate code for: host (default: this CPU and its "
               "features, AVX-512 included) or an LLVM CPU name"),
      cl::value_desc("name"), cl::init("host"), cl::cat(category));
  cl::opt<std::string> emit(
      "emit",
      cl::desc("Print a stage instead of writing an artifact: llm (the "
               "graph as built, the input of llm-compile-pipeline), strategy "
               "(weight layouts and micro-kernels chosen), linalg, llvm (LLVM "
               "dialect), llvm-ir, asm"),
      cl::value_desc("stage"), cl::init(""), cl::cat(category));
  cl::opt<std::string> dumpIRDir(
      "dump-ir-dir", cl::desc("Write the IR after every pass to DIR"),
      cl::value_desc("dir"), cl::init(""), cl::cat(category));
  cl::opt<bool> timing("time", cl::desc("Print where compile time goes"),
                       cl::init(false), cl::cat(category));
  mlir::registerAsmPrinterCLOptions();
  mlir::registerMLIRContextCLOptions();
  cl::HideUnrelatedOptions(category);

  CommandArgs args("compile", argc, argv);
  cl::ParseCommandLineOptions(
      int(args.argv.size()), args.argv.data(),
      "Compile a Hugging Face Llama checkpoint (a directory with\n"
      "config.json and model.safetensors or its shards) or a GGUF file\n"
      "(F32, F16, BF16, Q8_0, Q4_0, Q4_K, Q5_K, Q6_K tensors) into a native\n"
      "artifact. A quantized GGUF file compiles by default to the nearest\n"
      "of llamac's weight types (q4_0 or q8_0).\n");

  llamac::CompileOptions options;
  auto weights = llamac::parseWeightPrecision(dtype);
  if (!weights)
    return fail(weights.takeError());
  // A quantized GGUF file compiles to the nearest of llamac's types unless
  // --dtype says otherwise (a bad file is reported by the compile itself).
  // Said once the artifact is written, so that a failed compile still
  // ends in one error line.
  std::string dtypeNote;
  if (dtype.getNumOccurrences() == 0 &&
      sys::fs::is_regular_file(modelDir) &&
      llamac::GGUFFile::hasMagic(modelDir)) {
    if (auto file = llamac::GGUFFile::open(modelDir)) {
      std::string reason;
      if (auto nearest = llamac::nearestWeightPrecision(**file, reason)) {
        weights = *nearest;
        dtypeNote = ("llamac: " + modelDir + ": " + reason +
                     "; compiled with --dtype " +
                     llamac::llm::stringifyWeightPrecision(*nearest) +
                     ", the nearest of llamac's weight types (give --dtype "
                     "to choose)")
                        .str();
      }
    } else {
      consumeError(file.takeError());
    }
  }
  auto prefill = llamac::parsePrefillInputs(prefillInputs);
  if (!prefill)
    return fail(prefill.takeError());
  auto decode = llamac::parseDecodeInputs(decodeInputs);
  if (!decode)
    return fail(decode.takeError());
  auto cache = llamac::parseKVCachePrecision(kvType);
  if (!cache)
    return fail(cache.takeError());
  options.numerics = {*weights, *prefill, *decode, *cache};
  options.targetCPU = targetCPU;
  options.dumpIRDir = dumpIRDir;
  options.printTiming = timing;
  if (!emit.empty()) {
    auto stage = llamac::parseEmitStage(emit);
    if (!stage)
      return fail(stage.takeError());
    options.emit = *stage;
  } else if (outputDir.empty()) {
    return fail("give the artifact directory with -o DIR (or --emit=STAGE)");
  }
  // One line rewritten in place, only for a person watching a terminal.
  if (sys::Process::StandardErrIsDisplayed())
    options.progress = [](StringRef what, uint64_t done, uint64_t total) {
      if (total == 0)
        errs() << format("\r\033[Kcompiling: %s...", what.str().c_str());
      else
        errs() << format("\r\033[Kcompiling: %s %3.0f%%",
                         what.str().c_str(), 100.0 * done / total);
    };
  Error error =
      llamac::compileCheckpoint(modelDir, outputDir, options, outs());
  if (options.progress)
    errs() << "\r\033[K";
  if (error)
    return fail(std::move(error));
  if (!dtypeNote.empty())
    errs() << dtypeNote << "\n";
  if (options.emit == llamac::EmitStage::Artifact)
    errs() << "wrote " << outputDir << "\n";
  return 0;
}

} // namespace

int main(int argc, char **argv) {
  InitLLVM initLLVM(argc, argv);
  if (argc < 2) {
    errs() << kUsage;
    return 1;
  }
  StringRef command = argv[1];
  if (command == "--help" || command == "-h" || command == "help") {
    outs() << kUsage;
    return 0;
  }
  if (command == "graph")
    return runGraph(argc, argv);
  if (command == "compile")
    return runCompile(argc, argv);
  if (command == "synth") {
    CommandArgs args("synth", argc, argv);
    return runSynthCommand(int(args.argv.size()),
                           const_cast<char **>(args.argv.data()));
  }
  return fail("unknown command '" + command +
              "' (commands: graph, compile, synth; see --help)");
}
