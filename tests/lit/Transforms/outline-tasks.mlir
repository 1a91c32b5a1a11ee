// llm-outline-tasks gives every function a trailing context pointer, passes it
// on at calls, and replaces each bufferized scf.forall by a closure on the
// stack plus ctx->parallel_for(ctx, task, closure, num_tasks); the body moves
// into a private `<function>_task(closure, index)` function.
// RUN: llamac-opt %s -llm-outline-tasks -split-input-file | FileCheck %s

// A forall over 4 column tiles that fills subviews. The closure holds the
// memref descriptor and the fill value, then the lower bound and step; the
// constant bounds are rematerialized in the task.
// CHECK-LABEL: func.func private @fill_kernel(
// CHECK-SAME: %[[BUF:[a-z0-9_]+]]: memref<4x256xf32>, %[[V:[a-z0-9_]+]]: f32, %[[CTX:[a-z0-9_]+]]: !llvm.ptr {llm.name = "ctx"}) attributes {llm.kernel}
// CHECK: %[[ONE:.+]] = llvm.mlir.constant(1 : i64) : i64
// CHECK: %[[CL:.+]] = llvm.alloca %[[ONE]] x !llvm.struct<(struct<(ptr, ptr, i64, array<2 x i64>, array<2 x i64>)>, f32, i64, i64)> {alignment = 8 : i64} : (i64) -> !llvm.ptr
// CHECK-NOT: scf.forall
// CHECK: %[[D:.+]] = builtin.unrealized_conversion_cast %[[BUF]] : memref<4x256xf32> to !llvm.struct<(ptr, ptr, i64, array<2 x i64>, array<2 x i64>)>
// CHECK: %[[F0:.+]] = llvm.getelementptr %[[CL]][0, 0]
// CHECK: llvm.store %[[D]], %[[F0]]
// CHECK: %[[F1:.+]] = llvm.getelementptr %[[CL]][0, 1]
// CHECK: llvm.store %[[V]], %[[F1]] : f32, !llvm.ptr
// CHECK-DAG: %[[LB:.+]] = arith.constant 0 : index
// CHECK-DAG: %[[UB:.+]] = arith.constant 256 : index
// CHECK-DAG: %[[STEP:.+]] = arith.constant 64 : index
// CHECK: %[[LB64:.+]] = arith.index_cast %[[LB]] : index to i64
// CHECK: %[[F2:.+]] = llvm.getelementptr %[[CL]][0, 2]
// CHECK: llvm.store %[[LB64]], %[[F2]] : i64, !llvm.ptr
// CHECK: %[[STEP64:.+]] = arith.index_cast %[[STEP]] : index to i64
// CHECK: %[[F3:.+]] = llvm.getelementptr %[[CL]][0, 3]
// CHECK: llvm.store %[[STEP64]], %[[F3]] : i64, !llvm.ptr
// CHECK: %[[SPAN:.+]] = arith.subi %[[UB]], %[[LB]] : index
// CHECK: %[[COUNT:.+]] = arith.ceildivsi %[[SPAN]], %[[STEP]] : index
// CHECK: %[[FN:.+]] = constant @fill_kernel_task : (!llvm.ptr, i64) -> ()
// CHECK: %[[FNP:.+]] = builtin.unrealized_conversion_cast %[[FN]] : (!llvm.ptr, i64) -> () to !llvm.ptr
// CHECK: %[[HOOKP:.+]] = llvm.getelementptr %[[CTX]][0, 0] : (!llvm.ptr) -> !llvm.ptr, !llvm.struct<(ptr, ptr)>
// CHECK: %[[HOOK:.+]] = llvm.load %[[HOOKP]] : !llvm.ptr -> !llvm.ptr
// CHECK: %[[N:.+]] = arith.index_cast %[[COUNT]] : index to i64
// CHECK: llvm.call %[[HOOK]](%[[CTX]], %[[FNP]], %[[CL]], %[[N]]) : !llvm.ptr, (!llvm.ptr, !llvm.ptr, !llvm.ptr, i64) -> ()
// CHECK-NOT: scf.forall
// CHECK: return

// The task: (closure, index) -> (), fields loaded back, the memref rebuilt
// from its descriptor, induction value = lower bound + index * step.
// CHECK-LABEL: func.func private @fill_kernel_task(
// CHECK-SAME: %[[CL:[a-z0-9_]+]]: !llvm.ptr, %[[IDX:[a-z0-9_]+]]: i64) attributes {llm.task}
// CHECK: %[[P0:.+]] = llvm.getelementptr %[[CL]][0, 0]
// CHECK: %[[D:.+]] = llvm.load %[[P0]] : !llvm.ptr -> !llvm.struct<(ptr, ptr, i64, array<2 x i64>, array<2 x i64>)>
// CHECK: %[[M:.+]] = builtin.unrealized_conversion_cast %[[D]] : !llvm.struct<(ptr, ptr, i64, array<2 x i64>, array<2 x i64>)> to memref<4x256xf32>
// CHECK: %[[P1:.+]] = llvm.getelementptr %[[CL]][0, 1]
// CHECK: %[[V:.+]] = llvm.load %[[P1]] : !llvm.ptr -> f32
// CHECK: %[[P2:.+]] = llvm.getelementptr %[[CL]][0, 2]
// CHECK: %[[LB64:.+]] = llvm.load %[[P2]] : !llvm.ptr -> i64
// CHECK: %[[LB:.+]] = arith.index_cast %[[LB64]] : i64 to index
// CHECK: %[[P3:.+]] = llvm.getelementptr %[[CL]][0, 3]
// CHECK: %[[STEP64:.+]] = llvm.load %[[P3]] : !llvm.ptr -> i64
// CHECK: %[[STEP:.+]] = arith.index_cast %[[STEP64]] : i64 to index
// CHECK: %[[I:.+]] = arith.index_cast %[[IDX]] : i64 to index
// CHECK: %[[OFF:.+]] = arith.muli %[[I]], %[[STEP]] : index
// CHECK: %[[IV:.+]] = arith.addi %[[LB]], %[[OFF]] : index
// CHECK: %[[SUB:.+]] = memref.subview %[[M]][0, %[[IV]]] [4, 64] [1, 1]
// CHECK: linalg.fill ins(%[[V]] : f32) outs(%[[SUB]] :
// CHECK: return

// Callers pass their own context on.
// CHECK-LABEL: func.func @entry(
// CHECK-SAME: %[[BUF:[a-z0-9_]+]]: memref<4x256xf32>, %[[V:[a-z0-9_]+]]: f32, %[[CTX:[a-z0-9_]+]]: !llvm.ptr {llm.name = "ctx"})
// CHECK: call @fill_kernel(%[[BUF]], %[[V]], %[[CTX]]) : (memref<4x256xf32>, f32, !llvm.ptr) -> ()
func.func private @fill_kernel(%buf: memref<4x256xf32>, %v: f32) attributes {llm.kernel} {
  scf.forall (%i) = (0) to (256) step (64) {
    %sub = memref.subview %buf[0, %i] [4, 64] [1, 1] : memref<4x256xf32> to memref<4x64xf32, strided<[256, 1], offset: ?>>
    linalg.fill ins(%v : f32) outs(%sub : memref<4x64xf32, strided<[256, 1], offset: ?>>)
  }
  return
}
func.func @entry(%buf: memref<4x256xf32>, %v: f32) {
  call @fill_kernel(%buf, %v) : (memref<4x256xf32>, f32) -> ()
  return
}

// -----

// Dynamic bounds and an index capture travel as i64; the store's index uses
// the rebuilt induction value and the unpacked capture.
// CHECK-LABEL: func.func @store(
// CHECK-SAME: %[[M:[a-z0-9_]+]]: memref<?xf32>, %[[V:[a-z0-9_]+]]: f32, %[[LB:[a-z0-9_]+]]: index, %[[UB:[a-z0-9_]+]]: index, %[[CTX:[a-z0-9_]+]]: !llvm.ptr {llm.name = "ctx"})
// CHECK: %[[CL:.+]] = llvm.alloca %{{.+}} x !llvm.struct<(i64, f32, struct<(ptr, ptr, i64, array<1 x i64>, array<1 x i64>)>, i64, i64)>
// CHECK: %[[STEP:.+]] = arith.constant 2 : index
// CHECK: %[[LB64:.+]] = arith.index_cast %[[LB]] : index to i64
// CHECK: llvm.store %[[LB64]], %{{.+}} : i64, !llvm.ptr
// CHECK: llvm.store %[[V]], %{{.+}} : f32, !llvm.ptr
// CHECK: %[[SPAN:.+]] = arith.subi %[[UB]], %[[LB]] : index
// CHECK: %[[COUNT:.+]] = arith.ceildivsi %[[SPAN]], %[[STEP]] : index
// CHECK: %[[FN:.+]] = constant @store_task
// CHECK: %[[N:.+]] = arith.index_cast %[[COUNT]] : index to i64
// CHECK: llvm.call %{{.+}}(%[[CTX]], %{{.+}}, %[[CL]], %[[N]])
// CHECK-NOT: scf.forall
// CHECK: return
// CHECK-LABEL: func.func private @store_task(
// CHECK-SAME: %[[CL:[a-z0-9_]+]]: !llvm.ptr, %[[IDX:[a-z0-9_]+]]: i64) attributes {llm.task}
// CHECK: %[[C64:.+]] = llvm.load %{{.+}} : !llvm.ptr -> i64
// CHECK: %[[C:.+]] = arith.index_cast %[[C64]] : i64 to index
// CHECK: %[[V:.+]] = llvm.load %{{.+}} : !llvm.ptr -> f32
// CHECK: %[[MD:.+]] = llvm.load %{{.+}} : !llvm.ptr -> !llvm.struct<(ptr, ptr, i64, array<1 x i64>, array<1 x i64>)>
// CHECK: %[[MM:.+]] = builtin.unrealized_conversion_cast %[[MD]] : !llvm.struct<(ptr, ptr, i64, array<1 x i64>, array<1 x i64>)> to memref<?xf32>
// CHECK: %[[IV:.+]] = arith.addi
// CHECK: %[[J:.+]] = arith.addi %[[IV]], %[[C]] : index
// CHECK: memref.store %[[V]], %[[MM]][%[[J]]] : memref<?xf32>
// CHECK: return
func.func @store(%m: memref<?xf32>, %v: f32, %lb: index, %ub: index) {
  %c2 = arith.constant 2 : index
  scf.forall (%i) = (%lb) to (%ub) step (%c2) {
    %j = arith.addi %i, %lb : index
    memref.store %v, %m[%j] : memref<?xf32>
  }
  return
}

// -----

// Functions without a forall still get the context; external declarations
// do not.
// CHECK-LABEL: func.func private @external(memref<4xf32>)
// CHECK-LABEL: func.func @no_loop(
// CHECK-SAME: %[[M:[a-z0-9_]+]]: memref<4xf32>, %[[CTX:[a-z0-9_]+]]: !llvm.ptr {llm.name = "ctx"})
// CHECK: call @external(%[[M]]) : (memref<4xf32>) -> ()
// CHECK-NOT: llvm.
// CHECK: return
func.func private @external(memref<4xf32>)
func.func @no_loop(%m: memref<4xf32>) {
  call @external(%m) : (memref<4xf32>) -> ()
  return
}
