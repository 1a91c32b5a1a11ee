// llm-reductions-to-loops: an op whose innermost loop is a reduction becomes
// loops whose innermost one carries the accumulator (read once, written
// once); ops without an innermost reduction are left alone.
// RUN: llamac-opt %s -llm-reductions-to-loops -split-input-file | FileCheck %s

// CHECK-LABEL: func.func @matmul_transpose_b(
// CHECK-SAME: %[[A:[a-z0-9]+]]: memref<?x8xf32>, %[[B:[a-z0-9]+]]: memref<4x8xbf16>, %[[C:[a-z0-9]+]]: memref<?x4xf32>)
// CHECK-DAG: %[[C0:.+]] = arith.constant 0 : index
// CHECK-DAG: %[[C1:.+]] = arith.constant 1 : index
// CHECK-DAG: %[[C4:.+]] = arith.constant 4 : index
// CHECK-DAG: %[[C8:.+]] = arith.constant 8 : index
// CHECK: %[[N:.+]] = memref.dim %[[A]], %[[C0]]
// CHECK: scf.for %[[I:.+]] = %[[C0]] to %[[N]] step %[[C1]] {
// CHECK:   scf.for %[[J:.+]] = %[[C0]] to %[[C4]] step %[[C1]] {
// CHECK:     %[[INIT:.+]] = memref.load %[[C]][%[[I]], %[[J]]]
// CHECK:     %[[SUM:.+]] = scf.for %[[K:.+]] = %[[C0]] to %[[C8]] step %[[C1]] iter_args(%[[ACC:.+]] = %[[INIT]]) -> (f32) {
// CHECK:       %[[X:.+]] = memref.load %[[A]][%[[I]], %[[K]]]
// CHECK:       %[[W:.+]] = memref.load %[[B]][%[[J]], %[[K]]]
// CHECK:       %[[WF:.+]] = arith.extf %[[W]] : bf16 to f32
// CHECK:       %[[P:.+]] = arith.mulf %[[X]], %[[WF]]
// CHECK:       %[[S:.+]] = arith.addf %[[ACC]], %[[P]]
// CHECK:       scf.yield %[[S]] : f32
// CHECK:     memref.store %[[SUM]], %[[C]][%[[I]], %[[J]]]
// CHECK-NOT: linalg.
func.func @matmul_transpose_b(%a: memref<?x8xf32>, %b: memref<4x8xbf16>, %c: memref<?x4xf32>) {
  linalg.matmul_transpose_b ins(%a, %b : memref<?x8xf32>, memref<4x8xbf16>) outs(%c : memref<?x4xf32>)
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
