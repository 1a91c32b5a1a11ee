// llm-quantize-weights: float [out, in] weights of whole 16 x 32 tiles, read
// only by projections and embedding lookups, become codes + scales params of
// the same name in every function, and their users take the scales.
// Anything else is left alone.
// RUN: llamac-opt %s -llm-quantize-weights=scheme=q8_0 -split-input-file | FileCheck %s --check-prefix=Q8
// RUN: llamac-opt %s -llm-quantize-weights=scheme=q4_0 -split-input-file | FileCheck %s --check-prefix=Q4
// RUN: llamac-opt %s -llm-quantize-weights=scheme=q4_0 -split-input-file | llamac-opt -split-input-file | FileCheck %s --check-prefix=Q4
// RUN: not llamac-opt %s -llm-quantize-weights=scheme=q2_k -split-input-file 2>&1 | FileCheck %s --check-prefix=BAD
// RUN: llamac-opt %s -llm-quantize-weights="scheme=q8_0 matrix-input-type=bf16" -split-input-file | FileCheck %s --check-prefix=AMX
// RUN: not llamac-opt %s -llm-quantize-weights="scheme=q8_0 matrix-input-type=f16" -split-input-file 2>&1 | FileCheck %s --check-prefix=BAD-TYPE
// RUN: llamac-opt %s -llm-quantize-weights="scheme=q4_0 matrix-input-type=bf16 vector-input-type=i8" -split-input-file | FileCheck %s --check-prefix=VNNI
// RUN: not llamac-opt %s -llm-quantize-weights="scheme=q8_0 vector-input-type=i4" -split-input-file 2>&1 | FileCheck %s --check-prefix=BAD-VECTOR

// BAD: llm-quantize-weights: unknown scheme 'q2_k' (q8_0, q4_0)
// BAD-TYPE: llm-quantize-weights: unknown matrix-input-type 'f16' (bf16)
// BAD-VECTOR: llm-quantize-weights: unknown vector-input-type 'i4' (i8)

// With matrix-input-type=bf16, the product with several input rows rounds
// its inputs (prefill, AMX tiles); the one-row product (decode) does not.
// AMX-LABEL: func.func @prefill(
// AMX: llm.linear %{{.+}}, %{{.+}} scales(%{{.+}} : tensor<4x2x16xf16>) {input_type = bf16} : tensor<?x64xf32>
// AMX-LABEL: func.func @decode(
// AMX-NOT: input_type
// AMX: return

// With vector-input-type=i8 as well, the one-row product quantizes its
// inputs (integer dot products); the prefill one keeps bf16.
// VNNI-LABEL: func.func @prefill(
// VNNI: llm.linear {{.+}} {input_type = bf16} : tensor<?x64xf32>, tensor<4x2x16x16xi8>
// VNNI-LABEL: func.func @decode(
// VNNI: llm.linear {{.+}} {input_type = i8} : tensor<1x64xf32>, tensor<4x2x16x16xi8>

// Q8-LABEL: func.func @prefill(
// Q8: %[[C:.+]] = llm.param "w" {layout = "q8_0x16x32"} : tensor<4x2x16x16x2xi8>
// Q8: %[[S:.+]] = llm.param "w" {layout = "q8_0x16x32_scales"} : tensor<4x2x16xf16>
// Q8: llm.linear %{{.+}}, %[[C]] scales(%[[S]] : tensor<4x2x16xf16>) : tensor<?x64xf32>, tensor<4x2x16x16x2xi8> -> tensor<?x64xf32>
// Q8-LABEL: func.func @decode(
// Q8: %[[C2:.+]] = llm.param "w" {layout = "q8_0x16x32"} : tensor<4x2x16x16x2xi8>
// Q8: %[[S2:.+]] = llm.param "w" {layout = "q8_0x16x32_scales"} : tensor<4x2x16xf16>
// Q8: llm.linear %{{.+}}, %[[C2]] scales(%[[S2]] : tensor<4x2x16xf16>) : tensor<1x64xf32>, tensor<4x2x16x16x2xi8> -> tensor<1x64xf32>
// Q4-LABEL: func.func @prefill(
// Q4: %[[C:.+]] = llm.param "w" {layout = "q4_0x16x32"} : tensor<4x2x16x16xi8>
// Q4: %[[S:.+]] = llm.param "w" {layout = "q4_0x16x32_scales"} : tensor<4x2x16xf16>
// Q4: llm.linear %{{.+}}, %[[C]] scales(%[[S]] : tensor<4x2x16xf16>) : tensor<?x64xf32>, tensor<4x2x16x16xi8> -> tensor<?x64xf32>
func.func @prefill(%x: tensor<?x64xf32>) -> tensor<?x64xf32> {
  %w = llm.param "w" : tensor<64x64xf32>
  %y = llm.linear %x, %w : tensor<?x64xf32>, tensor<64x64xf32> -> tensor<?x64xf32>
  return %y : tensor<?x64xf32>
}
func.func @decode(%x: tensor<1x64xf32>) -> tensor<1x64xf32> {
  %w = llm.param "w" : tensor<64x64xf32>
  %y = llm.linear %x, %w : tensor<1x64xf32>, tensor<64x64xf32> -> tensor<1x64xf32>
  return %y : tensor<1x64xf32>
}

// -----

// A tied table (bf16): the embedding lookup reads the same codes and scales.
// Q8-LABEL: func.func @tied(
// Q8: %[[C:.+]] = llm.param "table" {layout = "q8_0x16x32"} : tensor<2x2x16x16x2xi8>
// Q8: %[[S:.+]] = llm.param "table" {layout = "q8_0x16x32_scales"} : tensor<2x2x16xf16>
// Q8: llm.embed %[[C]][%{{.+}}] scales(%[[S]] : tensor<2x2x16xf16>) : tensor<2x2x16x16x2xi8>, tensor<?xi32> -> tensor<?x64xf32>
// Q8: llm.linear %{{.+}}, %[[C]] scales(%[[S]] : tensor<2x2x16xf16>) : tensor<?x64xf32>, tensor<2x2x16x16x2xi8> -> tensor<?x32xf32>
func.func @tied(%tokens: tensor<?xi32>) -> tensor<?x32xf32> {
  %t = llm.param "table" : tensor<32x64xbf16>
  %x = llm.embed %t[%tokens] : tensor<32x64xbf16>, tensor<?xi32> -> tensor<?x64xf32>
  %y = llm.linear %x, %t : tensor<?x64xf32>, tensor<32x64xbf16> -> tensor<?x32xf32>
  return %y : tensor<?x32xf32>
}

// -----

// Not quantized: a 1-D norm weight, a matrix whose rows are not whole
// 32-blocks, and a matrix also read as a projection's input.
// Q8-LABEL: func.func @untouched(
// Q8: llm.param "norm" : tensor<64xf32>
// Q8: llm.param "odd" : tensor<32x48xf32>
// Q8: llm.param "shared" : tensor<64x64xf32>
// Q8-NOT: scales(
func.func @untouched(%x: tensor<?x64xf32>, %z: tensor<?x48xf32>) -> (tensor<?x64xf32>, tensor<?x32xf32>, tensor<64x64xf32>) {
  %n = llm.param "norm" : tensor<64xf32>
  %h = llm.rms_norm %x, %n {epsilon = 1.0e-05 : f64} : tensor<?x64xf32>, tensor<64xf32>
  %o = llm.param "odd" : tensor<32x48xf32>
  %y = llm.linear %z, %o : tensor<?x48xf32>, tensor<32x48xf32> -> tensor<?x32xf32>
  %s = llm.param "shared" : tensor<64x64xf32>
  %p = llm.linear %s, %s : tensor<64x64xf32>, tensor<64x64xf32> -> tensor<64x64xf32>
  return %h, %y, %p : tensor<?x64xf32>, tensor<?x32xf32>, tensor<64x64xf32>
}
