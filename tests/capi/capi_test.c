/*===- capi_test.c - The C API, from C ------------------------------------===*\
|*                                                                            *|
|* Loads the golden checkpoint compiled with f32 weights, generates the       *|
|* golden greedy case and compares prefill's logits with the golden file;     *|
|* exercises every error (a bad directory, tokens out of the vocabulary, a    *|
|* full context, null arguments, no tokenizer); and tokenizes with an         *|
|* artifact that has the Llama 3 tokenizer. The golden numbers come on the    *|
|* command line, read from ../shared/golden by run_capi_test.py:              *|
|*                                                                            *|
|*   capi_test GOLDEN_ART TOKENIZER_ART PROMPT GENERATED PREFILL_TOKENS       *|
|*             PREFILL_LOGITS_FILE ATOL TEXT TEXT_IDS                         *|
|*                                                                            *|
|* (id lists comma-separated). Prints each failed check; exits 1 if any.     *|
|*                                                                            *|
\*===----------------------------------------------------------------------===*/
#include "llamac/llamac.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures = 0;

#define CHECK(condition)                                                       \
  do {                                                                         \
    if (!(condition)) {                                                        \
      fprintf(stderr, "%s:%d: check failed: %s (last error: %s)\n", __FILE__,  \
              __LINE__, #condition, llamac_last_error());                      \
      ++failures;                                                              \
    }                                                                          \
  } while (0)

/* `call` returns `status` and leaves a message that contains `words`. */
#define CHECK_ERROR(call, status, words)                                       \
  do {                                                                         \
    llamac_status got = (call);                                                \
    if (got != (status) || !strstr(llamac_last_error(), (words))) {            \
      fprintf(stderr, "%s:%d: %s gave %s (%s), expected %s with '%s'\n",       \
              __FILE__, __LINE__, #call, llamac_status_name(got),              \
              llamac_last_error(), #status, (words));                          \
      ++failures;                                                              \
    }                                                                          \
  } while (0)

typedef struct {
  int32_t ids[1024];
  size_t count;
} id_list;

static id_list parse_ids(const char *text) {
  id_list list = {{0}, 0};
  const char *at = text;
  while (*at && list.count < 1024) {
    list.ids[list.count++] = (int32_t)strtol(at, (char **)&at, 10);
    if (*at == ',')
      ++at;
  }
  return list;
}

/* The whole file, as floats; *count gets how many. */
static float *read_floats(const char *path, size_t *count) {
  FILE *file = fopen(path, "rb");
  if (!file)
    return NULL;
  fseek(file, 0, SEEK_END);
  long bytes = ftell(file);
  fseek(file, 0, SEEK_SET);
  float *values = malloc((size_t)bytes);
  *count = fread(values, sizeof(float), (size_t)bytes / sizeof(float), file);
  fclose(file);
  return values;
}

typedef struct {
  id_list tokens;
  size_t stop_after; /* 0: never */
} collected;

static int collect(int32_t token, void *user_data) {
  collected *seen = user_data;
  seen->tokens.ids[seen->tokens.count++] = token;
  return seen->stop_after == 0 || seen->tokens.count < seen->stop_after;
}

static void null_arguments(llamac_model *model, llamac_session *session) {
  llamac_model *no_model = (llamac_model *)1;
  const float *logits = NULL;
  int32_t token = 1;
  size_t count = 0;
  char text[8];
  CHECK_ERROR(llamac_model_load(NULL, NULL, &no_model),
              LLAMAC_ERROR_INVALID_ARGUMENT, "artifact_dir is NULL");
  CHECK(no_model == NULL);
  CHECK_ERROR(llamac_model_load(".", NULL, NULL), LLAMAC_ERROR_INVALID_ARGUMENT,
              "model is NULL");
  llamac_session *no_session = NULL;
  CHECK_ERROR(llamac_session_create(NULL, 16, &no_session),
              LLAMAC_ERROR_INVALID_ARGUMENT, "llamac_session_create: model");
  CHECK_ERROR(llamac_session_create(model, 16, NULL),
              LLAMAC_ERROR_INVALID_ARGUMENT, "session is NULL");
  CHECK_ERROR(llamac_prefill(NULL, &token, 1, 0, &logits),
              LLAMAC_ERROR_INVALID_ARGUMENT, "llamac_prefill: session");
  CHECK_ERROR(llamac_prefill(session, NULL, 1, 0, &logits),
              LLAMAC_ERROR_INVALID_ARGUMENT, "tokens is NULL");
  CHECK_ERROR(llamac_prefill(session, &token, 1, 0, NULL),
              LLAMAC_ERROR_INVALID_ARGUMENT, "logits is NULL");
  CHECK_ERROR(llamac_decode(NULL, token, &logits),
              LLAMAC_ERROR_INVALID_ARGUMENT, "llamac_decode: session");
  CHECK_ERROR(llamac_decode(session, token, NULL),
              LLAMAC_ERROR_INVALID_ARGUMENT, "logits is NULL");
  CHECK_ERROR(llamac_generate(NULL, &token, 1, NULL, NULL, NULL, &count),
              LLAMAC_ERROR_INVALID_ARGUMENT, "llamac_generate: session");
  CHECK_ERROR(llamac_generate(session, NULL, 1, NULL, NULL, NULL, &count),
              LLAMAC_ERROR_INVALID_ARGUMENT, "prompt is NULL");
  CHECK_ERROR(llamac_tokenize(NULL, "x", 1, &token, 1, &count),
              LLAMAC_ERROR_INVALID_ARGUMENT, "llamac_tokenize: model");
  CHECK_ERROR(llamac_tokenize(model, NULL, 1, &token, 1, &count),
              LLAMAC_ERROR_INVALID_ARGUMENT, "text is NULL");
  CHECK_ERROR(llamac_detokenize(model, NULL, 1, text, sizeof(text), &count),
              LLAMAC_ERROR_INVALID_ARGUMENT, "tokens is NULL");
  CHECK_ERROR(llamac_detokenize(model, &token, 1, text, sizeof(text), NULL),
              LLAMAC_ERROR_INVALID_ARGUMENT, "length is NULL");
  /* Queries and frees of NULL are harmless. */
  CHECK(llamac_model_vocab_size(NULL) == 0);
  CHECK(llamac_model_bos_token(NULL) == -1);
  CHECK(llamac_session_position(NULL) == 0);
  llamac_session_reset(NULL);
  llamac_session_free(NULL);
  llamac_model_free(NULL);
  /* Nothing ran: the session is where it was. */
  CHECK(llamac_session_position(session) == 0);
}

static void golden_greedy(llamac_model *model, const id_list *prompt,
                          const id_list *generated) {
  llamac_session *session = NULL;
  CHECK(llamac_session_create(model, 64, &session) == LLAMAC_OK);
  CHECK(strcmp(llamac_last_error(), "") == 0);
  llamac_generate_options options = llamac_generate_options_default();
  options.sampling.temperature = 0;
  options.max_tokens = (int64_t)generated->count;
  options.ignore_eos = 1;
  collected seen = {{{0}, 0}, 0};
  size_t count = 0;
  CHECK(llamac_generate(session, prompt->ids, prompt->count, &options, collect,
                        &seen, &count) == LLAMAC_OK);
  CHECK(count == generated->count && seen.tokens.count == generated->count);
  for (size_t i = 0; i < generated->count && i < seen.tokens.count; ++i)
    if (seen.tokens.ids[i] != generated->ids[i]) {
      fprintf(stderr, "generated[%zu] = %d, the golden case has %d\n", i,
              seen.tokens.ids[i], generated->ids[i]);
      ++failures;
    }
  /* The last token is not fed back. */
  CHECK(llamac_session_position(session) ==
        (int64_t)(prompt->count + generated->count - 1));

  /* The callback stops generation: three tokens, the same three. */
  llamac_session_reset(session);
  collected first_three = {{{0}, 0}, 3};
  CHECK(llamac_generate(session, prompt->ids, prompt->count, &options, collect,
                        &first_three, &count) == LLAMAC_OK);
  CHECK(count == 3 && first_three.tokens.count == 3);
  CHECK(memcmp(first_three.tokens.ids, generated->ids, 3 * sizeof(int32_t)) ==
        0);

  /* A count that cannot fit, and bad sampling options, run nothing. */
  llamac_session_reset(session);
  options.max_tokens = 100;
  CHECK_ERROR(llamac_generate(session, prompt->ids, prompt->count, &options,
                              NULL, NULL, &count),
              LLAMAC_ERROR_CONTEXT_FULL, "context full");
  options.max_tokens = -2;
  CHECK_ERROR(llamac_generate(session, prompt->ids, prompt->count, &options,
                              NULL, NULL, &count),
              LLAMAC_ERROR_INVALID_ARGUMENT, "max_tokens must be >= -1");
  options.max_tokens = 4;
  options.sampling.top_p = 0;
  CHECK_ERROR(llamac_generate(session, prompt->ids, prompt->count, &options,
                              NULL, NULL, &count),
              LLAMAC_ERROR_INVALID_ARGUMENT, "--top-p must be in (0, 1]");
  CHECK(llamac_session_position(session) == 0);
  llamac_session_free(session);
}

static void golden_prefill(llamac_model *model, const id_list *tokens,
                           const char *logits_path, double atol) {
  size_t expected_count = 0;
  float *expected = read_floats(logits_path, &expected_count);
  CHECK(expected != NULL);
  if (!expected)
    return;
  int64_t vocab = llamac_model_vocab_size(model);
  CHECK(expected_count == tokens->count * (size_t)vocab);
  if (expected_count != tokens->count * (size_t)vocab || tokens->count < 2) {
    free(expected);
    return;
  }

  llamac_session *session = NULL;
  CHECK(llamac_session_create(model, 64, &session) == LLAMAC_OK);
  const float *logits = NULL;
  CHECK(llamac_prefill(session, tokens->ids, tokens->count, 1, &logits) ==
        LLAMAC_OK);
  double worst = 0;
  for (size_t i = 0; logits && i < expected_count; ++i)
    worst = fmax(worst, fabs((double)logits[i] - expected[i]));
  if (!logits || worst > atol) {
    fprintf(stderr, "prefill logits: max abs difference %g > %g\n", worst,
            atol);
    ++failures;
  }
  CHECK(llamac_session_position(session) == (int64_t)tokens->count);

  /* The last row alone, and a decode step after the prompt's first token. */
  llamac_session_reset(session);
  CHECK(llamac_prefill(session, tokens->ids, tokens->count, 0, &logits) ==
        LLAMAC_OK);
  const float *last = expected + (tokens->count - 1) * (size_t)vocab;
  for (int64_t i = 0; logits && i < vocab; ++i)
    if (fabs((double)logits[i] - last[i]) > atol) {
      fprintf(stderr, "last row [%lld] differs\n", (long long)i);
      ++failures;
      break;
    }
  llamac_session_reset(session);
  CHECK(llamac_prefill(session, tokens->ids, 1, 0, &logits) == LLAMAC_OK);
  CHECK(llamac_decode(session, tokens->ids[1], &logits) == LLAMAC_OK);
  for (int64_t i = 0; logits && i < vocab; ++i)
    if (fabs((double)logits[i] - expected[vocab + i]) > atol) {
      fprintf(stderr, "decode row [%lld] differs\n", (long long)i);
      ++failures;
      break;
    }
  llamac_session_free(session);
  free(expected);
}

static void runtime_errors(llamac_model *model, const id_list *prompt) {
  CHECK(llamac_model_vocab_size(model) > 0);
  llamac_model *missing = (llamac_model *)1;
  CHECK_ERROR(llamac_model_load("/no/such/artifact", NULL, &missing),
              LLAMAC_ERROR_ARTIFACT, "no such artifact directory");
  CHECK(missing == NULL);
  llamac_load_options bad = llamac_load_options_default();
  bad.threads = -1;
  CHECK_ERROR(llamac_model_load("/no/such/artifact", &bad, &missing),
              LLAMAC_ERROR_INVALID_ARGUMENT, "threads must be 0 (all cores)");
  bad.threads = 1025;
  CHECK_ERROR(llamac_model_load("/no/such/artifact", &bad, &missing),
              LLAMAC_ERROR_INVALID_ARGUMENT, "to 1024");
  bad.threads = 0;
  bad.prefill_chunk = -1;
  CHECK_ERROR(llamac_model_load("/no/such/artifact", &bad, &missing),
              LLAMAC_ERROR_INVALID_ARGUMENT, "prefill_chunk >= 0");

  llamac_session *session = NULL;
  CHECK_ERROR(llamac_session_create(model, 0, &session),
              LLAMAC_ERROR_INVALID_ARGUMENT, "must be positive");
  CHECK_ERROR(llamac_session_create(model, llamac_model_max_context(model) + 1,
                                    &session),
              LLAMAC_ERROR_INVALID_ARGUMENT, "exceeds the model's maximum");
  CHECK(session == NULL);

  /* Out of the vocabulary; then a context too small for the prompt. */
  CHECK(llamac_session_create(model, 4, &session) == LLAMAC_OK);
  const float *logits = NULL;
  int32_t outside[2] = {1, (int32_t)llamac_model_vocab_size(model)};
  CHECK_ERROR(llamac_prefill(session, outside, 2, 0, &logits),
              LLAMAC_ERROR_TOKEN_OUT_OF_RANGE, "outside the vocabulary");
  CHECK_ERROR(llamac_decode(session, -1, &logits),
              LLAMAC_ERROR_TOKEN_OUT_OF_RANGE, "token id -1");
  CHECK_ERROR(llamac_prefill(session, prompt->ids, 0, 0, &logits),
              LLAMAC_ERROR_INVALID_ARGUMENT, "no tokens to run");
  CHECK_ERROR(llamac_prefill(session, prompt->ids, prompt->count, 0, &logits),
              LLAMAC_ERROR_CONTEXT_FULL, "context full");
  CHECK(llamac_session_position(session) == 0);
  CHECK(llamac_prefill(session, prompt->ids, 4, 0, &logits) == LLAMAC_OK);
  CHECK_ERROR(llamac_decode(session, prompt->ids[0], &logits),
              LLAMAC_ERROR_CONTEXT_FULL, "exceed the context of 4");
  CHECK(llamac_session_capacity(session) == 4);

  /* The model stays until its last session goes. */
  llamac_model_free(model);
  llamac_session_reset(session);
  CHECK(llamac_prefill(session, prompt->ids, 2, 0, &logits) == LLAMAC_OK);
  llamac_session_free(session);
}

static void text(const char *golden_dir, const char *tokenizer_dir,
                 const char *sample, const id_list *sample_ids) {
  llamac_model *golden = NULL, *model = NULL;
  int32_t ids[256];
  size_t count = 0;
  char bytes[512];
  CHECK(llamac_model_load(golden_dir, NULL, &golden) == LLAMAC_OK);
  CHECK(!llamac_model_has_tokenizer(golden));
  CHECK_ERROR(llamac_tokenize(golden, "x", 1, ids, 256, &count),
              LLAMAC_ERROR_NO_TOKENIZER, "the artifact has no tokenizer");
  llamac_model_free(golden);

  llamac_load_options options = llamac_load_options_default();
  options.threads = 1;
  CHECK(llamac_model_load(tokenizer_dir, &options, &model) == LLAMAC_OK);
  if (!model)
    return;
  CHECK(llamac_model_has_tokenizer(model));
  CHECK(llamac_model_threads(model) == 1);
  CHECK(llamac_tokenize(model, sample, strlen(sample), ids, 256, &count) ==
        LLAMAC_OK);
  CHECK(count == sample_ids->count &&
        memcmp(ids, sample_ids->ids, count * sizeof(int32_t)) == 0);
  CHECK_ERROR(llamac_tokenize(model, sample, strlen(sample), ids, 1, &count),
              LLAMAC_ERROR_BUFFER_TOO_SMALL, "room for 1");
  CHECK(count == sample_ids->count);

  size_t length = 0;
  CHECK(llamac_detokenize(model, sample_ids->ids, sample_ids->count, bytes,
                          sizeof(bytes), &length) == LLAMAC_OK);
  CHECK(length == strlen(sample) && strcmp(bytes, sample) == 0);
  CHECK_ERROR(llamac_detokenize(model, sample_ids->ids, sample_ids->count,
                                bytes, length, &length),
              LLAMAC_ERROR_BUFFER_TOO_SMALL, "bytes and a NUL");
  int32_t outside = (int32_t)llamac_model_vocab_size(model);
  CHECK_ERROR(
      llamac_detokenize(model, &outside, 1, bytes, sizeof(bytes), &length),
      LLAMAC_ERROR_TOKEN_OUT_OF_RANGE, "out of range");

  /* The model's end ids: Llama 3's <|eot_id|> is among them. */
  int32_t stops[8];
  size_t n_stops = llamac_model_stop_tokens(model, stops, 8);
  int32_t eot = -1;
  CHECK(llamac_tokenize(model, "<|eot_id|>", 10, &eot, 1, &count) == LLAMAC_OK);
  int found = 0;
  for (size_t i = 0; i < n_stops && i < 8; ++i)
    found |= stops[i] == eot;
  CHECK(found);
  CHECK(llamac_model_bos_token(model) >= 0);
  llamac_model_free(model);
}

int main(int argc, char **argv) {
  if (argc != 10) {
    fprintf(stderr,
            "usage: %s GOLDEN_ART TOKENIZER_ART PROMPT GENERATED "
            "PREFILL_TOKENS PREFILL_LOGITS ATOL TEXT TEXT_IDS\n",
            argv[0]);
    return 2;
  }
  id_list prompt = parse_ids(argv[3]), generated = parse_ids(argv[4]),
          prefill_tokens = parse_ids(argv[5]), text_ids = parse_ids(argv[9]);
  double atol = atof(argv[7]);
  CHECK(strcmp(llamac_status_name(LLAMAC_ERROR_CONTEXT_FULL),
               "LLAMAC_ERROR_CONTEXT_FULL") == 0);

  llamac_load_options options = llamac_load_options_default();
  CHECK(options.threads == 0 && options.prefill_chunk == 512);
  options.prefill_chunk = 3; /* prompts in chunks: the same logits */
  llamac_model *model = NULL;
  if (llamac_model_load(argv[1], &options, &model) != LLAMAC_OK) {
    fprintf(stderr, "cannot load %s: %s\n", argv[1], llamac_last_error());
    return 1;
  }
  llamac_session *session = NULL;
  CHECK(llamac_session_create(model, 64, &session) == LLAMAC_OK);
  null_arguments(model, session);
  llamac_session_free(session);
  golden_greedy(model, &prompt, &generated);
  golden_prefill(model, &prefill_tokens, argv[6], atol);
  runtime_errors(model, &prompt); /* frees the model */
  text(argv[1], argv[2], argv[8], &text_ids);

  if (failures) {
    fprintf(stderr, "capi_test: %d checks failed\n", failures);
    return 1;
  }
  printf("capi_test: all checks passed\n");
  return 0;
}
