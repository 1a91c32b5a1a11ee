// llm-lower-micro-kernels on f32_panels products: a register-blocked
// broadcast-FMA GEMM (`rows` rows x four 16-lane vectors of a 64-wide panel,
// accumulators carried through the k loop), a GEMV streaming four panels
// for one row, and the untagged op as the non-contiguous fallback. The
// tuning values are the op's own (a second run pins smaller ones).
// RUN: llamac-opt %s -llm-lower-micro-kernels -split-input-file -verify-diagnostics | FileCheck %s
// RUN: sed -e 's/rows = 6, depth = 1024, prefetch = 16/rows = 2, depth = 16, prefetch = 0/' %s | llamac-opt -llm-lower-micro-kernels -split-input-file -verify-diagnostics | FileCheck %s --check-prefix=SMALL

#x = affine_map<(m, nb, ni, k) -> (m, k)>
#w = affine_map<(m, nb, ni, k) -> (nb, k, ni)>
#y = affine_map<(m, nb, ni, k) -> (m, nb, ni)>
// CHECK-LABEL: func.func @gemm(
// CHECK: scf.if %{{.+}} {
// Few rows: the GEMV.
// CHECK:   scf.if %{{.+}} {
// CHECK:   } else {
// Row chunks, depth blocks of 1024, panels, blocks of 6 rows.
// CHECK:     scf.for
// CHECK:       scf.for %{{.+}} = %c0 to %c256 step %c1024
// CHECK:         scf.for
// CHECK:           scf.for %{{.+}} = %{{.+}} to %{{.+}} step %c6
// CHECK-COUNT-24:    vector.load %{{.+}} : memref<64xf32, strided<[1], offset: ?>>, vector<16xf32>
// CHECK:             scf.for %{{.+}} iter_args({{.*}}) -> (vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>)
// CHECK-COUNT-4:       vector.load %{{.+}} : memref<64xf32, strided<[1], offset: ?>>, vector<16xf32>
// CHECK-COUNT-4:       memref.prefetch %{{.+}}, read, locality<3>, data : memref<64xf32, strided<[1], offset: ?>>
// CHECK:               memref.load %{{.+}} : memref<1xf32, strided<[1], offset: ?>>
// CHECK:               vector.splat
// CHECK-COUNT-4:       vector.fma
// CHECK:             scf.yield
// CHECK-COUNT-24:    vector.store
// The remaining rows as one block of 1 to 5 rows.
// CHECK:           scf.if
// CHECK:             scf.for %{{.+}} iter_args({{.*}}) -> (vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>)
// CHECK:           scf.if
// CHECK:             scf.for %{{.+}} iter_args({{.*}}) -> (vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>)
// CHECK-COUNT-3:     scf.for %{{.+}} iter_args({{.*}})
// CHECK: } else {
// CHECK:   linalg.generic
// CHECK-NOT: llm.micro_kernel
// CHECK: }
// SMALL-LABEL: func.func @gemm(
// SMALL: scf.for %{{.+}} = %c0 to %c256 step %c16
// SMALL: scf.for %{{.+}} = %{{.+}} to %{{.+}} step %c2
// SMALL: scf.for %{{.+}} iter_args({{.*}}) -> (vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>)
// SMALL-NOT: memref.prefetch
func.func @gemm(%X: memref<?x256xf32, strided<[?, ?], offset: ?>>, %W: memref<?x256x64xf32, strided<[?, ?, ?], offset: ?>>, %Y: memref<?x?x64xf32, strided<[?, ?, ?], offset: ?>>) {
  linalg.generic {indexing_maps = [#x, #w, #y], iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%X, %W : memref<?x256xf32, strided<[?, ?], offset: ?>>, memref<?x256x64xf32, strided<[?, ?, ?], offset: ?>>)
      outs(%Y : memref<?x?x64xf32, strided<[?, ?, ?], offset: ?>>) attrs = {llm.micro_kernel = #llm.micro_kernel<f32_panels, rows = 6, depth = 1024, prefetch = 16>} {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %0 = arith.mulf %a, %b : f32
    %1 = arith.addf %acc, %0 : f32
    linalg.yield %1 : f32
  }
  return
}

// -----

#x = affine_map<(m, nb, ni, k) -> (m, k)>
#w = affine_map<(m, nb, ni, k) -> (nb, k, ni)>
#y = affine_map<(m, nb, ni, k) -> (m, nb, ni)>
// One static row: the GEMV only, four panels (16 accumulators) per group,
// then the remaining panels one at a time.
// CHECK-LABEL: func.func @gemv(
// CHECK: scf.if
// CHECK-NOT: scf.if
// CHECK: scf.for %{{.+}} = %{{.+}} to %{{.+}} step %{{.+}} iter_args({{.*}}) -> (vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>)
// CHECK: vector.splat
// CHECK-COUNT-16: vector.fma
// CHECK: scf.for %{{.+}} = %{{.+}} to %{{.+}} step %{{.+}} iter_args({{.*}}) -> (vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>)
// CHECK: } else {
// CHECK:   linalg.generic
func.func @gemv(%X: memref<1x32xf32>, %W: memref<6x32x64xf32>, %Y: memref<1x6x64xf32>) {
  linalg.generic {indexing_maps = [#x, #w, #y], iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%X, %W : memref<1x32xf32>, memref<6x32x64xf32>)
      outs(%Y : memref<1x6x64xf32>) attrs = {llm.micro_kernel = #llm.micro_kernel<f32_panels, rows = 6, depth = 1024, prefetch = 16>} {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %0 = arith.mulf %a, %b : f32
    %1 = arith.addf %acc, %0 : f32
    linalg.yield %1 : f32
  }
  return
}

// -----

#x = affine_map<(m, nb, ni, k) -> (m, k)>
#w = affine_map<(m, nb, ni, k) -> (nb, k, ni)>
#y = affine_map<(m, nb, ni, k) -> (m, nb, ni)>
func.func @not_panels(%X: memref<?x32xf32>, %W: memref<6x32x32xf32>, %Y: memref<?x6x32xf32>) {
  // expected-error @+1 {{tagged f32_panels but its operands are not f32 [m, k] inputs, f32 [nb, k, 64] panels and an f32 [m, nb, 64] result}}
  linalg.generic {indexing_maps = [#x, #w, #y], iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%X, %W : memref<?x32xf32>, memref<6x32x32xf32>)
      outs(%Y : memref<?x6x32xf32>) attrs = {llm.micro_kernel = #llm.micro_kernel<f32_panels, rows = 6, depth = 1024, prefetch = 16>} {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %0 = arith.mulf %a, %b : f32
    %1 = arith.addf %acc, %0 : f32
    linalg.yield %1 : f32
  }
  return
}
