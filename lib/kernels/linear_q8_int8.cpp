// The default (fixed-order) GEMM for Q8_0 weights: int8 x int8 dot products (vectorized bodies
// for AVX2 and AVX-512 VNNI in cpu_avx2.cpp, cpu_avx512_vnni.cpp, chosen at run time).
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

#include "kernels/cpu_kernel_path.hpp"
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
      : n_threads_(std::max(1, n_threads)), kernels_(cpu_kernels_for_new_linear()) {
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
  CpuKernels kernels_;  // this CPU's vectorized body (null: run_portable)
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
    if (kernels_.q8_block)
      return kernels_.q8_block(Q8PanelWeights{q_, scale_, wsum_, n_in_, n_blocks_, n_out_, k_chunks_}, xq, xd, r, rows,
                               p0, p1, y, ldy);
    for (int64_t p = p0; p < p1; ++p) run_portable(xq, xd, r, rows, p, y, ldy);
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

};

thread_local std::vector<uint8_t> Q8Linear::xq_;
thread_local std::vector<float> Q8Linear::xd_;

}  // namespace

std::unique_ptr<Linear> make_linear_q8_int8(const WeightView* parts, int n_parts, int n_threads, int k_chunks,
                                            WeightArena* arena) {
  return std::make_unique<Q8Linear>(parts, n_parts, n_threads, k_chunks, arena);
}

}  // namespace sci_infer
