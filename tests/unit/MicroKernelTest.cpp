//===- MicroKernelTest.cpp - llm-lower-micro-kernels, run natively --------===//
//
// Each tagged product is compiled alone (llm-lower-to-llvm, LLVM O3, a
// shared library), called with memref descriptors, and compared with a
// naive product computed here in double precision. Inputs are bf16-exact
// values, so the kernels must agree to float rounding of the sums: every
// tile, pair and remainder path is checked exactly, including the
// fallback taken when the tiles are not contiguous. The accumulator starts
// non-zero: the ops add to it.
//
//===----------------------------------------------------------------------===//
#include "CompiledKernels.h"

#include "llvm/ADT/StringMap.h"
#include "llvm/TargetParser/Host.h"
#include "gtest/gtest.h"

#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace {

using llamac::test::CompiledKernels;
using llamac::test::Descriptor;

uint16_t toBF16(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, 4);
  return uint16_t(bits >> 16); // values below are bf16-exact
}

float fromBF16(uint16_t bits) {
  uint32_t wide = uint32_t(bits) << 16;
  float value;
  std::memcpy(&value, &wide, 4);
  return value;
}

/// Random bf16-exact values in [-2, 2] with 7 significant bits.
std::vector<float> randomValues(size_t count, std::mt19937 &rng) {
  std::uniform_int_distribution<int> mantissa(-127, 127);
  std::uniform_int_distribution<int> exponent(-6, 1);
  std::vector<float> values(count);
  for (float &value : values)
    value = std::ldexp(float(mantissa(rng)) / 128.0f, exponent(rng));
  return values;
}

constexpr const char *kBody = R"(
  ^bb0(%x: ELEM, %y: bf16, %acc: f32):
    %0 = CAST
    %1 = arith.extf %y : bf16 to f32
    %2 = arith.mulf %0, %1 : f32
    %3 = arith.addf %acc, %2 : f32
    linalg.yield %3 : f32
  }
  return
})";

std::string replaceAll(std::string text, const std::string &from,
                       const std::string &to) {
  for (size_t at = text.find(from); at != std::string::npos;
       at = text.find(from, at + to.size()))
    text.replace(at, from.size(), to);
  return text;
}

/// The #llm.micro_kernel a test pins on its op: `kind` with the tuning
/// values llm-choose-micro-kernels gives by default (the AMX unroll: the
/// largest divisor of the reduction tiles up to 8; the AVX512-BF16 depth:
/// up to 64).
std::string microKernel(const std::string &kind, int64_t depthTiles) {
  if (kind.rfind("amx_", 0) == 0) {
    int64_t unroll = std::min<int64_t>(8, depthTiles);
    while (depthTiles % unroll != 0)
      --unroll;
    return "#llm.micro_kernel<" + kind + ", unroll = " +
           std::to_string(unroll) + ">";
  }
  if (kind == "f32_panels")
    return "#llm.micro_kernel<f32_panels, rows = 6, depth = 1024, "
           "prefetch = 16>";
  if (kind.rfind("avx512_bf16", 0) == 0) {
    int64_t depth = std::min<int64_t>(64, depthTiles);
    while (depthTiles % depth != 0)
      --depth;
    return "#llm.micro_kernel<" + kind +
           ", rows = 6, depth = " + std::to_string(depth) + ">";
  }
  if (kind.find("_i8_gemv") != std::string::npos)
    return "#llm.micro_kernel<" + kind + ", prefetch = 16>";
  return "#llm.micro_kernel<" + kind + ">";
}

/// The op llm-to-linalg emits for prefill, on buffers, with `depthTiles`
/// reduction tiles, tagged `kernel` (amx_bf16's by default).
std::string amxSource(int64_t depthTiles, std::string kernel = "") {
  std::string kb = std::to_string(depthTiles);
  std::string source = R"(
#a = affine_map<(mb, mi, nb, ni, kb, kr, kp) -> (mb, kb, mi, kr, kp)>
#w = affine_map<(mb, mi, nb, ni, kb, kr, kp) -> (nb, kb, kr, ni, kp)>
#c = affine_map<(mb, mi, nb, ni, kb, kr, kp) -> (mb, mi, nb, ni)>
func.func @run(%A: memref<?xKBx16x16x2xbf16, strided<[?, ?, ?, ?, ?], offset: ?>>,
               %W: memref<?xKBx16x16x2xbf16, strided<[?, ?, ?, ?, ?], offset: ?>>,
               %C: memref<?x16x?x16xf32, strided<[?, ?, ?, ?], offset: ?>>)
    attributes {llvm.emit_c_interface} {
  linalg.generic {indexing_maps = [#a, #w, #c], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction", "reduction", "reduction"]}
    ins(%A, %W : memref<?xKBx16x16x2xbf16, strided<[?, ?, ?, ?, ?], offset: ?>>, memref<?xKBx16x16x2xbf16, strided<[?, ?, ?, ?, ?], offset: ?>>)
    outs(%C : memref<?x16x?x16xf32, strided<[?, ?, ?, ?], offset: ?>>) attrs = {llm.micro_kernel = KERNEL} {)";
  source += kBody;
  source = replaceAll(source, "KERNEL",
                      kernel.empty() ? microKernel("amx_bf16", depthTiles)
                                     : kernel);
  source = replaceAll(source, "KB", kb);
  source = replaceAll(source, "ELEM", "bf16");
  return replaceAll(source, "CAST", "arith.extf %x : bf16 to f32");
}

/// The op llm-to-linalg emits for decode.
std::string gemvSource(int64_t depthTiles) {
  std::string kb = std::to_string(depthTiles);
  std::string source = R"(
#x = affine_map<(m, nb, ni, kb, kr, kp) -> (m, kb, kr, kp)>
#w = affine_map<(m, nb, ni, kb, kr, kp) -> (nb, kb, kr, ni, kp)>
#y = affine_map<(m, nb, ni, kb, kr, kp) -> (m, nb, ni)>
func.func @run(%X: memref<?xKBx16x2xf32, strided<[?, ?, ?, ?], offset: ?>>,
               %W: memref<?xKBx16x16x2xbf16, strided<[?, ?, ?, ?, ?], offset: ?>>,
               %Y: memref<?x?x16xf32, strided<[?, ?, ?], offset: ?>>)
    attributes {llvm.emit_c_interface} {
  linalg.generic {indexing_maps = [#x, #w, #y], iterator_types = ["parallel", "parallel", "parallel", "reduction", "reduction", "reduction"]}
    ins(%X, %W : memref<?xKBx16x2xf32, strided<[?, ?, ?, ?], offset: ?>>, memref<?xKBx16x16x2xbf16, strided<[?, ?, ?, ?, ?], offset: ?>>)
    outs(%Y : memref<?x?x16xf32, strided<[?, ?, ?], offset: ?>>) attrs = {llm.micro_kernel = KERNEL} {)";
  source += kBody;
  source = replaceAll(source, "KERNEL", microKernel("vnni_gemv", depthTiles));
  source = replaceAll(source, "KB", kb);
  source = replaceAll(source, "ELEM", "f32");
  // %x is already f32: no cast.
  source = replaceAll(source, "    %0 = CAST\n", "");
  return replaceAll(source, "arith.mulf %0, %1", "arith.mulf %x, %1");
}

/// Weight tiles [nb][kb][kr][ni][kp] of an [out, in] matrix, with `pad`
/// extra elements after each kp pair (pad > 0: not contiguous).
struct Tiles {
  std::vector<uint16_t> data;
  Descriptor<5> descriptor;
};

Tiles tileWeights(const std::vector<float> &matrix, int64_t outTiles,
                  int64_t depthTiles, int64_t pad) {
  const int64_t in = depthTiles * 32, pairStride = 2 + pad;
  Tiles tiles;
  const int64_t strides[5] = {depthTiles * 16 * 16 * pairStride,
                              16 * 16 * pairStride, 16 * pairStride,
                              pairStride, 1};
  tiles.data.assign(size_t(outTiles * strides[0]), 0);
  for (int64_t n = 0; n < outTiles * 16; ++n)
    for (int64_t k = 0; k < in; ++k)
      tiles.data[(n / 16) * strides[0] + (k / 32) * strides[1] +
                 ((k % 32) / 2) * strides[2] + (n % 16) * strides[3] +
                 (k % 2)] = toBF16(matrix[n * in + k]);
  tiles.descriptor = {tiles.data.data(), tiles.data.data(), 0,
                      {outTiles, depthTiles, 16, 16, 2}, {}};
  std::copy(std::begin(strides), std::end(strides),
            tiles.descriptor.strides);
  return tiles;
}

bool hostHasAMX() {
  auto features = llvm::sys::getHostCPUFeatures();
  return features.lookup("amx-tile") && features.lookup("amx-bf16") &&
         ::syscall(SYS_arch_prctl, 0x1023 /*ARCH_REQ_XCOMP_PERM*/,
                   18 /*XTILEDATA*/) == 0;
}

struct Shape {
  int64_t rows, outTiles, depthTiles, pad;
};

void PrintTo(const Shape &s, std::ostream *os) {
  *os << s.rows << "x" << s.outTiles << "x" << s.depthTiles << "/pad"
      << s.pad;
}

/// Runs the tile product `source` (bf16 input and weight tiles of `shape`,
/// every row of the row tiles filled) and compares it with a naive product.
void checkTileProduct(const Shape &shape, const std::string &source) {
  const int64_t rowTiles = shape.rows, rows = rowTiles * 16;
  const int64_t out = shape.outTiles * 16, in = shape.depthTiles * 32;
  std::mt19937 rng(unsigned(rows * 131 + out * 17 + in));
  std::vector<float> lhs = randomValues(size_t(rows * in), rng);
  std::vector<float> weights = randomValues(size_t(out * in), rng);
  std::vector<float> initial = randomValues(size_t(rows * out), rng);

  // Input tiles [mb][kb][mi][kr][kp], as llm-to-linalg lays them out; the
  // pad (when set) makes the weight tiles non-contiguous.
  std::vector<uint16_t> lhsTiles(size_t(rows * in));
  for (int64_t m = 0; m < rows; ++m)
    for (int64_t k = 0; k < in; ++k)
      lhsTiles[((m / 16) * shape.depthTiles + k / 32) * 512 + (m % 16) * 32 +
               k % 32] = toBF16(lhs[m * in + k]);
  Tiles w = tileWeights(weights, shape.outTiles, shape.depthTiles, shape.pad);
  std::vector<float> result = initial;

  CompiledKernels kernels(source);
  ASSERT_TRUE(kernels.entry);
  Descriptor<5> a{lhsTiles.data(), lhsTiles.data(), 0,
                  {rowTiles, shape.depthTiles, 16, 16, 2},
                  {shape.depthTiles * 512, 512, 32, 2, 1}};
  Descriptor<4> c{result.data(), result.data(), 0,
                  {rowTiles, 16, shape.outTiles, 16},
                  {16 * out, out, 16, 1}};
  using Fn = void (*)(Descriptor<5> *, Descriptor<5> *, Descriptor<4> *);
  reinterpret_cast<Fn>(kernels.entry)(&a, &w.descriptor, &c);

  for (int64_t m = 0; m < rows; ++m)
    for (int64_t n = 0; n < out; ++n) {
      double sum = initial[m * out + n], magnitude = std::abs(sum);
      for (int64_t k = 0; k < in; ++k) {
        double product = double(lhs[m * in + k]) * double(weights[n * in + k]);
        sum += product;
        magnitude += std::abs(product);
      }
      // The products are exact in f32; the f32 sums round at each step: at
      // most `in` roundings of partial sums bounded by the magnitude.
      double bound = std::max(1e-5 * (1 + std::abs(sum)),
                              double(in) * 0x1p-24 * magnitude);
      ASSERT_NEAR(result[m * out + n], sum, bound)
          << "row " << m << ", output " << n;
    }
}

class AMXKernelTest : public ::testing::TestWithParam<Shape> {};

TEST_P(AMXKernelTest, MatchesNaiveProduct) {
  if (!hostHasAMX())
    GTEST_SKIP() << "this CPU (or kernel) offers no AMX-BF16";
  checkTileProduct(GetParam(), amxSource(GetParam().depthTiles));
}

// Row and output tile counts cover the 2 x 2 blocks and both remainders;
// depths cover unroll factors 8, 6, 5 (prime) and 1, and the deep ones
// split the rows into L2-sized chunks (4 and 2 tiles) with a partial last
// chunk.
INSTANTIATE_TEST_SUITE_P(Shapes, AMXKernelTest,
                         ::testing::Values(Shape{1, 1, 1, 0},
                                           Shape{2, 2, 8, 0},
                                           Shape{3, 5, 6, 0},
                                           Shape{1, 3, 5, 0},
                                           Shape{2, 3, 16, 0},
                                           Shape{3, 2, 2, 2},
                                           Shape{5, 3, 128, 0},
                                           Shape{3, 2, 256, 0}));

/// avx512_bf16: a tile product shape with the kernel's tuning.
struct DotShape {
  Shape shape;
  int64_t blockRows, depth;
};

void PrintTo(const DotShape &s, std::ostream *os) {
  PrintTo(s.shape, os);
  *os << "/rows" << s.blockRows << "/depth" << s.depth;
}

class BF16DotKernelTest : public ::testing::TestWithParam<DotShape> {};

TEST_P(BF16DotKernelTest, MatchesNaiveProduct) {
  if (!llvm::sys::getHostCPUFeatures().lookup("avx512bf16"))
    GTEST_SKIP() << "this CPU offers no AVX512-BF16";
  const DotShape &p = GetParam();
  checkTileProduct(p.shape,
                   amxSource(p.shape.depthTiles,
                             "#llm.micro_kernel<avx512_bf16, rows = " +
                                 std::to_string(p.blockRows) + ", depth = " +
                                 std::to_string(p.depth) + ">"));
}

// Rows (16 per row tile) cover whole register blocks of 6 and remainders
// 4 (16 rows), 2 (32) and 0 (48), blocks of 1 and 5 rows; output tiles
// cover whole panels of 4 and remainders 1 to 3; depth blocks cover one,
// several and a prime count; 9 row tiles at depth blocks of 64 split the
// rows into L2-sized chunks (126 rows, then 18); a pad makes the weight
// tiles non-contiguous (the fallback).
INSTANTIATE_TEST_SUITE_P(
    Shapes, BF16DotKernelTest,
    ::testing::Values(DotShape{{1, 1, 1, 0}, 6, 1},
                      DotShape{{2, 4, 6, 0}, 6, 3},
                      DotShape{{3, 7, 5, 0}, 6, 5},
                      DotShape{{1, 6, 4, 0}, 5, 2},
                      DotShape{{2, 3, 2, 0}, 1, 1},
                      DotShape{{1, 5, 8, 0}, 4, 8},
                      DotShape{{3, 2, 2, 2}, 6, 2},
                      DotShape{{9, 3, 128, 0}, 6, 64}));

/// Prefill's 512 x 2048 x 2048 product on one thread, the output tiles in
/// two tasks as llm-tile-tasks splits them for two threads. Tuning from
/// LLAMAC_DOT_ROWS / LLAMAC_DOT_DEPTH (default 6 and 64), to measure the
/// choices llm-choose-micro-kernels makes.
TEST(BF16DotKernelThroughput, DISABLED_Prefill512x2048x2048) {
  if (!llvm::sys::getHostCPUFeatures().lookup("avx512bf16"))
    GTEST_SKIP() << "this CPU offers no AVX512-BF16";
  auto setting = [](const char *name, int64_t fallback) {
    const char *value = std::getenv(name);
    return value ? std::atoll(value) : fallback;
  };
  const int64_t blockRows = setting("LLAMAC_DOT_ROWS", 6),
                depth = setting("LLAMAC_DOT_DEPTH", 64);
  const int64_t rowTiles = 32, depthTiles = 64, outTiles = 128;
  const int64_t rows = rowTiles * 16, in = depthTiles * 32, out = outTiles * 16;
  std::vector<uint16_t> a(size_t(rows * in), toBF16(0.5f)),
      w(size_t(out * in), toBF16(0.25f));
  std::vector<float> c(size_t(rows * out), 0.0f);
  CompiledKernels kernels(amxSource(
      depthTiles, "#llm.micro_kernel<avx512_bf16, rows = " +
                      std::to_string(blockRows) +
                      ", depth = " + std::to_string(depth) + ">"));
  ASSERT_TRUE(kernels.entry);
  using Fn = void (*)(Descriptor<5> *, Descriptor<5> *, Descriptor<4> *);
  auto run = [&](int64_t first, int64_t count) {
    Descriptor<5> ad{a.data(), a.data(), 0, {rowTiles, depthTiles, 16, 16, 2},
                     {depthTiles * 512, 512, 32, 2, 1}};
    Descriptor<5> wd{w.data(), w.data(), first * depthTiles * 512,
                     {count, depthTiles, 16, 16, 2},
                     {depthTiles * 512, 512, 32, 2, 1}};
    Descriptor<4> cd{c.data(), c.data(), first * 16,
                     {rowTiles, 16, count, 16}, {16 * out, out, 16, 1}};
    reinterpret_cast<Fn>(kernels.entry)(&ad, &wd, &cd);
  };
  double best = 0;
  for (int repeat = 0; repeat < 5; ++repeat) {
    auto start = std::chrono::steady_clock::now();
    run(0, outTiles / 2);
    run(outTiles / 2, outTiles / 2);
    double seconds = std::chrono::duration<double>(
                         std::chrono::steady_clock::now() - start)
                         .count();
    best = std::max(best, 2.0 * rows * in * out / seconds / 1e9);
  }
  std::printf("avx512_bf16 rows %lld depth %lld, 1 thread: %.1f GFLOP/s\n",
              (long long)blockRows, (long long)depth, best);
}

class GemvKernelTest : public ::testing::TestWithParam<Shape> {};

TEST_P(GemvKernelTest, MatchesNaiveProduct) {
  const Shape shape = GetParam();
  const int64_t rows = shape.rows;
  const int64_t out = shape.outTiles * 16, in = shape.depthTiles * 32;
  std::mt19937 rng(unsigned(rows * 7 + out * 3 + in));
  std::vector<float> x = randomValues(size_t(rows * in), rng);
  std::vector<float> weights = randomValues(size_t(out * in), rng);
  std::vector<float> initial = randomValues(size_t(rows * out), rng);
  Tiles w = tileWeights(weights, shape.outTiles, shape.depthTiles, shape.pad);
  std::vector<float> result = initial;

  CompiledKernels kernels(gemvSource(shape.depthTiles));
  ASSERT_TRUE(kernels.entry);
  Descriptor<4> xd{x.data(), x.data(), 0, {rows, shape.depthTiles, 16, 2},
                   {in, 32, 2, 1}};
  Descriptor<3> yd{result.data(), result.data(), 0,
                   {rows, shape.outTiles, 16}, {out, 16, 1}};
  using Fn = void (*)(Descriptor<4> *, Descriptor<5> *, Descriptor<3> *);
  reinterpret_cast<Fn>(kernels.entry)(&xd, &w.descriptor, &yd);

  for (int64_t m = 0; m < rows; ++m)
    for (int64_t n = 0; n < out; ++n) {
      double sum = initial[m * out + n];
      for (int64_t k = 0; k < in; ++k)
        sum += double(x[m * in + k]) * double(weights[n * in + k]);
      ASSERT_NEAR(result[m * out + n], sum, 1e-5 * (1 + std::abs(sum)))
          << "row " << m << ", output " << n;
    }
}

// Output tile counts cover whole groups of four and every remainder.
INSTANTIATE_TEST_SUITE_P(Shapes, GemvKernelTest,
                         ::testing::Values(Shape{1, 4, 2, 0},
                                           Shape{1, 9, 3, 0},
                                           Shape{3, 6, 1, 0},
                                           Shape{2, 1, 8, 0},
                                           Shape{1, 7, 2, 1}));

//===----------------------------------------------------------------------===//
// f32 panels (f32_panels)
//===----------------------------------------------------------------------===//

/// The op llm-to-linalg emits for products by f32panel64 weights: dynamic
/// rows (prefill) or one static row (decode).
std::string panelSource(bool oneRow, int64_t depth) {
  std::string source = R"(
#x = affine_map<(m, nb, ni, k) -> (m, k)>
#w = affine_map<(m, nb, ni, k) -> (nb, k, ni)>
#y = affine_map<(m, nb, ni, k) -> (m, nb, ni)>
func.func @run(%X: memref<ROWSxKxf32, strided<[?, ?], offset: ?>>,
               %W: memref<?xKx64xf32, strided<[?, ?, ?], offset: ?>>,
               %Y: memref<ROWSx?x64xf32, strided<[?, ?, ?], offset: ?>>)
    attributes {llvm.emit_c_interface} {
  linalg.generic {indexing_maps = [#x, #w, #y], iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
    ins(%X, %W : memref<ROWSxKxf32, strided<[?, ?], offset: ?>>, memref<?xKx64xf32, strided<[?, ?, ?], offset: ?>>)
    outs(%Y : memref<ROWSx?x64xf32, strided<[?, ?, ?], offset: ?>>) attrs = {llm.micro_kernel = #llm.micro_kernel<f32_panels, rows = 6, depth = 1024, prefetch = 16>} {
  ^bb0(%x: f32, %w: f32, %acc: f32):
    %0 = arith.mulf %x, %w : f32
    %1 = arith.addf %acc, %0 : f32
    linalg.yield %1 : f32
  }
  return
})";
  source = replaceAll(source, "ROWS", oneRow ? "1" : "?");
  return replaceAll(source, "K", std::to_string(depth));
}

struct PanelShape {
  int64_t rows, panels, depth, pad;
  bool staticRow;
};

void PrintTo(const PanelShape &s, std::ostream *os) {
  *os << s.rows << (s.staticRow ? "(static)" : "") << "x" << s.panels
      << "x" << s.depth << "/pad" << s.pad;
}

class PanelKernelTest : public ::testing::TestWithParam<PanelShape> {};

TEST_P(PanelKernelTest, MatchesNaiveProduct) {
  const PanelShape shape = GetParam();
  const int64_t rows = shape.rows, in = shape.depth, out = shape.panels * 64;
  std::mt19937 rng(unsigned(rows * 13 + out * 5 + in));
  std::vector<float> x = randomValues(size_t(rows * in), rng);
  std::vector<float> weights = randomValues(size_t(out * in), rng);
  std::vector<float> initial = randomValues(size_t(rows * out), rng);
  // Panels [nb][k][ni], with `pad` unused floats after each input's 64
  // weights (pad > 0: not contiguous, the fallback runs).
  const int64_t kStride = 64 + shape.pad, panelStride = in * kStride;
  std::vector<float> panels(size_t(shape.panels * panelStride), 0.0f);
  for (int64_t n = 0; n < out; ++n)
    for (int64_t k = 0; k < in; ++k)
      panels[(n / 64) * panelStride + k * kStride + n % 64] =
          weights[n * in + k];
  std::vector<float> result = initial;

  CompiledKernels kernels(panelSource(shape.staticRow, in));
  ASSERT_TRUE(kernels.entry);
  Descriptor<2> xd{x.data(), x.data(), 0, {rows, in}, {in, 1}};
  Descriptor<3> wd{panels.data(), panels.data(), 0, {shape.panels, in, 64},
                   {panelStride, kStride, 1}};
  Descriptor<3> yd{result.data(), result.data(), 0, {rows, shape.panels, 64},
                   {out, 64, 1}};
  using Fn = void (*)(Descriptor<2> *, Descriptor<3> *, Descriptor<3> *);
  reinterpret_cast<Fn>(kernels.entry)(&xd, &wd, &yd);

  for (int64_t m = 0; m < rows; ++m)
    for (int64_t n = 0; n < out; ++n) {
      double sum = initial[m * out + n];
      for (int64_t k = 0; k < in; ++k)
        sum += double(x[m * in + k]) * double(weights[n * in + k]);
      ASSERT_NEAR(result[m * out + n], sum, 1e-5 * (1 + std::abs(sum)))
          << "row " << m << ", output " << n;
    }
}

// Rows: fewer than a register block (the GEMV), whole blocks of 6, every
// remainder block (1 to 5 rows), and more than one chunk of rows (252 at
// depth blocks of 1024) with a partial last chunk; depths below and past a
// depth block of 1024 with a partial last block; panel counts cover the
// GEMV's groups of four and every remainder; one static row (decode); pad
// > 0 the fallback.
INSTANTIATE_TEST_SUITE_P(
    Shapes, PanelKernelTest,
    ::testing::Values(PanelShape{1, 1, 8, 0, true}, PanelShape{1, 7, 130, 0, true},
                      PanelShape{1, 4, 33, 0, false}, PanelShape{5, 5, 64, 0, false},
                      PanelShape{6, 1, 128, 0, false}, PanelShape{7, 2, 200, 0, false},
                      PanelShape{13, 3, 256, 0, false}, PanelShape{17, 2, 1, 0, false},
                      PanelShape{9, 2, 64, 0, false}, PanelShape{10, 1, 129, 0, false},
                      PanelShape{14, 1, 16, 0, false}, PanelShape{8, 1, 2100, 0, false},
                      PanelShape{260, 2, 300, 0, false}, PanelShape{8, 3, 40, 3, false},
                      PanelShape{1, 2, 40, 1, true}));

// Not a test: the f32_panels GEMM's throughput on a prefill-sized product
// (512 rows, 2048 inputs, 2048 outputs), the panels split between two
// threads as the runtime's tasks would split them. Run by hand:
//   llamac-microkernel-tests --gtest_also_run_disabled_tests \
//     --gtest_filter='*PanelKernelThroughput*'
TEST(PanelKernelThroughput, DISABLED_Prefill512x2048x2048) {
  const int64_t rows = 512, in = 2048, panelCount = 32, out = panelCount * 64;
  std::mt19937 rng(7);
  std::vector<float> x = randomValues(size_t(rows * in), rng);
  std::vector<float> panels = randomValues(size_t(out * in), rng);
  std::vector<float> result(size_t(rows * out), 0.0f);
  CompiledKernels kernels(panelSource(false, in));
  ASSERT_TRUE(kernels.entry);
  using Fn = void (*)(Descriptor<2> *, Descriptor<3> *, Descriptor<3> *);
  auto run = [&](int64_t first, int64_t count) {
    Descriptor<2> xd{x.data(), x.data(), 0, {rows, in}, {in, 1}};
    Descriptor<3> wd{panels.data(), panels.data(), first * in * 64,
                     {count, in, 64}, {in * 64, 64, 1}};
    Descriptor<3> yd{result.data(), result.data(), first * 64,
                     {rows, count, 64}, {out, 64, 1}};
    reinterpret_cast<Fn>(kernels.entry)(&xd, &wd, &yd);
  };
  for (int threads : {1, 2}) {
    double best = 0;
    for (int repeat = 0; repeat < 5; ++repeat) {
      auto start = std::chrono::steady_clock::now();
      // Tasks of one panel, handed out to the threads in turn.
      std::atomic<int64_t> next{0};
      auto work = [&] {
        for (int64_t p = next++; p < panelCount; p = next++)
          run(p, 1);
      };
      std::vector<std::thread> pool;
      for (int t = 1; t < threads; ++t)
        pool.emplace_back(work);
      work();
      for (std::thread &t : pool)
        t.join();
      double seconds = std::chrono::duration<double>(
                           std::chrono::steady_clock::now() - start)
                           .count();
      best = std::max(best, 2.0 * rows * in * out / seconds / 1e9);
    }
    std::printf("f32_panels %d thread(s): %.1f GFLOP/s\n", threads, best);
  }
}

//===----------------------------------------------------------------------===//
// Quantized GEMV (q8_0_gemv, q4_0_gemv)
//===----------------------------------------------------------------------===//

/// `source` with its placeholders for quantized weights filled: CODE (the
/// body's %qf / %df from %q / %d: q, or the nibble picked by loop
/// `pairLoop` minus 8, and the f16 scale widened), QMAP / QTYPE / STRIDES
/// (the codes' map, shape and layout), TAG and KB (reduction tiles).
std::string withQuantCodes(std::string source, bool q4, int pairLoop,
                           const std::string &tag, int64_t depthTiles) {
  std::string code =
      q4 ? "    %kp = linalg.index " + std::to_string(pairLoop) + R"( : index
    %b = arith.extui %q : i8 to i32
    %k = arith.index_cast %kp : index to i32
    %c4 = arith.constant 4 : i32
    %sh = arith.muli %k, %c4 : i32
    %n = arith.shrui %b, %sh : i32
    %c15 = arith.constant 15 : i32
    %m = arith.andi %n, %c15 : i32
    %c8 = arith.constant 8 : i32
    %c = arith.subi %m, %c8 : i32
    %qf = arith.sitofp %c : i32 to f32
    %df = arith.extf %d : f16 to f32)"
         : R"(    %qf = arith.sitofp %q : i8 to f32
    %df = arith.extf %d : f16 to f32)";
  source = replaceAll(source, "CODE", code);
  source = replaceAll(source, "QMAP",
                      q4 ? "(nb, kb, kr, ni)" : "(nb, kb, kr, ni, kp)");
  source = replaceAll(source, "QTYPE", q4 ? "16x16xi8" : "16x16x2xi8");
  source = replaceAll(source, "STRIDES",
                      q4 ? "strided<[?, ?, ?, ?], offset: ?>"
                         : "strided<[?, ?, ?, ?, ?], offset: ?>");
  source = replaceAll(source, "TAG", microKernel(tag, depthTiles));
  return replaceAll(source, "KB", std::to_string(depthTiles));
}

/// The op llm-to-linalg emits for products by quantized weights: the body
/// dequantizes (q * d, or (q - 8) * d with the nibble picked by kp).
std::string quantGemvSource(bool q4, int64_t depthTiles) {
  std::string source = R"(
#x = affine_map<(m, nb, ni, kb, kr, kp) -> (m, kb, kr, kp)>
#q = affine_map<(m, nb, ni, kb, kr, kp) -> QMAP>
#s = affine_map<(m, nb, ni, kb, kr, kp) -> (nb, kb, ni)>
#y = affine_map<(m, nb, ni, kb, kr, kp) -> (m, nb, ni)>
func.func @run(%X: memref<?xKBx16x2xf32, strided<[?, ?, ?, ?], offset: ?>>,
               %Q: memref<?xKBxQTYPE, STRIDES>,
               %S: memref<?xKBx16xf16, strided<[?, ?, ?], offset: ?>>,
               %Y: memref<?x?x16xf32, strided<[?, ?, ?], offset: ?>>)
    attributes {llvm.emit_c_interface} {
  linalg.generic {indexing_maps = [#x, #q, #s, #y], iterator_types = ["parallel", "parallel", "parallel", "reduction", "reduction", "reduction"]}
    ins(%X, %Q, %S : memref<?xKBx16x2xf32, strided<[?, ?, ?, ?], offset: ?>>, memref<?xKBxQTYPE, STRIDES>, memref<?xKBx16xf16, strided<[?, ?, ?], offset: ?>>)
    outs(%Y : memref<?x?x16xf32, strided<[?, ?, ?], offset: ?>>) attrs = {llm.micro_kernel = TAG} {
  ^bb0(%x: f32, %q: i8, %d: f16, %acc: f32):
CODE
    %w = arith.mulf %qf, %df : f32
    %p = arith.mulf %x, %w : f32
    %r = arith.addf %acc, %p : f32
    linalg.yield %r : f32
  }
  return
})";
  return withQuantCodes(source, q4, /*pairLoop=*/5,
                        q4 ? "q4_0_gemv" : "q8_0_gemv", depthTiles);
}

struct QuantShape {
  bool q4;
  int64_t rows, outTiles, depthTiles, pad;
};

void PrintTo(const QuantShape &s, std::ostream *os) {
  *os << (s.q4 ? "q4_0 " : "q8_0 ") << s.rows << "x" << s.outTiles << "x"
      << s.depthTiles << "/pad" << s.pad;
}

/// Quantized weights in the kernels' tile order: codes [nb][kb][kr][ni][kp]
/// (Q4_0: [nb][kb][kr][ni], kp in the nibbles) with `pad` unused bytes after
/// each stored unit (a kp pair for Q8_0, a byte for Q4_0; pad > 0 is not
/// contiguous), and f16 scales [nb][kb][ni].
struct QuantTiles {
  std::vector<int8_t> codes;
  std::vector<uint16_t> scales;
  int64_t nbStride, kbStride, krStride, unitStride;

  /// `codes[n * in + k]` are the stored codes (Q4_0: 0..15), `scaleBits[n *
  /// depthTiles + kb]` the f16 scales.
  QuantTiles(bool q4, const std::vector<int> &matrixCodes,
             const std::vector<uint16_t> &scaleBits, int64_t outTiles,
             int64_t depthTiles, int64_t pad) {
    const int64_t out = outTiles * 16, in = depthTiles * 32;
    unitStride = (q4 ? 1 : 2) + pad;
    krStride = 16 * unitStride;
    kbStride = 16 * krStride;
    nbStride = depthTiles * kbStride;
    codes.assign(size_t(outTiles * nbStride), 0);
    for (int64_t n = 0; n < out; ++n)
      for (int64_t k = 0; k < in; ++k) {
        int64_t at = (n / 16) * nbStride + (k / 32) * kbStride +
                     ((k % 32) / 2) * krStride + (n % 16) * unitStride;
        int c = matrixCodes[n * in + k];
        if (q4)
          codes[at] = int8_t(uint8_t(codes[at]) | uint8_t(c << (4 * (k % 2))));
        else
          codes[at + k % 2] = int8_t(c);
      }
    scales.assign(size_t(out * depthTiles), 0);
    for (int64_t n = 0; n < out; ++n)
      for (int64_t kb = 0; kb < depthTiles; ++kb)
        scales[((n / 16) * depthTiles + kb) * 16 + n % 16] =
            scaleBits[n * depthTiles + kb];
  }
};

class QuantGemvKernelTest : public ::testing::TestWithParam<QuantShape> {};

// Small integers and power-of-two scales: every product and sum is exact
// in f32, so the kernel must match the naive product exactly whatever its
// order of summation.
TEST_P(QuantGemvKernelTest, MatchesNaiveProductExactly) {
  const QuantShape shape = GetParam();
  const int64_t rows = shape.rows, outTiles = shape.outTiles,
                depthTiles = shape.depthTiles;
  const int64_t out = outTiles * 16, in = depthTiles * 32;
  std::mt19937 rng(unsigned(rows * 11 + out * 5 + in + shape.q4));
  std::uniform_int_distribution<int> small(-8, 8);
  std::uniform_int_distribution<int> code(shape.q4 ? 0 : -127,
                                          shape.q4 ? 15 : 127);
  std::uniform_int_distribution<int> exponent(-4, 3);
  std::vector<float> x(size_t(rows * in)), initial(size_t(rows * out));
  for (float &v : x)
    v = float(small(rng));
  for (float &v : initial)
    v = float(small(rng));
  // codes[n][k] (the stored code) and scale exponents[n][kb].
  std::vector<int> codes(size_t(out * in)), exponents(size_t(out * depthTiles));
  for (int &c : codes)
    c = code(rng);
  for (int &e : exponents)
    e = exponent(rng);

  std::vector<uint16_t> scaleBits(exponents.size());
  for (size_t i = 0; i < exponents.size(); ++i)
    scaleBits[i] = uint16_t((exponents[i] + 15) << 10); // 2^e
  QuantTiles tiles(shape.q4, codes, scaleBits, outTiles, depthTiles, shape.pad);
  std::vector<int8_t> &q = tiles.codes;
  std::vector<uint16_t> &scales = tiles.scales;
  const int64_t nbStride = tiles.nbStride, kbStride = tiles.kbStride,
                krStride = tiles.krStride, unitStride = tiles.unitStride;
  std::vector<float> result = initial;

  CompiledKernels kernels(quantGemvSource(shape.q4, depthTiles));
  ASSERT_TRUE(kernels.entry);
  Descriptor<4> xd{x.data(), x.data(), 0, {rows, depthTiles, 16, 2},
                   {in, 32, 2, 1}};
  Descriptor<3> sd{scales.data(), scales.data(), 0, {outTiles, depthTiles, 16},
                   {depthTiles * 16, 16, 1}};
  Descriptor<3> yd{result.data(), result.data(), 0, {rows, outTiles, 16},
                   {out, 16, 1}};
  if (shape.q4) {
    Descriptor<4> qd{q.data(), q.data(), 0, {outTiles, depthTiles, 16, 16},
                     {nbStride, kbStride, krStride, unitStride}};
    using Fn = void (*)(Descriptor<4> *, Descriptor<4> *, Descriptor<3> *,
                        Descriptor<3> *);
    reinterpret_cast<Fn>(kernels.entry)(&xd, &qd, &sd, &yd);
  } else {
    Descriptor<5> qd{q.data(), q.data(), 0, {outTiles, depthTiles, 16, 16, 2},
                     {nbStride, kbStride, krStride, unitStride, 1}};
    using Fn = void (*)(Descriptor<4> *, Descriptor<5> *, Descriptor<3> *,
                        Descriptor<3> *);
    reinterpret_cast<Fn>(kernels.entry)(&xd, &qd, &sd, &yd);
  }

  for (int64_t m = 0; m < rows; ++m)
    for (int64_t n = 0; n < out; ++n) {
      double sum = initial[m * out + n];
      for (int64_t k = 0; k < in; ++k) {
        int value = codes[n * in + k] - (shape.q4 ? 8 : 0);
        sum += double(x[m * in + k]) * value *
               std::ldexp(1.0, exponents[n * depthTiles + k / 32]);
      }
      ASSERT_EQ(double(result[m * out + n]), sum)
          << "row " << m << ", output " << n;
    }
}

// Both schemes; output tile counts cover whole groups of four and every
// remainder; pad > 0 takes the fallback.
INSTANTIATE_TEST_SUITE_P(
    Shapes, QuantGemvKernelTest,
    ::testing::Values(QuantShape{false, 1, 4, 2, 0}, QuantShape{false, 1, 9, 3, 0},
                      QuantShape{false, 3, 6, 1, 0}, QuantShape{false, 2, 1, 8, 0},
                      QuantShape{false, 1, 7, 2, 1}, QuantShape{true, 1, 4, 2, 0},
                      QuantShape{true, 1, 9, 3, 0}, QuantShape{true, 3, 6, 1, 0},
                      QuantShape{true, 2, 1, 8, 0}, QuantShape{true, 1, 7, 2, 1}));

//===----------------------------------------------------------------------===//
// Quantized GEMV with quantized inputs (q8_0_i8_gemv, q4_0_i8_gemv)
//===----------------------------------------------------------------------===//

/// The op llm-to-linalg emits for `input_type = i8`: input codes and scales
/// in the inputs' place; the body is (qx * dx) * dequantized weight.
std::string quantI8GemvSource(bool q4, int64_t depthTiles) {
  std::string source = quantGemvSource(q4, depthTiles);
  source = replaceAll(source, "#x = affine_map<(m, nb, ni, kb, kr, kp) -> (m, kb, kr, kp)>",
                      "#x = affine_map<(m, nb, ni, kb, kr, kp) -> (m, kb, kr, kp)>\n"
                      "#dx = affine_map<(m, nb, ni, kb, kr, kp) -> (m, kb)>");
  std::string inputs = "memref<?x" + std::to_string(depthTiles) +
                       "x16x2xf32, strided<[?, ?, ?, ?], offset: ?>>";
  std::string codes = "memref<?x" + std::to_string(depthTiles) +
                      "x16x2xi8, strided<[?, ?, ?, ?], offset: ?>>";
  std::string scales = "memref<?x" + std::to_string(depthTiles) +
                       "xf32, strided<[?, ?], offset: ?>>";
  std::string weightScales = "memref<?x" + std::to_string(depthTiles) +
                             "x16xf16, strided<[?, ?, ?], offset: ?>>";
  source = replaceAll(source, "%X: " + inputs, "%X: " + codes);
  source = replaceAll(source, "%S: " + weightScales,
                      "%S: " + weightScales + ",\n               %XD: " +
                          scales);
  source = replaceAll(source, "indexing_maps = [#x, #q, #s",
                      "indexing_maps = [#x, #q, #s, #dx");
  source = replaceAll(source, "ins(%X, %Q, %S : " + inputs,
                      "ins(%X, %Q, %S, %XD : " + codes);
  source = replaceAll(source, ", " + weightScales + ")",
                      ", " + weightScales + ", " + scales + ")");
  source = replaceAll(source, "^bb0(%x: f32, %q: i8, %d: f16",
                      "^bb0(%xq: i8, %q: i8, %d: f16, %dx: f32");
  source = replaceAll(source, "    %p = arith.mulf %x, %w : f32",
                      "    %xf = arith.sitofp %xq : i8 to f32\n"
                      "    %x = arith.mulf %xf, %dx : f32\n"
                      "    %p = arith.mulf %x, %w : f32");
  return replaceAll(source, microKernel(q4 ? "q4_0_gemv" : "q8_0_gemv", 0),
                    microKernel(q4 ? "q4_0_i8_gemv" : "q8_0_i8_gemv", 0));
}

bool hostHasVNNI() {
  auto features = llvm::sys::getHostCPUFeatures();
  return features.lookup("avx512vnni") && features.lookup("avx512bw");
}

class QuantI8GemvKernelTest : public ::testing::TestWithParam<QuantShape> {};

// Every input and weight code, including -127/127 (the sign-bit flip) and
// input blocks whose sum is far from zero (the offset corrections), with
// random f16 weight scales and f32 input scales; the kernel sums each
// block's exact integer product in f32, so it matches a double reference
// to within f32 rounding of the scaled block sums.
TEST_P(QuantI8GemvKernelTest, MatchesNaiveProduct) {
  if (!hostHasVNNI())
    GTEST_SKIP() << "this CPU offers no AVX512-VNNI";
  const QuantShape shape = GetParam();
  const int64_t rows = shape.rows, outTiles = shape.outTiles,
                depthTiles = shape.depthTiles;
  const int64_t out = outTiles * 16, in = depthTiles * 32;
  std::mt19937 rng(unsigned(rows * 13 + out * 7 + in + shape.q4));
  std::uniform_int_distribution<int> inputCode(-127, 127), skewed(60, 127);
  std::uniform_int_distribution<int> code(shape.q4 ? 0 : -127,
                                          shape.q4 ? 15 : 127);
  std::uniform_real_distribution<float> scale(0.001f, 0.1f);
  std::vector<int8_t> xq(size_t(rows * in));
  for (size_t i = 0; i < xq.size(); ++i)
    // Every third block all positive: a large input sum.
    xq[i] = int8_t((i / 32) % 3 == 1 ? skewed(rng) : inputCode(rng));
  std::vector<float> xd(size_t(rows * depthTiles)), initial(size_t(rows * out));
  for (float &v : xd)
    v = scale(rng);
  for (float &v : initial)
    v = scale(rng);
  std::vector<int> codes(size_t(out * in));
  for (int &c : codes)
    c = code(rng);
  codes[0] = shape.q4 ? 0 : -127;
  codes[1] = shape.q4 ? 15 : 127;
  std::vector<uint16_t> scaleBits(size_t(out * depthTiles));
  std::vector<double> scaleValues(scaleBits.size());
  std::uniform_int_distribution<int> mantissa(0, 1023), exponent(8, 14);
  for (size_t i = 0; i < scaleBits.size(); ++i) {
    int e = exponent(rng), f = mantissa(rng);
    scaleBits[i] = uint16_t(e << 10 | f);
    scaleValues[i] = std::ldexp(1.0 + f / 1024.0, e - 15);
  }
  QuantTiles tiles(shape.q4, codes, scaleBits, outTiles, depthTiles, shape.pad);
  std::vector<float> result = initial;

  CompiledKernels kernels(quantI8GemvSource(shape.q4, depthTiles));
  ASSERT_TRUE(kernels.entry);
  Descriptor<4> xqd{xq.data(), xq.data(), 0, {rows, depthTiles, 16, 2},
                    {in, 32, 2, 1}};
  Descriptor<2> xdd{xd.data(), xd.data(), 0, {rows, depthTiles},
                    {depthTiles, 1}};
  Descriptor<3> sd{tiles.scales.data(), tiles.scales.data(), 0,
                   {outTiles, depthTiles, 16}, {depthTiles * 16, 16, 1}};
  Descriptor<3> yd{result.data(), result.data(), 0, {rows, outTiles, 16},
                   {out, 16, 1}};
  int8_t *q = tiles.codes.data();
  if (shape.q4) {
    Descriptor<4> qd{q, q, 0, {outTiles, depthTiles, 16, 16},
                     {tiles.nbStride, tiles.kbStride, tiles.krStride,
                      tiles.unitStride}};
    using Fn = void (*)(Descriptor<4> *, Descriptor<4> *, Descriptor<3> *,
                        Descriptor<2> *, Descriptor<3> *);
    reinterpret_cast<Fn>(kernels.entry)(&xqd, &qd, &sd, &xdd, &yd);
  } else {
    Descriptor<5> qd{q, q, 0, {outTiles, depthTiles, 16, 16, 2},
                     {tiles.nbStride, tiles.kbStride, tiles.krStride,
                      tiles.unitStride, 1}};
    using Fn = void (*)(Descriptor<4> *, Descriptor<5> *, Descriptor<3> *,
                        Descriptor<2> *, Descriptor<3> *);
    reinterpret_cast<Fn>(kernels.entry)(&xqd, &qd, &sd, &xdd, &yd);
  }

  for (int64_t m = 0; m < rows; ++m)
    for (int64_t n = 0; n < out; ++n) {
      double sum = initial[m * out + n], magnitude = std::fabs(sum);
      for (int64_t kb = 0; kb < depthTiles; ++kb) {
        long dot = 0, dotMagnitude = 0;
        for (int64_t k = kb * 32; k < kb * 32 + 32; ++k) {
          long product = long(xq[m * in + k]) *
                         (codes[n * in + k] - (shape.q4 ? 8 : 0));
          dot += product;
          dotMagnitude += std::labs(product);
        }
        double scale =
            double(xd[m * depthTiles + kb]) * scaleValues[n * depthTiles + kb];
        sum += scale * double(dot);
        magnitude += scale * double(dotMagnitude);
      }
      // f32 sums of f32-rounded terms, as any f32 dot product: the error
      // is bounded relative to the sum of the products' magnitudes (the
      // kernel's lanes hold partial integer sums, the fallback sums
      // products one by one).
      double bound = magnitude * double(in + 4) * 0x1p-24;
      ASSERT_NEAR(double(result[m * out + n]), sum, bound)
          << "row " << m << ", output " << n;
    }
}

// Both schemes; output tile counts cover whole groups of four and every
// remainder; pad > 0 takes the fallback.
INSTANTIATE_TEST_SUITE_P(
    Shapes, QuantI8GemvKernelTest,
    ::testing::Values(QuantShape{false, 1, 4, 2, 0}, QuantShape{false, 1, 9, 3, 0},
                      QuantShape{false, 3, 6, 1, 0}, QuantShape{false, 2, 1, 8, 0},
                      QuantShape{false, 1, 7, 2, 1}, QuantShape{true, 1, 4, 2, 0},
                      QuantShape{true, 1, 9, 3, 0}, QuantShape{true, 3, 6, 1, 0},
                      QuantShape{true, 2, 1, 8, 0}, QuantShape{true, 1, 7, 2, 1}));

// Bytes of codes and scales streamed per second by one and two threads
// (each its half of the output tiles), from L2 (a 2048 x 2048 matrix: 2 MiB
// of Q8_0, 1 MiB of Q4_0), lm_head-sized (131072 x 2048: may sit in a
// large L3) and from memory (131072 x 8192: 1 GiB / 512 MiB): how far the
// kernel itself is from the memory bandwidth. A benchmark, run
// by hand: --gtest_also_run_disabled_tests --gtest_filter='*I8GemvThroughput*'.
TEST(QuantI8GemvThroughput, DISABLED_OneRow) {
  if (!hostHasVNNI())
    GTEST_SKIP() << "this CPU offers no AVX512-VNNI";
  for (bool q4 : {false, true})
    for (auto [outTiles, depthTiles] :
         {std::pair<int64_t, int64_t>{128, 64}, {8192, 64}, {8192, 256}}) {
      const int64_t in = depthTiles * 32,
                    out = outTiles * 16;
      std::vector<int8_t> xq(size_t(in), 3), codes(size_t(out * in / (q4 ? 2 : 1)), 5);
      std::vector<float> xd(size_t(depthTiles), 0.5f);
      std::vector<float> result(static_cast<size_t>(out), 0.0f);
      std::vector<uint16_t> scales(size_t(outTiles * depthTiles * 16), 0x3c00);
      CompiledKernels kernels(quantI8GemvSource(q4, depthTiles));
      ASSERT_TRUE(kernels.entry);
      Descriptor<4> xqd{xq.data(), xq.data(), 0, {1, depthTiles, 16, 2},
                        {in, 32, 2, 1}};
      Descriptor<2> xdd{xd.data(), xd.data(), 0, {1, depthTiles},
                        {depthTiles, 1}};
      int64_t tile = q4 ? 256 : 512;
      // Output tiles [first, first + count) by one thread.
      auto run = [&](int64_t first, int64_t count) {
        Descriptor<3> sd{scales.data(), scales.data(), first * depthTiles * 16,
                         {count, depthTiles, 16}, {depthTiles * 16, 16, 1}};
        Descriptor<3> yd{result.data(), result.data(), first * 16,
                         {1, count, 16}, {out, 16, 1}};
        if (q4) {
          Descriptor<4> qd{codes.data(), codes.data(), first * depthTiles * tile,
                           {count, depthTiles, 16, 16},
                           {depthTiles * tile, tile, 16, 1}};
          using Fn = void (*)(Descriptor<4> *, Descriptor<4> *,
                              Descriptor<3> *, Descriptor<2> *, Descriptor<3> *);
          reinterpret_cast<Fn>(kernels.entry)(&xqd, &qd, &sd, &xdd, &yd);
        } else {
          Descriptor<5> qd{codes.data(), codes.data(), first * depthTiles * tile,
                           {count, depthTiles, 16, 16, 2},
                           {depthTiles * tile, tile, 32, 2, 1}};
          using Fn = void (*)(Descriptor<4> *, Descriptor<5> *,
                              Descriptor<3> *, Descriptor<2> *, Descriptor<3> *);
          reinterpret_cast<Fn>(kernels.entry)(&xqd, &qd, &sd, &xdd, &yd);
        }
      };
      for (int threads : {1, 2}) {
        double best = 0, total = 0, totalSeconds = 0;
        for (int repeat = 0; repeat < 20; ++repeat) {
          auto start = std::chrono::steady_clock::now();
          std::vector<std::thread> pool;
          int64_t share = outTiles / threads;
          for (int t = 1; t < threads; ++t)
            pool.emplace_back(run, t * share, share);
          run(0, share);
          for (std::thread &t : pool)
            t.join();
          double seconds = std::chrono::duration<double>(
                               std::chrono::steady_clock::now() - start)
                               .count();
          double bytes = double(codes.size()) + 2.0 * double(scales.size());
          best = std::max(best, bytes / seconds / 1e9);
          total += bytes / 1e9;
          totalSeconds += seconds;
        }
        std::printf("%s_i8_gemv %lld x %lld, %d thread(s): best %.1f GB/s, "
                    "mean %.1f GB/s\n",
                    q4 ? "q4_0" : "q8_0", (long long)out, (long long)in,
                    threads, best, total / totalSeconds);
      }
    }
}

//===----------------------------------------------------------------------===//
// AMX on quantized weights (amx_q8_0, amx_q4_0)
//===----------------------------------------------------------------------===//

/// The op llm-to-linalg emits for prefill products by quantized weights with
/// bf16 inputs: the body dequantizes and rounds the weight to bf16.
std::string quantAMXSource(bool q4, int64_t depthTiles,
                           const std::string &kind) {
  std::string source = R"(
#a = affine_map<(mb, mi, nb, ni, kb, kr, kp) -> (mb, kb, mi, kr, kp)>
#q = affine_map<(mb, mi, nb, ni, kb, kr, kp) -> QMAP>
#s = affine_map<(mb, mi, nb, ni, kb, kr, kp) -> (nb, kb, ni)>
#c = affine_map<(mb, mi, nb, ni, kb, kr, kp) -> (mb, mi, nb, ni)>
func.func @run(%A: memref<?xKBx16x16x2xbf16, strided<[?, ?, ?, ?, ?], offset: ?>>,
               %Q: memref<?xKBxQTYPE, STRIDES>,
               %S: memref<?xKBx16xf16, strided<[?, ?, ?], offset: ?>>,
               %C: memref<?x16x?x16xf32, strided<[?, ?, ?, ?], offset: ?>>)
    attributes {llvm.emit_c_interface} {
  linalg.generic {indexing_maps = [#a, #q, #s, #c], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction", "reduction", "reduction"]}
    ins(%A, %Q, %S : memref<?xKBx16x16x2xbf16, strided<[?, ?, ?, ?, ?], offset: ?>>, memref<?xKBxQTYPE, STRIDES>, memref<?xKBx16xf16, strided<[?, ?, ?], offset: ?>>)
    outs(%C : memref<?x16x?x16xf32, strided<[?, ?, ?, ?], offset: ?>>) attrs = {llm.micro_kernel = TAG} {
  ^bb0(%a: bf16, %q: i8, %d: f16, %acc: f32):
CODE
    %w = arith.mulf %qf, %df : f32
    %wb = arith.truncf %w : f32 to bf16
    %we = arith.extf %wb : bf16 to f32
    %af = arith.extf %a : bf16 to f32
    %p = arith.mulf %af, %we : f32
    %r = arith.addf %acc, %p : f32
    linalg.yield %r : f32
  }
  return
})";
  return withQuantCodes(source, q4, /*pairLoop=*/6,
                        kind + (q4 ? "_q4_0" : "_q8_0"), depthTiles);
}

/// float -> bf16 -> float, rounding to nearest even (finite values).
double roundedToBF16(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, 4);
  bits += 0x7FFF + ((bits >> 16) & 1);
  return fromBF16(uint16_t(bits >> 16));
}

class AMXQuantKernelTest : public ::testing::TestWithParam<QuantShape> {};

// Random f16 scales (full mantissas): the dequantized weight q * d needs
// more than bf16's 8 bits, so the kernel must round it (to nearest even)
// exactly where the op says; then sums of exact bf16 products in f32.
/// Runs the product of bf16 input tiles by quantized tiles of `shape` on
/// `kind` (amx or avx512_bf16) and compares it with a naive product of the
/// rounded weights. `pairSums`: the kernel adds each product to its f32 sum
/// in turn (vdpbf16ps), so the error bound grows with the depth.
void checkQuantTileProduct(const QuantShape &shape, const std::string &kind,
                           bool pairSums) {
  const int64_t rowTiles = shape.rows, rows = rowTiles * 16;
  const int64_t outTiles = shape.outTiles, depthTiles = shape.depthTiles;
  const int64_t out = outTiles * 16, in = depthTiles * 32;
  std::mt19937 rng(unsigned(rows * 13 + out * 7 + in + shape.q4));
  std::vector<float> lhs = randomValues(size_t(rows * in), rng);
  std::vector<float> initial = randomValues(size_t(rows * out), rng);
  std::uniform_int_distribution<int> code(shape.q4 ? 0 : -127,
                                          shape.q4 ? 15 : 127);
  std::uniform_int_distribution<int> mantissa(0, 1023), exponent(9, 16);
  std::vector<int> codes(size_t(out * in));
  for (int &c : codes)
    c = code(rng);
  std::vector<uint16_t> scaleBits(size_t(out * depthTiles));
  std::vector<float> scaleValues(scaleBits.size());
  for (size_t i = 0; i < scaleBits.size(); ++i) {
    int e = exponent(rng), f = mantissa(rng);
    scaleBits[i] = uint16_t((e << 10) | f);
    scaleValues[i] = std::ldexp(1.0f + float(f) / 1024.0f, e - 15);
  }
  QuantTiles tiles(shape.q4, codes, scaleBits, outTiles, depthTiles, shape.pad);

  std::vector<uint16_t> lhsTiles(size_t(rows * in));
  for (int64_t m = 0; m < rows; ++m)
    for (int64_t k = 0; k < in; ++k)
      lhsTiles[((m / 16) * depthTiles + k / 32) * 512 + (m % 16) * 32 +
               k % 32] = toBF16(lhs[m * in + k]);
  std::vector<float> result = initial;

  CompiledKernels kernels(quantAMXSource(shape.q4, depthTiles, kind));
  ASSERT_TRUE(kernels.entry);
  Descriptor<5> a{lhsTiles.data(), lhsTiles.data(), 0,
                  {rowTiles, depthTiles, 16, 16, 2},
                  {depthTiles * 512, 512, 32, 2, 1}};
  Descriptor<3> sd{tiles.scales.data(), tiles.scales.data(), 0,
                   {outTiles, depthTiles, 16}, {depthTiles * 16, 16, 1}};
  Descriptor<4> c{result.data(), result.data(), 0,
                  {rowTiles, 16, outTiles, 16}, {16 * out, out, 16, 1}};
  if (shape.q4) {
    Descriptor<4> qd{tiles.codes.data(), tiles.codes.data(), 0,
                     {outTiles, depthTiles, 16, 16},
                     {tiles.nbStride, tiles.kbStride, tiles.krStride,
                      tiles.unitStride}};
    using Fn = void (*)(Descriptor<5> *, Descriptor<4> *, Descriptor<3> *,
                        Descriptor<4> *);
    reinterpret_cast<Fn>(kernels.entry)(&a, &qd, &sd, &c);
  } else {
    Descriptor<5> qd{tiles.codes.data(), tiles.codes.data(), 0,
                     {outTiles, depthTiles, 16, 16, 2},
                     {tiles.nbStride, tiles.kbStride, tiles.krStride,
                      tiles.unitStride, 1}};
    using Fn = void (*)(Descriptor<5> *, Descriptor<5> *, Descriptor<3> *,
                        Descriptor<4> *);
    reinterpret_cast<Fn>(kernels.entry)(&a, &qd, &sd, &c);
  }

  std::vector<double> weights(size_t(out * in));
  for (int64_t n = 0; n < out; ++n)
    for (int64_t k = 0; k < in; ++k) {
      int value = codes[n * in + k] - (shape.q4 ? 8 : 0);
      weights[n * in + k] =
          roundedToBF16(float(value) * scaleValues[n * depthTiles + k / 32]);
    }
  // The weights reach hundreds, so sums cancel: f32 summation error is
  // bounded by the sum of the terms' magnitudes. Skipping the rounding of
  // the weights (2^-9 relative per term) exceeds the bound by far.
  for (int64_t m = 0; m < rows; ++m)
    for (int64_t n = 0; n < out; ++n) {
      double sum = initial[m * out + n], magnitude = std::abs(sum);
      for (int64_t k = 0; k < in; ++k) {
        double term = double(lhs[m * in + k]) * weights[n * in + k];
        sum += term;
        magnitude += std::abs(term);
      }
      double bound = 1e-6 + 2e-6 * magnitude;
      if (pairSums)
        bound = std::max(bound, double(in) * 0x1p-24 * magnitude);
      ASSERT_NEAR(result[m * out + n], sum, bound)
          << "row " << m << ", output " << n;
    }
}

TEST_P(AMXQuantKernelTest, MatchesNaiveProductOfRoundedWeights) {
  if (!hostHasAMX())
    GTEST_SKIP() << "this CPU (or kernel) offers no AMX-BF16";
  checkQuantTileProduct(GetParam(), "amx", /*pairSums=*/false);
}

class BF16DotQuantKernelTest : public ::testing::TestWithParam<QuantShape> {};

TEST_P(BF16DotQuantKernelTest, MatchesNaiveProductOfRoundedWeights) {
  if (!llvm::sys::getHostCPUFeatures().lookup("avx512bf16"))
    GTEST_SKIP() << "this CPU offers no AVX512-BF16";
  checkQuantTileProduct(GetParam(), "avx512_bf16", /*pairSums=*/true);
}

// Both schemes; rows cover 6-row blocks and remainders; output tiles whole
// panels of 4 and remainders; depth 128 and 256 split the outputs into
// panels of 4 tiles with a partial last panel and the reduction into depth
// blocks of 64; pad > 0 takes the fallback.
INSTANTIATE_TEST_SUITE_P(
    Shapes, BF16DotQuantKernelTest,
    ::testing::Values(QuantShape{false, 1, 1, 1, 0}, QuantShape{false, 3, 5, 6, 0},
                      QuantShape{false, 2, 9, 128, 0}, QuantShape{false, 1, 7, 256, 0},
                      QuantShape{false, 2, 3, 2, 1}, QuantShape{true, 1, 1, 1, 0},
                      QuantShape{true, 3, 5, 6, 0}, QuantShape{true, 2, 9, 128, 0},
                      QuantShape{true, 1, 7, 256, 0}, QuantShape{true, 2, 3, 2, 1}));

// Both schemes; row and output tiles cover the 2 x 2 blocks and their
// remainders; depths 128 and 256 split the outputs into panels of 4 and 2
// tiles with a partial last panel; pad > 0 takes the fallback.
INSTANTIATE_TEST_SUITE_P(
    Shapes, AMXQuantKernelTest,
    ::testing::Values(QuantShape{false, 1, 1, 1, 0}, QuantShape{false, 3, 5, 6, 0},
                      QuantShape{false, 2, 5, 128, 0}, QuantShape{false, 3, 3, 256, 0},
                      QuantShape{false, 2, 3, 2, 1}, QuantShape{true, 1, 1, 1, 0},
                      QuantShape{true, 3, 5, 6, 0}, QuantShape{true, 2, 5, 128, 0},
                      QuantShape{true, 3, 3, 256, 0}, QuantShape{true, 2, 3, 2, 1}));

} // namespace
