// The default (fixed-order) GEMM for Q8_0 weights: int8 x int8 dot products (AVX-512 VNNI).
//
// Activations are quantized per row and 32-block (q8_activations.hpp). Weights are prepacked
// at load into panels of 32 outputs; per K-block of 32, four consecutive k of each output sit
// in one 32-bit lane ([k/4][output][4 bytes]), the layout vpdpbusd wants. vpdpbusd multiplies
// unsigned by signed bytes, so activations are stored as q + 128 and each block's sum is
// corrected by 128 * sum(q_w) (precomputed per output and block): exact int32 either way.
// Per output and block: acc = fma(float(isum), d_w * d_x, acc), blocks in order (with
// k_chunks > 1: one chain per chunk of blocks, merged by the pairwise tree of linear.hpp).
// The portable path computes the same integers and the same float operations: same bits.
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#if defined(__AVX512F__) && defined(__AVX512VNNI__)
#include <immintrin.h>
#define SCI_INFER_Q8_VNNI 1
#endif

#include "kernels/linear.hpp"
#include "kernels/panel_tile.hpp"
#include "kernels/q8_activations.hpp"
#include "sci_infer/error.hpp"

namespace sci_infer {
namespace {

constexpr size_t kBlockBytes = kPanel * kQ8Block;  // one K-block of one panel: 1024 bytes
constexpr int kMaxRows = 6;
constexpr int64_t kRowChunk = 96;
constexpr int64_t kGroup = 4;

class Q8Linear final : public Linear {
 public:
  Q8Linear(const WeightView* parts, int n_parts, int n_threads, int k_chunks, WeightArena* arena)
      : n_threads_(std::max(1, n_threads)) {
    n_in_ = parts[0].n_in;
    for (int p = 0; p < n_parts; ++p) {
      if (parts[p].type != GgmlType::Q8_0 || parts[p].n_in != n_in_)
        throw Error("fused weight parts differ in type or K: " + parts[p].name);
      n_out_ += parts[p].n_out;
    }
    if (n_in_ % kQ8Block != 0) throw Error(parts[0].name + ": Q8_0 rows must be a multiple of 32");
    n_blocks_ = n_in_ / kQ8Block;
    check_k_chunks(parts[0].name, n_blocks_, k_chunks);  // chunks are whole blocks
    k_chunks_ = k_chunks;
    n_panels_ = (n_out_ + kPanel - 1) / kPanel;
    const size_t quants = size_t(n_panels_) * n_blocks_ * kBlockBytes;
    const size_t per_lane = size_t(n_panels_) * n_blocks_ * kPanel;
    bytes_ = quants + per_lane * (sizeof(float) + sizeof(int32_t));
    bool fill = true;
    uint8_t* base = nullptr;
    if (arena) {
      base = arena->allocate(bytes_, &fill);
    } else {
      owned_.resize(bytes_ + 64);
      base = reinterpret_cast<uint8_t*>((reinterpret_cast<uintptr_t>(owned_.data()) + 63) / 64 * 64);
    }
    q_ = reinterpret_cast<int8_t*>(base);
    scale_ = reinterpret_cast<float*>(base + quants);
    wsum_ = reinterpret_cast<int32_t*>(base + quants + per_lane * sizeof(float));
    if (fill) pack(parts, n_parts);
  }

  size_t bytes() const override { return bytes_; }

  void forward(const float* x, int64_t m, int64_t ldx, float* y, int64_t ldy) const override {
    if (m <= 0) return;
    // 1) Quantize the rows (each row by one thread; its bits depend on the row alone).
    if (xq_.size() < size_t(m) * n_in_) xq_.resize(size_t(m) * n_in_);
    if (xd_.size() < size_t(m) * n_blocks_) xd_.resize(size_t(m) * n_blocks_);
    // The OpenMP workers have thread_locals of their own: they get the caller's by pointer.
    uint8_t* const xq = xq_.data();
    float* const xd = xd_.data();
#pragma omp parallel for schedule(static) num_threads(n_threads_) if (m * n_in_ > 65536)
    for (int64_t i = 0; i < m; ++i) {
      for (int64_t b = 0; b < n_blocks_; ++b) {
        int8_t q[kQ8Block];
        quantize_q8_block(x + i * ldx + b * kQ8Block, q, &xd[i * n_blocks_ + b]);
        uint8_t* dst = &xq[i * n_in_ + b * kQ8Block];
        for (int k = 0; k < kQ8Block; ++k) dst[k] = static_cast<uint8_t>(q[k] + 128);
      }
    }
    // 2) Tiles, as in the fixed-order kernel: threads split rows and panels, never K.
    const int64_t n_chunks = (m + kRowChunk - 1) / kRowChunk;
    const int64_t n_groups = (n_panels_ + kGroup - 1) / kGroup;
    const int64_t work = n_chunks * n_groups;
#pragma omp parallel for schedule(static) num_threads(n_threads_) if (work > 1)
    for (int64_t item = 0; item < work; ++item) {
      const int64_t p0 = (item % n_groups) * kGroup, p1 = std::min(n_panels_, p0 + kGroup);
      const int64_t r0 = (item / n_groups) * kRowChunk, r1 = std::min(m, r0 + kRowChunk);
      for (int64_t r = r0; r < r1; r += kMaxRows) {
        const int rows = static_cast<int>(std::min<int64_t>(kMaxRows, r1 - r));
        run_block(xq, xd, r, rows, p0, p1, y + r * ldy, ldy);
      }
    }
  }

 private:
  int n_threads_;
  int64_t n_blocks_ = 0, n_panels_ = 0;
  size_t bytes_ = 0;
  std::vector<uint8_t> owned_;
  int8_t* q_ = nullptr;       // [panel][block][k/4][output][4]
  float* scale_ = nullptr;    // [panel][block][output]
  int32_t* wsum_ = nullptr;   // [panel][block][output]: sum of the block's 32 weights
  // Quantized activations + 128 ([row][k]) and their scales ([row][block]): scratch shared by
  // every Q8 layer that this thread runs (one engine thread runs its layers one after another).
  static thread_local std::vector<uint8_t> xq_;
  static thread_local std::vector<float> xd_;

  size_t lane(int64_t panel, int64_t b) const { return (size_t(panel) * n_blocks_ + b) * kPanel; }
  const int8_t* block_quants(int64_t panel, int64_t b) const { return q_ + lane(panel, b) * kQ8Block; }

  void pack(const WeightView* parts, int n_parts) {
    std::memset(q_, 0, size_t(n_panels_) * n_blocks_ * kBlockBytes);
    std::fill(scale_, scale_ + size_t(n_panels_) * n_blocks_ * kPanel, 0.0f);
    std::fill(wsum_, wsum_ + size_t(n_panels_) * n_blocks_ * kPanel, 0);
    int64_t n = 0;
    for (int p = 0; p < n_parts; ++p)
      for (int64_t r = 0; r < parts[p].n_out; ++r, ++n) {
        const int64_t panel = n / kPanel, col = n % kPanel;
        for (int64_t b = 0; b < n_blocks_; ++b) {
          const uint8_t* block = parts[p].row(r) + b * ggml_block_bytes(GgmlType::Q8_0);
          uint16_t d;
          std::memcpy(&d, block, 2);
          scale_[lane(panel, b) + col] = fp16_to_f32(d);
          int8_t* dst = q_ + lane(panel, b) * kQ8Block;
          int32_t sum = 0;
          for (int k = 0; k < kQ8Block; ++k) {
            const int8_t v = static_cast<int8_t>(block[2 + k]);
            dst[(k / 4) * (kPanel * 4) + col * 4 + k % 4] = v;
            sum += v;
          }
          wsum_[lane(panel, b) + col] = sum;
        }
      }
  }

  void run_block(const uint8_t* xq, const float* xd, int64_t r, int rows, int64_t p0, int64_t p1, float* y,
                 int64_t ldy) const {
#if defined(SCI_INFER_Q8_VNNI)
    switch (rows) {
      case 1: return run_panels<1, 4>(xq, xd, r, p0, p1, y, ldy);
      case 2: return run_panels<2, 2>(xq, xd, r, p0, p1, y, ldy);
      case 3: return run_panels<3, 2>(xq, xd, r, p0, p1, y, ldy);
      case 4: return run_panels<4, 1>(xq, xd, r, p0, p1, y, ldy);
      case 5: return run_panels<5, 1>(xq, xd, r, p0, p1, y, ldy);
      default: return run_panels<6, 1>(xq, xd, r, p0, p1, y, ldy);
    }
#else
    for (int64_t p = p0; p < p1; ++p) run_portable(xq, xd, r, rows, p, y, ldy);
#endif
  }

  // The reference: the same integers and float operations, one output at a time.
  void run_portable(const uint8_t* xq_all, const float* xd_all, int64_t r, int rows, int64_t panel, float* y,
                    int64_t ldy) const {
    float out[kMaxRows * kPanel];
    const int64_t per_chunk = n_blocks_ / k_chunks_;
    for (int i = 0; i < rows; ++i) {
      const uint8_t* xq = xq_all + (r + i) * n_in_;
      const float* xd = xd_all + (r + i) * n_blocks_;
      for (int col = 0; col < kPanel; ++col) {
        float stack[7];
        float acc = 0.0f;
        for (int c = 0; c < k_chunks_; ++c) {
          acc = 0.0f;
          for (int64_t b = c * per_chunk; b < (c + 1) * per_chunk; ++b) {
            const int8_t* w = block_quants(panel, b);
            int32_t isum = 0;
            for (int k = 0; k < kQ8Block; ++k)
              isum += (int32_t(xq[b * kQ8Block + k]) - 128) * w[(k / 4) * (kPanel * 4) + col * 4 + k % 4];
            acc = std::fma(float(isum), scale_[lane(panel, b) + col] * xd[b], acc);
          }
          chunk_tree_push(stack, c, acc);
        }
        out[i * kPanel + col] = acc;
      }
    }
    store_panel_rows(out, rows, panel, n_out_, y, ldy);
  }

#if defined(SCI_INFER_Q8_VNNI)
  template <int R, int P>
  void run_panels(const uint8_t* xq, const float* xd, int64_t r, int64_t p0, int64_t p1, float* y, int64_t ldy) const {
    int64_t p = p0;
    for (; p + P <= p1; p += P) run_tile<R, P>(xq, xd, r, p, y, ldy);
    for (; p < p1; ++p) run_tile<R, 1>(xq, xd, r, p, y, ldy);
  }

  // R rows x P panels; per K-block: int32 sums by vpdpbusd, then one fma per output.
  template <int R, int P>
  void run_tile(const uint8_t* xq_all, const float* xd_all, int64_t r, int64_t panel, float* y, int64_t ldy) const {
    __m512 acc[R][2 * P];
    __m512 stack[7][R * 2 * P];  // K-chunk tree (panel_tile.hpp)
    const int64_t per_chunk = n_blocks_ / k_chunks_;
    const uint8_t* xq = xq_all + r * n_in_;
    const float* xd = xd_all + r * n_blocks_;
    for (int i = 0; i < R; ++i)
      for (int j = 0; j < 2 * P; ++j) acc[i][j] = _mm512_setzero_ps();
    for (int c = 0; c < k_chunks_; ++c) {
      if (c > 0)
        for (int i = 0; i < R; ++i)
          for (int j = 0; j < 2 * P; ++j) acc[i][j] = _mm512_setzero_ps();
      for (int64_t b = c * per_chunk; b < (c + 1) * per_chunk; ++b) {
        __m512i isum[R][2 * P];
        for (int i = 0; i < R; ++i)
          for (int j = 0; j < 2 * P; ++j) isum[i][j] = _mm512_setzero_si512();
        for (int k4 = 0; k4 < kQ8Block / 4; ++k4) {
          __m512i w[2 * P];
          for (int q = 0; q < P; ++q) {
            const int8_t* wq = block_quants(panel + q, b) + k4 * (kPanel * 4);
            w[2 * q] = _mm512_load_si512(wq);
            w[2 * q + 1] = _mm512_load_si512(wq + 64);
          }
          for (int i = 0; i < R; ++i) {
            int32_t four;
            std::memcpy(&four, xq + i * n_in_ + b * kQ8Block + k4 * 4, 4);
            const __m512i xb = _mm512_set1_epi32(four);
            for (int j = 0; j < 2 * P; ++j) isum[i][j] = _mm512_dpbusd_epi32(isum[i][j], xb, w[j]);
          }
        }
        for (int q = 0; q < P; ++q) {
          const size_t l = lane(panel + q, b);
          const __m512i corr0 = _mm512_slli_epi32(_mm512_load_si512(wsum_ + l), 7);
          const __m512i corr1 = _mm512_slli_epi32(_mm512_load_si512(wsum_ + l + 16), 7);
          const __m512 dw0 = _mm512_load_ps(scale_ + l), dw1 = _mm512_load_ps(scale_ + l + 16);
          for (int i = 0; i < R; ++i) {
            const __m512 dx = _mm512_set1_ps(xd[i * n_blocks_ + b]);
            const __m512 s0 = _mm512_mul_ps(dw0, dx), s1 = _mm512_mul_ps(dw1, dx);
            acc[i][2 * q] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(isum[i][2 * q], corr0)), s0, acc[i][2 * q]);
            acc[i][2 * q + 1] =
                _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(isum[i][2 * q + 1], corr1)), s1, acc[i][2 * q + 1]);
          }
        }
      }
      if (k_chunks_ > 1) chunk_tree_push<R * 2 * P>(stack, c, &acc[0][0]);
    }
    store_register_tile<R, P>(acc, panel, n_out_, y, ldy);
  }
#endif
};

thread_local std::vector<uint8_t> Q8Linear::xq_;
thread_local std::vector<float> Q8Linear::xd_;

}  // namespace

std::unique_ptr<Linear> make_linear_q8_int8(const WeightView* parts, int n_parts, int n_threads, int k_chunks,
                                            WeightArena* arena) {
  return std::make_unique<Q8Linear>(parts, n_parts, n_threads, k_chunks, arena);
}

}  // namespace sci_infer
