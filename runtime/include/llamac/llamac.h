/*===- llamac.h - The C API of the llamac runtime -----------------*- C -*-===*\
|*                                                                            *|
|* Load a compiled artifact, open sessions (each one KV cache), run prefill  *|
|* and decode steps for their logits, generate with sampling, and turn text  *|
|* into tokens and back. Built as libllamac.so, which exports only these     *|
|* llamac_* functions and needs neither LLVM nor MLIR.                        *|
|*                                                                            *|
|* Errors: every function that can fail returns a status; LLAMAC_OK is 0.     *|
|* llamac_last_error() gives the calling thread's message for its last call   *|
|* ("" after a success). No C++ exception ever leaves these functions.        *|
|*                                                                            *|
|* Threads: a model and its sessions are used by one thread at a time (the   *|
|* runtime runs each call on its own worker threads). Different models are   *|
|* independent.                                                               *|
|*                                                                            *|
\*===----------------------------------------------------------------------===*/
#ifndef LLAMAC_LLAMAC_H
#define LLAMAC_LLAMAC_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define LLAMAC_API __attribute__((visibility("default")))
#else
#define LLAMAC_API
#endif

typedef enum llamac_status {
  LLAMAC_OK = 0,
  /* A null pointer, or a value out of its range (a context length, a
   * sampling option, an empty prompt). */
  LLAMAC_ERROR_INVALID_ARGUMENT = 1,
  /* The artifact cannot be used: missing, damaged, of another version, for
   * a CPU this one is not, or its tokenizer.bin is damaged. */
  LLAMAC_ERROR_ARTIFACT = 2,
  /* A token id outside the vocabulary. */
  LLAMAC_ERROR_TOKEN_OUT_OF_RANGE = 3,
  /* The tokens do not fit in what is left of the session's context. */
  LLAMAC_ERROR_CONTEXT_FULL = 4,
  /* Text was asked of an artifact compiled without a tokenizer. */
  LLAMAC_ERROR_NO_TOKENIZER = 5,
  /* A caller's buffer is too small; the size it needs was written. */
  LLAMAC_ERROR_BUFFER_TOO_SMALL = 6,
  /* Not enough memory (for a session's KV cache, say). */
  LLAMAC_ERROR_OUT_OF_MEMORY = 7,
  /* Anything else; the message says what. */
  LLAMAC_ERROR_FAILED = 8
} llamac_status;

/* "LLAMAC_OK", "LLAMAC_ERROR_CONTEXT_FULL", ...; never NULL. */
LLAMAC_API const char *llamac_status_name(llamac_status status);
/* The calling thread's message for its last call that returned a status:
 * one line saying what is wrong, or "" after a success. Valid until the
 * thread's next call. */
LLAMAC_API const char *llamac_last_error(void);

/*===--------------------------------------------------------------------===*
 * Models
 *===--------------------------------------------------------------------===*/

typedef struct llamac_model llamac_model;

typedef struct llamac_load_options {
  /* Worker threads for the generated code; 0: all cores; at most 1024. */
  int32_t threads;
  /* Most prompt tokens per prefill call: longer prompts run in chunks of
   * equal size (same logits), which bounds the memory of the activations;
   * 0: the whole prompt in one call. */
  int64_t prefill_chunk;
} llamac_load_options;

/* threads 0, prefill_chunk 512. */
LLAMAC_API llamac_load_options llamac_load_options_default(void);

/* Loads the artifact in `artifact_dir` (what `llamac compile -o` wrote).
 * `options` may be NULL for the defaults. On success *model is a model to
 * free with llamac_model_free; on failure it is NULL. */
LLAMAC_API llamac_status llamac_model_load(const char *artifact_dir,
                                           const llamac_load_options *options,
                                           llamac_model **model);
/* Frees the model once its last session is freed too. NULL: nothing. */
LLAMAC_API void llamac_model_free(llamac_model *model);

/* The model's sizes (0 or -1 for a NULL model). */
LLAMAC_API int64_t llamac_model_vocab_size(const llamac_model *model);
/* The longest context a session may have (max_position_embeddings). */
LLAMAC_API int64_t llamac_model_max_context(const llamac_model *model);
/* The worker threads calls run on. */
LLAMAC_API int32_t llamac_model_threads(const llamac_model *model);
/* The begin-of-text id, or -1 when the model has none. */
LLAMAC_API int32_t llamac_model_bos_token(const llamac_model *model);
/* The ids generation stops at (config.json's and generation_config.json's
 * end ids): writes at most `capacity` of them to `ids` (which may be NULL
 * when `capacity` is 0) and returns how many there are. */
LLAMAC_API size_t llamac_model_stop_tokens(const llamac_model *model,
                                           int32_t *ids, size_t capacity);
/* 1 when the artifact has a tokenizer (tokenizer.bin), 0 otherwise. */
LLAMAC_API int llamac_model_has_tokenizer(const llamac_model *model);

/*===--------------------------------------------------------------------===*
 * Sessions: a KV cache and a position in it
 *===--------------------------------------------------------------------===*/

typedef struct llamac_session llamac_session;

/* A session whose cache holds `context_length` tokens (1 to
 * llamac_model_max_context). Refused with LLAMAC_ERROR_OUT_OF_MEMORY when
 * the weights and the cache would not fit in the memory this process may
 * use. */
LLAMAC_API llamac_status llamac_session_create(llamac_model *model,
                                               int64_t context_length,
                                               llamac_session **session);
/* NULL: nothing. */
LLAMAC_API void llamac_session_free(llamac_session *session);
/* Tokens in the cache, and how many it holds. */
LLAMAC_API int64_t llamac_session_position(const llamac_session *session);
LLAMAC_API int64_t llamac_session_capacity(const llamac_session *session);
/* Forgets the history: the next tokens run at position 0. */
LLAMAC_API void llamac_session_reset(llamac_session *session);

/* Runs `n_tokens` tokens at the session's position and appends them to its
 * cache. *logits then points to the logits, vocab-size floats a row: one
 * row per token when `all_rows` is nonzero, else the last token's row
 * alone (the output projection then runs once). The memory belongs to the
 * session and holds until its next call. A token out of the vocabulary, or
 * more tokens than the context has room for, is an error before anything
 * runs (the session is unchanged). */
LLAMAC_API llamac_status llamac_prefill(llamac_session *session,
                                        const int32_t *tokens, size_t n_tokens,
                                        int all_rows, const float **logits);
/* One token: the same with one row. */
LLAMAC_API llamac_status llamac_decode(llamac_session *session, int32_t token,
                                       const float **logits);

/*===--------------------------------------------------------------------===*
 * Generation
 *===--------------------------------------------------------------------===*/

/* llama.cpp's sampling chain: repetition penalty, top-k, top-p, min-p,
 * temperature, then a draw from a seeded stream (the same seed gives the
 * same tokens on any machine). */
typedef struct llamac_sampling {
  double temperature;    /* 0: greedy (argmax, first index on ties) */
  int64_t top_k;         /* 0: off */
  double top_p;          /* 1: off */
  double min_p;          /* 0: off */
  double repeat_penalty; /* 1: off */
  int64_t repeat_last_n; /* tokens the penalty looks back on */
  uint64_t seed;
} llamac_sampling;

/* 0.8, 40, 0.95, 0.05, 1.0, 64, seed 0. */
LLAMAC_API llamac_sampling llamac_sampling_default(void);

typedef struct llamac_generate_options {
  llamac_sampling sampling;
  /* At most this many tokens; -1: until a stop id or the context is full.
   * A count that cannot fit in the context is LLAMAC_ERROR_CONTEXT_FULL
   * before anything runs. */
  int64_t max_tokens;
  /* Nonzero: do not stop at the model's end ids. */
  int ignore_eos;
} llamac_generate_options;

/* The default sampling, max_tokens -1, ignore_eos 0. */
LLAMAC_API llamac_generate_options llamac_generate_options_default(void);

/* Sees each generated token as it is chosen (a stop id too); returns
 * nonzero to go on, 0 to stop after this token. */
typedef int (*llamac_token_callback)(int32_t token, void *user_data);

/* Runs `prompt` (at least one token) at the session's position, then
 * generates, handing each token to `callback` (may be NULL) with
 * `user_data`. Ends at a stop id, at max_tokens, when the callback says
 * so, or when the context is full (with max_tokens -1). The last token
 * generated is not fed back: afterwards the session's position counts the
 * prompt and every generated token but the last. *n_generated (may be
 * NULL) gets the number of tokens generated. */
LLAMAC_API llamac_status llamac_generate(llamac_session *session,
                                         const int32_t *prompt, size_t n_prompt,
                                         const llamac_generate_options *options,
                                         llamac_token_callback callback,
                                         void *user_data, size_t *n_generated);

/*===--------------------------------------------------------------------===*
 * Text (artifacts with a tokenizer)
 *===--------------------------------------------------------------------===*/

/* The token ids of `text_length` bytes of `text` (any bytes: byte-level BPE
 * encodes every one; special-token text such as "<|eot_id|>" becomes its
 * token; no BOS is added). *n_tokens gets how many ids the text has; they
 * are written to `tokens` when at most `capacity`, else the call returns
 * LLAMAC_ERROR_BUFFER_TOO_SMALL and writes none. */
LLAMAC_API llamac_status llamac_tokenize(const llamac_model *model,
                                         const char *text, size_t text_length,
                                         int32_t *tokens, size_t capacity,
                                         size_t *n_tokens);
/* The bytes of the tokens, concatenated (special tokens as their text; a
 * token may end inside a UTF-8 character), then a NUL. *length gets the
 * number of bytes without the NUL; they are written to `text` when
 * `capacity` holds them and the NUL, else the call returns
 * LLAMAC_ERROR_BUFFER_TOO_SMALL and writes none. */
LLAMAC_API llamac_status llamac_detokenize(const llamac_model *model,
                                           const int32_t *tokens,
                                           size_t n_tokens, char *text,
                                           size_t capacity, size_t *length);

#ifdef __cplusplus
}
#endif

#endif /* LLAMAC_LLAMAC_H */
