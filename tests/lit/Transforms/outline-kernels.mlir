// llm-outline-kernels replaces each llm compute op of an entry function by a
// call to a private `llm.kernel` function. Ops that differ only in their
// weights or their layer share one kernel; llm.param stays in the entry.
// RUN: llamac-opt %s -llm-outline-kernels -split-input-file | FileCheck %s

// Two linears of the same shapes with different weights call one kernel; a
// third of another shape gets its own.
// CHECK-LABEL: func.func private @linear(
// CHECK-SAME: %[[KX:[a-z0-9_]+]]: tensor<?x8xf32>, %[[KW:[a-z0-9_]+]]: tensor<4x8xbf16>) -> tensor<?x4xf32> attributes {llm.kernel}
// CHECK-NOT: llm.param
// CHECK: %[[R:.+]] = llm.linear %[[KX]], %[[KW]] : tensor<?x8xf32>, tensor<4x8xbf16> -> tensor<?x4xf32>
// CHECK: return %[[R]]
// CHECK-LABEL: func.func private @linear_0(
// CHECK-SAME: %[[KX:[a-z0-9_]+]]: tensor<?x8xf32>, %[[KW:[a-z0-9_]+]]: tensor<2x8xbf16>) -> tensor<?x2xf32> attributes {llm.kernel}
// CHECK: llm.linear %[[KX]], %[[KW]] : tensor<?x8xf32>, tensor<2x8xbf16> -> tensor<?x2xf32>
// CHECK-LABEL: func.func @linears(
// CHECK-SAME: %[[X:[a-z0-9_]+]]: tensor<?x8xf32>
// CHECK: %[[W1:.+]] = llm.param "w1" : tensor<4x8xbf16>
// CHECK: %[[W2:.+]] = llm.param "w2" : tensor<4x8xbf16>
// CHECK: %[[W3:.+]] = llm.param "w3" : tensor<2x8xbf16>
// CHECK-NOT: llm.linear
// CHECK: %[[A:.+]] = call @linear(%[[X]], %[[W1]]) : (tensor<?x8xf32>, tensor<4x8xbf16>) -> tensor<?x4xf32>
// CHECK: %[[B:.+]] = call @linear(%[[X]], %[[W2]]) : (tensor<?x8xf32>, tensor<4x8xbf16>) -> tensor<?x4xf32>
// CHECK: %[[C:.+]] = call @linear_0(%[[X]], %[[W3]]) : (tensor<?x8xf32>, tensor<2x8xbf16>) -> tensor<?x2xf32>
// CHECK-NOT: llm.linear
// CHECK: return %[[A]], %[[B]], %[[C]]
// CHECK-NOT: func.func
func.func @linears(%x: tensor<?x8xf32>) -> (tensor<?x4xf32>, tensor<?x4xf32>, tensor<?x2xf32>) {
  %w1 = llm.param "w1" : tensor<4x8xbf16>
  %w2 = llm.param "w2" : tensor<4x8xbf16>
  %w3 = llm.param "w3" : tensor<2x8xbf16>
  %a = llm.linear %x, %w1 : tensor<?x8xf32>, tensor<4x8xbf16> -> tensor<?x4xf32>
  %b = llm.linear %x, %w2 : tensor<?x8xf32>, tensor<4x8xbf16> -> tensor<?x4xf32>
  %c = llm.linear %x, %w3 : tensor<?x8xf32>, tensor<2x8xbf16> -> tensor<?x2xf32>
  return %a, %b, %c : tensor<?x4xf32>, tensor<?x4xf32>, tensor<?x2xf32>
}

// -----

// Attention of layer 1 on a 2-layer cache: the call site slices layer 1's slot
// out of both caches and inserts the kernel's results back; the kernel works
// on layer 0 of a 1-layer cache.
// CHECK-LABEL: func.func private @attention(
// CHECK-SAME: %[[KQ:[a-z0-9_]+]]: tensor<?x4x8xf32>, %[[KK:[a-z0-9_]+]]: tensor<?x2x8xf32>, %[[KV:[a-z0-9_]+]]: tensor<?x2x8xf32>, %[[KKC:[a-z0-9_]+]]: tensor<1x2x?x8xf32>, %[[KVC:[a-z0-9_]+]]: tensor<1x2x?x8xf32>, %[[KPOS:[a-z0-9_]+]]: index) -> (tensor<?x4x8xf32>, tensor<1x2x?x8xf32>, tensor<1x2x?x8xf32>) attributes {llm.kernel}
// CHECK: llm.attention %[[KQ]], %[[KK]], %[[KV]] cache(%[[KKC]], %[[KVC]]) at %[[KPOS]] {layer = 0 : i64, scale = 1.250000e-01 : f64} : tensor<?x4x8xf32>, tensor<?x2x8xf32>, tensor<1x2x?x8xf32>
// CHECK-LABEL: func.func @attention_layer1(
// CHECK-SAME: %[[Q:[a-z0-9_]+]]: tensor<?x4x8xf32>, %[[K:[a-z0-9_]+]]: tensor<?x2x8xf32>, %[[V:[a-z0-9_]+]]: tensor<?x2x8xf32>, %[[POS:[a-z0-9_]+]]: index, %[[KC:[a-z0-9_]+]]: tensor<2x2x?x8xf32>, %[[VC:[a-z0-9_]+]]: tensor<2x2x?x8xf32>
// CHECK: %[[KS:.+]] = tensor.extract_slice %[[KC]][1, 0, 0, 0] [1, 2, %{{.+}}, 8] [1, 1, 1, 1] : tensor<2x2x?x8xf32> to tensor<1x2x?x8xf32>
// CHECK: %[[VS:.+]] = tensor.extract_slice %[[VC]][1, 0, 0, 0] [1, 2, %{{.+}}, 8] [1, 1, 1, 1] : tensor<2x2x?x8xf32> to tensor<1x2x?x8xf32>
// CHECK: %[[R:.+]]:3 = call @attention(%[[Q]], %[[K]], %[[V]], %[[KS]], %[[VS]], %[[POS]])
// CHECK: %[[NK:.+]] = tensor.insert_slice %[[R]]#1 into %[[KC]][1, 0, 0, 0] [1, 2, %{{.+}}, 8] [1, 1, 1, 1] : tensor<1x2x?x8xf32> into tensor<2x2x?x8xf32>
// CHECK: %[[NV:.+]] = tensor.insert_slice %[[R]]#2 into %[[VC]][1, 0, 0, 0] [1, 2, %{{.+}}, 8] [1, 1, 1, 1] : tensor<1x2x?x8xf32> into tensor<2x2x?x8xf32>
// CHECK: return %[[R]]#0, %[[NK]], %[[NV]]
func.func @attention_layer1(%q: tensor<?x4x8xf32>, %k: tensor<?x2x8xf32>, %v: tensor<?x2x8xf32>, %pos: index,
                            %kc: tensor<2x2x?x8xf32>, %vc: tensor<2x2x?x8xf32>)
    -> (tensor<?x4x8xf32>, tensor<2x2x?x8xf32>, tensor<2x2x?x8xf32>) {
  %o, %kc1, %vc1 = llm.attention %q, %k, %v cache(%kc, %vc) at %pos {layer = 1 : i64, scale = 0.125 : f64}
      : tensor<?x4x8xf32>, tensor<?x2x8xf32>, tensor<2x2x?x8xf32>
  return %o, %kc1, %vc1 : tensor<?x4x8xf32>, tensor<2x2x?x8xf32>, tensor<2x2x?x8xf32>
}

// -----

// Both layers of a 2-layer model call the same kernel, each with its own slot;
// layer 1 reads the caches layer 0 wrote.
// CHECK-LABEL: func.func private @attention(
// CHECK: llm.attention {{.*}} {layer = 0 : i64
// CHECK-NOT: func.func private
// CHECK-LABEL: func.func @two_layers(
// CHECK-SAME: %[[KC:[a-z0-9_]+]]: tensor<2x1x?x8xf32>, %[[VC:[a-z0-9_]+]]: tensor<2x1x?x8xf32>
// CHECK: %[[KS0:.+]] = tensor.extract_slice %[[KC]][0, 0, 0, 0]
// CHECK: %[[VS0:.+]] = tensor.extract_slice %[[VC]][0, 0, 0, 0]
// CHECK: %[[R0:.+]]:3 = call @attention(%{{.+}}, %{{.+}}, %{{.+}}, %[[KS0]], %[[VS0]], %{{.+}})
// CHECK: %[[KC1:.+]] = tensor.insert_slice %[[R0]]#1 into %[[KC]][0, 0, 0, 0]
// CHECK: %[[VC1:.+]] = tensor.insert_slice %[[R0]]#2 into %[[VC]][0, 0, 0, 0]
// CHECK: %[[KS1:.+]] = tensor.extract_slice %[[KC1]][1, 0, 0, 0]
// CHECK: %[[VS1:.+]] = tensor.extract_slice %[[VC1]][1, 0, 0, 0]
// CHECK: %[[R1:.+]]:3 = call @attention(%[[R0]]#0, %{{.+}}, %{{.+}}, %[[KS1]], %[[VS1]], %{{.+}})
// CHECK: %[[KC2:.+]] = tensor.insert_slice %[[R1]]#1 into %[[KC1]][1, 0, 0, 0]
// CHECK: %[[VC2:.+]] = tensor.insert_slice %[[R1]]#2 into %[[VC1]][1, 0, 0, 0]
// CHECK: return %[[R1]]#0, %[[KC2]], %[[VC2]]
func.func @two_layers(%q: tensor<?x2x8xf32>, %k: tensor<?x1x8xf32>, %v: tensor<?x1x8xf32>, %pos: index,
                      %kc: tensor<2x1x?x8xf32>, %vc: tensor<2x1x?x8xf32>)
    -> (tensor<?x2x8xf32>, tensor<2x1x?x8xf32>, tensor<2x1x?x8xf32>) {
  %o0, %kc0, %vc0 = llm.attention %q, %k, %v cache(%kc, %vc) at %pos {layer = 0 : i64, scale = 0.25 : f64}
      : tensor<?x2x8xf32>, tensor<?x1x8xf32>, tensor<2x1x?x8xf32>
  %o1, %kc1, %vc1 = llm.attention %o0, %k, %v cache(%kc0, %vc0) at %pos {layer = 1 : i64, scale = 0.25 : f64}
      : tensor<?x2x8xf32>, tensor<?x1x8xf32>, tensor<2x1x?x8xf32>
  return %o1, %kc1, %vc1 : tensor<?x2x8xf32>, tensor<2x1x?x8xf32>, tensor<2x1x?x8xf32>
}

// -----

// A 1-layer cache at layer 0 is already a slot: no slicing.
// CHECK-LABEL: func.func @one_layer_cache(
// CHECK-SAME: %[[POS:[a-z0-9_]+]]: index, %[[KC:[a-z0-9_]+]]: tensor<1x1x?x8xf32>, %[[VC:[a-z0-9_]+]]: tensor<1x1x?x8xf32>
// CHECK-NOT: tensor.extract_slice
// CHECK: %[[R:.+]]:3 = call @attention(%{{.+}}, %{{.+}}, %{{.+}}, %[[KC]], %[[VC]], %[[POS]])
// CHECK-NOT: tensor.insert_slice
// CHECK: return %[[R]]#0, %[[R]]#1, %[[R]]#2
func.func @one_layer_cache(%q: tensor<1x2x8xf32>, %k: tensor<1x1x8xf32>, %v: tensor<1x1x8xf32>, %pos: index,
                           %kc: tensor<1x1x?x8xf32>, %vc: tensor<1x1x?x8xf32>)
    -> (tensor<1x2x8xf32>, tensor<1x1x?x8xf32>, tensor<1x1x?x8xf32>) {
  %o, %kc1, %vc1 = llm.attention %q, %k, %v cache(%kc, %vc) at %pos {layer = 0 : i64, scale = 0.25 : f64}
      : tensor<1x2x8xf32>, tensor<1x1x8xf32>, tensor<1x1x?x8xf32>
  return %o, %kc1, %vc1 : tensor<1x2x8xf32>, tensor<1x1x?x8xf32>, tensor<1x1x?x8xf32>
}

// -----

// Kernels are shared across entry functions; an attribute that changes the
// code (epsilon) makes a different kernel; functions that already are
// kernels are left alone.
// CHECK-LABEL: func.func private @rms_norm(
// CHECK: llm.rms_norm {{.*}} {epsilon = 1.000000e-05 : f64}
// CHECK-LABEL: func.func private @rms_norm_0(
// CHECK: llm.rms_norm {{.*}} {epsilon = 9.9999999999999995E-7 : f64}
// CHECK-LABEL: func.func @prefill(
// CHECK: call @rms_norm(
// CHECK: call @rms_norm_0(
// CHECK-LABEL: func.func @decode(
// CHECK: call @rms_norm(
// CHECK-LABEL: func.func private @existing(
// CHECK-NEXT: llm.silu
// CHECK-NOT: func.func
func.func @prefill(%x: tensor<?x8xf32>) -> (tensor<?x8xf32>, tensor<?x8xf32>) {
  %w = llm.param "norm" : tensor<8xbf16>
  %a = llm.rms_norm %x, %w {epsilon = 1.0e-05 : f64} : tensor<?x8xf32>, tensor<8xbf16>
  %b = llm.rms_norm %x, %w {epsilon = 1.0e-06 : f64} : tensor<?x8xf32>, tensor<8xbf16>
  return %a, %b : tensor<?x8xf32>, tensor<?x8xf32>
}
func.func @decode(%x: tensor<?x8xf32>) -> tensor<?x8xf32> {
  %w = llm.param "norm" : tensor<8xbf16>
  %a = llm.rms_norm %x, %w {epsilon = 1.0e-05 : f64} : tensor<?x8xf32>, tensor<8xbf16>
  return %a : tensor<?x8xf32>
}
func.func private @existing(%x: tensor<?x8xf32>) -> tensor<?x8xf32> attributes {llm.kernel} {
  %y = llm.silu %x : tensor<?x8xf32>
  return %y : tensor<?x8xf32>
}

// -----

// A value used twice by the first op must not make the kernel alias its
// arguments: the later a*b call would compute b*b.
// CHECK-LABEL: func.func private @mul(
// CHECK-SAME: %[[L:[a-z0-9_]+]]: tensor<?x8xf32>, %[[R:[a-z0-9_]+]]: tensor<?x8xf32>)
// CHECK: llm.mul %[[L]], %[[R]] : tensor<?x8xf32>
// CHECK-LABEL: func.func @repeated_operand(
// CHECK-SAME: %[[A:[a-z0-9_]+]]: tensor<?x8xf32>, %[[B:[a-z0-9_]+]]: tensor<?x8xf32>)
// CHECK: call @mul(%[[A]], %[[A]])
// CHECK: call @mul(%[[A]], %[[B]])
func.func @repeated_operand(%a: tensor<?x8xf32>, %b: tensor<?x8xf32>) -> (tensor<?x8xf32>, tensor<?x8xf32>) {
  %sq = llm.mul %a, %a : tensor<?x8xf32>
  %ab = llm.mul %a, %b : tensor<?x8xf32>
  return %sq, %ab : tensor<?x8xf32>, tensor<?x8xf32>
}

// -----

// The micro-kernel an op runs on goes with it into its kernel (and names
// the kernel function for profiles); ops that differ in it get kernels of
// their own.
// CHECK-LABEL: func.func private @linear(
// CHECK-SAME: attributes {llm.kernel, llm.micro_kernel = #llm.micro_kernel<f32_panels, rows = 6, depth = 1024, prefetch = 16>}
// CHECK: llm.linear {{.+}}micro_kernel = #llm.micro_kernel<f32_panels, rows = 6, depth = 1024, prefetch = 16>
// CHECK-LABEL: func.func private @linear_0(
// CHECK-SAME: attributes {llm.kernel, llm.micro_kernel = #llm.micro_kernel<f32_panels, rows = 4, depth = 1024, prefetch = 16>}
// CHECK-LABEL: func.func private @attention(
// CHECK-SAME: attributes {llm.kernel, llm.micro_kernel = #llm.micro_kernel<flash_key_rows, lanes = 16>}
// CHECK: llm.attention {{.+}}layer = 0 : i64, micro_kernel = #llm.micro_kernel<flash_key_rows, lanes = 16>
func.func @decode(%x: tensor<1x64xf32>, %q: tensor<1x4x16xf32>, %k: tensor<1x1x16xf32>, %c: tensor<2x1x?x16xf32>, %p: index)
    -> (tensor<1x64xf32>, tensor<1x64xf32>, tensor<1x4x16xf32>) {
  %w = llm.param "w" {layout = #llm.layout<panels64>} : tensor<1x64x64xf32>
  %a = llm.linear %x, %w {weight_layout = #llm.layout<panels64>, micro_kernel = #llm.micro_kernel<f32_panels, rows = 6, depth = 1024, prefetch = 16>} : tensor<1x64xf32>, tensor<1x64x64xf32> -> tensor<1x64xf32>
  %b = llm.linear %x, %w {weight_layout = #llm.layout<panels64>, micro_kernel = #llm.micro_kernel<f32_panels, rows = 4, depth = 1024, prefetch = 16>} : tensor<1x64xf32>, tensor<1x64x64xf32> -> tensor<1x64xf32>
  %o, %kc, %vc = llm.attention %q, %k, %k cache(%c, %c) at %p
      {layer = 1 : i64, scale = 0.25 : f64, micro_kernel = #llm.micro_kernel<flash_key_rows, lanes = 16>}
      : tensor<1x4x16xf32>, tensor<1x1x16xf32>, tensor<2x1x?x16xf32>
  return %a, %b, %o : tensor<1x64xf32>, tensor<1x64xf32>, tensor<1x4x16xf32>
}
