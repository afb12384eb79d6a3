// The K-chunked reduction of the row-parallel layers, against an independent scalar model of
// what it must compute: C sequential fma chains over equal K-chunks of the dequantized weight,
// combined by a balanced pairwise tree. And the property tensor parallelism rests on: cutting
// K into tp column slices, each with C/tp chunks, then summing the slices with the upper tree
// levels gives exactly the unsliced result.
#include <catch2/catch.hpp>
#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "kernels/linear.hpp"
#include "sci_infer/engine.hpp"

using namespace sci_infer;

namespace {

struct Weight {
  GgmlType type;
  int64_t n, k;
  std::vector<uint8_t> bytes;
  std::vector<float> dequant;  // what the kernel must multiply by
  WeightView view() const { return WeightView{"w", type, n, k, bytes.data()}; }
};

Weight make_weight(GgmlType t, int64_t n, int64_t k, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.0f, 0.5f);
  std::vector<float> f(n * k);
  for (auto& v : f) v = nd(rng);
  Weight w{t, n, k, std::vector<uint8_t>(ggml_row_bytes(t, k) * n), std::vector<float>(n * k)};
  for (int64_t r = 0; r < n; ++r) {
    encode_row(t, &f[r * k], &w.bytes[r * ggml_row_bytes(t, k)], k);
    decode_row(t, &w.bytes[r * ggml_row_bytes(t, k)], &w.dequant[r * k], k);
  }
  return w;
}

// The tree level by level: ((p0+p1)+(p2+p3))+...
float pairwise_tree(std::vector<float> part) {
  while (part.size() > 1) {
    std::vector<float> up(part.size() / 2);
    for (size_t i = 0; i < up.size(); ++i) up[i] = part[2 * i] + part[2 * i + 1];
    part.swap(up);
  }
  return part[0];
}

// Independent model: partial chains, then the tree level by level.
float reference(const float* x, const float* w, int64_t k, int chunks) {
  std::vector<float> part(chunks);
  const int64_t len = k / chunks;
  for (int c = 0; c < chunks; ++c) {
    float acc = 0.0f;
    for (int64_t i = c * len; i < (c + 1) * len; ++i) acc = std::fma(x[i], w[i], acc);
    part[c] = acc;
  }
  return pairwise_tree(part);
}

// Independent model of the Q8_0 path: activations quantized per 32-block (d = max|x| / 127,
// q = rint(x / d) through the reciprocal, as specified in q8_activations.hpp), exact int32 block
// sums, acc = fma(isum, d_w * d_x, acc) per block, chunks of whole blocks, pairwise tree.
float reference_q8(const float* x, const uint8_t* wrow, int64_t k, int chunks) {
  const int64_t nb = k / 32;
  std::vector<float> part(chunks);
  for (int c = 0; c < chunks; ++c) {
    float acc = 0.0f;
    for (int64_t b = c * nb / chunks; b < (c + 1) * nb / chunks; ++b) {
      float amax = 0.0f;
      for (int i = 0; i < 32; ++i) amax = std::max(amax, std::fabs(x[b * 32 + i]));
      const float dx = amax / 127.0f, inv = dx != 0.0f ? 1.0f / dx : 0.0f;
      uint16_t h;
      std::memcpy(&h, wrow + b * 34, 2);
      int32_t isum = 0;
      for (int i = 0; i < 32; ++i) {
        const int32_t qx = static_cast<int32_t>(std::max(-127.0f, std::min(127.0f, std::rint(x[b * 32 + i] * inv))));
        isum += qx * static_cast<int8_t>(wrow[b * 34 + 2 + i]);
      }
      acc = std::fma(static_cast<float>(isum), fp16_to_f32(h) * dx, acc);
    }
    part[c] = acc;
  }
  return pairwise_tree(part);
}

bool same_bits(float a, float b) { return std::memcmp(&a, &b, 4) == 0; }

}  // namespace

TEST_CASE("K-chunked linear equals C fma chains combined by a pairwise tree (Q8_0: int8 blocks)", "[gemm][tp]") {
  ensure_kokkos_initialized();
  const int64_t K = 256, N = 70;
  for (GgmlType t : {GgmlType::F32, GgmlType::F16, GgmlType::BF16, GgmlType::Q8_0}) {
    const Weight w = make_weight(t, N, K, 7);
    std::mt19937 rng(3);
    std::normal_distribution<float> nd(0.0f, 1.0f);
    for (int chunks : {1, 2, 4, 8}) {
      const WeightView v = w.view();
      auto fixed = make_linear_fixed_order(&v, 1, 2, chunks);
      auto kokkos = make_linear_kokkos(&v, 1, chunks);
      for (int64_t m : {1, 3, 7, 13}) {
        std::vector<float> x(m * K), y(m * N), yk(m * N);
        for (auto& e : x) e = nd(rng);
        fixed->forward(x.data(), m, K, y.data(), N);
        kokkos->forward(x.data(), m, K, yk.data(), N);
        int bad = 0;
        for (int64_t i = 0; i < m; ++i)
          for (int64_t j = 0; j < N; ++j) {
            const float r = t == GgmlType::Q8_0
                                ? reference_q8(&x[i * K], &w.bytes[j * ggml_row_bytes(t, K)], K, chunks)
                                : reference(&x[i * K], &w.dequant[j * K], K, chunks);
            bad += !same_bits(r, y[i * N + j]) + !same_bits(r, yk[i * N + j]);
          }
        INFO(ggml_type_name(t) << " chunks " << chunks << " m " << m);
        CHECK(bad == 0);
      }
    }
  }
}

TEST_CASE("column slices with C/tp chunks, summed by the upper tree, equal the unsliced layer", "[gemm][tp]") {
  const int64_t K = 512, N = 40, M = 5;
  const int C = 16;
  for (GgmlType t : {GgmlType::F32, GgmlType::Q8_0}) {
    const Weight w = make_weight(t, N, K, 11);
    std::vector<float> x(M * K);
    std::mt19937 rng(5);
    std::normal_distribution<float> nd(0.0f, 1.0f);
    for (auto& e : x) e = nd(rng);
    const WeightView full = w.view();
    std::vector<float> y(M * N);
    make_linear_fixed_order(&full, 1, 1, C)->forward(x.data(), M, K, y.data(), N);
    for (int tp : {2, 4, 8}) {
      const int64_t slice = K / tp;
      std::vector<float> parts(size_t(tp) * M * N);
      for (int r = 0; r < tp; ++r) {
        const WeightView v = full.columns(r * slice, slice);
        make_linear_fixed_order(&v, 1, 1, C / tp)->forward(x.data() + r * slice, M, K, &parts[r * M * N], N);
      }
      int bad = 0;
      for (int64_t e = 0; e < M * N; ++e) bad += !same_bits(tree_sum(&parts[e], tp, M * N), y[e]);
      INFO(ggml_type_name(t) << " tp " << tp);
      CHECK(bad == 0);
    }
    // The plain single chain (C = 1) is a different sum: the chunked order is a real choice.
    std::vector<float> y1(M * N);
    make_linear_fixed_order(&full, 1, 1, 1)->forward(x.data(), M, K, y1.data(), N);
    CHECK(std::memcmp(y1.data(), y.data(), y.size() * 4) != 0);
  }
}
