//===- QuantGemvI8.cpp - q8_0_i8_gemv, q4_0_i8_gemv -----------------------===//
//
// Matrix-vector products by quantized tiles with the inputs quantized too:
// AVX512-VNNI integer dot products (`vpdpbusd`) per 32-input block, converted
// and scaled once per block.
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


/// Tags "q8_0_i8_gemv" / "q4_0_i8_gemv": operands XQ[m, kb, kr, kp] (i8
/// input codes), codes and scales as for "q8_0_gemv" / "q4_0_gemv",
/// XD[m, kb] (f32 input scales) and Y[m, nb, ni] (f32). Integer dot products
/// (AVX512-VNNI `vpdpbusd`: 4 unsigned bytes times 4 signed bytes summed
/// into each i32 lane) per 32-input block, converted and scaled once per
/// block by the block's 16 weight scales times the input scale.
///
/// A 64-byte load of weight codes puts two outputs' pairs in each i32 lane
/// (bytes: output 2j's kp 0 and 1, then output 2j+1's), so every load is
/// multiplied twice: by the input pair in the lane's low half and zeros
/// ("even" lanes: output 2j) and by the pair in the high half ("odd").
/// Q8_0 codes are signed: they are made unsigned by flipping the sign bit
/// (`q + 128`), and 128 times the inputs each lane multiplies is taken off
/// by the lane's initial value. Q4_0's nibbles (0..15) are unsigned as they
/// are: split by masks and interleaved into the same pair order, with 8
/// times the inputs taken off.
struct QuantGemvI8 : QuantGemvOperands {
  /// Input scales XD[m, kb] (x holds the input codes).
  Strided xd;
  /// [depthTiles, 16] i32: the initial lane values of each block's integer
  /// sums for the current row (see emitCorrections).
  Value corrections;
  /// Blocks ahead whose codes are prefetched (0: none).
  int64_t prefetch = 0;

  /// Lane classes per output tile: Q8_0 even/odd outputs; Q4_0 even/odd
  /// outputs of the first and of the second eight.
  int64_t classes() const { return q4 ? 4 : 2; }

  /// The output each lane of class `c` sums for (several lanes per output:
  /// two for Q8_0, one per reduction row of a load; four for Q4_0).
  int64_t outputOfLane(int64_t c, int64_t lane) const {
    if (!q4)
      return 2 * (lane % 8) + c;
    return 8 * (c / 2) + 2 * (lane % 4) + c % 2;
  }

  static Value dot(OpBuilder &b, Location loc, Value acc, Value unsignedBytes,
                   Value signedBytes) {
    return b
        .create<LLVM::CallIntrinsicOp>(loc, acc.getType(),
                                       "llvm.x86.avx512.vpdpbusd.512",
                                       ValueRange{acc, unsignedBytes,
                                                  signedBytes})
        .getResult(0);
  }

  /// The 32 input codes of block `kb` of the row starting at `xRow`.
  Value loadInputBlock(OpBuilder &b, Location loc, Value xRow,
                       Value kb) const {
    IndexMath k{b, loc};
    return b.create<vector::LoadOp>(
        loc, VectorType::get({kDepth}, b.getI8Type()),
        vectorView(b, loc, x.base, k.add(xRow, k.mul(kb, x.strides[1])),
                   kDepth),
        ValueRange{k.c(0)});
  }

  /// corrections[kb] = each lane's offset correction for block kb of `row`.
  /// Every lane sums the pairs of one part of a load (its reduction rows are
  /// those of that part): its correction is the offset times the sum of
  /// those rows' inputs, so that no lane carries a large offset that only
  /// cancels after the conversion to f32. Computed once per row, not per
  /// group of output tiles.
  void emitCorrections(OpBuilder &b, Location loc, Value row) const {
    IndexMath m{b, loc};
    auto i32x16 = VectorType::get({kTile}, b.getI32Type());
    // A load's parts: its 256-bit halves (Q8_0, one pair row each) or
    // 128-bit quarters (Q4_0); partLanes[p] masks part p's lanes.
    const int64_t parts = q4 ? 4 : 2;
    SmallVector<Value> partLanes;
    for (int64_t part = 0; part < parts; ++part) {
      SmallVector<bool> inPart;
      for (int64_t lane = 0; lane < kTile; ++lane)
        inPart.push_back(lane / (kTile / parts) == part);
      partLanes.push_back(b.create<arith::ConstantOp>(
          loc, DenseElementsAttr::get(VectorType::get({kTile}, b.getI1Type()),
                                      inPart)));
    }
    Value xRow = m.at(x.offset, {{row, x.strides[0]}});
    auto loop = b.create<scf::ForOp>(loc, m.c(0), m.c(depthTiles), m.c(1));
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(loop.getBody());
    Value kb = loop.getInductionVar();
    IndexMath k{b, loc};
    Value block = loadInputBlock(b, loc, xRow, kb);
    Value wide = b.create<arith::ExtSIOp>(
        loc, VectorType::get({kDepth}, b.getI32Type()), block);
    Value offset = b.create<arith::ConstantIntOp>(loc, q4 ? -8 : -128, 32);
    Value correction;
    for (int64_t part = 0; part < parts; ++part) {
      SmallVector<int64_t> inputsOfPart;
      for (int64_t pair = part; pair < kDepth / 2; pair += parts) {
        inputsOfPart.push_back(2 * pair);
        inputsOfPart.push_back(2 * pair + 1);
      }
      Value partSum = b.create<vector::ReductionOp>(
          loc, vector::CombiningKind::ADD,
          b.create<vector::ShuffleOp>(loc, wide, wide, inputsOfPart));
      Value partCorrection = b.create<vector::SplatOp>(
          loc, i32x16, b.create<arith::MulIOp>(loc, partSum, offset));
      correction = part == 0 ? partCorrection
                             : b.create<arith::SelectOp>(
                                   loc, partLanes[part], partCorrection,
                                   correction);
    }
    b.create<vector::StoreOp>(loc, correction, corrections,
                              ValueRange{kb, k.c(0)});
  }

  /// y[m, nb .. nb+group) += the products of `group` weight tile columns.
  void emitGroup(OpBuilder &b, Location loc, Value row, Value nb,
                 int64_t group) const {
    IndexMath m{b, loc};
    auto f32x16 = VectorType::get({kTile}, b.getF32Type());
    auto i32x16 = VectorType::get({kTile}, b.getI32Type());
    auto bytes64 = VectorType::get({4 * kTile}, b.getI8Type());
    auto i32Splat = [&](int64_t value) -> Value {
      return b.create<arith::ConstantOp>(
          loc, DenseElementsAttr::get(i32x16, b.getI32IntegerAttr(value)));
    };
    Value zeros = b.create<arith::ConstantOp>(
        loc, DenseElementsAttr::get(f32x16, b.getF32FloatAttr(0.0f)));
    // A load's parts: its 256-bit halves (Q8_0, one pair row each) or
    // 128-bit quarters (Q4_0).
    const int64_t parts = q4 ? 4 : 2;
    Value signBits = i32Splat(int32_t(0x80808080u));
    Value lowNibbles = b.create<arith::ConstantOp>(
        loc, DenseElementsAttr::get(bytes64, b.getI8IntegerAttr(15)));
    Value four = b.create<arith::ConstantOp>(
        loc, DenseElementsAttr::get(bytes64, b.getI8IntegerAttr(4)));
    Value sixteen = i32Splat(16);
    SmallVector<int64_t> laneScales[4], unpackLow, unpackHigh;
    for (int64_t c = 0; c < classes(); ++c)
      for (int64_t lane = 0; lane < kTile; ++lane)
        laneScales[c].push_back(outputOfLane(c, lane));
    for (int64_t part = 0; part < 4; ++part)
      for (int64_t i = 0; i < 8; ++i)
        for (int64_t half = 0; half < 2; ++half) {
          unpackLow.push_back(half * 64 + 16 * part + i);
          unpackHigh.push_back(half * 64 + 16 * part + 8 + i);
        }

    Value xRow = m.at(x.offset, {{row, x.strides[0]}});
    Value dRow = m.at(xd.offset, {{row, xd.strides[0]}});
    SmallVector<Value> init(classes() * group, zeros);
    SmallVector<Value> sums = emitDepthLoop(b, loc, depthTiles, init, [&](
        OpBuilder &b, Value kb, SmallVectorImpl<Value> &acc) {
      IndexMath k{b, loc};
      Value block = loadInputBlock(b, loc, xRow, kb);
      // The block's 16 input pairs, one per 16-bit word.
      Value pairs = b.create<vector::BitCastOp>(
          loc, VectorType::get({kTile}, b.getI16Type()), block);
      Value correction = b.create<vector::LoadOp>(
          loc, i32x16, corrections, ValueRange{kb, k.c(0)});
      Value inputScale = b.create<memref::LoadOp>(
          loc,
          vectorView(b, loc, xd.base, k.add(dRow, k.mul(kb, xd.strides[1])),
                     1),
          ValueRange{k.c(0)});
      SmallVector<Value> tileStarts, dots(classes() * group, correction);
      for (int64_t g = 0; g < group; ++g)
        tileStarts.push_back(tileOffset(k, w, k.add(nb, k.c(g)), kb));
      // Each stream's tile `prefetch` blocks ahead, a cache line at a time:
      // the hardware prefetchers alone leave a core's misses too few to
      // reach the memory bandwidth. Near the end of the reduction, the
      // first blocks of the tile the stream reads next (`group` tiles on)
      // instead, so that the next group does not start cold.
      if (prefetch > 0) {
        int64_t tileBytes = q4 ? kTile * kTile : kTile * kDepth;
        Value wraps = b.create<arith::CmpIOp>(
            loc, arith::CmpIPredicate::sge, k.add(kb, k.c(prefetch)),
            k.c(depthTiles));
        Value wrapJump = b.create<arith::SubIOp>(
            loc, k.mul(k.c(group), w.strides[0]),
            k.mul(k.c(depthTiles), w.strides[1]));
        Value ahead = k.add(
            k.mul(k.c(prefetch), w.strides[1]),
            b.create<arith::SelectOp>(loc, wraps, wrapJump, k.c(0)));
        // The scales, a line every two blocks, the same way.
        Value scalesAhead = k.add(
            k.mul(k.c(prefetch), s.strides[1]),
            b.create<arith::SelectOp>(
                loc, wraps,
                b.create<arith::SubIOp>(loc, k.mul(k.c(group), s.strides[0]),
                                        k.mul(k.c(depthTiles), s.strides[1])),
                k.c(0)));
        for (int64_t g = 0; g < group; ++g) {
          Value scalesView = vectorView(
              b, loc, s.base,
              k.add(tileOffset(k, s, k.add(nb, k.c(g)), kb), scalesAhead),
              kTile);
          b.create<memref::PrefetchOp>(loc, scalesView, ValueRange{k.c(0)},
                                       /*isWrite=*/false, /*locality=*/3,
                                       /*isDataCache=*/true);
          Value aheadView = vectorView(b, loc, w.base,
                                       k.add(tileStarts[g], ahead), tileBytes);
          for (int64_t line = 0; line < tileBytes; line += 64)
            b.create<memref::PrefetchOp>(loc, aheadView, ValueRange{k.c(line)},
                                         /*isWrite=*/false, /*locality=*/3,
                                         /*isDataCache=*/true);
        }
      }
      // Load `l` covers pair rows l * parts .. l * parts + parts, one per
      // part.
      for (int64_t l = 0; l < kDepth / 2 / parts; ++l) {
        SmallVector<int64_t> pick;
        for (int64_t lane = 0; lane < kTile; ++lane)
          pick.push_back(l * parts + lane / (kTile / parts));
        Value even = b.create<arith::ExtUIOp>(
            loc, i32x16, b.create<vector::ShuffleOp>(loc, pairs, pairs, pick));
        Value odd = b.create<arith::ShLIOp>(loc, even, sixteen);
        for (int64_t g = 0; g < group; ++g) {
          Value codes = b.create<vector::LoadOp>(
              loc, bytes64,
              vectorView(b, loc, w.base,
                         k.add(tileStarts[g], k.c(l * 4 * kTile)), 4 * kTile),
              ValueRange{k.c(0)});
          SmallVector<Value> words;
          if (!q4) {
            words.push_back(b.create<arith::XOrIOp>(
                loc, b.create<vector::BitCastOp>(loc, i32x16, codes),
                signBits));
          } else {
            Value low = b.create<arith::AndIOp>(loc, codes, lowNibbles);
            Value high = b.create<arith::ShRUIOp>(loc, codes, four);
            for (ArrayRef<int64_t> mask : {unpackLow, unpackHigh})
              words.push_back(b.create<vector::BitCastOp>(
                  loc, i32x16,
                  b.create<vector::ShuffleOp>(loc, low, high, mask)));
          }
          for (auto [i, word] : llvm::enumerate(words)) {
            Value &evenDot = dots[g * classes() + 2 * i];
            Value &oddDot = dots[g * classes() + 2 * i + 1];
            evenDot = dot(b, loc, evenDot, word, even);
            oddDot = dot(b, loc, oddDot, word, odd);
          }
        }
      }
      for (int64_t g = 0; g < group; ++g) {
        Value scales = b.create<arith::MulFOp>(
            loc, loadBlockScales(b, loc, s, k.add(nb, k.c(g)), kb),
            b.create<vector::SplatOp>(loc, f32x16, inputScale));
        for (int64_t c = 0; c < classes(); ++c) {
          Value &sum = acc[g * classes() + c];
          sum = b.create<vector::FMAOp>(
              loc,
              b.create<arith::SIToFPOp>(loc, f32x16, dots[g * classes() + c]),
              b.create<vector::ShuffleOp>(loc, scales, scales, laneScales[c]),
              sum);
        }
      }
    });

    // Each output's lanes added: Q8_0 lanes j and j + 8 of its class, Q4_0
    // lanes j, j + 4, j + 8, j + 12.
    auto rotate = [&](Value v, int64_t by) -> Value {
      SmallVector<int64_t> mask;
      for (int64_t lane = 0; lane < kTile; ++lane)
        mask.push_back((lane + by) % kTile);
      return b.create<arith::AddFOp>(
          loc, v, b.create<vector::ShuffleOp>(loc, v, v, mask));
    };
    SmallVector<int64_t> interleave, concat;
    for (int64_t j = 0; j < kTile / 2; ++j) {
      interleave.push_back(j % 4);
      interleave.push_back(kTile + j % 4);
    }
    for (int64_t lane = 0; lane < kTile; ++lane)
      concat.push_back(lane < 8 ? lane : kTile + lane - 8);
    SmallVector<Value> outViews = outputTileViews(b, loc, y, row, nb, group);
    for (int64_t g = 0; g < group; ++g) {
      ArrayRef<Value> c(sums.data() + g * classes(), classes());
      Value total;
      if (!q4) {
        // Output 2j: even lanes j, j + 8; output 2j + 1: odd lanes j, j + 8.
        Value folded[2] = {rotate(c[0], 8), rotate(c[1], 8)};
        SmallVector<int64_t> pairsOf;
        for (int64_t j = 0; j < kTile / 2; ++j) {
          pairsOf.push_back(j);
          pairsOf.push_back(kTile + j);
        }
        total = b.create<vector::ShuffleOp>(loc, folded[0], folded[1],
                                            pairsOf);
      } else {
        Value folded[4];
        for (int64_t i = 0; i < 4; ++i)
          folded[i] = rotate(rotate(c[i], 8), 4);
        Value firstEight = b.create<vector::ShuffleOp>(loc, folded[0],
                                                       folded[1], interleave);
        Value lastEight = b.create<vector::ShuffleOp>(loc, folded[2],
                                                      folded[3], interleave);
        total = b.create<vector::ShuffleOp>(loc, firstEight, lastEight,
                                            concat);
      }
      Value previous = b.create<vector::LoadOp>(loc, f32x16, outViews[g],
                                                ValueRange{m.c(0)});
      b.create<vector::StoreOp>(loc,
                                b.create<arith::AddFOp>(loc, previous, total),
                                outViews[g], ValueRange{m.c(0)});
    }
  }

  void emit(OpBuilder &b, Location loc) {
    corrections = b.create<memref::AllocaOp>(
        loc, MemRefType::get({depthTiles, kTile}, b.getI32Type()));
    emitRowsInGroups(
        b, loc, rows, outTiles,
        [&](OpBuilder &b, Value row, Value nb, int64_t group) {
          emitGroup(b, loc, row, nb, group);
        },
        [&](OpBuilder &b, Value row) { emitCorrections(b, loc, row); });
  }
};

} // namespace

LogicalResult llamac::kernels::lowerQuantGemvI8(linalg::GenericOp op,
                                                llm::MicroKernelAttr config) {
  bool q4 = config.getKind() == llm::MicroKernelKind::Q4_0I8Gemv;
  SmallVector<OperandSpec> specs =
      QuantGemvOperands::specs(q4, artifact::ElementType::I8);
  // The inputs' f32 block scales XD[m, kb] come before the result.
  specs.insert(specs.end() - 1,
               {artifact::ElementType::F32, {kAnySize, kAnySize}, 0});
  if (failed(matchProductOperands(
          op, config, 6,
          "input codes, quantized codes, their scales and input scales", specs,
          "i8 [m, kb, 16, 2] input codes, " + quantCodesShape(q4) +
              " codes, f16 [nb, kb, 16] scales, f32 [m, kb] input scales and "
              "an f32 [m, nb, 16] result")))
    return failure();
  OpBuilder b(op);
  ProductOperands operands = bindProductOperands(b, op, specs);
  QuantGemvI8 kernel;
  kernel.bind(q4, operands);
  kernel.xd = operands.strided[3];
  kernel.prefetch = *config.getPrefetch();
  guard(b, op, operands.contiguous,
        [&](OpBuilder &b, Location loc) { kernel.emit(b, loc); });
  return success();
}
