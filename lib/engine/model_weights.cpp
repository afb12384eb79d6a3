#include "engine/model_weights.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>

#include "model/architecture.hpp"

namespace sci_infer {
namespace {

template <class V>
V upload_bytes(const char* label, const uint8_t* src, size_t n) {
  V v(Kokkos::ViewAllocateWithoutInitializing(label), n);
  auto host = Kokkos::create_mirror_view(v);
  std::memcpy(host.data(), src, n * sizeof(typename V::value_type));
  Kokkos::deep_copy(v, host);
  return v;
}

Vector upload_vector(const WeightView& w) {
  return upload_bytes<Vector>(w.name.c_str(), w.data, static_cast<size_t>(w.n_in));
}

// Several F32 vectors (strided slices allowed: a bias slice is a column view) back to back.
Vector upload_stacked(const char* label, const std::vector<WeightView>& parts) {
  std::vector<float> all;
  for (const WeightView& p : parts)
    for (int64_t j = 0; j < p.n_in; ++j) {
      float v;
      std::memcpy(&v, p.data + 4 * j, 4);
      all.push_back(v);
    }
  return upload_bytes<Vector>(label, reinterpret_cast<const uint8_t*>(all.data()), all.size());
}

float ggml_yarn_corr_dim(int n_dims, int n_ctx_orig, float n_rot, float base) {  // ggml.c, in float
  return n_dims * logf(n_ctx_orig / (n_rot * 2 * (float)M_PI)) / (2 * logf(base));
}

}  // namespace

RopeFrequencies rope_frequencies(const ModelConfig& c, bool swa, const float* ff) {
  const RopeConfig& r = c.rope;
  const int n_dims = c.head_dim;
  const float base = swa ? r.freq_base_swa : r.freq_base;
  const float freq_scale = swa ? r.freq_scale_swa : r.freq_scale;
  const bool yarn = r.scaling == "yarn";  // llama.cpp: ext_factor 1 for YaRN, else 0
  RopeFrequencies out;
  out.mscale = r.attn_factor;
  float low = 0.0f, high = 0.0f;
  if (yarn) {
    // yarn_attn_factor (llama_context): get_mscale(factor) / (1 + 0.1 ln factor), of the model's
    // factor; ggml's rope_yarn then multiplies by 1 + 0.1 ln(1 / freq_scale) of this table.
    const double factor = 1.0 / double(r.freq_scale);
    const double get_mscale = factor <= 1.0 ? 1.0 : 0.1 * std::log(factor) + 1.0;
    out.mscale *= get_mscale / (1.0 + 0.1 * std::log(factor)) * (1.0 + 0.1 * std::log(1.0 / double(freq_scale)));
    low = std::max(0.0f, std::floor(ggml_yarn_corr_dim(n_dims, r.n_ctx_orig, r.beta_fast, base)));
    high = std::min(float(n_dims - 1), std::ceil(ggml_yarn_corr_dim(n_dims, r.n_ctx_orig, r.beta_slow, base)));
  }
  out.inv_freq.resize(n_dims / 2);
  for (int i = 0; i < n_dims / 2; ++i) {
    double f = std::pow(double(base), -2.0 * double(i) / n_dims);
    if (ff) f /= double(ff[i]);
    // theta = theta_interp (1 - mix) + theta_extrap mix, theta_interp = freq_scale theta_extrap.
    double mult = freq_scale;
    if (yarn) {
      const float y = (float(i) - low) / std::max(0.001f, high - low);  // rope_yarn_ramp, in float
      const double mix = 1.0f - std::min(1.0f, std::max(0.0f, y));
      mult = double(freq_scale) * (1.0 - mix) + mix;
    }
    out.inv_freq[i] = f * mult;
  }
  return out;
}

namespace {

}  // namespace

void ModelWeights::copy_embedding_row(int32_t id, uint8_t* dst) const {
  const uint8_t* src = token_embd + size_t(id - vocab0) * token_embd_row_bytes;
  if (token_embd_file) {
    token_embd_file->copy_out(src, token_embd_row_bytes, dst);
  } else {
    std::memcpy(dst, src, token_embd_row_bytes);
  }
}

size_t ModelWeights::bytes() const {
  size_t b = token_embd_bytes_held + output_norm.span() * 4 + (output ? output->bytes() : 0);
  for (const auto& l : layers)
    b += (l.attn_norm.span() + l.ffn_norm.span() + l.qkv_bias.span() + l.wo_bias.span() + l.gate_up_bias.span() +
          l.down_bias.span() + l.q_norm.span() + l.k_norm.span() + l.post_attn_norm.span() + l.post_ffn_norm.span()) *
             4 +
         l.qkv->bytes() + l.wo->bytes() + l.gate_up->bytes() + l.down->bytes();
  return b;
}

ModelWeights ModelWeights::load(const Model& model, GemmBackend backend, int n_threads, const ShardLayout& s,
                                Reduction reduction, WeightArena* arena) {
  const ModelConfig& c = model.config();
  ModelWeights w;
  auto release = [&](const WeightView& p) {
    if (p.n_out > 0) model.file().release_resident_pages(p.data, (p.n_out - 1) * p.stride() + ggml_row_bytes(p.type, p.n_in));
  };
  // Packs (and fuses) this rank's slices for the GEMM backend, then drops their pages of the
  // mapped file: once a tensor has its packed copy, the file need not stay resident too.
  auto pack = [&](std::vector<WeightView> parts, int k_chunks = 1) {
    auto linear = make_linear(backend, parts.data(), static_cast<int>(parts.size()), n_threads, k_chunks, arena);
    for (const WeightView& p : parts) release(p);
    return linear;
  };
  // Row-parallel layers: this rank's subtree of the fixed K-chunk tree (see shard_layout.hpp);
  // the fast mode sums one plain chain per rank instead.
  const int row_chunks = reduction == Reduction::Deterministic ? s.local_chunks() : 1;
  auto slice = [&](const std::string& name) { return shard_slice(model, name, s); };
  const WeightView emb = slice("token_embd.weight");
  w.vocab0 = s.vocab0;
  w.n_vocab_rows = s.n_vocab;
  w.token_embd_type = emb.type;
  // The embedding table stays on the host: each step gathers just its tokens' rows (forward
  // pass), read from the file with pread (no pages mapped into the process) or, when node ranks
  // share it, copied from the shared window.
  w.token_embd_row_bytes = ggml_row_bytes(emb.type, emb.n_in);
  const size_t emb_bytes = w.token_embd_row_bytes * emb.n_out;
  if (arena && arena->shared()) {
    bool fill = false;
    uint8_t* p = arena->allocate(emb_bytes, &fill);
    if (fill) std::memcpy(p, emb.data, emb_bytes);
    w.token_embd = p;
    w.token_embd_bytes_held = emb_bytes;
  } else {
    w.token_embd = emb.data;
    w.token_embd_file = &model.file();
  }
  w.output_norm = upload_vector(model.weight("output_norm.weight"));
  w.output = pack({c.tied_output ? emb : slice("output.weight")});
  release(emb);  // packed as the tied output, or never needed whole
  auto has = [&](Role r) { return role_present(c.roles_present, r); };
  for (int i = 0; i < c.n_layers; ++i) {
    auto role = [&](Role r) { return slice(role_tensor_name(r, i)); };
    auto vec = [&](Role r) { return has(r) ? upload_vector(role(r)) : Vector(); };
    LayerWeights l;
    l.attn_norm = upload_vector(role(Role::AttnNorm));
    l.ffn_norm = upload_vector(role(Role::FfnNorm));
    l.qkv = pack({role(Role::AttnQ), role(Role::AttnK), role(Role::AttnV)});
    l.wo = pack({role(Role::AttnOut)}, row_chunks);
    l.gate_up = pack({role(Role::FfnGate), role(Role::FfnUp)});
    l.down = pack({role(Role::FfnDown)}, row_chunks);
    // Biases: the Q|K|V and gate|up ones stacked like their fused GEMM's output columns; a
    // missing part of a stack (e.g. no K bias) is zeros, so the stack stays aligned.
    auto stacked = [&](const char* label, std::vector<std::pair<Role, int64_t>> parts) {
      bool any = false;
      std::vector<WeightView> views;
      std::vector<std::vector<float>> zeros;
      zeros.reserve(parts.size());
      for (auto& [r, n] : parts) {
        if (has(r)) {
          any = true;
          views.push_back(role(r));
        } else {
          zeros.emplace_back(size_t(n), 0.0f);
          WeightView z;
          z.n_in = n;
          z.n_out = 1;
          z.data = reinterpret_cast<const uint8_t*>(zeros.back().data());
          views.push_back(z);
        }
      }
      return any ? upload_stacked(label, views) : Vector();
    };
    const int64_t q_dim = s.q_dim(c.head_dim), kv_dim = s.kv_dim(c.head_dim);
    l.qkv_bias = stacked("qkv_bias", {{Role::AttnQBias, q_dim}, {Role::AttnKBias, kv_dim}, {Role::AttnVBias, kv_dim}});
    l.gate_up_bias = stacked("gate_up_bias", {{Role::FfnGateBias, s.n_ffn}, {Role::FfnUpBias, s.n_ffn}});
    l.wo_bias = vec(Role::AttnOutBias);
    l.down_bias = vec(Role::FfnDownBias);
    l.q_norm = vec(Role::AttnQNorm);
    l.k_norm = vec(Role::AttnKNorm);
    l.post_attn_norm = vec(Role::AttnPostNorm);
    l.post_ffn_norm = vec(Role::FfnPostNorm);
    w.layers.push_back(std::move(l));
  }
  // RoPE frequencies in double: part of the fixed, shape-only numerics.
  const float* ff = nullptr;
  if (c.rope.freq_factors) ff = reinterpret_cast<const float*>(model.weight("rope_freqs.weight").data);
  auto upload_freqs = [&](bool swa, double& mscale) {
    const RopeFrequencies r = rope_frequencies(c, swa, ff);
    mscale = r.mscale;
    return upload_bytes<Kokkos::View<double*>>(swa ? "rope_inv_freq_swa" : "rope_inv_freq",
                                               reinterpret_cast<const uint8_t*>(r.inv_freq.data()), r.inv_freq.size());
  };
  w.rope_inv_freq = upload_freqs(false, w.rope_mscale);
  w.rope_inv_freq_swa = upload_freqs(true, w.rope_mscale_swa);
  return w;
}

}  // namespace sci_infer
