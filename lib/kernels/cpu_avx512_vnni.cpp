// The AVX-512 VNNI body of the Q8_0 fixed-order GEMM (compiled with -mavx512f -mavx512vnni;
// chosen at run time by cpu_kernel_path.cpp). vpdpbusd multiplies unsigned by signed bytes, so
// the activations are stored as q + 128 and each block's sum is corrected by 128 * sum(q_w)
// (Q8PanelWeights::wsum): exact int32 either way. The contract is cpu_gemm_kernels.hpp's.
// Self-contained on purpose (see cpu_gemm_kernels.hpp): only intrinsics, file-local helpers and
// cpu_avx512_tile.hpp's (file-local in each includer too).
#include <immintrin.h>

#include <cstring>

// GCC 12 flags the deliberately undefined pass-through operand (_mm512_undefined_*) of the
// unmasked intrinsics as "maybe uninitialized": a false positive.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#include "kernels/cpu_avx512_tile.hpp"
#include "kernels/cpu_gemm_kernels.hpp"

namespace sci_infer {
namespace {

constexpr int kQ8Block = 32;

size_t lane(const Q8PanelWeights& w, int64_t panel, int64_t b) { return (size_t(panel) * w.n_blocks + b) * kPanel; }

// R rows x P panels; per K-block: int32 sums by vpdpbusd, then one fma per output.
template <int R, int P>
void run_tile(const Q8PanelWeights& w, const uint8_t* xq_all, const float* xd_all, int64_t r, int64_t panel, float* y,
              int64_t ldy) {
  __m512 acc[R][2 * P] = {};
  __m512 stack[7][R * 2 * P];
  const int64_t per_chunk = w.n_blocks / w.k_chunks;
  const uint8_t* xq = xq_all + r * w.n_in;
  const float* xd = xd_all + r * w.n_blocks;
  for (int c = 0; c < w.k_chunks; ++c) {
    for (int i = 0; i < R; ++i)
      for (int j = 0; j < 2 * P; ++j) acc[i][j] = _mm512_setzero_ps();
    for (int64_t b = c * per_chunk; b < (c + 1) * per_chunk; ++b) {
      __m512i isum[R][2 * P];
      for (int i = 0; i < R; ++i)
        for (int j = 0; j < 2 * P; ++j) isum[i][j] = _mm512_setzero_si512();
      for (int k4 = 0; k4 < kQ8Block / 4; ++k4) {
        __m512i wv[2 * P];
        for (int q = 0; q < P; ++q) {
          const int8_t* wq = w.q + lane(w, panel + q, b) * kQ8Block + k4 * (kPanel * 4);
          wv[2 * q] = _mm512_load_si512(wq);
          wv[2 * q + 1] = _mm512_load_si512(wq + 64);
        }
        for (int i = 0; i < R; ++i) {
          int32_t four;
          std::memcpy(&four, xq + i * w.n_in + b * kQ8Block + k4 * 4, 4);
          const __m512i xb = _mm512_set1_epi32(four);
          for (int j = 0; j < 2 * P; ++j) isum[i][j] = _mm512_dpbusd_epi32(isum[i][j], xb, wv[j]);
        }
      }
      for (int q = 0; q < P; ++q) {
        const size_t l = lane(w, panel + q, b);
        const __m512i corr0 = _mm512_slli_epi32(_mm512_load_si512(w.wsum + l), 7);
        const __m512i corr1 = _mm512_slli_epi32(_mm512_load_si512(w.wsum + l + 16), 7);
        const __m512 dw0 = _mm512_load_ps(w.scale + l), dw1 = _mm512_load_ps(w.scale + l + 16);
        for (int i = 0; i < R; ++i) {
          const __m512 dx = _mm512_set1_ps(xd[i * w.n_blocks + b]);
          const __m512 s0 = _mm512_mul_ps(dw0, dx), s1 = _mm512_mul_ps(dw1, dx);
          acc[i][2 * q] =
              _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(isum[i][2 * q], corr0)), s0, acc[i][2 * q]);
          acc[i][2 * q + 1] =
              _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(isum[i][2 * q + 1], corr1)), s1, acc[i][2 * q + 1]);
        }
      }
    }
    if (w.k_chunks > 1) chunk_tree_push<R * 2 * P>(stack, c, &acc[0][0]);
  }
  store_tile<R, P>(acc, panel, w.n_out, y, ldy);
}

template <int R, int P>
void run_panels(const Q8PanelWeights& w, const uint8_t* xq, const float* xd, int64_t r, int64_t p0, int64_t p1, float* y,
                int64_t ldy) {
  int64_t p = p0;
  for (; p + P <= p1; p += P) run_tile<R, P>(w, xq, xd, r, p, y, ldy);
  for (; p < p1; ++p) run_tile<R, 1>(w, xq, xd, r, p, y, ldy);
}

}  // namespace

void q8_block_avx512_vnni(const Q8PanelWeights& w, const uint8_t* xq, const float* xd, int64_t r, int rows, int64_t p0,
                          int64_t p1, float* y, int64_t ldy) {
  switch (rows) {
    case 1: return run_panels<1, 4>(w, xq, xd, r, p0, p1, y, ldy);
    case 2: return run_panels<2, 2>(w, xq, xd, r, p0, p1, y, ldy);
    case 3: return run_panels<3, 2>(w, xq, xd, r, p0, p1, y, ldy);
    case 4: return run_panels<4, 1>(w, xq, xd, r, p0, p1, y, ldy);
    case 5: return run_panels<5, 1>(w, xq, xd, r, p0, p1, y, ldy);
    default: return run_panels<6, 1>(w, xq, xd, r, p0, p1, y, ldy);
  }
}

}  // namespace sci_infer
