//===- Numerics.cpp - How `auto` numerics resolve on a target -------------===//
#include "llamac/Passes/Strategy.h"

using namespace llvm;

namespace llamac {

namespace {
Error makeError(const Twine &message) {
  return createStringError(inconvertibleErrorCode(), message);
}
} // namespace

artifact::QuantScheme Numerics::quantScheme() const {
  switch (dtype) {
  case llm::WeightPrecision::Q8_0:
    return artifact::QuantScheme::Q8_0;
  case llm::WeightPrecision::Q4_0:
    return artifact::QuantScheme::Q4_0;
  case llm::WeightPrecision::F32:
  case llm::WeightPrecision::BF16:
    break;
  }
  return artifact::QuantScheme::None;
}

artifact::CacheElement Numerics::cacheElement() const {
  switch (kvCache) {
  case llm::KVCachePrecision::F32:
    return artifact::CacheElement::F32;
  case llm::KVCachePrecision::BF16:
    return artifact::CacheElement::BF16;
  case llm::KVCachePrecision::F16:
    return artifact::CacheElement::F16;
  case llm::KVCachePrecision::Q8_0:
    return artifact::CacheElement::Q8_0;
  case llm::KVCachePrecision::Auto:
    break; // resolved by resolveNumerics
  }
  return artifact::CacheElement::F32;
}

Expected<Numerics> resolveNumerics(const NumericsOptions &options,
                                   llm::TargetAttr target) {
  Numerics numerics;
  numerics.dtype = options.dtype;
  const bool quantized =
      numerics.quantScheme() != artifact::QuantScheme::None;
  // bf16 prefill inputs mean bf16 products of tiles (bf16 weights, or
  // quantized ones dequantized to bf16 tiles): on AMX or, without it, on
  // AVX512-BF16's vdpbf16ps.
  const bool bf16Products = target.hasAMXBF16() || target.hasAVX512BF16();
  numerics.bf16PrefillInputs =
      options.prefillInputs == llm::PrefillInputs::BF16 ||
      (options.prefillInputs == llm::PrefillInputs::Auto &&
       (options.dtype == llm::WeightPrecision::BF16 || quantized) &&
       bf16Products);
  if (numerics.bf16PrefillInputs && options.dtype == llm::WeightPrecision::F32)
    return makeError("--prefill-inputs=bf16 needs --dtype bf16, q8_0 or q4_0");
  if (numerics.bf16PrefillInputs && !bf16Products)
    return makeError("--prefill-inputs=bf16 needs a target CPU with AMX-BF16 "
                     "or AVX512-BF16 (target '" +
                     target.getCpu() + "' has neither)");
  // i8 decode inputs mean integer dot products with the weights' codes:
  // quantized weights, and the 512-bit VNNI instructions the kernels use.
  const bool vnni = target.hasAVX512VNNI();
  numerics.i8DecodeInputs =
      options.decodeInputs == llm::DecodeInputs::I8 ||
      (options.decodeInputs == llm::DecodeInputs::Auto && quantized && vnni);
  if (numerics.i8DecodeInputs && !quantized)
    return makeError("--decode-inputs=i8 needs --dtype q8_0 or q4_0");
  if (numerics.i8DecodeInputs && !vnni)
    return makeError("--decode-inputs=i8 needs a target CPU with "
                     "AVX512-VNNI (target '" +
                     target.getCpu() + "' has none)");
  // Half the cache's memory and decode's reads: bf16 where the CPU has
  // AVX512-BF16 (the unit a bf16 attention will run on), else f16.
  numerics.kvCache = options.kvCache;
  if (numerics.kvCache == llm::KVCachePrecision::Auto)
    numerics.kvCache = target.hasAVX512BF16()
                           ? llm::KVCachePrecision::BF16
                       : target.hasFeature("f16c") ? llm::KVCachePrecision::F16
                                                   : llm::KVCachePrecision::F32;
  // An f16 cache, and q8_0's f16 scales, are written with F16C's vcvtps2ph:
  // without it LLVM would call a runtime function that model.so does not
  // link. (bf16 is rounded with integer arithmetic on any target.)
  const bool halfScales = numerics.kvCache == llm::KVCachePrecision::Q8_0;
  if ((numerics.kvCache == llm::KVCachePrecision::F16 || halfScales) &&
      !target.hasFeature("f16c"))
    return makeError(Twine("--kv-type=") +
                     llm::stringifyKVCachePrecision(numerics.kvCache) +
                     " needs a target CPU with F16C (target '" +
                     target.getCpu() + "' has none)");
  return numerics;
}

} // namespace llamac
