//===- InitAll.h - Everything llamac's tools register -----------*- C++ -*-===//
//
// The one place that lists the dialects and passes our tools know, so
// llamac-opt, llamac and the tests agree. Deliberately not mlir/InitAll.h:
// that header pulls in every upstream dialect and costs minutes to compile.
//
//===----------------------------------------------------------------------===//
#ifndef LLAMAC_PASSES_INITALL_H
#define LLAMAC_PASSES_INITALL_H

namespace mlir {
class DialectRegistry;
} // namespace mlir

namespace llamac {

/// Adds the `llm` dialect and the upstream dialects our pipelines produce.
void registerAllDialects(mlir::DialectRegistry &registry);

/// Registers our passes and the upstream passes we use, for textual
/// pipelines (`--pass-pipeline=...`).
void registerAllPasses();

} // namespace llamac

#endif // LLAMAC_PASSES_INITALL_H
