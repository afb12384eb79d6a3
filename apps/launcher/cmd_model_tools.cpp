// inspect, make-model, tokenize: commands that read or write model files without running them.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <sstream>

#include "commands.hpp"
#include "engine_flags.hpp"
#include "exit_codes.hpp"
#include "model/hf_checkpoint.hpp"
#include "sci_infer/gguf.hpp"
#include "sci_infer/model.hpp"
#include "sci_infer/model_maker.hpp"

namespace sci_infer::cli {

std::vector<int32_t> parse_token_list(const std::string& s) {
  std::vector<int32_t> ids;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) {
    if (item.empty()) continue;
    long long v = -1;
    try {
      size_t used = 0;
      v = std::stoll(item, &used);
      if (used != item.size()) throw std::invalid_argument(item);
    } catch (const std::exception&) {
      throw Error("token list '" + s + "': '" + item + "' is not an integer");
    }
    if (v < 0 || v > INT32_MAX) throw Error("token list '" + s + "': " + item + " is not a token id (0 to 2^31-1)");
    ids.push_back(static_cast<int32_t>(v));
  }
  return ids;
}

namespace {

std::string value_summary(const GgufValue& v) {
  switch (v.type) {
    case GgufValueType::STRING: return "\"" + (v.s.size() > 60 ? v.s.substr(0, 60) + "..." : v.s) + "\"";
    case GgufValueType::FLOAT32:
    case GgufValueType::FLOAT64: return std::to_string(v.f);
    case GgufValueType::BOOL: return v.u ? "true" : "false";
    case GgufValueType::ARRAY:
      return std::string("array of ") + gguf_value_type_name(v.array_type) + " [" + std::to_string(v.array_size()) + "]";
    case GgufValueType::INT8:
    case GgufValueType::INT16:
    case GgufValueType::INT32:
    case GgufValueType::INT64: return std::to_string(v.i);
    default: return std::to_string(v.u);
  }
}

}  // namespace

namespace {

// The body of `inspect`: prints the file, then returns 0 for a runnable llama model (and, with
// check_finite, finite weights), else kExitRefused with the reason on stderr.
int inspect(const std::string& path, bool tensors, bool check_finite) {
  auto f = open_model_file(path);  // a GGUF file or a checkpoint directory
  if (f->has("sci_infer.source.format"))  // a checkpoint directory, shown as the GGUF view it becomes
    std::printf("directory: %s\n%s checkpoint as a GGUF view, %zu metadata keys, %zu tensors, %lu bytes in %zu files\n",
                path.c_str(), f->get_string("sci_infer.source.format").c_str(), f->metadata_keys().size(),
                f->tensors().size(), (unsigned long)f->file_size(), f->sources().size() - 1);
  else
  std::printf("file: %s\nGGUF version: %u, alignment %lu, %zu metadata keys, %zu tensors, %lu bytes\n",
              path.c_str(), f->version(), (unsigned long)f->alignment(), f->metadata_keys().size(),
              f->tensors().size(), (unsigned long)f->file_size());
  for (const auto& k : f->metadata_keys()) std::printf("  %-44s %s\n", k.c_str(), value_summary(f->value(k)).c_str());
  uint64_t bytes = 0, elems = 0;
  for (const auto& t : f->tensors()) {
    bytes += t.n_bytes;
    elems += t.n_elements;
    if (tensors) {
      std::string shape;
      for (auto d : t.ne) shape += (shape.empty() ? "" : ", ") + std::to_string(d);
      std::printf("  %-32s %-5s [%s] %lu bytes\n", t.name.c_str(), ggml_type_name(t.type), shape.c_str(),
                  (unsigned long)t.n_bytes);
    }
  }
  std::printf("parameters: %lu (%.1f M), tensor bytes: %.1f MiB\n", (unsigned long)elems, elems / 1e6,
              bytes / 1048576.0);
  if (!tensors) {  // every tensor's type, compactly: its name and type (--tensors adds shapes and sizes)
    std::string line = "tensor types:";
    for (const auto& t : f->tensors()) line += " " + t.name + "=" + ggml_type_name(t.type);
    std::printf("%s\n", line.c_str());
  }
  std::fflush(stdout);
  int rc = kExitOk;
  try {
    const ModelConfig c = read_model_config(*f);
    std::printf("architecture: %s\n", c.arch.c_str());
    std::printf("model: %s, vocab %d, dim %d, layers %d, heads %d (kv %d, head dim %d), ffn %d, context %d, "
                "rope theta %g, eps %g, %s output, weights %s\n",
                c.arch.c_str(), c.n_vocab, c.dim, c.n_layers, c.n_heads, c.n_kv_heads, c.head_dim, c.ffn_dim,
                c.context, c.rope_theta, c.norm_eps, c.tied_output ? "tied" : "untied", ggml_type_name(c.weight_type));
    int n_swa = 0;
    for (uint8_t x : c.swa_layers) n_swa += x;
    std::printf("recipe: rope %s, scaling %s (freq scale %g, attn factor %g%s), %s, sliding window %d on %d of %d "
                "layers, attention soft-cap %g, final soft-cap %g, embedding scale %g\n",
                c.rope.layout.c_str(), c.rope.scaling.c_str(), c.rope.freq_scale, c.rope.attn_factor,
                c.rope.freq_factors ? ", rope_freqs.weight factors" : "", c.gelu ? "GeGLU" : "SwiGLU",
                c.sliding_window, n_swa, c.n_layers, c.attn_softcap, c.final_softcap, c.embed_scale);
  } catch (const Error& e) {
    std::fflush(stdout);
    std::fprintf(stderr, "sci-infer: error: not a runnable model: %s\n", e.what());
    rc = kExitRefused;
  }
  if (check_finite) {
    NonFiniteValue bad;
    if (find_non_finite(*f, &bad)) {
      std::string at;
      for (auto i : bad.index) at += (at.empty() ? "" : ", ") + std::to_string(i);
      std::fflush(stdout);
      std::fprintf(stderr, "sci-infer: error: %s: tensor '%s' element [%s] (flat index %lu) is %s\n", path.c_str(),
                   bad.tensor.c_str(), at.c_str(), (unsigned long)bad.element, std::isnan(bad.value) ? "NaN" : "Inf");
      rc = kExitRefused;
    } else {
      std::printf("finite: every value of the %zu tensors is finite\n", f->tensors().size());
    }
  }
  return rc;
}

}  // namespace

Runner add_inspect(CLI::App& app) {
  auto path = std::make_shared<std::string>();
  auto tensors = std::make_shared<bool>(false);
  auto check_finite = std::make_shared<bool>(false);
  app.add_option("model", *path, "GGUF file")->required();
  app.add_flag("--tensors", *tensors, "List every tensor");
  app.add_flag("--check-finite", *check_finite,
               "Decode every weight (F16/BF16 values, Q8_0 scales) and name the first NaN or Inf");
  app.footer("Exits 0 for a runnable model (architectures: see docs/models.md) (with --check-finite: whose weights are all finite), "
             "2 otherwise, with the reason on stderr.");
  return [=] {
    try {
      return inspect(*path, *tensors, *check_finite);
    } catch (const Error& e) {  // the file cannot be read at all: a bad model file, as `run` calls it
      std::fflush(stdout);
      std::fprintf(stderr, "sci-infer: error: %s\n", e.what());
      return kExitRefused;
    }
  };
}

Runner add_make_model(CLI::App& app) {
  struct Args {
    std::string preset = "15m", dtype = "f32", out, arch = "llama", rope_scaling = "none";
    uint64_t seed = 1234;
    bool untied = false;
    ModelSpec spec;
  };
  auto a = std::make_shared<Args>();
  app.add_option("--preset", a->preset, "tiny, 15m or 100m (sets the shape; options below override)");
  app.add_option("--dtype", a->dtype, "f32, f16, bf16 or q8_0");
  app.add_option("--seed", a->seed, "Weight seed");
  app.add_option("--out,-o", a->out, "Output GGUF path")->required();
  app.add_flag("--untied", a->untied, "Separate output.weight instead of reusing token_embd");
  auto vocab = app.add_option("--vocab", a->spec.n_vocab);
  auto dim = app.add_option("--dim", a->spec.dim);
  auto layers = app.add_option("--layers", a->spec.n_layers);
  auto heads = app.add_option("--heads", a->spec.n_heads);
  auto kv = app.add_option("--kv-heads", a->spec.n_kv_heads);
  auto ffn = app.add_option("--ffn", a->spec.ffn_dim);
  auto ctx = app.add_option("--context", a->spec.context);
  auto theta = app.add_option("--rope-theta", a->spec.rope_theta);
  auto eps = app.add_option("--eps", a->spec.norm_eps);
  app.add_option("--arch", a->arch, "llama, qwen2, qwen3, gemma2, gemma3 or gpt-oss (llama.cpp's GGUF conventions)");
  auto experts = app.add_option("--experts", a->spec.n_expert, "gpt-oss: expert_count (default 4)");
  auto used = app.add_option("--experts-used", a->spec.n_expert_used, "gpt-oss: expert_used_count (default 2)");
  auto eff = app.add_option("--expert-ffn", a->spec.expert_ffn, "gpt-oss: expert_feed_forward_length (default --ffn)");
  auto head_dim = app.add_option("--head-dim", a->spec.head_dim, "Head dimension (default dim / heads)");
  app.add_option("--rope-scaling", a->rope_scaling, "none, linear, yarn or llama3 (Llama 3.1 rope_freqs.weight)");
  auto factor = app.add_option("--rope-factor", a->spec.rope_factor, "RoPE scaling factor (default 8)");
  auto orig = app.add_option("--rope-orig-context", a->spec.rope_orig_context,
                             "Original context of the scaling (default context / 4)");
  auto window = app.add_option("--sliding-window", a->spec.sliding_window,
                               "Gemma, gpt-oss: attention.sliding_window (gpt-oss default 128)");
  auto acap = app.add_option("--attn-softcap", a->spec.attn_softcap, "gemma2: attn_logit_softcapping (default 50)");
  auto fcap = app.add_option("--final-softcap", a->spec.final_softcap,
                             "Gemma: final_logit_softcapping (default 30; gemma3: 0 = none)");
  return [=] {
    ModelSpec s = model_spec_preset(a->preset);
    if (*vocab) s.n_vocab = a->spec.n_vocab;
    if (*dim) s.dim = a->spec.dim;
    if (*layers) s.n_layers = a->spec.n_layers;
    if (*heads) s.n_heads = a->spec.n_heads;
    if (*kv) s.n_kv_heads = a->spec.n_kv_heads;
    if (*ffn) s.ffn_dim = a->spec.ffn_dim;
    if (*ctx) s.context = a->spec.context;
    if (*theta) s.rope_theta = a->spec.rope_theta;
    if (*eps) s.norm_eps = a->spec.norm_eps;
    s.arch = a->arch;
    if (*head_dim) s.head_dim = a->spec.head_dim;
    s.rope_scaling = a->rope_scaling;
    if (*factor) s.rope_factor = a->spec.rope_factor;
    if (*orig) s.rope_orig_context = a->spec.rope_orig_context;
    if (*window) s.sliding_window = a->spec.sliding_window;
    if (*experts) s.n_expert = a->spec.n_expert;
    if (*used) s.n_expert_used = a->spec.n_expert_used;
    if (*eff) s.expert_ffn = a->spec.expert_ffn;
    if (*acap) s.attn_softcap = a->spec.attn_softcap;
    if (*fcap) s.final_softcap = a->spec.final_softcap;
    if (s.arch == "gemma3" && !*fcap) s.final_softcap = 0.0f;
    std::string dt = a->dtype;
    for (auto& ch : dt) ch = static_cast<char>(std::toupper(ch));
    s.dtype = ggml_type_from_name(dt);
    s.seed = a->seed;
    s.tied_output = !a->untied;
    make_test_model(s, a->out);
    std::printf("wrote %s (%s, %s, %s)\n", a->out.c_str(), s.arch.c_str(), a->preset.c_str(), ggml_type_name(s.dtype));
    return 0;
  };
}

Runner add_tokenize(CLI::App& app) {
  auto model = std::make_shared<std::string>();
  auto text = std::make_shared<std::string>();
  auto no_special = std::make_shared<bool>(false);
  app.add_option("--model,-m", *model, "GGUF model file")->required();
  app.add_option("--prompt,-p", *text, "Text to tokenize")->required();
  app.add_flag("--no-special", *no_special, "Do not add BOS/EOS");
  return [=] {
    auto m = Model::open(*model);
    const auto ids = m->tokenizer().encode(*text, !*no_special);
    for (size_t i = 0; i < ids.size(); ++i) std::printf("%s%d", i ? "," : "", ids[i]);
    std::printf("\n");
    return 0;
  };
}

}  // namespace sci_infer::cli
