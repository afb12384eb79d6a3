// Kernels that only some architectures' recipes use (biases, QK-norm, GeGLU, soft-capping,
// embedding scale). Same rules as ops.hpp: one row from that row alone, fixed sequential sums.
#include "kernels/ops.hpp"
#include "kernels/ops_loops.hpp"
#include "kernels/ops_math.hpp"

namespace sci_infer {

using namespace kernel_loops;

void geglu(const Matrix& gate_up, int32_t ffn, int32_t n, const Matrix& out) {
  for_each_cell("sci_infer::geglu", n, ffn, KOKKOS_LAMBDA(const int32_t t, const int32_t j) {
    out(t, j) = gelu_tanh_f(gate_up(t, j)) * gate_up(t, ffn + j);
  });
}

void add_bias(const Matrix& y, int32_t col0, const Vector& b, int32_t n) {
  const int32_t cols = static_cast<int32_t>(b.extent(0));
  for_each_cell("sci_infer::add_bias", n, cols,
      KOKKOS_LAMBDA(const int32_t t, const int32_t j) { y(t, col0 + j) += b(j); });
}

void head_rms_norm(const Matrix& x, int32_t col0, int32_t n_heads, int32_t head_dim, const Vector& w, float eps,
                   int32_t n) {
  for_each_cell("sci_infer::head_rms_norm", n, n_heads, KOKKOS_LAMBDA(const int32_t t, const int32_t h) {
    const int32_t c0 = col0 + h * head_dim;
    double ss = 0.0;  // as rms_norm: sequential, in double
    for (int32_t j = 0; j < head_dim; ++j) ss += double(x(t, c0 + j)) * double(x(t, c0 + j));
    const float scale = static_cast<float>(1.0 / sqrt(ss / head_dim + double(eps)));
    for (int32_t j = 0; j < head_dim; ++j) x(t, c0 + j) = (x(t, c0 + j) * scale) * w(j);
  });
}

void scale_columns(const Matrix& x, int32_t col0, int32_t n_cols, float s, int32_t n) {
  for_each_cell("sci_infer::scale_columns", n, n_cols,
      KOKKOS_LAMBDA(const int32_t t, const int32_t j) { x(t, col0 + j) *= s; });
}

void softcap_rows(const Matrix& x, float c, int32_t n) {
  const int32_t cols = static_cast<int32_t>(x.extent(1));
  const float inv = 1.0f / c;
  for_each_cell("sci_infer::softcap_rows", n, cols,
      KOKKOS_LAMBDA(const int32_t t, const int32_t j) { x(t, j) = tanh_f(x(t, j) * inv) * c; });
}

}  // namespace sci_infer
