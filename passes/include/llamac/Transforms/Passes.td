//===- Passes.td - llamac passes ---------------------------*- tablegen -*-===//
#ifndef LLAMAC_TRANSFORMS_PASSES_TD
#define LLAMAC_TRANSFORMS_PASSES_TD

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

def LLMPackWeightsPass : Pass<"llm-pack-weights", "mlir::ModuleOp"> {
  let summary = "Store bf16 projection weights as vnni16x32 tiles for AMX "
                "and round matrix-matrix inputs to bf16";
  let description = [{
    A target-dependent layout decision, taken on the graph so that the
    weight table, the packer and every kernel agree on it: each bf16
    `llm.param` used only as an `llm.linear` weight or an `llm.embed` table,
    with `out % 16 == 0` and `in % 32 == 0`, becomes
    `{layout = "vnni16x32"} : tensor<out/16 x in/32 x 16 x 16 x 2 x bf16>`
    (1 KiB tiles of input pairs, what AMX's `tdpbf16ps` multiplies). The
    `llm.linear` ops reading such a weight with more than one row of input
    (prefill: a dynamic or larger token count) get `input_type = bf16`:
    matrix units multiply bf16 pairs, so those inputs are rounded to bf16
    (sums stay f32). Matrix-vector products (decode, one row) keep f32
    inputs and read the same tiles.

    `llamac compile` runs it when the target CPU has AMX-BF16 and the
    weights are bf16 (`--prefill-inputs=f32` turns it off).

    Example:

    ```mlir
    %w = llm.param "w" : tensor<64x64xbf16>
    %y = llm.linear %x, %w : tensor<?x64xf32>, tensor<64x64xbf16> -> tensor<?x64xf32>
    // becomes
    %w = llm.param "w" {layout = "vnni16x32"} : tensor<4x2x16x16x2xbf16>
    %y = llm.linear %x, %w {input_type = bf16}
        : tensor<?x64xf32>, tensor<4x2x16x16x2xbf16> -> tensor<?x64xf32>
    ```
  }];
}

def LLMPackF32WeightsPass : Pass<"llm-pack-f32-weights", "mlir::ModuleOp"> {
  let summary = "Store f32 projection weights as f32panel64 panels for FMA "
                "micro-kernels";
  let description = [{
    The f32 counterpart of `llm-pack-weights`: each f32 `llm.param` used
    only as an `llm.linear` weight or an `llm.embed` table, with
    `out % 64 == 0`, becomes
    `{layout = "f32panel64"} : tensor<out/64 x in x 64 x f32>` (panels of
    64 outputs, k-major: what a broadcast-FMA kernel loads per input). The
    values are unchanged; only the order of summation of the products that
    read them changes.

    `llamac compile --dtype f32` runs it when the target CPU has AVX-512F
    (the kernels hold 16-lane vectors in registers).

    Example:

    ```mlir
    %w = llm.param "w" : tensor<128x32xf32>
    // becomes
    %w = llm.param "w" {layout = "f32panel64"} : tensor<2x32x64xf32>
    ```
  }];
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
    `llm-pack-weights` / `llm-quantize-weights`, which then lay out or
    quantize the stacked weight like any other.

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

def LLMQuantizeWeightsPass : Pass<"llm-quantize-weights", "mlir::ModuleOp"> {
  let summary = "Store projection and embedding matrices as Q8_0 / Q4_0 "
                "block-quantized codes with f16 scales";
  let description = [{
    Each float `llm.param` used only as an `llm.linear` weight or an
    `llm.embed` table, 2-D with `out % 16 == 0` and `in % 32 == 0`, becomes
    two params of the same name (see `llm.param`): codes in the
    `q8_0x16x32` / `q4_0x16x32` layout and their `_scales`, and its users
    take the scales as their `scales` operand. The packer quantizes the
    checkpoint (blocks of 32 inputs, llama.cpp's reference Q8_0 / Q4_0
    rules) once, at compile time. Other weights keep their type.

    With `matrix-input-type=bf16`, the products whose input has several rows
    (prefill) also get `input_type = bf16`: inputs and dequantized weights
    are rounded to bf16, so that they run as AMX tile products (see
    `llm-lower-micro-kernels`); one-row products (decode) stay exact
    unless `vector-input-type=i8`: then the products whose input has one row
    get `input_type = i8` (the input quantized in blocks of 32, integer dot
    products with the codes: AVX512-VNNI in `llm-lower-micro-kernels`).

    Example (`scheme=q8_0`):

    ```mlir
    %w = llm.param "w" : tensor<64x64xf32>
    %y = llm.linear %x, %w : tensor<?x64xf32>, tensor<64x64xf32> -> tensor<?x64xf32>
    // becomes
    %c = llm.param "w" {layout = "q8_0x16x32"} : tensor<4x2x16x16x2xi8>
    %s = llm.param "w" {layout = "q8_0x16x32_scales"} : tensor<4x2x16xf16>
    %y = llm.linear %x, %c scales(%s : tensor<4x2x16xf16>)
        : tensor<?x64xf32>, tensor<4x2x16x16x2xi8> -> tensor<?x64xf32>
    ```
  }];
  let options = [
    Option<"scheme", "scheme", "std::string", /*default=*/"\"q8_0\"",
           "q8_0 (int8 codes) or q4_0 (4-bit codes)">,
    Option<"matrixInputType", "matrix-input-type", "std::string",
           /*default=*/"\"\"",
           "bf16: set `input_type = bf16` on the matrix-matrix "
           "products (inputs with several rows) by quantized weights, so "
           "that prefill runs on AMX tiles of dequantized weights">,
    Option<"vectorInputType", "vector-input-type", "std::string",
           /*default=*/"\"\"",
           "i8: set `input_type = i8` on the matrix-vector products (inputs "
           "of one row) by quantized weights, so that decode quantizes its "
           "inputs and runs integer dot products">,
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
    `llm.embed` becomes a gathering `linalg.generic`, `llm.rms_norm` a
    reduction and a normalizing generic, `llm.linear` a
    `linalg.matmul_transpose_b` (weights widened in the body),
    `llm.rope` a generic with the (llama3-scaled) inverse frequencies as a
    constant, `llm.attention` the KV-cache update (`tensor.insert_slice`)
    followed by score, masked-max, exp, sum and weighted-sum generics, and
    the elementwise ops one generic each. `llm.param` is left for
    `llm-lower-entry-abi`.
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::bufferization::BufferizationDialect",
                           "::mlir::cf::ControlFlowDialect",
                           "::mlir::linalg::LinalgDialect",
                           "::mlir::math::MathDialect",
                           "::mlir::memref::MemRefDialect",
                           "::mlir::scf::SCFDialect",
                           "::mlir::tensor::TensorDialect",
                           "::mlir::vector::VectorDialect"];
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

def LLMLowerMicroKernelsPass : Pass<"llm-lower-micro-kernels"> {
  let summary = "Lower the linalg ops tagged llm.micro_kernel to AMX tiles "
                "and vector code";
  let description = [{
    `llm-to-linalg` lowers a projection by `vnni16x32` weights to a
    `linalg.generic` whose loops name the tiles (`[mb, mi, nb, ni, kb, kr,
    kp]` for a matrix product, `[nb, ni, kb, kr, kp]` for a matrix-vector
    product) and tags it with `llm.micro_kernel`. This pass, on buffers,
    replaces each tagged op by the code that kernel needs, guarded by a
    run-time check that the tiles are contiguous (the op itself, untagged, is
    the fallback):

    - `"amx_bf16"`: 2 × 2 blocks of 16 × 16 f32 accumulator tiles
      (`amx.tile_load`/`tile_mulf`/`tile_store`), the reduction unrolled
      `unroll` tiles deep; the accumulators are reloaded once per unrolled
      step because MLIR 19 cannot carry AMX tiles through loops.
    - `"vnni_gemv"`: four output tiles at a time, each 64-byte load of
      weight pairs split into its even and odd bf16 halves (shift and mask,
      exact) and accumulated with f32 FMAs against the broadcast inputs.
    - `"q8_0_gemv"` / `"q4_0_gemv"`: the same loops over quantized codes
      and f16 block scales, dequantized in registers (exact).
    - `"q8_0_i8_gemv"` / `"q4_0_i8_gemv"` (`input_type = i8`: input codes
      and scales in the inputs' place): AVX512-VNNI integer dot products
      (`vpdpbusd`, through `llvm.call_intrinsic`) of each 32-input block,
      converted and scaled once per block; codes and scales prefetched
      `gemv-prefetch` blocks ahead.
    - `"amx_q8_0"` / `"amx_q4_0"`: a panel of output tiles is dequantized
      and rounded to bf16 into a buffer (`memref.alloc`), then multiplied
      as in `"amx_bf16"` for every row.
    - `"f32_panels"` (products by `f32panel64` weights, loops `[m, nb, ni,
      k]`): a register-blocked GEMM of `f32-rows` input rows × one 64-wide
      panel (four 16-lane accumulators a row, carried through the k loop),
      each weight vector loaded once per input and each input broadcast;
      the reduction is cut in blocks of `f32-depth` inputs so that a
      panel's block stays in L2 (prefetched into L1 `f32-prefetch` inputs
      ahead) while every row block of a chunk of rows (inputs in L2)
      passes over it. One row (decode) runs a GEMV that streams four
      panels at once.
  }];
  let options = [
    Option<"unroll", "unroll", "int64_t", /*default=*/"8",
           "Reduction tiles per accumulator load/store in the AMX kernel">,
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
  let dependentDialects = ["::mlir::amx::AMXDialect",
                           "::mlir::arith::ArithDialect",
                           "::mlir::LLVM::LLVMDialect",
                           "::mlir::memref::MemRefDialect",
                           "::mlir::scf::SCFDialect",
                           "::mlir::vector::VectorDialect"];
}

#endif // LLAMAC_TRANSFORMS_PASSES_TD
