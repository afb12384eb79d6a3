// Portable GEMM in Kokkos: runs on any backend (Serial, OpenMP, CUDA, SYCL). Each output is one
// sequential FMA chain over k, exactly as in the fixed-order host kernel, so both give the same
// bits. Slow but simple: the reference that every faster backend is tested against.
#include <Kokkos_Core.hpp>
#include <cmath>
#include <cstring>

#include "kernels/linear.hpp"
#include "kernels/panel_tile.hpp"
#include "kernels/q8_activations.hpp"
#include "kernels/weight_decode.hpp"

namespace sci_infer {
namespace {

using Weights = Kokkos::View<float**, Kokkos::LayoutRight>;

class KokkosLinear final : public Linear {
 public:
  KokkosLinear(const WeightView* parts, int n_parts, int k_chunks) {
    std::vector<float> w = decode_weight_parts(parts, n_parts, n_out_, n_in_);
    w_ = Weights(Kokkos::ViewAllocateWithoutInitializing("linear_w"), n_out_, n_in_);
    Kokkos::View<const float**, Kokkos::LayoutRight, Kokkos::HostSpace,
                 Kokkos::MemoryTraits<Kokkos::Unmanaged>> host(w.data(), n_out_, n_in_);
    auto mirror = Kokkos::create_mirror_view(w_);
    Kokkos::deep_copy(mirror, host);
    Kokkos::deep_copy(w_, mirror);
    check_k_chunks(parts[0].name, n_in_, k_chunks);
    k_chunks_ = k_chunks;
  }
  size_t bytes() const override { return w_.span() * sizeof(float); }

  void forward(const float* x, int64_t m, int64_t ldx, float* y, int64_t ldy) const override {
    const Weights w = w_;
    const int chunks = k_chunks_;
    const int64_t len = n_in_ / chunks;
    Kokkos::parallel_for(
        "sci_infer::linear_kokkos",
        Kokkos::MDRangePolicy<Kokkos::Rank<2>>({0, 0}, {m, n_out_}),
        KOKKOS_LAMBDA(const int64_t i, const int64_t n) {
          // One chain per K-chunk, merged into the fixed tree as each chunk ends (panel_tile.hpp).
          float stack[7];
          float acc = 0.0f;
          for (int c = 0; c < chunks; ++c) {
            acc = 0.0f;
            for (int64_t k = c * len; k < (c + 1) * len; ++k) acc = fmaf(x[i * ldx + k], w(n, k), acc);
            chunk_tree_push(stack, c, acc);
          }
          y[i * ldy + n] = acc;
        });
    Kokkos::fence();
  }

 private:
  Weights w_;
};

// Q8_0 weights: the int8 x int8 product of q8_activations.hpp, as the fixed-order backend does.
class KokkosQ8Linear final : public Linear {
 public:
  KokkosQ8Linear(const WeightView* parts, int n_parts, int k_chunks) {
    n_in_ = parts[0].n_in;
    for (int p = 0; p < n_parts; ++p) n_out_ += parts[p].n_out;
    n_blocks_ = n_in_ / kQ8Block;
    check_k_chunks(parts[0].name, n_blocks_, k_chunks);
    k_chunks_ = k_chunks;
    q_ = Kokkos::View<int8_t**, Kokkos::LayoutRight>(Kokkos::ViewAllocateWithoutInitializing("q8_w"), n_out_, n_in_);
    d_ = Kokkos::View<float**, Kokkos::LayoutRight>(Kokkos::ViewAllocateWithoutInitializing("q8_d"), n_out_, n_blocks_);
    auto qh = Kokkos::create_mirror_view(q_);
    auto dh = Kokkos::create_mirror_view(d_);
    int64_t n = 0;
    for (int p = 0; p < n_parts; ++p)
      for (int64_t r = 0; r < parts[p].n_out; ++r, ++n)
        for (int64_t b = 0; b < n_blocks_; ++b) {
          const uint8_t* block = parts[p].row(r) + b * ggml_block_bytes(GgmlType::Q8_0);
          uint16_t d;
          std::memcpy(&d, block, 2);
          dh(n, b) = fp16_to_f32(d);
          for (int k = 0; k < kQ8Block; ++k) qh(n, b * kQ8Block + k) = static_cast<int8_t>(block[2 + k]);
        }
    Kokkos::deep_copy(q_, qh);
    Kokkos::deep_copy(d_, dh);
  }
  size_t bytes() const override { return q_.span() + d_.span() * sizeof(float); }

  void forward(const float* x, int64_t m, int64_t ldx, float* y, int64_t ldy) const override {
    if (int64_t(xq_.extent(0)) < m) {
      xq_ = Kokkos::View<int8_t**, Kokkos::LayoutRight>("q8_x", m, n_in_);
      xd_ = Kokkos::View<float**, Kokkos::LayoutRight>("q8_xd", m, n_blocks_);
    }
    const auto xq = xq_;
    const auto xd = xd_;
    const auto q = q_;
    const auto d = d_;
    Kokkos::parallel_for(
        "sci_infer::linear_kokkos_q8_quantize", Kokkos::MDRangePolicy<Kokkos::Rank<2>>({0, 0}, {m, n_blocks_}),
        KOKKOS_LAMBDA(const int64_t i, const int64_t b) {
          quantize_q8_block(x + i * ldx + b * kQ8Block, &xq(i, b * kQ8Block), &xd(i, b));
        });
    const int chunks = k_chunks_;
    const int64_t per_chunk = n_blocks_ / chunks;
    Kokkos::parallel_for(
        "sci_infer::linear_kokkos_q8", Kokkos::MDRangePolicy<Kokkos::Rank<2>>({0, 0}, {m, n_out_}),
        KOKKOS_LAMBDA(const int64_t i, const int64_t n) {
          float stack[7];
          float acc = 0.0f;
          for (int c = 0; c < chunks; ++c) {
            acc = 0.0f;
            for (int64_t b = c * per_chunk; b < (c + 1) * per_chunk; ++b) {
              int32_t isum = 0;
              for (int k = 0; k < kQ8Block; ++k) isum += int32_t(xq(i, b * kQ8Block + k)) * int32_t(q(n, b * kQ8Block + k));
              acc = fmaf(float(isum), d(n, b) * xd(i, b), acc);
            }
            chunk_tree_push(stack, c, acc);
          }
          y[i * ldy + n] = acc;
        });
    Kokkos::fence();
  }

 private:
  int64_t n_blocks_ = 0;
  Kokkos::View<int8_t**, Kokkos::LayoutRight> q_;
  Kokkos::View<float**, Kokkos::LayoutRight> d_;
  mutable Kokkos::View<int8_t**, Kokkos::LayoutRight> xq_;
  mutable Kokkos::View<float**, Kokkos::LayoutRight> xd_;
};

}  // namespace

std::unique_ptr<Linear> make_linear_kokkos(const WeightView* parts, int n_parts, int k_chunks) {
  if (all_parts_of_type(parts, n_parts, GgmlType::Q8_0)) return std::make_unique<KokkosQ8Linear>(parts, n_parts, k_chunks);
  return std::make_unique<KokkosLinear>(parts, n_parts, k_chunks);
}

}  // namespace sci_infer
