//===- LLMOps.cpp - llm dialect operations --------------------------------===//
//
// Verifiers. Each one checks what the op's semantics rely on and names the
// offending operand and the sizes involved, so that a wrong graph is reported
// where it is built instead of miscompiling later.
//
//===----------------------------------------------------------------------===//
#include "llamac/IR/LLMOps.h"
#include "llamac/IR/KVCache.h"

#include "mlir/IR/Builders.h"
#include "llvm/ADT/MapVector.h"
#include "mlir/IR/OpImplementation.h"

#include <cmath>

using namespace mlir;
using namespace llamac::llm;
namespace artifact = llamac::artifact;

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

/// Checks that the rows (last dimension) of `cache` hold `headDim` values
/// as its element type stores them (KVCache.h).
LogicalResult verifyCacheRows(Operation *op, StringRef what, ShapedType cache,
                              int64_t headDim) {
  std::optional<artifact::CacheElement> element =
      cacheElementOf(cache.getElementType());
  if (!element)
    return op->emitOpError()
           << what << " of " << cache.getElementType()
           << ": a cache stores f32, bf16, f16 or i8 (q8_0 blocks)";
  if (!artifact::cacheHoldsHeadDim(*element, headDim))
    return op->emitOpError()
           << what << " of " << artifact::cacheElementName(*element)
           << " cannot hold rows of head_dim " << headDim;
  int64_t rowWidth = artifact::cacheRowWidth(*element, headDim);
  if (cache.getDimSize(cache.getRank() - 1) != rowWidth)
    return op->emitOpError()
           << what << " rows of " << dimToString(cache.getDimSize(
                                          cache.getRank() - 1))
           << " elements, but head_dim " << headDim << " as "
           << artifact::cacheElementName(*element) << " takes " << rowWidth;
  return success();
}

/// Checks that `kernel` is an attention micro-kernel whose lanes divide
/// `headDim` and, for a q8_0 cache of element type `storage`, its blocks (a
/// chunk of lanes is widened with one scale).
LogicalResult verifyFlashKernel(Operation *op, MicroKernelAttr kernel,
                                int64_t headDim, Type storage) {
  if (kernel.getKind() != MicroKernelKind::FlashTransposedKeys &&
      kernel.getKind() != MicroKernelKind::FlashKeyRows)
    return op->emitOpError("micro_kernel ")
           << kernel << " is not an attention's";
  if (headDim % *kernel.getLanes() != 0)
    return op->emitOpError("micro_kernel ")
           << kernel << " needs a head_dim that is a multiple of its lanes, got "
           << headDim;
  if (cacheElementOf(storage) == artifact::CacheElement::Q8_0 &&
      artifact::kQ8CacheBlockValues % *kernel.getLanes() != 0)
    return op->emitOpError("micro_kernel ")
           << kernel << " reads q8_0 blocks of "
           << artifact::kQ8CacheBlockValues
           << " values: its lanes must divide them";
  return success();
}

/// The [out, in] matrix of `weight`, stored in `layout` (none: plain 2-D),
/// with `scales` present exactly when the layout is quantized and shaped as
/// its scales part; emits an error on `op` otherwise.
FailureOr<std::pair<int64_t, int64_t>>
verifyStoredWeight(Operation *op, StringRef what, RankedTensorType weight,
                   WeightLayoutAttr layout, Value scales) {
  std::optional<std::pair<int64_t, int64_t>> matrix =
      llamac::llm::getWeightMatrixShape(weight, layout);
  if (!matrix) {
    if (!layout)
      return op->emitOpError("expects a 2-D float ")
             << what << " (or one stored in a weight_layout), got " << weight;
    return op->emitOpError("weight_layout ")
           << layout << " stores a matrix as "
           << artifact::elementTypeName(layout.getLayout().element()) << " "
           << layout.getLayout().storedShapeDescription() << ", got "
           << weight;
  }
  if (layout && layout.getLayout().isScales())
    return op->emitOpError("weight_layout must be a values layout, got ")
           << layout;
  bool quantized = layout && layout.isQuantized();
  if (!quantized && scales)
    return op->emitOpError("has scales but its weight ")
           << weight << " holds no quantized codes";
  if (quantized && !scales)
    return op->emitOpError("has quantized codes ") << weight << " but no scales";
  if (quantized) {
    RankedTensorType expected = layout.getScales().getStoredType(
        op->getContext(), matrix->first, matrix->second);
    if (scales.getType() != expected)
      return op->emitOpError("scales must be ")
             << expected << " for codes " << weight << ", got "
             << scales.getType();
  }
  return *matrix;
}
} // namespace

std::optional<std::pair<int64_t, int64_t>>
llamac::llm::getWeightMatrixShape(RankedTensorType type,
                                  WeightLayoutAttr layout) {
  if (layout)
    return layout.getMatrixShape(type);
  if (type.getRank() != 2 || !type.hasStaticShape() ||
      !isa<FloatType>(type.getElementType()))
    return std::nullopt;
  return std::make_pair(type.getDimSize(0), type.getDimSize(1));
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
  WeightLayoutAttr layout = getLayoutAttr();
  if (!layout) {
    if (type.getElementType().isInteger(8))
      return emitOpError("i8 weights need a quantized layout (codes of "
                         "#llm.layout<tiles16x32, q8_0> or q4_0)");
    return success();
  }
  if (!layout.getMatrixShape(type))
    return emitOpError("layout ")
           << layout << " stores a matrix as "
           << artifact::elementTypeName(layout.getLayout().element()) << " "
           << layout.getLayout().storedShapeDescription() << ", got " << type;
  return success();
}

//===----------------------------------------------------------------------===//
// EmbedOp
//===----------------------------------------------------------------------===//

LogicalResult EmbedOp::verify() {
  auto tableType = getTable().getType();
  auto resultType = getResult().getType();
  FailureOr<std::pair<int64_t, int64_t>> table = verifyStoredWeight(
      *this, "table [vocab, hidden]", tableType, getWeightLayoutAttr(),
      getScales());
  if (failed(table))
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
  return *llm::getWeightMatrixShape(getWeight().getType(),
                                    getWeightLayoutAttr());
}

bool LinearOp::hasSeveralRows() {
  return llm::hasSeveralRows(getInput().getType());
}

LogicalResult LinearOp::verify() {
  auto inputType = getInput().getType();
  auto weightType = getWeight().getType();
  auto resultType = getResult().getType();
  FailureOr<std::pair<int64_t, int64_t>> matrix = verifyStoredWeight(
      *this, "weight [out_features, in_features]", weightType,
      getWeightLayoutAttr(), getScales());
  if (failed(matrix))
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
  if (MicroKernelAttr kernel = getMicroKernelAttr()) {
    if (!kernel.isProduct())
      return emitOpError("micro_kernel ") << kernel << " is not a product's";
    WeightLayoutAttr layout = getWeightLayoutAttr();
    if (!layout || layout.getLayout() != *kernel.getWeightLayout()) {
      InFlightDiagnostic diagnostic =
          emitOpError("micro_kernel ")
          << kernel << " reads weights stored as "
          << WeightLayoutAttr::get(getContext(), *kernel.getWeightLayout());
      if (layout)
        return diagnostic << ", but the weight_layout is " << layout;
      return diagnostic << ", but the weight is a plain matrix";
    }
    Type wanted = kernel.getInputType(getContext());
    std::optional<Type> rounded = getInputType();
    auto inputs = [](Type type) {
      std::string text = "f32 inputs";
      if (type)
        llvm::raw_string_ostream(text = "input_type ") << type;
      return text;
    };
    if (wanted != (rounded ? *rounded : Type()))
      return emitOpError("micro_kernel ")
             << kernel << " runs on " << inputs(wanted) << ", but the op has "
             << inputs(rounded ? *rounded : Type());
  }
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
  if (keyType.getDimSize(2) != headDim)
    return emitOpError("head_dim differs between query (")
           << headDim << ") and key (" << dimToString(keyType.getDimSize(2))
           << ")";
  if (failed(verifyCacheRows(*this, "cache", cacheType, headDim)))
    return failure();
  if (!queryType.getElementType().isF32() &&
      cacheType.getElementType() != queryType.getElementType())
    return emitOpError("a cache of ")
           << cacheType.getElementType() << " needs f32 activations";

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
  if (MicroKernelAttr kernel = getMicroKernelAttr()) {
    if (failed(verifyFlashKernel(*this, kernel, headDim,
                                 cacheType.getElementType())))
      return failure();
    if (!queryType.getElementType().isF32())
      return emitOpError("micro_kernel ")
             << kernel << " needs f32 queries";
  }
  return success();
}

//===----------------------------------------------------------------------===//
// FlashAttentionOp
//===----------------------------------------------------------------------===//

LogicalResult FlashAttentionOp::verify() {
  auto shaped = [](Value value) { return cast<ShapedType>(value.getType()); };
  ShapedType query = shaped(getQuery()), keys = shaped(getKeys()),
             values = shaped(getValues()), init = shaped(getInit());
  bool tensors = isa<RankedTensorType>(query);
  for (ShapedType type : {keys, values, init})
    if (isa<RankedTensorType>(type) != tensors)
      return emitOpError("operands must be all tensors or all buffers");
  if (tensors != (getNumResults() == 1))
    return emitOpError(tensors ? "on tensors has one result (init's type)"
                               : "on buffers has no result");
  if (tensors && getResult().front().getType() != init)
    return emitOpError("result type ")
           << getResult().front().getType() << " differs from init's " << init;
  for (ShapedType type : {query, keys, values, init})
    if (type.getRank() != 3)
      return emitOpError("expects operands of rank 3, got ") << type;
  for (ShapedType type : {query, init})
    if (!type.getElementType().isF32())
      return emitOpError("expects f32 query and init, got ") << type;
  // The history as the cache stores it: widened to f32 as it is read.
  if (values.getElementType() != keys.getElementType())
    return emitOpError("values ") << values
                                  << " must have the keys' element type "
                                  << keys.getElementType();
  if (query.getShape() != init.getShape())
    return emitOpError("init ") << init << " must have the query's shape";
  int64_t headDim = query.getDimSize(2);
  if (ShapedType::isDynamic(headDim))
    return emitOpError("needs a static head_dim");
  if (failed(verifyCacheRows(*this, "keys", keys, headDim)) ||
      failed(verifyCacheRows(*this, "values", values, headDim)))
    return failure();
  int64_t queryHeads = query.getDimSize(1), kvHeads = keys.getDimSize(0);
  if (ShapedType::isDynamic(queryHeads) || ShapedType::isDynamic(kvHeads) ||
      kvHeads <= 0 || queryHeads % kvHeads != 0 ||
      values.getDimSize(0) != kvHeads)
    return emitOpError("query heads (")
           << dimToString(queryHeads)
           << ") must be a static multiple of the KV heads of keys and "
              "values ("
           << dimToString(kvHeads) << ")";
  if (!isPositiveFinite(getScale().convertToDouble()))
    return emitOpError("requires a positive scale, got ")
           << getScale().convertToDouble();
  return verifyFlashKernel(*this, getMicroKernel(), headDim,
                           keys.getElementType());
}

MutableOperandRange FlashAttentionOp::getDpsInitsMutable() {
  return getInitMutable();
}

void FlashAttentionOp::getEffects(
    SmallVectorImpl<SideEffects::EffectInstance<MemoryEffects::Effect>>
        &effects) {
  if (hasPureTensorSemantics())
    return;
  for (OpOperand *input : getDpsInputOperands())
    if (isa<MemRefType>(input->get().getType()))
      effects.emplace_back(MemoryEffects::Read::get(), input,
                           SideEffects::DefaultResource::get());
  effects.emplace_back(MemoryEffects::Write::get(), &getInitMutable(),
                       SideEffects::DefaultResource::get());
}
