// llama.cpp's logits for a prompt, in the format of `llamac-run
// --dump-logits` (raw float32, one row of vocab_size values per prompt
// token), so that bench/compare_logits.py can set llama.cpp running a GGUF
// file beside llamac's artifact compiled from the same file.
//
// llama.cpp is not part of llamac; build this against your own build of it
// (docs/performance.md says which):
//
//   clang++-19 -O2 -std=c++17 bench/llamacpp_logits.cpp -o llamacpp-logits \
//       -I$LLAMA_CPP/include -I$LLAMA_CPP/ggml/include \
//       -L$LLAMA_CPP/build/bin -lllama -lggml -lggml-base \
//       -Wl,-rpath,$LLAMA_CPP/build/bin
//
// usage: llamacpp-logits MODEL.gguf IDS OUT.bin [THREADS] [KV_TYPE]
//   IDS: comma-separated token ids, all run as one batch from position 0;
//   KV_TYPE: f16 (llama.cpp's default) or f32. Flash attention is off, so
//   the cache type is the only rounding of K and V.

#include "llama.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

bool parseIds(const char *text, std::vector<llama_token> &ids) {
  const char *at = text;
  while (*at) {
    char *end = nullptr;
    long value = std::strtol(at, &end, 10);
    if (end == at || value < 0 || value > 0x7fffffff)
      return false;
    ids.push_back(llama_token(value));
    at = end;
    if (*at == ',')
      ++at;
    else if (*at)
      return false;
  }
  return !ids.empty();
}

void quietLog(ggml_log_level level, const char *text, void *) {
  if (level == GGML_LOG_LEVEL_ERROR)
    std::fputs(text, stderr);
}

} // namespace

int main(int argc, char **argv) {
  if (argc < 4 || argc > 6) {
    std::fprintf(stderr, "usage: %s MODEL.gguf IDS OUT.bin [THREADS] "
                         "[f16|f32]\n", argv[0]);
    return 2;
  }
  std::vector<llama_token> ids;
  if (!parseIds(argv[2], ids)) {
    std::fprintf(stderr, "error: IDS must be comma-separated token ids\n");
    return 2;
  }
  const int threads = argc > 4 ? std::atoi(argv[4]) : 2;
  const std::string kvType = argc > 5 ? argv[5] : "f16";
  if (threads < 1 || (kvType != "f16" && kvType != "f32")) {
    std::fprintf(stderr, "error: THREADS must be positive, KV_TYPE f16 or "
                         "f32\n");
    return 2;
  }

  llama_log_set(quietLog, nullptr);
  llama_backend_init();
  llama_model_params modelParams = llama_model_default_params();
  modelParams.n_gpu_layers = 0;
  llama_model *model = llama_model_load_from_file(argv[1], modelParams);
  if (!model) {
    std::fprintf(stderr, "error: llama.cpp could not load %s\n", argv[1]);
    return 1;
  }
  const llama_vocab *vocab = llama_model_get_vocab(model);
  const int vocabSize = llama_vocab_n_tokens(vocab);
  for (llama_token id : ids)
    if (id >= vocabSize) {
      std::fprintf(stderr, "error: token id %d is outside the vocabulary "
                           "[0, %d)\n", id, vocabSize);
      return 1;
    }

  const uint32_t count = uint32_t(ids.size());
  llama_context_params contextParams = llama_context_default_params();
  contextParams.n_ctx = count;
  contextParams.n_batch = count;
  contextParams.n_ubatch = count;
  contextParams.n_threads = threads;
  contextParams.n_threads_batch = threads;
  contextParams.flash_attn_type = LLAMA_FLASH_ATTN_TYPE_DISABLED;
  contextParams.type_k = kvType == "f32" ? GGML_TYPE_F32 : GGML_TYPE_F16;
  contextParams.type_v = contextParams.type_k;
  llama_context *context = llama_init_from_model(model, contextParams);
  if (!context) {
    std::fprintf(stderr, "error: llama.cpp could not make a context\n");
    return 1;
  }

  llama_batch batch = llama_batch_init(int32_t(count), 0, 1);
  for (uint32_t i = 0; i < count; ++i) {
    batch.token[i] = ids[i];
    batch.pos[i] = llama_pos(i);
    batch.n_seq_id[i] = 1;
    batch.seq_id[i][0] = 0;
    batch.logits[i] = 1; // every row, as --dump-logits writes them
  }
  batch.n_tokens = int32_t(count);
  if (llama_decode(context, batch) != 0) {
    std::fprintf(stderr, "error: llama_decode failed\n");
    return 1;
  }

  FILE *out = std::fopen(argv[3], "wb");
  if (!out) {
    std::fprintf(stderr, "error: cannot write %s\n", argv[3]);
    return 1;
  }
  bool written = true;
  for (uint32_t i = 0; i < count && written; ++i)
    written = std::fwrite(llama_get_logits_ith(context, int32_t(i)),
                          sizeof(float), size_t(vocabSize),
                          out) == size_t(vocabSize);
  written = std::fclose(out) == 0 && written;
  llama_batch_free(batch);
  llama_free(context);
  llama_model_free(model);
  llama_backend_free();
  if (!written) {
    std::fprintf(stderr, "error: writing %s failed\n", argv[3]);
    std::remove(argv[3]);
    return 1;
  }
  return 0;
}
