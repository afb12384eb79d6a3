// bench: prefill and decode throughput of the engine on synthetic prompts, as llama.cpp's
// llama-batched-bench measures them (B sequences of P prompt tokens, then G generated each).
#include <chrono>
#include <cstdio>

#include "commands.hpp"
#include "engine_flags.hpp"
#include "io/hdf5_input.hpp"
#include "kernels/cpu_kernel_path.hpp"
#include "record_requests.hpp"

namespace sci_infer::cli {

namespace {

// The engine alone over a whole input file: all records tokenized up front (not timed), then
// one continuous-batching run, timed. `sci-infer run` on the same file and options should come
// within a few percent of this; the difference is the launcher's overhead.
int bench_input(const EngineFlags& flags, RunConfig job, bool json) {
  using clock = std::chrono::steady_clock;
  auto model = Model::open(flags.model);
  job.engine = flags;
  InputOptions io;
  io.expected_embedding_width = static_cast<uint32_t>(model->config().dim);
  auto input = InputFile::open(job.input, io);
  std::vector<Request> requests;
  for (RecordInput& in : input->read(0, input->size())) {
    RecordJob rj = make_record_job(in, job, *model);
    if (rj.runnable) requests.push_back(std::move(rj.request));
  }
  const size_t n = requests.size();
  Engine engine(model, flags.options());
  const auto t0 = clock::now();
  const auto results = engine.run(std::move(requests));
  const double s = std::chrono::duration<double>(clock::now() - t0).count();
  uint64_t tokens = 0;
  for (const auto& r : results) tokens += r.tokens.size();
  if (json)
    std::printf("{\"records\": %zu, \"generated_tokens\": %lu, \"seconds\": %.3f, \"records_s\": %.3f, \"tok_s\": %.2f}\n",
                n, (unsigned long)tokens, s, n / s, tokens / s);
  else
    std::printf("engine alone: %zu records, %lu generated tokens in %.2f s: %.2f records/s, %.1f tok/s\n", n,
                (unsigned long)tokens, s, n / s, tokens / s);
  return 0;
}

}  // namespace

Runner add_bench(CLI::App& app) {
  struct Args {
    EngineFlags engine;
    int prompt = 128, gen = 128, batch = 1, reps = 1;
    bool json = false;
    RunConfig job;  // --input mode: the records of a batch job, without the launcher around them
  };
  auto a = std::make_shared<Args>();
  a->engine.add(app);
  app.add_option("--prompt-tokens", a->prompt, "Prompt length")->check(in_range(1, false));
  app.add_option("--gen-tokens", a->gen, "Generated tokens per sequence")->check(in_range(0, false));
  app.add_option("--batch", a->batch, "Parallel sequences")->check(in_range(1, false, kMaxEngineSequences));
  app.add_option("--reps", a->reps, "Repetitions (the best is reported)")->check(in_range(1, false));
  app.add_flag("--json", a->json, "Print one JSON object");
  app.add_option("--input", a->job.input, "Time the engine alone on every record of this HDF5 input "
                                          "(the launcher's workload, for its overhead)");
  app.add_option("--max-new-tokens", a->job.max_new_tokens, "--input mode: tokens per record")
      ->check(in_range(0, false));
  app.add_option("--task", a->job.task, "--input mode: generate, score or embed");
  app.add_flag("--ignore-eos", a->job.ignore_eos, "--input mode: generate exactly --max-new-tokens");
  return [=] {
    if (!a->job.input.empty()) return bench_input(a->engine, a->job, a->json);
    using clock = std::chrono::steady_clock;
    auto model = Model::open(a->engine.model);
    EngineOptions opt = a->engine.options();
    opt.max_sequences = std::max(opt.max_sequences, a->batch);
    Engine engine(model, opt);
    const int32_t n_vocab = model->config().n_vocab;
    auto requests = [&](Task task, int max_new) {
      std::vector<Request> rs;
      for (int b = 0; b < a->batch; ++b) {
        Request r;
        r.id = uint64_t(b);
        r.task = task;
        r.max_new_tokens = max_new;
        r.sampling.ignore_eos = true;
        for (int i = 0; i < a->prompt; ++i) r.tokens.push_back(int32_t((7919u * (i + 1) + 104729u * b) % n_vocab));
        if (task == Task::Logits) r.all_positions = false;
        rs.push_back(r);
      }
      return rs;
    };
    // One untimed warm-up: first calls pay for lazy set-up (library handles, staging buffers).
    {
      Request w;
      w.task = Task::Generate;
      w.tokens = {1, 2, 3};
      w.max_new_tokens = 2;
      engine.run({w});
    }
    double best_prefill = 1e30, best_total = 1e30;
    for (int rep = 0; rep < a->reps; ++rep) {
      auto t0 = clock::now();
      engine.run(requests(Task::Logits, 0));  // prefill only: the last position's logits
      auto t1 = clock::now();
      engine.run(requests(Task::Generate, a->gen));
      auto t2 = clock::now();
      best_prefill = std::min(best_prefill, std::chrono::duration<double>(t1 - t0).count());
      best_total = std::min(best_total, std::chrono::duration<double>(t2 - t1).count());
    }
    // Decode time = full generate run minus its prefill; the first token comes from the prefill.
    const double decode_s = std::max(1e-9, best_total - best_prefill);
    const double prefill_tok_s = double(a->prompt) * a->batch / best_prefill;
    const double decode_tok_s = double(std::max(a->gen - 1, 0)) * a->batch / decode_s;
    const double total_tok_s = double(a->prompt + a->gen) * a->batch / best_total;
    if (a->json) {
      std::printf("{\"model\": \"%s\", \"batch\": %d, \"prompt_tokens\": %d, \"gen_tokens\": %d, \"threads\": %d, "
                  "\"gemm\": \"%s\", \"kernel_path\": \"%s\", \"prefill_tok_s\": %.2f, \"decode_tok_s\": %.2f, "
                  "\"total_tok_s\": %.2f}\n",
                  a->engine.model.c_str(), a->batch, a->prompt, a->gen, a->engine.threads, a->engine.gemm.c_str(),
                  cpu_kernel_path(), prefill_tok_s, decode_tok_s, total_tok_s);
    } else {
      std::printf("batch %d, prompt %d, gen %d: prefill %.1f tok/s, decode %.1f tok/s, total %.1f tok/s\n", a->batch,
                  a->prompt, a->gen, prefill_tok_s, decode_tok_s, total_tok_s);
    }
    return 0;
  };
}

}  // namespace sci_infer::cli
