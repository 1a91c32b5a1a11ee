//===- LLMOps.cpp - llm dialect operations --------------------------------===//
//
// Verifiers. Each one checks what the op's semantics rely on and names the
// offending operand and the sizes involved, so that a wrong graph is reported
// where it is built instead of miscompiling later.
//
//===----------------------------------------------------------------------===//
#include "llamac/IR/LLMOps.h"

#include "mlir/IR/Builders.h"
#include "llvm/ADT/MapVector.h"
#include "mlir/IR/OpImplementation.h"

#include <cmath>

using namespace mlir;
using namespace llamac::llm;

#define GET_OP_CLASSES
#include "llamac/IR/LLMOps.cpp.inc"

namespace {
/// True when two dimension sizes can describe the same runtime size.
bool dimsCompatible(int64_t a, int64_t b) {
  return ShapedType::isDynamic(a) || ShapedType::isDynamic(b) || a == b;
}

/// Prints a dimension size, `?` for dynamic.
std::string dimToString(int64_t dim) {
  return ShapedType::isDynamic(dim) ? "?" : std::to_string(dim);
}

bool isPositiveFinite(double value) { return std::isfinite(value) && value > 0; }

/// Checks that `scales` is present exactly when `weight` holds quantized
/// codes, and that it has their [nb, kb, 16] shape.
LogicalResult verifyScales(Operation *op, RankedTensorType weight,
                           Value scales) {
  bool quantized =
      llamac::llm::getQuantScheme(weight) != llamac::llm::QuantScheme::None;
  if (!quantized && scales)
    return op->emitOpError("has scales but its weight ")
           << weight << " holds no quantized codes";
  if (quantized && !scales)
    return op->emitOpError("has quantized codes ")
           << weight << " but no scales";
  if (quantized) {
    auto expected = llamac::llm::getQuantScalesType(weight);
    if (scales.getType() != expected)
      return op->emitOpError("scales must be ")
             << expected << " for codes " << weight << ", got "
             << scales.getType();
  }
  return success();
}
} // namespace

bool llamac::llm::isVNNITiled(RankedTensorType type) {
  return type.getRank() == 5 && type.getElementType().isBF16() &&
         type.getDimSize(2) == kVNNITileDepth / 2 &&
         type.getDimSize(3) == kVNNITileRows && type.getDimSize(4) == 2;
}

bool llamac::llm::isF32Paneled(RankedTensorType type) {
  return type.getRank() == 3 && type.getElementType().isF32() &&
         type.getDimSize(2) == kF32PanelWidth;
}

QuantScheme llamac::llm::getQuantScheme(RankedTensorType type) {
  if (!type.getElementType().isInteger(8) || type.getRank() < 4 ||
      type.getDimSize(2) != kVNNITileDepth / 2 ||
      type.getDimSize(3) != kVNNITileRows)
    return QuantScheme::None;
  if (type.getRank() == 5 && type.getDimSize(4) == 2)
    return QuantScheme::Q8_0;
  if (type.getRank() == 4)
    return QuantScheme::Q4_0;
  return QuantScheme::None;
}

RankedTensorType llamac::llm::getQuantScalesType(RankedTensorType codes) {
  return RankedTensorType::get(
      {codes.getDimSize(0), codes.getDimSize(1), kVNNITileRows},
      Float16Type::get(codes.getContext()));
}

StringRef llamac::llm::getQuantLayout(QuantScheme scheme) {
  switch (scheme) {
  case QuantScheme::Q8_0:
    return kQ8Layout;
  case QuantScheme::Q4_0:
    return kQ4Layout;
  case QuantScheme::None:
    break;
  }
  return "";
}

StringRef llamac::llm::getQuantScalesLayout(QuantScheme scheme) {
  switch (scheme) {
  case QuantScheme::Q8_0:
    return kQ8ScalesLayout;
  case QuantScheme::Q4_0:
    return kQ4ScalesLayout;
  case QuantScheme::None:
    break;
  }
  return "";
}

StringRef llamac::llm::stringifyQuantScheme(QuantScheme scheme) {
  switch (scheme) {
  case QuantScheme::Q8_0:
    return "q8_0";
  case QuantScheme::Q4_0:
    return "q4_0";
  case QuantScheme::None:
    break;
  }
  return "none";
}

bool llamac::llm::isUsedOnlyAsMatrix(ParamOp param, bool plainProductsOnly) {
  for (OpOperand &use : param.getResult().getUses()) {
    auto linear = dyn_cast<LinearOp>(use.getOwner());
    auto embed = dyn_cast<EmbedOp>(use.getOwner());
    bool weight = linear && &use == &linear.getWeightMutable() &&
                  !(plainProductsOnly && linear.getInputType());
    if (!weight && !(embed && &use == &embed.getTableMutable()))
      return false;
  }
  return true;
}

void llamac::llm::rewriteParamsByName(
    Operation *root, llvm::function_ref<bool(ParamOp)> eligible,
    llvm::function_ref<void(ParamOp)> rewrite) {
  llvm::MapVector<StringRef, SmallVector<ParamOp>> byName;
  root->walk([&](ParamOp param) { byName[param.getName()].push_back(param); });
  for (auto &[name, params] : byName)
    if (llvm::all_of(params, eligible))
      for (ParamOp param : params)
        rewrite(param);
}

bool llamac::llm::hasSeveralRows(RankedTensorType type) {
  int64_t rows = 1;
  for (int64_t i = 0; i + 1 < type.getRank(); ++i) {
    if (type.isDynamicDim(i))
      return true;
    rows *= type.getDimSize(i);
  }
  return rows > 1;
}

std::optional<std::pair<int64_t, int64_t>>
llamac::llm::getWeightMatrixShape(RankedTensorType type) {
  if (type.getRank() == 2 && !type.getElementType().isInteger(8))
    return std::make_pair(type.getDimSize(0), type.getDimSize(1));
  if (isVNNITiled(type) || getQuantScheme(type) != QuantScheme::None)
    return std::make_pair(type.getDimSize(0) * kVNNITileRows,
                          type.getDimSize(1) * kVNNITileDepth);
  if (isF32Paneled(type))
    return std::make_pair(type.getDimSize(0) * kF32PanelWidth,
                          type.getDimSize(1));
  return std::nullopt;
}

//===----------------------------------------------------------------------===//
// ParamOp
//===----------------------------------------------------------------------===//

LogicalResult ParamOp::verify() {
  if (getName().empty())
    return emitOpError("requires a non-empty weight name");
  auto type = getResult().getType();
  if (std::optional<ArrayAttr> parts = getParts()) {
    if (parts->size() < 2)
      return emitOpError("parts must name at least two checkpoint matrices");
    for (Attribute part : *parts)
      if (cast<StringAttr>(part).getValue().empty())
        return emitOpError("parts must be non-empty weight names");
  }
  std::optional<StringRef> layout = getLayout();
  if (!layout) {
    if (type.getElementType().isInteger(8))
      return emitOpError("i8 weights need a quantized layout ('")
             << kQ8Layout << "' or '" << kQ4Layout << "')";
    return success();
  }
  for (QuantScheme scheme : {QuantScheme::Q8_0, QuantScheme::Q4_0}) {
    if (*layout == getQuantLayout(scheme)) {
      if (getQuantScheme(type) != scheme)
        return emitOpError("layout '")
               << *layout << "' needs an i8 result of shape "
               << (scheme == QuantScheme::Q8_0 ? "[?, ?, 16, 16, 2]"
                                               : "[?, ?, 16, 16]")
               << ", got " << type;
      return success();
    }
    if (*layout == getQuantScalesLayout(scheme)) {
      if (type.getRank() != 3 || !type.getElementType().isF16() ||
          type.getDimSize(2) != kVNNITileRows)
        return emitOpError("layout '")
               << *layout << "' needs an f16 result of shape [?, ?, 16], got "
               << type;
      return success();
    }
  }
  if (*layout == kF32PanelLayout) {
    if (!isF32Paneled(type))
      return emitOpError("layout '")
             << kF32PanelLayout << "' needs an f32 result of shape [?, ?, "
             << kF32PanelWidth << "], got " << type;
    return success();
  }
  if (*layout != kVNNILayout)
    return emitOpError("unknown layout '")
           << *layout << "' (expected '" << kVNNILayout << "', '"
           << kF32PanelLayout << "', '" << kQ8Layout << "', '" << kQ4Layout
           << "' or their '_scales')";
  if (!isVNNITiled(getResult().getType()))
    return emitOpError("layout '")
           << kVNNILayout << "' needs a bf16 result of shape [?, ?, 16, 16, 2], "
           << "got " << getResult().getType();
  return success();
}

//===----------------------------------------------------------------------===//
// EmbedOp
//===----------------------------------------------------------------------===//

LogicalResult EmbedOp::verify() {
  auto tableType = getTable().getType();
  auto resultType = getResult().getType();
  std::optional<std::pair<int64_t, int64_t>> table =
      getWeightMatrixShape(tableType);
  if (!table)
    return emitOpError("expects a 2-D table [vocab, hidden] or its "
                       "vnni16x32 tiles or f32panel64 panels, got ")
           << tableType;
  if (failed(verifyScales(*this, tableType, getScales())))
    return failure();
  if (resultType.getRank() != 2)
    return emitOpError("expects a 2-D result [tokens, hidden], got rank ")
           << resultType.getRank();
  int64_t numTokens = getTokens().getType().getDimSize(0);
  if (!dimsCompatible(resultType.getDimSize(0), numTokens))
    return emitOpError("result has ")
           << dimToString(resultType.getDimSize(0)) << " rows but there are "
           << dimToString(numTokens) << " token ids";
  if (resultType.getDimSize(1) != table->second)
    return emitOpError("result row size ")
           << dimToString(resultType.getDimSize(1))
           << " does not match the table's hidden size " << table->second;
  return success();
}

//===----------------------------------------------------------------------===//
// RMSNormOp
//===----------------------------------------------------------------------===//

LogicalResult RMSNormOp::verify() {
  auto inputType = getInput().getType();
  auto weightType = getWeight().getType();
  if (weightType.getRank() != 1)
    return emitOpError("expects a 1-D weight, got rank ")
           << weightType.getRank();
  if (inputType.getRank() < 1)
    return emitOpError("expects an input of rank >= 1");
  int64_t normalized = inputType.getDimSize(inputType.getRank() - 1);
  if (!dimsCompatible(normalized, weightType.getDimSize(0)))
    return emitOpError("normalizes a last dimension of size ")
           << normalized << " but the weight has " << weightType.getDimSize(0)
           << " elements";
  if (!isPositiveFinite(getEpsilon().convertToDouble()))
    return emitOpError("requires a positive epsilon, got ")
           << getEpsilon().convertToDouble();
  return success();
}

//===----------------------------------------------------------------------===//
// LinearOp
//===----------------------------------------------------------------------===//

std::pair<int64_t, int64_t> LinearOp::getWeightMatrixShape() {
  return *llm::getWeightMatrixShape(getWeight().getType());
}

LogicalResult LinearOp::verify() {
  auto inputType = getInput().getType();
  auto weightType = getWeight().getType();
  auto resultType = getResult().getType();
  std::optional<std::pair<int64_t, int64_t>> matrix =
      llm::getWeightMatrixShape(weightType);
  if (!matrix)
    return emitOpError("expects a 2-D weight [out_features, in_features] "
                       "or its vnni16x32 tiles or f32panel64 panels, got ")
           << weightType;
  if (failed(verifyScales(*this, weightType, getScales())))
    return failure();
  if (Value addend = getAddend(); addend && addend.getType() != resultType)
    return emitOpError("addend type ")
           << addend.getType() << " differs from the result type "
           << resultType;
  if (std::optional<Type> rounded = getInputType();
      rounded && rounded->isInteger()) {
    if (!rounded->isSignlessInteger(8))
      return emitOpError("an integer input_type must be i8, got ")
             << *rounded;
    if (!getScales())
      return emitOpError("input_type i8 needs quantized weights (scales)");
    if (!inputType.getElementType().isF32())
      return emitOpError("input_type i8 needs f32 inputs, got ")
             << inputType.getElementType();
  } else if (rounded) {
    auto floatType = dyn_cast<FloatType>(*rounded);
    if (!floatType || floatType.getWidth() >
                          inputType.getElementType().getIntOrFloatBitWidth())
      return emitOpError("input_type must be a float type no wider than the "
                         "input's, got ")
             << *rounded;
  }
  if (inputType.getRank() < 1)
    return emitOpError("expects an input of rank >= 1");
  if (resultType.getRank() != inputType.getRank())
    return emitOpError("result rank ")
           << resultType.getRank() << " differs from input rank "
           << inputType.getRank();
  if (resultType.getElementType() != inputType.getElementType())
    return emitOpError("result element type ")
           << resultType.getElementType()
           << " differs from the input element type "
           << inputType.getElementType();
  int64_t rank = inputType.getRank();
  int64_t inFeatures = inputType.getDimSize(rank - 1);
  if (!dimsCompatible(inFeatures, matrix->second))
    return emitOpError("input has ")
           << dimToString(inFeatures) << " features but the weight expects "
           << matrix->second << " (weight is [out, in])";
  for (int64_t i = 0; i + 1 < rank; ++i)
    if (!dimsCompatible(inputType.getDimSize(i), resultType.getDimSize(i)))
      return emitOpError("result dimension ")
             << i << " (" << dimToString(resultType.getDimSize(i))
             << ") differs from the input's ("
             << dimToString(inputType.getDimSize(i)) << ")";
  if (resultType.getDimSize(rank - 1) != matrix->first)
    return emitOpError("result has ")
           << dimToString(resultType.getDimSize(rank - 1))
           << " features but the weight produces " << matrix->first;
  return success();
}

//===----------------------------------------------------------------------===//
// RopeOp
//===----------------------------------------------------------------------===//

LogicalResult RopeOp::verify() {
  auto inputType = getInput().getType();
  if (inputType.getRank() != 3)
    return emitOpError("expects input [tokens, heads, head_dim], got rank ")
           << inputType.getRank();
  int64_t headDim = inputType.getDimSize(2);
  if (ShapedType::isDynamic(headDim) || headDim % 2 != 0)
    return emitOpError("requires a static, even head_dim, got ")
           << dimToString(headDim);
  if (!isPositiveFinite(getTheta().convertToDouble()))
    return emitOpError("requires a positive theta, got ")
           << getTheta().convertToDouble();
  return success();
}

//===----------------------------------------------------------------------===//
// AttentionOp
//===----------------------------------------------------------------------===//

LogicalResult AttentionOp::verify() {
  auto queryType = getQuery().getType();
  auto keyType = getKey().getType();
  auto cacheType = getKeyCache().getType();
  if (queryType.getRank() != 3)
    return emitOpError("expects query [tokens, q_heads, head_dim], got rank ")
           << queryType.getRank();
  if (keyType.getRank() != 3)
    return emitOpError("expects key/value [tokens, kv_heads, head_dim], got "
                       "rank ")
           << keyType.getRank();
  if (keyType.getElementType() != queryType.getElementType())
    return emitOpError("key element type ")
           << keyType.getElementType() << " differs from the query's "
           << queryType.getElementType();
  if (!dimsCompatible(queryType.getDimSize(0), keyType.getDimSize(0)))
    return emitOpError("query has ")
           << dimToString(queryType.getDimSize(0)) << " tokens but key has "
           << dimToString(keyType.getDimSize(0));

  int64_t headDim = queryType.getDimSize(2);
  if (ShapedType::isDynamic(headDim))
    return emitOpError("requires a static head_dim");
  if (keyType.getDimSize(2) != headDim || cacheType.getDimSize(3) != headDim)
    return emitOpError("head_dim differs between query (")
           << headDim << "), key (" << dimToString(keyType.getDimSize(2))
           << ") and cache (" << dimToString(cacheType.getDimSize(3)) << ")";

  int64_t queryHeads = queryType.getDimSize(1);
  int64_t kvHeads = keyType.getDimSize(1);
  if (ShapedType::isDynamic(queryHeads) || ShapedType::isDynamic(kvHeads) ||
      kvHeads <= 0)
    return emitOpError("requires static, positive head counts");
  if (queryHeads % kvHeads != 0)
    return emitOpError("query heads (")
           << queryHeads << ") are not a multiple of KV heads (" << kvHeads
           << ")";
  if (cacheType.getDimSize(1) != kvHeads)
    return emitOpError("cache holds ")
           << dimToString(cacheType.getDimSize(1))
           << " KV heads but key/value have " << kvHeads;

  int64_t numLayers = cacheType.getDimSize(0);
  if (ShapedType::isDynamic(numLayers))
    return emitOpError("requires a static layer count in the cache type");
  if (static_cast<int64_t>(getLayer()) >= numLayers)
    return emitOpError("layer ")
           << getLayer() << " is outside the cache's " << numLayers
           << " layers";
  if (!isPositiveFinite(getScale().convertToDouble()))
    return emitOpError("requires a positive scale, got ")
           << getScale().convertToDouble();
  return success();
}
