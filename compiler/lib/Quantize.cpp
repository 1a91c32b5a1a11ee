//===- Quantize.cpp - Q8_0 / Q4_0 block quantization ----------------------===//
#include "llamac/Compiler/Quantize.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace llamac {

namespace {
uint32_t bitsOf(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof(bits));
  return bits;
}
float floatOf(uint32_t bits) {
  float value;
  std::memcpy(&value, &bits, sizeof(value));
  return value;
}
} // namespace

uint16_t floatToHalf(float value) {
  uint32_t bits = bitsOf(value);
  uint16_t sign = uint16_t((bits >> 16) & 0x8000);
  uint32_t magnitude = bits & 0x7fffffff;
  if (magnitude > 0x7f800000) // NaN
    return sign | 0x7e00;
  // 65520 and above round to infinity (65504 is the largest half).
  if (magnitude >= 0x477ff000)
    return sign | 0x7c00;
  if (magnitude < 0x38800000) {
    // Below 2^-14: a half subnormal, a multiple of 2^-24. Adding 0.5 (whose
    // ulp is 2^-24) makes the float unit round the magnitude to nearest
    // even at exactly that granularity; the low mantissa bits are the code.
    float sum = floatOf(magnitude) + 0.5f;
    return sign | uint16_t(bitsOf(sum) - bitsOf(0.5f));
  }
  // Normal: rebias the exponent (127 -> 15) and round the 13 dropped
  // mantissa bits to nearest even; a carry may bump the exponent, which is
  // still right (up to infinity, excluded above).
  uint32_t odd = (magnitude >> 13) & 1;
  uint32_t rebiased = magnitude - (uint32_t(127 - 15) << 23);
  return sign | uint16_t((rebiased + 0xfff + odd) >> 13);
}

float halfToFloat(uint16_t bits) {
  uint32_t sign = uint32_t(bits & 0x8000) << 16;
  uint32_t exponent = (bits >> 10) & 0x1f;
  uint32_t mantissa = bits & 0x3ff;
  if (exponent == 0x1f)
    return floatOf(sign | 0x7f800000 | (mantissa << 13));
  if (exponent == 0) // zero and subnormals: mantissa * 2^-24
    return (sign ? -1.0f : 1.0f) * float(mantissa) * 0x1p-24f;
  return floatOf(sign | ((exponent + 112) << 23) | (mantissa << 13));
}

uint16_t quantizeBlockQ8_0(const float *block, int8_t *codes) {
  float amax = 0.0f;
  for (int j = 0; j < kQuantBlockSize; ++j)
    amax = std::max(amax, std::fabs(block[j]));
  const float d = amax / 127.0f;
  // x * (1 / d), as llama.cpp's code computes it (x / d rounds differently
  // for some x, and the golden files follow the code).
  const float inverse = d == 0.0f ? 0.0f : 1.0f / d;
  for (int j = 0; j < kQuantBlockSize; ++j)
    codes[j] = int8_t(std::roundf(block[j] * inverse));
  return floatToHalf(d);
}

uint16_t quantizeBlockQ4_0(const float *block, uint8_t *codes) {
  float amax = 0.0f, max = 0.0f;
  for (int j = 0; j < kQuantBlockSize; ++j)
    if (amax < std::fabs(block[j])) {
      amax = std::fabs(block[j]);
      max = block[j];
    }
  const float d = max / -8.0f;
  const float inverse = d == 0.0f ? 0.0f : 1.0f / d;
  for (int j = 0; j < kQuantBlockSize; ++j) {
    float shifted = block[j] * inverse + 8.5f;
    codes[j] = uint8_t(std::min(15, int(shifted)));
  }
  return floatToHalf(d);
}

} // namespace llamac
