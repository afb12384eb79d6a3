#include "job_support.hpp"

#include <hdf5.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>

#include "io/result_journal.hpp"
#include "io/sha256.hpp"
#include "output_paths.hpp"
#include "kernels/cpu_kernel_path.hpp"
#include "kernels/cublas_gemm_info.hpp"
#include "parallel/first_failure.hpp"
#include "sci_infer/device.hpp"
#include "sci_infer/version.hpp"

namespace sci_infer::cli {

MpiSession::MpiSession() {
  // HDF5 starts before MPI and without its exit hooks (atexit, and the MPI_COMM_SELF attribute
  // it sets when MPI is already up, which tears the library down inside MPI_Finalize). Every
  // file the job opens is closed by its owner; the exception is a snapshot abandoned after an
  // I/O error (hdf5_output.cpp), which HDF5 1.10 cannot close and would crash on at teardown,
  // turning the job's exit code 5 into a SIGSEGV. The process's exit frees what is left.
  H5dont_atexit();
  H5open();
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (!initialized) {
    int provided = 0;
    MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided);
  }
}

MpiSession::~MpiSession() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized) MPI_Finalize();
}

int MpiSession::run_or_abort(const std::function<int()>& job) {
  try {
    return job();
  } catch (const CollectiveError& e) {
    int rank = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    if (rank == 0) {
      std::fprintf(stderr, "sci-infer: error: %s\n", e.what());
      std::fflush(stderr);
    }
    return e.exit_code;
  } catch (const std::exception& e) {
    int rank = 0, size = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    std::fprintf(stderr, "sci-infer: error%s: %s\n", size > 1 ? (" (rank " + std::to_string(rank) + ")").c_str() : "",
                 e.what());
    std::fflush(stderr);
    std::fflush(stdout);
    if (size > 1) MPI_Abort(MPI_COMM_WORLD, kExitInternal);
    return kExitInternal;
  }
}

std::string collective_try(MPI_Comm comm, const std::function<void()>& fn) {
  std::string msg;
  try {
    fn();
  } catch (const std::exception& e) {
    msg = *e.what() ? e.what() : "unknown error";
  }
  for (char& c : msg)  // one line per message (HDF5's error records carry a ctime() newline)
    if (c == '\n') c = ' ';
  const RankFailure failure = first_failure(comm, msg.empty() ? 0 : 1, msg);
  return failure.code == 0 ? "" : failure.message;
}

PreparedOutput prepare_output(const RunConfig& cfg) {
  namespace fs = std::filesystem;
  const std::string journal = journal_dir_for_output(cfg.output);
  const fs::path parent = fs::path(cfg.output).parent_path();
  if (!parent.empty() && !fs::is_directory(parent))
    throw Error(cfg.output + ": directory " + parent.string() + " does not exist");
  PreparedOutput prepared;
  // First the lock: nothing is looked at or removed while another job may own the output. Its
  // creation is also the probe that the output directory is writable (a read-only file system
  // is refused here, before any work, not by the first snapshot).
  prepared.lock = OutputLock(cfg.output);

  std::vector<ProtectedFile> protect{{"input", cfg.input}};
  const int tp = std::max(1, cfg.engine.tp);
  for (int r = 0; r < tp; ++r)
    protect.push_back({tp > 1 ? "model shard " + std::to_string(r) : "model", shard_path(cfg.engine.model, r)});
  check_output_path(cfg.output, journal, protect);

  const bool output_exists = fs::exists(cfg.output);
  const bool exists = output_exists || fs::exists(journal);
  if (exists && !cfg.resume && !cfg.overwrite)
    throw Error(cfg.output + ": output exists; pass --resume to continue that job or --overwrite to replace it");
  if (output_exists && !is_sci_infer_output(cfg.output))
    throw Error(cfg.output + ": exists but is not an output of sci-infer (no HDF5 file with sci_infer attributes); " +
                (cfg.resume ? "--resume" : "--overwrite") + " only works on a previous output: remove it yourself " +
                "or choose another path");
  if (cfg.overwrite && !cfg.resume) {
    fs::remove(cfg.output);
    fs::remove_all(journal);
  }
  remove_stale_snapshot_temps(cfg.output);
  prepared.journal_existed = fs::exists(journal);
  return prepared;
}

namespace {

std::string string_attr(const OutputInfo& info, const std::string& name) {
  for (const auto& [k, v] : info.string_attrs)
    if (k == name) return v;
  return "";
}

bool is_shard_pattern(const std::string& model_path) { return model_path.find("{tp_rank}") != std::string::npos; }

// The existing output must have been written by this job: same identity, and (both runs on one
// whole model file) the same model bytes, which the fingerprint (header + size) cannot see.
void check_output_is_this_job(const RunConfig& cfg, const JobProvenance& prov) {
  const OutputInfo info = read_output_info(cfg.output);
  const std::string parts = string_attr(info, "sci_infer.job_identity_parts");
  if (parts.empty())
    throw Error(cfg.output + ": --resume refused: the output records no job identity (written by an older "
                "sci-infer), so it cannot be checked to be this job; finish it with that sci-infer or rerun with "
                "--overwrite");
  std::vector<std::string> changes = identity_changes(JobIdentity::from_json(parts, cfg.output), prov.identity());
  const std::string recorded_path = string_attr(info, "sci_infer.model_path");
  const std::string recorded_sha = string_attr(info, "sci_infer.model_sha256");
  if (changes.empty() && !is_shard_pattern(recorded_path) && !is_shard_pattern(cfg.engine.model) && !recorded_sha.empty() &&
      recorded_sha != prov.model_sha256())
    changes.push_back("model file content changed (sha256 " + recorded_sha.substr(0, 16) + "... recorded, " +
                      prov.model_sha256().substr(0, 16) + "... now)");
  if (!changes.empty())
    throw Error(cfg.output + ": --resume refused: the job changed since it started: " + join_changes(changes) +
                ". Resume with the job's own model, input and options, or write to another output (--overwrite "
                "starts over)");
  // Not part of the identity (the kernel paths compute the same chains), but worth knowing.
  for (const auto& [name, now] : build_attrs()) {
    const std::string then = string_attr(info, name);
    if (name != "sci_infer.compile_flags" && !then.empty() && then != now)
      std::fprintf(stderr, "[sci-infer] note: %s was %s when the job started, %s now\n", name.c_str(), then.c_str(),
                   now.c_str());
  }
}

// Every journal file in the directory must be this job's: a foreign one is refused, naming
// the file and what differs, instead of its records being merged. Without an output (a job
// stopped before its first snapshot) the journal is the only record of the job, so a
// difference there means the job changed.
void check_journals_are_this_job(const RunConfig& cfg, const JobProvenance& prov, bool have_output) {
  const std::string journal_dir = journal_dir_for_output(cfg.output);
  for (const auto& [file, identity] : journal_file_identities(journal_dir)) {
    if (identity == prov.journal_identity()) continue;
    const JobIdentity theirs = JobIdentity::from_json(identity, file);
    if (!have_output)
      throw Error(cfg.output + ": --resume refused: the job changed since it started (as its journal file " + file +
                  " records): " + join_changes(identity_changes(theirs, prov.identity())) +
                  ". Resume with the job's own model, input and options, or write to another output");
    const std::string what = join_changes(identity_changes(theirs, prov.identity(), "there", "in this job"));
    throw Error(file + ": a journal file of another job (" + (what.empty() ? "another job identity" : what) +
                "); its records are not merged: --resume refused. Move the file out of " + journal_dir +
                " or write this job to another output");
  }
}

}  // namespace

void mark_done_records(const RunConfig& cfg, const JobProvenance& prov, uint64_t n_records,
                       std::vector<uint8_t>& done) {
  namespace fs = std::filesystem;
  const std::string journal_dir = journal_dir_for_output(cfg.output);
  const bool have_output = fs::exists(cfg.output);
  // Both checks come first: a refused resume leaves the output and the journal as they were.
  if (have_output) check_output_is_this_job(cfg, prov);
  check_journals_are_this_job(cfg, prov, have_output);
  const std::string& job = prov.journal_identity();
  if (have_output) {
    // Results of earlier runs that are only in the output (journal already folded in and
    // removed) go back into this run's journal, so the journal stays the single source.
    JournalIndex index(journal_dir, nullptr, job);
    JournalWriter carry(journal_dir, -1, job);
    for_each_output_result(cfg.output, [&](RecordResult&& r) {
      if (r.index >= n_records)
        throw Error(cfg.output + ": holds record " + std::to_string(r.index) + " but the input has only " +
                    std::to_string(n_records) + " (different input?)");
      if (!index.contains(r.index)) carry.append(r);
      // A runtime failure (status 2: e.g. too little KV cache) is not a result: compute it again.
      if (r.status != kStatusRuntimeError) done[r.index] = 1;
    });
    carry.commit();
  }
  if (fs::exists(journal_dir)) {
    JournalIndex index(journal_dir, nullptr, job);
    for (uint64_t i : index.result_indices())
      if (i < n_records) done[i] = 1;
  }
}

void share_group_decisions(MPI_Comm group, bool& stopping, bool& exhausted, bool& failed,
                           std::vector<uint64_t>& claims) {
  if (group == MPI_COMM_NULL) return;
  uint64_t head[4] = {stopping, exhausted, failed, claims.size()};
  MPI_Bcast(head, 4, MPI_UINT64_T, 0, group);
  stopping = head[0] != 0;
  exhausted = head[1] != 0;
  failed = head[2] != 0;
  claims.resize(head[3]);
  if (!claims.empty()) MPI_Bcast(claims.data(), static_cast<int>(claims.size()), MPI_UINT64_T, 0, group);
}

GroupState agree_in_group(MPI_Comm group, bool failed_here, bool stop_here, uint64_t submitted, bool record_errors) {
  // max(~d) = ~min(d): one MAX reduction gives both the largest and the smallest digest.
  uint64_t mine[5] = {failed_here, stop_here, record_errors, submitted, ~submitted};
  uint64_t all[5] = {mine[0], mine[1], mine[2], mine[3], mine[4]};
  if (group != MPI_COMM_NULL) MPI_Allreduce(mine, all, 5, MPI_UINT64_T, MPI_MAX, group);
  return {all[0] != 0, all[1] != 0, all[3] != ~all[4], all[2] != 0};
}

std::string utc_now_iso8601() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

JobProvenance::JobProvenance(const RunConfig& cfg, std::string config_text, MPI_Comm comm)
    : cfg_(cfg), config_text_(std::move(config_text)), start_time_(utc_now_iso8601()) {
  int rank = 0;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &n_ranks_);
  char name[MPI_MAX_PROCESSOR_NAME] = {};
  int len = 0;
  MPI_Get_processor_name(name, &len);
  std::vector<char> all(size_t(n_ranks_) * MPI_MAX_PROCESSOR_NAME);
  MPI_Gather(name, MPI_MAX_PROCESSOR_NAME, MPI_CHAR, all.data(), MPI_MAX_PROCESSOR_NAME, MPI_CHAR, 0, comm);
  if (rank == 0) {
    std::set<std::string> hosts;
    for (int r = 0; r < n_ranks_; ++r) hosts.insert(std::string(&all[size_t(r) * MPI_MAX_PROCESSOR_NAME]));
    for (const auto& h : hosts) hostnames_ += (hostnames_.empty() ? "" : ",") + h;
  }
}

std::string file_hash_cache_path(const std::string& output) {
  return journal_dir_for_output(output) + "/file-hashes.txt";
}

std::string absolute_path(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::path p = fs::weakly_canonical(fs::absolute(path, ec), ec);
  return ec ? path : p.string();
}

StringAttrs build_attrs() {
  return {{"sci_infer.git_commit", kGitCommit},
          {"sci_infer.compiler", kCompiler},
          {"sci_infer.compile_flags", kCompileFlags},
          {"sci_infer.kernel_path", cpu_kernel_path()},
          // Where the kernels ran: "Kokkos 4.6.1 Cuda/CudaSpace" and "cuda:0 NVIDIA H200 (sm_90)", or
          // "... OpenMP/HostSpace" and "host" (of the rank that writes the file; device.hpp).
          {"sci_infer.kokkos", kokkos_description()},
          {"sci_infer.device", device_description()}};
}

void JobProvenance::describe(const Model& model) {
  hashes_ = std::make_unique<FileHashCache>(file_hash_cache_path(cfg_.output));
  model_sha256_ = hashes_->sha256(model.path());
  input_sha256_ = hashes_->sha256(cfg_.input);
  model_fingerprint_ = model_fingerprint(model);
  model_path_ = absolute_path(cfg_.engine.model);
  input_path_ = absolute_path(cfg_.input);
  const ModelConfig& c = model.config();
  // nlohmann-json escapes what a model name may hold (quotes, backslashes, control bytes).
  const nlohmann::json meta = {{"architecture", c.arch},     {"name", c.name},
                               {"n_vocab", c.n_vocab},       {"dim", c.dim},
                               {"n_layers", c.n_layers},     {"n_heads", c.n_heads},
                               {"n_kv_heads", c.n_kv_heads}, {"ffn_dim", c.ffn_dim},
                               {"context", c.context},       {"rope_theta", c.rope_theta},
                               {"norm_eps", c.norm_eps},     {"tied_output", c.tied_output},
                               {"weight_type", ggml_type_name(c.weight_type)},
                               {"n_params", c.n_params}};
  // Invalid UTF-8 in a name is replaced (U+FFFD), not thrown about: it is only a description.
  model_metadata_ = meta.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  identity_ = job_identity(cfg_, model_fingerprint_, input_sha256_);
  journal_identity_ = identity_.parts_json();
}

void JobProvenance::share_identity(MPI_Comm comm) {
  int rank = 0;
  MPI_Comm_rank(comm, &rank);
  uint64_t n = journal_identity_.size();
  MPI_Bcast(&n, 1, MPI_UINT64_T, 0, comm);
  journal_identity_.resize(n);
  MPI_Bcast(journal_identity_.data(), static_cast<int>(n), MPI_CHAR, 0, comm);
  if (rank != 0) identity_ = JobIdentity::from_json(journal_identity_, "the job identity from rank 0");
}

void JobProvenance::save_file_hashes() const {
  if (!hashes_ || !std::filesystem::is_directory(journal_dir_for_output(cfg_.output))) return;
  try {
    hashes_->save();
  } catch (const std::exception& e) {  // only a cache: the next resume rehashes
    std::fprintf(stderr, "[sci-infer] note: %s\n", e.what());
  }
}

StringAttrs JobProvenance::string_attrs(bool finished) const {
  StringAttrs a = {{"sci_infer.version", kVersion},
                   {"sci_infer.model_path", model_path_},
                   {"sci_infer.model_sha256", model_sha256_},
                   {"sci_infer.model_fingerprint", model_fingerprint_},
                   {"sci_infer.model_metadata", model_metadata_},
                   {"sci_infer.input_path", input_path_},
                   {"sci_infer.input_sha256", input_sha256_},
                   {"sci_infer.job_identity", identity_.fingerprint()},
                   {"sci_infer.job_identity_parts", journal_identity_},
                   {"sci_infer.config", config_text_},
                   {"sci_infer.task", cfg_.task},
                   {"sci_infer.hostnames", hostnames_},
                   {"sci_infer.start_time", start_time_},
                   {"sci_infer.end_time", finished ? utc_now_iso8601() : ""}};
  for (auto& b : build_attrs()) a.push_back(std::move(b));
  // The fast mode's bits hold for one GPU model and one cuBLASLt version: record both, and the
  // algorithm pinned for each layer shape (linear_cublas.cu).
  if (cfg_.engine.gemm == "cublas") a.push_back({"sci_infer.gemm_library", cublas_gemm_provenance()});
  return a;
}

IntAttrs JobProvenance::int_attrs() const {
  return {{"sci_infer.seed", static_cast<int64_t>(cfg_.seed)}, {"sci_infer.n_ranks", n_ranks_}};
}

ProgressPrinter::ProgressPrinter(uint64_t total, double interval_s, bool enabled)
    : total_(total), interval_(interval_s), enabled_(enabled), tty_(isatty(STDOUT_FILENO)) {
  start_ = last_ = std::chrono::steady_clock::now();
}

void ProgressPrinter::maybe_print(uint64_t done, uint64_t tokens) {
  if (!enabled_) return;
  if (first_done_ == UINT64_MAX) first_done_ = done;
  const auto now = std::chrono::steady_clock::now();
  if (std::chrono::duration<double>(now - last_).count() < interval_) return;
  last_ = now;
  const double t = std::chrono::duration<double>(now - start_).count();
  const double rate = (done - first_done_) / std::max(t, 1e-9);
  const double eta = rate > 0 ? (total_ - done) / rate : 0.0;
  const double pct = total_ ? 100.0 * done / total_ : 100.0;
  if (tty_) {
    const int width = 30, fill = static_cast<int>(pct / 100.0 * width);
    std::printf("\r[%s%s] %lu/%lu %.1f rec/s %.0f tok/s ETA %.0fs  ", std::string(fill, '#').c_str(),
                std::string(width - fill, '.').c_str(), (unsigned long)done, (unsigned long)total_, rate, tokens / t, eta);
  } else {
    std::printf("[sci-infer] progress %lu/%lu records (%.1f%%), %.2f records/s, %.1f tok/s, ETA %.0f s\n",
                (unsigned long)done, (unsigned long)total_, pct, rate, tokens / t, eta);
  }
  std::fflush(stdout);
}

}  // namespace sci_infer::cli
