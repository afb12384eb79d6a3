// Deterministic random-weight models (llama, qwen2, qwen3, gemma2, gemma3) as GGUF v3.
//
// Every weight is a pure function of (seed, tensor name, element index): a splitmix64 hash of
// that triple gives two uniforms and Box-Muller turns them into normals. No generator state is
// carried between elements, so tensors are filled row by row in parallel with identical results,
// and no std:: distribution (whose output differs between standard libraries) is involved.
// The only platform dependence left is libm's log/cos/sin rounding, which agrees bit for bit on
// every glibc build we run and in practice almost never changes the rounded float.
#include "sci_infer/model_maker.hpp"

#include <cmath>
#include <cstring>
#include <vector>

#include "sci_infer/error.hpp"
#include "sci_infer/gguf.hpp"
#include "sci_infer/tokenizer.hpp"

namespace sci_infer {

namespace {

constexpr uint64_t kGolden = 0x9E3779B97F4A7C15ull;

// splitmix64's output function: a bijective 64-bit mixer.
uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// The c-th output of a splitmix64 stream started at `key`.
uint64_t splitmix64_at(uint64_t key, uint64_t c) { return mix64(key + (c + 1) * kGolden); }

uint64_t fnv1a64(const std::string& s) {
  uint64_t h = 0xCBF29CE484222325ull;
  for (unsigned char c : s) {
    h ^= c;
    h *= 0x100000001B3ull;
  }
  return h;
}

// Standard normal noise indexed by element: elements 2k and 2k+1 are the cosine and sine
// outputs of Box-Muller applied to the k-th pair of uniforms of this tensor's stream.
class TensorNoise {
 public:
  TensorNoise(uint64_t seed, const std::string& name) : key_(mix64(seed ^ mix64(fnv1a64(name)))) {}

  // out[i] = mean + stddev * z(first + i) for i < n.
  void fill(float* out, uint64_t first, uint64_t n, double mean, double stddev) const {
    const uint64_t end = first + n;
    for (uint64_t j = first; j < end;) {
      double z0, z1;
      normal_pair(j / 2, z0, z1);
      if (j % 2 == 0) {
        out[j - first] = static_cast<float>(mean + stddev * z0);
        if (j + 1 < end) out[j + 1 - first] = static_cast<float>(mean + stddev * z1);
        j += 2;
      } else {
        out[j - first] = static_cast<float>(mean + stddev * z1);
        j += 1;
      }
    }
  }

 private:
  void normal_pair(uint64_t k, double& z0, double& z1) const {
    const uint64_t a = splitmix64_at(key_, 2 * k);
    const uint64_t b = splitmix64_at(key_, 2 * k + 1);
    const double u1 = static_cast<double>((a >> 11) + 1) * 0x1p-53;  // (0, 1]: log is finite
    const double u2 = static_cast<double>(b >> 11) * 0x1p-53;        // [0, 1)
    const double r = std::sqrt(-2.0 * std::log(u1));
    const double theta = 6.283185307179586 * u2;
    z0 = r * std::cos(theta);
    z1 = r * std::sin(theta);
  }
  uint64_t key_;
};

struct TensorPlan {
  std::string name;
  std::vector<uint64_t> ne;
  GgmlType type;
  double mean;
  double stddev;
};

// Encoded bytes of one tensor, generated and encoded row by row (never a full float copy).
std::vector<uint8_t> generate_tensor(const TensorPlan& p, uint64_t seed) {
  const uint64_t row_elems = p.ne[0];
  uint64_t rows = 1;
  for (size_t d = 1; d < p.ne.size(); ++d) rows *= p.ne[d];
  const size_t row_bytes = ggml_row_bytes(p.type, row_elems);
  std::vector<uint8_t> bytes(row_bytes * rows);
  const TensorNoise noise(seed, p.name);
  const long long n_rows = static_cast<long long>(rows);
  // Threads only pay off for large tensors; small models (most tests) stay serial, which also
  // keeps them fast when ctest or MPI ranks already occupy every core.
  const bool parallel = row_elems * rows >= (1u << 20);
#pragma omp parallel if (parallel)
  {
    std::vector<float> row(row_elems);
#pragma omp for schedule(static)
    for (long long r = 0; r < n_rows; ++r) {
      const auto ur = static_cast<uint64_t>(r);
      noise.fill(row.data(), ur * row_elems, row_elems, p.mean, p.stddev);
      encode_row(p.type, row.data(), bytes.data() + ur * row_bytes, row_elems);
    }
  }
  return bytes;
}

uint32_t gguf_file_type(GgmlType t) {
  switch (t) {  // llama_ftype values
    case GgmlType::F32: return 0;
    case GgmlType::F16: return 1;
    case GgmlType::Q8_0: return 7;
    case GgmlType::BF16: return 32;
  }
  return 0;
}

[[noreturn]] void bad_spec(const std::string& what) { throw Error("make_test_model: " + what); }

bool is_gemma(const ModelSpec& s) { return s.arch == "gemma2" || s.arch == "gemma3"; }

uint32_t head_dim_of(const ModelSpec& s) { return s.head_dim ? s.head_dim : s.dim / s.n_heads; }

void validate_spec(const ModelSpec& s) {
  if (s.n_vocab == 0 || s.dim == 0 || s.n_layers == 0 || s.n_heads == 0 || s.n_kv_heads == 0 ||
      s.ffn_dim == 0 || s.context == 0) {
    bad_spec("all model dimensions must be positive");
  }
  if (s.arch != "llama" && s.arch != "qwen2" && s.arch != "qwen3" && s.arch != "gemma2" && s.arch != "gemma3")
    bad_spec("architecture '" + s.arch + "' cannot be made (known: llama, qwen2, qwen3, gemma2, gemma3)");
  if (s.n_vocab < 300) bad_spec("n_vocab " + std::to_string(s.n_vocab) + " is below the 300 the synthetic tokenizer needs");
  if (s.head_dim == 0 && s.dim % s.n_heads != 0)
    bad_spec("dim " + std::to_string(s.dim) + " is not a multiple of n_heads " + std::to_string(s.n_heads) +
             " (give a head dimension)");
  if (head_dim_of(s) % 2 != 0) bad_spec("head dimension " + std::to_string(head_dim_of(s)) + " is odd; RoPE needs pairs");
  if (s.n_heads % s.n_kv_heads != 0) {
    bad_spec("n_heads " + std::to_string(s.n_heads) + " is not a multiple of n_kv_heads " + std::to_string(s.n_kv_heads));
  }
  if (s.rope_scaling != "none" && s.rope_scaling != "linear" && s.rope_scaling != "yarn" && s.rope_scaling != "llama3")
    bad_spec("rope scaling '" + s.rope_scaling + "' (known: none, linear, yarn, llama3)");
  if (s.rope_scaling == "llama3" && s.arch != "llama") bad_spec("llama3 rope scaling is for arch llama");
  if (s.rope_scaling != "none" && !(s.rope_factor > 0.0f)) bad_spec("rope factor must be positive");
  const uint64_t block = ggml_block_elems(s.dtype);
  if (s.dim % block != 0 || s.ffn_dim % block != 0 || (uint64_t(s.n_heads) * head_dim_of(s)) % block != 0) {
    bad_spec(std::string("dim, ffn_dim and n_heads * head_dim must be multiples of ") + std::to_string(block) + " for " +
             ggml_type_name(s.dtype));
  }
}

// rope_freqs.weight of Llama 3.1/3.2, as convert_hf_to_gguf.py (conversion/llama.py) computes it
// from rope_scaling {factor, low_freq_factor, high_freq_factor, original_max_position_embeddings}
// (float32 frequencies like torch's, the rest in Python floats = double).
std::vector<float> llama3_rope_factors(const ModelSpec& s) {
  const uint32_t dim = head_dim_of(s);
  const double old_ctx = s.rope_orig_context ? s.rope_orig_context : s.context / 4;
  const double low_wavelen = old_ctx / s.rope_low_freq_factor, high_wavelen = old_ctx / s.rope_high_freq_factor;
  std::vector<float> out;
  for (uint32_t i = 0; i < dim; i += 2) {
    const float freq = 1.0f / std::pow(s.rope_theta, float(i) / float(dim));
    const double wavelen = 2 * M_PI / double(freq);
    if (wavelen < high_wavelen) {
      out.push_back(1.0f);
    } else if (wavelen > low_wavelen) {
      out.push_back(s.rope_factor);
    } else {
      const double smooth = (old_ctx / wavelen - s.rope_low_freq_factor) / (s.rope_high_freq_factor - s.rope_low_freq_factor);
      out.push_back(static_cast<float>(1.0 / ((1 - smooth) / s.rope_factor + smooth)));
    }
  }
  return out;
}

// Scales chosen so a forward pass stays well conditioned at every preset size:
//  * projections: std 1/sqrt(fan_in) (fan_in = ne[0]), so each projection of an RMS-normalized
//    vector has unit-scale outputs and attention scores q.k/sqrt(hd) are O(1) (neither uniform
//    nor one-hot softmax);
//  * embeddings and output: std 2/sqrt(dim), so logits = normalized h . E have std about 2;
//    this also keeps the raw embedding small next to the layers' residual contributions, so a
//    tied model does not simply predict its input token;
//  * norm weights 1 + 0.1 * noise: close to identity but not trivially 1.
//  * biases: std 0.3, big enough to move the results;
std::vector<TensorPlan> plan_tensors(const ModelSpec& s) {
  const uint64_t dim = s.dim, hd = head_dim_of(s);
  const uint64_t q_dim = s.n_heads * hd, kv_dim = s.n_kv_heads * hd, ffn = s.ffn_dim;
  const double embed_std = 2.0 / std::sqrt(static_cast<double>(dim));
  auto proj = [&](std::string name, uint64_t in, uint64_t out) {
    return TensorPlan{std::move(name), {in, out}, s.dtype, 0.0, 1.0 / std::sqrt(static_cast<double>(in))};
  };
  auto norm = [&](std::string name, uint64_t n) { return TensorPlan{std::move(name), {n}, GgmlType::F32, 1.0, 0.1}; };
  auto bias = [&](std::string name, uint64_t n) { return TensorPlan{std::move(name), {n}, GgmlType::F32, 0.0, 0.3}; };
  const bool qkv_bias = s.arch == "qwen2", qk_norm = s.arch == "qwen3" || s.arch == "gemma3", post_norms = is_gemma(s);

  std::vector<TensorPlan> plans;
  plans.push_back(TensorPlan{"token_embd.weight", {dim, s.n_vocab}, s.dtype, 0.0, embed_std});
  for (uint32_t i = 0; i < s.n_layers; ++i) {
    const std::string b = "blk." + std::to_string(i) + ".";
    plans.push_back(norm(b + "attn_norm.weight", dim));
    plans.push_back(proj(b + "attn_q.weight", dim, q_dim));
    plans.push_back(proj(b + "attn_k.weight", dim, kv_dim));
    plans.push_back(proj(b + "attn_v.weight", dim, kv_dim));
    if (qkv_bias) {
      plans.push_back(bias(b + "attn_q.bias", q_dim));
      plans.push_back(bias(b + "attn_k.bias", kv_dim));
      plans.push_back(bias(b + "attn_v.bias", kv_dim));
    }
    if (qk_norm) {
      plans.push_back(norm(b + "attn_q_norm.weight", hd));
      plans.push_back(norm(b + "attn_k_norm.weight", hd));
    }
    plans.push_back(proj(b + "attn_output.weight", q_dim, dim));
    if (post_norms) plans.push_back(norm(b + "post_attention_norm.weight", dim));
    plans.push_back(norm(b + "ffn_norm.weight", dim));
    plans.push_back(proj(b + "ffn_gate.weight", dim, ffn));
    plans.push_back(proj(b + "ffn_up.weight", dim, ffn));
    plans.push_back(proj(b + "ffn_down.weight", ffn, dim));
    if (post_norms) plans.push_back(norm(b + "post_ffw_norm.weight", dim));
  }
  plans.push_back(norm("output_norm.weight", dim));
  // gemma2: llama.cpp always reuses token_embd as the output (there is no output.weight).
  if (!s.tied_output && s.arch != "gemma2")
    plans.push_back(TensorPlan{"output.weight", {dim, s.n_vocab}, s.dtype, 0.0, embed_std});
  return plans;
}

void write_tokenizer(GgufWriter& w, uint32_t n_vocab) {
  const TokenizerVocab v = make_synthetic_spm_vocab(n_vocab);
  if (v.tokens.size() != n_vocab) {
    bad_spec("synthetic vocabulary has " + std::to_string(v.tokens.size()) + " tokens, expected " +
             std::to_string(n_vocab));
  }
  w.set_string("tokenizer.ggml.model", v.model);
  w.set_string("tokenizer.ggml.pre", v.pre);
  w.set_string_array("tokenizer.ggml.tokens", v.tokens);
  w.set_float32_array("tokenizer.ggml.scores", v.scores);
  w.set_int32_array("tokenizer.ggml.token_type", v.token_types);
  auto set_id = [&](const char* key, int32_t id) {
    if (id >= 0) w.set_uint32(key, static_cast<uint32_t>(id));
  };
  set_id("tokenizer.ggml.bos_token_id", v.bos_id);
  set_id("tokenizer.ggml.eos_token_id", v.eos_id);
  set_id("tokenizer.ggml.unknown_token_id", v.unk_id);
  set_id("tokenizer.ggml.padding_token_id", v.pad_id);
  set_id("tokenizer.ggml.eot_token_id", v.eot_id);
  w.set_bool("tokenizer.ggml.add_bos_token", v.add_bos);
  w.set_bool("tokenizer.ggml.add_eos_token", v.add_eos);
  w.set_bool("tokenizer.ggml.add_space_prefix", v.add_space_prefix);
}

}  // namespace

ModelSpec model_spec_preset(const std::string& preset) {
  ModelSpec s;
  s.name = "sci_infer-" + preset;
  if (preset == "tiny") {
    // 106,816 parameters (tied): small enough for every unit test to build its own model.
    s.n_vocab = 512; s.dim = 64; s.n_layers = 2; s.n_heads = 4; s.n_kv_heads = 2;
    s.ffn_dim = 128; s.context = 256; s.tied_output = true;
  } else if (preset == "15m") {
    // 15,342,624 parameters: 2 x 2,359,296 (untied embedding and output) + 12 x 885,312 + 288.
    // The untied output keeps the output.weight path covered; head_dim 48, GQA group 3.
    s.n_vocab = 8192; s.dim = 288; s.n_layers = 12; s.n_heads = 6; s.n_kv_heads = 2;
    s.ffn_dim = 768; s.context = 1024; s.tied_output = false;
  } else if (preset == "100m") {
    // 100,092,672 parameters (tied): 24,576,000 embedding + 12 x 6,292,992 + 768.
    s.n_vocab = 32000; s.dim = 768; s.n_layers = 12; s.n_heads = 12; s.n_kv_heads = 4;
    s.ffn_dim = 2048; s.context = 2048; s.tied_output = true;
  } else {
    throw Error("unknown model preset '" + preset + "' (known: tiny, 15m, 100m)");
  }
  return s;
}

uint64_t model_param_count(const ModelSpec& s) {
  uint64_t n = 0;
  for (const TensorPlan& p : plan_tensors(s)) {
    uint64_t e = 1;
    for (uint64_t d : p.ne) e *= d;
    n += e;
  }
  return n;
}

void make_test_model(const ModelSpec& spec, const std::string& path) {
  validate_spec(spec);
  GgufWriter w;
  const std::string a = spec.arch + ".";
  const uint32_t hd = head_dim_of(spec);
  w.set_string("general.architecture", spec.arch);
  w.set_string("general.name", spec.name);
  w.set_uint32("general.file_type", gguf_file_type(spec.dtype));
  if (spec.dtype == GgmlType::Q8_0) w.set_uint32("general.quantization_version", 2);
  w.set_uint32(a + "context_length", spec.context);
  w.set_uint32(a + "embedding_length", spec.dim);
  w.set_uint32(a + "block_count", spec.n_layers);
  w.set_uint32(a + "feed_forward_length", spec.ffn_dim);
  w.set_uint32(a + "attention.head_count", spec.n_heads);
  w.set_uint32(a + "attention.head_count_kv", spec.n_kv_heads);
  w.set_float32(a + "rope.freq_base", spec.rope_theta);
  w.set_float32(a + "attention.layer_norm_rms_epsilon", spec.norm_eps);
  // As convert_hf_to_gguf.py: Qwen3 and Gemma always say their head dimension; Llama only
  // when it is not dim / n_heads.
  if (spec.arch == "qwen3" || is_gemma(spec) || hd * spec.n_heads != spec.dim) {
    w.set_uint32(a + "attention.key_length", hd);
    w.set_uint32(a + "attention.value_length", hd);
  }
  if (spec.arch == "llama") {
    w.set_uint32(a + "rope.dimension_count", hd);
    w.set_uint32(a + "vocab_size", spec.n_vocab);
  }
  if (spec.rope_scaling == "linear" || spec.rope_scaling == "yarn") {
    w.set_string(a + "rope.scaling.type", spec.rope_scaling);
    w.set_float32(a + "rope.scaling.factor", spec.rope_factor);
    if (spec.rope_scaling == "yarn")
      w.set_uint32(a + "rope.scaling.original_context_length",
                   spec.rope_orig_context ? spec.rope_orig_context : spec.context / 4);
  }
  if (is_gemma(spec)) {
    w.set_uint32(a + "attention.sliding_window", spec.sliding_window ? spec.sliding_window : 4096);
    if (spec.arch == "gemma2") {
      w.set_float32(a + "attn_logit_softcapping", spec.attn_softcap);
      w.set_float32(a + "final_logit_softcapping", spec.final_softcap);
    } else {
      if (spec.final_softcap > 0.0f) w.set_float32(a + "final_logit_softcapping", spec.final_softcap);
      w.set_float32(a + "rope.freq_base_swa", spec.rope_theta_swa);
    }
  }
  w.set_uint64("sci_infer.seed", spec.seed);
  write_tokenizer(w, spec.n_vocab);

  const uint64_t seed = spec.seed;
  if (spec.rope_scaling == "llama3") {
    const std::vector<float> f = llama3_rope_factors(spec);
    w.add_tensor_lazy("rope_freqs.weight", {uint64_t(f.size())}, GgmlType::F32, [f] {
      std::vector<uint8_t> b(f.size() * 4);
      std::memcpy(b.data(), f.data(), b.size());
      return b;
    });
  }
  for (TensorPlan& p : plan_tensors(spec)) {
    const std::string name = p.name;
    const std::vector<uint64_t> ne = p.ne;
    const GgmlType type = p.type;
    w.add_tensor_lazy(name, ne, type, [plan = std::move(p), seed] { return generate_tensor(plan, seed); });
  }
  w.write(path);
}

}  // namespace sci_infer
