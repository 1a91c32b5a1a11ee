//===- LinearLowering.h - llm.linear -> linalg, by weight layout ----------===//
//
// One lowering per way a weight can be stored (see #llm.layout); each
// gives the product loops that name the layout's blocks, so that the
// micro-kernel the op chose (copied as the generic's llm.micro_kernel) can
// replace it on buffers. Linear.cpp: the pattern, plain and panel weights,
// shared helpers; LinearTiles.cpp: bf16 and quantized tiles.
//
//===----------------------------------------------------------------------===//
#ifndef LLAMAC_PASSES_TOLINALG_LINEARLOWERING_H
#define LLAMAC_PASSES_TOLINALG_LINEARLOWERING_H

#include "LoweringUtils.h"

#include "mlir/Transforms/DialectConversion.h"

namespace llamac::to_linalg {

using LinearAdaptor = llm::LinearOp::Adaptor;

/// Products by a plain [out, in] weight: linalg.matmul_transpose_b.
mlir::Value lowerPlainProduct(llm::LinearOp op, LinearAdaptor adaptor,
                              mlir::ConversionPatternRewriter &rewriter);
/// Products by f32 panels, prefill and decode alike.
mlir::Value lowerPanelProduct(llm::LinearOp op, LinearAdaptor adaptor,
                              mlir::ConversionPatternRewriter &rewriter);
/// Products by bf16 tiles with f32 inputs, one input row at a time.
mlir::Value lowerTileRows(llm::LinearOp op, LinearAdaptor adaptor,
                          mlir::ConversionPatternRewriter &rewriter);
/// Products by quantized tiles with f32 or i8 inputs, one row at a time.
mlir::Value lowerQuantizedRows(llm::LinearOp op, LinearAdaptor adaptor,
                               mlir::ConversionPatternRewriter &rewriter);
/// Matrix products by bf16 or quantized tiles with inputs rounded to a
/// float input_type (AMX tiles).
mlir::Value lowerTileMatmul(llm::LinearOp op, LinearAdaptor adaptor,
                            mlir::ConversionPatternRewriter &rewriter);

/// The [M, out/tile, tile] accumulator of a product by tiled or panel
/// weights: the addend (a fused residual connection) viewed that way, or
/// zeros.
mlir::Value rowsAccumulator(mlir::ConversionPatternRewriter &rewriter,
                            mlir::Location loc, mlir::Value addend,
                            mlir::OpFoldResult rows,
                            mlir::RankedTensorType type, int64_t tilesOut,
                            int64_t tile = artifact::WeightLayout::kTileRows);
/// The input rows [M, in] viewed as [M, in/32, 16, 2]: the tiles'
/// reduction blocks and their pairs.
mlir::Value inputPairTiles(mlir::ConversionPatternRewriter &rewriter,
                           mlir::Location loc, mlir::Value input,
                           mlir::OpFoldResult rows, int64_t tilesIn);
/// A product generic of `inputs` into the [M, tiles, width] accumulator
/// `init` (`body` returns the new sum from the block arguments, the
/// accumulator last), tagged with `kernel` (if any) for
/// llm-lower-micro-kernels and collapsed to the [M, out] result `type`.
mlir::Value taggedRowsProduct(
    mlir::ConversionPatternRewriter &rewriter, mlir::Location loc,
    mlir::RankedTensorType type, mlir::ValueRange inputs, mlir::Value init,
    llvm::ArrayRef<mlir::AffineMap> maps,
    llvm::ArrayRef<IteratorType> iterators, llm::MicroKernelAttr kernel,
    llvm::function_ref<mlir::Value(mlir::OpBuilder &, mlir::Location,
                                   mlir::ValueRange)>
        body);

} // namespace llamac::to_linalg

#endif // LLAMAC_PASSES_TOLINALG_LINEARLOWERING_H
