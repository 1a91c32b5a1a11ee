//===- LLMAttrs.cpp - llm dialect attributes ------------------------------===//
//
// `#llm.rope_llama3`, `#llm.target`, `#llm.layout`, `#llm.micro_kernel`:
// verifiers, custom syntax and the C++ API passes ask.
//
//===----------------------------------------------------------------------===//
#include "llamac/IR/LLMDialect.h"
#include "llamac/IR/LLMOps.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/DialectImplementation.h"
#include "llvm/ADT/TypeSwitch.h"

#include <cmath>

using namespace mlir;
using namespace llamac::llm;
namespace artifact = llamac::artifact;

#include "llamac/IR/LLMEnums.cpp.inc"

#define GET_ATTRDEF_CLASSES
#include "llamac/IR/LLMAttrs.cpp.inc"

void LLMDialect::registerAttributes() {
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

//===----------------------------------------------------------------------===//
// TargetAttr
//===----------------------------------------------------------------------===//

LogicalResult TargetAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                                 StringRef cpu, StringRef triple,
                                 ArrayAttr features) {
  if (cpu.empty() || triple.empty())
    return emitError() << "target: cpu and triple must not be empty";
  for (Attribute feature : features)
    if (!llvm::isa<StringAttr>(feature))
      return emitError() << "target: features must be strings, got "
                         << feature;
  return success();
}

TargetAttr TargetAttr::lookup(Operation *op) {
  auto module = llvm::dyn_cast<ModuleOp>(op);
  if (!module)
    module = op->getParentOfType<ModuleOp>();
  for (; module; module = module->getParentOfType<ModuleOp>())
    if (auto target = module->getAttrOfType<TargetAttr>(getAttrName()))
      return target;
  return {};
}

bool TargetAttr::hasFeature(StringRef feature) const {
  return llvm::any_of(getFeatures(), [&](Attribute name) {
    return llvm::cast<StringAttr>(name).getValue() == feature;
  });
}

bool TargetAttr::hasFeatures(ArrayRef<StringRef> features) const {
  return llvm::all_of(features,
                      [&](StringRef feature) { return hasFeature(feature); });
}

bool TargetAttr::hasAMXBF16() const {
  return hasFeatures({"amx-tile", "amx-bf16"});
}

bool TargetAttr::hasAVX512BF16() const {
  return hasFeatures({"avx512bf16", "avx512f"});
}

bool TargetAttr::hasAVX512VNNI() const {
  return hasFeatures({"avx512vnni", "avx512bw"});
}

bool TargetAttr::hasAVX512F() const { return hasFeature("avx512f"); }

int64_t TargetAttr::getVectorBits() const {
  if (hasAVX512F())
    return 512;
  return hasFeature("avx") ? 256 : 128;
}

int64_t TargetAttr::getVectorRegisters() const { return hasAVX512F() ? 32 : 16; }

//===----------------------------------------------------------------------===//
// WeightLayoutAttr
//===----------------------------------------------------------------------===//

namespace {
/// The block keyword of a layout kind: "tiles16x32" or "panels64".
std::string blockKeyword(artifact::LayoutKind kind) {
  artifact::WeightLayout layout{kind, artifact::QuantScheme::None,
                                artifact::LayoutPart::Values};
  if (kind == artifact::LayoutKind::Panels)
    return "panels" + std::to_string(layout.blockRows());
  return "tiles" + std::to_string(layout.blockRows()) + "x" +
         std::to_string(layout.blockDepth());
}

} // namespace

LogicalResult
WeightLayoutAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                         artifact::WeightLayout layout) {
  if (layout.kind == artifact::LayoutKind::Panels && layout.isQuantized())
    return emitError() << "layout: panels hold f32 values, not quantized "
                          "codes";
  if (layout.isScales() && !layout.isQuantized())
    return emitError() << "layout: only quantized codes have scales";
  return success();
}

/// `<tiles16x32>`, `<panels64>`, `<tiles16x32, q8_0>`,
/// `<tiles16x32, q4_0, scales>`.
Attribute WeightLayoutAttr::parse(AsmParser &parser, Type) {
  std::string block;
  if (parser.parseLess() || parser.parseKeywordOrString(&block))
    return {};
  artifact::WeightLayout layout;
  if (block == blockKeyword(artifact::LayoutKind::Tiles))
    layout.kind = artifact::LayoutKind::Tiles;
  else if (block == blockKeyword(artifact::LayoutKind::Panels))
    layout.kind = artifact::LayoutKind::Panels;
  else {
    parser.emitError(parser.getCurrentLocation(), "unknown layout blocks '")
        << block << "' (tiles16x32, panels64)";
    return {};
  }
  while (succeeded(parser.parseOptionalComma())) {
    std::string word;
    SMLoc at = parser.getCurrentLocation();
    if (parser.parseKeywordOrString(&word))
      return {};
    if (word == "scales") {
      layout.part = artifact::LayoutPart::Scales;
    } else if (std::optional<artifact::QuantScheme> scheme =
                   artifact::parseQuantScheme(word);
               scheme && *scheme != artifact::QuantScheme::None) {
      layout.scheme = *scheme;
    } else {
      parser.emitError(at, "expected q8_0, q4_0 or scales, got '")
          << word << "'";
      return {};
    }
  }
  if (parser.parseGreater())
    return {};
  return getChecked([&] { return parser.emitError(parser.getNameLoc()); },
                    parser.getContext(), layout);
}

void WeightLayoutAttr::print(AsmPrinter &printer) const {
  artifact::WeightLayout layout = getLayout();
  printer << "<" << blockKeyword(layout.kind);
  if (layout.isQuantized())
    printer << ", " << artifact::quantSchemeName(layout.scheme);
  if (layout.isScales())
    printer << ", scales";
  printer << ">";
}

Type WeightLayoutAttr::getElementType(MLIRContext *context) const {
  return getMLIRType(context, getLayout().element());
}

RankedTensorType WeightLayoutAttr::getStoredType(MLIRContext *context,
                                                 int64_t out,
                                                 int64_t in) const {
  std::optional<std::vector<int64_t>> shape =
      getLayout().storedShape(out, in);
  if (!shape)
    return {};
  return RankedTensorType::get(*shape, getElementType(context));
}

std::optional<std::pair<int64_t, int64_t>>
WeightLayoutAttr::getMatrixShape(RankedTensorType stored) const {
  if (!stored.hasStaticShape() ||
      stored.getElementType() != getElementType(stored.getContext()))
    return std::nullopt;
  return getLayout().matrixShape(std::vector<int64_t>(
      stored.getShape().begin(), stored.getShape().end()));
}

WeightLayoutAttr WeightLayoutAttr::getScales() const {
  return get(getContext(), getLayout().scales());
}

//===----------------------------------------------------------------------===//
// MicroKernelAttr
//===----------------------------------------------------------------------===//

namespace {
/// The tuning values of a micro-kernel, by name, in printing order.
struct TuningValue {
  StringLiteral name;
  std::optional<int64_t> value;
};

SmallVector<TuningValue, 5> tuningValues(std::optional<int64_t> unroll,
                                         std::optional<int64_t> rows,
                                         std::optional<int64_t> depth,
                                         std::optional<int64_t> prefetch,
                                         std::optional<int64_t> lanes) {
  return {{"unroll", unroll},
          {"rows", rows},
          {"depth", depth},
          {"prefetch", prefetch},
          {"lanes", lanes}};
}

/// The tuning values `kind` takes, each with its smallest valid value.
SmallVector<std::pair<StringLiteral, int64_t>>
tuningOf(MicroKernelKind kind) {
  switch (kind) {
  case MicroKernelKind::AMXBF16:
  case MicroKernelKind::AMXQ8_0:
  case MicroKernelKind::AMXQ4_0:
    return {{"unroll", 1}};
  case MicroKernelKind::F32Panels:
    return {{"rows", 1}, {"depth", 1}, {"prefetch", 0}};
  case MicroKernelKind::AVX512BF16:
  case MicroKernelKind::AVX512BF16Q8_0:
  case MicroKernelKind::AVX512BF16Q4_0:
    return {{"rows", 1}, {"depth", 1}};
  case MicroKernelKind::Q8_0I8Gemv:
  case MicroKernelKind::Q4_0I8Gemv:
    return {{"prefetch", 0}};
  case MicroKernelKind::FlashTransposedKeys:
    return {{"rows", 1}, {"lanes", 1}};
  case MicroKernelKind::FlashKeyRows:
    return {{"lanes", 1}};
  case MicroKernelKind::TileGemv:
  case MicroKernelKind::Q8_0Gemv:
  case MicroKernelKind::Q4_0Gemv:
    return {};
  }
  return {};
}
} // namespace

LogicalResult MicroKernelAttr::verify(
    function_ref<InFlightDiagnostic()> emitError, MicroKernelKind kind,
    std::optional<int64_t> unroll, std::optional<int64_t> rows,
    std::optional<int64_t> depth, std::optional<int64_t> prefetch,
    std::optional<int64_t> lanes) {
  SmallVector<std::pair<StringLiteral, int64_t>> wanted = tuningOf(kind);
  for (const TuningValue &tuning :
       tuningValues(unroll, rows, depth, prefetch, lanes)) {
    auto it = llvm::find_if(
        wanted, [&](auto &entry) { return entry.first == tuning.name; });
    if (it == wanted.end()) {
      if (tuning.value)
        return emitError() << "micro_kernel " << stringifyMicroKernelKind(kind)
                           << " takes no " << tuning.name;
      continue;
    }
    if (!tuning.value)
      return emitError() << "micro_kernel " << stringifyMicroKernelKind(kind)
                         << " needs " << tuning.name;
    if (*tuning.value < it->second)
      return emitError() << "micro_kernel " << stringifyMicroKernelKind(kind)
                         << ": " << tuning.name << " must be >= " << it->second
                         << ", got " << *tuning.value;
  }
  return success();
}

/// `<kind>` or `<kind, name = value, ...>`.
Attribute MicroKernelAttr::parse(AsmParser &parser, Type) {
  std::string kindName;
  SMLoc kindLoc = parser.getCurrentLocation();
  if (parser.parseLess() || parser.parseKeywordOrString(&kindName))
    return {};
  std::optional<MicroKernelKind> kind = symbolizeMicroKernelKind(kindName);
  if (!kind) {
    parser.emitError(kindLoc, "unknown micro-kernel '") << kindName << "'";
    return {};
  }
  std::optional<int64_t> unroll, rows, depth, prefetch, lanes;
  std::pair<StringLiteral, std::optional<int64_t> *> slots[] = {
      {"unroll", &unroll}, {"rows", &rows},   {"depth", &depth},
      {"prefetch", &prefetch}, {"lanes", &lanes}};
  while (succeeded(parser.parseOptionalComma())) {
    std::string name;
    SMLoc at = parser.getCurrentLocation();
    int64_t value;
    if (parser.parseKeywordOrString(&name) || parser.parseEqual() ||
        parser.parseInteger(value))
      return {};
    auto *slot = llvm::find_if(slots, [&](auto &s) { return s.first == name; });
    if (slot == std::end(slots)) {
      parser.emitError(at, "unknown micro-kernel tuning value '")
          << name << "' (unroll, rows, depth, prefetch, lanes)";
      return {};
    }
    *slot->second = value;
  }
  if (parser.parseGreater())
    return {};
  return getChecked([&] { return parser.emitError(parser.getNameLoc()); },
                    parser.getContext(), *kind, unroll, rows, depth, prefetch,
                    lanes);
}

void MicroKernelAttr::print(AsmPrinter &printer) const {
  printer << "<" << stringifyMicroKernelKind(getKind());
  for (const TuningValue &tuning :
       tuningValues(getUnroll(), getRows(), getDepth(), getPrefetch(),
                    getLanes()))
    if (tuning.value)
      printer << ", " << tuning.name << " = " << *tuning.value;
  printer << ">";
}

bool MicroKernelAttr::isProduct() const {
  return getWeightLayout().has_value();
}

std::optional<artifact::WeightLayout> MicroKernelAttr::getWeightLayout() const {
  using artifact::QuantScheme;
  using artifact::WeightLayout;
  switch (getKind()) {
  case MicroKernelKind::AMXBF16:
  case MicroKernelKind::AVX512BF16:
  case MicroKernelKind::TileGemv:
    return WeightLayout::bf16Tiles();
  case MicroKernelKind::AMXQ8_0:
  case MicroKernelKind::AVX512BF16Q8_0:
  case MicroKernelKind::Q8_0Gemv:
  case MicroKernelKind::Q8_0I8Gemv:
    return WeightLayout::quantizedTiles(QuantScheme::Q8_0);
  case MicroKernelKind::AMXQ4_0:
  case MicroKernelKind::AVX512BF16Q4_0:
  case MicroKernelKind::Q4_0Gemv:
  case MicroKernelKind::Q4_0I8Gemv:
    return WeightLayout::quantizedTiles(QuantScheme::Q4_0);
  case MicroKernelKind::F32Panels:
    return WeightLayout::f32Panels();
  case MicroKernelKind::FlashTransposedKeys:
  case MicroKernelKind::FlashKeyRows:
    return std::nullopt;
  }
  return std::nullopt;
}

Type MicroKernelAttr::getInputType(MLIRContext *context) const {
  switch (getKind()) {
  case MicroKernelKind::AMXBF16:
  case MicroKernelKind::AMXQ8_0:
  case MicroKernelKind::AMXQ4_0:
  case MicroKernelKind::AVX512BF16:
  case MicroKernelKind::AVX512BF16Q8_0:
  case MicroKernelKind::AVX512BF16Q4_0:
    return BFloat16Type::get(context);
  case MicroKernelKind::Q8_0I8Gemv:
  case MicroKernelKind::Q4_0I8Gemv:
    return IntegerType::get(context, 8);
  default:
    return {};
  }
}

ArrayRef<StringRef> MicroKernelAttr::getRequiredFeatures() const {
  static const StringRef amx[] = {"amx-tile", "amx-bf16"};
  static const StringRef vnni[] = {"avx512vnni", "avx512bw"};
  static const StringRef bf16Dot[] = {"avx512bf16", "avx512f"};
  switch (getKind()) {
  case MicroKernelKind::AMXBF16:
  case MicroKernelKind::AMXQ8_0:
  case MicroKernelKind::AMXQ4_0:
    return amx;
  case MicroKernelKind::Q8_0I8Gemv:
  case MicroKernelKind::Q4_0I8Gemv:
    return vnni;
  case MicroKernelKind::AVX512BF16:
  case MicroKernelKind::AVX512BF16Q8_0:
  case MicroKernelKind::AVX512BF16Q4_0:
    return bf16Dot;
  default:
    return {};
  }
}

artifact::ComputeUnit MicroKernelAttr::getComputeUnit() const {
  switch (getKind()) {
  case MicroKernelKind::AMXBF16:
  case MicroKernelKind::AMXQ8_0:
  case MicroKernelKind::AMXQ4_0:
    return artifact::ComputeUnit::AMXBF16;
  case MicroKernelKind::AVX512BF16:
  case MicroKernelKind::AVX512BF16Q8_0:
  case MicroKernelKind::AVX512BF16Q4_0:
    return artifact::ComputeUnit::AVX512BF16;
  default:
    return artifact::ComputeUnit::F32FMA;
  }
}

Type llamac::llm::getMLIRType(MLIRContext *context,
                             artifact::ElementType type) {
  switch (type) {
  case artifact::ElementType::F32:
    return Float32Type::get(context);
  case artifact::ElementType::F16:
    return Float16Type::get(context);
  case artifact::ElementType::BF16:
    return BFloat16Type::get(context);
  case artifact::ElementType::I8:
    return IntegerType::get(context, 8);
  }
  return {};
}
