// llm-reductions-to-loops: an op whose innermost loop is a reduction becomes
// loops whose innermost one carries the accumulator (read once, written
// once), vectorized when it is a sum; ops without an innermost reduction are
// left alone.
// RUN: llamac-opt %s -llm-reductions-to-loops -split-input-file | FileCheck %s

// A sum of elementwise products: 16-lane partial sums from the vector
// dialect when both moving inputs are contiguous along k (checked at run
// time), one horizontal add, a scalar loop for the remainder; the scalar
// loop alone otherwise.
// CHECK-LABEL: func.func @matmul_transpose_b(
// CHECK-SAME: %[[A:[a-z0-9]+]]: memref<?x40xf32, strided<[?, ?], offset: ?>>, %[[B:[a-z0-9]+]]: memref<4x40xbf16, strided<[?, ?], offset: ?>>, %[[C:[a-z0-9]+]]: memref<?x4xf32>)
// CHECK-DAG: %[[ZEROS:.+]] = arith.constant dense<0.000000e+00> : vector<16xf32>
// CHECK-DAG: %[[C16:.+]] = arith.constant 16 : index
// CHECK-DAG: %[[C40:.+]] = arith.constant 40 : index
// CHECK: scf.for %[[I:.+]] =
// CHECK:   scf.for %[[J:.+]] =
// CHECK:     %[[INIT:.+]] = memref.load %[[C]][%[[I]], %[[J]]]
// CHECK:     %{{.+}}, %{{.+}}, %{{.+}}:2, %[[SA:.+]]:2 = memref.extract_strided_metadata %[[A]]
// CHECK:     %[[UA:.+]] = arith.cmpi eq, %[[SA]]#1, %{{.+}} : index
// CHECK:     %{{.+}}, %{{.+}}, %{{.+}}:2, %[[SB:.+]]:2 = memref.extract_strided_metadata %[[B]]
// CHECK:     %[[UB:.+]] = arith.cmpi eq, %[[SB]]#1, %{{.+}} : index
// CHECK:     %[[SUM:.+]] = scf.if %{{.+}} -> (f32) {
// CHECK:       %[[VA:.+]] = memref.reinterpret_cast %[[A]] {{.*}} to memref<?x40xf32, strided<[?, 1], offset: ?>>
// CHECK:       %[[VB:.+]] = memref.reinterpret_cast %[[B]] {{.*}} to memref<4x40xbf16, strided<[?, 1], offset: ?>>
// CHECK:       %[[VSUM:.+]] = scf.for %[[K:.+]] = %{{.+}} to %[[MAIN:.+]] step %[[C16]] iter_args(%[[VACC:.+]] = %[[ZEROS]]) -> (vector<16xf32>) {
// CHECK:         %[[X:.+]] = vector.load %[[VA]][%[[I]], %[[K]]] : {{.*}}, vector<16xf32>
// CHECK:         %[[W:.+]] = vector.load %[[VB]][%[[J]], %[[K]]] : {{.*}}, vector<16xbf16>
// CHECK:         %[[WF:.+]] = arith.extf %[[W]] : vector<16xbf16> to vector<16xf32>
// CHECK:         %[[P:.+]] = arith.mulf %[[X]], %[[WF]] : vector<16xf32>
// CHECK:         %[[S:.+]] = arith.addf %[[VACC]], %[[P]] : vector<16xf32>
// CHECK:         scf.yield %[[S]] : vector<16xf32>
// CHECK:       %[[PARTIAL:.+]] = vector.reduction <add>, %[[VSUM]], %[[INIT]] : vector<16xf32> into f32
// CHECK:       %[[REST:.+]] = scf.for %{{.+}} = %[[MAIN]] to %[[C40]] step %{{.+}} iter_args(%{{.+}} = %[[PARTIAL]]) -> (f32)
// CHECK:       scf.yield %[[REST]] : f32
// CHECK:     } else {
// CHECK:       %[[SCALAR:.+]] = scf.for %{{.+}} = %{{.+}} to %[[C40]] step %{{.+}} iter_args(%{{.+}} = %[[INIT]]) -> (f32)
// CHECK:       scf.yield %[[SCALAR]] : f32
// CHECK:     memref.store %[[SUM]], %[[C]][%[[I]], %[[J]]]
// CHECK-NOT: linalg.
func.func @matmul_transpose_b(%a: memref<?x40xf32, strided<[?, ?], offset: ?>>, %b: memref<4x40xbf16, strided<[?, ?], offset: ?>>, %c: memref<?x4xf32>) {
  linalg.matmul_transpose_b ins(%a, %b : memref<?x40xf32, strided<[?, ?], offset: ?>>, memref<4x40xbf16, strided<[?, ?], offset: ?>>) outs(%c : memref<?x4xf32>)
  return
}

// -----

// A 4 x 4 register block: tokens (which the weights ignore) and outputs
// (which the tokens ignore) are both blocked by 4, so each step loads 4
// token vectors and 4 weight vectors for 16 accumulators; the tokens and
// outputs left over (mod 4) take nests of their own.
// CHECK-LABEL: func.func @row_blocking(
// CHECK-SAME: %[[A:[a-z0-9]+]]: memref<?x32xf32>, %[[B:[a-z0-9]+]]: memref<8x32xbf16>
// CHECK: scf.for %[[I:.+]] = %{{.+}} to %[[BLOCKED:.+]] step %[[C4:.+]] {
// CHECK:   scf.for %[[J:.+]] = %{{.+}} to %{{.+}} step %[[C4]] {
// CHECK:     %{{.+}}:16 = scf.if
// CHECK:       %[[VA:.+]] = memref.reinterpret_cast %[[A]]
// CHECK:       %[[VB:.+]] = memref.reinterpret_cast %[[B]]
// CHECK:       scf.for {{.*}} iter_args({{.*}}) -> (vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>) {
// CHECK:         vector.load %[[VA]][%[[I]],
// CHECK-COUNT-4: vector.load %[[VB]]
// CHECK-COUNT-3: vector.load %[[VA]]
// CHECK-NOT:     vector.load
// CHECK:         scf.yield
// CHECK: scf.for %{{.+}} = %[[BLOCKED]] to
func.func @row_blocking(%a: memref<?x32xf32>, %b: memref<8x32xbf16>, %c: memref<?x8xf32>) {
  linalg.matmul_transpose_b ins(%a, %b : memref<?x32xf32>, memref<8x32xbf16>) outs(%c : memref<?x8xf32>)
  return
}

// -----

// linalg.index inside the body becomes the loop's induction variable.
#id = affine_map<(d0, d1) -> (d0, d1)>
#row = affine_map<(d0, d1) -> (d0)>
// CHECK-LABEL: func.func @masked_max(
// CHECK: scf.for %[[I:.+]] = 
// CHECK: scf.for %[[T:.+]] = {{.*}} iter_args(%[[ACC:.+]] = {{.*}}) -> (f32)
// CHECK: arith.cmpi ule, %[[T]], %[[I]] : index
// CHECK-NOT: linalg.index
func.func @masked_max(%s: memref<4x4xf32>, %m: memref<4xf32>) {
  linalg.generic {indexing_maps = [#id, #row], iterator_types = ["parallel", "reduction"]}
      ins(%s : memref<4x4xf32>) outs(%m : memref<4xf32>) {
  ^bb0(%x: f32, %acc: f32):
    %i = linalg.index 0 : index
    %t = linalg.index 1 : index
    %visible = arith.cmpi ule, %t, %i : index
    %larger = arith.maximumf %acc, %x : f32
    %r = arith.select %visible, %larger, %acc : f32
    linalg.yield %r : f32
  }
  return
}

// -----

// No innermost reduction: untouched.
#id2 = affine_map<(d0, d1) -> (d0, d1)>
// CHECK-LABEL: func.func @elementwise(
// CHECK: linalg.generic
// CHECK-NOT: scf.for
func.func @elementwise(%a: memref<4x4xf32>, %b: memref<4x4xf32>) {
  linalg.generic {indexing_maps = [#id2, #id2], iterator_types = ["parallel", "parallel"]}
      ins(%a : memref<4x4xf32>) outs(%b : memref<4x4xf32>) {
  ^bb0(%x: f32, %y: f32):
    %r = arith.addf %x, %x : f32
    linalg.yield %r : f32
  }
  return
}

// -----

// A reduction whose output is indexed by the innermost loop is not one this
// pass can carry in a register: untouched.
#in = affine_map<(d0, d1) -> (d1, d0)>
#out = affine_map<(d0, d1) -> (d1)>
// CHECK-LABEL: func.func @outer_reduction(
// CHECK: linalg.generic
func.func @outer_reduction(%a: memref<4x4xf32>, %b: memref<4xf32>) {
  linalg.generic {indexing_maps = [#in, #out], iterator_types = ["reduction", "parallel"]}
      ins(%a : memref<4x4xf32>) outs(%b : memref<4xf32>) {
  ^bb0(%x: f32, %acc: f32):
    %r = arith.addf %acc, %x : f32
    linalg.yield %r : f32
  }
  return
}
