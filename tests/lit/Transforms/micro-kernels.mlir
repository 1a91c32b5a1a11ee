// llm-lower-micro-kernels: tagged products by vnni16x32 tiles become AMX
// tile code (prefill) or FMA code on bf16 pairs (decode), each behind a
// run-time check that the tiles are contiguous, with the op itself (tag
// dropped) as the fallback.
// RUN: llamac-opt %s -llm-lower-micro-kernels -split-input-file -verify-diagnostics | FileCheck %s

#a = affine_map<(mb, mi, nb, ni, kb, kr, kp) -> (mb, kb, mi, kr, kp)>
#w = affine_map<(mb, mi, nb, ni, kb, kr, kp) -> (nb, kb, kr, ni, kp)>
#c = affine_map<(mb, mi, nb, ni, kb, kr, kp) -> (mb, mi, nb, ni)>
// CHECK-LABEL: func.func @amx(

// CHECK: scf.if %{{.+}} {
// 2 x 2 blocks: two output tiles outer, two row tiles inner, the reduction
// unrolled 8 deep (16 depth tiles) with the accumulators reloaded per step.
// CHECK:   scf.for
// CHECK:     scf.for
// CHECK:       scf.for %{{.+}} = %{{.+}} to %{{.+}} step %c8
// CHECK-COUNT-4: amx.tile_load %{{.+}} : memref<16x?xf32, strided<[?, 1], offset: ?>> into vector<16x16xf32>
// CHECK:         amx.tile_load %{{.+}} : memref<16x32xbf16, strided<[32, 1], offset: ?>> into vector<16x32xbf16>
// CHECK:         amx.tile_mulf %{{.+}} : vector<16x32xbf16>, vector<16x32xbf16>, vector<16x16xf32>
// CHECK-COUNT-4: amx.tile_store
// CHECK: } else {
// CHECK:   linalg.generic
// CHECK-NOT: llm.micro_kernel
// CHECK: }
func.func @amx(%A: memref<?x16x16x16x2xbf16>, %W: memref<?x16x16x16x2xbf16, strided<[?, ?, ?, ?, ?], offset: ?>>, %C: memref<?x16x?x16xf32>) {
  linalg.generic {indexing_maps = [#a, #w, #c], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction", "reduction", "reduction"]}
      ins(%A, %W : memref<?x16x16x16x2xbf16>, memref<?x16x16x16x2xbf16, strided<[?, ?, ?, ?, ?], offset: ?>>)
      outs(%C : memref<?x16x?x16xf32>) attrs = {llm.micro_kernel = "amx_bf16"} {
  ^bb0(%x: bf16, %y: bf16, %acc: f32):
    %0 = arith.extf %x : bf16 to f32
    %1 = arith.extf %y : bf16 to f32
    %2 = arith.mulf %0, %1 : f32
    %3 = arith.addf %acc, %2 : f32
    linalg.yield %3 : f32
  }
  return
}

// -----

#x = affine_map<(m, nb, ni, kb, kr, kp) -> (m, kb, kr, kp)>
#w = affine_map<(m, nb, ni, kb, kr, kp) -> (nb, kb, kr, ni, kp)>
#y = affine_map<(m, nb, ni, kb, kr, kp) -> (m, nb, ni)>
// CHECK-LABEL: func.func @gemv(
// CHECK: scf.if
// Four weight streams per group; each 64-byte load splits into the even
// (shifted) and odd (masked) bf16 halves, exactly widened.
// CHECK: scf.for %{{.+}} iter_args(%{{.+}} = %{{.+}}, %{{.+}} = %{{.+}}, %{{.+}} = %{{.+}}, %{{.+}} = %{{.+}}) -> (vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>)
// CHECK: %[[PAIRS:.+]] = vector.load %{{.+}} : memref<32xbf16, strided<[1], offset: ?>>, vector<32xbf16>
// CHECK: %[[WORDS:.+]] = vector.bitcast %[[PAIRS]] : vector<32xbf16> to vector<16xi32>
// CHECK: arith.shli %[[WORDS]]
// CHECK: arith.andi %[[WORDS]]
// CHECK: vector.fma
// CHECK: } else {
// CHECK:   linalg.generic
func.func @gemv(%X: memref<1x4x16x2xf32>, %W: memref<8x4x16x16x2xbf16>, %Y: memref<1x8x16xf32>) {
  linalg.generic {indexing_maps = [#x, #w, #y], iterator_types = ["parallel", "parallel", "parallel", "reduction", "reduction", "reduction"]}
      ins(%X, %W : memref<1x4x16x2xf32>, memref<8x4x16x16x2xbf16>)
      outs(%Y : memref<1x8x16xf32>) attrs = {llm.micro_kernel = "vnni_gemv"} {
  ^bb0(%x: f32, %y: bf16, %acc: f32):
    %1 = arith.extf %y : bf16 to f32
    %2 = arith.mulf %x, %1 : f32
    %3 = arith.addf %acc, %2 : f32
    linalg.yield %3 : f32
  }
  return
}

// -----

#m = affine_map<(i) -> (i)>
func.func @unknown(%x: memref<16xf32>) {
  // expected-error @+1 {{'linalg.generic' op unknown llm.micro_kernel 'sgemm'}}
  linalg.generic {indexing_maps = [#m], iterator_types = ["parallel"]}
      outs(%x : memref<16xf32>) attrs = {llm.micro_kernel = "sgemm"} {
  ^bb0(%acc: f32):
    linalg.yield %acc : f32
  }
  return
}

// -----

#m = affine_map<(i) -> (i)>
func.func @misshaped(%x: memref<16xf32>) {
  // expected-error @+1 {{'linalg.generic' op tagged amx_bf16 but not a bufferized 7-loop product of two tiled operands}}
  linalg.generic {indexing_maps = [#m], iterator_types = ["parallel"]}
      outs(%x : memref<16xf32>) attrs = {llm.micro_kernel = "amx_bf16"} {
  ^bb0(%acc: f32):
    linalg.yield %acc : f32
  }
  return
}
