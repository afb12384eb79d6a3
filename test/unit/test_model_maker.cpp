// Synthetic test models: structure, metadata, determinism and weight statistics.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "sci_infer/error.hpp"
#include "sci_infer/gguf.hpp"
#include "temp_dir.hpp"
#include "sci_infer/model_maker.hpp"

using namespace sci_infer;
using Catch::Matchers::Contains;

namespace {

namespace fs = std::filesystem;

// A scratch directory of this file's tests.
struct ModelDir : testing::TempDir {
  ModelDir() : testing::TempDir("sci_infer_maker") {}
};

std::vector<uint8_t> file_bytes(const std::string& path) { return testing::read_file_bytes(path); }

std::vector<float> decode_tensor(const GgufFile& f, const std::string& name) {
  const GgufTensorInfo& t = f.tensor(name);
  std::vector<float> out(t.n_elements);
  decode_row(t.type, f.tensor_data(t), out.data(), t.n_elements);  // rows are contiguous
  return out;
}

struct Moments {
  double mean = 0, stddev = 0;
};
Moments moments(const std::vector<float>& x) {
  double s = 0, s2 = 0;
  for (float v : x) s += v;
  const double mean = s / x.size();
  for (float v : x) s2 += (v - mean) * (v - mean);
  return {mean, std::sqrt(s2 / x.size())};
}

// Every tensor make_test_model must write, with its llama.cpp shape.
std::vector<std::pair<std::string, std::vector<uint64_t>>> expected_tensors(const ModelSpec& s) {
  const uint64_t hd = s.dim / s.n_heads;
  std::vector<std::pair<std::string, std::vector<uint64_t>>> t;
  t.push_back({"token_embd.weight", {s.dim, s.n_vocab}});
  for (uint32_t i = 0; i < s.n_layers; ++i) {
    const std::string b = "blk." + std::to_string(i) + ".";
    t.push_back({b + "attn_norm.weight", {s.dim}});
    t.push_back({b + "attn_q.weight", {s.dim, s.n_heads * hd}});
    t.push_back({b + "attn_k.weight", {s.dim, s.n_kv_heads * hd}});
    t.push_back({b + "attn_v.weight", {s.dim, s.n_kv_heads * hd}});
    t.push_back({b + "attn_output.weight", {s.n_heads * hd, s.dim}});
    t.push_back({b + "ffn_norm.weight", {s.dim}});
    t.push_back({b + "ffn_gate.weight", {s.dim, s.ffn_dim}});
    t.push_back({b + "ffn_up.weight", {s.dim, s.ffn_dim}});
    t.push_back({b + "ffn_down.weight", {s.ffn_dim, s.dim}});
  }
  t.push_back({"output_norm.weight", {s.dim}});
  if (!s.tied_output) t.push_back({"output.weight", {s.dim, s.n_vocab}});
  return t;
}

}  // namespace

TEST_CASE("model maker: presets", "[model_maker]") {
  const ModelSpec tiny = model_spec_preset("tiny");
  CHECK(tiny.n_vocab == 512);
  CHECK(tiny.dim == 64);
  CHECK(tiny.n_layers == 2);
  CHECK(tiny.n_heads == 4);
  CHECK(tiny.n_kv_heads == 2);
  CHECK(tiny.ffn_dim == 128);
  CHECK(tiny.context == 256);
  CHECK(model_param_count(tiny) == 106816);
  const ModelSpec m15 = model_spec_preset("15m");
  CHECK_FALSE(m15.tied_output);
  CHECK(model_param_count(m15) == 15342624);
  const ModelSpec m100 = model_spec_preset("100m");
  CHECK(m100.tied_output);
  CHECK(m100.n_vocab == 32000);
  CHECK(model_param_count(m100) == 100092672);
  CHECK_THROWS_WITH(model_spec_preset("7b"), Contains("unknown model preset '7b'"));
}

TEST_CASE("model maker: tiny model structure and metadata", "[model_maker]") {
  ModelDir dir;
  ModelSpec spec = model_spec_preset("tiny");
  const bool tied = GENERATE(true, false);
  spec.tied_output = tied;
  const std::string path = dir.file("tiny.gguf");
  make_test_model(spec, path);
  auto f = GgufFile::open(path);

  CHECK(f->version() == 3);
  CHECK(f->get_string("general.architecture") == "llama");
  CHECK(f->get_string("general.name") == "sci_infer-tiny");
  CHECK(f->get_uint("general.file_type") == 0);
  CHECK(f->get_uint("llama.context_length") == 256);
  CHECK(f->get_uint("llama.embedding_length") == 64);
  CHECK(f->get_uint("llama.block_count") == 2);
  CHECK(f->get_uint("llama.feed_forward_length") == 128);
  CHECK(f->get_uint("llama.attention.head_count") == 4);
  CHECK(f->get_uint("llama.attention.head_count_kv") == 2);
  CHECK(f->get_uint("llama.rope.dimension_count") == 16);
  CHECK(f->get_uint("llama.vocab_size") == 512);
  CHECK(f->get_float("llama.rope.freq_base") == 10000.0);
  CHECK(f->get_float("llama.attention.layer_norm_rms_epsilon") == Approx(1e-5));
  CHECK(f->get_uint("sci_infer.seed") == 1234);
  CHECK(f->get_string("tokenizer.ggml.model") == "llama");
  CHECK(f->get_string("tokenizer.ggml.pre") == "default");
  CHECK(f->get_string_array("tokenizer.ggml.tokens").size() == 512);
  CHECK(f->get_float_array("tokenizer.ggml.scores").size() == 512);
  CHECK(f->get_int_array("tokenizer.ggml.token_type").size() == 512);
  CHECK(f->get_uint("tokenizer.ggml.bos_token_id") < 512);
  CHECK(f->get_uint("tokenizer.ggml.eos_token_id") < 512);
  CHECK(f->get_uint("tokenizer.ggml.unknown_token_id") < 512);
  CHECK(f->get_bool("tokenizer.ggml.add_bos_token"));
  CHECK_FALSE(f->get_bool("tokenizer.ggml.add_eos_token"));

  const auto expected = expected_tensors(spec);
  REQUIRE(f->tensors().size() == expected.size());
  uint64_t params = 0;
  for (size_t k = 0; k < expected.size(); ++k) {
    const GgufTensorInfo& t = f->tensor(expected[k].first, expected[k].second);
    CHECK(f->tensors()[k].name == expected[k].first);
    CHECK(t.type == GgmlType::F32);
    params += t.n_elements;
  }
  CHECK(params == model_param_count(spec));
  CHECK((f->find_tensor("output.weight") != nullptr) == !tied);
}

TEST_CASE("model maker: 2-D weights take the spec dtype, norms stay F32", "[model_maker]") {
  ModelDir dir;
  ModelSpec spec = model_spec_preset("tiny");
  const GgmlType dtype = GENERATE(GgmlType::F16, GgmlType::Q8_0, GgmlType::BF16);
  spec.dtype = dtype;
  spec.tied_output = false;
  const std::string path = dir.file("typed.gguf");
  make_test_model(spec, path);
  auto f = GgufFile::open(path);
  const uint64_t file_type = dtype == GgmlType::F16 ? 1 : dtype == GgmlType::Q8_0 ? 7 : 32;
  CHECK(f->get_uint("general.file_type") == file_type);
  for (const GgufTensorInfo& t : f->tensors()) {
    INFO(t.name);
    CHECK(t.type == (t.ne.size() == 1 ? GgmlType::F32 : dtype));
  }
  // The encoded weights decode to the same values as the F32 model, up to the type's rounding.
  spec.dtype = GgmlType::F32;
  make_test_model(spec, dir.file("f32.gguf"));
  auto ref = GgufFile::open(dir.file("f32.gguf"));
  const std::vector<float> a = decode_tensor(*f, "blk.1.ffn_down.weight");
  const std::vector<float> r = decode_tensor(*ref, "blk.1.ffn_down.weight");
  REQUIRE(a.size() == r.size());
  double max_err = 0;
  for (size_t i = 0; i < a.size(); ++i) max_err = std::max(max_err, std::fabs(double(a[i]) - r[i]));
  CHECK(max_err > 0);
  CHECK(max_err < 0.01);
}

TEST_CASE("model maker: same seed gives identical bytes, another seed different weights", "[model_maker]") {
  ModelDir dir;
  ModelSpec spec = model_spec_preset("tiny");
  make_test_model(spec, dir.file("a.gguf"));
  make_test_model(spec, dir.file("b.gguf"));
  CHECK(file_bytes(dir.file("a.gguf")) == file_bytes(dir.file("b.gguf")));

  spec.seed = 1235;
  make_test_model(spec, dir.file("c.gguf"));
  auto a = GgufFile::open(dir.file("a.gguf"));
  auto c = GgufFile::open(dir.file("c.gguf"));
  CHECK(c->get_uint("sci_infer.seed") == 1235);
  for (const GgufTensorInfo& t : a->tensors()) {
    INFO(t.name);
    const GgufTensorInfo& u = c->tensor(t.name, t.ne);
    CHECK(std::memcmp(a->tensor_data(t), c->tensor_data(u), t.n_bytes) != 0);
  }
  // Tensors of the same shape are not copies of each other.
  const GgufTensorInfo& q0 = a->tensor("blk.0.attn_q.weight");
  const GgufTensorInfo& q1 = a->tensor("blk.1.attn_q.weight");
  CHECK(std::memcmp(a->tensor_data(q0), a->tensor_data(q1), q0.n_bytes) != 0);
}

TEST_CASE("model maker: weights are pinned across builds and machines", "[model_maker]") {
  // FNV-1a over all tensor data of the tiny F32 model with seed 1234. A change here means every
  // stored reference output made from these models changes too: update it deliberately.
  ModelDir dir;
  make_test_model(model_spec_preset("tiny"), dir.file("tiny.gguf"));
  auto f = GgufFile::open(dir.file("tiny.gguf"));
  uint64_t h = 0xCBF29CE484222325ull;
  for (const GgufTensorInfo& t : f->tensors()) {
    const uint8_t* p = f->tensor_data(t);
    for (uint64_t i = 0; i < t.n_bytes; ++i) h = (h ^ p[i]) * 0x100000001B3ull;
  }
  CHECK(h == 0x7381ab65451795faull);
}

TEST_CASE("model maker: weight scales", "[model_maker]") {
  ModelDir dir;
  ModelSpec spec = model_spec_preset("tiny");
  make_test_model(spec, dir.file("tiny.gguf"));
  auto f = GgufFile::open(dir.file("tiny.gguf"));

  const Moments e = moments(decode_tensor(*f, "token_embd.weight"));  // 32768 values
  CHECK(std::fabs(e.mean) < 0.01);
  CHECK(e.stddev == Approx(2.0 / 8.0).epsilon(0.03));
  const Moments q = moments(decode_tensor(*f, "blk.0.attn_q.weight"));  // fan_in 64
  CHECK(std::fabs(q.mean) < 0.01);
  CHECK(q.stddev == Approx(1.0 / 8.0).epsilon(0.05));
  const Moments d = moments(decode_tensor(*f, "blk.1.ffn_down.weight"));  // fan_in 128
  CHECK(d.stddev == Approx(1.0 / std::sqrt(128.0)).epsilon(0.05));

  std::vector<float> norms;
  for (const char* n : {"blk.0.attn_norm.weight", "blk.0.ffn_norm.weight", "blk.1.attn_norm.weight",
                        "blk.1.ffn_norm.weight", "output_norm.weight"}) {
    const std::vector<float> v = decode_tensor(*f, n);
    norms.insert(norms.end(), v.begin(), v.end());
  }
  const Moments nm = moments(norms);  // 320 values
  CHECK(nm.mean == Approx(1.0).margin(0.02));
  CHECK(nm.stddev == Approx(0.1).margin(0.015));

  // Normal, not uniform: about 68% of the embedding within one standard deviation.
  const std::vector<float> emb = decode_tensor(*f, "token_embd.weight");
  size_t inside = 0;
  for (float v : emb) inside += std::fabs(v) < e.stddev;
  CHECK(double(inside) / emb.size() == Approx(0.6827).margin(0.01));
}

TEST_CASE("model maker: invalid specs are refused", "[model_maker]") {
  ModelDir dir;
  ModelSpec s = model_spec_preset("tiny");
  s.n_heads = 3;  // 64 % 3 != 0
  CHECK_THROWS_WITH(make_test_model(s, dir.file("x.gguf")), Contains("not a multiple of n_heads"));
  s = model_spec_preset("tiny");
  s.n_kv_heads = 3;
  CHECK_THROWS_AS(make_test_model(s, dir.file("x.gguf")), Error);
  s = model_spec_preset("tiny");
  s.dtype = GgmlType::Q8_0;
  s.ffn_dim = 100;
  CHECK_THROWS_WITH(make_test_model(s, dir.file("x.gguf")), Contains("multiples of 32"));
  s = model_spec_preset("tiny");
  s.n_layers = 0;
  CHECK_THROWS_AS(make_test_model(s, dir.file("x.gguf")), Error);
  CHECK_FALSE(fs::exists(dir.file("x.gguf")));
}
