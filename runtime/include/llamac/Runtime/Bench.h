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
  int repetitions = 3;
};

struct BenchResult {
  std::map<int64_t, Measurement> prefill;  ///< tok/s per prompt size
  std::map<int64_t, Measurement> decode;   ///< tok/s per generation size
  Measurement ttft;                        ///< s, smallest prompt size
  int64_t ttftPromptSize = 0;
  /// Weight bytes each decode step reads (the whole weight file but the
  /// embedding rows it does not touch when the embedding is untied).
  double decodeBytesPerToken = 0;
  /// FLOP per prompt token (2 per multiply-add): every matrix but the
  /// output projection once, attention excluded.
  double flopsPerToken = 0;
  /// FLOP of the output projection, which a prompt runs once (for its last
  /// token).
  double outputFlops = 0;

  /// Prefill GFLOP/s at `tokensPerSecond` for prompts of `size` tokens.
  double prefillGflops(double tokensPerSecond, int64_t size) const {
    return tokensPerSecond * (flopsPerToken + outputFlops / double(size)) /
           1e9;
  }
};

/// Runs the pp and tg measurements on `model` with a session sized for the
/// largest of them.
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
