//===- AttentionKernelTest.cpp - llm-lower-flash-attention, run natively --===//
//
// One llm.flash_attention on buffers, shaped as a layer's kernel sees it
// (the cache slot a strided view with room past the visible rows), taken
// through llm-lower-flash-attention and llm-lower-to-llvm (its tasks run in
// turn) and called on random data, against a naive causal attention
// computed here in double precision from the same stored keys and values.
//
// Each compiled kernel is called at several (start_pos, tokens): the causal
// limits of a call's tokens then fall on every remainder of the 16-key
// blocks, the tokens on every remainder of the kernel's query-row blocks,
// and chunks start after a history as a chunked prefill's do. The cache
// rows past the visible ones and the output hold NaN: a kernel that reads
// a key or value beyond a token's history, or leaves an output unwritten,
// fails. A q8_0 cache is written here block by block (codes and an f16
// scale, as llama.cpp lays them out) and the reference takes the values
// the blocks encode.
//
//===----------------------------------------------------------------------===//
#include "CompiledKernels.h"

#include "llamac/Passes/Passes.h"

#include "mlir/Dialect/Bufferization/Pipelines/Passes.h"
#include "mlir/Dialect/SCF/Transforms/Passes.h"
#include "gtest/gtest.h"

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <random>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace {

using llamac::test::CompiledKernels;
using llamac::test::Descriptor;

/// How the cache stores a key or value element.
enum class Stored { F32, BF16, F16, Q8_0 };

const char *name(Stored stored) {
  switch (stored) {
  case Stored::F32:
    return "f32";
  case Stored::BF16:
    return "bf16";
  case Stored::F16:
    return "f16";
  case Stored::Q8_0:
    return "q8_0";
  }
  return "";
}

const char *mlirName(Stored stored) {
  return stored == Stored::Q8_0 ? "i8" : name(stored);
}

size_t bytesOf(Stored stored) {
  return stored == Stored::F32 ? 4 : stored == Stored::Q8_0 ? 1 : 2;
}

/// q8_0 blocks: 32 values as an f16 scale (2 bytes) and 32 int8 codes.
constexpr int64_t kBlockValues = 32, kBlockBytes = 34;

/// Elements of a stored row of `headDim` values.
int64_t rowWidth(Stored stored, int64_t headDim) {
  return stored == Stored::Q8_0 ? headDim / kBlockValues * kBlockBytes
                                : headDim;
}

/// `value`'s encoding in `stored`; values here are exact in all three
/// (7 significant bits, exponents well inside f16's normal range).
void store(Stored stored, float value, void *to) {
  uint32_t bits;
  std::memcpy(&bits, &value, 4);
  if (stored == Stored::F32) {
    std::memcpy(to, &bits, 4);
    return;
  }
  uint16_t narrow;
  if (stored == Stored::BF16) {
    narrow = uint16_t(bits >> 16);
  } else {
    uint32_t sign = (bits >> 16) & 0x8000, exponent = (bits >> 23) & 0xFF;
    narrow = value == 0.0f ? uint16_t(sign)
                           : uint16_t(sign | ((exponent - 127 + 15) << 10) |
                                      ((bits >> 13) & 0x3FF));
  }
  std::memcpy(to, &narrow, 2);
}

/// A quiet NaN in `stored`.
void storeNaN(Stored stored, void *to) {
  const uint32_t f32 = 0x7FC00000;
  const uint16_t bf16 = 0x7FC0, f16 = 0x7E00;
  if (stored == Stored::F32)
    std::memcpy(to, &f32, 4);
  else
    std::memcpy(to, stored == Stored::BF16 ? &bf16 : &f16, 2);
}

/// Random values in [-2, 2] with 7 significant bits.
std::vector<float> randomValues(size_t count, std::mt19937 &rng) {
  std::uniform_int_distribution<int> mantissa(-127, 127);
  std::uniform_int_distribution<int> exponent(-6, 1);
  std::vector<float> values(count);
  for (float &value : values)
    value = std::ldexp(float(mantissa(rng)) / 128.0f, exponent(rng));
  return values;
}

struct AttentionShape {
  /// `flash_transposed_keys` (`rows` tokens per task) or `flash_key_rows`.
  bool transposedKeys;
  int64_t rows, kvHeads, group, headDim;
  Stored stored;
};

void PrintTo(const AttentionShape &s, std::ostream *os) {
  *os << (s.transposedKeys ? "transposed_keys_rows" + std::to_string(s.rows)
                           : std::string("key_rows"))
      << "_kv" << s.kvHeads << "_group" << s.group << "_d" << s.headDim << "_"
      << name(s.stored);
}

std::string attentionSource(const AttentionShape &s, double scale) {
  const std::string heads = std::to_string(s.kvHeads * s.group),
                    kv = std::to_string(s.kvHeads),
                    d = std::to_string(s.headDim);
  const std::string strided = ", strided<[?, ?, ?], offset: ?>>";
  const std::string queryType = "memref<?x" + heads + "x" + d + "xf32" + strided;
  const std::string cacheType = "memref<" + kv + "x?x" +
                                std::to_string(rowWidth(s.stored, s.headDim)) +
                                "x" + mlirName(s.stored) + strided;
  std::string kernel =
      s.transposedKeys
          ? "#llm.micro_kernel<flash_transposed_keys, rows = " +
                std::to_string(s.rows) + ", lanes = 16>"
          : std::string("#llm.micro_kernel<flash_key_rows, lanes = 16>");
  char scaleText[32];
  std::snprintf(scaleText, sizeof scaleText, "%.17g", scale);
  return "func.func @run(%q: " + queryType + ", %k: " + cacheType +
         ", %v: " + cacheType + ", %o: " + queryType +
         ", %pos: index) attributes {llvm.emit_c_interface} {\n"
         "  llm.flash_attention %q, %k, %v at %pos into %o {scale = " +
         scaleText + " : f64, micro_kernel = " + kernel + "}\n      : " +
         queryType + ", " + cacheType + ", " + cacheType + ", " + queryType +
         "\n  return\n}\n";
}

/// What the compile pipeline runs around llm-lower-flash-attention, with
/// the tasks as a sequential loop instead of runtime calls.
void prepareAttention(mlir::OpPassManager &pm) {
  pm.addPass(llamac::createLLMLowerFlashAttentionPass());
  pm.addPass(mlir::createForallToForLoopPass());
  mlir::bufferization::buildBufferDeallocationPipeline(
      pm, mlir::bufferization::BufferDeallocationPipelineOptions());
}

/// A cache slot [kv, capacity, row] of which the kernel sees the first
/// `visible` rows; the rest is NaN.
struct Cache {
  std::vector<uint8_t> bytes;
  Descriptor<3> view;
};

/// Row [h, t]'s blocks of `values` (its head_dim values) as q8_0 blocks
/// at `to`, and `values` replaced by what the blocks encode. The scales
/// alternate between 2^-5 and 3 * 2^-7 (exact in f16; values in [-2, 2]
/// give codes within int8), so that each block's own scale matters.
void storeQ8Row(float *values, int64_t headDim, int64_t salt, uint8_t *to) {
  for (int64_t block = 0; block < headDim / kBlockValues; ++block) {
    const float scale =
        (block + salt) % 2 ? std::ldexp(1.0f, -5) : 3 * std::ldexp(1.0f, -7);
    uint8_t *bytes = to + block * kBlockBytes;
    store(Stored::F16, scale, bytes);
    for (int64_t i = 0; i < kBlockValues; ++i) {
      float &value = values[block * kBlockValues + i];
      const long code = std::lround(value / scale);
      bytes[2 + i] = uint8_t(int8_t(code));
      value = float(code) * scale;
    }
  }
}

/// A NaN row of q8_0: every block's scale is NaN.
void storeQ8NaNRow(int64_t headDim, uint8_t *to) {
  for (int64_t block = 0; block < headDim / kBlockValues; ++block) {
    storeNaN(Stored::F16, to + block * kBlockBytes);
    std::memset(to + block * kBlockBytes + 2, 1, kBlockValues);
  }
}

/// `values` (updated to what a q8_0 cache encodes) in a new cache slot.
Cache makeCache(const AttentionShape &s, std::vector<float> &values,
                int64_t visible, int64_t capacity) {
  const size_t element = bytesOf(s.stored);
  const int64_t width = rowWidth(s.stored, s.headDim);
  Cache cache;
  cache.bytes.resize(size_t(s.kvHeads * capacity * width) * element);
  for (int64_t h = 0; h < s.kvHeads; ++h)
    for (int64_t t = 0; t < capacity; ++t) {
      uint8_t *row = &cache.bytes[size_t((h * capacity + t) * width) * element];
      float *rowValues = t < visible
                             ? &values[size_t((h * visible + t) * s.headDim)]
                             : nullptr;
      if (s.stored == Stored::Q8_0) {
        if (rowValues)
          storeQ8Row(rowValues, s.headDim, h + t, row);
        else
          storeQ8NaNRow(s.headDim, row);
        continue;
      }
      for (int64_t e = 0; e < s.headDim; ++e) {
        if (rowValues)
          store(s.stored, rowValues[e], row + e * element);
        else
          storeNaN(s.stored, row + e * element);
      }
    }
  cache.view = {cache.bytes.data(),
                cache.bytes.data(),
                0,
                {s.kvHeads, visible, width},
                {capacity * width, width, 1}};
  return cache;
}

class AttentionKernelTest : public ::testing::TestWithParam<AttentionShape> {};

TEST_P(AttentionKernelTest, MatchesNaiveAttention) {
  const AttentionShape s = GetParam();
  const int64_t heads = s.kvHeads * s.group, d = s.headDim;
  const double scale = 1.0 / std::sqrt(double(d));
  CompiledKernels kernels(attentionSource(s, scale), prepareAttention);
  ASSERT_TRUE(kernels.entry);
  using Fn = void (*)(Descriptor<3> *, Descriptor<3> *, Descriptor<3> *,
                      Descriptor<3> *, int64_t);
  auto run = reinterpret_cast<Fn>(kernels.entry);

  // (start_pos, tokens): a prompt longer than two blocks of keys, chunks
  // after a history (limits on every remainder of 16 keys, tokens on every
  // remainder of the row blocks), and single tokens at every remainder.
  std::vector<std::pair<int64_t, int64_t>> calls;
  if (s.transposedKeys)
    calls = {{0, 37}, {0, 1}, {0, 2}, {5, 40}, {16, 19}, {70, 9}, {3, 3}};
  for (int64_t start = 0; start < 34; ++start)
    calls.push_back({start, 1});

  double worst = 0;
  for (auto [start, n] : calls) {
    const int64_t visible = start + n, capacity = visible + 5;
    std::mt19937 rng(unsigned(start * 1009 + n * 31 + heads * 7 + d));
    // Queries scaled by 8 (exactly): scores spread over several units, so
    // that the running maximum moves and the rescaling is exercised.
    std::vector<float> queries = randomValues(size_t(n * heads * d), rng);
    for (float &value : queries)
      value *= 8;
    std::vector<float> keys =
        randomValues(size_t(s.kvHeads * visible * d), rng);
    std::vector<float> values =
        randomValues(size_t(s.kvHeads * visible * d), rng);
    Cache k = makeCache(s, keys, visible, capacity);
    Cache v = makeCache(s, values, visible, capacity);
    std::vector<float> out(queries.size(),
                           std::numeric_limits<float>::quiet_NaN());
    Descriptor<3> q{queries.data(), queries.data(), 0, {n, heads, d},
                    {heads * d, d, 1}};
    Descriptor<3> o{out.data(), out.data(), 0, {n, heads, d},
                    {heads * d, d, 1}};
    run(&q, &k.view, &v.view, &o, start);

    std::vector<double> scores(static_cast<size_t>(visible));
    for (int64_t i = 0; i < n; ++i)
      for (int64_t h = 0; h < heads; ++h) {
        const int64_t kvHead = h / s.group, limit = start + i + 1;
        const float *query = &queries[size_t((i * heads + h) * d)];
        double maximum = -INFINITY, sum = 0;
        for (int64_t t = 0; t < limit; ++t) {
          double dot = 0;
          for (int64_t e = 0; e < d; ++e)
            dot += double(query[e]) *
                   keys[size_t((kvHead * visible + t) * d + e)];
          scores[t] = scale * dot;
          maximum = std::max(maximum, scores[t]);
        }
        for (int64_t t = 0; t < limit; ++t) {
          scores[t] = std::exp(scores[t] - maximum);
          sum += scores[t];
        }
        for (int64_t e = 0; e < d; ++e) {
          double expected = 0;
          for (int64_t t = 0; t < limit; ++t)
            expected +=
                scores[t] * values[size_t((kvHead * visible + t) * d + e)];
          expected /= sum;
          float got = out[size_t((i * heads + h) * d + e)];
          double error = std::fabs(got - expected);
          // Outputs are averages of values in [-2, 2]; f32 sums of a few
          // dozen terms and the polynomial exp stay far inside this, while
          // a key or value missed or read past the limit moves them by a
          // sizeable fraction of a value.
          ASSERT_LE(error, 1e-5) << "start " << start << ", " << n
                                 << " tokens: token " << i << ", head " << h
                                 << ", element " << e << ": " << got
                                 << " vs " << expected;
          worst = std::max(worst, error);
        }
      }
  }
  RecordProperty("max_abs_error", std::to_string(worst));
}

// GQA ratios 1, 2, 4 and 8 with the rows llm-choose-micro-kernels gives
// them under AVX-512 (16 / group) and under AVX2 (1), rows that do not
// divide the tokens (3), query rows past one vector of lanes (5 x 4: two
// sets of rows for the softmax, the second partial), head_dim 16, 64 and
// 128 (q8_0: 32, 64, 128), one and several KV heads, and every cache type;
// the decode kernel over the same.
INSTANTIATE_TEST_SUITE_P(
    Shapes, AttentionKernelTest,
    ::testing::Values(
        AttentionShape{true, 4, 2, 4, 64, Stored::BF16},
        AttentionShape{true, 4, 1, 4, 64, Stored::F32},
        AttentionShape{true, 16, 1, 1, 64, Stored::F16},
        AttentionShape{true, 8, 2, 2, 128, Stored::BF16},
        AttentionShape{true, 2, 1, 8, 128, Stored::F32},
        AttentionShape{true, 1, 2, 4, 64, Stored::BF16},
        AttentionShape{true, 3, 2, 2, 16, Stored::F16},
        AttentionShape{true, 3, 1, 1, 128, Stored::F32},
        AttentionShape{true, 5, 1, 4, 64, Stored::BF16},
        AttentionShape{true, 4, 2, 4, 64, Stored::Q8_0},
        AttentionShape{true, 3, 1, 2, 128, Stored::Q8_0},
        AttentionShape{true, 16, 1, 1, 32, Stored::Q8_0},
        AttentionShape{false, 0, 2, 4, 64, Stored::BF16},
        AttentionShape{false, 0, 1, 1, 128, Stored::F32},
        AttentionShape{false, 0, 2, 8, 64, Stored::F16},
        AttentionShape{false, 0, 3, 2, 16, Stored::F32},
        AttentionShape{false, 0, 2, 4, 64, Stored::Q8_0},
        AttentionShape{false, 0, 1, 8, 128, Stored::Q8_0}),
    [](const ::testing::TestParamInfo<AttentionShape> &info) {
      std::ostringstream name;
      PrintTo(info.param, &name);
      return name.str();
    });

} // namespace
