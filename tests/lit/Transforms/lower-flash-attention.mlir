// llm-lower-flash-attention: llm.flash_attention on buffers becomes tasks
// running the online softmax over blocks of `lanes` keys up to each query's
// causal limit (full blocks, then masked partial ones whose value rows past
// the limit are never read); the query heads of a group share each load.
// Many queries (flash_transposed_keys): one task per (KV head, `rows`
// tokens), every row's scores in registers, the accumulators in the task's
// stack frame. One query (flash_key_rows): one task per (token, KV head).
// Rows of q, K and V must be contiguous (checked at run time).
// RUN: llamac-opt %s -llm-lower-flash-attention -split-input-file -verify-diagnostics | FileCheck %s

// Many queries: the keys are transposed into a buffer padded to 16 rows;
// a task is 4 tokens x 2 query heads = 8 rows of one KV head, head-major.
// Its block of keys: one key vector per head_dim element serves the 8 rows
// (16 dims x 8 rows FMAs). The softmax runs across rows: the 8 score
// vectors (padded to 16 by repeating the last) reduce to one vector of
// maxima by 4 levels of shuffles and maxnumf, the old maxima's worth is
// one vector exp, each row's weights are exp(scores - its maximum
// broadcast from its lane), stored for the P.V product, and reduce to one
// vector of sums. P.V takes a tile of 8 rows (as many accumulators as
// scores): loaded, rescaled by each row's lane of the worth, then a loop
// over the block's 16 keys. Unmasked blocks up to the first row's limit,
// then masked ones (a mask per row, a loop over the valid value rows) up
// to the last row's; only real tokens are stored.
// CHECK-LABEL: func.func @transposed_keys(
// CHECK: %[[KT:.+]] = memref.alloc(%{{.+}}) {alignment = 64 : i64} : memref<1x16x?xf32>
// CHECK: linalg.transpose ins(%{{.+}} : memref<1x?x16xf32, strided<[?, ?, ?], offset: ?>>) outs(%{{.+}} : memref<1x16x?xf32, strided<[?, ?, 1], offset: ?>>) permutation = [0, 2, 1]
// CHECK: %[[BLOCKS:.+]] = arith.divui %{{.+}}, %c4{{.*}} : index
// CHECK: %[[TASKS:.+]] = arith.muli %[[BLOCKS]], %c1
// CHECK: scf.forall (%[[TASK:.+]]) in (%[[TASKS]])
// CHECK:   memref.alloca_scope
// CHECK:     %[[HEAD:.+]] = arith.divui %[[TASK]], %[[BLOCKS]]
// CHECK:     arith.minui
// CHECK:     %[[ACC:.+]] = memref.alloca() {alignment = 64 : i64} : memref<8x16xf32>
// CHECK:     %[[P:.+]] = memref.alloca() {alignment = 64 : i64} : memref<8x16xf32>
// CHECK:     %[[FULL:.+]]:2 = scf.for %{{.+}} = %{{.+}} to %{{.+}} step %{{.+}} iter_args(%[[MAX:.+]] = %{{.+}}, %[[SUM:.+]] = %{{.+}}) -> (vector<16xf32>, vector<16xf32>)
// CHECK-COUNT-128: vector.fma
// CHECK:       vector.shuffle %{{.+}}, %{{.+}} [0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23]
// CHECK:       arith.maxnumf
// CHECK:       vector.shuffle %{{.+}}, %{{.+}} [1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31]
// CHECK:       %[[BLOCKMAX:.+]] = arith.maxnumf
// CHECK:       %[[NEWMAX:.+]] = arith.maxnumf %[[MAX]], %[[BLOCKMAX]] : vector<16xf32>
// CHECK:       %[[OLD:.+]] = arith.subf %[[MAX]], %[[NEWMAX]]
// CHECK:       %[[WORTH:.+]] = math.exp %[[OLD]] : vector<16xf32>
// CHECK:       vector.shuffle %[[NEWMAX]], %[[NEWMAX]] [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
// CHECK:       math.exp
// CHECK:       vector.store %{{.+}}, %[[P]]
// CHECK:       vector.shuffle %[[NEWMAX]], %[[NEWMAX]] [7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7]
// CHECK:       vector.shuffle %{{.+}}, %{{.+}} [1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31]
// CHECK:       %[[SUMS:.+]] = arith.addf
// CHECK:       %[[NEWSUM:.+]] = vector.fma %[[SUM]], %[[WORTH]], %[[SUMS]]
// CHECK:       vector.shuffle %[[WORTH]], %[[WORTH]] [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
// CHECK:       vector.load %[[ACC]]
// CHECK:       arith.mulf
// CHECK:       %[[TILE:.+]]:8 = scf.for %{{.+}} = %c0{{.*}} to %c16{{.*}} step %c1
// CHECK-COUNT-8: vector.fma
// CHECK:       vector.store %[[TILE]]#0, %[[ACC]]
// CHECK:       scf.yield %[[NEWMAX]], %[[NEWSUM]]
// CHECK:     %[[PARTIAL:.+]]:2 = scf.for %{{.+}} = %{{.+}} to %{{.+}} step %{{.+}} iter_args({{.*}}%[[FULL]]#0
// CHECK:       vector.create_mask
// CHECK:       arith.select
// CHECK:       scf.for
// CHECK:         memref.load %[[P]]
// CHECK:     %[[INVERSES:.+]] = arith.divf %{{.+}}, %[[PARTIAL]]#1 : vector<16xf32>
// CHECK:     scf.if
// CHECK:       vector.load %[[ACC]]
// CHECK:       vector.store %{{.+}}, %{{.+}} : memref<?x2x16xf32>, vector<16xf32>
// CHECK-NOT: llm.flash_attention
func.func @transposed_keys(%q: memref<?x2x16xf32, strided<[?, ?, ?], offset: ?>>, %k: memref<1x?x16xf32, strided<[?, ?, ?], offset: ?>>,
                           %v: memref<1x?x16xf32, strided<[?, ?, ?], offset: ?>>, %o: memref<?x2x16xf32>, %pos: index) {
  llm.flash_attention %q, %k, %v at %pos into %o {scale = 0.25 : f64, micro_kernel = #llm.micro_kernel<flash_transposed_keys, rows = 4, lanes = 16>}
      : memref<?x2x16xf32, strided<[?, ?, ?], offset: ?>>, memref<1x?x16xf32, strided<[?, ?, ?], offset: ?>>, memref<1x?x16xf32, strided<[?, ?, ?], offset: ?>>, memref<?x2x16xf32>
  return
}

// -----

// One query: the key rows are read as they are, instead of transposing the
// history every step. A full block of 16 keys sums each query head's 16
// dot products together, 4 levels of shuffles (the first pairs each
// vector's halves, the last its even and odd lanes); the partial block
// reduces one score at a time. The weights pass through the task's stack
// frame, 2 heads x 16 keys (the f32 cache is read in place, not copied).
// CHECK-LABEL: func.func @key_rows(
// CHECK-NOT: linalg.transpose
// CHECK: cf.assert %{{.+}}, "llm.attention: rows of q, K and V must be contiguous"
// CHECK: scf.forall
// CHECK: memref.alloca_scope
// CHECK-NOT: memref.alloca() {{.*}} : memref<16x16xf32>
// CHECK: memref.alloca() {alignment = 64 : i64} : memref<2x16xf32>
// CHECK: scf.for
// CHECK: vector.shuffle %{{.+}}, %{{.+}} [0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23]
// CHECK: vector.shuffle %{{.+}}, %{{.+}} [0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30]
// CHECK: vector.shuffle %{{.+}}, %{{.+}} [1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31]
// CHECK:   vector.reduction <maxnumf>
// CHECK: scf.if
// CHECK:   vector.reduction <add>
// CHECK:   vector.insertelement
func.func @key_rows(%q: memref<1x2x16xf32, strided<[?, ?, ?], offset: ?>>, %k: memref<1x?x16xf32, strided<[?, ?, ?], offset: ?>>,
                    %v: memref<1x?x16xf32, strided<[?, ?, ?], offset: ?>>, %o: memref<1x2x16xf32>, %pos: index) {
  llm.flash_attention %q, %k, %v at %pos into %o {scale = 0.25 : f64, micro_kernel = #llm.micro_kernel<flash_key_rows, lanes = 16>}
      : memref<1x2x16xf32, strided<[?, ?, ?], offset: ?>>, memref<1x?x16xf32, strided<[?, ?, ?], offset: ?>>, memref<1x?x16xf32, strided<[?, ?, ?], offset: ?>>, memref<1x2x16xf32>
  return
}

// -----

// A bf16 history: the keys are widened as they are transposed into the f32
// buffer, the value rows as they are loaded.
// CHECK-LABEL: func.func @bf16_history(
// CHECK: %[[KT:.+]] = memref.alloc(%{{.+}}) {alignment = 64 : i64} : memref<1x16x?xf32>
// CHECK: linalg.generic {{.*}} ins(%{{.+}} : memref<1x?x16xbf16>) outs(%{{.+}} : memref<1x16x?xf32, strided<[?, ?, 1], offset: ?>>)
// CHECK:   arith.extf %{{.+}} : bf16 to f32
// CHECK: scf.forall
// CHECK:   vector.load %{{.+}} : memref<1x?x16xbf16>, vector<16xbf16>
// CHECK:   arith.extf %{{.+}} : vector<16xbf16> to vector<16xf32>
func.func @bf16_history(%q: memref<?x2x16xf32>, %k: memref<1x?x16xbf16>, %v: memref<1x?x16xbf16>, %o: memref<?x2x16xf32>, %pos: index) {
  llm.flash_attention %q, %k, %v at %pos into %o {scale = 0.25 : f64, micro_kernel = #llm.micro_kernel<flash_transposed_keys, rows = 4, lanes = 16>}
      : memref<?x2x16xf32>, memref<1x?x16xbf16>, memref<1x?x16xbf16>, memref<?x2x16xf32>
  return
}

// -----

// A q8_0 history (rows of 34-byte blocks: f16 scale, 32 int8 codes): the
// transposition reads each block's codes and scale bytes through a
// [kv, t, blocks, 34] view into keysT viewed as [kv, blocks, 32, t]; a
// value chunk is 16 codes widened and multiplied by its block's scale,
// loaded as two bytes and bitcast.
// CHECK-LABEL: func.func @q8_history(
// CHECK: %[[BLOCKS:.+]] = memref.expand_shape %{{.+}} {{\[\[}}0], [1], [2, 3]] output_shape [1, %{{.+}}, 1, 34] : memref<1x?x34xi8> into memref<1x?x1x34xi8>
// CHECK: %[[KTB:.+]] = memref.expand_shape %{{.+}} {{\[\[}}0], [1, 2], [3]] output_shape [1, 1, 32, %{{.+}}]
// CHECK: linalg.generic {{.*}} ins(%[[BLOCKS]], %[[BLOCKS]], %[[BLOCKS]] : {{.*}}) outs(%[[KTB]] :
// CHECK:   arith.bitcast %{{.+}} : i16 to f16
// CHECK:   arith.sitofp %{{.+}} : i8 to f32
// CHECK: scf.forall
// CHECK:   vector.load %{{.+}}[%{{.+}}, %{{.+}}, %c2{{.*}}] : memref<1x?x34xi8>, vector<16xi8>
// CHECK:   vector.load %{{.+}}[%{{.+}}, %{{.+}}, %c0{{.*}}] : memref<1x?x34xi8>, vector<2xi8>
// CHECK:   vector.bitcast %{{.+}} : vector<2xi8> to vector<1xf16>
// CHECK:   arith.sitofp %{{.+}} : vector<16xi8> to vector<16xf32>
func.func @q8_history(%q: memref<?x2x32xf32>, %k: memref<1x?x34xi8>, %v: memref<1x?x34xi8>, %o: memref<?x2x32xf32>, %pos: index) {
  llm.flash_attention %q, %k, %v at %pos into %o {scale = 0.25 : f64, micro_kernel = #llm.micro_kernel<flash_transposed_keys, rows = 4, lanes = 16>}
      : memref<?x2x32xf32>, memref<1x?x34xi8>, memref<1x?x34xi8>, memref<?x2x32xf32>
  return
}

// -----

// The vector width is the micro-kernel's `lanes`.
// CHECK-LABEL: func.func @eight_lanes(
// CHECK: math.exp {{.*}} : vector<8xf32>
// CHECK-NOT: vector<16xf32>
func.func @eight_lanes(%q: memref<?x2x16xf32>, %k: memref<1x?x16xf32>, %v: memref<1x?x16xf32>, %o: memref<?x2x16xf32>, %pos: index) {
  llm.flash_attention %q, %k, %v at %pos into %o {scale = 0.25 : f64, micro_kernel = #llm.micro_kernel<flash_transposed_keys, rows = 4, lanes = 8>}
      : memref<?x2x16xf32>, memref<1x?x16xf32>, memref<1x?x16xf32>, memref<?x2x16xf32>
  return
}

// -----

func.func @on_tensors(%q: tensor<?x2x16xf32>, %k: tensor<1x?x16xf32>, %o: tensor<?x2x16xf32>, %pos: index) -> tensor<?x2x16xf32> {
  // expected-error @+1 {{'llm.flash_attention' op must be bufferized before llm-lower-flash-attention}}
  %r = llm.flash_attention %q, %k, %k at %pos into %o {scale = 0.25 : f64, micro_kernel = #llm.micro_kernel<flash_transposed_keys, rows = 4, lanes = 16>}
      : tensor<?x2x16xf32>, tensor<1x?x16xf32>, tensor<1x?x16xf32>, tensor<?x2x16xf32> -> tensor<?x2x16xf32>
  return %r : tensor<?x2x16xf32>
}
