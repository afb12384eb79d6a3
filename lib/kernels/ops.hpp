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

// cos_sin[t][2i], [2i+1] = cos, sin of position[t] * inv_freq[i], computed in double and rounded
// once; built once per step and shared by every layer and head.
void rope_table(const Kokkos::View<double*>& inv_freq, const StepTokens& st, const Matrix& cos_sin);

// Rotates consecutive pairs (2i, 2i+1) of each head in columns [col0, col0 + n_heads*head_dim)
// by the angles of rope_table (llama.cpp's "NORM" RoPE layout for arch llama).
void rope(const Matrix& qkv, int32_t col0, int32_t n_heads, int32_t head_dim, const Matrix& cos_sin, int32_t n);

// Paged KV cache of one model, K and V apart: K is [layer][page][kv_dim][slot in page] (keys of a
// page contiguous per dimension, for the score loop), V is [layer][page][slot in page][kv_dim].
struct KvCacheViews {
  Kokkos::View<float****, Kokkos::LayoutRight> k, v;
  IntMatrix page_table;  // [sequence slot][page index within sequence] -> page
};

// Copies the K and V columns of qkv into the cache at each token's (slot, position).
void kv_store(const Matrix& qkv, int32_t k_col0, int32_t v_col0, int32_t kv_dim, int32_t layer,
              const StepTokens& st, const KvCacheViews& cache);

// Causal grouped-query attention of each token over positions 0..position[t] of its sequence.
// sinks (gpt-oss): one logit s_h per query head of this rank (its slice under tp) that joins
// the softmax: p_j = exp(score_j - m) / (sum_i exp(score_i - m) + exp(s_h - m)), m = max(scores,
// s_h); it contributes no value. Its term is added after the key blocks. Empty: no sinks.
void attention(const Matrix& qkv, int32_t n_heads, int32_t n_kv_heads, int32_t head_dim, int32_t layer,
               const StepTokens& st, const KvCacheViews& cache, const Matrix& out, const Vector& sinks = Vector());

// out[t][j] = silu(gu[t][j]) * gu[t][ffn + j]  (gate and up stacked in one GEMM output).
void swiglu(const Matrix& gate_up, int32_t ffn, int32_t n, const Matrix& out);

// x[t] += y[t] for the first n rows.
void add_rows(const Matrix& x, const Matrix& y, int32_t n);

// dst[i] = src[rows[i]] for i < rows.extent(0).
void gather_rows(const Matrix& src, const IntVector& rows, const Matrix& dst);

}  // namespace sci_infer
