// Attention sinks (gpt-oss): a per-head learned logit that joins the softmax denominator and
// contributes no value, as ggml_soft_max_ext with sinks does. Checked against a float64 model of
// causal GQA over 40 positions (two KV pages), with and without sinks.
#include <catch2/catch.hpp>

#include <cmath>
#include <random>
#include <vector>

#include "kernels/ops.hpp"
#include "sci_infer/engine.hpp"

using namespace sci_infer;

namespace {

struct Case {
  int32_t n_heads = 4, n_kv = 2, hd = 8, n = 40;
  int32_t q_dim() const { return n_heads * hd; }
  int32_t kv_dim() const { return n_kv * hd; }
};

// out[t][h*hd + d] of causal attention, scale 1/sqrt(hd); sinks may be empty.
std::vector<double> reference(const Case& c, const std::vector<float>& qkv, const std::vector<float>& sinks) {
  const int32_t width = c.q_dim() + 2 * c.kv_dim();
  std::vector<double> out(size_t(c.n) * c.q_dim(), 0.0);
  for (int32_t t = 0; t < c.n; ++t)
    for (int32_t h = 0; h < c.n_heads; ++h) {
      const int32_t kvh = h / (c.n_heads / c.n_kv);
      std::vector<double> s(size_t(t) + 1);
      double m = sinks.empty() ? -INFINITY : sinks[size_t(h)];
      for (int32_t j = 0; j <= t; ++j) {
        double d = 0.0;
        for (int32_t i = 0; i < c.hd; ++i)
          d += double(qkv[size_t(t) * width + h * c.hd + i]) * qkv[size_t(j) * width + c.q_dim() + kvh * c.hd + i];
        s[size_t(j)] = d / std::sqrt(double(c.hd));
        m = std::max(m, s[size_t(j)]);
      }
      double z = sinks.empty() ? 0.0 : std::exp(sinks[size_t(h)] - m);
      for (double& v : s) z += (v = std::exp(v - m));
      for (int32_t j = 0; j <= t; ++j)
        for (int32_t i = 0; i < c.hd; ++i)
          out[size_t(t) * c.q_dim() + h * c.hd + i] +=
              s[size_t(j)] / z * qkv[size_t(j) * width + c.q_dim() + c.kv_dim() + kvh * c.hd + i];
    }
  return out;
}

std::vector<float> run(const Case& c, const std::vector<float>& qkv_host, const std::vector<float>& sinks_host) {
  const int32_t width = c.q_dim() + 2 * c.kv_dim(), pages = (c.n + kKvBlock - 1) / kKvBlock;
  Matrix qkv("qkv", c.n, width), out("out", c.n, c.q_dim());
  auto hq = Kokkos::create_mirror_view(qkv);
  for (int32_t t = 0; t < c.n; ++t)
    for (int32_t j = 0; j < width; ++j) hq(t, j) = qkv_host[size_t(t) * width + j];
  Kokkos::deep_copy(qkv, hq);
  StepTokens st;
  st.n = c.n;
  st.token = IntVector("token", c.n);
  st.emb_row = IntVector("emb_row", c.n);
  st.seq_slot = IntVector("slot", c.n);  // all zero: one sequence
  st.position = IntVector("pos", c.n);
  st.max_position = c.n - 1;
  auto hp = Kokkos::create_mirror_view(st.position);
  for (int32_t t = 0; t < c.n; ++t) hp(t) = t;
  Kokkos::deep_copy(st.position, hp);
  KvCacheViews cache;
  cache.k = decltype(cache.k)("k", 1, pages, c.kv_dim(), kKvBlock);
  cache.v = decltype(cache.v)("v", 1, pages, kKvBlock, c.kv_dim());
  cache.page_table = IntMatrix("pages", 1, pages);
  auto ht = Kokkos::create_mirror_view(cache.page_table);
  for (int32_t p = 0; p < pages; ++p) ht(0, p) = pages - 1 - p;  // not the identity
  Kokkos::deep_copy(cache.page_table, ht);
  kv_store(qkv, c.q_dim(), c.q_dim() + c.kv_dim(), c.kv_dim(), 0, st, cache);
  Vector sinks("sinks", sinks_host.size());
  auto hs = Kokkos::create_mirror_view(sinks);
  for (size_t h = 0; h < sinks_host.size(); ++h) hs(h) = sinks_host[h];
  Kokkos::deep_copy(sinks, hs);
  AttentionRecipe recipe;
  recipe.sinks = sinks;
  attention(qkv, c.n_heads, c.n_kv, c.hd, 0, st, cache, out, recipe);
  Kokkos::fence();
  auto ho = Kokkos::create_mirror_view(out);
  Kokkos::deep_copy(ho, out);
  return std::vector<float>(ho.data(), ho.data() + size_t(c.n) * c.q_dim());
}

}  // namespace

TEST_CASE("attention sinks join the softmax denominator only", "[attention][moe]") {
  ensure_kokkos_initialized();
  const Case c;
  std::mt19937 rng(5);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::vector<float> qkv(size_t(c.n) * (c.q_dim() + 2 * c.kv_dim()));
  for (auto& v : qkv) v = 2.0f * nd(rng);
  // Sinks from far below to far above the scores: no effect, some, and dominant.
  const std::vector<float> sinks = {-30.0f, 0.5f, 2.0f, 40.0f};
  for (bool with : {false, true}) {
    const std::vector<float> s = with ? sinks : std::vector<float>{};
    const auto got = run(c, qkv, s);
    const auto want = reference(c, qkv, s);
    double max_diff = 0.0;
    for (size_t i = 0; i < got.size(); ++i) max_diff = std::max(max_diff, std::abs(got[i] - want[i]));
    INFO("sinks " << with << " max|diff| " << max_diff);
    CHECK(max_diff < 1e-5);
  }
  // The dominant sink (head 3) must really shrink the output, or the check above proves little.
  const auto with = run(c, qkv, sinks), without = run(c, qkv, {});
  double r3 = 0.0, r0 = 0.0;
  for (int32_t t = 0; t < c.n; ++t)
    for (int32_t i = 0; i < c.hd; ++i) {
      const size_t h3 = size_t(t) * c.q_dim() + 3 * c.hd + i, h0 = size_t(t) * c.q_dim() + i;
      r3 = std::max(r3, double(std::abs(with[h3])) / (std::abs(without[h3]) + 1e-3));
      r0 = std::max(r0, std::abs(double(with[h0]) - without[h0]));
    }
  CHECK(r3 < 0.05);
  CHECK(r0 == 0.0);  // a sink of -30 underflows: bit-identical to no sink
}
