//===- LLMAttrs.td - llm dialect attributes ----------------*- tablegen -*-===//
#ifndef LLAMAC_IR_LLMATTRS_TD
#define LLAMAC_IR_LLMATTRS_TD

include "llamac/IR/LLMDialect.td"
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

#endif // LLAMAC_IR_LLMATTRS_TD
