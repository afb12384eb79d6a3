#pragma once
// The run loop's failure protocol (docs/architecture.md, "Failures"). Any exception on any rank
// while the job runs (a journal write or fsync, a snapshot, an input read, the engine, bad_alloc)
// becomes a job-wide decision instead of leaving the other ranks waiting in a collective that the
// failed rank will skip:
//   1. attempt() catches it, keeps the first message of this rank (with what it was doing), and
//      publishes a flag through a one-sided counter on rank 0 (no collective);
//   2. every group leader reads that flag each iteration, as it reads the stop flag, and its
//      group leaves the loop with it (share_group_decisions), so nobody enters a collective a
//      failed peer will not;
//   3. all ranks meet in agree() (first_failure), which hands every rank the lowest failing
//      rank's real message; the job then ends with kExitRunFailed on every rank.
// A rank other than 0 also prints its message at once: should a peer hang inside an engine step
// (the only collective the protocol cannot reach), the cause is on stderr before --collective-
// timeout ends the job.
#include <mpi.h>

#include <functional>
#include <string>

#include "parallel/shared_counters.hpp"

namespace sci_infer::cli {

class RunFailures {
 public:
  RunFailures(SharedCounters& counters, int flag_counter, int rank);

  // Runs `fn` unless this rank has already failed; an exception from it becomes this rank's
  // failure ("<message> (while <doing>)"). Returns false if this rank has failed (now or before).
  bool attempt(const char* doing, const std::function<void()>& fn);
  void fail(std::string message);  // this rank fails now (a failure found without an exception)
  bool failed_here() const { return !message_.empty(); }
  bool job_failed();  // this rank or any other has published a failure (one-sided read of rank 0)

  // Collective over `comm`: "" if no rank failed, else the lowest failing rank's message.
  std::string agree(MPI_Comm comm) const;

 private:
  SharedCounters& counters_;
  int counter_, rank_;
  std::string message_;
};

}  // namespace sci_infer::cli
