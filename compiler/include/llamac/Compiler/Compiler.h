//===- Compiler.h - Checkpoint -> artifact (llamac compile) -----*- C++ -*-===//
//
// The driver behind `llamac compile`: reads a checkpoint, builds the llm
// graph, runs the named pipelines, generates native code for the target CPU,
// packs the weights in the layout the compiler chose, and writes the
// artifact directory atomically:
//
//   ART_DIR/model.so       generated kernels and entry points (KernelABI.h)
//   ART_DIR/weights.bin    all weights, page-aligned offsets, mmap-able
//   ART_DIR/manifest.json  config, options, target, ABI version, weights
//   ART_DIR/tokenizer.json ... copied from the checkpoint when present
//
//===----------------------------------------------------------------------===//
#ifndef LLAMAC_COMPILER_COMPILER_H
#define LLAMAC_COMPILER_COMPILER_H

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/raw_ostream.h"

#include <cstdint>
#include <functional>
#include <string>

namespace llamac {

/// Stages `--emit` can stop at.
enum class EmitStage { Artifact, LLM, Linalg, LLVMDialect, LLVMIR, Assembly };

/// Parses "llm", "linalg", "llvm", "llvm-ir", "asm".
llvm::Expected<EmitStage> parseEmitStage(llvm::StringRef name);

struct CompileOptions {
  /// Weight precision in the artifact: "bf16", "f32", or "q8_0" / "q4_0"
  /// (projection and embedding matrices block-quantized, llm-quantize-weights;
  /// other weights f32).
  std::string dtype = "bf16";
  /// Activations entering prefill's matrix products: "auto", "bf16" or
  /// "f32". bf16 stores the projection weights as AMX tiles
  /// (llm-pack-weights) and needs a target with AMX-BF16; auto picks it
  /// for bf16 weights on such a target.
  std::string prefillInputs = "auto";
  /// Activations entering decode's matrix-vector products by quantized
  /// weights: "auto", "i8" or "f32". i8 quantizes them per block of 32 and
  /// runs integer dot products (needs q8_0/q4_0 weights and AVX512-VNNI);
  /// auto picks it for quantized weights on such a target.
  std::string decodeInputs = "auto";
  /// "host" (this CPU and its features) or an LLVM CPU name.
  std::string targetCPU = "host";
  EmitStage emit = EmitStage::Artifact;
  /// When set, the IR after every pass goes to numbered files there.
  std::string dumpIRDir;
  /// Print where compile time goes.
  bool printTiming = false;
  /// Called with (what, done, total) during long steps; may be empty.
  std::function<void(llvm::StringRef, uint64_t, uint64_t)> progress;
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
