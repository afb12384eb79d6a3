#pragma once
// The transformer's non-GEMM kernels, in Kokkos so they run on any backend.
//
// Reproducibility rules every kernel here follows:
//  * one token's row is computed from that row alone (plus the KV cache for attention), so the
//    other tokens in the batch never change its bits;
//  * every reduction runs in a fixed order set by the model shape only: row sums are sequential,
//    attention splits keys into fixed blocks of kKvBlock positions and combines the blocks in
//    position order; no parallel_reduce, no atomics.
#include <Kokkos_Core.hpp>
#include <cstdint>

#include "sci_infer/tensor_types.hpp"

namespace sci_infer {

using Matrix = Kokkos::View<float**, Kokkos::LayoutRight>;
using Vector = Kokkos::View<float*>;
using IntVector = Kokkos::View<int32_t*>;
using IntMatrix = Kokkos::View<int32_t**, Kokkos::LayoutRight>;
using ByteVector = Kokkos::View<uint8_t*>;

constexpr int kKvBlock = 32;  // positions per KV-cache page and per attention key block

// The tokens of one forward step: a flat list over all sequences in the batch.
struct StepTokens {
  int32_t n = 0;
  IntVector token;      // token id, or -1 when the input is an embedding row
  IntVector emb_row;    // row of StepInputs::embeddings used when token == -1
  IntVector seq_slot;   // KV-cache slot of the token's sequence
  IntVector position;   // position within its sequence
  int32_t max_position = 0;
};

// Host threads the kernels may use when Kokkos runs on its Serial backend (see ops.cpp); the
// engine sets its thread count before each step. Results do not depend on it.
void set_kernel_threads(int n);
int kernel_threads();

// x[t] = embedding of token[t] (row t of `rows`, the step's gathered rows of the table, decoded
// from its stored type) or embeddings[emb_row[t]]. Tokens outside this rank's vocabulary slice
// [vocab0, vocab0 + n_rows) are left untouched for their owner rank to fill.
void embed_tokens(const ByteVector& rows, GgmlType type, int32_t dim, int32_t vocab0, int32_t n_rows,
                  const StepTokens& st, const Matrix& embeddings, const Matrix& x);

// out[t] = x[t] / sqrt(mean(x[t]^2) + eps) * w, for the first n rows.
void rms_norm(const Matrix& x, const Vector& w, float eps, int32_t n, const Matrix& out);

// cos_sin[t][2i], [2i+1] = mscale * cos, sin of position[t] * inv_freq[i], computed in double and
// rounded once; built once per step and shared by every layer and head. inv_freq holds each
// pair's whole frequency (base, factors, scaling: engine/model_weights.cpp).
void rope_table(const Kokkos::View<double*>& inv_freq, double mscale, const StepTokens& st, const Matrix& cos_sin);

// Rotates the pairs of each head in columns [col0, col0 + n_heads*head_dim) by the angles of
// rope_table: pairs (2i, 2i+1) (llama.cpp's "NORM" layout) or, with neox, (i, i + head_dim/2).
void rope(const Matrix& qkv, int32_t col0, int32_t n_heads, int32_t head_dim, bool neox, const Matrix& cos_sin,
          int32_t n);

// Paged KV cache of one model, K and V apart: K is [layer][page][kv_dim][slot in page] (keys of a
// page contiguous per dimension, for the score loop), V is [layer][page][slot in page][kv_dim].
struct KvCacheViews {
  Kokkos::View<float****, Kokkos::LayoutRight> k, v;
  IntMatrix page_table;  // [sequence slot][page index within sequence] -> page
};

// Copies the K and V columns of qkv into the cache at each token's (slot, position).
void kv_store(const Matrix& qkv, int32_t k_col0, int32_t v_col0, int32_t kv_dim, int32_t layer,
              const StepTokens& st, const KvCacheViews& cache);

// What varies between architectures inside attention.
struct AttentionRecipe {
  float scale = 0.0f;    // score scale; 0: 1/sqrt(head_dim)
  float softcap = 0.0f;  // scores = c * tanh(scores / c) after scaling; 0: none
  int32_t window = 0;    // a query at p sees keys p - window + 1 .. p; 0: all of 0 .. p
  bool neox = false;     // RoPE pairs (i, i + head_dim/2): the score dot runs in pair order
  // gpt-oss attention sinks: one logit s_h per query head of this rank (its slice under tp) that
  // joins the softmax, p_j = exp(score_j - m) / (sum_i exp(score_i - m) + exp(s_h - m)) with
  // m = max(scores, s_h), and contributes no value; its term is added after the key blocks.
  // Extent 0: none.
  Vector sinks;
};

// Causal grouped-query attention of each token over positions 0..position[t] of its sequence
// (or its sliding window).
void attention(const Matrix& qkv, int32_t n_heads, int32_t n_kv_heads, int32_t head_dim, int32_t layer,
               const StepTokens& st, const KvCacheViews& cache, const Matrix& out, const AttentionRecipe& recipe);

// out[t][j] = silu(gu[t][j]) * gu[t][ffn + j]  (gate and up stacked in one GEMM output).
void swiglu(const Matrix& gate_up, int32_t ffn, int32_t n, const Matrix& out);

// out[t][j] = gelu_tanh(gu[t][j]) * gu[t][ffn + j]  (GeGLU, Gemma).
void geglu(const Matrix& gate_up, int32_t ffn, int32_t n, const Matrix& out);

// y[t][col0 + j] += b[j] for the first n rows: biases, added after the GEMM chain.
void add_bias(const Matrix& y, int32_t col0, const Vector& b, int32_t n);

// Per-head RMS norm (QK-norm): each head_dim slice of columns [col0, col0 + n_heads*head_dim)
// normalized and multiplied by w (head_dim weights).
void head_rms_norm(const Matrix& x, int32_t col0, int32_t n_heads, int32_t head_dim, const Vector& w, float eps,
                   int32_t n);

// x[t][col0 + j] *= s for j < n_cols, the first n rows.
void scale_columns(const Matrix& x, int32_t col0, int32_t n_cols, float s, int32_t n);


// x = c * tanh(x / c) on the first n rows (final logit soft-capping).
void softcap_rows(const Matrix& x, float c, int32_t n);

// x[t] += y[t] for the first n rows.
void add_rows(const Matrix& x, const Matrix& y, int32_t n);

// dst[i] = src[rows[i]] for i < rows.extent(0).
void gather_rows(const Matrix& src, const IntVector& rows, const Matrix& dst);

}  // namespace sci_infer
