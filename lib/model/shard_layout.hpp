#pragma once
// Which slice of every weight a tensor-parallel rank holds (Megatron-style split).
//
//   Q, K, V (column-parallel)  heads [q_head0, +n_q_heads), KV heads [kv_head0, +n_kv_heads)
//   attn_output (row-parallel) its K columns = the same Q heads
//   gate, up (column-parallel) FFN rows [ffn0, +n_ffn)
//   ffn_down (row-parallel)    its K columns = the same FFN rows
//   token_embd / output        vocabulary rows [vocab0, +n_vocab), gathered after use
//   norms                      replicated
// (each tensor's split is its role's, from the architecture table: model/architecture.hpp;
// biases follow their weight's output rows, and row-parallel biases are replicated and added
// once, after the partial sums are combined)
//
// GQA: KV heads are split when tp divides their count and replicated (each rank keeps the one
// KV head its query heads read) when their count divides tp.
//
// The row-parallel layers always reduce over kReductionChunks K-chunks (tp = 1 included) and
// combine them in one fixed tree, so tp changes which rank computes a chunk, never the bits.
#include <cstdint>
#include <string>

#include "sci_infer/model.hpp"

namespace sci_infer {

// Part of the model's numerics, like the RoPE table: changing it changes every result. A
// model whose widths are not multiples of 16 uses the largest power of two dividing them.
constexpr int kReductionChunks = 16;

struct ShardLayout {
  int tp = 1, rank = 0;
  int32_t q_head0 = 0, n_q_heads = 0;
  int32_t kv_head0 = 0, n_kv_heads = 0;
  int32_t ffn0 = 0, n_ffn = 0;
  int32_t vocab0 = 0, n_vocab = 0;   // this rank's vocabulary rows (the last rank may hold fewer)
  int reduction_chunks = kReductionChunks;  // chunks over the full K of a row-parallel layer
  int local_chunks() const { return reduction_chunks / tp; }

  int32_t q_dim(int32_t head_dim) const { return n_q_heads * head_dim; }
  int32_t kv_dim(int32_t head_dim) const { return n_kv_heads * head_dim; }
  // Vocabulary rows of rank r (uneven vocabularies: the first ranks take one row more).
  static void vocab_range(int32_t n_vocab, int tp, int r, int32_t& first, int32_t& count);

  // Throws sci_infer::Error saying which count tp does not divide (or which slice is not
  // block-aligned for the weight type) when the model cannot be split tp ways.
  static ShardLayout make(const ModelConfig& c, int tp, int rank);
};

// This rank's slice of the model's tensor `name` (rows or columns, as above; norms whole).
// If the model file is itself the shard of this layout, its tensors are returned as they are.
WeightView shard_slice(const Model& model, const std::string& name, const ShardLayout& s);

}  // namespace sci_infer
