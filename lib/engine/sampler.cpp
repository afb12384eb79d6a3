// Token sampling on the host, deterministic by construction: every draw comes from Philox keyed
// by (seed, record) at counter (position, stream), and every sort breaks ties by token id.
#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "sci_infer/sampling.hpp"

namespace sci_infer {
namespace {

constexpr uint32_t kPhiloxM0 = 0xD2511F53u, kPhiloxM1 = 0xCD9E8D57u;
constexpr uint32_t kPhiloxW0 = 0x9E3779B9u, kPhiloxW1 = 0xBB67AE85u;

inline void mulhilo(uint32_t a, uint32_t b, uint32_t& hi, uint32_t& lo) {
  const uint64_t p = uint64_t(a) * b;
  hi = uint32_t(p >> 32);
  lo = uint32_t(p);
}

}  // namespace

void Philox4x32::generate(const uint32_t key_in[2], const uint32_t counter[4], uint32_t out[4]) {
  uint32_t c[4] = {counter[0], counter[1], counter[2], counter[3]};
  uint32_t k[2] = {key_in[0], key_in[1]};
  for (int round = 0; round < 10; ++round) {
    uint32_t hi0, lo0, hi1, lo1;
    mulhilo(kPhiloxM0, c[0], hi0, lo0);
    mulhilo(kPhiloxM1, c[2], hi1, lo1);
    c[0] = hi1 ^ c[1] ^ k[0];
    c[1] = lo1;
    c[2] = hi0 ^ c[3] ^ k[1];
    c[3] = lo0;
    k[0] += kPhiloxW0;
    k[1] += kPhiloxW1;
  }
  for (int i = 0; i < 4; ++i) out[i] = c[i];
}

double uniform_draw(uint64_t seed, uint64_t record, uint64_t position, uint32_t stream) {
  const uint32_t key[2] = {uint32_t(seed), uint32_t(seed >> 32)};
  // The record id and position are the counter: distinct (record, position) never share a draw.
  const uint32_t ctr[4] = {uint32_t(record), uint32_t(record >> 32), uint32_t(position),
                           uint32_t(position >> 32) ^ (stream << 16)};
  uint32_t r[4];
  Philox4x32::generate(key, ctr, r);
  const uint64_t bits = (uint64_t(r[0]) << 21) ^ uint64_t(r[1] >> 11);  // 53 bits
  return double(bits & ((1ull << 53) - 1)) * 0x1.0p-53;
}

float token_logprob(const float* logits, int32_t n_vocab, int32_t token) {
  float max = logits[0];
  for (int32_t i = 1; i < n_vocab; ++i) max = std::max(max, logits[i]);
  double sum = 0.0;
  for (int32_t i = 0; i < n_vocab; ++i) sum += std::exp(double(logits[i]) - max);
  return static_cast<float>(double(logits[token]) - max - std::log(sum));
}

int32_t sample_token(const float* logits, int32_t n_vocab, const SamplingParams& p, uint64_t record,
                     uint64_t position, float* logprob) {
  int32_t chosen = 0;
  if (p.temperature <= 0.0f) {
    for (int32_t i = 1; i < n_vocab; ++i)
      if (logits[i] > logits[chosen]) chosen = i;  // strict: lowest id wins ties
  } else {
    // Candidates sorted by logit (descending), ties by id: a total order, so deterministic.
    std::vector<int32_t> ids(n_vocab);
    std::iota(ids.begin(), ids.end(), 0);
    auto better = [&](int32_t a, int32_t b) { return logits[a] > logits[b] || (logits[a] == logits[b] && a < b); };
    int32_t keep = n_vocab;
    if (p.top_k > 0 && p.top_k < n_vocab) {
      keep = p.top_k;
      std::partial_sort(ids.begin(), ids.begin() + keep, ids.end(), better);
    } else {
      std::sort(ids.begin(), ids.end(), better);
    }
    const double inv_t = 1.0 / p.temperature;
    const double top = double(logits[ids[0]]) * inv_t;
    std::vector<double> w(keep);
    double total = 0.0;
    for (int32_t i = 0; i < keep; ++i) total += (w[i] = std::exp(double(logits[ids[i]]) * inv_t - top));
    if (p.top_p < 1.0f) {  // smallest prefix whose probability reaches top_p
      double cum = 0.0;
      int32_t n = 0;
      while (n < keep) {
        cum += w[n++] / total;
        if (cum >= p.top_p) break;
      }
      keep = std::max<int32_t>(1, n);
      total = 0.0;
      for (int32_t i = 0; i < keep; ++i) total += w[i];
    }
    const double u = uniform_draw(p.seed, record, position) * total;
    double cum = 0.0;
    chosen = ids[keep - 1];
    for (int32_t i = 0; i < keep; ++i) {
      cum += w[i];
      if (u < cum) {
        chosen = ids[i];
        break;
      }
    }
  }
  if (logprob) *logprob = token_logprob(logits, n_vocab, chosen);
  return chosen;
}

}  // namespace sci_infer
