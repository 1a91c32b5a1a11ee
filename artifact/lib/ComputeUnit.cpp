//===- ComputeUnit.cpp - The arithmetic units kernels run on --------------===//
#include "llamac/Artifact/ComputeUnit.h"

namespace llamac::artifact {

std::string_view computeUnitName(ComputeUnit unit) {
  switch (unit) {
  case ComputeUnit::F32FMA:
    return "f32-fma";
  case ComputeUnit::AMXBF16:
    return "amx-bf16";
  case ComputeUnit::AVX512BF16:
    return "avx512-bf16";
  }
  return "?";
}

std::optional<ComputeUnit> parseComputeUnit(std::string_view name) {
  for (ComputeUnit unit : {ComputeUnit::F32FMA, ComputeUnit::AMXBF16,
                            ComputeUnit::AVX512BF16})
    if (computeUnitName(unit) == name)
      return unit;
  return std::nullopt;
}

} // namespace llamac::artifact
