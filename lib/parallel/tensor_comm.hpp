#pragma once
// The communication of one tensor-parallel group: combining row-parallel partial sums,
// gathering column-parallel outputs (logits over the vocabulary), and sharing the embedding
// rows each rank looked up. Host buffers; every rank of the group calls each method with the
// same shapes, in the same order.
//
// Deterministic mode (default) reproduces the single-rank tree of K-chunk sums exactly:
//   1. all-to-all: rank j receives every rank's partial for its block of output columns;
//   2. each rank sums the tp partials of its block in the fixed pairwise-tree order;
//   3. all-gather of the summed blocks.
// That moves the same bytes as a ring all-reduce, 2 (tp-1)/tp of the output per rank.
// Fast mode is one MPI_Allreduce(SUM): its order (and so its bits) is the MPI library's.
#include <mpi.h>

#include <cstdint>
#include <string>
#include <vector>

#include "sci_infer/backend.hpp"

namespace sci_infer {

class TensorComm {
 public:
  TensorComm() = default;  // a group of one: every call is a no-op or a copy
  TensorComm(MPI_Comm comm, Reduction reduction);
  int size() const { return size_; }
  int rank() const { return rank_; }
  MPI_Comm comm() const { return comm_; }
  Reduction reduction() const { return reduction_; }

  // y[rows][cols] (row stride ld) holds this rank's partial sum; afterwards every rank holds
  // the total.
  void sum_partials(float* y, int64_t rows, int64_t cols, int64_t ld);
  // Rank r's local[rows][col_counts[r]] (dense) becomes columns [sum of earlier counts, +count)
  // of full[rows][ld] on every rank.
  void gather_columns(const float* local, int64_t rows, const std::vector<int32_t>& col_counts, float* full,
                      int64_t ld);
  // Row i of x[rows][cols] is valid on rank owner[i] (or on every rank where owner[i] < 0);
  // afterwards it is valid on every rank.
  void share_rows(float* x, int64_t rows, int64_t cols, int64_t ld, const std::vector<int>& owner);

  // Payload bytes this rank received since construction (the figure a bandwidth model needs).
  uint64_t bytes_received() const { return bytes_received_; }

 private:
  MPI_Comm comm_ = MPI_COMM_NULL;
  int size_ = 1, rank_ = 0;
  Reduction reduction_ = Reduction::Deterministic;
  uint64_t bytes_received_ = 0;
  std::vector<float> send_, recv_;
  std::vector<int> counts_, displs_, rcounts_, rdispls_;
};

}  // namespace sci_infer
