// llm-approximate-math replaces exp, sin, cos (and tanh) by polynomials built
// from arith and math.fma; square roots stay math.sqrt.
// RUN: llamac-opt %s -llm-approximate-math -split-input-file | FileCheck %s

// CHECK-LABEL: func.func @scalar(
// CHECK-SAME: %[[X:[a-z0-9_]+]]: f32
// CHECK-NOT: math.exp
// CHECK-NOT: math.sin
// CHECK-NOT: math.cos
// CHECK-NOT: math.tanh
// CHECK: math.fma
// CHECK: %[[S:.+]] = math.sqrt %[[X]] : f32
// CHECK-NOT: math.exp
// CHECK-NOT: math.sin
// CHECK-NOT: math.cos
// CHECK-NOT: math.tanh
// CHECK: return %{{.+}}, %{{.+}}, %{{.+}}, %[[S]], %{{.+}} : f32, f32, f32, f32, f32
func.func @scalar(%x: f32) -> (f32, f32, f32, f32, f32) {
  %e = math.exp %x : f32
  %s = math.sin %x : f32
  %c = math.cos %x : f32
  %q = math.sqrt %x : f32
  %t = math.tanh %x : f32
  return %e, %s, %c, %q, %t : f32, f32, f32, f32, f32
}

// -----

// Vectors (as after vectorization) are approximated too.
// CHECK-LABEL: func.func @vector(
// CHECK-NOT: math.exp
// CHECK: math.fma {{.*}} : vector<8xf32>
// CHECK-NOT: math.exp
// CHECK: return
func.func @vector(%v: vector<8xf32>) -> vector<8xf32> {
  %e = math.exp %v : vector<8xf32>
  return %e : vector<8xf32>
}

// -----

// Inside a linalg body (what llm-to-linalg produces for silu).
// CHECK-LABEL: func.func @in_generic(
// CHECK: linalg.generic
// CHECK-NOT: math.exp
// CHECK: math.fma
// CHECK-NOT: math.exp
// CHECK: linalg.yield
func.func @in_generic(%x: tensor<8xf32>) -> tensor<8xf32> {
  %r = linalg.generic {indexing_maps = [affine_map<(d0) -> (d0)>, affine_map<(d0) -> (d0)>],
                       iterator_types = ["parallel"]} ins(%x : tensor<8xf32>) outs(%x : tensor<8xf32>) {
  ^bb0(%in: f32, %out: f32):
    %n = arith.negf %in : f32
    %e = math.exp %n : f32
    linalg.yield %e : f32
  } -> tensor<8xf32>
  return %r : tensor<8xf32>
}
