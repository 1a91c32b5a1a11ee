// A one-layer model has caches whose layer slot is the whole cache, so the
// entry returns them straight from the attention kernel. The whole pipeline
// (the strategy included, which reads the module's target)
// must still end in pure LLVM dialect (results aliasing arguments dropped,
// nothing cloned) and translate to LLVM IR.
// RUN: llamac-opt %s --pass-pipeline='builtin.module(llm-compile-pipeline)' | FileCheck %s
// RUN: llamac-opt %s --pass-pipeline='builtin.module(llm-compile-pipeline)' | llamac-translate --mlir-to-llvmir | FileCheck %s --check-prefix=IR

// CHECK-NOT: bufferization.
// CHECK-NOT: unrealized_conversion_cast
// CHECK-LABEL: llvm.func @_mlir_ciface_prefill(
// IR: define void @_mlir_ciface_prefill(
module attributes {llm.target = #llm.target<cpu = "x86-64-v3", triple = "x86_64-unknown-linux-gnu", features = ["avx", "avx2", "fma"]>} {
func.func @prefill(%q: tensor<?x2x4xf32>, %k: tensor<?x1x4xf32>, %pos: index,
                   %kc: tensor<1x1x?x4xf32>, %vc: tensor<1x1x?x4xf32>)
    -> (tensor<?x8xf32>, tensor<1x1x?x4xf32>, tensor<1x1x?x4xf32>) {
  %o, %kc1, %vc1 = llm.attention %q, %k, %k cache(%kc, %vc) at %pos {layer = 0 : i64, scale = 0.5 : f64}
      : tensor<?x2x4xf32>, tensor<?x1x4xf32>, tensor<1x1x?x4xf32>
  %flat = tensor.collapse_shape %o [[0], [1, 2]] : tensor<?x2x4xf32> into tensor<?x8xf32>
  return %flat, %kc1, %vc1 : tensor<?x8xf32>, tensor<1x1x?x4xf32>, tensor<1x1x?x4xf32>
}
}
