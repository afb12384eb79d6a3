#pragma once
// The math functions the architecture kernels call, each in one named place so a portable
// (same bits on host and device) implementation can replace it in one line.
#include <Kokkos_Core.hpp>
#include <cmath>

namespace sci_infer {

KOKKOS_INLINE_FUNCTION float tanh_f(float x) { return tanhf(x); }

// GELU, tanh form (gelu_pytorch_tanh; ggml_gelu without its F16 table):
// 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).
KOKKOS_INLINE_FUNCTION float gelu_tanh_f(float x) {
  const float sqrt_2_over_pi = 0.79788456080286535587989211986876f;
  return 0.5f * x * (1.0f + tanh_f(sqrt_2_over_pi * x * (1.0f + 0.044715f * x * x)));
}

}  // namespace sci_infer
