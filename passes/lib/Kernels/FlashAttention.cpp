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
#include "llamac/IR/KVCache.h"
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
#include "llvm/Support/MathExtras.h"

#include <limits>

namespace llamac {
#define GEN_PASS_DEF_LLMLOWERFLASHATTENTIONPASS
#include "llamac/Passes/Passes.h.inc"
} // namespace llamac

using namespace mlir;
using namespace llamac;

namespace {

/// What both attention kernels share: the operands as vector loads need
/// them, their shapes, and the online-softmax step.
///
/// `keys` and `values` are the visible history [kv, visible, row] (the new
/// rows already appended) as the cache stores it (f32, bf16 or f16 values,
/// or q8_0 blocks as bytes: every row is widened to f32 as it is loaded). Query head h of token t (absolute
/// position start_pos + t) attends to keys [0, start_pos + t]; the query
/// heads of a KV head's group are processed together, since they share
/// every key and value load.
struct AttentionKernel {
  AttentionKernel(llm::FlashAttentionOp op)
      : op(op), b(op), loc(op.getLoc()), config(op.getMicroKernel()) {
    auto queryType = cast<MemRefType>(op.getQuery().getType());
    auto keysType = cast<MemRefType>(op.getKeys().getType());
    kvHeads = keysType.getDimSize(0);
    headDim = queryType.getDimSize(2);
    group = queryType.getDimSize(1) / kvHeads;
    scale = op.getScale().convertToDouble();
    f32 = queryType.getElementType();
    stored = keysType.getElementType();
    q8Blocks = llm::cacheElementOf(stored) == artifact::CacheElement::Q8_0;
    lanes = *config.getLanes();
    chunks = headDim / lanes;
    vecType = VectorType::get({lanes}, f32);
    startPos = op.getStartPos();
    numTokens = b.create<memref::DimOp>(loc, op.getQuery(), 0);
    visible = b.create<memref::DimOp>(loc, op.getKeys(), 1);
    q = unitInnerStride(op.getQuery());
    v = unitInnerStride(op.getValues());
    out = unitInnerStride(op.getInit());
  }

  Value c(int64_t value) {
    return b.create<arith::ConstantIndexOp>(loc, value).getResult();
  }
  Value f32Constant(OpBuilder &b, double value) {
    return b.create<arith::ConstantOp>(loc, b.getFloatAttr(f32, value));
  }
  Value splat(OpBuilder &b, Value scalar) {
    return b.create<vector::BroadcastOp>(loc, vecType, scalar);
  }

  /// A view of `memref` with a static unit innermost stride, which vector
  /// loads need. Kernel arguments carry dynamic strides; the rows of q, of
  /// the caches and of our own buffers are contiguous by construction, and
  /// an assertion says so at run time.
  Value unitInnerStride(Value memref) {
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
  }

  /// Values `[offset, offset + lanes)` of row `row` of KV head `head` of
  /// `rows` (keys or values), widened to f32. In a q8_0 row they are codes
  /// of one block (the verifier saw to it that lanes divide a block) times
  /// its f16 scale, whose two bytes open the block.
  Value loadChunk(OpBuilder &b, Value rows, Value head, Value row,
                  int64_t offset) {
    if (q8Blocks) {
      const int64_t block = offset / artifact::kQ8CacheBlockValues;
      const int64_t blockStart = block * artifact::kQ8CacheBlockBytes;
      const int64_t codesStart = blockStart + artifact::kQ8CacheScaleBytes +
                                 offset % artifact::kQ8CacheBlockValues;
      Value codes = b.create<vector::LoadOp>(
          loc, VectorType::get({lanes}, stored), rows,
          ValueRange{head, row, c(codesStart)});
      Value scaleBytes = b.create<vector::LoadOp>(
          loc, VectorType::get({artifact::kQ8CacheScaleBytes}, stored), rows,
          ValueRange{head, row, c(blockStart)});
      Value scale = b.create<vector::ExtractOp>(
          loc,
          b.create<vector::BitCastOp>(
              loc, VectorType::get({1}, b.getF16Type()), scaleBytes),
          ArrayRef<int64_t>{0});
      return b.create<arith::MulFOp>(
          loc, b.create<arith::SIToFPOp>(loc, vecType, codes),
          splat(b, b.create<arith::ExtFOp>(loc, f32, scale)));
    }
    Value chunk = b.create<vector::LoadOp>(
        loc, VectorType::get({lanes}, stored), rows,
        ValueRange{head, row, c(offset)});
    return stored == f32 ? chunk
                         : b.create<arith::ExtFOp>(loc, vecType, chunk);
  }

  /// One online-softmax step for one query row: `scores` are the block's
  /// scaled scores (lanes past the causal limit already -inf), `max` and
  /// `sum` the row's running maximum and sum so far.
  struct SoftmaxStep {
    Value max, sum;  // the new running maximum and sum
    Value rescale;   // exp(old max - new max): what the old sums are worth
    Value weights;   // exp(scores - new max), one per key of the block
  };
  SoftmaxStep softmaxStep(OpBuilder &b, Value scores, Value max, Value sum) {
    SoftmaxStep step;
    Value blockMax = b.create<vector::ReductionOp>(
        loc, vector::CombiningKind::MAXNUMF, scores);
    step.max = b.create<arith::MaxNumFOp>(loc, max, blockMax);
    step.rescale = b.create<math::ExpOp>(
        loc, b.create<arith::SubFOp>(loc, max, step.max));
    step.weights = b.create<math::ExpOp>(
        loc, b.create<arith::SubFOp>(loc, scores, splat(b, step.max)));
    Value blockSum = b.create<vector::ReductionOp>(
        loc, vector::CombiningKind::ADD, step.weights);
    step.sum = b.create<arith::AddFOp>(
        loc, b.create<arith::MulFOp>(loc, sum, step.rescale), blockSum);
    return step;
  }

  /// `lanes` scores past the first `valid` set to -inf.
  Value maskScores(OpBuilder &b, Value scores, Value valid) {
    Value mask = b.create<vector::CreateMaskOp>(
        loc, VectorType::get({lanes}, b.getI1Type()), ValueRange{valid});
    return b.create<arith::SelectOp>(
        loc, mask, scores,
        splat(b, f32Constant(
                     b, -std::numeric_limits<double>::infinity())));
  }

  /// How the lanes of a vector combine into one value: their sum or their
  /// maximum. The maximum is maxnumf: scores of finite inputs are finite
  /// or -inf (masked), where it agrees with maximumf, and it needs none of
  /// maximumf's NaN and signed-zero fix-ups, which x86 has no instruction
  /// for (they made each row's block maximum a scalar sequence).
  enum class Combine { Sum, Max };
  Value combine(OpBuilder &b, Combine kind, Value x, Value y) {
    if (kind == Combine::Sum)
      return b.create<arith::AddFOp>(loc, x, y);
    return b.create<arith::MaxNumFOp>(loc, x, y);
  }

  /// One vector whose lane i combines the lanes of `vectors[i]` (`lanes`
  /// of them). For a power of two, a tree of shuffles that halves the
  /// vectors at each level, pairing neighbours, so each level's operation
  /// serves both (lanes - 1 operations for the lot, where reducing each
  /// vector alone costs log2(lanes) shuffles and operations apiece);
  /// otherwise each vector reduced alone.
  Value combineEach(OpBuilder &b, Combine kind, SmallVector<Value> vectors) {
    assert(int64_t(vectors.size()) == lanes && "one vector per lane");
    if (!llvm::isPowerOf2_64(uint64_t(lanes))) {
      Value result = vectors.front();
      for (int64_t i = 0; i < lanes; ++i)
        result = b.create<vector::InsertElementOp>(
            loc,
            b.create<vector::ReductionOp>(loc,
                                          kind == Combine::Sum
                                              ? vector::CombiningKind::ADD
                                              : vector::CombiningKind::MAXNUMF,
                                          vectors[i]),
            result, c(i));
      return result;
    }
    for (int64_t segment = lanes; segment > 1; segment /= 2) {
      // Each input holds lanes / segment partial results of `segment`
      // lanes; the output holds twice as many, of half the length: the
      // first half of each segment in `low`, the second in `high`, those of
      // the first input first.
      const int64_t segments = lanes / segment, half = segment / 2;
      SmallVector<int64_t> low, high;
      for (int64_t t = 0; t < 2 * segments; ++t) {
        int64_t base = (t < segments ? 0 : lanes) + (t % segments) * segment;
        for (int64_t e = 0; e < half; ++e) {
          low.push_back(base + e);
          high.push_back(base + half + e);
        }
      }
      SmallVector<Value> next;
      for (size_t k = 0; k + 1 < vectors.size(); k += 2)
        next.push_back(combine(
            b, kind,
            b.create<vector::ShuffleOp>(loc, vectors[k], vectors[k + 1], low),
            b.create<vector::ShuffleOp>(loc, vectors[k], vectors[k + 1],
                                        high)));
      vectors = std::move(next);
    }
    return vectors.front();
  }

  /// A vector of `lanes` copies of lane `lane` of `vector`.
  Value broadcastLane(OpBuilder &b, Value vector, int64_t lane) {
    return b.create<vector::ShuffleOp>(loc, vector, vector,
                                       SmallVector<int64_t>(lanes, lane));
  }

  void emitKeyRowTasks();
  void emitQueryBlockTasks();
  void transposeQ8Keys(Value keysTVisible);

  llm::FlashAttentionOp op;
  OpBuilder b;
  Location loc;
  llm::MicroKernelAttr config;
  int64_t kvHeads, headDim, group, lanes, chunks;
  double scale;
  Type f32, stored;
  bool q8Blocks; // stored is i8: rows of q8_0 blocks
  VectorType vecType;
  Value startPos, numTokens, visible, q, v, out;
};

/// flash_key_rows: one query (decode). One task per (token, KV head): the
/// key rows are read as they are, which costs less than transposing the
/// whole history on every step; `lanes` keys at a time with a running
/// maximum, sum and weighted sum (the online softmax of flash attention),
/// the last partial block masked, value rows past the causal limit never
/// read. In a full block the keys are widened once into the task's stack
/// frame, where every query head of the group reads them, and the block's
/// dot products of a head are reduced together (combineEach); the weights go
/// through the stack frame too, so each is broadcast by its load. The
/// partial block reduces each dot product alone.
void AttentionKernel::emitKeyRowTasks() {
  Value keyRows = unitInnerStride(op.getKeys());
  // One task per (token, KV head), flattened: llm-outline-tasks takes
  // one-dimensional task loops.
  Value taskCount = b.create<arith::MulIOp>(loc, numTokens, c(kvHeads));
  auto forall = b.create<scf::ForallOp>(loc, ArrayRef<OpFoldResult>{taskCount},
                                        ValueRange{}, std::nullopt);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(forall.getBody());
  // The task's stack buffers are released when it ends (the forall body
  // may run as a loop when it is not outlined).
  auto scope = b.create<memref::AllocaScopeOp>(loc, TypeRange{});
  b.createBlock(&scope.getBodyRegion());
  b.create<memref::AllocaScopeReturnOp>(loc);
  b.setInsertionPointToStart(&scope.getBodyRegion().front());
  Value task = forall.getInductionVar(0);
  Value token = b.create<arith::DivUIOp>(loc, task, c(kvHeads));
  // A full block's keys widened to f32 (a cache of f32 is read in place),
  // and the weights of each query head's block.
  const bool treeSums = llvm::isPowerOf2_64(uint64_t(lanes));
  Value keyBlock =
      stored == f32 || !treeSums
          ? Value()
          : b.create<memref::AllocaOp>(
                loc, MemRefType::get({lanes, headDim}, f32),
                b.getI64IntegerAttr(64));
  Value weightsBuffer = b.create<memref::AllocaOp>(
      loc, MemRefType::get({group, lanes}, f32), b.getI64IntegerAttr(64));
  Value head = b.create<arith::RemUIOp>(loc, task, c(kvHeads));
  Value zeroVec = b.create<arith::ConstantOp>(
      loc, DenseElementsAttr::get(vecType, b.getFloatAttr(f32, 0.0)));
  Value scaleVec = splat(b, f32Constant(b, scale));
  Value keyCount = b.create<arith::AddIOp>(
      loc, b.create<arith::AddIOp>(loc, startPos, token), c(1));
  Value fullEnd = b.create<arith::MulIOp>(
      loc, b.create<arith::DivUIOp>(loc, keyCount, c(lanes)), c(lanes));
  SmallVector<Value> queryHeads;
  for (int64_t g = 0; g < group; ++g)
    queryHeads.push_back(b.create<arith::AddIOp>(
        loc, b.create<arith::MulIOp>(loc, head, c(group)), c(g)));
  auto loadRow = [&](OpBuilder &b, Value rows, Value row) {
    SmallVector<Value> chunkVectors;
    for (int64_t j = 0; j < chunks; ++j)
      chunkVectors.push_back(loadChunk(b, rows, head, row, j * lanes));
    return chunkVectors;
  };

  // The queries in registers, for the row-wise scores.
  SmallVector<SmallVector<Value>> queryChunks(group);
  for (int64_t g = 0; g < group; ++g)
    for (int64_t j = 0; j < chunks; ++j)
      queryChunks[g].push_back(b.create<vector::LoadOp>(
          loc, vecType, q, ValueRange{token, queryHeads[g], c(j * lanes)}));

  // State per query head g: max m, sum l, weighted sum acc[chunks].
  const int64_t stateSize = 2 + chunks;
  SmallVector<Value> initial;
  for (int64_t g = 0; g < group; ++g) {
    initial.push_back(
        f32Constant(b, -std::numeric_limits<double>::infinity()));
    initial.push_back(f32Constant(b, 0.0));
    for (int64_t j = 0; j < chunks; ++j)
      initial.push_back(zeroVec);
  }

  // One block of 16 keys at `first`; `valid` keys of it when given (the
  // last, partial block), all 16 otherwise.
  auto block = [&](OpBuilder &b, Value first, Value valid,
                   ValueRange state) -> SmallVector<Value> {
    SmallVector<Value> scores(group, zeroVec);
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
        updated[g] = b.create<vector::InsertElementOp>(loc, dot, updated[g], i);
      }
      return updated;
    };
    if (!valid && treeSums) {
      if (keyBlock)
        for (int64_t i = 0; i < lanes; ++i)
          for (int64_t j = 0; j < chunks; ++j)
            b.create<vector::StoreOp>(
                loc,
                loadChunk(b, keyRows, head,
                          b.create<arith::AddIOp>(loc, first, c(i)),
                          j * lanes),
                keyBlock, ValueRange{c(i), c(j * lanes)});
      auto keyChunk = [&](int64_t i, int64_t j) -> Value {
        if (keyBlock)
          return b.create<vector::LoadOp>(loc, vecType, keyBlock,
                                          ValueRange{c(i), c(j * lanes)});
        return loadChunk(b, keyRows, head,
                         b.create<arith::AddIOp>(loc, first, c(i)),
                         j * lanes);
      };
      for (int64_t g = 0; g < group; ++g) {
        SmallVector<Value> products;
        for (int64_t i = 0; i < lanes; ++i) {
          Value sum = zeroVec;
          for (int64_t j = 0; j < chunks; ++j)
            sum = b.create<vector::FMAOp>(loc, queryChunks[g][j],
                                          keyChunk(i, j), sum);
          products.push_back(sum);
        }
        scores[g] = combineEach(b, Combine::Sum, products);
      }
    } else if (!valid) {
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
    SmallVector<Value> next;
    for (int64_t g = 0; g < group; ++g) {
      ValueRange st = state.slice(g * stateSize, stateSize);
      Value scaled = b.create<arith::MulFOp>(loc, scores[g], scaleVec);
      if (valid)
        scaled = maskScores(b, scaled, valid);
      SoftmaxStep step = softmaxStep(b, scaled, st[0], st[1]);
      b.create<vector::StoreOp>(loc, step.weights, weightsBuffer,
                                ValueRange{c(g), c(0)});
      next.push_back(step.max);
      next.push_back(step.sum);
      Value rescaleVec = splat(b, step.rescale);
      for (int64_t j = 0; j < chunks; ++j)
        next.push_back(b.create<arith::MulFOp>(loc, st[2 + j], rescaleVec));
    }
    // acc += p[i] * V[first + i] for each valid key i.
    auto accumulate = [&](OpBuilder &b, Value i, ValueRange acc) {
      SmallVector<Value> updated(acc.begin(), acc.end());
      SmallVector<Value> valueChunks =
          loadRow(b, v, b.create<arith::AddIOp>(loc, first, i));
      for (int64_t g = 0; g < group; ++g) {
        Value p = splat(
            b, b.create<memref::LoadOp>(loc, weightsBuffer, ValueRange{c(g), i}));
        for (int64_t j = 0; j < chunks; ++j) {
          Value &slot = updated[g * stateSize + 2 + j];
          slot = b.create<vector::FMAOp>(loc, p, valueChunks[j], slot);
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
        b.create<scf::YieldOp>(loc,
                               block(b, fullEnd, remaining, full.getResults()));
      },
      [&](OpBuilder &b, Location) {
        b.create<scf::YieldOp>(loc, full.getResults());
      });
  for (int64_t g = 0; g < group; ++g) {
    ValueRange st = tail.getResults().slice(g * stateSize, stateSize);
    Value inverse =
        b.create<arith::DivFOp>(loc, f32Constant(b, 1.0), st[1]);
    Value inverseVec = splat(b, inverse);
    for (int64_t j = 0; j < chunks; ++j)
      b.create<vector::StoreOp>(
          loc, b.create<arith::MulFOp>(loc, st[2 + j], inverseVec), out,
          ValueRange{token, queryHeads[g], c(j * lanes)});
  }
}

/// flash_transposed_keys: many queries (prefill). The keys are first
/// transposed (and widened) into an f32 [kv, d, visible rounded up to
/// `lanes`] buffer, so that `lanes` scores of a query row are one vector of
/// FMAs. One task per (KV head, block of `rows` consecutive tokens), head
/// by head so that neighbouring tasks share the head's keys in cache: its
/// R = rows x group query rows (token-major) take each block of `lanes`
/// keys as two small matrix products held in registers,
///
///   S[R, lanes] = Q[R, d] . Kt[d, lanes]   (a key vector per d, R FMAs
///                                           with broadcast query values)
///   A[R, d]    += P[R, lanes] . V[lanes, d] (a value vector per key and
///                                           chunk, R FMAs with broadcast
///                                           weights)
///
/// with the online softmax between them, vectorised across rows: the R
/// score vectors reduce together to one vector of maxima (and the weights
/// to one of sums) per `lanes` rows, and the running maxima and sums are
/// carried in such vectors. R vectors of scores stay in registers, the
/// accumulators A and the weights P live in the task's stack frame (A a
/// tile of rows at a time in registers, as many vectors as the scores), so
/// every key loaded serves R rows and every value a tile's rows, instead
/// of the group's. Blocks below the first row's causal limit run unmasked;
/// the rest, up to the last row's limit, mask each row at its own limit
/// and read no value row past the last one. Each row's numbers depend on
/// that row alone. A last partial block of tokens repeats its last token
/// in the missing rows and stores only the real ones.
void AttentionKernel::emitQueryBlockTasks() {
  const int64_t rows = *config.getRows(), queryRows = rows * group;
  Value padded = b.create<arith::MulIOp>(
      loc,
      b.create<arith::DivUIOp>(
          loc, b.create<arith::AddIOp>(loc, visible, c(lanes - 1)), c(lanes)),
      c(lanes));
  auto keysTType =
      MemRefType::get({kvHeads, headDim, ShapedType::kDynamic}, f32);
  Value keysT = b.create<memref::AllocOp>(loc, keysTType, ValueRange{padded},
                                          b.getI64IntegerAttr(64));
  Value keysTVisible = b.create<memref::SubViewOp>(
      loc, keysT, ArrayRef<OpFoldResult>{c(0), c(0), c(0)},
      ArrayRef<OpFoldResult>{b.getIndexAttr(kvHeads), b.getIndexAttr(headDim),
                             visible},
      ArrayRef<OpFoldResult>{b.getIndexAttr(1), b.getIndexAttr(1),
                             b.getIndexAttr(1)});
  if (stored == f32) {
    b.create<linalg::TransposeOp>(loc, op.getKeys(), keysTVisible,
                                  ArrayRef<int64_t>{0, 2, 1});
  } else if (q8Blocks) {
    transposeQ8Keys(keysTVisible);
  } else {
    // keysT[kv, d, t] = f32(K[kv, t, d]).
    b.create<linalg::GenericOp>(
        loc, TypeRange{}, ValueRange{op.getKeys()}, ValueRange{keysTVisible},
        ArrayRef<AffineMap>{AffineMap::getPermutationMap(
                                ArrayRef<unsigned>{0, 2, 1}, b.getContext()),
                            b.getMultiDimIdentityMap(3)},
        SmallVector<utils::IteratorType>(3, utils::IteratorType::parallel),
        [&](OpBuilder &b, Location loc, ValueRange args) {
          b.create<linalg::YieldOp>(
              loc, ValueRange{b.create<arith::ExtFOp>(loc, f32, args[0])});
        });
  }

  // One task per (KV head, token block), flattened head-major:
  // llm-outline-tasks takes one-dimensional task loops.
  Value tokenBlocks = b.create<arith::DivUIOp>(
      loc, b.create<arith::AddIOp>(loc, numTokens, c(rows - 1)), c(rows));
  Value taskCount = b.create<arith::MulIOp>(loc, tokenBlocks, c(kvHeads));
  auto forall = b.create<scf::ForallOp>(loc, ArrayRef<OpFoldResult>{taskCount},
                                        ValueRange{}, std::nullopt);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(forall.getBody());
  // The task's stack buffers are released when it ends (the forall body
  // may run as a loop when it is not outlined).
  auto scope = b.create<memref::AllocaScopeOp>(loc, TypeRange{});
  b.createBlock(&scope.getBodyRegion());
  b.create<memref::AllocaScopeReturnOp>(loc);
  b.setInsertionPointToStart(&scope.getBodyRegion().front());

  Value task = forall.getInductionVar(0);
  Value head = b.create<arith::DivUIOp>(loc, task, tokenBlocks);
  Value firstToken = b.create<arith::MulIOp>(
      loc, b.create<arith::RemUIOp>(loc, task, tokenBlocks), c(rows));
  Value lastToken = b.create<arith::SubIOp>(loc, numTokens, c(1));
  // Row r is query head (head * group + r % group) of token
  // min(firstToken + r / group, last token), which attends to `keyCounts[r]`
  // keys.
  SmallVector<Value> tokens, tokenIsReal, queryHeads, keyCounts;
  for (int64_t t = 0; t < rows; ++t) {
    Value token = b.create<arith::AddIOp>(loc, firstToken, c(t));
    tokenIsReal.push_back(b.create<arith::CmpIOp>(
        loc, arith::CmpIPredicate::ult, token, numTokens));
    tokens.push_back(b.create<arith::MinUIOp>(loc, token, lastToken));
    keyCounts.push_back(b.create<arith::AddIOp>(
        loc, b.create<arith::AddIOp>(loc, startPos, tokens.back()), c(1)));
  }
  auto tokenOf = [&](int64_t r) { return tokens[r / group]; };
  for (int64_t g = 0; g < group; ++g)
    queryHeads.push_back(b.create<arith::AddIOp>(
        loc, b.create<arith::MulIOp>(loc, head, c(group)), c(g)));
  auto queryHeadOf = [&](int64_t r) { return queryHeads[r % group]; };
  Value firstKeyCount = keyCounts.front(), lastKeyCount = keyCounts.back();
  Value fullEnd = b.create<arith::MulIOp>(
      loc, b.create<arith::DivUIOp>(loc, firstKeyCount, c(lanes)), c(lanes));

  auto accType = MemRefType::get({queryRows, headDim}, f32);
  auto weightsType = MemRefType::get({queryRows, lanes}, f32);
  Value acc = b.create<memref::AllocaOp>(loc, accType, b.getI64IntegerAttr(64));
  Value weightsBuffer =
      b.create<memref::AllocaOp>(loc, weightsType, b.getI64IntegerAttr(64));
  Value zeroVec = b.create<arith::ConstantOp>(
      loc, DenseElementsAttr::get(vecType, b.getFloatAttr(f32, 0.0)));
  for (int64_t r = 0; r < queryRows; ++r)
    for (int64_t j = 0; j < chunks; ++j)
      b.create<vector::StoreOp>(loc, zeroVec, acc,
                                ValueRange{c(r), c(j * lanes)});
  Value scaleVec = splat(b, f32Constant(b, scale));

  // The running maxima and sums of the rows, `lanes` rows to a vector
  // (row r in lane r % lanes of vector r / lanes): the softmax of a block
  // combines the rows' score vectors into one vector of maxima and one of
  // sums (combineEach), and the rescaling exps of all its rows are one
  // vector exp. A last partial set repeats its last row in the missing
  // lanes, so that they hold finite numbers too.
  const int64_t rowSets = llvm::divideCeil(queryRows, lanes);
  auto rowOf = [&](int64_t set, int64_t lane) {
    return std::min(set * lanes + lane, queryRows - 1);
  };
  SmallVector<Value> initial;
  for (int64_t set = 0; set < rowSets; ++set) {
    initial.push_back(splat(
        b, f32Constant(b, -std::numeric_limits<double>::infinity())));
    initial.push_back(zeroVec);
  }

  // The block of `lanes` keys at `first`, masked per row when `masked`.
  auto block = [&](OpBuilder &b, Value first, bool masked,
                   ValueRange state) -> SmallVector<Value> {
    // S = Q . Kt: one key vector per d serves every row.
    SmallVector<Value> scores(queryRows, zeroVec);
    for (int64_t d = 0; d < headDim; ++d) {
      Value keyVector = b.create<vector::LoadOp>(
          loc, vecType, keysT, ValueRange{head, c(d), first});
      for (int64_t r = 0; r < queryRows; ++r) {
        Value qd = b.create<memref::LoadOp>(
            loc, q, ValueRange{tokenOf(r), queryHeadOf(r), c(d)});
        scores[r] = b.create<vector::FMAOp>(loc, splat(b, qd), keyVector,
                                            scores[r]);
      }
    }
    for (int64_t r = 0; r < queryRows; ++r) {
      scores[r] = b.create<arith::MulFOp>(loc, scores[r], scaleVec);
      if (masked)
        scores[r] = maskScores(
            b, scores[r],
            b.create<arith::SubIOp>(loc, keyCounts[r / group], first));
    }
    // The online softmax, a set of rows at a time: new maxima, what the
    // old sums are worth, the block's weights (into the stack frame, where
    // P . V broadcasts them) and the new sums.
    SmallVector<Value> next, worths;
    for (int64_t set = 0; set < rowSets; ++set) {
      Value max = state[2 * set], sum = state[2 * set + 1];
      SmallVector<Value> setScores;
      for (int64_t lane = 0; lane < lanes; ++lane)
        setScores.push_back(scores[rowOf(set, lane)]);
      Value newMax = b.create<arith::MaxNumFOp>(
          loc, max, combineEach(b, Combine::Max, setScores));
      Value worth = b.create<math::ExpOp>(
          loc, b.create<arith::SubFOp>(loc, max, newMax));
      SmallVector<Value> weights;
      for (int64_t lane = 0; lane < lanes; ++lane) {
        int64_t r = set * lanes + lane;
        if (r >= queryRows) {
          weights.push_back(weights.back());
          continue;
        }
        weights.push_back(b.create<math::ExpOp>(
            loc, b.create<arith::SubFOp>(loc, scores[r],
                                         broadcastLane(b, newMax, lane))));
        b.create<vector::StoreOp>(loc, weights.back(), weightsBuffer,
                                  ValueRange{c(r), c(0)});
      }
      worths.push_back(worth);
      next.push_back(newMax);
      next.push_back(b.create<vector::FMAOp>(
          loc, sum, worth, combineEach(b, Combine::Sum, weights)));
    }
    // A = A * rescale + P . V, a tile of rows at a time with all their
    // columns: each key's value vectors serve the tile's rows, and each
    // row's weight (broadcast once) its chunks. A tile holds as many
    // accumulators as S holds scores, the budget the strategy sized `rows`
    // by. The keys are a loop, not unrolled here, even in a full block:
    // unrolled, every tile loads the same value vectors and the same
    // weights, which LLVM merges across tiles and then spills. A masked
    // block reads the value rows up to the last row's limit only.
    Value keys = masked ? b.create<arith::MinUIOp>(
                              loc, b.create<arith::SubIOp>(loc, lastKeyCount,
                                                           first),
                              c(lanes))
                        : c(lanes);
    const int64_t tileRows = std::max<int64_t>(1, queryRows / chunks);
    for (int64_t tileStart = 0; tileStart < queryRows; tileStart += tileRows) {
      const int64_t tileEnd = std::min(tileStart + tileRows, queryRows);
      SmallVector<Value> tile;
      for (int64_t r = tileStart; r < tileEnd; ++r) {
        Value rescale = broadcastLane(b, worths[r / lanes], r % lanes);
        for (int64_t j = 0; j < chunks; ++j)
          tile.push_back(b.create<arith::MulFOp>(
              loc,
              b.create<vector::LoadOp>(loc, vecType, acc,
                                       ValueRange{c(r), c(j * lanes)}),
              rescale));
      }
      auto accumulate = [&](OpBuilder &b, Value i, ValueRange current) {
        SmallVector<Value> updated(current.begin(), current.end());
        Value row = b.create<arith::AddIOp>(loc, first, i);
        SmallVector<Value> valueVectors;
        for (int64_t j = 0; j < chunks; ++j)
          valueVectors.push_back(loadChunk(b, v, head, row, j * lanes));
        for (int64_t r = tileStart; r < tileEnd; ++r) {
          Value p = splat(b, b.create<memref::LoadOp>(loc, weightsBuffer,
                                                      ValueRange{c(r), i}));
          for (int64_t j = 0; j < chunks; ++j) {
            Value &slot = updated[(r - tileStart) * chunks + j];
            slot = b.create<vector::FMAOp>(loc, p, valueVectors[j], slot);
          }
        }
        return updated;
      };
      auto loop = b.create<scf::ForOp>(
          loc, c(0), keys, c(1), tile,
          [&](OpBuilder &b, Location, Value i, ValueRange current) {
            b.create<scf::YieldOp>(loc, accumulate(b, i, current));
          });
      for (int64_t r = tileStart; r < tileEnd; ++r)
        for (int64_t j = 0; j < chunks; ++j)
          b.create<vector::StoreOp>(
              loc, loop.getResult((r - tileStart) * chunks + j), acc,
              ValueRange{c(r), c(j * lanes)});
    }
    return next;
  };

  auto full = b.create<scf::ForOp>(
      loc, c(0), fullEnd, c(lanes), initial,
      [&](OpBuilder &b, Location, Value first, ValueRange state) {
        b.create<scf::YieldOp>(loc, block(b, first, false, state));
      });
  auto partial = b.create<scf::ForOp>(
      loc, fullEnd, lastKeyCount, c(lanes), full.getResults(),
      [&](OpBuilder &b, Location, Value first, ValueRange state) {
        b.create<scf::YieldOp>(loc, block(b, first, true, state));
      });
  SmallVector<Value> inverses;
  for (int64_t set = 0; set < rowSets; ++set)
    inverses.push_back(b.create<arith::DivFOp>(
        loc, splat(b, f32Constant(b, 1.0)), partial.getResult(2 * set + 1)));
  for (int64_t r = 0; r < queryRows; ++r) {
    Value inverse = broadcastLane(b, inverses[r / lanes], r % lanes);
    SmallVector<Value> columnOffsets;
    for (int64_t j = 0; j < chunks; ++j)
      columnOffsets.push_back(c(j * lanes));
    Value row = c(r);
    auto store = b.create<scf::IfOp>(loc, tokenIsReal[r / group],
                                     /*withElseRegion=*/false);
    OpBuilder then = store.getThenBodyBuilder();
    for (Value column : columnOffsets)
      then.create<vector::StoreOp>(
          loc,
          then.create<arith::MulFOp>(
              loc,
              then.create<vector::LoadOp>(loc, vecType, acc,
                                          ValueRange{row, column}),
              inverse),
          out, ValueRange{tokenOf(r), queryHeadOf(r), column});
  }
  // keysT is freed by the buffer deallocation pipeline.
}

/// keysT[kv, d, t] = the value of K[kv, t, d] for q8_0 rows: a generic over
/// (kv, t, block, i) that reads the block's code i and its scale bytes (a
/// view of the rows as [kv, t, blocks, 34]) and writes keysT viewed as
/// [kv, blocks, 32, t].
void AttentionKernel::transposeQ8Keys(Value keysTVisible) {
  MLIRContext *context = b.getContext();
  const int64_t blocks = headDim / artifact::kQ8CacheBlockValues;
  Value keyRows = unitInnerStride(op.getKeys());
  Value keyBlocks = b.create<memref::ExpandShapeOp>(
      loc,
      ArrayRef<int64_t>{kvHeads, ShapedType::kDynamic, blocks,
                        artifact::kQ8CacheBlockBytes},
      keyRows, ArrayRef<ReassociationIndices>{{0}, {1}, {2, 3}});
  Value keysTBlocks = b.create<memref::ExpandShapeOp>(
      loc,
      ArrayRef<int64_t>{kvHeads, blocks, artifact::kQ8CacheBlockValues,
                        ShapedType::kDynamic},
      keysTVisible, ArrayRef<ReassociationIndices>{{0}, {1, 2}, {3}});
  AffineExpr kv = getAffineDimExpr(0, context), t = getAffineDimExpr(1, context),
             block = getAffineDimExpr(2, context),
             i = getAffineDimExpr(3, context);
  auto map = [&](ArrayRef<AffineExpr> results) {
    return AffineMap::get(4, 0, results, context);
  };
  AffineExpr scaleByte0 = getAffineConstantExpr(0, context),
             scaleByte1 = getAffineConstantExpr(1, context);
  b.create<linalg::GenericOp>(
      loc, TypeRange{}, ValueRange{keyBlocks, keyBlocks, keyBlocks},
      ValueRange{keysTBlocks},
      ArrayRef<AffineMap>{
          map({kv, t, block, i + artifact::kQ8CacheScaleBytes}),
          map({kv, t, block, scaleByte0}), map({kv, t, block, scaleByte1}),
          map({kv, block, i, t})},
      SmallVector<utils::IteratorType>(4, utils::IteratorType::parallel),
      [&](OpBuilder &b, Location loc, ValueRange args) {
        Value scale = b.create<arith::ExtFOp>(
            loc, f32, llm::buildQ8BlockScale(b, loc, args[1], args[2]));
        Value value = b.create<arith::MulFOp>(
            loc, b.create<arith::SIToFPOp>(loc, f32, args[0]), scale);
        b.create<linalg::YieldOp>(loc, ValueRange{value});
      });
}

void lowerFlashAttention(llm::FlashAttentionOp op) {
  AttentionKernel kernel(op);
  if (op.getMicroKernel().getKind() ==
      llm::MicroKernelKind::FlashTransposedKeys)
    kernel.emitQueryBlockTasks();
  else
    kernel.emitKeyRowTasks();
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
