//===- LLMDialect.h - The llm dialect ---------------------------*- C++ -*-===//
#ifndef LLAMAC_IR_LLMDIALECT_H
#define LLAMAC_IR_LLMDIALECT_H

#include "llamac/Artifact/ComputeUnit.h"
#include "llamac/Artifact/WeightLayout.h"

#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Dialect.h"
#include "llvm/ADT/Hashing.h"

#include <optional>

#include "llamac/IR/LLMDialect.h.inc"
#include "llamac/IR/LLMEnums.h.inc"

namespace llamac::artifact {
/// Lets `#llm.layout` store a WeightLayout as its parameter.
inline llvm::hash_code hash_value(const WeightLayout &layout) {
  return llvm::hash_combine(layout.kind, layout.scheme, layout.part);
}
} // namespace llamac::artifact

#define GET_ATTRDEF_CLASSES
#include "llamac/IR/LLMAttrs.h.inc"

namespace mlir {
class DialectRegistry;
} // namespace mlir

namespace llamac::llm {
/// The MLIR type of an element a weight layout stores.
mlir::Type getMLIRType(mlir::MLIRContext *context,
                      artifact::ElementType type);

/// Registers how `llm.flash_attention` bufferizes (one-shot bufferization).
void registerBufferizableOpInterfaceExternalModels(
    mlir::DialectRegistry &registry);
} // namespace llamac::llm

#endif // LLAMAC_IR_LLMDIALECT_H
