#pragma once
// Token sampling with draws from a counter-based generator (Philox4x32-10), keyed by
// (seed, record id) and counted by position: a record's tokens never depend on what else ran
// in the batch, on which rank it ran, or on where a job was restarted.
#include <cstdint>
#include <vector>

namespace sci_infer {

struct SamplingParams {
  float temperature = 0.0f;  // 0: greedy (argmax, lowest id on ties)
  int32_t top_k = 0;         // 0: no top-k filter
  float top_p = 1.0f;        // 1: no nucleus filter
  uint64_t seed = 0;
  std::vector<int32_t> stop_tokens;  // in addition to the model's end-of-generation tokens
  bool ignore_eos = false;
};

// Philox4x32-10 (Salmon et al., SC'11): 4 x 32 random bits for (key, counter).
struct Philox4x32 {
  static void generate(const uint32_t key[2], const uint32_t counter[4], uint32_t out[4]);
};

// A uniform double in [0, 1) from (seed, record, position, stream), 53 random bits.
double uniform_draw(uint64_t seed, uint64_t record, uint64_t position, uint32_t stream = 0);

// Chooses the next token from one row of logits. `logprob` receives log softmax(logits)[token]
// of the unmodified distribution (temperature 1, no filters).
int32_t sample_token(const float* logits, int32_t n_vocab, const SamplingParams& p, uint64_t record,
                     uint64_t position, float* logprob);

// log softmax(logits)[token], summing in a fixed order in double precision.
float token_logprob(const float* logits, int32_t n_vocab, int32_t token);

}  // namespace sci_infer
