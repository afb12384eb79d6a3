// Tensor-parallel layouts give the same bits: run under `mpiexec -n N` with --tp T.
//
//   tp_layout_check MODEL TP [fast]
//
// The world splits into N/TP data-parallel groups of TP ranks (Engine's collective constructor);
// group g runs records g, g + groups, ... (a mixed-length batch: logits at every position, and
// sampled generation). Every group sends its results to rank 0, which recomputes every record
// with a single-rank engine (tp = 1, no communicator) and compares bit for bit. Exit 0 if all
// records are identical (or, with "fast", reports how many differ and exits 0 as long as they
// are close: the fast reduction promises closeness, not bits).
#include <mpi.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "sci_infer/engine.hpp"

using namespace sci_infer;

namespace {

std::vector<Request> make_requests(const ModelConfig& c) {
  std::vector<Request> reqs;
  const int lengths[] = {1, 5, 33, 17, 64, 2, 40, 9};
  for (int i = 0; i < 16; ++i) {
    Request r;
    r.id = i;
    const int n = lengths[i % 8] + i / 8;
    for (int t = 0; t < n; ++t) r.tokens.push_back((7 + 31 * t + 13 * i) % c.n_vocab);
    if (i % 2 == 0) {
      r.task = Task::Logits;
      r.all_positions = true;
    } else {
      r.task = Task::Generate;
      r.max_new_tokens = 12;
      r.sampling.temperature = 0.8f;
      r.sampling.top_k = 40;
      r.sampling.ignore_eos = true;
    }
    reqs.push_back(std::move(r));
  }
  return reqs;
}

// One record's result as bytes: logits, tokens and log-probabilities.
std::vector<char> to_bytes(const RecordResult& r) {
  std::vector<char> b;
  auto put = [&](const void* p, size_t n) { b.insert(b.end(), (const char*)p, (const char*)p + n); };
  const uint64_t sizes[3] = {r.logits.size(), r.tokens.size(), r.logprobs.size()};
  put(sizes, sizeof sizes);
  put(r.logits.data(), r.logits.size() * 4);
  put(r.tokens.data(), r.tokens.size() * 4);
  put(r.logprobs.data(), r.logprobs.size() * 4);
  return b;
}

double max_abs_diff(const std::vector<char>& a, const std::vector<char>& b) {
  if (a.size() != b.size()) return INFINITY;
  double m = 0;
  for (size_t i = 24; i + 4 <= a.size(); i += 4) {
    float x, y;
    std::memcpy(&x, &a[i], 4);
    std::memcpy(&y, &b[i], 4);
    m = std::max(m, double(std::fabs(x - y)));
  }
  return m;
}

}  // namespace

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int rank = 0, size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  if (argc < 3) {
    if (rank == 0) std::fprintf(stderr, "usage: tp_layout_check MODEL TP [fast]\n");
    MPI_Finalize();
    return 2;
  }
  const std::string path = argv[1];
  const int tp = std::atoi(argv[2]);
  const bool fast = argc > 3 && std::string(argv[3]) == "fast";
  int failures = 0;
  try {
    EngineOptions o;
    o.threads = 1;
    o.kv_cache_bytes = 64ull << 20;
    o.max_step_tokens = 48;  // several steps, prefill chunks mixed with decode
    o.tensor_parallel = tp;
    o.reduction = fast ? Reduction::Fast : Reduction::Deterministic;
    Engine engine(path, o, MPI_COMM_WORLD);
    const int groups = size / tp, group = rank / tp;
    auto all = make_requests(engine.model().config());
    std::vector<Request> mine;
    for (auto& r : all)
      if (int(r.id % groups) == group) mine.push_back(r);
    auto results = engine.run(mine);

    // Group leaders send their results to rank 0, record by record.
    std::vector<std::vector<char>> got(all.size());
    if (engine.tp_rank() == 0) {
      for (auto& r : results) {
        auto b = to_bytes(r);
        if (rank == 0) {
          got[r.index] = b;
        } else {
          MPI_Send(b.data(), int(b.size()), MPI_CHAR, 0, int(r.index), MPI_COMM_WORLD);
        }
      }
    }
    if (rank == 0) {
      for (size_t i = 0; i < all.size(); ++i) {
        if (!got[i].empty()) continue;
        MPI_Status st;
        MPI_Probe(MPI_ANY_SOURCE, MPI_ANY_TAG, MPI_COMM_WORLD, &st);
        int n = 0;
        MPI_Get_count(&st, MPI_CHAR, &n);
        std::vector<char> b(n);
        MPI_Recv(b.data(), n, MPI_CHAR, st.MPI_SOURCE, st.MPI_TAG, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        got[st.MPI_TAG] = b;
        --i;  // the tag may be another record: re-check this one
      }
      // The reference: one rank, no tensor parallelism.
      EngineOptions ro = o;
      ro.tensor_parallel = 1;
      ro.reduction = Reduction::Deterministic;
      ro.max_step_tokens = 512;
      Engine ref(Model::open(path), ro);
      auto expect = ref.run(all);
      for (size_t i = 0; i < all.size(); ++i) {
        const auto e = to_bytes(expect[i]);
        const bool same = e == got[i];
        if (!same) {
          const double d = max_abs_diff(e, got[i]);
          if (!fast || !(d < 1e-3)) ++failures;
          std::printf("record %zu (%s): differs from tp=1, max |diff| %.3g\n", i, task_name(all[i].task), d);
        }
      }
      std::printf("tp %d x dp %d (%s): %zu records, %d failing, tensor-parallel bytes received by rank 0: %llu\n", tp,
                  groups, reduction_name(o.reduction), all.size(), failures,
                  (unsigned long long)engine.tp_bytes_received());
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "rank %d: %s\n", rank, e.what());
    failures = 1;
  }
  MPI_Allreduce(MPI_IN_PLACE, &failures, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  MPI_Finalize();
  return failures ? 1 : 0;
}
