// sci-infer verify out.h5: re-runs records from the provenance an output file records (its
// effective configuration, model hash, input path and hash) and checks that every result comes
// out bit for bit the same. It tells a reproducibility failure from its usual innocent causes:
// an input file that changed since the job ran is named and refused (exit 2) instead of
// reported as differing records; a build change is named as a possible cause of differences;
// pending records are counted, and an output that claims to be complete but has pending
// records (or has nothing to check) fails.
//
// Exit codes: 0 every checked record identical; 1 some records differ; 2 cannot verify (a file
// changed, moved or is not this job's; nothing to check; pending records in a complete output).
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "commands.hpp"
#include "exit_codes.hpp"
#include "io/hdf5_input.hpp"
#include "io/hdf5_output.hpp"
#include "io/sha256.hpp"
#include "io/result_journal.hpp"
#include "io/utf8.hpp"
#include "job_support.hpp"
#include "kernels/cpu_kernel_path.hpp"
#include "record_requests.hpp"
#include "run_config.hpp"

namespace sci_infer::cli {
namespace {

// What the HDF5 output stores of a string: valid UTF-8 (bad bytes become U+FFFD), ending at the
// first NUL (HDF5 strings are C strings).
std::string as_stored(const std::string& s) {
  std::string t = utf8::sanitize(s);
  return t.substr(0, t.find('\0'));
}

template <class T>
bool same_bits(const std::vector<T>& a, const std::vector<T>& b) {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0);
}

std::string attr(const OutputInfo& info, const std::string& name) {
  for (const auto& [k, v] : info.string_attrs)
    if (k == name) return v;
  throw Error("output has no attribute " + name + " (not written by sci-infer run?)");
}

std::string attr_or(const OutputInfo& info, const std::string& name, const std::string& fallback = "") {
  for (const auto& [k, v] : info.string_attrs)
    if (k == name) return v;
  return fallback;
}

// Cannot verify: printed as the reason, exit 2.
struct Refused : Error {
  using Error::Error;
};

// A file the job used, found again: each recorded path as stored, then, if it is relative, as
// relative to the output file's directory (a job directory moved or verified from elsewhere).
std::string find_recorded_file(const std::vector<std::string>& recorded, const std::string& output,
                               const char* what, const char* option) {
  namespace fs = std::filesystem;
  const fs::path base = fs::path(output).parent_path();
  std::vector<std::string> tried;
  for (const std::string& p : recorded) {
    if (p.empty()) continue;
    std::vector<fs::path> candidates{p};
    if (fs::path(p).is_relative()) candidates.push_back(base / p);
    for (const fs::path& c : candidates) {
      if (fs::exists(c)) return c.string();
      tried.push_back(c.string());
    }
  }
  std::string list;
  for (const auto& t : tried) list += (list.empty() ? "" : ", ") + t;
  throw Refused(std::string("the job's ") + what + " is not found (tried " + list + "): pass " + option +
                " with its new location");
}

// Where this build differs from the one that wrote the output (empty: the same build).
std::string build_changes(const OutputInfo& info) {
  std::string out;
  for (const auto& [name, now] : build_attrs()) {
    const std::string then = attr_or(info, name, "(not recorded)");
    if (then != now) out += (out.empty() ? "" : "; ") + name + " " + then + " recorded, " + now + " now";
  }
  return out;
}

// Rebuilds the job's RunConfig by parsing its recorded configuration with run's own parser.
RunConfig recorded_config(const std::string& config_text) {
  const auto tmp = std::filesystem::temp_directory_path() / ("sci-infer-verify-" + std::to_string(::getpid()) + ".toml");
  // The job's GPU index is the job machine's business (results do not depend on it): this run
  // uses its own (--device, SCI_INFER_DEVICE or the node-local rank), which may not exist there.
  std::istringstream lines(config_text);
  std::ofstream file(tmp);
  for (std::string line; std::getline(lines, line);)
    if (line.rfind("device=", 0) != 0 && line.rfind("device =", 0) != 0) file << line << "\n";
  file.close();
  RunConfig cfg;
  CLI::App app;
  cfg.add(app);
  const std::string arg = tmp.string();
  std::vector<const char*> argv = {"verify", "--config", arg.c_str()};
  try {
    app.parse(static_cast<int>(argv.size()), argv.data());
  } catch (const CLI::ParseError& e) {
    std::filesystem::remove(tmp);
    throw Error(std::string("cannot parse the recorded configuration: ") + e.what());
  }
  std::filesystem::remove(tmp);
  return cfg;
}

struct VerifyArgs {
  std::string output;
  uint64_t sample = 0;
  int threads = 0;
  std::string model, input;
};

int verify(const VerifyArgs& a) {
  const OutputInfo info = read_output_info(a.output);
  RunConfig cfg = recorded_config(attr(info, "sci_infer.config"));
  cfg.engine.threads = a.threads;
  // One rank reruns every record: tensor parallelism (deterministic) does not change bits.
  if (cfg.engine.tp > 1 && cfg.engine.reduction == "fast")
    std::printf("note: the job used --tp %d --reduction fast, whose bits depend on tp: expect differences\n",
                cfg.engine.tp);
  cfg.engine.tp = 1;

  // ---- The files: found again, and checked to be the job's own ----
  if (!a.model.empty()) {
    cfg.engine.model = a.model;
    const std::string want = attr(info, "sci_infer.model_fingerprint");
    const std::string have = model_fingerprint(*Model::open(a.model));
    if (want != have) throw Refused(a.model + ": not the model of this output (fingerprint " + have.substr(0, 16) +
                                  "... vs recorded " + want.substr(0, 16) + "...)");
  } else {
    if (cfg.engine.model.find("{tp_rank}") != std::string::npos)
      throw Error("the job ran on shard files (" + cfg.engine.model + "): pass --model with the original model");
    cfg.engine.model = find_recorded_file({attr_or(info, "sci_infer.model_path"), cfg.engine.model}, a.output,
                                          "model file", "--model");
    const std::string want_sha = attr(info, "sci_infer.model_sha256");
    const std::string have_sha = sha256_file_hex(cfg.engine.model);
    if (want_sha != have_sha)
      throw Refused(cfg.engine.model + ": the model file changed since the job ran (SHA-256 " + have_sha +
                    " differs from the recorded " + want_sha + ")");
  }
  cfg.input = !a.input.empty() ? a.input
                               : find_recorded_file({attr_or(info, "sci_infer.input_path"), cfg.input}, a.output,
                                                    "input file", "--input");
  const std::string want_input = attr_or(info, "sci_infer.input_sha256");
  if (want_input.empty()) {
    std::printf("note: the output records no input hash (an older sci-infer): an input change would show as "
                "differing records\n");
  } else {
    const std::string have_input = sha256_file_hex(cfg.input);
    if (have_input != want_input)
      throw Refused(cfg.input + ": the input file changed since the job ran (sha256 " + want_input + " recorded, " +
                    have_input + " now): its records cannot be compared");
  }

  // ---- Rerun the computed records (a sample of them), one rank, and compare bits ----
  const auto recorded = read_output_results(a.output);
  const uint64_t pending = info.n_records - recorded.size();
  std::vector<uint64_t> picked;
  for (const auto& [i, r] : recorded) picked.push_back(i);
  if (a.sample > 0 && a.sample < picked.size()) {
    std::vector<uint64_t> some;
    for (uint64_t k = 0; k < a.sample; ++k) some.push_back(picked[k * picked.size() / a.sample]);
    picked.swap(some);
  }
  size_t mismatches = 0;
  if (!picked.empty()) {
    auto model = Model::open(cfg.engine.model);
    InputOptions io;
    io.expected_embedding_width = static_cast<uint32_t>(model->config().dim);
    auto input = InputFile::open(cfg.input, io);
    if (input->size() != info.n_records)
      throw Refused(cfg.input + ": has " + std::to_string(input->size()) + " records but the output has " +
                    std::to_string(info.n_records) + ": not this job's input");
    EngineOptions eo = cfg.engine.options();
    eo.pooling = pooling_from_name(cfg.pooling);
    Engine engine(model, eo);
    std::map<uint64_t, RecordResult> rerun;
    std::vector<Request> requests;
    for (uint64_t i : picked) {
      RecordJob job = make_record_job(input->read(i, i + 1)[0], cfg, *model);
      if (job.runnable) requests.push_back(std::move(job.request));
      else rerun[i] = job.failure;
    }
    for (auto& r : engine.run(std::move(requests))) rerun[r.index] = std::move(r);
    for (uint64_t i : picked) {
      const RecordResult& want = recorded.at(i);
      const RecordResult& got = rerun.at(i);
      std::string diff;
      if (want.status != got.status || want.error != as_stored(got.error)) diff += " status/error";
      if (!same_bits(want.tokens, got.tokens)) diff += " tokens";
      if (want.text != as_stored(got.text)) diff += " text";
      if (!same_bits(want.logprobs, got.logprobs)) diff += " logprobs";
      if (want.finish != got.finish) diff += " finish_reason";
      if (!same_bits(want.embedding, got.embedding)) diff += " embedding";
      if (!diff.empty()) ++mismatches;
      std::printf("record %lu: %s%s\n", (unsigned long)i, diff.empty() ? "identical" : "DIFFERENT in", diff.c_str());
    }
  }
  std::printf("verify: %zu records re-run, %zu identical, %zu different\n", picked.size(), picked.size() - mismatches,
              mismatches);
  if (pending > 0) std::printf("verify: %lu records pending (not computed)\n", (unsigned long)pending);
  std::fflush(stdout);

  if (mismatches > 0) {
    const std::string build = build_changes(info);
    // The host kernel path is chosen at run time (another CPU may take another): the paths are
    // meant to give the same bits, and forcing the recorded one tells which is at fault.
    const std::string path_then = attr_or(info, "sci_infer.kernel_path");
    const std::string path_hint = !path_then.empty() && path_then != cpu_kernel_path()
                                      ? "; rerun with SCI_INFER_CPU_PATH=" + path_then + " where the CPU has it"
                                      : "";
    if (!build.empty())
      std::fprintf(stderr, "sci-infer: verify: possible cause: the build changed since the job ran (%s)%s\n",
                   build.c_str(), path_hint.c_str());
    else
      std::fprintf(stderr, "sci-infer: verify: same build, same model and input: a reproducibility failure "
                           "(please report it)\n");
    return 1;
  }
  // The journal directory is removed only after the final snapshot of a complete run: without
  // it, an output with pending records has been modified or truncated.
  const bool claims_complete =
      !attr_or(info, "sci_infer.end_time").empty() && !std::filesystem::exists(journal_dir_for_output(a.output));
  if (pending > 0 && claims_complete)
    throw Refused(a.output + ": " + std::to_string(pending) + " records pending in an output that claims to be "
                  "complete (its job finished and removed its journal): the file was modified or truncated");
  if (picked.empty())
    throw Refused(a.output + ": nothing to check: every record is pending (not computed)");
  return 0;
}

}  // namespace

Runner add_verify(CLI::App& app) {
  auto a = std::make_shared<VerifyArgs>();
  app.add_option("output", a->output, "Output HDF5 file written by sci-infer run")->required();
  app.add_option("--sample", a->sample, "Re-run only K records, evenly spread (0 = all)");
  app.add_option("--threads,-t", a->threads, "Threads (results do not depend on it)");
  app.add_option("--model,-m", a->model,
                 "Model file to rerun with (default: the recorded one; needed for jobs run on shard files)");
  app.add_option("--input,-i", a->input,
                 "Input file to rerun (default: the recorded one); checked against the recorded SHA-256");
  app.footer(
      "Exit codes: 0 every checked record identical; 1 some records differ; 2 cannot verify (a file changed,\n"
      "moved or is not this job's; nothing to check; pending records in an output that claims to be complete).");
  return [a] {
    try {
      return verify(*a);
    } catch (const Refused& e) {
      std::fprintf(stderr, "sci-infer: verify: %s\n", e.what());
      return kExitRefused;
    }
  };
}

}  // namespace sci_infer::cli
