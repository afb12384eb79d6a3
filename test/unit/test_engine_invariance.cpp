// The reproducibility contract of the engine (docs/reproducibility.md), tested bit for bit:
// a sequence's logits do not depend on the batch it runs in, its position in that batch, the
// thread count, how its prompt is chunked, or whether a position is computed at prefill or at
// decode; the portable Kokkos GEMM gives the same bits as the fixed-order host kernel.
#include <catch2/catch.hpp>
#include <cstring>
#include <filesystem>

#include "engine_requests.hpp"
#include "sci_infer/engine.hpp"
#include "sci_infer/model_maker.hpp"

using namespace sci_infer;

using namespace sci_infer::test;

namespace {

std::shared_ptr<const Model> test_model(GgmlType dtype) {
  const auto path = std::filesystem::temp_directory_path() /
                    (std::string("sci_infer_invariance_") + ggml_type_name(dtype) + ".gguf");
  if (!std::filesystem::exists(path)) {
    ModelSpec s = model_spec_preset("tiny");
    s.dtype = dtype;
    s.context = 256;
    s.seed = 99;
    make_test_model(s, path.string());
  }
  return Model::open(path.string());
}


}  // namespace

TEST_CASE("logits are bitwise identical alone and in mixed batches of 3, 8 and 17", "[invariance]") {
  for (GgmlType dtype : {GgmlType::F32, GgmlType::Q8_0}) {
    auto model = test_model(dtype);
    const int n_vocab = model->config().n_vocab;
    const auto probe = prompt(75, 1, n_vocab);  // spans three 32-position KV pages
    Engine alone(model, options(1));
    const auto ref = alone.run({logits_request(0, probe)})[0].logits;
    REQUIRE(ref.size() == probe.size() * size_t(n_vocab));
    for (int batch : {3, 8, 17}) {
      for (int where : {0, batch / 2, batch - 1}) {
        std::vector<Request> rs;
        for (int i = 0; i < batch; ++i)
          rs.push_back(i == where ? logits_request(i, probe) : logits_request(i, prompt(1 + (i * 37) % 120, i + 5, n_vocab)));
        Engine engine(model, options(2, 96));  // small step budget: the batch is split across steps too
        const auto res = engine.run(std::move(rs));
        INFO("dtype " << ggml_type_name(dtype) << ", batch " << batch << ", position " << where);
        CHECK(same_bits(res[where].logits, ref));
      }
    }
  }
}

TEST_CASE("logits do not depend on the thread count or the prefill chunk size", "[invariance]") {
  auto model = test_model(GgmlType::F16);
  const auto probe = prompt(100, 3, model->config().n_vocab);
  Engine one(model, options(1));
  const auto ref = one.run({logits_request(0, probe)})[0].logits;
  for (int threads : {1, 2}) {
    for (int chunk : {1, 7, 32, 33, 512}) {
      Engine e(model, options(threads, chunk));
      INFO("threads " << threads << ", chunk " << chunk);
      CHECK(same_bits(e.run({logits_request(0, probe)})[0].logits, ref));
    }
  }
}

TEST_CASE("a position computed during decode equals the same position computed at prefill", "[invariance]") {
  auto model = test_model(GgmlType::F32);
  const int n_vocab = model->config().n_vocab;
  Request g;
  g.id = 5;
  g.task = Task::Generate;
  g.tokens = prompt(20, 9, n_vocab);
  g.max_new_tokens = 12;
  g.sampling.ignore_eos = true;
  Engine engine(model, options(2));
  const auto gen = engine.run({g})[0];
  REQUIRE(gen.tokens.size() == 12);
  // Prefill prompt + generated tokens at once; the decode-time log-probabilities must match.
  auto all = g.tokens;
  all.insert(all.end(), gen.tokens.begin(), gen.tokens.end() - 1);
  const auto logits = engine.run({logits_request(6, all)})[0].logits;
  for (size_t k = 0; k < gen.tokens.size(); ++k) {
    const size_t pos = g.tokens.size() - 1 + k;
    const float lp = token_logprob(&logits[pos * n_vocab], n_vocab, gen.tokens[k]);
    INFO("generated token " << k);
    CHECK(std::memcmp(&lp, &gen.logprobs[k], sizeof(float)) == 0);
  }
}

TEST_CASE("the portable Kokkos GEMM gives the fixed-order kernel's bits", "[invariance]") {
  for (GgmlType dtype : {GgmlType::F32, GgmlType::F16, GgmlType::BF16, GgmlType::Q8_0}) {
    auto model = test_model(dtype);
    const auto probe = prompt(40, 2, model->config().n_vocab);
    EngineOptions ko = options(1);
    ko.gemm = GemmBackend::Kokkos;
    Engine fixed(model, options(2)), kokkos(model, ko);
    INFO("dtype " << ggml_type_name(dtype));
    CHECK(same_bits(fixed.run({logits_request(0, probe)})[0].logits, kokkos.run({logits_request(0, probe)})[0].logits));
  }
}

TEST_CASE("oneDNN backend agrees with the fixed-order kernel numerically", "[gemm]") {
  auto model = test_model(GgmlType::F32);
  const auto probe = prompt(40, 4, model->config().n_vocab);
  EngineOptions oo = options(2);
  oo.gemm = GemmBackend::OneDnn;
  Engine fixed(model, options(2)), onednn(model, oo);
  const auto a = fixed.run({logits_request(0, probe)})[0].logits;
  const auto b = onednn.run({logits_request(0, probe)})[0].logits;
  REQUIRE(a.size() == b.size());
  float max_diff = 0;
  for (size_t i = 0; i < a.size(); ++i) max_diff = std::max(max_diff, std::abs(a[i] - b[i]));
  CHECK(max_diff < 1e-4f);
}

TEST_CASE("sampled tokens depend on (seed, record, position) only", "[invariance][sampling]") {
  auto model = test_model(GgmlType::F32);
  const int n_vocab = model->config().n_vocab;
  auto gen = [&](uint64_t id, uint64_t seed) {
    Request r;
    r.id = id;
    r.task = Task::Generate;
    r.tokens = prompt(10, 3, n_vocab);
    r.max_new_tokens = 16;
    r.sampling.temperature = 1.5f;
    r.sampling.top_k = 50;
    r.sampling.top_p = 0.95f;
    r.sampling.seed = seed;
    r.sampling.ignore_eos = true;
    return r;
  };
  Engine engine(model, options(2));
  const auto alone = engine.run({gen(7, 11)})[0];
  std::vector<Request> batch;
  for (uint64_t i = 0; i < 9; ++i) batch.push_back(gen(i == 4 ? 7 : 100 + i, 11));
  const auto together = engine.run(std::move(batch));
  CHECK(together[4].tokens == alone.tokens);
  CHECK(same_bits(together[4].logprobs, alone.logprobs));
  CHECK(engine.run({gen(7, 12)})[0].tokens != alone.tokens);   // another seed
  CHECK(engine.run({gen(8, 11)})[0].tokens != alone.tokens);   // another record
}

TEST_CASE("bad requests come back as error results, never exceptions", "[engine]") {
  auto model = test_model(GgmlType::F32);
  Engine engine(model, options(1));
  Request bad_token = logits_request(1, {1, 2, 100000});
  Request empty = logits_request(2, {});
  Request too_long = logits_request(3, prompt(300, 1, model->config().n_vocab));
  Request good = logits_request(4, {1, 2, 3});
  const auto res = engine.run({bad_token, empty, too_long, good});
  CHECK(res[0].status != 0);
  CHECK_THAT(res[0].error, Catch::Contains("outside the vocabulary"));
  CHECK_THAT(res[1].error, Catch::Contains("empty input"));
  CHECK_THAT(res[2].error, Catch::Contains("context"));
  CHECK(res[3].status == 0);
  CHECK(res[3].logits.size() == 3u * model->config().n_vocab);
}
