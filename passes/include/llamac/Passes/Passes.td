//===- Passes.td - llamac passes ---------------------------*- tablegen -*-===//
#ifndef LLAMAC_PASSES_PASSES_TD
#define LLAMAC_PASSES_PASSES_TD

include "mlir/Pass/PassBase.td"

def LLMOpStatsPass : Pass<"llm-op-stats", "mlir::ModuleOp"> {
  let summary = "Print op counts per function and the model's parameter size";
  let description = [{
    An analysis pass: leaves the IR unchanged and prints, for every function,
    how many ops of each kind it holds, then the distinct `llm.param` weights
    of the module (count, elements, bytes per element type). Weights used by
    several functions (`prefill` and `decode` share them) are counted once.
    `llamac graph --stats` prints the same report.

    Example output:

    ```
    // llm-op-stats: function @decode: 423 ops
    //   llm.linear        113
    // llm-op-stats: parameters: 146 tensors, 1235814400 elements, 2471628800 bytes (bf16: 146)
    ```
  }];
  let options = [
    Option<"outputFile", "output", "std::string", /*default=*/"\"-\"",
           "Where to write the report ('-' for stderr)">,
  ];
}

def LLMFuseProjectionsPass : Pass<"llm-fuse-projections", "mlir::ModuleOp"> {
  let summary = "Stack the weights of projections that share their input";
  let description = [{
    `llm.linear` ops in one block that read the same input, each by a plain
    two-dimensional `llm.param` (no layout, no scales, no `input_type`) of
    the same element type, become one `llm.linear` by a stacked weight —
    an `llm.param` with `parts` naming the checkpoint matrices in program
    order — and `tensor.extract_slice`s of its result columns. Q, K and V
    of an attention layer become one projection, gate and up of an MLP
    another. Each output is the same dot product as before. Runs before
    `llm-choose-layouts`, which then chooses the stacked weight's layout
    like any other's.

    Example:

    ```mlir
    %wq = llm.param "q" : tensor<64x64xf32>
    %wk = llm.param "k" : tensor<32x64xf32>
    %q = llm.linear %x, %wq : tensor<?x64xf32>, tensor<64x64xf32> -> tensor<?x64xf32>
    %k = llm.linear %x, %wk : tensor<?x64xf32>, tensor<32x64xf32> -> tensor<?x32xf32>
    // becomes
    %w = llm.param "q+k" {parts = ["q", "k"]} : tensor<96x64xf32>
    %y = llm.linear %x, %w : tensor<?x64xf32>, tensor<96x64xf32> -> tensor<?x96xf32>
    %n = tensor.dim %y, %c0 : tensor<?x96xf32>
    %q = tensor.extract_slice %y[0, 0] [%n, 64] [1, 1] : tensor<?x96xf32> to tensor<?x64xf32>
    %k = tensor.extract_slice %y[0, 64] [%n, 32] [1, 1] : tensor<?x96xf32> to tensor<?x32xf32>
    ```
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::tensor::TensorDialect"];
}

def LLMFuseElementwisePass : Pass<"llm-fuse-elementwise", "mlir::ModuleOp"> {
  let summary = "Fuse elementwise llm ops into their producer or consumer";
  let description = [{
    Graph-level fusion, so that one kernel computes what two would have
    stored and reloaded: `llm.mul` of an `llm.silu` (used only there) and
    another tensor becomes `llm.silu_mul` — the MLP's gated activation, whose
    two inputs are [tokens, intermediate] tensors (16 MB each for a 512-token
    prompt of the 1B model). `llm.add` of an `llm.linear` (used only there)
    and a tensor defined before it becomes the projection with `add(...)`:
    its sums start from that tensor (the residual connections).

    Example:

    ```mlir
    %s = llm.silu %g : tensor<?x8192xf32>
    %m = llm.mul %s, %u : tensor<?x8192xf32>
    // becomes
    %m = llm.silu_mul %g, %u : tensor<?x8192xf32>
    ```
  }];
}

//===----------------------------------------------------------------------===//
// Strategy: decisions recorded in typed attributes
//===----------------------------------------------------------------------===//

def LLMChooseLayoutsPass : Pass<"llm-choose-layouts", "mlir::ModuleOp"> {
  let summary = "Choose how each weight matrix is stored and the precision "
                "of the products' inputs";
  let description = [{
    The strategy half of weight layouts (the mechanism is
    `llm-materialize-layouts`): resolves the requested numerics against the
    module's `#llm.target` (`auto` becomes what the CPU runs fastest), then
    records on every `llm.param` whose storage it chooses the discardable
    attribute `llm.chosen_layout = #llm.layout<...>`, and on the products
    whose inputs it rounds or quantizes `llm.chosen_input_type`. A weight is
    stored once, so all params of one name get the same choice or none.
    Candidates are params used only as `llm.linear` weights or `llm.embed`
    tables (see `llm::isUsedOnlyAsMatrix`) of whole blocks:

    - `dtype=bf16` with bf16 prefill inputs (AMX-BF16 targets):
      `#llm.layout<tiles16x32>`; products of several input rows (prefill)
      get `input_type = bf16` (matrix units multiply bf16 pairs), one-row
      products (decode) keep f32 inputs and read the same tiles;
    - `dtype=f32` on AVX-512 targets: `#llm.layout<panels64>` (the FMA
      micro-kernels hold 16-lane vectors in 32 registers);
    - `dtype=q8_0` / `q4_0`: `#llm.layout<tiles16x32, q8_0>` (or `q4_0`),
      codes and scales; with bf16 prefill inputs the products of several
      rows get `input_type = bf16`, with i8 decode inputs (AVX512-VNNI) the
      one-row products get `input_type = i8`.

    `dtype` must match the element type the graph was built with (bf16
    or f32; quantized compiles build f32 params): the pass chooses storage,
    the frontend chose precision.

    Example (a bf16 AMX target):

    ```mlir
    %w = llm.param "w" : tensor<64x64xbf16>
    %y = llm.linear %x, %w : tensor<?x64xf32>, tensor<64x64xbf16> -> tensor<?x64xf32>
    // becomes
    %w = llm.param "w" {llm.chosen_layout = #llm.layout<tiles16x32>} : tensor<64x64xbf16>
    %y = llm.linear %x, %w {llm.chosen_input_type = bf16}
        : tensor<?x64xf32>, tensor<64x64xbf16> -> tensor<?x64xf32>
    ```
  }];
  let options = [
    Option<"dtype", "dtype", "::llamac::llm::WeightPrecision",
           "::llamac::llm::WeightPrecision::BF16",
           "Precision of the matrices (the graph's, or q8_0 / q4_0)",
           [{::llvm::cl::values(
             clEnumValN(::llamac::llm::WeightPrecision::F32, "f32", "f32"),
             clEnumValN(::llamac::llm::WeightPrecision::BF16, "bf16", "bf16"),
             clEnumValN(::llamac::llm::WeightPrecision::Q8_0, "q8_0", "Q8_0 blocks"),
             clEnumValN(::llamac::llm::WeightPrecision::Q4_0, "q4_0", "Q4_0 blocks"))}]>,
    Option<"prefillInputs", "prefill-inputs", "::llamac::llm::PrefillInputs",
           "::llamac::llm::PrefillInputs::Auto",
           "Activations entering prefill's products",
           [{::llvm::cl::values(
             clEnumValN(::llamac::llm::PrefillInputs::Auto, "auto", "bf16 where AMX-BF16 multiplies them"),
             clEnumValN(::llamac::llm::PrefillInputs::BF16, "bf16", "rounded to bf16"),
             clEnumValN(::llamac::llm::PrefillInputs::F32, "f32", "exact"))}]>,
    Option<"decodeInputs", "decode-inputs", "::llamac::llm::DecodeInputs",
           "::llamac::llm::DecodeInputs::Auto",
           "Activations entering decode's products by quantized weights",
           [{::llvm::cl::values(
             clEnumValN(::llamac::llm::DecodeInputs::Auto, "auto", "i8 where AVX512-VNNI multiplies them"),
             clEnumValN(::llamac::llm::DecodeInputs::I8, "i8", "quantized per block of 32"),
             clEnumValN(::llamac::llm::DecodeInputs::F32, "f32", "exact"))}]>,
  ];
}

def LLMMaterializeLayoutsPass
    : Pass<"llm-materialize-layouts", "mlir::ModuleOp"> {
  let summary = "Store each weight in its chosen layout";
  let description = [{
    The mechanism half of weight layouts: every `llm.param` with
    `llm.chosen_layout` becomes a param of the stored type with that
    `layout` (a quantized layout: two params of the same name, codes and
    scales), and each of its users reads it: its `weight_layout` is set, a
    quantized weight's scales become its `scales` operand, and a product's
    `llm.chosen_input_type` becomes its `input_type`. The pass decides
    nothing; a choice that does not fit (partial blocks, a weight read as
    something else than a matrix) is an error.

    Example:

    ```mlir
    %w = llm.param "w" {llm.chosen_layout = #llm.layout<tiles16x32, q8_0>} : tensor<64x64xf32>
    %y = llm.linear %x, %w : tensor<1x64xf32>, tensor<64x64xf32> -> tensor<1x64xf32>
    // becomes
    %c = llm.param "w" {layout = #llm.layout<tiles16x32, q8_0>} : tensor<4x2x16x16x2xi8>
    %s = llm.param "w" {layout = #llm.layout<tiles16x32, q8_0, scales>} : tensor<4x2x16xf16>
    %y = llm.linear %x, %c scales(%s : tensor<4x2x16xf16>)
        {weight_layout = #llm.layout<tiles16x32, q8_0>}
        : tensor<1x64xf32>, tensor<4x2x16x16x2xi8> -> tensor<1x64xf32>
    ```
  }];
}

def LLMChooseMicroKernelsPass
    : Pass<"llm-choose-micro-kernels", "mlir::ModuleOp"> {
  let summary = "Choose the micro-kernel of every product and attention, "
                "and its tuning";
  let description = [{
    The strategy half of micro-kernels (the mechanisms are
    `llm-lower-micro-kernels` and `llm-lower-flash-attention`): for every
    `llm.linear` and `llm.attention` without a `micro_kernel`, asks the
    module's `#llm.target` and records the choice as a typed
    `micro_kernel = #llm.micro_kernel<kind, tuning>`. Ops that already have
    one (pinned in the input) keep it. A product's kind follows from how
    its weight is stored and its `input_type`:

    | weight_layout | input_type | micro-kernel | needs |
    |---|---|---|---|
    | `tiles16x32` | bf16 | `amx_bf16<unroll>` | AMX-BF16 |
    | `tiles16x32` | bf16 | `avx512_bf16<rows, depth>` | AVX512-BF16, no AMX |
    | `tiles16x32` | — | `vnni_gemv` | |
    | `tiles16x32, q8_0` | bf16 | `amx_q8_0<unroll>` | AMX-BF16 |
    | `tiles16x32, q8_0` | — | `q8_0_gemv` | |
    | `tiles16x32, q8_0` | i8 | `q8_0_i8_gemv<prefetch>` | AVX512-VNNI |
    | `panels64` | — | `f32_panels<rows, depth, prefetch>` | |

    (and the same for `q4_0`); plain 2-D weights stay generic linalg. The
    AMX kernels' `unroll` is the largest divisor of the product's reduction
    tiles not above `amx-unroll`; `avx512_bf16`'s `depth` is the largest
    divisor of them not above `bf16-dot-depth`. An f32 attention whose head_dim is a
    multiple of 16 gets `flash_transposed_keys` (several query rows: the
    history's keys transposed once) or `flash_key_rows` (one row), 16
    lanes; `flash_transposed_keys` takes `rows`, the tokens one task
    carries, as many as fill half the target's vector registers with a
    score vector per query head of a token (AVX-512: 16 / group, so 4 for
    Llama 3.2's group of 4; AVX2: 1).
  }];
  let options = [
    Option<"amxUnroll", "amx-unroll", "int64_t", /*default=*/"8",
           "Most reduction tiles between accumulator loads in the AMX "
           "kernels">,
    Option<"bf16DotRows", "bf16-dot-rows", "int64_t", /*default=*/"6",
           "Input rows per register block of the AVX512-BF16 GEMM (each "
           "with 4 output tiles' accumulators)">,
    Option<"bf16DotDepth", "bf16-dot-depth", "int64_t", /*default=*/"64",
           "Most reduction tiles (of 32 inputs) per block of the "
           "AVX512-BF16 GEMM">,
    Option<"f32Rows", "f32-rows", "int64_t", /*default=*/"6",
           "Input rows per register block of the f32 panel GEMM">,
    Option<"f32Depth", "f32-depth", "int64_t", /*default=*/"1024",
           "Inputs per reduction block of the f32 panel GEMM">,
    Option<"f32Prefetch", "f32-prefetch", "int64_t", /*default=*/"16",
           "Inputs ahead whose panel weights the f32 GEMM prefetches into "
           "L1 (0: none)">,
    Option<"gemvPrefetch", "gemv-prefetch", "int64_t", /*default=*/"16",
           "Blocks of 32 inputs ahead whose weight codes the GEMV with "
           "quantized inputs prefetches (0: none)">,
  ];
}

def LLMOutlineKernelsPass : Pass<"llm-outline-kernels", "mlir::ModuleOp"> {
  let summary = "Move each llm compute op into a kernel function that all "
                "identical ops share";
  let description = [{
    Replaces every `llm` compute op of the entry functions by a `func.call`
    to a private kernel function (`llm.kernel`) holding that op alone.
    Ops that differ only in their weights or in the layer they serve call
    the same kernel: weights are kernel arguments, and `llm.attention` is
    given its layer's cache slot (`tensor.extract_slice`/`insert_slice` at
    the call site, `layer = 0` inside). So the code generated for a model
    does not grow with its layer count.

    Example: the 16 `llm.linear` ops with a `tensor<?x2048xf32>` input and a
    `tensor<512x2048xbf16>` weight become calls to one `@linear_N`.
  }];
  let dependentDialects = ["::mlir::func::FuncDialect",
                           "::mlir::tensor::TensorDialect"];
}

def LLMToLinalgPass : Pass<"llm-to-linalg", "mlir::ModuleOp"> {
  let summary = "Lower llm compute ops to linalg, tensor, arith and math on "
                "tensors";
  let description = [{
    One pattern set per op family (`populateLLM*LoweringPatterns`, one
    file each under passes/lib/ToLinalg/): `llm.embed` becomes a gathering
    `linalg.generic`, `llm.rms_norm` a reduction and a normalizing generic,
    `llm.linear` a `linalg.matmul_transpose_b` for plain weights or, for
    weights stored in a `weight_layout`, a `linalg.generic` whose loops
    name the blocks (tagged `llm.micro_kernel` with the op's choice, for
    `llm-lower-micro-kernels`), `llm.rope` a generic with the
    (llama3-scaled) inverse frequencies as a constant, `llm.attention` the
    KV-cache update (`tensor.insert_slice`) followed by
    `llm.flash_attention` (with a `flash_*` micro-kernel) or by score,
    masked-max, exp, sum and weighted-sum generics, and the elementwise ops
    one generic each. Everything stays on tensors; `llm.param` is left for
    `llm-lower-entry-abi`.
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::linalg::LinalgDialect",
                           "::mlir::math::MathDialect",
                           "::mlir::tensor::TensorDialect"];
}

def LLMLowerEntryABIPass : Pass<"llm-lower-entry-abi", "mlir::ModuleOp"> {
  let summary = "Bind weights to the artifact's weight buffer and make the "
                "entry functions write caller-owned outputs";
  let description = [{
    Lays out every distinct `llm.param` of the module in one weight buffer
    (in order of first use, each tensor aligned to `alignment` bytes) and
    records the table as the module attribute `llm.weights` (name, offset,
    type) with the total in `llm.weights_size`; the packer writes
    `weights.bin` from it. Each entry function (`prefill`, `decode`) gets a
    trailing `%weights: memref<?xi8>` argument, its params become views of
    it (`memref.view` + `bufferization.to_tensor restrict`), and its logits
    are written into a new caller-owned `%logits` argument
    (`bufferization.materialize_in_destination`). After bufferization every
    result aliases an argument and the entry functions return nothing.
  }];
  let options = [
    Option<"alignment", "alignment", "int64_t", /*default=*/"4096",
           "Byte alignment of each weight in the buffer (a power of two)">,
  ];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::bufferization::BufferizationDialect",
                           "::mlir::memref::MemRefDialect"];
}

def LLMApproximateMathPass : Pass<"llm-approximate-math"> {
  let summary = "Replace exp, sin, cos, tanh, ... by polynomial "
                "approximations";
  let description = [{
    Applies MLIR's polynomial approximations of the `math` dialect so that
    generated kernels call no libm function in their loops and vectorize.
    Square roots and FMAs stay as `math` ops (they map to instructions).
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::math::MathDialect",
                           "::mlir::vector::VectorDialect"];
}

def LLMChooseTaskTilesPass : Pass<"llm-choose-task-tiles", "mlir::ModuleOp"> {
  let summary = "Choose how each kernel op is split into parallel tasks";
  let description = [{
    The strategy half of task tiling: for every linalg op of a kernel
    function (`llm.kernel`), picks the largest statically sized parallel
    loop and a tile size that splits it into at most `max-tasks` tasks, and
    records the tile sizes as `llm.task_tiles` (one entry per loop, 0 = not
    tiled). Ops doing fewer than `min-work` iterations, and fills, are left
    whole (dynamic loops are assumed to run `dynamic-trip-count` times in
    that estimate, but are never split). `llm-tile-tasks` only reads the
    attribute, so tests can pin it.
  }];
  let options = [
    Option<"maxTasks", "max-tasks", "int64_t", /*default=*/"32",
           "Upper bound on the tasks one op is split into">,
    Option<"minWork", "min-work", "int64_t", /*default=*/"4096",
           "Ops with fewer (estimated) iterations than this run as one task">,
    Option<"dynamicTripCount", "dynamic-trip-count", "int64_t",
           /*default=*/"64",
           "Iterations assumed for a dynamic loop when estimating the work">,
  ];
}

def LLMTileTasksPass : Pass<"llm-tile-tasks", "mlir::ModuleOp"> {
  let summary = "Tile ops marked with llm.task_tiles into scf.forall tasks";
  let description = [{
    The mechanism half of task tiling: each op carrying `llm.task_tiles` is
    tiled with the TilingInterface into an `scf.forall` whose iterations are
    independent tasks. After bufferization `llm-outline-tasks` turns every
    `scf.forall` into a call of the runtime's `parallel_for`.
  }];
  let dependentDialects = ["::mlir::scf::SCFDialect",
                           "::mlir::tensor::TensorDialect",
                           "::mlir::affine::AffineDialect"];
}

def LLMOutlineTasksPass : Pass<"llm-outline-tasks", "mlir::ModuleOp"> {
  let summary = "Turn each bufferized scf.forall into a runtime parallel_for";
  let description = [{
    Every function of the module gets a trailing context argument
    (`!llvm.ptr` to `llamac_context_t`, see KernelABI.h) that callers pass
    on. Each `scf.forall` is outlined into a task function
    `void task(void *closure, int64_t index)`; the values it uses are
    stored in a closure struct on the stack (memrefs as their descriptors),
    and the forall is replaced by a call of `ctx->parallel_for(ctx, task,
    closure, num_tasks)`. The generated code thus creates no threads: the
    runtime decides where tasks run.
  }];
  let dependentDialects = ["::mlir::LLVM::LLVMDialect",
                           "::mlir::arith::ArithDialect",
                           "::mlir::func::FuncDialect"];
}

def LLMReductionsToLoopsPass : Pass<"llm-reductions-to-loops"> {
  let summary = "Lower linalg ops whose innermost loop is a reduction to "
                "loops that accumulate in registers";
  let description = [{
    `convert-linalg-to-loops` reads and writes the output element on every
    iteration of a reduction, and LLVM cannot keep it in a register when it
    cannot prove that the output does not alias the inputs (the buffers of
    a task come out of its closure). This pass lowers each linalg op on
    buffers whose innermost loop is a reduction to an `scf.for` nest whose
    innermost loop carries the accumulator as an iteration argument: the
    output element is read once before the loop and written once after, so
    LLVM sees a plain reduction and vectorizes it (dot products, norms,
    softmax sums). Other linalg ops are left to `convert-linalg-to-loops`.

    Example: `linalg.matmul_transpose_b` on memrefs becomes loops over i, j
    around `scf.for %k ... iter_args(%acc = C[i, j])`.
  }];
  let dependentDialects = ["::mlir::scf::SCFDialect",
                           "::mlir::memref::MemRefDialect",
                           "::mlir::arith::ArithDialect",
                           "::mlir::vector::VectorDialect"];
}

def LLMInstrumentKernelsPass : Pass<"llm-instrument-kernels", "mlir::ModuleOp"> {
  let summary = "Report each kernel call of the entry points to the runtime's "
                "profile hook";
  let description = [{
    Runs after `llm-outline-tasks` (the entry points have their context
    argument). Every call of an `llm.kernel` function from an entry point is
    bracketed by `ctx->profile(ctx, id, 0)` and `ctx->profile(ctx, id, 1)`
    when that hook is set (a load and a branch otherwise), with `id` the
    kernel's index in the module attribute `llm.kernels` (the list of kernel
    names, copied to the manifest). `llamac-run bench --profile` sets the
    hook and prints the time per kernel.
  }];
  let dependentDialects = ["::mlir::LLVM::LLVMDialect",
                           "::mlir::scf::SCFDialect"];
}

def LLMFreeAfterLastUsePass : Pass<"llm-free-after-last-use"> {
  let summary = "Free each buffer right after its last use instead of at the "
                "end of its block";
  let description = [{
    Runs between `buffer-deallocation-simplification` and
    `bufferization-lower-deallocations`. The ownership-based deallocation
    frees every buffer a block owns at the end of the block; an entry point
    is one block of kernel calls, so every intermediate of every layer would
    stay allocated until it returns. For each `bufferization.dealloc` without
    retained values, each operand freed unconditionally (`true`) whose
    buffer was created in the same block (`memref.alloc`, a call result:
    under the function boundary ABI the caller owns it, `bufferization.clone`)
    becomes a `memref.dealloc` of that buffer right after the last op of the
    block that uses it or one of its views. An operand is left in place when
    a view escapes where uses cannot be followed (a terminator, another
    block, a pointer or descriptor cast, an unknown op that returns a
    memref).

    Example:

    ```mlir
    %a = call @k0() : () -> memref<4xf32>
    %b = call @k1(%a) : (memref<4xf32>) -> memref<4xf32>
    call @k2(%b) : (memref<4xf32>) -> ()
    bufferization.dealloc (%a, %b : memref<4xf32>, memref<4xf32>) if (%true, %true)
    ```

    becomes `memref.dealloc %a` after the call of `@k1` and
    `memref.dealloc %b` after the call of `@k2`.
  }];
  let dependentDialects = ["::mlir::memref::MemRefDialect"];
}

//===----------------------------------------------------------------------===//
// Mechanism: micro-kernels on buffers
//===----------------------------------------------------------------------===//

def LLMLowerFlashAttentionPass
    : Pass<"llm-lower-flash-attention", "mlir::ModuleOp"> {
  let summary = "Generate the fused attention kernel of llm.flash_attention "
                "on buffers";
  let description = [{
    Runs after bufferization and before `llm-outline-tasks`. Each
    `llm.flash_attention` on buffers becomes one pass over the keys per
    task (an `scf.forall`): the query heads of the group together (they
    share every key and value load), `lanes` keys at a time with a running
    maximum, sum and weighted sum (the online softmax), only up to the
    causal limit. `flash_transposed_keys` first copies the keys into a
    `[kv, head_dim, visible rounded up to lanes]` buffer so that `lanes`
    scores are one vector of FMAs, and a task is (KV head, block of `rows`
    tokens): one key vector per head_dim element serves the scores of every
    query row of the block, blocks below every row's limit skip the mask,
    and the block's accumulators live in a stack buffer walked `lanes`
    columns at a time. `flash_key_rows` is one task per (token, KV head)
    and reads the key rows, reducing each dot product horizontally (one
    query: transposing the whole history would cost more). Rows of q, K and V must be
    contiguous (checked at run time). Vector ops only: no instruction set
    is assumed beyond what LLVM legalizes.
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::cf::ControlFlowDialect",
                           "::mlir::linalg::LinalgDialect",
                           "::mlir::math::MathDialect",
                           "::mlir::memref::MemRefDialect",
                           "::mlir::scf::SCFDialect",
                           "::mlir::vector::VectorDialect"];
}

def LLMLowerMicroKernelsPass : Pass<"llm-lower-micro-kernels"> {
  let summary = "Lower the linalg ops tagged llm.micro_kernel to AMX tiles "
                "and vector code";
  let description = [{
    `llm-to-linalg` lowers a product by weights stored in a layout to a
    `linalg.generic` whose loops name the blocks (`[mb, mi, nb, ni, kb,
    kr, kp]` for a tile matrix product, `[m, nb, ni, kb, kr, kp]` for a
    tile matrix-vector product, `[m, nb, ni, k]` for panels) and tags it
    `llm.micro_kernel = #llm.micro_kernel<...>`. This pass, on buffers,
    replaces each tagged op by the code its kind names, with its tuning
    values, guarded by a run-time check that the blocks are contiguous
    (the op itself, untagged, is the fallback). It decides nothing: a kind
    whose instructions the module's `#llm.target` lacks is an error. One
    file per family under passes/lib/Kernels/:

    - `amx_bf16` (AMX.cpp): 2 × 2 blocks of 16 × 16 f32 accumulator tiles
      (`amx.tile_load`/`tile_mulf`/`tile_store`), the reduction unrolled
      `unroll` tiles deep; the accumulators are reloaded once per unrolled
      step because MLIR 19 cannot carry AMX tiles through loops.
    - `amx_q8_0` / `amx_q4_0` (AMXQuant.cpp): a panel of output tiles is
      dequantized and rounded to bf16 into a buffer, then multiplied as in
      `amx_bf16` for every row.
    - `avx512_bf16` (DotBF16.cpp): amx_bf16's operands read as vectors
      for CPUs without AMX: register blocks of `rows` input rows × 4
      output tiles, each 64-byte row of a weight tile (16 outputs × an
      input pair) multiplied by the broadcast input pair with `vdpbf16ps`
      (through `llvm.call_intrinsic`), the accumulators carried through
      blocks of `depth` reduction tiles.
    - `vnni_gemv` (TileGemv.cpp): four output tiles at a time, each 64-byte
      load of weight pairs split into its even and odd bf16 halves (shift
      and mask, exact) and accumulated with f32 FMAs against the broadcast
      inputs.
    - `q8_0_gemv` / `q4_0_gemv` (QuantGemv.cpp): the same loops over
      quantized codes and f16 block scales, dequantized in registers
      (exact).
    - `q8_0_i8_gemv` / `q4_0_i8_gemv` (QuantGemvI8.cpp; `input_type = i8`:
      input codes and scales in the inputs' place): AVX512-VNNI integer dot
      products (`vpdpbusd`, through `llvm.call_intrinsic`) of each 32-input
      block, converted and scaled once per block; codes and scales
      prefetched `prefetch` blocks ahead.
    - `f32_panels` (PanelProduct.cpp): a register-blocked GEMM of `rows`
      input rows × one 64-wide panel (four 16-lane accumulators a row,
      carried through the k loop), each weight vector loaded once per input
      and each input broadcast; the reduction is cut in blocks of `depth`
      inputs so that a panel's block stays in L2 (prefetched into L1
      `prefetch` inputs ahead) while every row block of a chunk of rows
      passes over it. One row (decode) runs a GEMV that streams four panels
      at once.
  }];
  let dependentDialects = ["::mlir::amx::AMXDialect",
                           "::mlir::arith::ArithDialect",
                           "::mlir::LLVM::LLVMDialect",
                           "::mlir::memref::MemRefDialect",
                           "::mlir::scf::SCFDialect",
                           "::mlir::vector::VectorDialect"];
}

#endif // LLAMAC_PASSES_PASSES_TD
