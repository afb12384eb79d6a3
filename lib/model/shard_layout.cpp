#include "model/shard_layout.hpp"

#include <algorithm>

#include "model/architecture.hpp"
#include "sci_infer/error.hpp"

namespace sci_infer {

void ShardLayout::vocab_range(int32_t n_vocab, int tp, int r, int32_t& first, int32_t& count) {
  const int32_t base = n_vocab / tp, extra = n_vocab % tp;
  first = r * base + std::min<int32_t>(r, extra);
  count = base + (r < extra ? 1 : 0);
}

ShardLayout ShardLayout::make(const ModelConfig& c, int tp, int rank) {
  const std::string what = "tensor parallelism " + std::to_string(tp) + " for model '" + c.name + "': ";
  if (tp < 1 || rank < 0 || rank >= tp) throw Error(what + "rank " + std::to_string(rank) + " is outside the group");
  if (c.shard_tp > 1 && (c.shard_tp != tp || c.shard_rank != rank))
    throw Error(what + "rank " + std::to_string(rank) + " opened the shard file of rank " + std::to_string(c.shard_rank) +
                " of " + std::to_string(c.shard_tp) + " (name the shards with {tp_rank} and use --tp " +
                std::to_string(c.shard_tp) + ")");
  if ((tp & (tp - 1)) != 0 || kReductionChunks % tp != 0)
    throw Error(what + "tp must be a power of two up to " + std::to_string(kReductionChunks) +
                " (the row-parallel layers reduce over " + std::to_string(kReductionChunks) + " fixed K-chunks)");
  if (c.n_heads % tp != 0)
    throw Error(what + "tp does not divide the " + std::to_string(c.n_heads) + " attention heads");
  if (c.n_kv_heads % tp != 0 && tp % c.n_kv_heads != 0)
    throw Error(what + "the " + std::to_string(c.n_kv_heads) + " KV heads can be neither split nor replicated tp ways");
  if (c.ffn_dim % tp != 0) throw Error(what + "tp does not divide the FFN width " + std::to_string(c.ffn_dim));
  const int64_t q_dim = int64_t(c.n_heads) * c.head_dim;
  // Chunks are whole quantization blocks (Q8_0: 32 values), so every backend can cut there.
  const int64_t unit = static_cast<int64_t>(ggml_block_elems(c.weight_type));
  int chunks = kReductionChunks;
  while (chunks > 1 && (q_dim % (chunks * unit) != 0 || c.ffn_dim % (chunks * unit) != 0)) chunks /= 2;
  if (chunks % tp != 0)
    throw Error(what + "this model's row-parallel layers reduce over " + std::to_string(chunks) +
                " fixed K-chunks (attention width " + std::to_string(q_dim) + ", FFN width " +
                std::to_string(c.ffn_dim) + "), which tp must divide");
  ShardLayout s;
  s.reduction_chunks = chunks;
  s.tp = tp;
  s.rank = rank;
  s.n_q_heads = c.n_heads / tp;
  s.q_head0 = rank * s.n_q_heads;
  if (c.n_kv_heads % tp == 0) {
    s.n_kv_heads = c.n_kv_heads / tp;
    s.kv_head0 = rank * s.n_kv_heads;
  } else {  // replicated: this rank's query heads all read one KV head
    s.n_kv_heads = 1;
    s.kv_head0 = s.q_head0 / (c.n_heads / c.n_kv_heads);
  }
  s.n_ffn = c.ffn_dim / tp;
  s.ffn0 = rank * s.n_ffn;
  vocab_range(c.n_vocab, tp, rank, s.vocab0, s.n_vocab);
  // Row-parallel weights are cut along K: quantised blocks must not straddle the cut.
  const int64_t block = unit;
  if (tp > 1 && (int64_t(s.n_q_heads) * c.head_dim % block != 0 || s.n_ffn % block != 0))
    throw Error(what + "a " + ggml_type_name(c.weight_type) + " weight cannot be cut into slices of " +
                std::to_string(s.n_q_heads * c.head_dim) + " and " + std::to_string(s.n_ffn) + " columns (blocks of " +
                std::to_string(block) + ")");
  return s;
}

}  // namespace sci_infer

namespace sci_infer {

WeightView shard_slice(const Model& model, const std::string& name, const ShardLayout& s) {
  const WeightView w = model.weight(name);
  const ModelConfig& c = model.config();
  if (c.shard_tp == s.tp) return w;  // a shard file: already this rank's slice
  Role role;
  int layer;
  if (!parse_tensor_role(name, role, layer)) throw Error(name + ": no tensor role of the architecture tables");
  const int64_t hd = c.head_dim;
  // A vector (bias) is cut along its elements, a matrix along its rows or K columns.
  const bool vec = w.n_out == 1 && role_info(role).shape.size() == 1;
  auto cut_rows = [&](int64_t r0, int64_t n) { return vec ? w.columns(r0, n) : w.rows(r0, n); };
  switch (role_info(role).split) {
    case Split::Replicated: return w;
    case Split::VocabRows: return cut_rows(s.vocab0, s.n_vocab);
    case Split::QHeadRows:
      return role == Role::AttnSinks ? cut_rows(s.q_head0, s.n_q_heads) : cut_rows(s.q_head0 * hd, s.q_dim(c.head_dim));
    case Split::KvHeadRows: return cut_rows(s.kv_head0 * hd, s.kv_dim(c.head_dim));
    case Split::FfnRows: return cut_rows(s.ffn0, s.n_ffn);
    case Split::QHeadCols: return w.columns(s.q_head0 * hd, s.q_dim(c.head_dim));
    case Split::FfnCols: return w.columns(s.ffn0, s.n_ffn);
  }
  return w;
}

}  // namespace sci_infer
