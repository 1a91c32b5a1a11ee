//===- ReductionsToLoops.cpp - llm-reductions-to-loops --------------------===//
//
//   for each outer index (i, j, ...):
//     acc = out[map_out(i, j, ...)]
//     for k: acc = body(in_0[map_0(i, j, ..., k)], ..., acc)
//     out[map_out(i, j, ...)] = acc
//
//
// When the reduction is a sum (`acc + f(inputs)`, f elementwise) and the
// inputs that move with the reduction index are contiguous along it, the
// innermost loop is generated from the vector dialect instead: 16 lanes of
// partial sums, one horizontal add at the end, and a scalar loop for the
// remainder. Contiguity is checked at run time (strides are dynamic at
// kernel boundaries); a strided input takes the scalar loop.
//
//===----------------------------------------------------------------------===//
#include "llamac/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace llamac {
#define GEN_PASS_DEF_LLMREDUCTIONSTOLOOPSPASS
#include "llamac/Transforms/Passes.h.inc"
} // namespace llamac

using namespace mlir;

namespace {

/// The indices `map` (a projected permutation) selects from `ivs`.
SmallVector<Value> indicesFor(AffineMap map, ValueRange ivs) {
  SmallVector<Value> indices;
  for (unsigned result = 0; result < map.getNumResults(); ++result)
    indices.push_back(ivs[map.getDimPosition(result)]);
  return indices;
}

constexpr int64_t kLanes = 16;

/// The elementwise expression `expr` of a body that yields `acc + expr`
/// and uses `acc` nowhere else, or null.
Value additiveExpression(Block *body, BlockArgument acc) {
  auto yield = cast<linalg::YieldOp>(body->getTerminator());
  auto add = yield.getOperand(0).getDefiningOp<arith::AddFOp>();
  if (!add || !acc.hasOneUse())
    return nullptr;
  if (add.getLhs() == acc)
    return add.getRhs();
  if (add.getRhs() == acc)
    return add.getLhs();
  return nullptr;
}

/// True when every op of `body` but the final add is a scalar elementwise
/// arith/math op, so that it can be applied to vectors lane by lane.
bool isVectorizableBody(Block *body, Operation *finalAdd) {
  for (Operation &op : body->without_terminator()) {
    if (&op == finalAdd)
      continue;
    if (!isa<arith::ArithDialect, math::MathDialect>(op.getDialect()) ||
        !op.hasTrait<OpTrait::Elementwise>() || op.getNumRegions() != 0)
      return false;
    auto scalar = [](Type type) { return type.isIntOrFloat(); };
    if (!llvm::all_of(op.getOperandTypes(), scalar) ||
        !llvm::all_of(op.getResultTypes(), scalar))
      return false;
  }
  return true;
}

struct ReductionToLoops : OpInterfaceRewritePattern<linalg::LinalgOp> {
  using OpInterfaceRewritePattern::OpInterfaceRewritePattern;

  /// The vector path, guarded by a run-time check that every moving input
  /// is contiguous along the reduction index.
  static Value vectorizedLoop(
      OpBuilder &b, Location loc, linalg::LinalgOp op,
      ArrayRef<OpOperand *> moving, ArrayRef<Value> ivs, Value lb, Value ub,
      Value init, Value expression, Operation *finalAdd,
      function_ref<Value(OpBuilder &, Value, Value, Value)> scalarLoop) {
    Block *body = op.getBlock();
    Value one = b.create<arith::ConstantIndexOp>(loc, 1);
    Value contiguous = b.create<arith::ConstantIntOp>(loc, 1, 1);
    SmallVector<memref::ExtractStridedMetadataOp> metadata;
    for (OpOperand *input : moving) {
      auto info = b.create<memref::ExtractStridedMetadataOp>(loc, input->get());
      metadata.push_back(info);
      Value unit = b.create<arith::CmpIOp>(loc, arith::CmpIPredicate::eq,
                                           info.getStrides().back(), one);
      contiguous = b.create<arith::AndIOp>(loc, contiguous, unit);
    }
    auto branch = b.create<scf::IfOp>(
        loc, contiguous,
        [&](OpBuilder &b, Location loc) {
          // Views with a static unit innermost stride, as vector.load needs.
          DenseMap<Value, Value> views;
          for (auto [input, info] : llvm::zip(moving, metadata)) {
            auto type = cast<MemRefType>(input->get().getType());
            SmallVector<int64_t> strides(type.getRank(), ShapedType::kDynamic);
            strides.back() = 1;
            auto viewType = MemRefType::get(
                type.getShape(), type.getElementType(),
                StridedLayoutAttr::get(b.getContext(), ShapedType::kDynamic,
                                       strides));
            SmallVector<OpFoldResult> sizes = getAsOpFoldResult(info.getSizes());
            SmallVector<OpFoldResult> viewStrides =
                getAsOpFoldResult(info.getStrides());
            viewStrides.back() = b.getIndexAttr(1);
            views[input->get()] = b.create<memref::ReinterpretCastOp>(
                loc, viewType, input->get(), OpFoldResult(info.getOffset()),
                sizes, viewStrides);
          }
          Value lanes = b.create<arith::ConstantIndexOp>(loc, kLanes);
          Value span = b.create<arith::SubIOp>(loc, ub, lb);
          Value mainEnd = b.create<arith::AddIOp>(
              loc, lb,
              b.create<arith::MulIOp>(
                  loc, b.create<arith::DivUIOp>(loc, span, lanes), lanes));
          auto accType = VectorType::get({kLanes}, b.getF32Type());
          Value zeros = b.create<arith::ConstantOp>(
              loc, DenseElementsAttr::get(accType, 0.0f));
          auto main = b.create<scf::ForOp>(
              loc, lb, mainEnd, lanes, ValueRange{zeros},
              [&](OpBuilder &b, Location loc, Value k, ValueRange iterArgs) {
                SmallVector<Value> at(ivs);
                at.back() = k;
                IRMapping mapping;
                for (OpOperand *input : op.getDpsInputOperands()) {
                  AffineMap map = op.getMatchingIndexingMap(input);
                  Type element = getElementTypeOrSelf(input->get().getType());
                  auto vectorType = VectorType::get({kLanes}, element);
                  Value value;
                  if (views.count(input->get())) {
                    value = b.create<vector::LoadOp>(
                        loc, vectorType, views[input->get()],
                        indicesFor(map, at));
                  } else {
                    Value scalar = b.create<memref::LoadOp>(
                        loc, input->get(), indicesFor(map, at));
                    value = b.create<vector::BroadcastOp>(loc, vectorType,
                                                          scalar);
                  }
                  mapping.map(body->getArgument(input->getOperandNumber()),
                              value);
                }
                // The body's elementwise ops, lane by lane.
                for (Operation &nested : body->without_terminator()) {
                  if (&nested == finalAdd)
                    continue;
                  OperationState state(loc, nested.getName());
                  for (Value operand : nested.getOperands())
                    state.addOperands(mapping.lookup(operand));
                  state.addAttributes(nested.getAttrs());
                  for (Type type : nested.getResultTypes())
                    state.addTypes(VectorType::get({kLanes}, type));
                  Operation *vectorOp = b.create(state);
                  mapping.map(nested.getResults(), vectorOp->getResults());
                }
                Value sum = b.create<arith::AddFOp>(
                    loc, iterArgs[0], mapping.lookup(expression));
                b.create<scf::YieldOp>(loc, sum);
              });
          Value partial = b.create<vector::ReductionOp>(
              loc, vector::CombiningKind::ADD, main.getResult(0), init);
          b.create<scf::YieldOp>(loc, scalarLoop(b, mainEnd, ub, partial));
        },
        [&](OpBuilder &b, Location loc) {
          b.create<scf::YieldOp>(loc, scalarLoop(b, lb, ub, init));
        });
    return branch.getResult(0);
  }

  LogicalResult matchAndRewrite(linalg::LinalgOp op,
                                PatternRewriter &rewriter) const override {
    if (!op.hasPureBufferSemantics() || op.getNumDpsInits() != 1 ||
        op->getNumRegions() != 1)
      return rewriter.notifyMatchFailure(op, "needs one output buffer");
    unsigned numLoops = op.getNumLoops();
    SmallVector<utils::IteratorType> iterators = op.getIteratorTypesArray();
    if (numLoops == 0 || iterators.back() != utils::IteratorType::reduction)
      return rewriter.notifyMatchFailure(op, "innermost loop not a reduction");
    for (OpOperand &operand : op->getOpOperands()) {
      if (!isa<MemRefType>(operand.get().getType()))
        return rewriter.notifyMatchFailure(op, "scalar operand");
      if (!op.getMatchingIndexingMap(&operand).isProjectedPermutation())
        return rewriter.notifyMatchFailure(op, "non-permutation map");
    }
    OpOperand *output = op.getDpsInitOperand(0);
    AffineMap outputMap = op.getMatchingIndexingMap(output);
    if (outputMap.isFunctionOfDim(numLoops - 1))
      return rewriter.notifyMatchFailure(op, "output indexed by reduction");

    Location loc = op.getLoc();
    SmallVector<Range> ranges = op.createLoopRanges(rewriter, loc);
    auto valuesOf = [&](auto member) {
      SmallVector<Value> values;
      for (const Range &range : ranges)
        values.push_back(
            getValueOrCreateConstantIndexOp(rewriter, loc, member(range)));
      return values;
    };
    SmallVector<Value> lbs = valuesOf([](const Range &r) { return r.offset; });
    SmallVector<Value> ubs = valuesOf([](const Range &r) { return r.size; });
    SmallVector<Value> steps = valuesOf([](const Range &r) { return r.stride; });
    Block *body = op.getBlock();

    BlockArgument acc = body->getArgument(output->getOperandNumber());
    Value expression = additiveExpression(body, acc);
    Operation *finalAdd =
        expression ? cast<linalg::YieldOp>(body->getTerminator())
                         .getOperand(0)
                         .getDefiningOp()
                   : nullptr;
    bool vectorize = expression && acc.getType().isF32() &&
                     isVectorizableBody(body, finalAdd) &&
                     body->getOps<linalg::IndexOp>().empty();
    // Inputs that move with the reduction index must have it innermost to
    // be loaded as vectors.
    SmallVector<OpOperand *> moving;
    for (OpOperand *input : op.getDpsInputOperands()) {
      AffineMap map = op.getMatchingIndexingMap(input);
      if (!map.isFunctionOfDim(numLoops - 1))
        continue;
      if (map.getNumResults() == 0 ||
          map.getDimPosition(map.getNumResults() - 1) != numLoops - 1)
        vectorize = false;
      moving.push_back(input);
    }
    if (moving.empty())
      vectorize = false;

    scf::buildLoopNest(
        rewriter, loc, ArrayRef<Value>(lbs).drop_back(),
        ArrayRef<Value>(ubs).drop_back(), ArrayRef<Value>(steps).drop_back(),
        [&](OpBuilder &b, Location loc, ValueRange outerIvs) {
          SmallVector<Value> ivs(outerIvs);
          // The output does not depend on the reduction loop: any index
          // stands in for it when applying the output map.
          ivs.push_back(lbs.back());
          SmallVector<Value> outIndices = indicesFor(outputMap, ivs);
          Value init =
              b.create<memref::LoadOp>(loc, output->get(), outIndices);

          // acc = body(inputs at k, acc) for k in [from, to).
          auto scalarLoop = [&](OpBuilder &b, Value from, Value to,
                                Value start) -> Value {
            auto loop = b.create<scf::ForOp>(
                loc, from, to, steps.back(), ValueRange{start},
                [&](OpBuilder &b, Location loc, Value k, ValueRange iterArgs) {
                  SmallVector<Value> at(ivs);
                  at.back() = k;
                  IRMapping mapping;
                  for (OpOperand *input : op.getDpsInputOperands())
                    mapping.map(
                        body->getArgument(input->getOperandNumber()),
                        b.create<memref::LoadOp>(
                            loc, input->get(),
                            indicesFor(op.getMatchingIndexingMap(input), at)));
                  mapping.map(acc, iterArgs[0]);
                  for (Operation &nested : body->without_terminator()) {
                    if (auto index = dyn_cast<linalg::IndexOp>(nested)) {
                      mapping.map(index.getResult(), at[index.getDim()]);
                      continue;
                    }
                    b.clone(nested, mapping);
                  }
                  auto yield = cast<linalg::YieldOp>(body->getTerminator());
                  b.create<scf::YieldOp>(
                      loc, mapping.lookupOrDefault(yield.getOperand(0)));
                });
            return loop.getResult(0);
          };

          Value result;
          if (!vectorize) {
            result = scalarLoop(b, lbs.back(), ubs.back(), init);
          } else {
            result = vectorizedLoop(b, loc, op, moving, ivs, lbs.back(),
                                    ubs.back(), init, expression, finalAdd,
                                    scalarLoop);
          }
          b.create<memref::StoreOp>(loc, result, output->get(), outIndices);
        });
    rewriter.eraseOp(op);
    return success();
  }
};

struct LLMReductionsToLoopsPass
    : public llamac::impl::LLMReductionsToLoopsPassBase<
          LLMReductionsToLoopsPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<ReductionToLoops>(&getContext());
    if (failed(applyPatternsAndFoldGreedily(getOperation(),
                                            std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace
