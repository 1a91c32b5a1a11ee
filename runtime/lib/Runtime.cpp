//===- Runtime.cpp - Load and run a compiled llamac artifact --------------===//
#include "llamac/Runtime/Runtime.h"

#include "llamac/Artifact/CPUFeatures.h"
#include "llamac/Artifact/Fingerprint.h"
#include "llamac/Artifact/KernelABI.h"
#include "llamac/Runtime/Preflight.h"

#include <tbb/info.h>
#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>

#include <dlfcn.h>
#include <malloc.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cerrno>
#include <cstring>

namespace llamac::runtime {

namespace {

[[noreturn]] void fail(const std::string &message) { throw Error(message); }

/// Linux hands out AMX's 8 KiB of tile state only to processes that ask
/// (arch_prctl ARCH_REQ_XCOMP_PERM for XTILEDATA); without it the first
/// tile instruction is a SIGILL.
void requestAMXPermission(const std::string &dir) {
  constexpr long kArchRequestXCompPerm = 0x1023, kXFeatureXTileData = 18;
  if (::syscall(SYS_arch_prctl, kArchRequestXCompPerm, kXFeatureXTileData) != 0)
    fail(dir + ": the model uses AMX tiles but the kernel refused them (" +
         std::strerror(errno) +
         "); recompile with 'llamac compile --prefill-inputs=f32'");
}

} // namespace

/// Runs the generated code inside a task arena of the requested size; its
/// parallel loops come back through `parallelFor`.
struct Model::Executor {
  explicit Executor(int threads) : arena(threads) {
    context.parallel_for = &parallelFor;
    context.runtime = this;
    context.profile = nullptr;
  }

  static void parallelFor(llamac_context_t *, llamac_task_fn fn,
                          void *closure, int64_t numTasks) {
    if (numTasks <= 1) {
      if (numTasks == 1)
        fn(closure, 0);
      return;
    }
    // Called from inside arena.execute: the tasks run on the arena's
    // threads. One task per chunk; the compiler already sized the tasks.
    tbb::parallel_for(
        tbb::blocked_range<int64_t>(0, numTasks, 1),
        [&](const tbb::blocked_range<int64_t> &range) {
          for (int64_t task = range.begin(); task != range.end(); ++task)
            fn(closure, task);
        },
        tbb::simple_partitioner());
  }

  /// The profile hook: entry points call it around each kernel, from the
  /// thread that runs the entry point, never nested.
  static void profile(llamac_context_t *ctx, int64_t kernel, int64_t end) {
    auto *self = static_cast<Executor *>(ctx->runtime);
    auto now = std::chrono::steady_clock::now();
    if (!end) {
      self->kernelStart = now;
      return;
    }
    if (kernel < 0)
      return;
    if (size_t(kernel) >= self->times.size())
      self->times.resize(kernel + 1);
    self->times[kernel].calls += 1;
    self->times[kernel].seconds +=
        std::chrono::duration<double>(now - self->kernelStart).count();
  }

  tbb::task_arena arena;
  llamac_context_t context{};
  std::chrono::steady_clock::time_point kernelStart;
  std::vector<Model::KernelTime> times;
};

void Model::setProfiling(bool enabled) {
  executor->context.profile = enabled ? &Executor::profile : nullptr;
}

std::vector<Model::KernelTime> Model::takeProfile() {
  std::vector<KernelTime> result;
  for (size_t id = 0; id < executor->times.size(); ++id) {
    KernelTime time = executor->times[id];
    if (!time.calls)
      continue;
    if (id < info.kernels.size()) {
      time.kernel = info.kernels[id].name;
      time.microKernel = info.kernels[id].microKernel;
    } else {
      time.kernel = "kernel " + std::to_string(id);
    }
    result.push_back(time);
  }
  executor->times.clear();
  std::sort(result.begin(), result.end(),
            [](const KernelTime &a, const KernelTime &b) {
              return a.seconds > b.seconds;
            });
  return result;
}

std::unique_ptr<Model> Model::load(const std::string &dir,
                                   const LoadOptions &options) {
  std::unique_ptr<Model> model(new Model());
  model->info = Manifest::read(dir);
  const Manifest &info = model->info;

  // The code uses instructions of the CPU it was compiled for.
  std::vector<std::string> missing = artifact::missingCPUFeatures(
      info.targetFeatures, artifact::hostCPUFeatures());
  if (!missing.empty()) {
    std::string names;
    for (const std::string &feature : missing)
      names += (names.empty() ? "" : ", ") + feature;
    fail(dir + ": compiled for CPU '" + info.targetCPU +
         "', but this CPU lacks: " + names +
         " (recompile with 'llamac compile --target-cpu host')");
  }
  if (info.needsTileState())
    requestAMXPermission(dir);

  std::string libraryPath = dir + "/" + info.libraryFile;
  // dlopen of a truncated library dies of SIGBUS; another compile's would
  // run with the wrong shapes.
  if (!info.libraryFingerprint.empty() &&
      artifact::fingerprintOfFile(libraryPath) != info.libraryFingerprint)
    fail(libraryPath + ": does not match manifest.json (truncated, or "
                       "another compile's library?); recompile the artifact");
  model->library = ::dlopen(libraryPath.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!model->library)
    fail(libraryPath + ": cannot load: " + ::dlerror());
  model->prefillFn = ::dlsym(model->library, LLAMAC_PREFILL_SYMBOL);
  model->prefillLastFn = ::dlsym(model->library, LLAMAC_PREFILL_LAST_SYMBOL);
  model->decodeFn = ::dlsym(model->library, LLAMAC_DECODE_SYMBOL);
  if (!model->prefillFn || !model->prefillLastFn || !model->decodeFn)
    fail(libraryPath + ": missing entry points " LLAMAC_PREFILL_SYMBOL
                       " / " LLAMAC_PREFILL_LAST_SYMBOL
                       " / " LLAMAC_DECODE_SYMBOL);

  std::string weightsPath = dir + "/" + info.weightsFile;
  int fd = ::open(weightsPath.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    fail(weightsPath + ": " + std::strerror(errno));
  struct stat status;
  if (::fstat(fd, &status) != 0) {
    ::close(fd);
    fail(weightsPath + ": " + std::strerror(errno));
  }
  if (uint64_t(status.st_size) < info.weightsSize) {
    ::close(fd);
    fail(weightsPath + ": " + std::to_string(status.st_size) +
         " bytes, the manifest needs " + std::to_string(info.weightsSize) +
         " (truncated or from another compile)");
  }
  // The weights are read into anonymous memory backed by transparent huge
  // pages rather than mapped from the file: decode streams every weight
  // once per token, and with the page cache's 4 KiB pages that is a TLB
  // miss every 4 KiB (bf16 decode 9.3 -> 11.4 tok/s on the 1B model, the
  // same artifact one run after the other). Without THP this is a plain
  // copy. When the copy would not fit in the memory the system can give,
  // the file is mapped as before: slower, but pages can be dropped.
  constexpr uint64_t kHugePage = 2u << 20;
  const uint64_t fileSize = uint64_t(status.st_size);
  std::optional<AvailableMemory> room = availableMemory();
  void *memory = MAP_FAILED;
  if (!room || room->bytes >= fileSize) {
    model->mappedSize = std::max<uint64_t>(
        (fileSize + kHugePage - 1) / kHugePage * kHugePage, kHugePage);
    memory = ::mmap(nullptr, model->mappedSize, PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  }
  if (memory != MAP_FAILED) {
    model->weights = memory;
    ::madvise(memory, model->mappedSize, MADV_HUGEPAGE); // a hint: may fail
    for (uint64_t done = 0; done < fileSize;) {
      ssize_t got = ::pread(fd, static_cast<char *>(memory) + done,
                            std::min<uint64_t>(fileSize - done, 1u << 30),
                            off_t(done));
      if (got < 0 && errno == EINTR)
        continue;
      if (got <= 0) {
        int error = errno;
        ::close(fd);
        fail(weightsPath + ": read failed: " +
             (got < 0 ? std::string(std::strerror(error))
                      : std::string("the file shrank while being read")));
      }
      done += uint64_t(got);
    }
    // Read-only from here on, like a mapping of the file.
    ::mprotect(memory, model->mappedSize, PROT_READ);
    model->residentWeights = fileSize;
  } else {
    model->mappedSize = std::max<uint64_t>(fileSize, 1);
    memory = ::mmap(nullptr, model->mappedSize, PROT_READ, MAP_PRIVATE, fd, 0);
    if (memory == MAP_FAILED) {
      int error = errno;
      ::close(fd);
      fail(weightsPath + ": cannot map: " + std::strerror(error));
    }
    model->weights = memory;
  }
  ::close(fd);
  if (!info.weightsFingerprint.empty() &&
      artifact::fileFingerprint(memory, fileSize) != info.weightsFingerprint)
    fail(weightsPath + ": does not match manifest.json (another compile's "
                       "weights?); recompile the artifact");

  // The generated code allocates its intermediate activations with malloc
  // on every call (tens of MB in prefill). glibc would serve those with
  // fresh mmaps and return them on free, so every call would fault in and
  // zero the same pages again; keeping them in the heap avoids that. What
  // the heap keeps is bounded by one call's live activations: each buffer
  // is freed after its last use (llm-free-after-last-use) and prompts run
  // in chunks of LoadOptions::prefillChunk tokens (~55 MB on the 1B model).
  static const bool heapTuned = [] {
    mallopt(M_MMAP_THRESHOLD, 1 << 30);
    mallopt(M_TRIM_THRESHOLD, 1 << 30);
    return true;
  }();
  (void)heapTuned;
  int cores = tbb::info::default_concurrency();
  model->numThreads = options.threads > 0 ? options.threads : cores;
  model->prefillChunk = options.prefillChunk;
  model->executor = std::make_unique<Executor>(model->numThreads);
  return model;
}

Model::~Model() {
  if (weights)
    ::munmap(weights, mappedSize);
  if (library)
    ::dlclose(library);
}

namespace {

/// Bytes of one of the two caches, after the checks that the length is
/// one the model and this machine can hold.
uint64_t checkedCacheBytes(const Model &model, int64_t contextLength,
                           uint64_t residentWeights) {
  const Manifest &info = model.manifest();
  if (contextLength <= 0)
    fail("the context length must be positive, got " +
         std::to_string(contextLength));
  if (contextLength > info.maxPositionEmbeddings)
    fail("a context of " + std::to_string(contextLength) +
         " tokens exceeds the model's maximum of " +
         std::to_string(info.maxPositionEmbeddings));
  checkMemoryFits(info, contextLength, residentWeights);
  return kvCacheBytes(info, contextLength) / 2;
}

} // namespace

Session::Session(Model &model, int64_t contextLength)
    : model(model), contextLength(contextLength),
      keyCache(checkedCacheBytes(model, contextLength, model.residentWeights)),
      valueCache(keyCache.size()) {}

Session::~Session() = default;

void Session::check(const std::vector<int32_t> &tokens) const {
  const Manifest &info = model.info;
  int64_t count = int64_t(tokens.size());
  if (count == 0)
    fail("no tokens to run");
  if (pos + count > contextLength)
    throw Error("context full: " + std::to_string(pos) +
                    " tokens in the cache + " + std::to_string(count) +
                    " new exceed the context of " +
                    std::to_string(contextLength) + " (raise --ctx)",
                ErrorKind::ContextFull);
  for (int32_t token : tokens)
    if (token < 0 || token >= info.vocabSize)
      throw Error("token id " + std::to_string(token) +
                      " is outside the vocabulary [0, " +
                      std::to_string(info.vocabSize) + ")",
                  ErrorKind::TokenOutOfRange);
}

void Session::run(void *entry, const std::vector<int32_t> &tokens,
                  std::vector<float> &logits, int64_t logitRows) {
  const Manifest &info = model.info;
  int64_t count = int64_t(tokens.size());
  check(tokens);
  logits.assign(size_t(logitRows) * info.vocabSize, 0.0f);

  auto *tokenData = const_cast<int32_t *>(tokens.data());
  llamac_tokens_t tokenDesc{tokenData, tokenData, 0, {count}, {1}};
  // A row per (layer, KV head, position), as the manifest's cache element
  // lays it out (head_dim values, or q8_0's blocks as bytes).
  int64_t rowWidth = artifact::cacheRowWidth(info.cacheElement, info.headDim);
  int64_t slot = contextLength * rowWidth;
  auto cache = [&](ZeroPages &memory) {
    void *data = memory.data();
    return llamac_cache_t{data,
                          data,
                          0,
                          {info.numLayers, info.numKVHeads, contextLength,
                           rowWidth},
                          {info.numKVHeads * slot, slot, rowWidth, 1}};
  };
  llamac_cache_t keyDesc = cache(keyCache), valueDesc = cache(valueCache);
  llamac_logits_t logitsDesc{logits.data(), logits.data(), 0,
                             {logitRows, info.vocabSize}, {info.vocabSize, 1}};
  auto *weightBytes = static_cast<int8_t *>(model.weights);
  llamac_weights_t weightsDesc{weightBytes, weightBytes, 0,
                               {int64_t(info.weightsSize)}, {1}};
  auto function = reinterpret_cast<llamac_entry_fn>(entry);
  model.executor->arena.execute([&] {
    function(&tokenDesc, pos, &keyDesc, &valueDesc, &logitsDesc, &weightsDesc,
             &model.executor->context);
  });
  pos += count;
}

std::vector<float> Session::prefill(const std::vector<int32_t> &tokens,
                                    bool lastOnly) {
  // A prompt longer than the chunk runs as consecutive prefills of at most
  // `prefillChunk` tokens, each appending to the cache what the next one
  // attends to: the activations the generated code allocates grow with the
  // rows of one call, so this bounds them whatever the prompt's length.
  // The whole prompt is checked first, so that an error leaves the session
  // as it was.
  check(tokens);
  int64_t count = int64_t(tokens.size());
  int64_t chunk = count;
  if (model.prefillChunk > 0 && count > model.prefillChunk) {
    // Chunks of equal size: 600 tokens run as 300 + 300, not 512 + 88.
    int64_t chunks = (count + model.prefillChunk - 1) / model.prefillChunk;
    chunk = (count + chunks - 1) / chunks;
  }
  std::vector<float> logits, rows;
  if (!lastOnly && chunk < count)
    logits.reserve(size_t(count) * model.info.vocabSize);
  for (int64_t begin = 0; begin < count; begin += chunk) {
    int64_t end = std::min(count, begin + chunk);
    std::vector<int32_t> part(tokens.begin() + begin, tokens.begin() + end);
    if (lastOnly) {
      // Earlier chunks' logits are not wanted: prefill_last computes one row.
      run(model.prefillLastFn, part, logits, 1);
      continue;
    }
    if (begin == 0 && end == count) {
      run(model.prefillFn, part, logits, count);
      break;
    }
    run(model.prefillFn, part, rows, end - begin);
    logits.insert(logits.end(), rows.begin(), rows.end());
  }
  return logits;
}

void Session::truncate(int64_t position) {
  if (position < 0 || position > pos)
    fail("cannot keep " + std::to_string(position) + " tokens of a history of " +
         std::to_string(pos));
  // The cache rows past `position` are overwritten before anything reads
  // them again: attention at position p reads rows [0, p] only.
  pos = position;
}

std::vector<float> Session::decode(int32_t token) {
  std::vector<float> logits;
  run(model.decodeFn, {token}, logits, 1);
  return logits;
}

int64_t argmax(const float *values, int64_t count) {
  int64_t best = 0;
  for (int64_t i = 1; i < count; ++i)
    if (values[i] > values[best])
      best = i;
  return best;
}

} // namespace llamac::runtime
