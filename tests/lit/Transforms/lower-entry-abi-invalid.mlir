// llm-lower-entry-abi rejects what it cannot lay out or call.
// RUN: llamac-opt %s -llm-lower-entry-abi -split-input-file -verify-diagnostics
// RUN: not llamac-opt %s -llm-lower-entry-abi=alignment=3 -split-input-file 2>&1 | FileCheck %s --check-prefix=ALIGN
// RUN: not llamac-opt %s -llm-lower-entry-abi=alignment=0 -split-input-file 2>&1 | FileCheck %s --check-prefix=ALIGN

// The alignment must be a positive power of two (checked once per split).
// ALIGN: error: llm-lower-entry-abi: alignment must be a positive power of two
// ALIGN-NOT: llm.weights

// One weight name, two types: the buffer cannot hold both.
func.func @prefill(%t: tensor<?xi32>) -> tensor<?x8xf32> {
  %c = llm.param "c" : tensor<4x8xf32>
  %x = llm.embed %c[%t] : tensor<4x8xf32>, tensor<?xi32> -> tensor<?x8xf32>
  return %x : tensor<?x8xf32>
}
func.func @decode(%t: tensor<1xi32>) -> tensor<1x8xf32> {
  // expected-error @+1 {{'llm.param' op weight 'c' is used with type 'tensor<4x8xbf16>' here and 'tensor<4x8xf32>' elsewhere}}
  %c = llm.param "c" : tensor<4x8xbf16>
  %x = llm.embed %c[%t] : tensor<4x8xbf16>, tensor<1xi32> -> tensor<1x8xf32>
  return %x : tensor<1x8xf32>
}

// -----

// An entry function must return the logits first.
// expected-error @+1 {{'func.func' op expects the logits tensor as first result}}
func.func @no_results(%t: tensor<?xi32>) {
  return
}

// -----

// expected-error @+1 {{'func.func' op expects the logits tensor as first result}}
func.func @index_result(%t: index) -> index {
  return %t : index
}
