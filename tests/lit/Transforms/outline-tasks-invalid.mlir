// llm-outline-tasks only handles bufferized, one-dimensional task loops whose
// captures fit in a closure.
// RUN: llamac-opt %s -llm-outline-tasks -split-input-file -verify-diagnostics

// A forall on tensors (with results) has not been bufferized.
func.func @tensor_forall(%t: tensor<256xf32>, %v: f32) -> tensor<256xf32> {
  // expected-error @+1 {{'scf.forall' op must be bufferized before llm-outline-tasks}}
  %r = scf.forall (%i) = (0) to (256) step (64) shared_outs(%o = %t) -> (tensor<256xf32>) {
    %s = tensor.extract_slice %o[%i] [64] [1] : tensor<256xf32> to tensor<64xf32>
    %f = linalg.fill ins(%v : f32) outs(%s : tensor<64xf32>) -> tensor<64xf32>
    scf.forall.in_parallel {
      tensor.parallel_insert_slice %f into %o[%i] [64] [1] : tensor<64xf32> into tensor<256xf32>
    }
  }
  return %r : tensor<256xf32>
}

// -----

func.func @two_dims(%m: memref<4x4xf32>, %v: f32) {
  // expected-error @+1 {{'scf.forall' op only one-dimensional task loops are supported}}
  scf.forall (%i, %j) in (4, 4) {
    memref.store %v, %m[%i, %j] : memref<4x4xf32>
  }
  return
}

// -----

func.func @tensor_capture(%m: memref<4xf32>, %t: tensor<4xf32>) {
  // expected-error @+1 {{'scf.forall' op cannot pass a value of type 'tensor<4xf32>' to a task}}
  scf.forall (%i) in (4) {
    %x = tensor.extract %t[%i] : tensor<4xf32>
    memref.store %x, %m[%i] : memref<4xf32>
  }
  return
}
