// The default, reproducible host GEMM: Y = X · W^T with one sequential FMA chain per output.
//
// Weights are prepacked at load into panels of kPanel (32) output columns: for each k, the 32
// weights of that panel are contiguous, in their stored type (F32, F16, BF16 or Q8_0 + one
// scale per 32-block). The microkernel holds kRows x 32 accumulators in registers, broadcasts
// x[m][k] and fuses it with the 32 widened weights. Widening is exact (F16/BF16 -> F32 exactly;
// Q8_0: fp16 scale * int8 has at most 19 significant bits, so d*q is exact in F32), hence the
// result equals an F32 GEMM on the dequantized weight, whatever the stored type.
//
// The AVX-512 path and the portable path compute identical bits: both perform, for every output,
// acc = fma(x[k], w[k], acc) for k = 0..K-1 in order, starting from +0.0f; with k_chunks > 1,
// one such chain per K-chunk, merged in the tree order of linear.hpp.
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

#include "kernels/linear.hpp"
#include "kernels/panel_tile.hpp"
#include "sci_infer/error.hpp"

namespace sci_infer {
namespace {

constexpr int kMaxRows = 6;    // rows of X per microkernel call
constexpr int64_t kRowChunk = 96;  // rows of X that share one pass over a panel (L2 reuse)
constexpr int64_t kGroup = 4;      // panels per work item: skinny X works on several at once

// Aligned storage that does not zero-initialise on resize-free construction.
template <class T>
struct AlignedBuffer {
  T* ptr = nullptr;
  size_t n = 0;
  explicit AlignedBuffer(size_t count) : n(count) {
    ptr = static_cast<T*>(std::aligned_alloc(64, ((count * sizeof(T) + 63) / 64) * 64));
    if (!ptr) throw Error("out of memory packing a weight");
    std::memset(ptr, 0, count * sizeof(T));
  }
  ~AlignedBuffer() { std::free(ptr); }
  AlignedBuffer(const AlignedBuffer&) = delete;
  AlignedBuffer& operator=(const AlignedBuffer&) = delete;
};

// ---- Widening one k-row of a panel into 32 floats (portable reference) ----

inline void widen_portable(GgmlType t, const void* panel_row, const float* scales, float* w) {
  switch (t) {
    case GgmlType::F32: std::memcpy(w, panel_row, kPanel * sizeof(float)); break;
    case GgmlType::F16: {
      auto* h = static_cast<const uint16_t*>(panel_row);
      for (int j = 0; j < kPanel; ++j) w[j] = fp16_to_f32(h[j]);
      break;
    }
    case GgmlType::BF16: {
      auto* h = static_cast<const uint16_t*>(panel_row);
      for (int j = 0; j < kPanel; ++j) w[j] = bf16_to_f32(h[j]);
      break;
    }
    case GgmlType::Q8_0: {
      auto* q = static_cast<const int8_t*>(panel_row);
      for (int j = 0; j < kPanel; ++j) w[j] = scales[j] * static_cast<float>(q[j]);
      break;
    }
  }
}

class FixedOrderLinear final : public Linear {
 public:
  FixedOrderLinear(const WeightView* parts, int n_parts, int n_threads, int k_chunks, WeightArena* arena)
      : type_(parts[0].type), n_threads_(std::max(1, n_threads)) {
    n_in_ = parts[0].n_in;
    for (int p = 0; p < n_parts; ++p) {
      if (parts[p].type != type_ || parts[p].n_in != n_in_)
        throw Error("fused weight parts differ in type or K: " + parts[p].name);
      n_out_ += parts[p].n_out;
    }
    if (type_ == GgmlType::Q8_0 && n_in_ % 32 != 0)
      throw Error(parts[0].name + ": Q8_0 rows must be a multiple of 32");
    check_k_chunks(parts[0].name, n_in_, k_chunks);
    k_chunks_ = k_chunks;
    n_panels_ = (n_out_ + kPanel - 1) / kPanel;
    elem_bytes_ = type_ == GgmlType::F32 ? 4 : (type_ == GgmlType::Q8_0 ? 1 : 2);
    panel_bytes_ = static_cast<size_t>(n_in_) * kPanel * elem_bytes_;
    // One block: panels, then (Q8_0) the scales, both 64-byte aligned.
    const size_t data_bytes = (panel_bytes_ * n_panels_ + 63) / 64 * 64;
    const size_t scale_bytes =
        type_ == GgmlType::Q8_0 ? static_cast<size_t>(n_panels_) * (n_in_ / 32) * kPanel * sizeof(float) : 0;
    bytes_ = data_bytes + scale_bytes;
    bool fill = true;
    uint8_t* base = nullptr;
    if (arena) {
      base = arena->allocate(bytes_, &fill);  // shared with the node's other replicas
    } else {
      owned_ = std::make_unique<AlignedBuffer<uint8_t>>(bytes_);
      base = owned_->ptr;
    }
    data_ = base;
    scales_ = scale_bytes ? reinterpret_cast<float*>(base + data_bytes) : nullptr;
    if (fill) pack(parts, n_parts);
  }

  size_t bytes() const override {
    return bytes_;
  }

  void forward(const float* x, int64_t m, int64_t ldx, float* y, int64_t ldy) const override {
    if (m <= 0) return;
    const int64_t n_chunks = (m + kRowChunk - 1) / kRowChunk;
    const int64_t n_groups = (n_panels_ + kGroup - 1) / kGroup;
    const int64_t work = n_chunks * n_groups;
    // Each (row chunk, panel group) pair is computed by exactly one thread with the same code,
    // so the thread count changes who computes an output, never how.
#pragma omp parallel for schedule(static) num_threads(n_threads_) if (work > 1)
    for (int64_t item = 0; item < work; ++item) {
      const int64_t chunk = item / n_groups;
      const int64_t p0 = (item % n_groups) * kGroup;
      const int64_t p1 = std::min(n_panels_, p0 + kGroup);
      const int64_t r0 = chunk * kRowChunk;
      const int64_t r1 = std::min(m, r0 + kRowChunk);
      for (int64_t r = r0; r < r1; r += kMaxRows) {
        const int rows = static_cast<int>(std::min<int64_t>(kMaxRows, r1 - r));
        run_block(x + r * ldx, ldx, rows, p0, p1, y + r * ldy, ldy);
      }
    }
  }

 private:
  GgmlType type_;
  int n_threads_;
  int64_t n_panels_ = 0;
  size_t elem_bytes_ = 4;
  size_t panel_bytes_ = 0;
  size_t bytes_ = 0;
  std::unique_ptr<AlignedBuffer<uint8_t>> owned_;  // private memory when there is no arena
  uint8_t* data_ = nullptr;
  float* scales_ = nullptr;

  // Reorders the file's row-major [N][K] weight into [panel][k][32] (+ [panel][k/32][32] scales).
  void pack(const WeightView* parts, int n_parts) {
    int64_t row_base = 0;
    for (int p = 0; p < n_parts; ++p) {
      for (int64_t r = 0; r < parts[p].n_out; ++r) {
        const int64_t n = row_base + r;
        const int64_t panel = n / kPanel, col = n % kPanel;
        const uint8_t* src = parts[p].row(r);
        uint8_t* dst = data_ + panel * panel_bytes_;
        if (type_ == GgmlType::Q8_0) {
          float* sc = scales_ + panel * (n_in_ / 32) * kPanel;
          for (int64_t b = 0; b < n_in_ / 32; ++b) {
            const uint8_t* block = src + b * 34;
            uint16_t d;
            std::memcpy(&d, block, 2);
            sc[b * kPanel + col] = fp16_to_f32(d);
            for (int i = 0; i < 32; ++i)
              dst[(b * 32 + i) * kPanel + col] = block[2 + i];
          }
        } else {
          for (int64_t k = 0; k < n_in_; ++k)
            std::memcpy(dst + (k * kPanel + col) * elem_bytes_, src + k * elem_bytes_, elem_bytes_);
        }
      }
      row_base += parts[p].n_out;
    }
  }

  const uint8_t* panel_row(int64_t panel, int64_t k) const {
    return data_ + panel * panel_bytes_ + static_cast<size_t>(k) * kPanel * elem_bytes_;
  }
  const float* panel_scales(int64_t panel, int64_t k) const {
    return scales_ ? scales_ + (panel * (n_in_ / 32) + k / 32) * kPanel : nullptr;
  }

  // Rows [0, rows) of x against panels [p0, p1). Few rows use several panels per pass so that
  // enough independent FMA chains are in flight; each output is still one chain over k.
  void run_block(const float* x, int64_t ldx, int rows, int64_t p0, int64_t p1, float* y, int64_t ldy) const {
#if defined(__AVX512F__)
    switch (type_) {
      case GgmlType::F32: return run_rows<GgmlType::F32>(x, ldx, rows, p0, p1, y, ldy);
      case GgmlType::F16: return run_rows<GgmlType::F16>(x, ldx, rows, p0, p1, y, ldy);
      case GgmlType::BF16: return run_rows<GgmlType::BF16>(x, ldx, rows, p0, p1, y, ldy);
      case GgmlType::Q8_0: return run_rows<GgmlType::Q8_0>(x, ldx, rows, p0, p1, y, ldy);
    }
#else
    for (int64_t p = p0; p < p1; ++p) run_portable(x, ldx, rows, p, y, ldy);
#endif
  }

  // Portable reference path: the same FMA chain, one scalar at a time.
  void run_portable(const float* x, int64_t ldx, int rows, int64_t panel, float* y, int64_t ldy) const {
    constexpr int kTile = kMaxRows * kPanel;
    float acc[kTile];
    float stack[7][kTile];  // K-chunk tree (panel_tile.hpp), per output
    float w[kPanel];
    const int64_t len = n_in_ / k_chunks_;
    for (int c = 0; c < k_chunks_; ++c) {
      std::fill(acc, acc + kTile, 0.0f);
      for (int64_t k = c * len; k < (c + 1) * len; ++k) {
        widen_portable(type_, panel_row(panel, k), panel_scales(panel, k), w);
        for (int i = 0; i < rows; ++i) {
          const float xv = x[i * ldx + k];
          for (int j = 0; j < kPanel; ++j) acc[i * kPanel + j] = std::fma(xv, w[j], acc[i * kPanel + j]);
        }
      }
      // The tree per output (element e): stack[level][e] as in chunk_tree_push.
      int level = 0;
      for (; (c >> level) & 1; ++level)
        for (int e = 0; e < kTile; ++e) acc[e] = stack[level][e] + acc[e];
      std::copy(acc, acc + kTile, stack[level]);
    }
    store_panel_rows(acc, rows, panel, n_out_, y, ldy);
  }

#if defined(__AVX512F__)
  // Loads the 32 weights of row k of a panel as two vectors of 16 floats (exact widening).
  template <GgmlType T>
  inline void widen_avx512(int64_t panel, int64_t k, __m512& w0, __m512& w1) const {
    const uint8_t* p = panel_row(panel, k);
    if constexpr (T == GgmlType::F32) {
      w0 = _mm512_load_ps(p);
      w1 = _mm512_load_ps(p + 64);
    } else if constexpr (T == GgmlType::F16) {
      w0 = _mm512_cvtph_ps(_mm256_load_si256(reinterpret_cast<const __m256i*>(p)));
      w1 = _mm512_cvtph_ps(_mm256_load_si256(reinterpret_cast<const __m256i*>(p + 32)));
    } else if constexpr (T == GgmlType::BF16) {
      w0 = _mm512_castsi512_ps(_mm512_slli_epi32(
          _mm512_cvtepu16_epi32(_mm256_load_si256(reinterpret_cast<const __m256i*>(p))), 16));
      w1 = _mm512_castsi512_ps(_mm512_slli_epi32(
          _mm512_cvtepu16_epi32(_mm256_load_si256(reinterpret_cast<const __m256i*>(p + 32))), 16));
    } else {
      const float* sc = panel_scales(panel, k);
      const __m512 q0 = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_load_si128(reinterpret_cast<const __m128i*>(p))));
      const __m512 q1 = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_load_si128(reinterpret_cast<const __m128i*>(p + 16))));
      w0 = _mm512_mul_ps(_mm512_load_ps(sc), q0);
      w1 = _mm512_mul_ps(_mm512_load_ps(sc + 16), q1);
    }
  }

  template <GgmlType T>
  void run_rows(const float* x, int64_t ldx, int rows, int64_t p0, int64_t p1, float* y, int64_t ldy) const {
    switch (rows) {
      case 1: return run_panels<T, 1, 4>(x, ldx, p0, p1, y, ldy);
      case 2: return run_panels<T, 2, 4>(x, ldx, p0, p1, y, ldy);
      case 3: return run_panels<T, 3, 2>(x, ldx, p0, p1, y, ldy);
      case 4: return run_panels<T, 4, 2>(x, ldx, p0, p1, y, ldy);
      case 5: return run_panels<T, 5, 2>(x, ldx, p0, p1, y, ldy);
      default: return run_panels<T, 6, 1>(x, ldx, p0, p1, y, ldy);
    }
  }

  template <GgmlType T, int R, int P>
  void run_panels(const float* x, int64_t ldx, int64_t p0, int64_t p1, float* y, int64_t ldy) const {
    int64_t p = p0;
    for (; p + P <= p1; p += P) run_tile<T, R, P>(x, ldx, p, y, ldy);
    for (; p < p1; ++p) run_tile<T, R, 1>(x, ldx, p, y, ldy);
  }

  // R rows x P panels (R x 32P outputs) in registers; one FMA chain per output over k.
  template <GgmlType T, int R, int P>
  void run_tile(const float* x, int64_t ldx, int64_t panel, float* y, int64_t ldy) const {
    __m512 acc[R][2 * P];
    __m512 stack[7][R * 2 * P];  // K-chunk tree (panel_tile.hpp)  // binary-counter merge of finished K-chunks (see linear_kokkos.cpp)
    const int64_t len = n_in_ / k_chunks_;
    for (int i = 0; i < R; ++i)
      for (int j = 0; j < 2 * P; ++j) acc[i][j] = _mm512_setzero_ps();
    for (int c = 0; c < k_chunks_; ++c) {
      if (c > 0)
        for (int i = 0; i < R; ++i)
          for (int j = 0; j < 2 * P; ++j) acc[i][j] = _mm512_setzero_ps();
      for (int64_t k = c * len; k < (c + 1) * len; ++k) {
        __m512 w[2 * P];
        for (int q = 0; q < P; ++q) widen_avx512<T>(panel + q, k, w[2 * q], w[2 * q + 1]);
        for (int i = 0; i < R; ++i) {
          const __m512 xv = _mm512_set1_ps(x[i * ldx + k]);
          for (int j = 0; j < 2 * P; ++j) acc[i][j] = _mm512_fmadd_ps(xv, w[j], acc[i][j]);
        }
      }
      if (k_chunks_ > 1) chunk_tree_push<R * 2 * P>(stack, c, &acc[0][0]);
    }
    store_register_tile<R, P>(acc, panel, n_out_, y, ldy);
  }
#endif
};

}  // namespace

std::unique_ptr<Linear> make_linear_fixed_order(const WeightView* parts, int n_parts, int n_threads,
                                                int k_chunks, WeightArena* arena) {
  if (parts[0].type == GgmlType::Q8_0) return make_linear_q8_int8(parts, n_parts, n_threads, k_chunks, arena);
  return std::make_unique<FixedOrderLinear>(parts, n_parts, n_threads, k_chunks, arena);
}

}  // namespace sci_infer
