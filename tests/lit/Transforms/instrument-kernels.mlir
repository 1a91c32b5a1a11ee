// llm-instrument-kernels brackets each kernel call of an entry point with
// calls of the context's profile hook (when it is set) and lists the kernels,
// with their shapes and the micro-kernel they run on (llm-outline-kernels
// records it on the kernel function), in module order of first call.
// RUN: llamac-opt %s -llm-instrument-kernels -split-input-file -verify-diagnostics | FileCheck %s

// CHECK: module attributes {llm.kernels = [{name = "scale 4xf32"}, {micro_kernel = #llm.micro_kernel<vnni_gemv>, name = "shift 4xf32 4xf32"}]}
// CHECK-LABEL: func.func @prefill(
// CHECK-SAME: %[[X:.+]]: memref<4xf32>, %[[CTX:.+]]: !llvm.ptr)
// CHECK: %[[SLOT:.+]] = llvm.getelementptr %[[CTX]][0, 2] : (!llvm.ptr) -> !llvm.ptr, !llvm.struct<(ptr, ptr, ptr)>
// CHECK: %[[HOOK:.+]] = llvm.load %[[SLOT]] : !llvm.ptr -> !llvm.ptr
// CHECK: %[[NULL:.+]] = llvm.mlir.zero : !llvm.ptr
// CHECK: %[[SET:.+]] = llvm.icmp "ne" %[[HOOK]], %[[NULL]] : !llvm.ptr
// CHECK: scf.if %[[SET]] {
// CHECK:   %[[ID:.+]] = llvm.mlir.constant(0 : i64) : i64
// CHECK:   %[[BEGIN:.+]] = llvm.mlir.constant(0 : i64) : i64
// CHECK:   llvm.call %[[HOOK]](%[[CTX]], %[[ID]], %[[BEGIN]]) : !llvm.ptr, (!llvm.ptr, i64, i64) -> ()
// CHECK: call @scale(%[[X]], %[[CTX]])
// CHECK: scf.if
// CHECK:   llvm.mlir.constant(1 : i64) : i64
// CHECK: scf.if
// CHECK:   llvm.mlir.constant(1 : i64) : i64
// CHECK: call @shift(
// A second call of the same kernel reuses its index.
// CHECK: llvm.mlir.constant(0 : i64) : i64
// CHECK: call @scale(
// CHECK: scf.if
// Calls of functions that are not kernels are left alone.
// CHECK-NOT: scf.if
// CHECK: call @helper(
module {
  func.func private @scale(%x: memref<4xf32>, %ctx: !llvm.ptr) attributes {llm.kernel} {
    return
  }
  func.func private @shift(%x: memref<4xf32>, %y: memref<4xf32>, %ctx: !llvm.ptr) attributes {llm.kernel, llm.micro_kernel = #llm.micro_kernel<vnni_gemv>} {
    return
  }
  func.func private @helper(%x: memref<4xf32>) {
    return
  }
  func.func @prefill(%x: memref<4xf32>, %ctx: !llvm.ptr) {
    call @scale(%x, %ctx) : (memref<4xf32>, !llvm.ptr) -> ()
    call @shift(%x, %x, %ctx) : (memref<4xf32>, memref<4xf32>, !llvm.ptr) -> ()
    call @scale(%x, %ctx) : (memref<4xf32>, !llvm.ptr) -> ()
    call @helper(%x) : (memref<4xf32>) -> ()
    return
  }
}

// -----

// expected-error @+1 {{'func.func' op has no context argument; run llm-outline-tasks before llm-instrument-kernels}}
func.func @decode(%x: memref<4xf32>) {
  return
}
