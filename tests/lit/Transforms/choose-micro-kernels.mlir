// llm-choose-micro-kernels: each product by a stored weight gets the
// micro-kernel its layout and input type call for, with its tuning values,
// when the module's target has its instructions; a pinned choice stays;
// f32 attention with whole 16-lane head vectors gets the fused kernel.
// RUN: llamac-opt %s -llm-choose-micro-kernels -split-input-file | FileCheck %s
// RUN: llamac-opt %s -llm-choose-micro-kernels="amx-unroll=4 gemv-prefetch=0 f32-rows=4 f32-depth=512 f32-prefetch=8" -split-input-file | FileCheck %s --check-prefix=TUNED
// Without the AMX and VNNI instructions those products stay generic.
// RUN: sed -e 's/"amx-bf16", "amx-tile", //; s/, "avx512vnni"//' %s | llamac-opt -llm-choose-micro-kernels -split-input-file | FileCheck %s --check-prefix=PLAIN
// AVX512-BF16 without AMX: products by bf16 (or dequantized) tiles with
// bf16 inputs run on vdpbf16ps.
// RUN: sed -e 's/"amx-bf16", "amx-tile", /"avx512bf16", /' %s | llamac-opt -llm-choose-micro-kernels -split-input-file | FileCheck %s --check-prefix=DOT
// RUN: sed -e 's/"amx-bf16", "amx-tile", /"avx512bf16", /' %s | llamac-opt -llm-choose-micro-kernels="bf16-dot-rows=4 bf16-dot-depth=4" -split-input-file | FileCheck %s --check-prefix=DOT-TUNED
// RUN: not llamac-opt %s -llm-choose-micro-kernels=amx-unroll=0 -split-input-file 2>&1 | FileCheck %s --check-prefix=BAD
// BAD: llm-choose-micro-kernels: amx-unroll, bf16-dot-rows, bf16-dot-depth, f32-rows and f32-depth must be >= 1, f32-prefetch and gemv-prefetch >= 0

// 6 reduction tiles (192 inputs): unroll 6 (the largest divisor up to 8).
// CHECK-LABEL: func.func @tiles(
// CHECK: llm.linear {{.+}}micro_kernel = #llm.micro_kernel<amx_bf16, unroll = 6>
// CHECK: llm.linear {{.+}}micro_kernel = #llm.micro_kernel<vnni_gemv>
// TUNED-LABEL: func.func @tiles(
// TUNED: micro_kernel = #llm.micro_kernel<amx_bf16, unroll = 3>
// PLAIN-LABEL: func.func @tiles(
// PLAIN-NOT: amx_bf16
// PLAIN: micro_kernel = #llm.micro_kernel<vnni_gemv>
// 6 reduction tiles: depth 6 (the largest divisor up to 64), or 3 (up to 4).
// DOT-LABEL: func.func @tiles(
// DOT: micro_kernel = #llm.micro_kernel<avx512_bf16, rows = 6, depth = 6>
// DOT: micro_kernel = #llm.micro_kernel<vnni_gemv>
// DOT-TUNED-LABEL: func.func @tiles(
// DOT-TUNED: micro_kernel = #llm.micro_kernel<avx512_bf16, rows = 4, depth = 3>
module attributes {llm.target = #llm.target<cpu = "sapphirerapids", triple = "x86_64-unknown-linux-gnu", features = ["amx-bf16", "amx-tile", "avx512bw", "avx512f", "avx512vnni"]>} {
func.func @tiles(%x: tensor<?x192xf32>, %v: tensor<1x192xf32>) -> (tensor<?x32xf32>, tensor<1x32xf32>) {
  %w = llm.param "w" {layout = #llm.layout<tiles16x32>} : tensor<2x6x16x16x2xbf16>
  %y = llm.linear %x, %w {input_type = bf16, weight_layout = #llm.layout<tiles16x32>} : tensor<?x192xf32>, tensor<2x6x16x16x2xbf16> -> tensor<?x32xf32>
  %z = llm.linear %v, %w {weight_layout = #llm.layout<tiles16x32>} : tensor<1x192xf32>, tensor<2x6x16x16x2xbf16> -> tensor<1x32xf32>
  return %y, %z : tensor<?x32xf32>, tensor<1x32xf32>
}
}

// -----

// Quantized codes: AMX on dequantized tiles, exact GEMV, integer GEMV.
// CHECK-LABEL: func.func @quantized(
// CHECK: micro_kernel = #llm.micro_kernel<amx_q8_0, unroll = 2>
// CHECK: micro_kernel = #llm.micro_kernel<q8_0_gemv>
// CHECK: micro_kernel = #llm.micro_kernel<q8_0_i8_gemv, prefetch = 16>
// TUNED-LABEL: func.func @quantized(
// TUNED: micro_kernel = #llm.micro_kernel<q8_0_i8_gemv, prefetch = 0>
// DOT-LABEL: func.func @quantized(
// DOT: micro_kernel = #llm.micro_kernel<avx512_bf16_q8_0, rows = 6, depth = 2>
// DOT: micro_kernel = #llm.micro_kernel<q8_0_gemv>
// DOT: micro_kernel = #llm.micro_kernel<q8_0_i8_gemv, prefetch = 16>
// PLAIN-LABEL: func.func @quantized(
// PLAIN-NOT: amx_q8_0
// PLAIN: micro_kernel = #llm.micro_kernel<q8_0_gemv>
// PLAIN-NOT: i8_gemv
module attributes {llm.target = #llm.target<cpu = "sapphirerapids", triple = "x86_64-unknown-linux-gnu", features = ["amx-bf16", "amx-tile", "avx512bw", "avx512f", "avx512vnni"]>} {
func.func @quantized(%x: tensor<?x64xf32>, %v: tensor<1x64xf32>) -> (tensor<?x32xf32>, tensor<1x32xf32>, tensor<1x32xf32>) {
  %c = llm.param "w" {layout = #llm.layout<tiles16x32, q8_0>} : tensor<2x2x16x16x2xi8>
  %s = llm.param "w" {layout = #llm.layout<tiles16x32, q8_0, scales>} : tensor<2x2x16xf16>
  %a = llm.linear %x, %c scales(%s : tensor<2x2x16xf16>) {input_type = bf16, weight_layout = #llm.layout<tiles16x32, q8_0>} : tensor<?x64xf32>, tensor<2x2x16x16x2xi8> -> tensor<?x32xf32>
  %b = llm.linear %v, %c scales(%s : tensor<2x2x16xf16>) {weight_layout = #llm.layout<tiles16x32, q8_0>} : tensor<1x64xf32>, tensor<2x2x16x16x2xi8> -> tensor<1x32xf32>
  %d = llm.linear %v, %c scales(%s : tensor<2x2x16xf16>) {input_type = i8, weight_layout = #llm.layout<tiles16x32, q8_0>} : tensor<1x64xf32>, tensor<2x2x16x16x2xi8> -> tensor<1x32xf32>
  return %a, %b, %d : tensor<?x32xf32>, tensor<1x32xf32>, tensor<1x32xf32>
}
}

// -----

// Panels, a plain matrix (generic), and a pinned choice that stays.
// CHECK-LABEL: func.func @others(
// CHECK: micro_kernel = #llm.micro_kernel<f32_panels, rows = 6, depth = 1024, prefetch = 16>
// CHECK: llm.linear %{{.+}}, %{{.+}} : tensor<?x64xf32>, tensor<64x64xf32> -> tensor<?x64xf32>
// CHECK: micro_kernel = #llm.micro_kernel<f32_panels, rows = 2, depth = 64, prefetch = 0>
// TUNED-LABEL: func.func @others(
// TUNED: micro_kernel = #llm.micro_kernel<f32_panels, rows = 4, depth = 512, prefetch = 8>
module attributes {llm.target = #llm.target<cpu = "sapphirerapids", triple = "x86_64-unknown-linux-gnu", features = ["amx-bf16", "amx-tile", "avx512bw", "avx512f", "avx512vnni"]>} {
func.func @others(%x: tensor<?x64xf32>) -> (tensor<?x64xf32>, tensor<?x64xf32>, tensor<?x64xf32>) {
  %p = llm.param "p" {layout = #llm.layout<panels64>} : tensor<1x64x64xf32>
  %a = llm.linear %x, %p {weight_layout = #llm.layout<panels64>} : tensor<?x64xf32>, tensor<1x64x64xf32> -> tensor<?x64xf32>
  %w = llm.param "w" : tensor<64x64xf32>
  %b = llm.linear %x, %w : tensor<?x64xf32>, tensor<64x64xf32> -> tensor<?x64xf32>
  %c = llm.linear %x, %p {weight_layout = #llm.layout<panels64>, micro_kernel = #llm.micro_kernel<f32_panels, rows = 2, depth = 64, prefetch = 0>} : tensor<?x64xf32>, tensor<1x64x64xf32> -> tensor<?x64xf32>
  return %a, %b, %c : tensor<?x64xf32>, tensor<?x64xf32>, tensor<?x64xf32>
}
}

// -----

// Attention: many queries transpose the keys once, one query reads their
// rows; a head_dim of 24 (not whole 16-lane vectors) stays generic. On
// AVX2 a 16-lane score vector takes two of the 16 registers, so the 4 query
// heads of a group already fill the half kept for scores: one token per
// task.
// CHECK-LABEL: func.func @attention(
// CHECK: llm.attention {{.+}}micro_kernel = #llm.micro_kernel<flash_transposed_keys, rows = 1, lanes = 16>
// CHECK: llm.attention {{.+}}micro_kernel = #llm.micro_kernel<flash_key_rows, lanes = 16>
// CHECK-NOT: micro_kernel
// CHECK: return
module attributes {llm.target = #llm.target<cpu = "x86-64-v3", triple = "x86_64-unknown-linux-gnu", features = ["avx2"]>} {
func.func @attention(%q: tensor<?x4x16xf32>, %k: tensor<?x1x16xf32>, %c: tensor<1x1x?x16xf32>,
                     %q1: tensor<1x4x16xf32>, %k1: tensor<1x1x16xf32>,
                     %q2: tensor<1x4x24xf32>, %k2: tensor<1x1x24xf32>, %c2: tensor<1x1x?x24xf32>, %p: index)
    -> (tensor<?x4x16xf32>, tensor<1x4x16xf32>, tensor<1x4x24xf32>) {
  %o, %kc, %vc = llm.attention %q, %k, %k cache(%c, %c) at %p {layer = 0 : i64, scale = 0.25 : f64}
      : tensor<?x4x16xf32>, tensor<?x1x16xf32>, tensor<1x1x?x16xf32>
  %o1, %kc1, %vc1 = llm.attention %q1, %k1, %k1 cache(%c, %c) at %p {layer = 0 : i64, scale = 0.25 : f64}
      : tensor<1x4x16xf32>, tensor<1x1x16xf32>, tensor<1x1x?x16xf32>
  %o2, %kc2, %vc2 = llm.attention %q2, %k2, %k2 cache(%c2, %c2) at %p {layer = 0 : i64, scale = 0.25 : f64}
      : tensor<1x4x24xf32>, tensor<1x1x24xf32>, tensor<1x1x?x24xf32>
  return %o, %o1, %o2 : tensor<?x4x16xf32>, tensor<1x4x16xf32>, tensor<1x4x24xf32>
}
}

// -----

// AVX-512 keeps 16 score vectors in half its 32 registers: 4 tokens of a
// 4-head group per task, 16 of a single head, and at least one token when
// a group is larger than that.
// CHECK-LABEL: func.func @attention_avx512(
// CHECK: llm.attention {{.+}}micro_kernel = #llm.micro_kernel<flash_transposed_keys, rows = 4, lanes = 16>
// CHECK: llm.attention {{.+}}micro_kernel = #llm.micro_kernel<flash_transposed_keys, rows = 16, lanes = 16>
// CHECK: llm.attention {{.+}}micro_kernel = #llm.micro_kernel<flash_transposed_keys, rows = 1, lanes = 16>
module attributes {llm.target = #llm.target<cpu = "znver4", triple = "x86_64-unknown-linux-gnu", features = ["avx2", "avx512f"]>} {
func.func @attention_avx512(%q: tensor<?x4x16xf32>, %k: tensor<?x1x16xf32>, %c: tensor<1x1x?x16xf32>,
                            %q1: tensor<?x1x16xf32>, %q32: tensor<?x32x16xf32>, %p: index)
    -> (tensor<?x4x16xf32>, tensor<?x1x16xf32>, tensor<?x32x16xf32>) {
  %o, %kc, %vc = llm.attention %q, %k, %k cache(%c, %c) at %p {layer = 0 : i64, scale = 0.25 : f64}
      : tensor<?x4x16xf32>, tensor<?x1x16xf32>, tensor<1x1x?x16xf32>
  %o1, %kc1, %vc1 = llm.attention %q1, %k, %k cache(%c, %c) at %p {layer = 0 : i64, scale = 0.25 : f64}
      : tensor<?x1x16xf32>, tensor<?x1x16xf32>, tensor<1x1x?x16xf32>
  %o2, %kc2, %vc2 = llm.attention %q32, %k, %k cache(%c, %c) at %p {layer = 0 : i64, scale = 0.25 : f64}
      : tensor<?x32x16xf32>, tensor<?x1x16xf32>, tensor<1x1x?x16xf32>
  return %o, %o1, %o2 : tensor<?x4x16xf32>, tensor<?x1x16xf32>, tensor<?x32x16xf32>
}
}
