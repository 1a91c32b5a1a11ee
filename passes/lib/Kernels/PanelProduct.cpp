//===- PanelProduct.cpp - f32_panels --------------------------------------===//
//
// Products by f32 panels: X[m, k] (f32 inputs), W[nb, k, 64] (f32 panels of
// 64 outputs, k-major) and Y[m, nb, 64] (f32); a register-blocked
// broadcast-FMA GEMM, or a GEMV streaming four panels for one row.
//
//===----------------------------------------------------------------------===//
#include "KernelUtils.h"
#include "MicroKernels.h"

#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

using namespace mlir;
using namespace llamac;
using namespace llamac::kernels;

namespace {


/// Tag "f32_panels": operands X[m, k] (f32 inputs), W[nb, k, ni] (f32
/// panels of kPanel outputs, k-major) and Y[m, nb, ni] (f32). For each
/// input k a panel holds kPanel contiguous weights, kPanel / kTile vectors:
/// they are loaded once and multiplied by each row's broadcast input into
/// that row's accumulators, which an scf.for carries through the k loop.
struct PanelProduct {
  static constexpr int64_t kPanel = 64;
  static constexpr int64_t kVectors = kPanel / kTile;
  /// Inputs (f32) of a chunk of rows in one depth block: 1 MiB, in L2.
  static constexpr int64_t kChunkInputs = 1 << 18;
  Strided x, w, y;
  Value rows, panels;
  int64_t depth, blockRows, depthBlock, prefetch;

  /// The f32 at `offset` of `base`, broadcast to a vector.
  Value broadcast(OpBuilder &b, Location loc, Value base, Value offset) const {
    IndexMath m{b, loc};
    Value view = vectorView(b, loc, base, offset, 1);
    Value scalar = b.create<memref::LoadOp>(loc, view, ValueRange{m.c(0)});
    return b.create<vector::SplatOp>(
        loc, VectorType::get({kTile}, b.getF32Type()), scalar);
  }

  /// Appends the view of Y[row, panel, :] to `views` and its kVectors
  /// vectors, loaded, to `acc`: a register block's accumulators.
  void loadOutputPanel(OpBuilder &b, Location loc, Value row, Value panel,
                       SmallVectorImpl<Value> &views,
                       SmallVectorImpl<Value> &acc) const {
    IndexMath m{b, loc};
    auto vecType = VectorType::get({kTile}, b.getF32Type());
    views.push_back(vectorView(
        b, loc, y.base,
        m.at(y.offset, {{row, y.strides[0]}, {panel, y.strides[1]}}), kPanel));
    for (int64_t j = 0; j < kVectors; ++j)
      acc.push_back(b.create<vector::LoadOp>(loc, vecType, views.back(),
                                             ValueRange{m.c(j * kTile)}));
  }

  /// Stores the accumulators `acc` (kVectors per view) back to `views`.
  void storeOutputPanels(OpBuilder &b, Location loc, ValueRange acc,
                         ArrayRef<Value> views) const {
    IndexMath m{b, loc};
    for (auto [i, view] : llvm::enumerate(views))
      for (int64_t j = 0; j < kVectors; ++j)
        b.create<vector::StoreOp>(loc, acc[i * kVectors + j], view,
                                  ValueRange{m.c(j * kTile)});
  }

  /// Y[m0 .. m0+mr, nb, :] += X[m0 .. m0+mr, k0 .. k1] * W[nb, k0 .. k1, :]
  /// with mr x kVectors accumulators in registers.
  void emitBlock(OpBuilder &b, Location loc, Value m0, Value nb, int64_t mr,
                 Value k0, Value k1) const {
    IndexMath m{b, loc};
    auto vecType = VectorType::get({kTile}, b.getF32Type());
    SmallVector<Value> outViews, init, xRows;
    for (int64_t i = 0; i < mr; ++i) {
      Value row = m.add(m0, m.c(i));
      loadOutputPanel(b, loc, row, nb, outViews, init);
      xRows.push_back(m.at(x.offset, {{row, x.strides[0]}}));
    }
    Value panel = m.at(w.offset, {{nb, w.strides[0]}});
    auto loop = b.create<scf::ForOp>(loc, k0, k1, m.c(1), init);
    {
      OpBuilder::InsertionGuard g(b);
      b.setInsertionPointToStart(loop.getBody());
      IndexMath k{b, loc};
      Value kv = loop.getInductionVar();
      SmallVector<Value> acc(loop.getRegionIterArgs().begin(),
                             loop.getRegionIterArgs().end());
      Value weightsView = vectorView(b, loc, w.base,
                                     k.add(panel, k.mul(kv, k.c(kPanel))),
                                     kPanel);
      SmallVector<Value> weights;
      for (int64_t j = 0; j < kVectors; ++j)
        weights.push_back(b.create<vector::LoadOp>(
            loc, vecType, weightsView, ValueRange{k.c(j * kTile)}));
      // The panel is streamed from L2 once per row block: fetch the
      // weights of input k + prefetch into L1 ahead of their FMAs.
      if (prefetch > 0) {
        Value aheadView = vectorView(
            b, loc, w.base,
            k.add(panel, k.mul(k.add(kv, k.c(prefetch)), k.c(kPanel))),
            kPanel);
        for (int64_t j = 0; j < kVectors; ++j)
          b.create<memref::PrefetchOp>(loc, aheadView,
                                       ValueRange{k.c(j * kTile)},
                                       /*isWrite=*/false, /*locality=*/3,
                                       /*isDataCache=*/true);
      }
      for (int64_t i = 0; i < mr; ++i) {
        Value input = broadcast(b, loc, x.base, k.add(xRows[i], kv));
        for (int64_t j = 0; j < kVectors; ++j)
          acc[i * kVectors + j] = b.create<vector::FMAOp>(
              loc, weights[j], input, acc[i * kVectors + j]);
      }
      b.create<scf::YieldOp>(loc, acc);
    }
    storeOutputPanels(b, loc, loop.getResults(), outViews);
  }

  /// One row times `group` panels from nb, streamed together over all k
  /// (the GEMV of decode).
  void emitGemvGroup(OpBuilder &b, Location loc, Value row, Value nb,
                     int64_t group) const {
    IndexMath m{b, loc};
    auto vecType = VectorType::get({kTile}, b.getF32Type());
    SmallVector<Value> outViews, init, panelStarts;
    for (int64_t g = 0; g < group; ++g) {
      Value panel = m.add(nb, m.c(g));
      loadOutputPanel(b, loc, row, panel, outViews, init);
      panelStarts.push_back(m.at(w.offset, {{panel, w.strides[0]}}));
    }
    Value xRow = m.at(x.offset, {{row, x.strides[0]}});
    auto loop = b.create<scf::ForOp>(loc, m.c(0), m.c(depth), m.c(1), init);
    {
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(loop.getBody());
      IndexMath k{b, loc};
      Value kv = loop.getInductionVar();
      SmallVector<Value> acc(loop.getRegionIterArgs().begin(),
                             loop.getRegionIterArgs().end());
      Value input = broadcast(b, loc, x.base, k.add(xRow, kv));
      for (int64_t g = 0; g < group; ++g) {
        Value view = vectorView(
            b, loc, w.base, k.add(panelStarts[g], k.mul(kv, k.c(kPanel))),
            kPanel);
        for (int64_t j = 0; j < kVectors; ++j) {
          Value weights = b.create<vector::LoadOp>(
              loc, vecType, view, ValueRange{k.c(j * kTile)});
          acc[g * kVectors + j] = b.create<vector::FMAOp>(
              loc, weights, input, acc[g * kVectors + j]);
        }
      }
      b.create<scf::YieldOp>(loc, acc);
    }
    storeOutputPanels(b, loc, loop.getResults(), outViews);
  }

  void emitGemv(OpBuilder &b, Location loc) const {
    emitRowsInGroups(b, loc, rows, panels,
                     [&](OpBuilder &b, Value row, Value nb, int64_t group) {
                       emitGemvGroup(b, loc, row, nb, group);
                     });
  }

  /// Rows in chunks whose inputs of one depth block stay in L2 (1 MiB);
  /// per chunk, depth blocks, then panels (a panel's depth block, 256 KiB
  /// at 1024 inputs, stays in L2 and is streamed into L1 with prefetches),
  /// then row blocks of `blockRows` rows and one block of the remaining
  /// rows. (Depth blocks small enough for L1 measured slower: each block
  /// reloads and stores the accumulators.)
  void emitGemm(OpBuilder &b, Location loc) const {
    IndexMath m{b, loc};
    const int64_t chunkRows = std::max<int64_t>(
        blockRows, (kChunkInputs / depthBlock) / blockRows * blockRows);
    Value zero = m.c(0), one = m.c(1);
    auto chunks = b.create<scf::ForOp>(loc, zero, rows, m.c(chunkRows));
    OpBuilder::InsertionGuard chunkGuard(b);
    b.setInsertionPointToStart(chunks.getBody());
    Value rowBegin = chunks.getInductionVar();
    Value rowEnd = b.create<arith::MinUIOp>(
        loc, m.add(rowBegin, m.c(chunkRows)), rows);
    Value blocksEnd = b.create<arith::SubIOp>(
        loc, rowEnd,
        b.create<arith::RemUIOp>(
            loc, b.create<arith::SubIOp>(loc, rowEnd, rowBegin),
            m.c(blockRows)));
    auto depthLoop = b.create<scf::ForOp>(loc, zero, m.c(depth),
                                          m.c(depthBlock));
    b.setInsertionPointToStart(depthLoop.getBody());
    Value k0 = depthLoop.getInductionVar();
    Value k1 = b.create<arith::MinUIOp>(loc, m.add(k0, m.c(depthBlock)),
                                        m.c(depth));
    auto panelLoop = b.create<scf::ForOp>(loc, zero, panels, one);
    b.setInsertionPointToStart(panelLoop.getBody());
    Value nb = panelLoop.getInductionVar();
    auto blocks = b.create<scf::ForOp>(loc, rowBegin, blocksEnd,
                                       m.c(blockRows));
    {
      OpBuilder::InsertionGuard g(b);
      b.setInsertionPointToStart(blocks.getBody());
      emitBlock(b, loc, blocks.getInductionVar(), nb, blockRows, k0, k1);
    }
    // The remaining rows (fewer than a block) as one smaller block.
    Value rest = b.create<arith::SubIOp>(loc, rowEnd, blocksEnd);
    for (int64_t mr = 1; mr < blockRows; ++mr) {
      auto branch = b.create<scf::IfOp>(loc, m.eq(rest, mr),
                                        /*withElse=*/false);
      OpBuilder::InsertionGuard g(b);
      b.setInsertionPointToStart(branch.thenBlock());
      emitBlock(b, loc, blocksEnd, nb, mr, k0, k1);
    }
  }
};

} // namespace

LogicalResult llamac::kernels::lowerPanelProduct(linalg::GenericOp op,
                                                 llm::MicroKernelAttr config) {
  constexpr int64_t kPanel = PanelProduct::kPanel;
  SmallVector<OperandSpec> specs = {
      {artifact::ElementType::F32, {kAnySize, kAnySize}, 1},
      {artifact::ElementType::F32, {kAnySize, kStaticSize, kPanel}, 2},
      {artifact::ElementType::F32, {kAnySize, kAnySize, kPanel}, 1}};
  if (failed(matchProductOperands(
          op, config, 4, "inputs and weight panels", specs,
          "f32 [m, k] inputs, f32 [nb, k, 64] panels and an f32 [m, nb, 64] "
          "result")))
    return failure();
  OpBuilder b(op);
  ProductOperands operands = bindProductOperands(b, op, specs);
  PanelProduct kernel;
  kernel.x = operands.strided[0];
  kernel.w = operands.strided[1];
  kernel.y = operands.strided[2];
  kernel.rows = kernel.x.sizes[0];
  kernel.panels = kernel.w.sizes[0];
  kernel.depth = operands.types[1].getDimSize(1);
  kernel.blockRows = *config.getRows();
  kernel.depthBlock = *config.getDepth();
  kernel.prefetch = *config.getPrefetch();
  bool oneRow = operands.types[0].getDimSize(0) == 1;
  guard(b, op, operands.contiguous, [&](OpBuilder &b, Location loc) {
    if (oneRow)
      return kernel.emitGemv(b, loc);
    // Fewer rows than a register block: streaming the panels is better.
    IndexMath m{b, loc};
    Value few = b.create<arith::CmpIOp>(loc, arith::CmpIPredicate::ult,
                                        kernel.rows, m.c(kernel.blockRows));
    auto branch = b.create<scf::IfOp>(loc, few, /*withElse=*/true);
    OpBuilder::InsertionGuard g(b);
    b.setInsertionPointToStart(branch.thenBlock());
    kernel.emitGemv(b, loc);
    b.setInsertionPointToStart(branch.elseBlock());
    kernel.emitGemm(b, loc);
  });
  return success();
}
