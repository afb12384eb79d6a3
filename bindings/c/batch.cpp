// The batch calls: embed, score, generate. Each checks its input and output sizes before running
// anything, runs the whole batch through Engine::run (so results are the C++ engine's bits), and
// copies results out; failed sequences get NaN (and a generate count of -1).
#include <algorithm>
#include <cmath>
#include <limits>

#include "batch_input.hpp"

using namespace sci_infer::capi;
using sci_infer::RecordResult;
using sci_infer::Task;

namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

// After the outputs are written: one failed sequence fails the call (the others' results stand).
void fail_if_any_failed(const std::vector<RecordResult>& results, uint64_t first_id) {
  const std::string failed = failed_sequences(results, first_id);
  if (!failed.empty()) fail(SCI_INFER_ERR_REQUEST, failed);
}

void check_generate_params(const sci_infer_generate_params& p) {
  const auto bad = [](const std::string& what) { fail(SCI_INFER_ERR_ARGUMENT, "params->" + what); };
  if (p.max_new_tokens < 0) bad("max_new_tokens is " + std::to_string(p.max_new_tokens) + ", must be >= 0");
  if (!(p.temperature >= 0.0f) || !std::isfinite(p.temperature))
    bad("temperature is " + std::to_string(p.temperature) + ", must be finite and >= 0");
  if (p.top_k < 0) bad("top_k is " + std::to_string(p.top_k) + ", must be >= 0");
  if (!(p.top_p > 0.0f && p.top_p <= 1.0f)) bad("top_p is " + std::to_string(p.top_p) + ", must be in (0, 1]");
}

// Tokens of sequence i that get a log-probability: every token with a predecessor.
int64_t scored_count(const Batch& b, size_t i) {
  const int64_t n = b.n_tokens[i] - (b.n_rows[i] == 0 ? 1 : 0);
  return std::max<int64_t>(n, 0);
}

}  // namespace

extern "C" {

void sci_infer_generate_params_init(sci_infer_generate_params* p) {
  if (p == nullptr) return;
  const sci_infer::SamplingParams s;
  const sci_infer::Request r;
  p->max_new_tokens = r.max_new_tokens;
  p->temperature = s.temperature;
  p->top_k = s.top_k;
  p->top_p = s.top_p;
  p->seed = s.seed;
}

int sci_infer_embed(sci_infer_engine* engine, const sci_infer_input* input, float* vectors, int64_t capacity,
                    int64_t* required) {
  return guarded("sci_infer_embed", engine, Need::Open, [&](sci_infer_engine& h) {
    Batch batch = build_batch(*h.engine, input, Task::Embed, is_size_query(vectors, capacity));
    const int64_t dim = h.engine->model().config().dim;
    const int64_t n = input->n;
    if (size_query("vectors", vectors, capacity, required, n * dim, "floats",
                   std::to_string(n) + " sequences x d_model " + std::to_string(dim)))
      return;
    const auto results = std::move(batch).run(*h.engine);
    for (int64_t i = 0; i < n; ++i) {
      float* row = vectors + i * dim;
      if (results[i].status == 0 && int64_t(results[i].embedding.size()) == dim)
        std::copy(results[i].embedding.begin(), results[i].embedding.end(), row);
      else
        std::fill(row, row + dim, kNaN);
    }
    fail_if_any_failed(results, input->first_id);
  });
}

int sci_infer_score(sci_infer_engine* engine, const sci_infer_input* input, float* logprobs, int64_t capacity,
                    int64_t* required, int32_t* counts) {
  return guarded("sci_infer_score", engine, Need::Open, [&](sci_infer_engine& h) {
    Batch batch = build_batch(*h.engine, input, Task::Score, is_size_query(logprobs, capacity));
    const size_t n = batch.requests.size();
    std::vector<int64_t> slot(n);
    int64_t need = 0;
    for (size_t i = 0; i < n; ++i) need += slot[i] = scored_count(batch, i);
    if (size_query("logprobs", logprobs, capacity, required, need, "floats",
                   "one per token with a predecessor, over " + std::to_string(n) + " sequences"))
      return;
    const auto results = std::move(batch).run(*h.engine);
    float* at = logprobs;
    for (size_t i = 0; i < results.size(); ++i) {
      const auto& lp = results[i].logprobs;
      if (results[i].status == 0 && int64_t(lp.size()) == slot[i])
        std::copy(lp.begin(), lp.end(), at);
      else
        std::fill(at, at + slot[i], kNaN);
      if (counts != nullptr) counts[i] = static_cast<int32_t>(slot[i]);
      at += slot[i];
    }
    fail_if_any_failed(results, input->first_id);
  });
}

int sci_infer_generate(sci_infer_engine* engine, const sci_infer_input* input, const sci_infer_generate_params* params,
                       int32_t* tokens, float* logprobs, int64_t capacity, int64_t* required, int32_t* counts) {
  return guarded("sci_infer_generate", engine, Need::Open, [&](sci_infer_engine& h) {
    sci_infer_generate_params p;
    sci_infer_generate_params_init(&p);
    if (params != nullptr) p = *params;
    check_generate_params(p);
    Batch batch = build_batch(*h.engine, input, Task::Generate, is_size_query(tokens, capacity));
    const int64_t n = input->n, stride = p.max_new_tokens;
    if (size_query("tokens", tokens, capacity, required, n * stride, "ids",
                   std::to_string(n) + " sequences x max_new_tokens " + std::to_string(stride)))
      return;
    if (counts == nullptr) fail(SCI_INFER_ERR_ARGUMENT, "counts is NULL (it receives each sequence's length)");
    for (auto& r : batch.requests) {
      r.max_new_tokens = p.max_new_tokens;
      r.sampling.temperature = p.temperature;
      r.sampling.top_k = p.top_k;
      r.sampling.top_p = p.top_p;
      r.sampling.seed = p.seed;
    }
    const auto results = std::move(batch).run(*h.engine);
    for (int64_t i = 0; i < n; ++i) {
      const RecordResult& r = results[i];
      const bool ok = r.status == 0;
      counts[i] = ok ? static_cast<int32_t>(r.tokens.size()) : -1;
      if (ok) std::copy(r.tokens.begin(), r.tokens.end(), tokens + i * stride);
      if (logprobs == nullptr) continue;
      if (ok)
        std::copy(r.logprobs.begin(), r.logprobs.end(), logprobs + i * stride);
      else
        std::fill(logprobs + i * stride, logprobs + (i + 1) * stride, kNaN);
    }
    fail_if_any_failed(results, input->first_id);
  });
}

}  // extern "C"
