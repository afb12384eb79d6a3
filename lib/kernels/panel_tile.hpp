#pragma once
// Pieces shared by the panel GEMM kernels (linear_fixed_order.cpp, linear_q8_int8.cpp,
// linear_kokkos.cpp): storing a tile of a 32-output panel, and the K-chunk tree of linear.hpp
// built incrementally. After chunk c (0-based) ends with partial `acc`, chunk_tree_push merges
// equal-sized subtrees like the carries of a binary counter, so after the last chunk `acc` is
// ((c0+c1)+(c2+c3))+... without storing all C partials (stack: 7 levels, C <= 64).
#include <Kokkos_Core.hpp>
#include <algorithm>
#include <cstdint>
#include <cstring>

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

namespace sci_infer {

constexpr int kPanel = 32;  // output columns per packed panel (two AVX-512 registers)

KOKKOS_INLINE_FUNCTION void chunk_tree_push(float* stack, int c, float& acc) {
  int level = 0;
  for (; (c >> level) & 1; ++level) acc = stack[level] + acc;
  stack[level] = acc;
}

// acc[rows][kPanel] -> columns [panel * 32, +32) of y (clipped to n_out).
inline void store_panel_rows(const float* acc, int rows, int64_t panel, int64_t n_out, float* y, int64_t ldy) {
  const int64_t c0 = panel * kPanel;
  const int cols = static_cast<int>(std::min<int64_t>(kPanel, n_out - c0));
  for (int i = 0; i < rows; ++i) std::memcpy(y + i * ldy + c0, acc + i * kPanel, cols * sizeof(float));
}

#if defined(__AVX512F__)
// The register-tile form: N vectors per partial.
template <int N>
inline void chunk_tree_push(__m512 (*stack)[N], int c, __m512* acc) {
  int level = 0;
  for (; (c >> level) & 1; ++level)
    for (int e = 0; e < N; ++e) acc[e] = _mm512_add_ps(stack[level][e], acc[e]);
  for (int e = 0; e < N; ++e) stack[level][e] = acc[e];
}

// An R-row x P-panel register tile (acc[i][2q], acc[i][2q+1] = row i, panel q) -> y.
template <int R, int P>
inline void store_register_tile(const __m512 (&acc)[R][2 * P], int64_t panel, int64_t n_out, float* y, int64_t ldy) {
  for (int q = 0; q < P; ++q) {
    alignas(64) float out[R * kPanel];
    for (int i = 0; i < R; ++i) {
      _mm512_store_ps(out + i * kPanel, acc[i][2 * q]);
      _mm512_store_ps(out + i * kPanel + 16, acc[i][2 * q + 1]);
    }
    store_panel_rows(out, R, panel + q, n_out, y, ldy);
  }
}
#endif

}  // namespace sci_infer
