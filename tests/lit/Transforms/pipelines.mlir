// The named pipelines on a tiny two-layer graph (hidden 16, 2 query heads on
// 1 KV head of dim 8, MLP 32, vocab 256; one MLP block to keep it short).
//
// The lowering stages after the strategy (llm-compile-pipeline without
// llm-strategy-pipeline, whose choices this graph does not need) leave only
// the llvm dialect: the C entry point, no
// libm calls (polynomial math), no memref copy library, and the LM head (the
// only op with enough work) outlined as a task handed to ctx->parallel_for.
// RUN: llamac-opt %s --pass-pipeline='builtin.module(llm-to-linalg-pipeline,llm-bufferize-pipeline,llm-lower-to-llvm-pipeline)' | FileCheck %s
// RUN: llamac-opt %s --pass-pipeline='builtin.module(llm-to-linalg-pipeline,llm-bufferize-pipeline,llm-lower-to-llvm-pipeline)' | FileCheck %s --check-prefix=NOT
//
// The stages one by one: llm-to-linalg-pipeline gives linalg on tensors with
// the entry ABI and task loops; llm-bufferize-pipeline then gives memrefs
// everywhere, nothing returned from the entry, and no scf.forall left.
// RUN: llamac-opt %s --pass-pipeline='builtin.module(llm-to-linalg-pipeline)' | FileCheck %s --check-prefix=LINALG
// RUN: llamac-opt %s --pass-pipeline='builtin.module(llm-to-linalg-pipeline)' \
// RUN:   | llamac-opt --pass-pipeline='builtin.module(llm-bufferize-pipeline)' | FileCheck %s --check-prefix=BUF
// RUN: llamac-opt %s --pass-pipeline='builtin.module(llm-to-linalg-pipeline)' \
// RUN:   | llamac-opt --pass-pipeline='builtin.module(llm-bufferize-pipeline)' | FileCheck %s --check-prefix=BUF-SIG

// 16 weights: the 8 KiB embedding at 0, then one 4 KiB-aligned slot each; the
// final norm (32 bytes) at 65536.
// CHECK-LABEL: module attributes
// CHECK-SAME: {name = "norm", offset = 65536 : i64, type = tensor<16xbf16>}]
// CHECK-SAME: llm.weights_size = 65568 : i64
// Kernels come first; the LM head's task loop calls the runtime hook.
// CHECK-LABEL: llvm.func @attention(
// CHECK-LABEL: llvm.func @linear_5(
// CHECK: llvm.mlir.addressof @linear_5_task : !llvm.ptr
// CHECK: llvm.call %{{.+}}(%{{.+}}, %{{.+}}, %{{.+}}, %{{.+}}) : !llvm.ptr, (!llvm.ptr, !llvm.ptr, !llvm.ptr, i64) -> ()
// CHECK-LABEL: llvm.func @linear_5_task(
// CHECK-SAME: %{{.+}}: !llvm.ptr, %{{.+}}: i64) attributes {llm.task
// The two layers share one attention kernel.
// CHECK-LABEL: llvm.func @prefill(
// CHECK-COUNT-2: llvm.call @attention(
// CHECK: llvm.call @linear_5(
// The C entry point has KernelABI.h's llamac_entry_fn signature.
// CHECK-LABEL: llvm.func @_mlir_ciface_prefill(
// CHECK-SAME: %{{.+}}: !llvm.ptr, %{{.+}}: i64, %{{.+}}: !llvm.ptr, %{{.+}}: !llvm.ptr, %{{.+}}: !llvm.ptr {llm.name = "logits"}, %{{.+}}: !llvm.ptr {llm.name = "weights"}, %{{.+}}: !llvm.ptr {llm.name = "ctx"}) attributes {llvm.emit_c_interface} {
// CHECK: llvm.call @prefill(

// NOT-NOT: linalg.
// NOT-NOT: memref.
// NOT-NOT: scf.
// NOT-NOT: affine.
// NOT-NOT: math.
// NOT-NOT: arith.
// NOT-NOT: tensor.
// NOT-NOT: bufferization.
// NOT-NOT: builtin.unrealized_conversion_cast
// NOT-NOT: func.func
// NOT-NOT: = llm.
// NOT-NOT: @expf
// NOT-NOT: @sinf
// NOT-NOT: @cosf
// NOT-NOT: @tanhf
// NOT-NOT: memrefCopy

// LINALG-LABEL: func.func private @attention(
// LINALG-SAME: attributes {llm.kernel}
// LINALG: math.exp
// LINALG-LABEL: func.func private @linear_5(
// LINALG-SAME: %{{.+}}: tensor<?x16xf32>, %{{.+}}: tensor<256x16xbf16>) -> tensor<?x256xf32> attributes {llm.kernel}
// LINALG: scf.forall (%{{.+}}) = (0) to (256) step (8)
// LINALG: linalg.matmul_transpose_b ins
// LINALG-NOT: llm.task_tiles
// LINALG: return
// LINALG-LABEL: func.func @prefill(
// LINALG-SAME: %{{.+}}: tensor<?x256xf32> {llm.name = "logits"}, %[[WEIGHTS:.+]]: memref<?xi8> {llm.name = "weights"})
// LINALG-SAME: attributes {llvm.emit_c_interface}
// LINALG-NOT: = llm.
// LINALG: memref.view %[[WEIGHTS]]
// LINALG-NOT: = llm.
// LINALG: bufferization.materialize_in_destination
// LINALG-NOT: = llm.

// BUF-LABEL: func.func private @linear_5(
// BUF-SAME: %{{.+}}: memref<?x16xf32, {{.+}}>, %{{.+}}: memref<256x16xbf16, {{.+}}>, %{{.+}}: !llvm.ptr {llm.name = "ctx"}) -> memref<?x256xf32>
// BUF: llvm.call
// BUF-LABEL: func.func private @linear_5_task(
// BUF-SAME: %{{.+}}: !llvm.ptr, %{{.+}}: i64) attributes {llm.task}
// BUF: linalg.matmul_transpose_b ins(%{{.+}}, %{{.+}} : memref<
// BUF-LABEL: func.func @prefill(
// BUF-SAME: %{{.+}}: memref<?xi32, {{.+}}>, %{{.+}}: index, %{{.+}}: memref<2x1x?x8xf32, {{.+}}>, %{{.+}}: memref<2x1x?x8xf32, {{.+}}>, %{{.+}}: memref<?x256xf32, {{.+}}> {llm.name = "logits"}, %{{.+}}: memref<?xi8> {llm.name = "weights"}, %{{.+}}: !llvm.ptr {llm.name = "ctx"}) attributes {llvm.emit_c_interface} {

// BUF-SIG-NOT: {{func\.func.*tensor<}}
// BUF-SIG-NOT: scf.forall
// BUF-SIG-NOT: bufferization.to_tensor
func.func @prefill(%tokens: tensor<?xi32>, %pos: index,
                   %kc: tensor<2x1x?x8xf32>, %vc: tensor<2x1x?x8xf32>)
    -> (tensor<?x256xf32>, tensor<2x1x?x8xf32>, tensor<2x1x?x8xf32>) {
  %c0 = arith.constant 0 : index
  %n = tensor.dim %tokens, %c0 : tensor<?xi32>
  %emb = llm.param "embed" : tensor<256x16xbf16>
  %x0 = llm.embed %emb[%tokens] : tensor<256x16xbf16>, tensor<?xi32> -> tensor<?x16xf32>
  // Layer 0: attention block.
  %n0 = llm.param "layers.0.norm" : tensor<16xbf16>
  %h0 = llm.rms_norm %x0, %n0 {epsilon = 1.0e-05 : f64} : tensor<?x16xf32>, tensor<16xbf16>
  %wq0 = llm.param "layers.0.q" : tensor<16x16xbf16>
  %q0 = llm.linear %h0, %wq0 : tensor<?x16xf32>, tensor<16x16xbf16> -> tensor<?x16xf32>
  %wk0 = llm.param "layers.0.k" : tensor<8x16xbf16>
  %k0 = llm.linear %h0, %wk0 : tensor<?x16xf32>, tensor<8x16xbf16> -> tensor<?x8xf32>
  %wv0 = llm.param "layers.0.v" : tensor<8x16xbf16>
  %v0 = llm.linear %h0, %wv0 : tensor<?x16xf32>, tensor<8x16xbf16> -> tensor<?x8xf32>
  %q30 = tensor.expand_shape %q0 [[0], [1, 2]] output_shape [%n, 2, 8] : tensor<?x16xf32> into tensor<?x2x8xf32>
  %k30 = tensor.expand_shape %k0 [[0], [1, 2]] output_shape [%n, 1, 8] : tensor<?x8xf32> into tensor<?x1x8xf32>
  %v30 = tensor.expand_shape %v0 [[0], [1, 2]] output_shape [%n, 1, 8] : tensor<?x8xf32> into tensor<?x1x8xf32>
  %qr0 = llm.rope %q30 at %pos {theta = 1.0e+04 : f64} : tensor<?x2x8xf32>
  %kr0 = llm.rope %k30 at %pos {theta = 1.0e+04 : f64} : tensor<?x1x8xf32>
  %o0, %kc0, %vc0 = llm.attention %qr0, %kr0, %v30 cache(%kc, %vc) at %pos
      {layer = 0 : i64, scale = 0.35355339059327373 : f64}
      : tensor<?x2x8xf32>, tensor<?x1x8xf32>, tensor<2x1x?x8xf32>
  %oc0 = tensor.collapse_shape %o0 [[0], [1, 2]] : tensor<?x2x8xf32> into tensor<?x16xf32>
  %wo0 = llm.param "layers.0.o" : tensor<16x16xbf16>
  %p0 = llm.linear %oc0, %wo0 : tensor<?x16xf32>, tensor<16x16xbf16> -> tensor<?x16xf32>
  %x1 = llm.add %x0, %p0 : tensor<?x16xf32>
  // Layer 0: MLP block.
  %m0 = llm.param "layers.0.mlp_norm" : tensor<16xbf16>
  %g0in = llm.rms_norm %x1, %m0 {epsilon = 1.0e-05 : f64} : tensor<?x16xf32>, tensor<16xbf16>
  %wg0 = llm.param "layers.0.gate" : tensor<32x16xbf16>
  %g0 = llm.linear %g0in, %wg0 : tensor<?x16xf32>, tensor<32x16xbf16> -> tensor<?x32xf32>
  %wu0 = llm.param "layers.0.up" : tensor<32x16xbf16>
  %u0 = llm.linear %g0in, %wu0 : tensor<?x16xf32>, tensor<32x16xbf16> -> tensor<?x32xf32>
  %s0 = llm.silu %g0 : tensor<?x32xf32>
  %gu0 = llm.mul %s0, %u0 : tensor<?x32xf32>
  %wd0 = llm.param "layers.0.down" : tensor<16x32xbf16>
  %d0 = llm.linear %gu0, %wd0 : tensor<?x32xf32>, tensor<16x32xbf16> -> tensor<?x16xf32>
  %x2 = llm.add %x1, %d0 : tensor<?x16xf32>
  // Layer 1: attention block only.
  %n1 = llm.param "layers.1.norm" : tensor<16xbf16>
  %h1 = llm.rms_norm %x2, %n1 {epsilon = 1.0e-05 : f64} : tensor<?x16xf32>, tensor<16xbf16>
  %wq1 = llm.param "layers.1.q" : tensor<16x16xbf16>
  %q1 = llm.linear %h1, %wq1 : tensor<?x16xf32>, tensor<16x16xbf16> -> tensor<?x16xf32>
  %wk1 = llm.param "layers.1.k" : tensor<8x16xbf16>
  %k1 = llm.linear %h1, %wk1 : tensor<?x16xf32>, tensor<8x16xbf16> -> tensor<?x8xf32>
  %wv1 = llm.param "layers.1.v" : tensor<8x16xbf16>
  %v1 = llm.linear %h1, %wv1 : tensor<?x16xf32>, tensor<8x16xbf16> -> tensor<?x8xf32>
  %q31 = tensor.expand_shape %q1 [[0], [1, 2]] output_shape [%n, 2, 8] : tensor<?x16xf32> into tensor<?x2x8xf32>
  %k31 = tensor.expand_shape %k1 [[0], [1, 2]] output_shape [%n, 1, 8] : tensor<?x8xf32> into tensor<?x1x8xf32>
  %v31 = tensor.expand_shape %v1 [[0], [1, 2]] output_shape [%n, 1, 8] : tensor<?x8xf32> into tensor<?x1x8xf32>
  %qr1 = llm.rope %q31 at %pos {theta = 1.0e+04 : f64} : tensor<?x2x8xf32>
  %kr1 = llm.rope %k31 at %pos {theta = 1.0e+04 : f64} : tensor<?x1x8xf32>
  %o1, %kc1, %vc1 = llm.attention %qr1, %kr1, %v31 cache(%kc0, %vc0) at %pos
      {layer = 1 : i64, scale = 0.35355339059327373 : f64}
      : tensor<?x2x8xf32>, tensor<?x1x8xf32>, tensor<2x1x?x8xf32>
  %oc1 = tensor.collapse_shape %o1 [[0], [1, 2]] : tensor<?x2x8xf32> into tensor<?x16xf32>
  %wo1 = llm.param "layers.1.o" : tensor<16x16xbf16>
  %p1 = llm.linear %oc1, %wo1 : tensor<?x16xf32>, tensor<16x16xbf16> -> tensor<?x16xf32>
  %x3 = llm.add %x2, %p1 : tensor<?x16xf32>
  // Final norm and LM head (tied embeddings).
  %nf = llm.param "norm" : tensor<16xbf16>
  %hf = llm.rms_norm %x3, %nf {epsilon = 1.0e-05 : f64} : tensor<?x16xf32>, tensor<16xbf16>
  %logits = llm.linear %hf, %emb : tensor<?x16xf32>, tensor<256x16xbf16> -> tensor<?x256xf32>
  return %logits, %kc1, %vc1 : tensor<?x256xf32>, tensor<2x1x?x8xf32>, tensor<2x1x?x8xf32>
}
