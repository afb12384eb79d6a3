// sci-infer run: the batch job. Ranks form data-parallel groups of --tp ranks (consecutive
// ranks; a group of one without tensor parallelism). Each group's leader claims records
// dynamically from a counter on rank 0 and tells its group which; every rank of the group
// submits the same records and steps the engine together (each holds 1/tp of the model); the
// leader appends finished results to its own journal file (the durable commit log). Rank 0 turns
// the journals into the HDF5 output, an atomic snapshot, at commit time and at the end.
// Results are per-record deterministic, so the output does not depend on the rank count, the
// tensor-parallel size, the claim order or restarts.
#include <mpi.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>

#include "commands.hpp"
#include "io/hdf5_input.hpp"
#include "io/hdf5_output.hpp"
#include "io/result_journal.hpp"
#include "job_support.hpp"
#include "parallel/large_bcast.hpp"
#include "parallel/shared_counters.hpp"
#include "record_requests.hpp"
#include "run_config.hpp"
#include "run_failures.hpp"
#include "watchdog.hpp"

namespace sci_infer::cli {
namespace {

volatile std::sig_atomic_t g_stop_signal = 0;
extern "C" void on_stop_signal(int sig) { g_stop_signal = sig; }

enum Counter { kNextRecord = 0, kStop = 1, kDone = 2, kTokens = 3, kFailed = 4, kRankFailed = 5, kNumCounters = 6 };
using Clock = std::chrono::steady_clock;
// On a stop signal the final snapshot is skipped when the last one took longer than this: the
// whole stop must end well within PBS's default kill_delay (10 s) and Slurm's KillWait (30 s).
constexpr double kStopSnapshotBudget = 3.0;

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// Rank 0 rewrites the output from the journals, but only as often as keeps its cost under ~5%
// of the run (a snapshot of a huge output takes a while).
struct Snapshotter {
  const RunConfig& cfg;
  const JobProvenance& prov;
  uint64_t n_records;
  uint32_t dim;
  std::vector<std::string> carried;  // input datasets copied to /results (InputFile::carried)
  Clock::time_point last = Clock::now();
  double last_cost = 0.0;
  uint64_t failed = 0;  // records with status != 0 in the last snapshot (this run's and earlier runs')

  void write(bool final_snapshot) {
    const auto t0 = Clock::now();
    JournalIndex index(journal_dir_for_output(cfg.output), nullptr, prov.journal_identity());
    OutputLayout layout;
    layout.task = cfg.task;
    layout.pooling = cfg.pooling;
    layout.d_model = dim;
    layout.carry_from = cfg.input;
    layout.carried = carried;
    auto attrs = prov.string_attrs(final_snapshot);
    failed = 0;
    write_output_snapshot(cfg.output, n_records, layout,
                          [&](uint64_t i, RecordResult& r) {
                            const bool have = index.load(i, r);
                            failed += have && r.status != 0;
                            return have;
                          },
                          attrs, prov.int_attrs());
    last = Clock::now();
    last_cost = seconds_since(t0);
  }
  void maybe_write() {
    if (seconds_since(last) > 20.0 * last_cost) write(false);
  }
};

// Rank 0: a run that fails before its work starts removes what it created, so the next run is
// not refused with "output exists" (a failed --resume used to leave a journal directory behind).
struct PreworkCleanup {
  std::string journal_dir;
  bool remove = false;  // this run created journal_dir and no work has started
  ~PreworkCleanup() {
    std::error_code ec;
    if (remove) std::filesystem::remove_all(journal_dir, ec);
  }
};

int run_job(const RunConfig& cfg, const std::string& config_text, MPI_Comm comm) {
  int rank = 0, n_ranks = 1;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &n_ranks);
  const auto start = Clock::now();
  JobProvenance prov(cfg, config_text, comm);
  const std::string journal_dir = journal_dir_for_output(cfg.output);

  // ---- Whole-job checks: any failure stops every rank before any work, with one message ----
  std::unique_ptr<InputFile> input;
  std::shared_ptr<const Model> model;
  PreparedOutput output;  // rank 0: the output's lock, held until the job ends
  PreworkCleanup cleanup{journal_dir};
  std::string err = collective_try(comm, [&] {
    model = Model::open(shard_path(cfg.engine.model, rank % std::max(1, cfg.engine.tp)));
    check_stop_tokens(cfg, model->config());
    InputOptions io;
    io.expected_embedding_width = static_cast<uint32_t>(model->config().dim);
    io.carry = carried_dataset_names(cfg);
    input = InputFile::open(cfg.input, io);
    if (rank == 0) {
      output = prepare_output(cfg);
      cleanup.remove = !output.journal_existed;
    }
  });
  if (!err.empty()) throw CollectiveError(err);
  const uint64_t n_records = input->size();

  // ---- The job's identity; which records are already done (resume: refused if the job
  // changed): decided by rank 0, shared with all ----
  std::vector<uint8_t> done(n_records, 0);
  err = collective_try(comm, [&] {
    if (rank == 0) prov.describe(*model);  // reads the whole model: may fail too
    if (rank == 0 && cfg.resume) mark_done_records(cfg, prov, n_records, done);
  });
  if (!err.empty()) throw CollectiveError(err);
  prov.share_identity(comm);
  bcast_bytes(done.data(), n_records, 0, comm);  // in pieces: n_records may exceed an int count
  uint64_t already = 0;
  for (uint8_t d : done) already += d;

  EngineOptions eo = cfg.engine.options();
  eo.pooling = pooling_from_name(cfg.pooling);
  eo.threads = threads_per_rank(cfg.engine.threads, comm);
  const int tp = eo.tensor_parallel;
  if (tp < 1 || n_ranks % tp != 0)
    throw CollectiveError("--tp " + std::to_string(tp) + " must divide the number of ranks (" +
                          std::to_string(n_ranks) + ")");
  std::unique_ptr<Engine> engine_ptr;
  try {  // the collective constructor already agrees on failures across ranks
    engine_ptr = std::make_unique<Engine>(model, eo, comm);  // the model opened for the checks above
  } catch (const Error& e) {
    throw CollectiveError(e.what());
  }
  Engine& engine = *engine_ptr;
  const bool leader = engine.tp_rank() == 0;  // claims, journals and reports for its group
  std::unique_ptr<JournalWriter> journal_ptr;
  err = collective_try(comm, [&] {  // an unwritable journal directory on one node stops all, before work
    if (leader) journal_ptr = std::make_unique<JournalWriter>(journal_dir, rank, prov.journal_identity());
    if (rank == 0) prov.save_file_hashes();  // the journal directory exists now
  });
  if (!err.empty()) throw CollectiveError(err);
  SharedCounters counters(comm, kNumCounters);
  if (rank == 0) counters.fetch_add(kDone, already);
  cleanup.remove = false;  // from here on the journal holds this run's work
  Snapshotter snap{cfg, prov, n_records, static_cast<uint32_t>(model->config().dim), input->carried()};
  if (rank == 0) {
    const KvCacheStats kv = engine.kv_cache_stats();
    std::printf("[sci-infer] %s: %lu records (%lu already done), %d rank(s) = %d data-parallel group(s) x tp %d "
                "(%s reduction); per rank: weights %.1f MiB, KV cache %.1f MiB (%d pages of %d positions), up to %d "
                "sequences per step, %d thread(s)\n",
                cfg.input.c_str(), (unsigned long)n_records, (unsigned long)already, n_ranks, n_ranks / tp, tp,
                reduction_name(eo.reduction), engine.weight_bytes() / 1048576.0, kv.bytes / 1048576.0, kv.pages,
                kv.page_tokens, eo.max_sequences, eo.threads);
    std::fflush(stdout);
  }
  ProgressPrinter progress(n_records, cfg.progress_seconds, rank == 0);

  std::signal(SIGTERM, on_stop_signal);
  std::signal(SIGUSR1, on_stop_signal);
  std::signal(SIGINT, on_stop_signal);

  const size_t target_in_flight = size_t(2 * std::max(1, cfg.engine.max_batch));
  // At least one record per claim, whatever the option says: a claim of 0 would never advance.
  const uint64_t claim_size = uint64_t(std::max(1, cfg.claim_records));
  size_t in_flight = 0;
  bool exhausted = false, stopping = false, failed = false;
  auto last_commit = Clock::now();
  uint64_t my_records = 0, my_tokens = 0;
  auto finish_record = [&](RecordResult&& r) {
    if (!leader) return;  // the group's other ranks computed the same result
    my_tokens += r.tokens.size();
    counters.fetch_add(kTokens, r.tokens.size());
    journal_ptr->append(r);
    if (r.status != 0) counters.fetch_add(kFailed, 1);
    counters.fetch_add(kDone, 1);
    ++my_records;
  };

  // Every exception from here on goes through `failures` (run_failures.hpp): no rank leaves the
  // loop alone, and the job ends with the first failing rank's message and kExitRunFailed.
  RunFailures failures(counters, kRankFailed, rank);
  std::vector<uint64_t> claims;  // record ranges [begin, end) this iteration, decided by the leader
  Watchdog watchdog(cfg.collective_timeout, rank);
  while (true) {
    watchdog.beat("claiming records");
    if (g_stop_signal && !stopping) counters.store_max(kStop, 1);
    claims.clear();
    if (leader) {
      failed = failures.job_failed();
      stopping = stopping || counters.read(kStop) != 0;
      // Keep the engine fed: claim records until enough are in flight.
      size_t planned = in_flight;
      while (!failed && !stopping && !exhausted && planned < target_in_flight) {
        const uint64_t begin = counters.fetch_add(kNextRecord, claim_size);
        if (begin >= n_records) {
          exhausted = true;
          break;
        }
        const uint64_t end = std::min<uint64_t>(n_records, begin + claim_size);
        claims.push_back(begin);
        claims.push_back(end);
        planned += end - begin;
      }
    }
    share_group_decisions(engine.tp_comm(), stopping, exhausted, failed, claims);  // the group acts on its leader's
    if (failed || stopping) break;  // abandon in-flight sequences: they rerun, bit for bit, on resume
    // Every rank of a group reads its claims itself; what it submitted is summed up in a digest
    // that the group compares before the step (a record one rank could not read, and so failed,
    // while the others submitted it would make them step different batches).
    uint64_t submitted = 0;
    std::string record_error;  // this rank's first record that failed this iteration
    failures.attempt("reading and submitting records", [&] {
      for (size_t c = 0; c < claims.size(); c += 2) {
        for (RecordInput& in : input->read(claims[c], claims[c + 1])) {
          if (done[in.index]) continue;
          RecordJob job = make_record_job(in, cfg, *model);
          const uint64_t size = job.runnable ? 1 + job.request.tokens.size() + job.request.n_embedding_rows : 0;
          submitted = (submitted ^ (in.index * 0x9E3779B97F4A7C15ull + size)) * 0x100000001B3ull;
          if (job.runnable) {
            engine.submit(std::move(job.request));
            ++in_flight;
          } else {
            if (record_error.empty()) record_error = job.failure.error;
            finish_record(std::move(job.failure));
          }
        }
      }
    });
    // The group steps together: all of it or none (also catches a failure of the last step).
    // A stop signal that arrived since the top of the loop skips the step: a step can take
    // seconds on a big model or a busy node, and its results would be abandoned anyway.
    if (g_stop_signal) counters.store_max(kStop, 1);
    const GroupState group = agree_in_group(engine.tp_comm(), failures.failed_here(), g_stop_signal != 0, submitted,
                                            !record_error.empty());
    if (group.failed) break;
    if (group.diverged) {  // the ranks whose records failed say why; nobody steps
      if (!record_error.empty() || !group.record_errors)
        failures.fail("the ranks of a tensor-parallel group read different inputs for records " +
                      std::to_string(claims.empty() ? 0 : claims.front()) + ".." +
                      std::to_string(claims.empty() ? 0 : claims.back()) +
                      (record_error.empty() ? std::string() : ": on this rank: " + record_error));
      break;
    }
    if (!engine.idle() && !group.stop) {
      watchdog.beat("a forward step");
      failures.attempt("running a forward step", [&] {
        for (RecordResult& r : engine.step()) {
          --in_flight;
          finish_record(std::move(r));
        }
      });
    }
    // Commits and progress also while no record is runnable (every claimed record invalid).
    if (leader && seconds_since(last_commit) >= cfg.commit_seconds) {
      watchdog.beat("committing results");
      failures.attempt("committing results to the journal", [&] { journal_ptr->commit(); });
      last_commit = Clock::now();
      if (rank == 0) failures.attempt("writing a snapshot of the output", [&] { snap.maybe_write(); });
    }
    if (rank == 0) progress.maybe_print(counters.read(kDone), counters.read(kTokens));
    if (engine.idle() && exhausted) break;
  }
  watchdog.beat("the final commit");
  if (leader) failures.attempt("committing the last results to the journal", [&] { journal_ptr->commit(); });
  watchdog.beat("agreeing on the job's outcome");
  const std::string hint = "; committed results are kept in " + journal_dir + ": fix the cause and rerun with --resume";
  std::string failure = failures.agree(comm);  // every rank is out of the loop and committed
  if (!failure.empty()) {
    engine_ptr.release();  // see the end of this function
    throw CollectiveError(failure + hint, kExitRunFailed);
  }
  const uint64_t done_total = counters.read(kDone);
  const uint64_t tokens_total = counters.read(kTokens);
  uint64_t failed_total = counters.read(kFailed);  // this run's; rank 0 adds earlier runs' below
  const bool complete = done_total >= n_records;
  if (rank == 0) {
    watchdog.beat("the final snapshot");
    // A stop must fit the scheduler's grace period (docs/architecture.md): a snapshot that took
    // longer than kStopSnapshotBudget is left to the resumed job (the journal holds everything).
    if (stopping && snap.last_cost > kStopSnapshotBudget) {
      std::printf("[sci-infer] stopping: final snapshot skipped (the last one took %.1f s); %s holds the results "
                  "committed up to its last snapshot, the journal all of them\n", snap.last_cost, cfg.output.c_str());
    } else {
      failures.attempt("writing the final snapshot of the output", [&] {
        snap.write(true);
        if (complete) std::filesystem::remove_all(journal_dir);
      });
    }
  }
  watchdog.beat("agreeing on the final snapshot");
  failure = failures.agree(comm);
  if (!failure.empty()) {
    engine_ptr.release();
    throw CollectiveError(failure + hint, kExitRunFailed);
  }
  if (rank == 0) {
    const double wall = seconds_since(start);
    std::printf("[sci-infer] %s: %lu/%lu records, %lu generated tokens in %.1f s (%.2f records/s, %.1f tok/s) on %d rank(s)\n",
                complete ? "done" : "stopped", (unsigned long)done_total, (unsigned long)n_records,
                (unsigned long)tokens_total, wall, (done_total - already) / wall, tokens_total / wall, n_ranks);
    std::printf("[sci-infer] results: %s\n", cfg.output.c_str());
    if (!complete) std::printf("[sci-infer] interrupted: rerun with --resume to finish (exit code %d)\n", kExitInterrupted);
    failed_total = snap.failed;  // what the output holds, including records failed before a --resume
    if (complete && failed_total > 0)
      std::fprintf(stderr, "sci-infer: %lu of %lu records failed (status 1 or 2; /results/error says why); the output "
                   "is complete (exit code %d)\n", (unsigned long)failed_total, (unsigned long)n_records,
                   kExitRecordsFailed);
    std::fflush(stdout);
    std::fflush(stderr);
  }
  // Everything is durable and agreed: exit now. Tearing the engine down frees its weights'
  // shared-memory windows one collective MPI_Win_free at a time, which took 1.5-3 s on a busy
  // node (6 ranks of the 15m model on 2 cores) - longer than the rest of a stop; the process
  // exit reclaims the same memory at once.
  engine_ptr.release();
  if (stopping) return kExitInterrupted;
  return failed_total > 0 ? kExitRecordsFailed : kExitOk;
}

}  // namespace

Runner add_run(CLI::App& app) {
  auto cfg = std::make_shared<RunConfig>();
  cfg->add(app);
  CLI::App* sub = &app;
  return [cfg, sub] {
    MpiSession mpi;
    // The effective configuration, every option with its value, as a TOML file would hold it.
    const std::string config_text = sub->config_to_str(true, false);
    return mpi.run_or_abort([&] { return run_job(*cfg, config_text, MPI_COMM_WORLD); });
  };
}

}  // namespace sci_infer::cli
