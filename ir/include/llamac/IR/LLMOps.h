//===- LLMOps.h - llm dialect operations ------------------------*- C++ -*-===//
#ifndef LLAMAC_IR_LLMOPS_H
#define LLAMAC_IR_LLMOPS_H

#include "llamac/IR/LLMDialect.h"

#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/Interfaces/InferTypeOpInterface.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#define GET_OP_CLASSES
#include "llamac/IR/LLMOps.h.inc"

#endif // LLAMAC_IR_LLMOPS_H
