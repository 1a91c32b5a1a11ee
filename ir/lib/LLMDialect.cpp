//===- LLMDialect.cpp - The llm dialect -----------------------------------===//
//
// Dialect registration (attributes: LLMAttrs.cpp, ops: LLMOps.cpp).
//
//===----------------------------------------------------------------------===//
#include "llamac/IR/LLMDialect.h"
#include "llamac/IR/LLMOps.h"

using namespace mlir;
using namespace llamac::llm;

#include "llamac/IR/LLMDialect.cpp.inc"

void LLMDialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "llamac/IR/LLMOps.cpp.inc"
      >();
  registerAttributes();
}

