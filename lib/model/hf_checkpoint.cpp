// A Hugging Face checkpoint directory as an in-memory GGUF view (see hf_checkpoint.hpp).
#include "model/hf_checkpoint.hpp"

#include "io/safetensors.hpp"
#include "io/sha256.hpp"
#include "model/architecture.hpp"
#include "model/hf_tensor_map.hpp"
#include "sci_infer/tensor_types.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

namespace sci_infer {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

std::string join(const std::string& dir, const std::string& name) { return (fs::path(dir) / name).string(); }
bool is_file(const std::string& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path + ": cannot open");
  std::ostringstream s;
  s << in.rdbuf();
  if (in.bad()) throw Error(path + ": read error");
  return s.str();
}

std::string shape_text(const std::vector<uint64_t>& s) {
  std::string t = "[";
  for (size_t i = 0; i < s.size(); ++i) t += (i ? ", " : "") + std::to_string(s[i]);
  return t + "]";
}

// config.json values: integers must be integers, and in range, or the file is wrong.
struct Config {
  json j;
  std::string path;
  bool has(const char* k) const { return j.contains(k) && !j[k].is_null(); }
  uint64_t uint(const char* k, uint64_t lo = 1, uint64_t hi = 1ull << 40) const {
    if (!has(k)) throw Error(path + ": key '" + k + "' is missing");
    const json& v = j[k];
    if (!v.is_number_integer() || v.get<int64_t>() < int64_t(lo) || v.get<uint64_t>() > hi)
      throw Error(path + ": '" + k + "' = " + v.dump() + " is not an integer in [" + std::to_string(lo) + ", " +
                  std::to_string(hi) + "]");
    return v.get<uint64_t>();
  }
  uint64_t uint_or(const char* k, uint64_t def) const { return has(k) ? uint(k) : def; }
  double num(const json& v, const std::string& k) const {
    if (!v.is_number()) throw Error(path + ": '" + k + "' = " + v.dump() + " is not a number");
    return v.get<double>();
  }
  double num_or(const char* k, double def) const { return has(k) ? num(j[k], k) : def; }
};

// The tensors of all safetensors files: by HF name, which file (region index) and where.
struct Located {
  const SafetensorsTensor* t;
  uint32_t source;
  std::string file;
};

struct Checkpoint {
  std::vector<SafetensorsFile> files;
  std::vector<std::string> names;  // file names, for messages and the fingerprint
  std::map<std::string, Located> tensors;
};

Checkpoint open_safetensors(const std::string& dir) {
  Checkpoint c;
  std::vector<std::string> names;
  const std::string index_path = join(dir, "model.safetensors.index.json");
  std::map<std::string, std::string> weight_map;
  if (is_file(index_path)) {
    const json idx = read_json_file(index_path);
    if (!idx.contains("weight_map") || !idx["weight_map"].is_object())
      throw Error(index_path + ": 'weight_map' missing or not an object");
    std::set<std::string> files;
    for (auto it = idx["weight_map"].begin(); it != idx["weight_map"].end(); ++it) {
      if (!it.value().is_string()) throw Error(index_path + ": weight_map['" + it.key() + "'] is not a file name");
      const std::string f = it.value().get<std::string>();
      if (f.empty() || f.find('/') != std::string::npos || f == "." || f == "..")
        throw Error(index_path + ": weight_map['" + it.key() + "'] = '" + f + "' is not a file name in the directory");
      weight_map[it.key()] = f;
      files.insert(f);
    }
    names.assign(files.begin(), files.end());
  } else if (is_file(join(dir, "model.safetensors"))) {
    names = {"model.safetensors"};
  } else {
    std::vector<std::string> found;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(dir, ec))
      if (e.path().extension() == ".safetensors") found.push_back(e.path().filename().string());
    std::sort(found.begin(), found.end());
    if (found.size() == 1) names = found;
    else if (found.empty()) throw Error(dir + ": no model.safetensors (nor model.safetensors.index.json) in the checkpoint directory");
    else throw Error(dir + ": " + std::to_string(found.size()) + " safetensors files (" + found[0] + ", ...) but no model.safetensors.index.json to say which hold the model");
  }
  for (const std::string& n : names) {
    const std::string path = join(dir, n);
    if (!is_file(path)) throw Error(index_path + ": names '" + n + "', which is not in the directory");
    c.files.push_back(SafetensorsFile::open(path));
    c.names.push_back(n);
  }
  for (uint32_t s = 0; s < c.files.size(); ++s) {
    const std::string path = join(dir, c.names[s]);
    for (const SafetensorsTensor& t : c.files[s].header.tensors) {
      const auto prev = c.tensors.find(t.name);
      if (prev != c.tensors.end())
        throw Error(dir + ": tensor '" + t.name + "' is in both " + c.names[prev->second.source] + " and " + c.names[s]);
      if (!weight_map.empty()) {
        const auto w = weight_map.find(t.name);
        if (w == weight_map.end()) throw Error(path + ": tensor '" + t.name + "' is not in model.safetensors.index.json's weight_map");
        if (w->second != c.names[s])
          throw Error(path + ": tensor '" + t.name + "' is here but model.safetensors.index.json puts it in " + w->second);
      }
      c.tensors.emplace(t.name, Located{&t, s, path});
    }
  }
  for (const auto& w : weight_map)
    if (!c.tensors.count(w.first))
      throw Error(join(dir, w.second) + ": tensor '" + w.first + "' (named by model.safetensors.index.json) is missing");
  return c;
}

// The architecture config.json names ("architectures"[0], else "model_type").
const ArchDesc& hf_architecture(const json& config, const std::string& path) {
  std::string name;
  if (config.contains("architectures") && config["architectures"].is_array() && !config["architectures"].empty() &&
      config["architectures"][0].is_string())
    name = config["architectures"][0].get<std::string>();
  const std::string type = config.value("model_type", std::string());
  if (const ArchDesc* a = find_hf_architecture(name, name.empty() ? type : std::string())) return *a;
  throw Error(path + ": architecture '" + (name.empty() ? type : name) + "' is not supported (" + known_hf_classes() + ")");
}

// config.json's layer_types (transformers >= 4.53) must be the sliding-window pattern that
// llama.cpp, and so the engine, applies to the architecture regardless: a checkpoint whose
// layers differ would run, and run wrong, so it is refused.
void check_layer_types(const Config& cfg, const ArchDesc& a, uint64_t layers) {
  if (!cfg.has("layer_types")) return;
  const json& lt = cfg.j["layer_types"];
  if (!lt.is_array() || lt.size() != layers)
    throw Error(cfg.path + ": layer_types must list one type for each of the " + std::to_string(layers) + " layers");
  const uint64_t n = a.recipe.swa == SwaKind::Pattern ? a.recipe.swa_pattern_default : 0;
  for (uint64_t i = 0; i < layers; ++i) {
    const std::string want = n > 0 && i % n < n - 1 ? "sliding_attention" : "full_attention";
    if (!lt[i].is_string() || lt[i].get<std::string>() != want)
      throw Error(cfg.path + ": layer_types[" + std::to_string(i) + "] = " + lt[i].dump() + ", but " + a.name +
                  " runs layer " + std::to_string(i) + " with " + want + " (" +
                  (n ? "one full-attention layer in every " + std::to_string(n) : std::string("no sliding window")) + ")");
  }
}

// Values the architecture's math fixes (HfConventions::fixed; partial RoPE for every one).
void check_fixed_values(const Config& cfg, const ArchDesc& a) {
  std::vector<std::pair<std::string, std::string>> fixed = a.hf.fixed;
  fixed.emplace_back("partial_rotary_factor", "1.0");
  for (const auto& f : fixed) {
    if (!cfg.has(f.first.c_str())) continue;
    const json want = json::parse(f.second), got = cfg.j[f.first];
    const bool same = want.is_number() ? got.is_number() && got.get<double>() == want.get<double>() : got == want;
    if (!same)
      throw Error(cfg.path + ": " + f.first + " = " + got.dump() + ", but " + a.name + " models run with " + want.dump() +
                  " (llama.cpp reads no key for it; sci_infer follows)");
  }
}

// rope_freqs.weight for rope_type llama3, as convert_hf_to_gguf.py (LlamaModel.generate_extra_tensors)
// computes it with torch in float32: each operation rounded to float.
std::vector<float> llama3_rope_factors(const json& rp, double base, uint64_t dim) {
  auto get = [&](const char* k, double d) { return rp.contains(k) && rp[k].is_number() ? rp[k].get<double>() : d; };
  const float factor = float(get("factor", 8.0)), low = float(get("low_freq_factor", 1.0)),
              high = float(get("high_freq_factor", 4.0));
  const float old_ctx = float(get("original_max_position_embeddings", 8192));
  const double low_wavelen = double(old_ctx) / low, high_wavelen = double(old_ctx) / high;
  std::vector<float> out;
  for (uint64_t i = 0; i < dim; i += 2) {
    const float e = float(i) / float(dim);
    const float freq = 1.0f / float(std::pow(base, double(e)));
    const float wavelen = float(2.0 * M_PI / double(freq));
    if (wavelen < high_wavelen) out.push_back(1.0f);
    else if (wavelen > low_wavelen) out.push_back(factor);
    else {
      const float smooth = (old_ctx / wavelen - low) / (high - low);
      out.push_back(1.0f / ((1.0f - smooth) / factor + smooth));
    }
  }
  return out;
}

// What the file identity is made of, cheap at every open: each file's name, size and a hash of
// its header (safetensors) or whole text (the small JSON files); the weights themselves are
// covered by the provenance's full-content hash (FileHashCache, cached across resumes).
std::string fingerprint_entry(const std::string& name, const uint8_t* p, uint64_t n, uint64_t size) {
  return name + " " + std::to_string(size) + " " + sha256_hex(p, n);
}

}  // namespace

nlohmann::json read_json_file(const std::string& path) {
  const std::string text = read_text(path);
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) throw Error(path + ": not valid JSON");
  return j;
}

GgufValue gguf_str(const std::string& s) { GgufValue v; v.type = GgufValueType::STRING; v.s = s; return v; }
GgufValue gguf_u32(uint64_t x) { GgufValue v; v.type = GgufValueType::UINT32; v.u = x; v.i = int64_t(x); return v; }
GgufValue gguf_i32(int64_t x) { GgufValue v; v.type = GgufValueType::INT32; v.i = x; return v; }
GgufValue gguf_f32(double x) { GgufValue v; v.type = GgufValueType::FLOAT32; v.f = double(float(x)); return v; }
GgufValue gguf_bool(bool x) { GgufValue v; v.type = GgufValueType::BOOL; v.u = x; return v; }
GgufValue gguf_strs(std::vector<std::string> a) {
  GgufValue v; v.type = GgufValueType::ARRAY; v.array_type = GgufValueType::STRING; v.strings = std::move(a); return v;
}
GgufValue gguf_f32s(std::vector<double> a) {
  GgufValue v; v.type = GgufValueType::ARRAY; v.array_type = GgufValueType::FLOAT32;
  for (double& x : a) x = double(float(x));
  v.floats = std::move(a);
  return v;
}
GgufValue gguf_i32s(std::vector<int64_t> a) {
  GgufValue v; v.type = GgufValueType::ARRAY; v.array_type = GgufValueType::INT32; v.ints = std::move(a); return v;
}

bool is_directory(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

std::unique_ptr<GgufFile> open_model_file(const std::string& path) {
  return is_directory(path) ? open_hf_checkpoint(path) : GgufFile::open(path);
}

std::unique_ptr<GgufFile> open_hf_checkpoint(const std::string& dir) {
  const std::string config_path = join(dir, "config.json");
  if (!is_file(config_path))
    throw Error(dir + ": a directory model must be a Hugging Face checkpoint: config.json is missing");
  Config cfg{read_json_file(config_path), config_path};
  if (!cfg.j.is_object()) throw Error(config_path + ": not a JSON object");
  if (cfg.j.contains("text_config") && cfg.j["text_config"].is_object()) {  // Gemma 3 multimodal
    json merged = cfg.j;
    for (auto it = cfg.j["text_config"].begin(); it != cfg.j["text_config"].end(); ++it) merged[it.key()] = it.value();
    cfg.j = merged;
  }
  const ArchDesc& arch = hf_architecture(cfg.j, config_path);
  Checkpoint ck = open_safetensors(dir);
  const std::string a = std::string(arch.name) + ".";
  auto accepts = [&](const std::string& key) { return std::find(arch.keys.begin(), arch.keys.end(), key) != arch.keys.end(); };

  // ---- hyper-parameters, as convert_hf_to_gguf.py writes them ----
  const uint64_t hidden = cfg.uint("hidden_size"), layers = cfg.uint("num_hidden_layers", 1, 4096);
  const uint64_t heads = cfg.uint("num_attention_heads"), kv_heads = cfg.uint_or("num_key_value_heads", heads);
  const uint64_t ffn = cfg.uint("intermediate_size");
  const uint64_t head_dim = cfg.has("head_dim") ? cfg.uint("head_dim") : hidden / heads;
  GgufMetadata md;
  md.emplace_back("general.architecture", gguf_str(arch.name));
  md.emplace_back("general.name", gguf_str(fs::path(dir).lexically_normal().filename().empty()
                                               ? fs::path(dir).lexically_normal().parent_path().filename().string()
                                               : fs::path(dir).lexically_normal().filename().string()));
  md.emplace_back("sci_infer.source.format", gguf_str("huggingface"));
  md.emplace_back(a + "block_count", gguf_u32(layers));
  md.emplace_back(a + "context_length", gguf_u32(cfg.uint_or("max_position_embeddings", 4096)));
  md.emplace_back(a + "attention.head_count_kv", gguf_u32(kv_heads));
  md.emplace_back(a + "attention.layer_norm_rms_epsilon", gguf_f32(cfg.num_or("rms_norm_eps", 1e-6)));
  md.emplace_back(a + "rope.dimension_count", gguf_u32(head_dim));
  for (const HfConfigKey& k : hf_config_keys()) {  // the values copied as they are (arch_table.cpp)
    if (!accepts(k.gguf) || !cfg.has(k.config)) continue;
    md.emplace_back(a + k.gguf, k.kind == HfKeyKind::Uint ? gguf_u32(cfg.uint(k.config))
                                                          : gguf_f32(cfg.num(cfg.j[k.config], k.config)));
  }
  // RoPE: rope_parameters (or the older rope_scaling), per layer type in transformers 5
  // ({"full_attention": {...}, "sliding_attention": {...}}) or one object for every layer.
  const json rope_all = cfg.has("rope_parameters") ? cfg.j["rope_parameters"] : cfg.has("rope_scaling") ? cfg.j["rope_scaling"] : json::object();
  if (!rope_all.is_object()) throw Error(config_path + ": rope_scaling must be an object or null");
  const json rope = rope_all.contains("full_attention") ? rope_all["full_attention"] : rope_all;
  if (!rope.is_object()) throw Error(config_path + ": rope_parameters.full_attention must be an object");
  const double rope_theta = rope.contains("rope_theta") ? cfg.num(rope["rope_theta"], "rope_theta") : cfg.num_or("rope_theta", 10000.0);
  md.emplace_back(a + "rope.freq_base", gguf_f32(rope_theta));
  {  // the sliding-window layers' own base (Gemma 3's rope_local_base_freq)
    const json local = rope_all.contains("sliding_attention") ? rope_all["sliding_attention"] : json::object();
    const bool has_local = local.is_object() && local.contains("rope_theta");
    if (accepts("rope.freq_base_swa") && (has_local || cfg.has("rope_local_base_freq")))
      md.emplace_back(a + "rope.freq_base_swa", gguf_f32(has_local ? cfg.num(local["rope_theta"], "sliding_attention.rope_theta")
                                                                   : cfg.num_or("rope_local_base_freq", 10000.0)));
  }
  std::string rope_type = rope.value("rope_type", rope.value("type", std::string()));
  std::vector<float> rope_freqs;
  if (!rope_type.empty() && rope_type != "default") {
    const bool has_factor = rope.contains("factor") && rope["factor"].is_number();
    if (rope_type == "linear" && has_factor) {
      md.emplace_back(a + "rope.scaling.type", gguf_str("linear"));
      md.emplace_back(a + "rope.scaling.factor", gguf_f32(rope["factor"].get<double>()));
    } else if (rope_type == "yarn" && has_factor) {
      md.emplace_back(a + "rope.scaling.type", gguf_str("yarn"));
      md.emplace_back(a + "rope.scaling.factor", gguf_f32(rope["factor"].get<double>()));
      if (!rope.contains("original_max_position_embeddings") || !rope["original_max_position_embeddings"].is_number_unsigned())
        throw Error(config_path + ": rope_scaling yarn needs original_max_position_embeddings");
      md.emplace_back(a + "rope.scaling.original_context_length",
                      gguf_u32(rope["original_max_position_embeddings"].get<uint64_t>()));
      const std::pair<const char*, const char*> yarn[] = {{"extrapolation_factor", "rope.scaling.yarn_ext_factor"},
                                                          {"attention_factor", "rope.scaling.yarn_attn_factor"},
                                                          {"beta_fast", "rope.scaling.yarn_beta_fast"},
                                                          {"beta_slow", "rope.scaling.yarn_beta_slow"}};
      for (const auto& y : yarn)
        if (rope.contains(y.first) && rope[y.first].is_number()) md.emplace_back(a + y.second, gguf_f32(rope[y.first].get<double>()));
    } else if (rope_type == "llama3") {
      rope_freqs = llama3_rope_factors(rope, rope_theta, head_dim);
    } else {
      throw Error(config_path + ": rope_scaling type '" + rope_type + "' is not supported (linear, yarn, llama3)");
    }
  }
  // HF stores Q/K unpermuted (rotate-half pairs): where llama.cpp's layout is the interleaved one
  // (the converter permutes the rows), the kernel's RoPE layout follows HF instead.
  if (arch.recipe.rope == RopeLayout::Norm) md.emplace_back("sci_infer.rope.layout", gguf_str("neox"));
  check_layer_types(cfg, arch, layers);
  check_fixed_values(cfg, arch);

  // ---- the vocabulary: embedding rows, config.json, the tokenizer ----
  const Located* emb = nullptr;
  for (const char* n : {"model.embed_tokens.weight", "model.language_model.embed_tokens.weight", "language_model.model.embed_tokens.weight"})
    if (!emb && ck.tensors.count(n)) emb = &ck.tensors.at(n);
  if (!emb) throw Error(dir + ": tensor 'model.embed_tokens.weight' is missing from the checkpoint");
  if (emb->t->shape.size() != 2) throw Error(emb->file + ": tensor 'model.embed_tokens.weight' must be 2-D");
  const uint64_t n_rows = emb->t->shape[0];
  if (cfg.has("vocab_size") && cfg.uint("vocab_size") != n_rows)
    throw Error(config_path + ": vocab_size = " + std::to_string(cfg.uint("vocab_size")) + " but " + emb->file +
                " holds model.embed_tokens.weight " + shape_text(emb->t->shape));
  uint64_t n_vocab = n_rows;
  // Gemma 3's converter keeps as many embedding rows as its token list has entries: with
  // tokenizer.model and config.json's vocab_size, that many (the list padded with [PADi]); else
  // the tokenizer's ids, the rest of the rows (padding) dropped.
  const bool sp_model_sized = is_file(join(dir, "tokenizer.model")) && cfg.has("vocab_size");
  if (arch.hf.trim_vocab && !sp_model_sized) {
    const uint64_t named = hf_tokenizer_id_count(dir);
    if (named > 0 && named < n_rows) n_vocab = named;
  }
  md.emplace_back(a + "vocab_size", gguf_u32(n_vocab));
  {  // layers: as many as config.json says, numbered 0 .. n-1
    const std::string lp = emb->t->name.substr(0, emb->t->name.size() - std::strlen("embed_tokens.weight")) + "layers.";
    std::set<uint64_t> layer_ids;
    for (const auto& t : ck.tensors)
      if (t.first.compare(0, lp.size(), lp) == 0)
        layer_ids.insert(std::stoull("0" + t.first.substr(lp.size(), std::min<size_t>(9, t.first.find('.', lp.size()) - lp.size()))));
    if (layer_ids.size() != layers || (!layer_ids.empty() && *layer_ids.rbegin() + 1 != layers))
      throw Error(config_path + ": num_hidden_layers = " + std::to_string(layers) + " but the checkpoint holds tensors of " +
                  std::to_string(layer_ids.size()) + " layers");
  }

  // ---- tensor table, in file order then data order (as a converted file would hold them) ----
  std::vector<const Located*> order;
  for (const auto& t : ck.tensors) order.push_back(&t.second);
  std::sort(order.begin(), order.end(), [](const Located* x, const Located* y) {
    return x->source != y->source ? x->source < y->source : x->t->begin < y->t->begin;
  });
  std::vector<HfTensor> in;
  for (const Located* l : order) {
    const uint64_t off = ck.files[l->source].header.data_start + l->t->begin;
    in.push_back(HfTensor{l->t, l->source, off, ck.files[l->source].region->data() + off, l->file, ck.files[l->source].region});
  }
  HfTensorTable table = map_hf_tensors(arch, in, static_cast<uint32_t>(ck.files.size()), n_vocab);
  HfSizes sizes;
  const std::string hd = "head_dim " + std::to_string(head_dim);
  sizes.set(Size::Vocab, n_vocab, "vocab_size " + std::to_string(n_vocab));
  sizes.set(Size::Dim, hidden, "hidden_size " + std::to_string(hidden));
  sizes.set(Size::QDim, heads * head_dim, "num_attention_heads " + std::to_string(heads) + " x " + hd);
  sizes.set(Size::KvDim, kv_heads * head_dim, "num_key_value_heads " + std::to_string(kv_heads) + " x " + hd);
  sizes.set(Size::HeadDim, head_dim, hd);
  sizes.set(Size::Heads, heads, "num_attention_heads " + std::to_string(heads));
  sizes.set(Size::Ffn, ffn, "intermediate_size " + std::to_string(ffn));
  sizes.set(Size::ExpertFfn, ffn, "intermediate_size " + std::to_string(ffn));
  sizes.set(Size::Experts, cfg.uint_or("num_local_experts", 0), "num_local_experts " + std::to_string(cfg.uint_or("num_local_experts", 0)));
  check_hf_tensors(arch, table, sizes, layers, config_path, dir);
  const bool tie = cfg.j.value("tie_word_embeddings", arch.hf.tied_default);
  const bool has_output = std::any_of(table.tensors.begin(), table.tensors.end(),
                                      [](const GgufTensorInfo& t) { return t.name == "output.weight"; });
  if (!has_output && !tie) throw Error(config_path + ": tie_word_embeddings is false but the checkpoint has no lm_head.weight");
  if (!rope_freqs.empty()) {  // llama3 scaling: the factors the converter writes as a tensor
    GgufTensorInfo t;
    t.name = "rope_freqs.weight";
    t.ne = {rope_freqs.size()};
    table.add_owned(std::move(t), rope_freqs.data(), rope_freqs.size() * 4, "rope_scaling", config_path);
  }
  std::vector<GgufTensorInfo> tensors = std::move(table.tensors);
  std::vector<uint8_t> owned = std::move(table.owned);
  std::map<std::string, GgufFile::DeriveBytes> derived = std::move(table.derived);
  // ---- tokenizer ----
  add_hf_tokenizer_metadata(dir, cfg.j, n_vocab, md);

  // ---- identity of every file (see fingerprint_entry) ----
  std::vector<std::string> entries;
  for (size_t s = 0; s < ck.files.size(); ++s)
    entries.push_back(fingerprint_entry(ck.names[s], ck.files[s].region->data(), ck.files[s].header.data_start,
                                        ck.files[s].region->size()));
  for (const char* n : {"config.json", "model.safetensors.index.json", "tokenizer.json", "tokenizer_config.json",
                        "generation_config.json", "tokenizer.model"}) {
    const std::string path = join(dir, n);
    if (!is_file(path)) continue;
    const std::string text = read_text(path);
    entries.push_back(fingerprint_entry(n, reinterpret_cast<const uint8_t*>(text.data()), text.size(), text.size()));
  }
  std::sort(entries.begin(), entries.end());
  std::string all;
  for (const auto& e : entries) all += e + "\n";
  md.emplace_back("sci_infer.source.files", gguf_strs(entries));
  md.emplace_back("sci_infer.source.fingerprint", gguf_str(sha256_hex(all.data(), all.size())));

  std::vector<std::shared_ptr<const MappedRegion>> sources;
  for (auto& f : ck.files) sources.push_back(f.region);
  sources.push_back(MappedRegion::hold(dir + " (vectors as F32)", std::move(owned)));
  return GgufFile::assemble(dir, std::move(md), std::move(tensors), std::move(sources), std::move(derived));
}

}  // namespace sci_infer
