// llm-fuse-elementwise: the MLP's silu(gate) * up becomes one llm.silu_mul,
// whichever side of the product the silu is on; a silu with other uses is
// left alone (its result is needed anyway).
// RUN: llamac-opt %s -llm-fuse-elementwise -split-input-file | FileCheck %s

// CHECK-LABEL: func.func @gated(
// CHECK-SAME: %[[G:[a-z0-9]+]]: tensor<?x64xf32>, %[[U:[a-z0-9]+]]: tensor<?x64xf32>
// CHECK-NEXT: %[[A:.+]] = llm.silu_mul %[[G]], %[[U]] : tensor<?x64xf32>
// CHECK-NEXT: %[[B:.+]] = llm.silu_mul %[[U]], %[[G]] : tensor<?x64xf32>
// CHECK-NEXT: return %[[A]], %[[B]]
func.func @gated(%g: tensor<?x64xf32>, %u: tensor<?x64xf32>) -> (tensor<?x64xf32>, tensor<?x64xf32>) {
  %s = llm.silu %g : tensor<?x64xf32>
  %m = llm.mul %s, %u : tensor<?x64xf32>
  %t = llm.silu %u : tensor<?x64xf32>
  %n = llm.mul %g, %t : tensor<?x64xf32>
  return %m, %n : tensor<?x64xf32>, tensor<?x64xf32>
}

// -----

// CHECK-LABEL: func.func @shared_silu(
// CHECK: llm.silu
// CHECK: llm.mul
// CHECK-NOT: llm.silu_mul
func.func @shared_silu(%g: tensor<?x64xf32>, %u: tensor<?x64xf32>) -> (tensor<?x64xf32>, tensor<?x64xf32>) {
  %s = llm.silu %g : tensor<?x64xf32>
  %m = llm.mul %s, %u : tensor<?x64xf32>
  return %m, %s : tensor<?x64xf32>, tensor<?x64xf32>
}

// -----

// silu(x) * silu(x): the same value twice is left as it is.
// CHECK-LABEL: func.func @square(
// CHECK: llm.mul
func.func @square(%g: tensor<?x64xf32>) -> tensor<?x64xf32> {
  %s = llm.silu %g : tensor<?x64xf32>
  %m = llm.mul %s, %s : tensor<?x64xf32>
  return %m : tensor<?x64xf32>
}
