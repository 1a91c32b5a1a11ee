// llm-pack-weights: bf16 [out, in] weights of whole 16 x 32 tiles, read only
// by projections and embedding lookups, become vnni16x32 tiles in every
// function; projections of more than one input row round their inputs to
// bf16. Anything else is left alone.
// RUN: llamac-opt %s -llm-pack-weights -split-input-file | FileCheck %s
// RUN: llamac-opt %s -llm-pack-weights -split-input-file | llamac-opt -split-input-file | FileCheck %s

// CHECK-LABEL: func.func @prefill(
// CHECK: %[[W:.+]] = llm.param "w" {layout = "vnni16x32"} : tensor<4x2x16x16x2xbf16>
// CHECK: llm.linear %{{.+}}, %[[W]] {input_type = bf16} : tensor<?x64xf32>, tensor<4x2x16x16x2xbf16> -> tensor<?x64xf32>
// CHECK-LABEL: func.func @decode(
// CHECK: %[[W2:.+]] = llm.param "w" {layout = "vnni16x32"} : tensor<4x2x16x16x2xbf16>
// CHECK: llm.linear %{{.+}}, %[[W2]] : tensor<1x64xf32>, tensor<4x2x16x16x2xbf16> -> tensor<1x64xf32>
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

// -----

// A tied table: the embedding lookup reads the same tiles.
// CHECK-LABEL: func.func @tied(
// CHECK: %[[T:.+]] = llm.param "table" {layout = "vnni16x32"} : tensor<2x2x16x16x2xbf16>
// CHECK: llm.embed %[[T]][%{{.+}}] : tensor<2x2x16x16x2xbf16>, tensor<?xi32> -> tensor<?x64xf32>
// CHECK: llm.linear %{{.+}}, %[[T]] {input_type = bf16} : tensor<?x64xf32>, tensor<2x2x16x16x2xbf16> -> tensor<?x32xf32>
func.func @tied(%tokens: tensor<?xi32>) -> tensor<?x32xf32> {
  %t = llm.param "table" : tensor<32x64xbf16>
  %x = llm.embed %t[%tokens] : tensor<32x64xbf16>, tensor<?xi32> -> tensor<?x64xf32>
  %y = llm.linear %x, %t : tensor<?x64xf32>, tensor<32x64xbf16> -> tensor<?x32xf32>
  return %y : tensor<?x32xf32>
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

// -----

// A matrix that is also a projection's input stays a plain matrix.
// CHECK-LABEL: func.func @weight_as_input(
// CHECK: llm.param "square" : tensor<64x64xbf16>
// CHECK-NOT: layout
func.func @weight_as_input() -> tensor<64x64xbf16> {
  %w = llm.param "square" : tensor<64x64xbf16>
  %y = llm.linear %w, %w : tensor<64x64xbf16>, tensor<64x64xbf16> -> tensor<64x64xbf16>
  return %y : tensor<64x64xbf16>
}
