//===- KVCache.cpp - The KV cache as the llm dialect types it -------------===//
#include "llamac/IR/KVCache.h"
#include "llamac/IR/LLMDialect.h"

#include "mlir/Dialect/Arith/IR/Arith.h"

using namespace mlir;

namespace llamac::llm {

std::optional<artifact::CacheElement> cacheElementOf(Type storage) {
  if (storage.isF32())
    return artifact::CacheElement::F32;
  if (storage.isBF16())
    return artifact::CacheElement::BF16;
  if (storage.isF16())
    return artifact::CacheElement::F16;
  if (storage.isSignlessInteger(8))
    return artifact::CacheElement::Q8_0;
  return std::nullopt;
}

Type cacheStorageType(MLIRContext *context, artifact::CacheElement element) {
  return getMLIRType(context, artifact::cacheStoredElement(element));
}

RankedTensorType cacheTensorType(MLIRContext *context,
                                 artifact::CacheElement element,
                                 int64_t layers, int64_t kvHeads,
                                 int64_t headDim) {
  return RankedTensorType::get(
      {layers, kvHeads, ShapedType::kDynamic,
       artifact::cacheRowWidth(element, headDim)},
      cacheStorageType(context, element));
}

Value buildQ8BlockScale(OpBuilder &b, Location loc, Value lowByte,
                        Value highByte) {
  static_assert(artifact::kQ8CacheScaleBytes == 2, "an f16 scale");
  Type i16 = b.getI16Type();
  Value low = b.create<arith::ExtUIOp>(loc, i16, lowByte);
  Value high = b.create<arith::ShLIOp>(
      loc, b.create<arith::ExtUIOp>(loc, i16, highByte),
      b.create<arith::ConstantOp>(loc, b.getIntegerAttr(i16, 8)));
  return b.create<arith::BitcastOp>(loc, b.getF16Type(),
                                    b.create<arith::OrIOp>(loc, low, high));
}

} // namespace llamac::llm
