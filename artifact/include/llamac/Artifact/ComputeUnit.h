//===- ComputeUnit.h - The arithmetic units kernels run on ------*- C++ -*-===//
//
// Which of the CPU's arithmetic units a compiled model's micro-kernels use,
// recorded in the manifest by the compiler (from the micro-kernels it
// chose) and read by the runtime: `llamac-run bench` compares prefill with
// the peaks of these units, and the runtime asks the kernel for AMX tile
// state only when a unit needs it.
//
//===----------------------------------------------------------------------===//
#ifndef LLAMAC_ARTIFACT_COMPUTEUNIT_H
#define LLAMAC_ARTIFACT_COMPUTEUNIT_H

#include <cstdint>
#include <optional>
#include <string_view>

namespace llamac::artifact {

enum class ComputeUnit : uint8_t {
  /// f32 vector FMAs (AVX-512 or AVX2): generic code, bf16 and quantized
  /// weights widened to f32 included.
  F32FMA,
  /// AMX bf16 tile products (`tdpbf16ps`).
  AMXBF16,
  /// AVX512-BF16 pair dot products (`vdpbf16ps`), for CPUs without AMX.
  AVX512BF16,
};

/// "f32-fma", "amx-bf16", "avx512-bf16": the manifest's names.
std::string_view computeUnitName(ComputeUnit unit);
std::optional<ComputeUnit> parseComputeUnit(std::string_view name);

/// True for units whose instructions need the AMX tile state, which Linux
/// gives only to processes that ask for it.
inline bool needsTileState(ComputeUnit unit) {
  return unit == ComputeUnit::AMXBF16;
}

} // namespace llamac::artifact

#endif // LLAMAC_ARTIFACT_COMPUTEUNIT_H
