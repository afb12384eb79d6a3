// Deterministic random-weight Llama models as GGUF v3.
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
    default: break;  // the maker writes no other type (encode_row refuses them)
  }
  return 0;
}

[[noreturn]] void bad_spec(const std::string& what) { throw Error("make_test_model: " + what); }

void validate_spec(const ModelSpec& s) {
  if (s.n_vocab == 0 || s.dim == 0 || s.n_layers == 0 || s.n_heads == 0 || s.n_kv_heads == 0 ||
      s.ffn_dim == 0 || s.context == 0) {
    bad_spec("all model dimensions must be positive");
  }
  if (s.n_vocab < 300) bad_spec("n_vocab " + std::to_string(s.n_vocab) + " is below the 300 the synthetic tokenizer needs");
  if (s.dim % s.n_heads != 0) bad_spec("dim " + std::to_string(s.dim) + " is not a multiple of n_heads " + std::to_string(s.n_heads));
  if ((s.dim / s.n_heads) % 2 != 0) bad_spec("head dimension " + std::to_string(s.dim / s.n_heads) + " is odd; RoPE needs pairs");
  if (s.n_heads % s.n_kv_heads != 0) {
    bad_spec("n_heads " + std::to_string(s.n_heads) + " is not a multiple of n_kv_heads " + std::to_string(s.n_kv_heads));
  }
  const uint64_t block = ggml_block_elems(s.dtype);
  if (s.dim % block != 0 || s.ffn_dim % block != 0) {
    bad_spec(std::string("dim and ffn_dim must be multiples of ") + std::to_string(block) + " for " + ggml_type_name(s.dtype));
  }
}

// Scales chosen so a forward pass stays well conditioned at every preset size:
//  * projections: std 1/sqrt(fan_in) (fan_in = ne[0]), so each projection of an RMS-normalized
//    vector has unit-scale outputs and attention scores q.k/sqrt(hd) are O(1) (neither uniform
//    nor one-hot softmax);
//  * embeddings and output: std 2/sqrt(dim), so logits = normalized h . E have std about 2;
//    this also keeps the raw embedding small next to the layers' residual contributions, so a
//    tied model does not simply predict its input token;
//  * norm weights 1 + 0.1 * noise: close to identity but not trivially 1.
std::vector<TensorPlan> plan_tensors(const ModelSpec& s) {
  const uint64_t dim = s.dim, hd = s.dim / s.n_heads;
  const uint64_t q_dim = s.n_heads * hd, kv_dim = s.n_kv_heads * hd, ffn = s.ffn_dim;
  const double embed_std = 2.0 / std::sqrt(static_cast<double>(dim));
  auto proj = [&](std::string name, uint64_t in, uint64_t out) {
    return TensorPlan{std::move(name), {in, out}, s.dtype, 0.0, 1.0 / std::sqrt(static_cast<double>(in))};
  };
  auto norm = [&](std::string name) { return TensorPlan{std::move(name), {dim}, GgmlType::F32, 1.0, 0.1}; };

  std::vector<TensorPlan> plans;
  plans.push_back(TensorPlan{"token_embd.weight", {dim, s.n_vocab}, s.dtype, 0.0, embed_std});
  for (uint32_t i = 0; i < s.n_layers; ++i) {
    const std::string b = "blk." + std::to_string(i) + ".";
    plans.push_back(norm(b + "attn_norm.weight"));
    plans.push_back(proj(b + "attn_q.weight", dim, q_dim));
    plans.push_back(proj(b + "attn_k.weight", dim, kv_dim));
    plans.push_back(proj(b + "attn_v.weight", dim, kv_dim));
    plans.push_back(proj(b + "attn_output.weight", q_dim, dim));
    plans.push_back(norm(b + "ffn_norm.weight"));
    plans.push_back(proj(b + "ffn_gate.weight", dim, ffn));
    plans.push_back(proj(b + "ffn_up.weight", dim, ffn));
    plans.push_back(proj(b + "ffn_down.weight", ffn, dim));
  }
  plans.push_back(norm("output_norm.weight"));
  if (!s.tied_output) plans.push_back(TensorPlan{"output.weight", {dim, s.n_vocab}, s.dtype, 0.0, embed_std});
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
  w.set_string("general.architecture", "llama");
  w.set_string("general.name", spec.name);
  w.set_uint32("general.file_type", gguf_file_type(spec.dtype));
  if (spec.dtype == GgmlType::Q8_0) w.set_uint32("general.quantization_version", 2);
  w.set_uint32("llama.context_length", spec.context);
  w.set_uint32("llama.embedding_length", spec.dim);
  w.set_uint32("llama.block_count", spec.n_layers);
  w.set_uint32("llama.feed_forward_length", spec.ffn_dim);
  w.set_uint32("llama.attention.head_count", spec.n_heads);
  w.set_uint32("llama.attention.head_count_kv", spec.n_kv_heads);
  w.set_float32("llama.rope.freq_base", spec.rope_theta);
  w.set_float32("llama.attention.layer_norm_rms_epsilon", spec.norm_eps);
  w.set_uint32("llama.rope.dimension_count", spec.dim / spec.n_heads);
  w.set_uint32("llama.vocab_size", spec.n_vocab);
  w.set_uint64("sci_infer.seed", spec.seed);
  write_tokenizer(w, spec.n_vocab);

  const uint64_t seed = spec.seed;
  for (TensorPlan& p : plan_tensors(spec)) {
    const std::string name = p.name;
    const std::vector<uint64_t> ne = p.ne;
    const GgmlType type = p.type;
    w.add_tensor_lazy(name, ne, type, [plan = std::move(p), seed] { return generate_tensor(plan, seed); });
  }
  w.write(path);
}

}  // namespace sci_infer
