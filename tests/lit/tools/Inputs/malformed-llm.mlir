// Text that does not parse as llm IR, one case per split. Each must end in a
// diagnostic and exit 1, never an assertion or a crash.
func.func @no_types(%x: tensor<?x8xf32>, %w: tensor<4x8xf32>) {
  %y = llm.linear %x, %w
  return
}
// -----
func.func @undefined_value(%x: tensor<?x8xf32>) {
  %y = llm.silu %nowhere : tensor<?x8xf32>
  return
}
// -----
func.func @wrong_operand_type(%x: tensor<?x8xf32>) {
  %y = llm.silu %x : tensor<?x8xf16>
  return
}
// -----
func.func @bad_rope_attribute(%x: tensor<?x4x8xf32>, %p: index) {
  %y = llm.rope %x at %p {theta = 1.0e+04 : f64, scaling = #llm.rope_llama3<factor = huge>} : tensor<?x4x8xf32>
  return
}
// -----
func.func @unknown_attribute() {
  %w = llm.param "w" {layout = #llm.tiles<4>} : tensor<4x8xf32>
  return
}
// -----
func.func @integer_where_float(%x: tensor<?x8xf32>) {
  %w = llm.param "w" : tensor<8xf32>
  %y = llm.rms_norm %x, %w {epsilon = 5 : i64} : tensor<?x8xf32>, tensor<8xf32>
  return
}
// -----
func.func @cut_short(%x: tensor<?x8xf32>) {
  %y = llm.silu %x : tensor<?x8x
