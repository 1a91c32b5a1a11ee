//===- LLMDialect.h - The llm dialect ---------------------------*- C++ -*-===//
#ifndef LLAMAC_IR_LLMDIALECT_H
#define LLAMAC_IR_LLMDIALECT_H

#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Dialect.h"

#include "llamac/IR/LLMDialect.h.inc"

#define GET_ATTRDEF_CLASSES
#include "llamac/IR/LLMAttrs.h.inc"

#endif // LLAMAC_IR_LLMDIALECT_H
