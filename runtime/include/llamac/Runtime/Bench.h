//===- Bench.h - Benchmarking a compiled model ------------------*- C++ -*-===//
//
// What `llamac-run bench` measures, in the style of llama-bench: prompt
// processing (pp) and token generation (tg) throughput as medians over
// repetitions, time to first token, and how close decode gets to this
// machine's read bandwidth and prefill to its arithmetic peak — both probed
// here, on the same threads, in the same run.
//
//===----------------------------------------------------------------------===//
#ifndef LLAMAC_RUNTIME_BENCH_H
#define LLAMAC_RUNTIME_BENCH_H

#include "llamac/Runtime/Runtime.h"

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace llamac::runtime {

/// Median and range of repeated measurements.
struct Measurement {
  double median = 0, low = 0, high = 0;
  static Measurement of(std::vector<double> samples);
};

/// Memory read bandwidth in GB/s: every thread sums its share of a buffer
/// far larger than the caches through several interleaved streams.
Measurement probeReadBandwidth(int threads, int repetitions = 5);

/// Peak f32 FMA throughput in GFLOP/s (AVX-512 when the CPU has it, else
/// AVX2/FMA), and the bf16 dot-product peak (`vdpbf16ps`; 0 without
/// AVX512_BF16), all threads busy.
Measurement probePeakF32(int threads, int repetitions = 5);
Measurement probePeakBF16(int threads, int repetitions = 5);
/// Peak AMX bf16 tile throughput (`tdpbf16ps`, four independent
/// accumulator tiles). Only for processes the kernel gave AMX state to (a
/// model that uses AMX is loaded).
Measurement probePeakAMX(int threads, int repetitions = 5);

/// The arithmetic peaks a benchmark reports, each from its probe.
struct ComputePeaks {
  Measurement f32FMA, bf16Dot, amxBF16;

  /// The probe of `unit`: f32-fma probePeakF32, amx-bf16 probePeakAMX.
  /// (No micro-kernel runs on `vdpbf16ps`; its peak is reported as the
  /// machine's, not compared with.)
  const Measurement &of(artifact::ComputeUnit unit) const;
  /// The highest median among `units` (0 for none): the ceiling of the
  /// arithmetic of kernels that run on them.
  double highest(const std::vector<artifact::ComputeUnit> &units) const;
};

/// Probes the f32 FMA and bf16 dot peaks (reported whatever the model uses)
/// and, when `units` holds amx-bf16, the AMX peak (only a process that
/// loaded a model using AMX has the tile state it needs).
ComputePeaks probeComputePeaks(const std::vector<artifact::ComputeUnit> &units,
                               int threads);

struct BenchOptions {
  std::vector<int64_t> promptSizes = {64, 512};
  std::vector<int64_t> generateSizes = {128};
  /// Tokens already in the cache when each pp and tg test starts (like
  /// llama-bench's -d): depth 0 is an empty cache for pp and the BOS token
  /// alone for tg.
  std::vector<int64_t> depths = {0};
  int repetitions = 3;
};

/// One measured test: `size` tokens (prompt or generated) after `depth`.
struct BenchPoint {
  int64_t depth = 0, size = 0;
  bool operator<(const BenchPoint &other) const {
    return depth != other.depth ? depth < other.depth : size < other.size;
  }
};

struct BenchResult {
  std::map<BenchPoint, Measurement> prefill; ///< tok/s per (depth, prompt)
  std::map<BenchPoint, Measurement> decode;  ///< tok/s per (depth, generated)
  Measurement ttft;                          ///< s, smallest prompt, depth
  int64_t ttftPromptSize = 0;                ///< at the smallest depth
  int64_t ttftDepth = 0;
  /// Weight bytes each decode step reads (the whole weight file but the
  /// embedding rows it does not touch when the embedding is untied).
  double decodeBytesPerToken = 0;
  /// KV-cache bytes each decode step reads per position already cached
  /// (keys and values of every layer).
  double cacheBytesPerPosition = 0;
  /// FLOP per prompt token (2 per multiply-add): every matrix but the
  /// output projection once, attention excluded.
  double flopsPerToken = 0;
  /// FLOP of the output projection, which a prompt runs once (for its last
  /// token).
  double outputFlops = 0;
  /// FLOP of attention per (query, key) pair it scores: q·k and the
  /// weighted sum of v, in every layer and query head.
  double attentionFlopsPerPair = 0;

  /// FLOP of a prompt of `size` tokens after `depth` cached ones: the
  /// matrices for every token, the output projection once, and causal
  /// attention, where token i (from 0) attends depth + i + 1 keys.
  double prefillFlops(BenchPoint point) const {
    double n = double(point.size), d = double(point.depth);
    double pairs = n * d + n * (n + 1) / 2;
    return n * flopsPerToken + outputFlops + pairs * attentionFlopsPerPair;
  }
  /// Prefill GFLOP/s at `tokensPerSecond`, attention counted.
  double prefillGflops(double tokensPerSecond, BenchPoint point) const {
    return tokensPerSecond * prefillFlops(point) / double(point.size) / 1e9;
  }
  /// Bytes a decode step reads on average over `size` steps after `depth`
  /// cached positions: the weights and the cache up to that step.
  double decodeBytes(BenchPoint point) const {
    double cached = double(point.depth) + double(point.size + 1) / 2;
    return decodeBytesPerToken + cached * cacheBytesPerPosition;
  }
};

/// How a test is named in tables and JSON: "512", or "512@d4096" after a
/// depth, as llama-bench writes "pp512 @ d4096".
std::string benchPointName(BenchPoint point);

/// Runs the pp and tg measurements on `model` with one session sized for
/// the deepest and largest of them; each depth's prefix is prefilled once
/// and every repetition starts again from it.
BenchResult runBench(Model &model, const BenchOptions &options);

/// Time per kernel of one prefill of `promptSize` tokens and of the decode
/// step after it.
struct KernelProfile {
  int64_t promptSize = 0;
  std::vector<Model::KernelTime> prefill, decode;
};
KernelProfile profileKernels(Model &model, int64_t promptSize);

} // namespace llamac::runtime

#endif // LLAMAC_RUNTIME_BENCH_H
