#pragma once
// Each sci-infer subcommand registers its options on the CLI11 app and returns the function
// that runs it. main.cpp only wires them together.
#include <CLI/CLI.hpp>
#include <functional>

namespace sci_infer::cli {

using Runner = std::function<int()>;

Runner add_inspect(CLI::App& app);
Runner add_make_model(CLI::App& app);
Runner add_tokenize(CLI::App& app);
Runner add_generate(CLI::App& app);
Runner add_logits(CLI::App& app);
Runner add_bench(CLI::App& app);
Runner add_run(CLI::App& app);
Runner add_verify(CLI::App& app);
Runner add_shard(CLI::App& app);

}  // namespace sci_infer::cli
