//===- LLMOps.h - llm dialect operations ------------------------*- C++ -*-===//
#ifndef LLAMAC_IR_LLMOPS_H
#define LLAMAC_IR_LLMOPS_H

#include "llamac/IR/LLMDialect.h"

#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/Interfaces/InferTypeOpInterface.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include <optional>
#include <utility>

namespace llamac::llm {
/// The tile layout of `llm.param`'s `layout` attribute: [out/16, in/32, 16,
/// 16, 2], element [nb, kb, kr, ni, kp] = matrix[nb*16 + ni, kb*32 + kr*2 + kp].
inline constexpr llvm::StringLiteral kVNNILayout = "vnni16x32";
inline constexpr int64_t kVNNITileRows = 16;   // outputs per tile
inline constexpr int64_t kVNNITileDepth = 32;  // inputs per tile

/// [rows, columns] of a weight matrix stored as `type`: its shape when 2-D,
/// the unpacked matrix when `type` is in the vnni16x32 layout, nothing
/// otherwise.
std::optional<std::pair<int64_t, int64_t>>
getWeightMatrixShape(mlir::RankedTensorType type);

/// True for bf16 tensors shaped [?, ?, 16, 16, 2] (the vnni16x32 layout).
bool isVNNITiled(mlir::RankedTensorType type);
} // namespace llamac::llm

#define GET_OP_CLASSES
#include "llamac/IR/LLMOps.h.inc"

#endif // LLAMAC_IR_LLMOPS_H
