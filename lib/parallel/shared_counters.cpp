#include "parallel/shared_counters.hpp"

#include "sci_infer/error.hpp"

namespace sci_infer {

SharedCounters::SharedCounters(MPI_Comm comm, int n_counters) {
  int rank = 0;
  MPI_Comm_rank(comm, &rank);
  const MPI_Aint bytes = rank == 0 ? MPI_Aint(n_counters) * sizeof(uint64_t) : 0;
  if (MPI_Win_allocate(bytes, sizeof(uint64_t), MPI_INFO_NULL, comm, &base_, &win_) != MPI_SUCCESS)
    throw Error("MPI_Win_allocate failed for the shared work counters");
  if (rank == 0)
    for (int i = 0; i < n_counters; ++i) base_[i] = 0;
  MPI_Barrier(comm);  // counters are zero before anyone touches them
  MPI_Win_lock_all(MPI_MODE_NOCHECK, win_);
}

SharedCounters::~SharedCounters() {
  if (win_ != MPI_WIN_NULL) {
    MPI_Win_unlock_all(win_);
    MPI_Win_free(&win_);
  }
}

uint64_t SharedCounters::fetch_add(int counter, uint64_t value) {
  uint64_t old = 0;
  MPI_Fetch_and_op(&value, &old, MPI_UINT64_T, 0, counter, MPI_SUM, win_);
  MPI_Win_flush(0, win_);
  return old;
}

uint64_t SharedCounters::read(int counter) {
  uint64_t dummy = 0, value = 0;
  MPI_Fetch_and_op(&dummy, &value, MPI_UINT64_T, 0, counter, MPI_NO_OP, win_);
  MPI_Win_flush(0, win_);
  return value;
}

void SharedCounters::store_max(int counter, uint64_t value) {
  uint64_t old = 0;
  MPI_Fetch_and_op(&value, &old, MPI_UINT64_T, 0, counter, MPI_MAX, win_);
  MPI_Win_flush(0, win_);
}

}  // namespace sci_infer
