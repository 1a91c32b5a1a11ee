//===- Runtime.h - Load and run a compiled llamac artifact ------*- C++ -*-===//
//
// Plain C++ (exceptions, no MLIR): the artifact's manifest is checked, its
// `model.so` loaded, its weights read into (huge-page) memory; a Session
// owns a KV cache and runs the generated `prefill`/`decode` entry points.
// Every numeric kernel is in the generated code; this file only moves
// pointers and checks bounds.
//
//===----------------------------------------------------------------------===//
#ifndef LLAMAC_RUNTIME_RUNTIME_H
#define LLAMAC_RUNTIME_RUNTIME_H

#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace llamac::runtime {

/// Everything the runtime reports to a user: one line, says what is wrong.
class Error : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

/// What the runtime needs from `manifest.json`.
struct Manifest {
  int64_t abiVersion = 0;
  std::string dtype;
  std::string targetCPU;
  std::vector<std::string> targetFeatures;
  /// The kernels use AMX tiles (compiled with --prefill-inputs=bf16).
  bool usesAMX = false;
  std::string libraryFile;
  /// fileFingerprint() of the library as compiled; empty in older artifacts.
  std::string libraryFingerprint;
  std::string weightsFile;
  uint64_t weightsSize = 0;
  /// fileFingerprint() of the file as compiled; empty in older artifacts.
  std::string weightsFingerprint;
  int64_t vocabSize = 0;
  int64_t numLayers = 0;
  int64_t numKVHeads = 0;
  int64_t headDim = 0;
  int64_t maxPositionEmbeddings = 0;
  std::optional<int64_t> bosTokenId;
  std::vector<int64_t> eosTokenIds;
  bool tieWordEmbeddings = false;

  /// One entry of the weight table.
  struct Tensor {
    std::string name;
    uint64_t offset = 0;
    uint64_t bytes = 0;
    std::vector<int64_t> shape;
    /// Empty, or "vnni16x32": a [out, in] matrix stored as tiles;
    /// "q8_0x16x32" / "q4_0x16x32": the quantized codes of one (its
    /// "_scales" entry has the same name and the layout with "_scales").
    std::string layout;

    /// The f16 block scales of a quantized matrix.
    bool isScales() const {
      return layout.size() > 7 &&
             layout.compare(layout.size() - 7, 7, "_scales") == 0;
    }
    /// A projection matrix (2-D, tiles of one, or its quantized codes).
    bool isMatrix() const {
      return (shape.size() == 2 || !layout.empty()) && !isScales();
    }
    /// Elements of the [out, in] matrix this entry stores (two 4-bit
    /// codes per byte for q4_0).
    int64_t matrixElements() const {
      return layout == "q4_0x16x32" ? 2 * numElements() : numElements();
    }
    int64_t numElements() const {
      int64_t count = 1;
      for (int64_t dim : shape)
        count *= dim;
      return count;
    }
  };
  std::vector<Tensor> tensors;
  /// Kernel names, indexed as the profile hook reports them.
  std::vector<std::string> kernels;

  /// Reads and checks `dir/manifest.json`.
  static Manifest read(const std::string &dir);
};

struct LoadOptions {
  /// Worker threads for the generated code's parallel tasks; 0 = all cores.
  int threads = 0;
  /// Most prompt tokens per call of the generated prefill: longer prompts
  /// run in consecutive chunks (same logits), which bounds the memory of
  /// the activations; 0 = the whole prompt in one call.
  int64_t prefillChunk = 512;
};

/// A loaded artifact: the library, its entry points and the weights.
class Model {
public:
  static std::unique_ptr<Model> load(const std::string &dir,
                                     const LoadOptions &options = {});
  ~Model();
  Model(const Model &) = delete;
  Model &operator=(const Model &) = delete;

  const Manifest &manifest() const { return info; }
  int threads() const { return numThreads; }

  /// Time per kernel, gathered while profiling is on.
  struct KernelTime {
    std::string kernel;
    int64_t calls = 0;
    double seconds = 0;
  };
  /// Turns the generated code's profile hook on or off.
  void setProfiling(bool enabled);
  /// What was gathered since the last call, most expensive first.
  std::vector<KernelTime> takeProfile();

private:
  Model() = default;
  friend class Session;
  Manifest info;
  void *library = nullptr;
  void *prefillFn = nullptr;
  void *prefillLastFn = nullptr;
  void *decodeFn = nullptr;
  void *weights = nullptr;
  uint64_t mappedSize = 0;
  /// Bytes of weights read into this process's memory (0 when mapped).
  uint64_t residentWeights = 0;
  int numThreads = 1;
  int64_t prefillChunk = 0;
  struct Executor;
  std::unique_ptr<Executor> executor;
};

/// One conversation's state: the KV cache and the position in it.
class Session {
public:
  /// A cache for `contextLength` tokens (at most the model's maximum).
  Session(Model &model, int64_t contextLength);
  ~Session();

  int64_t position() const { return pos; }
  int64_t capacity() const { return contextLength; }
  const Manifest &manifest() const { return model.info; }

  /// Runs `tokens` at the current position and returns their logits,
  /// `tokens.size()` rows of `vocabSize` floats — or, with `lastOnly`, the
  /// last token's row alone (what generation needs; the output projection
  /// then runs once instead of once per token). Runs in chunks of
  /// `LoadOptions::prefillChunk` tokens.
  std::vector<float> prefill(const std::vector<int32_t> &tokens,
                             bool lastOnly = false);
  /// Runs one token; returns its logits row.
  std::vector<float> decode(int32_t token);
  /// Forgets the history (the cache is overwritten as positions are reused).
  void reset() { pos = 0; }

private:
  /// Throws unless `tokens` is non-empty, fits the context at the current
  /// position and holds vocabulary ids only.
  void check(const std::vector<int32_t> &tokens) const;
  void run(void *entry, const std::vector<int32_t> &tokens,
           std::vector<float> &logits, int64_t logitRows);
  Model &model;
  int64_t contextLength;
  int64_t pos = 0;
  std::vector<float> keyCache, valueCache;
};

/// Index of the largest value (the first one on ties).
int64_t argmax(const float *values, int64_t count);

} // namespace llamac::runtime

#endif // LLAMAC_RUNTIME_RUNTIME_H
