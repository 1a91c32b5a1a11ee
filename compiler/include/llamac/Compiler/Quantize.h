//===- Quantize.h - Q8_0 / Q4_0 block quantization --------------*- C++ -*-===//
//
// The packer's quantizers: llama.cpp's reference Q8_0 and Q4_0 rules on one
// block of 32 consecutive weights of a row (see llm.param and
// ../shared/golden/llama-golden-gqa-quant/README.md). Plain C++ with no
// MLIR, so that the rules can be tested alone.
//
//===----------------------------------------------------------------------===//
#ifndef LLAMAC_COMPILER_QUANTIZE_H
#define LLAMAC_COMPILER_QUANTIZE_H

#include <cstdint>

namespace llamac {

/// Weights per block (and per f16 scale).
inline constexpr int kQuantBlockSize = 32;

/// IEEE half precision bits of `value`, rounded to nearest, ties to even
/// (overflow to infinity, NaN kept a quiet NaN), as F16C's vcvtps2ph does.
uint16_t floatToHalf(float value);

/// The float value of half precision `bits` (exact).
float halfToFloat(uint16_t bits);

/// Q8_0: d = max|x| / 127, q = roundf(x * (1 / d)) (0 when d = 0). Writes
/// the codes and returns fp16(d); the weight is q * fp16(d). Note: x * (1/d)
/// in float32, as llama.cpp's quantize_row_q8_0_ref computes it, not x / d
/// (the golden README's shorthand): the two differ for some x, and the
/// golden logits follow the former.
uint16_t quantizeBlockQ8_0(const float *block, int8_t *codes);

/// Q4_0: m = the first value of largest magnitude (sign kept), d = m / -8,
/// q = min(15, trunc(x * (1 / d) + 8.5)) (8 when d = 0). Writes codes 0..15
/// and returns fp16(d); the weight is (q - 8) * fp16(d).
uint16_t quantizeBlockQ4_0(const float *block, uint8_t *codes);

} // namespace llamac

#endif // LLAMAC_COMPILER_QUANTIZE_H
