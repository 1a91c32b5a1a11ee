//===- CacheElement.cpp - What the KV cache stores ------------------------===//
#include "llamac/Artifact/CacheElement.h"

namespace llamac::artifact {

std::string_view cacheElementName(CacheElement element) {
  switch (element) {
  case CacheElement::F32:
    return "f32";
  case CacheElement::BF16:
    return "bf16";
  case CacheElement::F16:
    return "f16";
  case CacheElement::Q8_0:
    return "q8_0";
  }
  return "f32";
}

std::optional<CacheElement> parseCacheElement(std::string_view name) {
  for (CacheElement element : {CacheElement::F32, CacheElement::BF16,
                               CacheElement::F16, CacheElement::Q8_0})
    if (name == cacheElementName(element))
      return element;
  return std::nullopt;
}

ElementType cacheStoredElement(CacheElement element) {
  switch (element) {
  case CacheElement::F32:
    return ElementType::F32;
  case CacheElement::BF16:
    return ElementType::BF16;
  case CacheElement::F16:
    return ElementType::F16;
  case CacheElement::Q8_0:
    return ElementType::I8;
  }
  return ElementType::F32;
}

uint64_t cacheElementBytes(CacheElement element) {
  return uint64_t(elementBytes(cacheStoredElement(element)));
}

bool cacheHoldsHeadDim(CacheElement element, int64_t headDim) {
  return headDim > 0 && (element != CacheElement::Q8_0 ||
                         headDim % kQ8CacheBlockValues == 0);
}

int64_t cacheRowWidth(CacheElement element, int64_t headDim) {
  if (element == CacheElement::Q8_0)
    return headDim / kQ8CacheBlockValues * kQ8CacheBlockBytes;
  return headDim;
}

} // namespace llamac::artifact
