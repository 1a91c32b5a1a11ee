// llm-op-stats counts ops per function and each distinct weight once, and
// leaves the IR unchanged.
// RUN: llamac-opt %s --llm-op-stats 2>&1 >/dev/null | FileCheck %s
// RUN: llamac-opt %s --llm-op-stats 2>/dev/null | FileCheck %s --check-prefix=IR

// CHECK: // function @prefill: 4 ops
// CHECK-NEXT: //   func.return              1
// CHECK-NEXT: //   llm.embed                1
// CHECK-NEXT: //   llm.param                2
// CHECK-NEXT: // function @decode: 3 ops
// CHECK-NEXT: //   func.return              1
// CHECK-NEXT: //   llm.embed                1
// CHECK-NEXT: //   llm.param                1
// CHECK-NEXT: // parameters: 2 tensors, 272 elements, 576 bytes (0.00 GB); by type: bf16 1, f32 1

// IR: func.func @prefill
// IR: llm.embed
func.func @prefill(%t: tensor<?xi32>) -> tensor<?x8xf32> {
  %e = llm.param "embed" : tensor<32x8xbf16>
  %unused = llm.param "extra" : tensor<4x4xf32>
  %x = llm.embed %e[%t] : tensor<32x8xbf16>, tensor<?xi32> -> tensor<?x8xf32>
  return %x : tensor<?x8xf32>
}
func.func @decode(%t: tensor<1xi32>) -> tensor<1x8xf32> {
  %e = llm.param "embed" : tensor<32x8xbf16>
  %x = llm.embed %e[%t] : tensor<32x8xbf16>, tensor<1xi32> -> tensor<1x8xf32>
  return %x : tensor<1x8xf32>
}
