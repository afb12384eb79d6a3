#include "engine/forward_pass.hpp"

#include <algorithm>
#include <cstring>

#include "kernels/device_embed.hpp"
#include "kernels/device_space.hpp"

namespace sci_infer {

ForwardPass::ForwardPass(const ModelConfig& c, const ShardLayout& s, TensorComm& comm, int32_t max_tokens)
    : c_(c),
      s_(s),
      comm_(comm),
      max_tokens_(max_tokens),
      q_dim_(s.q_dim(c.head_dim)),
      kv_dim_(s.kv_dim(c.head_dim)),
      ffn_(s.n_ffn) {
  for (int r = 0; r < s.tp; ++r) {
    int32_t first, count;
    ShardLayout::vocab_range(c.n_vocab, s.tp, r, first, count);
    vocab_counts_.push_back(count);
  }
  auto mat = [&](const char* name, int64_t cols) {
    return Matrix(Kokkos::ViewAllocateWithoutInitializing(name), max_tokens, cols);
  };
  x_ = mat("x", c.dim);
  h_ = mat("h", c.dim);
  qkv_ = mat("qkv", q_dim_ + 2 * kv_dim_);
  att_ = mat("att", q_dim_);
  tmp_ = mat("tmp", c.dim);
  gate_up_ = mat("gate_up", 2 * int64_t(ffn_));
  act_ = mat("act", ffn_);
  sel_ = mat("sel", c.dim);
  // Logit rows grow with the rows a step asks for (run): max_tokens x n_vocab up front would
  // be 512 rows of a vocabulary that only a whole-prompt score or logits step ever needs.
  logits_ = Matrix(Kokkos::ViewAllocateWithoutInitializing("logits"), 1, s.n_vocab);
  rope_cs_ = mat("rope_cos_sin", c.head_dim);
  for (uint8_t swa : c.swa_layers) any_swa_ |= swa != 0;
  if (any_swa_) rope_cs_swa_ = mat("rope_cos_sin_swa", c.head_dim);
  if (c.n_expert > 0)
    moe_ws_ = MoeWorkspace(max_tokens, c.n_expert, c.n_expert_used, c.dim,
                           c.expert_ffn);  // an upper bound of every layout's rows per expert
  st_.token = IntVector("step_token", max_tokens);
  st_.emb_row = IntVector("step_emb_row", max_tokens);
  st_.seq_slot = IntVector("step_seq_slot", max_tokens);
  st_.position = IntVector("step_position", max_tokens);
  token_h_ = Kokkos::create_mirror_view(st_.token);
  emb_row_h_ = Kokkos::create_mirror_view(st_.emb_row);
  slot_h_ = Kokkos::create_mirror_view(st_.seq_slot);
  pos_h_ = Kokkos::create_mirror_view(st_.position);
  out_rows_ = IntVector("out_rows", max_tokens);
  out_rows_h_ = Kokkos::create_mirror_view(out_rows_);
  emb_in_ = mat("emb_in", c.dim);
  emb_in_h_ = Kokkos::create_mirror_view(emb_in_);
}

// Rows [0, n) of m readable and writable by the host: m itself on host backends; on a device
// backend a copy of just those rows in stage_ (rows_from_host writes them back).
float* ForwardPass::rows_to_host(const Matrix& m, int64_t n) {
  Kokkos::fence();
  if (!device_backend()) return m.data();
  const int64_t cols = static_cast<int64_t>(m.extent(1));
  if (stage_.size() < size_t(n * cols)) stage_.resize(size_t(n * cols));
  Kokkos::deep_copy(Matrix::HostMirror(stage_.data(), n, cols), Kokkos::subview(m, std::make_pair(int64_t(0), n), Kokkos::ALL()));
  return stage_.data();
}

void ForwardPass::rows_from_host(const Matrix& m, int64_t n) {
  if (!device_backend()) return;
  const int64_t cols = static_cast<int64_t>(m.extent(1));
  Kokkos::deep_copy(Kokkos::subview(m, std::make_pair(int64_t(0), n), Kokkos::ALL()), Matrix::HostMirror(stage_.data(), n, cols));
}

void ForwardPass::linear(const Linear& l, const Matrix& in, int32_t n, const Matrix& out) {
  // Host GEMM kernels must wait for the Kokkos kernels that wrote `in`; on a device backend the
  // GEMM is a Kokkos kernel on the same instance, ordered without a fence.
  if (!device_backend()) Kokkos::fence();
  l.forward(in.data(), n, static_cast<int64_t>(in.extent(1)), out.data(), static_cast<int64_t>(out.extent(1)));
}

// Partial sums of a row-parallel layer -> the full output on every rank of the group.
void ForwardPass::sum_partials(const Matrix& y, int32_t n) {
  if (comm_.size() == 1) return;
  float* host = rows_to_host(y, n);  // only the step's n rows travel (MPI is not GPU-aware here)
  comm_.sum_partials(host, n, c_.dim, static_cast<int64_t>(y.extent(1)));
  rows_from_host(y, n);
}

// Token embeddings: each rank decodes the rows of its vocabulary slice, then the group swaps
// them (exact copies, so the residual stream is identical on every rank).
void ForwardPass::embed(const StepPlan& plan, const ModelWeights& w) {
  // Gather this step's rows of the table (row t for token t) and decode them in the kernel.
  const size_t row_bytes = w.token_embd_row_bytes, n = plan.tokens.size();
  if (emb_rows_.extent(0) < size_t(max_tokens_) * row_bytes) {  // once: the step budget's rows
    emb_rows_ = ByteVector(Kokkos::ViewAllocateWithoutInitializing("emb_rows"), std::max<size_t>(max_tokens_, 1) * row_bytes);
    emb_rows_h_ = Kokkos::create_mirror_view(emb_rows_);
  }
  if (w.token_embd_device.extent(0) > 0) {  // device backend: the table is on the device
    gather_table_rows(w.token_embd_device, row_bytes, w.vocab0, w.n_vocab_rows, st_, emb_rows_);
  } else {
    for (size_t i = 0; i < n; ++i) {
      const int32_t id = plan.tokens[i].token;
      if (id >= w.vocab0 && id < w.vocab0 + w.n_vocab_rows) w.copy_embedding_row(id, &emb_rows_h_(i * row_bytes));
    }
    Kokkos::deep_copy(emb_rows_, emb_rows_h_);  // a no-op on host backends (the same memory)
  }
  embed_tokens(emb_rows_, w.token_embd_type, c_.dim, w.vocab0, w.n_vocab_rows, st_, emb_in_, x_);
  if (comm_.size() == 1) return;
  row_owner_.assign(plan.tokens.size(), -1);
  for (size_t i = 0; i < plan.tokens.size(); ++i) {
    int32_t id = plan.tokens[i].token, first = 0;
    if (id < 0) continue;
    for (int r = 0; r < s_.tp; first += vocab_counts_[r], ++r)
      if (id < first + vocab_counts_[r]) {
        row_owner_[i] = r;
        break;
      }
  }
  float* host = rows_to_host(x_, int64_t(n));
  comm_.share_rows(host, static_cast<int64_t>(n), c_.dim, c_.dim, row_owner_);
  rows_from_host(x_, int64_t(n));
}

StepOutputs ForwardPass::run(const StepPlan& plan, const KvCacheViews& cache, const ModelWeights& w) {
  const int32_t n = static_cast<int32_t>(plan.tokens.size());
  if (n > max_tokens_) throw Error("internal: step of " + std::to_string(n) + " tokens exceeds the step budget");
  // ---- Step metadata and embedding-row inputs to the execution space ----
  auto& token = token_h_;
  auto& emb_row = emb_row_h_;
  auto& slot = slot_h_;
  auto& pos = pos_h_;
  std::vector<int32_t> logit_rows, hidden_rows;
  int32_t n_emb = 0;
  st_.max_position = 0;
  for (int32_t i = 0; i < n; ++i) {
    const auto& t = plan.tokens[i];
    token(i) = t.token;
    emb_row(i) = t.token < 0 ? n_emb++ : 0;
    slot(i) = t.slot;
    pos(i) = t.position;
    st_.max_position = std::max(st_.max_position, t.position);
    if (t.want_logits) logit_rows.push_back(i);
    if (t.want_hidden) hidden_rows.push_back(i);
  }
  st_.n = n;
  Kokkos::deep_copy(st_.token, token);
  Kokkos::deep_copy(st_.emb_row, emb_row);
  Kokkos::deep_copy(st_.seq_slot, slot);
  Kokkos::deep_copy(st_.position, pos);
  if (n_emb > 0) {  // only the n_emb rows travel
    for (const auto& t : plan.tokens)
      if (t.token < 0) std::memcpy(&emb_in_h_(emb_row(&t - plan.tokens.data()), 0), t.emb, sizeof(float) * c_.dim);
    const auto rows = std::make_pair(int32_t(0), n_emb);
    Kokkos::deep_copy(Kokkos::subview(emb_in_, rows, Kokkos::ALL()), Kokkos::subview(emb_in_h_, rows, Kokkos::ALL()));
  }

  // ---- The transformer ----
  // The layer recipe (ModelConfig, from the architecture table and the file): every optional
  // step runs only when its weights exist, in llama.cpp's order.
  embed(plan, w);
  // Gemma's sqrt(dim) scales every input row, token or embedding: an embedding row is what the
  // embedding lookup gives (HF's inputs_embeds), and HF and llama.cpp scale those too.
  if (c_.embed_scale > 0.0f) scale_columns(x_, 0, c_.dim, c_.embed_scale, n);
  rope_table(w.rope_inv_freq, w.rope_mscale, st_, rope_cs_);
  if (any_swa_) rope_table(w.rope_inv_freq_swa, w.rope_mscale_swa, st_, rope_cs_swa_);
  const bool neox = c_.rope.layout == "neox";
  for (int32_t l = 0; l < c_.n_layers; ++l) {
    const LayerWeights& lw = w.layers[l];
    const bool swa = c_.swa_layers[l] != 0;
    const Matrix& cs = swa ? rope_cs_swa_ : rope_cs_;
    rms_norm(x_, lw.attn_norm, c_.norm_eps, n, h_);
    linear(*lw.qkv, h_, n, qkv_);
    if (lw.qkv_bias.extent(0)) add_bias(qkv_, 0, lw.qkv_bias, n);
    if (lw.q_norm.extent(0)) head_rms_norm(qkv_, 0, s_.n_q_heads, c_.head_dim, lw.q_norm, c_.norm_eps, n);
    if (lw.k_norm.extent(0)) head_rms_norm(qkv_, q_dim_, s_.n_kv_heads, c_.head_dim, lw.k_norm, c_.norm_eps, n);
    rope(qkv_, 0, s_.n_q_heads, c_.head_dim, neox, cs, n);
    rope(qkv_, q_dim_, s_.n_kv_heads, c_.head_dim, neox, cs, n);
    AttentionRecipe ar;
    if (c_.attn_q_scale > 0.0f) {  // Gemma: Q scaled before the dot product, scores unscaled
      scale_columns(qkv_, 0, q_dim_, c_.attn_q_scale, n);
      ar.scale = 1.0f;
    }
    ar.softcap = c_.attn_softcap;
    ar.window = swa ? c_.sliding_window : 0;
    ar.neox = neox;
    ar.sinks = lw.attn_sinks;
    kv_store(qkv_, q_dim_, q_dim_ + kv_dim_, kv_dim_, l, st_, cache);
    attention(qkv_, s_.n_q_heads, s_.n_kv_heads, c_.head_dim, l, st_, cache, att_, ar);
    linear(*lw.wo, att_, n, tmp_);
    sum_partials(tmp_, n);
    if (lw.wo_bias.extent(0)) add_bias(tmp_, 0, lw.wo_bias, n);  // once, after the partial sums
    if (lw.post_attn_norm.extent(0)) {
      rms_norm(tmp_, lw.post_attn_norm, c_.norm_eps, n, h_);
      add_rows(x_, h_, n);
    } else {
      add_rows(x_, tmp_, n);
    }
    rms_norm(x_, lw.ffn_norm, c_.norm_eps, n, h_);
    if (lw.moe) {  // gpt-oss: x += moe(norm(x)), no post-FFN norm
      MoeExchange ex;
      ex.sum_partials = [&](float* y, int64_t rows, int64_t cols, int64_t ld) { comm_.sum_partials(y, rows, cols, ld); };
      ex.share_rows = [&](float* y, int64_t rows, int64_t cols, int64_t ld, const std::vector<int>& owner) {
        comm_.share_rows(y, rows, cols, ld, owner);
      };
      moe_ffn(*lw.moe, h_, n, moe_ws_, tmp_, ex);
      add_rows(x_, tmp_, n);
      continue;
    }
    linear(*lw.gate_up, h_, n, gate_up_);
    if (lw.gate_up_bias.extent(0)) add_bias(gate_up_, 0, lw.gate_up_bias, n);
    if (c_.gelu) {
      geglu(gate_up_, ffn_, n, act_);
    } else {
      swiglu(gate_up_, ffn_, n, act_);
    }
    linear(*lw.down, act_, n, tmp_);
    sum_partials(tmp_, n);
    if (lw.down_bias.extent(0)) add_bias(tmp_, 0, lw.down_bias, n);
    if (lw.post_ffn_norm.extent(0)) {
      rms_norm(tmp_, lw.post_ffn_norm, c_.norm_eps, n, h_);
      add_rows(x_, h_, n);
    } else {
      add_rows(x_, tmp_, n);
    }
  }

  // ---- Outputs: final norm on the rows that need it, then the vocabulary projection ----
  StepOutputs out;
  auto gather_normed = [&](const std::vector<int32_t>& rows) {
    const auto used = std::make_pair(size_t(0), rows.size());
    for (size_t i = 0; i < rows.size(); ++i) out_rows_h_(i) = rows[i];
    Kokkos::deep_copy(Kokkos::subview(out_rows_, used), Kokkos::subview(out_rows_h_, used));
    gather_rows(x_, Kokkos::subview(out_rows_, used), tmp_);
    rms_norm(tmp_, w.output_norm, c_.norm_eps, static_cast<int32_t>(rows.size()), sel_);
  };
  if (!logit_rows.empty()) {
    gather_normed(logit_rows);
    const int64_t rows = static_cast<int64_t>(logit_rows.size());
    if (int64_t(logits_.extent(0)) < rows)
      logits_ = Matrix(Kokkos::ViewAllocateWithoutInitializing("logits"), rows, s_.n_vocab);
    linear(*w.output, sel_, static_cast<int32_t>(rows), logits_);
    if (c_.final_softcap > 0.0f) softcap_rows(logits_, c_.final_softcap, static_cast<int32_t>(rows));
    const float* host = rows_to_host(logits_, rows);  // just the rows sampling needs
    out.logits.resize(rows * size_t(c_.n_vocab));
    // Each rank has the logits of its vocabulary rows: gather the full rows everywhere.
    comm_.gather_columns(host, rows, vocab_counts_, out.logits.data(), c_.n_vocab);
  }
  if (!hidden_rows.empty()) {
    gather_normed(hidden_rows);
    const float* host = rows_to_host(sel_, int64_t(hidden_rows.size()));
    out.hidden.assign(host, host + hidden_rows.size() * size_t(c_.dim));
  }
  return out;
}

}  // namespace sci_infer
