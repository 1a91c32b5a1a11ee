//===- LLMToLinalg.cpp - llm ops to linalg on tensors ---------------------===//
//
// Lowers every `llm` compute op to linalg/tensor/arith/math ops on tensors,
// so that the upstream tiling, bufferization and LLVM lowering apply:
//
//   llm.embed      -> linalg.generic gathering table rows (tensor.extract)
//   llm.rms_norm   -> sum-of-squares reduction + normalizing linalg.generic
//   llm.linear     -> linalg.matmul_transpose_b (weights widened in the body)
//   llm.rope       -> linalg.generic; the (llama3-scaled) inverse frequencies
//                     are computed here, at compile time, as a constant
//   llm.attention  -> KV-cache update (transpose + insert_slice), then
//                     scores, masked max, exp, sum and P·V as linalg.generic
//   llm.silu/mul/add -> elementwise linalg.generic
//
// All arithmetic is in the activation type (f32); bf16/f16 weights are
// extended exactly. `llm.param` stays: binding weights to the artifact's
// buffer is the job of `llm-lower-entry-abi`.
//
//===----------------------------------------------------------------------===//
#include "llamac/IR/LLMOps.h"
#include "llamac/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/ControlFlow/IR/ControlFlowOps.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/DialectConversion.h"

#include <cmath>
#include <limits>

namespace llamac {
#define GEN_PASS_DEF_LLMTOLINALGPASS
#include "llamac/Transforms/Passes.h.inc"
} // namespace llamac

using namespace mlir;
using namespace llamac;

namespace {

using utils::IteratorType;
constexpr IteratorType kPar = IteratorType::parallel;
constexpr IteratorType kRed = IteratorType::reduction;

/// `value` converted to `type` (f32 from bf16/f16; identity otherwise).
Value castFloat(OpBuilder &b, Location loc, Value value, Type type) {
  Type from = value.getType();
  if (from == type)
    return value;
  if (from.getIntOrFloatBitWidth() < type.getIntOrFloatBitWidth())
    return b.create<arith::ExtFOp>(loc, type, value);
  return b.create<arith::TruncFOp>(loc, type, value);
}

/// A tensor.empty of `sizes` and `elementType`.
Value empty(OpBuilder &b, Location loc, ArrayRef<OpFoldResult> sizes,
            Type elementType) {
  return b.create<tensor::EmptyOp>(loc, sizes, elementType);
}

/// A tensor of `sizes` filled with `value`.
Value filled(OpBuilder &b, Location loc, ArrayRef<OpFoldResult> sizes,
             Type elementType, double value) {
  Value init = empty(b, loc, sizes, elementType);
  Value constant = b.create<arith::ConstantOp>(
      loc, b.getFloatAttr(elementType, value));
  return b.create<linalg::FillOp>(loc, constant, init).getResult(0);
}

/// The identity map and projections used by the generics below.
AffineMap dimsMap(MLIRContext *context, unsigned numDims,
                  ArrayRef<unsigned> dims) {
  SmallVector<AffineExpr> exprs;
  for (unsigned dim : dims)
    exprs.push_back(getAffineDimExpr(dim, context));
  return AffineMap::get(numDims, 0, exprs, context);
}

/// A single-result linalg.generic whose body yields what `body` computes
/// from the block arguments (inputs, then the accumulator).
Value generic(OpBuilder &b, Location loc, ValueRange inputs, Value init,
              ArrayRef<AffineMap> maps, ArrayRef<IteratorType> iterators,
              function_ref<Value(OpBuilder &, Location, ValueRange)> body) {
  return b
      .create<linalg::GenericOp>(
          loc, init.getType(), inputs, ValueRange{init}, maps, iterators,
          [&](OpBuilder &nested, Location nestedLoc, ValueRange args) {
            nested.create<linalg::YieldOp>(nestedLoc,
                                           body(nested, nestedLoc, args));
          })
      .getResult(0);
}

/// Body of a contraction: accumulator + lhs * rhs.
Value multiplyAccumulate(OpBuilder &b, Location loc, ValueRange args) {
  Value product = b.create<arith::MulFOp>(loc, args[0], args[1]);
  return b.create<arith::AddFOp>(loc, args[2], product);
}

/// Index `value` as an f32 (for positions).
Value indexToFloat(OpBuilder &b, Location loc, Value index, Type floatType) {
  Value asInt = b.create<arith::IndexCastOp>(loc, b.getI64Type(), index);
  return b.create<arith::UIToFPOp>(loc, floatType, asInt);
}

/// The indices of matrix element [row, column] in `weight`: themselves for a
/// 2-D weight, the tile coordinates for the vnni16x32 layout.
SmallVector<Value> tiledIndices(OpBuilder &b, Location loc, Value row,
                                Value column);
SmallVector<Value> panelIndices(OpBuilder &b, Location loc, Value row,
                                Value column);
SmallVector<Value> matrixElementIndices(OpBuilder &b, Location loc,
                                        Value weight, Value row,
                                        Value column) {
  auto type = cast<RankedTensorType>(weight.getType());
  if (llm::isF32Paneled(type))
    return panelIndices(b, loc, row, column);
  if (!llm::isVNNITiled(type))
    return {row, column};
  return tiledIndices(b, loc, row, column);
}

/// [nb, k, ni] of matrix element [row, column] in the f32panel64 order.
SmallVector<Value> panelIndices(OpBuilder &b, Location loc, Value row,
                                Value column) {
  Value width = b.create<arith::ConstantIndexOp>(loc, llm::kF32PanelWidth);
  return {b.create<arith::DivUIOp>(loc, row, width), column,
          b.create<arith::RemUIOp>(loc, row, width)};
}

/// [nb, kb, kr, ni, kp] of matrix element [row, column] in the vnni16x32
/// tile order.
SmallVector<Value> tiledIndices(OpBuilder &b, Location loc, Value row,
                                Value column) {
  auto constant = [&](int64_t value) {
    return b.create<arith::ConstantIndexOp>(loc, value).getResult();
  };
  Value rows = constant(llm::kVNNITileRows);
  Value depth = constant(llm::kVNNITileDepth);
  Value two = constant(2);
  Value inTile = b.create<arith::RemUIOp>(loc, column, depth);
  return {b.create<arith::DivUIOp>(loc, row, rows),
          b.create<arith::DivUIOp>(loc, column, depth),
          b.create<arith::DivUIOp>(loc, inTile, two),
          b.create<arith::RemUIOp>(loc, row, rows),
          b.create<arith::RemUIOp>(loc, inTile, two)};
}

/// The f32 value of quantized weight code `code` (i8, the element of the
/// codes tensor) whose scale is `scale` (f16): q * d for Q8_0, (q - 8) * d
/// for Q4_0 where `pairIndex` (kp, an index) picks the nibble. Exact: a code
/// has at most 8 significant bits and an f16 scale 11.
Value dequantize(OpBuilder &b, Location loc, llm::QuantScheme scheme,
                 Value code, Value scale, Value pairIndex, Type floatType) {
  Value q;
  if (scheme == llm::QuantScheme::Q8_0) {
    q = b.create<arith::SIToFPOp>(loc, floatType, code);
  } else {
    Type i32 = b.getI32Type();
    Value byte = b.create<arith::ExtUIOp>(loc, i32, code);
    Value shift = b.create<arith::MulIOp>(
        loc, b.create<arith::IndexCastOp>(loc, i32, pairIndex),
        b.create<arith::ConstantIntOp>(loc, 4, i32));
    Value nibble = b.create<arith::AndIOp>(
        loc, b.create<arith::ShRUIOp>(loc, byte, shift),
        b.create<arith::ConstantIntOp>(loc, 15, i32));
    Value centered = b.create<arith::SubIOp>(
        loc, nibble, b.create<arith::ConstantIntOp>(loc, 8, i32));
    q = b.create<arith::SIToFPOp>(loc, floatType, centered);
  }
  return b.create<arith::MulFOp>(loc, q, castFloat(b, loc, scale, floatType));
}

/// The tag `llm-lower-micro-kernels` looks for, and its values.
constexpr llvm::StringLiteral kMicroKernel = "llm.micro_kernel";

//===----------------------------------------------------------------------===//
// Patterns
//===----------------------------------------------------------------------===//

struct EmbedLowering : OpConversionPattern<llm::EmbedOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(llm::EmbedOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    auto resultType = op.getResult().getType();
    Type elementType = resultType.getElementType();
    Value table = adaptor.getTable();
    SmallVector<OpFoldResult> sizes = {
        tensor::getMixedSize(rewriter, loc, adaptor.getTokens(), 0),
        rewriter.getIndexAttr(resultType.getDimSize(1))};
    MLIRContext *context = rewriter.getContext();
    auto generic = rewriter.create<linalg::GenericOp>(
        loc, resultType, ValueRange{adaptor.getTokens()},
        ValueRange{empty(rewriter, loc, sizes, elementType)},
        ArrayRef<AffineMap>{dimsMap(context, 2, {0}),
                            dimsMap(context, 2, {0, 1})},
        ArrayRef<IteratorType>{kPar, kPar},
        [&](OpBuilder &b, Location loc, ValueRange args) {
          Value row = b.create<arith::IndexCastOp>(loc, b.getIndexType(),
                                                   args[0]);
          Value column = b.create<linalg::IndexOp>(loc, 1);
          auto tableType = cast<RankedTensorType>(table.getType());
          llm::QuantScheme scheme = llm::getQuantScheme(tableType);
          if (scheme == llm::QuantScheme::None) {
            Value weight = b.create<tensor::ExtractOp>(
                loc, table, matrixElementIndices(b, loc, table, row, column));
            b.create<linalg::YieldOp>(
                loc, castFloat(b, loc, weight, elementType));
            return;
          }
          // Codes share the vnni16x32 tile order (Q4_0 without the pair
          // dimension, which picks the nibble); scales are [nb, kb, ni].
          SmallVector<Value> at = tiledIndices(b, loc, row, column);
          Value pairIndex = at.back();
          if (scheme == llm::QuantScheme::Q4_0)
            at.pop_back();
          Value code = b.create<tensor::ExtractOp>(loc, table, at);
          Value scale = b.create<tensor::ExtractOp>(
              loc, adaptor.getScales(), ValueRange{at[0], at[1], at[3]});
          b.create<linalg::YieldOp>(
              loc, dequantize(b, loc, scheme, code, scale, pairIndex,
                              elementType));
        });
    rewriter.replaceOp(op, generic.getResults());
    return success();
  }
};

struct RMSNormLowering : OpConversionPattern<llm::RMSNormOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(llm::RMSNormOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    auto type = op.getResult().getType();
    if (type.getRank() != 2 || type.isDynamicDim(1))
      return rewriter.notifyMatchFailure(op, "expects [tokens, hidden]");
    Location loc = op.getLoc();
    MLIRContext *context = rewriter.getContext();
    Type elementType = type.getElementType();
    Value input = adaptor.getInput();
    OpFoldResult rows = tensor::getMixedSize(rewriter, loc, input, 0);
    int64_t hidden = type.getDimSize(1);

    // sum_j x[i, j]^2
    Value sumInit = filled(rewriter, loc, {rows}, elementType, 0.0);
    Value sumSquares = generic(
        rewriter, loc, {input}, sumInit,
        {dimsMap(context, 2, {0, 1}), dimsMap(context, 2, {0})}, {kPar, kRed},
        [](OpBuilder &b, Location loc, ValueRange args) -> Value {
          Value square = b.create<arith::MulFOp>(loc, args[0], args[0]);
          return b.create<arith::AddFOp>(loc, args[1], square);
        });

    // w[j] * (x[i, j] / sqrt(sum / hidden + eps))
    Value weight = adaptor.getWeight();
    double epsilon = op.getEpsilon().convertToDouble();
    SmallVector<OpFoldResult> sizes = {rows, rewriter.getIndexAttr(hidden)};
    auto generic = rewriter.create<linalg::GenericOp>(
        loc, type, ValueRange{input, sumSquares, weight},
        ValueRange{empty(rewriter, loc, sizes, elementType)},
        ArrayRef<AffineMap>{dimsMap(context, 2, {0, 1}),
                            dimsMap(context, 2, {0}), dimsMap(context, 2, {1}),
                            dimsMap(context, 2, {0, 1})},
        ArrayRef<IteratorType>{kPar, kPar},
        [&](OpBuilder &b, Location loc, ValueRange args) {
          Value count = b.create<arith::ConstantOp>(
              loc, b.getFloatAttr(elementType, double(hidden)));
          Value eps = b.create<arith::ConstantOp>(
              loc, b.getFloatAttr(elementType, epsilon));
          Value mean = b.create<arith::DivFOp>(loc, args[1], count);
          Value rms = b.create<math::SqrtOp>(
              loc, b.create<arith::AddFOp>(loc, mean, eps));
          Value normalized = b.create<arith::DivFOp>(loc, args[0], rms);
          Value scaled = b.create<arith::MulFOp>(
              loc, castFloat(b, loc, args[2], elementType), normalized);
          b.create<linalg::YieldOp>(loc, scaled);
        });
    rewriter.replaceOp(op, generic.getResults());
    return success();
  }
};

struct LinearLowering : OpConversionPattern<llm::LinearOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(llm::LinearOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    auto type = op.getResult().getType();
    if (type.getRank() != 2)
      return rewriter.notifyMatchFailure(op, "expects [tokens, features]");
    if (llm::getQuantScheme(op.getWeight().getType()) !=
        llm::QuantScheme::None) {
      bool roundedInputs = op.getInputType() &&
                           isa<FloatType>(*op.getInputType());
      rewriter.replaceOp(op, roundedInputs
                                 ? lowerTiledMatmul(op, adaptor, rewriter)
                                 : lowerQuantizedRows(op, adaptor, rewriter));
      return success();
    }
    if (llm::isF32Paneled(op.getWeight().getType()) && !op.getInputType()) {
      rewriter.replaceOp(op, lowerPanelProduct(op, adaptor, rewriter));
      return success();
    }
    if (llm::isVNNITiled(op.getWeight().getType())) {
      Value result = op.getInputType()
                         ? lowerTiledMatmul(op, adaptor, rewriter)
                         : lowerTiledRows(op, adaptor, rewriter);
      rewriter.replaceOp(op, result);
      return success();
    }
    if (op.getInputType())
      return rewriter.notifyMatchFailure(
          op, "input_type is only implemented with vnni16x32 weights");
    Location loc = op.getLoc();
    SmallVector<OpFoldResult> sizes = {
        tensor::getMixedSize(rewriter, loc, adaptor.getInput(), 0),
        rewriter.getIndexAttr(type.getDimSize(1))};
    // Sums start from the addend (a fused residual connection) or zero.
    Value init = adaptor.getAddend()
                     ? adaptor.getAddend()
                     : filled(rewriter, loc, sizes, type.getElementType(), 0.0);
    // The named op casts both inputs to the accumulator type in its body, so
    // bf16 weights are widened in registers, never materialized as f32.
    auto matmul = rewriter.create<linalg::MatmulTransposeBOp>(
        loc, TypeRange{type}, ValueRange{adaptor.getInput(), adaptor.getWeight()},
        ValueRange{init});
    rewriter.replaceOp(op, matmul.getResults());
    return success();
  }

  /// The [M, out/tile, tile] accumulator of a product by tiled or panel
  /// weights: the addend (a fused residual connection) viewed that way, or
  /// zeros.
  static Value rowsAccumulator(ConversionPatternRewriter &rewriter,
                               Location loc, Value addend, OpFoldResult rows,
                               RankedTensorType type, int64_t tilesOut,
                               int64_t tile = llm::kVNNITileRows) {
    if (!addend)
      return filled(rewriter, loc,
                    {rows, rewriter.getIndexAttr(tilesOut),
                     rewriter.getIndexAttr(tile)},
                    type.getElementType(), 0.0);
    auto tiled = RankedTensorType::get({type.getDimSize(0), tilesOut, tile},
                                       type.getElementType());
    return rewriter.create<tensor::ExpandShapeOp>(
        loc, tiled, addend, ArrayRef<ReassociationIndices>{{0}, {1, 2}},
        ArrayRef<OpFoldResult>{rows, rewriter.getIndexAttr(tilesOut),
                               rewriter.getIndexAttr(tile)});
  }

  /// The input rows [M, in] viewed as [M, in/32, 16, 2]: the tiles'
  /// reduction blocks and their pairs.
  static Value inputPairTiles(ConversionPatternRewriter &rewriter,
                              Location loc, Value input, OpFoldResult rows,
                              int64_t tilesIn) {
    auto inputType = cast<RankedTensorType>(input.getType());
    auto tilesType = RankedTensorType::get(
        {inputType.getDimSize(0), tilesIn, llm::kVNNITileDepth / 2, 2},
        inputType.getElementType());
    return rewriter.create<tensor::ExpandShapeOp>(
        loc, tilesType, input, ArrayRef<ReassociationIndices>{{0}, {1, 2, 3}},
        ArrayRef<OpFoldResult>{rows, rewriter.getIndexAttr(tilesIn),
                               rewriter.getIndexAttr(llm::kVNNITileDepth / 2),
                               rewriter.getIndexAttr(2)});
  }

  /// A product generic of `inputs` into the [M, tiles, width] accumulator
  /// `init` (`body` returns the new sum from the block arguments, the
  /// accumulator last), tagged `tag` for llm-lower-micro-kernels and
  /// collapsed to the [M, out] result `type`.
  static Value taggedRowsProduct(
      ConversionPatternRewriter &rewriter, Location loc,
      RankedTensorType type, ValueRange inputs, Value init,
      ArrayRef<AffineMap> maps, ArrayRef<IteratorType> iterators,
      StringRef tag,
      function_ref<Value(OpBuilder &, Location, ValueRange)> body) {
    Value product =
        generic(rewriter, loc, inputs, init, maps, iterators, body);
    product.getDefiningOp()->setAttr(kMicroKernel,
                                     rewriter.getStringAttr(tag));
    return rewriter.create<tensor::CollapseShapeOp>(
        loc, type, product, ArrayRef<ReassociationIndices>{{0}, {1, 2}});
  }

  /// Products by tiled weights, one input row at a time (decode's
  /// matrix-vector products): loops [m, nb, ni, kb, kr, kp] over the input
  /// as [M, in/32, 16, 2], the weight tiles and the result as [M, out/16,
  /// 16]; inputs stay f32. Tagged "vnni_gemv".
  static Value lowerTiledRows(llm::LinearOp op, OpAdaptor adaptor,
                              ConversionPatternRewriter &rewriter) {
    Location loc = op.getLoc();
    MLIRContext *context = rewriter.getContext();
    auto type = op.getResult().getType();
    Type elementType = type.getElementType();
    auto weightType = op.getWeight().getType();
    int64_t tilesOut = weightType.getDimSize(0), tilesIn = weightType.getDimSize(1);
    Value input = adaptor.getInput();
    OpFoldResult rows = tensor::getMixedSize(rewriter, loc, input, 0);
    Value input4 = inputPairTiles(rewriter, loc, input, rows, tilesIn);
    Value init = rowsAccumulator(rewriter, loc, adaptor.getAddend(), rows,
                                 type, tilesOut);
    // Loops: m, nb, ni, kb, kr, kp.
    return taggedRowsProduct(
        rewriter, loc, type, ValueRange{input4, adaptor.getWeight()}, init,
        {dimsMap(context, 6, {0, 3, 4, 5}),
         dimsMap(context, 6, {1, 3, 4, 2, 5}), dimsMap(context, 6, {0, 1, 2})},
        {kPar, kPar, kPar, kRed, kRed, kRed}, "vnni_gemv",
        [&](OpBuilder &b, Location loc, ValueRange args) {
          Value weight = castFloat(b, loc, args[1], elementType);
          return multiplyAccumulate(b, loc, {args[0], weight, args[2]});
        });
  }

  /// Products by f32panel64 weights (prefill and decode alike): loops [m,
  /// nb, ni, k] over the input [M, in], the panels [out/64, in, 64] and the
  /// result as [M, out/64, 64]. Tagged "f32_panels".
  static Value lowerPanelProduct(llm::LinearOp op, OpAdaptor adaptor,
                                 ConversionPatternRewriter &rewriter) {
    Location loc = op.getLoc();
    MLIRContext *context = rewriter.getContext();
    auto type = op.getResult().getType();
    Type elementType = type.getElementType();
    int64_t panels = op.getWeight().getType().getDimSize(0);
    Value input = adaptor.getInput();
    OpFoldResult rows = tensor::getMixedSize(rewriter, loc, input, 0);
    Value init = rowsAccumulator(rewriter, loc, adaptor.getAddend(), rows,
                                 type, panels, llm::kF32PanelWidth);
    // Loops: m, nb, ni, k.
    return taggedRowsProduct(
        rewriter, loc, type, ValueRange{input, adaptor.getWeight()}, init,
        {dimsMap(context, 4, {0, 3}), dimsMap(context, 4, {1, 3, 2}),
         dimsMap(context, 4, {0, 1, 2})},
        {kPar, kPar, kPar, kRed}, "f32_panels",
        [&](OpBuilder &b, Location loc, ValueRange args) {
          Value weight = castFloat(b, loc, args[1], elementType);
          return multiplyAccumulate(b, loc, {args[0], weight, args[2]});
        });
  }

  /// The input rows [M, in] (f32) quantized per block of 32 as `input_type =
  /// i8` defines: codes [M, in/32, 16, 2] (i8, the product's input tiles)
  /// and scales [M, in/32] (f32), `dx = max|x| / 127`,
  /// `qx = roundeven(x * (1 / dx))`, 0 for a block of zeros. The loops run
  /// over [M, in/32, 32] so that the 32 inputs of a block are contiguous.
  static std::pair<Value, Value>
  quantizeInputBlocks(ConversionPatternRewriter &rewriter, Location loc,
                      Value input, OpFoldResult rows, int64_t tilesIn) {
    MLIRContext *context = rewriter.getContext();
    Type f32 = rewriter.getF32Type();
    const int64_t depth = llm::kVNNITileDepth;
    auto inputType = cast<RankedTensorType>(input.getType());
    Value blocks3 = rewriter.create<tensor::ExpandShapeOp>(
        loc,
        RankedTensorType::get({inputType.getDimSize(0), tilesIn, depth}, f32),
        input, ArrayRef<ReassociationIndices>{{0}, {1, 2}},
        ArrayRef<OpFoldResult>{rows, rewriter.getIndexAttr(tilesIn),
                               rewriter.getIndexAttr(depth)});
    SmallVector<OpFoldResult> blocks = {rows, rewriter.getIndexAttr(tilesIn)};
    // Loops: m, kb, k.
    Value maxAbs = generic(
        rewriter, loc, {blocks3}, filled(rewriter, loc, blocks, f32, 0.0),
        {dimsMap(context, 3, {0, 1, 2}), dimsMap(context, 3, {0, 1})},
        {kPar, kPar, kRed},
        [](OpBuilder &b, Location loc, ValueRange args) -> Value {
          return b.create<arith::MaximumFOp>(
              loc, args[1], b.create<math::AbsFOp>(loc, args[0]));
        });
    Value scales = generic(
        rewriter, loc, {maxAbs}, empty(rewriter, loc, blocks, f32),
        {dimsMap(context, 2, {0, 1}), dimsMap(context, 2, {0, 1})},
        {kPar, kPar}, [&](OpBuilder &b, Location loc, ValueRange args) {
          return b
              .create<arith::DivFOp>(
                  loc, args[0],
                  b.create<arith::ConstantOp>(loc, b.getF32FloatAttr(127.0f)))
              .getResult();
        });
    Value codes = generic(
        rewriter, loc, {blocks3, scales},
        empty(rewriter, loc,
              {rows, rewriter.getIndexAttr(tilesIn),
               rewriter.getIndexAttr(depth)},
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
        RankedTensorType::get(
            {inputType.getDimSize(0), tilesIn, depth / 2, 2},
            rewriter.getI8Type()),
        codes, ArrayRef<ReassociationIndices>{{0}, {1}, {2, 3}},
        ArrayRef<OpFoldResult>{rows, rewriter.getIndexAttr(tilesIn),
                               rewriter.getIndexAttr(depth / 2),
                               rewriter.getIndexAttr(2)});
    return {codeTiles, scales};
  }

  /// Products by quantized weights, one input row at a time (decode, and
  /// prefill without input_type): loops [m, nb, ni, kb, kr, kp] as in lowerTiledRows,
  /// with the scales [nb, kb, ni] as a third operand and the weight
  /// dequantized in the body (Q4_0's codes have no kp dimension: the loop
  /// picks the nibble). Tagged "q8_0_gemv" / "q4_0_gemv". With input_type
  /// i8, the inputs' codes [M, in/32, 16, 2] take the inputs' place and
  /// their scales [M, in/32] come last (see quantizeInputBlocks; the
  /// weight stays the second operand, whose tiles tasks split); tagged
  /// "q8_0_i8_gemv" / "q4_0_i8_gemv".
  static Value lowerQuantizedRows(llm::LinearOp op, OpAdaptor adaptor,
                                  ConversionPatternRewriter &rewriter) {
    Location loc = op.getLoc();
    MLIRContext *context = rewriter.getContext();
    auto type = op.getResult().getType();
    Type elementType = type.getElementType();
    auto weightType = op.getWeight().getType();
    llm::QuantScheme scheme = llm::getQuantScheme(weightType);
    int64_t tilesOut = weightType.getDimSize(0), tilesIn = weightType.getDimSize(1);
    Value input = adaptor.getInput();
    OpFoldResult rows = tensor::getMixedSize(rewriter, loc, input, 0);
    Value input4 = inputPairTiles(rewriter, loc, input, rows, tilesIn);
    Value init = rowsAccumulator(rewriter, loc, adaptor.getAddend(), rows,
                                 type, tilesOut);
    AffineMap codesMap = scheme == llm::QuantScheme::Q8_0
                             ? dimsMap(context, 6, {1, 3, 4, 2, 5})
                             : dimsMap(context, 6, {1, 3, 4, 2});
    auto pairIndexFor = [&](OpBuilder &b, Location loc) {
      return scheme == llm::QuantScheme::Q4_0
                 ? b.create<linalg::IndexOp>(loc, 5).getResult()
                 : Value();
    };
    // Loops: m, nb, ni, kb, kr, kp.
    SmallVector<Value> inputs = {input4, adaptor.getWeight(),
                                 adaptor.getScales()};
    SmallVector<AffineMap> maps = {dimsMap(context, 6, {0, 3, 4, 5}), codesMap,
                                   dimsMap(context, 6, {1, 3, 2})};
    bool i8Inputs = bool(op.getInputType());
    if (i8Inputs) {
      // input_type i8: the inputs quantized per block, then their codes
      // times the weights' codes, each block's sum scaled by both scales.
      auto [inputCodes, inputScales] =
          quantizeInputBlocks(rewriter, loc, input, rows, tilesIn);
      inputs[0] = inputCodes;
      inputs.push_back(inputScales);
      maps.push_back(dimsMap(context, 6, {0, 3}));
    }
    maps.push_back(dimsMap(context, 6, {0, 1, 2}));
    std::string tag = (llm::stringifyQuantScheme(scheme) +
                       (i8Inputs ? "_i8_gemv" : "_gemv"))
                          .str();
    return taggedRowsProduct(
        rewriter, loc, type, inputs, init, maps,
        {kPar, kPar, kPar, kRed, kRed, kRed}, tag,
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
  /// ni, kb, kr, kp] into a [ceil(M/16)*16, out] result (tagged "amx_bf16"),
  /// whose first M rows are the product.
  ///
  /// Quantized weights (codes and scales) take the same loops, the scales
  /// indexed [nb, kb, ni], each weight dequantized and rounded to the input
  /// type in the body; tagged "amx_q8_0" / "amx_q4_0".
  static Value lowerTiledMatmul(llm::LinearOp op, OpAdaptor adaptor,
                                ConversionPatternRewriter &rewriter) {
    Location loc = op.getLoc();
    MLIRContext *context = rewriter.getContext();
    auto type = op.getResult().getType();
    Type elementType = type.getElementType();
    Type inputType = *op.getInputType();
    auto weightType = op.getWeight().getType();
    int64_t tilesOut = weightType.getDimSize(0), tilesIn = weightType.getDimSize(1);
    const int64_t tileRows = llm::kVNNITileRows, depth = llm::kVNNITileDepth;
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
    Value tilesInit =
        empty(rewriter, loc, {rowTiles, index(tilesIn), index(tileRows),
                              index(depth)},
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
          Value inside = b.create<arith::CmpIOp>(
              loc, arith::CmpIPredicate::ult, row, rows);
          Value zeroRow = b.create<arith::ConstantIndexOp>(loc, 0);
          Value safeRow = b.create<arith::SelectOp>(loc, inside, row, zeroRow);
          Value value = b.create<tensor::ExtractOp>(
              loc, input, ValueRange{safeRow, column});
          Value rounded = castFloat(b, loc, value, inputType);
          Value zero =
              b.create<arith::ConstantOp>(loc, b.getFloatAttr(inputType, 0.0));
          b.create<linalg::YieldOp>(
              loc, b.create<arith::SelectOp>(loc, inside, rounded, zero)
                       .getResult());
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
    Value init = filled(rewriter, loc, {paddedRows, index(out)}, elementType,
                        0.0);
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
    llm::QuantScheme scheme = llm::getQuantScheme(weightType);
    SmallVector<Value> operands = {pairs, adaptor.getWeight()};
    SmallVector<AffineMap> maps = {dimsMap(context, 7, {0, 4, 1, 5, 6}),
                                   dimsMap(context, 7, {2, 4, 5, 3, 6})};
    if (scheme != llm::QuantScheme::None) {
      if (scheme == llm::QuantScheme::Q4_0) // no kp: two codes a byte
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
          if (scheme == llm::QuantScheme::None) {
            rhs = castFloat(b, loc, args[1], elementType);
          } else {
            Value pairIndex = b.create<linalg::IndexOp>(loc, 6);
            Value exact = dequantize(b, loc, scheme, args[1], args[2],
                                     pairIndex, elementType);
            rhs = castFloat(b, loc, castFloat(b, loc, exact, inputType),
                            elementType);
          }
          b.create<linalg::YieldOp>(
              loc, multiplyAccumulate(b, loc, {lhs, rhs, args.back()}));
        });
    product->setAttr(
        kMicroKernel,
        rewriter.getStringAttr(
            scheme == llm::QuantScheme::None
                ? std::string("amx_bf16")
                : ("amx_" + llm::stringifyQuantScheme(scheme)).str()));
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
};

struct RopeLowering : OpConversionPattern<llm::RopeOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(llm::RopeOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    MLIRContext *context = rewriter.getContext();
    auto type = op.getResult().getType();
    Type elementType = type.getElementType();
    int64_t headDim = type.getDimSize(2);
    int64_t half = headDim / 2;

    // Inverse frequencies, rescaled by the llama3 rule when present, are
    // compile-time constants of the model.
    double theta = op.getTheta().convertToDouble();
    SmallVector<float> frequencies;
    for (int64_t i = 0; i < half; ++i) {
      double frequency = std::pow(theta, -2.0 * double(i) / double(headDim));
      if (auto scaling = op.getScalingAttr())
        frequency = scaling.scaleInverseFrequency(frequency);
      frequencies.push_back(float(frequency));
    }
    auto tableType = RankedTensorType::get({half}, rewriter.getF32Type());
    Value table = rewriter.create<arith::ConstantOp>(
        loc, DenseElementsAttr::get(tableType, ArrayRef<float>(frequencies)));

    Value input = adaptor.getInput();
    Value startPos = adaptor.getStartPos();
    SmallVector<OpFoldResult> sizes =
        tensor::getMixedSizes(rewriter, loc, input);

    // cos and sin of every (token, pair) angle, computed once for all heads.
    // The angle p * f is formed in f32 as the reference does; it is reduced
    // into [-pi, pi] in f64 before the f32 polynomial, whose own reduction
    // loses ~1e-5 rad at the angles of positions in the hundreds.
    SmallVector<OpFoldResult> angleSizes = {sizes[0],
                                            rewriter.getIndexAttr(half)};
    Type f32 = rewriter.getF32Type();
    Type f64 = rewriter.getF64Type();
    auto anglesType = RankedTensorType::get({type.getDimSize(0), half}, f32);
    auto angles = rewriter.create<linalg::GenericOp>(
        loc, TypeRange{anglesType, anglesType}, ValueRange{table},
        ValueRange{empty(rewriter, loc, angleSizes, f32),
                   empty(rewriter, loc, angleSizes, f32)},
        ArrayRef<AffineMap>{dimsMap(context, 2, {1}), dimsMap(context, 2, {0, 1}),
                            dimsMap(context, 2, {0, 1})},
        ArrayRef<IteratorType>{kPar, kPar},
        [&](OpBuilder &b, Location loc, ValueRange args) {
          Value token = b.create<linalg::IndexOp>(loc, 0);
          Value position = indexToFloat(
              b, loc, b.create<arith::AddIOp>(loc, startPos, token), f32);
          Value angle = b.create<arith::MulFOp>(loc, position, args[0]);
          Value wide = b.create<arith::ExtFOp>(loc, f64, angle);
          Value twoPi =
              b.create<arith::ConstantOp>(loc, b.getF64FloatAttr(2 * M_PI));
          Value turns = b.create<math::RoundEvenOp>(
              loc, b.create<arith::DivFOp>(loc, wide, twoPi));
          Value reduced = b.create<arith::TruncFOp>(
              loc, f32,
              b.create<arith::SubFOp>(
                  loc, wide, b.create<arith::MulFOp>(loc, turns, twoPi)));
          b.create<linalg::YieldOp>(
              loc, ValueRange{b.create<math::CosOp>(loc, reduced),
                              b.create<math::SinOp>(loc, reduced)});
        });
    Value cosTable = angles.getResult(0);
    Value sinTable = angles.getResult(1);

    auto generic = rewriter.create<linalg::GenericOp>(
        loc, type, ValueRange{input},
        ValueRange{empty(rewriter, loc, sizes, elementType)},
        ArrayRef<AffineMap>{dimsMap(context, 3, {0, 1, 2}),
                            dimsMap(context, 3, {0, 1, 2})},
        ArrayRef<IteratorType>{kPar, kPar, kPar},
        [&](OpBuilder &b, Location loc, ValueRange args) {
          Value token = b.create<linalg::IndexOp>(loc, 0);
          Value head = b.create<linalg::IndexOp>(loc, 1);
          Value lane = b.create<linalg::IndexOp>(loc, 2);
          Value halfValue = b.create<arith::ConstantIndexOp>(loc, half);
          // Lane j pairs with j + half (first half) or j - half (second).
          Value inFirstHalf = b.create<arith::CmpIOp>(
              loc, arith::CmpIPredicate::ult, lane, halfValue);
          Value pairIndex = b.create<arith::RemUIOp>(loc, lane, halfValue);
          Value partnerLane = b.create<arith::SelectOp>(
              loc, inFirstHalf, b.create<arith::AddIOp>(loc, lane, halfValue),
              pairIndex);
          Value partner = b.create<tensor::ExtractOp>(
              loc, input, ValueRange{token, head, partnerLane});
          Value rotated = b.create<arith::SelectOp>(
              loc, inFirstHalf, b.create<arith::NegFOp>(loc, partner),
              partner);
          Value cos = castFloat(
              b, loc,
              b.create<tensor::ExtractOp>(loc, cosTable,
                                          ValueRange{token, pairIndex}),
              elementType);
          Value sin = castFloat(
              b, loc,
              b.create<tensor::ExtractOp>(loc, sinTable,
                                          ValueRange{token, pairIndex}),
              elementType);
          Value result = b.create<arith::AddFOp>(
              loc, b.create<arith::MulFOp>(loc, args[0], cos),
              b.create<arith::MulFOp>(loc, rotated, sin));
          b.create<linalg::YieldOp>(loc, result);
        });
    rewriter.replaceOp(op, generic.getResults());
    return success();
  }
};


//===----------------------------------------------------------------------===//
// Prefill attention: one fused kernel with an online softmax
//===----------------------------------------------------------------------===//

/// Prefill attention as one pass over the keys per (token, KV head): the
/// query heads of the group are processed together (they share every key
/// and value load), 16 keys at a time, with a running maximum, sum and
/// weighted sum (the online softmax of flash attention), and only up to the
/// token's causal limit, so nothing is materialized per score and half the
/// products of a square prompt are skipped. Written at buffer level in the
/// vector dialect: the tasks are an scf.forall over (KV head, token) that
/// `llm-outline-tasks` hands to the runtime.
///
/// `keys` and `values` are the visible history [kv, visible, d] (the new
/// rows already appended); the keys are first transposed into a
/// [kv, d, visible rounded up to 16] buffer so that 16 scores are one
/// vector of FMAs. Lanes past the visible keys are masked to -inf before the
/// maximum, and value rows past them are never read.
Value lowerFlashAttention(ConversionPatternRewriter &rewriter, Location loc,
                          RankedTensorType queryType, Value query, Value keys,
                          Value values, Value startPos, Value numTokens,
                          Value visible, int64_t kvHeads, int64_t group,
                          int64_t headDim, double scale) {
  OpBuilder &b = rewriter;
  Type f32 = queryType.getElementType();
  const int64_t lanes = 16, chunks = headDim / lanes;
  auto c = [&](int64_t v) {
    return b.create<arith::ConstantIndexOp>(loc, v).getResult();
  };
  auto memrefOf = [&](Value tensor) {
    auto type = bufferization::getMemRefTypeWithFullyDynamicLayout(
        cast<TensorType>(tensor.getType()));
    return b.create<bufferization::ToMemrefOp>(loc, type, tensor, true)
        .getResult();
  };
  // A view of `memref` with a static unit innermost stride, which vector
  // loads need. Kernel arguments carry dynamic strides; the rows of q, of
  // the caches and of our own buffers are contiguous by construction, and
  // an assertion says so at run time.
  auto unitInnerStride = [&](Value memref) {
    auto type = cast<MemRefType>(memref.getType());
    int64_t rank = type.getRank();
    auto metadata = b.create<memref::ExtractStridedMetadataOp>(loc, memref);
    Value unit = b.create<arith::CmpIOp>(loc, arith::CmpIPredicate::eq,
                                         metadata.getStrides().back(), c(1));
    b.create<cf::AssertOp>(
        loc, unit, "llm.attention: rows of q, K and V must be contiguous");
    SmallVector<int64_t> strides(rank - 1, ShapedType::kDynamic);
    strides.push_back(1);
    auto viewType = MemRefType::get(
        type.getShape(), f32,
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

  Value q = unitInnerStride(memrefOf(query));
  Value v = unitInnerStride(memrefOf(values));
  // Prefill transposes the keys once ([kv, d, padded visible]) so that 16
  // scores are one vector of FMAs; a single token (decode) reads the key
  // rows as they are and reduces each dot product horizontally, which costs
  // less than transposing the whole history on every step.
  const bool transposeKeys =
      queryType.isDynamicDim(0) || queryType.getDimSize(0) > 1;
  Value k = memrefOf(keys);
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
    b.create<linalg::TransposeOp>(loc, k, keysTVisible,
                                  ArrayRef<int64_t>{0, 2, 1});
  }

  auto outType = MemRefType::get(queryType.getShape(), f32);
  SmallVector<Value> dynamicSizes;
  if (queryType.isDynamicDim(0))
    dynamicSizes.push_back(numTokens);
  Value out = b.create<memref::AllocOp>(loc, outType, dynamicSizes,
                                        b.getI64IntegerAttr(64));

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
          Value row = b.create<arith::AddIOp>(loc, first, i);
          SmallVector<Value> keyChunks;
          for (int64_t j = 0; j < chunks; ++j)
            keyChunks.push_back(b.create<vector::LoadOp>(
                loc, vecType, keyRows, ValueRange{head, row, c(j * lanes)}));
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
        Value row = b.create<arith::AddIOp>(loc, first, i);
        SmallVector<Value> valueChunks;
        for (int64_t j = 0; j < chunks; ++j)
          valueChunks.push_back(b.create<vector::LoadOp>(
              loc, vecType, v, ValueRange{head, row, c(j * lanes)}));
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
  return b.create<bufferization::ToTensorOp>(loc, queryType, out,
                                             /*restrict=*/true,
                                             /*writable=*/true);
}

struct AttentionLowering : OpConversionPattern<llm::AttentionOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(llm::AttentionOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    MLIRContext *context = rewriter.getContext();
    auto queryType = op.getQuery().getType();
    auto cacheType = op.getKeyCache().getType();
    Type elementType = queryType.getElementType();
    if (cacheType.getElementType() != elementType)
      return rewriter.notifyMatchFailure(
          op, "cache element type differs from the activations");
    int64_t queryHeads = queryType.getDimSize(1);
    int64_t headDim = queryType.getDimSize(2);
    int64_t kvHeads = cacheType.getDimSize(1);
    int64_t group = queryHeads / kvHeads;
    int64_t layer = op.getLayer();
    double scale = op.getScale().convertToDouble();

    Value startPos = adaptor.getStartPos();
    OpFoldResult numTokens =
        tensor::getMixedSize(rewriter, loc, adaptor.getQuery(), 0);
    Value numTokensValue =
        getValueOrCreateConstantIndexOp(rewriter, loc, numTokens);
    auto index = [&](int64_t v) -> OpFoldResult {
      return rewriter.getIndexAttr(v);
    };

    // 1. Append the new keys/values to this layer's cache rows
    //    [start_pos, start_pos + n): [n, kv, d] -> [kv, n, d] -> cache slot.
    auto append = [&](Value cache, Value rows) {
      Value transposed =
          rewriter
              .create<linalg::TransposeOp>(
                  loc, rows,
                  empty(rewriter, loc, {index(kvHeads), numTokens, index(headDim)},
                        elementType),
                  ArrayRef<int64_t>{1, 0, 2})
              .getResult()[0];
      return rewriter.create<tensor::InsertSliceOp>(
          loc, transposed, cache,
          ArrayRef<OpFoldResult>{index(layer), index(0), startPos, index(0)},
          ArrayRef<OpFoldResult>{index(1), index(kvHeads), numTokens,
                                 index(headDim)},
          ArrayRef<OpFoldResult>{index(1), index(1), index(1), index(1)});
    };
    Value newKeyCache = append(adaptor.getKeyCache(), adaptor.getKey());
    Value newValueCache = append(adaptor.getValueCache(), adaptor.getValue());

    // 2. The visible history: rows [0, start_pos + n) of this layer.
    Value visibleValue =
        rewriter.create<arith::AddIOp>(loc, startPos, numTokensValue);
    OpFoldResult visible = visibleValue;
    auto history = [&](Value cache) {
      auto sliceType = RankedTensorType::get(
          {kvHeads, ShapedType::kDynamic, headDim}, elementType);
      return rewriter.create<tensor::ExtractSliceOp>(
          loc, sliceType, cache,
          ArrayRef<OpFoldResult>{index(layer), index(0), index(0), index(0)},
          ArrayRef<OpFoldResult>{index(1), index(kvHeads), visible,
                                 index(headDim)},
          ArrayRef<OpFoldResult>{index(1), index(1), index(1), index(1)});
    };
    Value keys = history(newKeyCache);
    Value values = history(newValueCache);

    // The fused kernel, for prefill and decode alike.
    if (headDim % 16 == 0 && elementType.isF32()) {
      Value output = lowerFlashAttention(
          rewriter, loc, queryType, adaptor.getQuery(), keys, values, startPos,
          numTokensValue, visibleValue, kvHeads, group, headDim, scale);
      rewriter.replaceOp(op, {output, newKeyCache, newValueCache});
      return success();
    }

    // 3. Query heads grouped by the KV head they share: [n, kv, g, d].
    auto groupedType = RankedTensorType::get(
        {queryType.getDimSize(0), kvHeads, group, headDim}, elementType);
    Value query = rewriter.create<tensor::ExpandShapeOp>(
        loc, groupedType, adaptor.getQuery(),
        SmallVector<ReassociationIndices>{{0}, {1, 2}, {3}},
        ArrayRef<OpFoldResult>{numTokens, index(kvHeads), index(group),
                               index(headDim)});

    // 4. scores[kv, g, i, t] = sum_d q[i, kv, g, d] * K[kv, t, d].
    SmallVector<OpFoldResult> scoreSizes = {index(kvHeads), index(group),
                                            numTokens, visible};
    Value scoresInit = filled(rewriter, loc, scoreSizes, elementType, 0.0);
    Value scores = generic(rewriter, loc, {query, keys}, scoresInit,
                           {dimsMap(context, 5, {2, 0, 1, 4}),
                            dimsMap(context, 5, {0, 3, 4}),
                            dimsMap(context, 5, {0, 1, 2, 3})},
                           {kPar, kPar, kPar, kPar, kRed}, multiplyAccumulate);

    // Causal mask: token i (absolute position start_pos + i) sees t <= it.
    auto isVisible = [&](OpBuilder &b, Location loc) {
      Value token = b.create<linalg::IndexOp>(loc, 2);
      Value t = b.create<linalg::IndexOp>(loc, 3);
      Value position = b.create<arith::AddIOp>(loc, startPos, token);
      return b.create<arith::CmpIOp>(loc, arith::CmpIPredicate::ule, t,
                                     position);
    };
    auto scaleConstant = [&](OpBuilder &b, Location loc) {
      return b.create<arith::ConstantOp>(loc,
                                         b.getFloatAttr(elementType, scale));
    };
    AffineMap rowMap = dimsMap(context, 4, {0, 1, 2});
    AffineMap scoreMap = dimsMap(context, 4, {0, 1, 2, 3});
    SmallVector<OpFoldResult> rowSizes = {index(kvHeads), index(group),
                                          numTokens};

    // 5. Row maxima of the scaled, masked scores.
    Value maxInit = filled(rewriter, loc, rowSizes, elementType,
                           -std::numeric_limits<double>::infinity());
    Value maxima = generic(
        rewriter, loc, {scores}, maxInit, {scoreMap, rowMap},
        {kPar, kPar, kPar, kRed},
        [&](OpBuilder &b, Location loc, ValueRange args) -> Value {
          Value scaled =
              b.create<arith::MulFOp>(loc, args[0], scaleConstant(b, loc));
          Value larger = b.create<arith::MaximumFOp>(loc, args[1], scaled);
          return b.create<arith::SelectOp>(loc, isVisible(b, loc), larger,
                                           args[1]);
        });

    // 6. Unnormalized probabilities exp(s * scale - max), 0 where masked.
    Value weights = generic(
        rewriter, loc, {scores, maxima},
        empty(rewriter, loc, scoreSizes, elementType),
        {scoreMap, rowMap, scoreMap}, {kPar, kPar, kPar, kPar},
        [&](OpBuilder &b, Location loc, ValueRange args) -> Value {
          Value scaled =
              b.create<arith::MulFOp>(loc, args[0], scaleConstant(b, loc));
          Value shifted = b.create<arith::SubFOp>(loc, scaled, args[1]);
          Value weight = b.create<math::ExpOp>(loc, shifted);
          Value zero = b.create<arith::ConstantOp>(
              loc, b.getFloatAttr(elementType, 0.0));
          return b.create<arith::SelectOp>(loc, isVisible(b, loc), weight,
                                           zero);
        });

    // 7. Row sums of the weights.
    Value sumInit = filled(rewriter, loc, rowSizes, elementType, 0.0);
    Value sums = generic(
        rewriter, loc, {weights}, sumInit, {scoreMap, rowMap},
        {kPar, kPar, kPar, kRed},
        [](OpBuilder &b, Location loc, ValueRange args) -> Value {
          return b.create<arith::AddFOp>(loc, args[1], args[0]);
        });

    // 8. out[i, kv, g, d] = sum_t w[kv, g, i, t] * V[kv, t, d] / sum[kv, g, i].
    SmallVector<OpFoldResult> outSizes = {numTokens, index(kvHeads),
                                          index(group), index(headDim)};
    Value outInit = filled(rewriter, loc, outSizes, elementType, 0.0);
    Value weighted;
    if (ShapedType::isDynamic(queryType.getDimSize(0))) {
      // Prefill: V's history transposed to [kv, d, t] once, so that the sum
      // over t reads both operands contiguously and becomes a vectorized,
      // register-blocked dot product (llm-reductions-to-loops).
      Value transposed =
          rewriter
              .create<linalg::TransposeOp>(
                  loc, values,
                  empty(rewriter, loc, {index(kvHeads), index(headDim), visible},
                        elementType),
                  ArrayRef<int64_t>{0, 2, 1})
              .getResult()[0];
      weighted = generic(rewriter, loc, {weights, transposed}, outInit,
                         {dimsMap(context, 5, {1, 2, 0, 4}),
                          dimsMap(context, 5, {1, 3, 4}),
                          dimsMap(context, 5, {0, 1, 2, 3})},
                         {kPar, kPar, kPar, kPar, kRed}, multiplyAccumulate);
    } else {
      // Decode: transposing the whole history for one token would cost more
      // than it saves. Loops (i, kv, g, t, d): each history row of V is read
      // contiguously and accumulated into the output row.
      weighted = generic(rewriter, loc, {weights, values}, outInit,
                         {dimsMap(context, 5, {1, 2, 0, 3}),
                          dimsMap(context, 5, {1, 3, 4}),
                          dimsMap(context, 5, {0, 1, 2, 4})},
                         {kPar, kPar, kPar, kRed, kPar}, multiplyAccumulate);
    }
    Value normalized = generic(
        rewriter, loc, {weighted, sums},
        empty(rewriter, loc, outSizes, elementType),
        {dimsMap(context, 4, {0, 1, 2, 3}), dimsMap(context, 4, {1, 2, 0}),
         dimsMap(context, 4, {0, 1, 2, 3})},
        {kPar, kPar, kPar, kPar},
        [](OpBuilder &b, Location loc, ValueRange args) -> Value {
          return b.create<arith::DivFOp>(loc, args[0], args[1]);
        });
    Value output = rewriter.create<tensor::CollapseShapeOp>(
        loc, queryType, normalized,
        SmallVector<ReassociationIndices>{{0}, {1, 2}, {3}});
    rewriter.replaceOp(op, {output, newKeyCache, newValueCache});
    return success();
  }
};

/// Elementwise ops: one parallel linalg.generic over all dimensions.
template <typename OpTy>
struct ElementwiseLowering : OpConversionPattern<OpTy> {
  using OpConversionPattern<OpTy>::OpConversionPattern;
  using OpAdaptor = typename OpConversionPattern<OpTy>::OpAdaptor;

  static Value compute(OpBuilder &b, Location loc, ValueRange args);

  LogicalResult
  matchAndRewrite(OpTy op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    auto type = cast<RankedTensorType>(op.getResult().getType());
    ValueRange operands = adaptor.getOperands();
    unsigned rank = type.getRank();
    AffineMap identity = rewriter.getMultiDimIdentityMap(rank);
    SmallVector<AffineMap> maps(operands.size() + 1, identity);
    SmallVector<IteratorType> iterators(rank, kPar);
    Value init = empty(rewriter, loc,
                       tensor::getMixedSizes(rewriter, loc, operands[0]),
                       type.getElementType());
    auto generic = rewriter.create<linalg::GenericOp>(
        loc, type, operands, ValueRange{init}, maps, iterators,
        [&](OpBuilder &b, Location loc, ValueRange args) {
          b.create<linalg::YieldOp>(
              loc, compute(b, loc, args.drop_back()));
        });
    rewriter.replaceOp(op, generic.getResults());
    return success();
  }
};

template <>
Value ElementwiseLowering<llm::SiLUOp>::compute(OpBuilder &b, Location loc,
                                                ValueRange args) {
  // x / (1 + exp(-x)), as the reference writes it.
  Value x = args[0];
  Value one = b.create<arith::ConstantOp>(loc, b.getFloatAttr(x.getType(), 1.0));
  Value denominator = b.create<arith::AddFOp>(
      loc, one, b.create<math::ExpOp>(loc, b.create<arith::NegFOp>(loc, x)));
  return b.create<arith::DivFOp>(loc, x, denominator);
}

template <>
Value ElementwiseLowering<llm::MulOp>::compute(OpBuilder &b, Location loc,
                                               ValueRange args) {
  return b.create<arith::MulFOp>(loc, args[0], args[1]);
}

template <>
Value ElementwiseLowering<llm::SiLUMulOp>::compute(OpBuilder &b, Location loc,
                                                   ValueRange args) {
  Value activated = ElementwiseLowering<llm::SiLUOp>::compute(b, loc, args[0]);
  return b.create<arith::MulFOp>(loc, activated, args[1]);
}

template <>
Value ElementwiseLowering<llm::AddOp>::compute(OpBuilder &b, Location loc,
                                               ValueRange args) {
  return b.create<arith::AddFOp>(loc, args[0], args[1]);
}

struct LLMToLinalgPass
    : public llamac::impl::LLMToLinalgPassBase<LLMToLinalgPass> {
  void runOnOperation() override {
    MLIRContext *context = &getContext();
    ConversionTarget target(*context);
    target.addLegalDialect<arith::ArithDialect, linalg::LinalgDialect,
                           math::MathDialect, tensor::TensorDialect,
                           bufferization::BufferizationDialect,
                           cf::ControlFlowDialect, memref::MemRefDialect,
                           scf::SCFDialect, vector::VectorDialect>();
    target.addIllegalDialect<llm::LLMDialect>();
    // Weights are bound to the artifact's buffer by llm-lower-entry-abi.
    target.addLegalOp<llm::ParamOp>();
    target.markUnknownOpDynamicallyLegal([](Operation *) { return true; });

    RewritePatternSet patterns(context);
    populateLLMToLinalgPatterns(patterns);
    if (failed(applyPartialConversion(getOperation(), target,
                                      std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace

void llamac::populateLLMToLinalgPatterns(RewritePatternSet &patterns) {
  patterns.add<EmbedLowering, RMSNormLowering, LinearLowering, RopeLowering,
               AttentionLowering, ElementwiseLowering<llm::SiLUOp>,
               ElementwiseLowering<llm::MulOp>,
               ElementwiseLowering<llm::SiLUMulOp>,
               ElementwiseLowering<llm::AddOp>>(patterns.getContext());
}
