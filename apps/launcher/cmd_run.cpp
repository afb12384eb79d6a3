// run / verify: placeholders until the launcher lands.
#include "commands.hpp"
#include "sci_infer/error.hpp"

namespace sci_infer::cli {
Runner add_run(CLI::App& app) {
  return [] { throw Error("run: not implemented yet"); return 1; };
}
Runner add_verify(CLI::App& app) {
  return [] { throw Error("verify: not implemented yet"); return 1; };
}
}  // namespace sci_infer::cli
