//===- LLMDialect.td - The llm dialect ---------------------*- tablegen -*-===//
//
// The graph-level dialect of llamac: one op per transformer building block,
// on ranked tensors, with the sequence length dynamic and every other size
// static from the model configuration.
//
//===----------------------------------------------------------------------===//
#ifndef LLAMAC_IR_LLMDIALECT_TD
#define LLAMAC_IR_LLMDIALECT_TD

include "mlir/IR/OpBase.td"

def LLM_Dialect : Dialect {
  let name = "llm";
  let cppNamespace = "::llamac::llm";
  let summary = "Graph-level operations of Llama-architecture language models";
  let description = [{
    The `llm` dialect describes a Llama model as a graph of coarse operations
    (embedding lookup, RMSNorm, linear projections, rotary embeddings,
    grouped-query attention over a KV cache, SiLU, elementwise mul/add) on
    ranked tensors. Weights appear as `llm.param` ops that name a checkpoint
    tensor; they are never embedded in the IR. Activations are float tensors
    whose leading dimension is the (dynamic) number of tokens.
  }];
  let useDefaultAttributePrinterParser = 1;
  let extraClassDeclaration = [{
    /// Adds the attributes (LLMAttrs.cpp, where their storage is defined).
    void registerAttributes();
  }];
  let dependentDialects = ["::mlir::tensor::TensorDialect"];
}

#endif // LLAMAC_IR_LLMDIALECT_TD
