//===- Compiler.cpp - Checkpoint -> artifact (llamac compile) -------------===//
//
// compileCheckpoint() is the phases of a Compilation in order, stopping
// where --emit says. The pipelines are the registered ones
// (llamac/Passes/Pipelines.h), run stage by stage so that each stage can
// be printed, dumped and timed: the same passes `llamac-opt
// --pass-pipeline=builtin.module(llm-compile-pipeline{...})` runs.
//
//===----------------------------------------------------------------------===//
#include "llamac/Compiler/Compiler.h"
#include "llamac/Compiler/ChatTemplate.h"
#include "llamac/Compiler/GGUFTokenizer.h"

#include "llamac/Artifact/KernelABI.h"
#include "llamac/Codegen/Codegen.h"
#include "llamac/Compiler/StagedDirectory.h"
#include "llamac/Compiler/WeightPacker.h"
#include "llamac/Frontend/Checkpoint.h"
#include "llamac/Frontend/GraphBuilder.h"
#include "llamac/Artifact/Fingerprint.h"
#include "llamac/Artifact/Manifest.h"
#include "llamac/IR/LLMOps.h"
#include "llamac/Passes/InitAll.h"
#include "llamac/Passes/KernelTable.h"
#include "llamac/Passes/Pipelines.h"
#include "llamac/Tokenizer/Tokenizer.h"

#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/ADT/ScopeExit.h"
#include "llvm/IR/LLVMContext.h"
#include "llvm/IR/Module.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/Target/TargetMachine.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <set>
#include <vector>

using namespace llvm;

namespace llamac {

namespace {

Error makeError(const Twine &message) {
  return createStringError(inconvertibleErrorCode(), message);
}

/// The value of `name` among the spellings of enum E (symbolize / stringify
/// from the dialect's ODS), or an error that lists them.
template <typename E, typename Symbolize, typename Stringify>
Expected<E> parseEnum(StringRef name, StringRef flag,
                      ArrayRef<E> choices, Symbolize symbolize,
                      Stringify stringify) {
  if (std::optional<E> value = symbolize(name))
    return *value;
  std::string list;
  for (E choice : choices)
    list += (list.empty() ? "" : ", ") + stringify(choice).str();
  return makeError("unknown " + flag + " '" + name + "' (" + list + ")");
}

} // namespace

Expected<EmitStage> parseEmitStage(StringRef name) {
  static const std::pair<StringLiteral, EmitStage> stages[] = {
      {"llm", EmitStage::LLM},          {"strategy", EmitStage::Strategy},
      {"linalg", EmitStage::Linalg},    {"llvm", EmitStage::LLVMDialect},
      {"llvm-ir", EmitStage::LLVMIR},   {"asm", EmitStage::Assembly}};
  for (auto &[spelling, stage] : stages)
    if (name == spelling)
      return stage;
  return makeError("unknown --emit stage '" + name +
                   "' (llm, strategy, linalg, llvm, llvm-ir, asm)");
}

Expected<llm::WeightPrecision> parseWeightPrecision(StringRef name) {
  using llm::WeightPrecision;
  return parseEnum<WeightPrecision>(
      name, "--dtype",
      {WeightPrecision::F32, WeightPrecision::BF16, WeightPrecision::Q8_0,
       WeightPrecision::Q4_0},
      [](StringRef s) { return llm::symbolizeWeightPrecision(s); },
      [](WeightPrecision p) { return llm::stringifyWeightPrecision(p); });
}

std::optional<llm::WeightPrecision>
nearestWeightPrecision(const GGUFFile &file, std::string &reason) {
  std::map<GGMLType, uint64_t> bytesByType;
  for (const GGUFTensor &tensor : file.tensors())
    if (tensor.dims.size() == 2)
      bytesByType[tensor.type] += tensor.byteSize;
  if (bytesByType.empty())
    return std::nullopt;
  GGMLType dominant =
      std::max_element(bytesByType.begin(), bytesByType.end(),
                       [](const auto &a, const auto &b) {
                         return a.second < b.second;
                       })
          ->first;
  std::optional<llm::WeightPrecision> precision;
  switch (dominant) {
  case GGMLType::Q4_0:
  case GGMLType::Q4_K:
  case GGMLType::Q5_K:
    precision = llm::WeightPrecision::Q4_0;
    break;
  case GGMLType::Q8_0:
  case GGMLType::Q6_K:
    precision = llm::WeightPrecision::Q8_0;
    break;
  default:
    return std::nullopt;
  }
  const GGMLTypeTraits *traits = getGGMLTypeTraits(uint32_t(dominant));
  reason = (Twine("its matrices are mostly ") + traits->name + " (" +
            formatv("{0:f2}", 8.0 * traits->blockBytes / traits->blockElements)
                .str() +
            " bits a weight)")
               .str();
  return precision;
}

Expected<llm::PrefillInputs> parsePrefillInputs(StringRef name) {
  using llm::PrefillInputs;
  return parseEnum<PrefillInputs>(
      name, "--prefill-inputs",
      {PrefillInputs::Auto, PrefillInputs::BF16, PrefillInputs::F32},
      [](StringRef s) { return llm::symbolizePrefillInputs(s); },
      [](PrefillInputs p) { return llm::stringifyPrefillInputs(p); });
}

Expected<llm::KVCachePrecision> parseKVCachePrecision(StringRef name) {
  using llm::KVCachePrecision;
  return parseEnum<KVCachePrecision>(
      name, "--kv-type",
      {KVCachePrecision::Auto, KVCachePrecision::F32, KVCachePrecision::BF16,
       KVCachePrecision::F16, KVCachePrecision::Q8_0},
      [](StringRef s) { return llm::symbolizeKVCachePrecision(s); },
      [](KVCachePrecision p) { return llm::stringifyKVCachePrecision(p); });
}

Expected<llm::DecodeInputs> parseDecodeInputs(StringRef name) {
  using llm::DecodeInputs;
  return parseEnum<DecodeInputs>(
      name, "--decode-inputs",
      {DecodeInputs::Auto, DecodeInputs::I8, DecodeInputs::F32},
      [](StringRef s) { return llm::symbolizeDecodeInputs(s); },
      [](DecodeInputs p) { return llm::stringifyDecodeInputs(p); });
}

StringRef compilePointName(CompilePoint point) {
  switch (point) {
  case CompilePoint::Codegen:
    return "codegen";
  case CompilePoint::Packing:
    return "packing";
  case CompilePoint::Commit:
    return "commit";
  }
  return "?";
}

namespace {

/// Wall time per compile phase, for `--time`.
class PhaseTimer {
public:
  explicit PhaseTimer(
      std::function<void(StringRef, uint64_t, uint64_t)> progress)
      : progress(std::move(progress)) {}

  void start(StringRef phase) {
    stop();
    if (progress)
      progress(phase, 0, 0);
    current = phase.str();
    begin = std::chrono::steady_clock::now();
  }
  void stop() {
    if (current.empty())
      return;
    auto elapsed = std::chrono::steady_clock::now() - begin;
    phases.push_back(
        {current, std::chrono::duration<double>(elapsed).count()});
    current.clear();
  }
  void print(raw_ostream &os) {
    stop();
    double total = 0;
    for (auto &[name, seconds] : phases)
      total += seconds;
    os << "compile time:\n";
    for (auto &[name, seconds] : phases)
      os << format("  %-28s %8.3f s  %5.1f%%\n", name.c_str(), seconds,
                   total > 0 ? 100 * seconds / total : 0.0);
    os << format("  %-28s %8.3f s\n", (const char *)"total", total);
  }

private:
  std::function<void(StringRef, uint64_t, uint64_t)> progress;
  std::string current;
  std::chrono::steady_clock::time_point begin;
  std::vector<std::pair<std::string, double>> phases;
};

/// artifact::fileFingerprint() of the file at `path`.
Expected<std::string> fingerprintFile(const std::string &path) {
  ErrorOr<std::unique_ptr<MemoryBuffer>> file = MemoryBuffer::getFile(
      path, /*IsText=*/false, /*RequiresNullTerminator=*/false);
  if (!file)
    return makeError(path + ": " + file.getError().message());
  return artifact::fileFingerprint((*file)->getBufferStart(),
                                   (*file)->getBufferSize());
}

/// Whether `dir` may be replaced by a new artifact: a previous artifact, or
/// an empty directory (never someone's other files).
bool isReplaceableOutput(StringRef dir) {
  if (sys::fs::exists(dir + "/manifest.json"))
    return true;
  std::error_code ec;
  return sys::fs::is_directory(dir) &&
         sys::fs::directory_iterator(dir, ec) == sys::fs::directory_iterator();
}

/// The arithmetic units the module's products run on, from the micro-kernels
/// the strategy chose (before llm-to-linalg). Everything else is generic
/// code, whose products (bf16 weights included: they are widened) LLVM
/// vectorizes to f32 FMAs.
std::vector<artifact::ComputeUnit> computeUnitsOf(mlir::ModuleOp module) {
  std::set<artifact::ComputeUnit> units = {artifact::ComputeUnit::F32FMA};
  module.walk([&](llm::LinearOp linear) {
    if (llm::MicroKernelAttr kernel = linear.getMicroKernelAttr())
      units.insert(kernel.getComputeUnit());
  });
  return {units.begin(), units.end()};
}

/// What writeManifest() needs to know of a compile.
struct ManifestInputs {
  const LlamaConfig &config;
  const Numerics &numerics;
  StringRef requestedCPU;
  const TargetCPU &target;
  ArrayRef<WeightSlot> slots;
  int64_t weightsSize;
  StringRef weightsFingerprint;
  StringRef libraryFingerprint;
  ArrayRef<artifact::ManifestKernel> kernels;
  ArrayRef<artifact::ComputeUnit> computeUnits;
  ArrayRef<std::string> copiedFiles;
  StringRef chatTemplate;
};

Error writeManifest(StringRef path, const ManifestInputs &in) {
  artifact::Manifest manifest;
  const LlamaConfig &config = in.config;
  manifest.configJSON = config.toJSON();
  manifest.vocabSize = config.vocabSize;
  manifest.maxPositionEmbeddings = config.maxPositionEmbeddings;
  manifest.bosTokenId = config.bosTokenId;
  manifest.eosTokenIds = config.eosTokenIds;
  manifest.tieWordEmbeddings = config.tieWordEmbeddings;
  manifest.dtype = llm::stringifyWeightPrecision(in.numerics.dtype).str();
  manifest.prefillInputs = in.numerics.bf16PrefillInputs ? "bf16" : "f32";
  manifest.decodeInputs = in.numerics.i8DecodeInputs ? "i8" : "f32";
  manifest.requestedTargetCPU = in.requestedCPU.str();
  manifest.targetTriple = in.target.triple;
  manifest.targetCPU = in.target.cpu;
  manifest.targetFeatures = in.target.features;
  manifest.computeUnits.assign(in.computeUnits.begin(), in.computeUnits.end());
  manifest.libraryFingerprint = in.libraryFingerprint.str();
  manifest.weightsSize = uint64_t(in.weightsSize);
  manifest.weightsFingerprint = in.weightsFingerprint.str();
  for (const WeightSlot &slot : in.slots) {
    artifact::ManifestTensor tensor;
    tensor.name = slot.name;
    tensor.offset = uint64_t(slot.offset);
    tensor.bytes = uint64_t(slot.byteSize());
    raw_string_ostream(tensor.dtype) << slot.type.getElementType();
    tensor.shape.assign(slot.type.getShape().begin(),
                        slot.type.getShape().end());
    tensor.layout = slot.layout;
    manifest.tensors.push_back(std::move(tensor));
  }
  manifest.numLayers = config.numLayers;
  manifest.numKVHeads = config.numKVHeads;
  manifest.headDim = config.headDim;
  manifest.numQueryHeads = config.numHeads;
  manifest.cacheElement = in.numerics.cacheElement();
  manifest.kernels.assign(in.kernels.begin(), in.kernels.end());
  manifest.files.assign(in.copiedFiles.begin(), in.copiedFiles.end());
  manifest.chatTemplate = in.chatTemplate.str();
  try {
    manifest.write(path.str());
  } catch (const artifact::Error &error) {
    return makeError(error.what());
  }
  return Error::success();
}

} // namespace

//===----------------------------------------------------------------------===//
// Compilation
//===----------------------------------------------------------------------===//

struct Compilation::State {
  State(StringRef modelDir, StringRef outputDir, const CompileOptions &options)
      : modelDir(modelDir.str()), outputDir(outputDir.str()), options(options),
        timer(options.progress) {}

  std::string modelDir, outputDir;
  CompileOptions options;
  TargetCPU target;
  Numerics numerics;
  PhaseTimer timer;

  std::optional<Checkpoint> checkpoint;
  std::unique_ptr<tokenizer::Tokenizer> tokenizer;
  /// The checkpoint's chat template (readChatTemplate), for the manifest.
  std::string chatTemplate;
  std::unique_ptr<mlir::MLIRContext> context;
  mlir::OwningOpRef<mlir::ModuleOp> module;
  /// Recorded after the strategy stage, for the manifest.
  std::vector<artifact::ComputeUnit> computeUnits;
  llvm::LLVMContext llvmContext;
  std::unique_ptr<llvm::Module> llvmModule;
  std::unique_ptr<llvm::TargetMachine> machine;

  void reached(CompilePoint point) const {
    if (options.hooks.reached)
      options.hooks.reached(point);
  }

  /// Runs `build`'s passes on the module, dumping the IR after each pass
  /// under DIR/<stageName>/ with --dump-ir-dir.
  Error runPipeline(function_ref<void(mlir::OpPassManager &)> build,
                    StringRef stageName) {
    mlir::PassManager pm(module->getContext());
    build(pm);
    if (!options.dumpIRDir.empty()) {
      std::string stageDir = (options.dumpIRDir + "/" + stageName).str();
      if (std::error_code ec = sys::fs::create_directories(stageDir))
        return makeError(stageDir + ": cannot create: " + ec.message());
      pm.enableIRPrintingToFileTree(
          [](mlir::Pass *, mlir::Operation *) { return false; },
          [](mlir::Pass *, mlir::Operation *) { return true; },
          /*printModuleScope=*/true, /*printAfterOnlyOnChange=*/false,
          /*printAfterOnlyOnFailure=*/false, stageDir);
    }
    if (failed(pm.run(*module)))
      return makeError("the " + stageName +
                       " pipeline failed (diagnostics above)");
    return Error::success();
  }

  /// Copies the checkpoint's tokenizer and generation files into the
  /// staging directory and compiles the tokenizer; returns their names.
  Expected<std::vector<std::string>> writeTokenizerFiles(
      const StagedDirectory &staging);
};

Compilation::Compilation(std::unique_ptr<State> state)
    : state(std::move(state)) {}
Compilation::~Compilation() = default;

const Numerics &Compilation::numerics() const { return state->numerics; }
StringRef Compilation::targetCPU() const { return state->target.cpu; }

Expected<std::unique_ptr<Compilation>>
Compilation::plan(StringRef modelDir, StringRef outputDir,
                  const CompileOptions &options) {
  auto state = std::make_unique<State>(modelDir, outputDir, options);
  Expected<TargetCPU> target = resolveTargetCPU(options.targetCPU);
  if (!target)
    return target.takeError();
  state->target = std::move(*target);
  mlir::DialectRegistry registry;
  registerAllDialects(registry);
  state->context = std::make_unique<mlir::MLIRContext>(registry);
  if (!options.dumpIRDir.empty())
    state->context->disableMultithreading(); // module-scope IR dumps need it
  state->context->loadDialect<llm::LLMDialect>();
  Expected<Numerics> numerics = resolveNumerics(
      options.numerics, getTargetAttr(state->context.get(), state->target));
  if (!numerics)
    return numerics.takeError();
  state->numerics = *numerics;
  return std::unique_ptr<Compilation>(new Compilation(std::move(state)));
}

Error Compilation::readInputs() {
  State &s = *state;
  s.timer.start("read checkpoint");
  Expected<Checkpoint> checkpoint = Checkpoint::open(s.modelDir);
  if (!checkpoint)
    return checkpoint.takeError();
  s.checkpoint = std::move(*checkpoint);
  // A broken tokenizer.json is reported before the seconds of codegen.
  std::string tokenizerPath = s.modelDir + "/tokenizer.json";
  if (s.options.emit == EmitStage::Artifact) {
    Expected<std::string> chatTemplate =
        readChatTemplate(s.modelDir, s.checkpoint->weights->ggufFile());
    if (!chatTemplate)
      return chatTemplate.takeError();
    s.chatTemplate = std::move(*chatTemplate);
  }
  if (const GGUFFile *gguf = s.checkpoint->weights->ggufFile();
      gguf && s.options.emit == EmitStage::Artifact) {
    s.timer.start("read tokenizer");
    Expected<std::optional<tokenizer::Tokenizer::GGUFVocabulary>> vocabulary =
        readGGUFVocabulary(*gguf);
    if (!vocabulary)
      return vocabulary.takeError();
    if (*vocabulary) {
      if (int64_t((*vocabulary)->tokens.size()) != s.checkpoint->config.vocabSize)
        return makeError(s.modelDir + ": tokenizer.ggml.tokens has " +
                         Twine((*vocabulary)->tokens.size()) +
                         " tokens for a model of " +
                         Twine(s.checkpoint->config.vocabSize));
      try {
        s.tokenizer =
            tokenizer::Tokenizer::fromGGUFVocabulary(**vocabulary, s.modelDir);
      } catch (const artifact::Error &error) {
        return makeError(error.what());
      }
    }
  } else if (s.options.emit == EmitStage::Artifact &&
             sys::fs::exists(tokenizerPath)) {
    s.timer.start("read tokenizer");
    try {
      s.tokenizer = tokenizer::Tokenizer::fromHuggingFaceJSON(tokenizerPath);
    } catch (const artifact::Error &error) {
      return makeError(error.what());
    }
  }
  return Error::success();
}

Error Compilation::buildGraph() {
  State &s = *state;
  s.timer.start("build llm graph");
  GraphOptions graphOptions;
  // Quantized artifacts keep their other weights (the norms) in f32; the
  // strategy stage then chooses the matrices' storage.
  graphOptions.weightType = s.numerics.dtype == llm::WeightPrecision::BF16
                                ? DType::BF16
                                : DType::F32;
  graphOptions.cacheElement = s.numerics.cacheElement();
  const LlamaConfig &config = s.checkpoint->config;
  if (!artifact::cacheHoldsHeadDim(graphOptions.cacheElement, config.headDim))
    return makeError("--kv-type=" +
                     artifact::cacheElementName(graphOptions.cacheElement) +
                     " stores blocks of " +
                     Twine(artifact::kQ8CacheBlockValues) +
                     " values; this model's head_dim is " +
                     Twine(config.headDim));
  s.module = buildLlamaGraph(*s.context, s.checkpoint->config, graphOptions);
  (*s.module)->setAttr(llm::TargetAttr::getAttrName(),
                       getTargetAttr(s.context.get(), s.target));
  if (failed(mlir::verify(*s.module)))
    return makeError("internal error: the llm graph does not verify");
  return Error::success();
}

Error Compilation::runStage(EmitStage stage) {
  State &s = *state;
  switch (stage) {
  case EmitStage::Strategy: {
    s.timer.start("strategy");
    NumericsOptions numerics = s.options.numerics;
    if (Error error = s.runPipeline(
            [&](mlir::OpPassManager &pm) {
              buildLLMStrategyPipeline(pm, numerics);
            },
            "0-strategy"))
      return error;
    s.computeUnits = computeUnitsOf(*s.module);
    return Error::success();
  }
  case EmitStage::Linalg:
    s.timer.start("llm -> linalg");
    return s.runPipeline(buildLLMToLinalgPipeline, "1-to-linalg");
  case EmitStage::LLVMDialect:
    s.timer.start("bufferize");
    if (Error error = s.runPipeline(buildLLMBufferizePipeline, "2-bufferize"))
      return error;
    s.timer.start("lower to LLVM dialect");
    return s.runPipeline(buildLLMLowerToLLVMPipeline, "3-lower-to-llvm");
  default:
    return makeError("internal error: no pipeline stage leads to this --emit");
  }
}

void Compilation::printModule(raw_ostream &os) {
  state->module->print(os);
  os << "\n";
}

Error Compilation::generateCode(EmitStage emit, raw_ostream &os) {
  State &s = *state;
  s.timer.start("translate to LLVM IR");
  // The target machine comes from what the module records, not from the
  // options: the IR says what it was compiled for.
  auto target = (*s.module)->getAttrOfType<llm::TargetAttr>(
      llm::TargetAttr::getAttrName());
  if (!target)
    return makeError("internal error: the module has no llm.target");
  Expected<std::unique_ptr<llvm::Module>> llvmModule = translateToLLVMIR(
      *s.module, s.llvmContext,
      {LLAMAC_PREFILL_SYMBOL, LLAMAC_PREFILL_LAST_SYMBOL, LLAMAC_DECODE_SYMBOL});
  if (!llvmModule)
    return llvmModule.takeError();
  Expected<std::unique_ptr<llvm::TargetMachine>> machine =
      createTargetMachine(getTargetCPU(target));
  if (!machine)
    return machine.takeError();
  s.timer.start("LLVM O3");
  optimizeModule(**llvmModule, **machine);
  s.llvmModule = std::move(*llvmModule);
  s.machine = std::move(*machine);
  if (emit == EmitStage::LLVMIR) {
    s.llvmModule->print(os, nullptr);
    return Error::success();
  }
  if (emit == EmitStage::Assembly) {
    s.timer.start("LLVM codegen");
    SmallString<0> buffer;
    raw_svector_ostream assembly(buffer);
    if (Error error = emitCode(*s.llvmModule, *s.machine, assembly, true))
      return error;
    os << buffer;
  }
  return Error::success();
}

Expected<std::vector<std::string>>
Compilation::State::writeTokenizerFiles(const StagedDirectory &staging) {
  timer.start("copy tokenizer files");
  std::vector<std::string> copied;
  for (StringRef name : {"tokenizer.json", "tokenizer_config.json",
                         "generation_config.json"}) {
    std::string source = modelDir + "/" + name.str();
    if (!sys::fs::exists(source))
      continue;
    if (std::error_code ec = sys::fs::copy_file(source, staging.file(name)))
      return makeError(source + ": cannot copy: " + ec.message());
    copied.push_back(name.str());
  }
  // The tokenizer in the form the runtime loads in milliseconds.
  if (tokenizer) {
    timer.start("compile tokenizer");
    try {
      tokenizer->save(staging.file("tokenizer.bin"));
    } catch (const artifact::Error &error) {
      return makeError(error.what());
    }
    copied.push_back("tokenizer.bin");
  }
  return copied;
}

Error Compilation::writeArtifact() {
  State &s = *state;
  int64_t weightsSize = 0;
  Expected<std::vector<WeightSlot>> slots =
      readWeightTable(*s.module, weightsSize);
  if (!slots)
    return slots.takeError();
  // The kernels the profile hook reports, by index.
  std::vector<artifact::ManifestKernel> kernels;
  for (const KernelTableEntry &entry : getKernelTable(*s.module))
    kernels.push_back(
        {entry.label,
         entry.microKernel
             ? llm::stringifyMicroKernelKind(entry.microKernel.getKind()).str()
             : std::string()});

  Expected<StagedDirectory> staging = StagedDirectory::create(s.outputDir);
  if (!staging)
    return staging.takeError();

  s.timer.start("LLVM codegen");
  {
    std::error_code ec;
    raw_fd_ostream object(staging->file("model.o"), ec);
    if (ec)
      return makeError(staging->file("model.o") + ": " + ec.message());
    if (Error error = emitCode(*s.llvmModule, *s.machine, object, false))
      return error;
  }
  s.reached(CompilePoint::Codegen);
  s.timer.start("link model.so");
  if (Error error = linkSharedLibrary(staging->file("model.o"),
                                      staging->file("model.so")))
    return error;
  sys::fs::remove(staging->file("model.o"));

  s.timer.start("pack weights");
  bool halfReported = false;
  auto packProgress = [&](uint64_t done, uint64_t total) {
    if (!halfReported && 2 * done >= total) {
      halfReported = true;
      s.reached(CompilePoint::Packing); // weights.bin half written
    }
    if (s.options.progress)
      s.options.progress("packing weights", done, total);
  };
  if (Error error = packWeights(*slots, weightsSize, *s.checkpoint->weights,
                                staging->file("weights.bin"), packProgress))
    return error;

  // Let the runtime tell these files from truncated ones or another
  // compile's.
  Expected<std::string> weightsFingerprint =
      fingerprintFile(staging->file("weights.bin"));
  if (!weightsFingerprint)
    return weightsFingerprint.takeError();
  Expected<std::string> libraryFingerprint =
      fingerprintFile(staging->file("model.so"));
  if (!libraryFingerprint)
    return libraryFingerprint.takeError();

  Expected<std::vector<std::string>> copied = s.writeTokenizerFiles(*staging);
  if (!copied)
    return copied.takeError();

  s.timer.start("write manifest");
  ManifestInputs manifest{s.checkpoint->config, s.numerics,
                          s.options.targetCPU,  s.target,
                          *slots,               weightsSize,
                          *weightsFingerprint,  *libraryFingerprint,
                          kernels,              s.computeUnits,
                          *copied,              s.chatTemplate};
  if (Error error = writeManifest(staging->file("manifest.json"), manifest))
    return error;
  return staging->commit(s.outputDir, isReplaceableOutput,
                         [&] { s.reached(CompilePoint::Commit); });
}

void Compilation::printTiming(raw_ostream &os) { state->timer.print(os); }

Error compileCheckpoint(StringRef modelDir, StringRef outputDir,
                        const CompileOptions &options, raw_ostream &os) {
  Expected<std::unique_ptr<Compilation>> planned =
      Compilation::plan(modelDir, outputDir, options);
  if (!planned)
    return planned.takeError();
  Compilation &compilation = **planned;
  auto printTiming = make_scope_exit([&] {
    if (options.printTiming)
      compilation.printTiming(errs());
  });
  const EmitStage emit = options.emit;
  if (Error error = compilation.readInputs())
    return error;
  if (Error error = compilation.buildGraph())
    return error;
  // Each pipeline stage, printed instead of going on when --emit asks.
  for (EmitStage stage :
       {EmitStage::LLM, EmitStage::Strategy, EmitStage::Linalg,
        EmitStage::LLVMDialect}) {
    if (stage != EmitStage::LLM)
      if (Error error = compilation.runStage(stage))
        return error;
    if (emit == stage) {
      compilation.printModule(os);
      return Error::success();
    }
  }
  if (Error error = compilation.generateCode(emit, os))
    return error;
  if (emit != EmitStage::Artifact)
    return Error::success();
  return compilation.writeArtifact();
}

} // namespace llamac
