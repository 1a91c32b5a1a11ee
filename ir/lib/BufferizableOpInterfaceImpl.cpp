//===- BufferizableOpInterfaceImpl.cpp - llm ops in one-shot bufferization ===//
//
// `llm.flash_attention` is destination-style: on buffers it writes its init
// operand in place and reads the others. Its init is overwritten whole,
// never read, so bufferization need not copy what the init held.
//
//===----------------------------------------------------------------------===//
#include "llamac/IR/LLMOps.h"

#include "mlir/Dialect/Bufferization/IR/BufferizableOpInterface.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Bufferization/IR/DstBufferizableOpInterfaceImpl.h"
#include "mlir/IR/DialectRegistry.h"

using namespace mlir;
using namespace mlir::bufferization;
using namespace llamac::llm;

namespace {

struct FlashAttentionOpInterface
    : DstBufferizableOpInterfaceExternalModel<FlashAttentionOpInterface,
                                              FlashAttentionOp> {
  bool bufferizesToMemoryRead(Operation *op, OpOperand &operand,
                              const AnalysisState &) const {
    return !cast<DestinationStyleOpInterface>(op).isDpsInit(&operand);
  }

  LogicalResult bufferize(Operation *op, RewriterBase &rewriter,
                          const BufferizationOptions &options) const {
    auto attention = cast<FlashAttentionOp>(op);
    if (attention.hasPureBufferSemantics())
      return success();
    auto buffer = [&](Value tensor) {
      return getBuffer(rewriter, tensor, options);
    };
    FailureOr<Value> query = buffer(attention.getQuery());
    FailureOr<Value> keys = buffer(attention.getKeys());
    FailureOr<Value> values = buffer(attention.getValues());
    FailureOr<Value> init = buffer(attention.getInit());
    if (failed(query) || failed(keys) || failed(values) || failed(init))
      return failure();
    rewriter.setInsertionPoint(op);
    rewriter.create<FlashAttentionOp>(
        op->getLoc(), TypeRange{}, *query, *keys, *values,
        attention.getStartPos(), *init, attention.getScaleAttr(),
        attention.getMicroKernelAttr());
    replaceOpWithBufferizedValues(rewriter, op, *init);
    return success();
  }
};

} // namespace

void llamac::llm::registerBufferizableOpInterfaceExternalModels(
    DialectRegistry &registry) {
  registry.addExtension(+[](MLIRContext *context, LLMDialect *) {
    FlashAttentionOp::attachInterface<FlashAttentionOpInterface>(*context);
  });
}
