// `sci-infer run --config job.toml`: CLI11 reads config files for the top-level app only, and
// silently skips keys it does not know, so `run` reads its job file itself, through CLI11's own
// TOML/INI reader and each option's own conversion and validator.
#include "run_config.hpp"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>

namespace sci_infer::cli {
namespace {

std::vector<CLI::ConfigItem> read_config_items(const std::string& path, bool ini) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::exists(path, ec)) throw CLI::FileError("--config " + path + ": no such file");
  if (fs::is_directory(path, ec)) throw CLI::FileError("--config " + path + ": is a directory");
  std::ifstream in(path);
  if (!in) throw CLI::FileError("--config " + path + ": cannot read it (" + std::strerror(errno) + ")");
  try {
    return ini ? CLI::ConfigINI().from_config(in) : CLI::ConfigTOML().from_config(in);
  } catch (const CLI::ParseError& e) {
    throw CLI::ConfigError("--config " + path + ": " + e.what());
  }
}

CLI::Option* option_for_key(CLI::App& app, std::string key) {
  if (CLI::Option* op = app.get_option_no_throw("--" + key)) return op;
  for (char& c : key)  // TOML habit: max_new_tokens for --max-new-tokens
    if (c == '_') c = '-';
  return app.get_option_no_throw("--" + key);
}

}  // namespace

void RunConfig::complete_from_config(CLI::App& app) {
  CLI::Option* config_opt = app.get_option("--config");
  if (config_opt->count() > 0) {
    const std::string& path = config_file;
    if (path.empty()) throw CLI::FileError("--config: the path is empty");
    const bool ini = std::filesystem::path(path).extension() == ".ini";
    std::set<const CLI::Option*> from_file;
    for (const CLI::ConfigItem& item : read_config_items(path, ini)) {
      if (item.name == "++" || item.name == "--") continue;  // section open/close markers
      const std::string where = "--config " + path + ": key '" + item.fullname() + "'";
      // Keys at top level or under [run] (so one file can hold a whole job description).
      if (!(item.parents.empty() || (item.parents.size() == 1 && item.parents[0] == "run")))
        throw CLI::ConfigError(where + " is not an option of sci-infer run (put options at top level or under [run])");
      CLI::Option* op = option_for_key(app, item.name);
      if (op == nullptr || !op->get_configurable())
        throw CLI::ConfigError(where + " is not an option of sci-infer run (see sci-infer run --help)");
      if (!from_file.insert(op).second) throw CLI::ConfigError(where + ": the option is set twice in the file");
      if (op->count() > 0) continue;  // given on the command line: that wins
      try {
        if (op->get_expected_min() == 0) {  // a flag: true/false
          if (item.inputs.size() != 1) throw CLI::ConversionError(where + " takes one value (true or false)");
          op->add_result(op->get_flag_value(op->get_lnames().front(), item.inputs[0]));
        } else {
          op->add_result(item.inputs);
        }
        op->run_callback();  // conversion and range check, as for the command line
      } catch (const CLI::ParseError& e) {
        throw CLI::ConfigError("--config " + path + ": " + e.what());
      }
    }
  }
  for (const char* name : {"--model", "--input", "--output"})
    if (app.get_option(name)->count() == 0)
      throw CLI::RequiredError(std::string(name) + " is required (on the command line or in the --config file)",
                               CLI::ExitCodes::RequiredError);
}

}  // namespace sci_infer::cli
