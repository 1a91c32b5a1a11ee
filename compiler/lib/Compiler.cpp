//===- Compiler.cpp - Checkpoint -> artifact (llamac compile) -------------===//
#include "llamac/Compiler/Compiler.h"

#include "llamac/Codegen/Codegen.h"
#include "llamac/Artifact/KernelABI.h"
#include "llamac/Compiler/StagedDirectory.h"
#include "llamac/Compiler/WeightPacker.h"
#include "llamac/Frontend/Checkpoint.h"
#include "llamac/Frontend/GraphBuilder.h"
#include "llamac/Artifact/Fingerprint.h"
#include "llamac/Artifact/Manifest.h"
#include "llamac/Tokenizer/Tokenizer.h"
#include "llamac/InitAll.h"
#include "llamac/Transforms/Passes.h"
#include "llamac/Transforms/Pipelines.h"

#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/ADT/ScopeExit.h"
#include "llvm/IR/LLVMContext.h"
#include "llvm/IR/Module.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/Target/TargetMachine.h"

#include <chrono>
#include <vector>

using namespace llvm;

namespace llamac {

Expected<EmitStage> parseEmitStage(StringRef name) {
  if (name == "llm")
    return EmitStage::LLM;
  if (name == "linalg")
    return EmitStage::Linalg;
  if (name == "llvm")
    return EmitStage::LLVMDialect;
  if (name == "llvm-ir")
    return EmitStage::LLVMIR;
  if (name == "asm")
    return EmitStage::Assembly;
  return createStringError(inconvertibleErrorCode(),
                           "unknown --emit stage '%s' (llm, linalg, llvm, "
                           "llvm-ir, asm)",
                           name.str().c_str());
}

namespace {

Error makeError(const Twine &message) {
  return createStringError(inconvertibleErrorCode(), message);
}

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

Error runPipeline(mlir::ModuleOp module,
                  function_ref<void(mlir::OpPassManager &)> build,
                  const CompileOptions &options, StringRef stageName) {
  mlir::PassManager pm(module.getContext());
  build(pm);
  if (!options.dumpIRDir.empty()) {
    // One file per pass, numbered in order, under DIR/<stage>/.
    std::string stageDir = (options.dumpIRDir + "/" + stageName).str();
    if (std::error_code ec = sys::fs::create_directories(stageDir))
      return makeError(stageDir + ": cannot create: " + ec.message());
    pm.enableIRPrintingToFileTree(
        [](mlir::Pass *, mlir::Operation *) { return false; },
        [](mlir::Pass *, mlir::Operation *) { return true; },
        /*printModuleScope=*/true, /*printAfterOnlyOnChange=*/false,
        /*printAfterOnlyOnFailure=*/false, stageDir);
  }
  if (failed(pm.run(module)))
    return makeError("the " + stageName +
                     " pipeline failed (diagnostics above)");
  return Error::success();
}

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

Error writeManifest(StringRef path, const LlamaConfig &config,
                    const CompileOptions &options, StringRef prefillInputs,
                    StringRef decodeInputs,
                    const TargetCPU &target,
                    ArrayRef<WeightSlot> slots, int64_t weightsSize,
                    StringRef weightsFingerprint,
                    StringRef libraryFingerprint,
                    ArrayRef<std::string> kernels,
                    ArrayRef<std::string> copiedFiles) {
  artifact::Manifest manifest;
  manifest.configJSON = config.toJSON();
  manifest.vocabSize = config.vocabSize;
  manifest.maxPositionEmbeddings = config.maxPositionEmbeddings;
  manifest.bosTokenId = config.bosTokenId;
  manifest.eosTokenIds = config.eosTokenIds;
  manifest.tieWordEmbeddings = config.tieWordEmbeddings;
  manifest.dtype = options.dtype;
  manifest.prefillInputs = prefillInputs.str();
  manifest.decodeInputs = decodeInputs.str();
  manifest.requestedTargetCPU = options.targetCPU;
  manifest.targetTriple = target.triple;
  manifest.targetCPU = target.cpu;
  manifest.targetFeatures = target.features;
  // TODO(strategy): derive the units from the micro-kernels the pipeline
  // chose. For now, what these options imply: f32 FMAs everywhere, bf16 dot
  // products with bf16 weights, AMX tiles with bf16 prefill inputs.
  manifest.computeUnits.push_back(artifact::ComputeUnit::F32FMA);
  if (options.dtype == "bf16")
    manifest.computeUnits.push_back(artifact::ComputeUnit::BF16Dot);
  if (prefillInputs == "bf16")
    manifest.computeUnits.push_back(artifact::ComputeUnit::AMXBF16);
  manifest.libraryFingerprint = libraryFingerprint.str();
  manifest.weightsSize = uint64_t(weightsSize);
  manifest.weightsFingerprint = weightsFingerprint.str();
  for (const WeightSlot &slot : slots) {
    artifact::ManifestTensor tensor;
    tensor.name = slot.name;
    tensor.offset = uint64_t(slot.offset);
    tensor.bytes = uint64_t(slot.byteSize());
    raw_string_ostream(tensor.dtype) << slot.type.getElementType();
    tensor.shape.assign(slot.type.getShape().begin(),
                        slot.type.getShape().end());
    if (!slot.layout.empty()) {
      tensor.layout = artifact::WeightLayout::parse(slot.layout);
      if (!tensor.layout)
        return makeError("internal error: weight '" + slot.name +
                         "' has unknown layout '" + slot.layout + "'");
    }
    manifest.tensors.push_back(std::move(tensor));
  }
  manifest.numLayers = config.numLayers;
  manifest.numKVHeads = config.numKVHeads;
  manifest.headDim = config.headDim;
  for (const std::string &kernel : kernels)
    manifest.kernels.push_back({kernel, /*microKernel=*/""});
  manifest.files.assign(copiedFiles.begin(), copiedFiles.end());
  try {
    manifest.write(path.str());
  } catch (const artifact::Error &error) {
    return makeError(error.what());
  }
  return Error::success();
}

} // namespace

Error compileCheckpoint(StringRef modelDir, StringRef outputDir,
                        const CompileOptions &options, raw_ostream &os) {
  PhaseTimer timer(options.progress);
  auto printTiming = make_scope_exit([&] {
    if (options.printTiming)
      timer.print(errs());
  });

  const bool quantized = options.dtype == "q8_0" || options.dtype == "q4_0";
  if (options.dtype != "bf16" && options.dtype != "f32" && !quantized)
    return makeError("unknown --dtype '" + options.dtype +
                     "' (f32, bf16, q8_0, q4_0)");
  if (options.prefillInputs != "auto" && options.prefillInputs != "bf16" &&
      options.prefillInputs != "f32")
    return makeError("unknown --prefill-inputs '" + options.prefillInputs +
                     "' (auto, bf16, f32)");
  if (options.decodeInputs != "auto" && options.decodeInputs != "i8" &&
      options.decodeInputs != "f32")
    return makeError("unknown --decode-inputs '" + options.decodeInputs +
                     "' (auto, i8, f32)");

  timer.start("read checkpoint");
  Expected<Checkpoint> checkpoint = Checkpoint::open(modelDir);
  if (!checkpoint)
    return checkpoint.takeError();
  Expected<TargetCPU> target = resolveTargetCPU(options.targetCPU);
  if (!target)
    return target.takeError();
  // bf16 prefill inputs mean AMX tiles: the weights must be bf16 (or
  // quantized, then dequantized to bf16 tiles) and the target must have the
  // matrix unit.
  bool targetHasAMX = target->hasFeature("amx-tile") &&
                      target->hasFeature("amx-bf16");
  bool roundPrefillInputs =
      options.prefillInputs == "bf16" ||
      (options.prefillInputs == "auto" &&
       (options.dtype == "bf16" || quantized) && targetHasAMX);
  if (roundPrefillInputs && options.dtype == "f32")
    return makeError("--prefill-inputs=bf16 needs --dtype bf16, q8_0 or q4_0");
  if (roundPrefillInputs && !targetHasAMX)
    return makeError("--prefill-inputs=bf16 needs a target CPU with AMX-BF16 "
                     "(target '" + target->cpu + "' has none)");
  // i8 decode inputs mean integer dot products with the weights' codes:
  // quantized weights, and the 512-bit VNNI instructions the kernels use.
  bool targetHasVNNI = target->hasFeature("avx512vnni") &&
                       target->hasFeature("avx512bw");
  bool quantizeDecodeInputs =
      options.decodeInputs == "i8" ||
      (options.decodeInputs == "auto" && quantized && targetHasVNNI);
  if (quantizeDecodeInputs && !quantized)
    return makeError("--decode-inputs=i8 needs --dtype q8_0 or q4_0");
  if (quantizeDecodeInputs && !targetHasVNNI)
    return makeError("--decode-inputs=i8 needs a target CPU with "
                     "AVX512-VNNI (target '" + target->cpu + "' has none)");
  // A broken tokenizer.json is reported before the seconds of codegen.
  std::unique_ptr<tokenizer::Tokenizer> tokenizer;
  if (options.emit == EmitStage::Artifact &&
      sys::fs::exists(modelDir + "/tokenizer.json")) {
    timer.start("read tokenizer");
    try {
      tokenizer = tokenizer::Tokenizer::fromHuggingFaceJSON(
          (modelDir + "/tokenizer.json").str());
    } catch (const artifact::Error &error) {
      return makeError(error.what());
    }
  }

  timer.start("build llm graph");
  mlir::DialectRegistry registry;
  registerAllDialects(registry);
  mlir::MLIRContext context(registry);
  if (!options.dumpIRDir.empty())
    context.disableMultithreading(); // module-scope IR dumps need it
  GraphOptions graphOptions;
  // Quantized artifacts keep their other weights (the norms) in f32.
  graphOptions.weightType =
      options.dtype == "bf16" ? DType::BF16 : DType::F32;
  mlir::OwningOpRef<mlir::ModuleOp> module =
      buildLlamaGraph(context, checkpoint->config, graphOptions);
  if (failed(mlir::verify(*module)))
    return makeError("internal error: the llm graph does not verify");
  // Stacked Q/K/V and gate/up weights: decided on the graph, before the
  // weights' layout or quantization (which then apply to the stacks).
  if (Error error = runPipeline(
          *module,
          [](mlir::OpPassManager &pm) {
            pm.addPass(createLLMFuseProjectionsPass());
          },
          options, "0-fuse-projections"))
    return error;
  if (roundPrefillInputs && !quantized) {
    if (Error error = runPipeline(
            *module,
            [](mlir::OpPassManager &pm) {
              pm.addPass(createLLMPackWeightsPass());
            },
            options, "0-pack-weights"))
      return error;
  }
  // f32 products become register-blocked FMA kernels on panels of 64
  // outputs, which need AVX-512's 32 vector registers of 16 lanes; other
  // targets keep the generic products.
  if (options.dtype == "f32" && target->hasFeature("avx512f")) {
    if (Error error = runPipeline(
            *module,
            [](mlir::OpPassManager &pm) {
              pm.addPass(createLLMPackF32WeightsPass());
            },
            options, "0-pack-f32-weights"))
      return error;
  }
  if (quantized) {
    std::string scheme = options.dtype;
    if (Error error = runPipeline(
            *module,
            [&](mlir::OpPassManager &pm) {
              LLMQuantizeWeightsPassOptions quantizeOptions;
              quantizeOptions.scheme = scheme;
              if (roundPrefillInputs)
                quantizeOptions.matrixInputType = "bf16";
              if (quantizeDecodeInputs)
                quantizeOptions.vectorInputType = "i8";
              pm.addPass(createLLMQuantizeWeightsPass(quantizeOptions));
            },
            options, "0-quantize-weights"))
      return error;
  }
  if (options.emit == EmitStage::LLM) {
    module->print(os);
    return Error::success();
  }

  timer.start("llm -> linalg");
  if (Error error = runPipeline(*module, buildLLMToLinalgPipeline, options,
                                "1-to-linalg"))
    return error;
  if (options.emit == EmitStage::Linalg) {
    module->print(os);
    return Error::success();
  }
  int64_t weightsSize = 0;
  Expected<std::vector<WeightSlot>> slots =
      readWeightTable(*module, weightsSize);
  if (!slots)
    return slots.takeError();

  timer.start("bufferize");
  if (Error error = runPipeline(*module, buildLLMBufferizePipeline, options,
                                "2-bufferize"))
    return error;
  timer.start("lower to LLVM dialect");
  if (Error error = runPipeline(*module, buildLLMLowerToLLVMPipeline, options,
                                "3-lower-to-llvm"))
    return error;
  // Names of the kernels the profile hook reports, by index.
  std::vector<std::string> kernels;
  if (auto names = (*module)->getAttrOfType<mlir::ArrayAttr>("llm.kernels"))
    for (mlir::Attribute name : names)
      kernels.push_back(cast<mlir::StringAttr>(name).str());
  if (options.emit == EmitStage::LLVMDialect) {
    module->print(os);
    return Error::success();
  }

  timer.start("translate to LLVM IR");
  llvm::LLVMContext llvmContext;
  Expected<std::unique_ptr<llvm::Module>> llvmModule = translateToLLVMIR(
      *module, llvmContext,
      {LLAMAC_PREFILL_SYMBOL, LLAMAC_PREFILL_LAST_SYMBOL, LLAMAC_DECODE_SYMBOL});
  if (!llvmModule)
    return llvmModule.takeError();
  Expected<std::unique_ptr<llvm::TargetMachine>> machine =
      createTargetMachine(*target);
  if (!machine)
    return machine.takeError();
  timer.start("LLVM O3");
  optimizeModule(**llvmModule, **machine);
  if (options.emit == EmitStage::LLVMIR) {
    (*llvmModule)->print(os, nullptr);
    return Error::success();
  }
  if (options.emit == EmitStage::Assembly) {
    timer.start("LLVM codegen");
    SmallString<0> buffer;
    raw_svector_ostream assembly(buffer);
    if (Error error = emitCode(**llvmModule, **machine, assembly, true))
      return error;
    os << buffer;
    return Error::success();
  }

  Expected<StagedDirectory> staging = StagedDirectory::create(outputDir);
  if (!staging)
    return staging.takeError();

  timer.start("LLVM codegen");
  {
    std::error_code ec;
    raw_fd_ostream object(staging->file("model.o"), ec);
    if (ec)
      return makeError(staging->file("model.o") + ": " + ec.message());
    if (Error error = emitCode(**llvmModule, **machine, object, false))
      return error;
  }
  pauseForTestAt("codegen");
  timer.start("link model.so");
  if (Error error = linkSharedLibrary(staging->file("model.o"),
                                      staging->file("model.so")))
    return error;
  sys::fs::remove(staging->file("model.o"));

  timer.start("pack weights");
  bool pausedInPacking = false;
  auto packProgress = [&](uint64_t done, uint64_t total) {
    if (!pausedInPacking && 2 * done >= total) {
      pausedInPacking = true;
      pauseForTestAt("packing"); // weights.bin half written
    }
    if (options.progress)
      options.progress("packing weights", done, total);
  };
  if (Error error = packWeights(*slots, weightsSize, *checkpoint->weights,
                                staging->file("weights.bin"), packProgress))
    return error;

  // Let the runtime tell these files from truncated ones or another
  // compile's.
  Expected<std::string> fingerprint =
      fingerprintFile(staging->file("weights.bin"));
  if (!fingerprint)
    return fingerprint.takeError();
  Expected<std::string> libraryFingerprint =
      fingerprintFile(staging->file("model.so"));
  if (!libraryFingerprint)
    return libraryFingerprint.takeError();

  timer.start("copy tokenizer files");
  std::vector<std::string> copied;
  for (StringRef name : {"tokenizer.json", "tokenizer_config.json",
                         "generation_config.json"}) {
    std::string source = (modelDir + "/" + name).str();
    if (!sys::fs::exists(source))
      continue;
    if (std::error_code ec = sys::fs::copy_file(source, staging->file(name)))
      return makeError(source + ": cannot copy: " + ec.message());
    copied.push_back(name.str());
  }
  // The tokenizer in the form the runtime loads in milliseconds.
  if (tokenizer) {
    timer.start("compile tokenizer");
    try {
      tokenizer->save(staging->file("tokenizer.bin"));
    } catch (const artifact::Error &error) {
      return makeError(error.what());
    }
    copied.push_back("tokenizer.bin");
  }
  timer.start("write manifest");
  if (Error error = writeManifest(staging->file("manifest.json"),
                                  checkpoint->config, options,
                                  roundPrefillInputs ? "bf16" : "f32",
                                  quantizeDecodeInputs ? "i8" : "f32", *target,
                                  *slots, weightsSize, *fingerprint,
                                  *libraryFingerprint, kernels, copied))
    return error;
  return staging->commit(outputDir, isReplaceableOutput);
}

} // namespace llamac
