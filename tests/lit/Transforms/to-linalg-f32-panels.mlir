// llm-to-linalg on panels64 weights: products become one generic over
// [m, nb, ni, k] tagged with their f32_panels micro-kernel; the embedding gather reads the panels.
// RUN: llamac-opt %s -llm-to-linalg -split-input-file | FileCheck %s

// CHECK-DAG: #[[MX:.+]] = affine_map<(d0, d1, d2, d3) -> (d0, d3)>
// CHECK-DAG: #[[MW:.+]] = affine_map<(d0, d1, d2, d3) -> (d1, d3, d2)>
// CHECK-DAG: #[[MY:.+]] = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>
// CHECK-LABEL: func.func @linear_panels(
// CHECK: %[[W:.+]] = llm.param "w" {layout = #llm.layout<panels64>} : tensor<3x48x64xf32>
// CHECK: %[[INIT:.+]] = linalg.fill {{.*}} -> tensor<?x3x64xf32>
// CHECK: %[[Y:.+]] = linalg.generic {indexing_maps = [#[[MX]], #[[MW]], #[[MY]]], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%{{.+}}, %[[W]] : tensor<?x48xf32>, tensor<3x48x64xf32>) outs(%[[INIT]] : tensor<?x3x64xf32>) attrs = {llm.micro_kernel = #llm.micro_kernel<f32_panels, rows = 6, depth = 1024, prefetch = 16>}
// CHECK: arith.mulf
// CHECK: arith.addf
// CHECK: tensor.collapse_shape %[[Y]] {{\[}}[0], [1, 2]] : tensor<?x3x64xf32> into tensor<?x192xf32>
func.func @linear_panels(%x: tensor<?x48xf32>) -> tensor<?x192xf32> {
  %w = llm.param "w" {layout = #llm.layout<panels64>} : tensor<3x48x64xf32>
  %y = llm.linear %x, %w {weight_layout = #llm.layout<panels64>, micro_kernel = #llm.micro_kernel<f32_panels, rows = 6, depth = 1024, prefetch = 16>} : tensor<?x48xf32>, tensor<3x48x64xf32> -> tensor<?x192xf32>
  return %y : tensor<?x192xf32>
}

// -----

// One row (decode): the same op with a static row.
// CHECK-LABEL: func.func @linear_panels_row(
// CHECK: linalg.generic {{.*}} ins(%{{.+}}, %{{.+}} : tensor<1x48xf32>, tensor<3x48x64xf32>) outs(%{{.+}} : tensor<1x3x64xf32>) attrs = {llm.micro_kernel = #llm.micro_kernel<f32_panels, rows = 6, depth = 1024, prefetch = 16>}
func.func @linear_panels_row(%x: tensor<1x48xf32>) -> tensor<1x192xf32> {
  %w = llm.param "w" {layout = #llm.layout<panels64>} : tensor<3x48x64xf32>
  %y = llm.linear %x, %w {weight_layout = #llm.layout<panels64>, micro_kernel = #llm.micro_kernel<f32_panels, rows = 6, depth = 1024, prefetch = 16>} : tensor<1x48xf32>, tensor<3x48x64xf32> -> tensor<1x192xf32>
  return %y : tensor<1x192xf32>
}

// -----

// An embedding table in panels: element [token, column] is panel
// token / 64, input column, lane token % 64.
// CHECK-LABEL: func.func @embed_panels(
// CHECK: linalg.generic
// CHECK:   %[[ROW:.+]] = arith.index_cast
// CHECK:   %[[COL:.+]] = linalg.index 1 : index
// CHECK:   %[[NB:.+]] = arith.divui %[[ROW]], %c64
// CHECK:   %[[NI:.+]] = arith.remui %[[ROW]], %c64
// CHECK:   tensor.extract %{{.+}}[%[[NB]], %[[COL]], %[[NI]]] : tensor<2x32x64xf32>
func.func @embed_panels(%tokens: tensor<?xi32>) -> tensor<?x32xf32> {
  %t = llm.param "t" {layout = #llm.layout<panels64>} : tensor<2x32x64xf32>
  %x = llm.embed %t[%tokens] {weight_layout = #llm.layout<panels64>} : tensor<2x32x64xf32>, tensor<?xi32> -> tensor<?x32xf32>
  return %x : tensor<?x32xf32>
}
