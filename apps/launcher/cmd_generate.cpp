// generate and logits: one sequence through the engine, for quick tries and numeric checks.
// With --tp N they run under `mpiexec -n N`: the N ranks hold 1/N of the model each (the model
// path may be a shard pattern, as for `run`) and step together; rank 0 prints or writes.
#include <mpi.h>

#include <cstdio>
#include <fstream>
#include <functional>

#include "commands.hpp"
#include "engine_flags.hpp"
#include "job_support.hpp"

namespace sci_infer::cli {
namespace {

// Runs `fn(engine, model, writer)` on one engine: a plain one without tensor parallelism, else a
// collective one over every rank of the MPI job, which must be exactly --tp ranks. Only the
// writer (rank 0) prints or writes files. Errors every rank agrees on exit 2 (MpiSession).
int with_engine(const EngineFlags& flags, const std::function<void(Engine&, const Model&, bool writer)>& fn) {
  if (flags.tp <= 1) {
    auto model = Model::open(flags.model);
    Engine engine(model, flags.options());
    fn(engine, *model, true);
    return 0;
  }
  MpiSession mpi;
  return mpi.run_or_abort([&] {
    int rank = 0, size = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    if (size != flags.tp)
      throw CollectiveError("--tp " + std::to_string(flags.tp) + " runs one sequence on exactly " +
                            std::to_string(flags.tp) + " MPI ranks (mpiexec -n " + std::to_string(flags.tp) +
                            "); this job has " + std::to_string(size));
    std::unique_ptr<Engine> engine;
    try {  // the collective constructor agrees on failures across ranks
      engine = std::make_unique<Engine>(shard_path(flags.model, rank), flags.options(), MPI_COMM_WORLD);
    } catch (const Error& e) {
      throw CollectiveError(e.what());
    }
    fn(*engine, engine->model(), rank == 0);
    return 0;
  });
}

}  // namespace

Runner add_generate(CLI::App& app) {
  struct Args {
    EngineFlags engine;
    std::string prompt, tokens, stop;
    int max_new = 32;
    SamplingParams sampling;
    bool show_tokens = false;
  };
  auto a = std::make_shared<Args>();
  a->engine.add(app, EngineFlagSet::Collective);
  app.add_option("--prompt,-p", a->prompt, "Prompt text");
  app.add_option("--tokens", a->tokens, "Prompt as comma-separated token ids (instead of --prompt)")->check(token_list());
  app.add_option("--max-new-tokens,-n", a->max_new, "Tokens to generate at most")->check(in_range(0, false));
  app.add_option("--seed,-s", a->sampling.seed, "Seed for sampling")->check(in_range(0, false));
  app.add_option("--temperature", a->sampling.temperature, "0 = greedy")->check(in_range(0, false));
  app.add_option("--top-k", a->sampling.top_k, "Keep the k most likely tokens (0 = all)")->check(in_range(0, false));
  app.add_option("--top-p", a->sampling.top_p, "Nucleus probability mass")->check(in_range(0, true, 1, false));
  app.add_option("--stop-tokens", a->stop, "Comma-separated extra stop token ids")->check(token_list());
  app.add_flag("--ignore-eos", a->sampling.ignore_eos, "Do not stop at end-of-generation tokens");
  app.add_flag("--show-tokens", a->show_tokens, "Also print the generated token ids");
  return [=] {
    return with_engine(a->engine, [&](Engine& engine, const Model& model, bool writer) {
      Request r;
      r.task = Task::Generate;
      r.tokens = a->tokens.empty() ? model.tokenizer().encode(a->prompt, true) : parse_token_list(a->tokens);
      r.max_new_tokens = a->max_new;
      r.sampling = a->sampling;
      r.sampling.stop_tokens = parse_token_list(a->stop);
      const RecordResult res = engine.run({r})[0];
      if (res.status != 0) throw CollectiveError(res.error);  // the same on every rank
      if (!writer) return;
      std::printf("%s%s\n", a->prompt.c_str(), res.text.c_str());
      if (a->show_tokens) {
        for (size_t i = 0; i < res.tokens.size(); ++i) std::printf("%s%d", i ? "," : "", res.tokens[i]);
        std::printf("\n");
      }
      const KvCacheStats kv = engine.kv_cache_stats();
      std::fprintf(stderr, "finish: %s, %zu tokens; weights %.1f MiB, KV cache %.1f MiB (%d pages of %d positions)\n",
                   finish_reason_name(res.finish), res.tokens.size(), engine.weight_bytes() / 1048576.0,
                   kv.bytes / 1048576.0, kv.pages, kv.page_tokens);
    });
  };
}

Runner add_logits(CLI::App& app) {
  struct Args {
    EngineFlags engine;
    std::string tokens, out;
    bool all = false;
  };
  auto a = std::make_shared<Args>();
  a->engine.add(app, EngineFlagSet::Collective);
  app.add_option("--tokens", a->tokens, "Comma-separated token ids (no BOS is added)")->required()->check(token_list());
  app.add_option("--out,-o", a->out, "Output file: raw little-endian float32, n_vocab per position")->required();
  app.add_flag("--all-positions", a->all, "Every position, row after row (default: the last)");
  return [=] {
    return with_engine(a->engine, [&](Engine& engine, const Model& model, bool writer) {
      const std::vector<float> logits = engine.logits(parse_token_list(a->tokens), a->all);
      if (!writer) return;
      std::ofstream f(a->out, std::ios::binary);
      f.write(reinterpret_cast<const char*>(logits.data()), static_cast<std::streamsize>(logits.size() * sizeof(float)));
      if (!f) throw Error(a->out + ": cannot write");
      std::fprintf(stderr, "wrote %zu float32 (%zu positions x %d) to %s\n", logits.size(),
                   logits.size() / model.config().n_vocab, model.config().n_vocab, a->out.c_str());
    });
  };
}

}  // namespace sci_infer::cli
