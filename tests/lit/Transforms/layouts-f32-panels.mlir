// llm-choose-layouts + llm-materialize-layouts, f32 weights on an AVX-512
// target: f32 [out, in] weights of whole 64-output panels, read only by
// projections and embedding lookups, become panels64 in every function.
// Anything else is left alone.
// RUN: llamac-opt %s -llm-choose-layouts=dtype=f32 -llm-materialize-layouts -split-input-file | FileCheck %s
// RUN: llamac-opt %s -llm-choose-layouts=dtype=f32 -llm-materialize-layouts -split-input-file | llamac-opt -split-input-file | FileCheck %s
// Without AVX-512 the products stay generic: nothing is chosen.
// RUN: sed -e 's/"avx512f"/"avx2"/' %s | llamac-opt -llm-choose-layouts=dtype=f32 -split-input-file | FileCheck %s --check-prefix=AVX2
// AVX2-NOT: llm.chosen

// CHECK-LABEL: func.func @prefill(
// CHECK: %[[W:.+]] = llm.param "w" {layout = #llm.layout<panels64>} : tensor<2x48x64xf32>
// CHECK: llm.linear %{{.+}}, %[[W]] {weight_layout = #llm.layout<panels64>} : tensor<?x48xf32>, tensor<2x48x64xf32> -> tensor<?x128xf32>
// CHECK-LABEL: func.func @decode(
// CHECK: %[[W2:.+]] = llm.param "w" {layout = #llm.layout<panels64>} : tensor<2x48x64xf32>
// CHECK: llm.linear %{{.+}}, %[[W2]] {weight_layout = #llm.layout<panels64>} : tensor<1x48xf32>, tensor<2x48x64xf32> -> tensor<1x128xf32>
module attributes {llm.target = #llm.target<cpu = "skylake-avx512", triple = "x86_64-unknown-linux-gnu", features = ["avx512f"]>} {
func.func @prefill(%x: tensor<?x48xf32>) -> tensor<?x128xf32> {
  %w = llm.param "w" : tensor<128x48xf32>
  %y = llm.linear %x, %w : tensor<?x48xf32>, tensor<128x48xf32> -> tensor<?x128xf32>
  return %y : tensor<?x128xf32>
}
func.func @decode(%x: tensor<1x48xf32>) -> tensor<1x128xf32> {
  %w = llm.param "w" : tensor<128x48xf32>
  %y = llm.linear %x, %w : tensor<1x48xf32>, tensor<128x48xf32> -> tensor<1x128xf32>
  return %y : tensor<1x128xf32>
}
}

// -----

// A tied table: the embedding lookup reads the same panels.
// CHECK-LABEL: func.func @tied(
// CHECK: %[[T:.+]] = llm.param "table" {layout = #llm.layout<panels64>} : tensor<3x32x64xf32>
// CHECK: llm.embed %[[T]][%{{.+}}] {weight_layout = #llm.layout<panels64>} : tensor<3x32x64xf32>, tensor<?xi32> -> tensor<?x32xf32>
// CHECK: llm.linear %{{.+}}, %[[T]] {weight_layout = #llm.layout<panels64>} : tensor<1x32xf32>, tensor<3x32x64xf32> -> tensor<1x192xf32>
module attributes {llm.target = #llm.target<cpu = "skylake-avx512", triple = "x86_64-unknown-linux-gnu", features = ["avx512f"]>} {
func.func @tied(%tokens: tensor<?xi32>, %h: tensor<1x32xf32>) -> (tensor<?x32xf32>, tensor<1x192xf32>) {
  %t = llm.param "table" : tensor<192x32xf32>
  %x = llm.embed %t[%tokens] : tensor<192x32xf32>, tensor<?xi32> -> tensor<?x32xf32>
  %y = llm.linear %h, %t : tensor<1x32xf32>, tensor<192x32xf32> -> tensor<1x192xf32>
  return %x, %y : tensor<?x32xf32>, tensor<1x192xf32>
}
}

// -----

// Not packed: bf16 weights, a partial panel (96 outputs), norm weights, and
// a weight one of whose functions uses it in a way panels cannot serve.
// CHECK-LABEL: func.func @left_alone(
// CHECK: llm.param "bf16" : tensor<64x64xbf16>
// CHECK: llm.param "partial" : tensor<96x64xf32>
// CHECK: llm.param "norm" : tensor<64xf32>
// CHECK-NOT: layout
module attributes {llm.target = #llm.target<cpu = "skylake-avx512", triple = "x86_64-unknown-linux-gnu", features = ["avx512f"]>} {
func.func @left_alone(%x: tensor<?x64xf32>) -> (tensor<?x64xf32>, tensor<?x96xf32>, tensor<?x64xf32>) {
  %a = llm.param "bf16" : tensor<64x64xbf16>
  %ya = llm.linear %x, %a : tensor<?x64xf32>, tensor<64x64xbf16> -> tensor<?x64xf32>
  %b = llm.param "partial" : tensor<96x64xf32>
  %yb = llm.linear %x, %b : tensor<?x64xf32>, tensor<96x64xf32> -> tensor<?x96xf32>
  %n = llm.param "norm" : tensor<64xf32>
  %yn = llm.rms_norm %x, %n {epsilon = 1.0e-05 : f64} : tensor<?x64xf32>, tensor<64xf32>
  return %ya, %yb, %yn : tensor<?x64xf32>, tensor<?x96xf32>, tensor<?x64xf32>
}
// CHECK-LABEL: func.func @shared_elsewhere(
// CHECK: llm.param "shared" : tensor<64x64xf32>
// CHECK-NOT: layout
func.func @shared_elsewhere(%x: tensor<?x64xf32>) -> tensor<?x64xf32> {
  %w = llm.param "shared" : tensor<64x64xf32>
  %y = llm.linear %x, %w : tensor<?x64xf32>, tensor<64x64xf32> -> tensor<?x64xf32>
  return %y : tensor<?x64xf32>
}
func.func @other_use() -> tensor<64x64xf32> {
  %w = llm.param "shared" : tensor<64x64xf32>
  return %w : tensor<64x64xf32>
}
}

// -----

// A matrix that is also a projection's input stays a plain matrix.
// CHECK-LABEL: func.func @weight_as_input(
// CHECK: llm.param "square" : tensor<64x64xf32>
// CHECK-NOT: layout
module attributes {llm.target = #llm.target<cpu = "skylake-avx512", triple = "x86_64-unknown-linux-gnu", features = ["avx512f"]>} {
func.func @weight_as_input() -> tensor<64x64xf32> {
  %w = llm.param "square" : tensor<64x64xf32>
  %y = llm.linear %w, %w : tensor<64x64xf32>, tensor<64x64xf32> -> tensor<64x64xf32>
  return %y : tensor<64x64xf32>
}
}
