#pragma once
// Every option of `sci-infer run`. The same parser reads the command line, a --config file, and
// the effective configuration that an output file records (sci_infer.config), so
// `sci-infer verify` reruns a job with exactly the options that produced it.
#include <CLI/CLI.hpp>
#include <string>

#include "engine_flags.hpp"
#include "option_checks.hpp"

namespace sci_infer::cli {

struct RunConfig {
  EngineFlags engine;
  std::string input, output, task = "generate";
  uint64_t seed = 0;
  int max_new_tokens = 64;
  float temperature = 0.0f;
  int top_k = 0;
  float top_p = 1.0f;
  std::string stop_tokens;         // comma-separated ids
  std::string carry;               // comma-separated input datasets copied to /results (besides /ids)
  bool ignore_eos = false;
  std::string context_policy = "error";  // or "truncate-left"
  std::string pooling = "mean";
  int claim_records = 8;           // records a rank claims at a time
  double commit_seconds = 10.0;    // results become durable at least this often
  double progress_seconds = 10.0;
  double collective_timeout = 600.0;  // seconds without a finished step before a rank gives up
  bool resume = false, overwrite = false;
  std::string config_file;         // --config: not part of the effective configuration

  // Options that change results go in the [job] part; the rest are operational. Every numeric
  // option is range-checked as it is read, so a bad value is refused (exit 2) before any work.
  void add(CLI::App& app) {
    // Defaults are captured so that the recorded effective configuration is complete.
    app.option_defaults()->always_capture_default(true);
    engine.add(app, EngineFlagSet::BatchJob);
    app.add_option("--input,-i", input, "Input HDF5 file (/prompts, /tokens, /embeddings ...) (required)");
    app.add_option("--output,-o", output, "Output HDF5 file (required)");
    app.add_option("--task", task, "generate, score or embed")->check(CLI::IsMember({"generate", "score", "embed"}));
    app.add_option("--seed,-s", seed, "Seed (per-record /seeds override it)")->check(in_range(0, false));
    app.add_option("--max-new-tokens,-n", max_new_tokens, "Tokens to generate per record (/max_new_tokens overrides)")
        ->check(in_range(0, false));
    app.add_option("--temperature", temperature, "Sampling temperature; 0 = greedy")->check(in_range(0, false));
    app.add_option("--top-k", top_k, "Keep the k most likely tokens (0 = all)")->check(in_range(0, false));
    app.add_option("--top-p", top_p, "Nucleus probability mass (1 = all)")->check(in_range(0, true, 1, false));
    app.add_option("--stop-tokens", stop_tokens, "Comma-separated extra stop token ids")->check(token_list());
    app.add_option("--carry", carry, "Comma-separated 1-D input datasets to copy to /results (/ids always is)");
    app.add_flag("--ignore-eos", ignore_eos, "Do not stop at end-of-generation tokens");
    app.add_option("--context-policy", context_policy, "Inputs longer than the context: error or truncate-left")
        ->check(CLI::IsMember({"error", "truncate-left"}));
    app.add_option("--pooling", pooling, "embed: mean or last")->check(CLI::IsMember({"mean", "last"}));
    app.add_option("--claim-records", claim_records, "Records a rank claims at a time")->check(in_range(1, false));
    app.add_option("--commit-seconds", commit_seconds, "Seconds between durable commits of results")
        ->check(in_range(0, true));
    app.add_option("--progress-seconds", progress_seconds, "Seconds between progress lines")->check(in_range(0, true));
    app.add_option("--collective-timeout", collective_timeout,
                   "Seconds without progress (a dead or hung rank) before the job ends with exit 3; 0: never")
        ->check(in_range(0, false));
    app.add_flag("--resume", resume, "Continue a job from its output and journal, skipping finished records");
    app.add_flag("--overwrite", overwrite, "Replace an existing output");
    app.add_option("--config", config_file,
                   "Read options from a TOML or INI file: `key = value` lines at top level or under [run]; "
                   "options on the command line win")
        ->configurable(false);
    // After the command line is parsed (CLI11 reads config files for the top-level app only).
    app.callback([this, &app] { complete_from_config(app); });
  }

  // Fills the options not given on the command line from --config, then checks the required ones.
  // Throws CLI::ParseError (exit 2) naming the file and the key.
  void complete_from_config(CLI::App& app);
};

}  // namespace sci_infer::cli
