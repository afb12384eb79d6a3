// Kokkos kernels of the transformer block (see ops.hpp for the reproducibility rules).
#include "kernels/ops.hpp"
#include "kernels/ops_loops.hpp"
#include "kernels/ops_math.hpp"
#include "kernels/portable_math.hpp"
#include "kernels/quant_blocks.hpp"

#include <omp.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <type_traits>
#include <vector>

namespace sci_infer {
namespace {

std::atomic<int> g_kernel_threads{1};
using namespace kernel_loops;

// Embedding rows stay in the file's type; one element decodes exactly as ggml dequantizes it
// (the type registry's block layouts, quant_blocks.hpp).
KOKKOS_INLINE_FUNCTION float decode_element(const uint8_t* row, GgmlType type, int32_t j) {
  return qblock::dequant_element(type, row, j);
}

KOKKOS_INLINE_FUNCTION size_t row_bytes_device(GgmlType type, int32_t n) {
  return size_t(n / qblock::block_elems(type)) * size_t(qblock::block_bytes(type));
}

}  // namespace

void set_kernel_threads(int n) { g_kernel_threads = n > 0 ? n : 1; }
int kernel_threads() { return g_kernel_threads; }

void embed_tokens(const ByteVector& rows, GgmlType type, int32_t dim, int32_t vocab0, int32_t n_rows,
                  const StepTokens& st, const Matrix& embeddings, const Matrix& x) {
  const auto token = st.token;
  const auto emb_row = st.emb_row;
  const size_t row_bytes = row_bytes_device(type, dim);
  for_each_cell("sci_infer::embed_tokens", st.n, dim,
      KOKKOS_LAMBDA(const int32_t t, const int32_t j) {
        const int32_t id = token(t);
        if (id < 0) {
          x(t, j) = embeddings(emb_row(t), j);
        } else if (id >= vocab0 && id < vocab0 + n_rows) {  // else another rank's row
          x(t, j) = decode_element(rows.data() + size_t(t) * row_bytes, type, j);
        }
      });
}

void rms_norm(const Matrix& x, const Vector& w, float eps, int32_t n, const Matrix& out) {
  const int32_t dim = static_cast<int32_t>(x.extent(1));
  for_each_row("sci_infer::rms_norm", n, KOKKOS_LAMBDA(const int32_t t) {
    double ss = 0.0;  // sequential, in double: fixed order and no cancellation worries
    for (int32_t j = 0; j < dim; ++j) ss += double(x(t, j)) * double(x(t, j));
    const float scale = static_cast<float>(1.0 / sqrt(ss / dim + double(eps)));
    for (int32_t j = 0; j < dim; ++j) out(t, j) = (x(t, j) * scale) * w(j);
  });
}

void rope_table(const Kokkos::View<double*>& inv_freq, double mscale, const StepTokens& st, const Matrix& cos_sin) {
  const auto position = st.position;
  const int32_t half = static_cast<int32_t>(inv_freq.extent(0));
  for_each_cell("sci_infer::rope_table", st.n, half,
      KOKKOS_LAMBDA(const int32_t t, const int32_t i) {
        // The angle depends on (position, i) only, computed in double then rounded once.
        const double angle = double(position(t)) * inv_freq(i);
        double s, c;
        pmath::sincos_f64(angle, &s, &c);  // one implementation on every backend
        cos_sin(t, 2 * i) = static_cast<float>(c * mscale);
        cos_sin(t, 2 * i + 1) = static_cast<float>(s * mscale);
      });
}

void rope(const Matrix& qkv, int32_t col0, int32_t n_heads, int32_t head_dim, bool neox, const Matrix& cos_sin,
          int32_t n) {
  const int32_t half = head_dim / 2;
  // The two elements of pair i: (2i, 2i+1), or (i, i + half) in the NEOX layout.
  const int32_t first_step = neox ? 1 : 2, second_offset = neox ? half : 1;
  for_each_cell("sci_infer::rope", n, n_heads * half,
      KOKKOS_LAMBDA(const int32_t t, const int32_t hp) {
        const int32_t h = hp / half, i = hp % half;
        const float c = cos_sin(t, 2 * i), s = cos_sin(t, 2 * i + 1);
        const int32_t col = col0 + h * head_dim + first_step * i;
        const float x0 = qkv(t, col), x1 = qkv(t, col + second_offset);
        qkv(t, col) = x0 * c - x1 * s;
        qkv(t, col + second_offset) = x0 * s + x1 * c;
      });
}

void kv_store(const Matrix& qkv, int32_t k_col0, int32_t v_col0, int32_t kv_dim, int32_t layer,
              const StepTokens& st, const KvCacheViews& cache) {
  const auto seq_slot = st.seq_slot;
  const auto position = st.position;
  const auto k = cache.k;
  const auto v = cache.v;
  const auto pages = cache.page_table;
  for_each_cell("sci_infer::kv_store", st.n, kv_dim,
      KOKKOS_LAMBDA(const int32_t t, const int32_t c) {
        const int32_t pos = position(t);
        const int32_t page = pages(seq_slot(t), pos / kKvBlock);
        k(layer, page, c, pos % kKvBlock) = qkv(t, k_col0 + c);
        v(layer, page, pos % kKvBlock, c) = qkv(t, v_col0 + c);
      });
}

namespace {

// c * tanh(x / c), llama.cpp's order: x scaled by 1/c, tanh, scaled by c.
KOKKOS_INLINE_FUNCTION float softcap_score(float x, float cap) { return tanh_f(x * (1.0f / cap)) * cap; }

// Causal attention of one (token, query head), in two parts that every backend runs the same way:
// block(b) reduces key block b (32 positions) to its max score, sum of exponentials and
// exp-weighted sum of V; combine() merges the blocks in position order.
struct AttentionKernel {
  Matrix qkv, out;
  Kokkos::View<float****, Kokkos::LayoutRight> kc, vc;
  IntMatrix pages;
  IntVector seq_slot, position;
  int32_t n_heads, group, head_dim, layer, part;
  float scale;
  AttentionRecipe recipe;

  KOKKOS_INLINE_FUNCTION int32_t blocks(int32_t t) const { return position(t) / kKvBlock + 1; }
  // The first position a query at position(t) sees (sliding window), and its key block.
  KOKKOS_INLINE_FUNCTION int32_t first_position(int32_t t) const {
    const int32_t lo = recipe.window > 0 ? position(t) - recipe.window + 1 : 0;
    return lo > 0 ? lo : 0;
  }
  KOKKOS_INLINE_FUNCTION int32_t first_block(int32_t t) const { return first_position(t) / kKvBlock; }
  // Pair order of the score dot product: for each RoPE pair, its first then its second element,
  // so a NEOX-layout head and its llama.cpp-permuted NORM twin sum the same products in the same
  // order (see docs/reproducibility.md).
  KOKKOS_INLINE_FUNCTION int32_t dot_dim(int32_t k) const {
    return recipe.neox ? (k % 2 == 0 ? k / 2 : k / 2 + head_dim / 2) : k;
  }

  KOKKOS_INLINE_FUNCTION void block(int32_t t, int32_t h, int32_t b, float* p) const {
    const int32_t kvh = h / group, pos = position(t), qcol = h * head_dim;
    const int32_t page = pages(seq_slot(t), b);
    const int32_t j_end = (b == blocks(t) - 1) ? pos % kKvBlock + 1 : kKvBlock;
    const int32_t j_begin = (b == first_block(t)) ? first_position(t) - b * kKvBlock : 0;
    // Scores of the block's keys: K pages are stored [dim][position], so the inner loop runs
    // over positions (vectorizable) while each score is still summed over d in order.
    float score[kKvBlock];
    for (int32_t j = 0; j < kKvBlock; ++j) score[j] = 0.0f;
    for (int32_t k = 0; k < head_dim; ++k) {
      const int32_t d = dot_dim(k);
      const float qd = qkv(t, qcol + d);
      const float* krow = &kc(layer, page, kvh * head_dim + d, 0);
      for (int32_t j = 0; j < j_end; ++j) score[j] = fmaf(qd, krow[j], score[j]);  // unwritten slots never read
    }
    float m = -INFINITY;
    for (int32_t j = j_begin; j < j_end; ++j) {
      score[j] *= scale;
      if (recipe.softcap > 0.0f) score[j] = softcap_score(score[j], recipe.softcap);
      m = score[j] > m ? score[j] : m;
    }
    float l = 0.0f;
    for (int32_t d = 0; d < head_dim; ++d) p[2 + d] = 0.0f;
    for (int32_t j = j_begin; j < j_end; ++j) {
      const float e = pmath::exp_f32(score[j] - m);
      l += e;
      const float* vrow = &vc(layer, page, j, kvh * head_dim);
      for (int32_t d = 0; d < head_dim; ++d) p[2 + d] = fmaf(e, vrow[d], p[2 + d]);
    }
    p[0] = m;
    p[1] = l;
  }

  // partial: blocks(t) records of `part` floats; w: blocks(t) floats of workspace.
  KOKKOS_INLINE_FUNCTION void combine(int32_t t, int32_t h, const float* partial, float* w) const {
    const int32_t n_blocks = blocks(t), b0 = first_block(t), qcol = h * head_dim;
    // Attention sink (gpt-oss, ggml_soft_max_ext's sinks): an unscaled logit that joins the max
    // and, after the blocks, the denominator, and has no value row.
    const bool sink = recipe.sinks.extent(0) > 0;
    float m = sink ? recipe.sinks(h) : -INFINITY;  // max is order-free; sums below are sequential in block order
    for (int32_t b = b0; b < n_blocks; ++b) m = partial[b * part] > m ? partial[b * part] : m;
    float l = 0.0f;
    for (int32_t b = b0; b < n_blocks; ++b) {
      w[b] = pmath::exp_f32(partial[b * part] - m);
      l += w[b] * partial[b * part + 1];
    }
    if (sink) l += expf(recipe.sinks(h) - m);
    for (int32_t d = 0; d < head_dim; ++d) {
      float acc = 0.0f;
      for (int32_t b = b0; b < n_blocks; ++b) acc += w[b] * partial[b * part + 2 + d];
      out(t, qcol + d) = acc / l;
    }
  }
};

}  // namespace

void attention(const Matrix& qkv, int32_t n_heads, int32_t n_kv_heads, int32_t head_dim, int32_t layer,
               const StepTokens& st, const KvCacheViews& cache, const Matrix& out, const AttentionRecipe& recipe) {
  const float scale = recipe.scale > 0.0f ? recipe.scale : static_cast<float>(1.0 / std::sqrt(double(head_dim)));
  const AttentionKernel a{qkv, out, cache.k, cache.v, cache.page_table, st.seq_slot, st.position, n_heads,
                          n_heads / n_kv_heads, head_dim, layer, head_dim + 2, scale, recipe};
  const int32_t max_blocks = st.max_position / kKvBlock + 1;
  const size_t work_floats = size_t(max_blocks) * (a.part + 1);
  if (host_fan_out()) {
    // Serial backend, OpenMP threads. A work item is a run of up to `tile` consecutive tokens of
    // one sequence times one KV head, so the item's queries (tokens x the heads sharing that KV
    // head) reuse each K/V block while it is in L1. Every (token, head) still performs exactly
    // the same operations in the same order as above: grouping never changes a bit.
    const int32_t group = a.group, part = a.part;
    const size_t per_query = size_t(max_blocks) * part;
    const int32_t tile = int32_t(std::max<size_t>(1, std::min<size_t>(8, (256u << 10) / (per_query * group))));
    std::vector<int32_t> run_start;  // item runs [run_start[i], run_start[i + 1])
    for (int32_t t = 0; t < st.n; ++t)
      if (t == 0 || a.seq_slot(t) != a.seq_slot(t - 1) || t - run_start.back() == tile) run_start.push_back(t);
    const int64_t n_runs = int64_t(run_start.size());
    run_start.push_back(st.n);
    const int64_t items = n_runs * n_kv_heads;
#pragma omp parallel num_threads(kernel_threads()) if (items > 1)
    {
      std::vector<float> buf(per_query * tile * group + max_blocks);
      float* w = &buf[per_query * tile * group];
#pragma omp for schedule(dynamic, 1)
      for (int64_t i = 0; i < items; ++i) {
        const int32_t t0 = run_start[i / n_kv_heads], t1 = run_start[i / n_kv_heads + 1];
        const int32_t h0 = int32_t(i % n_kv_heads) * group;
        auto partial = [&](int32_t t, int32_t h) { return &buf[per_query * (size_t(t - t0) * group + (h - h0))]; };
        for (int32_t b = 0; b < a.blocks(t1 - 1); ++b)  // positions grow within a run
          for (int32_t t = t0; t < t1; ++t)
            if (b < a.blocks(t) && b >= a.first_block(t))
              for (int32_t h = h0; h < h0 + group; ++h) a.block(t, h, b, partial(t, h) + size_t(b) * part);
        for (int32_t t = t0; t < t1; ++t)
          for (int32_t h = h0; h < h0 + group; ++h) a.combine(t, h, partial(t, h), w);
      }
    }
    return;
  }
  using Policy = Kokkos::TeamPolicy<>;
  using Member = Policy::member_type;
  using Scratch = Kokkos::View<float*, Kokkos::DefaultExecutionSpace::scratch_memory_space,
                               Kokkos::MemoryTraits<Kokkos::Unmanaged>>;
  const size_t scratch_bytes = Scratch::shmem_size(work_floats);
  const int level = scratch_bytes <= 32 * 1024 ? 0 : 1;
  Policy policy(st.n * n_heads, Kokkos::AUTO);
  Kokkos::parallel_for(
      "sci_infer::attention", policy.set_scratch_size(level, Kokkos::PerTeam(scratch_bytes)),
      KOKKOS_LAMBDA(const Member& team) {
        const int32_t t = team.league_rank() / a.n_heads;
        const int32_t h = team.league_rank() % a.n_heads;
        Scratch buf(team.team_scratch(level), work_floats);
        Kokkos::parallel_for(Kokkos::TeamThreadRange(team, a.first_block(t), a.blocks(t)),
                             [&](const int32_t b) { a.block(t, h, b, &buf(size_t(b) * a.part)); });
        team.team_barrier();
        Kokkos::single(Kokkos::PerTeam(team),
                       [&]() { a.combine(t, h, buf.data(), buf.data() + size_t(max_blocks) * a.part); });
      });
}

void swiglu(const Matrix& gate_up, int32_t ffn, int32_t n, const Matrix& out) {
  for_each_cell("sci_infer::swiglu", n, ffn, KOKKOS_LAMBDA(const int32_t t, const int32_t j) {
    const float g = gate_up(t, j);
    out(t, j) = g / (1.0f + pmath::exp_f32(-g)) * gate_up(t, ffn + j);
  });
}

void add_rows(const Matrix& x, const Matrix& y, int32_t n) {
  const int32_t dim = static_cast<int32_t>(x.extent(1));
  for_each_cell("sci_infer::add_rows", n, dim,
      KOKKOS_LAMBDA(const int32_t t, const int32_t j) { x(t, j) += y(t, j); });
}

void gather_rows(const Matrix& src, const IntVector& rows, const Matrix& dst) {
  const int32_t dim = static_cast<int32_t>(src.extent(1));
  Kokkos::parallel_for(
      "sci_infer::gather_rows",
      Kokkos::MDRangePolicy<Kokkos::Rank<2>>({0, 0}, {int32_t(rows.extent(0)), dim}),
      KOKKOS_LAMBDA(const int32_t i, const int32_t j) { dst(i, j) = src(rows(i), j); });
}

}  // namespace sci_infer
