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
  }
  return "f32";
}

std::optional<CacheElement> parseCacheElement(std::string_view name) {
  for (CacheElement element :
       {CacheElement::F32, CacheElement::BF16, CacheElement::F16})
    if (name == cacheElementName(element))
      return element;
  return std::nullopt;
}

uint64_t cacheElementBytes(CacheElement element) {
  return element == CacheElement::F32 ? 4 : 2;
}

} // namespace llamac::artifact
