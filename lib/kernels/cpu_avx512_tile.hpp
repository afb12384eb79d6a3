#pragma once
// The register-tile helpers both AVX-512 bodies use (cpu_avx512.cpp, cpu_avx512_vnni.cpp),
// included only by those files, which are compiled with -mavx512f at least. Everything here is
// in an unnamed namespace, so each of them gets its own copy: nothing AVX-512 can be merged by
// the linker into the baseline build (see cpu_gemm_kernels.hpp).
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "kernels/cpu_gemm_kernels.hpp"

namespace sci_infer {
namespace {

// The K-chunk tree of panel_tile.hpp's chunk_tree_push, per register.
template <int N>
inline void chunk_tree_push(__m512 (*stack)[N], int c, __m512* acc) {
  int level = 0;
  for (; (c >> level) & 1; ++level)
    for (int e = 0; e < N; ++e) acc[e] = _mm512_add_ps(stack[level][e], acc[e]);
  for (int e = 0; e < N; ++e) stack[level][e] = acc[e];
}

// R rows x P panels of accumulators (two registers of 16 floats per panel row) -> y, the last
// panel clipped to n_out.
template <int R, int P>
inline void store_tile(const __m512 (&acc)[R][2 * P], int64_t panel, int64_t n_out, float* y, int64_t ldy) {
  for (int q = 0; q < P; ++q) {
    alignas(64) float out[R * kPanel];
    for (int i = 0; i < R; ++i) {
      _mm512_store_ps(out + i * kPanel, acc[i][2 * q]);
      _mm512_store_ps(out + i * kPanel + 16, acc[i][2 * q + 1]);
    }
    const int64_t c0 = (panel + q) * kPanel;
    const int64_t cols = n_out - c0 < kPanel ? n_out - c0 : kPanel;
    for (int i = 0; i < R; ++i) std::memcpy(y + i * ldy + c0, out + i * kPanel, size_t(cols) * sizeof(float));
  }
}

}  // namespace
}  // namespace sci_infer
