//===- LLMToLinalg.cpp - llm-to-linalg ------------------------------------===//
//
// Lowers every llm compute op to linalg/tensor/arith/math on tensors, so
// that the upstream tiling, bufferization and LLVM lowering apply. One file
// per op family, each a populate function:
//
//   llm.embed       Embed.cpp       gathering linalg.generic
//   llm.rms_norm    RMSNorm.cpp     sum of squares + normalizing generic
//   llm.linear      Linear.cpp,     matmul_transpose_b, or per weight layout
//                   LinearTiles.cpp a generic naming its blocks, tagged with
//                                   the op's micro-kernel
//   llm.rope        Rope.cpp        generics; frequencies are constants
//   llm.attention   Attention.cpp   KV-cache update (rows as the cache
//                   CacheRows.cpp   stores them), then llm.flash_attention
//                                   or score/softmax/weighted-sum generics
//   llm.silu/mul/silu_mul/add  Elementwise.cpp  one generic each
//
// All arithmetic is in the activation type (f32); bf16/f16 weights are
// extended exactly. `llm.param` stays: binding weights to the artifact's
// buffer is the job of `llm-lower-entry-abi`.
//
//===----------------------------------------------------------------------===//
#include "llamac/IR/LLMOps.h"
#include "llamac/Passes/Passes.h"
#include "llamac/Passes/Patterns.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Transforms/DialectConversion.h"

namespace llamac {
#define GEN_PASS_DEF_LLMTOLINALGPASS
#include "llamac/Passes/Passes.h.inc"
} // namespace llamac

using namespace mlir;
using namespace llamac;

namespace {

struct LLMToLinalgPass
    : public llamac::impl::LLMToLinalgPassBase<LLMToLinalgPass> {
  void runOnOperation() override {
    MLIRContext *context = &getContext();
    ConversionTarget target(*context);
    target.addLegalDialect<arith::ArithDialect, linalg::LinalgDialect,
                           math::MathDialect, tensor::TensorDialect>();
    target.addIllegalDialect<llm::LLMDialect>();
    // Weights are bound to the artifact's buffer by llm-lower-entry-abi;
    // fused attention is lowered on buffers by llm-lower-flash-attention.
    target.addLegalOp<llm::ParamOp, llm::FlashAttentionOp>();
    target.markUnknownOpDynamicallyLegal([](Operation *) { return true; });

    RewritePatternSet patterns(context);
    populateLLMToLinalgPatterns(patterns);
    if (failed(applyPartialConversion(getOperation(), target,
                                      std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace

void llamac::populateLLMToLinalgPatterns(RewritePatternSet &patterns) {
  populateLLMEmbedLoweringPatterns(patterns);
  populateLLMRMSNormLoweringPatterns(patterns);
  populateLLMLinearLoweringPatterns(patterns);
  populateLLMRopeLoweringPatterns(patterns);
  populateLLMAttentionLoweringPatterns(patterns);
  populateLLMElementwiseLoweringPatterns(patterns);
}
