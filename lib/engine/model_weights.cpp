#include "engine/model_weights.hpp"

#include <cmath>
#include <string>

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

}  // namespace

size_t ModelWeights::bytes() const {
  size_t b = token_embd.span() + output_norm.span() * 4 + (output ? output->bytes() : 0);
  for (const auto& l : layers)
    b += (l.attn_norm.span() + l.ffn_norm.span()) * 4 + l.qkv->bytes() + l.wo->bytes() + l.gate_up->bytes() +
         l.down->bytes();
  return b;
}

ModelWeights ModelWeights::load(const Model& model, GemmBackend backend, int n_threads) {
  const ModelConfig& c = model.config();
  ModelWeights w;
  // Once a tensor has its packed copy, its pages of the mapped file need not stay resident.
  auto release = [&](const WeightView* parts, int n) {
    for (int i = 0; i < n; ++i)
      model.file().release_resident_pages(parts[i].data, ggml_row_bytes(parts[i].type, parts[i].n_in) * parts[i].n_out);
  };
  const WeightView emb = model.weight("token_embd.weight");
  w.token_embd_type = emb.type;
  w.token_embd = upload_bytes<ByteVector>("token_embd", emb.data, ggml_row_bytes(emb.type, emb.n_in) * emb.n_out);
  w.output_norm = upload_vector(model.weight("output_norm.weight"));
  const WeightView out = c.tied_output ? emb : model.weight("output.weight");
  w.output = make_linear(backend, &out, 1, n_threads);
  release(&emb, 1);
  if (!c.tied_output) release(&out, 1);
  for (int i = 0; i < c.n_layers; ++i) {
    LayerWeights l;
    l.attn_norm = upload_vector(model.weight(model.layer_weight_name(i, "attn_norm")));
    l.ffn_norm = upload_vector(model.weight(model.layer_weight_name(i, "ffn_norm")));
    const WeightView qkv[3] = {model.weight(model.layer_weight_name(i, "attn_q")),
                               model.weight(model.layer_weight_name(i, "attn_k")),
                               model.weight(model.layer_weight_name(i, "attn_v"))};
    l.qkv = make_linear(backend, qkv, 3, n_threads);
    release(qkv, 3);
    const WeightView wo = model.weight(model.layer_weight_name(i, "attn_output"));
    l.wo = make_linear(backend, &wo, 1, n_threads);
    release(&wo, 1);
    const WeightView gu[2] = {model.weight(model.layer_weight_name(i, "ffn_gate")),
                              model.weight(model.layer_weight_name(i, "ffn_up"))};
    l.gate_up = make_linear(backend, gu, 2, n_threads);
    release(gu, 2);
    const WeightView down = model.weight(model.layer_weight_name(i, "ffn_down"));
    l.down = make_linear(backend, &down, 1, n_threads);
    release(&down, 1);
    w.layers.push_back(std::move(l));
  }
  // RoPE inverse frequencies theta^(-2i/d), in double: part of the fixed, shape-only numerics.
  std::vector<double> inv(c.head_dim / 2);
  for (size_t i = 0; i < inv.size(); ++i) inv[i] = std::pow(double(c.rope_theta), -2.0 * double(i) / c.head_dim);
  w.rope_inv_freq = upload_bytes<Kokkos::View<double*>>("rope_inv_freq", reinterpret_cast<const uint8_t*>(inv.data()),
                                                         inv.size());
  return w;
}

}  // namespace sci_infer
