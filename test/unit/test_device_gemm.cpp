// The Kokkos tiled GEMM (what `--gemm fixed` runs on a device backend) against the host
// fixed-order kernels: bit for bit, for every stored type, several M (one row, a ragged tile, a
// full tile, several tiles with a tail), K-chunk counts 1/2/4, both tile shapes and every team
// size the backend allows. The fixed kernels are themselves checked against an independent
// scalar model in test_linear_chunks.cpp; here any difference in rounding, chain order, tree
// order or the Q8_0 quantization would show as a flipped bit.
#include <catch2/catch.hpp>
#include <Kokkos_Core.hpp>
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "kernels/linear.hpp"
#include "kernels/linear_kokkos.hpp"
#include "sci_infer/engine.hpp"

using namespace sci_infer;

namespace {

struct Weight {
  GgmlType type;
  int64_t n, k;
  std::vector<uint8_t> bytes;
  WeightView view() const { return WeightView{"w", type, n, k, bytes.data()}; }
};

Weight make_weight(GgmlType t, int64_t n, int64_t k, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.0f, 0.5f);
  std::vector<float> f(n * k);
  for (auto& v : f) v = nd(rng);
  Weight w{t, n, k, std::vector<uint8_t>(ggml_row_bytes(t, k) * n)};
  for (int64_t r = 0; r < n; ++r) encode_row(t, &f[r * k], &w.bytes[r * ggml_row_bytes(t, k)], k);
  return w;
}

}  // namespace

TEST_CASE("the Kokkos tiled GEMM gives the fixed-order kernels' bits", "[invariance][gemm][device_gemm]") {
  ensure_kokkos_initialized();
  // Float K = 88: K-chunks of 88, 44 and 22, none a multiple of the 16-wide K-tile (ragged
  // last tiles); Q8_0 K = 256: 8 blocks, chunks of 8, 4 and 2. N = 136: one full 128-column
  // panel plus a ragged one (2.125 small tiles).
  const int64_t N = 136;
  const int team_max = kokkos_gemm_team_size_max();
  std::vector<int> teams{1};
  for (int t : {2, 4, 256})
    if (t <= team_max) teams.push_back(t);
  INFO("team sizes tested up to " << teams.back() << " (backend allows " << team_max << ")");
  std::mt19937 rng(17);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  for (GgmlType t : {GgmlType::F32, GgmlType::F16, GgmlType::BF16, GgmlType::Q8_0}) {
    const int64_t K = t == GgmlType::Q8_0 ? 256 : 88;
    const Weight w = make_weight(t, N, K, 5);
    const WeightView v = w.view();
    for (int chunks : {1, 2, 4}) {
      auto fixed = make_linear_fixed_order(&v, 1, 2, chunks);
      for (int64_t m : {1, 7, 64, 300}) {
        std::vector<float> x(m * K), y(m * N);
        for (auto& e : x) e = nd(rng);
        fixed->forward(x.data(), m, K, y.data(), N);
        for (auto tiles : {KokkosGemmConfig::Tiles::Big, KokkosGemmConfig::Tiles::Small})
          for (int team : teams) {
            KokkosGemmConfig cfg;
            cfg.team_size = team;
            cfg.tiles = tiles;
            auto tiled = make_linear_kokkos(&v, 1, chunks, cfg);
            std::vector<float> yk(m * N, -1.0f);
            tiled->forward(x.data(), m, K, yk.data(), N);
            Kokkos::fence();
            INFO(ggml_type_name(t) << " chunks " << chunks << " m " << m << " team " << team << " tiles "
                                   << (tiles == KokkosGemmConfig::Tiles::Big ? "64x128" : "32x64"));
            CHECK(std::memcmp(y.data(), yk.data(), y.size() * sizeof(float)) == 0);
          }
      }
    }
  }
}

TEST_CASE("the Kokkos tiled GEMM writes only its rows and keeps strided outputs apart", "[invariance][gemm][device_gemm]") {
  ensure_kokkos_initialized();
  // Strided X and Y (as the engine's fused buffers are): the columns beyond N and the rows
  // beyond M must stay untouched, and a NaN in X must show in its row's outputs only.
  const int64_t K = 64, N = 40, M = 5, ldx = 80, ldy = 50;
  const Weight w = make_weight(GgmlType::F32, N, K, 9);
  const WeightView v = w.view();
  std::vector<float> x((M + 1) * ldx, 1.0f), y((M + 1) * ldy, 7.0f), yf((M + 1) * ldy, 7.0f);
  x[2 * ldx + 3] = std::nanf("");
  make_linear_kokkos(&v, 1, 1, KokkosGemmConfig{})->forward(x.data(), M, ldx, y.data(), ldy);
  make_linear_fixed_order(&v, 1, 1, 1)->forward(x.data(), M, ldx, yf.data(), ldy);
  Kokkos::fence();
  CHECK(std::memcmp(y.data(), yf.data(), y.size() * sizeof(float)) == 0);
  for (int64_t i = 0; i < M + 1; ++i)
    for (int64_t j = 0; j < ldy; ++j) {
      const bool written = i < M && j < N;
      if (!written) CHECK(y[i * ldy + j] == 7.0f);
      if (written) CHECK((i == 2) == std::isnan(y[i * ldy + j]));
    }
}
