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

// -----

// Residual connections: add(linear(x), r) on either side becomes the
// projection with add(r); its sums start from r.
// CHECK-LABEL: func.func @residual(
// CHECK-SAME: %[[X:[a-z0-9]+]]: tensor<?x64xf32>, %[[R:[a-z0-9]+]]: tensor<?x32xf32>
// CHECK: %[[W:.+]] = llm.param "w"
// CHECK: %[[A:.+]] = llm.linear %[[X]], %[[W]] add(%[[R]] : tensor<?x32xf32>) : tensor<?x64xf32>, tensor<32x64xf32> -> tensor<?x32xf32>
// CHECK: %[[B:.+]] = llm.linear %[[X]], %[[W]] add(%[[A]] : tensor<?x32xf32>) : tensor<?x64xf32>, tensor<32x64xf32> -> tensor<?x32xf32>
// CHECK-NOT: llm.add
// CHECK: return %[[B]]
func.func @residual(%x: tensor<?x64xf32>, %r: tensor<?x32xf32>) -> tensor<?x32xf32> {
  %w = llm.param "w" : tensor<32x64xf32>
  %p = llm.linear %x, %w : tensor<?x64xf32>, tensor<32x64xf32> -> tensor<?x32xf32>
  %h = llm.add %p, %r : tensor<?x32xf32>
  %q = llm.linear %x, %w : tensor<?x64xf32>, tensor<32x64xf32> -> tensor<?x32xf32>
  %o = llm.add %h, %q : tensor<?x32xf32>
  return %o : tensor<?x32xf32>
}

// -----

// Left alone: a product with another use (it must be stored anyway), and
// an addend defined after the product.
// CHECK-LABEL: func.func @residual_untouched(
// CHECK-NOT: add(
// CHECK-COUNT-2: llm.add
func.func @residual_untouched(%x: tensor<?x64xf32>, %r: tensor<?x32xf32>) -> (tensor<?x32xf32>, tensor<?x32xf32>, tensor<?x32xf32>) {
  %w = llm.param "w" : tensor<32x64xf32>
  %p = llm.linear %x, %w : tensor<?x64xf32>, tensor<32x64xf32> -> tensor<?x32xf32>
  %h = llm.add %p, %r : tensor<?x32xf32>
  %q = llm.linear %x, %w : tensor<?x64xf32>, tensor<32x64xf32> -> tensor<?x32xf32>
  %later = llm.silu %r : tensor<?x32xf32>
  %o = llm.add %q, %later : tensor<?x32xf32>
  return %h, %p, %o : tensor<?x32xf32>, tensor<?x32xf32>, tensor<?x32xf32>
}
