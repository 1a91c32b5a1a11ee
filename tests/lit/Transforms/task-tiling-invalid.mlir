// Invalid options of llm-choose-task-tiles and malformed llm.task_tiles.
// RUN: llamac-opt %s -llm-tile-tasks -split-input-file -verify-diagnostics
// RUN: not llamac-opt %s -llm-choose-task-tiles=max-tasks=0 -split-input-file 2>&1 | FileCheck %s --check-prefix=OPTIONS
// RUN: not llamac-opt %s -llm-choose-task-tiles=min-work=-1 -split-input-file 2>&1 | FileCheck %s --check-prefix=OPTIONS
// RUN: not llamac-opt %s -llm-choose-task-tiles=dynamic-trip-count=0 -split-input-file 2>&1 | FileCheck %s --check-prefix=OPTIONS

// OPTIONS: error: llm-choose-task-tiles: max-tasks and dynamic-trip-count must be >= 1 and min-work >= 0

// One tile size per loop: linalg.add on 2-D tensors has two.
func.func @wrong_rank(%x: tensor<8x8xf32>, %y: tensor<8x8xf32>, %o: tensor<8x8xf32>) -> tensor<8x8xf32> {
  // expected-error @+1 {{'linalg.add' op llm.task_tiles has 1 entries but the op has 2 loops}}
  %r = linalg.add {llm.task_tiles = array<i64: 2>} ins(%x, %y : tensor<8x8xf32>, tensor<8x8xf32>) outs(%o : tensor<8x8xf32>) -> tensor<8x8xf32>
  return %r : tensor<8x8xf32>
}
