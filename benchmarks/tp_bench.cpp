// Tensor-parallel overhead and memory, one configuration per run (bench_tp.sh runs the grid):
//
//   mpiexec -n N sci_infer_tp_bench MODEL --tp T [--reduction fast] [--batch B] [--prompt P]
//                                      [--gen G] [--no-share] [--threads 1]
//
// Each data-parallel group decodes B sequences of P prompt tokens + G generated tokens. The
// step budget is B*P, so step 1 is the whole prefill and steps 2..G are pure decode steps of B
// tokens: their mean time is "time per decode step". Bytes per token = tensor-parallel payload
// a rank received during decode / (B x decode steps). Memory after load, per rank: RSS, PSS
// (shared pages divided among their sharers, so the node's PSS sum is its real use) and the
// packed-weight bytes the engine holds, taken after the run. Rank 0 prints one JSON line.
#include <mpi.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "sci_infer/engine.hpp"

using namespace sci_infer;
using Clock = std::chrono::steady_clock;

namespace {

// kB from a "Key:   123 kB" line of a /proc file; 0 if absent.
double proc_kb(const char* file, const char* key) {
  std::ifstream f(file);
  std::string line;
  while (std::getline(f, line))
    if (line.rfind(key, 0) == 0) return std::atof(line.c_str() + std::strlen(key));
  return 0;
}

double seconds(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double>(b - a).count(); }

}  // namespace

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int rank = 0, size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  std::string model = argc > 1 ? argv[1] : "";
  EngineOptions o;
  o.threads = 1;
  int batch = 8, prompt = 64, gen = 33;
  for (int i = 2; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&] { return i + 1 < argc ? std::string(argv[++i]) : std::string(); };
    if (a == "--tp") o.tensor_parallel = std::stoi(next());
    else if (a == "--reduction") o.reduction = reduction_from_name(next());
    else if (a == "--batch") batch = std::stoi(next());
    else if (a == "--prompt") prompt = std::stoi(next());
    else if (a == "--gen") gen = std::stoi(next());
    else if (a == "--threads") o.threads = std::stoi(next());
    else if (a == "--no-share") o.share_node_weights = false;
  }
  o.max_sequences = batch;
  o.max_step_tokens = batch * prompt;
  o.kv_cache_bytes = 256ull << 20;
  int rc = 0;
  try {
    const auto t0 = Clock::now();
    Engine engine(model, o, MPI_COMM_WORLD);
    MPI_Barrier(MPI_COMM_WORLD);
    const double load_s = seconds(t0, Clock::now());

    const int n_vocab = engine.model().config().n_vocab;
    for (int s = 0; s < batch; ++s) {
      Request r;
      r.id = uint64_t(rank / o.tensor_parallel) * batch + s;
      for (int t = 0; t < prompt; ++t) r.tokens.push_back(int32_t((17 + 7919 * t + 104729 * r.id) % n_vocab));
      r.max_new_tokens = gen;
      r.sampling.ignore_eos = true;
      engine.submit(std::move(r));
    }
    std::vector<double> step_s;
    uint64_t bytes_after_prefill = 0;
    while (!engine.idle()) {
      const auto a = Clock::now();
      engine.step();
      step_s.push_back(seconds(a, Clock::now()));
      if (step_s.size() == 1) bytes_after_prefill = engine.tp_bytes_received();
    }
    double decode = 0;
    const size_t n_decode = step_s.size() > 1 ? step_s.size() - 1 : 0;
    for (size_t i = 1; i < step_s.size(); ++i) decode += step_s[i];
    // Memory once every rank has run (and so touched every weight page it maps).
    double mem[4] = {proc_kb("/proc/self/status", "VmRSS:") / 1024, proc_kb("/proc/self/smaps_rollup", "Pss:") / 1024,
                     proc_kb("/proc/self/status", "VmHWM:") / 1024, engine.weight_bytes() / 1048576.0};
    std::vector<double> all(4 * size_t(size));
    MPI_Gather(mem, 4, MPI_DOUBLE, all.data(), 4, MPI_DOUBLE, 0, MPI_COMM_WORLD);
    double per[3] = {n_decode ? decode / n_decode : 0, step_s.empty() ? 0 : step_s[0],
                     n_decode ? double(engine.tp_bytes_received() - bytes_after_prefill) / (double(batch) * n_decode) : 0};
    double worst[3];
    MPI_Reduce(per, worst, 3, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD);
    if (rank == 0) {
      std::string ranks;
      double pss_sum = 0;
      for (int r = 0; r < size; ++r) {
        char b[160];
        std::snprintf(b, sizeof b, "%s{\"rss_mib\":%.1f,\"pss_mib\":%.1f,\"hwm_mib\":%.1f,\"weights_mib\":%.1f}",
                      r ? "," : "", all[4 * r], all[4 * r + 1], all[4 * r + 2], all[4 * r + 3]);
        ranks += b;
        pss_sum += all[4 * r + 1];
      }
      std::printf("{\"ranks\":%d,\"tp\":%d,\"dp\":%d,\"reduction\":\"%s\",\"share\":%s,\"batch\":%d,\"prompt\":%d,"
                  "\"decode_steps\":%zu,\"load_s\":%.3f,\"prefill_step_s\":%.4f,\"decode_step_s\":%.5f,"
                  "\"tp_bytes_per_token\":%.0f,\"node_pss_mib\":%.1f,\"per_rank\":[%s]}\n",
                  size, o.tensor_parallel, size / o.tensor_parallel, reduction_name(o.reduction),
                  o.share_node_weights ? "true" : "false", batch, prompt, n_decode, load_s, worst[1], worst[0],
                  worst[2], pss_sum, ranks.c_str());
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "rank %d: %s\n", rank, e.what());
    rc = 1;
  }
  MPI_Finalize();
  return rc;
}
