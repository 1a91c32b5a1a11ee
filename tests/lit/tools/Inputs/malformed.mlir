func.func @f(%x: tensor<?x8xf32>, %w: tensor<4x8xf32>) {
  %y = llm.linear %x, %w
  return
}
