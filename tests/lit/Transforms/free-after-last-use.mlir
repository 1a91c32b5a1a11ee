// llm-free-after-last-use splits the unconditional frees of buffers a block
// created out of the block's bufferization.dealloc, each to just after the
// last use of the buffer or of one of its views.
// RUN: llamac-opt %s -llm-free-after-last-use -split-input-file | FileCheck %s

// A chain of kernel calls (what an entry point is): each result is freed
// after the last call that reads it, views included; the base buffer of
// extract_strided_metadata (how the deallocation pipeline names buffers) is
// traced back to the call that made it.
func.func private @k0() -> memref<4xf32>
func.func private @k1(memref<4xf32>) -> memref<4xf32>
func.func private @k2(memref<2x2xf32>)
// CHECK-LABEL: func.func @chain(
// CHECK: %[[A:.+]] = call @k0()
// CHECK-NEXT: %[[B:.+]] = call @k1(%[[A]])
// CHECK-NEXT: memref.dealloc %[[A]] : memref<4xf32>
// CHECK-NEXT: %[[V:.+]] = memref.expand_shape %[[B]]
// CHECK-NEXT: call @k2(%[[V]])
// CHECK-NEXT: memref.dealloc %[[B]] : memref<4xf32>
// CHECK-NEXT: %[[C:.+]] = call @k0()
// CHECK-NEXT: memref.dealloc %[[C]] : memref<4xf32>
// CHECK-NOT: bufferization.dealloc
// CHECK: return
func.func @chain() {
  %true = arith.constant true
  %a = call @k0() : () -> memref<4xf32>
  %b = call @k1(%a) : (memref<4xf32>) -> memref<4xf32>
  %v = memref.expand_shape %b [[0, 1]] output_shape [2, 2] : memref<4xf32> into memref<2x2xf32>
  call @k2(%v) : (memref<2x2xf32>) -> ()
  %c = call @k0() : () -> memref<4xf32>
  %base, %offset, %size, %stride = memref.extract_strided_metadata %b : memref<4xf32> -> memref<f32>, index, index, index
  bufferization.dealloc (%a, %base, %c : memref<4xf32>, memref<f32>, memref<4xf32>) if (%true, %true, %true)
  return
}

// -----

// A use inside a loop counts at the loop; an allocation is freed after it.
// CHECK-LABEL: func.func @nested(
// CHECK: %[[M:.+]] = memref.alloc() : memref<4xf32>
// CHECK: scf.for
// CHECK: memref.store
// CHECK: }
// CHECK-NEXT: memref.dealloc %[[M]] : memref<4xf32>
// CHECK-NEXT: arith.addf
func.func @nested(%x: f32) -> f32 {
  %true = arith.constant true
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  %m = memref.alloc() : memref<4xf32>
  scf.for %i = %c0 to %c4 step %c1 {
    memref.store %x, %m[%i] : memref<4xf32>
  }
  %y = arith.addf %x, %x : f32
  bufferization.dealloc (%m : memref<4xf32>) if (%true)
  return %y : f32
}

// -----

// Left in place: a condition that is not constant true, a buffer that is
// not created in the block (an argument), one that escapes into an LLVM
// descriptor (a closure of llm-outline-tasks), and any dealloc with retained
// values.
func.func private @k0() -> memref<4xf32>
// CHECK-LABEL: func.func @kept(
// CHECK-NOT: memref.dealloc
// CHECK: bufferization.dealloc (%{{.+}}, %{{.+}}, %{{.+}} : memref<4xf32>, memref<4xf32>, memref<4xf32>) if (%{{.+}}, %{{.+}}, %{{.+}})
// CHECK-NEXT: return
func.func @kept(%arg: memref<4xf32>, %cond: i1) {
  %true = arith.constant true
  %a = call @k0() : () -> memref<4xf32>
  %e = call @k0() : () -> memref<4xf32>
  %d = builtin.unrealized_conversion_cast %e : memref<4xf32> to !llvm.struct<(ptr, ptr, i64, array<1 x i64>, array<1 x i64>)>
  bufferization.dealloc (%a, %arg, %e : memref<4xf32>, memref<4xf32>, memref<4xf32>) if (%cond, %true, %true)
  return
}

// CHECK-LABEL: func.func @retained(
// CHECK-NOT: memref.dealloc
// CHECK: bufferization.dealloc
// CHECK-SAME: retain
func.func @retained(%r: memref<4xf32>) -> i1 {
  %true = arith.constant true
  %a = call @k0() : () -> memref<4xf32>
  %u = bufferization.dealloc (%a : memref<4xf32>) if (%true) retain (%r : memref<4xf32>)
  return %u : i1
}
