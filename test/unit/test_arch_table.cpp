// The architecture tables and the loader rules they enforce (issue 11 §1): an unknown
// architecture, tensor or key is refused by name; head_dim comes from attention.key_length;
// optional roles are all-or-none; RoPE scaling keys are read, not ignored.
#include <catch2/catch.hpp>

#include <cmath>
#include <string>

#include "engine/model_weights.hpp"
#include "gguf_edit.hpp"
#include "model/architecture.hpp"
#include "sci_infer/error.hpp"
#include "sci_infer/model.hpp"
#include "sci_infer/model_maker.hpp"
#include "temp_dir.hpp"

using namespace sci_infer;
using Catch::Matchers::Contains;

namespace {

struct TempDir : testing::TempDir {
  TempDir() : testing::TempDir("sci_infer_arch_table") {}
};

ModelSpec tiny(const std::string& arch) {
  ModelSpec s = model_spec_preset("tiny");
  s.arch = arch;
  s.seed = 3;
  return s;
}

std::string made(const TempDir& d, const ModelSpec& s, const std::string& name) {
  const std::string path = d.file(name);
  make_test_model(s, path);
  return path;
}

std::string open_error(const std::string& path) {
  try {
    Model::open(path);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

// Copies src adding one F32 tensor (name, n elements of 1.0).
void add_tensor(const std::string& src, const std::string& dst, const std::string& name, uint64_t n) {
  auto f = GgufFile::open(src);
  GgufWriter w;
  for (const auto& key : f->metadata_keys())
    if (key != "general.alignment") w.set_value(key, f->value(key));
  for (const auto& t : f->tensors()) {
    const uint8_t* p = f->tensor_data(t);
    w.add_tensor(t.name, t.ne, t.type, std::vector<uint8_t>(p, p + t.n_bytes));
  }
  std::vector<float> ones(n, 1.0f);
  std::vector<uint8_t> bytes(n * 4);
  std::memcpy(bytes.data(), ones.data(), bytes.size());
  w.add_tensor(name, {n}, GgmlType::F32, std::move(bytes));
  w.write(dst, f->alignment());
}

}  // namespace

TEST_CASE("every architecture's roles are in the catalogue, and names parse back to their role", "[arch]") {
  for (const char* name : {"llama", "mistral", "qwen2", "qwen3", "gemma2", "gemma3"}) {
    const ArchDesc* a = find_architecture(name);
    REQUIRE(a != nullptr);
    for (const RoleUse& u : a->roles) {
      Role r;
      int layer;
      const std::string tensor = role_tensor_name(u.role, 5);
      REQUIRE(parse_tensor_role(tensor, r, layer));
      CHECK(r == u.role);
      CHECK(layer == (role_info(u.role).per_layer ? 5 : -1));
    }
  }
  CHECK(find_architecture("gpt2") == nullptr);
}

TEST_CASE("the loader refuses an unknown architecture, naming it and the known ones", "[arch]") {
  TempDir d;
  const std::string src = made(d, tiny("llama"), "m.gguf"), bad = d.file("bad.gguf");
  testing::GgufEdit e;
  e.metadata = [](const std::string& k, GgufValue& v) {
    if (k == "general.architecture") v.s = "falcon";
    return true;
  };
  testing::rewrite_gguf(src, bad, e);
  const std::string msg = open_error(bad);
  CHECK_THAT(msg, Contains("architecture 'falcon' is not supported"));
  CHECK_THAT(msg, Contains("qwen3"));
}

TEST_CASE("a tensor that no role consumes is an error naming it", "[arch]") {
  TempDir d;
  const std::string src = made(d, tiny("llama"), "m.gguf"), bad = d.file("extra.gguf");
  add_tensor(src, bad, "blk.0.attn_q_norm.weight", 16);  // a qwen3 role, not llama's
  CHECK_THAT(open_error(bad), Contains("tensor 'blk.0.attn_q_norm.weight' is not used by architecture 'llama'"));
  const std::string bad2 = d.file("extra2.gguf");
  add_tensor(src, bad2, "mystery.weight", 4);
  CHECK_THAT(open_error(bad2), Contains("'mystery.weight'"));
  // Attention sinks are a gpt-oss role, not llama's.
  const std::string sinks = d.file("sinks.gguf");
  add_tensor(src, sinks, "blk.0.attn_sinks.weight", 4);
  CHECK_THAT(open_error(sinks), Contains("tensor 'blk.0.attn_sinks.weight' is not used by architecture 'llama'"));
}

TEST_CASE("an optional role must be in every layer or none", "[arch]") {
  TempDir d;
  const std::string src = made(d, tiny("llama"), "m.gguf"), bad = d.file("half.gguf");
  add_tensor(src, bad, "blk.0.attn_output.bias", 64);  // layer 0 of 2
  CHECK_THAT(open_error(bad), Contains("attn_output.bias' is in 1 of 2 layers"));
}

// The model file with one float key added (every other key and tensor copied).
static std::string with_float_key(TempDir& d, const std::string& src, const std::string& name, const char* key, float v) {
  const std::string out = d.file(name);
  auto f = GgufFile::open(src);
  GgufWriter w;
  for (const auto& k : f->metadata_keys())
    if (k != "general.alignment") w.set_value(k, f->value(k));
  w.set_float32(key, v);
  for (const auto& t : f->tensors()) {
    const uint8_t* p = f->tensor_data(t);
    w.add_tensor(t.name, t.ne, t.type, std::vector<uint8_t>(p, p + t.n_bytes));
  }
  w.write(out, f->alignment());
  return out;
}

TEST_CASE("an unknown key in the architecture's namespace is refused by name", "[arch]") {
  TempDir d;
  const std::string src = made(d, tiny("llama"), "m.gguf");
  const std::string bad = with_float_key(d, src, "key.gguf", "llama.rope.scaling.mystery_factor", 0.1f);
  CHECK_THAT(open_error(bad), Contains("metadata key 'llama.rope.scaling.mystery_factor' is not supported"));
  // YaRN tuning keys that llama.cpp's saver writes: its default is accepted, any other value refused.
  const std::string dflt = with_float_key(d, src, "yarn0.gguf", "llama.rope.scaling.yarn_log_multiplier", 0.0f);
  CHECK_NOTHROW(Model::open(dflt));
  const std::string other = with_float_key(d, src, "yarn1.gguf", "llama.rope.scaling.yarn_log_multiplier", 0.1f);
  CHECK_THAT(open_error(other), Contains("llama.rope.scaling.yarn_log_multiplier = 0.100000 is not supported"));
}

TEST_CASE("head_dim comes from attention.key_length, decoupled from dim / n_heads", "[arch]") {
  TempDir d;
  ModelSpec s = tiny("qwen3");
  s.head_dim = 24;  // dim 64, 4 heads: 16 otherwise
  auto m = Model::open(made(d, s, "q3.gguf"));
  CHECK(m->config().head_dim == 24);
  CHECK(m->config().rope.layout == "neox");
  CHECK(role_present(m->config().roles_present, Role::AttnQNorm));
}

TEST_CASE("the recipe fields come from the table and the keys", "[arch]") {
  TempDir d;
  ModelSpec s = tiny("gemma2");
  s.n_layers = 3;
  s.sliding_window = 7;
  s.attn_softcap = 5.0f;
  s.final_softcap = 3.0f;
  auto m = Model::open(made(d, s, "g2.gguf"));
  const ModelConfig& c = m->config();
  CHECK(c.gelu);
  CHECK(c.sliding_window == 7);
  CHECK(c.swa_layers == std::vector<uint8_t>{1, 0, 1});  // llama.cpp: il % 2 < 1
  CHECK(c.attn_softcap == 5.0f);
  CHECK(c.final_softcap == 3.0f);
  CHECK(c.embed_scale == std::sqrt(64.0f));
  CHECK(c.tied_output);
  ModelSpec s3 = tiny("gemma3");
  s3.n_layers = 7;
  s3.sliding_window = 9;
  auto m3 = Model::open(made(d, s3, "g3.gguf"));
  CHECK(m3->config().swa_layers == std::vector<uint8_t>{1, 1, 1, 1, 1, 0, 1});
  CHECK(m3->config().attn_softcap == 0.0f);
}

TEST_CASE("RoPE scaling: llama3 factors divide the frequencies; linear and YaRN as ggml computes them", "[arch]") {
  TempDir d;
  ModelSpec s = tiny("llama");
  s.rope_scaling = "llama3";
  s.rope_factor = 8.0f;
  s.rope_orig_context = 32;
  auto m = Model::open(made(d, s, "l31.gguf"));
  const ModelConfig& c = m->config();
  REQUIRE(c.rope.freq_factors);
  const float* ff = reinterpret_cast<const float*>(m->weight("rope_freqs.weight").data);
  // head_dim 16, theta 1e4: wavelengths 2 pi 1e4^(2i/16); old context 32: high-frequency pairs
  // (wavelength < 8) keep factor 1, low-frequency ones (> 32) get the factor 8, between them
  // 1 / ((1 - smooth) / 8 + smooth) with smooth = (32 / wavelength - 1) / 3.
  CHECK(ff[0] == 1.0f);
  CHECK(ff[1] == Approx(1.0 / ((1 - (32 / (2 * M_PI * std::pow(1e4, 2.0 / 16)) - 1) / 3) / 8 +
                               (32 / (2 * M_PI * std::pow(1e4, 2.0 / 16)) - 1) / 3)).epsilon(1e-6));
  CHECK(ff[7] == 8.0f);
  const RopeFrequencies r = rope_frequencies(c, false, ff);
  for (int i = 0; i < 8; ++i) CHECK(r.inv_freq[i] == std::pow(1e4, -2.0 * i / 16) / double(ff[i]));
  CHECK(r.mscale == 1.0);

  s.rope_scaling = "linear";
  s.rope_factor = 4.0f;
  auto lin = Model::open(made(d, s, "lin.gguf"));
  const RopeFrequencies rl = rope_frequencies(lin->config(), false, nullptr);
  CHECK(rl.inv_freq[3] == std::pow(1e4, -6.0 / 16) * 0.25);

  s.rope_scaling = "yarn";
  s.rope_orig_context = 16;
  auto yarn = Model::open(made(d, s, "yarn.gguf"));
  CHECK(yarn->config().rope.scaling == "yarn");
  CHECK(yarn->config().rope.n_ctx_orig == 16);
  const RopeFrequencies ry = rope_frequencies(yarn->config(), false, nullptr);
  // ggml: mscale = 1 + 0.1 ln(factor); the fastest pair extrapolates (ramp 1), the slowest
  // interpolates (theta * freq_scale).
  CHECK(ry.mscale == Approx(1.0 + 0.1 * std::log(4.0)).epsilon(1e-12));
  CHECK(ry.inv_freq[0] == 1.0);
  CHECK(ry.inv_freq[7] == std::pow(1e4, -14.0 / 16) * 0.25);
}
