// llm-choose-task-tiles writes llm.task_tiles on the linalg ops of kernel
// functions (largest static parallel loop, at most max-tasks tasks, nothing
// under min-work iterations, never on fills); llm-tile-tasks only reads the
// attribute and tiles into scf.forall.
// RUN: llamac-opt %s -llm-choose-task-tiles -split-input-file | FileCheck %s --check-prefix=CHOOSE
// RUN: llamac-opt %s -llm-choose-task-tiles="max-tasks=4 min-work=64" -split-input-file | FileCheck %s --check-prefix=FOUR
// RUN: llamac-opt %s -llm-choose-task-tiles="max-tasks=3 min-work=0" -split-input-file | FileCheck %s --check-prefix=THREE
// RUN: llamac-opt %s -llm-tile-tasks -split-input-file | FileCheck %s --check-prefix=TILE

// The matmul's largest parallel loop is N = 256: 32 tasks of 8 by default,
// 4 of 64, or 3 of ceil(256 / 3) = 86. The fill is never split; the same ops
// outside a kernel function are left alone.
// CHOOSE-LABEL: func.func private @matmul_kernel(
// CHOOSE: linalg.fill ins(
// CHOOSE: linalg.matmul_transpose_b {llm.task_tiles = array<i64: 0, 8, 0>}
// CHOOSE-LABEL: func.func @not_a_kernel(
// CHOOSE-NOT: llm.task_tiles
// CHOOSE: return
// FOUR-LABEL: func.func private @matmul_kernel(
// FOUR: linalg.matmul_transpose_b {llm.task_tiles = array<i64: 0, 64, 0>}
// FOUR-LABEL: func.func @not_a_kernel(
// FOUR-NOT: llm.task_tiles
// FOUR: return
// THREE-LABEL: func.func private @matmul_kernel(
// THREE: linalg.fill ins(
// THREE: linalg.matmul_transpose_b {llm.task_tiles = array<i64: 0, 86, 0>}
// THREE-LABEL: func.func @not_a_kernel(
// THREE-NOT: llm.task_tiles
// THREE: return
func.func private @matmul_kernel(%x: tensor<64x128xf32>, %w: tensor<256x128xf32>) -> tensor<64x256xf32> attributes {llm.kernel} {
  %cst = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<64x256xf32>
  %f = linalg.fill ins(%cst : f32) outs(%e : tensor<64x256xf32>) -> tensor<64x256xf32>
  %m = linalg.matmul_transpose_b ins(%x, %w : tensor<64x128xf32>, tensor<256x128xf32>) outs(%f : tensor<64x256xf32>) -> tensor<64x256xf32>
  return %m : tensor<64x256xf32>
}
func.func @not_a_kernel(%x: tensor<64x128xf32>, %w: tensor<256x128xf32>) -> tensor<64x256xf32> {
  %cst = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<64x256xf32>
  %f = linalg.fill ins(%cst : f32) outs(%e : tensor<64x256xf32>) -> tensor<64x256xf32>
  %m = linalg.matmul_transpose_b ins(%x, %w : tensor<64x128xf32>, tensor<256x128xf32>) outs(%f : tensor<64x256xf32>) -> tensor<64x256xf32>
  return %m : tensor<64x256xf32>
}

// -----

// 8x8 = 64 iterations: under the default min-work (4096), at the limit of
// min-work=64. Equal loops: the first one is split.
// CHOOSE-LABEL: func.func private @small(
// CHOOSE-NOT: llm.task_tiles
// CHOOSE: return
// FOUR-LABEL: func.func private @small(
// FOUR: linalg.add {llm.task_tiles = array<i64: 2, 0>}
// THREE-LABEL: func.func private @small(
// THREE: linalg.add {llm.task_tiles = array<i64: 3, 0>}
func.func private @small(%x: tensor<8x8xf32>, %y: tensor<8x8xf32>) -> tensor<8x8xf32> attributes {llm.kernel} {
  %e = tensor.empty() : tensor<8x8xf32>
  %r = linalg.add ins(%x, %y : tensor<8x8xf32>, tensor<8x8xf32>) outs(%e : tensor<8x8xf32>) -> tensor<8x8xf32>
  return %r : tensor<8x8xf32>
}

// -----

// A dynamic loop is never split; for the work estimate it counts as
// dynamic-trip-count (64) iterations: 64 x 100 >= 4096.
// CHOOSE-LABEL: func.func private @dynamic_rows(
// CHOOSE: linalg.add {llm.task_tiles = array<i64: 0, 4>}
// FOUR-LABEL: func.func private @dynamic_rows(
// FOUR: linalg.add {llm.task_tiles = array<i64: 0, 25>}
// THREE-LABEL: func.func private @dynamic_rows(
// THREE: linalg.add {llm.task_tiles = array<i64: 0, 34>}
func.func private @dynamic_rows(%x: tensor<?x100xf32>, %y: tensor<?x100xf32>) -> tensor<?x100xf32> attributes {llm.kernel} {
  %c0 = arith.constant 0 : index
  %d = tensor.dim %x, %c0 : tensor<?x100xf32>
  %e = tensor.empty(%d) : tensor<?x100xf32>
  %r = linalg.add ins(%x, %y : tensor<?x100xf32>, tensor<?x100xf32>) outs(%e : tensor<?x100xf32>) -> tensor<?x100xf32>
  return %r : tensor<?x100xf32>
}

// -----

// Reduction loops are never split, even when larger: the 4 rows are; a pure
// reduction has nothing to split.
#rows = affine_map<(d0, d1) -> (d0, d1)>
#row = affine_map<(d0, d1) -> (d0)>
#all = affine_map<(d0) -> (d0)>
#none = affine_map<(d0) -> ()>
// CHOOSE-LABEL: func.func private @reductions(
// CHOOSE: linalg.generic {{.*}}iterator_types = ["parallel", "reduction"]
// CHOOSE-SAME: llm.task_tiles = array<i64: 1, 0>
// CHOOSE: linalg.generic {{.*}}iterator_types = ["reduction"]
// CHOOSE-NOT: llm.task_tiles
// CHOOSE: return
func.func private @reductions(%x: tensor<4x8192xf32>, %acc: tensor<4xf32>, %v: tensor<8192xf32>, %s: tensor<f32>)
    -> (tensor<4xf32>, tensor<f32>) attributes {llm.kernel} {
  %r = linalg.generic {indexing_maps = [#rows, #row], iterator_types = ["parallel", "reduction"]}
      ins(%x : tensor<4x8192xf32>) outs(%acc : tensor<4xf32>) {
  ^bb0(%in: f32, %out: f32):
    %a = arith.addf %in, %out : f32
    linalg.yield %a : f32
  } -> tensor<4xf32>
  %t = linalg.generic {indexing_maps = [#all, #none], iterator_types = ["reduction"]}
      ins(%v : tensor<8192xf32>) outs(%s : tensor<f32>) {
  ^bb0(%in: f32, %out: f32):
    %a = arith.addf %in, %out : f32
    linalg.yield %a : f32
  } -> tensor<f32>
  return %r, %t : tensor<4xf32>, tensor<f32>
}

// -----

// A micro-kernel op is split only along its weight (second operand) tiles,
// whatever its other operands (here a decode product with quantized inputs,
// whose input scales come last).
#x = affine_map<(m, nb, ni, kb, kr, kp) -> (m, kb, kr, kp)>
#q = affine_map<(m, nb, ni, kb, kr, kp) -> (nb, kb, kr, ni, kp)>
#s = affine_map<(m, nb, ni, kb, kr, kp) -> (nb, kb, ni)>
#dx = affine_map<(m, nb, ni, kb, kr, kp) -> (m, kb)>
#y = affine_map<(m, nb, ni, kb, kr, kp) -> (m, nb, ni)>
// CHOOSE-LABEL: func.func private @quantized_inputs(
// CHOOSE: llm.task_tiles = array<i64: 0, 2, 0, 0, 0, 0>
func.func private @quantized_inputs(%x: tensor<1x64x16x2xi8>, %q: tensor<64x64x16x16x2xi8>, %s: tensor<64x64x16xf16>, %dx: tensor<1x64xf32>, %y: tensor<1x64x16xf32>) -> tensor<1x64x16xf32> attributes {llm.kernel} {
  %r = linalg.generic {indexing_maps = [#x, #q, #s, #dx, #y], iterator_types = ["parallel", "parallel", "parallel", "reduction", "reduction", "reduction"]}
      ins(%x, %q, %s, %dx : tensor<1x64x16x2xi8>, tensor<64x64x16x16x2xi8>, tensor<64x64x16xf16>, tensor<1x64xf32>)
      outs(%y : tensor<1x64x16xf32>) attrs = {llm.micro_kernel = "q8_0_i8_gemv"} {
  ^bb0(%xq: i8, %c: i8, %d: f16, %sx: f32, %acc: f32):
    %0 = arith.sitofp %c : i8 to f32
    %1 = arith.addf %acc, %0 : f32
    linalg.yield %1 : f32
  } -> tensor<1x64x16xf32>
  return %r : tensor<1x64x16xf32>
}

// -----

// llm-tile-tasks: a pinned [0, 64, 0] splits N = 256 into a forall of step 64
// over 64x64 output tiles; the attribute is consumed.
// TILE-LABEL: func.func @pinned(
// TILE-SAME: %[[X:[a-z0-9_]+]]: tensor<64x128xf32>, %[[W:[a-z0-9_]+]]: tensor<256x128xf32>, %[[O:[a-z0-9_]+]]: tensor<64x256xf32>
// TILE-NOT: llm.task_tiles
// TILE: %[[R:.+]] = scf.forall (%[[I:.+]]) = (0) to (256) step (64) shared_outs(%[[ACC:.+]] = %[[O]]) -> (tensor<64x256xf32>)
// TILE: %[[XS:.+]] = tensor.extract_slice %[[X]][0, 0] [64, 128] [1, 1]
// TILE: %[[WS:.+]] = tensor.extract_slice %[[W]][%[[I]], 0] [64, 128] [1, 1]
// TILE: %[[OS:.+]] = tensor.extract_slice %[[ACC]][0, %[[I]]] [64, 64] [1, 1] : tensor<64x256xf32> to tensor<64x64xf32>
// TILE: %[[T:.+]] = linalg.matmul_transpose_b ins(%[[XS]], %[[WS]] : tensor<64x128xf32>, tensor<64x128xf32>) outs(%[[OS]] : tensor<64x64xf32>)
// TILE: scf.forall.in_parallel
// TILE: tensor.parallel_insert_slice %[[T]] into %[[ACC]][0, %[[I]]] [64, 64] [1, 1]
// TILE-NOT: llm.task_tiles
// TILE: return %[[R]]
func.func @pinned(%x: tensor<64x128xf32>, %w: tensor<256x128xf32>, %o: tensor<64x256xf32>) -> tensor<64x256xf32> {
  %m = linalg.matmul_transpose_b {llm.task_tiles = array<i64: 0, 64, 0>}
      ins(%x, %w : tensor<64x128xf32>, tensor<256x128xf32>) outs(%o : tensor<64x256xf32>) -> tensor<64x256xf32>
  return %m : tensor<64x256xf32>
}

// -----

// 100 columns in tiles of 34: the last task is clipped to 32.
// TILE: #[[MIN:.+]] = affine_map<(d0) -> (34, -d0 + 100)>
// TILE-LABEL: func.func @uneven(
// TILE-SAME: %[[X:[a-z0-9_]+]]: tensor<?x100xf32>, %[[Y:[a-z0-9_]+]]: tensor<?x100xf32>, %[[O:[a-z0-9_]+]]: tensor<?x100xf32>
// TILE: %[[R:.+]] = scf.forall (%[[J:.+]]) = (0) to (100) step (34) shared_outs(%[[ACC:.+]] = %[[O]]) -> (tensor<?x100xf32>)
// TILE: %[[SIZE:.+]] = affine.min #[[MIN]](%[[J]])
// TILE: tensor.extract_slice %[[X]][0, %[[J]]] [%{{.+}}, %[[SIZE]]] [1, 1] : tensor<?x100xf32> to tensor<?x?xf32>
// TILE: %[[T:.+]] = linalg.add
// TILE-NOT: llm.task_tiles
// TILE: tensor.parallel_insert_slice %[[T]] into %[[ACC]][0, %[[J]]] [%{{.+}}, %[[SIZE]]] [1, 1]
// TILE: return %[[R]]
func.func @uneven(%x: tensor<?x100xf32>, %y: tensor<?x100xf32>, %o: tensor<?x100xf32>) -> tensor<?x100xf32> {
  %r = linalg.add {llm.task_tiles = array<i64: 0, 34>}
      ins(%x, %y : tensor<?x100xf32>, tensor<?x100xf32>) outs(%o : tensor<?x100xf32>) -> tensor<?x100xf32>
  return %r : tensor<?x100xf32>
}

// -----

// Without the attribute nothing is tiled, even in a kernel.
// TILE-LABEL: func.func private @unmarked(
// TILE-NOT: scf.forall
// TILE: linalg.add ins
// TILE-NOT: scf.forall
// TILE: return
func.func private @unmarked(%x: tensor<64x64xf32>, %y: tensor<64x64xf32>, %o: tensor<64x64xf32>) -> tensor<64x64xf32> attributes {llm.kernel} {
  %r = linalg.add ins(%x, %y : tensor<64x64xf32>, tensor<64x64xf32>) outs(%o : tensor<64x64xf32>) -> tensor<64x64xf32>
  return %r : tensor<64x64xf32>
}
