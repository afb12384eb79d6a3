// The mixture-of-experts FFN (kernels/moe.hpp) against an independent float64 model written from
// llama.cpp's build_moe_ffn (SOFTMAX_WEIGHT gating) and ggml_swiglu_oai, and the invariances the
// product rests on: a token's bits do not depend on the other rows of the batch (their number,
// order or expert grouping), on the thread count, or on the tensor-parallel width.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>
#include <random>
#include <vector>

#include "kernels/linear.hpp"
#include "kernels/moe.hpp"
#include "sci_infer/engine.hpp"

using namespace sci_infer;

namespace {

// A float-like tensor of n_out rows x n_in, stored as `type`, with its exactly decoded values.
struct Tensor {
  std::string name;
  GgmlType type = GgmlType::F32;
  int64_t n_out = 0, n_in = 0;
  std::vector<uint8_t> bytes;
  std::vector<double> value;  // what the file holds, exactly
  WeightView view() const { return WeightView{name, type, n_out, n_in, bytes.data()}; }
};

Tensor make_tensor(const std::string& name, GgmlType t, int64_t n_out, int64_t n_in, float sd, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.0f, sd);
  std::vector<float> f(size_t(n_out * n_in));
  for (auto& v : f) v = nd(rng);
  Tensor w{name, t, n_out, n_in, std::vector<uint8_t>(ggml_row_bytes(t, n_in) * n_out), {}};
  if (t == GgmlType::MXFP4) {
    // Random blocks {e8m0 scale, 16 bytes of e2m1 pairs}: scale 2^(e-128) with e chosen so that
    // the largest value (6 * 2 * scale) is about 2.5 sd.
    const int e0 = 127 + int(std::floor(std::log2(2.5 * sd / 12.0)));
    std::uniform_int_distribution<int> byte(0, 255), ex(e0 - 1, e0 + 1);
    for (size_t i = 0; i < w.bytes.size(); ++i) w.bytes[i] = uint8_t(i % 17 == 0 ? ex(rng) : byte(rng));
  }
  std::vector<float> row(static_cast<size_t>(n_in));
  for (int64_t r = 0; r < n_out; ++r) {
    uint8_t* dst = &w.bytes[size_t(r) * ggml_row_bytes(t, n_in)];
    if (t != GgmlType::MXFP4) encode_row(t, &f[size_t(r * n_in)], dst, n_in);
    decode_row(t, dst, row.data(), n_in);
    for (float v : row) w.value.push_back(v);
  }
  return w;
}

struct MoeModel {
  int32_t n_expert, n_used, dim, ffn;
  Tensor router, router_b, gate, up, down, gate_b, up_b, down_b;
  MoeWeightViews views() const {
    return {router.view(), router_b.view(), gate.view(), up.view(), down.view(),
            gate_b.view(), up_b.view(), down_b.view()};
  }
};

MoeModel make_model(int32_t n_expert, int32_t n_used, int32_t dim, int32_t ffn, GgmlType t, uint32_t seed) {
  // Large gate/up weights so that both SwiGLU clamps are exercised (|g|, |u| > 7 occur).
  return MoeModel{n_expert,
               n_used,
               dim,
               ffn,
               // gpt-oss keeps its router in a float type even when the experts are MXFP4.
               make_tensor("blk.0.ffn_gate_inp.weight", t == GgmlType::MXFP4 ? GgmlType::F32 : t, n_expert, dim,
                           0.5f, seed + 1),
               make_tensor("blk.0.ffn_gate_inp.bias", GgmlType::F32, 1, n_expert, 0.3f, seed + 2),
               make_tensor("blk.0.ffn_gate_exps.weight", t, int64_t(n_expert) * ffn, dim, 1.5f, seed + 3),
               make_tensor("blk.0.ffn_up_exps.weight", t, int64_t(n_expert) * ffn, dim, 1.5f, seed + 4),
               make_tensor("blk.0.ffn_down_exps.weight", t, int64_t(n_expert) * dim, ffn, 0.2f, seed + 5),
               make_tensor("blk.0.ffn_gate_exps.bias", GgmlType::F32, n_expert, ffn, 0.5f, seed + 6),
               make_tensor("blk.0.ffn_up_exps.bias", GgmlType::F32, n_expert, ffn, 0.5f, seed + 7),
               make_tensor("blk.0.ffn_down_exps.bias", GgmlType::F32, n_expert, dim, 0.5f, seed + 8)};
}

std::vector<float> random_rows(int32_t n, int32_t dim, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::vector<float> x(size_t(n) * dim);
  for (auto& v : x) v = nd(rng);
  return x;
}

double dot(const std::vector<double>& w, int64_t row, int64_t k, const double* x) {
  double s = 0.0;
  for (int64_t i = 0; i < k; ++i) s += w[size_t(row * k + i)] * x[i];
  return s;
}

// The float64 model of one token (llama.cpp's build_moe_ffn with SOFTMAX_WEIGHT gating).
std::vector<double> reference_token(const MoeModel& m, const float* xf, int* clamped = nullptr) {
  std::vector<double> x(xf, xf + m.dim), logit(size_t(m.n_expert));
  for (int e = 0; e < m.n_expert; ++e) logit[size_t(e)] = dot(m.router.value, e, m.dim, x.data()) + m.router_b.value[size_t(e)];
  std::vector<int> idx(size_t(m.n_expert));
  std::iota(idx.begin(), idx.end(), 0);
  std::stable_sort(idx.begin(), idx.end(), [&](int a, int b) { return logit[size_t(a)] > logit[size_t(b)]; });
  idx.resize(size_t(m.n_used));
  double z = 0.0;
  for (int e : idx) z += std::exp(logit[size_t(e)] - logit[size_t(idx[0])]);
  std::vector<double> out(size_t(m.dim), 0.0), a(size_t(m.ffn));
  for (int e : idx) {
    const double wt = std::exp(logit[size_t(e)] - logit[size_t(idx[0])]) / z;
    for (int j = 0; j < m.ffn; ++j) {
      const int64_t row = int64_t(e) * m.ffn + j;
      double g = dot(m.gate.value, row, m.dim, x.data()) + m.gate_b.value[size_t(row)];
      double u = dot(m.up.value, row, m.dim, x.data()) + m.up_b.value[size_t(row)];
      if (clamped) *clamped += (g > 7.0) + (std::abs(u) > 7.0);
      g = std::min(g, 7.0);
      u = std::max(-7.0, std::min(u, 7.0));
      a[size_t(j)] = g / (1.0 + std::exp(-1.702 * g)) * (u + 1.0);
    }
    for (int d = 0; d < m.dim; ++d) {
      const int64_t row = int64_t(e) * m.dim + d;
      out[size_t(d)] += wt * (dot(m.down.value, row, m.ffn, a.data()) + m.down_b.value[size_t(row)]);
    }
  }
  return out;
}

Matrix to_device(const std::vector<float>& x, int32_t n, int32_t dim) {
  Matrix m("x", std::max(n, 1), dim);
  auto h = Kokkos::create_mirror_view(m);
  for (int32_t t = 0; t < n; ++t)
    for (int32_t j = 0; j < dim; ++j) h(t, j) = x[size_t(t) * dim + j];
  Kokkos::deep_copy(m, h);
  return m;
}

std::vector<float> to_host(const Matrix& m, int32_t n) {
  Kokkos::fence();
  auto h = Kokkos::create_mirror_view(m);
  Kokkos::deep_copy(h, m);
  std::vector<float> r;
  for (int32_t t = 0; t < n; ++t)
    for (size_t j = 0; j < m.extent(1); ++j) r.push_back(h(t, j));
  return r;
}

// The MoE branch on rows x[0..n) with one layer object; returns out[n][dim].
std::vector<float> run(const MoeLayerWeights& w, const std::vector<float>& x, int32_t n) {
  MoeWorkspace ws(n, w.n_expert, w.n_used, w.dim, w.ffn);
  const Matrix xd = to_device(x, n, w.dim);
  Matrix out("out", std::max(n, 1), w.dim);
  moe_ffn(w, xd, n, ws, out);
  return to_host(out, n);
}

bool same_bits(const float* a, const float* b, size_t n) { return std::memcmp(a, b, n * sizeof(float)) == 0; }

}  // namespace

TEST_CASE("clamped SwiGLU follows ggml_swiglu_oai", "[moe]") {
  ensure_kokkos_initialized();
  // (g, u) pairs around both clamps; columns: gate then up.
  const std::vector<std::pair<float, float>> in = {{0.5f, 0.25f}, {10.0f, 3.0f}, {-3.0f, 9.0f}, {2.0f, -12.0f}, {-20.0f, 0.0f}, {7.0f, 7.0f}};
  const int32_t n = 1, ffn = int32_t(in.size());
  Matrix gu("gu", 1, 2 * ffn), out("out", 1, ffn);
  auto h = Kokkos::create_mirror_view(gu);
  for (int32_t j = 0; j < ffn; ++j) {
    h(0, j) = in[size_t(j)].first;
    h(0, ffn + j) = in[size_t(j)].second;
  }
  Kokkos::deep_copy(gu, h);
  swiglu_oai(gu, ffn, n, SwigluOai{}, out);
  const auto r = to_host(out, 1);
  for (int32_t j = 0; j < ffn; ++j) {
    const double g = std::min<double>(in[size_t(j)].first, 7.0);
    const double u = std::clamp<double>(in[size_t(j)].second, -7.0, 7.0);
    const double want = g / (1.0 + std::exp(-1.702 * g)) * (u + 1.0);
    CHECK(r[size_t(j)] == Approx(want).epsilon(1e-6).margin(1e-7));
  }
}

TEST_CASE("top-k routing: lower expert id wins ties, softmax over the chosen logits only", "[moe]") {
  ensure_kokkos_initialized();
  const int32_t n_expert = 6, n_used = 3;
  //               e0    e1    e2    e3    e4    e5
  const float rows[3][6] = {{0.1f, 2.0f, -1.0f, 2.0f, 0.5f, 2.0f},   // three-way tie: 1, 3, 5
                            {1.0f, NAN, 3.0f, 0.0f, 3.0f, -INFINITY}, // NaN ranks last; tie 2, 4
                            {-5.0f, -5.0f, -5.0f, -5.0f, -5.0f, -5.0f}};
  Matrix logits("l", 3, n_expert), w("w", 3, n_used);
  IntMatrix ids("ids", 3, n_used);
  auto h = Kokkos::create_mirror_view(logits);
  for (int t = 0; t < 3; ++t)
    for (int e = 0; e < n_expert; ++e) h(t, e) = rows[t][e];
  Kokkos::deep_copy(logits, h);
  moe_topk_softmax(logits, 3, n_used, ids, w);
  auto hi = Kokkos::create_mirror_view(ids);
  auto hw = Kokkos::create_mirror_view(w);
  Kokkos::deep_copy(hi, ids);
  Kokkos::deep_copy(hw, w);
  const int want[3][3] = {{1, 3, 5}, {2, 4, 0}, {0, 1, 2}};
  for (int t = 0; t < 3; ++t)
    for (int k = 0; k < n_used; ++k) CHECK(hi(t, k) == want[t][k]);
  for (int k = 0; k < 3; ++k) CHECK(hw(0, k) == Approx(1.0 / 3.0).epsilon(1e-6));
  const double z = 2.0 + std::exp(-2.0);
  CHECK(hw(1, 0) == Approx(1.0 / z).epsilon(1e-6));
  CHECK(hw(1, 1) == Approx(1.0 / z).epsilon(1e-6));
  CHECK(hw(1, 2) == Approx(std::exp(-2.0) / z).epsilon(1e-6));
}

TEST_CASE("MoE FFN matches a float64 model of llama.cpp's build_moe_ffn", "[moe]") {
  ensure_kokkos_initialized();
  // MXFP4 (gpt-oss's expert type) runs on Q8_0-quantized activations, as in llama.cpp, so it
  // is held to a looser bound than the float types.
  for (GgmlType t : {GgmlType::F32, GgmlType::F16, GgmlType::MXFP4}) {
    const MoeModel m = make_model(8, 3, 32, 64, t, 100 + uint32_t(t));
    const MoeLayerWeights w = make_moe_layer(m.views(), m.n_expert, m.n_used, SwigluOai{}, 1, 0, 16,
                                             GemmBackend::FixedOrder, 1);
    const int32_t n = 13;
    const auto x = random_rows(n, m.dim, 7);
    const auto got = run(w, x, n);
    double max_diff = 0.0, max_ref = 0.0;
    int clamped = 0;
    for (int32_t tok = 0; tok < n; ++tok) {
      const auto ref = reference_token(m, &x[size_t(tok) * m.dim], &clamped);
      for (int32_t d = 0; d < m.dim; ++d) {
        max_diff = std::max(max_diff, std::abs(ref[size_t(d)] - got[size_t(tok) * m.dim + d]));
        max_ref = std::max(max_ref, std::abs(ref[size_t(d)]));
      }
    }
    INFO("type " << ggml_type_name(t) << " max|diff| " << max_diff << " of max|ref| " << max_ref);
    CHECK(clamped > 0);  // the chosen experts reach the clamps, so they are checked
    CHECK(max_ref > 0.1);
    CHECK(max_diff <= (t == GgmlType::MXFP4 ? 2e-2 : 2e-5) * std::max(1.0, max_ref));
  }
}

TEST_CASE("MoE rows do not depend on the batch: regrouped, permuted, alone", "[moe][invariance]") {
  ensure_kokkos_initialized();
  const MoeModel m = make_model(8, 2, 16, 32, GgmlType::F32, 200);
  const MoeLayerWeights w1 = make_moe_layer(m.views(), m.n_expert, m.n_used, SwigluOai{}, 1, 0, 16,
                                            GemmBackend::FixedOrder, 1);
  const MoeLayerWeights w3 = make_moe_layer(m.views(), m.n_expert, m.n_used, SwigluOai{}, 1, 0, 16,
                                            GemmBackend::FixedOrder, 3);
  const int32_t n = 17, dim = m.dim;
  const auto x = random_rows(n, dim, 9);
  set_kernel_threads(1);
  const auto base = run(w1, x, n);

  // Every token alone: each expert group then holds one row.
  for (int32_t t = 0; t < n; ++t) {
    const std::vector<float> one(x.begin() + t * dim, x.begin() + (t + 1) * dim);
    CHECK(same_bits(run(w1, one, 1).data(), &base[size_t(t) * dim], size_t(dim)));
  }
  // A permuted batch with every row duplicated: other groups, other group sizes and offsets.
  std::vector<int32_t> perm(size_t(2 * n));
  for (int32_t i = 0; i < 2 * n; ++i) perm[size_t(i)] = (i * 7 + 3) % n;
  std::vector<float> xp;
  for (int32_t p : perm) xp.insert(xp.end(), x.begin() + p * dim, x.begin() + (p + 1) * dim);
  set_kernel_threads(2);
  const auto permuted = run(w3, xp, 2 * n);
  set_kernel_threads(1);
  for (int32_t i = 0; i < 2 * n; ++i)
    CHECK(same_bits(&permuted[size_t(i) * dim], &base[size_t(perm[size_t(i)]) * dim], size_t(dim)));
  // The Kokkos GEMM computes the same chains as the fixed-order one.
  const MoeLayerWeights wk = make_moe_layer(m.views(), m.n_expert, m.n_used, SwigluOai{}, 1, 0, 16,
                                            GemmBackend::Kokkos, 1);
  CHECK(same_bits(run(wk, x, n).data(), base.data(), base.size()));
}

// Runs one MoE layer split over tp simulated ranks and completes the slots as the group would
// (TensorComm: pairwise tree over ranks for layout rows, copy from the owner for layout experts).
// Returns every rank's output.
std::vector<std::vector<float>> run_group(const MoeModel& m, const std::vector<float>& x, int32_t n, int tp,
                                          bool* split_experts) {
  std::vector<MoeLayerWeights> ranks;
  std::vector<MoeWorkspace> ws;
  std::vector<std::vector<float>> partial;
  const Matrix xd = to_device(x, n, m.dim);
  for (int r = 0; r < tp; ++r) {
    ranks.push_back(make_moe_layer(m.views(), m.n_expert, m.n_used, SwigluOai{}, tp, r, 16, GemmBackend::FixedOrder, 1));
    ws.emplace_back(n, m.n_expert, m.n_used, m.dim, ranks.back().ffn);
    moe_route(ranks.back(), xd, n, ws.back());
    moe_experts(ranks.back(), xd, n, ws.back());
    partial.push_back(to_host(ws.back().slot_y, n * m.n_used));
  }
  *split_experts = ranks[0].split_experts;
  auto ids = Kokkos::create_mirror_view(ws[0].ids);
  Kokkos::deep_copy(ids, ws[0].ids);
  std::vector<float> full(partial[0].size()), leaves(static_cast<size_t>(tp));
  for (int32_t s = 0; s < n * m.n_used; ++s)
    for (int32_t j = 0; j < m.dim; ++j) {
      const size_t i = size_t(s) * m.dim + j;
      if (ranks[0].split_experts) {
        full[i] = partial[size_t(ranks[0].owner(ids(s / m.n_used, s % m.n_used)))][i];
      } else {
        for (int r = 0; r < tp; ++r) leaves[size_t(r)] = partial[size_t(r)][i];
        full[i] = tree_sum(leaves.data(), tp, 1);
      }
    }
  std::vector<std::vector<float>> outs;
  for (int r = 0; r < tp; ++r) {
    auto h = Kokkos::create_mirror_view(ws[size_t(r)].slot_y);
    for (int32_t s = 0; s < n * m.n_used; ++s)
      for (int32_t j = 0; j < m.dim; ++j) h(s, j) = full[size_t(s) * m.dim + j];
    Kokkos::deep_copy(ws[size_t(r)].slot_y, h);
    Matrix out("out", n, m.dim);
    moe_combine(ranks[size_t(r)], n, ws[size_t(r)], out);
    outs.push_back(to_host(out, n));
  }
  return outs;
}

TEST_CASE("MoE split over tp = 2 and 4 (expert rows or whole experts) gives the tp = 1 bits", "[moe][tp]") {
  ensure_kokkos_initialized();
  const int32_t n = 9;
  // F16 experts: 16 K-chunks, rows split for tp 2 and 4. MXFP4 experts of width 64: 32-value
  // blocks leave 2 chunks, so tp 2 splits rows and tp 4 shards whole experts.
  for (GgmlType t : {GgmlType::F16, GgmlType::MXFP4}) {
    const MoeModel m = make_model(4, 2, 32, 64, t, 300);
    const auto x = random_rows(n, m.dim, 11);
    const MoeLayerWeights whole = make_moe_layer(m.views(), m.n_expert, m.n_used, SwigluOai{}, 1, 0, 16,
                                                 GemmBackend::FixedOrder, 1);
    CHECK(whole.down_chunks == (t == GgmlType::MXFP4 ? 2 : 16));
    const auto base = run(whole, x, n);
    for (int tp : {2, 4}) {
      bool split_experts = false;
      const auto outs = run_group(m, x, n, tp, &split_experts);
      INFO(ggml_type_name(t) << " tp " << tp);
      CHECK(split_experts == (t == GgmlType::MXFP4 && tp == 4));
      for (const auto& o : outs) CHECK(same_bits(o.data(), base.data(), base.size()));
    }
  }
  // A tp that divides neither the chunks nor the experts is refused, naming the tensor.
  const MoeModel odd = make_model(4, 2, 16, 24, GgmlType::F32, 400);
  CHECK_THROWS_WITH(make_moe_layer(odd.views(), 4, 2, SwigluOai{}, 16, 0, 16, GemmBackend::FixedOrder, 1),
                    Catch::Contains("ffn_down_exps") && Catch::Contains("tp 16") && Catch::Contains("24"));
}
