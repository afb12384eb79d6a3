// generate and logits: one sequence through the engine, for quick tries and numeric checks.
#include <cstdio>
#include <fstream>

#include "commands.hpp"
#include "engine_flags.hpp"

namespace sci_infer::cli {

Runner add_generate(CLI::App& app) {
  struct Args {
    EngineFlags engine;
    std::string prompt, tokens, stop;
    int max_new = 32;
    SamplingParams sampling;
    bool show_tokens = false;
  };
  auto a = std::make_shared<Args>();
  a->engine.add(app);
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
    auto model = Model::open(a->engine.model);
    Engine engine(model, a->engine.options());
    Request r;
    r.task = Task::Generate;
    r.tokens = a->tokens.empty() ? model->tokenizer().encode(a->prompt, true) : parse_token_list(a->tokens);
    r.max_new_tokens = a->max_new;
    r.sampling = a->sampling;
    r.sampling.stop_tokens = parse_token_list(a->stop);
    const RecordResult res = engine.run({r})[0];
    if (res.status != 0) throw Error(res.error);
    std::printf("%s%s\n", a->prompt.c_str(), res.text.c_str());
    if (a->show_tokens) {
      for (size_t i = 0; i < res.tokens.size(); ++i) std::printf("%s%d", i ? "," : "", res.tokens[i]);
      std::printf("\n");
    }
    const KvCacheStats kv = engine.kv_cache_stats();
    std::fprintf(stderr, "finish: %s, %zu tokens; weights %.1f MiB, KV cache %.1f MiB (%d pages of %d positions)\n",
                 finish_reason_name(res.finish), res.tokens.size(), engine.weight_bytes() / 1048576.0,
                 kv.bytes / 1048576.0, kv.pages, kv.page_tokens);
    return 0;
  };
}

Runner add_logits(CLI::App& app) {
  struct Args {
    EngineFlags engine;
    std::string tokens, out;
    bool all = false;
  };
  auto a = std::make_shared<Args>();
  a->engine.add(app);
  app.add_option("--tokens", a->tokens, "Comma-separated token ids (no BOS is added)")->required()->check(token_list());
  app.add_option("--out,-o", a->out, "Output file: raw little-endian float32, n_vocab per position")->required();
  app.add_flag("--all-positions", a->all, "Every position, row after row (default: the last)");
  return [=] {
    auto model = Model::open(a->engine.model);
    Engine engine(model, a->engine.options());
    const std::vector<float> logits = engine.logits(parse_token_list(a->tokens), a->all);
    std::ofstream f(a->out, std::ios::binary);
    f.write(reinterpret_cast<const char*>(logits.data()), static_cast<std::streamsize>(logits.size() * sizeof(float)));
    if (!f) throw Error(a->out + ": cannot write");
    std::fprintf(stderr, "wrote %zu float32 (%zu positions x %d) to %s\n", logits.size(),
                 logits.size() / model->config().n_vocab, model->config().n_vocab, a->out.c_str());
    return 0;
  };
}

}  // namespace sci_infer::cli
