#include "engine/model_weights.hpp"

#include "kernels/device_space.hpp"

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
    b += (l.attn_norm.span() + l.ffn_norm.span()) * 4 + l.qkv->bytes() + l.wo->bytes() + l.gate_up->bytes() +
         l.down->bytes();
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
  if (device_backend()) {  // the table lives on the device; a kernel gathers each step's rows
    w.token_embd_device = ByteVector(Kokkos::ViewAllocateWithoutInitializing("token_embd"), emb_bytes);
    Kokkos::deep_copy(w.token_embd_device,
                      Kokkos::View<const uint8_t*, Kokkos::HostSpace, Kokkos::MemoryTraits<Kokkos::Unmanaged>>(
                          emb.data, emb_bytes));
    w.token_embd_bytes_held += emb_bytes;
  }
  w.output_norm = upload_vector(model.weight("output_norm.weight"));
  w.output = pack({c.tied_output ? emb : slice("output.weight")});
  release(emb);  // packed as the tied output, or never needed whole
  for (int i = 0; i < c.n_layers; ++i) {
    auto layer = [&](const char* suffix) { return slice(model.layer_weight_name(i, suffix)); };
    LayerWeights l;
    l.attn_norm = upload_vector(layer("attn_norm"));
    l.ffn_norm = upload_vector(layer("ffn_norm"));
    l.qkv = pack({layer("attn_q"), layer("attn_k"), layer("attn_v")});
    l.wo = pack({layer("attn_output")}, row_chunks);
    l.gate_up = pack({layer("ffn_gate"), layer("ffn_up")});
    l.down = pack({layer("ffn_down")}, row_chunks);
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
