//===- LLMOps.h - llm dialect operations ------------------------*- C++ -*-===//
#ifndef LLAMAC_IR_LLMOPS_H
#define LLAMAC_IR_LLMOPS_H

#include "llamac/IR/LLMDialect.h"

#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/Interfaces/DestinationStyleOpInterface.h"
#include "mlir/Interfaces/InferTypeOpInterface.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include <optional>
#include <utility>

namespace llamac::llm {
/// [rows, columns] of a weight matrix stored as `type` in `layout` (none:
/// the plain 2-D matrix); nothing when `type` is not such a tensor.
std::optional<std::pair<int64_t, int64_t>>
getWeightMatrixShape(mlir::RankedTensorType type, WeightLayoutAttr layout);

/// True when an activation of `type` ([..., features]) may hold more than
/// one row: a product by it is a matrix-matrix product (prefill), not a
/// matrix-vector one (decode).
bool hasSeveralRows(mlir::RankedTensorType type);
} // namespace llamac::llm

#define GET_OP_CLASSES
#include "llamac/IR/LLMOps.h.inc"

namespace llamac::llm {
/// True when every use of `param` is as the weight of an llm.linear (one
/// without input_type if `plainProductsOnly`) or as the table of an
/// llm.embed: a matrix whose storage a pass may choose. Uses are compared
/// by operand, not by value: a param that is also some op's input stays.
bool isUsedOnlyAsMatrix(ParamOp param, bool plainProductsOnly);

/// Calls `rewrite` on every llm.param under `root` whose name's params
/// (one per entry function) all satisfy `eligible`: a weight is stored
/// once, so it changes storage everywhere or nowhere.
void rewriteParamsByName(mlir::Operation *root,
                         llvm::function_ref<bool(ParamOp)> eligible,
                         llvm::function_ref<void(ParamOp)> rewrite);
} // namespace llamac::llm

#endif // LLAMAC_IR_LLMOPS_H
