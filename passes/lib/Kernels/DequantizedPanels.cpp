//===- DequantizedPanels.cpp - Quantized tiles as bf16 panels -------------===//
//
// What the bf16 tile products (amx_q8_0 / amx_q4_0, avx512_bf16_q8_0 /
// avx512_bf16_q4_0) share for quantized weights: their lowering, and panels
// of output tiles dequantized and rounded to bf16 into a scratch buffer
// that the bf16 kernel then multiplies for every input row.
//
//===----------------------------------------------------------------------===//
#include "KernelUtils.h"

#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

using namespace mlir;

namespace llamac::kernels {

LogicalResult DequantizedPanels::lower(linalg::GenericOp op,
                                       llm::MicroKernelAttr config, bool q4,
                                       int64_t tileMultiple,
                                       TuningCheck checkTuning,
                                       Multiply multiply) {
  SmallVector<OperandSpec> specs = {inputTilesSpec(), quantCodesSpec(q4),
                                    quantScalesSpec(), accumulatorTilesSpec()};
  if (failed(matchProductOperands(
          op, config, 7, "input tiles, quantized codes and scales", specs,
          "bf16 [mb, kb, 16, 16, 2] tiles, " + quantCodesShape(q4) +
              " codes, f16 [nb, kb, 16] scales and an f32 [mb, 16, nb, 16] "
              "result")))
    return failure();
  auto codesType = cast<MemRefType>(op.getDpsInputs()[1].getType());
  int64_t depthTiles =
      cast<MemRefType>(op.getDpsInputs()[0].getType()).getDimSize(1);
  if (codesType.getDimSize(1) != depthTiles)
    return op.emitOpError("tagged ")
           << llm::stringifyMicroKernelKind(config.getKind())
           << " but its codes have " << codesType.getDimSize(1)
           << " reduction tiles and its inputs " << depthTiles;
  if (failed(checkTuning(depthTiles)))
    return failure();
  OpBuilder b(op);
  ProductOperands operands = bindProductOperands(b, op, specs);
  DequantizedPanels panels;
  panels.q4 = q4;
  panels.inputs = operands.strided[0];
  panels.codes = operands.strided[1];
  panels.scales = operands.strided[2];
  panels.outputs = operands.strided[3];
  panels.outTiles = panels.codes.sizes[0];
  panels.depthTiles = depthTiles;
  // About 512 KiB of bf16 tiles per panel (a tile is 1 KiB), a multiple of
  // the kernel's output tiles per block, no larger than the weight.
  panels.panelTiles = std::max<int64_t>(
      tileMultiple, 512 / std::max<int64_t>(depthTiles, 1) / tileMultiple *
                        tileMultiple);
  if (!codesType.isDynamicDim(0))
    panels.panelTiles = std::min(panels.panelTiles, codesType.getDimSize(0));
  guard(b, op, operands.contiguous, [&](OpBuilder &b, Location loc) {
    panels.emit(b, loc, multiply);
  });
  return success();
}

void DequantizedPanels::emitDequantize(OpBuilder &b, Location loc, Value nb,
                                     Value scratch, Value t) const {
  IndexMath m{b, loc};
  auto f32x16 = VectorType::get({kTile}, b.getF32Type());
  auto f32x32 = VectorType::get({2 * kTile}, b.getF32Type());
  auto bf16x32 = VectorType::get({2 * kTile}, b.getBF16Type());
  auto splat = [&](VectorType type, int64_t value) -> Value {
    return b.create<arith::ConstantOp>(
        loc, DenseElementsAttr::get(
                 type, IntegerAttr::get(type.getElementType(), value)));
  };
  auto loop = b.create<scf::ForOp>(loc, m.c(0), m.c(depthTiles), m.c(1));
  OpBuilder::InsertionGuard g(b);
  b.setInsertionPointToStart(loop.getBody());
  IndexMath k{b, loc};
  Value kb = loop.getInductionVar();
  Value tileStart = tileOffset(k, codes, nb, kb);
  Value blockScales = loadBlockScales(b, loc, scales, nb, kb);
  // Lane 2*ni + kp of a pair row belongs to output ni.
  SmallVector<int64_t> duplicate, interleave;
  for (int64_t ni = 0; ni < kTile; ++ni) {
    duplicate.append({ni, ni});
    interleave.append({ni, kTile + ni});
  }
  Value pairScales =
      b.create<vector::ShuffleOp>(loc, blockScales, blockScales, duplicate);
  Value outStart = k.mul(k.add(k.mul(t, k.c(depthTiles)), kb),
                         k.c(kTile * kDepth));
  for (int64_t kr = 0; kr < kDepth / 2; ++kr) {
    Value weights;
    if (!q4) {
      Value view = vectorView(b, loc, codes.base,
                              k.add(tileStart, k.c(kr * 2 * kTile)),
                              2 * kTile);
      Value bytes = b.create<vector::LoadOp>(
          loc, VectorType::get({2 * kTile}, b.getI8Type()), view,
          ValueRange{k.c(0)});
      weights = b.create<arith::MulFOp>(
          loc, b.create<arith::SIToFPOp>(loc, f32x32, bytes), pairScales);
    } else {
      auto words = VectorType::get({kTile}, b.getI32Type());
      Value view = vectorView(b, loc, codes.base,
                              k.add(tileStart, k.c(kr * kTile)), kTile);
      Value packed = b.create<arith::ExtUIOp>(
          loc, words,
          b.create<vector::LoadOp>(loc,
                                   VectorType::get({kTile}, b.getI8Type()),
                                   view, ValueRange{k.c(0)}));
      Value eight = splat(words, 8);
      Value low = b.create<arith::SubIOp>(
          loc, b.create<arith::AndIOp>(loc, packed, splat(words, 15)), eight);
      Value high = b.create<arith::SubIOp>(
          loc, b.create<arith::ShRUIOp>(loc, packed, splat(words, 4)), eight);
      Value lowWeights = b.create<arith::MulFOp>(
          loc, b.create<arith::SIToFPOp>(loc, f32x16, low), blockScales);
      Value highWeights = b.create<arith::MulFOp>(
          loc, b.create<arith::SIToFPOp>(loc, f32x16, high), blockScales);
      weights = b.create<vector::ShuffleOp>(loc, lowWeights, highWeights,
                                            interleave);
    }
    Value rounded = b.create<arith::TruncFOp>(loc, bf16x32, weights);
    Value out = vectorView(b, loc, scratch,
                           k.add(outStart, k.c(kr * 2 * kTile)), 2 * kTile);
    b.create<vector::StoreOp>(loc, rounded, out, ValueRange{k.c(0)});
  }
}


void DequantizedPanels::emit(OpBuilder &b, Location loc,
                             Multiply multiply) const {
  IndexMath m{b, loc};
  auto scratchType = MemRefType::get(
      {panelTiles * depthTiles * kTile * kDepth}, b.getBF16Type());
  Value scratch =
      b.create<memref::AllocOp>(loc, scratchType, b.getI64IntegerAttr(64));
  auto panelLoop = b.create<scf::ForOp>(loc, m.c(0), outTiles, m.c(panelTiles));
  {
    OpBuilder::InsertionGuard g(b);
    b.setInsertionPointToStart(panelLoop.getBody());
    IndexMath p{b, loc};
    Value nb0 = panelLoop.getInductionVar();
    Value count = b.create<arith::MinUIOp>(
        loc, p.c(panelTiles), b.create<arith::SubIOp>(loc, outTiles, nb0));
    auto tiles = b.create<scf::ForOp>(loc, p.c(0), count, p.c(1));
    {
      OpBuilder::InsertionGuard g(b);
      b.setInsertionPointToStart(tiles.getBody());
      Value t = tiles.getInductionVar();
      emitDequantize(b, loc, b.create<arith::AddIOp>(loc, nb0, t), scratch, t);
    }
    Strided panel = Strided::of(b, loc, scratch);
    panel.strides = {p.c(depthTiles * kTile * kDepth), p.c(kTile * kDepth)};
    Strided panelOutputs = outputs;
    panelOutputs.offset = p.at(outputs.offset, {{nb0, outputs.strides[2]}});
    multiply(b, loc, inputs, panel, panelOutputs, count, depthTiles);
  }
  b.create<memref::DeallocOp>(loc, scratch);
}

} // namespace llamac::kernels
