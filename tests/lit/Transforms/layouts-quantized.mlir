// llm-choose-layouts + llm-materialize-layouts, q8_0 / q4_0 weights (on an
// AMX + VNNI target, so that every input precision can be asked for): float
// [out, in] weights of whole 16 x 32 tiles, read only by projections and
// embedding lookups, become codes + scales params of the same name in every
// function, and their users take the scales. Anything else is left alone.
// RUN: llamac-opt %s -llm-choose-layouts="dtype=q8_0 prefill-inputs=f32 decode-inputs=f32" -llm-materialize-layouts -split-input-file | FileCheck %s --check-prefix=Q8
// RUN: llamac-opt %s -llm-choose-layouts="dtype=q4_0 prefill-inputs=f32 decode-inputs=f32" -llm-materialize-layouts -split-input-file | FileCheck %s --check-prefix=Q4
// RUN: llamac-opt %s -llm-choose-layouts="dtype=q4_0 prefill-inputs=f32 decode-inputs=f32" -llm-materialize-layouts -split-input-file | llamac-opt -split-input-file | FileCheck %s --check-prefix=Q4
// RUN: not llamac-opt %s -llm-choose-layouts=dtype=q2_k -split-input-file 2>&1 | FileCheck %s --check-prefix=BAD
// RUN: llamac-opt %s -llm-choose-layouts="dtype=q8_0 prefill-inputs=bf16 decode-inputs=f32" -llm-materialize-layouts -split-input-file | FileCheck %s --check-prefix=AMX
// RUN: not llamac-opt %s -llm-choose-layouts="dtype=q8_0 prefill-inputs=f16" -split-input-file 2>&1 | FileCheck %s --check-prefix=BAD-TYPE
// RUN: llamac-opt %s -llm-choose-layouts="dtype=q4_0 prefill-inputs=bf16 decode-inputs=i8" -llm-materialize-layouts -split-input-file | FileCheck %s --check-prefix=VNNI
// RUN: not llamac-opt %s -llm-choose-layouts="dtype=q8_0 decode-inputs=i4" -split-input-file 2>&1 | FileCheck %s --check-prefix=BAD-VECTOR
// `auto` on this target: bf16 prefill inputs, i8 decode inputs.
// RUN: llamac-opt %s -llm-choose-layouts=dtype=q4_0 -llm-materialize-layouts -split-input-file | FileCheck %s --check-prefix=VNNI
// A request the target cannot serve is one error naming the option.
// RUN: sed -e 's/"amx-bf16", "amx-tile", //' %s | not llamac-opt -llm-choose-layouts="dtype=q8_0 prefill-inputs=bf16" -split-input-file 2>&1 | FileCheck %s --check-prefix=NO-AMX
// RUN: sed -e 's/, "avx512vnni"//' %s | not llamac-opt -llm-choose-layouts="dtype=q8_0 decode-inputs=i8" -split-input-file 2>&1 | FileCheck %s --check-prefix=NO-VNNI
// RUN: not llamac-opt %s -llm-choose-layouts="dtype=bf16 decode-inputs=i8" -split-input-file 2>&1 | FileCheck %s --check-prefix=BF16-I8
// RUN: sed -e 's/^module attributes.*{$/module {/' %s | not llamac-opt -llm-choose-layouts=dtype=q8_0 -split-input-file 2>&1 | FileCheck %s --check-prefix=NO-TARGET

// BAD: for the --dtype option: Cannot find option named 'q2_k'!
// BAD-TYPE: for the --prefill-inputs option: Cannot find option named 'f16'!
// BAD-VECTOR: for the --decode-inputs option: Cannot find option named 'i4'!
// NO-AMX: error: --prefill-inputs=bf16 needs a target CPU with AMX-BF16 or AVX512-BF16 (target 'sapphirerapids' has neither)
// NO-VNNI: error: --decode-inputs=i8 needs a target CPU with AVX512-VNNI (target 'sapphirerapids' has none)
// BF16-I8: error: --decode-inputs=i8 needs --dtype q8_0 or q4_0
// NO-TARGET: error: llm-choose-layouts needs the target the module is compiled for (module attribute llm.target)

// With bf16 prefill inputs, the product with several input rows rounds
// its inputs (prefill, AMX tiles); the one-row product (decode) does not.
// AMX-LABEL: func.func @prefill(
// AMX: llm.linear %{{.+}}, %{{.+}} scales(%{{.+}} : tensor<4x2x16xf16>) {input_type = bf16, weight_layout = #llm.layout<tiles16x32, q8_0>} : tensor<?x64xf32>
// AMX-LABEL: func.func @decode(
// AMX-NOT: input_type
// AMX: return

// With i8 decode inputs as well, the one-row product quantizes its
// inputs (integer dot products); the prefill one keeps bf16.
// VNNI-LABEL: func.func @prefill(
// VNNI: llm.linear {{.+}} {input_type = bf16, weight_layout = #llm.layout<tiles16x32, q4_0>} : tensor<?x64xf32>, tensor<4x2x16x16xi8>
// VNNI-LABEL: func.func @decode(
// VNNI: llm.linear {{.+}} {input_type = i8, weight_layout = #llm.layout<tiles16x32, q4_0>} : tensor<1x64xf32>, tensor<4x2x16x16xi8>

// Q8-LABEL: func.func @prefill(
// Q8: %[[C:.+]] = llm.param "w" {layout = #llm.layout<tiles16x32, q8_0>} : tensor<4x2x16x16x2xi8>
// Q8: %[[S:.+]] = llm.param "w" {layout = #llm.layout<tiles16x32, q8_0, scales>} : tensor<4x2x16xf16>
// Q8: llm.linear %{{.+}}, %[[C]] scales(%[[S]] : tensor<4x2x16xf16>) {weight_layout = #llm.layout<tiles16x32, q8_0>} : tensor<?x64xf32>, tensor<4x2x16x16x2xi8> -> tensor<?x64xf32>
// Q8-LABEL: func.func @decode(
// Q8: %[[C2:.+]] = llm.param "w" {layout = #llm.layout<tiles16x32, q8_0>} : tensor<4x2x16x16x2xi8>
// Q8: %[[S2:.+]] = llm.param "w" {layout = #llm.layout<tiles16x32, q8_0, scales>} : tensor<4x2x16xf16>
// Q8: llm.linear %{{.+}}, %[[C2]] scales(%[[S2]] : tensor<4x2x16xf16>) {weight_layout = #llm.layout<tiles16x32, q8_0>} : tensor<1x64xf32>, tensor<4x2x16x16x2xi8> -> tensor<1x64xf32>
// Q4-LABEL: func.func @prefill(
// Q4: %[[C:.+]] = llm.param "w" {layout = #llm.layout<tiles16x32, q4_0>} : tensor<4x2x16x16xi8>
// Q4: %[[S:.+]] = llm.param "w" {layout = #llm.layout<tiles16x32, q4_0, scales>} : tensor<4x2x16xf16>
// Q4: llm.linear %{{.+}}, %[[C]] scales(%[[S]] : tensor<4x2x16xf16>) {weight_layout = #llm.layout<tiles16x32, q4_0>} : tensor<?x64xf32>, tensor<4x2x16x16xi8> -> tensor<?x64xf32>
module attributes {llm.target = #llm.target<cpu = "sapphirerapids", triple = "x86_64-unknown-linux-gnu", features = ["amx-bf16", "amx-tile", "avx512bw", "avx512f", "avx512vnni"]>} {
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
}

// -----

// A tied table (bf16): the embedding lookup reads the same codes and scales.
// Q8-LABEL: func.func @tied(
// Q8: %[[C:.+]] = llm.param "table" {layout = #llm.layout<tiles16x32, q8_0>} : tensor<2x2x16x16x2xi8>
// Q8: %[[S:.+]] = llm.param "table" {layout = #llm.layout<tiles16x32, q8_0, scales>} : tensor<2x2x16xf16>
// Q8: llm.embed %[[C]][%{{.+}}] scales(%[[S]] : tensor<2x2x16xf16>) {weight_layout = #llm.layout<tiles16x32, q8_0>} : tensor<2x2x16x16x2xi8>, tensor<?xi32> -> tensor<?x64xf32>
// Q8: llm.linear %{{.+}}, %[[C]] scales(%[[S]] : tensor<2x2x16xf16>) {weight_layout = #llm.layout<tiles16x32, q8_0>} : tensor<?x64xf32>, tensor<2x2x16x16x2xi8> -> tensor<?x32xf32>
module attributes {llm.target = #llm.target<cpu = "sapphirerapids", triple = "x86_64-unknown-linux-gnu", features = ["amx-bf16", "amx-tile", "avx512bw", "avx512f", "avx512vnni"]>} {
func.func @tied(%tokens: tensor<?xi32>) -> tensor<?x32xf32> {
  %t = llm.param "table" : tensor<32x64xbf16>
  %x = llm.embed %t[%tokens] : tensor<32x64xbf16>, tensor<?xi32> -> tensor<?x64xf32>
  %y = llm.linear %x, %t : tensor<?x64xf32>, tensor<32x64xbf16> -> tensor<?x32xf32>
  return %y : tensor<?x32xf32>
}
}

// -----

// Not quantized: a 1-D norm weight, a matrix whose rows are not whole
// 32-blocks, and a matrix also read as a projection's input.
// Q8-LABEL: func.func @untouched(
// Q8: llm.param "norm" : tensor<64xf32>
// Q8: llm.param "odd" : tensor<32x48xf32>
// Q8: llm.param "shared" : tensor<64x64xf32>
// Q8-NOT: scales(
module attributes {llm.target = #llm.target<cpu = "sapphirerapids", triple = "x86_64-unknown-linux-gnu", features = ["amx-bf16", "amx-tile", "avx512bw", "avx512f", "avx512vnni"]>} {
func.func @untouched(%x: tensor<?x64xf32>, %z: tensor<?x48xf32>) -> (tensor<?x64xf32>, tensor<?x32xf32>, tensor<64x64xf32>) {
  %n = llm.param "norm" : tensor<64xf32>
  %h = llm.rms_norm %x, %n {epsilon = 1.0e-05 : f64} : tensor<?x64xf32>, tensor<64xf32>
  %o = llm.param "odd" : tensor<32x48xf32>
  %y = llm.linear %z, %o : tensor<?x48xf32>, tensor<32x48xf32> -> tensor<?x32xf32>
  %s = llm.param "shared" : tensor<64x64xf32>
  %p = llm.linear %s, %s : tensor<64x64xf32>, tensor<64x64xf32> -> tensor<64x64xf32>
  return %h, %y, %p : tensor<?x64xf32>, tensor<?x32xf32>, tensor<64x64xf32>
}
}
