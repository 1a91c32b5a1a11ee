//===- LLMEnums.td - llm dialect enums ---------------------*- tablegen -*-===//
//
// The closed sets of choices the compiler makes or is asked to make: the
// micro-kernel a product or attention runs on (`#llm.micro_kernel`), and
// the numerics a compile asks for (options of `llm-choose-layouts` and
// `llm-compile-pipeline`, flags of `llamac compile`).
//
//===----------------------------------------------------------------------===//
#ifndef LLAMAC_IR_LLMENUMS_TD
#define LLAMAC_IR_LLMENUMS_TD

include "mlir/IR/EnumAttr.td"

class LLM_Enum<string name, string summary, list<I32EnumAttrCase> cases>
    : I32EnumAttr<name, summary, cases> {
  let cppNamespace = "::llamac::llm";
  let genSpecializedAttr = 0;
}

def LLM_MicroKernelKind : LLM_Enum<"MicroKernelKind",
    "the generated code a product or an attention runs on", [
  // Products by bf16 vnni16x32 tiles.
  I32EnumAttrCase<"AMXBF16", 0, "amx_bf16">,
  I32EnumAttrCase<"TileGemv", 1, "vnni_gemv">,
  // Products by quantized tiles: dequantized into bf16 AMX tiles, dequantized
  // in registers, or integer dot products with quantized inputs.
  I32EnumAttrCase<"AMXQ8_0", 2, "amx_q8_0">,
  I32EnumAttrCase<"AMXQ4_0", 3, "amx_q4_0">,
  I32EnumAttrCase<"Q8_0Gemv", 4, "q8_0_gemv">,
  I32EnumAttrCase<"Q4_0Gemv", 5, "q4_0_gemv">,
  I32EnumAttrCase<"Q8_0I8Gemv", 6, "q8_0_i8_gemv">,
  I32EnumAttrCase<"Q4_0I8Gemv", 7, "q4_0_i8_gemv">,
  // Products by f32 panels of 64 outputs.
  I32EnumAttrCase<"F32Panels", 8, "f32_panels">,
  // Attention with an online softmax: keys transposed once (many queries)
  // or read as rows (one query).
  I32EnumAttrCase<"FlashTransposedKeys", 9, "flash_transposed_keys">,
  I32EnumAttrCase<"FlashKeyRows", 10, "flash_key_rows">,
  // Products by bf16 vnni16x32 tiles on AVX512-BF16's vdpbf16ps, for CPUs
  // without AMX; quantized tiles dequantized into bf16 tiles first.
  I32EnumAttrCase<"AVX512BF16", 11, "avx512_bf16">,
  I32EnumAttrCase<"AVX512BF16Q8_0", 12, "avx512_bf16_q8_0">,
  I32EnumAttrCase<"AVX512BF16Q4_0", 13, "avx512_bf16_q4_0">,
]>;

def LLM_WeightPrecision : LLM_Enum<"WeightPrecision",
    "the precision a compile stores the matrices in", [
  I32EnumAttrCase<"F32", 0, "f32">,
  I32EnumAttrCase<"BF16", 1, "bf16">,
  I32EnumAttrCase<"Q8_0", 2, "q8_0">,
  I32EnumAttrCase<"Q4_0", 3, "q4_0">,
]>;

def LLM_KVCachePrecision : LLM_Enum<"KVCachePrecision",
    "the element type a compile stores the KV cache in", [
  I32EnumAttrCase<"F32", 0, "f32">,
  I32EnumAttrCase<"BF16", 1, "bf16">,
  I32EnumAttrCase<"F16", 2, "f16">,
  I32EnumAttrCase<"Auto", 3, "auto">,
  I32EnumAttrCase<"Q8_0", 4, "q8_0">,
]>;

def LLM_PrefillInputs : LLM_Enum<"PrefillInputs",
    "the precision of the activations entering prefill's matrix products", [
  I32EnumAttrCase<"Auto", 0, "auto">,
  I32EnumAttrCase<"BF16", 1, "bf16">,
  I32EnumAttrCase<"F32", 2, "f32">,
]>;

def LLM_DecodeInputs : LLM_Enum<"DecodeInputs",
    "the precision of the activations entering decode's products by "
    "quantized weights", [
  I32EnumAttrCase<"Auto", 0, "auto">,
  I32EnumAttrCase<"I8", 1, "i8">,
  I32EnumAttrCase<"F32", 2, "f32">,
]>;

#endif // LLAMAC_IR_LLMENUMS_TD
