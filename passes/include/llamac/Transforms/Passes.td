//===- Passes.td - llamac passes ---------------------------*- tablegen -*-===//
#ifndef LLAMAC_TRANSFORMS_PASSES_TD
#define LLAMAC_TRANSFORMS_PASSES_TD

include "mlir/Pass/PassBase.td"

def LLMOpStatsPass : Pass<"llm-op-stats", "mlir::ModuleOp"> {
  let summary = "Print op counts per function and the model's parameter size";
  let description = [{
    An analysis pass: leaves the IR unchanged and prints, for every function,
    how many ops of each kind it holds, then the distinct `llm.param` weights
    of the module (count, elements, bytes per element type). Weights used by
    several functions (`prefill` and `decode` share them) are counted once.
    `llamac graph --stats` prints the same report.

    Example output:

    ```
    // llm-op-stats: function @decode: 423 ops
    //   llm.linear        113
    // llm-op-stats: parameters: 146 tensors, 1235814400 elements, 2471628800 bytes (bf16: 146)
    ```
  }];
  let options = [
    Option<"outputFile", "output", "std::string", /*default=*/"\"-\"",
           "Where to write the report ('-' for stderr)">,
  ];
}

#endif // LLAMAC_TRANSFORMS_PASSES_TD
