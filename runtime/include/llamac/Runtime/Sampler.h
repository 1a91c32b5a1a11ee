//===- Sampler.h - Choosing the next token from logits ----------*- C++ -*-===//
//
// The sampling chain, in llama.cpp's order: repetition penalty over the
// recent tokens, then top-k, top-p, min-p, temperature, and a draw from the
// remaining distribution. Temperature 0 means greedy (argmax, first index on
// ties). The random stream is a seeded 64-bit generator with a portable
// uniform conversion, so the same seed gives the same tokens on any machine.
//
//===----------------------------------------------------------------------===//
#ifndef LLAMAC_RUNTIME_SAMPLER_H
#define LLAMAC_RUNTIME_SAMPLER_H

#include <cstdint>
#include <deque>
#include <string>
#include <vector>

namespace llamac::runtime {

struct SamplerOptions {
  /// 0 = greedy.
  double temperature = 0.8;
  /// Keep the k most likely tokens; 0 = all.
  int64_t topK = 40;
  /// Keep the smallest set whose probability reaches p; 1 = all.
  double topP = 0.95;
  /// Drop tokens less likely than min_p times the most likely; 0 = none.
  double minP = 0.05;
  /// Divide positive logits (multiply negative ones) of recent tokens; 1 =
  /// off.
  double repeatPenalty = 1.0;
  /// How many recent tokens the penalty looks at.
  int64_t repeatLastN = 64;
  uint64_t seed = 0;

  /// Throws Error naming the first out-of-range value.
  void validate() const;
};

class Sampler {
public:
  explicit Sampler(const SamplerOptions &options);

  /// Picks the next token from one row of logits and remembers it for the
  /// repetition penalty.
  int32_t sample(const float *logits, int64_t vocabSize);
  /// Adds prompt tokens to the penalty window without sampling.
  void remember(int32_t token);

private:
  double nextUniform();
  SamplerOptions options;
  uint64_t state;
  std::deque<int32_t> recent;
};

} // namespace llamac::runtime

#endif // LLAMAC_RUNTIME_SAMPLER_H
