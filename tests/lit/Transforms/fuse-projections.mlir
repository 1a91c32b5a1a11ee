// llm-fuse-projections: projections of one input by plain weights become
// one projection by the stacked weights (an llm.param with parts, in
// program order) and slices of its columns.
// RUN: llamac-opt %s -llm-fuse-projections -split-input-file | FileCheck %s
// RUN: llamac-opt %s -llm-fuse-projections -split-input-file | llamac-opt -split-input-file | FileCheck %s

// Q, K and V of one input: one [?, 128] product, sliced at 0, 64 and 96.
// CHECK-LABEL: func.func @qkv(
// CHECK-SAME: %[[X:.+]]: tensor<?x64xf32>
// CHECK: %[[W:.+]] = llm.param "q+k+v" {parts = ["q", "k", "v"]} : tensor<128x64xbf16>
// CHECK: %[[Y:.+]] = llm.linear %[[X]], %[[W]] : tensor<?x64xf32>, tensor<128x64xbf16> -> tensor<?x128xf32>
// CHECK: %[[N:.+]] = tensor.dim %[[Y]], %{{.+}} : tensor<?x128xf32>
// CHECK: %[[Q:.+]] = tensor.extract_slice %[[Y]][0, 0] [%[[N]], 64] [1, 1] : tensor<?x128xf32> to tensor<?x64xf32>
// CHECK: %[[K:.+]] = tensor.extract_slice %[[Y]][0, 64] [%[[N]], 32] [1, 1] : tensor<?x128xf32> to tensor<?x32xf32>
// CHECK: %[[V:.+]] = tensor.extract_slice %[[Y]][0, 96] [%[[N]], 32] [1, 1] : tensor<?x128xf32> to tensor<?x32xf32>
// CHECK-NOT: llm.linear
// CHECK: return %[[Q]], %[[K]], %[[V]]
func.func @qkv(%x: tensor<?x64xf32>) -> (tensor<?x64xf32>, tensor<?x32xf32>, tensor<?x32xf32>) {
  %wq = llm.param "q" : tensor<64x64xbf16>
  %wk = llm.param "k" : tensor<32x64xbf16>
  %wv = llm.param "v" : tensor<32x64xbf16>
  %q = llm.linear %x, %wq : tensor<?x64xf32>, tensor<64x64xbf16> -> tensor<?x64xf32>
  %k = llm.linear %x, %wk : tensor<?x64xf32>, tensor<32x64xbf16> -> tensor<?x32xf32>
  %v = llm.linear %x, %wv : tensor<?x64xf32>, tensor<32x64xbf16> -> tensor<?x32xf32>
  return %q, %k, %v : tensor<?x64xf32>, tensor<?x32xf32>, tensor<?x32xf32>
}

// -----

// One row (decode): static sizes.
// CHECK-LABEL: func.func @gate_up(
// CHECK: %[[W:.+]] = llm.param "g+u" {parts = ["g", "u"]} : tensor<256x64xf32>
// CHECK: %[[Y:.+]] = llm.linear %{{.+}}, %[[W]] : tensor<1x64xf32>, tensor<256x64xf32> -> tensor<1x256xf32>
// CHECK: tensor.extract_slice %[[Y]][0, 0] [1, 128] [1, 1] : tensor<1x256xf32> to tensor<1x128xf32>
// CHECK: tensor.extract_slice %[[Y]][0, 128] [1, 128] [1, 1] : tensor<1x256xf32> to tensor<1x128xf32>
func.func @gate_up(%x: tensor<1x64xf32>) -> tensor<1x128xf32> {
  %wg = llm.param "g" : tensor<128x64xf32>
  %wu = llm.param "u" : tensor<128x64xf32>
  %g = llm.linear %x, %wg : tensor<1x64xf32>, tensor<128x64xf32> -> tensor<1x128xf32>
  %u = llm.linear %x, %wu : tensor<1x64xf32>, tensor<128x64xf32> -> tensor<1x128xf32>
  %m = llm.silu_mul %g, %u : tensor<1x128xf32>
  return %m : tensor<1x128xf32>
}

// -----

// Left alone: a lone projection, different inputs, a packed weight, a
// quantized one, input rounding, and a weight of another element type;
// and (last function) products that add to another tensor.
// CHECK-LABEL: func.func @untouched(
// CHECK-NOT: parts
// CHECK-COUNT-2: llm.linear %{{.+}}, %{{.+}} : tensor<?x64xf32>, tensor<32x64xf32>
// CHECK: llm.linear %{{.+}}, %{{.+}} {input_type = bf16}
// CHECK: llm.linear %{{.+}}, %{{.+}} {weight_layout = #llm.layout<tiles16x32>} : tensor<?x64xf32>, tensor<2x2x16x16x2xbf16>
// CHECK: llm.linear %{{.+}}, %{{.+}} scales(
// CHECK: llm.linear %{{.+}}, %{{.+}} : tensor<?x64xf32>, tensor<32x64xbf16>
func.func @untouched(%x: tensor<?x64xf32>, %z: tensor<?x64xf32>) -> (tensor<?x32xf32>, tensor<?x32xf32>, tensor<?x32xf32>, tensor<?x32xf32>, tensor<?x32xf32>, tensor<?x32xf32>) {
  %w1 = llm.param "w1" : tensor<32x64xf32>
  %w2 = llm.param "w2" : tensor<32x64xf32>
  %a = llm.linear %x, %w1 : tensor<?x64xf32>, tensor<32x64xf32> -> tensor<?x32xf32>
  %b = llm.linear %z, %w2 : tensor<?x64xf32>, tensor<32x64xf32> -> tensor<?x32xf32>
  %w3 = llm.param "w3" : tensor<32x64xf32>
  %c = llm.linear %x, %w3 {input_type = bf16} : tensor<?x64xf32>, tensor<32x64xf32> -> tensor<?x32xf32>
  %w4 = llm.param "w4" {layout = #llm.layout<tiles16x32>} : tensor<2x2x16x16x2xbf16>
  %d = llm.linear %x, %w4 {weight_layout = #llm.layout<tiles16x32>} : tensor<?x64xf32>, tensor<2x2x16x16x2xbf16> -> tensor<?x32xf32>
  %w5 = llm.param "w5" {layout = #llm.layout<tiles16x32, q8_0>} : tensor<2x2x16x16x2xi8>
  %s5 = llm.param "w5" {layout = #llm.layout<tiles16x32, q8_0, scales>} : tensor<2x2x16xf16>
  %e = llm.linear %x, %w5 scales(%s5 : tensor<2x2x16xf16>) {weight_layout = #llm.layout<tiles16x32, q8_0>} : tensor<?x64xf32>, tensor<2x2x16x16x2xi8> -> tensor<?x32xf32>
  %w6 = llm.param "w6" : tensor<32x64xbf16>
  %f = llm.linear %z, %w6 : tensor<?x64xf32>, tensor<32x64xbf16> -> tensor<?x32xf32>
  return %a, %b, %c, %d, %e, %f : tensor<?x32xf32>, tensor<?x32xf32>, tensor<?x32xf32>, tensor<?x32xf32>, tensor<?x32xf32>, tensor<?x32xf32>
}

// -----

// CHECK-LABEL: func.func @with_addend(
// CHECK-NOT: parts
// CHECK-COUNT-2: llm.linear %{{.+}}, %{{.+}} add(
func.func @with_addend(%x: tensor<?x64xf32>, %r: tensor<?x32xf32>) -> (tensor<?x32xf32>, tensor<?x32xf32>) {
  %w1 = llm.param "w1" : tensor<32x64xf32>
  %w2 = llm.param "w2" : tensor<32x64xf32>
  %a = llm.linear %x, %w1 add(%r : tensor<?x32xf32>) : tensor<?x64xf32>, tensor<32x64xf32> -> tensor<?x32xf32>
  %b = llm.linear %x, %w2 add(%r : tensor<?x32xf32>) : tensor<?x64xf32>, tensor<32x64xf32> -> tensor<?x32xf32>
  return %a, %b : tensor<?x32xf32>, tensor<?x32xf32>
}
