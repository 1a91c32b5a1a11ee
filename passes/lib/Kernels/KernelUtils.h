//===- KernelUtils.h - What the micro-kernel lowerings share --------------===//
//
// The micro-kernels (one file per family in this folder) are generated on
// buffers from the tagged linalg.generic llm-to-linalg made: views of
// blocks as the AMX and vector ops want them, index arithmetic, the
// run-time contiguity guard with the op itself as fallback, and the loops
// the GEMV families share.
//
//===----------------------------------------------------------------------===//
#ifndef LLAMAC_PASSES_KERNELS_KERNELUTILS_H
#define LLAMAC_PASSES_KERNELS_KERNELUTILS_H

#include "llamac/IR/LLMDialect.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/Builders.h"

namespace llamac::kernels {

// This folder's own namespace: the kernels are written in MLIR's terms.
using mlir::ArrayRef;
using mlir::Location;
using mlir::OpBuilder;
using mlir::SmallVector;
using mlir::Value;
namespace arith = mlir::arith;
namespace memref = mlir::memref;

using artifact::WeightLayout;
/// Rows (and f32 columns) of a tile, bf16 columns of an input or weight
/// tile, weight streams per GEMV iteration.
inline constexpr int64_t kTile = WeightLayout::kTileRows;
inline constexpr int64_t kDepth = WeightLayout::kTileDepth;
inline constexpr int64_t kGemvGroup = 4;

/// Base buffer, offset and strides of a strided memref.
struct Strided {
  Value base, offset;
  SmallVector<Value> strides;
  SmallVector<Value> sizes;

  static Strided of(OpBuilder &b, Location loc, Value memref) {
    auto metadata = b.create<memref::ExtractStridedMetadataOp>(loc, memref);
    Strided s;
    s.base = metadata.getBaseBuffer();
    s.offset = metadata.getOffset();
    s.strides.assign(metadata.getStrides().begin(),
                     metadata.getStrides().end());
    s.sizes.assign(metadata.getSizes().begin(), metadata.getSizes().end());
    return s;
  }
};

/// Index arithmetic helpers.
struct IndexMath {
  OpBuilder &b;
  Location loc;
  Value c(int64_t value) {
    return b.create<arith::ConstantIndexOp>(loc, value);
  }
  Value add(Value x, Value y) { return b.create<arith::AddIOp>(loc, x, y); }
  Value mul(Value x, Value y) { return b.create<arith::MulIOp>(loc, x, y); }
  Value eq(Value x, int64_t value) {
    return b.create<arith::CmpIOp>(loc, arith::CmpIPredicate::eq, x, c(value));
  }
  Value all(ArrayRef<Value> conditions) {
    Value result = conditions.front();
    for (Value condition : conditions.drop_front())
      result = b.create<arith::AndIOp>(loc, result, condition);
    return result;
  }
  /// offset + sum(index_i * stride_i)
  Value at(Value offset, ArrayRef<std::pair<Value, Value>> terms) {
    Value result = offset;
    for (auto [index, stride] : terms)
      result = add(result, mul(index, stride));
    return result;
  }
};


/// A `rows x columns` view at `offset` of `base` whose rows are `rowStride`
/// elements apart (innermost size = row stride, as the AMX lowering wants).
mlir::Value tileView(mlir::OpBuilder &b, mlir::Location loc, mlir::Value base,
                     mlir::Value offset, int64_t rows,
                     mlir::OpFoldResult rowStride);

/// A 1-D view of `size` contiguous elements at `offset` of `base`.
mlir::Value vectorView(mlir::OpBuilder &b, mlir::Location loc,
                       mlir::Value base, mlir::Value offset, int64_t size);

/// Replaces `op` by `if (contiguous) { build() } else { op untagged }`.
void guard(mlir::OpBuilder &b, mlir::linalg::GenericOp op,
           mlir::Value contiguous,
           llvm::function_ref<void(mlir::OpBuilder &, mlir::Location)> build);

/// A size in an OperandSpec's shape: any size (dynamic allowed), or any
/// static size.
inline constexpr int64_t kAnySize = -1;
inline constexpr int64_t kStaticSize = -2;

/// What one operand (an input, or the result buffer) of a tagged product
/// must be.
struct OperandSpec {
  artifact::ElementType element;
  /// Sizes, kAnySize or kStaticSize per dimension.
  llvm::SmallVector<int64_t, 5> shape;
  /// Trailing dimensions whose data must be contiguous, checked at run
  /// time: each one's stride is the element count of the dimensions after
  /// it (which must have sizes in `shape`).
  unsigned contiguousDims = 0;
};

/// bf16 input tiles A[mb, kb, mi, kr, kp] (kb static, each tile
/// contiguous), what llm-to-linalg packs prefill's rows into when a product
/// has bf16 input_type.
OperandSpec inputTilesSpec();
/// The f32 accumulators C[mb, mi, nb, ni] of a tile product (rows of 16
/// contiguous floats).
OperandSpec accumulatorTilesSpec();
/// The operands of a product of bf16 tiles: input tiles, weight tiles
/// W[nb, kb, kr, ni, kp] (each contiguous) and the accumulators; and their
/// shapes in words, for diagnostics.
llvm::SmallVector<OperandSpec> bf16TileProductSpecs();
inline constexpr llvm::StringLiteral kBF16TileProductShapes =
    "bf16 [mb, kb, 16, 16, 2], [nb, kb, 16, 16, 2] tiles and an f32 "
    "[mb, 16, nb, 16] result";

/// The codes of quantized weight tiles: i8 [nb, kb, 16, 16, 2] (Q8_0) or
/// [nb, kb, 16, 16] (Q4_0, two codes a byte) with a static kb; and their
/// f16 [nb, kb, 16] scales.
OperandSpec quantCodesSpec(bool q4);
OperandSpec quantScalesSpec();
/// The codes' shape in words, for diagnostics.
llvm::StringRef quantCodesShape(bool q4);

/// Succeeds when `op` is a bufferized product over `loops` loops whose
/// operands (its inputs, then its one result) are what `specs` say;
/// otherwise emits "tagged KIND but not a bufferized N-loop product of
/// WHAT" or "tagged KIND but its operands are not DESCRIPTION".
mlir::LogicalResult matchProductOperands(mlir::linalg::GenericOp op,
                                         llm::MicroKernelAttr kernel,
                                         unsigned loops, llvm::StringRef what,
                                         llvm::ArrayRef<OperandSpec> specs,
                                         const llvm::Twine &description);

/// The operands of a matched product at `op`: their strided metadata and
/// types, and the run-time condition that their specs' trailing dimensions
/// are contiguous.
struct ProductOperands {
  llvm::SmallVector<Strided> strided;
  llvm::SmallVector<mlir::MemRefType> types;
  mlir::Value contiguous;
};
ProductOperands bindProductOperands(mlir::OpBuilder &b,
                                    mlir::linalg::GenericOp op,
                                    llvm::ArrayRef<OperandSpec> specs);

/// Offset of tile [nb, kb] of weight tiles (or of a scales row) `s`.
mlir::Value tileOffset(IndexMath &m, const Strided &s, mlir::Value nb,
                       mlir::Value kb);
/// The 16 f16 scales of block [nb, kb], widened to f32.
mlir::Value loadBlockScales(mlir::OpBuilder &b, mlir::Location loc,
                            const Strided &scales, mlir::Value nb,
                            mlir::Value kb);

/// The f32 inputs 2kr and 2kr + 1 of a 32-input block, each broadcast to
/// a vector of `type`: what the even and odd halves of a pair row multiply.
std::pair<mlir::Value, mlir::Value>
broadcastInputPair(mlir::OpBuilder &b, mlir::Location loc, mlir::Value inputs,
                   int64_t kr, mlir::VectorType type);

/// The loops every GEMV kernel runs: each input row, its output tiles in
/// groups of kGemvGroup (one weight stream each), then the remaining tiles
/// one at a time. `emitGroup` generates the body for a group of the given
/// size starting at output tile `nb`; `beginRow`, if any, what each row
/// computes once before its groups.
void emitRowsInGroups(
    mlir::OpBuilder &b, mlir::Location loc, mlir::Value rows,
    mlir::Value outTiles,
    llvm::function_ref<void(mlir::OpBuilder &, mlir::Value row,
                            mlir::Value nb, int64_t group)>
        emitGroup,
    llvm::function_ref<void(mlir::OpBuilder &, mlir::Value row)> beginRow =
        nullptr);

/// Views of the output tiles y[row, nb + g], g < group.
llvm::SmallVector<mlir::Value> outputTileViews(mlir::OpBuilder &b,
                                               mlir::Location loc,
                                               const Strided &y,
                                               mlir::Value row, mlir::Value nb,
                                               int64_t group);

/// An scf.for over the `depthTiles` reduction tiles carrying `init`; `body`
/// updates the carried values for tile `kb`. Returns their final values.
llvm::SmallVector<mlir::Value> emitDepthLoop(
    mlir::OpBuilder &b, mlir::Location loc, int64_t depthTiles,
    mlir::ValueRange init,
    llvm::function_ref<void(mlir::OpBuilder &, mlir::Value kb,
                            llvm::SmallVectorImpl<mlir::Value> &)>
        body);

/// y[row, nb .. nb+group) += what `body` accumulates over the reduction
/// tiles, one f32 vector per output tile, starting from y's values.
void emitAccumulateRow(
    mlir::OpBuilder &b, mlir::Location loc, const Strided &y, mlir::Value row,
    mlir::Value nb, int64_t group, int64_t depthTiles,
    llvm::function_ref<void(mlir::OpBuilder &, mlir::Value kb,
                            llvm::SmallVectorImpl<mlir::Value> &)>
        body);

/// Checks a kind's tuning against the product's reduction tiles (emitting
/// why it does not fit).
using TuningCheck = llvm::function_ref<mlir::LogicalResult(int64_t depthTiles)>;

/// What the bf16 tile kernels share to lower a tagged product: match its
/// operands (bf16TileProductSpecs), check the tuning, bind the operands and
/// replace the op by `emit` behind the contiguity guard. `emit` gets the
/// bound input tiles, weight tiles and accumulators and the reduction
/// tiles.
mlir::LogicalResult lowerBF16TileProduct(
    mlir::linalg::GenericOp op, llm::MicroKernelAttr config,
    TuningCheck checkTuning,
    llvm::function_ref<void(mlir::OpBuilder &, mlir::Location,
                            const ProductOperands &, int64_t depthTiles)>
        emit);

/// Quantized weight tiles multiplied by a bf16 tile kernel a panel at a
/// time: a panel of `panelTiles` output tiles (all of the reduction) is
/// dequantized and rounded to bf16 into a scratch buffer laid out as bf16
/// weight tiles, then reused by every input row, so the dequantization costs
/// one pass over the codes per product and the codes (half or a quarter of
/// bf16's bytes) are what is read from memory.
struct DequantizedPanels {
  bool q4 = false;
  /// Input tiles, codes, scales and accumulators (outputs [mb, mi, nb, ni]).
  Strided inputs, codes, scales, outputs;
  mlir::Value outTiles;
  int64_t depthTiles = 0, panelTiles = 0;

  /// A bf16 tile kernel multiplying `inputs` by weight tiles `panel` (its
  /// strides 0 and 1 set) into `outputs`: `count` output tiles,
  /// `depthTiles` reduction tiles.
  using Multiply = llvm::function_ref<void(
      mlir::OpBuilder &, mlir::Location, const Strided &inputs,
      const Strided &panel, const Strided &outputs, mlir::Value count,
      int64_t depthTiles)>;

  /// For each panel of about 512 KiB of bf16 tiles (a multiple of
  /// `tileMultiple` output tiles): dequantizes it into the scratch buffer,
  /// then `multiply` on it and the panel's outputs.
  void emit(mlir::OpBuilder &b, mlir::Location loc, Multiply multiply) const;

  /// What the quantized tile kernels share to lower a tagged product: match
  /// its operands (input tiles, codes, scales, accumulators; codes with as
  /// many reduction tiles as the inputs), check the tuning, bind the
  /// operands and replace the op by the panels behind the contiguity guard.
  static mlir::LogicalResult lower(mlir::linalg::GenericOp op,
                                   llm::MicroKernelAttr config, bool q4,
                                   int64_t tileMultiple,
                                   TuningCheck checkTuning, Multiply multiply);

private:
  /// scratch[t, kb] = bf16(dequantized codes tile [nb, kb]) for every kb.
  void emitDequantize(mlir::OpBuilder &b, mlir::Location loc, mlir::Value nb,
                      mlir::Value scratch, mlir::Value t) const;
};

/// What both quantized GEMVs read and write: inputs X[m, kb, 16, 2] (f32,
/// or i8 codes), weight codes and scales and the f32 result Y[m, nb, 16].
struct QuantGemvOperands {
  bool q4 = false;
  Strided x, w, s, y;
  mlir::Value rows, outTiles;
  int64_t depthTiles = 0;

  /// The specs of X (of `inputs` elements), the codes, the scales and Y.
  static llvm::SmallVector<OperandSpec>
  specs(bool q4, artifact::ElementType inputs);
  /// Takes the bound operands in the order of specs() (`extra` operands
  /// between the scales and Y are the caller's).
  void bind(bool scheme4, const ProductOperands &operands);
};

} // namespace llamac::kernels

#endif // LLAMAC_PASSES_KERNELS_KERNELUTILS_H
