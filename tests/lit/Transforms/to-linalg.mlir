// llm-to-linalg lowers each llm compute op to linalg/tensor/arith/math on
// tensors and leaves llm.param for llm-lower-entry-abi.
// RUN: llamac-opt %s -llm-to-linalg -split-input-file | FileCheck %s

// Embedding: a generic over the tokens that extracts table[token, column] and
// widens the bf16 weight to f32.
// CHECK-LABEL: func.func @embed(
// CHECK-SAME: %[[T:[a-z0-9_]+]]: tensor<?xi32>
// CHECK: %[[E:.+]] = llm.param "embed" : tensor<16x8xbf16>
// CHECK: %[[INIT:.+]] = tensor.empty(%{{.+}}) : tensor<?x8xf32>
// CHECK: %[[G:.+]] = linalg.generic {{.*}} iterator_types = ["parallel", "parallel"]} ins(%[[T]] : tensor<?xi32>) outs(%[[INIT]] : tensor<?x8xf32>)
// CHECK: ^bb0(%[[TOK:.+]]: i32, %{{.+}}: f32):
// CHECK: %[[ROW:.+]] = arith.index_cast %[[TOK]] : i32 to index
// CHECK: %[[COL:.+]] = linalg.index 1 : index
// CHECK: %[[W:.+]] = tensor.extract %[[E]][%[[ROW]], %[[COL]]] : tensor<16x8xbf16>
// CHECK: %[[F:.+]] = arith.extf %[[W]] : bf16 to f32
// CHECK: linalg.yield %[[F]] : f32
// CHECK-NOT: llm.embed
// CHECK: return %[[G]]
func.func @embed(%t: tensor<?xi32>) -> tensor<?x8xf32> {
  %e = llm.param "embed" : tensor<16x8xbf16>
  %x = llm.embed %e[%t] : tensor<16x8xbf16>, tensor<?xi32> -> tensor<?x8xf32>
  return %x : tensor<?x8xf32>
}

// -----

// RMSNorm: a zero-filled sum-of-squares reduction over the last dimension,
// then w * x / sqrt(sum / 8 + eps).
// CHECK-DAG: #[[ID:.+]] = affine_map<(d0, d1) -> (d0, d1)>
// CHECK-DAG: #[[ROW:.+]] = affine_map<(d0, d1) -> (d0)>
// CHECK-DAG: #[[COL:.+]] = affine_map<(d0, d1) -> (d1)>
// CHECK-LABEL: func.func @rms_norm(
// CHECK-SAME: %[[X:[a-z0-9_]+]]: tensor<?x8xf32>
// CHECK: %[[W:.+]] = llm.param "norm" : tensor<8xbf16>
// CHECK: %[[ZERO:.+]] = arith.constant 0.000000e+00 : f32
// CHECK: %[[FILL:.+]] = linalg.fill ins(%[[ZERO]] : f32) outs(%{{.+}} : tensor<?xf32>)
// CHECK: %[[SUM:.+]] = linalg.generic {indexing_maps = [#[[ID]], #[[ROW]]], iterator_types = ["parallel", "reduction"]} ins(%[[X]] : tensor<?x8xf32>) outs(%[[FILL]] : tensor<?xf32>)
// CHECK: ^bb0(%[[IN:.+]]: f32, %[[ACC:.+]]: f32):
// CHECK: %[[SQ:.+]] = arith.mulf %[[IN]], %[[IN]] : f32
// CHECK: %[[ADD:.+]] = arith.addf %[[ACC]], %[[SQ]] : f32
// CHECK: linalg.yield %[[ADD]]
// CHECK: %[[N:.+]] = linalg.generic {indexing_maps = [#[[ID]], #[[ROW]], #[[COL]], #[[ID]]], iterator_types = ["parallel", "parallel"]} ins(%[[X]], %[[SUM]], %[[W]] : tensor<?x8xf32>, tensor<?xf32>, tensor<8xbf16>)
// CHECK: ^bb0(%[[XI:.+]]: f32, %[[SI:.+]]: f32, %[[WI:.+]]: bf16, %{{.+}}: f32):
// CHECK-DAG: %[[COUNT:.+]] = arith.constant 8.000000e+00 : f32
// CHECK-DAG: %[[EPS:.+]] = arith.constant 9.99999974E-6 : f32
// CHECK: %[[MEAN:.+]] = arith.divf %[[SI]], %[[COUNT]] : f32
// CHECK: %[[VAR:.+]] = arith.addf %[[MEAN]], %[[EPS]] : f32
// CHECK: %[[RMS:.+]] = math.sqrt %[[VAR]] : f32
// CHECK: %[[NORM:.+]] = arith.divf %[[XI]], %[[RMS]] : f32
// CHECK: %[[WF:.+]] = arith.extf %[[WI]] : bf16 to f32
// CHECK: %[[OUT:.+]] = arith.mulf %[[WF]], %[[NORM]] : f32
// CHECK: linalg.yield %[[OUT]]
// CHECK-NOT: llm.rms_norm
// CHECK: return %[[N]]
func.func @rms_norm(%x: tensor<?x8xf32>) -> tensor<?x8xf32> {
  %w = llm.param "norm" : tensor<8xbf16>
  %y = llm.rms_norm %x, %w {epsilon = 1.0e-05 : f64} : tensor<?x8xf32>, tensor<8xbf16>
  return %y : tensor<?x8xf32>
}

// -----

// Linear: x · Wᵀ as matmul_transpose_b into a zero-filled accumulator.
// CHECK-LABEL: func.func @linear(
// CHECK-SAME: %[[X:[a-z0-9_]+]]: tensor<?x8xf32>
// CHECK: %[[W:.+]] = llm.param "w" : tensor<4x8xbf16>
// CHECK: %[[INIT:.+]] = tensor.empty(%{{.+}}) : tensor<?x4xf32>
// CHECK: %[[ZERO:.+]] = arith.constant 0.000000e+00 : f32
// CHECK: %[[FILL:.+]] = linalg.fill ins(%[[ZERO]] : f32) outs(%[[INIT]] : tensor<?x4xf32>) -> tensor<?x4xf32>
// CHECK: %[[MM:.+]] = linalg.matmul_transpose_b ins(%[[X]], %[[W]] : tensor<?x8xf32>, tensor<4x8xbf16>) outs(%[[FILL]] : tensor<?x4xf32>) -> tensor<?x4xf32>
// CHECK-NOT: llm.linear
// CHECK: return %[[MM]]
func.func @linear(%x: tensor<?x8xf32>) -> tensor<?x4xf32> {
  %w = llm.param "w" : tensor<4x8xbf16>
  %y = llm.linear %x, %w : tensor<?x8xf32>, tensor<4x8xbf16> -> tensor<?x4xf32>
  return %y : tensor<?x4xf32>
}

// -----

// RoPE: inverse frequencies theta^(-2i/d) as a constant (head_dim 4, theta
// 10000: 1 and 0.01), cos/sin of (start_pos + token) * f per (token, pair),
// then x * cos + rotate_half(x) * sin.
// CHECK-LABEL: func.func @rope(
// CHECK-SAME: %[[X:[a-z0-9_]+]]: tensor<?x2x4xf32>, %[[POS:[a-z0-9_]+]]: index
// CHECK: %[[FREQ:.+]] = arith.constant dense<[1.000000e+00, 0.00999999977]> : tensor<2xf32>
// CHECK: %[[CS:.+]]:2 = linalg.generic {{.*}} ins(%[[FREQ]] : tensor<2xf32>) outs(%{{.+}}, %{{.+}} : tensor<?x2xf32>, tensor<?x2xf32>)
// CHECK: ^bb0(%[[F:.+]]: f32, %{{.+}}: f32, %{{.+}}: f32):
// CHECK: %[[TOK:.+]] = linalg.index 0 : index
// CHECK: %[[P:.+]] = arith.addi %[[POS]], %[[TOK]] : index
// CHECK: %[[PI:.+]] = arith.index_cast %[[P]] : index to i64
// CHECK: %[[PF:.+]] = arith.uitofp %[[PI]] : i64 to f32
// CHECK: arith.mulf %[[PF]], %[[F]] : f32
// CHECK: %[[COS:.+]] = math.cos %[[A:.+]] : f32
// CHECK: %[[SIN:.+]] = math.sin %[[A]] : f32
// CHECK: linalg.yield %[[COS]], %[[SIN]] : f32, f32
// CHECK: %[[R:.+]] = linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "parallel"]} ins(%[[X]] : tensor<?x2x4xf32>)
// CHECK: tensor.extract %[[X]]
// CHECK: arith.negf
// CHECK: tensor.extract %[[CS]]#0
// CHECK: tensor.extract %[[CS]]#1
// CHECK-NOT: llm.rope
// CHECK: return %[[R]]
func.func @rope(%x: tensor<?x2x4xf32>, %pos: index) -> tensor<?x2x4xf32> {
  %y = llm.rope %x at %pos {theta = 1.0e+04 : f64} : tensor<?x2x4xf32>
  return %y : tensor<?x2x4xf32>
}

// -----

// head_dim 8: four frequencies 1, 0.1, 0.01, 0.001.
// CHECK-LABEL: func.func @rope_head_dim_8(
// CHECK: arith.constant dense<[1.000000e+00, 1.000000e-01, 0.00999999977, 1.000000e-03]> : tensor<4xf32>
func.func @rope_head_dim_8(%x: tensor<1x1x8xf32>, %pos: index) -> tensor<1x1x8xf32> {
  %y = llm.rope %x at %pos {theta = 1.0e+04 : f64} : tensor<1x1x8xf32>
  return %y : tensor<1x1x8xf32>
}

// -----

// llama3 scaling with original_max_position_embeddings = 64 (bands of
// wavelength 16 and 64): 1 (wavelength 6.3) is kept, 0.01 (wavelength 628)
// is divided by the factor 8.
// CHECK-LABEL: func.func @rope_llama3_low(
// CHECK: arith.constant dense<[1.000000e+00, 1.250000e-03]> : tensor<2xf32>
func.func @rope_llama3_low(%x: tensor<?x1x4xf32>, %pos: index) -> tensor<?x1x4xf32> {
  %y = llm.rope %x at %pos {theta = 1.0e+04 : f64,
      scaling = #llm.rope_llama3<factor = 8.0, low_freq_factor = 1.0, high_freq_factor = 4.0,
                                 original_max_position_embeddings = 64>} : tensor<?x1x4xf32>
  return %y : tensor<?x1x4xf32>
}

// -----

// With 1024 (bands 256 and 1024) wavelength 628 is in between and smoothed:
// s = (1024 / 628.32 - 1) / 3 = 0.2099, f = 0.01 * ((1 - s) / 8 + s).
// CHECK-LABEL: func.func @rope_llama3_smooth(
// CHECK: arith.constant dense<[1.000000e+00, 0.00308676087]> : tensor<2xf32>
func.func @rope_llama3_smooth(%x: tensor<?x1x4xf32>, %pos: index) -> tensor<?x1x4xf32> {
  %y = llm.rope %x at %pos {theta = 1.0e+04 : f64,
      scaling = #llm.rope_llama3<factor = 8.0, low_freq_factor = 1.0, high_freq_factor = 4.0,
                                 original_max_position_embeddings = 1024>} : tensor<?x1x4xf32>
  return %y : tensor<?x1x4xf32>
}

// -----

// Attention (4 query heads on 2 KV heads, layer 1): the new keys and values are
// transposed to [kv, n, d] and inserted into layer 1 of the caches at
// start_pos; rows [0, start_pos + n) of layer 1 are read back; softmax uses
// the masked row max and exp.
// CHECK-LABEL: func.func @attention(
// CHECK-SAME: %[[Q:[a-z0-9_]+]]: tensor<?x4x8xf32>, %[[K:[a-z0-9_]+]]: tensor<?x2x8xf32>, %[[V:[a-z0-9_]+]]: tensor<?x2x8xf32>, %[[POS:[a-z0-9_]+]]: index, %[[KC:[a-z0-9_]+]]: tensor<2x2x?x8xf32>, %[[VC:[a-z0-9_]+]]: tensor<2x2x?x8xf32>
// CHECK: %[[N:.+]] = tensor.dim %[[Q]], %{{.+}} : tensor<?x4x8xf32>
// CHECK: %[[KT:.+]] = linalg.transpose ins(%[[K]] : tensor<?x2x8xf32>) outs(%{{.+}} : tensor<2x?x8xf32>) permutation = [1, 0, 2]
// CHECK: %[[NK:.+]] = tensor.insert_slice %[[KT]] into %[[KC]][1, 0, %[[POS]], 0] [1, 2, %[[N]], 8] [1, 1, 1, 1] : tensor<2x?x8xf32> into tensor<2x2x?x8xf32>
// CHECK: %[[VT:.+]] = linalg.transpose ins(%[[V]] : tensor<?x2x8xf32>) outs(%{{.+}} : tensor<2x?x8xf32>) permutation = [1, 0, 2]
// CHECK: %[[NV:.+]] = tensor.insert_slice %[[VT]] into %[[VC]][1, 0, %[[POS]], 0] [1, 2, %[[N]], 8] [1, 1, 1, 1] : tensor<2x?x8xf32> into tensor<2x2x?x8xf32>
// CHECK: %[[VIS:.+]] = arith.addi %[[POS]], %[[N]] : index
// CHECK: %[[KH:.+]] = tensor.extract_slice %[[NK]][1, 0, 0, 0] [1, 2, %[[VIS]], 8] [1, 1, 1, 1] : tensor<2x2x?x8xf32> to tensor<2x?x8xf32>
// CHECK: %[[VH:.+]] = tensor.extract_slice %[[NV]][1, 0, 0, 0] [1, 2, %[[VIS]], 8] [1, 1, 1, 1] : tensor<2x2x?x8xf32> to tensor<2x?x8xf32>
// CHECK: %[[QG:.+]] = tensor.expand_shape %[[Q]] {{\[}}[0], [1, 2], [3]] output_shape [%[[N]], 2, 2, 8] : tensor<?x4x8xf32> into tensor<?x2x2x8xf32>
// CHECK: %[[S:.+]] = linalg.generic {{.*}} ins(%[[QG]], %[[KH]] : tensor<?x2x2x8xf32>, tensor<2x?x8xf32>)
// CHECK: %[[NEGINF:.+]] = arith.constant 0xFF800000 : f32
// CHECK: %[[MAXINIT:.+]] = linalg.fill ins(%[[NEGINF]] : f32)
// CHECK: %[[MAX:.+]] = linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%[[S]] : tensor<2x2x?x?xf32>) outs(%[[MAXINIT]] : tensor<2x2x?xf32>)
// CHECK: arith.constant 1.250000e-01 : f32
// CHECK: arith.maximumf
// CHECK: arith.cmpi ule
// CHECK: %[[P:.+]] = linalg.generic {{.*}} ins(%[[S]], %[[MAX]] : tensor<2x2x?x?xf32>, tensor<2x2x?xf32>)
// CHECK: math.exp
// CHECK: %[[SUM:.+]] = linalg.generic {{.*}} ins(%[[P]] : tensor<2x2x?x?xf32>)
// Prefill (dynamic token count): V's history is transposed so that the sum
// over positions reads it contiguously.
// CHECK: %[[VT:.+]] = linalg.transpose ins(%[[VH]] : tensor<2x?x8xf32>) outs(%{{.+}} : tensor<2x8x?xf32>) permutation = [0, 2, 1]
// CHECK: %[[PV:.+]] = linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]} ins(%[[P]], %[[VT]] : tensor<2x2x?x?xf32>, tensor<2x8x?xf32>)
// CHECK: %[[O:.+]] = linalg.generic {{.*}} ins(%[[PV]], %[[SUM]] : tensor<?x2x2x8xf32>, tensor<2x2x?xf32>)
// CHECK: arith.divf
// CHECK: %[[OUT:.+]] = tensor.collapse_shape %[[O]] {{\[}}[0], [1, 2], [3]] : tensor<?x2x2x8xf32> into tensor<?x4x8xf32>
// CHECK-NOT: llm.attention
// CHECK: return %[[OUT]], %[[NK]], %[[NV]]
func.func @attention(%q: tensor<?x4x8xf32>, %k: tensor<?x2x8xf32>, %v: tensor<?x2x8xf32>, %pos: index,
                     %kc: tensor<2x2x?x8xf32>, %vc: tensor<2x2x?x8xf32>)
    -> (tensor<?x4x8xf32>, tensor<2x2x?x8xf32>, tensor<2x2x?x8xf32>) {
  %o, %kc1, %vc1 = llm.attention %q, %k, %v cache(%kc, %vc) at %pos {layer = 1 : i64, scale = 0.125 : f64}
      : tensor<?x4x8xf32>, tensor<?x2x8xf32>, tensor<2x2x?x8xf32>
  return %o, %kc1, %vc1 : tensor<?x4x8xf32>, tensor<2x2x?x8xf32>, tensor<2x2x?x8xf32>
}

// -----

// silu, mul and add: one elementwise generic each.
// CHECK-LABEL: func.func @elementwise(
// CHECK-SAME: %[[A:[a-z0-9_]+]]: tensor<?x8xf32>, %[[B:[a-z0-9_]+]]: tensor<?x8xf32>
// CHECK: %[[S:.+]] = linalg.generic {{.*}} iterator_types = ["parallel", "parallel"]} ins(%[[A]] : tensor<?x8xf32>)
// CHECK: ^bb0(%[[X:.+]]: f32, %{{.+}}: f32):
// CHECK: %[[ONE:.+]] = arith.constant 1.000000e+00 : f32
// CHECK: %[[NEG:.+]] = arith.negf %[[X]] : f32
// CHECK: %[[EXP:.+]] = math.exp %[[NEG]] : f32
// CHECK: %[[DEN:.+]] = arith.addf %[[ONE]], %[[EXP]] : f32
// CHECK: %[[SILU:.+]] = arith.divf %[[X]], %[[DEN]] : f32
// CHECK: linalg.yield %[[SILU]]
// CHECK: %[[M:.+]] = linalg.generic {{.*}} iterator_types = ["parallel", "parallel"]} ins(%[[S]], %[[B]] : tensor<?x8xf32>, tensor<?x8xf32>)
// CHECK: arith.mulf
// CHECK: %[[R:.+]] = linalg.generic {{.*}} iterator_types = ["parallel", "parallel"]} ins(%[[M]], %[[A]] : tensor<?x8xf32>, tensor<?x8xf32>)
// CHECK: arith.addf
// CHECK-NOT: llm.
// CHECK: return %[[R]]
func.func @elementwise(%a: tensor<?x8xf32>, %b: tensor<?x8xf32>) -> tensor<?x8xf32> {
  %s = llm.silu %a : tensor<?x8xf32>
  %m = llm.mul %s, %b : tensor<?x8xf32>
  %r = llm.add %m, %a : tensor<?x8xf32>
  return %r : tensor<?x8xf32>
}

// -----

// Decode (one token): the history of V is not transposed; the weighted sum
// runs head_dim innermost instead, reading each row of V contiguously.
// CHECK-LABEL: func.func @attention_decode(
// CHECK-COUNT-2: linalg.transpose
// CHECK-NOT: linalg.transpose
// CHECK: linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "parallel", "reduction", "parallel"]} ins(%{{.+}}, %{{.+}} : tensor<2x2x1x?xf32>, tensor<2x?x8xf32>)
func.func @attention_decode(%q: tensor<1x4x8xf32>, %k: tensor<1x2x8xf32>, %v: tensor<1x2x8xf32>, %pos: index,
                            %kc: tensor<2x2x?x8xf32>, %vc: tensor<2x2x?x8xf32>)
    -> (tensor<1x4x8xf32>, tensor<2x2x?x8xf32>, tensor<2x2x?x8xf32>) {
  %o, %kc1, %vc1 = llm.attention %q, %k, %v cache(%kc, %vc) at %pos {layer = 0 : i64, scale = 0.125 : f64}
      : tensor<1x4x8xf32>, tensor<1x2x8xf32>, tensor<2x2x?x8xf32>
  return %o, %kc1, %vc1 : tensor<1x4x8xf32>, tensor<2x2x?x8xf32>, tensor<2x2x?x8xf32>
}

// -----

// A bf16 cache (--kv-type bf16): the new rows are transposed and rounded to
// nearest-even with integer arithmetic in one generic (no fptrunc, which
// LLVM would turn into a call without AVX512-BF16); the generic loops read
// the history widened back to f32.
// CHECK-LABEL: func.func @attention_bf16_cache(
// CHECK: %[[KT:.+]] = linalg.generic {{.*}} ins(%{{.+}} : tensor<?x2x8xf32>) outs(%{{.+}} : tensor<2x?x8xbf16>)
// CHECK:   arith.bitcast %{{.+}} : f32 to i32
// CHECK:   arith.constant 32767 : i32
// CHECK:   arith.cmpf uno
// CHECK:   arith.trunci %{{.+}} : i32 to i16
// CHECK:   arith.bitcast %{{.+}} : i16 to bf16
// CHECK: tensor.insert_slice %[[KT]] into %{{.+}} : tensor<2x?x8xbf16> into tensor<2x2x?x8xbf16>
// CHECK: %[[KH:.+]] = tensor.extract_slice {{.*}} : tensor<2x2x?x8xbf16> to tensor<2x?x8xbf16>
// CHECK: linalg.generic {{.*}} ins(%[[KH]] : tensor<2x?x8xbf16>) outs(%{{.+}} : tensor<2x?x8xf32>)
// CHECK:   arith.extf %{{.+}} : bf16 to f32
// CHECK-NOT: arith.truncf
func.func @attention_bf16_cache(%q: tensor<?x4x8xf32>, %k: tensor<?x2x8xf32>, %v: tensor<?x2x8xf32>, %pos: index,
                                %kc: tensor<2x2x?x8xbf16>, %vc: tensor<2x2x?x8xbf16>)
    -> (tensor<?x4x8xf32>, tensor<2x2x?x8xbf16>, tensor<2x2x?x8xbf16>) {
  %o, %kc1, %vc1 = llm.attention %q, %k, %v cache(%kc, %vc) at %pos {layer = 1 : i64, scale = 0.125 : f64}
      : tensor<?x4x8xf32>, tensor<?x2x8xf32>, tensor<2x2x?x8xbf16>
  return %o, %kc1, %vc1 : tensor<?x4x8xf32>, tensor<2x2x?x8xbf16>, tensor<2x2x?x8xbf16>
}

// -----

// A q8_0 cache (--kv-type q8_0): per block of 32 values of a new row, the
// largest magnitude, the codes roundeven(x * 127 / max) and the f16 scale
// max / 127 as two bytes, put together as 34-byte blocks in the cache row;
// the generic loops read the history as code * scale.
// CHECK-LABEL: func.func @attention_q8_cache(
// CHECK: %[[ROWS:.+]] = tensor.expand_shape %{{.+}} {{\[\[}}0], [1], [2, 3]] output_shape [%{{.+}}, 2, 1, 32] : tensor<?x2x32xf32> into tensor<?x2x1x32xf32>
// CHECK: %[[MAX:.+]] = linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%[[ROWS]] : tensor<?x2x1x32xf32>) outs(%{{.+}} : tensor<2x?x1xf32>)
// CHECK:   math.absf
// CHECK: %[[CODES:.+]] = linalg.generic {{.*}} ins(%[[ROWS]], %[[MAX]] : {{.*}}) outs(%{{.+}} : tensor<2x?x1x32xi8>)
// CHECK:   math.roundeven
// CHECK:   arith.fptosi %{{.+}} : f32 to i8
// CHECK: %[[SCALE:.+]] = linalg.generic {{.*}} ins(%[[MAX]] : tensor<2x?x1xf32>) outs(%{{.+}} : tensor<2x?x1x2xi8>)
// CHECK:   arith.truncf %{{.+}} : f32 to f16
// CHECK:   arith.bitcast %{{.+}} : f16 to i16
// CHECK:   arith.trunci %{{.+}} : i16 to i8
// CHECK: %[[WITH_SCALE:.+]] = tensor.insert_slice %[[SCALE]] into %{{.+}}[0, 0, 0, 0] [2, %{{.+}}, 1, 2]
// CHECK: %[[BLOCK:.+]] = tensor.insert_slice %[[CODES]] into %[[WITH_SCALE]][0, 0, 0, 2] [2, %{{.+}}, 1, 32]
// CHECK: %[[NEW:.+]] = tensor.collapse_shape %[[BLOCK]] {{\[\[}}0], [1], [2, 3]] : tensor<2x?x1x34xi8> into tensor<2x?x34xi8>
// CHECK: tensor.insert_slice %[[NEW]] into %{{.+}}[1, 0, %{{.+}}, 0] [1, 2, %{{.+}}, 34] [1, 1, 1, 1] : tensor<2x?x34xi8> into tensor<2x2x?x34xi8>
// CHECK: linalg.generic {{.*}} ins(%{{.+}}, %[[BYTES:.+]], %[[BYTES]] : tensor<2x?x1x32xi8>, tensor<2x?x1x2xi8>, tensor<2x?x1x2xi8>) outs(%{{.+}} : tensor<2x?x1x32xf32>)
// CHECK:   arith.shli
// CHECK:   arith.bitcast %{{.+}} : i16 to f16
// CHECK:   arith.sitofp %{{.+}} : i8 to f32
func.func @attention_q8_cache(%q: tensor<?x4x32xf32>, %k: tensor<?x2x32xf32>, %v: tensor<?x2x32xf32>, %pos: index,
                              %kc: tensor<2x2x?x34xi8>, %vc: tensor<2x2x?x34xi8>)
    -> (tensor<?x4x32xf32>, tensor<2x2x?x34xi8>, tensor<2x2x?x34xi8>) {
  %o, %kc1, %vc1 = llm.attention %q, %k, %v cache(%kc, %vc) at %pos {layer = 1 : i64, scale = 0.125 : f64}
      : tensor<?x4x32xf32>, tensor<?x2x32xf32>, tensor<2x2x?x34xi8>
  return %o, %kc1, %vc1 : tensor<?x4x32xf32>, tensor<2x2x?x34xi8>, tensor<2x2x?x34xi8>
}

// -----

// An f16 cache with a flash micro-kernel: the rows are narrowed with
// arith.truncf and the fused op reads the f16 history as it is stored.
// CHECK-LABEL: func.func @attention_f16_cache_flash(
// CHECK: linalg.generic {{.*}} outs(%{{.+}} : tensor<2x?x16xf16>)
// CHECK:   arith.truncf %{{.+}} : f32 to f16
// CHECK: llm.flash_attention {{.*}} : tensor<?x4x16xf32>, tensor<2x?x16xf16>, tensor<2x?x16xf16>, tensor<?x4x16xf32> -> tensor<?x4x16xf32>
func.func @attention_f16_cache_flash(%q: tensor<?x4x16xf32>, %k: tensor<?x2x16xf32>, %v: tensor<?x2x16xf32>, %pos: index,
                                     %kc: tensor<1x2x?x16xf16>, %vc: tensor<1x2x?x16xf16>)
    -> (tensor<?x4x16xf32>, tensor<1x2x?x16xf16>, tensor<1x2x?x16xf16>) {
  %o, %kc1, %vc1 = llm.attention %q, %k, %v cache(%kc, %vc) at %pos
      {layer = 0 : i64, scale = 0.25 : f64, micro_kernel = #llm.micro_kernel<flash_transposed_keys, rows = 4, lanes = 16>}
      : tensor<?x4x16xf32>, tensor<?x2x16xf32>, tensor<1x2x?x16xf16>
  return %o, %kc1, %vc1 : tensor<?x4x16xf32>, tensor<1x2x?x16xf16>, tensor<1x2x?x16xf16>
}

// -----

// Tiled weights, matrix product with bf16 inputs: the rows are rounded and
// laid out as [ceil(M/16), in/32, 16, 32] input tiles (zero past M), the
// product loops over the tiles (tagged amx_bf16) into a padded result whose
// first M rows are returned.
// CHECK-LABEL: func.func @linear_tiled_matmul(
// CHECK: %[[ROWS:.+]] = tensor.dim %{{.+}}, %c0 : tensor<?x64xf32>
// CHECK: %[[TILES:.+]] = linalg.generic {{.*}} outs(%{{.+}} : tensor<?x2x16x32xbf16>)
// CHECK:   arith.cmpi ult, %{{.+}}, %[[ROWS]] : index
// CHECK:   arith.truncf %{{.+}} : f32 to bf16
// CHECK: %[[PAIRS:.+]] = tensor.expand_shape %[[TILES]] {{.*}} : tensor<?x2x16x32xbf16> into tensor<?x2x16x16x2xbf16>
// CHECK: %[[ACC:.+]] = tensor.expand_shape %{{.+}} {{.*}} : tensor<?x48xf32> into tensor<?x16x3x16xf32>
// CHECK: %[[PRODUCT:.+]] = linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction", "reduction", "reduction"]} ins(%[[PAIRS]], %{{.+}} : tensor<?x2x16x16x2xbf16>, tensor<3x2x16x16x2xbf16>) outs(%[[ACC]] : tensor<?x16x3x16xf32>) attrs = {llm.micro_kernel = #llm.micro_kernel<amx_bf16, unroll = 2>}
// CHECK: %[[PADDED:.+]] = tensor.collapse_shape %[[PRODUCT]]
// CHECK: tensor.extract_slice %[[PADDED]][0, 0] [%[[ROWS]], 48] [1, 1]
func.func @linear_tiled_matmul(%x: tensor<?x64xf32>) -> tensor<?x48xf32> {
  %w = llm.param "w" {layout = #llm.layout<tiles16x32>} : tensor<3x2x16x16x2xbf16>
  %y = llm.linear %x, %w {input_type = bf16, weight_layout = #llm.layout<tiles16x32>, micro_kernel = #llm.micro_kernel<amx_bf16, unroll = 2>} : tensor<?x64xf32>, tensor<3x2x16x16x2xbf16> -> tensor<?x48xf32>
  return %y : tensor<?x48xf32>
}

// -----

// Tiled weights, f32 inputs (decode): loops [m, nb, ni, kb, kr, kp] over
// the input viewed as [M, in/32, 16, 2], tagged vnni_gemv.
// CHECK-LABEL: func.func @linear_tiled_rows(
// CHECK: %[[X:.+]] = tensor.expand_shape %{{.+}} {{.*}} : tensor<1x64xf32> into tensor<1x2x16x2xf32>
// CHECK: %[[Y:.+]] = linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "parallel", "reduction", "reduction", "reduction"]} ins(%[[X]], %{{.+}} : tensor<1x2x16x2xf32>, tensor<3x2x16x16x2xbf16>) outs(%{{.+}} : tensor<1x3x16xf32>) attrs = {llm.micro_kernel = #llm.micro_kernel<vnni_gemv>}
// CHECK: tensor.collapse_shape %[[Y]] {{.*}} : tensor<1x3x16xf32> into tensor<1x48xf32>
func.func @linear_tiled_rows(%x: tensor<1x64xf32>) -> tensor<1x48xf32> {
  %w = llm.param "w" {layout = #llm.layout<tiles16x32>} : tensor<3x2x16x16x2xbf16>
  %y = llm.linear %x, %w {weight_layout = #llm.layout<tiles16x32>, micro_kernel = #llm.micro_kernel<vnni_gemv>} : tensor<1x64xf32>, tensor<3x2x16x16x2xbf16> -> tensor<1x48xf32>
  return %y : tensor<1x48xf32>
}

// -----

// A tiled embedding table: the gather computes the tile coordinates of
// [token, column].
// CHECK-LABEL: func.func @embed_tiled(
// CHECK: linalg.generic
// CHECK:   arith.divui
// CHECK:   arith.remui
// CHECK:   tensor.extract %{{.+}}[%{{.+}}, %{{.+}}, %{{.+}}, %{{.+}}, %{{.+}}] : tensor<2x2x16x16x2xbf16>
func.func @embed_tiled(%tokens: tensor<?xi32>) -> tensor<?x64xf32> {
  %t = llm.param "t" {layout = #llm.layout<tiles16x32>} : tensor<2x2x16x16x2xbf16>
  %x = llm.embed %t[%tokens] {weight_layout = #llm.layout<tiles16x32>} : tensor<2x2x16x16x2xbf16>, tensor<?xi32> -> tensor<?x64xf32>
  return %x : tensor<?x64xf32>
}

// -----

// Quantized projection (Q8_0): one generic over [m, nb, ni, kb, kr, kp]
// reading inputs, codes and scales, whose body dequantizes exactly
// (q * d in f32) before the multiply-add; tagged for the Q8_0 GEMV kernel.
// CHECK-LABEL: func.func @linear_q8(
// CHECK: %[[C:.+]] = llm.param "w" {layout = #llm.layout<tiles16x32, q8_0>} : tensor<2x2x16x16x2xi8>
// CHECK: %[[S:.+]] = llm.param "w" {layout = #llm.layout<tiles16x32, q8_0, scales>} : tensor<2x2x16xf16>
// CHECK: %[[X:.+]] = tensor.expand_shape %{{.+}} {{\[}}[0], [1, 2, 3]] output_shape [%{{.+}}, 2, 16, 2] : tensor<?x64xf32> into tensor<?x2x16x2xf32>
// CHECK: linalg.generic {indexing_maps = [#[[MX:.+]], #[[MQ:.+]], #[[MS:.+]], #[[MY:.+]]], iterator_types = ["parallel", "parallel", "parallel", "reduction", "reduction", "reduction"]} ins(%[[X]], %[[C]], %[[S]] : tensor<?x2x16x2xf32>, tensor<2x2x16x16x2xi8>, tensor<2x2x16xf16>)
// CHECK-SAME: attrs = {llm.micro_kernel = #llm.micro_kernel<q8_0_gemv>}
// CHECK: ^bb0(%[[IN:.+]]: f32, %[[Q:.+]]: i8, %[[D:.+]]: f16, %[[ACC:.+]]: f32):
// CHECK: %[[QF:.+]] = arith.sitofp %[[Q]] : i8 to f32
// CHECK: %[[DF:.+]] = arith.extf %[[D]] : f16 to f32
// CHECK: %[[W:.+]] = arith.mulf %[[QF]], %[[DF]] : f32
// CHECK: %[[P:.+]] = arith.mulf %[[IN]], %[[W]] : f32
// CHECK: arith.addf %[[ACC]], %[[P]] : f32
// CHECK: tensor.collapse_shape
func.func @linear_q8(%x: tensor<?x64xf32>) -> tensor<?x32xf32> {
  %c = llm.param "w" {layout = #llm.layout<tiles16x32, q8_0>} : tensor<2x2x16x16x2xi8>
  %s = llm.param "w" {layout = #llm.layout<tiles16x32, q8_0, scales>} : tensor<2x2x16xf16>
  %y = llm.linear %x, %c scales(%s : tensor<2x2x16xf16>) {weight_layout = #llm.layout<tiles16x32, q8_0>, micro_kernel = #llm.micro_kernel<q8_0_gemv>} : tensor<?x64xf32>, tensor<2x2x16x16x2xi8> -> tensor<?x32xf32>
  return %y : tensor<?x32xf32>
}

// -----

// Q4_0: codes [nb, kb, kr, ni] (no kp dimension): the body picks the
// nibble with the kp loop index, (byte >> 4 kp) & 15, and subtracts 8.
// CHECK-DAG: #[[MQ4:.+]] = affine_map<(d0, d1, d2, d3, d4, d5) -> (d1, d3, d4, d2)>
// CHECK-LABEL: func.func @linear_q4(
// CHECK: linalg.generic {indexing_maps = [#{{.+}}, #[[MQ4]], #{{.+}}, #{{.+}}]
// CHECK-SAME: attrs = {llm.micro_kernel = #llm.micro_kernel<q4_0_gemv>}
// CHECK: ^bb0(%{{.+}}: f32, %[[Q:.+]]: i8, %[[D:.+]]: f16, %{{.+}}: f32):
// CHECK: %[[KP:.+]] = linalg.index 5 : index
// CHECK: %[[BYTE:.+]] = arith.extui %[[Q]] : i8 to i32
// CHECK: %[[SHIFT:.+]] = arith.muli
// CHECK: %[[SH:.+]] = arith.shrui %[[BYTE]], %[[SHIFT]] : i32
// CHECK: %[[NIB:.+]] = arith.andi %[[SH]]
// CHECK: %[[CODE:.+]] = arith.subi %[[NIB]]
// CHECK: arith.sitofp %[[CODE]] : i32 to f32
func.func @linear_q4(%x: tensor<1x64xf32>) -> tensor<1x32xf32> {
  %c = llm.param "w" {layout = #llm.layout<tiles16x32, q4_0>} : tensor<2x2x16x16xi8>
  %s = llm.param "w" {layout = #llm.layout<tiles16x32, q4_0, scales>} : tensor<2x2x16xf16>
  %y = llm.linear %x, %c scales(%s : tensor<2x2x16xf16>) {weight_layout = #llm.layout<tiles16x32, q4_0>, micro_kernel = #llm.micro_kernel<q4_0_gemv>} : tensor<1x64xf32>, tensor<2x2x16x16xi8> -> tensor<1x32xf32>
  return %y : tensor<1x32xf32>
}

// -----

// input_type i8: the input row is quantized per block of 32 (max |x| per
// block, dx = max / 127, codes roundeven(x * (1 / dx)), 0 for a zero
// block), then the product of codes scaled by dx and d, tagged for the
// integer dot-product kernel.
// CHECK-LABEL: func.func @linear_q8_i8(
// CHECK: %[[X:.+]] = tensor.expand_shape %{{.+}} : tensor<1x64xf32> into tensor<1x2x32xf32>
// CHECK: %[[MAX:.+]] = linalg.generic {{.+}} iterator_types = ["parallel", "parallel", "reduction"]} ins(%[[X]] : tensor<1x2x32xf32>) outs(%{{.+}} : tensor<1x2xf32>)
// CHECK:   math.absf
// CHECK:   arith.maximumf
// CHECK: %[[DX:.+]] = linalg.generic {{.+}} ins(%[[MAX]] : tensor<1x2xf32>)
// CHECK:   arith.divf %{{.+}}, %{{.+}} : f32
// CHECK: %[[Q:.+]] = linalg.generic {{.+}} ins(%[[X]], %[[DX]] : tensor<1x2x32xf32>, tensor<1x2xf32>) outs(%{{.+}} : tensor<1x2x32xi8>)
// CHECK:   arith.cmpf oeq
// CHECK:   arith.select
// CHECK:   math.roundeven
// CHECK:   arith.fptosi %{{.+}} : f32 to i8
// CHECK: %[[QX:.+]] = tensor.expand_shape %[[Q]] {{.+}} : tensor<1x2x32xi8> into tensor<1x2x16x2xi8>
// CHECK: linalg.generic {{.+}} ins(%[[QX]], %{{.+}}, %{{.+}}, %[[DX]] : tensor<1x2x16x2xi8>, tensor<2x2x16x16x2xi8>, tensor<2x2x16xf16>, tensor<1x2xf32>)
// CHECK-SAME: attrs = {llm.micro_kernel = #llm.micro_kernel<q8_0_i8_gemv, prefetch = 16>}
// CHECK: ^bb0(%[[XQ:.+]]: i8, %[[Q:.+]]: i8, %[[D:.+]]: f16, %[[XS:.+]]: f32, %[[ACC:.+]]: f32):
// CHECK: %[[XF:.+]] = arith.sitofp %[[XQ]] : i8 to f32
// CHECK: %[[XV:.+]] = arith.mulf %[[XF]], %[[XS]] : f32
// CHECK: %[[QF:.+]] = arith.sitofp %[[Q]] : i8 to f32
// CHECK: %[[W:.+]] = arith.mulf %[[QF]], %{{.+}} : f32
// CHECK: %[[P:.+]] = arith.mulf %[[XV]], %[[W]] : f32
// CHECK: arith.addf %[[ACC]], %[[P]] : f32
func.func @linear_q8_i8(%x: tensor<1x64xf32>) -> tensor<1x32xf32> {
  %c = llm.param "w" {layout = #llm.layout<tiles16x32, q8_0>} : tensor<2x2x16x16x2xi8>
  %s = llm.param "w" {layout = #llm.layout<tiles16x32, q8_0, scales>} : tensor<2x2x16xf16>
  %y = llm.linear %x, %c scales(%s : tensor<2x2x16xf16>) {input_type = i8, weight_layout = #llm.layout<tiles16x32, q8_0>, micro_kernel = #llm.micro_kernel<q8_0_i8_gemv, prefetch = 16>} : tensor<1x64xf32>, tensor<2x2x16x16x2xi8> -> tensor<1x32xf32>
  return %y : tensor<1x32xf32>
}

// -----

// CHECK-LABEL: func.func @linear_q4_i8(
// CHECK: linalg.generic {{.+}} ins(%{{.+}}, %{{.+}}, %{{.+}}, %{{.+}} : tensor<1x2x16x2xi8>, tensor<2x2x16x16xi8>, tensor<2x2x16xf16>, tensor<1x2xf32>)
// CHECK-SAME: attrs = {llm.micro_kernel = #llm.micro_kernel<q4_0_i8_gemv, prefetch = 16>}
// CHECK: linalg.index 5 : index
func.func @linear_q4_i8(%x: tensor<1x64xf32>) -> tensor<1x32xf32> {
  %c = llm.param "w" {layout = #llm.layout<tiles16x32, q4_0>} : tensor<2x2x16x16xi8>
  %s = llm.param "w" {layout = #llm.layout<tiles16x32, q4_0, scales>} : tensor<2x2x16xf16>
  %y = llm.linear %x, %c scales(%s : tensor<2x2x16xf16>) {input_type = i8, weight_layout = #llm.layout<tiles16x32, q4_0>, micro_kernel = #llm.micro_kernel<q4_0_i8_gemv, prefetch = 16>} : tensor<1x64xf32>, tensor<2x2x16x16xi8> -> tensor<1x32xf32>
  return %y : tensor<1x32xf32>
}

// -----

// Quantized weights with input_type (prefill on AMX): the input tiles and
// loops of the tiled matrix product, with codes and scales in place of the
// weight; the body dequantizes exactly, then rounds the weight to bf16.
// CHECK-DAG: #[[AQ:.+]] = affine_map<(d0, d1, d2, d3, d4, d5, d6) -> (d2, d4, d5, d3)>
// CHECK-DAG: #[[AS:.+]] = affine_map<(d0, d1, d2, d3, d4, d5, d6) -> (d2, d4, d3)>
// CHECK-LABEL: func.func @linear_q4_matmul(
// CHECK: %[[TILES:.+]] = linalg.generic {{.*}} outs(%{{.+}} : tensor<?x2x16x32xbf16>)
// CHECK: %[[PAIRS:.+]] = tensor.expand_shape %[[TILES]]
// CHECK: linalg.generic {indexing_maps = [#{{.+}}, #[[AQ]], #[[AS]], #{{.+}}], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction", "reduction", "reduction"]} ins(%[[PAIRS]], %{{.+}}, %{{.+}} : tensor<?x2x16x16x2xbf16>, tensor<2x2x16x16xi8>, tensor<2x2x16xf16>) outs(%{{.+}} : tensor<?x16x2x16xf32>) attrs = {llm.micro_kernel = #llm.micro_kernel<amx_q4_0, unroll = 2>}
// CHECK: ^bb0(%[[A:.+]]: bf16, %[[Q:.+]]: i8, %[[D:.+]]: f16, %[[ACC:.+]]: f32):
// CHECK: %[[AF:.+]] = arith.extf %[[A]] : bf16 to f32
// CHECK: %[[KP:.+]] = linalg.index 6 : index
// CHECK: arith.extui %[[Q]] : i8 to i32
// CHECK: %[[W:.+]] = arith.mulf %{{.+}}, %{{.+}} : f32
// CHECK: %[[WB:.+]] = arith.truncf %[[W]] : f32 to bf16
// CHECK: %[[WF:.+]] = arith.extf %[[WB]] : bf16 to f32
// CHECK: %[[P:.+]] = arith.mulf %[[AF]], %[[WF]] : f32
// CHECK: arith.addf %[[ACC]], %[[P]] : f32
// CHECK: tensor.extract_slice
func.func @linear_q4_matmul(%x: tensor<?x64xf32>) -> tensor<?x32xf32> {
  %c = llm.param "w" {layout = #llm.layout<tiles16x32, q4_0>} : tensor<2x2x16x16xi8>
  %s = llm.param "w" {layout = #llm.layout<tiles16x32, q4_0, scales>} : tensor<2x2x16xf16>
  %y = llm.linear %x, %c scales(%s : tensor<2x2x16xf16>) {input_type = bf16, weight_layout = #llm.layout<tiles16x32, q4_0>, micro_kernel = #llm.micro_kernel<amx_q4_0, unroll = 2>} : tensor<?x64xf32>, tensor<2x2x16x16xi8> -> tensor<?x32xf32>
  return %y : tensor<?x32xf32>
}

// -----

// Quantized embedding: the row read is dequantized, code at the tile
// coordinates of [token, column], scale at [nb, kb, ni].
// CHECK-LABEL: func.func @embed_q8(
// CHECK: %[[C:.+]] = llm.param "e" {layout = #llm.layout<tiles16x32, q8_0>} : tensor<2x2x16x16x2xi8>
// CHECK: %[[S:.+]] = llm.param "e" {layout = #llm.layout<tiles16x32, q8_0, scales>} : tensor<2x2x16xf16>
// CHECK: linalg.generic
// CHECK: %[[NB:.+]] = arith.divui %{{.+}}, %c16
// CHECK: %[[KB:.+]] = arith.divui %{{.+}}, %c32
// CHECK: %[[KR:.+]] = arith.divui
// CHECK: %[[NI:.+]] = arith.remui %{{.+}}, %c16
// CHECK: %[[KP:.+]] = arith.remui
// CHECK: %[[Q:.+]] = tensor.extract %[[C]][%[[NB]], %[[KB]], %[[KR]], %[[NI]], %[[KP]]] : tensor<2x2x16x16x2xi8>
// CHECK: %[[D:.+]] = tensor.extract %[[S]][%[[NB]], %[[KB]], %[[NI]]] : tensor<2x2x16xf16>
// CHECK: %[[QF:.+]] = arith.sitofp %[[Q]] : i8 to f32
// CHECK: %[[DF:.+]] = arith.extf %[[D]] : f16 to f32
// CHECK: %[[V:.+]] = arith.mulf %[[QF]], %[[DF]] : f32
// CHECK: linalg.yield %[[V]] : f32
func.func @embed_q8(%t: tensor<?xi32>) -> tensor<?x64xf32> {
  %c = llm.param "e" {layout = #llm.layout<tiles16x32, q8_0>} : tensor<2x2x16x16x2xi8>
  %s = llm.param "e" {layout = #llm.layout<tiles16x32, q8_0, scales>} : tensor<2x2x16xf16>
  %x = llm.embed %c[%t] scales(%s : tensor<2x2x16xf16>) {weight_layout = #llm.layout<tiles16x32, q8_0>} : tensor<2x2x16x16x2xi8>, tensor<?xi32> -> tensor<?x64xf32>
  return %x : tensor<?x64xf32>
}

// -----

// With a flash micro-kernel the cache update is the same, then the history
// goes to one llm.flash_attention (lowered on buffers, see
// lower-flash-attention.mlir) into an empty result.
// CHECK-LABEL: func.func @attention_fused(
// CHECK: %[[KC:.+]] = tensor.insert_slice %{{.+}} into %{{.+}}[0, 0, %{{.+}}, 0]
// CHECK: %[[VC:.+]] = tensor.insert_slice %{{.+}} into %{{.+}}[0, 0, %{{.+}}, 0]
// CHECK: %[[KEYS:.+]] = tensor.extract_slice %[[KC]][0, 0, 0, 0] [1, 1, %{{.+}}, 16] [1, 1, 1, 1] : tensor<1x1x64x16xf32> to tensor<1x?x16xf32>
// CHECK: %[[VALUES:.+]] = tensor.extract_slice %[[VC]]
// CHECK: %[[INIT:.+]] = tensor.empty(%{{.+}}) : tensor<?x2x16xf32>
// CHECK: llm.flash_attention %{{.+}}, %[[KEYS]], %[[VALUES]] at %{{.+}} into %[[INIT]] {micro_kernel = #llm.micro_kernel<flash_transposed_keys, rows = 4, lanes = 16>, scale = 2.500000e-01 : f64} : tensor<?x2x16xf32>, tensor<1x?x16xf32>, tensor<1x?x16xf32>, tensor<?x2x16xf32> -> tensor<?x2x16xf32>
// CHECK-NOT: linalg.generic
func.func @attention_fused(%q: tensor<?x2x16xf32>, %k: tensor<?x1x16xf32>, %v: tensor<?x1x16xf32>, %pos: index,
                           %kc: tensor<1x1x64x16xf32>, %vc: tensor<1x1x64x16xf32>)
    -> (tensor<?x2x16xf32>, tensor<1x1x64x16xf32>, tensor<1x1x64x16xf32>) {
  %o, %kc1, %vc1 = llm.attention %q, %k, %v cache(%kc, %vc) at %pos {layer = 0 : i64, scale = 0.25 : f64, micro_kernel = #llm.micro_kernel<flash_transposed_keys, rows = 4, lanes = 16>}
      : tensor<?x2x16xf32>, tensor<?x1x16xf32>, tensor<1x1x64x16xf32>
  return %o, %kc1, %vc1 : tensor<?x2x16xf32>, tensor<1x1x64x16xf32>, tensor<1x1x64x16xf32>
}

// -----

// A product by tiles without a micro-kernel: the same loops, untagged (the
// generic code reads any layout).
// CHECK-LABEL: func.func @linear_tiles_generic(
// CHECK: linalg.generic {{.*}} ins(%{{.+}}, %{{.+}} : tensor<1x2x16x2xf32>, tensor<3x2x16x16x2xbf16>) outs(%{{.+}} : tensor<1x3x16xf32>) {
func.func @linear_tiles_generic(%x: tensor<1x64xf32>) -> tensor<1x48xf32> {
  %w = llm.param "w" {layout = #llm.layout<tiles16x32>} : tensor<3x2x16x16x2xbf16>
  %y = llm.linear %x, %w {weight_layout = #llm.layout<tiles16x32>} : tensor<1x64xf32>, tensor<3x2x16x16x2xbf16> -> tensor<1x48xf32>
  return %y : tensor<1x48xf32>
}

// -----

// A fused residual (add): the sums start from the addend instead of zero —
// as the plain product's init, as the [M, out/16, 16] view of a
// row-at-a-time product, and inserted into the padded result of an AMX
// product.
// CHECK-LABEL: func.func @linear_addend(
// CHECK-SAME: %[[X:[a-z0-9]+]]: tensor<?x64xf32>, %[[R:[a-z0-9]+]]: tensor<?x32xf32>, %[[X1:[a-z0-9]+]]: tensor<1x64xf32>, %[[R1:[a-z0-9]+]]: tensor<1x32xf32>
// CHECK: linalg.matmul_transpose_b ins(%[[X]], %{{.+}} : tensor<?x64xf32>, tensor<32x64xf32>) outs(%[[R]] : tensor<?x32xf32>)
// CHECK: %[[ACC:.+]] = tensor.expand_shape %[[R1]] {{\[}}[0], [1, 2]] output_shape [1, 2, 16] : tensor<1x32xf32> into tensor<1x2x16xf32>
// CHECK: linalg.generic {{.*}} outs(%[[ACC]] : tensor<1x2x16xf32>) attrs = {llm.micro_kernel = #llm.micro_kernel<vnni_gemv>}
// CHECK: %[[PADDED:.+]] = tensor.insert_slice %[[R]] into %{{.+}}[0, 0] [%{{.+}}, 32] [1, 1] : tensor<?x32xf32> into tensor<?x32xf32>
// CHECK: tensor.expand_shape %[[PADDED]]
// CHECK: llm.micro_kernel = #llm.micro_kernel<amx_bf16, unroll = 2>
func.func @linear_addend(%x: tensor<?x64xf32>, %r: tensor<?x32xf32>, %x1: tensor<1x64xf32>, %r1: tensor<1x32xf32>) -> (tensor<?x32xf32>, tensor<1x32xf32>, tensor<?x32xf32>) {
  %w = llm.param "w" : tensor<32x64xf32>
  %a = llm.linear %x, %w add(%r : tensor<?x32xf32>) : tensor<?x64xf32>, tensor<32x64xf32> -> tensor<?x32xf32>
  %t = llm.param "t" {layout = #llm.layout<tiles16x32>} : tensor<2x2x16x16x2xbf16>
  %b = llm.linear %x1, %t add(%r1 : tensor<1x32xf32>) {weight_layout = #llm.layout<tiles16x32>, micro_kernel = #llm.micro_kernel<vnni_gemv>} : tensor<1x64xf32>, tensor<2x2x16x16x2xbf16> -> tensor<1x32xf32>
  %c = llm.linear %x, %t add(%r : tensor<?x32xf32>) {input_type = bf16, weight_layout = #llm.layout<tiles16x32>, micro_kernel = #llm.micro_kernel<amx_bf16, unroll = 2>} : tensor<?x64xf32>, tensor<2x2x16x16x2xbf16> -> tensor<?x32xf32>
  return %a, %b, %c : tensor<?x32xf32>, tensor<1x32xf32>, tensor<?x32xf32>
}
