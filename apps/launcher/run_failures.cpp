#include "run_failures.hpp"

#include <cstdio>
#include <new>

#include "parallel/first_failure.hpp"

namespace sci_infer::cli {

RunFailures::RunFailures(SharedCounters& counters, int flag_counter, int rank)
    : counters_(counters), counter_(flag_counter), rank_(rank) {}

bool RunFailures::attempt(const char* doing, const std::function<void()>& fn) {
  if (failed_here()) return false;
  try {
    fn();
    return true;
  } catch (const std::bad_alloc&) {
    fail(std::string("out of memory (std::bad_alloc) while ") + doing);
  } catch (const std::exception& e) {
    fail(std::string(*e.what() ? e.what() : "unknown error") + " (while " + doing + ")");
  } catch (...) {
    fail(std::string("unknown exception while ") + doing);
  }
  return false;
}

void RunFailures::fail(std::string message) {
  if (failed_here()) return;  // the first failure is the cause
  // One line per message (HDF5's error records carry a ctime() newline): logs stay greppable.
  for (char& c : message)
    if (c == '\n') c = ' ';
  message_ = std::move(message);
  counters_.store_max(counter_, 1);  // flushed: every leader sees it at its next iteration
  if (rank_ != 0) {
    std::fprintf(stderr, "sci-infer: rank %d failed, stopping the job: %s\n", rank_, message_.c_str());
    std::fflush(stderr);
  }
}

bool RunFailures::job_failed() { return failed_here() || counters_.read(counter_) != 0; }

std::string RunFailures::agree(MPI_Comm comm) const {
  // Ranks arrive seconds apart (one finishing its last step, rank 0 writing the snapshot): the
  // early ones sleep instead of spinning, so they do not slow the late ones on a busy node.
  const RankFailure f = first_failure(comm, failed_here() ? 1 : 0, message_, /*yield_cpu=*/true);
  return f.code == 0 ? "" : f.message;
}

}  // namespace sci_infer::cli
