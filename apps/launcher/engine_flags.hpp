#pragma once
// Engine options shared by every subcommand that runs the model.
#include <CLI/CLI.hpp>
#include <string>

#include "sci_infer/engine.hpp"

namespace sci_infer::cli {

struct EngineFlags {
  std::string model;
  int threads = 0;
  std::string gemm = "fixed";
  double kv_cache_mb = 1024;
  int max_batch = 64;
  int step_tokens = 512;
  int tp = 1;
  std::string reduction = "deterministic";

  void add(CLI::App& app, bool model_required = true) {
    auto* m = app.add_option("--model,-m", model, "GGUF model file");
    if (model_required) m->required();
    app.add_option("--threads,-t", threads, "Threads (0: SCI_INFER_THREADS / OMP_NUM_THREADS / all cores)");
    app.add_option("--gemm", gemm, "GEMM backend: fixed (reproducible default), kokkos, onednn, cublas");
    app.add_option("--kv-cache-mb", kv_cache_mb, "KV-cache memory budget in MiB of one model copy: the whole --tp group's KV (every KV head), so "
                   "the same records fit at every --tp; each rank of the group holds its 1/tp share");
    app.add_option("--max-batch", max_batch, "Sequences decoded together");
    app.add_option("--step-tokens", step_tokens, "Tokens per forward step (decode + prefill chunks)");
    app.add_option("--tp", tp, "Tensor parallelism: ranks that share one copy of the model (MPI jobs)");
    app.add_option("--reduction", reduction,
                   "Tensor-parallel sums: deterministic (same bits for every --tp) or fast (MPI_Allreduce)")
        ->check(CLI::IsMember({"deterministic", "fast"}));
  }
  EngineOptions options() const {
    EngineOptions o;
    o.threads = threads;
    o.gemm = gemm_backend_from_name(gemm);
    o.kv_cache_bytes = static_cast<size_t>(kv_cache_mb * 1024.0 * 1024.0);
    o.max_sequences = max_batch;
    o.max_step_tokens = step_tokens;
    o.tensor_parallel = tp;
    o.reduction = reduction_from_name(reduction);
    return o;
  }
};

std::vector<int32_t> parse_token_list(const std::string& s);  // "1,2,3" -> {1,2,3}

}  // namespace sci_infer::cli
