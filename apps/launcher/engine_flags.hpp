#pragma once
// Engine options shared by every subcommand that runs the model.
#include <CLI/CLI.hpp>
#include <cmath>
#include <string>

#include "engine/engine_options_check.hpp"
#include "option_checks.hpp"
#include "sci_infer/device.hpp"
#include "sci_infer/engine.hpp"

namespace sci_infer::cli {

// Which command the flags are for. Local: one process (bench), no tensor parallelism.
// Collective: generate / logits, which run one sequence on `mpiexec -n <tp>` ranks with --tp.
// BatchJob: `run`, which also has --tp and checks --model itself, after reading its --config file.
enum class EngineFlagSet { Local, Collective, BatchJob };

struct EngineFlags {
  std::string model;
  int threads = 0;
  std::string gemm = "fixed";
  double kv_cache_mb = 1024;
  int max_batch = 64;
  int step_tokens = 512;
  int tp = 1;
  std::string reduction = "deterministic";
  std::string device = "auto";

  void add(CLI::App& app, EngineFlagSet set = EngineFlagSet::Local) {
    auto* m = app.add_option("--model,-m", model,
                             set != EngineFlagSet::BatchJob ? "GGUF model file" : "GGUF model file (required)");
    if (set != EngineFlagSet::BatchJob) m->required();
    app.add_option("--threads,-t", threads, "Threads (0: SCI_INFER_THREADS / OMP_NUM_THREADS / all cores)")
        ->check(in_range(0, false, max_engine_threads(), false, "4 x the hardware threads, at least 16"));
    app.add_option("--gemm", gemm, "GEMM backend: fixed (reproducible default), kokkos, onednn, cublas");
    app.add_option("--kv-cache-mb", kv_cache_mb, "KV-cache memory budget in MiB of one model copy: the whole --tp group's KV (every KV head), so "
                   "the same records fit at every --tp; each rank of the group holds its 1/tp share (at most the physical memory)")
        ->check(in_range(0, true, std::floor(double(physical_memory_bytes()) / 1048576.0), false,
                         "the physical memory of this machine"));
    app.add_option("--max-batch", max_batch, "Sequences decoded together")->check(in_range(1, false, kMaxEngineSequences));
    app.add_option("--step-tokens", step_tokens, "Tokens per forward step (decode + prefill chunks)")
        ->check(in_range(1, false, kMaxEngineStepTokens));
    // The GPU of each rank; with "auto" SCI_INFER_DEVICE, else the node-local rank (device.hpp).
    // Checked here, against the GPUs this process sees, so a bad value is refused before work.
    app.add_option("--device", device,
                   "GPU of this process: auto (default: SCI_INFER_DEVICE, else the node-local rank modulo the "
                   "visible GPUs) or an index N >= 0; a host-only build accepts N and runs on the host")
        ->envname("SCI_INFER_DEVICE")
        ->check(device_index());
    if (set != EngineFlagSet::Local) {
      app.add_option("--tp", tp, "Tensor parallelism: ranks that share one copy of the model")->check(in_range(1, false));
      app.add_option("--reduction", reduction,
                     "Tensor-parallel sums: deterministic (same bits for every --tp) or fast (MPI_Allreduce)")
          ->check(CLI::IsMember({"deterministic", "fast"}));
    }
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
    o.device = parse_device(device, "--device");
    return o;
  }
};

// "1,2,3" -> {1,2,3}; throws sci_infer::Error naming the first item that is not a token id
// (an integer in [0, 2^31-1]).
std::vector<int32_t> parse_token_list(const std::string& s);

// --stop-tokens and the like: the whole list is parsed when the option is read, before any work.
inline CLI::Validator token_list() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        try {
          parse_token_list(text);
          return std::string();
        } catch (const std::exception& e) {
          return e.what();
        }
      },
      "ID,ID,...");
}

}  // namespace sci_infer::cli
