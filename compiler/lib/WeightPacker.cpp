//===- WeightPacker.cpp - weights.bin from a checkpoint -------------------===//
#include "llamac/Compiler/WeightPacker.h"
#include "llamac/Compiler/Quantize.h"

#include "llamac/IR/LLMDialect.h"

#include "mlir/IR/BuiltinAttributes.h"
#include "llvm/ADT/ScopeExit.h"
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
    const uint8_t *block = source + 34 * (i / 32);
    uint16_t scale;
    std::memcpy(&scale, block, 2);
    return halfToFloat(scale) * float(int8_t(block[2 + i % 32]));
  }
  case DType::Q4_0: {
    const uint8_t *block = source + 18 * (i / 32);
    uint16_t scale;
    std::memcpy(&scale, block, 2);
    const int64_t j = i % 32;
    const int code = j < 16 ? block[2 + j] & 0xF : block[2 + j - 16] >> 4;
    return halfToFloat(scale) * float(code - 8);
  }
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
  float block[kQuantBlockSize];
  int8_t codes8[kQuantBlockSize];
  uint8_t codes4[kQuantBlockSize];
  for (int64_t row = 0; row < rows; ++row) {
    int64_t nb = row / 16, ni = row % 16;
    for (int64_t kb = 0; kb < tilesIn; ++kb) {
      int64_t first = row * columns + kb * kQuantBlockSize;
      for (int64_t j = 0; j < kQuantBlockSize; ++j)
        block[j] = loadAsFloat(source, tensor.dtype, first + j);
      int64_t tile = nb * tilesIn + kb;
      uint16_t scale = q4 ? quantizeBlockQ4_0(block, codes4)
                          : quantizeBlockQ8_0(block, codes8);
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
/// The matrices named by `slot.parts` stacked along their first dimension
/// into `stacked` (same dtype and columns required), described by `info`.
Error stackParts(const WeightSlot &slot, const CheckpointWeights &source,
                 std::vector<uint8_t> &stacked, TensorInfo &info) {
  for (const std::string &part : slot.parts) {
    const TensorInfo *tensor = source.find(part);
    if (!tensor)
      return makeError(source.path() + ": no tensor '" + part +
                       "' for the compiled graph (part of '" + slot.name +
                       "')");
    if (tensor->shape.size() != 2)
      return makeError(source.pathOf(*tensor) + ": tensor '" + part +
                       "' is not a matrix (part of '" + slot.name + "')");
    if (&part == &slot.parts.front()) {
      info = *tensor;
      info.shape[0] = 0;
    } else if (tensor->dtype != info.dtype || tensor->shape[1] != info.shape[1]) {
      return makeError(source.pathOf(*tensor) + ": tensor '" + part +
                       "' differs in dtype or columns from '" +
                       slot.parts.front() + "' (parts of '" + slot.name +
                       "')");
    }
    std::vector<uint8_t> scratch;
    ArrayRef<uint8_t> bytes = source.bytes(*tensor, scratch);
    stacked.insert(stacked.end(), bytes.begin(), bytes.end());
    info.shape[0] += tensor->shape[0];
  }
  info.name = slot.name;
  info.ropeHeads = 0; // the rows are in order in `stacked`
  info.byteSize = stacked.size();
  return Error::success();
}

/// A GGUF file's blocks carry f16 scales; an infinite or NaN one would
/// make every value of its block non-finite, which no quantizer can take.
Error checkBlockScales(ArrayRef<uint8_t> bytes, const TensorInfo &tensor,
                       StringRef path) {
  if (tensor.dtype != DType::Q8_0 && tensor.dtype != DType::Q4_0)
    return Error::success();
  const size_t blockBytes = tensor.dtype == DType::Q8_0 ? 34 : 18;
  for (size_t block = 0; block * blockBytes < bytes.size(); ++block) {
    uint16_t scale;
    std::memcpy(&scale, bytes.data() + block * blockBytes, 2);
    if ((scale & 0x7C00) == 0x7C00)
      return makeError(path + ": tensor '" + tensor.name + "': block " +
                       Twine(block) + " has a non-finite scale");
  }
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
  }
  if (Error error = checkBlockScales(bytes, *tensor, source.path()))
    return error;
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
