//===- Compiler.h - Checkpoint -> artifact (llamac compile) -----*- C++ -*-===//
//
// The driver behind `llamac compile`, as named phases over one Compilation
// (so tests can run them one by one): plan (options checked, target and
// numerics resolved, nothing read), read the checkpoint, build the llm
// graph with its #llm.target, run the four stages of llm-compile-pipeline,
// generate native code, write the artifact directory atomically:
//
//   ART_DIR/model.so       generated kernels and entry points (KernelABI.h)
//   ART_DIR/weights.bin    all weights, page-aligned offsets
//   ART_DIR/manifest.json  config, options, target, ABI version, weights
//   ART_DIR/tokenizer.bin  ... and files copied from the checkpoint
//
//===----------------------------------------------------------------------===//
#ifndef LLAMAC_COMPILER_COMPILER_H
#define LLAMAC_COMPILER_COMPILER_H

#include "llamac/Frontend/GGUF.h"
#include "llamac/Passes/Strategy.h"

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/raw_ostream.h"

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

namespace llamac {

/// Stages `--emit` can stop at, in pipeline order.
enum class EmitStage {
  /// The llm graph as built, with its #llm.target: the input of
  /// llm-compile-pipeline.
  LLM,
  /// After llm-strategy-pipeline: fused projections, weight layouts,
  /// micro-kernels.
  Strategy,
  /// After llm-to-linalg-pipeline.
  Linalg,
  /// After llm-bufferize-pipeline and llm-lower-to-llvm-pipeline.
  LLVMDialect,
  LLVMIR,
  Assembly,
  /// The whole compile: an artifact directory.
  Artifact,
};

/// Parses "llm", "strategy", "linalg", "llvm", "llvm-ir", "asm".
llvm::Expected<EmitStage> parseEmitStage(llvm::StringRef name);

/// The flag values of `llamac compile --dtype --prefill-inputs
/// --decode-inputs`, with the error a user sees for anything else.
llvm::Expected<llm::WeightPrecision> parseWeightPrecision(llvm::StringRef name);

/// The --dtype that a GGUF file's quantized matrices are closest to, by
/// bits a weight, when no --dtype is given: the ggml type that holds most
/// of the matrices' bytes decides (Q4_0, Q4_K, Q5_K: q4_0; Q8_0, Q6_K:
/// q8_0). Nothing for a file of float matrices (bf16 stays the default).
/// `reason` says which type and how many bits.
std::optional<llm::WeightPrecision>
nearestWeightPrecision(const GGUFFile &file, std::string &reason);
llvm::Expected<llm::PrefillInputs> parsePrefillInputs(llvm::StringRef name);
llvm::Expected<llm::DecodeInputs> parseDecodeInputs(llvm::StringRef name);
/// `llamac compile --kv-type`.
llvm::Expected<llm::KVCachePrecision>
parseKVCachePrecision(llvm::StringRef name);

/// Moments of a compile a test may stop at (CompileHooks::reached).
enum class CompilePoint {
  /// model.o is written, model.so not yet linked.
  Codegen,
  /// weights.bin is half written.
  Packing,
  /// The new artifact is in place; a previous one not yet removed.
  Commit,
};
/// "codegen", "packing", "commit".
llvm::StringRef compilePointName(CompilePoint point);

/// Calls a test injects into a compile; production compiles pass none.
struct CompileHooks {
  std::function<void(CompilePoint)> reached;
};

struct CompileOptions {
  /// Weights, prefill inputs and decode inputs (see NumericsOptions).
  NumericsOptions numerics;
  /// "host" (this CPU and its features) or an LLVM CPU name.
  std::string targetCPU = "host";
  EmitStage emit = EmitStage::Artifact;
  /// When set, the IR after every pass goes to numbered files there.
  std::string dumpIRDir;
  /// Print where compile time goes.
  bool printTiming = false;
  /// Called with (what, done, total) during long steps; may be empty.
  std::function<void(llvm::StringRef, uint64_t, uint64_t)> progress;
  CompileHooks hooks;
};

/// One compile of one checkpoint, phase by phase. compileCheckpoint() runs
/// the phases in order; each may be run alone after the ones before it.
class Compilation {
public:
  /// Checks the options and resolves the target CPU and the numerics for
  /// it: a request the target cannot serve fails here, before anything is
  /// read.
  static llvm::Expected<std::unique_ptr<Compilation>>
  plan(llvm::StringRef modelDir, llvm::StringRef outputDir,
       const CompileOptions &options);
  ~Compilation();

  /// The numerics with `auto` resolved for the target.
  const Numerics &numerics() const;
  /// The target's LLVM CPU name.
  llvm::StringRef targetCPU() const;

  /// Reads and validates the checkpoint (and its tokenizer.json when an
  /// artifact is written).
  llvm::Error readInputs();
  /// Builds the llm graph, recording the target on the module.
  llvm::Error buildGraph();
  /// Runs the pipeline stage that leads to `stage` (Strategy, Linalg or
  /// LLVMDialect, the last two pipelines at once), with IR dumps.
  llvm::Error runStage(EmitStage stage);
  /// Prints the module as it is now.
  void printModule(llvm::raw_ostream &os);
  /// Translates the module to LLVM IR and optimizes it; with `emit` LLVMIR
  /// or Assembly prints that to `os`, otherwise keeps it for writeArtifact.
  llvm::Error generateCode(EmitStage emit, llvm::raw_ostream &os);
  /// Writes the artifact directory (model.so, weights.bin, tokenizer,
  /// manifest) and swaps it in at the output directory.
  llvm::Error writeArtifact();
  /// Prints where the time went (--time).
  void printTiming(llvm::raw_ostream &os);

private:
  struct State;
  explicit Compilation(std::unique_ptr<State> state);
  std::unique_ptr<State> state;
};

/// Compiles the checkpoint in `modelDir`. With `EmitStage::Artifact` writes
/// the artifact to `outputDir` (replacing a previous artifact there
/// atomically); otherwise prints the requested stage to `os`.
llvm::Error compileCheckpoint(llvm::StringRef modelDir,
                              llvm::StringRef outputDir,
                              const CompileOptions &options,
                              llvm::raw_ostream &os);

} // namespace llamac

#endif // LLAMAC_COMPILER_COMPILER_H
