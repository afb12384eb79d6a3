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
RankFailure first_failure(MPI_Comm comm, int code, const std::string& message);

}  // namespace sci_infer
