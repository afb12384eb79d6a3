// The default (fixed-order) GEMM for quantized weights of any registered type, and for fused
// weights whose parts differ in type (Q4_K_M files: a Q6_K attn_v next to Q4_K attn_q/attn_k).
//
// Each part keeps its file bytes (copied densely into the arena); each part's rows are computed
// by its type's dot kernel (quant_registry.hpp) against the activations quantized as that type
// pairs (q8_activations.hpp: Q8_0/Q8_1 per 32 values, Q8_K per 256; F32 parts read x itself).
// Per output: blocks in k order, one chain per K-chunk, chunks merged by the pairwise tree of
// linear.hpp. Threads split rows and outputs, never K; an output's bits depend on its row of x,
// its weight row and the K-chunk count only (batch-, thread- and tp-invariant).
#include <omp.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "kernels/linear.hpp"
#include "kernels/panel_tile.hpp"
#include "kernels/q8_activations.hpp"
#include "kernels/quant_registry.hpp"
#include "sci_infer/error.hpp"

namespace sci_infer {
namespace {

constexpr int64_t kOutGroup = 16;  // outputs per work item

// One activation format for m rows: int8 quants, a scale per `block` values, sums per 32.
struct QuantizedRows {
  int block = 32;
  std::vector<int8_t> q;
  std::vector<float> d;
  std::vector<int32_t> s;
};

class QuantLinear final : public Linear {
 public:
  QuantLinear(const WeightView* parts, int n_parts, int n_threads, int k_chunks, WeightArena* arena)
      : n_threads_(std::max(1, n_threads)) {
    n_in_ = parts[0].n_in;
    check_k_chunks(parts[0].name, n_in_, k_chunks);
    k_chunks_ = k_chunks;
    const int64_t chunk = n_in_ / k_chunks;
    size_t offset = 0;
    for (int p = 0; p < n_parts; ++p) {
      const TypeTraits& t = type_traits(parts[p].type);
      if (parts[p].n_in != n_in_) throw Error("fused weight parts differ in K: " + parts[p].name);
      if (chunk % t.block_elems != 0)
        throw Error(parts[p].name + ": a " + t.name + " weight (blocks of " + std::to_string(t.block_elems) +
                    " columns) cannot be reduced over " + std::to_string(k_chunks) + " K-chunks of " +
                    std::to_string(chunk) + " columns (K = " + std::to_string(n_in_) +
                    "): the tensor-parallel K-chunks must be whole blocks");
      Part q;
      q.traits = &t;
      q.n0 = n_out_;
      q.n = parts[p].n_out;
      q.row_bytes = ggml_row_bytes(parts[p].type, n_in_);
      q.offset = offset;
      offset += q.row_bytes * size_t(q.n);
      n_out_ += q.n;
      need_[static_cast<int>(t.act)] = true;
      parts_.push_back(q);
    }
    bytes_ = offset;
    bool fill = true;
    if (arena) {
      base_ = arena->allocate(std::max<size_t>(bytes_, 64), &fill);
    } else {
      owned_.resize(bytes_ + 64);
      base_ = owned_.data();
    }
    if (fill)
      for (int p = 0; p < n_parts; ++p)
        for (int64_t r = 0; r < parts_[p].n; ++r)
          std::memcpy(base_ + parts_[p].offset + size_t(r) * parts_[p].row_bytes, parts[p].row(r), parts_[p].row_bytes);
  }

  size_t bytes() const override { return bytes_; }

  void forward(const float* x, int64_t m, int64_t ldx, float* y, int64_t ldy) const override {
    if (m <= 0) return;
    // 1) Quantize the rows in each format some part needs (a row's bits depend on the row alone).
    QuantizedRows* const q32 = need_[int(ActQuant::Q8_0)] || need_[int(ActQuant::Q8_1)] ? &act32_ : nullptr;
    QuantizedRows* const q256 = need_[int(ActQuant::Q8_K)] ? &act256_ : nullptr;
    if (q32) prepare(*q32, 32, m);
    if (q256) prepare(*q256, 256, m);
#pragma omp parallel for schedule(static) num_threads(n_threads_) if (m * n_in_ > 65536)
    for (int64_t i = 0; i < m; ++i) {
      if (q32) quantize_row<32>(x + i * ldx, i, *q32);
      if (q256) quantize_row<256>(x + i * ldx, i, *q256);
    }
    // 2) Work items: (rows of kMaxDotRows) x (groups of kOutGroup outputs).
    const int64_t n_rows = (m + kMaxDotRows - 1) / kMaxDotRows;
    const int64_t n_groups = (n_out_ + kOutGroup - 1) / kOutGroup;
    const int64_t work = n_rows * n_groups;
#pragma omp parallel for schedule(static) num_threads(n_threads_) if (work > 1)
    for (int64_t item = 0; item < work; ++item) {
      const int64_t g = item % n_groups, r0 = (item / n_groups) * kMaxDotRows;
      const int rows = static_cast<int>(std::min<int64_t>(kMaxDotRows, m - r0));
      const int64_t n1 = std::min(n_out_, (g + 1) * kOutGroup);
      for (int64_t n = g * kOutGroup; n < n1; ++n) run_output(x, ldx, q32, q256, r0, rows, n, y, ldy);
    }
  }

 private:
  struct Part {
    const TypeTraits* traits = nullptr;
    int64_t n0 = 0, n = 0;  // this part's outputs [n0, n0 + n)
    size_t row_bytes = 0, offset = 0;
  };
  int n_threads_;
  std::vector<Part> parts_;
  bool need_[4] = {false, false, false, false};
  size_t bytes_ = 0;
  std::vector<uint8_t> owned_;
  uint8_t* base_ = nullptr;
  // Scratch shared by every quantized layer that this thread runs (one engine thread runs its
  // layers one after another); OpenMP workers reach it through the pointers passed to them.
  static thread_local QuantizedRows act32_, act256_;

  void prepare(QuantizedRows& a, int block, int64_t m) const {
    a.block = block;
    if (a.q.size() < size_t(m * n_in_)) a.q.resize(size_t(m * n_in_));
    if (a.d.size() < size_t(m * (n_in_ / block))) a.d.resize(size_t(m * (n_in_ / block)));
    if (a.s.size() < size_t(m * (n_in_ / 32))) a.s.resize(size_t(m * (n_in_ / 32)));
  }

  template <int B>
  void quantize_row(const float* x, int64_t i, QuantizedRows& a) const {
    int8_t* q = a.q.data() + i * n_in_;
    for (int64_t b = 0; b < n_in_ / B; ++b) quantize_q8_block_n<B>(x + b * B, q + b * B, &a.d[i * (n_in_ / B) + b]);
    int32_t* s = a.s.data() + i * (n_in_ / 32);
    for (int64_t b = 0; b < n_in_ / 32; ++b) {
      int32_t sum = 0;
      for (int k = 0; k < 32; ++k) sum += q[b * 32 + k];
      s[b] = sum;
    }
  }

  const Part& part_of(int64_t n) const {
    size_t p = 0;
    while (p + 1 < parts_.size() && n >= parts_[p + 1].n0) ++p;
    return parts_[p];
  }

  void run_output(const float* x, int64_t ldx, const QuantizedRows* q32, const QuantizedRows* q256, int64_t r0,
                  int rows, int64_t n, float* y, int64_t ldy) const {
    const Part& p = part_of(n);
    const TypeTraits& t = *p.traits;
    ActView a;
    if (t.act == ActQuant::F32) {
      a.x = x + r0 * ldx;
      a.ldx = ldx;
    } else {
      const QuantizedRows& qr = t.act == ActQuant::Q8_K ? *q256 : *q32;
      a.q = qr.q.data() + r0 * n_in_;
      a.ldq = n_in_;
      a.ldd = n_in_ / qr.block;
      a.d = qr.d.data() + r0 * a.ldd;
      a.lds = n_in_ / 32;
      a.s = qr.s.data() + r0 * a.lds;
    }
    const uint8_t* w = base_ + p.offset + size_t(n - p.n0) * p.row_bytes;
    const int64_t per_chunk = n_in_ / k_chunks_ / t.block_elems;  // blocks per K-chunk
    float acc[kMaxDotRows];
    float stack[kMaxDotRows][7];
    for (int c = 0; c < k_chunks_; ++c) {
      for (int i = 0; i < rows; ++i) acc[i] = 0.0f;
      t.dot(w, c * per_chunk, (c + 1) * per_chunk, a, rows, acc);
      for (int i = 0; i < rows; ++i) chunk_tree_push(stack[i], c, acc[i]);
    }
    for (int i = 0; i < rows; ++i) y[(r0 + i) * ldy + n] = acc[i];
  }
};

thread_local QuantizedRows QuantLinear::act32_;
thread_local QuantizedRows QuantLinear::act256_;

}  // namespace

std::unique_ptr<Linear> make_linear_quant(const WeightView* parts, int n_parts, int n_threads, int k_chunks,
                                          WeightArena* arena) {
  return std::make_unique<QuantLinear>(parts, n_parts, n_threads, k_chunks, arena);
}

}  // namespace sci_infer
