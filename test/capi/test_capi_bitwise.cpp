// The C API returns the C++ Engine's numbers bit for bit (one case per task), and the C++
// collective constructor reports a failure on one rank on every rank. Run under mpiexec -n 2.
//   test_capi_bitwise model.gguf
#include <mpi.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "sci_infer/engine.hpp"
#include "sci_infer/error.hpp"
#include "sci_infer/sci_infer.h"

namespace {

int g_failures = 0;
void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "FAILED: %s\n", what);
    ++g_failures;
  }
}

template <class T>
bool same_bits(const std::vector<T>& a, const T* b, size_t n) {
  return a.size() == n && std::memcmp(a.data(), b, n * sizeof(T)) == 0;
}

}  // namespace

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s model.gguf\n", argv[0]);
    MPI_Abort(MPI_COMM_WORLD, 2);
  }
  const std::string path = argv[1];

  // C++: the collective constructor, with the same default options as the C API's NULL options.
  sci_infer::Engine cpp(path, sci_infer::EngineOptions{}, MPI_COMM_WORLD);
  check(cpp.comm() == MPI_COMM_WORLD, "Engine::comm() is the constructor's communicator");
  const int dim = cpp.model().config().dim;

  sci_infer::Request embed;
  embed.id = 3;
  embed.task = sci_infer::Task::Embed;
  embed.n_embedding_rows = 3;
  for (int i = 0; i < 3 * dim; ++i) embed.embeddings.push_back(0.013f * float((i * 5) % 19 - 9));
  sci_infer::Request score;
  score.id = 4;
  score.task = sci_infer::Task::Score;
  score.tokens = {1, 17, 200, 33, 45, 6};
  sci_infer::Request gen;
  gen.id = 5;
  gen.tokens = cpp.model().tokenizer().encode("The ocean", true);
  gen.max_new_tokens = 8;
  gen.sampling.temperature = 0.8f;
  gen.sampling.seed = 11;
  const auto expect = cpp.run({embed, score, gen});
  for (const auto& r : expect) check(r.status == 0, "C++ requests succeed");

  // C: the same three requests.
  sci_infer_engine* c = nullptr;
  check(sci_infer_engine_create(path.c_str(), nullptr, MPI_COMM_WORLD, &c) == SCI_INFER_OK, "C create");
  const int32_t rows = 3;
  sci_infer_input in{};
  in.n = 1;
  in.first_id = embed.id;
  in.embeddings = embed.embeddings.data();
  in.embedding_rows = &rows;
  std::vector<float> vec(dim);
  check(sci_infer_embed(c, &in, vec.data(), dim, nullptr) == SCI_INFER_OK, "C embed");
  check(same_bits(expect[0].embedding, vec.data(), dim), "embed: C == C++ bit for bit");

  const int32_t n_score = static_cast<int32_t>(score.tokens.size());
  in = sci_infer_input{};
  in.n = 1;
  in.first_id = score.id;
  in.tokens = score.tokens.data();
  in.token_counts = &n_score;
  std::vector<float> lp(n_score);
  int32_t count = 0;
  check(sci_infer_score(c, &in, lp.data(), n_score, nullptr, &count) == SCI_INFER_OK, "C score");
  check(same_bits(expect[1].logprobs, lp.data(), size_t(count)), "score: C == C++ bit for bit");

  const char* prompt = "The ocean";
  const int32_t prompt_len = static_cast<int32_t>(std::strlen(prompt));
  in = sci_infer_input{};
  in.n = 1;
  in.first_id = gen.id;
  in.text = prompt;
  in.text_lengths = &prompt_len;
  sci_infer_generate_params p;
  sci_infer_generate_params_init(&p);
  p.max_new_tokens = gen.max_new_tokens;
  p.temperature = gen.sampling.temperature;
  p.seed = gen.sampling.seed;
  std::vector<int32_t> ids(gen.max_new_tokens);
  std::vector<float> gen_lp(gen.max_new_tokens);
  check(sci_infer_generate(c, &in, &p, ids.data(), gen_lp.data(), gen.max_new_tokens, nullptr, &count) ==
            SCI_INFER_OK,
        "C generate");
  check(same_bits(expect[2].tokens, ids.data(), size_t(count)), "generate tokens: C == C++");
  check(same_bits(expect[2].logprobs, gen_lp.data(), size_t(count)), "generate logprobs: C == C++ bit for bit");
  sci_infer_engine_destroy(c);

  // Tensor parallelism through the C API: both ranks make the same calls and get the one-rank bits.
  int world = 1;
  MPI_Comm_size(MPI_COMM_WORLD, &world);
  if (world % 2 == 0) {
    sci_infer_options o;
    sci_infer_options_init(&o);
    o.tensor_parallel = 2;
    sci_infer_engine* t = nullptr;
    check(sci_infer_engine_create(path.c_str(), &o, MPI_COMM_WORLD, &t) == SCI_INFER_OK, "C create, tensor_parallel 2");
    in = sci_infer_input{};
    in.n = 1;
    in.first_id = score.id;
    in.tokens = score.tokens.data();
    in.token_counts = &n_score;
    std::fill(lp.begin(), lp.end(), 0.0f);
    check(sci_infer_score(t, &in, lp.data(), n_score, nullptr, &count) == SCI_INFER_OK, "C score, tp 2");
    check(same_bits(expect[1].logprobs, lp.data(), size_t(count)), "score: C tp 2 == C++ one rank, bit for bit");
    in = sci_infer_input{};
    in.n = 1;
    in.first_id = gen.id;
    in.text = prompt;
    in.text_lengths = &prompt_len;
    check(sci_infer_generate(t, &in, &p, ids.data(), gen_lp.data(), gen.max_new_tokens, nullptr, &count) ==
              SCI_INFER_OK,
          "C generate, tp 2");
    check(same_bits(expect[2].logprobs, gen_lp.data(), size_t(count)), "generate: C tp 2 == C++ one rank");
    o.tensor_parallel = 0;
    sci_infer_engine* bad = nullptr;
    check(sci_infer_engine_create(path.c_str(), &o, MPI_COMM_WORLD, &bad) == SCI_INFER_ERR_ARGUMENT,
          "tensor_parallel 0 is an argument error");
    sci_infer_engine_destroy(t);
  }

  // The C++ collective constructor: a bad path on rank 1 only throws on every rank.
  int size = 1;
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  if (size > 1) {
    std::string message;
    try {
      sci_infer::Engine bad(rank == 1 ? "/nonexistent/rank1.gguf" : path, {}, MPI_COMM_WORLD);
    } catch (const sci_infer::Error& e) {
      message = e.what();
    }
    check(message.find("rank 1 of") != std::string::npos && message.find("/nonexistent/rank1.gguf") != std::string::npos,
          "C++ collective constructor: rank 1's failure reported on every rank");
  }
  bool threw = false;
  try {
    sci_infer::Engine null_comm(path, {}, MPI_COMM_NULL);
  } catch (const sci_infer::Error& e) {
    threw = std::string(e.what()).find("MPI_COMM_NULL") != std::string::npos;
  }
  check(threw, "C++ constructor rejects MPI_COMM_NULL");

  int failures = 0;
  MPI_Allreduce(&g_failures, &failures, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
  if (rank == 0) std::printf("capi bitwise: %d failures\n", failures);
  MPI_Finalize();
  return failures == 0 ? 0 : 1;
}
