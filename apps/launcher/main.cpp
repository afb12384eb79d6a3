// sci-infer: the command-line front end of sci_infer.
//   sci-infer run ...        batch job over an HDF5 dataset (MPI, resumable)
//   sci-infer verify ...     re-run records from an output file's provenance, compare bits
//   sci-infer generate/logits/tokenize/inspect/make-model/bench   quick tries and checks
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>

#include "commands.hpp"
#include "exit_codes.hpp"
#include "kernels/cpu_kernel_path.hpp"
#include "sci_infer/device.hpp"
#include "sci_infer/error.hpp"
#include "sci_infer/version.hpp"

// libgomp's default (spin ~300k iterations, then sleep) lets idle GEMM threads steal the core
// that the main thread needs for the Kokkos kernels and I/O between GEMMs (2 vCPUs share one
// core's vector units); fully passive waiting makes every GEMM pay a futex wake-up (4x slower
// decode on small models). A bounded spin of 100k iterations measured best for both. libgomp
// reads this when it loads, before main, so set it and re-execute once.
static void ensure_bounded_openmp_spin(char** argv) {
  if (std::getenv("OMP_WAIT_POLICY") || std::getenv("GOMP_SPINCOUNT")) return;
  setenv("GOMP_SPINCOUNT", "100000", 1);
  execv("/proc/self/exe", argv);  // returns only on failure: then run as we are
}

int main(int argc, char** argv) {
  ensure_bounded_openmp_spin(argv);
  using namespace sci_infer::cli;
  CLI::App app{"sci-infer: reproducible batch inference for Llama-family GGUF models"};
  // The build's Kokkos too: which execution and memory space the kernels run in (device.hpp).
  app.set_version_flag("--version", std::string("sci-infer ") + sci_infer::kVersion + " (" + sci_infer::kGitCommit +
                                        ")\n" + sci_infer::kokkos_description());
  app.require_subcommand(1);
  std::map<CLI::App*, Runner> runners;
  auto add = [&](const char* name, const char* help, Runner (*fn)(CLI::App&)) {
    CLI::App* sub = app.add_subcommand(name, help);
    runners[sub] = fn(*sub);
    return sub;
  };
  add("run", "Run a batch job over an HDF5 input under MPI (generate, score or embed)", add_run)->footer(kExitCodeHelp);
  add("verify", "Re-run records of an output file from its provenance and compare bitwise", add_verify)
      ->footer(kExitCodeHelp);
  add("generate", "Generate text from one prompt", add_generate);
  add("logits", "Write the logits of a token sequence as raw little-endian float32", add_logits);
  add("tokenize", "Print the token ids of a text", add_tokenize);
  add("inspect", "Print a GGUF file's metadata and tensors", add_inspect);
  add("make-model", "Write a deterministic random-weight Llama test model (GGUF)", add_make_model);
  add("shard", "Cut a model into one GGUF file per tensor-parallel rank", add_shard);
  add("bench", "Measure prefill and decode throughput", add_bench);
  app.footer(kExitCodeHelp);  // after the subcommands, which would inherit it
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // CLI11's message (and the help or version text), but one exit code for every refused
    // command line, bad or missing option and bad --config file alike: 2, as exit_codes.hpp says.
    return app.exit(e) == 0 ? kExitOk : kExitRefused;
  }
  try {
    sci_infer::cpu_path();  // a bad SCI_INFER_CPU_PATH is refused (exit 2) before any work
    for (auto& [sub, run] : runners)
      if (sub->parsed()) return run();
  } catch (const sci_infer::Error& e) {  // a bad file, model or argument the library refused
    std::fprintf(stderr, "sci-infer: error: %s\n", e.what());
    return kExitRefused;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "sci-infer: internal error: %s\n", e.what());
    return kExitInternal;
  }
  return kExitInternal;
}
