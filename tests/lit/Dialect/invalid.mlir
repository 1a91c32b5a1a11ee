// Each verifier rejects what the op's semantics cannot mean, with a message
// that names the sizes involved.
// RUN: llamac-opt %s -split-input-file -verify-diagnostics

func.func @param_empty_name() {
  // expected-error @+1 {{'llm.param' op requires a non-empty weight name}}
  %w = llm.param "" : tensor<4xf32>
  return
}

// -----

func.func @param_dynamic_shape() {
  // expected-error @+1 {{must be statically shaped tensor}}
  %w = llm.param "w" : tensor<?xf32>
  return
}

// -----

func.func @param_integer_weight() {
  // expected-error @+1 {{'llm.param' op i8 weights need a quantized layout (codes of #llm.layout<tiles16x32, q8_0> or q4_0)}}
  %w = llm.param "w" : tensor<4xi8>
  return
}

// -----

func.func @embed_table_rank(%t: tensor<?xi32>) {
  %e = llm.param "e" : tensor<16xbf16>
  // expected-error @+1 {{'llm.embed' op expects a 2-D float table [vocab, hidden] (or one stored in a weight_layout), got 'tensor<16xbf16>'}}
  %x = llm.embed %e[%t] : tensor<16xbf16>, tensor<?xi32> -> tensor<?x8xf32>
  return
}

// -----

func.func @embed_hidden_mismatch(%t: tensor<?xi32>) {
  %e = llm.param "e" : tensor<16x8xbf16>
  // expected-error @+1 {{'llm.embed' op result row size 4 does not match the table's hidden size 8}}
  %x = llm.embed %e[%t] : tensor<16x8xbf16>, tensor<?xi32> -> tensor<?x4xf32>
  return
}

// -----

func.func @embed_rows_mismatch(%t: tensor<3xi32>) {
  %e = llm.param "e" : tensor<16x8xbf16>
  // expected-error @+1 {{'llm.embed' op result has 2 rows but there are 3 token ids}}
  %x = llm.embed %e[%t] : tensor<16x8xbf16>, tensor<3xi32> -> tensor<2x8xf32>
  return
}

// -----

func.func @embed_float_tokens(%t: tensor<3xf32>) {
  %e = llm.param "e" : tensor<16x8xbf16>
  // expected-error @+1 {{operand #1 must be 1D tensor of 32-bit signless integer or 64-bit signless integer values}}
  %x = llm.embed %e[%t] : tensor<16x8xbf16>, tensor<3xf32> -> tensor<3x8xf32>
  return
}

// -----

func.func @rms_norm_weight_size(%x: tensor<?x8xf32>) {
  %w = llm.param "w" : tensor<4xbf16>
  // expected-error @+1 {{'llm.rms_norm' op normalizes a last dimension of size 8 but the weight has 4 elements}}
  %y = llm.rms_norm %x, %w {epsilon = 1.0e-05 : f64} : tensor<?x8xf32>, tensor<4xbf16>
  return
}

// -----

func.func @rms_norm_epsilon(%x: tensor<?x8xf32>) {
  %w = llm.param "w" : tensor<8xbf16>
  // expected-error @+1 {{'llm.rms_norm' op requires a positive epsilon, got 0}}
  %y = llm.rms_norm %x, %w {epsilon = 0.0 : f64} : tensor<?x8xf32>, tensor<8xbf16>
  return
}

// -----

func.func @rms_norm_weight_rank(%x: tensor<?x8xf32>) {
  %w = llm.param "w" : tensor<8x1xbf16>
  // expected-error @+1 {{'llm.rms_norm' op expects a 1-D weight, got rank 2}}
  %y = llm.rms_norm %x, %w {epsilon = 1.0e-05 : f64} : tensor<?x8xf32>, tensor<8x1xbf16>
  return
}

// -----

func.func @linear_in_features(%x: tensor<?x8xf32>) {
  %w = llm.param "w" : tensor<4x16xbf16>
  // expected-error @+1 {{'llm.linear' op input has 8 features but the weight expects 16 (weight is [out, in])}}
  %y = llm.linear %x, %w : tensor<?x8xf32>, tensor<4x16xbf16> -> tensor<?x4xf32>
  return
}

// -----

func.func @linear_out_features(%x: tensor<?x8xf32>) {
  %w = llm.param "w" : tensor<4x8xbf16>
  // expected-error @+1 {{'llm.linear' op result has 8 features but the weight produces 4}}
  %y = llm.linear %x, %w : tensor<?x8xf32>, tensor<4x8xbf16> -> tensor<?x8xf32>
  return
}

// -----

func.func @linear_rows(%x: tensor<3x8xf32>) {
  %w = llm.param "w" : tensor<4x8xbf16>
  // expected-error @+1 {{'llm.linear' op result dimension 0 (2) differs from the input's (3)}}
  %y = llm.linear %x, %w : tensor<3x8xf32>, tensor<4x8xbf16> -> tensor<2x4xf32>
  return
}

// -----

func.func @linear_element_type(%x: tensor<3x8xf32>) {
  %w = llm.param "w" : tensor<4x8xbf16>
  // expected-error @+1 {{'llm.linear' op result element type 'f16' differs from the input element type 'f32'}}
  %y = llm.linear %x, %w : tensor<3x8xf32>, tensor<4x8xbf16> -> tensor<3x4xf16>
  return
}

// -----

func.func @rope_odd_head_dim(%x: tensor<?x4x7xf32>, %p: index) {
  // expected-error @+1 {{'llm.rope' op requires a static, even head_dim, got 7}}
  %y = llm.rope %x at %p {theta = 1.0e+04 : f64} : tensor<?x4x7xf32>
  return
}

// -----

func.func @rope_rank(%x: tensor<?x64xf32>, %p: index) {
  // expected-error @+1 {{'llm.rope' op expects input [tokens, heads, head_dim], got rank 2}}
  %y = llm.rope %x at %p {theta = 1.0e+04 : f64} : tensor<?x64xf32>
  return
}

// -----

func.func @rope_theta(%x: tensor<?x4x8xf32>, %p: index) {
  // expected-error @+1 {{'llm.rope' op requires a positive theta, got -1}}
  %y = llm.rope %x at %p {theta = -1.0 : f64} : tensor<?x4x8xf32>
  return
}

// -----

func.func @rope_scaling_bands(%x: tensor<?x4x8xf32>, %p: index) {
  // expected-error @+1 {{rope_llama3: high_freq_factor (1.000000e+00) must be greater than low_freq_factor (4.000000e+00)}}
  %y = llm.rope %x at %p {theta = 1.0e+04 : f64, scaling = #llm.rope_llama3<factor = 32.0, low_freq_factor = 4.0, high_freq_factor = 1.0, original_max_position_embeddings = 8192>} : tensor<?x4x8xf32>
  return
}

// -----

func.func @rope_scaling_syntax(%x: tensor<?x4x8xf32>, %p: index) {
  // expected-error @+1 {{expected 'low_freq_factor'}}
  %y = llm.rope %x at %p {theta = 1.0e+04 : f64, scaling = #llm.rope_llama3<factor = 32.0, high_freq_factor = 1.0>} : tensor<?x4x8xf32>
  return
}

// -----

func.func @attention_groups(%q: tensor<?x6x8xf32>, %k: tensor<?x4x8xf32>, %c: tensor<2x4x?x8xf32>, %p: index) {
  // expected-error @+1 {{'llm.attention' op query heads (6) are not a multiple of KV heads (4)}}
  %o, %kc, %vc = llm.attention %q, %k, %k cache(%c, %c) at %p {layer = 0 : i64, scale = 0.125 : f64} : tensor<?x6x8xf32>, tensor<?x4x8xf32>, tensor<2x4x?x8xf32>
  return
}

// -----

func.func @attention_head_dim(%q: tensor<?x8x8xf32>, %k: tensor<?x4x16xf32>, %c: tensor<2x4x?x16xf32>, %p: index) {
  // expected-error @+1 {{'llm.attention' op head_dim differs between query (8) and key (16)}}
  %o, %kc, %vc = llm.attention %q, %k, %k cache(%c, %c) at %p {layer = 0 : i64, scale = 0.125 : f64} : tensor<?x8x8xf32>, tensor<?x4x16xf32>, tensor<2x4x?x16xf32>
  return
}

// -----

func.func @attention_cache_rows(%q: tensor<?x8x32xf32>, %k: tensor<?x4x32xf32>, %c: tensor<2x4x?x32xi8>, %p: index) {
  // expected-error @+1 {{'llm.attention' op cache rows of 32 elements, but head_dim 32 as q8_0 takes 34}}
  %o, %kc, %vc = llm.attention %q, %k, %k cache(%c, %c) at %p {layer = 0 : i64, scale = 0.125 : f64} : tensor<?x8x32xf32>, tensor<?x4x32xf32>, tensor<2x4x?x32xi8>
  return
}

// -----

func.func @attention_q8_head_dim(%q: tensor<?x8x16xf32>, %k: tensor<?x4x16xf32>, %c: tensor<2x4x?x17xi8>, %p: index) {
  // expected-error @+1 {{'llm.attention' op cache of q8_0 cannot hold rows of head_dim 16}}
  %o, %kc, %vc = llm.attention %q, %k, %k cache(%c, %c) at %p {layer = 0 : i64, scale = 0.125 : f64} : tensor<?x8x16xf32>, tensor<?x4x16xf32>, tensor<2x4x?x17xi8>
  return
}

// -----

func.func @attention_layer(%q: tensor<?x8x8xf32>, %k: tensor<?x4x8xf32>, %c: tensor<2x4x?x8xf32>, %p: index) {
  // expected-error @+1 {{'llm.attention' op layer 2 is outside the cache's 2 layers}}
  %o, %kc, %vc = llm.attention %q, %k, %k cache(%c, %c) at %p {layer = 2 : i64, scale = 0.125 : f64} : tensor<?x8x8xf32>, tensor<?x4x8xf32>, tensor<2x4x?x8xf32>
  return
}

// -----

func.func @attention_negative_layer(%q: tensor<?x8x8xf32>, %k: tensor<?x4x8xf32>, %c: tensor<2x4x?x8xf32>, %p: index) {
  // expected-error @+1 {{attribute 'layer' failed to satisfy constraint: 64-bit signless integer attribute whose value is non-negative}}
  %o, %kc, %vc = llm.attention %q, %k, %k cache(%c, %c) at %p {layer = -1 : i64, scale = 0.125 : f64} : tensor<?x8x8xf32>, tensor<?x4x8xf32>, tensor<2x4x?x8xf32>
  return
}

// -----

func.func @attention_cache_heads(%q: tensor<?x8x8xf32>, %k: tensor<?x4x8xf32>, %c: tensor<2x2x?x8xf32>, %p: index) {
  // expected-error @+1 {{'llm.attention' op cache holds 2 KV heads but key/value have 4}}
  %o, %kc, %vc = llm.attention %q, %k, %k cache(%c, %c) at %p {layer = 0 : i64, scale = 0.125 : f64} : tensor<?x8x8xf32>, tensor<?x4x8xf32>, tensor<2x2x?x8xf32>
  return
}

// -----

func.func @attention_tokens(%q: tensor<3x8x8xf32>, %k: tensor<2x4x8xf32>, %c: tensor<2x4x?x8xf32>, %p: index) {
  // expected-error @+1 {{'llm.attention' op query has 3 tokens but key has 2}}
  %o, %kc, %vc = llm.attention %q, %k, %k cache(%c, %c) at %p {layer = 0 : i64, scale = 0.125 : f64} : tensor<3x8x8xf32>, tensor<2x4x8xf32>, tensor<2x4x?x8xf32>
  return
}

// -----

func.func @attention_scale(%q: tensor<?x8x8xf32>, %k: tensor<?x4x8xf32>, %c: tensor<2x4x?x8xf32>, %p: index) {
  // expected-error @+1 {{'llm.attention' op requires a positive scale, got 0}}
  %o, %kc, %vc = llm.attention %q, %k, %k cache(%c, %c) at %p {layer = 0 : i64, scale = 0.0 : f64} : tensor<?x8x8xf32>, tensor<?x4x8xf32>, tensor<2x4x?x8xf32>
  return
}

// -----

func.func @add_types(%a: tensor<?x8xf32>, %b: tensor<?x4xf32>) {
  // expected-error @+1 {{'llm.add' op all non-scalar operands/results must have the same shape and base type}}
  %y = "llm.add"(%a, %b) : (tensor<?x8xf32>, tensor<?x4xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @silu_integer(%a: tensor<?x8xi32>) {
  // expected-error @+1 {{must be ranked tensor of 32-bit float or 16-bit float or bfloat16 type values}}
  %y = llm.silu %a : tensor<?x8xi32>
  return
}

// -----

func.func @param_unknown_layout() {
  // expected-error @+1 {{unknown layout blocks 'nchw' (tiles16x32, panels64)}}
  %w = llm.param "w" {layout = #llm.layout<nchw>} : tensor<4x2x16x16x2xbf16>
  return
}

// -----

func.func @param_string_layout() {
  // expected-error @+1 {{attribute 'layout' failed to satisfy constraint}}
  %w = llm.param "w" {layout = "vnni16x32"} : tensor<4x2x16x16x2xbf16>
  return
}

// -----

func.func @param_quantized_panels() {
  // expected-error @+1 {{layout: panels hold f32 values, not quantized codes}}
  %w = llm.param "w" {layout = #llm.layout<panels64, q8_0>} : tensor<4x8x64xf32>
  return
}

// -----

func.func @param_unquantized_scales() {
  // expected-error @+1 {{layout: only quantized codes have scales}}
  %w = llm.param "w" {layout = #llm.layout<tiles16x32, scales>} : tensor<4x2x16xf16>
  return
}

// -----

func.func @param_f32_panel_shape() {
  // expected-error @+1 {{'llm.param' op layout #llm.layout<panels64> stores a matrix as f32 [out/64, in, 64], got 'tensor<4x8x32xf32>'}}
  %w = llm.param "w" {layout = #llm.layout<panels64>} : tensor<4x8x32xf32>
  return
}

// -----

func.func @param_layout_shape() {
  // expected-error @+1 {{'llm.param' op layout #llm.layout<tiles16x32> stores a matrix as bf16 [out/16, in/32, 16, 16, 2], got 'tensor<4x2x16x16x2xf32>'}}
  %w = llm.param "w" {layout = #llm.layout<tiles16x32>} : tensor<4x2x16x16x2xf32>
  return
}

// -----

func.func @linear_tiles_in_features(%x: tensor<?x32xf32>) {
  %w = llm.param "w" {layout = #llm.layout<tiles16x32>} : tensor<4x2x16x16x2xbf16>
  // expected-error @+1 {{'llm.linear' op input has 32 features but the weight expects 64 (weight is [out, in])}}
  %y = llm.linear %x, %w {weight_layout = #llm.layout<tiles16x32>} : tensor<?x32xf32>, tensor<4x2x16x16x2xbf16> -> tensor<?x64xf32>
  return
}

// -----

func.func @linear_weight_rank(%x: tensor<?x32xf32>) {
  %w = llm.param "w" : tensor<4x2x16x32xbf16>
  // expected-error @+1 {{'llm.linear' op expects a 2-D float weight [out_features, in_features] (or one stored in a weight_layout), got 'tensor<4x2x16x32xbf16>'}}
  %y = llm.linear %x, %w : tensor<?x32xf32>, tensor<4x2x16x32xbf16> -> tensor<?x64xf32>
  return
}

// -----

func.func @linear_input_type(%x: tensor<?x64xbf16>) {
  %w = llm.param "w" {layout = #llm.layout<tiles16x32>} : tensor<4x2x16x16x2xbf16>
  // expected-error @+1 {{'llm.linear' op input_type must be a float type no wider than the input's, got 'f32'}}
  %y = llm.linear %x, %w {input_type = f32, weight_layout = #llm.layout<tiles16x32>} : tensor<?x64xbf16>, tensor<4x2x16x16x2xbf16> -> tensor<?x64xbf16>
  return
}

// -----

func.func @linear_i8_inputs_unquantized(%x: tensor<1x64xf32>) {
  %w = llm.param "w" {layout = #llm.layout<tiles16x32>} : tensor<4x2x16x16x2xbf16>
  // expected-error @+1 {{'llm.linear' op input_type i8 needs quantized weights (scales)}}
  %y = llm.linear %x, %w {input_type = i8, weight_layout = #llm.layout<tiles16x32>} : tensor<1x64xf32>, tensor<4x2x16x16x2xbf16> -> tensor<1x64xf32>
  return
}

// -----

func.func @linear_i4_inputs(%x: tensor<1x64xf32>) {
  %c = llm.param "w" {layout = #llm.layout<tiles16x32, q8_0>} : tensor<4x2x16x16x2xi8>
  %s = llm.param "w" {layout = #llm.layout<tiles16x32, q8_0, scales>} : tensor<4x2x16xf16>
  // expected-error @+1 {{'llm.linear' op an integer input_type must be i8, got 'i4'}}
  %y = llm.linear %x, %c scales(%s : tensor<4x2x16xf16>) {input_type = i4, weight_layout = #llm.layout<tiles16x32, q8_0>} : tensor<1x64xf32>, tensor<4x2x16x16x2xi8> -> tensor<1x64xf32>
  return
}

// -----

func.func @embed_tiles_hidden(%tokens: tensor<?xi32>) {
  %t = llm.param "t" {layout = #llm.layout<tiles16x32>} : tensor<2x2x16x16x2xbf16>
  // expected-error @+1 {{'llm.embed' op result row size 32 does not match the table's hidden size 64}}
  %x = llm.embed %t[%tokens] {weight_layout = #llm.layout<tiles16x32>} : tensor<2x2x16x16x2xbf16>, tensor<?xi32> -> tensor<?x32xf32>
  return
}

// -----

func.func @param_integer_weight_type() {
  // expected-error @+1 {{must be statically shaped tensor of 32-bit float or 16-bit float or bfloat16 type or 8-bit signless integer values}}
  %w = llm.param "w" : tensor<4xi32>
  return
}

// -----

func.func @param_q8_shape() {
  // expected-error @+1 {{'llm.param' op layout #llm.layout<tiles16x32, q8_0> stores a matrix as i8 [out/16, in/32, 16, 16, 2], got 'tensor<2x2x16x16xi8>'}}
  %w = llm.param "w" {layout = #llm.layout<tiles16x32, q8_0>} : tensor<2x2x16x16xi8>
  return
}

// -----

func.func @param_q4_shape() {
  // expected-error @+1 {{'llm.param' op layout #llm.layout<tiles16x32, q4_0> stores a matrix as i8 [out/16, in/32, 16, 16], got 'tensor<2x2x16x16x2xi8>'}}
  %w = llm.param "w" {layout = #llm.layout<tiles16x32, q4_0>} : tensor<2x2x16x16x2xi8>
  return
}

// -----

func.func @param_scales_shape() {
  // expected-error @+1 {{'llm.param' op layout #llm.layout<tiles16x32, q8_0, scales> stores a matrix as f16 [out/16, in/32, 16], got 'tensor<2x2x16xbf16>'}}
  %s = llm.param "w" {layout = #llm.layout<tiles16x32, q8_0, scales>} : tensor<2x2x16xbf16>
  return
}

// -----

func.func @linear_codes_without_scales(%x: tensor<?x64xf32>) {
  %w = llm.param "w" {layout = #llm.layout<tiles16x32, q8_0>} : tensor<2x2x16x16x2xi8>
  // expected-error @+1 {{'llm.linear' op has quantized codes 'tensor<2x2x16x16x2xi8>' but no scales}}
  %y = llm.linear %x, %w {weight_layout = #llm.layout<tiles16x32, q8_0>} : tensor<?x64xf32>, tensor<2x2x16x16x2xi8> -> tensor<?x32xf32>
  return
}

// -----

func.func @linear_scales_without_codes(%x: tensor<?x64xf32>) {
  %w = llm.param "w" : tensor<32x64xf32>
  %s = llm.param "w" {layout = #llm.layout<tiles16x32, q8_0, scales>} : tensor<2x2x16xf16>
  // expected-error @+1 {{'llm.linear' op has scales but its weight 'tensor<32x64xf32>' holds no quantized codes}}
  %y = llm.linear %x, %w scales(%s : tensor<2x2x16xf16>) : tensor<?x64xf32>, tensor<32x64xf32> -> tensor<?x32xf32>
  return
}

// -----

func.func @linear_scales_shape(%x: tensor<?x64xf32>) {
  %w = llm.param "w" {layout = #llm.layout<tiles16x32, q4_0>} : tensor<2x2x16x16xi8>
  %s = llm.param "w" {layout = #llm.layout<tiles16x32, q4_0, scales>} : tensor<2x1x16xf16>
  // expected-error @+1 {{'llm.linear' op scales must be 'tensor<2x2x16xf16>' for codes 'tensor<2x2x16x16xi8>', got 'tensor<2x1x16xf16>'}}
  %y = llm.linear %x, %w scales(%s : tensor<2x1x16xf16>) {weight_layout = #llm.layout<tiles16x32, q4_0>} : tensor<?x64xf32>, tensor<2x2x16x16xi8> -> tensor<?x32xf32>
  return
}

// -----

func.func @embed_codes_without_scales(%t: tensor<?xi32>) {
  %w = llm.param "w" {layout = #llm.layout<tiles16x32, q4_0>} : tensor<2x2x16x16xi8>
  // expected-error @+1 {{'llm.embed' op has quantized codes 'tensor<2x2x16x16xi8>' but no scales}}
  %x = llm.embed %w[%t] {weight_layout = #llm.layout<tiles16x32, q4_0>} : tensor<2x2x16x16xi8>, tensor<?xi32> -> tensor<?x64xf32>
  return
}

// -----

func.func @attention_cache_rank(%q: tensor<?x4x8xf32>, %k: tensor<?x1x8xf32>,
                                %c: tensor<2x1x8xf32>, %p: index) {
  // expected-error @+1 {{operand #3 must be 4D tensor}}
  %o, %kc, %vc = llm.attention %q, %k, %k cache(%c, %c) at %p
      {layer = 0 : i64, scale = 0.125 : f64}
      : tensor<?x4x8xf32>, tensor<?x1x8xf32>, tensor<2x1x8xf32>
  return
}

// -----

func.func @attention_zero_kv_heads(%q: tensor<?x4x8xf32>, %k: tensor<?x0x8xf32>,
                                   %c: tensor<2x0x?x8xf32>, %p: index) {
  // expected-error @+1 {{'llm.attention' op requires static, positive head counts}}
  %o, %kc, %vc = llm.attention %q, %k, %k cache(%c, %c) at %p
      {layer = 0 : i64, scale = 0.125 : f64}
      : tensor<?x4x8xf32>, tensor<?x0x8xf32>, tensor<2x0x?x8xf32>
  return
}

// -----

func.func @attention_dynamic_layers(%q: tensor<?x4x8xf32>, %k: tensor<?x1x8xf32>,
                                    %c: tensor<?x1x?x8xf32>, %p: index) {
  // expected-error @+1 {{'llm.attention' op requires a static layer count in the cache type}}
  %o, %kc, %vc = llm.attention %q, %k, %k cache(%c, %c) at %p
      {layer = 0 : i64, scale = 0.125 : f64}
      : tensor<?x4x8xf32>, tensor<?x1x8xf32>, tensor<?x1x?x8xf32>
  return
}

// -----

func.func @attention_too_few_results(%x: tensor<?x4x8xf32>) {
  // expected-error @+1 {{'llm.attention' op expected 3 results}}
  %y = "llm.attention"(%x, %x, %x, %x, %x) {layer = 0 : i64, scale = 1.0 : f64}
      : (tensor<?x4x8xf32>, tensor<?x4x8xf32>, tensor<?x4x8xf32>, tensor<?x4x8xf32>, tensor<?x4x8xf32>) -> tensor<?x4x8xf32>
  return
}

// -----

func.func @rope_missing_theta(%x: tensor<?x4x8xf32>, %p: index) {
  // expected-error @+1 {{'llm.rope' op requires attribute 'theta'}}
  %y = "llm.rope"(%x, %p) : (tensor<?x4x8xf32>, index) -> tensor<?x4x8xf32>
  return
}

// -----

func.func @rope_nan_theta(%x: tensor<?x4x8xf32>, %p: index) {
  // expected-error @+1 {{'llm.rope' op requires a positive theta, got nan}}
  %y = llm.rope %x at %p {theta = 0x7FF8000000000000 : f64} : tensor<?x4x8xf32>
  return
}

// -----

func.func @rope_scaling_not_llama3(%x: tensor<?x4x8xf32>, %p: index) {
  // expected-error @+1 {{attribute 'scaling' failed to satisfy constraint: Llama 3 RoPE frequency scaling}}
  %y = llm.rope %x at %p {theta = 1.0e+04 : f64, scaling = 3 : i64} : tensor<?x4x8xf32>
  return
}

// -----

func.func @linear_one_operand(%x: tensor<?x8xf32>) {
  // expected-error @+1 {{'llm.linear' op expected 2 or more operands, but found 1}}
  %y = "llm.linear"(%x) : (tensor<?x8xf32>) -> tensor<?x4xf32>
  return
}

// -----

func.func @silu_shape_changes(%x: tensor<?x8xf32>) {
  // expected-error @+1 {{'llm.silu' op all non-scalar operands/results must have the same shape and base type}}
  %y = "llm.silu"(%x) : (tensor<?x8xf32>) -> tensor<?x9xf32>
  return
}

// -----

func.func @rms_norm_scalar_input(%x: tensor<f32>) {
  %w = llm.param "w" : tensor<8xf32>
  // expected-error @+1 {{'llm.rms_norm' op expects an input of rank >= 1}}
  %y = llm.rms_norm %x, %w {epsilon = 1.0e-05 : f64} : tensor<f32>, tensor<8xf32>
  return
}

// -----

func.func @unknown_op() {
  // expected-error @+1 {{custom op 'llm.frobnicate' is unknown}}
  %w = llm.frobnicate "w" : tensor<4x8xf32>
  return
}

// -----

func.func @param_one_part() {
  // expected-error @+1 {{'llm.param' op parts must name at least two checkpoint matrices}}
  %w = llm.param "a" {parts = ["a"]} : tensor<32x64xf32>
  return
}

// -----

func.func @param_empty_part() {
  // expected-error @+1 {{'llm.param' op parts must be non-empty weight names}}
  %w = llm.param "a+" {parts = ["a", ""]} : tensor<32x64xf32>
  return
}

// -----

func.func @linear_addend_type(%x: tensor<?x64xf32>, %r: tensor<?x16xf32>) {
  %w = llm.param "w" : tensor<32x64xf32>
  // expected-error @+1 {{'llm.linear' op addend type 'tensor<?x16xf32>' differs from the result type 'tensor<?x32xf32>'}}
  %y = llm.linear %x, %w add(%r : tensor<?x16xf32>) : tensor<?x64xf32>, tensor<32x64xf32> -> tensor<?x32xf32>
  return
}

// -----

// A tiled weight read as if it were plain: the op must say how it is stored.
func.func @linear_tiles_without_weight_layout(%x: tensor<?x64xf32>) {
  %w = llm.param "w" {layout = #llm.layout<tiles16x32>} : tensor<4x2x16x16x2xbf16>
  // expected-error @+1 {{'llm.linear' op expects a 2-D float weight [out_features, in_features] (or one stored in a weight_layout), got 'tensor<4x2x16x16x2xbf16>'}}
  %y = llm.linear %x, %w : tensor<?x64xf32>, tensor<4x2x16x16x2xbf16> -> tensor<?x64xf32>
  return
}

// -----

func.func @linear_weight_layout_mismatch(%x: tensor<?x64xf32>) {
  %w = llm.param "w" : tensor<64x64xbf16>
  // expected-error @+1 {{'llm.linear' op weight_layout #llm.layout<tiles16x32> stores a matrix as bf16 [out/16, in/32, 16, 16, 2], got 'tensor<64x64xbf16>'}}
  %y = llm.linear %x, %w {weight_layout = #llm.layout<tiles16x32>} : tensor<?x64xf32>, tensor<64x64xbf16> -> tensor<?x64xf32>
  return
}

// -----

func.func @linear_micro_kernel_layout(%x: tensor<?x64xf32>) {
  %w = llm.param "w" : tensor<64x64xf32>
  // expected-error @+1 {{'llm.linear' op micro_kernel #llm.micro_kernel<f32_panels, rows = 6, depth = 1024, prefetch = 16> reads weights stored as #llm.layout<panels64>, but the weight is a plain matrix}}
  %y = llm.linear %x, %w {micro_kernel = #llm.micro_kernel<f32_panels, rows = 6, depth = 1024, prefetch = 16>} : tensor<?x64xf32>, tensor<64x64xf32> -> tensor<?x64xf32>
  return
}

// -----

func.func @linear_micro_kernel_inputs(%x: tensor<?x64xf32>) {
  %w = llm.param "w" {layout = #llm.layout<tiles16x32>} : tensor<4x2x16x16x2xbf16>
  // expected-error @+1 {{'llm.linear' op micro_kernel #llm.micro_kernel<amx_bf16, unroll = 2> runs on input_type bf16, but the op has f32 inputs}}
  %y = llm.linear %x, %w {weight_layout = #llm.layout<tiles16x32>, micro_kernel = #llm.micro_kernel<amx_bf16, unroll = 2>} : tensor<?x64xf32>, tensor<4x2x16x16x2xbf16> -> tensor<?x64xf32>
  return
}

// -----

func.func @micro_kernel_missing_tuning() {
  // expected-error @+1 {{micro_kernel amx_bf16 needs unroll}}
  %w = llm.param "w" {k = #llm.micro_kernel<amx_bf16>} : tensor<64x64xbf16>
  return
}

// -----

func.func @micro_kernel_extra_tuning() {
  // expected-error @+1 {{micro_kernel vnni_gemv takes no prefetch}}
  %w = llm.param "w" {k = #llm.micro_kernel<vnni_gemv, prefetch = 4>} : tensor<64x64xbf16>
  return
}

// -----

func.func @micro_kernel_tuning_range() {
  // expected-error @+1 {{micro_kernel f32_panels: rows must be >= 1, got 0}}
  %w = llm.param "w" {k = #llm.micro_kernel<f32_panels, rows = 0, depth = 8, prefetch = 0>} : tensor<64x64xbf16>
  return
}

// -----

func.func @micro_kernel_unknown() {
  // expected-error @+1 {{unknown micro-kernel 'sgemm'}}
  %w = llm.param "w" {k = #llm.micro_kernel<sgemm>} : tensor<64x64xbf16>
  return
}

// -----

func.func @attention_product_kernel(%q: tensor<?x4x16xf32>, %k: tensor<?x1x16xf32>,
                                    %c: tensor<2x1x?x16xf32>, %p: index) {
  // expected-error @+1 {{'llm.attention' op micro_kernel #llm.micro_kernel<vnni_gemv> is not an attention's}}
  %o, %kc, %vc = llm.attention %q, %k, %k cache(%c, %c) at %p
      {layer = 0 : i64, scale = 0.125 : f64, micro_kernel = #llm.micro_kernel<vnni_gemv>}
      : tensor<?x4x16xf32>, tensor<?x1x16xf32>, tensor<2x1x?x16xf32>
  return
}

// -----

func.func @attention_lanes(%q: tensor<?x4x24xf32>, %k: tensor<?x1x24xf32>,
                           %c: tensor<2x1x?x24xf32>, %p: index) {
  // expected-error @+1 {{'llm.attention' op micro_kernel #llm.micro_kernel<flash_key_rows, lanes = 16> needs a head_dim that is a multiple of its lanes, got 24}}
  %o, %kc, %vc = llm.attention %q, %k, %k cache(%c, %c) at %p
      {layer = 0 : i64, scale = 0.125 : f64, micro_kernel = #llm.micro_kernel<flash_key_rows, lanes = 16>}
      : tensor<?x4x24xf32>, tensor<?x1x24xf32>, tensor<2x1x?x24xf32>
  return
}

// -----

func.func @flash_mixed_forms(%q: tensor<?x4x16xf32>, %k: memref<1x?x16xf32>, %o: tensor<?x4x16xf32>, %p: index) {
  // expected-error @+1 {{'llm.flash_attention' op operands must be all tensors or all buffers}}
  %r = llm.flash_attention %q, %k, %k at %p into %o {scale = 0.125 : f64, micro_kernel = #llm.micro_kernel<flash_key_rows, lanes = 16>} : tensor<?x4x16xf32>, memref<1x?x16xf32>, memref<1x?x16xf32>, tensor<?x4x16xf32> -> tensor<?x4x16xf32>
  return
}

// -----

func.func @flash_heads(%q: tensor<?x3x16xf32>, %k: tensor<2x?x16xf32>, %o: tensor<?x3x16xf32>, %p: index) {
  // expected-error @+1 {{'llm.flash_attention' op query heads (3) must be a static multiple of the KV heads of keys and values (2)}}
  %r = llm.flash_attention %q, %k, %k at %p into %o {scale = 0.125 : f64, micro_kernel = #llm.micro_kernel<flash_key_rows, lanes = 16>} : tensor<?x3x16xf32>, tensor<2x?x16xf32>, tensor<2x?x16xf32>, tensor<?x3x16xf32> -> tensor<?x3x16xf32>
  return
}

// -----

func.func @flash_history_types(%q: tensor<?x4x16xf32>, %k: tensor<1x?x16xbf16>, %v: tensor<1x?x16xf16>, %o: tensor<?x4x16xf32>, %p: index) {
  // expected-error @+1 {{'llm.flash_attention' op values 'tensor<1x?x16xf16>' must have the keys' element type 'bf16'}}
  %r = llm.flash_attention %q, %k, %v at %p into %o {scale = 0.125 : f64, micro_kernel = #llm.micro_kernel<flash_key_rows, lanes = 16>} : tensor<?x4x16xf32>, tensor<1x?x16xbf16>, tensor<1x?x16xf16>, tensor<?x4x16xf32> -> tensor<?x4x16xf32>
  return
}

// -----

func.func @flash_history_int(%q: tensor<?x4x16xf32>, %k: tensor<1x?x16xi32>, %o: tensor<?x4x16xf32>, %p: index) {
  // expected-error @+1 {{'llm.flash_attention' op keys of 'i32': a cache stores f32, bf16, f16 or i8 (q8_0 blocks)}}
  %r = llm.flash_attention %q, %k, %k at %p into %o {scale = 0.125 : f64, micro_kernel = #llm.micro_kernel<flash_key_rows, lanes = 16>} : tensor<?x4x16xf32>, tensor<1x?x16xi32>, tensor<1x?x16xi32>, tensor<?x4x16xf32> -> tensor<?x4x16xf32>
  return
}

// -----

func.func @flash_history_q8_rows(%q: tensor<?x4x32xf32>, %k: tensor<1x?x32xi8>, %o: tensor<?x4x32xf32>, %p: index) {
  // expected-error @+1 {{'llm.flash_attention' op keys rows of 32 elements, but head_dim 32 as q8_0 takes 34}}
  %r = llm.flash_attention %q, %k, %k at %p into %o {scale = 0.125 : f64, micro_kernel = #llm.micro_kernel<flash_key_rows, lanes = 16>} : tensor<?x4x32xf32>, tensor<1x?x32xi8>, tensor<1x?x32xi8>, tensor<?x4x32xf32> -> tensor<?x4x32xf32>
  return
}

// -----

func.func @target_features() {
  // expected-error @+1 {{target: features must be strings, got 3 : i64}}
  %w = llm.param "w" {t = #llm.target<cpu = "x", triple = "y", features = [3]>} : tensor<64x64xbf16>
  return
}
