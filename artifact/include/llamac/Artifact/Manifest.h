//===- Manifest.h - An artifact's manifest.json -----------------*- C++ -*-===//
//
// The one description of manifest.json: `llamac compile` fills a Manifest
// and writes it, the runtime reads it back with every field checked. The
// file is JSON, keys sorted, two-space indentation:
//
//   format         "llamac-artifact"
//   abi_version    LLAMAC_ABI_VERSION of the compiler (KernelABI.h)
//   config         the checkpoint's config.json, as the compiler read it
//   compile        dtype, prefill_inputs, decode_inputs, target_cpu (asked)
//   target         triple, cpu, features (LLVM names) the code was made for
//   compute_units  the arithmetic units the kernels run on ("f32-fma", ...)
//   library, library_fingerprint, entry_points   model.so
//   weights        file, size, fingerprint, tensors (name, offset, bytes,
//                  dtype, shape, layout)
//   kv_cache       layers, kv_heads, query_heads, head_dim, dtype (f32,
//                  bf16, f16, q8_0)
//   kernels        {name, micro_kernel}, indexed as the profile hook reports
//   files          the other files copied into the artifact
//
//===----------------------------------------------------------------------===//
#ifndef LLAMAC_ARTIFACT_MANIFEST_H
#define LLAMAC_ARTIFACT_MANIFEST_H

#include "llamac/Artifact/CacheElement.h"
#include "llamac/Artifact/ComputeUnit.h"
#include "llamac/Artifact/KernelABI.h"
#include "llamac/Artifact/WeightLayout.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace llamac::artifact {

/// One entry of the weight table: where a stored tensor lies in weights.bin.
struct ManifestTensor {
  std::string name;
  uint64_t offset = 0;
  uint64_t bytes = 0;
  /// The stored element type as MLIR spells it: "f32", "bf16", "f16", "i8".
  std::string dtype;
  std::vector<int64_t> shape;
  /// How a matrix is stored; none: the checkpoint's own layout. A quantized
  /// matrix has two entries of the same name, its codes and their scales.
  std::optional<WeightLayout> layout;

  /// The f16 block scales of a quantized matrix.
  bool isScales() const { return layout && layout->isScales(); }
  /// A projection matrix (2-D, tiles or panels of one, or its quantized
  /// codes).
  bool isMatrix() const { return (shape.size() == 2 || layout) && !isScales(); }
  /// Elements of the [out, in] matrix this entry stores (two 4-bit codes
  /// per byte for q4_0).
  int64_t matrixElements() const {
    return numElements() * (layout ? layout->valuesPerElement() : 1);
  }
  int64_t numElements() const {
    int64_t count = 1;
    for (int64_t dim : shape)
      count *= dim;
    return count;
  }
};

/// One kernel of the generated code.
struct ManifestKernel {
  std::string name;
  /// The micro-kernel its product runs on (e.g. "amx_bf16"); empty:
  /// generic code.
  std::string microKernel;
};

struct Manifest {
  int64_t abiVersion = LLAMAC_ABI_VERSION;

  // config: the checkpoint's config.json.
  /// The whole object as JSON text. write() writes it with the typed fields
  /// below in place of its own; read() fills both. Empty: only the typed
  /// fields.
  std::string configJSON;
  int64_t vocabSize = 0;
  int64_t maxPositionEmbeddings = 0;
  std::optional<int64_t> bosTokenId;
  /// config.json's end ids (`eos_token_id`: written as one number when
  /// there is one, a list when more).
  std::vector<int64_t> eosTokenIds;
  bool tieWordEmbeddings = false;

  // compile: what the compile was asked for.
  /// Weight precision: "bf16", "f32", "q8_0", "q4_0".
  std::string dtype;
  /// Activations entering prefill's and decode's products: "bf16" / "f32",
  /// "i8" / "f32".
  std::string prefillInputs;
  std::string decodeInputs;
  /// --target-cpu as given ("host" or an LLVM CPU name).
  std::string requestedTargetCPU;

  // target: what the code was generated for.
  std::string targetTriple;
  std::string targetCPU;
  /// LLVM feature names ("avx512f", "amx-bf16", ...).
  std::vector<std::string> targetFeatures;
  /// The arithmetic units the kernels use, each once.
  std::vector<ComputeUnit> computeUnits;

  std::string libraryFile = "model.so";
  /// fileFingerprint() of the library as compiled; may be empty.
  std::string libraryFingerprint;

  // weights
  std::string weightsFile = "weights.bin";
  uint64_t weightsSize = 0;
  /// fileFingerprint() of the file as compiled; may be empty.
  std::string weightsFingerprint;
  std::vector<ManifestTensor> tensors;

  // kv_cache: [layers, kv_heads, ctx, row] of `cacheElement` for keys and
  // values (a row: cacheRowWidth(cacheElement, headDim) elements).
  int64_t numLayers = 0;
  int64_t numKVHeads = 0;
  int64_t headDim = 0;
  /// Query heads of the attention reading the cache (`num_kv_heads` of
  /// them share one cached head): what its arithmetic costs.
  int64_t numQueryHeads = 0;
  CacheElement cacheElement = CacheElement::F32;

  /// Indexed as the generated code's profile hook reports them.
  std::vector<ManifestKernel> kernels;
  /// Files copied or made beside the manifest ("tokenizer.bin", ...).
  std::vector<std::string> files;
  /// The checkpoint's Jinja chat template (a GGUF file's
  /// tokenizer.chat_template, tokenizer_config.json's chat_template), kept
  /// for clients that format with it; empty when it had none. Written as
  /// tokenizer.chat_template only when there is one.
  std::string chatTemplate;

  /// The end ids of the artifact's generation_config.json (copied from the
  /// checkpoint; it may name more than config.json). Filled by read(), not
  /// part of manifest.json.
  std::vector<int64_t> generationEosTokenIds;

  /// Every id generation stops at: eosTokenIds, then those of
  /// generation_config.json, each once.
  std::vector<int64_t> stopTokenIds() const;
  /// Whether `unit` is among computeUnits.
  bool usesComputeUnit(ComputeUnit unit) const;
  /// Whether some kernel needs the AMX tile state, which the process must
  /// ask Linux for before running them.
  bool needsTileState() const;

  /// Reads and checks `dir/manifest.json` (and `dir/generation_config.json`
  /// when present). Anything missing, malformed, of another ABI version or
  /// inconsistent is an Error naming the file and what is wrong.
  static Manifest read(const std::string &dir);
  /// Writes manifest.json to `path` (pretty-printed, keys sorted). Throws an
  /// Error naming the file when it cannot be written or configJSON is not
  /// a JSON object.
  void write(const std::string &path) const;
};

} // namespace llamac::artifact

#endif // LLAMAC_ARTIFACT_MANIFEST_H
