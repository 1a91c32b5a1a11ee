//===- LLMOps.td - llm dialect operations ------------------*- tablegen -*-===//
//
// Operations of the `llm` dialect. Conventions shared by all of them:
// - activations are ranked float tensors; the leading dimension is the number
//   of tokens `n` and is dynamic in `prefill`, 1 in `decode`;
// - weights come from `llm.param` and have a static shape;
// - ops compute in the activation element type (f32 accumulation) whatever
//   the weight element type is.
//
//===----------------------------------------------------------------------===//
#ifndef LLAMAC_IR_LLMOPS_TD
#define LLAMAC_IR_LLMOPS_TD

include "llamac/IR/LLMDialect.td"
include "llamac/IR/LLMAttrs.td"
include "mlir/IR/OpBase.td"
include "mlir/IR/CommonTypeConstraints.td"
include "mlir/IR/CommonAttrConstraints.td"
include "mlir/Interfaces/DestinationStyleOpInterface.td"
include "mlir/Interfaces/InferTypeOpInterface.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

//===----------------------------------------------------------------------===//
// Type constraints
//===----------------------------------------------------------------------===//

def LLM_FloatElement : AnyTypeOf<[F32, F16, BF16]>;
def LLM_Activation : RankedTensorOf<[F32, F16, BF16]>;
def LLM_Weight : StaticShapeTensorOf<[F32, F16, BF16]>;
// A weight as stored: float, or the int8 codes of a quantized matrix.
def LLM_StoredWeight : StaticShapeTensorOf<[F32, F16, BF16, I8]>;
// The f16 block scales of a quantized matrix.
def LLM_Scales : StaticShapeTensorOf<[F16]>;
def LLM_TokenIds : 1DTensorOf<[I32, I64]>;
// [layers, kv_heads, capacity, row]: rows of head_dim values, or of q8_0
// blocks as bytes when i8 (see KVCache.h).
def LLM_KVCache : 4DTensorOf<[F32, F16, BF16, I8]>;
// An operand of an op that exists on tensors and, after bufferization, on
// buffers.
def LLM_TensorOrBuffer : AnyTypeOf<[AnyRankedTensor, AnyMemRef]>;

class LLM_Op<string mnemonic, list<Trait> traits = []>
    : Op<LLM_Dialect, mnemonic, traits>;

//===----------------------------------------------------------------------===//
// llm.param
//===----------------------------------------------------------------------===//

def LLM_ParamOp : LLM_Op<"param", [Pure]> {
  let summary = "a named model weight";
  let description = [{
    Yields the weight tensor called `name` in the checkpoint. The result type
    carries the shape and element type (precision) of the weight as the
    compiler will store it; the bytes themselves are never part of the IR.
    The weight packer resolves the name at compile time.

    With `layout` (see `#llm.layout`, chosen by `llm-choose-layouts` and
    applied by `llm-materialize-layouts`), the checkpoint's `[out, in]`
    matrix is stored in that layout and the result is the stored tensor:

    - `#llm.layout<tiles16x32>`: bf16 `[out / 16, in / 32, 16, 16, 2]`,
      element `[nb, kb, kr, ni, kp]` = checkpoint element
      `[nb * 16 + ni, kb * 32 + kr * 2 + kp]`. Each `[nb, kb]` tile is 1 KiB
      of pairs along the input dimension, as AMX's `tdpbf16ps` and
      AVX512-BF16 read them.
    - `#llm.layout<panels64>`: f32 `[out / 64, in, 64]`, element
      `[nb, k, ni]` = checkpoint element `[nb * 64 + ni, k]`: each panel of
      64 outputs is k-major, the 64 weights of one input are 256 contiguous
      bytes (four 16-lane vectors), what a broadcast-FMA kernel loads per
      input; an embedding row is read with a stride of 64 elements.
    - Quantized matrices (blocks of 32 along the input dimension, one f16
      scale per block, llama.cpp's Q8_0 / Q4_0 numerics) are two params of
      the same name, codes and scales, both in the tile order above:
      `#llm.layout<tiles16x32, q8_0>`: i8 `[out / 16, in / 32, 16, 16, 2]`,
      a signed code `q` per element; `#llm.layout<tiles16x32, q4_0>`: i8
      `[out / 16, in / 32, 16, 16]`, byte `[nb, kb, kr, ni]` holds the codes
      of elements `kp = 0` (low nibble) and `kp = 1` (high nibble) of the
      same pair, each an unsigned 4-bit `q` standing for `q - 8`;
      `#llm.layout<tiles16x32, q8_0, scales>` (or `q4_0`): f16
      `[out / 16, in / 32, 16]`, element `[nb, kb, ni]` = the scale `d` of
      row `nb * 16 + ni`, input block `kb`. The weight's value is `q * d`
      (Q8_0) or `(q - 8) * d` (Q4_0), exact in f32.

    The packer applies the layout at compile time.

    With `parts` (`llm-fuse-projections`), the weight is the checkpoint
    matrices named there stacked along their first dimension, in order (the
    rows of Q, then K, then V for a fused projection); `name` then only
    identifies the stacked weight, and any `layout` applies to the stack.

    Example:

    ```mlir
    %w = llm.param "model.layers.0.self_attn.q_proj.weight" : tensor<2048x2048xbf16>
    %f = llm.param "model.layers.0.mlp.gate_proj.weight+up_proj.weight"
        {parts = ["model.layers.0.mlp.gate_proj.weight",
                  "model.layers.0.mlp.up_proj.weight"]} : tensor<16384x2048xbf16>
    %c = llm.param "lm_head.weight" {layout = #llm.layout<tiles16x32, q4_0>}
        : tensor<64x8x16x16xi8>
    %s = llm.param "lm_head.weight" {layout = #llm.layout<tiles16x32, q4_0, scales>}
        : tensor<64x8x16xf16>
    %p = llm.param "model.layers.0.mlp.down_proj.weight" {layout = #llm.layout<tiles16x32>}
        : tensor<128x256x16x16x2xbf16>
    %f = llm.param "model.layers.0.mlp.up_proj.weight" {layout = #llm.layout<panels64>}
        : tensor<128x2048x64xf32>
    ```
  }];
  let arguments = (ins StrAttr:$name,
                       OptionalAttr<LLM_WeightLayoutAttr>:$layout,
                       OptionalAttr<StrArrayAttr>:$parts);
  let results = (outs LLM_StoredWeight:$result);
  let builders = [
    OpBuilder<(ins "::mlir::Type":$type, "::llvm::StringRef":$name), [{
      build($_builder, $_state, type, $_builder.getStringAttr(name),
            /*layout=*/nullptr, /*parts=*/nullptr);
    }]>
  ];
  let assemblyFormat = "$name attr-dict `:` type($result)";
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// llm.embed
//===----------------------------------------------------------------------===//

def LLM_EmbedOp : LLM_Op<"embed", [Pure]> {
  let summary = "embedding lookup: one table row per token id";
  let description = [{
    Gathers row `tokens[i]` of `table` (`[vocab, hidden]`, or the same matrix
    stored in the `weight_layout` of `llm.param`) for each of the `n` token
    ids and converts it to the result element type. A token id outside
    `[0, vocab)` is a runtime error reported by the caller, not undefined
    behaviour in the kernel.

    A quantized table (codes in a quantized `weight_layout`) comes with its
    f16 `scales`; the row read is dequantized (`q * d`, or `(q - 8) * d`).

    Example:

    ```mlir
    %x = llm.embed %table[%tokens]
        : tensor<128256x2048xbf16>, tensor<?xi32> -> tensor<?x2048xf32>
    %y = llm.embed %codes[%tokens] scales(%s : tensor<64x8x16xf16>)
        {weight_layout = #llm.layout<tiles16x32, q8_0>}
        : tensor<64x8x16x16x2xi8>, tensor<?xi32> -> tensor<?x256xf32>
    ```
  }];
  let arguments = (ins LLM_StoredWeight:$table, LLM_TokenIds:$tokens,
                       Optional<LLM_Scales>:$scales,
                       OptionalAttr<LLM_WeightLayoutAttr>:$weight_layout);
  let results = (outs LLM_Activation:$result);
  let builders = [
    OpBuilder<(ins "::mlir::Type":$type, "::mlir::Value":$table,
                   "::mlir::Value":$tokens), [{
      build($_builder, $_state, type, table, tokens, /*scales=*/::mlir::Value(),
            /*weight_layout=*/nullptr);
    }]>
  ];
  let assemblyFormat = [{
    $table `[` $tokens `]` (`scales` `(` $scales^ `:` type($scales) `)`)?
    attr-dict `:` type($table) `,` type($tokens) `->` type($result)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// llm.rms_norm
//===----------------------------------------------------------------------===//

def LLM_RMSNormOp : LLM_Op<"rms_norm", [Pure,
    AllTypesMatch<["input", "result"]>]> {
  let summary = "root-mean-square normalization over the last dimension";
  let description = [{
    `result[..., j] = weight[j] * input[..., j] / sqrt(mean_j(input^2) + epsilon)`
    with the mean taken over the last dimension, whose size must equal the
    size of the 1-D `weight`. `epsilon` must be positive.

    Example:

    ```mlir
    %y = llm.rms_norm %x, %w {epsilon = 1.0e-05 : f64}
        : tensor<?x2048xf32>, tensor<2048xbf16>
    ```
  }];
  let arguments = (ins LLM_Activation:$input, LLM_Weight:$weight,
                       F64Attr:$epsilon);
  let results = (outs LLM_Activation:$result);
  let assemblyFormat = [{
    $input `,` $weight attr-dict `:` type($input) `,` type($weight)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// llm.linear
//===----------------------------------------------------------------------===//

def LLM_LinearOp : LLM_Op<"linear", [Pure, AttrSizedOperandSegments]> {
  let summary = "projection by a weight matrix: input · weightᵀ";
  let description = [{
    `result[..., o] = sum_k input[..., k] * weight[o, k]`: the weight is stored
    `[out_features, in_features]` as in PyTorch's `nn.Linear` (no bias), or
    in the `weight_layout` of `llm.param` (see `#llm.layout`). The result
    has the input's leading dimensions and element type, with the last
    dimension replaced by `out_features`.

    With `input_type` (a float type no wider than the input's), each input
    element is first rounded to that type; products and sums stay in the
    result type. `llm-choose-layouts` sets it to bf16 on matrix-matrix
    products whose weights it stores as AMX tiles.

    A quantized weight (codes in a quantized `weight_layout`) comes with its
    f16 `scales` (`[out/16, in/32, 16]`); the
    product is by the dequantized matrix (`q * d`, or `(q - 8) * d`, exact
    in f32), with f32 inputs. With `input_type` as well, the dequantized
    weights are rounded to that type like the inputs (what AMX tiles of
    bf16 need; `llm-choose-layouts` sets it on matrix-matrix products
    when asked to). With `input_type = i8` (quantized weights only), each
    input row is itself quantized in blocks of 32 along the reduction, as
    Q8_0 but with an f32 scale: `dx = max|x| / 127`,
    `qx = roundeven(x * (1 / dx))` (0 for an all-zero block); each block's
    integer sum `sum qx * q` is then scaled by `dx * d` (what the CPU's int8
    dot products need; `llm-choose-layouts` sets it on matrix-vector
    products when asked to).

    With `add(%r)` (`llm-fuse-elementwise`: a residual connection), the
    product is added to `%r` (of the result's type): the sums start from
    `%r`, so no separate kernel reads both and writes their sum.

    `micro_kernel` (see `#llm.micro_kernel`, chosen by
    `llm-choose-micro-kernels`) names the generated code the product runs
    on; it must read this weight layout with this `input_type`. Without
    it the product is lowered to generic loops.

    Example:

    ```mlir
    %y = llm.linear %x, %w
        : tensor<?x2048xf32>, tensor<512x2048xbf16> -> tensor<?x512xf32>
    %h = llm.linear %a, %wo add(%r : tensor<?x2048xf32>)
        : tensor<?x2048xf32>, tensor<2048x2048xbf16> -> tensor<?x2048xf32>
    %z = llm.linear %x, %codes scales(%s : tensor<32x64x16xf16>)
        {weight_layout = #llm.layout<tiles16x32, q8_0>,
         micro_kernel = #llm.micro_kernel<q8_0_gemv>}
        : tensor<1x2048xf32>, tensor<32x64x16x16x2xi8> -> tensor<1x512xf32>
    ```
  }];
  let arguments = (ins LLM_Activation:$input, LLM_StoredWeight:$weight,
                       Optional<LLM_Scales>:$scales,
                       Optional<LLM_Activation>:$addend,
                       OptionalAttr<TypeAttr>:$input_type,
                       OptionalAttr<LLM_WeightLayoutAttr>:$weight_layout,
                       OptionalAttr<LLM_MicroKernelAttr>:$micro_kernel);
  let results = (outs LLM_Activation:$result);
  let builders = [
    OpBuilder<(ins "::mlir::Type":$type, "::mlir::Value":$input,
                   "::mlir::Value":$weight), [{
      build($_builder, $_state, type, input, weight, /*scales=*/::mlir::Value(),
            /*addend=*/::mlir::Value(), /*input_type=*/nullptr,
            /*weight_layout=*/nullptr, /*micro_kernel=*/nullptr);
    }]>
  ];
  let assemblyFormat = [{
    $input `,` $weight (`scales` `(` $scales^ `:` type($scales) `)`)?
    (`add` `(` $addend^ `:` type($addend) `)`)?
    attr-dict `:` type($input) `,` type($weight) `->` type($result)
  }];
  let extraClassDeclaration = [{
    /// The weight's [out_features, in_features], whatever its layout.
    std::pair<int64_t, int64_t> getWeightMatrixShape();
    /// True when the input may hold more than one row: a matrix-matrix
    /// product (prefill), not a matrix-vector one (decode).
    bool hasSeveralRows();
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// llm.rope
//===----------------------------------------------------------------------===//

def LLM_RopeOp : LLM_Op<"rope", [Pure, AllTypesMatch<["input", "result"]>]> {
  let summary = "rotary position embedding (Hugging Face half-split layout)";
  let description = [{
    Rotates each head vector of `input` (`[n, heads, head_dim]`) by angles
    that depend on its absolute position `p = start_pos + i` for row `i`.
    Pairs are formed in the Hugging Face layout: element `j` is paired with
    element `j + head_dim/2`, i.e.
    `x' = x * cos(a) + rotate_half(x) * sin(a)` with
    `rotate_half([x1, x2]) = [-x2, x1]` and `a_j = p * f_(j mod head_dim/2)`,
    `f_i = theta^(-2i/head_dim)`, optionally rescaled by `scaling` (see
    `#llm.rope_llama3`). `head_dim` must be even and `theta` positive.

    Example:

    ```mlir
    %q2 = llm.rope %q at %pos {theta = 5.0e+05 : f64,
        scaling = #llm.rope_llama3<factor = 32.0, low_freq_factor = 1.0,
                                   high_freq_factor = 4.0,
                                   original_max_position_embeddings = 8192>}
        : tensor<?x32x64xf32>
    ```
  }];
  let arguments = (ins LLM_Activation:$input, Index:$start_pos,
                       F64Attr:$theta,
                       OptionalAttr<LLM_RopeLlama3ScalingAttr>:$scaling);
  let results = (outs LLM_Activation:$result);
  let assemblyFormat = "$input `at` $start_pos attr-dict `:` type($input)";
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// llm.attention
//===----------------------------------------------------------------------===//

def LLM_AttentionOp : LLM_Op<"attention", [Pure,
    AllTypesMatch<["query", "output"]>,
    AllTypesMatch<["key", "value"]>,
    AllTypesMatch<["key_cache", "value_cache", "new_key_cache",
                   "new_value_cache"]>]> {
  let summary = "causal grouped-query attention that appends to a KV cache";
  let description = [{
    One layer's self-attention over the `n` new tokens at absolute positions
    `start_pos .. start_pos + n - 1`, given their rotated queries
    (`[n, q_heads, head_dim]`), rotated keys and values
    (`[n, kv_heads, head_dim]`), and the KV cache of all layers
    (`[layers, kv_heads, capacity, row]`). A cache row of f32, bf16 or f16
    is `head_dim` values (new ones rounded to nearest); an i8 row is
    `head_dim / 32` q8_0 blocks of 34 bytes (`--kv-type q8_0`): the f16
    scale `d = max|x| / 127`, then the 32 codes
    `roundeven(x * 127 / max|x|)` (clamped to [-127, 127]).

    The op first writes the new keys and values into rows
    `start_pos .. start_pos + n - 1` of layer `layer` of the caches, yielding
    `new_key_cache` and `new_value_cache` (other entries unchanged). Then query
    head `h` of token `i` attends to cache rows `0 .. start_pos + i` of KV head
    `h / (q_heads / kv_heads)` (causal mask):
    `output[i, h] = softmax_t(scale * q[i, h] · K[t]) · V`.
    `q_heads` must be a multiple of `kv_heads`, `layer` inside the cache and
    `scale` positive. The caller guarantees `start_pos + n <= capacity`.

    With `micro_kernel` (a `flash_*` kind, chosen by
    `llm-choose-micro-kernels`), the attention over the history runs as one
    fused kernel with an online softmax (`llm.flash_attention`); without it,
    as generic loops that materialize the scores.

    Example:

    ```mlir
    %o, %kc1, %vc1 = llm.attention %q, %k, %v cache(%kc0, %vc0) at %pos
        {layer = 0 : i64, scale = 1.250000e-01 : f64}
        : tensor<?x32x64xf32>, tensor<?x8x64xf32>, tensor<16x8x?x64xf32>
    ```
  }];
  let arguments = (ins LLM_Activation:$query, LLM_Activation:$key,
                       LLM_Activation:$value, LLM_KVCache:$key_cache,
                       LLM_KVCache:$value_cache, Index:$start_pos,
                       ConfinedAttr<I64Attr, [IntNonNegative]>:$layer,
                       F64Attr:$scale,
                       OptionalAttr<LLM_MicroKernelAttr>:$micro_kernel);
  let results = (outs LLM_Activation:$output, LLM_KVCache:$new_key_cache,
                      LLM_KVCache:$new_value_cache);
  let assemblyFormat = [{
    $query `,` $key `,` $value `cache` `(` $key_cache `,` $value_cache `)`
    `at` $start_pos attr-dict `:` type($query) `,` type($key) `,`
    type($key_cache)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// llm.flash_attention
//===----------------------------------------------------------------------===//

def LLM_FlashAttentionOp : LLM_Op<"flash_attention", [
    DeclareOpInterfaceMethods<DestinationStyleOpInterface>,
    DeclareOpInterfaceMethods<MemoryEffectsOpInterface>]> {
  let summary = "causal attention over a given key/value history, fused";
  let description = [{
    What `llm.attention` computes once the new keys and values are in the
    cache, as one kernel (`llm-to-linalg` creates it when the attention has
    a `flash_*` micro-kernel): query head `h` of token `i` (absolute
    position `start_pos + i`) attends to history rows `0 .. start_pos + i`
    of KV head `h / (q_heads / kv_heads)`, with an online softmax
    (`init` is overwritten, never read):
    `init[i, h] = softmax_t(scale * query[i, h] · keys[kv, t]) · values[kv]`.

    A destination-style op on tensors (one result, `init`'s type) or, after
    bufferization, on buffers (no result); `llm-lower-flash-attention`
    turns the buffer form into vector code and parallel tasks as its
    `micro_kernel` says. Shapes: `query`, `init` `[n, q_heads, head_dim]`,
    `keys`, `values` `[kv_heads, visible, row]` with
    `visible >= start_pos + n`; `query` and `init` f32, `keys` and
    `values` rows as the cache stores them (f32, bf16 or f16 values, or
    i8 q8_0 blocks; widened to f32 as they are read);
    `head_dim` a multiple of the micro-kernel's `lanes` (q8_0: `lanes`
    dividing the blocks' 32 values).

    Example:

    ```mlir
    %o = llm.flash_attention %q, %k, %v at %pos into %init
        {scale = 0.125 : f64,
         micro_kernel = #llm.micro_kernel<flash_transposed_keys, rows = 4, lanes = 16>}
        : tensor<?x32x64xf32>, tensor<8x?x64xf32>, tensor<8x?x64xf32>,
          tensor<?x32x64xf32> -> tensor<?x32x64xf32>
    ```
  }];
  let arguments = (ins LLM_TensorOrBuffer:$query,
                       LLM_TensorOrBuffer:$keys,
                       LLM_TensorOrBuffer:$values,
                       Index:$start_pos,
                       LLM_TensorOrBuffer:$init,
                       F64Attr:$scale,
                       LLM_MicroKernelAttr:$micro_kernel);
  let results = (outs Variadic<AnyRankedTensor>:$result);
  let assemblyFormat = [{
    $query `,` $keys `,` $values `at` $start_pos `into` $init attr-dict `:`
    type($query) `,` type($keys) `,` type($values) `,` type($init)
    (`->` type($result)^)?
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Elementwise ops
//===----------------------------------------------------------------------===//

class LLM_ElementwiseOp<string mnemonic, list<Trait> traits = []>
    : LLM_Op<mnemonic, !listconcat(traits, [Pure, Elementwise,
                                            SameOperandsAndResultType])> {
  let results = (outs LLM_Activation:$result);
}

def LLM_SiLUOp : LLM_ElementwiseOp<"silu"> {
  let summary = "SiLU (swish) activation: x · sigmoid(x)";
  let description = [{
    `result = input / (1 + exp(-input))`, elementwise.

    Example:

    ```mlir
    %s = llm.silu %g : tensor<?x8192xf32>
    ```
  }];
  let arguments = (ins LLM_Activation:$input);
  let assemblyFormat = "$input attr-dict `:` type($result)";
}

class LLM_BinaryOp<string mnemonic, list<Trait> traits = []>
    : LLM_ElementwiseOp<mnemonic, traits> {
  let arguments = (ins LLM_Activation:$lhs, LLM_Activation:$rhs);
  let assemblyFormat = "$lhs `,` $rhs attr-dict `:` type($result)";
}

def LLM_MulOp : LLM_BinaryOp<"mul", [Commutative]> {
  let summary = "elementwise product of two tensors of the same type";
  let description = [{
    `result = lhs * rhs`, elementwise; no broadcasting.

    Example:

    ```mlir
    %m = llm.mul %s, %u : tensor<?x8192xf32>
    ```
  }];
}

def LLM_SiLUMulOp : LLM_BinaryOp<"silu_mul"> {
  let summary = "gated activation of the MLP: silu(lhs) · rhs";
  let description = [{
    `result = lhs / (1 + exp(-lhs)) * rhs`, elementwise; no broadcasting.
    What `llm.mul (llm.silu %gate), %up` computes, as one op so that the
    gate's activation is never stored (`llm-fuse-elementwise` forms it).

    Example:

    ```mlir
    %a = llm.silu_mul %g, %u : tensor<?x8192xf32>
    ```
  }];
}

def LLM_AddOp : LLM_BinaryOp<"add", [Commutative]> {
  let summary = "elementwise sum of two tensors of the same type";
  let description = [{
    `result = lhs + rhs`, elementwise; no broadcasting. The residual
    connections of the transformer.

    Example:

    ```mlir
    %r = llm.add %x, %o : tensor<?x2048xf32>
    ```
  }];
}

#endif // LLAMAC_IR_LLMOPS_TD
