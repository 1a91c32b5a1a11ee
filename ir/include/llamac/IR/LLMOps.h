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
/// the unpacked matrix when `type` is in the vnni16x32 layout or holds
/// quantized codes, nothing otherwise.
std::optional<std::pair<int64_t, int64_t>>
getWeightMatrixShape(mlir::RankedTensorType type);

/// True for bf16 tensors shaped [?, ?, 16, 16, 2] (the vnni16x32 layout).
bool isVNNITiled(mlir::RankedTensorType type);

/// The panel layout of f32 matrices for FMA micro-kernels: [out/64, in, 64],
/// element [nb, k, ni] = matrix[nb*64 + ni, k] (each panel of 64 outputs is
/// k-major, 256 bytes per input).
inline constexpr llvm::StringLiteral kF32PanelLayout = "f32panel64";
inline constexpr int64_t kF32PanelWidth = 64; // outputs per panel

/// True for f32 tensors shaped [?, ?, 64] (the f32panel64 layout).
bool isF32Paneled(mlir::RankedTensorType type);

/// Block quantization of a weight matrix (see llm.param): blocks of 32
/// inputs, one f16 scale per block and output row.
enum class QuantScheme { None, Q8_0, Q4_0 };
inline constexpr llvm::StringLiteral kQ8Layout = "q8_0x16x32";
inline constexpr llvm::StringLiteral kQ4Layout = "q4_0x16x32";
inline constexpr llvm::StringLiteral kQ8ScalesLayout = "q8_0x16x32_scales";
inline constexpr llvm::StringLiteral kQ4ScalesLayout = "q4_0x16x32_scales";
inline constexpr int64_t kQuantBlock = 32; // inputs per scale

/// The scheme whose codes `type` holds: i8 [?, ?, 16, 16, 2] is Q8_0, i8
/// [?, ?, 16, 16] (two 4-bit codes a byte) Q4_0, anything else None.
QuantScheme getQuantScheme(mlir::RankedTensorType type);

/// The scales type that goes with quantized `codes`: f16 [nb, kb, 16].
mlir::RankedTensorType getQuantScalesType(mlir::RankedTensorType codes);

/// The codes and scales layout names of `scheme` ("" for None).
llvm::StringRef getQuantLayout(QuantScheme scheme);
llvm::StringRef getQuantScalesLayout(QuantScheme scheme);

/// True when an activation of `type` ([..., features]) may hold more than
/// one row: a product by it is a matrix-matrix product (prefill), not a
/// matrix-vector one (decode).
bool hasSeveralRows(mlir::RankedTensorType type);

/// "q8_0" / "q4_0" / "none".
llvm::StringRef stringifyQuantScheme(QuantScheme scheme);
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
