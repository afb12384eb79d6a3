#pragma once
// Shared by the engine invariance tests: deterministic prompts, all-position logits requests,
// bit-for-bit comparison and small-engine options.
#include <cstdint>
#include <cstring>
#include <vector>

#include "sci_infer/engine.hpp"

namespace sci_infer::test {

inline std::vector<int32_t> prompt(int len, int salt, int n_vocab) {
  std::vector<int32_t> t;
  for (int i = 0; i < len; ++i) t.push_back(int32_t((977u * (i + 1) + 7919u * salt) % n_vocab));
  return t;
}

inline Request logits_request(uint64_t id, std::vector<int32_t> tokens) {
  Request r;
  r.id = id;
  r.task = Task::Logits;
  r.all_positions = true;
  r.tokens = std::move(tokens);
  return r;
}

inline bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

inline EngineOptions options(int threads, int step_tokens = 512) {
  EngineOptions o;
  o.threads = threads;
  o.max_step_tokens = step_tokens;
  o.kv_cache_bytes = 64u << 20;
  return o;
}

}  // namespace sci_infer::test
