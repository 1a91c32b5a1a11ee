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
#include "llamac/Passes/Passes.h"

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

#include <map>
#include <vector>

namespace llamac {
#define GEN_PASS_DEF_LLMREDUCTIONSTOLOOPSPASS
#include "llamac/Passes/Passes.h.inc"
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

/// Rows computed together along each blocked dimension. A reduction is
/// blocked along up to two outer dimensions that some input ignores: each
/// input's vector is then loaded once per distinct row it depends on, e.g.
/// for a matmul a 4 tokens x 4 outputs block of accumulators shares every
/// token vector across 4 outputs and every weight vector across 4 tokens.
constexpr int64_t kRowBlock = 4;

struct ReductionToLoops : OpInterfaceRewritePattern<linalg::LinalgOp> {
  using OpInterfaceRewritePattern::OpInterfaceRewritePattern;

  /// Everything the loop builders need about one matched op.
  struct Plan {
    linalg::LinalgOp op;
    Block *body;
    OpOperand *output;
    AffineMap outputMap;
    BlockArgument acc;
    /// Vector path: the summed expression, the final add, the inputs that
    /// move with the reduction index.
    bool vectorize = false;
    Value expression;
    Operation *finalAdd = nullptr;
    SmallVector<OpOperand *> moving;
    /// Outer dimensions blocked by kRowBlock (at most two).
    SmallVector<int64_t, 2> blockedDims;
    Value reductionLb, reductionUb, reductionStep;
  };

  /// acc = body(inputs at k, acc) for k in [from, to), for the row `ivs`.
  static Value scalarLoop(OpBuilder &b, Location loc, Plan plan,
                          ArrayRef<Value> ivs, Value from, Value to,
                          Value start) {
    auto loop = b.create<scf::ForOp>(
        loc, from, to, plan.reductionStep, ValueRange{start},
        [&](OpBuilder &b, Location loc, Value k, ValueRange iterArgs) {
          SmallVector<Value> at(ivs);
          at.back() = k;
          IRMapping mapping;
          for (OpOperand *input : plan.op.getDpsInputOperands())
            mapping.map(
                plan.body->getArgument(input->getOperandNumber()),
                b.create<memref::LoadOp>(
                    loc, input->get(),
                    indicesFor(plan.op.getMatchingIndexingMap(input), at)));
          mapping.map(plan.acc, iterArgs[0]);
          for (Operation &nested : plan.body->without_terminator()) {
            if (auto index = dyn_cast<linalg::IndexOp>(nested)) {
              mapping.map(index.getResult(), at[index.getDim()]);
              continue;
            }
            b.clone(nested, mapping);
          }
          auto yield = cast<linalg::YieldOp>(plan.body->getTerminator());
          b.create<scf::YieldOp>(
              loc, mapping.lookupOrDefault(yield.getOperand(0)));
        });
    return loop.getResult(0);
  }

  /// The vector path for the rows `rows` (index vectors differing only in
  /// the blocked dimension), guarded by a run-time check that every moving
  /// input is contiguous along the reduction index.
  static SmallVector<Value> vectorizedLoop(OpBuilder &b, Location loc,
                                           Plan plan,
                                           ArrayRef<SmallVector<Value>> rows,
                                           ArrayRef<SmallVector<int64_t, 2>>
                                               rowOffsets,
                                           ArrayRef<Value> inits) {
    linalg::LinalgOp op = plan.op;
    Value lb = plan.reductionLb, ub = plan.reductionUb;
    size_t numRows = rows.size();
    Value one = b.create<arith::ConstantIndexOp>(loc, 1);
    Value contiguous = b.create<arith::ConstantIntOp>(loc, 1, 1);
    SmallVector<memref::ExtractStridedMetadataOp> metadata;
    for (OpOperand *input : plan.moving) {
      auto info = b.create<memref::ExtractStridedMetadataOp>(loc, input->get());
      metadata.push_back(info);
      Value unit = b.create<arith::CmpIOp>(loc, arith::CmpIPredicate::eq,
                                           info.getStrides().back(), one);
      contiguous = b.create<arith::AndIOp>(loc, contiguous, unit);
    }
    SmallVector<Type> resultTypes(numRows, b.getF32Type());
    auto branch = b.create<scf::IfOp>(
        loc, contiguous,
        [&](OpBuilder &b, Location loc) {
          // Views with a static unit innermost stride, as vector.load needs.
          DenseMap<Value, Value> views;
          for (auto [input, info] : llvm::zip(plan.moving, metadata)) {
            auto type = cast<MemRefType>(input->get().getType());
            SmallVector<int64_t> strides(type.getRank(), ShapedType::kDynamic);
            strides.back() = 1;
            auto viewType = MemRefType::get(
                type.getShape(), type.getElementType(),
                StridedLayoutAttr::get(b.getContext(), ShapedType::kDynamic,
                                       strides));
            SmallVector<OpFoldResult> viewStrides =
                getAsOpFoldResult(info.getStrides());
            viewStrides.back() = b.getIndexAttr(1);
            views[input->get()] = b.create<memref::ReinterpretCastOp>(
                loc, viewType, input->get(), OpFoldResult(info.getOffset()),
                getAsOpFoldResult(info.getSizes()), viewStrides);
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
          SmallVector<Value> starts(numRows, zeros);
          auto main = b.create<scf::ForOp>(
              loc, lb, mainEnd, lanes, starts,
              [&](OpBuilder &b, Location loc, Value k, ValueRange iterArgs) {
                // Each input is loaded once per distinct offset along the
                // blocked dimensions it depends on, and shared by the rows
                // with that offset.
                std::map<std::pair<unsigned, std::vector<int64_t>>, Value>
                    loaded;
                SmallVector<Value> sums;
                for (size_t r = 0; r < numRows; ++r) {
                  SmallVector<Value> at(rows[r]);
                  at.back() = k;
                  IRMapping mapping;
                  for (OpOperand *input : op.getDpsInputOperands()) {
                    AffineMap map = op.getMatchingIndexingMap(input);
                    std::vector<int64_t> key;
                    for (auto [dim, offset] :
                         llvm::zip(plan.blockedDims, rowOffsets[r]))
                      key.push_back(map.isFunctionOfDim(dim) ? offset : -1);
                    Value &cached =
                        loaded[{input->getOperandNumber(), std::move(key)}];
                    if (!cached) {
                      Type element =
                          getElementTypeOrSelf(input->get().getType());
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
                      cached = value;
                    }
                    mapping.map(
                        plan.body->getArgument(input->getOperandNumber()),
                        cached);
                  }
                  // The body's elementwise ops, lane by lane.
                  for (Operation &nested : plan.body->without_terminator()) {
                    if (&nested == plan.finalAdd)
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
                  sums.push_back(b.create<arith::AddFOp>(
                      loc, iterArgs[r], mapping.lookup(plan.expression)));
                }
                b.create<scf::YieldOp>(loc, sums);
              });
          SmallVector<Value> results;
          for (size_t r = 0; r < numRows; ++r) {
            Value partial = b.create<vector::ReductionOp>(
                loc, vector::CombiningKind::ADD, main.getResult(r), inits[r]);
            results.push_back(
                scalarLoop(b, loc, plan, rows[r], mainEnd, ub, partial));
          }
          b.create<scf::YieldOp>(loc, results);
        },
        [&](OpBuilder &b, Location loc) {
          SmallVector<Value> results;
          for (size_t r = 0; r < numRows; ++r)
            results.push_back(
                scalarLoop(b, loc, plan, rows[r], lb, ub, inits[r]));
          b.create<scf::YieldOp>(loc, results);
        });
    return SmallVector<Value>(branch.getResults().begin(), branch.getResults().end());
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
    Plan plan;
    plan.op = op;
    plan.body = op.getBlock();
    plan.output = op.getDpsInitOperand(0);
    plan.outputMap = op.getMatchingIndexingMap(plan.output);
    if (plan.outputMap.isFunctionOfDim(numLoops - 1))
      return rewriter.notifyMatchFailure(op, "output indexed by reduction");
    plan.acc = plan.body->getArgument(plan.output->getOperandNumber());

    plan.expression = additiveExpression(plan.body, plan.acc);
    if (plan.expression)
      plan.finalAdd = cast<linalg::YieldOp>(plan.body->getTerminator())
                          .getOperand(0)
                          .getDefiningOp();
    plan.vectorize = plan.expression && plan.acc.getType().isF32() &&
                     isVectorizableBody(plan.body, plan.finalAdd) &&
                     plan.body->getOps<linalg::IndexOp>().empty();
    // Inputs that move with the reduction index must have it innermost to
    // be loaded as vectors.
    for (OpOperand *input : op.getDpsInputOperands()) {
      AffineMap map = op.getMatchingIndexingMap(input);
      if (!map.isFunctionOfDim(numLoops - 1))
        continue;
      if (map.getNumResults() == 0 ||
          map.getDimPosition(map.getNumResults() - 1) != numLoops - 1)
        plan.vectorize = false;
      plan.moving.push_back(input);
    }
    if (plan.moving.empty())
      plan.vectorize = false;
    // Block outer parallel dimensions that some moving input ignores (the
    // tokens of a matmul, which the weights ignore), and then one that the
    // inputs sharing the first ignore in turn (the outputs, which the tokens
    // ignore).
    auto usesDim = [&](OpOperand *input, unsigned dim) {
      return op.getMatchingIndexingMap(input).isFunctionOfDim(dim);
    };
    if (plan.vectorize)
      for (unsigned dim = 0;
           dim + 1 < numLoops && plan.blockedDims.size() < 2; ++dim) {
        if (iterators[dim] != utils::IteratorType::parallel)
          continue;
        bool someUse = false, someIgnore = false, complements = false;
        for (OpOperand *input : plan.moving) {
          bool uses = usesDim(input, dim);
          someUse |= uses;
          someIgnore |= !uses;
          if (!plan.blockedDims.empty())
            complements |= uses && !usesDim(input, plan.blockedDims[0]);
        }
        if (someUse && someIgnore &&
            (plan.blockedDims.empty() || complements))
          plan.blockedDims.push_back(dim);
      }

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
    plan.reductionLb = lbs.back();
    plan.reductionUb = ubs.back();
    plan.reductionStep = steps.back();

    // One loop nest over the outer dimensions, computing counts[i] rows
    // along blocked dimension i per iteration.
    auto emitNest = [&](ArrayRef<Value> nestLbs, ArrayRef<Value> nestUbs,
                        ArrayRef<Value> nestSteps, ArrayRef<int64_t> counts) {
      scf::buildLoopNest(
          rewriter, loc, nestLbs, nestUbs, nestSteps,
          [&](OpBuilder &b, Location loc, ValueRange outerIvs) {
            // Every combination of offsets along the blocked dimensions.
            SmallVector<SmallVector<int64_t, 2>> offsets = {{}};
            for (int64_t count : counts) {
              SmallVector<SmallVector<int64_t, 2>> next;
              for (const auto &prefix : offsets)
                for (int64_t r = 0; r < count; ++r) {
                  next.push_back(prefix);
                  next.back().push_back(r);
                }
              offsets = std::move(next);
            }
            SmallVector<SmallVector<Value>> rows;
            SmallVector<Value> inits;
            for (const auto &offset : offsets) {
              SmallVector<Value> ivs(outerIvs);
              // The output does not depend on the reduction loop: any
              // index stands in for it when applying the output map.
              ivs.push_back(plan.reductionLb);
              for (auto [dim, r] : llvm::zip(plan.blockedDims, offset))
                if (r > 0)
                  ivs[dim] = b.create<arith::AddIOp>(
                      loc, ivs[dim], b.create<arith::ConstantIndexOp>(loc, r));
              inits.push_back(b.create<memref::LoadOp>(
                  loc, plan.output->get(), indicesFor(plan.outputMap, ivs)));
              rows.push_back(std::move(ivs));
            }
            SmallVector<Value> results;
            if (plan.vectorize)
              results = vectorizedLoop(b, loc, plan, rows, offsets, inits);
            else
              results.push_back(scalarLoop(b, loc, plan, rows[0],
                                           plan.reductionLb, plan.reductionUb,
                                           inits[0]));
            for (auto [row, result] : llvm::zip(rows, results))
              b.create<memref::StoreOp>(loc, result, plan.output->get(),
                                        indicesFor(plan.outputMap, row));
          });
    };

    SmallVector<Value> outerLbs(ArrayRef<Value>(lbs).drop_back());
    SmallVector<Value> outerUbs(ArrayRef<Value>(ubs).drop_back());
    SmallVector<Value> outerSteps(ArrayRef<Value>(steps).drop_back());
    // Along each blocked dimension: whole blocks of kRowBlock rows, then
    // the rows left over one at a time; one nest per combination.
    Value block = rewriter.create<arith::ConstantIndexOp>(loc, kRowBlock);
    SmallVector<Value> blockedEnds;
    for (int64_t dim : plan.blockedDims) {
      Value span = rewriter.create<arith::SubIOp>(loc, ubs[dim], lbs[dim]);
      blockedEnds.push_back(rewriter.create<arith::AddIOp>(
          loc, lbs[dim],
          rewriter.create<arith::MulIOp>(
              loc, rewriter.create<arith::DivUIOp>(loc, span, block), block)));
    }
    for (unsigned combination = 0;
         combination < (1u << plan.blockedDims.size()); ++combination) {
      SmallVector<Value> nestLbs(outerLbs), nestUbs(outerUbs),
          nestSteps(outerSteps);
      SmallVector<int64_t> counts;
      for (auto [i, dim] : llvm::enumerate(plan.blockedDims)) {
        bool whole = !(combination & (1u << i));
        if (whole) {
          nestUbs[dim] = blockedEnds[i];
          nestSteps[dim] = block;
        } else {
          nestLbs[dim] = blockedEnds[i];
        }
        counts.push_back(whole ? kRowBlock : 1);
      }
      emitNest(nestLbs, nestUbs, nestSteps, counts);
    }
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
