#pragma once
// A few 64-bit counters that live on rank 0 of a communicator and that every rank updates with
// one-sided atomics (MPI_Fetch_and_op): dynamic work claiming without a coordinator loop, so
// rank 0 computes like every other rank.
#include <mpi.h>

#include <cstdint>

namespace sci_infer {

class SharedCounters {
 public:
  SharedCounters(MPI_Comm comm, int n_counters);  // collective
  ~SharedCounters();                               // collective (MPI_Win_free)
  SharedCounters(const SharedCounters&) = delete;
  SharedCounters& operator=(const SharedCounters&) = delete;

  uint64_t fetch_add(int counter, uint64_t value);  // atomic; returns the previous value
  uint64_t read(int counter);                        // atomic read
  void store_max(int counter, uint64_t value);       // atomic max

 private:
  MPI_Win win_ = MPI_WIN_NULL;
  uint64_t* base_ = nullptr;
};

}  // namespace sci_infer
