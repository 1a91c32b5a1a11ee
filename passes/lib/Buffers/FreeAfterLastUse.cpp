//===- FreeAfterLastUse.cpp - llm-free-after-last-use ---------------------===//
//
// MLIR's ownership-based buffer deallocation frees every buffer a block owns
// at the end of that block. An entry point is one block of kernel calls, so
// without this pass every intermediate of every layer stays allocated until
// the entry point returns: a 512-token prefill of the 1B model held 1.4 GB.
// This pass moves each unconditional free of a buffer that block created to
// just after the buffer's last use (through its views), so that the live set
// is a layer's few activations:
//
//   %a = call @k0(...)                        %a = call @k0(...)
//   %b = call @k1(%a)                 ==>     %b = call @k1(%a)
//   %c = call @k2(%b)                         memref.dealloc %a
//   bufferization.dealloc (%a, %b)            %c = call @k2(%b)
//       if (%true, %true)                     memref.dealloc %b
//
//===----------------------------------------------------------------------===//
#include "llamac/Passes/Passes.h"

#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/Matchers.h"
#include "mlir/Interfaces/ViewLikeInterface.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/DenseSet.h"

namespace llamac {
#define GEN_PASS_DEF_LLMFREEAFTERLASTUSEPASS
#include "llamac/Passes/Passes.h.inc"
} // namespace llamac

using namespace mlir;

namespace {

/// The value a dealloc operand is a view of: follows view-like ops (base
/// buffers of extract_strided_metadata, casts, reshapes, subviews) back.
Value viewRoot(Value value) {
  while (auto view = value.getDefiningOp<ViewLikeOpInterface>())
    value = view.getViewSource();
  return value;
}

/// True for the ops whose memref results are new buffers the block owns:
/// allocations, and calls (under the deallocation's function boundary ABI a
/// callee returns buffers owned by the caller).
bool createsBuffer(Operation *op) {
  return isa<memref::AllocOp, func::CallOp, bufferization::CloneOp>(op);
}

/// The op of `block` after which no view of `root` is used any more, or null
/// when that cannot be told (a view escapes into a pointer, a terminator,
/// another block, or an op this pass does not know to produce views).
Operation *lastUseInBlock(Value root, Block *block, Operation *dealloc) {
  Operation *last = root.getDefiningOp();
  SmallVector<Value> worklist = {root};
  llvm::DenseSet<Value> seen;
  while (!worklist.empty()) {
    Value value = worklist.pop_back_val();
    if (!seen.insert(value).second)
      continue;
    for (Operation *user : value.getUsers()) {
      if (user == dealloc)
        continue;
      Operation *anchor = block->findAncestorOpInBlock(*user);
      if (!anchor || user->hasTrait<OpTrait::IsTerminator>() ||
          isa<bufferization::DeallocOp, memref::ExtractAlignedPointerAsIndexOp,
              UnrealizedConversionCastOp>(user))
        return nullptr;
      if (isa<ViewLikeOpInterface>(user)) {
        // A view reads nothing; the uses of its memref results are uses of
        // the buffer.
        for (Value result : user->getResults())
          if (isa<BaseMemRefType>(result.getType()))
            worklist.push_back(result);
        continue;
      }
      if (!isa<func::CallOp>(user)) {
        // Any other op that makes a memref or an LLVM value out of the
        // buffer might alias it where this pass cannot see.
        for (Type type : user->getResultTypes())
          if (isa<BaseMemRefType>(type) ||
              type.getDialect().getNamespace() == "llvm")
            return nullptr;
      }
      if (last->isBeforeInBlock(anchor))
        last = anchor;
    }
  }
  return last;
}

/// Splits the unconditional frees of buffers created in `dealloc`'s block
/// out of it, each to just after its buffer's last use.
void freeAfterLastUse(bufferization::DeallocOp dealloc) {
  Block *block = dealloc->getBlock();
  if (!dealloc.getRetained().empty() ||
      block->getTerminator()->getNumSuccessors() != 0)
    return;

  // Operands that free the same buffer twice (under different views) keep
  // their conditional treatment.
  llvm::DenseMap<Value, int> rootCount;
  for (Value memref : dealloc.getMemrefs())
    ++rootCount[viewRoot(memref)];

  SmallVector<Value> keptMemrefs, keptConditions;
  OpBuilder builder(dealloc);
  for (auto [memref, condition] :
       llvm::zip_equal(dealloc.getMemrefs(), dealloc.getConditions())) {
    Value root = viewRoot(memref);
    Operation *creator = root.getDefiningOp();
    Operation *last = nullptr;
    if (matchPattern(condition, m_One()) && rootCount[root] == 1 && creator &&
        creator->getBlock() == block && createsBuffer(creator))
      last = lastUseInBlock(root, block, dealloc);
    if (!last) {
      keptMemrefs.push_back(memref);
      keptConditions.push_back(condition);
      continue;
    }
    builder.setInsertionPointAfter(last);
    builder.create<memref::DeallocOp>(dealloc.getLoc(), root);
  }
  if (keptMemrefs.size() == dealloc.getMemrefs().size())
    return;
  if (!keptMemrefs.empty()) {
    builder.setInsertionPoint(dealloc);
    builder.create<bufferization::DeallocOp>(dealloc.getLoc(), keptMemrefs,
                                             keptConditions, ValueRange());
  }
  dealloc.erase();
}

struct LLMFreeAfterLastUsePass
    : public llamac::impl::LLMFreeAfterLastUsePassBase<
          LLMFreeAfterLastUsePass> {
  void runOnOperation() override {
    SmallVector<bufferization::DeallocOp> deallocs;
    getOperation()->walk(
        [&](bufferization::DeallocOp op) { deallocs.push_back(op); });
    for (bufferization::DeallocOp dealloc : deallocs)
      freeAfterLastUse(dealloc);
  }
};

} // namespace
