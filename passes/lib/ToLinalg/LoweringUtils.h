//===- LoweringUtils.h - Builders shared by the llm -> linalg patterns ----===//
//
// Small builders every op family's lowering uses: tensors, linalg.generic
// with a body callback, float casts, and the index arithmetic of the
// weight layouts (see #llm.layout) for ops that read single elements.
//
//===----------------------------------------------------------------------===//
#ifndef LLAMAC_PASSES_TOLINALG_LOWERINGUTILS_H
#define LLAMAC_PASSES_TOLINALG_LOWERINGUTILS_H

#include "llamac/IR/LLMOps.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/IR/Builders.h"

namespace llamac::to_linalg {

using mlir::utils::IteratorType;
inline constexpr IteratorType kPar = IteratorType::parallel;
inline constexpr IteratorType kRed = IteratorType::reduction;

/// `value` converted to `type` (f32 from bf16/f16, or narrowed).
mlir::Value castFloat(mlir::OpBuilder &b, mlir::Location loc,
                      mlir::Value value, mlir::Type type);

/// `value` (f32) stored as `type` (f32, bf16 or f16), rounded to nearest,
/// ties to even. bf16 is rounded with integer arithmetic: LLVM has no
/// instruction for it without AVX512-BF16 and would call `__truncsfbf2`,
/// which model.so does not link; f16 is `arith.truncf` (F16C's
/// `vcvtps2ph`, which the numerics require for an f16 cache).
mlir::Value roundToStorage(mlir::OpBuilder &b, mlir::Location loc,
                           mlir::Value value, mlir::Type type);

/// New key or value rows [n, kv, d] as the cache of `storedType` stores
/// them, [kv, n, row] (KVCache.h): transposed, rounded to bf16/f16 or
/// quantized to q8_0 blocks (CacheRows.cpp).
mlir::Value storeCacheRows(mlir::OpBuilder &b, mlir::Location loc,
                           mlir::Value rows, mlir::Type storedType,
                           mlir::OpFoldResult numTokens);

/// A history [kv, visible, row] as the cache stores it, as [kv, visible,
/// headDim] values of `elementType` (itself when it is stored so).
mlir::Value widenCacheRows(mlir::OpBuilder &b, mlir::Location loc,
                           mlir::Value stored, mlir::Type elementType,
                           int64_t headDim, mlir::OpFoldResult visible);

/// A tensor.empty of `sizes` and `elementType`.
mlir::Value empty(mlir::OpBuilder &b, mlir::Location loc,
                  llvm::ArrayRef<mlir::OpFoldResult> sizes,
                  mlir::Type elementType);

/// A tensor of `sizes` filled with `value`.
mlir::Value filled(mlir::OpBuilder &b, mlir::Location loc,
                   llvm::ArrayRef<mlir::OpFoldResult> sizes,
                   mlir::Type elementType, double value);

/// The map (d0, ..., d{numDims-1}) -> (d{dims[0]}, d{dims[1]}, ...).
mlir::AffineMap dimsMap(mlir::MLIRContext *context, unsigned numDims,
                        llvm::ArrayRef<unsigned> dims);

/// A single-result linalg.generic whose body yields what `body` computes
/// from the block arguments (inputs, then the accumulator).
mlir::Value
generic(mlir::OpBuilder &b, mlir::Location loc, mlir::ValueRange inputs,
        mlir::Value init, llvm::ArrayRef<mlir::AffineMap> maps,
        llvm::ArrayRef<IteratorType> iterators,
        llvm::function_ref<mlir::Value(mlir::OpBuilder &, mlir::Location,
                                       mlir::ValueRange)>
            body);

/// Body of a contraction: accumulator + lhs * rhs (args: lhs, rhs, acc).
mlir::Value multiplyAccumulate(mlir::OpBuilder &b, mlir::Location loc,
                               mlir::ValueRange args);

/// An index as a float (for positions).
mlir::Value indexToFloat(mlir::OpBuilder &b, mlir::Location loc,
                         mlir::Value index, mlir::Type floatType);

/// The indices of matrix element [row, column] in a weight stored in
/// `layout` (none: the plain matrix, [row, column] itself): tiles
/// [nb, kb, kr, ni, kp], panels [nb, k, ni]. Quantized codes use the tile
/// order (Q4_0 without the last index, which picks the nibble).
llvm::SmallVector<mlir::Value>
matrixElementIndices(mlir::OpBuilder &b, mlir::Location loc,
                     llm::WeightLayoutAttr layout, mlir::Value row,
                     mlir::Value column);

/// The f32 value of quantized weight code `code` (i8, an element of the
/// codes tensor) whose scale is `scale` (f16): q * d for Q8_0, (q - 8) * d
/// for Q4_0 where `pairIndex` (kp, an index) picks the nibble. Exact: a code
/// has at most 8 significant bits and an f16 scale 11.
mlir::Value dequantize(mlir::OpBuilder &b, mlir::Location loc,
                       artifact::QuantScheme scheme, mlir::Value code,
                       mlir::Value scale, mlir::Value pairIndex,
                       mlir::Type floatType);

} // namespace llamac::to_linalg

#endif // LLAMAC_PASSES_TOLINALG_LOWERINGUTILS_H
