// Model: hyper-parameters, tokenizer and validated tensor views of a llama-architecture GGUF.
#include "sci_infer/model.hpp"

#include "io/sha256.hpp"
#include "model/hf_checkpoint.hpp"
#include "model/shard_layout.hpp"

#include <algorithm>
#include <set>
#include <string>

namespace sci_infer {
namespace {

// More layers than any published model by far; the real bound is the tensors present (below).
constexpr uint64_t kMaxLayers = 4096;

int32_t bounded_int(const GgufFile& f, const std::string& key, uint64_t lo, uint64_t hi) {
  const uint64_t v = f.get_uint(key);
  if (v < lo || v > hi)
    throw Error(f.path() + ": metadata " + key + " = " + std::to_string(v) + " is out of range [" + std::to_string(lo) +
                ", " + std::to_string(hi) + "]");
  return static_cast<int32_t>(v);
}

int32_t positive_int(const GgufFile& f, const std::string& key) { return bounded_int(f, key, 1, 1u << 30); }

// The layer indices N of the blk.N.* tensors the file holds. block_count is only a claim: every
// per-layer structure is sized from it, so it must agree with the tensors before anything is
// allocated (a 440 KB file claiming 2^30 layers must not cost 2^30 of anything).
void check_block_count(const GgufFile& f, const std::string& key, int32_t n_layers) {
  std::set<uint64_t> layers;
  for (const GgufTensorInfo& t : f.tensors()) {
    if (t.name.compare(0, 4, "blk.") != 0) continue;
    const size_t dot = t.name.find('.', 4);
    const std::string n = t.name.substr(4, dot == std::string::npos ? std::string::npos : dot - 4);
    if (n.empty() || n.size() > 9 || n.find_first_not_of("0123456789") != std::string::npos)
      throw Error(f.path() + ": tensor '" + t.name + "' has no layer number after 'blk.'");
    layers.insert(std::stoull(n));
  }
  const uint64_t present = layers.size(), last = layers.empty() ? 0 : *layers.rbegin() + 1;
  if (present != uint64_t(n_layers) || last != uint64_t(n_layers))
    throw Error(f.path() + ": metadata " + key + " = " + std::to_string(n_layers) + " but the file holds tensors of " +
                std::to_string(present) + " layers" +
                (present ? " (blk." + std::to_string(*layers.begin()) + " to blk." + std::to_string(last - 1) + ")"
                         : std::string()));
}

// The llama.cpp tensor names of arch "llama" and their shapes (ne[0] first).
struct ExpectedTensor {
  std::string name;
  std::vector<uint64_t> shape;
};

// With a shard layout: the shapes of that rank's slices, as a shard file holds them.
std::vector<ExpectedTensor> expected_tensors(const ModelConfig& full, const ShardLayout* s) {
  ModelConfig c = full;
  if (s) {
    c.n_heads = s->n_q_heads;
    c.n_kv_heads = s->n_kv_heads;
    c.ffn_dim = s->n_ffn;
    c.n_vocab = s->n_vocab;
  }
  const uint64_t dim = c.dim, q = uint64_t(c.n_heads) * c.head_dim, kv = uint64_t(c.n_kv_heads) * c.head_dim;
  std::vector<ExpectedTensor> t = {{"token_embd.weight", {dim, uint64_t(c.n_vocab)}},
                                   {"output_norm.weight", {dim}}};
  if (!c.tied_output) t.push_back({"output.weight", {dim, uint64_t(c.n_vocab)}});
  for (int i = 0; i < c.n_layers; ++i) {
    const std::string b = "blk." + std::to_string(i) + ".";
    t.push_back({b + "attn_norm.weight", {dim}});
    t.push_back({b + "attn_q.weight", {dim, q}});
    t.push_back({b + "attn_k.weight", {dim, kv}});
    t.push_back({b + "attn_v.weight", {dim, kv}});
    t.push_back({b + "attn_output.weight", {q, dim}});
    t.push_back({b + "ffn_norm.weight", {dim}});
    t.push_back({b + "ffn_gate.weight", {dim, uint64_t(c.ffn_dim)}});
    t.push_back({b + "ffn_up.weight", {dim, uint64_t(c.ffn_dim)}});
    t.push_back({b + "ffn_down.weight", {uint64_t(c.ffn_dim), dim}});
  }
  return t;
}

}  // namespace

ModelConfig read_model_config(const GgufFile& f) {
  ModelConfig c;
  c.arch = f.get_string("general.architecture");
  if (c.arch != "llama" && c.arch != "mistral")
    throw Error(f.path() + ": architecture '" + c.arch + "' is not supported (llama family only)");
  const std::string a = c.arch + ".";
  c.name = f.get_string_or("general.name", "");
  c.dim = positive_int(f, a + "embedding_length");
  c.n_layers = bounded_int(f, a + "block_count", 1, kMaxLayers);
  check_block_count(f, a + "block_count", c.n_layers);
  c.n_heads = positive_int(f, a + "attention.head_count");
  c.n_kv_heads = f.has(a + "attention.head_count_kv") ? positive_int(f, a + "attention.head_count_kv") : c.n_heads;
  c.ffn_dim = positive_int(f, a + "feed_forward_length");
  c.context = positive_int(f, a + "context_length");
  c.rope_theta = static_cast<float>(f.get_float_or(a + "rope.freq_base", 10000.0));
  c.norm_eps = static_cast<float>(f.get_float_or(a + "attention.layer_norm_rms_epsilon", 1e-5));
  if (c.dim % c.n_heads != 0)
    throw Error(f.path() + ": embedding_length " + std::to_string(c.dim) + " is not a multiple of head_count " +
                std::to_string(c.n_heads));
  if (c.n_heads % c.n_kv_heads != 0)
    throw Error(f.path() + ": head_count " + std::to_string(c.n_heads) + " is not a multiple of head_count_kv " +
                std::to_string(c.n_kv_heads));
  c.head_dim = c.dim / c.n_heads;
  if (c.head_dim % 2 != 0) throw Error(f.path() + ": head dimension must be even for RoPE");
  const uint64_t rope_dims = f.get_uint_or(a + "rope.dimension_count", c.head_dim);
  if (rope_dims != uint64_t(c.head_dim))
    throw Error(f.path() + ": partial RoPE (rope.dimension_count " + std::to_string(rope_dims) +
                " != head dim " + std::to_string(c.head_dim) + ") is not supported");
  if (!(c.rope_theta > 0.0f) || !(c.norm_eps > 0.0f))
    throw Error(f.path() + ": rope.freq_base and layer_norm_rms_epsilon must be positive");
  const GgufTensorInfo& emb = f.tensor("token_embd.weight");
  if (emb.ne.size() != 2) throw Error(f.path() + ": tensor 'token_embd.weight' must be 2-D");
  if (emb.ne[1] > (1u << 30)) throw Error(f.path() + ": tensor 'token_embd.weight' has too many rows");
  c.shard_tp = f.has("sci_infer.shard.tp") ? bounded_int(f, "sci_infer.shard.tp", 1, 1024) : 1;
  c.shard_rank = f.has("sci_infer.shard.rank") ? bounded_int(f, "sci_infer.shard.rank", 0, c.shard_tp - 1) : 0;
  // A shard's embedding holds only its vocabulary rows; the full count is recorded (and is at
  // most shard_tp times the rows this file holds: the first ranks take one row more).
  c.n_vocab = c.shard_tp > 1 ? bounded_int(f, "sci_infer.shard.vocab_size", 1, std::min<uint64_t>(emb.ne[1] * c.shard_tp, 1u << 30))
                             : static_cast<int32_t>(emb.ne[1]);
  if (f.has(a + "vocab_size") && f.get_uint(a + "vocab_size") != uint64_t(c.n_vocab))
    throw Error(f.path() + ": " + a + "vocab_size disagrees with token_embd.weight");
  c.tied_output = f.find_tensor("output.weight") == nullptr;
  c.weight_type = f.tensor("blk.0.attn_q.weight").type;
  std::unique_ptr<ShardLayout> shard;
  if (c.shard_tp > 1) {
    try {
      shard = std::make_unique<ShardLayout>(ShardLayout::make(c, c.shard_tp, c.shard_rank));
    } catch (const Error& e) {
      throw Error(f.path() + ": inconsistent shard file: " + e.what());
    }
  }
  for (const auto& t : expected_tensors(c, shard.get())) {
    const GgufTensorInfo& info = f.tensor(t.name, t.shape);
    if (t.shape.size() == 1 && info.type != GgmlType::F32)
      throw Error(f.path() + ": norm tensor '" + t.name + "' must be F32, found " + ggml_type_name(info.type));
    c.n_params += static_cast<int64_t>(info.n_elements);
  }
  return c;
}

std::shared_ptr<const Model> Model::open(const std::string& path) {
  auto m = std::shared_ptr<Model>(new Model());
  m->file_ = open_model_file(path);  // a GGUF file, or a Hugging Face checkpoint directory
  m->config_ = read_model_config(*m->file_);
  m->tokenizer_ = std::make_unique<Tokenizer>(read_tokenizer_vocab(*m->file_));
  if (m->tokenizer_->n_vocab() != m->config_.n_vocab)
    throw Error(path + ": tokenizer has " + std::to_string(m->tokenizer_->n_vocab()) + " tokens but the model has " +
                std::to_string(m->config_.n_vocab) + " embedding rows");
  return m;
}

WeightView Model::weight(const std::string& name) const {
  const GgufTensorInfo& t = file_->tensor(name);
  WeightView w;
  w.name = name;
  w.type = t.type;
  w.n_in = static_cast<int64_t>(t.ne[0]);
  w.n_out = t.ne.size() > 1 ? static_cast<int64_t>(t.ne[1]) : 1;
  w.data = file_->tensor_data(t);
  return w;
}

std::string shard_path(const std::string& pattern, int tp_rank) {
  std::string p = pattern;
  const std::string key = "{tp_rank}";
  for (size_t at = p.find(key); at != std::string::npos; at = p.find(key, at))
    p.replace(at, key.size(), std::to_string(tp_rank));
  return p;
}

std::string model_fingerprint(const Model& model) {
  const GgufFile& f = model.file();
  if (f.has("sci_infer.shard.source_fingerprint")) return f.get_string("sci_infer.shard.source_fingerprint");
  if (f.has("sci_infer.source.fingerprint")) return f.get_string("sci_infer.source.fingerprint");  // a checkpoint directory
  std::string bytes(reinterpret_cast<const char*>(f.header_bytes()), f.data_offset());
  bytes += ":" + std::to_string(f.file_size());
  return sha256_hex(bytes.data(), bytes.size());
}

WeightView WeightView::rows(int64_t r0, int64_t n) const {
  if (r0 < 0 || n < 0 || r0 + n > n_out)
    throw Error(name + ": rows [" + std::to_string(r0) + ", " + std::to_string(r0 + n) + ") outside its " +
                std::to_string(n_out) + " rows");
  WeightView v = *this;
  v.data = row(r0);
  v.n_out = n;
  return v;
}

WeightView WeightView::columns(int64_t k0, int64_t n) const {
  if (k0 < 0 || n < 0 || k0 + n > n_in)
    throw Error(name + ": columns [" + std::to_string(k0) + ", " + std::to_string(k0 + n) + ") outside its " +
                std::to_string(n_in) + " columns");
  const int64_t block = static_cast<int64_t>(ggml_block_elems(type));
  if (k0 % block != 0 || n % block != 0)
    throw Error(name + ": a column slice of a " + std::string(ggml_type_name(type)) + " weight must start and end on a " +
                std::to_string(block) + "-element block");
  WeightView v = *this;
  v.row_stride = stride();
  v.data = data + ggml_row_bytes(type, k0);
  v.n_in = n;
  return v;
}

std::string Model::layer_weight_name(int layer, const char* suffix) const {
  return "blk." + std::to_string(layer) + "." + suffix + ".weight";
}

}  // namespace sci_infer
