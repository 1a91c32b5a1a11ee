//===- Bench.cpp - Benchmarking a compiled model --------------------------===//
//
// The probes are measurement instruments, not model kernels: they run
// dependent-free FMA chains and streaming reads to find the machine's
// ceilings, against which the generated code's figures are reported.
//
//===----------------------------------------------------------------------===//
#include "llamac/Runtime/Bench.h"

#include "llamac/Runtime/Preflight.h"

#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>

#include <immintrin.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <memory>

namespace llamac::runtime {

namespace {

using Clock = std::chrono::steady_clock;

double seconds(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

/// Runs `body(thread)` once on each of `threads` threads at the same time
/// and returns the wall time.
template <typename Body> double timeOnAllThreads(int threads, Body body) {
  tbb::task_arena arena(threads);
  double elapsed = 0;
  arena.execute([&] {
    auto start = Clock::now();
    tbb::parallel_for(0, threads, [&](int thread) { body(thread); },
                      tbb::static_partitioner());
    elapsed = seconds(start);
  });
  return elapsed;
}

/// Four interleaved streams over [begin, end): independent accumulators
/// keep several cache-line fetches in flight.
uint64_t sumStreams(const uint64_t *begin, const uint64_t *end) {
  size_t count = size_t(end - begin), quarter = count / 4;
  const uint64_t *a = begin, *b = begin + quarter, *c = begin + 2 * quarter,
                 *d = begin + 3 * quarter;
  uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  for (size_t i = 0; i < quarter; ++i) {
    s0 += a[i];
    s1 += b[i];
    s2 += c[i];
    s3 += d[i];
  }
  return s0 ^ s1 ^ s2 ^ s3;
}

/// The same with 64-byte loads, so that the probe is limited by memory and
/// not by the load instructions of one core.
__attribute__((target("avx512f"))) uint64_t
sumStreamsAvx512(const uint64_t *begin, const uint64_t *end) {
  size_t count = size_t(end - begin) / 8, quarter = count / 4;
  const __m512i *blocks = reinterpret_cast<const __m512i *>(begin);
  const __m512i *a = blocks, *b = blocks + quarter, *c = blocks + 2 * quarter,
                *d = blocks + 3 * quarter;
  __m512i s0 = _mm512_setzero_si512(), s1 = s0, s2 = s0, s3 = s0;
  for (size_t i = 0; i < quarter; ++i) {
    s0 = _mm512_add_epi64(s0, _mm512_loadu_si512(a + i));
    s1 = _mm512_add_epi64(s1, _mm512_loadu_si512(b + i));
    s2 = _mm512_add_epi64(s2, _mm512_loadu_si512(c + i));
    s3 = _mm512_add_epi64(s3, _mm512_loadu_si512(d + i));
  }
  __m512i sum = _mm512_add_epi64(_mm512_add_epi64(s0, s1),
                                 _mm512_add_epi64(s2, s3));
  return uint64_t(_mm512_reduce_add_epi64(sum));
}

__attribute__((target("avx512f"))) double fmaAvx512(int64_t iterations) {
  __m512 acc[16];
  for (int i = 0; i < 16; ++i)
    acc[i] = _mm512_set1_ps(float(i));
  const __m512 a = _mm512_set1_ps(0.999f), b = _mm512_set1_ps(1e-4f);
  for (int64_t n = 0; n < iterations; ++n)
    for (int i = 0; i < 16; ++i)
      acc[i] = _mm512_fmadd_ps(acc[i], a, b);
  __m512 sum = acc[0];
  for (int i = 1; i < 16; ++i)
    sum = _mm512_add_ps(sum, acc[i]);
  return _mm512_reduce_add_ps(sum);
}

__attribute__((target("avx2,fma"))) double fmaAvx2(int64_t iterations) {
  __m256 acc[12];
  for (int i = 0; i < 12; ++i)
    acc[i] = _mm256_set1_ps(float(i));
  const __m256 a = _mm256_set1_ps(0.999f), b = _mm256_set1_ps(1e-4f);
  for (int64_t n = 0; n < iterations; ++n)
    for (int i = 0; i < 12; ++i)
      acc[i] = _mm256_fmadd_ps(acc[i], a, b);
  float out[8];
  __m256 sum = acc[0];
  for (int i = 1; i < 12; ++i)
    sum = _mm256_add_ps(sum, acc[i]);
  _mm256_storeu_ps(out, sum);
  return out[0];
}

__attribute__((target("avx512f,avx512bf16"))) double
dotBF16(int64_t iterations) {
  __m512 acc[16];
  for (int i = 0; i < 16; ++i)
    acc[i] = _mm512_setzero_ps();
  const __m512bh a = (__m512bh)_mm512_set1_epi16(0x3f80); // bf16 1.0
  const __m512bh b = (__m512bh)_mm512_set1_epi16(0x3a83); // bf16 ~1e-3
  for (int64_t n = 0; n < iterations; ++n)
    for (int i = 0; i < 16; ++i)
      acc[i] = _mm512_dpbf16_ps(acc[i], a, b);
  __m512 sum = acc[0];
  for (int i = 1; i < 16; ++i)
    sum = _mm512_add_ps(sum, acc[i]);
  return _mm512_reduce_add_ps(sum);
}

/// The AMX tile configuration the probe uses: palette 1, every tile 16 rows
/// of 64 bytes.
struct TileConfig {
  uint8_t palette = 1, startRow = 0, reserved[14] = {};
  uint16_t bytesPerRow[16] = {};
  uint8_t rows[16] = {};
};

__attribute__((target("amx-tile,amx-bf16"))) double amxBF16(int64_t iterations) {
  TileConfig config;
  for (int i = 0; i < 8; ++i) {
    config.bytesPerRow[i] = 64;
    config.rows[i] = 16;
  }
  alignas(64) static thread_local uint16_t inputs[2][16 * 32];
  alignas(64) float result[16 * 16];
  _tile_loadconfig(&config);
  // Four independent accumulators (tiles 0-3) of two inputs each (4-7).
  _tile_zero(0);
  _tile_zero(1);
  _tile_zero(2);
  _tile_zero(3);
  _tile_loadd(4, inputs[0], 64);
  _tile_loadd(5, inputs[1], 64);
  _tile_loadd(6, inputs[0], 64);
  _tile_loadd(7, inputs[1], 64);
  for (int64_t n = 0; n < iterations; ++n) {
    _tile_dpbf16ps(0, 4, 6);
    _tile_dpbf16ps(1, 4, 7);
    _tile_dpbf16ps(2, 5, 6);
    _tile_dpbf16ps(3, 5, 7);
  }
  _tile_stored(0, result, 64);
  _tile_release();
  return result[0];
}

volatile double sink;

/// A deterministic prompt of `size` ids spread over the vocabulary.
std::vector<int32_t> benchPrompt(int64_t size, int64_t vocabSize) {
  std::vector<int32_t> tokens(size);
  for (int64_t i = 0; i < size; ++i)
    tokens[i] = int32_t((i * 7919 + 13) % vocabSize);
  return tokens;
}

} // namespace

Measurement Measurement::of(std::vector<double> samples) {
  Measurement m;
  if (samples.empty())
    return m;
  std::sort(samples.begin(), samples.end());
  size_t n = samples.size();
  m.median = n % 2 ? samples[n / 2]
                   : (samples[n / 2 - 1] + samples[n / 2]) / 2;
  m.low = samples.front();
  m.high = samples.back();
  return m;
}

Measurement probeReadBandwidth(int threads, int repetitions) {
  // 1 GiB: far beyond any cache, so every pass comes from DRAM.
  const size_t bytes = size_t(1) << 30, words = bytes / sizeof(uint64_t);
  std::unique_ptr<uint64_t[]> buffer(new uint64_t[words]);
  timeOnAllThreads(threads, [&](int thread) {
    size_t chunk = words / threads;
    std::memset(buffer.get() + thread * chunk, 1, chunk * sizeof(uint64_t));
  });
  const bool wide = __builtin_cpu_supports("avx512f");
  std::vector<double> samples;
  for (int r = 0; r < repetitions; ++r) {
    double elapsed = timeOnAllThreads(threads, [&](int thread) {
      size_t chunk = words / threads;
      const uint64_t *begin = buffer.get() + thread * chunk;
      sink = double(wide ? sumStreamsAvx512(begin, begin + chunk)
                         : sumStreams(begin, begin + chunk));
    });
    samples.push_back(double(bytes) / elapsed / 1e9);
  }
  return Measurement::of(samples);
}

Measurement probePeakF32(int threads, int repetitions) {
  const bool avx512 = __builtin_cpu_supports("avx512f");
  if (!avx512 && !(__builtin_cpu_supports("avx2") &&
                   __builtin_cpu_supports("fma")))
    return {};
  const int64_t iterations = 20'000'000;
  const double flops = double(iterations) * (avx512 ? 16 * 16 : 12 * 8) * 2;
  std::vector<double> samples;
  for (int r = 0; r < repetitions; ++r) {
    double elapsed = timeOnAllThreads(threads, [&](int) {
      sink = avx512 ? fmaAvx512(iterations) : fmaAvx2(iterations);
    });
    samples.push_back(flops * threads / elapsed / 1e9);
  }
  return Measurement::of(samples);
}

Measurement probePeakBF16(int threads, int repetitions) {
  if (!__builtin_cpu_supports("avx512bf16"))
    return {};
  const int64_t iterations = 20'000'000;
  // Each vdpbf16ps: 16 lanes x 2 products x (multiply + add).
  const double flops = double(iterations) * 16 * 16 * 2 * 2;
  std::vector<double> samples;
  for (int r = 0; r < repetitions; ++r) {
    double elapsed = timeOnAllThreads(
        threads, [&](int) { sink = dotBF16(iterations); });
    samples.push_back(flops * threads / elapsed / 1e9);
  }
  return Measurement::of(samples);
}

Measurement probePeakAMX(int threads, int repetitions) {
  // Callers probe only for artifacts that use AMX, whose loading asked the
  // kernel for the tile state.
  const int64_t iterations = 2'000'000;
  // Each tdpbf16ps: 16 x 16 outputs x 32 products x (multiply + add).
  const double flops = double(iterations) * 4 * 16 * 16 * 32 * 2;
  std::vector<double> samples;
  for (int r = 0; r < repetitions; ++r) {
    double elapsed = timeOnAllThreads(
        threads, [&](int) { sink = amxBF16(iterations); });
    samples.push_back(flops * threads / elapsed / 1e9);
  }
  return Measurement::of(samples);
}

const Measurement &ComputePeaks::of(artifact::ComputeUnit unit) const {
  switch (unit) {
  case artifact::ComputeUnit::F32FMA:
    return f32FMA;
  case artifact::ComputeUnit::AMXBF16:
    return amxBF16;
  case artifact::ComputeUnit::AVX512BF16:
    return bf16Dot;
  }
  return f32FMA;
}

double
ComputePeaks::highest(const std::vector<artifact::ComputeUnit> &units) const {
  double peak = 0;
  for (artifact::ComputeUnit unit : units)
    peak = std::max(peak, of(unit).median);
  return peak;
}

ComputePeaks probeComputePeaks(const std::vector<artifact::ComputeUnit> &units,
                               int threads) {
  ComputePeaks peaks;
  peaks.f32FMA = probePeakF32(threads);
  peaks.bf16Dot = probePeakBF16(threads);
  if (std::find(units.begin(), units.end(), artifact::ComputeUnit::AMXBF16) !=
      units.end())
    peaks.amxBF16 = probePeakAMX(threads);
  return peaks;
}

std::string benchPointName(BenchPoint point) {
  std::string name = std::to_string(point.size);
  if (point.depth)
    name += "@d" + std::to_string(point.depth);
  return name;
}

BenchResult runBench(Model &model, const BenchOptions &options) {
  const Manifest &info = model.manifest();
  if (options.repetitions < 1)
    throw Error("-r must be >= 1");
  if (options.promptSizes.empty() || options.generateSizes.empty() ||
      options.depths.empty())
    throw Error("-p, -n and -d need at least one size each");
  BenchResult result;
  for (const artifact::ManifestTensor &tensor : info.tensors) {
    bool untiedEmbedding =
        tensor.name == "model.embed_tokens.weight" && !info.tieWordEmbeddings;
    bool output = tensor.name == (info.tieWordEmbeddings
                                      ? "model.embed_tokens.weight"
                                      : "lm_head.weight");
    if (!untiedEmbedding)
      result.decodeBytesPerToken += double(tensor.bytes);
    if (!tensor.isMatrix() || untiedEmbedding)
      continue;
    double flops = 2.0 * double(tensor.matrixElements());
    (output ? result.outputFlops : result.flopsPerToken) += flops;
  }
  // Per (query, key) pair, in every layer and query head: head_dim
  // multiply-adds for the score and as many for its share of the values.
  result.attentionFlopsPerPair = 2.0 * 2.0 * double(info.numLayers) *
                                 double(info.numQueryHeads) *
                                 double(info.headDim);
  result.cacheBytesPerPosition =
      double(kvCacheBytes(info, 1)); // keys and values of every layer

  int64_t context = 1;
  for (int64_t depth : options.depths) {
    if (depth < 0)
      throw Error("-d: depths must be >= 0");
    for (int64_t size : options.promptSizes) {
      if (size < 1)
        throw Error("-p: prompt sizes must be >= 1");
      context = std::max(context, depth + size);
    }
    for (int64_t size : options.generateSizes) {
      if (size < 1)
        throw Error("-n: generation sizes must be >= 1");
      // Depth 0 decodes after the BOS token.
      context = std::max(context, std::max<int64_t>(depth, 1) + size);
    }
  }
  Session session(model, context);
  result.ttftDepth =
      *std::min_element(options.depths.begin(), options.depths.end());
  result.ttftPromptSize = *std::min_element(options.promptSizes.begin(),
                                            options.promptSizes.end());
  std::vector<double> ttft;
  for (int64_t depth : options.depths) {
    // What every test at this depth starts from, run once: a prefix of
    // `depth` tokens (the BOS token alone for decode at depth 0).
    session.reset();
    if (depth)
      session.prefill(benchPrompt(depth, info.vocabSize), /*lastOnly=*/true);
    for (int64_t size : options.promptSizes) {
      // Other ids than the prefix's, as a new message would be.
      std::vector<int32_t> prompt = benchPrompt(depth + size, info.vocabSize);
      prompt.erase(prompt.begin(), prompt.begin() + depth);
      std::vector<double> samples;
      for (int r = 0; r < options.repetitions; ++r) {
        session.truncate(depth);
        auto start = Clock::now();
        // Like llama-bench: the logits of the last token only.
        std::vector<float> logits = session.prefill(prompt, /*lastOnly=*/true);
        double elapsed = seconds(start);
        sink = double(argmax(logits.data(), info.vocabSize));
        if (depth == result.ttftDepth && size == result.ttftPromptSize)
          ttft.push_back(elapsed);
        samples.push_back(double(size) / elapsed);
      }
      result.prefill[{depth, size}] = Measurement::of(samples);
    }

    int64_t decodeDepth = depth;
    if (!depth) {
      session.truncate(0);
      session.prefill({int32_t(info.bosTokenId.value_or(0))},
                      /*lastOnly=*/true);
      decodeDepth = 1;
    }
    for (int64_t size : options.generateSizes) {
      std::vector<double> samples;
      for (int r = 0; r < options.repetitions; ++r) {
        session.truncate(decodeDepth);
        int32_t next = int32_t(info.bosTokenId.value_or(0));
        auto start = Clock::now();
        for (int64_t step = 0; step < size; ++step) {
          std::vector<float> logits = session.decode(next);
          next = int32_t(argmax(logits.data(), info.vocabSize));
        }
        samples.push_back(double(size) / seconds(start));
      }
      result.decode[{depth, size}] = Measurement::of(samples);
    }
  }
  result.ttft = Measurement::of(ttft);
  return result;
}

KernelProfile profileKernels(Model &model, int64_t promptSize) {
  const Manifest &info = model.manifest();
  KernelProfile result;
  result.promptSize = promptSize;
  Session session(model, promptSize + 1);
  std::vector<int32_t> prompt = benchPrompt(promptSize, info.vocabSize);
  // One unprofiled pass first, so that page faults of the first touch of
  // weights and buffers are not counted against the kernels.
  session.prefill(prompt, /*lastOnly=*/true);
  session.reset();
  model.setProfiling(true);
  std::vector<float> logits = session.prefill(prompt, /*lastOnly=*/true);
  result.prefill = model.takeProfile();
  session.decode(int32_t(argmax(logits.data(), info.vocabSize)));
  result.decode = model.takeProfile();
  model.setProfiling(false);
  return result;
}

} // namespace llamac::runtime
