//===- FuseProjections.cpp - llm-fuse-projections -------------------------===//
//
// Projections that read the same input (Q, K and V of an attention layer;
// gate and up of an MLP) become one projection by the stacked weights,
// whose result columns are sliced back apart. One product instead of two or
// three: the input is read (and, for AMX prefill, rounded into tiles) once,
// the weight streams are longer, and decode runs fewer kernels per layer.
// Each output is the same dot product as before, so the numbers do not
// change. The stacked weight is an llm.param with `parts`; the packer
// stacks the checkpoint matrices at compile time.
//
//===----------------------------------------------------------------------===//
#include "llamac/IR/LLMOps.h"
#include "llamac/Passes/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "llvm/ADT/MapVector.h"

namespace llamac {
#define GEN_PASS_DEF_LLMFUSEPROJECTIONSPASS
#include "llamac/Passes/Passes.h.inc"
} // namespace llamac

using namespace mlir;
using namespace llamac;

namespace {

/// The plain checkpoint matrix `linear` multiplies by, if it may be stacked:
/// a [tokens, features] product by an unpacked, unquantized, unstacked
/// llm.param, with no input rounding and no addend.
llm::ParamOp stackableWeight(llm::LinearOp linear) {
  if (linear.getScales() || linear.getInputType() || linear.getAddend() ||
      linear.getResult().getType().getRank() != 2)
    return nullptr;
  auto param = linear.getWeight().getDefiningOp<llm::ParamOp>();
  if (!param || param.getLayout() || param.getParts() ||
      param.getResult().getType().getRank() != 2)
    return nullptr;
  return param;
}

void fuseGroup(ArrayRef<llm::LinearOp> group) {
  llm::LinearOp first = group.front();
  OpBuilder b(first);
  Location loc = first.getLoc();
  SmallVector<Attribute> parts;
  std::string name;
  int64_t rows = 0;
  for (llm::LinearOp linear : group) {
    llm::ParamOp param = stackableWeight(linear);
    parts.push_back(param.getNameAttr());
    name += (name.empty() ? "" : "+") + param.getName().str();
    rows += param.getResult().getType().getDimSize(0);
  }
  auto weightType = first.getWeight().getType();
  auto stackedType = RankedTensorType::get(
      {rows, weightType.getDimSize(1)}, weightType.getElementType());
  auto stacked = b.create<llm::ParamOp>(loc, stackedType, b.getStringAttr(name),
                                        /*layout=*/nullptr,
                                        b.getArrayAttr(parts));
  auto inputType = first.getInput().getType();
  auto resultType = RankedTensorType::get({inputType.getDimSize(0), rows},
                                          first.getType().getElementType());
  auto fused = b.create<llm::LinearOp>(loc, resultType, first.getInput(),
                                       stacked.getResult());
  OpFoldResult tokens =
      inputType.isDynamicDim(0)
          ? OpFoldResult(b.create<tensor::DimOp>(loc, fused.getResult(), 0)
                             .getResult())
          : OpFoldResult(b.getIndexAttr(inputType.getDimSize(0)));
  // All slices first: the builder inserts before `first`, erased below.
  int64_t column = 0;
  SmallVector<Value> slices;
  for (llm::LinearOp linear : group) {
    int64_t width = linear.getType().getDimSize(1);
    slices.push_back(b.create<tensor::ExtractSliceOp>(
        linear.getLoc(), linear.getType(), fused.getResult(),
        ArrayRef<OpFoldResult>{b.getIndexAttr(0), b.getIndexAttr(column)},
        ArrayRef<OpFoldResult>{tokens, b.getIndexAttr(width)},
        ArrayRef<OpFoldResult>{b.getIndexAttr(1), b.getIndexAttr(1)}));
    column += width;
  }
  for (auto [index, slice] : llvm::enumerate(slices)) {
    llm::LinearOp linear = group[index];
    Operation *weight = linear.getWeight().getDefiningOp();
    linear.getResult().replaceAllUsesWith(slice);
    linear.erase();
    if (weight->use_empty())
      weight->erase();
  }
}

struct LLMFuseProjectionsPass
    : public llamac::impl::LLMFuseProjectionsPassBase<LLMFuseProjectionsPass> {
  void runOnOperation() override {
    getOperation().walk([](Block *block) {
      // Projections of one input, in program order (so every function
      // stacks the same weights under the same name).
      llvm::MapVector<Value, SmallVector<llm::LinearOp>> byInput;
      for (auto linear : block->getOps<llm::LinearOp>())
        if (stackableWeight(linear))
          byInput[linear.getInput()].push_back(linear);
      for (auto &[input, linears] : byInput) {
        SmallVector<llm::LinearOp> group;
        llvm::SmallPtrSet<Operation *, 4> seen;
        for (llm::LinearOp linear : linears) {
          Operation *weight = linear.getWeight().getDefiningOp();
          auto type = linear.getWeight().getType();
          if (!group.empty() && type.getElementType() !=
                                    group.front().getWeight().getType()
                                        .getElementType())
            continue;
          if (seen.insert(weight).second)
            group.push_back(linear);
        }
        if (group.size() >= 2)
          fuseGroup(group);
      }
    });
  }
};

} // namespace
