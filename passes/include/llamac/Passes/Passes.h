//===- Passes.h - llamac passes ---------------------------------*- C++ -*-===//
#ifndef LLAMAC_PASSES_PASSES_H
#define LLAMAC_PASSES_PASSES_H

#include "llamac/IR/LLMDialect.h"

#include "mlir/Dialect/AMX/AMXDialect.h"
#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/ControlFlow/IR/ControlFlowOps.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"

#include <memory>

namespace llamac {

#define GEN_PASS_DECL
#include "llamac/Passes/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "llamac/Passes/Passes.h.inc"

/// The patterns of `llm-to-linalg`, for use in other passes.
} // namespace llamac

#endif // LLAMAC_PASSES_PASSES_H
