//===- MicroKernels.h - One lowering per micro-kernel family --------------===//
//
// What llm-lower-micro-kernels dispatches to by the tagged op's
// #llm.micro_kernel kind. Each replaces a bufferized, tagged linalg.generic
// (the product loops llm-to-linalg made for its weight layout) by the code
// of that kind with the tuning values the attribute carries, behind a
// run-time contiguity check; none decides anything.
//
//===----------------------------------------------------------------------===//
#ifndef LLAMAC_PASSES_KERNELS_MICROKERNELS_H
#define LLAMAC_PASSES_KERNELS_MICROKERNELS_H

#include "llamac/IR/LLMDialect.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"

namespace llamac::kernels {

/// amx_bf16, amx_q8_0, amx_q4_0 (AMX.cpp).
mlir::LogicalResult lowerAMXProduct(mlir::linalg::GenericOp op,
                                    llm::MicroKernelAttr config);
/// avx512_bf16, avx512_bf16_q8_0, avx512_bf16_q4_0 (DotBF16.cpp).
mlir::LogicalResult lowerDotBF16Product(mlir::linalg::GenericOp op,
                                        llm::MicroKernelAttr config);
/// vnni_gemv (TileGemv.cpp).
mlir::LogicalResult lowerTileGemv(mlir::linalg::GenericOp op,
                                  llm::MicroKernelAttr config);
/// q8_0_gemv, q4_0_gemv (QuantGemv.cpp).
mlir::LogicalResult lowerQuantGemv(mlir::linalg::GenericOp op,
                                   llm::MicroKernelAttr config);
/// q8_0_i8_gemv, q4_0_i8_gemv (QuantGemvI8.cpp).
mlir::LogicalResult lowerQuantGemvI8(mlir::linalg::GenericOp op,
                                     llm::MicroKernelAttr config);
/// f32_panels (PanelProduct.cpp).
mlir::LogicalResult lowerPanelProduct(mlir::linalg::GenericOp op,
                                      llm::MicroKernelAttr config);

} // namespace llamac::kernels

#endif // LLAMAC_PASSES_KERNELS_MICROKERNELS_H
