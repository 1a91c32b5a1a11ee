//===- CheckpointWeights.h - The tensors of a checkpoint --------*- C++ -*-===//
//
// A checkpoint's weights are one `model.safetensors` or, for every Llama
// above 1B on Hugging Face, shards (`model-00001-of-00004.safetensors`, ...)
// that `model.safetensors.index.json` maps tensor by tensor, or the tensors
// of a GGUF file under their Hugging Face names. Either way the compiler
// sees one set of named tensors; each shard is mapped and validated like a
// single file, and the index must describe the shards exactly.
//
//===----------------------------------------------------------------------===//
#ifndef LLAMAC_FRONTEND_CHECKPOINTWEIGHTS_H
#define LLAMAC_FRONTEND_CHECKPOINTWEIGHTS_H

#include "llamac/Frontend/GGUF.h"
#include "llamac/Frontend/LlamaConfig.h"
#include "llamac/Frontend/Safetensors.h"

#include "llvm/ADT/StringMap.h"

#include <memory>
#include <string>
#include <vector>

namespace llamac {

/// The ggml block geometry (elements and bytes a block, where its scales
/// are) of a block `dtype` (isBlockDType): the one table of them is GGUF's.
const GGMLTypeTraits &blockTraits(DType dtype);

class CheckpointWeights {
public:
  /// The tensors of one safetensors file.
  static llvm::Expected<std::unique_ptr<CheckpointWeights>>
  openFile(llvm::StringRef path);
  /// The tensors of the shards that the index at `indexPath` names (file
  /// names in the index's directory). Every tensor of a named shard must
  /// be listed in the index under that shard, every listed tensor must be
  /// in its shard, and no tensor may be in two shards.
  static llvm::Expected<std::unique_ptr<CheckpointWeights>>
  openIndex(llvm::StringRef indexPath);
  /// The tensors of a GGUF file of a model with `config` (read from the
  /// same file), renamed to Hugging Face's names (`blk.0.attn_q.weight` is
  /// `model.layers.0.self_attn.q_proj.weight`), shapes in Hugging Face's
  /// order, Q and K marked for un-permuting. F32, F16, BF16, Q8_0 and Q4_0
  /// tensors are accepted; others (the K-quants...) are an error naming
  /// the tensor and its type. `rope_freqs.weight` is not a weight: the
  /// configuration has read it.
  static llvm::Expected<std::unique_ptr<CheckpointWeights>>
  fromGGUF(std::unique_ptr<GGUFFile> file, const LlamaConfig &config);

  /// All tensors: file by file (shards in the order of their names, which
  /// for Hugging Face's `model-00001-of-0000N` is their number), each
  /// file's in order of their data offsets.
  llvm::ArrayRef<TensorInfo> tensors() const { return all; }
  /// The tensor called `name`, or null.
  const TensorInfo *find(llvm::StringRef name) const;
  /// The raw little-endian bytes of `tensor` (a view into its file's
  /// mapping), which must not be one whose rows are permuted.
  llvm::ArrayRef<uint8_t> bytes(const TensorInfo &tensor) const;
  /// The bytes of `tensor` in Hugging Face's row order: a view into its
  /// file, or for a tensor with `ropeHeads` its rows put back in order in
  /// `scratch`.
  llvm::ArrayRef<uint8_t> bytes(const TensorInfo &tensor,
                                std::vector<uint8_t> &scratch) const;
  /// See SafetensorsFile::releasePages.
  void releasePages(const TensorInfo &tensor) const;
  /// The single file, or the index of a sharded checkpoint.
  llvm::StringRef path() const { return sourcePath; }
  /// The file that holds `tensor`.
  llvm::StringRef pathOf(const TensorInfo &tensor) const;
  /// How many files the tensors come from.
  size_t numFiles() const { return files.size(); }
  /// The GGUF file the tensors come from, or null for safetensors: it also
  /// holds the tokenizer.
  const GGUFFile *ggufFile() const {
    return files.size() == 1 ? files.front().gguf.get() : nullptr;
  }

private:
  /// One file the tensors come from: a safetensors file or a GGUF file.
  struct SourceFile {
    std::unique_ptr<SafetensorsFile> safetensors;
    std::unique_ptr<GGUFFile> gguf;
    const llvm::MemoryBuffer &buffer() const;
    llvm::StringRef path() const;
  };

  CheckpointWeights() = default;
  void add(std::unique_ptr<SafetensorsFile> file);

  std::string sourcePath;
  std::vector<SourceFile> files;
  std::vector<TensorInfo> all;
  llvm::StringMap<size_t> byName;
};

} // namespace llamac

#endif // LLAMAC_FRONTEND_CHECKPOINTWEIGHTS_H
