//===- TileGemv.cpp - vnni_gemv -------------------------------------------===//
//
// Matrix-vector products by bf16 tiles: operands X[m, kb, kr, kp] (f32
// inputs), W[nb, kb, kr, ni, kp] (bf16 weight tiles) and Y[m, nb, ni] (f32).
// One 64-byte load holds 16 outputs x 2 inputs; the even and odd bf16 halves
// are widened exactly by a shift and a mask and accumulated with f32 FMAs.
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

struct VNNIGemv {
  Strided x, w, y;
  Value rows, outTiles;
  int64_t depthTiles;

  /// y[m, nb .. nb+group) += the products of `group` weight tile columns.
  void emitGroup(OpBuilder &b, Location loc, Value row, Value nb,
                 int64_t group) const {
    IndexMath m{b, loc};
    auto accType = VectorType::get({kTile}, b.getF32Type());
    auto pairType = VectorType::get({kDepth}, b.getBF16Type());
    auto wordType = VectorType::get({kTile}, b.getI32Type());
    Value xRow = m.at(x.offset, {{row, x.strides[0]}});
    emitAccumulateRow(b, loc, y, row, nb, group, depthTiles, [&](
        OpBuilder &b, Value kb, SmallVectorImpl<Value> &acc) {
      IndexMath k{b, loc};
      SmallVector<Value> tileStarts;
      for (int64_t g = 0; g < group; ++g)
        tileStarts.push_back(tileOffset(k, w, k.add(nb, k.c(g)), kb));
      Value inputs = vectorView(b, loc, x.base,
                                k.add(xRow, k.mul(kb, x.strides[1])), kDepth);
      Value highMask = b.create<arith::ConstantOp>(
          loc, DenseElementsAttr::get(wordType,
                                      b.getI32IntegerAttr(int32_t(0xFFFF0000))
                                          .getValue()));
      Value sixteen = b.create<arith::ConstantOp>(
          loc, DenseElementsAttr::get(wordType, b.getI32IntegerAttr(16)
                                                    .getValue()));
      for (int64_t kr = 0; kr < kDepth / 2; ++kr) {
        auto [evenSplat, oddSplat] =
            broadcastInputPair(b, loc, inputs, kr, accType);
        for (int64_t g = 0; g < group; ++g) {
          Value view = vectorView(b, loc, w.base,
                                  k.add(tileStarts[g], k.c(kr * kDepth)),
                                  kDepth);
          Value pairs =
              b.create<vector::LoadOp>(loc, pairType, view, ValueRange{k.c(0)});
          Value words = b.create<vector::BitCastOp>(loc, wordType, pairs);
          // bf16 -> f32 is exact: the bf16 bits become the high half.
          Value low = b.create<vector::BitCastOp>(
              loc, accType, b.create<arith::ShLIOp>(loc, words, sixteen));
          Value high = b.create<vector::BitCastOp>(
              loc, accType, b.create<arith::AndIOp>(loc, words, highMask));
          acc[g] = b.create<vector::FMAOp>(loc, low, evenSplat, acc[g]);
          acc[g] = b.create<vector::FMAOp>(loc, high, oddSplat, acc[g]);
        }
      }
    });
  }

  void emit(OpBuilder &b, Location loc) const {
    emitRowsInGroups(b, loc, rows, outTiles,
                     [&](OpBuilder &b, Value row, Value nb, int64_t group) {
                       emitGroup(b, loc, row, nb, group);
                     });
  }
};

} // namespace

LogicalResult llamac::kernels::lowerTileGemv(linalg::GenericOp op,
                                             llm::MicroKernelAttr config) {
  SmallVector<OperandSpec> specs = {
      {artifact::ElementType::F32, {kAnySize, kAnySize, kDepth / 2, 2}, 3},
      {artifact::ElementType::BF16,
       {kAnySize, kStaticSize, kDepth / 2, kTile, 2},
       3},
      {artifact::ElementType::F32, {kAnySize, kAnySize, kTile}, 2}};
  if (failed(matchProductOperands(
          op, config, 6, "inputs and tiled weights", specs,
          "f32 [m, kb, 16, 2] inputs, bf16 [nb, kb, 16, 16, 2] tiles and an "
          "f32 [m, nb, 16] result")))
    return failure();
  OpBuilder b(op);
  ProductOperands operands = bindProductOperands(b, op, specs);
  VNNIGemv kernel;
  kernel.x = operands.strided[0];
  kernel.w = operands.strided[1];
  kernel.y = operands.strided[2];
  kernel.rows = kernel.x.sizes[0];
  kernel.outTiles = kernel.w.sizes[0];
  kernel.depthTiles = operands.types[1].getDimSize(1);
  guard(b, op, operands.contiguous,
        [&](OpBuilder &b, Location loc) { kernel.emit(b, loc); });
  return success();
}
