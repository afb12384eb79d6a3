// Model: hyper-parameters, tokenizer and validated tensor views of a GGUF file, checked against
// its architecture's table (architecture.hpp).
#include "sci_infer/model.hpp"

#include "io/sha256.hpp"
#include "model/architecture.hpp"
#include "model/hf_checkpoint.hpp"
#include "model/shard_layout.hpp"

#include <algorithm>
#include <cmath>
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

// The size a table dimension names, for this model (or, with a shard layout, this rank's slice).
uint64_t resolve(Size sz, const ModelConfig& c, const ShardLayout* s) {
  const uint64_t heads = s ? s->n_q_heads : c.n_heads, kv = s ? s->n_kv_heads : c.n_kv_heads;
  switch (sz) {
    case Size::Vocab: return s ? s->n_vocab : c.n_vocab;
    case Size::Dim: return c.dim;
    case Size::QDim: return heads * c.head_dim;
    case Size::KvDim: return kv * c.head_dim;
    case Size::HeadDim: return c.head_dim;
    case Size::Heads: return heads;
    case Size::Ffn: return s ? s->n_ffn : c.ffn_dim;
    case Size::RopeHalf: return c.head_dim / 2;
    case Size::Experts: return c.n_expert;
    case Size::ExpertFfn: return c.expert_ffn;
  }
  return 0;
}

std::vector<uint64_t> role_shape(Role r, const ModelConfig& c, const ShardLayout* s) {
  std::vector<uint64_t> shape;
  for (Size sz : role_info(r).shape) shape.push_back(resolve(sz, c, s));
  return shape;
}

// Metadata in the architecture's namespace that its table does not list would be ignored, the
// way the Llama 3.1 RoPE scaling once was: refuse it, naming the key.
void check_keys(const GgufFile& f, const ArchDesc& a) {
  const std::string prefix = std::string(a.name) + ".";
  for (const std::string& key : f.metadata_keys()) {
    if (key.compare(0, prefix.size(), prefix) != 0) continue;
    const std::string suffix = key.substr(prefix.size());
    if (std::find(a.keys.begin(), a.keys.end(), suffix) == a.keys.end())
      throw Error(f.path() + ": metadata key '" + key + "' is not supported for architecture '" + a.name +
                  "' (sci_infer would ignore it and compute something else than the model)");
  }
}

float positive_float(const GgufFile& f, const std::string& key, double def) {
  const double v = f.get_float_or(key, def);
  if (!(v > 0.0) || !std::isfinite(v))
    throw Error(f.path() + ": metadata " + key + " = " + std::to_string(v) + " must be positive and finite");
  return static_cast<float>(v);
}

void read_rope(const GgufFile& f, const std::string& a, const ArchRecipe& r, ModelConfig& c) {
  RopeConfig& rope = c.rope;
  rope.layout = r.rope == RopeLayout::Neox ? "neox" : "norm";
  if (f.has("sci_infer.rope.layout")) {  // an HF checkpoint's unpermuted Q/K (see docs/models.md)
    rope.layout = f.get_string("sci_infer.rope.layout");
    if (rope.layout != "norm" && rope.layout != "neox")
      throw Error(f.path() + ": metadata sci_infer.rope.layout = '" + rope.layout + "' (known: norm, neox)");
  }
  rope.freq_base = positive_float(f, a + "rope.freq_base", 10000.0);
  c.rope_theta = rope.freq_base;
  // llama.cpp: no type key means "linear" (a no-op without a factor); a factor of 0 means 1.
  rope.scaling = f.get_string_or(a + "rope.scaling.type", "linear");
  if (rope.scaling != "none" && rope.scaling != "linear" && rope.scaling != "yarn")
    throw Error(f.path() + ": " + a + "rope.scaling.type '" + rope.scaling +
                "' is not supported (known: none, linear, yarn; Llama 3 scaling comes as rope_freqs.weight)");
  const double factor = f.get_float_or(a + "rope.scaling.factor", 0.0);
  if (factor < 0.0 || !std::isfinite(factor))
    throw Error(f.path() + ": " + a + "rope.scaling.factor must be positive");
  rope.freq_scale = factor == 0.0 ? 1.0f : static_cast<float>(1.0 / factor);
  if (rope.scaling == "none") rope.freq_scale = 1.0f;
  if (rope.scaling == "linear" && rope.freq_scale == 1.0f) rope.scaling = "none";
  rope.attn_factor = positive_float(f, a + "rope.scaling.attn_factor", 1.0);
  // YaRN tuning keys (llama.cpp's model saver writes them; its loader, the reference here, uses
  // the defaults for these architectures): accepted at the defaults, refused otherwise, since a
  // non-default value would be silently computed differently by the two.
  const struct { const char* key; double def; } yarn_defaults[] = {
      {"rope.scaling.yarn_ext_factor", -1.0}, {"rope.scaling.yarn_attn_factor", 1.0},
      {"rope.scaling.yarn_beta_fast", 32.0},  {"rope.scaling.yarn_beta_slow", 1.0},
      {"rope.scaling.yarn_log_multiplier", 0.0}};
  for (const auto& y : yarn_defaults) {
    if (!f.has(a + y.key)) continue;
    const double v = f.get_float(a + y.key);
    const bool ext_implied = std::string(y.key) == "rope.scaling.yarn_ext_factor" &&
                             v == (rope.scaling == "yarn" ? 1.0 : 0.0);
    if (v != y.def && !ext_implied)
      throw Error(f.path() + ": metadata " + a + y.key + " = " + std::to_string(v) + " is not supported (only " +
                  std::to_string(y.def) + ", llama.cpp's default, is)");
  }
  rope.n_ctx_orig = f.has(a + "rope.scaling.original_context_length")
                        ? positive_int(f, a + "rope.scaling.original_context_length")
                        : c.context;
  rope.freq_factors = f.find_tensor("rope_freqs.weight") != nullptr;
  // Local (sliding-window) layers: gemma3 has its own base and no scaling; others share the global.
  if (r.swa_own_rope) {
    rope.freq_base_swa = positive_float(f, a + "rope.freq_base_swa", 10000.0);
    rope.freq_scale_swa = 1.0f;
  } else {
    rope.freq_base_swa = positive_float(f, a + "rope.freq_base_swa", rope.freq_base);
    rope.freq_scale_swa = rope.freq_scale;
  }
}

void read_recipe(const GgufFile& f, const std::string& a, const ArchRecipe& r, ModelConfig& c) {
  c.gelu = r.act == Activation::GeluTanh;
  c.swa_layers.assign(c.n_layers, 0);
  if (r.swa == SwaKind::Pattern) {
    // gemma2 defaults to a 4096 window; gemma3 slides only when the key is there and nonzero.
    const uint64_t window = f.get_uint_or(a + "attention.sliding_window", r.swa_pattern_default == 2 ? 4096 : 0);
    if (window > (1u << 30)) throw Error(f.path() + ": " + a + "attention.sliding_window is out of range");
    c.sliding_window = static_cast<int32_t>(window);
    if (c.sliding_window > 0) {
      const std::string key = a + "attention.sliding_window_pattern";
      if (f.has(key) && f.value(key).type == GgufValueType::ARRAY) {
        const std::vector<int64_t>& v = f.get_int_array(key);
        if (v.size() != size_t(c.n_layers))
          throw Error(f.path() + ": " + key + " has " + std::to_string(v.size()) + " entries for " +
                      std::to_string(c.n_layers) + " layers");
        for (int i = 0; i < c.n_layers; ++i) c.swa_layers[i] = v[i] != 0;
      } else {
        const uint64_t n = f.get_uint_or(key, r.swa_pattern_default);
        for (int i = 0; i < c.n_layers; ++i) c.swa_layers[i] = n == 0 || (uint64_t(i) % n < n - 1);
      }
    }
  }
  if (r.attn_softcap) c.attn_softcap = static_cast<float>(f.get_float_or(a + "attn_logit_softcapping", r.attn_softcap_default));
  if (r.final_softcap) c.final_softcap = static_cast<float>(f.get_float_or(a + "final_logit_softcapping", r.final_softcap_default));
  if (c.attn_softcap < 0 || c.final_softcap < 0 || !std::isfinite(c.attn_softcap) || !std::isfinite(c.final_softcap))
    throw Error(f.path() + ": logit soft-capping values must be positive");
  if (r.embed_scale_sqrt_dim) c.embed_scale = std::sqrt(float(c.dim));
  if (r.attn_scale == AttnScale::GemmaQueryPre) {
    // llama.cpp's query_pre_attn_scalar: dim / n_heads for the 27B models (which it knows by
    // their layer count: gemma2 46, gemma3 62), the head dimension otherwise.
    const bool is_27b = (c.arch == "gemma2" && c.n_layers == 46) || (c.arch == "gemma3" && c.n_layers == 62);
    c.attn_q_scale = 1.0f / std::sqrt(float(is_27b ? c.dim / c.n_heads : c.head_dim));
  }
  if (r.swa_required && !f.has(a + "attention.sliding_window"))
    throw Error(f.path() + ": metadata " + a + "attention.sliding_window is required for architecture '" + c.arch + "'");
  c.attn_sinks = r.attn_sinks;
  if (r.ffn == FfnKind::Moe) {
    c.n_expert = bounded_int(f, a + "expert_count", 1, 4096);
    c.n_expert_used = bounded_int(f, a + "expert_used_count", 1, std::min<uint64_t>(64, uint64_t(c.n_expert)));
    c.expert_ffn = f.has(a + "expert_feed_forward_length") ? positive_int(f, a + "expert_feed_forward_length") : c.ffn_dim;
  }
}

// The role of a tensor name ("blk.3.attn_q.weight" -> AttnQ, layer 3), if any.
bool parse_role(const std::string& name, Role& role, int& layer) {
  std::string rest = name;
  layer = -1;
  if (name.compare(0, 4, "blk.") == 0) {
    const size_t dot = name.find('.', 4);
    if (dot == std::string::npos) return false;
    layer = std::stoi(name.substr(4, dot - 4));
    rest = name.substr(dot + 1);
  }
  for (int r = 0; r < kRoleCount; ++r) {
    const RoleInfo& info = role_info(Role(r));
    if (info.per_layer == (layer >= 0) && rest == info.name) {
      role = Role(r);
      return true;
    }
  }
  return false;
}

// Every role of the table against the file: required ones present, optional ones in every layer
// or none, shapes as the hyper-parameters say, and no tensor left that no role consumes.
void check_tensors(const GgufFile& f, const ArchDesc& a, ModelConfig& c, const ShardLayout* s) {
  std::set<std::string> consumed;
  for (const RoleUse& use : a.roles) {
    const RoleInfo& info = role_info(use.role);
    const int n = info.per_layer ? c.n_layers : 1;
    int found = 0;
    for (int i = 0; i < n; ++i) {
      const std::string name = role_tensor_name(use.role, i);
      if (!use.required && f.find_tensor(name) == nullptr) continue;
      const GgufTensorInfo& t = f.tensor(name, role_shape(use.role, c, s));
      if (info.norm_like && t.type != GgmlType::F32)
        throw Error(f.path() + ": tensor '" + name + "' must be F32, found " + ggml_type_name(t.type));
      c.n_params += static_cast<int64_t>(t.n_elements);
      consumed.insert(name);
      ++found;
    }
    if (found != 0 && found != n)
      throw Error(f.path() + ": tensor role '" + info.name + "' is in " + std::to_string(found) + " of " +
                  std::to_string(n) + " layers (all or none)");
    if (found) c.roles_present |= uint64_t(1) << static_cast<int>(use.role);
  }
  for (const GgufTensorInfo& t : f.tensors()) {
    if (consumed.count(t.name)) continue;
    Role r;
    int layer;
    (void)parse_role(t.name, r, layer);
    throw Error(f.path() + ": tensor '" + t.name + "' is not used by architecture '" + a.name +
                "' (no role of its table consumes it)");
  }
}

}  // namespace

bool parse_tensor_role(const std::string& name, Role& role, int& layer) { return parse_role(name, role, layer); }

ModelConfig read_model_config(const GgufFile& f) {
  ModelConfig c;
  c.arch = f.get_string("general.architecture");
  const ArchDesc* desc = find_architecture(c.arch);
  if (!desc)
    throw Error(f.path() + ": architecture '" + c.arch + "' is not supported (supported: " + known_architectures() + ")");
  check_keys(f, *desc);
  const std::string a = c.arch + ".";
  c.name = f.get_string_or("general.name", "");
  c.dim = positive_int(f, a + "embedding_length");
  c.n_layers = bounded_int(f, a + "block_count", 1, kMaxLayers);
  check_block_count(f, a + "block_count", c.n_layers);
  c.n_heads = positive_int(f, a + "attention.head_count");
  c.n_kv_heads = f.has(a + "attention.head_count_kv") ? positive_int(f, a + "attention.head_count_kv") : c.n_heads;
  // MoE files may give only expert_feed_forward_length (read_recipe); the dense width is then that.
  c.ffn_dim = desc->recipe.ffn == FfnKind::Moe && !f.has(a + "feed_forward_length")
                  ? positive_int(f, a + "expert_feed_forward_length")
                  : positive_int(f, a + "feed_forward_length");
  c.context = positive_int(f, a + "context_length");
  c.norm_eps = static_cast<float>(f.get_float_or(a + "attention.layer_norm_rms_epsilon", 1e-5));
  if (c.n_heads % c.n_kv_heads != 0)
    throw Error(f.path() + ": head_count " + std::to_string(c.n_heads) + " is not a multiple of head_count_kv " +
                std::to_string(c.n_kv_heads));
  if (f.has(a + "attention.key_length")) {
    c.head_dim = positive_int(f, a + "attention.key_length");
  } else {
    if (c.dim % c.n_heads != 0)
      throw Error(f.path() + ": embedding_length " + std::to_string(c.dim) + " is not a multiple of head_count " +
                  std::to_string(c.n_heads) + " (and no " + a + "attention.key_length gives the head dimension)");
    c.head_dim = c.dim / c.n_heads;
  }
  const uint64_t v_dim = f.get_uint_or(a + "attention.value_length", c.head_dim);
  if (v_dim != uint64_t(c.head_dim))
    throw Error(f.path() + ": " + a + "attention.value_length " + std::to_string(v_dim) + " != key_length " +
                std::to_string(c.head_dim) + " is not supported");
  if (c.head_dim % 2 != 0) throw Error(f.path() + ": head dimension must be even for RoPE");
  const uint64_t rope_dims = f.get_uint_or(a + "rope.dimension_count", c.head_dim);
  if (rope_dims != uint64_t(c.head_dim))
    throw Error(f.path() + ": partial RoPE (rope.dimension_count " + std::to_string(rope_dims) +
                " != head dim " + std::to_string(c.head_dim) + ") is not supported");
  if (!(c.norm_eps > 0.0f)) throw Error(f.path() + ": layer_norm_rms_epsilon must be positive");
  read_rope(f, a, desc->recipe, c);
  read_recipe(f, a, desc->recipe, c);
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
  for (int i = 0; i < c.n_layers; ++i)
    for (const char* w : {"attn_output", "ffn_down"}) {
      const GgufTensorInfo* t = f.find_tensor("blk." + std::to_string(i) + "." + w + ".weight");
      if (t) c.k_block = std::max(c.k_block, static_cast<int32_t>(ggml_block_elems(t->type)));
    }
  std::unique_ptr<ShardLayout> shard;
  if (c.shard_tp > 1) {
    try {
      shard = std::make_unique<ShardLayout>(ShardLayout::make(c, c.shard_tp, c.shard_rank));
    } catch (const Error& e) {
      throw Error(f.path() + ": inconsistent shard file: " + e.what());
    }
  }
  check_tensors(f, *desc, c, shard.get());
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
    throw Error(name + ": columns [" + std::to_string(k0) + ", " + std::to_string(k0 + n) + ") of its " +
                std::to_string(n_in) + " cannot be cut from a " + std::string(ggml_type_name(type)) +
                " weight: a slice must start and end on a " + std::to_string(block) + "-element block");
  WeightView v = *this;
  v.row_stride = stride();
  v.data = data + ggml_row_bytes(type, k0);
  v.n_in = n;
  return v;
}

}  // namespace sci_infer
