//===- WeightLayout.h - How a weight matrix is stored -----------*- C++ -*-===//
//
// The one description of the weight layouts the compiler may choose. The
// `#llm.layout` attribute of the IR wraps a WeightLayout; the weight packer
// writes weights.bin with it and the runtime reads the manifest's layout
// names with it. Plain C++ (no MLIR, no LLVM), so both sides share it.
//
// A layout rearranges a checkpoint's [out, in] matrix (out outputs, in
// inputs, row-major) into blocks the micro-kernels load whole:
//
//   tiles 16x32, bf16 ("vnni16x32"): [out/16, in/32, 16, 16, 2], element
//     [nb, kb, kr, ni, kp] = matrix[nb*16 + ni, kb*32 + kr*2 + kp]: 1 KiB
//     tiles of input pairs, what AMX's tdpbf16ps multiplies;
//   panels 64, f32 ("f32panel64"): [out/64, in, 64], element [nb, k, ni] =
//     matrix[nb*64 + ni, k]: each panel of 64 outputs k-major;
//   quantized tiles ("q8_0x16x32", "q4_0x16x32"): the codes of llama.cpp's
//     Q8_0 / Q4_0 block quantization (blocks of 32 inputs, one f16 scale per
//     block and output) in the order of the bf16 tiles: Q8_0 i8
//     [out/16, in/32, 16, 16, 2]; Q4_0 i8 [out/16, in/32, 16, 16], byte
//     [nb, kb, kr, ni] holding kp = 0 (low nibble) and kp = 1 (high nibble);
//     their scales ("..._scales"): f16 [out/16, in/32, 16], element
//     [nb, kb, ni] = the scale of row nb*16 + ni, block kb.
//
//===----------------------------------------------------------------------===//
#ifndef LLAMAC_ARTIFACT_WEIGHTLAYOUT_H
#define LLAMAC_ARTIFACT_WEIGHTLAYOUT_H

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace llamac::artifact {

/// The element types a stored weight may have.
enum class ElementType : uint8_t { F32, F16, BF16, I8 };

/// Bytes of one element of `type`.
int64_t elementBytes(ElementType type);
/// "f32", "f16", "bf16", "i8".
std::string_view elementTypeName(ElementType type);

/// Block quantization of a matrix (llama.cpp's reference rules).
enum class QuantScheme : uint8_t { None, Q8_0, Q4_0 };

/// "none", "q8_0", "q4_0".
std::string_view quantSchemeName(QuantScheme scheme);
std::optional<QuantScheme> parseQuantScheme(std::string_view name);

/// How the blocks of a stored matrix are arranged.
enum class LayoutKind : uint8_t {
  /// 16 x 32 tiles of input pairs (bf16 values or quantized codes).
  Tiles,
  /// Panels of 64 outputs, k-major (f32 values).
  Panels,
};

/// Which tensor of a stored matrix an entry is: its values (or codes), or
/// the block scales of its codes.
enum class LayoutPart : uint8_t { Values, Scales };

struct WeightLayout {
  LayoutKind kind = LayoutKind::Tiles;
  QuantScheme scheme = QuantScheme::None;
  LayoutPart part = LayoutPart::Values;

  /// Outputs per tile, inputs per tile (a pair per 32-bit lane), outputs
  /// per panel, inputs per quantization block.
  static constexpr int64_t kTileRows = 16;
  static constexpr int64_t kTileDepth = 32;
  static constexpr int64_t kPanelWidth = 64;
  static constexpr int64_t kQuantBlock = 32;

  /// bf16 tiles ("vnni16x32").
  static WeightLayout bf16Tiles() { return {}; }
  /// f32 panels ("f32panel64").
  static WeightLayout f32Panels() {
    return {LayoutKind::Panels, QuantScheme::None, LayoutPart::Values};
  }
  /// The codes of a quantized matrix ("q8_0x16x32" / "q4_0x16x32").
  static WeightLayout quantizedTiles(QuantScheme scheme) {
    return {LayoutKind::Tiles, scheme, LayoutPart::Values};
  }
  /// The scales entry that goes with these codes.
  WeightLayout scales() const { return {kind, scheme, LayoutPart::Scales}; }
  /// The codes entry that goes with these scales.
  WeightLayout values() const { return {kind, scheme, LayoutPart::Values}; }

  bool isQuantized() const { return scheme != QuantScheme::None; }
  bool isScales() const { return part == LayoutPart::Scales; }

  /// False for combinations no micro-kernel reads (quantized panels,
  /// scales of an unquantized matrix).
  bool isValid() const;

  /// Outputs of one tile or panel (16 or 64).
  int64_t blockRows() const;
  /// Inputs of one tile (32; 1 for panels, which hold whole rows).
  int64_t blockDepth() const;

  /// The element type of the stored tensor.
  ElementType element() const;
  /// Matrix values per stored element: 2 for Q4_0 codes (two nibbles a
  /// byte), 1 otherwise.
  int64_t valuesPerElement() const;

  /// Whether an [out, in] matrix can be stored this way (whole blocks).
  bool fits(int64_t out, int64_t in) const;
  /// The stored shape of an [out, in] matrix; nothing when it does not fit.
  std::optional<std::vector<int64_t>> storedShape(int64_t out,
                                                  int64_t in) const;
  /// The [out, in] matrix a stored tensor of `shape` holds; nothing when
  /// `shape` is not one of this layout's.
  std::optional<std::pair<int64_t, int64_t>>
  matrixShape(const std::vector<int64_t> &shape) const;
  /// The stored shape in words, e.g. "[out/16, in/32, 16, 16, 2]".
  std::string storedShapeDescription() const;
  /// Bytes of the stored tensor of an [out, in] matrix that fits.
  int64_t storedBytes(int64_t out, int64_t in) const;

  /// Index in the stored tensor (in elements) of matrix element
  /// [row, column] of a matrix with `in` inputs, for the values part: the
  /// element that holds it (for Q4_0, the byte; `column % 2` picks the
  /// nibble). For the scales part, of the scale of the block holding it.
  int64_t storedIndex(int64_t row, int64_t column, int64_t in) const;

  /// The manifest's name: "vnni16x32", "f32panel64", "q8_0x16x32",
  /// "q4_0x16x32", or one of the last two with "_scales".
  std::string name() const;
  /// The inverse of name(); nothing for any other text.
  static std::optional<WeightLayout> parse(std::string_view name);

  friend bool operator==(const WeightLayout &a, const WeightLayout &b) {
    return a.kind == b.kind && a.scheme == b.scheme && a.part == b.part;
  }
  friend bool operator!=(const WeightLayout &a, const WeightLayout &b) {
    return !(a == b);
  }
};

} // namespace llamac::artifact

#endif // LLAMAC_ARTIFACT_WEIGHTLAYOUT_H
