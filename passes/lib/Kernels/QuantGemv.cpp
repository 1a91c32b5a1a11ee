//===- QuantGemv.cpp - q8_0_gemv, q4_0_gemv -------------------------------===//
//
// Matrix-vector products by quantized tiles with f32 inputs, dequantized in
// registers (exact).
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

/// Tags "q8_0_gemv" / "q4_0_gemv": operands X[m, kb, kr, kp] (f32), codes
/// Q[nb, kb, kr, ni, kp] (i8, Q8_0) or Q[nb, kb, kr, ni] (two 4-bit codes a
/// byte, Q4_0), scales S[nb, kb, ni] (f16) and Y[m, nb, ni] (f32). Per
/// 32-input block, the codes are widened in registers (Q8_0: see
/// emitGroupQ8Pairs; Q4_0: one 16-byte load, split by nibble masks, the
/// offset of 8 subtracted once per block through the inputs' sum),
/// multiplied by the inputs into a block sum, and the block sum is scaled
/// by the 16 scales of the block: y += d * sum_k x_k * q_k.
struct QuantGemv : QuantGemvOperands {

  /// The Q4_0 codes (0..15, as f32; the offset of 8 is applied per block)
  /// of pair row `kr` of tile `tileStart`: low nibbles (even inputs) and
  /// high nibbles (odd inputs).
  std::pair<Value, Value> loadNibbles(OpBuilder &b, Location loc,
                                      Value tileStart, int64_t kr) const {
    IndexMath k{b, loc};
    auto f32s = VectorType::get({kTile}, b.getF32Type());
    auto words = VectorType::get({kTile}, b.getI32Type());
    auto splat = [&](int64_t value) -> Value {
      return b.create<arith::ConstantOp>(
          loc, DenseElementsAttr::get(words, b.getI32IntegerAttr(value)));
    };
    Value view = vectorView(b, loc, w.base, k.add(tileStart, k.c(kr * kTile)),
                            kTile);
    Value codes = b.create<arith::ExtUIOp>(
        loc, words,
        b.create<vector::LoadOp>(loc, VectorType::get({kTile}, b.getI8Type()),
                                 view, ValueRange{k.c(0)}));
    Value low = b.create<arith::AndIOp>(loc, codes, splat(15));
    Value high = b.create<arith::ShRUIOp>(loc, codes, splat(4));
    return {b.create<arith::SIToFPOp>(loc, f32s, low),
            b.create<arith::SIToFPOp>(loc, f32s, high)};
  }

  /// y[m, nb .. nb+group) += the products of `group` weight tile columns.
  void emitGroup(OpBuilder &b, Location loc, Value row, Value nb,
                 int64_t group) const {
    IndexMath m{b, loc};
    auto accType = VectorType::get({kTile}, b.getF32Type());
    Value xRow = m.at(x.offset, {{row, x.strides[0]}});
    emitAccumulateRow(b, loc, y, row, nb, group, depthTiles, [&](
        OpBuilder &b, Value kb, SmallVectorImpl<Value> &acc) {
      IndexMath k{b, loc};
      SmallVector<Value> tileStarts, sums;
      Value zeros = b.create<arith::ConstantOp>(
          loc, DenseElementsAttr::get(accType, b.getF32FloatAttr(0.0f)));
      for (int64_t g = 0; g < group; ++g) {
        tileStarts.push_back(tileOffset(k, w, k.add(nb, k.c(g)), kb));
        sums.push_back(zeros);
      }
      Value inputs = vectorView(b, loc, x.base,
                                k.add(xRow, k.mul(kb, x.strides[1])), kDepth);
      Value blockInputs = b.create<vector::LoadOp>(
          loc, VectorType::get({kDepth}, b.getF32Type()), inputs,
          ValueRange{k.c(0)});
      Value blockSum = b.create<vector::ReductionOp>(
          loc, vector::CombiningKind::ADD, blockInputs);
      Value offsetSum = b.create<vector::SplatOp>(
          loc, accType,
          b.create<arith::MulFOp>(
              loc, blockSum,
              b.create<arith::ConstantOp>(loc, b.getF32FloatAttr(8.0f))));
      for (int64_t kr = 0; kr < kDepth / 2; ++kr) {
        auto [evenSplat, oddSplat] =
            broadcastInputPair(b, loc, inputs, kr, accType);
        for (int64_t g = 0; g < group; ++g) {
          auto [evenCodes, oddCodes] = loadNibbles(b, loc, tileStarts[g], kr);
          sums[g] = b.create<vector::FMAOp>(loc, evenCodes, evenSplat, sums[g]);
          sums[g] = b.create<vector::FMAOp>(loc, oddCodes, oddSplat, sums[g]);
        }
      }
      for (int64_t g = 0; g < group; ++g) {
        Value scales = loadBlockScales(b, loc, s, k.add(nb, k.c(g)), kb);
        // sum_k (q_k - 8) x_k = sum_k q_k x_k - 8 sum_k x_k: the offset
        // costs one subtraction per block instead of two per pair row.
        Value codeSum = b.create<arith::SubFOp>(loc, sums[g], offsetSum);
        acc[g] = b.create<vector::FMAOp>(loc, codeSum, scales, acc[g]);
      }
    });
  }

  /// Q8_0 without separating the pairs: each half of a 32-code pair row
  /// (8 outputs x 2 inputs) is sign-extended straight from memory and
  /// multiplied by the input pair broadcast to every lane pair, so lane
  /// 2*ni + kp accumulates output ni's products with input kp. Per 32
  /// codes: two widening loads, two conversions, two FMAs (no shifts).
  /// Blocks are scaled by their scales duplicated per lane pair; the pairs
  /// are added once per row and output tile.
  void emitGroupQ8Pairs(OpBuilder &b, Location loc, Value row, Value nb,
                        int64_t group) const {
    IndexMath m{b, loc};
    auto f32x16 = VectorType::get({kTile}, b.getF32Type());
    Value zero = m.c(0);
    Value zeros = b.create<arith::ConstantOp>(
        loc, DenseElementsAttr::get(f32x16, b.getF32FloatAttr(0.0f)));
    SmallVector<Value> init(2 * group, zeros);
    Value xRow = m.at(x.offset, {{row, x.strides[0]}});
    SmallVector<int64_t> pairBroadcast, halfScales[2];
    for (int64_t lane = 0; lane < kTile; ++lane) {
      pairBroadcast.push_back(lane % 2);
      for (int64_t half = 0; half < 2; ++half)
        halfScales[half].push_back(half * kTile / 2 + lane / 2);
    }
    SmallVector<Value> pairSums = emitDepthLoop(b, loc, depthTiles, init, [&](
        OpBuilder &b, Value kb, SmallVectorImpl<Value> &acc) {
      IndexMath k{b, loc};
      SmallVector<Value> tileStarts, sums(2 * group, zeros);
      for (int64_t g = 0; g < group; ++g)
        tileStarts.push_back(tileOffset(k, w, k.add(nb, k.c(g)), kb));
      Value inputs = vectorView(b, loc, x.base,
                                k.add(xRow, k.mul(kb, x.strides[1])), kDepth);
      for (int64_t kr = 0; kr < kDepth / 2; ++kr) {
        Value pair = b.create<vector::LoadOp>(
            loc, VectorType::get({2}, b.getF32Type()), inputs,
            ValueRange{k.c(2 * kr)});
        Value pairs =
            b.create<vector::ShuffleOp>(loc, pair, pair, pairBroadcast);
        for (int64_t g = 0; g < group; ++g)
          for (int64_t half = 0; half < 2; ++half) {
            Value view = vectorView(
                b, loc, w.base,
                k.add(tileStarts[g], k.c(kr * 2 * kTile + half * kTile)),
                kTile);
            Value codes = b.create<vector::LoadOp>(
                loc, VectorType::get({kTile}, b.getI8Type()), view,
                ValueRange{k.c(0)});
            Value weights = b.create<arith::SIToFPOp>(loc, f32x16, codes);
            Value &sum = sums[2 * g + half];
            sum = b.create<vector::FMAOp>(loc, weights, pairs, sum);
          }
      }
      for (int64_t g = 0; g < group; ++g) {
        Value scales = loadBlockScales(b, loc, s, k.add(nb, k.c(g)), kb);
        for (int64_t half = 0; half < 2; ++half) {
          Value laneScales = b.create<vector::ShuffleOp>(loc, scales, scales,
                                                         halfScales[half]);
          acc[2 * g + half] = b.create<vector::FMAOp>(
              loc, sums[2 * g + half], laneScales, acc[2 * g + half]);
        }
      }
    });
    SmallVector<int64_t> even, odd;
    for (int64_t ni = 0; ni < kTile; ++ni) {
      even.push_back(2 * ni);
      odd.push_back(2 * ni + 1);
    }
    SmallVector<Value> outViews = outputTileViews(b, loc, y, row, nb, group);
    for (int64_t g = 0; g < group; ++g) {
      Value low = pairSums[2 * g], high = pairSums[2 * g + 1];
      Value total = b.create<arith::AddFOp>(
          loc, b.create<vector::ShuffleOp>(loc, low, high, even),
          b.create<vector::ShuffleOp>(loc, low, high, odd));
      Value outView = outViews[g];
      Value previous =
          b.create<vector::LoadOp>(loc, f32x16, outView, ValueRange{zero});
      b.create<vector::StoreOp>(
          loc, b.create<arith::AddFOp>(loc, previous, total), outView,
          ValueRange{zero});
    }
  }

  void emit(OpBuilder &b, Location loc) const {
    emitRowsInGroups(b, loc, rows, outTiles,
                     [&](OpBuilder &b, Value row, Value nb, int64_t group) {
                       if (q4)
                         emitGroup(b, loc, row, nb, group);
                       else
                         emitGroupQ8Pairs(b, loc, row, nb, group);
                     });
  }
};

} // namespace

LogicalResult llamac::kernels::lowerQuantGemv(linalg::GenericOp op,
                                              llm::MicroKernelAttr config) {
  bool q4 = config.getKind() == llm::MicroKernelKind::Q4_0Gemv;
  SmallVector<OperandSpec> specs =
      QuantGemvOperands::specs(q4, artifact::ElementType::F32);
  if (failed(matchProductOperands(
          op, config, 6, "inputs, quantized codes and scales", specs,
          "f32 [m, kb, 16, 2] inputs, " + quantCodesShape(q4) +
              " codes, f16 [nb, kb, 16] scales and an f32 [m, nb, 16] "
              "result")))
    return failure();
  OpBuilder b(op);
  ProductOperands operands = bindProductOperands(b, op, specs);
  QuantGemv kernel;
  kernel.bind(q4, operands);
  guard(b, op, operands.contiguous,
        [&](OpBuilder &b, Location loc) { kernel.emit(b, loc); });
  return success();
}
