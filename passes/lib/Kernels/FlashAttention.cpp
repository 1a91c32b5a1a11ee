//===- FlashAttention.cpp - llm-lower-flash-attention ---------------------===//
//
// The fused attention kernel: llm.flash_attention on buffers (made by
// llm-to-linalg for an attention with a flash_* micro-kernel, bufferized
// in place) becomes vector code in parallel tasks, as its micro-kernel
// says. Runs before llm-outline-tasks, which hands the tasks to the
// runtime, and before the buffer deallocation pipeline, which frees the
// transposed keys.
//
//===----------------------------------------------------------------------===//
#include "llamac/IR/LLMOps.h"
#include "llamac/Passes/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/ControlFlow/IR/ControlFlowOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/Builders.h"

#include <limits>

namespace llamac {
#define GEN_PASS_DEF_LLMLOWERFLASHATTENTIONPASS
#include "llamac/Passes/Passes.h.inc"
} // namespace llamac

using namespace mlir;
using namespace llamac;

namespace {

/// Attention as one pass over the keys per (token, KV head): the
/// query heads of the group are processed together (they share every key
/// and value load), 16 keys at a time, with a running maximum, sum and
/// weighted sum (the online softmax of flash attention), and only up to the
/// token's causal limit, so nothing is materialized per score and half the
/// products of a square prompt are skipped. Written at buffer level in the
/// vector dialect: the tasks are an scf.forall over (KV head, token) that
/// `llm-outline-tasks` hands to the runtime.
///
/// `keys` and `values` are the visible history [kv, visible, d] (the new
/// rows already appended) as the cache stores it (f32, bf16 or f16: every
/// row is widened to f32 as it is loaded); the keys are first transposed
/// (and widened) into an f32 [kv, d, visible rounded up to 16] buffer so
/// that 16 scores are one vector of FMAs. Lanes past the visible keys are
/// masked to -inf before the maximum, and value rows past them are never
/// read.
void lowerFlashAttention(llm::FlashAttentionOp op) {
  OpBuilder b(op);
  Location loc = op.getLoc();
  llm::MicroKernelAttr config = op.getMicroKernel();
  auto queryType = cast<MemRefType>(op.getQuery().getType());
  auto keysType = cast<MemRefType>(op.getKeys().getType());
  const int64_t kvHeads = keysType.getDimSize(0);
  const int64_t headDim = queryType.getDimSize(2);
  const int64_t group = queryType.getDimSize(1) / kvHeads;
  const double scale = op.getScale().convertToDouble();
  Value startPos = op.getStartPos();
  Value numTokens = b.create<memref::DimOp>(loc, op.getQuery(), 0);
  Value visible = b.create<memref::DimOp>(loc, op.getKeys(), 1);
  Type f32 = queryType.getElementType();
  Type stored = keysType.getElementType();
  const int64_t lanes = *config.getLanes(), chunks = headDim / lanes;
  auto c = [&](int64_t v) {
    return b.create<arith::ConstantIndexOp>(loc, v).getResult();
  };
  // A view of `memref` with a static unit innermost stride, which vector
  // loads need. Kernel arguments carry dynamic strides; the rows of q, of
  // the caches and of our own buffers are contiguous by construction, and
  // an assertion says so at run time.
  auto unitInnerStride = [&](Value memref) -> Value {
    auto type = cast<MemRefType>(memref.getType());
    int64_t rank = type.getRank();
    SmallVector<int64_t> staticStrides;
    int64_t staticOffset;
    if (succeeded(getStridesAndOffset(type, staticStrides, staticOffset)) &&
        staticStrides.back() == 1)
      return memref;
    auto metadata = b.create<memref::ExtractStridedMetadataOp>(loc, memref);
    Value unit = b.create<arith::CmpIOp>(loc, arith::CmpIPredicate::eq,
                                         metadata.getStrides().back(), c(1));
    b.create<cf::AssertOp>(
        loc, unit, "llm.attention: rows of q, K and V must be contiguous");
    SmallVector<int64_t> strides(rank - 1, ShapedType::kDynamic);
    strides.push_back(1);
    auto viewType = MemRefType::get(
        type.getShape(), type.getElementType(),
        StridedLayoutAttr::get(b.getContext(), ShapedType::kDynamic, strides));
    SmallVector<OpFoldResult> sizes, strideValues;
    for (int64_t i = 0; i < rank; ++i) {
      sizes.push_back(metadata.getSizes()[i]);
      strideValues.push_back(i + 1 < rank
                                 ? OpFoldResult(metadata.getStrides()[i])
                                 : OpFoldResult(b.getIndexAttr(1)));
    }
    return b
        .create<memref::ReinterpretCastOp>(
            loc, viewType, metadata.getBaseBuffer(),
            OpFoldResult(metadata.getOffset()), sizes, strideValues)
        .getResult();
  };

  Value q = unitInnerStride(op.getQuery());
  Value v = unitInnerStride(op.getValues());
  // Prefill transposes the keys once ([kv, d, padded visible]) so that 16
  // scores are one vector of FMAs; a single token (decode) reads the key
  // rows as they are and reduces each dot product horizontally, which costs
  // less than transposing the whole history on every step.
  const bool transposeKeys =
      config.getKind() == llm::MicroKernelKind::FlashTransposedKeys;
  Value k = op.getKeys();
  Value keysT, keyRows;
  if (!transposeKeys)
    keyRows = unitInnerStride(k);
  else {
    Value padded = b.create<arith::MulIOp>(
        loc,
        b.create<arith::DivUIOp>(
            loc, b.create<arith::AddIOp>(loc, visible, c(lanes - 1)), c(lanes)),
        c(lanes));
    auto keysTType =
        MemRefType::get({kvHeads, headDim, ShapedType::kDynamic}, f32);
    keysT = b.create<memref::AllocOp>(loc, keysTType, ValueRange{padded},
                                      b.getI64IntegerAttr(64));
    Value keysTVisible = b.create<memref::SubViewOp>(
        loc, keysT, ArrayRef<OpFoldResult>{c(0), c(0), c(0)},
        ArrayRef<OpFoldResult>{b.getIndexAttr(kvHeads), b.getIndexAttr(headDim),
                               visible},
        ArrayRef<OpFoldResult>{b.getIndexAttr(1), b.getIndexAttr(1),
                               b.getIndexAttr(1)});
    if (stored == f32) {
      b.create<linalg::TransposeOp>(loc, k, keysTVisible,
                                    ArrayRef<int64_t>{0, 2, 1});
    } else {
      // keysT[kv, d, t] = f32(K[kv, t, d]).
      b.create<linalg::GenericOp>(
          loc, TypeRange{}, ValueRange{k}, ValueRange{keysTVisible},
          ArrayRef<AffineMap>{
              AffineMap::getPermutationMap(ArrayRef<unsigned>{0, 2, 1},
                                           b.getContext()),
              b.getMultiDimIdentityMap(3)},
          SmallVector<utils::IteratorType>(3, utils::IteratorType::parallel),
          [&](OpBuilder &b, Location loc, ValueRange args) {
            b.create<linalg::YieldOp>(
                loc, ValueRange{b.create<arith::ExtFOp>(loc, f32, args[0])});
          });
    }
  }

  Value out = unitInnerStride(op.getInit());

  // One task per (token, KV head), flattened: llm-outline-tasks takes
  // one-dimensional task loops.
  Value taskCount = b.create<arith::MulIOp>(loc, numTokens, c(kvHeads));
  auto forall = b.create<scf::ForallOp>(loc, ArrayRef<OpFoldResult>{taskCount},
                                        ValueRange{}, std::nullopt);
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(forall.getBody());
    Value task = forall.getInductionVar(0);
    Value token = b.create<arith::DivUIOp>(loc, task, c(kvHeads));
    Value head = b.create<arith::RemUIOp>(loc, task, c(kvHeads));
    auto vecType = VectorType::get({lanes}, f32);
    Value zeroVec = b.create<arith::ConstantOp>(
        loc, DenseElementsAttr::get(vecType, b.getFloatAttr(f32, 0.0)));
    Value minusInf = b.create<arith::ConstantOp>(
        loc, b.getFloatAttr(f32, -std::numeric_limits<double>::infinity()));
    Value minusInfVec = b.create<vector::BroadcastOp>(loc, vecType, minusInf);
    Value scaleVec = b.create<vector::BroadcastOp>(
        loc, vecType,
        b.create<arith::ConstantOp>(loc, b.getFloatAttr(f32, scale)));
    Value keyCount = b.create<arith::AddIOp>(
        loc, b.create<arith::AddIOp>(loc, startPos, token), c(1));
    Value fullEnd = b.create<arith::MulIOp>(
        loc, b.create<arith::DivUIOp>(loc, keyCount, c(lanes)), c(lanes));
    SmallVector<Value> queryHeads;
    for (int64_t g = 0; g < group; ++g)
      queryHeads.push_back(b.create<arith::AddIOp>(
          loc, b.create<arith::MulIOp>(loc, head, c(group)), c(g)));

    // Row `row` of KV head `head` of `rows` (keys or values), as `chunks`
    // f32 vectors of `lanes` (widened from the stored type).
    auto storedVecType = VectorType::get({lanes}, stored);
    auto loadRow = [&](OpBuilder &b, Value rows, Value row) {
      SmallVector<Value> chunkVectors;
      for (int64_t j = 0; j < chunks; ++j) {
        Value chunk = b.create<vector::LoadOp>(
            loc, storedVecType, rows, ValueRange{head, row, c(j * lanes)});
        if (stored != f32)
          chunk = b.create<arith::ExtFOp>(loc, vecType, chunk);
        chunkVectors.push_back(chunk);
      }
      return chunkVectors;
    };

    // The queries in registers, for the row-wise scores.
    SmallVector<SmallVector<Value>> queryChunks(group);
    if (!transposeKeys)
      for (int64_t g = 0; g < group; ++g)
        for (int64_t j = 0; j < chunks; ++j)
          queryChunks[g].push_back(b.create<vector::LoadOp>(
              loc, vecType, q, ValueRange{token, queryHeads[g], c(j * lanes)}));

    // State per query head g: max m, sum l, weighted sum acc[chunks].
    const int64_t stateSize = 2 + chunks;
    SmallVector<Value> initial;
    for (int64_t g = 0; g < group; ++g) {
      initial.push_back(minusInf);
      initial.push_back(
          b.create<arith::ConstantOp>(loc, b.getFloatAttr(f32, 0.0)));
      for (int64_t j = 0; j < chunks; ++j)
        initial.push_back(zeroVec);
    }

    // One block of 16 keys at `first`; `valid` keys of it when given (the
    // last, partial block), all 16 otherwise.
    auto block = [&](OpBuilder &b, Value first, Value valid,
                     ValueRange state) -> SmallVector<Value> {
      SmallVector<Value> scores(group, zeroVec);
      if (transposeKeys) {
        for (int64_t d = 0; d < headDim; ++d) {
          Value keyRow = b.create<vector::LoadOp>(
              loc, vecType, keysT, ValueRange{head, c(d), first});
          for (int64_t g = 0; g < group; ++g) {
            Value qd = b.create<memref::LoadOp>(
                loc, q, ValueRange{token, queryHeads[g], c(d)});
            Value splat = b.create<vector::BroadcastOp>(loc, vecType, qd);
            scores[g] = b.create<vector::FMAOp>(loc, splat, keyRow, scores[g]);
          }
        }
      } else {
        // Score i of the block: the dot product of the query with key row
        // first + i, for the valid keys only.
        auto score = [&](OpBuilder &b, Value i, ValueRange current) {
          SmallVector<Value> updated(current.begin(), current.end());
          SmallVector<Value> keyChunks =
              loadRow(b, keyRows, b.create<arith::AddIOp>(loc, first, i));
          for (int64_t g = 0; g < group; ++g) {
            Value products = zeroVec;
            for (int64_t j = 0; j < chunks; ++j)
              products = b.create<vector::FMAOp>(loc, queryChunks[g][j],
                                                 keyChunks[j], products);
            Value dot = b.create<vector::ReductionOp>(
                loc, vector::CombiningKind::ADD, products);
            updated[g] =
                b.create<vector::InsertElementOp>(loc, dot, updated[g], i);
          }
          return updated;
        };
        if (!valid) {
          for (int64_t i = 0; i < lanes; ++i)
            scores = score(b, c(i), scores);
        } else {
          auto loop = b.create<scf::ForOp>(
              loc, c(0), valid, c(1), scores,
              [&](OpBuilder &b, Location, Value i, ValueRange current) {
                b.create<scf::YieldOp>(loc, score(b, i, current));
              });
          scores.assign(loop.getResults().begin(), loop.getResults().end());
        }
      }
      Value mask;
      if (valid)
        mask = b.create<vector::CreateMaskOp>(
            loc, VectorType::get({lanes}, b.getI1Type()), ValueRange{valid});
      SmallVector<Value> next;
      SmallVector<Value> weights(group), rescale(group);
      for (int64_t g = 0; g < group; ++g) {
        ValueRange st = state.slice(g * stateSize, stateSize);
        Value scaled = b.create<arith::MulFOp>(loc, scores[g], scaleVec);
        if (mask)
          scaled = b.create<arith::SelectOp>(loc, mask, scaled, minusInfVec);
        Value blockMax = b.create<vector::ReductionOp>(
            loc, vector::CombiningKind::MAXIMUMF, scaled);
        Value newMax = b.create<arith::MaximumFOp>(loc, st[0], blockMax);
        rescale[g] = b.create<math::ExpOp>(
            loc, b.create<arith::SubFOp>(loc, st[0], newMax));
        weights[g] = b.create<math::ExpOp>(
            loc, b.create<arith::SubFOp>(
                     loc, scaled,
                     b.create<vector::BroadcastOp>(loc, vecType, newMax)));
        Value blockSum = b.create<vector::ReductionOp>(
            loc, vector::CombiningKind::ADD, weights[g]);
        Value newSum = b.create<arith::AddFOp>(
            loc, b.create<arith::MulFOp>(loc, st[1], rescale[g]), blockSum);
        next.push_back(newMax);
        next.push_back(newSum);
        Value rescaleVec =
            b.create<vector::BroadcastOp>(loc, vecType, rescale[g]);
        for (int64_t j = 0; j < chunks; ++j)
          next.push_back(b.create<arith::MulFOp>(loc, st[2 + j], rescaleVec));
      }
      // acc += p[i] * V[first + i] for each valid key i.
      auto accumulate = [&](OpBuilder &b, Value i, ValueRange acc) {
        SmallVector<Value> updated(acc.begin(), acc.end());
        SmallVector<Value> valueChunks =
            loadRow(b, v, b.create<arith::AddIOp>(loc, first, i));
        for (int64_t g = 0; g < group; ++g) {
          Value p = b.create<vector::ExtractElementOp>(loc, weights[g], i);
          Value splat = b.create<vector::BroadcastOp>(loc, vecType, p);
          for (int64_t j = 0; j < chunks; ++j) {
            Value &slot = updated[g * stateSize + 2 + j];
            slot = b.create<vector::FMAOp>(loc, splat, valueChunks[j], slot);
          }
        }
        return updated;
      };
      if (!valid) {
        for (int64_t i = 0; i < lanes; ++i)
          next = accumulate(b, c(i), next);
        return next;
      }
      auto loop = b.create<scf::ForOp>(
          loc, c(0), valid, c(1), next,
          [&](OpBuilder &b, Location, Value i, ValueRange acc) {
            b.create<scf::YieldOp>(loc, accumulate(b, i, acc));
          });
      return SmallVector<Value>(loop.getResults());
    };

    auto full = b.create<scf::ForOp>(
        loc, c(0), fullEnd, c(lanes), initial,
        [&](OpBuilder &b, Location, Value first, ValueRange state) {
          b.create<scf::YieldOp>(loc, block(b, first, Value(), state));
        });
    Value remaining = b.create<arith::SubIOp>(loc, keyCount, fullEnd);
    Value hasTail =
        b.create<arith::CmpIOp>(loc, arith::CmpIPredicate::ne, remaining, c(0));
    auto tail = b.create<scf::IfOp>(
        loc, hasTail,
        [&](OpBuilder &b, Location) {
          b.create<scf::YieldOp>(
              loc, block(b, fullEnd, remaining, full.getResults()));
        },
        [&](OpBuilder &b, Location) {
          b.create<scf::YieldOp>(loc, full.getResults());
        });
    for (int64_t g = 0; g < group; ++g) {
      ValueRange st = tail.getResults().slice(g * stateSize, stateSize);
      Value inverse = b.create<arith::DivFOp>(
          loc, b.create<arith::ConstantOp>(loc, b.getFloatAttr(f32, 1.0)),
          st[1]);
      Value inverseVec = b.create<vector::BroadcastOp>(loc, vecType, inverse);
      for (int64_t j = 0; j < chunks; ++j)
        b.create<vector::StoreOp>(
            loc, b.create<arith::MulFOp>(loc, st[2 + j], inverseVec), out,
            ValueRange{token, queryHeads[g], c(j * lanes)});
    }
  }
  // keysT is freed by the buffer deallocation pipeline.
  op.erase();
}

struct LLMLowerFlashAttentionPass
    : public llamac::impl::LLMLowerFlashAttentionPassBase<
          LLMLowerFlashAttentionPass> {
  void runOnOperation() override {
    SmallVector<llm::FlashAttentionOp> ops;
    WalkResult walk = getOperation().walk([&](llm::FlashAttentionOp op) {
      if (!op.hasPureBufferSemantics()) {
        op.emitOpError("must be bufferized before llm-lower-flash-attention");
        return WalkResult::interrupt();
      }
      ops.push_back(op);
      return WalkResult::advance();
    });
    if (walk.wasInterrupted())
      return signalPassFailure();
    for (llm::FlashAttentionOp op : ops)
      lowerFlashAttention(op);
  }
};

} // namespace
