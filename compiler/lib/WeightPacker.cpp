//===- WeightPacker.cpp - weights.bin from a checkpoint -------------------===//
#include "llamac/Compiler/WeightPacker.h"
#include "llamac/Compiler/Quantize.h"

#include "llamac/IR/LLMDialect.h"

#include "mlir/IR/BuiltinAttributes.h"
#include "llvm/ADT/ScopeExit.h"
#include "llvm/ADT/SmallVector.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Process.h"
#include "llvm/Support/MathExtras.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include <sys/mman.h>
#include <unistd.h>

using namespace llvm;

namespace llamac {

namespace {

Error makeError(const Twine &message) {
  return createStringError(inconvertibleErrorCode(), message);
}

std::string attributeText(mlir::Attribute attribute) {
  std::string text;
  raw_string_ostream(text) << attribute;
  return text;
}

float bf16ToFloat(uint16_t bits) {
  uint32_t widened = uint32_t(bits) << 16;
  float value;
  std::memcpy(&value, &widened, sizeof(value));
  return value;
}

uint16_t floatToBF16(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof(bits));
  if ((bits & 0x7fffffff) > 0x7f800000) // nan: keep it a quiet nan
    return uint16_t((bits >> 16) | 0x40);
  // Round to nearest, ties to even.
  uint32_t rounding = 0x7fff + ((bits >> 16) & 1);
  return uint16_t((bits + rounding) >> 16);
}

/// The block of `dtype` (a block type) that holds element `i` of a row-major
/// tensor at `source`; the geometry is looked up once per type.
const uint8_t *blockOf(const uint8_t *source, DType dtype, int64_t i) {
  static_assert(int(DType::Q4_0) == int(DType::Q8_0) + 1 &&
                    int(DType::Q4_K) == int(DType::Q8_0) + 2 &&
                    int(DType::Q5_K) == int(DType::Q8_0) + 3 &&
                    int(DType::Q6_K) == int(DType::Q8_0) + 4,
                "the table below is indexed by DType");
  static const GGMLTypeTraits *const traits[] = {
      &blockTraits(DType::Q8_0), &blockTraits(DType::Q4_0),
      &blockTraits(DType::Q4_K), &blockTraits(DType::Q5_K),
      &blockTraits(DType::Q6_K)};
  const GGMLTypeTraits &t = *traits[int(dtype) - int(DType::Q8_0)];
  return source + t.blockBytes * uint64_t(i / int64_t(t.blockElements));
}

/// The f16 at `bytes` as a float.
float halfAt(const uint8_t *bytes) {
  uint16_t bits;
  std::memcpy(&bits, bytes, 2);
  return halfToFloat(bits);
}

/// Element `i` of Q4_K / Q5_K blocks of 256 (144 / 176 bytes: f16 d, f16
/// dmin, 12 bytes of eight 6-bit scales and mins, [Q5_K: 32 bytes of high
/// bits,] 128 bytes of low nibbles), as llama.cpp decodes it: 64 values a
/// chunk, the first 32 from the low nibbles of its 32 bytes and the next
/// 32 from the high ones, each half with its own scale and min;
/// value = (d * scale) * code - dmin * min. The products are exact in
/// float, so the one rounding is the difference's, as in llama.cpp.
float loadKQuant45(const uint8_t *source, bool fiveBits, int64_t i) {
  const uint8_t *block = blockOf(source, fiveBits ? DType::Q5_K : DType::Q4_K, i);
  const uint8_t *scales = block + 4;
  const uint8_t *high = block + 16;
  const uint8_t *low = block + (fiveBits ? 48 : 16);
  const int e = int(i % 256), chunk = e / 64, half = (e % 64) / 32,
            l = e % 32;
  const int sub = 2 * chunk + half;
  uint8_t scale, min;
  if (sub < 4) {
    scale = scales[sub] & 63;
    min = scales[sub + 4] & 63;
  } else {
    scale = (scales[sub + 4] & 0xF) | ((scales[sub - 4] >> 6) << 4);
    min = (scales[sub + 4] >> 4) | ((scales[sub] >> 6) << 4);
  }
  const uint8_t byte = low[32 * chunk + l];
  int code = half ? byte >> 4 : byte & 0xF;
  if (fiveBits && (high[l] >> sub) & 1)
    code += 16;
  const float d = halfAt(block) * float(scale);
  const float m = halfAt(block + 2) * float(min);
  return d * float(code) - m;
}

/// Element `i` of Q6_K blocks of 256 (210 bytes: 128 bytes of low
/// nibbles, 64 of high bit pairs, 16 int8 scales of 16 values, f16 d), as
/// llama.cpp decodes it: two halves of 128, each four runs of 32 that take
/// the low or high nibble of the first or second 32 low bytes and a bit
/// pair of the same 32 high bytes; value = (d * scale) * (code - 32).
float loadQ6K(const uint8_t *source, int64_t i) {
  const uint8_t *block = blockOf(source, DType::Q6_K, i);
  const int e = int(i % 256), n = e / 128, run = (e % 128) / 32, l = e % 32;
  const uint8_t *low = block + 64 * n;
  const uint8_t *high = block + 128 + 32 * n;
  const int8_t *scales =
      reinterpret_cast<const int8_t *>(block + 192) + 8 * n;
  const uint8_t lowByte = low[l + 32 * (run & 1)];
  const int lowBits = run < 2 ? lowByte & 0xF : lowByte >> 4;
  const int highBits = (high[l] >> (2 * run)) & 3;
  const int code = (lowBits | (highBits << 4)) - 32;
  const float d = halfAt(block + 208);
  return d * float(scales[l / 16 + 2 * run]) * float(code);
}

/// Reads element `i` of `source` (of `dtype`) as a float.
float loadAsFloat(const uint8_t *source, DType dtype, int64_t i) {
  switch (dtype) {
  case DType::F32: {
    float value;
    std::memcpy(&value, source + 4 * i, 4);
    return value;
  }
  case DType::BF16: {
    uint16_t bits;
    std::memcpy(&bits, source + 2 * i, 2);
    return bf16ToFloat(bits);
  }
  case DType::F16: {
    uint16_t bits;
    std::memcpy(&bits, source + 2 * i, 2);
    return halfToFloat(bits);
  }
  // A GGUF file's blocks of 32 along the row: the value is the code times
  // the block's f16 scale, exactly (so requantizing it with the same
  // algorithm gives back the same block).
  case DType::Q8_0: {
    const uint8_t *block = blockOf(source, DType::Q8_0, i);
    return halfAt(block) * float(int8_t(block[2 + i % 32]));
  }
  case DType::Q4_0: {
    const uint8_t *block = blockOf(source, DType::Q4_0, i);
    const int64_t j = i % 32;
    const int code = j < 16 ? block[2 + j] & 0xF : block[2 + j - 16] >> 4;
    return halfAt(block) * float(code - 8);
  }
  case DType::Q4_K:
  case DType::Q5_K:
    return loadKQuant45(source, dtype == DType::Q5_K, i);
  case DType::Q6_K:
    return loadQ6K(source, i);
  }
  llvm_unreachable("unknown dtype");
}

/// Converts `count` elements from `source` (`from`) to `target` (`to`).
Error convert(const uint8_t *source, DType from, uint8_t *target,
              mlir::Type to, int64_t count, StringRef name) {
  bool sameType = (from == DType::F32 && to.isF32()) ||
                  (from == DType::BF16 && to.isBF16()) ||
                  (from == DType::F16 && to.isF16());
  if (sameType) {
    std::memcpy(target, source, count * to.getIntOrFloatBitWidth() / 8);
    return Error::success();
  }
  if (to.isF32()) {
    for (int64_t i = 0; i < count; ++i) {
      float value = loadAsFloat(source, from, i);
      std::memcpy(target + 4 * i, &value, 4);
    }
    return Error::success();
  }
  if (to.isBF16()) {
    for (int64_t i = 0; i < count; ++i) {
      uint16_t bits = floatToBF16(loadAsFloat(source, from, i));
      std::memcpy(target + 2 * i, &bits, 2);
    }
    return Error::success();
  }
  std::string typeName;
  raw_string_ostream(typeName) << to;
  return makeError("weight '" + name + "': cannot convert " + dtypeName(from) +
                   " to " + typeName);
}

/// Writes the [out, in] matrix `tensor` as vnni16x32 tiles (bf16):
/// tile [nb, kb] element [kr, ni, kp] = matrix[nb*16 + ni, kb*32 + kr*2 + kp].
Error packVNNITiles(const uint8_t *source, const TensorInfo &tensor,
                    uint8_t *target, const WeightSlot &slot) {
  auto shape = slot.type.getShape();
  const int64_t columns = shape[1] * 32;
  // One 16 x 32 block of the matrix at a time: 16 rows read, 1 KiB written.
  uint16_t row[32];
  auto *out = reinterpret_cast<uint16_t *>(target);
  for (int64_t nb = 0; nb < shape[0]; ++nb)
    for (int64_t kb = 0; kb < shape[1]; ++kb) {
      uint16_t *tile = out + (nb * shape[1] + kb) * 512;
      for (int64_t ni = 0; ni < 16; ++ni) {
        int64_t first = (nb * 16 + ni) * columns + kb * 32;
        if (tensor.dtype == DType::BF16)
          std::memcpy(row, source + 2 * first, sizeof(row));
        else
          for (int64_t j = 0; j < 32; ++j)
            row[j] = floatToBF16(loadAsFloat(source, tensor.dtype, first + j));
        for (int64_t j = 0; j < 32; ++j)
          tile[(j / 2) * 32 + ni * 2 + j % 2] = row[j];
      }
    }
  return Error::success();
}

/// Writes the [out, in] matrix `tensor` as f32panel64 panels (f32): panel
/// [nb] element [k, ni] = matrix[nb*64 + ni, k].
Error packF32Panels(const uint8_t *source, const TensorInfo &tensor,
                    uint8_t *target, const WeightSlot &slot) {
  constexpr int64_t width = artifact::WeightLayout::kPanelWidth;
  auto shape = slot.type.getShape();
  const int64_t columns = shape[1];
  // One 64-row band of the matrix at a time, transposed in blocks of 64
  // columns so that reads and writes both stay in cache.
  auto *out = reinterpret_cast<float *>(target);
  std::vector<float> rowBlock(size_t(width * width));
  for (int64_t nb = 0; nb < shape[0]; ++nb) {
    float *panel = out + nb * columns * width;
    for (int64_t k0 = 0; k0 < columns; k0 += width) {
      int64_t count = std::min(width, columns - k0);
      for (int64_t ni = 0; ni < width; ++ni) {
        int64_t first = (nb * width + ni) * columns + k0;
        for (int64_t j = 0; j < count; ++j)
          rowBlock[ni * width + j] =
              loadAsFloat(source, tensor.dtype, first + j);
      }
      for (int64_t j = 0; j < count; ++j)
        for (int64_t ni = 0; ni < width; ++ni)
          panel[(k0 + j) * width + ni] = rowBlock[ni * width + j];
    }
  }
  return Error::success();
}

/// The scale (fp16 bits) and codes of the block of 32 elements of `source`
/// (`dtype`) that starts at element `first`, in the slot's scheme (Q4_0 when
/// `q4`, codes 0..15 in `codes4`; else Q8_0 in `codes8`). A GGUF block that
/// is already of that scheme is kept bit for bit: requantizing its values
/// would give back another block whenever its quantizer was not ggml's
/// reference one (llama-quantize with an importance matrix searches for
/// other scales). Any other type is quantized here.
uint16_t quantizedBlock(const uint8_t *source, DType dtype, int64_t first,
                        bool q4, int8_t *codes8, uint8_t *codes4) {
  uint16_t scale;
  if (q4 && dtype == DType::Q4_0) {
    const uint8_t *block = blockOf(source, DType::Q4_0, first);
    std::memcpy(&scale, block, 2);
    for (int64_t j = 0; j < kQuantBlockSize / 2; ++j) {
      codes4[j] = block[2 + j] & 0xF;
      codes4[j + kQuantBlockSize / 2] = block[2 + j] >> 4;
    }
    return scale;
  }
  if (!q4 && dtype == DType::Q8_0) {
    const uint8_t *block = blockOf(source, DType::Q8_0, first);
    std::memcpy(&scale, block, 2);
    std::memcpy(codes8, block + 2, kQuantBlockSize);
    return scale;
  }
  float values[kQuantBlockSize];
  for (int64_t j = 0; j < kQuantBlockSize; ++j)
    values[j] = loadAsFloat(source, dtype, first + j);
  return q4 ? quantizeBlockQ4_0(values, codes4)
            : quantizeBlockQ8_0(values, codes8);
}

/// Writes the codes or the scales of the Q8_0 / Q4_0 quantization of the
/// [out, in] matrix `tensor` (blocks of 32 along each row), in the tile
/// order of the slot's layout (see llm.param): Q8_0 code [nb, kb, kr, ni,
/// kp], Q4_0 byte [nb, kb, kr, ni] = code(kp 0) | code(kp 1) << 4, scale
/// [nb, kb, ni] (fp16 bits).
Error packQuantized(const uint8_t *source, const TensorInfo &tensor,
                    uint8_t *target, const WeightSlot &slot) {
  bool q4 = slot.layout->scheme == artifact::QuantScheme::Q4_0;
  bool scales = slot.layout->isScales();
  auto shape = slot.type.getShape();
  const int64_t tilesOut = shape[0], tilesIn = shape[1];
  const int64_t rows = tilesOut * 16, columns = tilesIn * 32;
  int8_t codes8[kQuantBlockSize];
  uint8_t codes4[kQuantBlockSize];
  for (int64_t row = 0; row < rows; ++row) {
    int64_t nb = row / 16, ni = row % 16;
    for (int64_t kb = 0; kb < tilesIn; ++kb) {
      int64_t first = row * columns + kb * kQuantBlockSize;
      int64_t tile = nb * tilesIn + kb;
      uint16_t scale =
          quantizedBlock(source, tensor.dtype, first, q4, codes8, codes4);
      if (scales) {
        std::memcpy(target + 2 * (tile * 16 + ni), &scale, 2);
        continue;
      }
      for (int64_t kr = 0; kr < 16; ++kr) {
        if (q4) {
          target[(tile * 16 + kr) * 16 + ni] =
              uint8_t(codes4[2 * kr] | (codes4[2 * kr + 1] << 4));
        } else {
          uint8_t *pair = target + (tile * 16 + kr) * 32 + ni * 2;
          pair[0] = uint8_t(codes8[2 * kr]);
          pair[1] = uint8_t(codes8[2 * kr + 1]);
        }
      }
    }
  }
  return Error::success();
}


} // namespace

Expected<std::vector<WeightSlot>> readWeightTable(mlir::ModuleOp module,
                                                  int64_t &totalSize) {
  auto table = module->getAttrOfType<mlir::ArrayAttr>("llm.weights");
  auto size = module->getAttrOfType<mlir::IntegerAttr>("llm.weights_size");
  if (!table || !size)
    return makeError("the module has no weight table (llm.weights); was "
                     "llm-lower-entry-abi run?");
  totalSize = size.getInt();
  std::vector<WeightSlot> slots;
  for (mlir::Attribute entry : table) {
    auto dict = dyn_cast<mlir::DictionaryAttr>(entry);
    auto name = dict ? dict.getAs<mlir::StringAttr>("name") : nullptr;
    auto offset = dict ? dict.getAs<mlir::IntegerAttr>("offset") : nullptr;
    auto type = dict ? dict.getAs<mlir::TypeAttr>("type") : nullptr;
    auto tensorType =
        type ? dyn_cast<mlir::RankedTensorType>(type.getValue()) : nullptr;
    if (!name || !offset || !tensorType)
      return makeError("malformed entry in the llm.weights table");
    WeightSlot slot{name.str(), offset.getInt(), tensorType, std::nullopt, {}};
    if (mlir::Attribute layout = dict.get("layout")) {
      auto typed = dyn_cast<llm::WeightLayoutAttr>(layout);
      if (!typed)
        return makeError("weight '" + slot.name + "': layout " +
                         Twine(attributeText(layout)) +
                         " is not a #llm.layout");
      slot.layout = typed.getLayout();
      if (!typed.getMatrixShape(tensorType))
        return makeError("weight '" + slot.name + "': type does not fit " +
                         Twine(attributeText(layout)));
    }
    if (auto parts = dict.getAs<mlir::ArrayAttr>("parts"))
      for (mlir::Attribute part : parts) {
        auto partName = dyn_cast<mlir::StringAttr>(part);
        if (!partName)
          return makeError("malformed parts in the llm.weights table");
        slot.parts.push_back(partName.str());
      }
    if (slot.offset < 0 || slot.offset + slot.byteSize() > totalSize)
      return makeError("weight '" + slot.name + "' lies outside the buffer");
    slots.push_back(slot);
  }
  return slots;
}

namespace {
/// A GGUF file's blocks carry f16 scales; an infinite or NaN one would
/// make values of its block non-finite, which no quantizer can take.
Error checkBlockScales(ArrayRef<uint8_t> bytes, const TensorInfo &tensor,
                       StringRef path) {
  if (!isBlockDType(tensor.dtype))
    return Error::success();
  const GGMLTypeTraits &traits = blockTraits(tensor.dtype);
  const size_t blockBytes = traits.blockBytes;
  ArrayRef<unsigned> scaleOffsets(traits.scaleOffsets, traits.scaleCount);
  for (size_t block = 0; block * blockBytes < bytes.size(); ++block)
    for (unsigned offset : scaleOffsets) {
      uint16_t scale;
      std::memcpy(&scale, bytes.data() + block * blockBytes + offset, 2);
      if ((scale & 0x7C00) == 0x7C00)
        return makeError(path + ": tensor '" + tensor.name + "': block " +
                         Twine(block) + " has a non-finite scale");
    }
  return Error::success();
}

/// The matrices named by `slot.parts` stacked along their first dimension
/// into `stacked` (same columns required), described by `info`. Parts of
/// one type are stacked as they are; parts of different types (a GGUF
/// file's Q4_K_M mixes Q4_K and Q6_K in one layer's Q/K/V) are widened to
/// F32 first.
Error stackParts(const WeightSlot &slot, const CheckpointWeights &source,
                 std::vector<uint8_t> &stacked, TensorInfo &info) {
  SmallVector<const TensorInfo *, 3> parts;
  for (const std::string &part : slot.parts) {
    const TensorInfo *tensor = source.find(part);
    if (!tensor)
      return makeError(source.path() + ": no tensor '" + part +
                       "' for the compiled graph (part of '" + slot.name +
                       "')");
    if (tensor->shape.size() != 2)
      return makeError(source.pathOf(*tensor) + ": tensor '" + part +
                       "' is not a matrix (part of '" + slot.name + "')");
    if (!parts.empty() && tensor->shape[1] != parts.front()->shape[1])
      return makeError(source.pathOf(*tensor) + ": tensor '" + part +
                       "' differs in columns from '" + slot.parts.front() +
                       "' (parts of '" + slot.name + "')");
    parts.push_back(tensor);
  }
  const bool mixed = llvm::any_of(parts, [&](const TensorInfo *tensor) {
    return tensor->dtype != parts.front()->dtype;
  });
  info = *parts.front();
  info.shape[0] = 0;
  if (mixed)
    info.dtype = DType::F32;
  std::vector<uint8_t> scratch;
  for (const TensorInfo *tensor : parts) {
    ArrayRef<uint8_t> bytes = source.bytes(*tensor, scratch);
    if (Error error = checkBlockScales(bytes, *tensor, source.pathOf(*tensor)))
      return error;
    if (!mixed) {
      stacked.insert(stacked.end(), bytes.begin(), bytes.end());
    } else {
      const int64_t count = tensor->numElements();
      size_t at = stacked.size();
      stacked.resize(at + 4 * size_t(count));
      for (int64_t i = 0; i < count; ++i) {
        float value = loadAsFloat(bytes.data(), tensor->dtype, i);
        std::memcpy(stacked.data() + at + 4 * i, &value, 4);
      }
    }
    info.shape[0] += tensor->shape[0];
  }
  info.name = slot.name;
  info.ropeHeads = 0; // the rows are in order in `stacked`
  info.byteSize = stacked.size();
  return Error::success();
}

/// Fills `slot` of the mapped buffer at `base` from `source`.
Error packSlot(const WeightSlot &slot, const CheckpointWeights &source,
               char *base) {
  const TensorInfo *tensor = source.find(slot.name);
  ArrayRef<uint8_t> bytes;
  std::vector<uint8_t> stacked, unpermuted;
  TensorInfo stackedInfo;
  if (!slot.parts.empty()) {
    if (Error error = stackParts(slot, source, stacked, stackedInfo))
      return error;
    tensor = &stackedInfo;
    bytes = stacked;
  } else if (!tensor) {
    return makeError(source.path() + ": no tensor '" + slot.name +
                     "' for the compiled graph");
  } else {
    bytes = source.bytes(*tensor, unpermuted);
    // (stackParts has checked the parts it stacked.)
    if (Error error = checkBlockScales(bytes, *tensor, source.pathOf(*tensor)))
      return error;
  }
  auto *target = reinterpret_cast<uint8_t *>(base) + slot.offset;
  if (!slot.layout) {
    if (tensor->numElements() != slot.type.getNumElements())
      return makeError(source.pathOf(*tensor) + ": tensor '" + slot.name +
                       "' has " +
                       Twine(tensor->numElements()) +
                       " elements, the graph expects " +
                       Twine(slot.type.getNumElements()));
    return convert(bytes.data(), tensor->dtype, target,
                   slot.type.getElementType(), slot.type.getNumElements(),
                   slot.name);
  }
  // The slot's stored shape comes from the matrix; the checkpoint must hold
  // that matrix.
  auto matrix = slot.layout->matrixShape(std::vector<int64_t>(
      slot.type.getShape().begin(), slot.type.getShape().end()));
  if (tensor->shape.size() != 2 || !matrix ||
      tensor->shape[0] != matrix->first || tensor->shape[1] != matrix->second)
    return makeError(source.pathOf(*tensor) + ": tensor '" + slot.name +
                     "' is not the [" + Twine(matrix ? matrix->first : 0) +
                     ", " + Twine(matrix ? matrix->second : 0) +
                     "] matrix its " + slot.layout->name() + " layout needs");
  if (slot.layout->isQuantized())
    return packQuantized(bytes.data(), *tensor, target, slot);
  if (slot.layout->kind == artifact::LayoutKind::Panels)
    return packF32Panels(bytes.data(), *tensor, target, slot);
  return packVNNITiles(bytes.data(), *tensor, target, slot);
}
/// Packing streams: once a slot is written, neither its source tensors nor
/// its packed bytes need to stay in this process's memory, so a compile
/// holds about one tensor per worker rather than the whole checkpoint and
/// the whole weights.bin (16 GB and 8.5 GB for an 8B in q8_0). The output
/// is a shared mapping of the file: its dropped pages stay in the page
/// cache, are written back by the kernel, and read back if touched again.
void releaseSlotPages(const WeightSlot &slot, const CheckpointWeights &source,
                      char *base) {
  if (slot.parts.empty()) {
    if (const TensorInfo *tensor = source.find(slot.name))
      source.releasePages(*tensor);
  }
  for (const std::string &part : slot.parts)
    if (const TensorInfo *tensor = source.find(part))
      source.releasePages(*tensor);
  // Inward to whole pages: a page shared with a neighbouring slot may
  // still be being written by another worker.
  const uintptr_t page = uintptr_t(::sysconf(_SC_PAGESIZE));
  uintptr_t begin = alignTo(uintptr_t(base + slot.offset), page);
  uintptr_t end = alignDown(uintptr_t(base + slot.offset + slot.byteSize()), page);
  if (begin < end)
    ::madvise(reinterpret_cast<void *>(begin), end - begin, MADV_DONTNEED);
}
} // namespace

Error packWeights(ArrayRef<WeightSlot> slots, int64_t totalSize,
                  const CheckpointWeights &source, StringRef path,
                  const std::function<void(uint64_t, uint64_t)> &progress) {
  // Rounded to a page so the runtime can map the whole file.
  uint64_t fileSize = alignTo(uint64_t(std::max<int64_t>(totalSize, 1)), 4096);
  int fd;
  if (std::error_code ec = sys::fs::openFileForReadWrite(
          path, fd, sys::fs::CD_CreateAlways, sys::fs::OF_None))
    return makeError(path + ": " + ec.message());
  auto closeFile = make_scope_exit([&] { sys::Process::SafelyCloseFileDescriptor(fd); });
  if (std::error_code ec = sys::fs::resize_file(fd, fileSize))
    return makeError(path + ": cannot grow to " + Twine(fileSize) +
                     " bytes: " + ec.message());
  std::error_code ec;
  sys::fs::mapped_file_region region(sys::fs::convertFDToNativeFile(fd),
                                     sys::fs::mapped_file_region::readwrite,
                                     fileSize, 0, ec);
  if (ec)
    return makeError(path + ": cannot map: " + ec.message());

  uint64_t done = 0, total = 0;
  for (const WeightSlot &slot : slots)
    total += slot.byteSize();
  // One slot at a time per thread: packing is page faults and memory
  // traffic more than arithmetic, and both cores fault pages in parallel.
  std::atomic<size_t> next{0};
  std::mutex mutex; // guards done, firstError and progress calls
  std::optional<std::string> firstError;
  auto work = [&] {
    for (size_t index = next++; index < slots.size(); index = next++) {
      const WeightSlot &slot = slots[index];
      Error error = packSlot(slot, source, region.data());
      if (!error)
        releaseSlotPages(slot, source, region.data());
      std::lock_guard<std::mutex> lock(mutex);
      if (error) {
        std::string message = toString(std::move(error));
        if (!firstError)
          firstError = message;
        next = slots.size(); // stop the other workers early
        return;
      }
      done += slot.byteSize();
      if (progress)
        progress(done, total);
    }
  };
  unsigned workers = std::max(1u, std::min(4u, std::thread::hardware_concurrency()));
  std::vector<std::thread> threads;
  for (unsigned i = 1; i < workers; ++i)
    threads.emplace_back(work);
  work();
  for (std::thread &thread : threads)
    thread.join();
  if (firstError)
    return makeError(*firstError);
  region.unmap();
  return Error::success();
}

} // namespace llamac
