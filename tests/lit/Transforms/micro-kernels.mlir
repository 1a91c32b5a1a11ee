// llm-lower-micro-kernels: tagged products by vnni16x32 tiles become AMX
// tile code or vdpbf16ps code (prefill) or FMA code on bf16 pairs (decode), each behind a
// run-time check that the tiles are contiguous, with the op itself (tag
// dropped) as the fallback. The module's target must have the instructions
// a kind emits.
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
module attributes {llm.target = #llm.target<cpu = "sapphirerapids", triple = "x86_64-unknown-linux-gnu", features = ["amx-bf16", "amx-tile", "avx512bw", "avx512f", "avx512vnni"]>} {
func.func @amx(%A: memref<?x16x16x16x2xbf16>, %W: memref<?x16x16x16x2xbf16, strided<[?, ?, ?, ?, ?], offset: ?>>, %C: memref<?x16x?x16xf32>) {
  linalg.generic {indexing_maps = [#a, #w, #c], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction", "reduction", "reduction"]}
      ins(%A, %W : memref<?x16x16x16x2xbf16>, memref<?x16x16x16x2xbf16, strided<[?, ?, ?, ?, ?], offset: ?>>)
      outs(%C : memref<?x16x?x16xf32>) attrs = {llm.micro_kernel = #llm.micro_kernel<amx_bf16, unroll = 8>} {
  ^bb0(%x: bf16, %y: bf16, %acc: f32):
    %0 = arith.extf %x : bf16 to f32
    %1 = arith.extf %y : bf16 to f32
    %2 = arith.mulf %0, %1 : f32
    %3 = arith.addf %acc, %2 : f32
    linalg.yield %3 : f32
  }
  return
}
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
module attributes {llm.target = #llm.target<cpu = "sapphirerapids", triple = "x86_64-unknown-linux-gnu", features = ["amx-bf16", "amx-tile", "avx512bw", "avx512f", "avx512vnni"]>} {
func.func @gemv(%X: memref<1x4x16x2xf32>, %W: memref<8x4x16x16x2xbf16>, %Y: memref<1x8x16xf32>) {
  linalg.generic {indexing_maps = [#x, #w, #y], iterator_types = ["parallel", "parallel", "parallel", "reduction", "reduction", "reduction"]}
      ins(%X, %W : memref<1x4x16x2xf32>, memref<8x4x16x16x2xbf16>)
      outs(%Y : memref<1x8x16xf32>) attrs = {llm.micro_kernel = #llm.micro_kernel<vnni_gemv>} {
  ^bb0(%x: f32, %y: bf16, %acc: f32):
    %1 = arith.extf %y : bf16 to f32
    %2 = arith.mulf %x, %1 : f32
    %3 = arith.addf %acc, %2 : f32
    linalg.yield %3 : f32
  }
  return
}
}

// -----

#m = affine_map<(i) -> (i)>
module attributes {llm.target = #llm.target<cpu = "sapphirerapids", triple = "x86_64-unknown-linux-gnu", features = ["amx-bf16", "amx-tile", "avx512bw", "avx512f", "avx512vnni"]>} {
func.func @unknown(%x: memref<16xf32>) {
  // expected-error @+1 {{'linalg.generic' op llm.micro_kernel must be a #llm.micro_kernel}}
  linalg.generic {indexing_maps = [#m], iterator_types = ["parallel"]}
      outs(%x : memref<16xf32>) attrs = {llm.micro_kernel = "sgemm"} {
  ^bb0(%acc: f32):
    linalg.yield %acc : f32
  }
  return
}
}

// -----

#m = affine_map<(i) -> (i)>
module attributes {llm.target = #llm.target<cpu = "sapphirerapids", triple = "x86_64-unknown-linux-gnu", features = ["amx-bf16", "amx-tile", "avx512bw", "avx512f", "avx512vnni"]>} {
func.func @misshaped(%x: memref<16xf32>) {
  // expected-error @+1 {{'linalg.generic' op tagged amx_bf16 but not a bufferized 7-loop product of two tiled operands}}
  linalg.generic {indexing_maps = [#m], iterator_types = ["parallel"]}
      outs(%x : memref<16xf32>) attrs = {llm.micro_kernel = #llm.micro_kernel<amx_bf16, unroll = 8>} {
  ^bb0(%acc: f32):
    linalg.yield %acc : f32
  }
  return
}
}

// -----

#x = affine_map<(m, nb, ni, kb, kr, kp) -> (m, kb, kr, kp)>
#q = affine_map<(m, nb, ni, kb, kr, kp) -> (nb, kb, kr, ni, kp)>
#s = affine_map<(m, nb, ni, kb, kr, kp) -> (nb, kb, ni)>
#y = affine_map<(m, nb, ni, kb, kr, kp) -> (m, nb, ni)>
// Q8_0: four weight streams per group, two accumulators each (outputs 0-7
// and 8-15 as lane pairs); the input pair is broadcast to every lane pair,
// each 16-code half of a pair row is widened straight from memory and
// multiplied in; a block's sums are scaled by its 16 f16 scales duplicated
// per lane pair; the pairs are added when the row is done.
// CHECK-LABEL: func.func @q8_gemv(
// CHECK: scf.if
// CHECK: scf.for %{{.+}} iter_args({{.+}}) -> (vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>)
// CHECK: %[[PAIR:.+]] = vector.load %{{.+}} : memref<32xf32, strided<[1], offset: ?>>, vector<2xf32>
// CHECK: %[[PAIRS:.+]] = vector.shuffle %[[PAIR]], %[[PAIR]] [0, 1, 0, 1,
// CHECK: %[[CODES:.+]] = vector.load %{{.+}} : memref<16xi8, strided<[1], offset: ?>>, vector<16xi8>
// CHECK: %[[W:.+]] = arith.sitofp %[[CODES]] : vector<16xi8> to vector<16xf32>
// CHECK: vector.fma %[[W]], %[[PAIRS]], %{{.+}} : vector<16xf32>
// CHECK: %[[SCALES:.+]] = vector.load %{{.+}} : memref<16xf16, strided<[1], offset: ?>>, vector<16xf16>
// CHECK: %[[WIDE:.+]] = arith.extf %[[SCALES]] : vector<16xf16> to vector<16xf32>
// CHECK: %[[LOW:.+]] = vector.shuffle %[[WIDE]], %[[WIDE]] [0, 0, 1, 1,
// CHECK: vector.fma %{{.+}}, %[[LOW]], %{{.+}} : vector<16xf32>
// CHECK: %[[HIGH:.+]] = vector.shuffle %[[WIDE]], %[[WIDE]] [8, 8, 9, 9,
// CHECK: vector.fma %{{.+}}, %[[HIGH]], %{{.+}} : vector<16xf32>
// CHECK: %[[EVEN:.+]] = vector.shuffle %{{.+}}, %{{.+}} [0, 2, 4,
// CHECK: %[[ODD:.+]] = vector.shuffle %{{.+}}, %{{.+}} [1, 3, 5,
// CHECK: arith.addf %[[EVEN]], %[[ODD]] : vector<16xf32>
// CHECK: } else {
// CHECK:   linalg.generic
// CHECK-NOT: llm.micro_kernel
// CHECK: }
module attributes {llm.target = #llm.target<cpu = "sapphirerapids", triple = "x86_64-unknown-linux-gnu", features = ["amx-bf16", "amx-tile", "avx512bw", "avx512f", "avx512vnni"]>} {
func.func @q8_gemv(%X: memref<?x4x16x2xf32>, %Q: memref<8x4x16x16x2xi8>, %S: memref<8x4x16xf16>, %Y: memref<?x8x16xf32>) {
  linalg.generic {indexing_maps = [#x, #q, #s, #y], iterator_types = ["parallel", "parallel", "parallel", "reduction", "reduction", "reduction"]}
      ins(%X, %Q, %S : memref<?x4x16x2xf32>, memref<8x4x16x16x2xi8>, memref<8x4x16xf16>)
      outs(%Y : memref<?x8x16xf32>) attrs = {llm.micro_kernel = #llm.micro_kernel<q8_0_gemv>} {
  ^bb0(%x: f32, %q: i8, %d: f16, %acc: f32):
    %0 = arith.sitofp %q : i8 to f32
    %1 = arith.extf %d : f16 to f32
    %2 = arith.mulf %0, %1 : f32
    %3 = arith.mulf %x, %2 : f32
    %4 = arith.addf %acc, %3 : f32
    linalg.yield %4 : f32
  }
  return
}
}

// -----

#x = affine_map<(m, nb, ni, kb, kr, kp) -> (m, kb, kr, kp)>
#q = affine_map<(m, nb, ni, kb, kr, kp) -> (nb, kb, kr, ni)>
#s = affine_map<(m, nb, ni, kb, kr, kp) -> (nb, kb, ni)>
#y = affine_map<(m, nb, ni, kb, kr, kp) -> (m, nb, ni)>
// Q4_0: one 16-byte load per pair row, low and high nibbles as they are;
// the offset of 8 is taken off each block's sums as 8 times the sum of its
// 32 inputs.
// CHECK-LABEL: func.func @q4_gemv(
// CHECK: scf.if
// CHECK: %[[BLOCK:.+]] = vector.load %{{.+}} : memref<32xf32, strided<[1], offset: ?>>, vector<32xf32>
// CHECK: %[[SUM:.+]] = vector.reduction <add>, %[[BLOCK]] : vector<32xf32> into f32
// CHECK: %[[EIGHT:.+]] = arith.mulf %[[SUM]], %{{.+}} : f32
// CHECK: %[[OFFSET:.+]] = vector.splat %[[EIGHT]] : vector<16xf32>
// CHECK: %[[BYTES:.+]] = vector.load %{{.+}} : memref<16xi8, strided<[1], offset: ?>>, vector<16xi8>
// CHECK: %[[WIDE:.+]] = arith.extui %[[BYTES]] : vector<16xi8> to vector<16xi32>
// CHECK: %[[LOW:.+]] = arith.andi %[[WIDE]]
// CHECK: %[[HIGH:.+]] = arith.shrui %[[WIDE]]
// CHECK: arith.sitofp %[[LOW]]
// CHECK: arith.sitofp %[[HIGH]]
// CHECK: vector.fma
// CHECK: arith.extf %{{.+}} : vector<16xf16> to vector<16xf32>
// CHECK: arith.subf %{{.+}}, %[[OFFSET]] : vector<16xf32>
// CHECK: } else {
// CHECK:   linalg.generic
module attributes {llm.target = #llm.target<cpu = "sapphirerapids", triple = "x86_64-unknown-linux-gnu", features = ["amx-bf16", "amx-tile", "avx512bw", "avx512f", "avx512vnni"]>} {
func.func @q4_gemv(%X: memref<1x4x16x2xf32>, %Q: memref<3x4x16x16xi8>, %S: memref<3x4x16xf16>, %Y: memref<1x3x16xf32>) {
  linalg.generic {indexing_maps = [#x, #q, #s, #y], iterator_types = ["parallel", "parallel", "parallel", "reduction", "reduction", "reduction"]}
      ins(%X, %Q, %S : memref<1x4x16x2xf32>, memref<3x4x16x16xi8>, memref<3x4x16xf16>)
      outs(%Y : memref<1x3x16xf32>) attrs = {llm.micro_kernel = #llm.micro_kernel<q4_0_gemv>} {
  ^bb0(%x: f32, %q: i8, %d: f16, %acc: f32):
    %kp = linalg.index 5 : index
    %b = arith.extui %q : i8 to i32
    %k = arith.index_cast %kp : index to i32
    %c4 = arith.constant 4 : i32
    %sh = arith.muli %k, %c4 : i32
    %n = arith.shrui %b, %sh : i32
    %c15 = arith.constant 15 : i32
    %m = arith.andi %n, %c15 : i32
    %c8 = arith.constant 8 : i32
    %c = arith.subi %m, %c8 : i32
    %0 = arith.sitofp %c : i32 to f32
    %1 = arith.extf %d : f16 to f32
    %2 = arith.mulf %0, %1 : f32
    %3 = arith.mulf %x, %2 : f32
    %4 = arith.addf %acc, %3 : f32
    linalg.yield %4 : f32
  }
  return
}
}

// -----

#x = affine_map<(m, nb, ni, kb, kr, kp) -> (m, kb, kr, kp)>
#dx = affine_map<(m, nb, ni, kb, kr, kp) -> (m, kb)>
#q = affine_map<(m, nb, ni, kb, kr, kp) -> (nb, kb, kr, ni, kp)>
#s = affine_map<(m, nb, ni, kb, kr, kp) -> (nb, kb, ni)>
#y = affine_map<(m, nb, ni, kb, kr, kp) -> (m, nb, ni)>
// Q8_0 with i8 inputs. Once per row, each block's lane corrections go to a
// buffer: the codes are made unsigned by flipping their sign bit, so 128
// times the inputs of the even pair rows is taken off the lanes of the first
// half of each load, of the odd ones off the second half. Per block and
// group, the input pairs as 16-bit words; each stream's scales and codes
// prefetched 16 blocks ahead (or the next group's first blocks near the
// end); each 64-byte load of codes goes through vpdpbusd twice, with
// the pairs in the low and in the high half of each lane, starting from the
// corrections; the i32 sums are converted and scaled once per block.
// CHECK-LABEL: func.func @q8_i8_gemv(
// CHECK: scf.if
// CHECK: %[[CORRECTIONS:.+]] = memref.alloca() : memref<4x16xi32>
// CHECK: scf.for
// CHECK: scf.for %[[KB0:.+]] =
// CHECK: %[[ROWBLOCK:.+]] = vector.load %{{.+}} : memref<32xi8, strided<[1], offset: ?>>, vector<32xi8>
// CHECK: %[[WIDE:.+]] = arith.extsi %[[ROWBLOCK]] : vector<32xi8> to vector<32xi32>
// CHECK: %[[EVENROWS:.+]] = vector.shuffle %[[WIDE]], %[[WIDE]] [0, 1, 4, 5, 8, 9,
// CHECK: vector.reduction <add>, %[[EVENROWS]] : vector<16xi32> into i32
// CHECK: %[[ODDROWS:.+]] = vector.shuffle %[[WIDE]], %[[WIDE]] [2, 3, 6, 7, 10, 11,
// CHECK: vector.reduction <add>, %[[ODDROWS]] : vector<16xi32> into i32
// CHECK: %[[LANES:.+]] = arith.select %{{.+}} : vector<16xi1>, vector<16xi32>
// CHECK: vector.store %[[LANES]], %[[CORRECTIONS]][%[[KB0]], %{{.+}}] : memref<4x16xi32>, vector<16xi32>
// CHECK: scf.for %[[KB:.+]] = %{{.+}} to %{{.+}} step %{{.+}} iter_args(
// CHECK: %[[BLOCK:.+]] = vector.load %{{.+}} : memref<32xi8, strided<[1], offset: ?>>, vector<32xi8>
// CHECK: %[[PAIRS:.+]] = vector.bitcast %[[BLOCK]] : vector<32xi8> to vector<16xi16>
// CHECK: %[[CORR:.+]] = vector.load %[[CORRECTIONS]][%[[KB]], %{{.+}}] : memref<4x16xi32>, vector<16xi32>
// CHECK: memref.prefetch %{{.+}}[%{{.+}}], read, locality<3>, data : memref<16xf16, strided<[1], offset: ?>>
// CHECK: memref.prefetch %{{.+}}[%{{.+}}], read, locality<3>, data : memref<512xi8, strided<[1], offset: ?>>
// CHECK: %[[EVEN:.+]] = arith.extui %{{.+}} : vector<16xi16> to vector<16xi32>
// CHECK: %[[ODD:.+]] = arith.shli %[[EVEN]], %{{.+}} : vector<16xi32>
// CHECK: %[[CODES:.+]] = vector.load %{{.+}} : memref<64xi8, strided<[1], offset: ?>>, vector<64xi8>
// CHECK: %[[WORDS:.+]] = vector.bitcast %[[CODES]] : vector<64xi8> to vector<16xi32>
// CHECK: %[[UNSIGNED:.+]] = arith.xori %[[WORDS]], %{{.+}} : vector<16xi32>
// CHECK: llvm.call_intrinsic "llvm.x86.avx512.vpdpbusd.512"(%[[CORR]], %[[UNSIGNED]], %[[EVEN]])
// CHECK: llvm.call_intrinsic "llvm.x86.avx512.vpdpbusd.512"(%[[CORR]], %[[UNSIGNED]], %[[ODD]])
// CHECK: arith.sitofp %{{.+}} : vector<16xi32> to vector<16xf32>
// CHECK: vector.fma
// CHECK: } else {
// CHECK:   linalg.generic
// CHECK-NOT: llm.micro_kernel
// CHECK: }
module attributes {llm.target = #llm.target<cpu = "sapphirerapids", triple = "x86_64-unknown-linux-gnu", features = ["amx-bf16", "amx-tile", "avx512bw", "avx512f", "avx512vnni"]>} {
func.func @q8_i8_gemv(%X: memref<1x4x16x2xi8>, %D: memref<1x4xf32>, %Q: memref<8x4x16x16x2xi8>, %S: memref<8x4x16xf16>, %Y: memref<1x8x16xf32>) {
  linalg.generic {indexing_maps = [#x, #q, #s, #dx, #y], iterator_types = ["parallel", "parallel", "parallel", "reduction", "reduction", "reduction"]}
      ins(%X, %Q, %S, %D : memref<1x4x16x2xi8>, memref<8x4x16x16x2xi8>, memref<8x4x16xf16>, memref<1x4xf32>)
      outs(%Y : memref<1x8x16xf32>) attrs = {llm.micro_kernel = #llm.micro_kernel<q8_0_i8_gemv, prefetch = 16>} {
  ^bb0(%xq: i8, %q: i8, %d: f16, %dx: f32, %acc: f32):
    %xf = arith.sitofp %xq : i8 to f32
    %x = arith.mulf %xf, %dx : f32
    %0 = arith.sitofp %q : i8 to f32
    %1 = arith.extf %d : f16 to f32
    %2 = arith.mulf %0, %1 : f32
    %3 = arith.mulf %x, %2 : f32
    %4 = arith.addf %acc, %3 : f32
    linalg.yield %4 : f32
  }
  return
}
}

// -----

#x = affine_map<(m, nb, ni, kb, kr, kp) -> (m, kb, kr, kp)>
#dx = affine_map<(m, nb, ni, kb, kr, kp) -> (m, kb)>
#q = affine_map<(m, nb, ni, kb, kr, kp) -> (nb, kb, kr, ni)>
#s = affine_map<(m, nb, ni, kb, kr, kp) -> (nb, kb, ni)>
#y = affine_map<(m, nb, ni, kb, kr, kp) -> (m, nb, ni)>
// Q4_0 with i8 inputs: the nibbles split by a mask and a shift, then
// interleaved into pairs (unpack low / high bytes of each 128-bit part).
// CHECK-LABEL: func.func @q4_i8_gemv(
// CHECK: scf.if
// CHECK: %[[CODES:.+]] = vector.load %{{.+}} : memref<64xi8, strided<[1], offset: ?>>, vector<64xi8>
// CHECK: %[[LOW:.+]] = arith.andi %[[CODES]], %{{.+}} : vector<64xi8>
// CHECK: %[[HIGH:.+]] = arith.shrui %[[CODES]], %{{.+}} : vector<64xi8>
// CHECK: vector.shuffle %[[LOW]], %[[HIGH]] [0, 64, 1, 65,
// CHECK: vector.shuffle %[[LOW]], %[[HIGH]] [8, 72, 9, 73,
// CHECK: llvm.call_intrinsic "llvm.x86.avx512.vpdpbusd.512"
// CHECK: } else {
// CHECK:   linalg.generic
module attributes {llm.target = #llm.target<cpu = "sapphirerapids", triple = "x86_64-unknown-linux-gnu", features = ["amx-bf16", "amx-tile", "avx512bw", "avx512f", "avx512vnni"]>} {
func.func @q4_i8_gemv(%X: memref<1x4x16x2xi8>, %D: memref<1x4xf32>, %Q: memref<3x4x16x16xi8>, %S: memref<3x4x16xf16>, %Y: memref<1x3x16xf32>) {
  linalg.generic {indexing_maps = [#x, #q, #s, #dx, #y], iterator_types = ["parallel", "parallel", "parallel", "reduction", "reduction", "reduction"]}
      ins(%X, %Q, %S, %D : memref<1x4x16x2xi8>, memref<3x4x16x16xi8>, memref<3x4x16xf16>, memref<1x4xf32>)
      outs(%Y : memref<1x3x16xf32>) attrs = {llm.micro_kernel = #llm.micro_kernel<q4_0_i8_gemv, prefetch = 16>} {
  ^bb0(%xq: i8, %q: i8, %d: f16, %dx: f32, %acc: f32):
    %xf = arith.sitofp %xq : i8 to f32
    %x = arith.mulf %xf, %dx : f32
    %kp = linalg.index 5 : index
    %b = arith.extui %q : i8 to i32
    %k = arith.index_cast %kp : index to i32
    %c4 = arith.constant 4 : i32
    %sh = arith.muli %k, %c4 : i32
    %n = arith.shrui %b, %sh : i32
    %c15 = arith.constant 15 : i32
    %m = arith.andi %n, %c15 : i32
    %c8 = arith.constant 8 : i32
    %c = arith.subi %m, %c8 : i32
    %0 = arith.sitofp %c : i32 to f32
    %1 = arith.extf %d : f16 to f32
    %2 = arith.mulf %0, %1 : f32
    %3 = arith.mulf %x, %2 : f32
    %4 = arith.addf %acc, %3 : f32
    linalg.yield %4 : f32
  }
  return
}
}

// -----

#x = affine_map<(m, nb, ni, kb, kr, kp) -> (m, kb, kr, kp)>
#dx = affine_map<(m, nb, ni, kb, kr, kp) -> (m, kb)>
#q = affine_map<(m, nb, ni, kb, kr, kp) -> (nb, kb, kr, ni, kp)>
#s = affine_map<(m, nb, ni, kb, kr, kp) -> (nb, kb, ni)>
#y = affine_map<(m, nb, ni, kb, kr, kp) -> (m, nb, ni)>
module attributes {llm.target = #llm.target<cpu = "sapphirerapids", triple = "x86_64-unknown-linux-gnu", features = ["amx-bf16", "amx-tile", "avx512bw", "avx512f", "avx512vnni"]>} {
func.func @q8_i8_f32_inputs(%X: memref<1x4x16x2xf32>, %D: memref<1x4xf32>, %Q: memref<8x4x16x16x2xi8>, %S: memref<8x4x16xf16>, %Y: memref<1x8x16xf32>) {
  // expected-error @+1 {{'linalg.generic' op tagged q8_0_i8_gemv but its operands are not i8 [m, kb, 16, 2] input codes, i8 [nb, kb, 16, 16, 2] codes, f16 [nb, kb, 16] scales, f32 [m, kb] input scales and an f32 [m, nb, 16] result}}
  linalg.generic {indexing_maps = [#x, #q, #s, #dx, #y], iterator_types = ["parallel", "parallel", "parallel", "reduction", "reduction", "reduction"]}
      ins(%X, %Q, %S, %D : memref<1x4x16x2xf32>, memref<8x4x16x16x2xi8>, memref<8x4x16xf16>, memref<1x4xf32>)
      outs(%Y : memref<1x8x16xf32>) attrs = {llm.micro_kernel = #llm.micro_kernel<q8_0_i8_gemv, prefetch = 16>} {
  ^bb0(%x: f32, %q: i8, %d: f16, %dx: f32, %acc: f32):
    %0 = arith.sitofp %q : i8 to f32
    %3 = arith.mulf %x, %0 : f32
    %4 = arith.addf %acc, %3 : f32
    linalg.yield %4 : f32
  }
  return
}
}

// -----

#m = affine_map<(i) -> (i)>
module attributes {llm.target = #llm.target<cpu = "sapphirerapids", triple = "x86_64-unknown-linux-gnu", features = ["amx-bf16", "amx-tile", "avx512bw", "avx512f", "avx512vnni"]>} {
func.func @q8_misshaped(%x: memref<16xf32>) {
  // expected-error @+1 {{'linalg.generic' op tagged q8_0_gemv but not a bufferized 6-loop product of inputs, quantized codes and scales}}
  linalg.generic {indexing_maps = [#m], iterator_types = ["parallel"]}
      outs(%x : memref<16xf32>) attrs = {llm.micro_kernel = #llm.micro_kernel<q8_0_gemv>} {
  ^bb0(%acc: f32):
    linalg.yield %acc : f32
  }
  return
}
}

// -----

#x = affine_map<(m, nb, ni, kb, kr, kp) -> (m, kb, kr, kp)>
#q = affine_map<(m, nb, ni, kb, kr, kp) -> (nb, kb, kr, ni, kp)>
#s = affine_map<(m, nb, ni, kb, kr, kp) -> (nb, kb, ni)>
#y = affine_map<(m, nb, ni, kb, kr, kp) -> (m, nb, ni)>
module attributes {llm.target = #llm.target<cpu = "sapphirerapids", triple = "x86_64-unknown-linux-gnu", features = ["amx-bf16", "amx-tile", "avx512bw", "avx512f", "avx512vnni"]>} {
func.func @q4_wrong_codes(%X: memref<1x4x16x2xf32>, %Q: memref<8x4x16x16x2xi8>, %S: memref<8x4x16xf16>, %Y: memref<1x8x16xf32>) {
  // expected-error @+1 {{'linalg.generic' op tagged q4_0_gemv but its operands are not f32 [m, kb, 16, 2] inputs, i8 [nb, kb, 16, 16] codes, f16 [nb, kb, 16] scales and an f32 [m, nb, 16] result}}
  linalg.generic {indexing_maps = [#x, #q, #s, #y], iterator_types = ["parallel", "parallel", "parallel", "reduction", "reduction", "reduction"]}
      ins(%X, %Q, %S : memref<1x4x16x2xf32>, memref<8x4x16x16x2xi8>, memref<8x4x16xf16>)
      outs(%Y : memref<1x8x16xf32>) attrs = {llm.micro_kernel = #llm.micro_kernel<q4_0_gemv>} {
  ^bb0(%x: f32, %q: i8, %d: f16, %acc: f32):
    %0 = arith.sitofp %q : i8 to f32
    %3 = arith.mulf %x, %0 : f32
    %4 = arith.addf %acc, %3 : f32
    linalg.yield %4 : f32
  }
  return
}
}

// -----

#a = affine_map<(mb, mi, nb, ni, kb, kr, kp) -> (mb, kb, mi, kr, kp)>
#q = affine_map<(mb, mi, nb, ni, kb, kr, kp) -> (nb, kb, kr, ni, kp)>
#s = affine_map<(mb, mi, nb, ni, kb, kr, kp) -> (nb, kb, ni)>
#c = affine_map<(mb, mi, nb, ni, kb, kr, kp) -> (mb, mi, nb, ni)>
// AMX on Q8_0 codes: a bf16 panel buffer (512 KiB / 4 depth tiles = 128
// output tiles of 1 KiB, capped at the weight's 8); per output tile and depth tile, the
// 16 scales are widened and duplicated for the kp pairs, each 32-code pair
// row is widened, scaled, rounded to bf16 and stored; then the AMX kernel
// reads the panel; the buffer is freed after the last panel.
// CHECK-LABEL: func.func @amx_q8(
// CHECK: scf.if
// CHECK: %[[PANEL:.+]] = memref.alloc() {alignment = 64 : i64} : memref<16384xbf16>
// CHECK: scf.for %{{.+}} = %{{.+}} to %{{.+}} step %c8
// CHECK: arith.minui
// CHECK: scf.for
// CHECK: scf.for
// CHECK: %[[SCALES:.+]] = arith.extf %{{.+}} : vector<16xf16> to vector<16xf32>
// CHECK: %[[PAIRS:.+]] = vector.shuffle %[[SCALES]], %[[SCALES]] [0, 0, 1, 1, 2, 2
// CHECK: %[[CODES:.+]] = vector.load %{{.+}} : memref<32xi8, strided<[1], offset: ?>>, vector<32xi8>
// CHECK: %[[F:.+]] = arith.sitofp %[[CODES]] : vector<32xi8> to vector<32xf32>
// CHECK: %[[W:.+]] = arith.mulf %[[F]], %[[PAIRS]] : vector<32xf32>
// CHECK: %[[B:.+]] = arith.truncf %[[W]] : vector<32xf32> to vector<32xbf16>
// CHECK: vector.store %[[B]], %{{.+}} : memref<32xbf16, strided<[1], offset: ?>>, vector<32xbf16>
// CHECK: amx.tile_mulf
// CHECK: memref.dealloc %[[PANEL]]
// CHECK: } else {
// CHECK:   linalg.generic
// CHECK-NOT: llm.micro_kernel
// CHECK: }
module attributes {llm.target = #llm.target<cpu = "sapphirerapids", triple = "x86_64-unknown-linux-gnu", features = ["amx-bf16", "amx-tile", "avx512bw", "avx512f", "avx512vnni"]>} {
func.func @amx_q8(%A: memref<?x4x16x16x2xbf16>, %Q: memref<8x4x16x16x2xi8>, %S: memref<8x4x16xf16>, %C: memref<?x16x8x16xf32>) {
  linalg.generic {indexing_maps = [#a, #q, #s, #c], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction", "reduction", "reduction"]}
      ins(%A, %Q, %S : memref<?x4x16x16x2xbf16>, memref<8x4x16x16x2xi8>, memref<8x4x16xf16>)
      outs(%C : memref<?x16x8x16xf32>) attrs = {llm.micro_kernel = #llm.micro_kernel<amx_q8_0, unroll = 4>} {
  ^bb0(%a: bf16, %q: i8, %d: f16, %acc: f32):
    %0 = arith.sitofp %q : i8 to f32
    %1 = arith.extf %d : f16 to f32
    %2 = arith.mulf %0, %1 : f32
    %3 = arith.truncf %2 : f32 to bf16
    %4 = arith.extf %3 : bf16 to f32
    %5 = arith.extf %a : bf16 to f32
    %6 = arith.mulf %5, %4 : f32
    %7 = arith.addf %acc, %6 : f32
    linalg.yield %7 : f32
  }
  return
}
}

// -----

#a = affine_map<(mb, mi, nb, ni, kb, kr, kp) -> (mb, kb, mi, kr, kp)>
#q = affine_map<(mb, mi, nb, ni, kb, kr, kp) -> (nb, kb, kr, ni, kp)>
#s = affine_map<(mb, mi, nb, ni, kb, kr, kp) -> (nb, kb, ni)>
#c = affine_map<(mb, mi, nb, ni, kb, kr, kp) -> (mb, mi, nb, ni)>
// avx512_bf16_q8_0: the same dequantized panels (8 tiles of 4 x 1 KiB),
// multiplied with vdpbf16ps.
// CHECK-LABEL: func.func @bf16_dot_q8(
// CHECK: scf.if
// CHECK: %[[PANEL:.+]] = memref.alloc() {alignment = 64 : i64} : memref<16384xbf16>
// CHECK: scf.for %{{.+}} = %{{.+}} to %{{.+}} step %c8
// CHECK: arith.minui
// CHECK: scf.for
// CHECK: scf.for
// CHECK: %[[SCALES:.+]] = arith.extf %{{.+}} : vector<16xf16> to vector<16xf32>
// CHECK: %[[PAIRS:.+]] = vector.shuffle %[[SCALES]], %[[SCALES]] [0, 0, 1, 1, 2, 2
// CHECK: %[[CODES:.+]] = vector.load %{{.+}} : memref<32xi8, strided<[1], offset: ?>>, vector<32xi8>
// CHECK: %[[F:.+]] = arith.sitofp %[[CODES]] : vector<32xi8> to vector<32xf32>
// CHECK: %[[W:.+]] = arith.mulf %[[F]], %[[PAIRS]] : vector<32xf32>
// CHECK: %[[B:.+]] = arith.truncf %[[W]] : vector<32xf32> to vector<32xbf16>
// CHECK: vector.store %[[B]], %{{.+}} : memref<32xbf16, strided<[1], offset: ?>>, vector<32xbf16>
// CHECK: llvm.call_intrinsic "llvm.x86.avx512bf16.dpbf16ps.512"
// CHECK: memref.dealloc %[[PANEL]]
// CHECK: } else {
// CHECK:   linalg.generic
// CHECK-NOT: llm.micro_kernel
// CHECK: }
module attributes {llm.target = #llm.target<cpu = "cooperlake", triple = "x86_64-unknown-linux-gnu", features = ["avx512bf16", "avx512bw", "avx512f", "avx512vnni"]>} {
func.func @bf16_dot_q8(%A: memref<?x4x16x16x2xbf16>, %Q: memref<8x4x16x16x2xi8>, %S: memref<8x4x16xf16>, %C: memref<?x16x8x16xf32>) {
  linalg.generic {indexing_maps = [#a, #q, #s, #c], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction", "reduction", "reduction"]}
      ins(%A, %Q, %S : memref<?x4x16x16x2xbf16>, memref<8x4x16x16x2xi8>, memref<8x4x16xf16>)
      outs(%C : memref<?x16x8x16xf32>) attrs = {llm.micro_kernel = #llm.micro_kernel<avx512_bf16_q8_0, rows = 6, depth = 4>} {
  ^bb0(%a: bf16, %q: i8, %d: f16, %acc: f32):
    %0 = arith.sitofp %q : i8 to f32
    %1 = arith.extf %d : f16 to f32
    %2 = arith.mulf %0, %1 : f32
    %3 = arith.truncf %2 : f32 to bf16
    %4 = arith.extf %3 : bf16 to f32
    %5 = arith.extf %a : bf16 to f32
    %6 = arith.mulf %5, %4 : f32
    %7 = arith.addf %acc, %6 : f32
    linalg.yield %7 : f32
  }
  return
}
}

// -----

#a = affine_map<(mb, mi, nb, ni, kb, kr, kp) -> (mb, kb, mi, kr, kp)>
#q = affine_map<(mb, mi, nb, ni, kb, kr, kp) -> (nb, kb, kr, ni)>
#s = affine_map<(mb, mi, nb, ni, kb, kr, kp) -> (nb, kb, ni)>
#c = affine_map<(mb, mi, nb, ni, kb, kr, kp) -> (mb, mi, nb, ni)>
// AMX on Q4_0 codes: low and high nibbles minus 8, scaled, interleaved
// into kp pairs, rounded to bf16.
// CHECK-LABEL: func.func @amx_q4(
// CHECK: memref.alloc() {alignment = 64 : i64} : memref<16384xbf16>
// CHECK: %[[BYTES:.+]] = vector.load %{{.+}} : memref<16xi8, strided<[1], offset: ?>>, vector<16xi8>
// CHECK: %[[WIDE:.+]] = arith.extui %[[BYTES]] : vector<16xi8> to vector<16xi32>
// CHECK: %[[LOW:.+]] = arith.andi %[[WIDE]]
// CHECK: %[[HIGH:.+]] = arith.shrui %[[WIDE]]
// CHECK: %[[LW:.+]] = arith.mulf %{{.+}}, %{{.+}} : vector<16xf32>
// CHECK: %[[HW:.+]] = arith.mulf %{{.+}}, %{{.+}} : vector<16xf32>
// CHECK: %[[PAIRS:.+]] = vector.shuffle %[[LW]], %[[HW]] [0, 16, 1, 17, 2, 18
// CHECK: arith.truncf %[[PAIRS]] : vector<32xf32> to vector<32xbf16>
// CHECK: amx.tile_mulf
module attributes {llm.target = #llm.target<cpu = "sapphirerapids", triple = "x86_64-unknown-linux-gnu", features = ["amx-bf16", "amx-tile", "avx512bw", "avx512f", "avx512vnni"]>} {
func.func @amx_q4(%A: memref<?x4x16x16x2xbf16>, %Q: memref<8x4x16x16xi8>, %S: memref<8x4x16xf16>, %C: memref<?x16x8x16xf32>) {
  linalg.generic {indexing_maps = [#a, #q, #s, #c], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction", "reduction", "reduction"]}
      ins(%A, %Q, %S : memref<?x4x16x16x2xbf16>, memref<8x4x16x16xi8>, memref<8x4x16xf16>)
      outs(%C : memref<?x16x8x16xf32>) attrs = {llm.micro_kernel = #llm.micro_kernel<amx_q4_0, unroll = 4>} {
  ^bb0(%a: bf16, %q: i8, %d: f16, %acc: f32):
    %0 = arith.sitofp %q : i8 to f32
    %1 = arith.extf %d : f16 to f32
    %2 = arith.mulf %0, %1 : f32
    %3 = arith.truncf %2 : f32 to bf16
    %4 = arith.extf %3 : bf16 to f32
    %5 = arith.extf %a : bf16 to f32
    %6 = arith.mulf %5, %4 : f32
    %7 = arith.addf %acc, %6 : f32
    linalg.yield %7 : f32
  }
  return
}
}

// -----

#a = affine_map<(mb, mi, nb, ni, kb, kr, kp) -> (mb, kb, mi, kr, kp)>
#q = affine_map<(mb, mi, nb, ni, kb, kr, kp) -> (nb, kb, kr, ni, kp)>
#s = affine_map<(mb, mi, nb, ni, kb, kr, kp) -> (nb, kb, ni)>
#c = affine_map<(mb, mi, nb, ni, kb, kr, kp) -> (mb, mi, nb, ni)>
module attributes {llm.target = #llm.target<cpu = "sapphirerapids", triple = "x86_64-unknown-linux-gnu", features = ["amx-bf16", "amx-tile", "avx512bw", "avx512f", "avx512vnni"]>} {
func.func @amx_q8_f32_inputs(%A: memref<?x4x16x16x2xf32>, %Q: memref<8x4x16x16x2xi8>, %S: memref<8x4x16xf16>, %C: memref<?x16x8x16xf32>) {
  // expected-error @+1 {{'linalg.generic' op tagged amx_q8_0 but its operands are not bf16 [mb, kb, 16, 16, 2] tiles, i8 [nb, kb, 16, 16, 2] codes, f16 [nb, kb, 16] scales and an f32 [mb, 16, nb, 16] result}}
  linalg.generic {indexing_maps = [#a, #q, #s, #c], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction", "reduction", "reduction"]}
      ins(%A, %Q, %S : memref<?x4x16x16x2xf32>, memref<8x4x16x16x2xi8>, memref<8x4x16xf16>)
      outs(%C : memref<?x16x8x16xf32>) attrs = {llm.micro_kernel = #llm.micro_kernel<amx_q8_0, unroll = 4>} {
  ^bb0(%a: f32, %q: i8, %d: f16, %acc: f32):
    linalg.yield %acc : f32
  }
  return
}
}

// -----

// avx512_bf16, amx_bf16's operands on a CPU without AMX: per chunk of rows,
// depth blocks of 8 tiles (of 16), panels of 4 output tiles, row blocks of
// 6 rows; a block loads its 6 x 4 accumulators, carries them through the
// depth block and, per pair row of a tile, loads 4 weight vectors and
// broadcasts each row's input pair (32 bits) into vdpbf16ps.
// CHECK-LABEL: func.func @bf16_dot(
// CHECK: scf.if %{{.+}} {
// CHECK:   scf.for
// CHECK:     scf.for %{{.+}} = %{{.+}} to %{{.+}} step %c8
// CHECK:       scf.for %{{.+}} = %{{.+}} to %{{.+}} step %c4
// CHECK:         scf.for %{{.+}} = %{{.+}} to %{{.+}} step %c6
// CHECK-COUNT-24: vector.load %{{.+}} : memref<16xf32, strided<[1], offset: ?>>, vector<16xf32>
// CHECK:           scf.for {{.+}} -> (vector<16xf32>
// CHECK-COUNT-4:     vector.load %{{.+}} : memref<32xbf16, strided<[1], offset: ?>>, vector<32xbf16>
// CHECK:             %[[PAIR:.+]] = vector.load %{{.+}} : memref<2xbf16, strided<[1], offset: ?>>, vector<2xbf16>
// CHECK:             %[[WORD:.+]] = vector.bitcast %[[PAIR]] : vector<2xbf16> to vector<1xi32>
// CHECK:             %[[SPLAT:.+]] = vector.splat %{{.+}} : vector<16xi32>
// CHECK:             %[[INPUTS:.+]] = vector.bitcast %[[SPLAT]] : vector<16xi32> to vector<32xbf16>
// CHECK-COUNT-4:     llvm.call_intrinsic "llvm.x86.avx512bf16.dpbf16ps.512"(%{{.+}}, %{{.+}}, %[[INPUTS]]) : (vector<16xf32>, vector<32xbf16>, vector<32xbf16>) -> vector<16xf32>
// CHECK:           vector.store
// The remaining rows (1 to 5) and output tiles (1 to 3), each a branch.
// CHECK-COUNT-5: arith.cmpi eq
// CHECK: } else {
// CHECK:   linalg.generic
// CHECK-NOT: llm.micro_kernel
// CHECK: }
#a = affine_map<(mb, mi, nb, ni, kb, kr, kp) -> (mb, kb, mi, kr, kp)>
#w = affine_map<(mb, mi, nb, ni, kb, kr, kp) -> (nb, kb, kr, ni, kp)>
#c = affine_map<(mb, mi, nb, ni, kb, kr, kp) -> (mb, mi, nb, ni)>
module attributes {llm.target = #llm.target<cpu = "cooperlake", triple = "x86_64-unknown-linux-gnu", features = ["avx512bf16", "avx512bw", "avx512f", "avx512vnni"]>} {
func.func @bf16_dot(%A: memref<?x16x16x16x2xbf16>, %W: memref<?x16x16x16x2xbf16>, %C: memref<?x16x?x16xf32>) {
  linalg.generic {indexing_maps = [#a, #w, #c], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction", "reduction", "reduction"]}
      ins(%A, %W : memref<?x16x16x16x2xbf16>, memref<?x16x16x16x2xbf16>)
      outs(%C : memref<?x16x?x16xf32>) attrs = {llm.micro_kernel = #llm.micro_kernel<avx512_bf16, rows = 6, depth = 8>} {
  ^bb0(%x: bf16, %y: bf16, %acc: f32):
    %0 = arith.extf %x : bf16 to f32
    %1 = arith.extf %y : bf16 to f32
    %2 = arith.mulf %0, %1 : f32
    %3 = arith.addf %acc, %2 : f32
    linalg.yield %3 : f32
  }
  return
}
}

// -----

#a = affine_map<(mb, mi, nb, ni, kb, kr, kp) -> (mb, kb, mi, kr, kp)>
#w = affine_map<(mb, mi, nb, ni, kb, kr, kp) -> (nb, kb, kr, ni, kp)>
#c = affine_map<(mb, mi, nb, ni, kb, kr, kp) -> (mb, mi, nb, ni)>
module attributes {llm.target = #llm.target<cpu = "cooperlake", triple = "x86_64-unknown-linux-gnu", features = ["avx512bf16", "avx512f"]>} {
func.func @bf16_dot_depth(%A: memref<?x6x16x16x2xbf16>, %W: memref<?x6x16x16x2xbf16>, %C: memref<?x16x?x16xf32>) {
  // expected-error @+1 {{'linalg.generic' op micro_kernel #llm.micro_kernel<avx512_bf16, rows = 6, depth = 4>: depth must divide the product's 6 reduction tiles}}
  linalg.generic {indexing_maps = [#a, #w, #c], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction", "reduction", "reduction"]}
      ins(%A, %W : memref<?x6x16x16x2xbf16>, memref<?x6x16x16x2xbf16>)
      outs(%C : memref<?x16x?x16xf32>) attrs = {llm.micro_kernel = #llm.micro_kernel<avx512_bf16, rows = 6, depth = 4>} {
  ^bb0(%x: bf16, %y: bf16, %acc: f32):
    %0 = arith.extf %x : bf16 to f32
    %1 = arith.extf %y : bf16 to f32
    %2 = arith.mulf %0, %1 : f32
    %3 = arith.addf %acc, %2 : f32
    linalg.yield %3 : f32
  }
  return
}
}

// -----

// The mechanism never emits instructions the target lacks.
#a = affine_map<(mb, mi, nb, ni, kb, kr, kp) -> (mb, kb, mi, kr, kp)>
#w = affine_map<(mb, mi, nb, ni, kb, kr, kp) -> (nb, kb, kr, ni, kp)>
#c = affine_map<(mb, mi, nb, ni, kb, kr, kp) -> (mb, mi, nb, ni)>
module attributes {llm.target = #llm.target<cpu = "skylake-avx512", triple = "x86_64-unknown-linux-gnu", features = ["avx512f"]>} {
func.func @amx_without_amx(%A: memref<?x2x16x16x2xbf16>, %W: memref<?x2x16x16x2xbf16>, %C: memref<?x16x?x16xf32>) {
  // expected-error @+1 {{'linalg.generic' op micro_kernel #llm.micro_kernel<amx_bf16, unroll = 2> needs a target with amx-tile, amx-bf16 (target 'skylake-avx512' lacks them)}}
  linalg.generic {indexing_maps = [#a, #w, #c], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction", "reduction", "reduction"]}
      ins(%A, %W : memref<?x2x16x16x2xbf16>, memref<?x2x16x16x2xbf16>)
      outs(%C : memref<?x16x?x16xf32>) attrs = {llm.micro_kernel = #llm.micro_kernel<amx_bf16, unroll = 2>} {
  ^bb0(%x: bf16, %y: bf16, %acc: f32):
    %0 = arith.extf %x : bf16 to f32
    %1 = arith.extf %y : bf16 to f32
    %2 = arith.mulf %0, %1 : f32
    %3 = arith.addf %acc, %2 : f32
    linalg.yield %3 : f32
  }
  return
}
}

// -----

#a = affine_map<(mb, mi, nb, ni, kb, kr, kp) -> (mb, kb, mi, kr, kp)>
#w = affine_map<(mb, mi, nb, ni, kb, kr, kp) -> (nb, kb, kr, ni, kp)>
#c = affine_map<(mb, mi, nb, ni, kb, kr, kp) -> (mb, mi, nb, ni)>
module attributes {llm.target = #llm.target<cpu = "skylake-avx512", triple = "x86_64-unknown-linux-gnu", features = ["avx512f"]>} {
func.func @bf16_dot_without_avx512bf16(%A: memref<?x2x16x16x2xbf16>, %W: memref<?x2x16x16x2xbf16>, %C: memref<?x16x?x16xf32>) {
  // expected-error @+1 {{'linalg.generic' op micro_kernel #llm.micro_kernel<avx512_bf16, rows = 6, depth = 2> needs a target with avx512bf16, avx512f (target 'skylake-avx512' lacks them)}}
  linalg.generic {indexing_maps = [#a, #w, #c], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction", "reduction", "reduction"]}
      ins(%A, %W : memref<?x2x16x16x2xbf16>, memref<?x2x16x16x2xbf16>)
      outs(%C : memref<?x16x?x16xf32>) attrs = {llm.micro_kernel = #llm.micro_kernel<avx512_bf16, rows = 6, depth = 2>} {
  ^bb0(%x: bf16, %y: bf16, %acc: f32):
    %0 = arith.extf %x : bf16 to f32
    %1 = arith.extf %y : bf16 to f32
    %2 = arith.mulf %0, %1 : f32
    %3 = arith.addf %acc, %2 : f32
    linalg.yield %3 : f32
  }
  return
}
}

// -----

#a = affine_map<(mb, mi, nb, ni, kb, kr, kp) -> (mb, kb, mi, kr, kp)>
#w = affine_map<(mb, mi, nb, ni, kb, kr, kp) -> (nb, kb, kr, ni, kp)>
#c = affine_map<(mb, mi, nb, ni, kb, kr, kp) -> (mb, mi, nb, ni)>
func.func @amx_without_target(%A: memref<?x2x16x16x2xbf16>, %W: memref<?x2x16x16x2xbf16>, %C: memref<?x16x?x16xf32>) {
  // expected-error @+1 {{'linalg.generic' op micro_kernel #llm.micro_kernel<amx_bf16, unroll = 2> needs a target with amx-tile, amx-bf16 (no llm.target on the module)}}
  linalg.generic {indexing_maps = [#a, #w, #c], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction", "reduction", "reduction"]}
      ins(%A, %W : memref<?x2x16x16x2xbf16>, memref<?x2x16x16x2xbf16>)
      outs(%C : memref<?x16x?x16xf32>) attrs = {llm.micro_kernel = #llm.micro_kernel<amx_bf16, unroll = 2>} {
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

// The unroll must divide the reduction tiles (the strategy picks a divisor).
#a = affine_map<(mb, mi, nb, ni, kb, kr, kp) -> (mb, kb, mi, kr, kp)>
#w = affine_map<(mb, mi, nb, ni, kb, kr, kp) -> (nb, kb, kr, ni, kp)>
#c = affine_map<(mb, mi, nb, ni, kb, kr, kp) -> (mb, mi, nb, ni)>
module attributes {llm.target = #llm.target<cpu = "sapphirerapids", triple = "x86_64-unknown-linux-gnu", features = ["amx-bf16", "amx-tile"]>} {
func.func @amx_unroll(%A: memref<?x6x16x16x2xbf16>, %W: memref<?x6x16x16x2xbf16>, %C: memref<?x16x?x16xf32>) {
  // expected-error @+1 {{'linalg.generic' op micro_kernel #llm.micro_kernel<amx_bf16, unroll = 4>: unroll must divide the product's 6 reduction tiles}}
  linalg.generic {indexing_maps = [#a, #w, #c], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction", "reduction", "reduction"]}
      ins(%A, %W : memref<?x6x16x16x2xbf16>, memref<?x6x16x16x2xbf16>)
      outs(%C : memref<?x16x?x16xf32>) attrs = {llm.micro_kernel = #llm.micro_kernel<amx_bf16, unroll = 4>} {
  ^bb0(%x: bf16, %y: bf16, %acc: f32):
    %0 = arith.extf %x : bf16 to f32
    %1 = arith.extf %y : bf16 to f32
    %2 = arith.mulf %0, %1 : f32
    %3 = arith.addf %acc, %2 : f32
    linalg.yield %3 : f32
  }
  return
}
}
