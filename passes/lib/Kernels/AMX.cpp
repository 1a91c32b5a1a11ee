//===- AMX.cpp - amx_bf16, amx_q8_0, amx_q4_0 -----------------------------===//
//
// Products on AMX tiles. amx_bf16: operands A[mb, kb, mi, kr, kp] (bf16 input
// tiles), W[nb, kb, kr, ni, kp] (weight tiles) and C[mb, mi, nb, ni] (f32).
// Each 16 x 32 tile of A or W is 1 KiB contiguous; a C tile is 16 rows of 16
// floats, `row stride` apart. MLIR 19's AMX lowering computes a tile's row
// stride from the innermost *size* of the memref it loads from, so every tile
// is addressed through a memref.reinterpret_cast whose innermost size is that
// stride. amx_q8_0 / amx_q4_0: operands as for amx_bf16 with codes and scales
// in place of W; panels of weight tiles are dequantized and rounded to bf16
// into a buffer (DequantizedPanels), then multiplied the same way.
//
//===----------------------------------------------------------------------===//
#include "KernelUtils.h"
#include "MicroKernels.h"

#include "mlir/Dialect/AMX/AMXDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

using namespace mlir;
using namespace llamac;
using namespace llamac::kernels;

namespace {

/// The unroll must divide the reduction tiles: the kernel runs them in
/// steps of `unroll` with no remainder loop.
LogicalResult checkUnroll(linalg::GenericOp op, llm::MicroKernelAttr config,
                          int64_t depthTiles) {
  if (depthTiles % *config.getUnroll() == 0)
    return success();
  return op.emitOpError("micro_kernel ")
         << config << ": unroll must divide the product's " << depthTiles
         << " reduction tiles";
}

struct AMXMatmul {
  Strided a, w, c;
  Value rowTiles, outTiles;
  int64_t depthTiles, unroll;
  VectorType inputTile, accTile;

  /// The product of `rowTiles` x `depthTiles` input tiles at `a` by
  /// `outTiles` x `depthTiles` weight tiles at `w` into accumulators `c`.
  static AMXMatmul make(OpBuilder &b, const Strided &a, const Strided &w,
                        const Strided &c, Value rowTiles, Value outTiles,
                        int64_t depthTiles, int64_t unroll) {
    return {a,
            w,
            c,
            rowTiles,
            outTiles,
            depthTiles,
            unroll,
            VectorType::get({kTile, kDepth}, b.getBF16Type()),
            VectorType::get({kTile, kTile}, b.getF32Type())};
  }

  /// One block of `tm` x `tn` accumulator tiles at (mb, nb).
  void emitBlock(OpBuilder &b, Location loc, Value mb, Value nb, int64_t tm,
                 int64_t tn) const {
    IndexMath m{b, loc};
    SmallVector<Value> mbs, nbs;
    for (int64_t i = 0; i < tm; ++i)
      mbs.push_back(m.add(mb, m.c(i)));
    for (int64_t j = 0; j < tn; ++j)
      nbs.push_back(m.add(nb, m.c(j)));
    OpFoldResult cRowStride = c.strides[1];
    auto cTile = [&](OpBuilder &b, int64_t i, int64_t j) {
      Value offset = m.at(c.offset, {{mbs[i], c.strides[0]},
                                     {nbs[j], c.strides[2]}});
      return tileView(b, loc, c.base, offset, kTile, cRowStride);
    };
    Value zero = m.c(0);
    auto kLoop = b.create<scf::ForOp>(loc, zero, m.c(depthTiles),
                                      m.c(unroll));
    OpBuilder::InsertionGuard g(b);
    b.setInsertionPointToStart(kLoop.getBody());
    IndexMath k{b, loc};
    Value kb0 = kLoop.getInductionVar();
    // The accumulators live in C between unrolled steps (MLIR 19 cannot
    // carry AMX tiles through scf.for), each loaded and stored once per
    // `unroll` reduction tiles.
    SmallVector<SmallVector<Value>> views(tm), acc(tm);
    for (int64_t i = 0; i < tm; ++i)
      for (int64_t j = 0; j < tn; ++j) {
        views[i].push_back(cTile(b, i, j));
        acc[i].push_back(b.create<amx::TileLoadOp>(
            loc, accTile, views[i][j], ValueRange{zero, zero}));
      }
    for (int64_t u = 0; u < unroll; ++u) {
      Value kb = k.add(kb0, k.c(u));
      // Tile [block, kb] of `s` (input or weight tiles) for each block.
      auto loadTiles = [&](const Strided &s, ArrayRef<Value> blocks) {
        SmallVector<Value> tiles;
        for (Value block : blocks) {
          Value offset = tileOffset(k, s, block, kb);
          Value view = tileView(b, loc, s.base, offset, kTile,
                                b.getIndexAttr(kDepth));
          tiles.push_back(b.create<amx::TileLoadOp>(loc, inputTile, view,
                                                    ValueRange{zero, zero}));
        }
        return tiles;
      };
      SmallVector<Value> lhs = loadTiles(a, mbs), rhs = loadTiles(w, nbs);
      for (int64_t i = 0; i < tm; ++i)
        for (int64_t j = 0; j < tn; ++j)
          acc[i][j] = b.create<amx::TileMulFOp>(loc, accTile, lhs[i], rhs[j],
                                                acc[i][j]);
    }
    for (int64_t i = 0; i < tm; ++i)
      for (int64_t j = 0; j < tn; ++j)
        b.create<amx::TileStoreOp>(loc, views[i][j], ValueRange{zero, zero},
                                   acc[i][j]);
  }

  /// Loops over 2 x 2 blocks with 1-wide remainders: row tiles in chunks
  /// whose input tiles fit in L2 (about 512 KiB), then output tiles, then
  /// the rows of the chunk, so a strip of weight tiles stays in L1/L2 while
  /// the chunk's input tiles are reused from L2 for every strip.
  void emit(OpBuilder &b, Location loc) const {
    IndexMath m{b, loc};
    Value zero = m.c(0), one = m.c(1), two = m.c(2);
    const int64_t chunkTiles =
        std::max<int64_t>(2, (512 / std::max<int64_t>(depthTiles, 1)) & ~1);
    auto pairsEnd = [&](OpBuilder &b, Value begin, Value end) {
      // end - (end - begin) % 2
      Value count = b.create<arith::SubIOp>(loc, end, begin);
      return b.create<arith::SubIOp>(
          loc, end, b.create<arith::RemUIOp>(loc, count, two));
    };
    Value outPairs = pairsEnd(b, zero, outTiles);
    auto chunks = b.create<scf::ForOp>(loc, zero, rowTiles, m.c(chunkTiles));
    OpBuilder::InsertionGuard chunkGuard(b);
    b.setInsertionPointToStart(chunks.getBody());
    Value rowBegin = chunks.getInductionVar();
    Value rowEnd = b.create<arith::MinUIOp>(
        loc, b.create<arith::AddIOp>(loc, rowBegin, m.c(chunkTiles)),
        rowTiles);
    Value rowPairs = pairsEnd(b, rowBegin, rowEnd);
    auto rowLoops = [&](OpBuilder &b, Value nb, int64_t tn) {
      auto pairs = b.create<scf::ForOp>(loc, rowBegin, rowPairs, two);
      {
        OpBuilder::InsertionGuard g(b);
        b.setInsertionPointToStart(pairs.getBody());
        emitBlock(b, loc, pairs.getInductionVar(), nb, 2, tn);
      }
      auto rest = b.create<scf::ForOp>(loc, rowPairs, rowEnd, one);
      OpBuilder::InsertionGuard g(b);
      b.setInsertionPointToStart(rest.getBody());
      emitBlock(b, loc, rest.getInductionVar(), nb, 1, tn);
    };
    auto outLoop = b.create<scf::ForOp>(loc, zero, outPairs, two);
    {
      OpBuilder::InsertionGuard g(b);
      b.setInsertionPointToStart(outLoop.getBody());
      rowLoops(b, outLoop.getInductionVar(), 2);
    }
    auto outRest = b.create<scf::ForOp>(loc, outPairs, outTiles, one);
    OpBuilder::InsertionGuard g(b);
    b.setInsertionPointToStart(outRest.getBody());
    rowLoops(b, outRest.getInductionVar(), 1);
  }
};


LogicalResult lowerAMXBF16(linalg::GenericOp op, llm::MicroKernelAttr config) {
  return lowerBF16TileProduct(
      op, config,
      [&](int64_t depthTiles) { return checkUnroll(op, config, depthTiles); },
      [&](OpBuilder &b, Location loc, const ProductOperands &operands,
          int64_t depthTiles) {
        const Strided &a = operands.strided[0], &w = operands.strided[1];
        AMXMatmul::make(b, a, w, operands.strided[2], a.sizes[0], w.sizes[0],
                        depthTiles, *config.getUnroll())
            .emit(b, loc);
      });
}

/// Quantized weights: the AMX kernel above on each dequantized panel (even
/// panels, which its 2 x 2 blocks cover).
LogicalResult lowerAMXQuant(linalg::GenericOp op, llm::MicroKernelAttr config,
                            bool q4) {
  return DequantizedPanels::lower(
      op, config, q4, /*tileMultiple=*/2,
      [&](int64_t depthTiles) { return checkUnroll(op, config, depthTiles); },
      [&](OpBuilder &b, Location loc, const Strided &inputs,
          const Strided &panel, const Strided &outputs, Value count,
          int64_t depthTiles) {
        AMXMatmul::make(b, inputs, panel, outputs, inputs.sizes[0], count,
                        depthTiles, *config.getUnroll())
            .emit(b, loc);
      });
}

} // namespace

LogicalResult llamac::kernels::lowerAMXProduct(linalg::GenericOp op,
                                               llm::MicroKernelAttr config) {
  switch (config.getKind()) {
  case llm::MicroKernelKind::AMXBF16:
    return lowerAMXBF16(op, config);
  case llm::MicroKernelKind::AMXQ8_0:
    return lowerAMXQuant(op, config, /*q4=*/false);
  case llm::MicroKernelKind::AMXQ4_0:
    return lowerAMXQuant(op, config, /*q4=*/true);
  default:
    return op.emitOpError("micro_kernel ") << config << " is not an AMX one";
  }
}
