// llm-lower-entry-abi lays the weights out in one buffer (order of first use,
// each aligned), binds every llm.param to a view of it, and makes the entry
// functions write their logits into a caller-owned argument.
// RUN: llamac-opt %s -llm-lower-entry-abi=alignment=64 -split-input-file | FileCheck %s
// RUN: llamac-opt %s -llm-lower-entry-abi -split-input-file | FileCheck %s --check-prefix=DEFAULT

// 256 bytes at 0; 100 bytes at 256; the next one rounds 356 up to 384; "c" is
// laid out once although both entries use it; "d" follows at 512 (size 516).
// CHECK-LABEL: module attributes {
// CHECK-SAME: llm.weights = [{name = "a", offset = 0 : i64, type = tensor<64xf32>}, {name = "b", offset = 256 : i64, type = tensor<50xbf16>}, {name = "c", offset = 384 : i64, type = tensor<4x8xf32>}, {name = "d", offset = 512 : i64, type = tensor<2xf16>}]
// CHECK-SAME: llm.weights_size = 516 : i64
// DEFAULT-LABEL: module attributes {
// DEFAULT-SAME: llm.weights = [{name = "a", offset = 0 : i64, type = tensor<64xf32>}, {name = "b", offset = 4096 : i64, type = tensor<50xbf16>}, {name = "c", offset = 8192 : i64, type = tensor<4x8xf32>}, {name = "d", offset = 12288 : i64, type = tensor<2xf16>}]
// DEFAULT-SAME: llm.weights_size = 12292 : i64

// CHECK-LABEL: func.func @prefill(
// CHECK-SAME: %[[T:[a-z0-9_]+]]: tensor<?xi32>, %[[KC:[a-z0-9_]+]]: tensor<1x1x?x4xf32>, %[[LOGITS:[a-z0-9_]+]]: tensor<?x8xf32> {llm.name = "logits"}, %[[WEIGHTS:[a-z0-9_]+]]: memref<?xi8> {llm.name = "weights"})
// CHECK-SAME: -> (tensor<?x8xf32>, tensor<1x1x?x4xf32>) attributes {llvm.emit_c_interface}
// CHECK-NOT: llm.param
// CHECK: %[[O0:.+]] = arith.constant 0 : index
// CHECK: %[[V0:.+]] = memref.view %[[WEIGHTS]][%[[O0]]][] : memref<?xi8> to memref<64xf32>
// CHECK: bufferization.to_tensor %[[V0]] restrict : memref<64xf32>
// CHECK: %[[O1:.+]] = arith.constant 256 : index
// CHECK: %[[V1:.+]] = memref.view %[[WEIGHTS]][%[[O1]]][] : memref<?xi8> to memref<50xbf16>
// CHECK: bufferization.to_tensor %[[V1]] restrict : memref<50xbf16>
// CHECK: %[[O2:.+]] = arith.constant 384 : index
// CHECK: %[[V2:.+]] = memref.view %[[WEIGHTS]][%[[O2]]][] : memref<?xi8> to memref<4x8xf32>
// CHECK: %[[C:.+]] = bufferization.to_tensor %[[V2]] restrict : memref<4x8xf32>
// CHECK-NOT: llm.param
// CHECK: %[[X:.+]] = llm.embed %[[C]][%[[T]]]
// CHECK: %[[W:.+]] = bufferization.materialize_in_destination %[[X]] in %[[LOGITS]] : (tensor<?x8xf32>, tensor<?x8xf32>) -> tensor<?x8xf32>
// CHECK: return %[[W]], %[[KC]] : tensor<?x8xf32>, tensor<1x1x?x4xf32>

// The weight shared with @prefill has the same offset here.
// CHECK-LABEL: func.func @decode(
// CHECK-SAME: %[[T:[a-z0-9_]+]]: tensor<1xi32>, %[[LOGITS:[a-z0-9_]+]]: tensor<1x8xf32> {llm.name = "logits"}, %[[WEIGHTS:[a-z0-9_]+]]: memref<?xi8> {llm.name = "weights"}) -> tensor<1x8xf32> attributes {llvm.emit_c_interface}
// CHECK: %[[O2:.+]] = arith.constant 384 : index
// CHECK: memref.view %[[WEIGHTS]][%[[O2]]][] : memref<?xi8> to memref<4x8xf32>
// CHECK: %[[O3:.+]] = arith.constant 512 : index
// CHECK: memref.view %[[WEIGHTS]][%[[O3]]][] : memref<?xi8> to memref<2xf16>
// CHECK: %[[X:.+]] = llm.embed
// CHECK: %[[W:.+]] = bufferization.materialize_in_destination %[[X]] in %[[LOGITS]]
// CHECK: return %[[W]] : tensor<1x8xf32>

// Kernels keep their signature and are not given a C interface.
// CHECK-LABEL: func.func private @kernel(
// CHECK-SAME: %{{[a-z0-9_]+}}: tensor<4xf32>) -> tensor<4xf32> attributes {llm.kernel} {
func.func @prefill(%t: tensor<?xi32>, %kc: tensor<1x1x?x4xf32>) -> (tensor<?x8xf32>, tensor<1x1x?x4xf32>) {
  %a = llm.param "a" : tensor<64xf32>
  %b = llm.param "b" : tensor<50xbf16>
  %c = llm.param "c" : tensor<4x8xf32>
  %x = llm.embed %c[%t] : tensor<4x8xf32>, tensor<?xi32> -> tensor<?x8xf32>
  return %x, %kc : tensor<?x8xf32>, tensor<1x1x?x4xf32>
}
func.func @decode(%t: tensor<1xi32>) -> tensor<1x8xf32> {
  %c = llm.param "c" : tensor<4x8xf32>
  %d = llm.param "d" : tensor<2xf16>
  %x = llm.embed %c[%t] : tensor<4x8xf32>, tensor<1xi32> -> tensor<1x8xf32>
  return %x : tensor<1x8xf32>
}
func.func private @kernel(%x: tensor<4xf32>) -> tensor<4xf32> attributes {llm.kernel} {
  return %x : tensor<4xf32>
}

// -----

// A param used twice in one function gets two views of the same bytes.
// CHECK-LABEL: module attributes {
// CHECK-SAME: llm.weights = [{name = "w", offset = 0 : i64, type = tensor<4x8xbf16>}]
// CHECK-SAME: llm.weights_size = 64 : i64
// CHECK-LABEL: func.func @twice(
// CHECK: %[[Z1:.+]] = arith.constant 0 : index
// CHECK: memref.view %{{.+}}[%[[Z1]]][] : memref<?xi8> to memref<4x8xbf16>
// CHECK: %[[Z2:.+]] = arith.constant 0 : index
// CHECK: memref.view %{{.+}}[%[[Z2]]][] : memref<?xi8> to memref<4x8xbf16>
// CHECK-NOT: memref.view
// CHECK: return
func.func @twice(%x: tensor<1x8xf32>) -> tensor<1x4xf32> {
  %w1 = llm.param "w" : tensor<4x8xbf16>
  %w2 = llm.param "w" : tensor<4x8xbf16>
  %y = llm.linear %x, %w1 : tensor<1x8xf32>, tensor<4x8xbf16> -> tensor<1x4xf32>
  %z = llm.linear %x, %w2 : tensor<1x8xf32>, tensor<4x8xbf16> -> tensor<1x4xf32>
  %r = llm.add %y, %z : tensor<1x4xf32>
  return %r : tensor<1x4xf32>
}
