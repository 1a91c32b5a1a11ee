//===- Patterns.h - The pattern sets llamac's passes assemble ---*- C++ -*-===//
//
// Each lowering lives in a populate function, as upstream does; the passes
// only assemble them, so another pipeline (or a test pass) can take one
// family alone.
//
//===----------------------------------------------------------------------===//
#ifndef LLAMAC_PASSES_PATTERNS_H
#define LLAMAC_PASSES_PATTERNS_H

namespace mlir {
class RewritePatternSet;
} // namespace mlir

namespace llamac {

/// llm -> linalg on tensors, one op family each (passes/lib/ToLinalg/).
void populateLLMEmbedLoweringPatterns(mlir::RewritePatternSet &patterns);
void populateLLMRMSNormLoweringPatterns(mlir::RewritePatternSet &patterns);
void populateLLMLinearLoweringPatterns(mlir::RewritePatternSet &patterns);
void populateLLMRopeLoweringPatterns(mlir::RewritePatternSet &patterns);
void populateLLMAttentionLoweringPatterns(mlir::RewritePatternSet &patterns);
void populateLLMElementwiseLoweringPatterns(
    mlir::RewritePatternSet &patterns);
/// All of the above: what llm-to-linalg applies.
void populateLLMToLinalgPatterns(mlir::RewritePatternSet &patterns);

/// Graph fusion (llm-fuse-elementwise): llm.mul of a single-use llm.silu
/// into llm.silu_mul, a residual llm.add into the projection's addend.
void populateLLMFuseElementwisePatterns(mlir::RewritePatternSet &patterns);

} // namespace llamac

#endif // LLAMAC_PASSES_PATTERNS_H
