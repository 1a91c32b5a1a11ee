// llm-choose-layouts + llm-materialize-layouts, bf16 weights on an AMX-BF16
// target: bf16 [out, in] weights of whole 16 x 32 tiles, read only by
// projections and embedding lookups, become tiles16x32 in every function;
// projections of more than one input row round their inputs to bf16.
// Anything else is left alone.
// RUN: llamac-opt %s -llm-choose-layouts=dtype=bf16 -llm-materialize-layouts -split-input-file | FileCheck %s
// RUN: llamac-opt %s -llm-choose-layouts=dtype=bf16 -llm-materialize-layouts -split-input-file | llamac-opt -split-input-file | FileCheck %s
// The strategy alone records its choices; the mechanism applies them.
// RUN: llamac-opt %s -llm-choose-layouts=dtype=bf16 -split-input-file | FileCheck %s --check-prefix=CHOSEN
// CHOSEN-LABEL: func.func @prefill(
// CHOSEN: llm.param "w" {llm.chosen_layout = #llm.layout<tiles16x32>} : tensor<64x64xbf16>
// CHOSEN: llm.linear %{{.+}}, %{{.+}} {llm.chosen_input_type = bf16} : tensor<?x64xf32>, tensor<64x64xbf16> -> tensor<?x64xf32>
// CHOSEN-LABEL: func.func @decode(
// CHOSEN-NOT: llm.chosen_input_type
// CHOSEN: return
// --prefill-inputs=f32 keeps the checkpoint's rows (tiles exist for AMX).
// RUN: llamac-opt %s -llm-choose-layouts="dtype=bf16 prefill-inputs=f32" -split-input-file | FileCheck %s --check-prefix=EXACT
// EXACT-NOT: llm.chosen

// CHECK-LABEL: func.func @prefill(
// CHECK: %[[W:.+]] = llm.param "w" {layout = #llm.layout<tiles16x32>} : tensor<4x2x16x16x2xbf16>
// CHECK: llm.linear %{{.+}}, %[[W]] {input_type = bf16, weight_layout = #llm.layout<tiles16x32>} : tensor<?x64xf32>, tensor<4x2x16x16x2xbf16> -> tensor<?x64xf32>
// CHECK-LABEL: func.func @decode(
// CHECK: %[[W2:.+]] = llm.param "w" {layout = #llm.layout<tiles16x32>} : tensor<4x2x16x16x2xbf16>
// CHECK: llm.linear %{{.+}}, %[[W2]] {weight_layout = #llm.layout<tiles16x32>} : tensor<1x64xf32>, tensor<4x2x16x16x2xbf16> -> tensor<1x64xf32>
module attributes {llm.target = #llm.target<cpu = "sapphirerapids", triple = "x86_64-unknown-linux-gnu", features = ["amx-bf16", "amx-tile", "avx512bw", "avx512f", "avx512vnni"]>} {
func.func @prefill(%x: tensor<?x64xf32>) -> tensor<?x64xf32> {
  %w = llm.param "w" : tensor<64x64xbf16>
  %y = llm.linear %x, %w : tensor<?x64xf32>, tensor<64x64xbf16> -> tensor<?x64xf32>
  return %y : tensor<?x64xf32>
}
func.func @decode(%x: tensor<1x64xf32>) -> tensor<1x64xf32> {
  %w = llm.param "w" : tensor<64x64xbf16>
  %y = llm.linear %x, %w : tensor<1x64xf32>, tensor<64x64xbf16> -> tensor<1x64xf32>
  return %y : tensor<1x64xf32>
}
}

// -----

// A tied table: the embedding lookup reads the same tiles.
// CHECK-LABEL: func.func @tied(
// CHECK: %[[T:.+]] = llm.param "table" {layout = #llm.layout<tiles16x32>} : tensor<2x2x16x16x2xbf16>
// CHECK: llm.embed %[[T]][%{{.+}}] {weight_layout = #llm.layout<tiles16x32>} : tensor<2x2x16x16x2xbf16>, tensor<?xi32> -> tensor<?x64xf32>
// CHECK: llm.linear %{{.+}}, %[[T]] {input_type = bf16, weight_layout = #llm.layout<tiles16x32>} : tensor<?x64xf32>, tensor<2x2x16x16x2xbf16> -> tensor<?x32xf32>
module attributes {llm.target = #llm.target<cpu = "sapphirerapids", triple = "x86_64-unknown-linux-gnu", features = ["amx-bf16", "amx-tile", "avx512bw", "avx512f", "avx512vnni"]>} {
func.func @tied(%tokens: tensor<?xi32>) -> tensor<?x32xf32> {
  %t = llm.param "table" : tensor<32x64xbf16>
  %x = llm.embed %t[%tokens] : tensor<32x64xbf16>, tensor<?xi32> -> tensor<?x64xf32>
  %y = llm.linear %x, %t : tensor<?x64xf32>, tensor<32x64xbf16> -> tensor<?x32xf32>
  return %y : tensor<?x32xf32>
}
}

// -----

// Not packed: f32 weights, partial tiles (48 inputs), norm weights, and a
// weight one of whose functions uses it in a way tiles cannot serve.
// CHECK-LABEL: func.func @left_alone(
// CHECK: llm.param "f32" : tensor<64x64xf32>
// CHECK: llm.param "partial" : tensor<64x48xbf16>
// CHECK: llm.param "norm" : tensor<64xbf16>
// CHECK-NOT: layout
// CHECK-NOT: input_type
module attributes {llm.target = #llm.target<cpu = "sapphirerapids", triple = "x86_64-unknown-linux-gnu", features = ["amx-bf16", "amx-tile", "avx512bw", "avx512f", "avx512vnni"]>} {
func.func @left_alone(%x: tensor<?x64xf32>, %z: tensor<?x48xf32>) -> (tensor<?x64xf32>, tensor<?x64xf32>, tensor<?x64xf32>) {
  %a = llm.param "f32" : tensor<64x64xf32>
  %ya = llm.linear %x, %a : tensor<?x64xf32>, tensor<64x64xf32> -> tensor<?x64xf32>
  %b = llm.param "partial" : tensor<64x48xbf16>
  %yb = llm.linear %z, %b : tensor<?x48xf32>, tensor<64x48xbf16> -> tensor<?x64xf32>
  %n = llm.param "norm" : tensor<64xbf16>
  %yn = llm.rms_norm %x, %n {epsilon = 1.0e-05 : f64} : tensor<?x64xf32>, tensor<64xbf16>
  return %ya, %yb, %yn : tensor<?x64xf32>, tensor<?x64xf32>, tensor<?x64xf32>
}
// CHECK-LABEL: func.func @shared_elsewhere(
// CHECK: llm.param "shared" : tensor<64x64xbf16>
// CHECK-NOT: layout
func.func @shared_elsewhere(%x: tensor<?x64xf32>) -> tensor<?x64xf32> {
  %w = llm.param "shared" : tensor<64x64xbf16>
  %y = llm.linear %x, %w : tensor<?x64xf32>, tensor<64x64xbf16> -> tensor<?x64xf32>
  return %y : tensor<?x64xf32>
}
func.func @other_use() -> tensor<64x64xbf16> {
  %w = llm.param "shared" : tensor<64x64xbf16>
  return %w : tensor<64x64xbf16>
}
}

// -----

// A matrix that is also a projection's input stays a plain matrix.
// CHECK-LABEL: func.func @weight_as_input(
// CHECK: llm.param "square" : tensor<64x64xbf16>
// CHECK-NOT: layout
module attributes {llm.target = #llm.target<cpu = "sapphirerapids", triple = "x86_64-unknown-linux-gnu", features = ["amx-bf16", "amx-tile", "avx512bw", "avx512f", "avx512vnni"]>} {
func.func @weight_as_input() -> tensor<64x64xbf16> {
  %w = llm.param "square" : tensor<64x64xbf16>
  %y = llm.linear %w, %w : tensor<64x64xbf16>, tensor<64x64xbf16> -> tensor<64x64xbf16>
  return %y : tensor<64x64xbf16>
}
}
