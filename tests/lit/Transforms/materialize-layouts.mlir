// llm-materialize-layouts only applies what llm.chosen_layout and
// llm.chosen_input_type say (here pinned in the input, whatever the target):
// the stored type comes from the layout, a quantized layout adds the
// scales, every user says how it reads the weight.
// RUN: llamac-opt %s -llm-materialize-layouts -split-input-file -verify-diagnostics | FileCheck %s

// CHECK-LABEL: func.func @pinned(
// CHECK: %[[C:.+]] = llm.param "w" {layout = #llm.layout<tiles16x32, q4_0>} : tensor<4x2x16x16xi8>
// CHECK: %[[S:.+]] = llm.param "w" {layout = #llm.layout<tiles16x32, q4_0, scales>} : tensor<4x2x16xf16>
// CHECK: llm.linear %{{.+}}, %[[C]] scales(%[[S]] : tensor<4x2x16xf16>) {input_type = i8, weight_layout = #llm.layout<tiles16x32, q4_0>} : tensor<1x64xf32>, tensor<4x2x16x16xi8> -> tensor<1x64xf32>
// CHECK: llm.embed %[[C]][%{{.+}}] scales(%[[S]] : tensor<4x2x16xf16>) {weight_layout = #llm.layout<tiles16x32, q4_0>} : tensor<4x2x16x16xi8>, tensor<?xi32> -> tensor<?x64xf32>
// CHECK-NOT: llm.chosen
func.func @pinned(%x: tensor<1x64xf32>, %t: tensor<?xi32>) -> (tensor<1x64xf32>, tensor<?x64xf32>) {
  %w = llm.param "w" {llm.chosen_layout = #llm.layout<tiles16x32, q4_0>} : tensor<64x64xf32>
  %y = llm.linear %x, %w {llm.chosen_input_type = i8} : tensor<1x64xf32>, tensor<64x64xf32> -> tensor<1x64xf32>
  %e = llm.embed %w[%t] : tensor<64x64xf32>, tensor<?xi32> -> tensor<?x64xf32>
  return %y, %e : tensor<1x64xf32>, tensor<?x64xf32>
}

// -----

// Panels of an f32 matrix: the stacked parts stay with the weight.
// CHECK-LABEL: func.func @panels(
// CHECK: llm.param "a+b" {layout = #llm.layout<panels64>, parts = ["a", "b"]} : tensor<2x32x64xf32>
// CHECK: llm.linear {{.+}} {weight_layout = #llm.layout<panels64>} : tensor<?x32xf32>, tensor<2x32x64xf32> -> tensor<?x128xf32>
func.func @panels(%x: tensor<?x32xf32>) -> tensor<?x128xf32> {
  %w = llm.param "a+b" {parts = ["a", "b"], llm.chosen_layout = #llm.layout<panels64>} : tensor<128x32xf32>
  %y = llm.linear %x, %w : tensor<?x32xf32>, tensor<128x32xf32> -> tensor<?x128xf32>
  return %y : tensor<?x128xf32>
}

// -----

func.func @does_not_fit(%x: tensor<?x48xf32>) -> tensor<?x64xf32> {
  // expected-error @+1 {{'llm.param' op has llm.chosen_layout #llm.layout<tiles16x32>, which cannot store 'tensor<64x48xbf16>' (a 2-D matrix of whole [out/16, in/32, 16, 16, 2] blocks)}}
  %w = llm.param "w" {llm.chosen_layout = #llm.layout<tiles16x32>} : tensor<64x48xbf16>
  %y = llm.linear %x, %w : tensor<?x48xf32>, tensor<64x48xbf16> -> tensor<?x64xf32>
  return %y : tensor<?x64xf32>
}

// -----

func.func @not_a_matrix_use() -> tensor<64x64xbf16> {
  // expected-error @+1 {{'llm.param' op has llm.chosen_layout #llm.layout<tiles16x32> but is read as something else than a matrix}}
  %w = llm.param "w" {llm.chosen_layout = #llm.layout<tiles16x32>} : tensor<64x64xbf16>
  return %w : tensor<64x64xbf16>
}

// -----

func.func @already_stored() {
  // expected-error @+1 {{'llm.param' op has llm.chosen_layout #llm.layout<tiles16x32> but is already stored as #llm.layout<tiles16x32>}}
  %w = llm.param "w" {layout = #llm.layout<tiles16x32>, llm.chosen_layout = #llm.layout<tiles16x32>} : tensor<4x2x16x16x2xbf16>
  return
}

// -----

func.func @not_a_layout() {
  // expected-error @+1 {{'llm.param' op llm.chosen_layout must be a #llm.layout}}
  %w = llm.param "w" {llm.chosen_layout = "vnni16x32"} : tensor<64x64xbf16>
  return
}
