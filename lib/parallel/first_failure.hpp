#pragma once
// Collective error agreement: after each rank tried something locally (open a model, build an
// engine), every rank learns whether any rank failed and gets the same code and message. So a
// failure on one node (a file missing from its local disk) is reported everywhere instead of
// leaving the other ranks waiting in the caller's next collective.
#include <mpi.h>

#include <string>

namespace sci_infer {

struct RankFailure {
  int code = 0;          // 0: no rank failed
  int rank = -1;         // lowest failing rank of the communicator
  std::string message;   // that rank's message, prefixed "rank r of n: " when n > 1
};

// Collective over `comm` (an intracommunicator). `code` is 0 on success, non-zero on failure.
// `yield_cpu`: wait for the slowest rank with MPI_Test and short sleeps instead of MPI's busy
// polling, so that ranks that are done do not steal the cores of those still finishing (a
// loaded or oversubscribed node; the launcher's final agreements, where ranks arrive seconds
// apart).
RankFailure first_failure(MPI_Comm comm, int code, const std::string& message, bool yield_cpu = false);

// Completes `request` like MPI_Wait, sleeping ~1 ms between MPI_Test calls once a short spin
// has not finished it.
void wait_yielding_cpu(MPI_Request& request);

}  // namespace sci_infer
