/*===- KernelABI.h - The C ABI of a compiled llamac model --------*- C -*-===*\
|*                                                                            *|
|* Shared by the generated `model.so` and the runtime; plain C so that the    *|
|* runtime needs neither MLIR nor LLVM headers to call the model.             *|
|*                                                                            *|
\*===----------------------------------------------------------------------===*/
#ifndef LLAMAC_ARTIFACT_KERNELABI_H
#define LLAMAC_ARTIFACT_KERNELABI_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Bumped whenever the entry signatures, descriptor layout, weight layout
 * rules or the manifest's format change; the runtime refuses artifacts of
 * another version.
 *   4: vnni16x32 weight tiles, AMX code.
 *   5: the manifest lists the compute units the kernels use
 *      ("compute_units") and each kernel as {"name", "micro_kernel"}.
 *   6: the KV cache's element type is the manifest's kv_cache.dtype (f32,
 *      bf16 or f16); kv_cache.query_heads.
 *   7: kv_cache.dtype q8_0; a cache row is cacheRowWidth(dtype, head_dim)
 *      elements (q8_0's blocks as bytes), no longer head_dim always. */
#define LLAMAC_ABI_VERSION 7

/* A strided memref descriptor as MLIR lays it out: the allocation and the
 * aligned data pointers, an element offset, then sizes and strides. */
#define LLAMAC_DEFINE_MEMREF(NAME, T, RANK)                                    \
  typedef struct NAME {                                                        \
    T *allocated;                                                              \
    T *aligned;                                                                \
    int64_t offset;                                                            \
    int64_t sizes[RANK];                                                       \
    int64_t strides[RANK];                                                     \
  } NAME

LLAMAC_DEFINE_MEMREF(llamac_tokens_t, int32_t, 1);   /* [n] token ids */
/* [layers, kv, ctx, row] of the manifest's kv_cache.dtype (f32, bf16, f16:
 * a row is head_dim values; q8_0: head_dim / 32 blocks of 34 bytes, see
 * CacheElement.h). */
LLAMAC_DEFINE_MEMREF(llamac_cache_t, void, 4);
LLAMAC_DEFINE_MEMREF(llamac_logits_t, float, 2);     /* [n, vocab] */
LLAMAC_DEFINE_MEMREF(llamac_weights_t, int8_t, 1);   /* [bytes] */

/* One task of a parallel loop: runs iteration `task` with its captures. */
typedef void (*llamac_task_fn)(void *closure, int64_t task);

/* What the generated code asks of the runtime. The code creates no threads:
 * every parallel loop is handed to `parallel_for`, which must run
 * fn(closure, i) for every i in [0, num_tasks) and return when all are done. */
typedef struct llamac_context {
  void (*parallel_for)(struct llamac_context *ctx, llamac_task_fn fn,
                       void *closure, int64_t num_tasks);
  void *runtime; /* the runtime's own state */
  /* Optional (may be null): called before (`end` = 0) and after (`end` = 1)
   * each kernel call of an entry point; `kernel` indexes the manifest's
   * "kernels" list. For per-kernel timing. */
  void (*profile)(struct llamac_context *ctx, int64_t kernel, int64_t end);
} llamac_context_t;

/* `_mlir_ciface_prefill` and `_mlir_ciface_decode`: process the tokens at
 * absolute positions start_pos.., append their keys/values to the caches and
 * write one logits row per token. Everything is caller-owned. */
typedef void (*llamac_entry_fn)(llamac_tokens_t *tokens, int64_t start_pos,
                                llamac_cache_t *k_cache,
                                llamac_cache_t *v_cache,
                                llamac_logits_t *logits,
                                llamac_weights_t *weights,
                                llamac_context_t *ctx);

#define LLAMAC_PREFILL_SYMBOL "_mlir_ciface_prefill"
/* The same, writing only the last token's logits row ([1, vocab]). */
#define LLAMAC_PREFILL_LAST_SYMBOL "_mlir_ciface_prefill_last"
#define LLAMAC_DECODE_SYMBOL "_mlir_ciface_decode"

#ifdef __cplusplus
}
#endif

#endif /* LLAMAC_ARTIFACT_KERNELABI_H */
