// The reproducibility contract for every architecture's recipe (biases, QK-norm, sliding
// window, soft-caps, GeGLU, RoPE layouts): a sequence's logits do not depend on its batch, the
// thread count or the prefill chunking; and a NEOX-layout head with unpermuted Q/K (an HF
// checkpoint, sci_infer.rope.layout = neox) gives the same bits as its llama.cpp-permuted NORM
// twin, thanks to the pair-order attention dot product.
#include <catch2/catch.hpp>

#include <cstring>
#include <string>

#include "gguf_edit.hpp"
#include "engine_requests.hpp"
#include "sci_infer/engine.hpp"
#include "sci_infer/model_maker.hpp"
#include "temp_dir.hpp"

using namespace sci_infer;

using namespace sci_infer::test;

namespace {

struct TempDir : testing::TempDir {
  TempDir() : testing::TempDir("sci_infer_arch_invariance") {}
};


ModelSpec spec(const std::string& arch) {
  ModelSpec s = model_spec_preset("tiny");
  s.arch = arch;
  s.seed = 21;
  s.n_heads = 6;
  s.n_kv_heads = 2;
  s.head_dim = 20;
  s.n_layers = 3;
  s.sliding_window = 11;
  s.attn_softcap = 4.0f;
  s.final_softcap = 3.0f;
  if (arch == "llama") s.rope_scaling = "yarn";
  return s;
}

}  // namespace

TEST_CASE("every architecture: logits are the same alone, in a batch, at any thread count and chunking", "[arch]") {
  TempDir d;
  for (const char* arch : {"llama", "qwen2", "qwen3", "gemma2", "gemma3"}) {
    const std::string path = d.file(std::string(arch) + ".gguf");
    make_test_model(spec(arch), path);
    auto model = Model::open(path);
    const int n_vocab = model->config().n_vocab;
    const auto probe = prompt(70, 1, n_vocab);  // three KV pages, far past the window
    Engine alone(model, options(1));
    const auto ref = alone.run({logits_request(0, probe)})[0].logits;
    REQUIRE(ref.size() == probe.size() * size_t(n_vocab));
    std::vector<Request> rs;
    for (int i = 0; i < 7; ++i)
      rs.push_back(i == 3 ? logits_request(i, probe) : logits_request(i, prompt(1 + (i * 37) % 90, i + 5, n_vocab)));
    Engine batched(model, options(3, 40));  // a small step budget: the probe is prefilled in chunks
    const auto res = batched.run(std::move(rs));
    INFO("architecture " << arch);
    CHECK(same_bits(res[3].logits, ref));
  }
}

TEST_CASE("sci_infer.rope.layout neox with unpermuted Q/K rows gives the NORM model's bits", "[arch]") {
  TempDir d;
  ModelSpec s = spec("llama");
  s.rope_scaling = "none";
  const std::string norm_path = d.file("norm.gguf"), neox_path = d.file("neox.gguf");
  make_test_model(s, norm_path);
  const int hd = 20, half = hd / 2;
  // llama.cpp's converter permutes HF rows: GGUF row 2i + j of a head is HF row j * half + i.
  // Undo it for attn_q / attn_k and say so with the layout key.
  testing::GgufEdit e;
  e.tensor = [&](const GgufTensorInfo& t, std::vector<uint8_t>& b) {
    const bool qk = t.name.find(".attn_q.weight") != std::string::npos || t.name.find(".attn_k.weight") != std::string::npos;
    if (!qk) return;
    const size_t row = t.ne[0] * 4, heads = t.ne[1] / hd;
    std::vector<uint8_t> out(b.size());
    for (size_t h = 0; h < heads; ++h)
      for (int i = 0; i < half; ++i)
        for (int j = 0; j < 2; ++j)
          std::memcpy(&out[(h * hd + j * half + i) * row], &b[(h * hd + 2 * i + j) * row], row);
    b = std::move(out);
  };
  {
    auto f = GgufFile::open(norm_path);
    GgufWriter w;
    for (const auto& key : f->metadata_keys())
      if (key != "general.alignment") w.set_value(key, f->value(key));
    w.set_string("sci_infer.rope.layout", "neox");
    for (const auto& t : f->tensors()) {
      const uint8_t* p = f->tensor_data(t);
      std::vector<uint8_t> bytes(p, p + t.n_bytes);
      e.tensor(t, bytes);
      w.add_tensor(t.name, t.ne, t.type, std::move(bytes));
    }
    w.write(neox_path, f->alignment());
  }
  auto norm_model = Model::open(norm_path), neox_model = Model::open(neox_path);
  REQUIRE(neox_model->config().rope.layout == "neox");
  const auto probe = prompt(45, 2, norm_model->config().n_vocab);
  Engine a(norm_model, options(2)), b(neox_model, options(2));
  const auto la = a.run({logits_request(0, probe)})[0].logits;
  const auto lb = b.run({logits_request(0, probe)})[0].logits;
  CHECK(same_bits(la, lb));
}

TEST_CASE("every architecture: embedding-row inputs equal to the tokens' embedding rows give the tokens' logits", "[arch]") {
  // An embedding row is what the model's embedding lookup gives for a token (HF's inputs_embeds):
  // rows decoded here from the file's token_embd.weight must run exactly as those tokens do,
  // including Gemma's sqrt(dim) input scale (applied to inputs_embeds by HF and llama.cpp too).
  TempDir d;
  for (const char* arch : {"llama", "qwen3", "gemma2", "gemma3"}) {
    const std::string path = d.file(std::string(arch) + "_emb.gguf");
    make_test_model(spec(arch), path);
    auto model = Model::open(path);
    const int n_vocab = model->config().n_vocab, dim = model->config().dim;
    const auto toks = prompt(30, 4, n_vocab);
    const GgufTensorInfo* emb = model->file().find_tensor("token_embd.weight");
    REQUIRE(emb != nullptr);
    const size_t row_bytes = ggml_row_bytes(emb->type, emb->ne[0]);
    const int k = 12;  // the first k positions as embedding rows, the rest as tokens
    Request by_rows = logits_request(1, std::vector<int32_t>(toks.begin() + k, toks.end()));
    by_rows.n_embedding_rows = k;
    by_rows.embeddings.resize(size_t(k) * dim);
    for (int i = 0; i < k; ++i)
      decode_row(emb->type, model->file().tensor_data(*emb) + size_t(toks[i]) * row_bytes, &by_rows.embeddings[size_t(i) * dim], dim);
    Engine e(model, options(2));
    const auto res = e.run({logits_request(0, toks), by_rows});
    INFO("architecture " << arch);
    REQUIRE(res[0].logits.size() == toks.size() * size_t(n_vocab));
    CHECK(same_bits(res[1].logits, res[0].logits));
  }
}
