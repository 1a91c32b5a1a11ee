//===- QuantizeTest.cpp - Q8_0 / Q4_0 block quantizers ----------------------===//
//
// The packer's quantizers against reference definitions written here from
// llama.cpp's quantize_row_q8_0_ref / quantize_row_q4_0_ref (the rules of
// ../shared/golden/llama-golden-gqa-quant): codes, fp16 scale bits and the
// dequantized values must match exactly, on random blocks, all-zero blocks,
// blocks with one huge value, rounding ties and magnitude ties. The fp16
// reference picks the nearest of all half values by search (ties to the
// even code), independent of the bit tricks of the code under test.
//
//===----------------------------------------------------------------------===//
#include "llamac/Compiler/Quantize.h"

#include "gtest/gtest.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

namespace {

using Block = std::array<float, 32>;

/// All finite non-negative half values, ascending, indexed by their bits.
const std::vector<double> &positiveHalves() {
  static const std::vector<double> values = [] {
    std::vector<double> v;
    for (int bits = 0; bits < 0x7c00; ++bits) {
      int exponent = bits >> 10, mantissa = bits & 0x3ff;
      v.push_back(exponent == 0
                      ? std::ldexp(double(mantissa), -24)
                      : std::ldexp(double(1024 + mantissa), exponent - 25));
    }
    return v;
  }();
  return values;
}

/// fp16(value): nearest half, ties to the even code; from 65520 up, inf.
uint16_t referenceHalf(float value) {
  uint16_t sign = std::signbit(value) ? 0x8000 : 0;
  double magnitude = std::fabs(double(value));
  if (magnitude >= 65520.0)
    return sign | 0x7c00;
  const std::vector<double> &halves = positiveHalves();
  auto above = std::lower_bound(halves.begin(), halves.end(), magnitude);
  if (above == halves.end()) // (65504, 65520): the largest half
    return sign | 0x7bff;
  int high = int(above - halves.begin());
  if (*above == magnitude || high == 0)
    return sign | uint16_t(high);
  int low = high - 1;
  double down = magnitude - halves[low], up = halves[high] - magnitude;
  int pick = down < up ? low : up < down ? high : (low % 2 == 0 ? low : high);
  return sign | uint16_t(pick);
}

double halfValue(uint16_t bits) {
  double magnitude = (bits & 0x7fff) >= 0x7c00
                         ? std::numeric_limits<double>::infinity()
                         : positiveHalves()[bits & 0x7fff];
  return bits & 0x8000 ? -magnitude : magnitude;
}

/// roundf: half away from zero.
int roundHalfAway(float value) {
  double magnitude = std::floor(std::fabs(double(value)) + 0.5);
  return int(value < 0 ? -magnitude : magnitude);
}

struct Reference {
  std::array<int, 32> codes;
  uint16_t scale;
};

/// Q8_0: d = max|x| / 127; id = 1/d (0 when d = 0); q = roundf(x * id).
Reference referenceQ8(const Block &x) {
  float amax = 0;
  for (float v : x)
    if (std::fabs(v) > amax)
      amax = std::fabs(v);
  float d = amax / 127.0f;
  float id = d != 0.0f ? 1.0f / d : 0.0f;
  Reference r;
  for (int j = 0; j < 32; ++j) {
    float scaled = x[j] * id;
    r.codes[j] = roundHalfAway(scaled);
  }
  r.scale = referenceHalf(d);
  return r;
}

/// Q4_0: m = first value of largest magnitude; d = m / -8; id = 1/d (0
/// when d = 0); q = min(15, trunc(x * id + 8.5)).
Reference referenceQ4(const Block &x) {
  float amax = 0, m = 0;
  for (float v : x)
    if (std::fabs(v) > amax) {
      amax = std::fabs(v);
      m = v;
    }
  float d = m / -8.0f;
  float id = d != 0.0f ? 1.0f / d : 0.0f;
  Reference r;
  for (int j = 0; j < 32; ++j) {
    float shifted = x[j] * id + 8.5f;
    r.codes[j] = std::min(15, int(std::trunc(double(shifted))));
  }
  r.scale = referenceHalf(d);
  return r;
}

void expectQ8(const Block &x, const char *what) {
  Reference want = referenceQ8(x);
  int8_t codes[32];
  uint16_t scale = llamac::quantizeBlockQ8_0(x.data(), codes);
  ASSERT_EQ(scale, want.scale) << what;
  for (int j = 0; j < 32; ++j) {
    ASSERT_EQ(int(codes[j]), want.codes[j]) << what << ", element " << j;
    // Dequantized: q * fp16(d), exact in f32.
    float value = float(codes[j]) * llamac::halfToFloat(scale);
    double expected = want.codes[j] == 0 ? 0.0
                                         : want.codes[j] * halfValue(want.scale);
    ASSERT_EQ(double(value), expected) << what << ", element " << j;
  }
}

void expectQ4(const Block &x, const char *what) {
  Reference want = referenceQ4(x);
  uint8_t codes[32];
  uint16_t scale = llamac::quantizeBlockQ4_0(x.data(), codes);
  ASSERT_EQ(scale, want.scale) << what;
  for (int j = 0; j < 32; ++j) {
    ASSERT_EQ(int(codes[j]), want.codes[j]) << what << ", element " << j;
    float value = float(int(codes[j]) - 8) * llamac::halfToFloat(scale);
    double expected = want.codes[j] == 8
                          ? 0.0
                          : (want.codes[j] - 8) * halfValue(want.scale);
    ASSERT_EQ(double(value), expected) << what << ", element " << j;
  }
}

TEST(QuantizeTest, HalfConversionMatchesNearestSearch) {
  // Every 331st float bit pattern up to infinity, both signs: normals,
  // subnormal halves, overflow, exact halves and the midpoints between.
  for (uint32_t bits = 0; bits < 0x7f800000u; bits += 331) {
    float value;
    std::memcpy(&value, &bits, 4);
    ASSERT_EQ(llamac::floatToHalf(value), referenceHalf(value)) << value;
    ASSERT_EQ(llamac::floatToHalf(-value), referenceHalf(-value)) << -value;
  }
  for (int bits = 0; bits < 0x7c00; ++bits) {
    double exact = positiveHalves()[bits];
    ASSERT_EQ(llamac::floatToHalf(float(exact)), bits);
    ASSERT_EQ(double(llamac::halfToFloat(uint16_t(bits))), exact);
    if (bits + 1 < 0x7c00) { // the midpoint: ties to the even code
      float mid = float((exact + positiveHalves()[bits + 1]) / 2);
      ASSERT_EQ(llamac::floatToHalf(mid), referenceHalf(mid)) << mid;
    }
  }
}

TEST(QuantizeTest, RandomBlocks) {
  std::mt19937 rng(6);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::uniform_int_distribution<int> exponent(-20, 8);
  for (int b = 0; b < 20000; ++b) {
    Block x;
    float scale = std::ldexp(1.0f, exponent(rng));
    for (float &v : x)
      v = normal(rng) * scale;
    expectQ8(x, "random");
    expectQ4(x, "random");
  }
}

TEST(QuantizeTest, AllZeroBlock) {
  Block zeros{};
  expectQ8(zeros, "zeros");
  expectQ4(zeros, "zeros");
  int8_t q8[32];
  uint8_t q4[32];
  EXPECT_EQ(llamac::quantizeBlockQ8_0(zeros.data(), q8), 0);
  // Q4_0's d = 0 / -8 is -0: fp16 -0.
  EXPECT_EQ(llamac::quantizeBlockQ4_0(zeros.data(), q4), 0x8000);
  for (int j = 0; j < 32; ++j) {
    EXPECT_EQ(q8[j], 0);
    EXPECT_EQ(q4[j], 8); // (8 - 8) * 0
  }
}

TEST(QuantizeTest, OneHugeValue) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> small(-0.01f, 0.01f);
  for (float huge : {1000.0f, -1000.0f, 3.0e4f, -6.0e4f, 4.0e5f}) {
    for (int at : {0, 13, 31}) {
      Block x;
      for (float &v : x)
        v = small(rng);
      x[at] = huge;
      expectQ8(x, "one huge value");
      expectQ4(x, "one huge value");
    }
  }
  // Tiny blocks: the scale is an fp16 subnormal, or rounds to zero.
  for (float tiny : {1e-5f, 3e-7f, 1e-9f}) {
    Block x;
    for (float &v : x)
      v = small(rng) * tiny;
    expectQ8(x, "tiny");
    expectQ4(x, "tiny");
  }
}

TEST(QuantizeTest, RoundingTies) {
  // max|x| = 127: d = 1, so x = k + 0.5 is an exact tie (away from zero).
  Block x{};
  x[0] = 127.0f;
  const float ties[] = {0.5f, -0.5f, 1.5f, -1.5f, 2.5f, -2.5f, 126.5f, -126.5f};
  for (int j = 0; j < 8; ++j)
    x[1 + j] = ties[j];
  expectQ8(x, "q8 ties");
  int8_t q8[32];
  llamac::quantizeBlockQ8_0(x.data(), q8);
  EXPECT_EQ(q8[1], 1);
  EXPECT_EQ(q8[2], -1);
  EXPECT_EQ(q8[5], 3);
  EXPECT_EQ(q8[6], -3);
  EXPECT_EQ(q8[7], 127);

  // m = -8: d = 1, x + 8.5 lands on whole numbers and is truncated.
  Block y{};
  y[0] = -8.0f;
  const float q4Ties[] = {-0.5f, 0.5f, 7.5f, -7.5f, 8.0f, 7.0f, -7.0f};
  for (int j = 0; j < 7; ++j)
    y[1 + j] = q4Ties[j];
  expectQ4(y, "q4 ties");
  uint8_t q4[32];
  llamac::quantizeBlockQ4_0(y.data(), q4);
  EXPECT_EQ(q4[0], 0);  // -8 -> 0.5 -> 0
  EXPECT_EQ(q4[1], 8);  // -0.5 + 8.5 = 8
  EXPECT_EQ(q4[2], 9);  // 0.5 + 8.5 = 9
  EXPECT_EQ(q4[3], 15); // 16 -> clamped
  EXPECT_EQ(q4[5], 15); // 8 + 8.5 = 16.5 -> clamped
}

TEST(QuantizeTest, MagnitudeTiesKeepTheFirstValue) {
  Block negativeFirst{}, positiveFirst{};
  negativeFirst[3] = -3.0f;
  negativeFirst[9] = 3.0f;
  positiveFirst[3] = 3.0f;
  positiveFirst[9] = -3.0f;
  expectQ4(negativeFirst, "negative first");
  expectQ4(positiveFirst, "positive first");
  uint8_t a[32], b[32];
  uint16_t da = llamac::quantizeBlockQ4_0(negativeFirst.data(), a);
  uint16_t db = llamac::quantizeBlockQ4_0(positiveFirst.data(), b);
  EXPECT_EQ(da, referenceHalf(3.0f / 8.0f)); // d = -3 / -8
  EXPECT_EQ(db, referenceHalf(-3.0f / 8.0f));
  EXPECT_EQ(a[3], 0);
  EXPECT_EQ(a[9], 15);
  EXPECT_EQ(b[3], 0);
  EXPECT_EQ(b[9], 15);
}

// llama.cpp's code (and the golden files) compute x * (1 / d), not x / d:
// the two round differently for these values, found by search.
TEST(QuantizeTest, MultipliesByTheReciprocal) {
  struct Case {
    float extreme, x;
    bool q4;
  } cases[] = {{0x1.00167cp-1f, 0x1.bfa64cp-3f, false},
               {0x1.70b562p-1f, 0x1.3affcp-1f, false},
               {-0x1.8175a4p+0f, 0x1.0900dep+0f, true},
               {-0x1.f3cffcp+0f, 0x1.9618fap+0f, true}};
  for (const Case &c : cases) {
    Block x{};
    x[0] = c.extreme;
    x[1] = c.x;
    if (c.q4) {
      float d = c.extreme / -8.0f;
      ASSERT_NE(std::min(15, int(c.x / d + 8.5f)),
                std::min(15, int(c.x * (1.0f / d) + 8.5f)));
      expectQ4(x, "reciprocal");
    } else {
      float d = std::fabs(c.extreme) / 127.0f;
      ASSERT_NE(std::roundf(c.x / d), std::roundf(c.x * (1.0f / d)));
      expectQ8(x, "reciprocal");
    }
  }
}

} // namespace
