//===- Passes.h - llamac passes ---------------------------------*- C++ -*-===//
#ifndef LLAMAC_TRANSFORMS_PASSES_H
#define LLAMAC_TRANSFORMS_PASSES_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"

#include <memory>

namespace llamac {

#define GEN_PASS_DECL
#include "llamac/Transforms/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "llamac/Transforms/Passes.h.inc"

} // namespace llamac

#endif // LLAMAC_TRANSFORMS_PASSES_H
