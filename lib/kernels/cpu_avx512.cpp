// The AVX-512F bodies of the fixed-order F32/F16/BF16 GEMM (compiled with -mavx512f; chosen at
// run time by cpu_kernel_path.cpp). The contract is cpu_gemm_kernels.hpp's: one FMA chain per
// output over k, the same as the portable loops of linear_fixed_order.cpp.
// Self-contained on purpose (see cpu_gemm_kernels.hpp): only intrinsics, file-local helpers and
// cpu_avx512_tile.hpp's (file-local in each includer too).
#include <immintrin.h>

#include <cstring>

// GCC 12 flags the deliberately undefined pass-through operand (_mm512_undefined_epi32) of the
// unmasked widening intrinsics as "maybe uninitialized": a false positive.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#include "kernels/cpu_avx512_tile.hpp"
#include "kernels/cpu_gemm_kernels.hpp"

namespace sci_infer {
namespace {

constexpr int kVec = 16;  // floats per register; a panel row is two

const uint8_t* panel_row(const PanelWeights& w, int64_t panel, int64_t k) {
  static const size_t elem[] = {4, 2, 2};
  return w.data + panel * w.panel_bytes + size_t(k) * kPanel * elem[w.type];
}

// The 32 weights of row k of a panel as two vectors of 16 floats (exact widening).
template <PanelWeights::Type T>
inline void widen(const PanelWeights& wt, int64_t panel, int64_t k, __m512& w0, __m512& w1) {
  const uint8_t* p = panel_row(wt, panel, k);
  if constexpr (T == PanelWeights::F32) {
    w0 = _mm512_load_ps(p);
    w1 = _mm512_load_ps(p + 64);
  } else if constexpr (T == PanelWeights::F16) {
    w0 = _mm512_cvtph_ps(_mm256_load_si256(reinterpret_cast<const __m256i*>(p)));
    w1 = _mm512_cvtph_ps(_mm256_load_si256(reinterpret_cast<const __m256i*>(p + 32)));
  } else {  // BF16: the 16 bits are the top half of the float
    w0 = _mm512_castsi512_ps(
        _mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_load_si256(reinterpret_cast<const __m256i*>(p))), 16));
    w1 = _mm512_castsi512_ps(
        _mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_load_si256(reinterpret_cast<const __m256i*>(p + 32))), 16));
  }
}

// R rows x P panels (R x 32P outputs) in registers; one FMA chain per output over k.
template <PanelWeights::Type T, int R, int P>
void run_tile(const PanelWeights& wt, const float* x, int64_t ldx, int64_t panel, float* y, int64_t ldy) {
  __m512 acc[R][2 * P] = {};
  __m512 stack[7][R * 2 * P];
  const int64_t len = wt.n_in / wt.k_chunks;
  for (int c = 0; c < wt.k_chunks; ++c) {
    for (int i = 0; i < R; ++i)
      for (int j = 0; j < 2 * P; ++j) acc[i][j] = _mm512_setzero_ps();
    for (int64_t k = c * len; k < (c + 1) * len; ++k) {
      __m512 w[2 * P];
      for (int q = 0; q < P; ++q) widen<T>(wt, panel + q, k, w[2 * q], w[2 * q + 1]);
      for (int i = 0; i < R; ++i) {
        const __m512 xv = _mm512_set1_ps(x[i * ldx + k]);
        for (int j = 0; j < 2 * P; ++j) acc[i][j] = _mm512_fmadd_ps(xv, w[j], acc[i][j]);
      }
    }
    if (wt.k_chunks > 1) chunk_tree_push<R * 2 * P>(stack, c, &acc[0][0]);
  }
  store_tile<R, P>(acc, panel, wt.n_out, y, ldy);
}

template <PanelWeights::Type T, int R, int P>
void run_panels(const PanelWeights& wt, const float* x, int64_t ldx, int64_t p0, int64_t p1, float* y, int64_t ldy) {
  int64_t p = p0;
  for (; p + P <= p1; p += P) run_tile<T, R, P>(wt, x, ldx, p, y, ldy);
  for (; p < p1; ++p) run_tile<T, R, 1>(wt, x, ldx, p, y, ldy);
}

// Few rows work on several panels per pass, so that enough independent chains are in flight.
template <PanelWeights::Type T>
void run_rows(const PanelWeights& wt, const float* x, int64_t ldx, int rows, int64_t p0, int64_t p1, float* y,
              int64_t ldy) {
  switch (rows) {
    case 1: return run_panels<T, 1, 4>(wt, x, ldx, p0, p1, y, ldy);
    case 2: return run_panels<T, 2, 4>(wt, x, ldx, p0, p1, y, ldy);
    case 3: return run_panels<T, 3, 2>(wt, x, ldx, p0, p1, y, ldy);
    case 4: return run_panels<T, 4, 2>(wt, x, ldx, p0, p1, y, ldy);
    case 5: return run_panels<T, 5, 2>(wt, x, ldx, p0, p1, y, ldy);
    default: return run_panels<T, 6, 1>(wt, x, ldx, p0, p1, y, ldy);
  }
}

}  // namespace

void panel_block_avx512(const PanelWeights& w, const float* x, int64_t ldx, int rows, int64_t p0, int64_t p1,
                        float* y, int64_t ldy) {
  switch (w.type) {
    case PanelWeights::F32: return run_rows<PanelWeights::F32>(w, x, ldx, rows, p0, p1, y, ldy);
    case PanelWeights::F16: return run_rows<PanelWeights::F16>(w, x, ldx, rows, p0, p1, y, ldy);
    case PanelWeights::BF16: return run_rows<PanelWeights::BF16>(w, x, ldx, rows, p0, p1, y, ldy);
  }
}

}  // namespace sci_infer
