// Every llm op parses, verifies and prints back to the same text, in both the
// custom and the generic form.
// RUN: llamac-opt %s | llamac-opt | FileCheck %s
// RUN: llamac-opt %s --mlir-print-op-generic | llamac-opt | FileCheck %s

// CHECK-LABEL: func.func @block
func.func @block(%tokens: tensor<?xi32>, %pos: index,
                 %kc: tensor<2x1x?x64xf32>, %vc: tensor<2x1x?x64xf32>)
    -> (tensor<?x256xf32>, tensor<2x1x?x64xf32>, tensor<2x1x?x64xf32>) {
  // CHECK: %[[E:.+]] = llm.param "model.embed_tokens.weight" : tensor<1024x256xbf16>
  %e = llm.param "model.embed_tokens.weight" : tensor<1024x256xbf16>
  // CHECK: %[[X:.+]] = llm.embed %[[E]][%{{.+}}] : tensor<1024x256xbf16>, tensor<?xi32> -> tensor<?x256xf32>
  %x = llm.embed %e[%tokens] : tensor<1024x256xbf16>, tensor<?xi32> -> tensor<?x256xf32>
  %nw = llm.param "model.layers.0.input_layernorm.weight" : tensor<256xbf16>
  // CHECK: llm.rms_norm %[[X]], %{{.+}} {epsilon = 1.000000e-05 : f64} : tensor<?x256xf32>, tensor<256xbf16>
  %h = llm.rms_norm %x, %nw {epsilon = 1.0e-05 : f64} : tensor<?x256xf32>, tensor<256xbf16>
  %wq = llm.param "model.layers.0.self_attn.q_proj.weight" : tensor<256x256xbf16>
  %wk = llm.param "model.layers.0.self_attn.k_proj.weight" : tensor<64x256xbf16>
  // CHECK: llm.linear %{{.+}}, %{{.+}} : tensor<?x256xf32>, tensor<256x256xbf16> -> tensor<?x256xf32>
  %q = llm.linear %h, %wq : tensor<?x256xf32>, tensor<256x256xbf16> -> tensor<?x256xf32>
  %k = llm.linear %h, %wk : tensor<?x256xf32>, tensor<64x256xbf16> -> tensor<?x64xf32>
  %q3 = tensor.expand_shape %q [[0], [1, 2]] output_shape [%pos, 4, 64] : tensor<?x256xf32> into tensor<?x4x64xf32>
  %k3 = tensor.expand_shape %k [[0], [1, 2]] output_shape [%pos, 1, 64] : tensor<?x64xf32> into tensor<?x1x64xf32>
  // CHECK: llm.rope %{{.+}} at %{{.+}} {scaling = #llm.rope_llama3<factor = 3.200000e+01, low_freq_factor = 1.000000e+00, high_freq_factor = 4.000000e+00, original_max_position_embeddings = 8192>, theta = 5.000000e+05 : f64} : tensor<?x4x64xf32>
  %qr = llm.rope %q3 at %pos {theta = 5.0e+05 : f64,
      scaling = #llm.rope_llama3<factor = 32.0, low_freq_factor = 1.0,
                                 high_freq_factor = 4.0,
                                 original_max_position_embeddings = 8192>}
      : tensor<?x4x64xf32>
  // Without scaling the attribute is absent.
  // CHECK: llm.rope %{{.+}} at %{{.+}} {theta = 1.000000e+04 : f64} : tensor<?x1x64xf32>
  %kr = llm.rope %k3 at %pos {theta = 1.0e+04 : f64} : tensor<?x1x64xf32>
  // CHECK: %{{.+}}, %{{.+}}, %{{.+}} = llm.attention %{{.+}}, %{{.+}}, %{{.+}} cache(%{{.+}}, %{{.+}}) at %{{.+}} {layer = 1 : i64, scale = 1.250000e-01 : f64} : tensor<?x4x64xf32>, tensor<?x1x64xf32>, tensor<2x1x?x64xf32>
  %o, %kc1, %vc1 = llm.attention %qr, %kr, %kr cache(%kc, %vc) at %pos
      {layer = 1 : i64, scale = 0.125 : f64}
      : tensor<?x4x64xf32>, tensor<?x1x64xf32>, tensor<2x1x?x64xf32>
  %o2 = tensor.collapse_shape %o [[0], [1, 2]] : tensor<?x4x64xf32> into tensor<?x256xf32>
  // CHECK: %[[S:.+]] = llm.silu %{{.+}} : tensor<?x256xf32>
  %s = llm.silu %o2 : tensor<?x256xf32>
  // CHECK: %[[M:.+]] = llm.mul %[[S]], %{{.+}} : tensor<?x256xf32>
  %m = llm.mul %s, %h : tensor<?x256xf32>
  // CHECK: llm.add %[[X]], %[[M]] : tensor<?x256xf32>
  %r = llm.add %x, %m : tensor<?x256xf32>
  return %r, %kc1, %vc1 : tensor<?x256xf32>, tensor<2x1x?x64xf32>, tensor<2x1x?x64xf32>
}

// Decode shapes: one token, f16 weights, i64 token ids.
// CHECK-LABEL: func.func @decode_shapes
func.func @decode_shapes(%tokens: tensor<1xi64>) -> tensor<1x8xf32> {
  %e = llm.param "embed" : tensor<16x8xf16>
  // CHECK: llm.embed %{{.+}}[%{{.+}}] : tensor<16x8xf16>, tensor<1xi64> -> tensor<1x8xf32>
  %x = llm.embed %e[%tokens] : tensor<16x8xf16>, tensor<1xi64> -> tensor<1x8xf32>
  // CHECK: llm.linear %{{.+}}, %{{.+}} : tensor<1x8xf32>, tensor<8x8xf32> -> tensor<1x8xf32>
  %w = llm.param "w" : tensor<8x8xf32>
  %y = llm.linear %x, %w : tensor<1x8xf32>, tensor<8x8xf32> -> tensor<1x8xf32>
  return %y : tensor<1x8xf32>
}

// Quantized weights: codes and scales of the same name, read by a
// projection and an embedding lookup; the round trip keeps the scales.
// CHECK-LABEL: func.func @quantized(
// CHECK: %[[C:.+]] = llm.param "w" {layout = #llm.layout<tiles16x32, q8_0>} : tensor<2x2x16x16x2xi8>
// CHECK: %[[S:.+]] = llm.param "w" {layout = #llm.layout<tiles16x32, q8_0, scales>} : tensor<2x2x16xf16>
// CHECK: llm.linear %{{.+}}, %[[C]] scales(%[[S]] : tensor<2x2x16xf16>) {weight_layout = #llm.layout<tiles16x32, q8_0>} : tensor<?x64xf32>, tensor<2x2x16x16x2xi8> -> tensor<?x32xf32>
// CHECK: llm.embed %[[C]][%{{.+}}] scales(%[[S]] : tensor<2x2x16xf16>) {weight_layout = #llm.layout<tiles16x32, q8_0>} : tensor<2x2x16x16x2xi8>, tensor<?xi32> -> tensor<?x64xf32>
// CHECK: llm.param "v" {layout = #llm.layout<tiles16x32, q4_0>} : tensor<2x2x16x16xi8>
// CHECK: llm.linear %{{.+}}, %{{.+}} scales(%{{.+}} : tensor<2x2x16xf16>) {input_type = bf16, micro_kernel = #llm.micro_kernel<amx_q4_0, unroll = 2>, weight_layout = #llm.layout<tiles16x32, q4_0>} : tensor<?x64xf32>, tensor<2x2x16x16xi8> -> tensor<?x32xf32>
func.func @quantized(%x: tensor<?x64xf32>, %t: tensor<?xi32>) -> (tensor<?x32xf32>, tensor<?x64xf32>, tensor<?x32xf32>) {
  %c = llm.param "w" {layout = #llm.layout<tiles16x32, q8_0>} : tensor<2x2x16x16x2xi8>
  %s = llm.param "w" {layout = #llm.layout<tiles16x32, q8_0, scales>} : tensor<2x2x16xf16>
  %y = llm.linear %x, %c scales(%s : tensor<2x2x16xf16>) {weight_layout = #llm.layout<tiles16x32, q8_0>} : tensor<?x64xf32>, tensor<2x2x16x16x2xi8> -> tensor<?x32xf32>
  %e = llm.embed %c[%t] scales(%s : tensor<2x2x16xf16>) {weight_layout = #llm.layout<tiles16x32, q8_0>} : tensor<2x2x16x16x2xi8>, tensor<?xi32> -> tensor<?x64xf32>
  %c4 = llm.param "v" {layout = #llm.layout<tiles16x32, q4_0>} : tensor<2x2x16x16xi8>
  %s4 = llm.param "v" {layout = #llm.layout<tiles16x32, q4_0, scales>} : tensor<2x2x16xf16>
  %z = llm.linear %x, %c4 scales(%s4 : tensor<2x2x16xf16>) {input_type = bf16, weight_layout = #llm.layout<tiles16x32, q4_0>, micro_kernel = #llm.micro_kernel<amx_q4_0, unroll = 2>} : tensor<?x64xf32>, tensor<2x2x16x16xi8> -> tensor<?x32xf32>
  return %y, %e, %z : tensor<?x32xf32>, tensor<?x64xf32>, tensor<?x32xf32>
}

// Tiles and panels, a micro-kernel with its tuning, and the module's target.
// CHECK: module attributes {llm.target = #llm.target<cpu = "sapphirerapids", triple = "x86_64-pc-linux-gnu", features = ["amx-bf16", "amx-tile"]>}
// CHECK-LABEL: func.func @layouts(
// CHECK: llm.param "t" {layout = #llm.layout<tiles16x32>} : tensor<4x2x16x16x2xbf16>
// CHECK: llm.linear %{{.+}}, %{{.+}} {micro_kernel = #llm.micro_kernel<vnni_gemv>, weight_layout = #llm.layout<tiles16x32>} : tensor<1x64xf32>, tensor<4x2x16x16x2xbf16> -> tensor<1x64xf32>
// CHECK: llm.param "p" {layout = #llm.layout<panels64>} : tensor<1x64x64xf32>
// CHECK: llm.linear %{{.+}}, %{{.+}} {micro_kernel = #llm.micro_kernel<f32_panels, rows = 6, depth = 1024, prefetch = 16>, weight_layout = #llm.layout<panels64>} : tensor<1x64xf32>, tensor<1x64x64xf32> -> tensor<1x64xf32>
module attributes {llm.target = #llm.target<cpu = "sapphirerapids", triple = "x86_64-pc-linux-gnu", features = ["amx-bf16", "amx-tile"]>} {
func.func @layouts(%x: tensor<1x64xf32>) -> (tensor<1x64xf32>, tensor<1x64xf32>) {
  %t = llm.param "t" {layout = #llm.layout<tiles16x32>} : tensor<4x2x16x16x2xbf16>
  %y = llm.linear %x, %t {weight_layout = #llm.layout<tiles16x32>, micro_kernel = #llm.micro_kernel<vnni_gemv>} : tensor<1x64xf32>, tensor<4x2x16x16x2xbf16> -> tensor<1x64xf32>
  %p = llm.param "p" {layout = #llm.layout<panels64>} : tensor<1x64x64xf32>
  %z = llm.linear %x, %p {weight_layout = #llm.layout<panels64>, micro_kernel = #llm.micro_kernel<f32_panels, prefetch = 16, rows = 6, depth = 1024>} : tensor<1x64xf32>, tensor<1x64x64xf32> -> tensor<1x64xf32>
  return %y, %z : tensor<1x64xf32>, tensor<1x64xf32>
}
}

// Fused attention over a history, on tensors and on buffers.
// CHECK-LABEL: func.func @flash(
// CHECK: llm.flash_attention %{{.+}}, %{{.+}}, %{{.+}} at %{{.+}} into %{{.+}} {micro_kernel = #llm.micro_kernel<flash_transposed_keys, rows = 4, lanes = 16>, scale = 1.250000e-01 : f64} : tensor<?x4x32xf32>, tensor<2x?x32xf32>, tensor<2x?x32xf32>, tensor<?x4x32xf32> -> tensor<?x4x32xf32>
// CHECK: llm.flash_attention %{{.+}}, %{{.+}}, %{{.+}} at %{{.+}} into %{{.+}} {micro_kernel = #llm.micro_kernel<flash_key_rows, lanes = 16>, scale = 1.250000e-01 : f64} : memref<1x4x32xf32>, memref<2x?x32xf32>, memref<2x?x32xf32>, memref<1x4x32xf32>{{$}}
func.func @flash(%q: tensor<?x4x32xf32>, %k: tensor<2x?x32xf32>, %v: tensor<2x?x32xf32>, %o: tensor<?x4x32xf32>, %pos: index,
                 %qb: memref<1x4x32xf32>, %kb: memref<2x?x32xf32>, %vb: memref<2x?x32xf32>, %ob: memref<1x4x32xf32>) -> tensor<?x4x32xf32> {
  %r = llm.flash_attention %q, %k, %v at %pos into %o {scale = 0.125 : f64, micro_kernel = #llm.micro_kernel<flash_transposed_keys, rows = 4, lanes = 16>} : tensor<?x4x32xf32>, tensor<2x?x32xf32>, tensor<2x?x32xf32>, tensor<?x4x32xf32> -> tensor<?x4x32xf32>
  llm.flash_attention %qb, %kb, %vb at %pos into %ob {scale = 0.125 : f64, micro_kernel = #llm.micro_kernel<flash_key_rows, lanes = 16>} : memref<1x4x32xf32>, memref<2x?x32xf32>, memref<2x?x32xf32>, memref<1x4x32xf32>
  return %r : tensor<?x4x32xf32>
}
