//===- LowerEntryABI.cpp - llm-lower-entry-abi ----------------------------===//
//
// Gives the entry functions the calling convention the runtime uses:
//
//   prefill(tokens, start_pos, k_cache, v_cache, logits, weights)
//
// where `logits` is a caller-owned output and `weights` the mmap-ed weight
// buffer, in which every `llm.param` has a fixed offset. The offsets are
// recorded on the module (`llm.weights`) for the weight packer.
//
//===----------------------------------------------------------------------===//
#include "llamac/IR/LLMOps.h"
#include "llamac/Passes/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/Builders.h"
#include "llvm/ADT/MapVector.h"
#include "llvm/Support/MathExtras.h"

namespace llamac {
#define GEN_PASS_DEF_LLMLOWERENTRYABIPASS
#include "llamac/Passes/Passes.h.inc"
} // namespace llamac

using namespace mlir;
using namespace llamac;

namespace {

struct WeightSlot {
  RankedTensorType type;
  int64_t offset = 0;
  llm::WeightLayoutAttr layout; // null: the checkpoint's own layout
  ArrayAttr parts;   // null: the checkpoint tensor of the weight's name
};

/// A slot is identified by the weight's name and layout.
using SlotKey = std::pair<StringRef, Attribute>;
SlotKey keyOf(llm::ParamOp param) {
  return {param.getName(), param.getLayoutAttr()};
}

struct LLMLowerEntryABIPass
    : public llamac::impl::LLMLowerEntryABIPassBase<LLMLowerEntryABIPass> {
  using LLMLowerEntryABIPassBase::LLMLowerEntryABIPassBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    if (alignment <= 0 || !llvm::isPowerOf2_64(alignment)) {
      module.emitError("llm-lower-entry-abi: alignment must be a positive "
                       "power of two, got ")
          << static_cast<int64_t>(alignment);
      return signalPassFailure();
    }

    SmallVector<func::FuncOp> entries;
    for (auto function : module.getOps<func::FuncOp>())
      if (!function->hasAttr("llm.kernel") && !function.isExternal())
        entries.push_back(function);

    // One slot per weight name and layout (a quantized weight has two:
    // codes and scales), in order of first use.
    llvm::MapVector<SlotKey, WeightSlot> slots;
    int64_t size = 0;
    bool failedLayout = false;
    for (func::FuncOp entry : entries) {
      entry.walk([&](llm::ParamOp param) {
        auto type = param.getResult().getType();
        auto [it, inserted] = slots.insert(
            {keyOf(param),
             {type, 0, param.getLayoutAttr(), param.getPartsAttr()}});
        if (!inserted) {
          if (it->second.parts != param.getPartsAttr()) {
            param.emitOpError("weight '")
                << param.getName() << "' is stacked from different parts "
                << "in different places";
            failedLayout = true;
          }
          if (it->second.type != type) {
            param.emitOpError("weight '")
                << param.getName() << "' is used with type " << type
                << " here and " << it->second.type << " elsewhere";
            failedLayout = true;
          }
          return;
        }
        size = llvm::alignTo(size, alignment);
        it->second.offset = size;
        size += type.getNumElements() * type.getElementTypeBitWidth() / 8;
      });
    }
    if (failedLayout)
      return signalPassFailure();

    Builder b(module.getContext());
    SmallVector<Attribute> table;
    for (auto &[key, slot] : slots) {
      SmallVector<NamedAttribute> entry = {
          b.getNamedAttr("name", b.getStringAttr(key.first)),
          b.getNamedAttr("offset", b.getI64IntegerAttr(slot.offset)),
          b.getNamedAttr("type", TypeAttr::get(slot.type))};
      if (slot.layout)
        entry.push_back(b.getNamedAttr("layout", slot.layout));
      if (slot.parts)
        entry.push_back(b.getNamedAttr("parts", slot.parts));
      table.push_back(b.getDictionaryAttr(entry));
    }
    module->setAttr("llm.weights", b.getArrayAttr(table));
    module->setAttr("llm.weights_size", b.getI64IntegerAttr(size));

    for (func::FuncOp entry : entries)
      if (failed(lowerEntry(entry, slots)))
        return signalPassFailure();
  }

  LogicalResult
  lowerEntry(func::FuncOp entry,
             const llvm::MapVector<SlotKey, WeightSlot> &slots) {
    MLIRContext *context = entry.getContext();
    OpBuilder b(context);
    auto returnOp = cast<func::ReturnOp>(entry.getBody().back().getTerminator());
    if (returnOp.getNumOperands() == 0 ||
        !isa<RankedTensorType>(returnOp.getOperand(0).getType()))
      return entry.emitOpError("expects the logits tensor as first result");

    // Trailing arguments: the caller-owned logits and the weight buffer.
    Type logitsType = returnOp.getOperand(0).getType();
    auto weightsType =
        MemRefType::get({ShapedType::kDynamic}, b.getIntegerType(8));
    unsigned logitsIndex = entry.getNumArguments();
    entry.insertArgument(logitsIndex, logitsType,
                         b.getDictionaryAttr(b.getNamedAttr(
                             "llm.name", b.getStringAttr("logits"))),
                         entry.getLoc());
    entry.insertArgument(logitsIndex + 1, weightsType,
                         b.getDictionaryAttr(b.getNamedAttr(
                             "llm.name", b.getStringAttr("weights"))),
                         entry.getLoc());
    Value logitsArg = entry.getArgument(logitsIndex);
    Value weights = entry.getArgument(logitsIndex + 1);

    // Weights: typed views of the buffer, read-only and alias-free.
    SmallVector<llm::ParamOp> params;
    entry.walk([&](llm::ParamOp param) { params.push_back(param); });
    for (llm::ParamOp param : params) {
      b.setInsertionPoint(param);
      const WeightSlot &slot = slots.lookup(keyOf(param));
      Location loc = param.getLoc();
      Value offset = b.create<arith::ConstantIndexOp>(loc, slot.offset);
      auto viewType =
          MemRefType::get(slot.type.getShape(), slot.type.getElementType());
      Value view = b.create<memref::ViewOp>(loc, viewType, weights, offset,
                                            ValueRange{});
      Value tensor = b.create<bufferization::ToTensorOp>(
          loc, slot.type, view, /*restrict=*/true, /*writable=*/false);
      param.replaceAllUsesWith(tensor);
      param.erase();
    }

    // Logits: written into the caller's buffer.
    b.setInsertionPoint(returnOp);
    Value logits = returnOp.getOperand(0);
    Value written = b.create<bufferization::MaterializeInDestinationOp>(
        returnOp.getLoc(), logits, logitsArg).getResult();
    returnOp.setOperand(0, written);
    // The runtime calls `_mlir_ciface_<name>` with memref descriptors.
    entry->setAttr("llvm.emit_c_interface", b.getUnitAttr());
    return success();
  }
};

} // namespace
