// The default, reproducible host GEMM: Y = X · W^T with one sequential FMA chain per output.
//
// Weights are prepacked at load into panels of kPanel (32) output columns: for each k, the 32
// weights of that panel are contiguous, in their stored type (F32, F16, BF16 or Q8_0 + one
// scale per 32-block). The microkernel holds kRows x 32 accumulators in registers, broadcasts
// x[m][k] and fuses it with the 32 widened weights. Widening is exact (F16/BF16 -> F32 exactly;
// Q8_0: fp16 scale * int8 has at most 19 significant bits, so d*q is exact in F32), hence the
// result equals an F32 GEMM on the dequantized weight, whatever the stored type.
//
// The vectorized bodies (cpu_avx2.cpp, cpu_avx512.cpp, chosen at run time: cpu_kernel_path.hpp)
// and the portable path here compute identical bits: all perform, for every output,
// acc = fma(x[k], w[k], acc) for k = 0..K-1 in order, starting from +0.0f; with k_chunks > 1,
// one such chain per K-chunk, merged in the tree order of linear.hpp.
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "kernels/cpu_kernel_path.hpp"
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
    default:  // the other quant types never reach this panel path (linear_quant.cpp takes them)
      throw Error(std::string("internal: fixed-order panel for type ") + ggml_type_name(t));
  }
}

class FixedOrderLinear final : public Linear {
 public:
  FixedOrderLinear(const WeightView* parts, int n_parts, int n_threads, int k_chunks, WeightArena* arena)
      : type_(parts[0].type), n_threads_(std::max(1, n_threads)), kernels_(cpu_kernels_for_new_linear()) {
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
  CpuKernels kernels_;  // this CPU's vectorized bodies (null: the portable loops below)
  int simd_type_ = simd_type(type_);
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

  // Rows [0, rows) of x against panels [p0, p1): by this CPU's vectorized body, or portably.
  void run_block(const float* x, int64_t ldx, int rows, int64_t p0, int64_t p1, float* y, int64_t ldy) const {
    if (kernels_.panel_block && simd_type_ >= 0) {
      const PanelWeights w{static_cast<PanelWeights::Type>(simd_type_), data_, panel_bytes_, n_in_, n_out_, k_chunks_};
      return kernels_.panel_block(w, x, ldx, rows, p0, p1, y, ldy);
    }
    for (int64_t p = p0; p < p1; ++p) run_portable(x, ldx, rows, p, y, ldy);
  }

  // The stored types the vectorized bodies widen (PanelWeights::Type), -1 for the others (Q8_0
  // normally takes linear_q8_int8.cpp; here it has the portable loops only).
  static int simd_type(GgmlType t) {
    switch (t) {
      case GgmlType::F32: return PanelWeights::F32;
      case GgmlType::F16: return PanelWeights::F16;
      case GgmlType::BF16: return PanelWeights::BF16;
      default: return -1;
    }
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

};

}  // namespace

std::unique_ptr<Linear> make_linear_fixed_order(const WeightView* parts, int n_parts, int n_threads,
                                                int k_chunks, WeightArena* arena) {
  if (parts[0].type == GgmlType::Q8_0) return make_linear_q8_int8(parts, n_parts, n_threads, k_chunks, arena);
  return std::make_unique<FixedOrderLinear>(parts, n_parts, n_threads, k_chunks, arena);
}

}  // namespace sci_infer
