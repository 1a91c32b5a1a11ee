//===- LoweringUtils.cpp - Builders shared by the llm -> linalg patterns --===//
#include "LoweringUtils.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

using namespace mlir;

namespace llamac::to_linalg {

Value castFloat(OpBuilder &b, Location loc, Value value, Type type) {
  Type from = value.getType();
  if (from == type)
    return value;
  if (from.getIntOrFloatBitWidth() < type.getIntOrFloatBitWidth())
    return b.create<arith::ExtFOp>(loc, type, value);
  return b.create<arith::TruncFOp>(loc, type, value);
}

Value roundToStorage(OpBuilder &b, Location loc, Value value, Type type) {
  if (!type.isBF16())
    return castFloat(b, loc, value, type);
  // bf16 keeps the upper half of the f32 bits: add 0x7fff and the lowest
  // kept bit (so that a tie goes to the even side), then drop the lower
  // half; a NaN stays a (quiet) NaN instead of carrying into the exponent.
  Type i32 = b.getI32Type(), i16 = b.getI16Type();
  auto constant = [&](int64_t v) {
    return b.create<arith::ConstantOp>(loc, b.getIntegerAttr(i32, v));
  };
  Value bits = b.create<arith::BitcastOp>(loc, i32, value);
  Value upper = b.create<arith::ShRUIOp>(loc, bits, constant(16));
  Value lowestKept = b.create<arith::AndIOp>(loc, upper, constant(1));
  Value rounded = b.create<arith::AddIOp>(
      loc, bits, b.create<arith::AddIOp>(loc, constant(0x7fff), lowestKept));
  Value roundedUpper = b.create<arith::ShRUIOp>(loc, rounded, constant(16));
  Value quietNaN = b.create<arith::OrIOp>(loc, upper, constant(0x40));
  Value isNaN = b.create<arith::CmpFOp>(loc, arith::CmpFPredicate::UNO, value,
                                        value);
  Value kept = b.create<arith::SelectOp>(loc, isNaN, quietNaN, roundedUpper);
  return b.create<arith::BitcastOp>(
      loc, type, b.create<arith::TruncIOp>(loc, i16, kept));
}

Value empty(OpBuilder &b, Location loc, ArrayRef<OpFoldResult> sizes,
            Type elementType) {
  return b.create<tensor::EmptyOp>(loc, sizes, elementType);
}

Value filled(OpBuilder &b, Location loc, ArrayRef<OpFoldResult> sizes,
             Type elementType, double value) {
  Value init = empty(b, loc, sizes, elementType);
  Value constant = b.create<arith::ConstantOp>(
      loc, b.getFloatAttr(elementType, value));
  return b.create<linalg::FillOp>(loc, constant, init).getResult(0);
}

AffineMap dimsMap(MLIRContext *context, unsigned numDims,
                  ArrayRef<unsigned> dims) {
  SmallVector<AffineExpr> exprs;
  for (unsigned dim : dims)
    exprs.push_back(getAffineDimExpr(dim, context));
  return AffineMap::get(numDims, 0, exprs, context);
}

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

Value multiplyAccumulate(OpBuilder &b, Location loc, ValueRange args) {
  Value product = b.create<arith::MulFOp>(loc, args[0], args[1]);
  return b.create<arith::AddFOp>(loc, args[2], product);
}

Value indexToFloat(OpBuilder &b, Location loc, Value index, Type floatType) {
  Value asInt = b.create<arith::IndexCastOp>(loc, b.getI64Type(), index);
  return b.create<arith::UIToFPOp>(loc, floatType, asInt);
}

SmallVector<Value> matrixElementIndices(OpBuilder &b, Location loc,
                                        llm::WeightLayoutAttr layout,
                                        Value row, Value column) {
  if (!layout)
    return {row, column};
  auto constant = [&](int64_t value) {
    return b.create<arith::ConstantIndexOp>(loc, value).getResult();
  };
  artifact::WeightLayout stored = layout.getLayout();
  Value rows = constant(stored.blockRows());
  // Panels: [nb, k, ni].
  if (stored.kind == artifact::LayoutKind::Panels)
    return {b.create<arith::DivUIOp>(loc, row, rows), column,
            b.create<arith::RemUIOp>(loc, row, rows)};
  // Tiles: [nb, kb, kr, ni, kp] with kb, kr, kp from the column.
  Value depth = constant(stored.blockDepth());
  Value two = constant(2);
  Value inTile = b.create<arith::RemUIOp>(loc, column, depth);
  return {b.create<arith::DivUIOp>(loc, row, rows),
          b.create<arith::DivUIOp>(loc, column, depth),
          b.create<arith::DivUIOp>(loc, inTile, two),
          b.create<arith::RemUIOp>(loc, row, rows),
          b.create<arith::RemUIOp>(loc, inTile, two)};
}

Value dequantize(OpBuilder &b, Location loc, artifact::QuantScheme scheme,
                 Value code, Value scale, Value pairIndex, Type floatType) {
  Value q;
  if (scheme == artifact::QuantScheme::Q8_0) {
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

} // namespace llamac::to_linalg
