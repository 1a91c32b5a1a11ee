//===- OutlineKernels.cpp - llm-outline-kernels ---------------------------===//
//
// Every llm compute op of an entry function becomes a call to a private
// kernel function. Kernels are keyed by what determines their code (op name,
// attributes, operand and result types), never by which weights they read or
// which layer they serve, so a 16-layer model has the kernels of one layer.
//
//===----------------------------------------------------------------------===//
#include "llamac/IR/LLMOps.h"
#include "llamac/Passes/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/SymbolTable.h"
#include "llvm/ADT/StringMap.h"

namespace llamac {
#define GEN_PASS_DEF_LLMOUTLINEKERNELSPASS
#include "llamac/Passes/Passes.h.inc"
} // namespace llamac

using namespace mlir;
using namespace llamac;

namespace {

/// Rewrites `op` so that it only touches layer 0 of 1-layer caches: the
/// caller slices the layer's slot out of the caches and puts it back. The
/// slot is contiguous, so bufferization keeps this in place.
llm::AttentionOp isolateLayer(llm::AttentionOp op) {
  auto cacheType = op.getKeyCache().getType();
  if (cacheType.getDimSize(0) == 1 && op.getLayer() == 0)
    return op;
  OpBuilder b(op);
  Location loc = op.getLoc();
  int64_t layer = op.getLayer();
  auto slotType = RankedTensorType::get(
      {1, cacheType.getDimSize(1), cacheType.getDimSize(2),
       cacheType.getDimSize(3)},
      cacheType.getElementType());
  auto offsets = [&]() -> SmallVector<OpFoldResult> {
    return {b.getIndexAttr(layer), b.getIndexAttr(0), b.getIndexAttr(0),
            b.getIndexAttr(0)};
  };
  auto sizes = [&](Value cache) -> SmallVector<OpFoldResult> {
    return {b.getIndexAttr(1), b.getIndexAttr(cacheType.getDimSize(1)),
            tensor::getMixedSize(b, loc, cache, 2),
            b.getIndexAttr(cacheType.getDimSize(3))};
  };
  SmallVector<OpFoldResult> strides(4, b.getIndexAttr(1));
  auto slot = [&](Value cache) {
    return b.create<tensor::ExtractSliceOp>(loc, slotType, cache, offsets(),
                                            sizes(cache), strides);
  };
  Value keySlot = slot(op.getKeyCache());
  Value valueSlot = slot(op.getValueCache());
  auto isolated = b.create<llm::AttentionOp>(
      loc, op.getQuery().getType(), slotType, slotType, op.getQuery(),
      op.getKey(), op.getValue(), keySlot, valueSlot, op.getStartPos(),
      b.getI64IntegerAttr(0), op.getScaleAttr(), op.getMicroKernelAttr());
  Value newKeyCache = b.create<tensor::InsertSliceOp>(
      loc, isolated.getNewKeyCache(), op.getKeyCache(), offsets(),
      sizes(op.getKeyCache()), strides);
  Value newValueCache = b.create<tensor::InsertSliceOp>(
      loc, isolated.getNewValueCache(), op.getValueCache(), offsets(),
      sizes(op.getValueCache()), strides);
  op.replaceAllUsesWith(
      ValueRange{isolated.getOutput(), newKeyCache, newValueCache});
  op.erase();
  return isolated;
}

/// What makes two ops compile to the same kernel.
std::string kernelKey(Operation *op) {
  std::string key;
  llvm::raw_string_ostream os(key);
  os << op->getName() << " " << op->getAttrDictionary() << " (";
  llvm::interleaveComma(op->getOperandTypes(), os);
  os << ") -> (";
  llvm::interleaveComma(op->getResultTypes(), os);
  os << ")";
  return key;
}

struct LLMOutlineKernelsPass
    : public llamac::impl::LLMOutlineKernelsPassBase<LLMOutlineKernelsPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    SymbolTable symbols(module);
    llvm::StringMap<func::FuncOp> kernels;

    SmallVector<func::FuncOp> entries;
    for (auto function : module.getOps<func::FuncOp>())
      if (!function->hasAttr("llm.kernel") && !function.isExternal())
        entries.push_back(function);

    if (entries.empty())
      return;
    firstEntry = entries.front();
    for (func::FuncOp entry : entries) {
      SmallVector<Operation *> ops;
      entry.walk([&](Operation *op) {
        if (isa<llm::LLMDialect>(op->getDialect()) && !isa<llm::ParamOp>(op))
          ops.push_back(op);
      });
      for (Operation *op : ops) {
        if (auto attention = dyn_cast<llm::AttentionOp>(op))
          op = isolateLayer(attention);
        func::FuncOp kernel = getOrCreateKernel(op, symbols, kernels);
        OpBuilder b(op);
        auto call = b.create<func::CallOp>(op->getLoc(), kernel,
                                           op->getOperands());
        op->replaceAllUsesWith(call.getResults());
        op->erase();
      }
    }
  }

  /// New kernels are inserted before this function.
  Operation *firstEntry = nullptr;

  func::FuncOp getOrCreateKernel(Operation *op, SymbolTable &symbols,
                                 llvm::StringMap<func::FuncOp> &kernels) {
    std::string key = kernelKey(op);
    if (auto found = kernels.find(key); found != kernels.end())
      return found->second;

    ModuleOp module = getOperation();
    OpBuilder b(module.getBodyRegion());
    // Kernels go before their callers, in order of creation: module passes
    // that walk functions in order (drop-equivalent-buffer-results) then
    // see callees first.
    b.setInsertionPoint(firstEntry);
    auto type = b.getFunctionType(op->getOperandTypes(), op->getResultTypes());
    // "llm.linear" -> "linear"; the symbol table makes names unique.
    StringRef opName = op->getName().stripDialect();
    auto kernel = b.create<func::FuncOp>(op->getLoc(), opName, type);
    kernel.setPrivate();
    kernel->setAttr("llm.kernel", b.getUnitAttr());
    // The micro-kernel the op runs on names the kernel in profiles.
    if (auto microKernel = op->getAttrOfType<llm::MicroKernelAttr>(
            "micro_kernel"))
      kernel->setAttr(llm::MicroKernelAttr::getAttrName(), microKernel);
    symbols.insert(kernel);

    Block *body = kernel.addEntryBlock();
    b.setInsertionPointToStart(body);
    // Operand i becomes argument i, also when a value appears twice
    // (`llm.mul %a, %a`): the kernel must not alias what its callers pass.
    Operation *clone = b.clone(*op);
    clone->setOperands(body->getArguments());
    b.create<func::ReturnOp>(op->getLoc(), clone->getResults());
    kernels[key] = kernel;
    return kernel;
  }
};

} // namespace
