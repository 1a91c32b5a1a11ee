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

#include "llamac/Artifact/Error.h"
#include "llamac/Artifact/Manifest.h"
#include "llamac/Runtime/ZeroPages.h"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace llamac::runtime {

/// Everything the runtime reports to a user: one line, says what is wrong.
using Error = artifact::Error;
using ErrorKind = artifact::ErrorKind;
/// What the runtime reads from `manifest.json`.
using Manifest = artifact::Manifest;

struct LoadOptions {
  /// Worker threads for the generated code's parallel tasks; 0 = all cores.
  int threads = 0;
  /// More threads than this is a typo, not a machine: front ends refuse it.
  static constexpr int kMaxThreads = 1024;
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
    /// The micro-kernel its product runs on (manifest name, e.g.
    /// "vnni_gemv"); empty: generic code.
    std::string microKernel;
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
  /// A cache for `contextLength` tokens (at most the model's maximum),
  /// whose memory is taken as positions are first written (ZeroPages).
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
  /// Forgets the history (the cache is overwritten as positions are reused;
  /// the pages already touched stay).
  void reset() { pos = 0; }
  /// Keeps the first `position` tokens of the history and forgets the
  /// rest, as if only they had been run; throws beyond the current
  /// position.
  void truncate(int64_t position);

private:
  /// Throws unless `tokens` is non-empty, fits the context at the current
  /// position and holds vocabulary ids only.
  void check(const std::vector<int32_t> &tokens) const;
  void run(void *entry, const std::vector<int32_t> &tokens,
           std::vector<float> &logits, int64_t logitRows);
  Model &model;
  int64_t contextLength;
  int64_t pos = 0;
  ZeroPages keyCache, valueCache;
};

/// Index of the largest value (the first one on ties).
int64_t argmax(const float *values, int64_t count);

} // namespace llamac::runtime

#endif // LLAMAC_RUNTIME_RUNTIME_H
