//===- WeightLayout.cpp - How a weight matrix is stored -------------------===//
#include "llamac/Artifact/WeightLayout.h"

namespace llamac::artifact {

int64_t elementBytes(ElementType type) {
  switch (type) {
  case ElementType::F32:
    return 4;
  case ElementType::F16:
  case ElementType::BF16:
    return 2;
  case ElementType::I8:
    return 1;
  }
  return 0;
}

std::string_view elementTypeName(ElementType type) {
  switch (type) {
  case ElementType::F32:
    return "f32";
  case ElementType::F16:
    return "f16";
  case ElementType::BF16:
    return "bf16";
  case ElementType::I8:
    return "i8";
  }
  return "?";
}

std::string_view quantSchemeName(QuantScheme scheme) {
  switch (scheme) {
  case QuantScheme::None:
    return "none";
  case QuantScheme::Q8_0:
    return "q8_0";
  case QuantScheme::Q4_0:
    return "q4_0";
  }
  return "?";
}

std::optional<QuantScheme> parseQuantScheme(std::string_view name) {
  for (QuantScheme scheme :
       {QuantScheme::None, QuantScheme::Q8_0, QuantScheme::Q4_0})
    if (quantSchemeName(scheme) == name)
      return scheme;
  return std::nullopt;
}

bool WeightLayout::isValid() const {
  if (kind == LayoutKind::Panels)
    return scheme == QuantScheme::None && part == LayoutPart::Values;
  return part == LayoutPart::Values || isQuantized();
}

int64_t WeightLayout::blockRows() const {
  return kind == LayoutKind::Panels ? kPanelWidth : kTileRows;
}

int64_t WeightLayout::blockDepth() const {
  return kind == LayoutKind::Panels ? 1 : kTileDepth;
}

ElementType WeightLayout::element() const {
  if (kind == LayoutKind::Panels)
    return ElementType::F32;
  if (part == LayoutPart::Scales)
    return ElementType::F16;
  return isQuantized() ? ElementType::I8 : ElementType::BF16;
}

int64_t WeightLayout::valuesPerElement() const {
  return scheme == QuantScheme::Q4_0 && part == LayoutPart::Values ? 2 : 1;
}

bool WeightLayout::fits(int64_t out, int64_t in) const {
  return isValid() && out > 0 && in > 0 && out % blockRows() == 0 &&
         in % blockDepth() == 0;
}

std::optional<std::vector<int64_t>>
WeightLayout::storedShape(int64_t out, int64_t in) const {
  if (!fits(out, in))
    return std::nullopt;
  if (kind == LayoutKind::Panels)
    return std::vector<int64_t>{out / kPanelWidth, in, kPanelWidth};
  std::vector<int64_t> shape = {out / kTileRows, in / kTileDepth};
  if (part == LayoutPart::Scales) {
    shape.push_back(kTileRows);
    return shape;
  }
  shape.push_back(kTileDepth / 2);
  shape.push_back(kTileRows);
  if (scheme != QuantScheme::Q4_0)
    shape.push_back(2);
  return shape;
}

std::optional<std::pair<int64_t, int64_t>>
WeightLayout::matrixShape(const std::vector<int64_t> &shape) const {
  if (shape.size() < 2 || shape[0] <= 0 || shape[1] <= 0)
    return std::nullopt;
  int64_t out = shape[0] * blockRows();
  int64_t in = kind == LayoutKind::Panels ? shape[1] : shape[1] * kTileDepth;
  if (storedShape(out, in) != shape)
    return std::nullopt;
  return std::make_pair(out, in);
}

std::string WeightLayout::storedShapeDescription() const {
  if (kind == LayoutKind::Panels)
    return "[out/64, in, 64]";
  if (part == LayoutPart::Scales)
    return "[out/16, in/32, 16]";
  if (scheme == QuantScheme::Q4_0)
    return "[out/16, in/32, 16, 16]";
  return "[out/16, in/32, 16, 16, 2]";
}

int64_t WeightLayout::storedBytes(int64_t out, int64_t in) const {
  std::optional<std::vector<int64_t>> shape = storedShape(out, in);
  if (!shape)
    return 0;
  int64_t elements = 1;
  for (int64_t dim : *shape)
    elements *= dim;
  return elements * elementBytes(element());
}

int64_t WeightLayout::storedIndex(int64_t row, int64_t column,
                                  int64_t in) const {
  if (kind == LayoutKind::Panels)
    return ((row / kPanelWidth) * in + column) * kPanelWidth +
           row % kPanelWidth;
  const int64_t tilesIn = in / kTileDepth;
  const int64_t tile = (row / kTileRows) * tilesIn + column / kTileDepth;
  const int64_t ni = row % kTileRows;
  if (part == LayoutPart::Scales)
    return tile * kTileRows + ni;
  const int64_t kr = (column % kTileDepth) / 2, kp = column % 2;
  if (scheme == QuantScheme::Q4_0) // both pair elements in one byte
    return (tile * (kTileDepth / 2) + kr) * kTileRows + ni;
  return ((tile * (kTileDepth / 2) + kr) * kTileRows + ni) * 2 + kp;
}

std::string WeightLayout::name() const {
  std::string text;
  if (kind == LayoutKind::Panels)
    text = "f32panel64";
  else if (!isQuantized())
    text = "vnni16x32";
  else
    text = std::string(quantSchemeName(scheme)) + "x16x32";
  if (part == LayoutPart::Scales)
    text += "_scales";
  return text;
}

std::optional<WeightLayout> WeightLayout::parse(std::string_view name) {
  for (LayoutKind kind : {LayoutKind::Tiles, LayoutKind::Panels})
    for (QuantScheme scheme :
         {QuantScheme::None, QuantScheme::Q8_0, QuantScheme::Q4_0})
      for (LayoutPart part : {LayoutPart::Values, LayoutPart::Scales}) {
        WeightLayout layout{kind, scheme, part};
        if (layout.isValid() && layout.name() == name)
          return layout;
      }
  return std::nullopt;
}

} // namespace llamac::artifact
