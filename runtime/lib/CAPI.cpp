//===- CAPI.cpp - The C API of the llamac runtime -------------------------===//
//
// Each function checks its pointers, then runs its body inside guarded(),
// which turns every exception into a status and the thread's message: no
// exception crosses into C. Errors the runtime reports carry a kind
// (artifact::ErrorKind) that picks the status.
//
//===----------------------------------------------------------------------===//
#include "llamac/llamac.h"

#include "llamac/Runtime/Generate.h"
#include "llamac/Runtime/Runtime.h"
#include "llamac/Runtime/Sampler.h"
#include "llamac/Tokenizer/Tokenizer.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <vector>

namespace rt = llamac::runtime;
namespace tok = llamac::tokenizer;
using llamac::artifact::ErrorKind;

struct llamac_model {
  std::unique_ptr<rt::Model> model;
  std::string dir;
  /// The caller's reference and one per session: sessions use the model,
  /// so it goes only when the last of them does.
  std::atomic<int> references{1};
  /// tokenizer.bin, read at the first call that needs text.
  std::once_flag tokenizerLoaded;
  std::unique_ptr<tok::Tokenizer> tokenizer;
  llamac_status tokenizerStatus = LLAMAC_OK;
  std::string tokenizerError;
};

struct llamac_session {
  llamac_session(llamac_model *owner, int64_t contextLength)
      : owner(owner), session(*owner->model, contextLength) {}
  llamac_model *owner;
  rt::Session session;
  /// What the last prefill or decode returned.
  std::vector<float> logits;
};

namespace {

thread_local std::string lastError;

/// An error of the API itself (a null pointer, a missing tokenizer), with
/// its status.
struct APIError {
  llamac_status status;
  std::string message;
};

void setLastError(const char *message) {
  try {
    lastError = message;
  } catch (...) {
    lastError.clear(); // out of memory for the message itself
  }
}

/// The status of a runtime error of `kind`; plain invalid input gets the
/// call's own `invalid` status.
llamac_status statusOf(ErrorKind kind, llamac_status invalid) {
  switch (kind) {
  case ErrorKind::ContextFull:
    return LLAMAC_ERROR_CONTEXT_FULL;
  case ErrorKind::TokenOutOfRange:
    return LLAMAC_ERROR_TOKEN_OUT_OF_RANGE;
  case ErrorKind::OutOfMemory:
    return LLAMAC_ERROR_OUT_OF_MEMORY;
  case ErrorKind::Invalid:
    return invalid;
  }
  return invalid;
}

/// Runs `body` (which returns nothing or throws) and reports how it went.
template <typename Body>
llamac_status guarded(llamac_status invalid, Body &&body) {
  try {
    body();
    lastError.clear();
    return LLAMAC_OK;
  } catch (const APIError &error) {
    setLastError(error.message.c_str());
    return error.status;
  } catch (const rt::Error &error) {
    setLastError(error.what());
    return statusOf(error.kind(), invalid);
  } catch (const std::bad_alloc &) {
    setLastError("out of memory");
    return LLAMAC_ERROR_OUT_OF_MEMORY;
  } catch (const std::exception &error) {
    setLastError(error.what());
    return LLAMAC_ERROR_FAILED;
  } catch (...) {
    setLastError("unknown error");
    return LLAMAC_ERROR_FAILED;
  }
}

/// Throws an APIError naming `function` and `argument` when `pointer` is
/// null.
void require(const void *pointer, const char *function, const char *argument) {
  if (!pointer)
    throw APIError{LLAMAC_ERROR_INVALID_ARGUMENT,
                   std::string(function) + ": " + argument + " is NULL"};
}

void release(llamac_model *model) {
  if (model && model->references.fetch_sub(1) == 1)
    delete model;
}

/// The artifact's tokenizer, read once.
const tok::Tokenizer &tokenizerOf(const llamac_model *constModel) {
  auto *model = const_cast<llamac_model *>(constModel);
  std::call_once(model->tokenizerLoaded, [model] {
    std::string path = model->dir + "/tokenizer.bin";
    if (::access(path.c_str(), F_OK) != 0) {
      model->tokenizerStatus = LLAMAC_ERROR_NO_TOKENIZER;
      model->tokenizerError = model->dir +
                              ": the artifact has no tokenizer (compile a "
                              "checkpoint that has tokenizer.json)";
      return;
    }
    try {
      model->tokenizer = tok::Tokenizer::load(path);
    } catch (const rt::Error &error) {
      model->tokenizerStatus = LLAMAC_ERROR_ARTIFACT;
      model->tokenizerError = error.what();
    }
  });
  if (!model->tokenizer)
    throw APIError{model->tokenizerStatus, model->tokenizerError};
  return *model->tokenizer;
}

/// Keeps `logits` in the session and points the caller to them.
void exposeLogits(llamac_session *session, std::vector<float> logits,
                  const float **out) {
  session->logits = std::move(logits);
  *out = session->logits.data();
}

} // namespace

extern "C" {

const char *llamac_status_name(llamac_status status) {
  switch (status) {
  case LLAMAC_OK:
    return "LLAMAC_OK";
  case LLAMAC_ERROR_INVALID_ARGUMENT:
    return "LLAMAC_ERROR_INVALID_ARGUMENT";
  case LLAMAC_ERROR_ARTIFACT:
    return "LLAMAC_ERROR_ARTIFACT";
  case LLAMAC_ERROR_TOKEN_OUT_OF_RANGE:
    return "LLAMAC_ERROR_TOKEN_OUT_OF_RANGE";
  case LLAMAC_ERROR_CONTEXT_FULL:
    return "LLAMAC_ERROR_CONTEXT_FULL";
  case LLAMAC_ERROR_NO_TOKENIZER:
    return "LLAMAC_ERROR_NO_TOKENIZER";
  case LLAMAC_ERROR_BUFFER_TOO_SMALL:
    return "LLAMAC_ERROR_BUFFER_TOO_SMALL";
  case LLAMAC_ERROR_OUT_OF_MEMORY:
    return "LLAMAC_ERROR_OUT_OF_MEMORY";
  case LLAMAC_ERROR_FAILED:
    return "LLAMAC_ERROR_FAILED";
  }
  return "LLAMAC_ERROR_UNKNOWN_STATUS";
}

const char *llamac_last_error(void) { return lastError.c_str(); }

llamac_load_options llamac_load_options_default(void) {
  rt::LoadOptions defaults;
  return {int32_t(defaults.threads), defaults.prefillChunk};
}

llamac_status llamac_model_load(const char *artifact_dir,
                                const llamac_load_options *options,
                                llamac_model **model) {
  if (model)
    *model = nullptr;
  return guarded(LLAMAC_ERROR_ARTIFACT, [&] {
    require(artifact_dir, "llamac_model_load", "artifact_dir");
    require(model, "llamac_model_load", "model");
    llamac_load_options chosen =
        options ? *options : llamac_load_options_default();
    if (chosen.threads < 0 || chosen.threads > rt::LoadOptions::kMaxThreads ||
        chosen.prefill_chunk < 0)
      throw APIError{LLAMAC_ERROR_INVALID_ARGUMENT,
                     "llamac_model_load: threads must be 0 (all cores) to " +
                         std::to_string(rt::LoadOptions::kMaxThreads) +
                         " and prefill_chunk >= 0, got " +
                         std::to_string(chosen.threads) + " and " +
                         std::to_string(chosen.prefill_chunk)};
    rt::LoadOptions loadOptions;
    loadOptions.threads = chosen.threads;
    loadOptions.prefillChunk = chosen.prefill_chunk;
    auto loaded = std::make_unique<llamac_model>();
    loaded->dir = artifact_dir;
    loaded->model = rt::Model::load(artifact_dir, loadOptions);
    *model = loaded.release();
  });
}

void llamac_model_free(llamac_model *model) { release(model); }

int64_t llamac_model_vocab_size(const llamac_model *model) {
  return model ? model->model->manifest().vocabSize : 0;
}

int64_t llamac_model_max_context(const llamac_model *model) {
  return model ? model->model->manifest().maxPositionEmbeddings : 0;
}

int32_t llamac_model_threads(const llamac_model *model) {
  return model ? int32_t(model->model->threads()) : 0;
}

int32_t llamac_model_bos_token(const llamac_model *model) {
  if (!model || !model->model->manifest().bosTokenId)
    return -1;
  return int32_t(*model->model->manifest().bosTokenId);
}

size_t llamac_model_stop_tokens(const llamac_model *model, int32_t *ids,
                                size_t capacity) {
  if (!model)
    return 0;
  std::vector<int64_t> stops = model->model->manifest().stopTokenIds();
  for (size_t i = 0; ids && i < stops.size() && i < capacity; ++i)
    ids[i] = int32_t(stops[i]);
  return stops.size();
}

int llamac_model_has_tokenizer(const llamac_model *model) {
  return model && ::access((model->dir + "/tokenizer.bin").c_str(), F_OK) == 0;
}

llamac_status llamac_session_create(llamac_model *model, int64_t context_length,
                                    llamac_session **session) {
  if (session)
    *session = nullptr;
  return guarded(LLAMAC_ERROR_INVALID_ARGUMENT, [&] {
    require(model, "llamac_session_create", "model");
    require(session, "llamac_session_create", "session");
    *session = new llamac_session(model, context_length);
    model->references.fetch_add(1);
  });
}

void llamac_session_free(llamac_session *session) {
  if (!session)
    return;
  llamac_model *owner = session->owner;
  delete session;
  release(owner);
}

int64_t llamac_session_position(const llamac_session *session) {
  return session ? session->session.position() : 0;
}

int64_t llamac_session_capacity(const llamac_session *session) {
  return session ? session->session.capacity() : 0;
}

void llamac_session_reset(llamac_session *session) {
  if (session)
    session->session.reset();
}

llamac_status llamac_prefill(llamac_session *session, const int32_t *tokens,
                             size_t n_tokens, int all_rows,
                             const float **logits) {
  return guarded(LLAMAC_ERROR_INVALID_ARGUMENT, [&] {
    require(session, "llamac_prefill", "session");
    require(tokens, "llamac_prefill", "tokens");
    require(logits, "llamac_prefill", "logits");
    exposeLogits(session,
                 session->session.prefill(
                     std::vector<int32_t>(tokens, tokens + n_tokens),
                     /*lastOnly=*/!all_rows),
                 logits);
  });
}

llamac_status llamac_decode(llamac_session *session, int32_t token,
                            const float **logits) {
  return guarded(LLAMAC_ERROR_INVALID_ARGUMENT, [&] {
    require(session, "llamac_decode", "session");
    require(logits, "llamac_decode", "logits");
    exposeLogits(session, session->session.decode(token), logits);
  });
}

llamac_sampling llamac_sampling_default(void) {
  rt::SamplerOptions defaults;
  return {defaults.temperature, defaults.topK,          defaults.topP,
          defaults.minP,        defaults.repeatPenalty, defaults.repeatLastN,
          defaults.seed};
}

llamac_generate_options llamac_generate_options_default(void) {
  return {llamac_sampling_default(), /*max_tokens=*/-1, /*ignore_eos=*/0};
}

llamac_status llamac_generate(llamac_session *session, const int32_t *prompt,
                              size_t n_prompt,
                              const llamac_generate_options *options,
                              llamac_token_callback callback, void *user_data,
                              size_t *n_generated) {
  if (n_generated)
    *n_generated = 0;
  return guarded(LLAMAC_ERROR_INVALID_ARGUMENT, [&] {
    require(session, "llamac_generate", "session");
    require(prompt, "llamac_generate", "prompt");
    llamac_generate_options chosen =
        options ? *options : llamac_generate_options_default();
    if (chosen.max_tokens < -1)
      throw APIError{LLAMAC_ERROR_INVALID_ARGUMENT,
                     "llamac_generate: max_tokens must be >= -1 (-1: until "
                     "a stop id or the context is full), got " +
                         std::to_string(chosen.max_tokens)};
    const llamac_sampling &s = chosen.sampling;
    rt::SamplerOptions samplerOptions;
    samplerOptions.temperature = s.temperature;
    samplerOptions.topK = s.top_k;
    samplerOptions.topP = s.top_p;
    samplerOptions.minP = s.min_p;
    samplerOptions.repeatPenalty = s.repeat_penalty;
    samplerOptions.repeatLastN = s.repeat_last_n;
    samplerOptions.seed = s.seed;
    rt::Sampler sampler(samplerOptions);

    rt::Session &running = session->session;
    rt::GenerateOptions generation;
    generation.stopAtContextEnd = chosen.max_tokens == -1;
    generation.maxNewTokens =
        chosen.max_tokens == -1 ? running.capacity() : chosen.max_tokens;
    if (!chosen.ignore_eos)
      generation.stopIds = session->owner->model->manifest().stopTokenIds();
    rt::GenerationResult result =
        rt::generate(running, std::vector<int32_t>(prompt, prompt + n_prompt),
                     sampler, generation, [&](int32_t token) {
                       return !callback || callback(token, user_data) != 0;
                     });
    if (n_generated)
      *n_generated = result.tokens.size();
  });
}

llamac_status llamac_tokenize(const llamac_model *model, const char *text,
                              size_t text_length, int32_t *tokens,
                              size_t capacity, size_t *n_tokens) {
  if (n_tokens)
    *n_tokens = 0;
  return guarded(LLAMAC_ERROR_INVALID_ARGUMENT, [&] {
    require(model, "llamac_tokenize", "model");
    require(text, "llamac_tokenize", "text");
    require(n_tokens, "llamac_tokenize", "n_tokens");
    if (capacity)
      require(tokens, "llamac_tokenize", "tokens");
    std::vector<int32_t> ids =
        tokenizerOf(model).encode(std::string_view(text, text_length));
    *n_tokens = ids.size();
    if (ids.size() > capacity)
      throw APIError{LLAMAC_ERROR_BUFFER_TOO_SMALL,
                     "llamac_tokenize: the text has " +
                         std::to_string(ids.size()) + " tokens, room for " +
                         std::to_string(capacity)};
    std::copy(ids.begin(), ids.end(), tokens);
  });
}

llamac_status llamac_detokenize(const llamac_model *model,
                                const int32_t *tokens, size_t n_tokens,
                                char *text, size_t capacity, size_t *length) {
  if (length)
    *length = 0;
  return guarded(LLAMAC_ERROR_INVALID_ARGUMENT, [&] {
    require(model, "llamac_detokenize", "model");
    require(tokens, "llamac_detokenize", "tokens");
    require(length, "llamac_detokenize", "length");
    if (capacity)
      require(text, "llamac_detokenize", "text");
    std::string bytes = tokenizerOf(model).decode(
        std::vector<int32_t>(tokens, tokens + n_tokens));
    *length = bytes.size();
    if (bytes.size() >= capacity)
      throw APIError{
          LLAMAC_ERROR_BUFFER_TOO_SMALL,
          "llamac_detokenize: the text has " + std::to_string(bytes.size()) +
              " bytes and a NUL, room for " + std::to_string(capacity)};
    std::memcpy(text, bytes.data(), bytes.size());
    text[bytes.size()] = '\0';
  });
}

} // extern "C"
