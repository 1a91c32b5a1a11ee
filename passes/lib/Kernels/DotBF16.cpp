//===- DotBF16.cpp - avx512_bf16, avx512_bf16_q8_0, avx512_bf16_q4_0 ------===//
//
// Products by bf16 tiles on AVX512-BF16, for CPUs without AMX. The operands
// are amx_bf16's: input tiles A[mb, kb, mi, kr, kp], weight tiles
// W[nb, kb, kr, ni, kp] and f32 accumulators C[mb, mi, nb, ni], read as
// vectors instead of tiles. Row kr of a weight tile is one 64-byte vector
// of 16 outputs x the input pair (2kr, 2kr + 1): the operand `vdpbf16ps`
// takes, which multiplies each lane's pair by a pair of inputs and adds
// both products to the lane's f32 accumulator. An input row's pair is 32
// contiguous bits of its tile, broadcast to every lane.
//
// A register block is `rows` input rows x kBlockTiles output tiles, their
// accumulators carried through the reduction: each weight vector is loaded
// once per block and each input pair broadcast once. The reduction runs in
// blocks of `depth` tiles so that a panel of weights stays in cache while
// every row block of a chunk of rows passes over it. avx512_bf16_q8_0 /
// avx512_bf16_q4_0: quantized codes and scales in W's place, multiplied a
// dequantized panel at a time (DequantizedPanels), as amx_q8_0 / amx_q4_0.
//
//===----------------------------------------------------------------------===//
#include "KernelUtils.h"
#include "MicroKernels.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

using namespace mlir;
using namespace llamac;
using namespace llamac::kernels;

namespace {

struct DotBF16Product {
  /// Output tiles per register block: rows x 4 accumulators, 4 weight
  /// vectors and the broadcast pair fit AVX-512's 32 registers for up to 6
  /// rows.
  static constexpr int64_t kBlockTiles = 4;
  /// The inputs of a chunk of rows in one depth block: 512 KiB, in L2.
  static constexpr int64_t kChunkBytes = 512 * 1024;

  Strided a, w, c;
  Value rowTiles, outTiles;
  int64_t depthTiles, blockRows, depthBlock;

  /// `vdpbf16ps`: acc + each lane's two products of `weights` by `inputs`.
  static Value dot(OpBuilder &b, Location loc, Value acc, Value weights,
                   Value inputs) {
    return b
        .create<LLVM::CallIntrinsicOp>(loc, acc.getType(),
                                       "llvm.x86.avx512bf16.dpbf16ps.512",
                                       ValueRange{acc, weights, inputs})
        .getResult(0);
  }

  /// The two bf16 inputs at `offset` of `base`, broadcast as one 32-bit
  /// pair to every lane of a 32 x bf16 vector.
  static Value broadcastPair(OpBuilder &b, Location loc, Value base,
                             Value offset) {
    IndexMath m{b, loc};
    Value pair = b.create<vector::LoadOp>(
        loc, VectorType::get({2}, b.getBF16Type()),
        vectorView(b, loc, base, offset, 2), ValueRange{m.c(0)});
    Value word = b.create<vector::ExtractOp>(
        loc,
        b.create<vector::BitCastOp>(loc, VectorType::get({1}, b.getI32Type()),
                                    pair),
        ArrayRef<int64_t>{0});
    Value words = b.create<vector::SplatOp>(
        loc, VectorType::get({kTile}, b.getI32Type()), word);
    return b.create<vector::BitCastOp>(
        loc, VectorType::get({kDepth}, b.getBF16Type()), words);
  }

  /// Offset of input row `row` (counted over all row tiles) in `s`, a
  /// tiled operand whose tile index is dimension 0 and whose row within
  /// the tile is dimension `rowDim`.
  static Value rowStart(IndexMath &m, const Strided &s, Value row,
                        unsigned rowDim) {
    Value tile = m.b.create<arith::DivUIOp>(m.loc, row, m.c(kTile));
    Value within = m.b.create<arith::RemUIOp>(m.loc, row, m.c(kTile));
    return m.at(s.offset, {{tile, s.strides[0]}, {within, s.strides[rowDim]}});
  }

  /// C[rows row0 .. row0+mr, tiles nb .. nb+nr] += the product over
  /// reduction tiles k0 .. k0+depthBlock.
  void emitBlock(OpBuilder &b, Location loc, Value row0, Value nb, int64_t mr,
                 int64_t nr, Value k0) const {
    IndexMath m{b, loc};
    auto accType = VectorType::get({kTile}, b.getF32Type());
    auto pairsType = VectorType::get({kDepth}, b.getBF16Type());
    SmallVector<Value> inputRows, views, init;
    for (int64_t i = 0; i < mr; ++i) {
      Value row = m.add(row0, m.c(i));
      inputRows.push_back(rowStart(m, a, row, 2));
      Value outputRow = rowStart(m, c, row, 1);
      for (int64_t j = 0; j < nr; ++j) {
        views.push_back(vectorView(
            b, loc, c.base,
            m.add(outputRow, m.mul(m.add(nb, m.c(j)), c.strides[2])), kTile));
        init.push_back(b.create<vector::LoadOp>(loc, accType, views.back(),
                                                ValueRange{m.c(0)}));
      }
    }
    auto loop = b.create<scf::ForOp>(loc, k0, m.add(k0, m.c(depthBlock)),
                                     m.c(1), init);
    {
      OpBuilder::InsertionGuard g(b);
      b.setInsertionPointToStart(loop.getBody());
      IndexMath k{b, loc};
      Value kb = loop.getInductionVar();
      SmallVector<Value> acc(loop.getRegionIterArgs().begin(),
                             loop.getRegionIterArgs().end());
      SmallVector<Value> weightTiles, inputTiles;
      for (int64_t j = 0; j < nr; ++j)
        weightTiles.push_back(tileOffset(k, w, k.add(nb, k.c(j)), kb));
      for (Value inputRow : inputRows)
        inputTiles.push_back(k.add(inputRow, k.mul(kb, a.strides[1])));
      for (int64_t kr = 0; kr < kDepth / 2; ++kr) {
        SmallVector<Value> weights;
        for (Value tile : weightTiles)
          weights.push_back(b.create<vector::LoadOp>(
              loc, pairsType,
              vectorView(b, loc, w.base, k.add(tile, k.c(kr * kDepth)),
                         kDepth),
              ValueRange{k.c(0)}));
        for (int64_t i = 0; i < mr; ++i) {
          Value inputs = broadcastPair(b, loc, a.base,
                                       k.add(inputTiles[i], k.c(2 * kr)));
          for (int64_t j = 0; j < nr; ++j)
            acc[i * nr + j] = dot(b, loc, acc[i * nr + j], weights[j], inputs);
        }
      }
      b.create<scf::YieldOp>(loc, acc);
    }
    for (auto [view, value] : llvm::zip(views, loop.getResults()))
      b.create<vector::StoreOp>(loc, value, view, ValueRange{m.c(0)});
  }

  /// `count - count % step` past `begin`: where the whole steps end.
  static Value wholeStepsEnd(IndexMath &m, Value begin, Value end,
                             int64_t step) {
    Value count = m.b.create<arith::SubIOp>(m.loc, end, begin);
    return m.b.create<arith::SubIOp>(
        m.loc, end, m.b.create<arith::RemUIOp>(m.loc, count, m.c(step)));
  }

  /// Emits `body(size)` for the `end - wholeEnd` (< step) remaining items,
  /// one branch per possible count.
  static void forRemainder(OpBuilder &b, Location loc, Value wholeEnd,
                           Value end, int64_t step,
                           function_ref<void(OpBuilder &, int64_t)> body) {
    IndexMath m{b, loc};
    Value rest = b.create<arith::SubIOp>(loc, end, wholeEnd);
    for (int64_t size = 1; size < step; ++size) {
      auto branch = b.create<scf::IfOp>(loc, m.eq(rest, size),
                                        /*withElse=*/false);
      OpBuilder::InsertionGuard g(b);
      b.setInsertionPointToStart(branch.thenBlock());
      body(b, size);
    }
  }

  /// Rows in chunks whose inputs of one depth block stay in L2; per chunk,
  /// depth blocks, then panels of kBlockTiles output tiles, then the
  /// chunk's row blocks, so a panel's depth block is reused by every row
  /// block of the chunk.
  void emit(OpBuilder &b, Location loc) const {
    IndexMath m{b, loc};
    const int64_t rowBytes = depthBlock * kDepth * 2;
    const int64_t chunkRows = std::max<int64_t>(
        blockRows, kChunkBytes / rowBytes / blockRows * blockRows);
    Value zero = m.c(0);
    Value rows = m.mul(rowTiles, m.c(kTile));
    Value panelsEnd = wholeStepsEnd(m, zero, outTiles, kBlockTiles);
    auto chunks = b.create<scf::ForOp>(loc, zero, rows, m.c(chunkRows));
    OpBuilder::InsertionGuard chunkGuard(b);
    b.setInsertionPointToStart(chunks.getBody());
    Value rowBegin = chunks.getInductionVar();
    Value rowEnd =
        b.create<arith::MinUIOp>(loc, m.add(rowBegin, m.c(chunkRows)), rows);
    Value blocksEnd = wholeStepsEnd(m, rowBegin, rowEnd, blockRows);
    auto depthLoop =
        b.create<scf::ForOp>(loc, zero, m.c(depthTiles), m.c(depthBlock));
    b.setInsertionPointToStart(depthLoop.getBody());
    Value k0 = depthLoop.getInductionVar();
    // The chunk's row blocks, then its remaining rows as one smaller
    // block, against `nr` output tiles from nb.
    auto rowBlocks = [&](OpBuilder &b, Value nb, int64_t nr) {
      auto blocks =
          b.create<scf::ForOp>(loc, rowBegin, blocksEnd, m.c(blockRows));
      {
        OpBuilder::InsertionGuard g(b);
        b.setInsertionPointToStart(blocks.getBody());
        emitBlock(b, loc, blocks.getInductionVar(), nb, blockRows, nr, k0);
      }
      forRemainder(b, loc, blocksEnd, rowEnd, blockRows,
                   [&](OpBuilder &b, int64_t mr) {
                     emitBlock(b, loc, blocksEnd, nb, mr, nr, k0);
                   });
    };
    auto panels = b.create<scf::ForOp>(loc, zero, panelsEnd, m.c(kBlockTiles));
    {
      OpBuilder::InsertionGuard g(b);
      b.setInsertionPointToStart(panels.getBody());
      rowBlocks(b, panels.getInductionVar(), kBlockTiles);
    }
    forRemainder(b, loc, panelsEnd, outTiles, kBlockTiles,
                 [&](OpBuilder &b, int64_t nr) {
                   rowBlocks(b, panelsEnd, nr);
                 });
  }
};

/// The tuning check both kinds share: the kernel runs the reduction in whole
/// depth blocks.
LogicalResult checkDepth(linalg::GenericOp op, llm::MicroKernelAttr config,
                         int64_t depthTiles) {
  if (depthTiles % *config.getDepth() == 0)
    return success();
  return op.emitOpError("micro_kernel ")
         << config << ": depth must divide the product's " << depthTiles
         << " reduction tiles";
}

DotBF16Product makeProduct(const Strided &a, const Strided &w,
                           const Strided &c, Value outTiles,
                           int64_t depthTiles, llm::MicroKernelAttr config) {
  DotBF16Product kernel;
  kernel.a = a;
  kernel.w = w;
  kernel.c = c;
  kernel.rowTiles = a.sizes[0];
  kernel.outTiles = outTiles;
  kernel.depthTiles = depthTiles;
  kernel.blockRows = *config.getRows();
  kernel.depthBlock = *config.getDepth();
  return kernel;
}

LogicalResult lowerBF16(linalg::GenericOp op, llm::MicroKernelAttr config) {
  return lowerBF16TileProduct(
      op, config,
      [&](int64_t depthTiles) { return checkDepth(op, config, depthTiles); },
      [&](OpBuilder &b, Location loc, const ProductOperands &operands,
          int64_t depthTiles) {
        const Strided &w = operands.strided[1];
        makeProduct(operands.strided[0], w, operands.strided[2], w.sizes[0],
                    depthTiles, config)
            .emit(b, loc);
      });
}

/// Quantized tiles: each dequantized panel multiplied as bf16 tiles.
LogicalResult lowerQuant(linalg::GenericOp op, llm::MicroKernelAttr config,
                         bool q4) {
  return DequantizedPanels::lower(
      op, config, q4, DotBF16Product::kBlockTiles,
      [&](int64_t depthTiles) { return checkDepth(op, config, depthTiles); },
      [&](OpBuilder &b, Location loc, const Strided &inputs,
          const Strided &panel, const Strided &outputs, Value count,
          int64_t depthTiles) {
        makeProduct(inputs, panel, outputs, count, depthTiles, config)
            .emit(b, loc);
      });
}

} // namespace

LogicalResult
llamac::kernels::lowerDotBF16Product(linalg::GenericOp op,
                                     llm::MicroKernelAttr config) {
  switch (config.getKind()) {
  case llm::MicroKernelKind::AVX512BF16:
    return lowerBF16(op, config);
  case llm::MicroKernelKind::AVX512BF16Q8_0:
    return lowerQuant(op, config, /*q4=*/false);
  case llm::MicroKernelKind::AVX512BF16Q4_0:
    return lowerQuant(op, config, /*q4=*/true);
  default:
    return op.emitOpError("micro_kernel ")
           << config << " is not an AVX512-BF16 one";
  }
}
