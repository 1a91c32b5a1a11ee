//===- GraphBuilder.cpp - Llama config -> llm dialect graph ---------------===//
//
// One transformer layer, as emitted (n = number of new tokens):
//
//   h      = rms_norm(x, input_layernorm)
//   q,k,v  = linear(h, q/k/v_proj)       reshaped to [n, heads, head_dim]
//   q,k    = rope(q, k) at start_pos
//   o, kc, vc = attention(q, k, v, cache(kc, vc)) at start_pos
//   x      = x + linear(o reshaped to [n, heads*head_dim], o_proj)
//   h      = rms_norm(x, post_attention_layernorm)
//   x      = x + linear(silu(linear(h, gate)) * linear(h, up), down)
//
// followed by a final rms_norm and the output projection (the embedding
// matrix itself when the embeddings are tied).
//
//===----------------------------------------------------------------------===//
#include "llamac/Frontend/GraphBuilder.h"

#include "llamac/Frontend/Checkpoint.h"
#include "llamac/IR/KVCache.h"
#include "llamac/IR/LLMOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/Support/FormatVariadic.h"

#include <cmath>

using namespace mlir;

namespace llamac {

llvm::Expected<DType> weightTypeFromTorchDtype(llvm::StringRef torchDtype) {
  if (torchDtype.empty() || torchDtype == "bfloat16")
    return DType::BF16;
  if (torchDtype == "float16")
    return DType::F16;
  if (torchDtype == "float32")
    return DType::F32;
  return llvm::createStringError(
      "config.json: field 'torch_dtype' is '%s'; llamac reads bfloat16, "
      "float16 and float32 weights",
      torchDtype.str().c_str());
}

GraphOptions graphOptionsFor(const Checkpoint &checkpoint) {
  GraphOptions options;
  for (const TensorInfo &tensor : checkpoint.weights->tensors())
    // The graph holds floats: a GGUF file's quantized blocks are shown as
    // the default weight type (the compiler chooses the storage anyway).
    if (!isBlockDType(tensor.dtype))
      options.paramTypes[tensor.name] = tensor.dtype;
  return options;
}

namespace {

Type elementTypeOf(MLIRContext *context, DType dtype) {
  switch (dtype) {
  case DType::BF16:
    return BFloat16Type::get(context);
  case DType::F16:
    return Float16Type::get(context);
  case DType::F32:
    return Float32Type::get(context);
  default:
    break;
  }
  llvm_unreachable("not a float dtype");
}

/// The module-level record of the configuration, for inspection and for the
/// later stages that need sizes the IR types do not carry (eos ids, ...).
DictionaryAttr configAttr(Builder &b, const LlamaConfig &config) {
  SmallVector<NamedAttribute> fields = {
      b.getNamedAttr("hidden_size", b.getI64IntegerAttr(config.hiddenSize)),
      b.getNamedAttr("intermediate_size",
                     b.getI64IntegerAttr(config.intermediateSize)),
      b.getNamedAttr("num_hidden_layers", b.getI64IntegerAttr(config.numLayers)),
      b.getNamedAttr("num_attention_heads", b.getI64IntegerAttr(config.numHeads)),
      b.getNamedAttr("num_key_value_heads",
                     b.getI64IntegerAttr(config.numKVHeads)),
      b.getNamedAttr("head_dim", b.getI64IntegerAttr(config.headDim)),
      b.getNamedAttr("vocab_size", b.getI64IntegerAttr(config.vocabSize)),
      b.getNamedAttr("max_position_embeddings",
                     b.getI64IntegerAttr(config.maxPositionEmbeddings)),
      b.getNamedAttr("rms_norm_eps", b.getF64FloatAttr(config.rmsNormEps)),
      b.getNamedAttr("rope_theta", b.getF64FloatAttr(config.ropeTheta)),
      b.getNamedAttr("tie_word_embeddings",
                     b.getBoolAttr(config.tieWordEmbeddings)),
      b.getNamedAttr("eos_token_ids",
                     b.getDenseI64ArrayAttr(config.eosTokenIds)),
  };
  if (config.bosTokenId)
    fields.push_back(
        b.getNamedAttr("bos_token_id", b.getI64IntegerAttr(*config.bosTokenId)));
  return b.getDictionaryAttr(fields);
}

/// Emits one entry function. Params are created per function (a function
/// cannot use another's values); within a function each weight is one value,
/// so a tied embedding is visibly the same tensor in both uses.
class FunctionBuilder {
public:
  FunctionBuilder(OpBuilder &builder, const LlamaConfig &config,
                  const GraphOptions &options)
      : b(builder), config(config), options(options),
        f32(builder.getF32Type()) {}

  /// `lastOnly`: logits of the last token only (what generation needs).
  func::FuncOp build(ModuleOp module, StringRef name, int64_t numTokens,
                     bool lastOnly = false);

private:
  Location loc(const Twine &name) {
    return NameLoc::get(b.getStringAttr(name));
  }
  /// The weight called `name` with shape `shape`.
  Value param(StringRef name, ArrayRef<int64_t> shape);
  /// A [n, features] activation type.
  RankedTensorType activation(int64_t features) {
    return RankedTensorType::get({numTokens, features}, f32);
  }
  Value linear(Value input, StringRef weightName, int64_t outFeatures,
               const Twine &where);
  Value rmsNorm(Value input, StringRef weightName, const Twine &where);
  /// [n, heads*headDim] -> [n, heads, headDim].
  Value splitHeads(Value input, int64_t heads, const Twine &where);
  Value rope(Value input, const Twine &where);
  Value layer(int64_t index, Value x);

  OpBuilder &b;
  const LlamaConfig &config;
  const GraphOptions &options;
  Type f32;
  int64_t numTokens = 0;
  /// The token count as reshapes need it: a constant or `tensor.dim`.
  OpFoldResult numTokensValue;
  Value startPos, keyCache, valueCache;
  llvm::StringMap<Value> params;
};

Value FunctionBuilder::param(StringRef name, ArrayRef<int64_t> shape) {
  auto [it, inserted] = params.try_emplace(name, Value());
  if (!inserted)
    return it->second;
  DType dtype = options.weightType;
  if (auto found = options.paramTypes.find(name.str());
      found != options.paramTypes.end())
    dtype = found->second;
  auto type =
      RankedTensorType::get(shape, elementTypeOf(b.getContext(), dtype));
  it->second = b.create<llm::ParamOp>(loc(name), type, name);
  return it->second;
}

Value FunctionBuilder::linear(Value input, StringRef weightName,
                              int64_t outFeatures, const Twine &where) {
  auto inputType = cast<RankedTensorType>(input.getType());
  int64_t inFeatures = inputType.getDimSize(1);
  Value weight = param(weightName, {outFeatures, inFeatures});
  auto type = RankedTensorType::get({inputType.getDimSize(0), outFeatures},
                                    inputType.getElementType());
  return b.create<llm::LinearOp>(loc(where), type, input, weight);
}

Value FunctionBuilder::rmsNorm(Value input, StringRef weightName,
                               const Twine &where) {
  // The result has the input's type (also for the last-token slice).
  Value weight = param(weightName, {config.hiddenSize});
  return b.create<llm::RMSNormOp>(loc(where), input.getType(), input, weight,
                                  b.getF64FloatAttr(config.rmsNormEps));
}

Value FunctionBuilder::splitHeads(Value input, int64_t heads,
                                  const Twine &where) {
  auto type = RankedTensorType::get({numTokens, heads, config.headDim}, f32);
  SmallVector<ReassociationIndices> groups = {{0}, {1, 2}};
  SmallVector<OpFoldResult> shape = {numTokensValue, b.getIndexAttr(heads),
                                     b.getIndexAttr(config.headDim)};
  return b.create<tensor::ExpandShapeOp>(loc(where), type, input, groups,
                                         shape);
}

Value FunctionBuilder::rope(Value input, const Twine &where) {
  llm::RopeLlama3ScalingAttr scaling;
  if (config.ropeScaling.kind == RopeScaling::Kind::Llama3)
    scaling = llm::RopeLlama3ScalingAttr::get(
        b.getContext(), config.ropeScaling.factor,
        config.ropeScaling.lowFreqFactor, config.ropeScaling.highFreqFactor,
        config.ropeScaling.originalMaxPositionEmbeddings);
  return b.create<llm::RopeOp>(loc(where), input.getType(), input, startPos,
                               b.getF64FloatAttr(config.ropeTheta), scaling);
}

Value FunctionBuilder::layer(int64_t index, Value x) {
  std::string prefix = llvm::formatv("model.layers.{0}.", index).str();
  auto name = [&](StringRef suffix) { return prefix + suffix.str(); };
  int64_t qWidth = config.numHeads * config.headDim;
  int64_t kvWidth = config.numKVHeads * config.headDim;

  // Self-attention block.
  Value h = rmsNorm(x, name("input_layernorm.weight"),
                    name("input_layernorm"));
  Value q = splitHeads(
      linear(h, name("self_attn.q_proj.weight"), qWidth, name("self_attn.q_proj")),
      config.numHeads, name("self_attn.q_heads"));
  Value k = splitHeads(
      linear(h, name("self_attn.k_proj.weight"), kvWidth, name("self_attn.k_proj")),
      config.numKVHeads, name("self_attn.k_heads"));
  Value v = splitHeads(
      linear(h, name("self_attn.v_proj.weight"), kvWidth, name("self_attn.v_proj")),
      config.numKVHeads, name("self_attn.v_heads"));
  q = rope(q, name("self_attn.q_rope"));
  k = rope(k, name("self_attn.k_rope"));
  auto attention = b.create<llm::AttentionOp>(
      loc(name("self_attn")), q.getType(), keyCache.getType(),
      valueCache.getType(), q, k, v, keyCache, valueCache, startPos,
      b.getI64IntegerAttr(index),
      b.getF64FloatAttr(1.0 / std::sqrt(double(config.headDim))),
      /*micro_kernel=*/nullptr);
  keyCache = attention.getNewKeyCache();
  valueCache = attention.getNewValueCache();
  SmallVector<ReassociationIndices> groups = {{0}, {1, 2}};
  Value merged = b.create<tensor::CollapseShapeOp>(
      loc(name("self_attn.merge_heads")), activation(qWidth),
      attention.getOutput(), groups);
  Value attnOut = linear(merged, name("self_attn.o_proj.weight"),
                         config.hiddenSize, name("self_attn.o_proj"));
  x = b.create<llm::AddOp>(loc(name("self_attn.residual")), x, attnOut);

  // Gated MLP block.
  h = rmsNorm(x, name("post_attention_layernorm.weight"),
              name("post_attention_layernorm"));
  Value gate = linear(h, name("mlp.gate_proj.weight"), config.intermediateSize,
                      name("mlp.gate_proj"));
  Value up = linear(h, name("mlp.up_proj.weight"), config.intermediateSize,
                    name("mlp.up_proj"));
  Value act = b.create<llm::SiLUOp>(loc(name("mlp.act")), gate);
  Value gated = b.create<llm::MulOp>(loc(name("mlp.gated")), act, up);
  Value down = linear(gated, name("mlp.down_proj.weight"), config.hiddenSize,
                      name("mlp.down_proj"));
  return b.create<llm::AddOp>(loc(name("mlp.residual")), x, down);
}

func::FuncOp FunctionBuilder::build(ModuleOp module, StringRef name,
                                    int64_t tokens, bool lastOnly) {
  numTokens = tokens;
  params.clear();
  MLIRContext *context = b.getContext();
  auto tokensType = RankedTensorType::get({numTokens}, b.getI32Type());
  auto cacheType =
      llm::cacheTensorType(context, options.cacheElement, config.numLayers,
                           config.numKVHeads, config.headDim);
  auto logitsType =
      lastOnly ? RankedTensorType::get({1, config.vocabSize}, f32)
               : activation(config.vocabSize);
  auto funcType = FunctionType::get(
      context, {tokensType, b.getIndexType(), cacheType, cacheType},
      {logitsType, cacheType, cacheType});

  b.setInsertionPointToEnd(module.getBody());
  auto function = b.create<func::FuncOp>(loc(name), name, funcType);
  // Argument names survive as attributes so tools and the runtime ABI can
  // refer to them; the printer shows them in the signature.
  StringRef argNames[] = {"tokens", "start_pos", "k_cache", "v_cache"};
  for (auto [i, argName] : llvm::enumerate(argNames))
    function.setArgAttr(i, "llm.name", b.getStringAttr(argName));
  StringRef resultNames[] = {"logits", "k_cache", "v_cache"};
  for (auto [i, resultName] : llvm::enumerate(resultNames))
    function.setResultAttr(i, "llm.name", b.getStringAttr(resultName));

  Block *entry = function.addEntryBlock();
  b.setInsertionPointToStart(entry);
  Value tokenIds = entry->getArgument(0);
  startPos = entry->getArgument(1);
  keyCache = entry->getArgument(2);
  valueCache = entry->getArgument(3);
  // Index constants first, as the canonical form has them.
  Value lastTokenIndex;
  if (ShapedType::isDynamic(numTokens)) {
    Value zero = b.create<arith::ConstantIndexOp>(loc("num_tokens"), 0);
    Value one = lastOnly
                    ? b.create<arith::ConstantIndexOp>(loc("last_token"), 1)
                    : Value();
    Value count = b.create<tensor::DimOp>(loc("num_tokens"), tokenIds, zero);
    numTokensValue = count;
    if (lastOnly)
      lastTokenIndex = b.create<arith::SubIOp>(loc("last_token"), count, one);
  } else {
    numTokensValue = b.getIndexAttr(numTokens);
    if (lastOnly)
      lastTokenIndex =
          b.create<arith::ConstantIndexOp>(loc("last_token"), numTokens - 1);
  }

  Value embedding =
      param("model.embed_tokens.weight", {config.vocabSize, config.hiddenSize});
  Value x = b.create<llm::EmbedOp>(loc("model.embed_tokens"),
                                   activation(config.hiddenSize), embedding,
                                   tokenIds);
  for (int64_t i = 0; i < config.numLayers; ++i)
    x = layer(i, x);
  if (lastOnly) {
    // Only the last position's hidden state goes through the final norm and
    // the output projection: the largest matrix, used once, not n times.
    x = b.create<tensor::ExtractSliceOp>(
        loc("last_token"), RankedTensorType::get({1, config.hiddenSize}, f32),
        x, ArrayRef<OpFoldResult>{lastTokenIndex, b.getIndexAttr(0)},
        ArrayRef<OpFoldResult>{b.getIndexAttr(1),
                               b.getIndexAttr(config.hiddenSize)},
        ArrayRef<OpFoldResult>{b.getIndexAttr(1), b.getIndexAttr(1)});
  }
  x = rmsNorm(x, "model.norm.weight", "model.norm");
  Value logits =
      config.tieWordEmbeddings
          ? b.create<llm::LinearOp>(loc("lm_head"), logitsType, x, embedding)
                .getResult()
          : linear(x, "lm_head.weight", config.vocabSize, "lm_head");
  b.create<func::ReturnOp>(loc(name),
                           ValueRange{logits, keyCache, valueCache});
  return function;
}

} // namespace

OwningOpRef<ModuleOp> buildLlamaGraph(MLIRContext &context,
                                      const LlamaConfig &config,
                                      const GraphOptions &options) {
  context.loadDialect<llm::LLMDialect, func::FuncDialect,
                      tensor::TensorDialect, arith::ArithDialect>();
  OpBuilder b(&context);
  OwningOpRef<ModuleOp> module =
      ModuleOp::create(NameLoc::get(b.getStringAttr("llama")), StringRef("llama"));
  (*module)->setAttr("llm.config", configAttr(b, config));
  FunctionBuilder functions(b, config, options);
  functions.build(*module, "prefill", ShapedType::kDynamic);
  functions.build(*module, "prefill_last", ShapedType::kDynamic,
                  /*lastOnly=*/true);
  functions.build(*module, "decode", 1);
  return module;
}

} // namespace llamac
