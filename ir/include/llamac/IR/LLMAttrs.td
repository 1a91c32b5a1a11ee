//===- LLMAttrs.td - llm dialect attributes ----------------*- tablegen -*-===//
#ifndef LLAMAC_IR_LLMATTRS_TD
#define LLAMAC_IR_LLMATTRS_TD

include "llamac/IR/LLMDialect.td"
include "llamac/IR/LLMEnums.td"
include "mlir/IR/AttrTypeBase.td"

class LLM_Attr<string name, string attrMnemonic, list<Trait> traits = []>
    : AttrDef<LLM_Dialect, name, traits> {
  let mnemonic = attrMnemonic;
}

def LLM_RopeLlama3ScalingAttr
    : LLM_Attr<"RopeLlama3Scaling", "rope_llama3"> {
  let summary = "Llama 3 RoPE frequency scaling (`rope_type: llama3`)";
  let description = [{
    The frequency rescaling Llama 3.1+ applies to rotary embeddings so that a
    model trained on `original_max_position_embeddings` tokens works on longer
    contexts. For the inverse frequency `f` of a rotary pair, with wavelength
    `wl = 2*pi/f`, `low = original_max_position_embeddings / low_freq_factor`
    and `high = original_max_position_embeddings / high_freq_factor`:

    - `wl < high`: `f` is unchanged (high frequencies);
    - `wl > low`: `f / factor` (low frequencies);
    - otherwise `s = (original_max_position_embeddings / wl - low_freq_factor)
      / (high_freq_factor - low_freq_factor)` and the result is
      `(1 - s) * f / factor + s * f`.

    Example:

    ```mlir
    #llm.rope_llama3<factor = 32.0, low_freq_factor = 1.0,
                     high_freq_factor = 4.0,
                     original_max_position_embeddings = 8192>
    ```
  }];
  let parameters = (ins APFloatParameter<"scaling factor">:$factor,
                        APFloatParameter<"low_freq_factor">:$lowFreqFactor,
                        APFloatParameter<"high_freq_factor">:$highFreqFactor,
                        "int64_t":$originalMaxPositionEmbeddings);
  let builders = [
    AttrBuilder<(ins "double":$factor, "double":$lowFreqFactor,
                     "double":$highFreqFactor,
                     "int64_t":$originalMaxPositionEmbeddings), [{
      return $_get($_ctxt, ::llvm::APFloat(factor),
                   ::llvm::APFloat(lowFreqFactor),
                   ::llvm::APFloat(highFreqFactor),
                   originalMaxPositionEmbeddings);
    }]>
  ];
  let hasCustomAssemblyFormat = 1;
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    /// The rescaled inverse frequency of a rotary pair whose unscaled inverse
    /// frequency is `invFreq`.
    double scaleInverseFrequency(double invFreq) const;
  }];
}

//===----------------------------------------------------------------------===//
// #llm.target
//===----------------------------------------------------------------------===//

def LLM_TargetAttr : LLM_Attr<"Target", "target"> {
  let summary = "the CPU a module is compiled for";
  let description = [{
    Recorded once on the module (`llm.target`, by `llamac compile` from the
    host or `--target-cpu`): the LLVM target triple, the CPU name and the
    instruction-set features it has, in LLVM's names. Every pass that
    decides or emits something that depends on the CPU asks this attribute
    (`TargetAttr::lookup(op)`) through its C++ API (`hasAMXBF16()`,
    `getVectorBits()`, ...); code generation builds its target machine from
    it.

    Example:

    ```mlir
    module attributes {llm.target = #llm.target<cpu = "sapphirerapids",
        triple = "x86_64-pc-linux-gnu",
        features = ["amx-bf16", "amx-tile", "avx512bw", "avx512f"]>} {}
    ```
  }];
  let parameters = (ins StringRefParameter<"LLVM CPU name">:$cpu,
                        StringRefParameter<"LLVM target triple">:$triple,
                        "::mlir::ArrayAttr":$features);
  let assemblyFormat = "`<` struct(params) `>`";
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    /// The name of the module attribute that holds the target.
    static constexpr ::llvm::StringLiteral getAttrName() {
      return ::llvm::StringLiteral("llm.target");
    }
    /// The target of the module that holds `op` (or is `op`); null when
    /// none is recorded.
    static TargetAttr lookup(::mlir::Operation *op);

    /// True when the CPU has `feature` (an LLVM name such as "avx512f").
    bool hasFeature(::llvm::StringRef feature) const;
    /// All of `features`.
    bool hasFeatures(::llvm::ArrayRef<::llvm::StringRef> features) const;
    /// AMX tiles with bf16 products (`tdpbf16ps`).
    bool hasAMXBF16() const;
    /// 512-bit bf16 pair dot products (`vdpbf16ps` on zmm registers).
    bool hasAVX512BF16() const;
    /// 512-bit integer dot products of bytes (`vpdpbusd` on zmm registers).
    bool hasAVX512VNNI() const;
    /// AVX-512 Foundation: 32 registers of 16 f32 lanes.
    bool hasAVX512F() const;
    /// The widest vector registers: 512 (AVX-512), 256 (AVX) or 128 bits.
    int64_t getVectorBits() const;
    /// Vector registers the code may use: 32 with AVX-512, 16 otherwise.
    int64_t getVectorRegisters() const;
  }];
}

//===----------------------------------------------------------------------===//
// #llm.layout
//===----------------------------------------------------------------------===//

def LLM_WeightLayoutAttr : LLM_Attr<"WeightLayout", "layout"> {
  let summary = "how a weight matrix is stored";
  let description = [{
    A typed view of `llamac::artifact::WeightLayout` (WeightLayout.h, the one
    description shared with the weight packer and the runtime): the kind of
    blocks (16 × 32 tiles of input pairs, or panels of 64 outputs), the
    quantization scheme of the values, and which part of a quantized matrix
    (its codes or its block scales) a tensor holds. `llm.param`'s `layout`
    says how that weight is stored; `llm.linear` and `llm.embed` carry the
    layout of the weight they read as `weight_layout`, so that lowerings
    inside kernel functions (where the weight is an argument) know it.

    | syntax | stored [out, in] matrix |
    |---|---|
    | `#llm.layout<tiles16x32>` | bf16 `[out/16, in/32, 16, 16, 2]` |
    | `#llm.layout<panels64>` | f32 `[out/64, in, 64]` |
    | `#llm.layout<tiles16x32, q8_0>` | i8 codes `[out/16, in/32, 16, 16, 2]` |
    | `#llm.layout<tiles16x32, q4_0>` | i8 codes `[out/16, in/32, 16, 16]`, two a byte |
    | `#llm.layout<tiles16x32, q8_0, scales>` | f16 scales `[out/16, in/32, 16]` |
  }];
  let parameters = (ins "::llamac::artifact::WeightLayout":$layout);
  let hasCustomAssemblyFormat = 1;
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    /// The stored tensor type of an [out, in] matrix; null when it does not
    /// fit the layout's blocks.
    ::mlir::RankedTensorType getStoredType(::mlir::MLIRContext *context,
                                           int64_t out, int64_t in) const;
    /// The [out, in] matrix `stored` holds in this layout; nothing when its
    /// shape or element type is not this layout's.
    std::optional<std::pair<int64_t, int64_t>>
    getMatrixShape(::mlir::RankedTensorType stored) const;
    /// The element type of the stored tensor.
    ::mlir::Type getElementType(::mlir::MLIRContext *context) const;
    bool isQuantized() const { return getLayout().isQuantized(); }
    /// The layout of the scales that go with quantized codes.
    WeightLayoutAttr getScales() const;
  }];
}

//===----------------------------------------------------------------------===//
// #llm.micro_kernel
//===----------------------------------------------------------------------===//

def LLM_MicroKernelAttr : LLM_Attr<"MicroKernel", "micro_kernel"> {
  let summary = "the micro-kernel a product or an attention runs on, and "
                "its tuning";
  let description = [{
    Chosen by `llm-choose-micro-kernels` (a strategy pass: it asks the
    target and records the choice) on `llm.linear` and `llm.attention`,
    copied by `llm-to-linalg` onto the op it lowers them to, and read by
    the mechanism passes (`llm-lower-micro-kernels`,
    `llm-lower-flash-attention`), which emit exactly that code with these
    values. A test pins a choice by writing it in the input IR. Tuning
    values, each given exactly for the kinds that use it:

    - `unroll` (`amx_*`): reduction tiles between accumulator loads; a
      divisor of the product's reduction tiles;
    - `rows`, `depth`, `prefetch` (`f32_panels`): input rows per register
      block, inputs per reduction block, inputs ahead whose panel weights
      are prefetched (0: none);
    - `rows`, `depth` (`avx512_bf16*`): input rows per register block (each
      with four output tiles' accumulators), reduction tiles per block
      (a divisor of the product's reduction tiles);
    - `prefetch` (`q8_0_i8_gemv`, `q4_0_i8_gemv`): blocks of 32 inputs ahead
      whose codes are prefetched (0: none);
    - `rows` (`flash_transposed_keys`): consecutive query tokens per task,
      each with its group's query heads (rows x group score vectors are
      held in registers);
    - `lanes` (`flash_*`): f32 lanes per vector (keys per score vector).

    Example:

    ```mlir
    #llm.micro_kernel<amx_bf16, unroll = 8>
    #llm.micro_kernel<f32_panels, rows = 6, depth = 1024, prefetch = 16>
    #llm.micro_kernel<vnni_gemv>
    ```
  }];
  let parameters = (ins EnumParameter<LLM_MicroKernelKind>:$kind,
                        OptionalParameter<"std::optional<int64_t>">:$unroll,
                        OptionalParameter<"std::optional<int64_t>">:$rows,
                        OptionalParameter<"std::optional<int64_t>">:$depth,
                        OptionalParameter<"std::optional<int64_t>">:$prefetch,
                        OptionalParameter<"std::optional<int64_t>">:$lanes);
  let builders = [
    AttrBuilder<(ins "MicroKernelKind":$kind), [{
      return $_get($_ctxt, kind, std::nullopt, std::nullopt, std::nullopt,
                   std::nullopt, std::nullopt);
    }]>
  ];
  let hasCustomAssemblyFormat = 1;
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    /// The name of the discardable attribute that carries the choice on the
    /// ops `llm-to-linalg` emits.
    static constexpr ::llvm::StringLiteral getAttrName() {
      return ::llvm::StringLiteral("llm.micro_kernel");
    }
    /// True for the kinds that compute a product (`llm.linear`).
    bool isProduct() const;
    /// The layout of the weights the kernel reads (products only).
    std::optional<::llamac::artifact::WeightLayout> getWeightLayout() const;
    /// The `input_type` of the products it runs (none: f32 inputs).
    ::mlir::Type getInputType(::mlir::MLIRContext *context) const;
    /// The LLVM features of the instructions it emits explicitly.
    ::llvm::ArrayRef<::llvm::StringRef> getRequiredFeatures() const;
    /// The arithmetic unit it runs on.
    ::llamac::artifact::ComputeUnit getComputeUnit() const;
  }];
}

#endif // LLAMAC_IR_LLMATTRS_TD
