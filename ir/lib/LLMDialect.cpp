//===- LLMDialect.cpp - The llm dialect -----------------------------------===//
//
// Dialect registration and the `#llm.rope_llama3` attribute.
//
//===----------------------------------------------------------------------===//
#include "llamac/IR/LLMDialect.h"
#include "llamac/IR/LLMOps.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/DialectImplementation.h"
#include "llvm/ADT/TypeSwitch.h"

#include <cmath>

using namespace mlir;
using namespace llamac::llm;

#include "llamac/IR/LLMDialect.cpp.inc"

#define GET_ATTRDEF_CLASSES
#include "llamac/IR/LLMAttrs.cpp.inc"

void LLMDialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "llamac/IR/LLMOps.cpp.inc"
      >();
  addAttributes<
#define GET_ATTRDEF_LIST
#include "llamac/IR/LLMAttrs.cpp.inc"
      >();
}

//===----------------------------------------------------------------------===//
// RopeLlama3ScalingAttr
//===----------------------------------------------------------------------===//

LogicalResult RopeLlama3ScalingAttr::verify(
    function_ref<InFlightDiagnostic()> emitError, llvm::APFloat factorValue,
    llvm::APFloat lowFreqFactorValue, llvm::APFloat highFreqFactorValue,
    int64_t originalMaxPositionEmbeddings) {
  double factor = factorValue.convertToDouble();
  double lowFreqFactor = lowFreqFactorValue.convertToDouble();
  double highFreqFactor = highFreqFactorValue.convertToDouble();
  if (!(std::isfinite(factor) && factor > 0))
    return emitError() << "rope_llama3: factor must be positive, got "
                       << factor;
  if (!(std::isfinite(lowFreqFactor) && lowFreqFactor > 0))
    return emitError() << "rope_llama3: low_freq_factor must be positive, got "
                       << lowFreqFactor;
  if (!(std::isfinite(highFreqFactor) && highFreqFactor > lowFreqFactor))
    return emitError() << "rope_llama3: high_freq_factor (" << highFreqFactor
                       << ") must be greater than low_freq_factor ("
                       << lowFreqFactor << ")";
  if (originalMaxPositionEmbeddings <= 0)
    return emitError() << "rope_llama3: original_max_position_embeddings must "
                          "be positive, got "
                       << originalMaxPositionEmbeddings;
  return success();
}

double RopeLlama3ScalingAttr::scaleInverseFrequency(double invFreq) const {
  const double original = double(getOriginalMaxPositionEmbeddings());
  const double factor = getFactor().convertToDouble();
  const double lowFreqFactor = getLowFreqFactor().convertToDouble();
  const double highFreqFactor = getHighFreqFactor().convertToDouble();
  const double lowFreqWavelength = original / lowFreqFactor;
  const double highFreqWavelength = original / highFreqFactor;
  const double wavelength = 2 * M_PI / invFreq;
  if (wavelength < highFreqWavelength)
    return invFreq;
  if (wavelength > lowFreqWavelength)
    return invFreq / factor;
  // Between the two bands the scaled and unscaled frequencies are blended.
  double smooth = (original / wavelength - lowFreqFactor) /
                  (highFreqFactor - lowFreqFactor);
  return (1 - smooth) * invFreq / factor + smooth * invFreq;
}

/// Parses `<factor = F, low_freq_factor = F, high_freq_factor = F,
/// original_max_position_embeddings = N>` (fields in this order).
Attribute RopeLlama3ScalingAttr::parse(AsmParser &parser, Type) {
  double factor = 0, lowFreqFactor = 0, highFreqFactor = 0;
  int64_t originalMax = 0;
  auto parseField = [&](StringRef key, auto &value) -> ParseResult {
    if (parser.parseKeyword(key) || parser.parseEqual())
      return failure();
    if constexpr (std::is_same_v<std::decay_t<decltype(value)>, double>)
      return parser.parseFloat(value);
    else
      return parser.parseInteger(value);
  };
  if (parser.parseLess() || parseField("factor", factor) ||
      parser.parseComma() || parseField("low_freq_factor", lowFreqFactor) ||
      parser.parseComma() || parseField("high_freq_factor", highFreqFactor) ||
      parser.parseComma() ||
      parseField("original_max_position_embeddings", originalMax) ||
      parser.parseGreater())
    return {};
  return getChecked([&] { return parser.emitError(parser.getNameLoc()); },
                    parser.getContext(), llvm::APFloat(factor),
                    llvm::APFloat(lowFreqFactor), llvm::APFloat(highFreqFactor),
                    originalMax);
}

void RopeLlama3ScalingAttr::print(AsmPrinter &printer) const {
  printer << "<factor = ";
  printer.printFloat(getFactor());
  printer << ", low_freq_factor = ";
  printer.printFloat(getLowFreqFactor());
  printer << ", high_freq_factor = ";
  printer.printFloat(getHighFreqFactor());
  printer << ", original_max_position_embeddings = "
          << getOriginalMaxPositionEmbeddings() << ">";
}
