//===- Generate.h - The generation loop -------------------------*- C++ -*-===//
//
// Prompt through prefill, then one sampled token at a time through decode,
// with timing. Shared by every way of generating (`--tokens`, `-p`, chat,
// bench) so that they stop, count and time the same way.
//
//===----------------------------------------------------------------------===//
#ifndef LLAMAC_RUNTIME_GENERATE_H
#define LLAMAC_RUNTIME_GENERATE_H

#include "llamac/Runtime/Runtime.h"
#include "llamac/Runtime/Sampler.h"

#include <functional>
#include <optional>
#include <vector>

namespace llamac::runtime {

struct GenerateOptions {
  /// Stop after this many generated tokens.
  int64_t maxNewTokens = 16;
  /// Stop when one of these is generated (it is reported, not fed back).
  std::vector<int64_t> stopIds;
  /// Stop quietly when the context is full instead of failing.
  bool stopAtContextEnd = false;
  /// Prompt tokens that go through prefill (-1: all); the rest are fed one
  /// at a time through decode steps, each reporting its row of logits: the
  /// decode path on a given sequence (teacher forcing).
  int64_t prefillTokens = -1;
};

struct GenerationResult {
  std::vector<int32_t> tokens;
  int64_t promptTokens = 0;
  double prefillSeconds = 0;
  /// Time to first token: prefill plus the first sampling.
  double ttftSeconds = 0;
  double decodeSeconds = 0;
  int64_t decodeSteps = 0;
  bool stoppedAtStopId = false;
  bool stoppedAtContextEnd = false;
  /// The last generated token is not in the KV cache yet (nothing consumed
  /// it); a conversation feeds it with its next turn.
  std::optional<int32_t> pendingToken;
};

/// Runs `prompt` at the session's position and generates. `onToken` sees each
/// token as it is chosen and may return false to stop; `onLogits` (optional)
/// sees every row of logits computed (prompt rows, then one per step).
GenerationResult
generate(Session &session, const std::vector<int32_t> &prompt, Sampler &sampler,
         const GenerateOptions &options,
         const std::function<bool(int32_t)> &onToken = {},
         const std::function<void(const float *, int64_t rows)> &onLogits = {});

} // namespace llamac::runtime

#endif // LLAMAC_RUNTIME_GENERATE_H
