// sci-infer verify out.h5: re-runs records from the provenance an output file records (its
// effective configuration, model hash and input path) and checks that every result comes out
// bit for bit the same.
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "commands.hpp"
#include "io/hdf5_input.hpp"
#include "io/hdf5_output.hpp"
#include "io/sha256.hpp"
#include "io/utf8.hpp"
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

// Rebuilds the job's RunConfig by parsing its recorded configuration with run's own parser.
RunConfig recorded_config(const std::string& config_text) {
  const auto tmp = std::filesystem::temp_directory_path() / ("sci-infer-verify-" + std::to_string(::getpid()) + ".toml");
  std::ofstream(tmp) << config_text;
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

}  // namespace

Runner add_verify(CLI::App& app) {
  struct Args {
    std::string output;
    uint64_t sample = 0;
    int threads = 0;
    std::string model;
  };
  auto a = std::make_shared<Args>();
  app.add_option("output", a->output, "Output HDF5 file written by sci-infer run")->required();
  app.add_option("--sample", a->sample, "Re-run only K records, evenly spread (0 = all)");
  app.add_option("--threads,-t", a->threads, "Threads (results do not depend on it)");
  app.add_option("--model,-m", a->model,
                 "Model file to rerun with (default: the recorded one; needed for jobs run on shard files)");
  return [=] {
    const OutputInfo info = read_output_info(a->output);
    RunConfig cfg = recorded_config(attr(info, "sci_infer.config"));
    cfg.engine.threads = a->threads;
    // One rank reruns every record: tensor parallelism (deterministic) does not change bits.
    if (cfg.engine.tp > 1 && cfg.engine.reduction == "fast")
      std::printf("note: the job used --tp %d --reduction fast, whose bits depend on tp: expect differences\n",
                  cfg.engine.tp);
    cfg.engine.tp = 1;
    if (!a->model.empty()) {
      cfg.engine.model = a->model;
      const std::string want = attr(info, "sci_infer.model_fingerprint");
      const std::string have = model_fingerprint(*Model::open(a->model));
      if (want != have) throw Error(a->model + ": not the model of this output (fingerprint " + have.substr(0, 16) +
                                    "... vs recorded " + want.substr(0, 16) + "...)");
    } else {
      if (cfg.engine.model.find("{tp_rank}") != std::string::npos)
        throw Error("the job ran on shard files (" + cfg.engine.model + "): pass --model with the original model");
      const std::string want_sha = attr(info, "sci_infer.model_sha256");
      const std::string have_sha = sha256_file_hex(cfg.engine.model);
      if (want_sha != have_sha)
        throw Error(cfg.engine.model + ": SHA-256 " + have_sha + " differs from the recorded " + want_sha);
    }
    const auto recorded = read_output_results(a->output);
    std::vector<uint64_t> picked;
    for (const auto& [i, r] : recorded) picked.push_back(i);
    if (a->sample > 0 && a->sample < picked.size()) {
      std::vector<uint64_t> some;
      for (uint64_t k = 0; k < a->sample; ++k) some.push_back(picked[k * picked.size() / a->sample]);
      picked.swap(some);
    }
    auto model = Model::open(cfg.engine.model);
    InputOptions io;
    io.expected_embedding_width = static_cast<uint32_t>(model->config().dim);
    auto input = InputFile::open(cfg.input, io);
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
    size_t mismatches = 0;
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
    std::printf("verify: %zu records re-run, %zu identical, %zu different\n", picked.size(), picked.size() - mismatches,
                mismatches);
    return mismatches == 0 ? 0 : 1;
  };
}

}  // namespace sci_infer::cli
