//===- Sampler.cpp - Choosing the next token from logits ------------------===//
#include "llamac/Runtime/Sampler.h"

#include "llamac/Runtime/Runtime.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <unordered_set>

namespace llamac::runtime {

void SamplerOptions::validate() const {
  auto check = [](bool ok, const std::string &message) {
    if (!ok)
      throw Error(message);
  };
  check(std::isfinite(temperature) && temperature >= 0,
        "--temp must be >= 0, got " + std::to_string(temperature));
  check(topK >= 0, "--top-k must be >= 0, got " + std::to_string(topK));
  check(topP > 0 && topP <= 1,
        "--top-p must be in (0, 1], got " + std::to_string(topP));
  check(minP >= 0 && minP < 1,
        "--min-p must be in [0, 1), got " + std::to_string(minP));
  check(std::isfinite(repeatPenalty) && repeatPenalty > 0,
        "--repeat-penalty must be > 0, got " + std::to_string(repeatPenalty));
  check(repeatLastN >= 0,
        "--repeat-last-n must be >= 0, got " + std::to_string(repeatLastN));
}

Sampler::Sampler(const SamplerOptions &options)
    : options(options), state(options.seed ^ 0x9e3779b97f4a7c15ull) {
  options.validate();
}

/// splitmix64 -> a double in [0, 1) from the top 53 bits: the same on every
/// platform, unlike std::uniform_real_distribution.
double Sampler::nextUniform() {
  uint64_t z = (state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  z ^= z >> 31;
  return double(z >> 11) * 0x1.0p-53;
}

void Sampler::remember(int32_t token) {
  if (options.repeatLastN == 0)
    return;
  recent.push_back(token);
  while (int64_t(recent.size()) > options.repeatLastN)
    recent.pop_front();
}

int32_t Sampler::sample(const float *logits, int64_t vocabSize) {
  struct Candidate {
    int32_t id;
    double logit;
  };
  std::vector<Candidate> candidates(vocabSize);
  for (int64_t i = 0; i < vocabSize; ++i)
    candidates[i] = {int32_t(i), double(logits[i])};

  if (options.repeatPenalty != 1.0) {
    std::unordered_set<int32_t> seen(recent.begin(), recent.end());
    for (int32_t id : seen) {
      if (id < 0 || id >= vocabSize)
        continue;
      double &logit = candidates[id].logit;
      logit = logit > 0 ? logit / options.repeatPenalty
                        : logit * options.repeatPenalty;
    }
  }

  int32_t chosen;
  if (options.temperature == 0) {
    // Greedy: the first of the largest.
    chosen = 0;
    for (int64_t i = 1; i < vocabSize; ++i)
      if (candidates[i].logit > candidates[chosen].logit)
        chosen = int32_t(i);
  } else {
    // Sorted by logit, ties by id, so the order (and the draw) is
    // deterministic.
    auto byLogit = [](const Candidate &a, const Candidate &b) {
      return a.logit > b.logit || (a.logit == b.logit && a.id < b.id);
    };
    int64_t keep = vocabSize;
    if (options.topK > 0 && options.topK < keep) {
      keep = options.topK;
      std::partial_sort(candidates.begin(), candidates.begin() + keep,
                        candidates.end(), byLogit);
      candidates.resize(keep);
    } else {
      std::sort(candidates.begin(), candidates.end(), byLogit);
    }
    // Probabilities at temperature 1 for the top-p and min-p cuts (as
    // llama.cpp), then the temperature for the draw.
    auto probabilities = [&](double temperature) {
      std::vector<double> p(candidates.size());
      double max = candidates.front().logit, sum = 0;
      for (size_t i = 0; i < p.size(); ++i)
        sum += p[i] = std::exp((candidates[i].logit - max) / temperature);
      for (double &value : p)
        value /= sum;
      return p;
    };
    std::vector<double> p = probabilities(1.0);
    if (options.topP < 1.0) {
      double cumulative = 0;
      size_t cut = p.size();
      for (size_t i = 0; i < p.size(); ++i) {
        cumulative += p[i];
        if (cumulative >= options.topP) {
          cut = i + 1;
          break;
        }
      }
      candidates.resize(cut);
      p.resize(cut);
    }
    if (options.minP > 0) {
      double threshold = options.minP * p.front();
      size_t cut = 1;
      while (cut < p.size() && p[cut] >= threshold)
        ++cut;
      candidates.resize(cut);
    }
    std::vector<double> weights = probabilities(options.temperature);
    double draw = nextUniform(), cumulative = 0;
    chosen = candidates.back().id;
    for (size_t i = 0; i < weights.size(); ++i) {
      cumulative += weights[i];
      if (draw < cumulative) {
        chosen = candidates[i].id;
        break;
      }
    }
  }
  remember(chosen);
  return chosen;
}

} // namespace llamac::runtime
