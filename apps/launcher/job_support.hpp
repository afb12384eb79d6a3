#pragma once
// The parts of a batch job around the main loop: MPI lifetime, collective error checks, output
// preparation and resume bookkeeping, provenance attributes and progress lines.
#include <mpi.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "exit_codes.hpp"
#include "io/hdf5_output.hpp"
#include "output_lock.hpp"
#include "io/sha256.hpp"
#include "job_identity.hpp"
#include "parallel/node_threads.hpp"
#include "run_config.hpp"
#include "sci_infer/model.hpp"

namespace sci_infer::cli {

// An error every rank agreed on (collective_try, RunFailures::agree): the job ends cleanly on all
// ranks with `exit_code`, rank 0 reports it, nothing is aborted (MPI_Abort can lose output still
// in flight to mpiexec). kExitRefused before work, kExitRunFailed for a failure part-way.
struct CollectiveError : Error {
  explicit CollectiveError(const std::string& message, int code = kExitRefused) : Error(message), exit_code(code) {}
  int exit_code;
};

class MpiSession {
 public:
  MpiSession();
  ~MpiSession();
  // Runs the job. A CollectiveError is printed once, by rank 0, and every rank returns its
  // exit_code. Any other exception (a bug: everything the job can meet is agreed on) is printed
  // and flushed by its rank, which then aborts the whole job (MPI_Abort, the last resort)
  // instead of leaving the other ranks waiting in a collective.
  int run_or_abort(const std::function<int()>& job);
};

// Runs `fn` on every rank and agrees on the outcome: returns "" if all succeeded, else the
// first failing rank's message (the same string on every rank).
std::string collective_try(MPI_Comm comm, const std::function<void()>& fn);

// Rank 0, before any work: locks the output for this job (OutputLock), checks its path
// (output_paths.hpp: never the input, the model, a shard or a non-regular file), refuses an
// existing output unless --resume or --overwrite, and lets --overwrite replace only a previous
// sci-infer output. Throws Error (the caller agrees on it: exit 2) before removing anything.
struct PreparedOutput {
  OutputLock lock;              // held for the job's life
  bool journal_existed = false; // the journal directory was there before this run
};
PreparedOutput prepare_output(const RunConfig& cfg);
class JobProvenance;
// --resume, rank 0: refuses (Error naming every part that changed) an existing output or a
// journal file whose recorded job identity differs from this job's, before anything is
// written; then marks the records that already have a result (status 0 or 1) in the journal or
// the output. Runtime failures (status 2) are not results: they are computed again.
void mark_done_records(const RunConfig& cfg, const JobProvenance& prov, uint64_t n_records,
                       std::vector<uint8_t>& done);

// The ranks of one tensor-parallel group act as one: its leader (group rank 0) decides each
// iteration whether to stop and which records to claim, and broadcasts that over `group` (the
// engine's tensor-parallel communicator; MPI_COMM_NULL for a group of one: nothing to share).
// `failed`: the job has failed (the leader saw it), every rank of the group leaves the loop.
void share_group_decisions(MPI_Comm group, bool& stopping, bool& exhausted, bool& failed,
                           std::vector<uint64_t>& claims);
// Before each step the ranks of a tensor-parallel group agree (they step the engine together):
// `failed` if any of them has failed, `stop` if any has seen a stop signal, `diverged` if they
// submitted different records (`submitted`: a digest of them), `record_errors` if any had a
// record fail this iteration (one MPI_Allreduce; a group of one, MPI_COMM_NULL: its own values).
struct GroupState {
  bool failed = false, stop = false, diverged = false, record_errors = false;
};
GroupState agree_in_group(MPI_Comm group, bool failed_here, bool stop_here, uint64_t submitted, bool record_errors);

// What an output records about its job (docs/hdf5-schema.md, root attributes): the job
// identity and its parts, the files' hashes and absolute paths, the build and the run.
class JobProvenance {
 public:
  JobProvenance(const RunConfig& cfg, std::string config_text, MPI_Comm comm);  // collective
  // Rank 0: hashes the model and input files (remembered in the journal directory's hash
  // cache, so a resume does not rehash them), the model's metadata, the job identity.
  void describe(const Model& model);
  // Collective: every rank gets rank 0's job identity (journal files carry it).
  void share_identity(MPI_Comm comm);
  // Rank 0, once the journal directory exists: saves the hash cache there (best effort).
  void save_file_hashes() const;
  const JobIdentity& identity() const { return identity_; }
  const std::string& journal_identity() const { return journal_identity_; }  // parts JSON
  const std::string& model_sha256() const { return model_sha256_; }
  StringAttrs string_attrs(bool finished) const;
  IntAttrs int_attrs() const;

 private:
  const RunConfig& cfg_;
  std::string config_text_, hostnames_, start_time_, model_sha256_, model_fingerprint_, model_metadata_;
  std::string input_sha256_, model_path_, input_path_, journal_identity_;
  JobIdentity identity_;
  std::unique_ptr<FileHashCache> hashes_;
  int n_ranks_ = 1;
};

// "<output>.journal/file-hashes.txt": the hash cache of a job's model and input files.
std::string file_hash_cache_path(const std::string& output);
// An absolute path without symlinks or "..": the file itself if it exists, else its directory's
// canonical form (a shard pattern like m.tp4.rank{tp_rank}.gguf names no file).
std::string absolute_path(const std::string& path);
// The build that computes results: commit, compiler, flags, kernel path (for records and verify).
StringAttrs build_attrs();

class ProgressPrinter {
 public:
  ProgressPrinter(uint64_t total, double interval_s, bool enabled);
  void maybe_print(uint64_t done, uint64_t tokens);

 private:
  uint64_t total_;
  double interval_;
  bool enabled_, tty_;
  std::chrono::steady_clock::time_point start_, last_;
  uint64_t first_done_ = UINT64_MAX;
};

std::string utc_now_iso8601();

}  // namespace sci_infer::cli
