// Collective error agreement (first_failure.hpp): one MPI_Allreduce when nothing failed, plus two
// broadcasts of the failing rank's code and message when something did.
#include "parallel/first_failure.hpp"

#include <chrono>
#include <climits>
#include <thread>

namespace sci_infer {

void wait_yielding_cpu(MPI_Request& request) {
  int done = 0;
  for (int spin = 0; !done; ++spin) {
    MPI_Test(&request, &done, MPI_STATUS_IGNORE);
    if (!done && spin >= 100) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

RankFailure first_failure(MPI_Comm comm, int code, const std::string& message, bool yield_cpu) {
  int rank = 0, size = 1;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);
  const int mine = code != 0 ? rank : INT_MAX;
  int first = INT_MAX;
  if (yield_cpu) {
    MPI_Request request;
    MPI_Iallreduce(&mine, &first, 1, MPI_INT, MPI_MIN, comm, &request);
    wait_yielding_cpu(request);
  } else {
    MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, comm);
  }
  RankFailure f;
  if (first == INT_MAX) return f;

  int head[2] = {code, static_cast<int>(message.size())};
  MPI_Bcast(head, 2, MPI_INT, first, comm);
  std::string text = rank == first ? message : std::string(static_cast<size_t>(head[1]), '\0');
  if (head[1] > 0) MPI_Bcast(text.data(), head[1], MPI_CHAR, first, comm);
  f.code = head[0];
  f.rank = first;
  f.message = size > 1 ? "rank " + std::to_string(first) + " of " + std::to_string(size) + ": " + text : text;
  return f;
}

}  // namespace sci_infer
