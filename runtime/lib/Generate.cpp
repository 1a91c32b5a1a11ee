//===- Generate.cpp - The generation loop ---------------------------------===//
#include "llamac/Runtime/Generate.h"

#include <algorithm>
#include <chrono>

namespace llamac::runtime {

namespace {
double secondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() -
                                       start)
      .count();
}
} // namespace

GenerationResult
generate(Session &session, const std::vector<int32_t> &prompt, Sampler &sampler,
         const GenerateOptions &options,
         const std::function<bool(int32_t)> &onToken,
         const std::function<void(const float *, int64_t)> &onLogits) {
  if (options.maxNewTokens < 0)
    throw Error("the number of tokens to generate must be >= 0");
  const int64_t vocab = session.manifest().vocabSize;
  // A requested count that cannot fit is refused before anything is printed
  // (the last generated token is never fed back, so it needs no position).
  // A prompt that alone does not fit is left to prefill's message.
  const int64_t promptEnd = session.position() + int64_t(prompt.size());
  if (!options.stopAtContextEnd && options.maxNewTokens > 0 &&
      promptEnd <= session.capacity() &&
      options.maxNewTokens - 1 > session.capacity() - promptEnd)
    throw Error("context full: " + std::to_string(promptEnd) +
                    " tokens of prompt and history + " +
                    std::to_string(options.maxNewTokens) +
                    " to generate exceed the context of " +
                    std::to_string(session.capacity()) +
                    " (raise --ctx or lower -n)",
                ErrorKind::ContextFull);
  GenerationResult result;
  result.promptTokens = int64_t(prompt.size());

  if (options.prefillTokens == 0 || options.prefillTokens < -1)
    throw Error("the prompt tokens to prefill must be >= 1, got " +
                std::to_string(options.prefillTokens));
  size_t prefilled = prompt.size();
  if (options.prefillTokens > 0)
    prefilled = std::min(prefilled, size_t(options.prefillTokens));
  // Prefill checks a prompt before running any of it; the decode steps
  // after it would fail one by one, half-way.
  if (prefilled < prompt.size() && promptEnd > session.capacity())
    throw Error("context full: " + std::to_string(session.position()) +
                    " tokens in the cache + " + std::to_string(prompt.size()) +
                    " new exceed the context of " +
                    std::to_string(session.capacity()) + " (raise --ctx)",
                ErrorKind::ContextFull);

  auto start = std::chrono::steady_clock::now();
  // Every prompt row only when someone looks at them; generation needs the
  // last one.
  std::vector<float> logits = session.prefill(
      std::vector<int32_t>(prompt.begin(), prompt.begin() + prefilled),
      /*lastOnly=*/!onLogits);
  if (onLogits)
    onLogits(logits.data(), int64_t(prefilled));
  for (size_t i = prefilled; i < prompt.size(); ++i) {
    logits = session.decode(prompt[i]);
    if (onLogits)
      onLogits(logits.data(), 1);
  }
  result.prefillSeconds = secondsSince(start);
  for (int32_t token : prompt)
    sampler.remember(token);
  if (options.maxNewTokens == 0) {
    result.ttftSeconds = result.prefillSeconds;
    return result;
  }

  const float *row = logits.data() + logits.size() - vocab;
  std::vector<float> next;
  while (true) {
    int32_t token = sampler.sample(row, vocab);
    if (result.tokens.empty())
      result.ttftSeconds = secondsSince(start);
    result.tokens.push_back(token);
    result.pendingToken = token;
    bool keepGoing = !onToken || onToken(token);
    if (std::find(options.stopIds.begin(), options.stopIds.end(), token) !=
        options.stopIds.end()) {
      result.stoppedAtStopId = true;
      break;
    }
    if (!keepGoing || int64_t(result.tokens.size()) >= options.maxNewTokens)
      break;
    if (session.position() >= session.capacity()) {
      if (!options.stopAtContextEnd)
        throw Error("context full: generation reached the context of " +
                        std::to_string(session.capacity()) +
                        " tokens (raise --ctx)",
                    ErrorKind::ContextFull);
      result.stoppedAtContextEnd = true;
      break;
    }
    auto stepStart = std::chrono::steady_clock::now();
    next = session.decode(token);
    result.decodeSeconds += secondsSince(stepStart);
    ++result.decodeSteps;
    result.pendingToken.reset();
    if (onLogits)
      onLogits(next.data(), 1);
    row = next.data();
  }
  return result;
}

} // namespace llamac::runtime
