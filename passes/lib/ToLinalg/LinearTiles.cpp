//===- LinearTiles.cpp - llm.linear by tiled weights -> linalg ------------===//
//
// Products by bf16 or quantized 16 x 32 tiles: one input row at a time
// (matrix-vector products, f32 or block-quantized i8 inputs) or as tile
// matrix products of inputs rounded to bf16 (AMX). Each is a generic whose
// loops name the tiles, tagged with the op's micro-kernel.
//
//===----------------------------------------------------------------------===//
#include "LinearLowering.h"
#include "llamac/Passes/Patterns.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

using namespace mlir;
using namespace llamac;
using namespace llamac::to_linalg;
using artifact::WeightLayout;

namespace {

/// The input rows [M, in] (f32) quantized per block of 32 as `input_type =
/// i8` defines: codes [M, in/32, 16, 2] (i8, the product's input tiles)
/// and scales [M, in/32] (f32), `dx = max|x| / 127`,
/// `qx = roundeven(x * (1 / dx))`, 0 for a block of zeros. The loops run
/// over [M, in/32, 32] so that the 32 inputs of a block are contiguous.
std::pair<Value, Value> quantizeInputBlocks(ConversionPatternRewriter &rewriter,
                                            Location loc, Value input,
                                            OpFoldResult rows,
                                            int64_t tilesIn) {
  MLIRContext *context = rewriter.getContext();
  Type f32 = rewriter.getF32Type();
  const int64_t depth = WeightLayout::kTileDepth;
  auto inputType = cast<RankedTensorType>(input.getType());
  Value blocks3 = rewriter.create<tensor::ExpandShapeOp>(
      loc,
      RankedTensorType::get({inputType.getDimSize(0), tilesIn, depth}, f32),
      input, ArrayRef<ReassociationIndices>{{0}, {1, 2}},
      ArrayRef<OpFoldResult>{rows, rewriter.getIndexAttr(tilesIn),
                             rewriter.getIndexAttr(depth)});
  SmallVector<OpFoldResult> blocks = {rows, rewriter.getIndexAttr(tilesIn)};
  // Loops: m, kb, k.
  Value maxAbs =
      generic(rewriter, loc, {blocks3}, filled(rewriter, loc, blocks, f32, 0.0),
              {dimsMap(context, 3, {0, 1, 2}), dimsMap(context, 3, {0, 1})},
              {kPar, kPar, kRed},
              [](OpBuilder &b, Location loc, ValueRange args) -> Value {
                return b.create<arith::MaximumFOp>(
                    loc, args[1], b.create<math::AbsFOp>(loc, args[0]));
              });
  Value scales =
      generic(rewriter, loc, {maxAbs}, empty(rewriter, loc, blocks, f32),
              {dimsMap(context, 2, {0, 1}), dimsMap(context, 2, {0, 1})},
              {kPar, kPar}, [&](OpBuilder &b, Location loc, ValueRange args) {
                return b
                    .create<arith::DivFOp>(loc, args[0],
                                           b.create<arith::ConstantOp>(
                                               loc, b.getF32FloatAttr(127.0f)))
                    .getResult();
              });
  Value codes = generic(
      rewriter, loc, {blocks3, scales},
      empty(
          rewriter, loc,
          {rows, rewriter.getIndexAttr(tilesIn), rewriter.getIndexAttr(depth)},
          rewriter.getI8Type()),
      {dimsMap(context, 3, {0, 1, 2}), dimsMap(context, 3, {0, 1}),
       dimsMap(context, 3, {0, 1, 2})},
      {kPar, kPar, kPar},
      [&](OpBuilder &b, Location loc, ValueRange args) -> Value {
        Value zero = b.create<arith::ConstantOp>(loc, b.getF32FloatAttr(0));
        Value one = b.create<arith::ConstantOp>(loc, b.getF32FloatAttr(1));
        Value isZero = b.create<arith::CmpFOp>(loc, arith::CmpFPredicate::OEQ,
                                               args[1], zero);
        Value inverse = b.create<arith::SelectOp>(
            loc, isZero, zero, b.create<arith::DivFOp>(loc, one, args[1]));
        Value rounded = b.create<math::RoundEvenOp>(
            loc, b.create<arith::MulFOp>(loc, args[0], inverse));
        return b.create<arith::FPToSIOp>(loc, b.getI8Type(), rounded);
      });
  Value codeTiles = rewriter.create<tensor::ExpandShapeOp>(
      loc,
      RankedTensorType::get({inputType.getDimSize(0), tilesIn, depth / 2, 2},
                            rewriter.getI8Type()),
      codes, ArrayRef<ReassociationIndices>{{0}, {1}, {2, 3}},
      ArrayRef<OpFoldResult>{rows, rewriter.getIndexAttr(tilesIn),
                             rewriter.getIndexAttr(depth / 2),
                             rewriter.getIndexAttr(2)});
  return {codeTiles, scales};
}

/// What the one-row products by tiles (lowerTileRows, lowerQuantizedRows)
/// start from.
struct TileRowsOperands {
  OpFoldResult rows;
  int64_t tilesIn;
  /// The input [M, in] as [M, in/32, 16, 2] (inputPairTiles).
  Value inputPairs;
  /// The [M, out/16, 16] accumulator (rowsAccumulator).
  Value init;
};

TileRowsOperands tileRowsOperands(llm::LinearOp op, LinearAdaptor adaptor,
                                  ConversionPatternRewriter &rewriter) {
  Location loc = op.getLoc();
  auto weightType = op.getWeight().getType();
  int64_t tilesOut = weightType.getDimSize(0);
  TileRowsOperands operands;
  operands.tilesIn = weightType.getDimSize(1);
  operands.rows = tensor::getMixedSize(rewriter, loc, adaptor.getInput(), 0);
  operands.inputPairs = inputPairTiles(rewriter, loc, adaptor.getInput(),
                                       operands.rows, operands.tilesIn);
  operands.init =
      rowsAccumulator(rewriter, loc, adaptor.getAddend(), operands.rows,
                      op.getResult().getType(), tilesOut);
  return operands;
}

} // namespace

namespace llamac::to_linalg {

/// Products by tiled weights, one input row at a time (decode's
/// matrix-vector products): loops [m, nb, ni, kb, kr, kp] over the input
/// as [M, in/32, 16, 2], the weight tiles and the result as [M, out/16,
/// 16]; inputs stay f32 (micro-kernel vnni_gemv).
Value lowerTileRows(llm::LinearOp op, LinearAdaptor adaptor,
                    ConversionPatternRewriter &rewriter) {
  Location loc = op.getLoc();
  MLIRContext *context = rewriter.getContext();
  auto type = op.getResult().getType();
  Type elementType = type.getElementType();
  TileRowsOperands operands = tileRowsOperands(op, adaptor, rewriter);
  // Loops: m, nb, ni, kb, kr, kp.
  return taggedRowsProduct(
      rewriter, loc, type, ValueRange{operands.inputPairs, adaptor.getWeight()},
      operands.init,
      {dimsMap(context, 6, {0, 3, 4, 5}), dimsMap(context, 6, {1, 3, 4, 2, 5}),
       dimsMap(context, 6, {0, 1, 2})},
      {kPar, kPar, kPar, kRed, kRed, kRed}, op.getMicroKernelAttr(),
      [&](OpBuilder &b, Location loc, ValueRange args) {
        Value weight = castFloat(b, loc, args[1], elementType);
        return multiplyAccumulate(b, loc, {args[0], weight, args[2]});
      });
}

/// Products by quantized weights, one input row at a time (decode, and
/// prefill without input_type): loops [m, nb, ni, kb, kr, kp] as in
/// lowerTiledRows, with the scales [nb, kb, ni] as a third operand and the
/// weight dequantized in the body (Q4_0's codes have no kp dimension: the loop
/// picks the nibble; micro-kernels q8_0_gemv / q4_0_gemv). With input_type
/// i8, the inputs' codes [M, in/32, 16, 2] take the inputs' place and
/// their scales [M, in/32] come last (see quantizeInputBlocks; the
/// weight stays the second operand, whose tiles tasks split; micro-kernels
/// q8_0_i8_gemv / q4_0_i8_gemv).
Value lowerQuantizedRows(llm::LinearOp op, LinearAdaptor adaptor,
                         ConversionPatternRewriter &rewriter) {
  Location loc = op.getLoc();
  MLIRContext *context = rewriter.getContext();
  auto type = op.getResult().getType();
  Type elementType = type.getElementType();
  artifact::QuantScheme scheme = op.getWeightLayoutAttr().getLayout().scheme;
  TileRowsOperands operands = tileRowsOperands(op, adaptor, rewriter);
  AffineMap codesMap = scheme == artifact::QuantScheme::Q8_0
                           ? dimsMap(context, 6, {1, 3, 4, 2, 5})
                           : dimsMap(context, 6, {1, 3, 4, 2});
  auto pairIndexFor = [&](OpBuilder &b, Location loc) {
    return scheme == artifact::QuantScheme::Q4_0
               ? b.create<linalg::IndexOp>(loc, 5).getResult()
               : Value();
  };
  // Loops: m, nb, ni, kb, kr, kp.
  SmallVector<Value> inputs = {operands.inputPairs, adaptor.getWeight(),
                               adaptor.getScales()};
  SmallVector<AffineMap> maps = {dimsMap(context, 6, {0, 3, 4, 5}), codesMap,
                                 dimsMap(context, 6, {1, 3, 2})};
  bool i8Inputs = bool(op.getInputType());
  if (i8Inputs) {
    // input_type i8: the inputs quantized per block, then their codes
    // times the weights' codes, each block's sum scaled by both scales.
    auto [inputCodes, inputScales] = quantizeInputBlocks(
        rewriter, loc, adaptor.getInput(), operands.rows, operands.tilesIn);
    inputs[0] = inputCodes;
    inputs.push_back(inputScales);
    maps.push_back(dimsMap(context, 6, {0, 3}));
  }
  maps.push_back(dimsMap(context, 6, {0, 1, 2}));
  return taggedRowsProduct(
      rewriter, loc, type, inputs, operands.init, maps,
      {kPar, kPar, kPar, kRed, kRed, kRed}, op.getMicroKernelAttr(),
      [&](OpBuilder &b, Location loc, ValueRange args) {
        Value inputValue = args[0];
        if (i8Inputs)
          inputValue = b.create<arith::MulFOp>(
              loc, b.create<arith::SIToFPOp>(loc, elementType, args[0]),
              args[3]);
        Value weight = dequantize(b, loc, scheme, args[1], args[2],
                                  pairIndexFor(b, loc), elementType);
        return multiplyAccumulate(b, loc, {inputValue, weight, args.back()});
      });
}

/// Matrix products by tiled weights with inputs rounded to bf16 (prefill):
/// the input rows are rounded and laid out once as [ceil(M/16), in/32,
/// 16, 32] tiles (rows past M are zero), multiplied in loops [mb, mi, nb,
/// ni, kb, kr, kp] into a [ceil(M/16)*16, out] result (micro-kernel
/// amx_bf16), whose first M rows are the product.
///
/// Quantized weights (codes and scales) take the same loops, the scales
/// indexed [nb, kb, ni], each weight dequantized and rounded to the input
/// type in the body (micro-kernels amx_q8_0 / amx_q4_0).
Value lowerTileMatmul(llm::LinearOp op, LinearAdaptor adaptor,
                      ConversionPatternRewriter &rewriter) {
  Location loc = op.getLoc();
  MLIRContext *context = rewriter.getContext();
  auto type = op.getResult().getType();
  Type elementType = type.getElementType();
  Type inputType = *op.getInputType();
  auto weightType = op.getWeight().getType();
  int64_t tilesOut = weightType.getDimSize(0),
          tilesIn = weightType.getDimSize(1);
  const int64_t tileRows = WeightLayout::kTileRows,
                depth = WeightLayout::kTileDepth;
  Value input = adaptor.getInput();
  Value rows = rewriter.create<tensor::DimOp>(loc, input, 0);
  // ceil(rows / 16), as (rows + 15) / 16: arith-to-llvm has no ceildivui.
  Value rowTiles = rewriter.create<arith::DivUIOp>(
      loc,
      rewriter.create<arith::AddIOp>(
          loc, rows,
          rewriter.create<arith::ConstantIndexOp>(loc, tileRows - 1)),
      rewriter.create<arith::ConstantIndexOp>(loc, tileRows));
  auto index = [&](int64_t value) { return rewriter.getIndexAttr(value); };

  // Rounded input tiles: tiles[mb, kb, mi, j] = bf16(input[mb*16+mi, kb*32+j]).
  Value tilesInit = empty(
      rewriter, loc, {rowTiles, index(tilesIn), index(tileRows), index(depth)},
      inputType);
  auto tiles = rewriter.create<linalg::GenericOp>(
      loc, tilesInit.getType(), ValueRange{}, ValueRange{tilesInit},
      ArrayRef<AffineMap>{dimsMap(context, 4, {0, 1, 2, 3})},
      ArrayRef<IteratorType>{kPar, kPar, kPar, kPar},
      [&](OpBuilder &b, Location loc, ValueRange) {
        auto at = [&](unsigned dim) {
          return b.create<linalg::IndexOp>(loc, dim).getResult();
        };
        auto scaled = [&](Value tile, int64_t size, Value offset) {
          Value base = b.create<arith::MulIOp>(
              loc, tile, b.create<arith::ConstantIndexOp>(loc, size));
          return b.create<arith::AddIOp>(loc, base, offset).getResult();
        };
        Value row = scaled(at(0), tileRows, at(2));
        Value column = scaled(at(1), depth, at(3));
        Value inside =
            b.create<arith::CmpIOp>(loc, arith::CmpIPredicate::ult, row, rows);
        Value zeroRow = b.create<arith::ConstantIndexOp>(loc, 0);
        Value safeRow = b.create<arith::SelectOp>(loc, inside, row, zeroRow);
        Value value = b.create<tensor::ExtractOp>(loc, input,
                                                  ValueRange{safeRow, column});
        Value rounded = castFloat(b, loc, value, inputType);
        Value zero =
            b.create<arith::ConstantOp>(loc, b.getFloatAttr(inputType, 0.0));
        b.create<linalg::YieldOp>(
            loc,
            b.create<arith::SelectOp>(loc, inside, rounded, zero).getResult());
      });
  auto pairsType = RankedTensorType::get(
      {ShapedType::kDynamic, tilesIn, tileRows, depth / 2, 2}, inputType);
  Value pairs = rewriter.create<tensor::ExpandShapeOp>(
      loc, pairsType, tiles.getResult(0),
      ArrayRef<ReassociationIndices>{{0}, {1}, {2}, {3, 4}},
      ArrayRef<OpFoldResult>{rowTiles, index(tilesIn), index(tileRows),
                             index(depth / 2), index(2)});

  Value paddedRows = rewriter.create<arith::MulIOp>(
      loc, rowTiles, rewriter.create<arith::ConstantIndexOp>(loc, tileRows));
  int64_t out = tilesOut * tileRows;
  Value init =
      filled(rewriter, loc, {paddedRows, index(out)}, elementType, 0.0);
  if (Value addend = adaptor.getAddend()) // sums start from it
    init = rewriter.create<tensor::InsertSliceOp>(
        loc, addend, init, ArrayRef<OpFoldResult>{index(0), index(0)},
        ArrayRef<OpFoldResult>{rows, index(out)},
        ArrayRef<OpFoldResult>{index(1), index(1)});
  auto accType = RankedTensorType::get(
      {ShapedType::kDynamic, tileRows, tilesOut, tileRows}, elementType);
  Value acc = rewriter.create<tensor::ExpandShapeOp>(
      loc, accType, init, ArrayRef<ReassociationIndices>{{0, 1}, {2, 3}},
      ArrayRef<OpFoldResult>{rowTiles, index(tileRows), index(tilesOut),
                             index(tileRows)});
  // Loops: mb, mi, nb, ni, kb, kr, kp.
  llm::WeightLayoutAttr layout = op.getWeightLayoutAttr();
  artifact::QuantScheme scheme = layout.getLayout().scheme;
  SmallVector<Value> operands = {pairs, adaptor.getWeight()};
  SmallVector<AffineMap> maps = {dimsMap(context, 7, {0, 4, 1, 5, 6}),
                                 dimsMap(context, 7, {2, 4, 5, 3, 6})};
  if (scheme != artifact::QuantScheme::None) {
    if (scheme == artifact::QuantScheme::Q4_0) // no kp: two codes a byte
      maps.back() = dimsMap(context, 7, {2, 4, 5, 3});
    operands.push_back(adaptor.getScales());
    maps.push_back(dimsMap(context, 7, {2, 4, 3}));
  }
  maps.push_back(dimsMap(context, 7, {0, 1, 2, 3}));
  SmallVector<IteratorType> iterators = {kPar, kPar, kPar, kPar,
                                         kRed, kRed, kRed};
  auto product = rewriter.create<linalg::GenericOp>(
      loc, accType, operands, ValueRange{acc}, maps, iterators,
      [&](OpBuilder &b, Location loc, ValueRange args) {
        Value lhs = castFloat(b, loc, args[0], elementType);
        Value rhs;
        if (scheme == artifact::QuantScheme::None) {
          rhs = castFloat(b, loc, args[1], elementType);
        } else {
          Value pairIndex = b.create<linalg::IndexOp>(loc, 6);
          Value exact = dequantize(b, loc, scheme, args[1], args[2], pairIndex,
                                   elementType);
          rhs = castFloat(b, loc, castFloat(b, loc, exact, inputType),
                          elementType);
        }
        b.create<linalg::YieldOp>(
            loc, multiplyAccumulate(b, loc, {lhs, rhs, args.back()}));
      });
  if (llm::MicroKernelAttr kernel = op.getMicroKernelAttr())
    product->setAttr(llm::MicroKernelAttr::getAttrName(), kernel);
  auto paddedType =
      RankedTensorType::get({ShapedType::kDynamic, out}, elementType);
  Value padded = rewriter.create<tensor::CollapseShapeOp>(
      loc, paddedType, product.getResult(0),
      ArrayRef<ReassociationIndices>{{0, 1}, {2, 3}});
  return rewriter.create<tensor::ExtractSliceOp>(
      loc, type, padded, ArrayRef<OpFoldResult>{index(0), index(0)},
      ArrayRef<OpFoldResult>{rows, index(out)},
      ArrayRef<OpFoldResult>{index(1), index(1)});
}

} // namespace llamac::to_linalg
