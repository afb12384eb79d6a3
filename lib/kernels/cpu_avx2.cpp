// The AVX2 + FMA + F16C bodies of the fixed-order GEMMs (compiled with -mavx2 -mfma -mf16c;
// chosen at run time by cpu_kernel_path.cpp): F32/F16/BF16 panels, and Q8_0 with exact int32
// block sums. The contract is cpu_gemm_kernels.hpp's, the same as the portable loops'.
// Self-contained on purpose (see cpu_gemm_kernels.hpp): only intrinsics and file-local helpers.
#include <immintrin.h>

#include <cstring>

#include "kernels/cpu_gemm_kernels.hpp"

namespace sci_infer {
namespace {

constexpr int kVec = 8;  // floats per register; a panel row is four

template <int N>
inline void chunk_tree_push(__m256 (*stack)[N], int c, __m256* acc) {  // panel_tile.hpp's tree
  int level = 0;
  for (; (c >> level) & 1; ++level)
    for (int e = 0; e < N; ++e) acc[e] = _mm256_add_ps(stack[level][e], acc[e]);
  for (int e = 0; e < N; ++e) stack[level][e] = acc[e];
}

// rows x (8 * vecs) accumulators -> columns [c0, c0 + 8 * vecs) of y, clipped to n_out.
template <int R, int V>
inline void store_tile(const __m256 (&acc)[R][V], int64_t c0, int64_t n_out, float* y, int64_t ldy) {
  if (c0 >= n_out) return;
  const int64_t cols = n_out - c0 < V * kVec ? n_out - c0 : V * kVec;
  for (int i = 0; i < R; ++i) {
    alignas(32) float out[V * kVec];
    for (int v = 0; v < V; ++v) _mm256_store_ps(out + v * kVec, acc[i][v]);
    std::memcpy(y + i * ldy + c0, out, size_t(cols) * sizeof(float));
  }
}

// ---- F32 / F16 / BF16 panels ----

// Eight weights (columns 8v..8v+7) of row k of a panel, exactly widened to float.
template <PanelWeights::Type T>
inline __m256 widen(const uint8_t* row, int v) {
  if constexpr (T == PanelWeights::F32) {
    return _mm256_load_ps(reinterpret_cast<const float*>(row) + v * kVec);
  } else if constexpr (T == PanelWeights::F16) {
    return _mm256_cvtph_ps(_mm_load_si128(reinterpret_cast<const __m128i*>(row + v * 16)));
  } else {  // BF16: the 16 bits are the top half of the float
    return _mm256_castsi256_ps(
        _mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_load_si128(reinterpret_cast<const __m128i*>(row + v * 16))), 16));
  }
}

constexpr size_t elem_bytes(PanelWeights::Type t) { return t == PanelWeights::F32 ? 4 : 2; }

// R rows x P panels x V vectors of each panel's 4 (those from v0) in registers; one FMA chain per
// output over k. 16 ymm registers: R * P * V accumulators plus a few weights and one broadcast.
template <PanelWeights::Type T, int R, int P, int V>
void run_tile(const PanelWeights& wt, const float* x, int64_t ldx, int64_t panel, int v0, float* y, int64_t ldy) {
  constexpr int N = P * V;
  __m256 acc[R][N] = {};  // (zeroed per chunk below; this only tells the compiler)
  __m256 stack[7][R * N];
  const int64_t len = wt.n_in / wt.k_chunks;
  const size_t row_bytes = kPanel * elem_bytes(T);
  for (int c = 0; c < wt.k_chunks; ++c) {
    for (int i = 0; i < R; ++i)
      for (int j = 0; j < N; ++j) acc[i][j] = _mm256_setzero_ps();
    for (int64_t k = c * len; k < (c + 1) * len; ++k) {
      __m256 w[N];
      for (int q = 0; q < P; ++q) {
        const uint8_t* row = wt.data + (panel + q) * wt.panel_bytes + size_t(k) * row_bytes;
        for (int v = 0; v < V; ++v) w[q * V + v] = widen<T>(row, v0 + v);
      }
      for (int i = 0; i < R; ++i) {
        const __m256 xv = _mm256_broadcast_ss(x + i * ldx + k);
        for (int j = 0; j < N; ++j) acc[i][j] = _mm256_fmadd_ps(xv, w[j], acc[i][j]);
      }
    }
    if (wt.k_chunks > 1) chunk_tree_push<R * N>(stack, c, &acc[0][0]);
  }
  for (int q = 0; q < P; ++q) {
    __m256 part[R][V];
    for (int i = 0; i < R; ++i)
      for (int v = 0; v < V; ++v) part[i][v] = acc[i][q * V + v];
    store_tile<R, V>(part, (panel + q) * kPanel + v0 * kVec, wt.n_out, y, ldy);
  }
}

// Panels [p0, p1), P at a time, each in 4 / V passes of V vectors.
template <PanelWeights::Type T, int R, int P, int V>
void run_panels(const PanelWeights& wt, const float* x, int64_t ldx, int64_t p0, int64_t p1, float* y, int64_t ldy) {
  int64_t p = p0;
  for (; p + P <= p1; p += P)
    for (int v0 = 0; v0 < 4; v0 += V) run_tile<T, R, P, V>(wt, x, ldx, p, v0, y, ldy);
  for (; p < p1; ++p)
    for (int v0 = 0; v0 < 4; v0 += V) run_tile<T, R, 1, V>(wt, x, ldx, p, v0, y, ldy);
}

// Enough independent chains in flight (8-12) within 16 registers, whatever the row count.
template <PanelWeights::Type T>
void run_rows(const PanelWeights& wt, const float* x, int64_t ldx, int rows, int64_t p0, int64_t p1, float* y,
              int64_t ldy) {
  switch (rows) {
    case 1: return run_panels<T, 1, 2, 4>(wt, x, ldx, p0, p1, y, ldy);
    case 2: return run_panels<T, 2, 1, 4>(wt, x, ldx, p0, p1, y, ldy);
    case 3: return run_panels<T, 3, 1, 4>(wt, x, ldx, p0, p1, y, ldy);
    case 4: return run_panels<T, 4, 1, 2>(wt, x, ldx, p0, p1, y, ldy);
    case 5: return run_panels<T, 5, 1, 2>(wt, x, ldx, p0, p1, y, ldy);
    default: return run_panels<T, 6, 1, 2>(wt, x, ldx, p0, p1, y, ldy);
  }
}

// ---- Q8_0 ----
// No VNNI here, and vpmaddubsw saturates int16, so the int8 products go through vpmaddwd on
// sign-extended int16: exact. The activations are stored as q + 128; xor 0x80 gives q back.

constexpr int kQ8Block = 32;

// R rows x 16 outputs (half h of a panel): int32 block sums, then one fma per output and block.
template <int R>
void q8_tile(const Q8PanelWeights& w, const uint8_t* xq, const float* xd, int64_t r, int64_t panel, int h, float* y,
             int64_t ldy) {
  __m256 acc[R][2] = {};
  __m256 stack[7][R * 2];
  const int64_t per_chunk = w.n_blocks / w.k_chunks;
  for (int c = 0; c < w.k_chunks; ++c) {
    for (int i = 0; i < R; ++i) acc[i][0] = acc[i][1] = _mm256_setzero_ps();
    for (int64_t b = c * per_chunk; b < (c + 1) * per_chunk; ++b) {
      const size_t lane = (size_t(panel) * w.n_blocks + b) * kPanel;  // [panel][block][output]
      const int8_t* wb = w.q + lane * kQ8Block + h * 64;                // [k/4][output][4], outputs from 16h
      __m256i isum[R][4];  // per row: outputs 4v..4v+3 of the half, two partial sums each
      for (int i = 0; i < R; ++i)
        for (int v = 0; v < 4; ++v) isum[i][v] = _mm256_setzero_si256();
      for (int k4 = 0; k4 < kQ8Block / 4; ++k4) {
        __m256i xv[R];  // x[k4*4 .. +3] as int16, repeated for four outputs
        for (int i = 0; i < R; ++i) {
          uint32_t four;
          std::memcpy(&four, xq + (r + i) * w.n_in + b * kQ8Block + k4 * 4, 4);
          xv[i] = _mm256_cvtepi8_epi16(_mm_set1_epi32(int(four ^ 0x80808080u)));
        }
        for (int v = 0; v < 4; ++v) {
          const __m256i wv =
              _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(wb + k4 * kPanel * 4 + v * 16)));
          for (int i = 0; i < R; ++i) isum[i][v] = _mm256_add_epi32(isum[i][v], _mm256_madd_epi16(wv, xv[i]));
        }
      }
      for (int i = 0; i < R; ++i) {
        const __m256 dx = _mm256_set1_ps(xd[(r + i) * w.n_blocks + b]);
        for (int u = 0; u < 2; ++u) {
          // [o0 o0 o1 o1 o2 o2 o3 o3] + [o4 ...] -> hadd [o0 o1 o4 o5 | o2 o3 o6 o7] -> in order
          const __m256i s = _mm256_permute4x64_epi64(_mm256_hadd_epi32(isum[i][2 * u], isum[i][2 * u + 1]), 0xD8);
          const __m256 dw = _mm256_loadu_ps(w.scale + lane + h * 16 + u * kVec);
          acc[i][u] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s), _mm256_mul_ps(dw, dx), acc[i][u]);
        }
      }
    }
    if (w.k_chunks > 1) chunk_tree_push<R * 2>(stack, c, &acc[0][0]);
  }
  store_tile<R, 2>(acc, panel * kPanel + h * 16, w.n_out, y, ldy);
}

}  // namespace

void panel_block_avx2(const PanelWeights& w, const float* x, int64_t ldx, int rows, int64_t p0, int64_t p1, float* y,
                      int64_t ldy) {
  switch (w.type) {
    case PanelWeights::F32: return run_rows<PanelWeights::F32>(w, x, ldx, rows, p0, p1, y, ldy);
    case PanelWeights::F16: return run_rows<PanelWeights::F16>(w, x, ldx, rows, p0, p1, y, ldy);
    case PanelWeights::BF16: return run_rows<PanelWeights::BF16>(w, x, ldx, rows, p0, p1, y, ldy);
  }
}

void q8_block_avx2(const Q8PanelWeights& w, const uint8_t* xq, const float* xd, int64_t r, int rows, int64_t p0,
                   int64_t p1, float* y, int64_t ldy) {
  for (int64_t p = p0; p < p1; ++p)
    for (int h = 0; h < 2 && p * kPanel + h * 16 < w.n_out; ++h) {
      int i = 0;
      for (; i + 2 <= rows; i += 2) q8_tile<2>(w, xq, xd, r + i, p, h, y + i * ldy, ldy);
      if (i < rows) q8_tile<1>(w, xq, xd, r + i, p, h, y + i * ldy, ldy);
    }
}

}  // namespace sci_infer
