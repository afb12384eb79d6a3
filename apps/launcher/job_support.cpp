#include "job_support.hpp"

#include <hdf5.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <set>

#include "io/result_journal.hpp"
#include "io/sha256.hpp"
#include "output_paths.hpp"
#include "parallel/first_failure.hpp"
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

void mark_done_records(const RunConfig& cfg, uint64_t n_records, std::vector<uint8_t>& done) {
  namespace fs = std::filesystem;
  const std::string journal_dir = journal_dir_for_output(cfg.output);
  if (fs::exists(cfg.output)) {
    // Results of earlier runs that are only in the output (journal already folded in and
    // removed) go back into this run's journal, so the journal stays the single source.
    JournalIndex index(journal_dir);
    JournalWriter carry(journal_dir, -1);
    for_each_output_result(cfg.output, [&](RecordResult&& r) {
      if (r.index >= n_records)
        throw Error(cfg.output + ": holds record " + std::to_string(r.index) + " but the input has only " +
                    std::to_string(n_records) + " (different input?)");
      if (!index.contains(r.index)) carry.append(r);
      done[r.index] = 1;
    });
    carry.commit();
  }
  if (fs::exists(journal_dir)) {
    JournalIndex index(journal_dir);
    for (uint64_t i : index.indices())
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

void JobProvenance::describe_model(const Model& model) {
  model_sha256_ = sha256_file_hex(model.path());
  model_fingerprint_ = model_fingerprint(model);
  const ModelConfig& c = model.config();
  char buf[1024];
  std::snprintf(buf, sizeof buf,
                "{\"architecture\": \"%s\", \"name\": \"%s\", \"n_vocab\": %d, \"dim\": %d, \"n_layers\": %d, "
                "\"n_heads\": %d, \"n_kv_heads\": %d, \"ffn_dim\": %d, \"context\": %d, \"rope_theta\": %.9g, "
                "\"norm_eps\": %.9g, \"tied_output\": %s, \"weight_type\": \"%s\", \"n_params\": %ld}",
                c.arch.c_str(), c.name.c_str(), c.n_vocab, c.dim, c.n_layers, c.n_heads, c.n_kv_heads, c.ffn_dim,
                c.context, c.rope_theta, c.norm_eps, c.tied_output ? "true" : "false", ggml_type_name(c.weight_type),
                long(c.n_params));
  model_metadata_ = buf;
}

StringAttrs JobProvenance::string_attrs(bool finished) const {
  return {{"sci_infer.version", kVersion},
          {"sci_infer.git_commit", kGitCommit},
          {"sci_infer.model_path", cfg_.engine.model},
          {"sci_infer.model_sha256", model_sha256_},
          {"sci_infer.model_fingerprint", model_fingerprint_},
          {"sci_infer.model_metadata", model_metadata_},
          {"sci_infer.input_path", cfg_.input},
          {"sci_infer.config", config_text_},
          {"sci_infer.task", cfg_.task},
          {"sci_infer.hostnames", hostnames_},
          {"sci_infer.start_time", start_time_},
          {"sci_infer.end_time", finished ? utc_now_iso8601() : ""}};
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
