// Portable GEMM in Kokkos: runs on any backend (Serial, OpenMP, CUDA, SYCL). Each output is one
// sequential FMA chain over k, exactly as in the fixed-order host kernel, so both give the same
// bits. Slow but simple: the reference that every faster backend is tested against.
#include <Kokkos_Core.hpp>
#include <cmath>

#include "kernels/linear.hpp"
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
          // One chain per K-chunk; finished chunks merge pairwise like a binary counter, which
          // builds exactly the balanced tree ((c0+c1)+(c2+c3))+... without storing C partials.
          float stack[7];
          float acc = 0.0f;
          for (int c = 0; c < chunks; ++c) {
            acc = 0.0f;
            for (int64_t k = c * len; k < (c + 1) * len; ++k) acc = fmaf(x[i * ldx + k], w(n, k), acc);
            int level = 0;
            for (; (c >> level) & 1; ++level) acc = stack[level] + acc;
            stack[level] = acc;
          }
          y[i * ldy + n] = acc;
        });
    Kokkos::fence();
  }

 private:
  Weights w_;
};

}  // namespace

std::unique_ptr<Linear> make_linear_kokkos(const WeightView* parts, int n_parts, int k_chunks) {
  return std::make_unique<KokkosLinear>(parts, n_parts, k_chunks);
}

}  // namespace sci_infer
