//===- WeightPacker.h - weights.bin from a checkpoint -----------*- C++ -*-===//
//
// The compiler decides where each weight lives and in which precision
// (`llm.weights` on the module, written by llm-lower-entry-abi); the packer
// applies that decision once, at compile time, so the runtime only maps the
// file.
//
//===----------------------------------------------------------------------===//
#ifndef LLAMAC_COMPILER_WEIGHTPACKER_H
#define LLAMAC_COMPILER_WEIGHTPACKER_H

#include "llamac/Artifact/WeightLayout.h"
#include "llamac/Frontend/CheckpointWeights.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/BuiltinTypes.h"
#include "llvm/Support/Error.h"

#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace llamac {

/// One entry of the module's weight table.
struct WeightSlot {
  std::string name;
  int64_t offset = 0;
  mlir::RankedTensorType type;
  /// None: the checkpoint's layout; otherwise llm.param's `layout`: the
  /// checkpoint's [out, in] matrix rearranged, or the codes or the scales
  /// of the matrix quantized (see WeightLayout.h and Quantize.h).
  std::optional<artifact::WeightLayout> layout;
  /// Empty: the checkpoint tensor `name`. Otherwise the checkpoint matrices
  /// stacked along their first dimension, in this order (llm.param's
  /// `parts`, a fused projection), before any layout is applied.
  std::vector<std::string> parts;

  int64_t byteSize() const {
    return type.getNumElements() * type.getElementTypeBitWidth() / 8;
  }
};

/// The weight table the compile pipeline recorded on `module`, and the
/// buffer size (`llm.weights_size`).
llvm::Expected<std::vector<WeightSlot>> readWeightTable(mlir::ModuleOp module,
                                                        int64_t &totalSize);

/// Writes `path` (size rounded up to a page) with every slot filled from the
/// tensor of the same name in `source`, converted to the slot's element type
/// (bf16 -> f32 exactly, f32 -> bf16 rounding to nearest even, f16 -> both)
/// and rearranged into the slot's layout.
llvm::Error
packWeights(llvm::ArrayRef<WeightSlot> slots, int64_t totalSize,
            const CheckpointWeights &source, llvm::StringRef path,
            const std::function<void(uint64_t, uint64_t)> &progress = {});

} // namespace llamac

#endif // LLAMAC_COMPILER_WEIGHTPACKER_H
