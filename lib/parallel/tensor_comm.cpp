#include "parallel/tensor_comm.hpp"

#include <cstring>
#include <string>

#include "kernels/linear.hpp"
#include "sci_infer/error.hpp"

namespace sci_infer {
namespace {

void check_mpi(int rc, const char* what) {
  if (rc != MPI_SUCCESS) {
    char msg[MPI_MAX_ERROR_STRING];
    int len = 0;
    MPI_Error_string(rc, msg, &len);
    throw Error(std::string("tensor parallel ") + what + " failed: " + std::string(msg, len));
  }
}

// Columns [first, first + count) of block b when `cols` columns are split `parts` ways.
void block_range(int64_t cols, int parts, int b, int64_t& first, int64_t& count) {
  const int64_t base = cols / parts, extra = cols % parts;
  first = b * base + std::min<int64_t>(b, extra);
  count = base + (b < extra ? 1 : 0);
}

}  // namespace

TensorComm::TensorComm(MPI_Comm comm, Reduction reduction) : comm_(comm), reduction_(reduction) {
  MPI_Comm_size(comm, &size_);
  MPI_Comm_rank(comm, &rank_);
  counts_.resize(size_);
  displs_.resize(size_);
  rcounts_.resize(size_);
  rdispls_.resize(size_);
}

void TensorComm::sum_partials(float* y, int64_t rows, int64_t cols, int64_t ld) {
  if (size_ == 1 || rows == 0) return;
  if (reduction_ == Reduction::Fast) {
    if (ld == cols) {
      check_mpi(MPI_Allreduce(MPI_IN_PLACE, y, int(rows * cols), MPI_FLOAT, MPI_SUM, comm_), "all-reduce");
    } else {
      send_.resize(rows * cols);
      for (int64_t i = 0; i < rows; ++i) std::memcpy(&send_[i * cols], y + i * ld, cols * sizeof(float));
      check_mpi(MPI_Allreduce(MPI_IN_PLACE, send_.data(), int(rows * cols), MPI_FLOAT, MPI_SUM, comm_), "all-reduce");
      for (int64_t i = 0; i < rows; ++i) std::memcpy(y + i * ld, &send_[i * cols], cols * sizeof(float));
    }
    // Lower bound of any all-reduce algorithm (ring): 2 (tp-1)/tp of the data per rank.
    bytes_received_ += uint64_t(2 * (size_ - 1) * rows * cols * sizeof(float) / size_);
    return;
  }
  // 1. all-to-all by column block: send_ = [dest][rows][block(dest)].
  int64_t my0 = 0, mine = 0;
  block_range(cols, size_, rank_, my0, mine);
  send_.resize(rows * cols);
  int64_t off = 0;
  for (int b = 0; b < size_; ++b) {
    int64_t c0, n;
    block_range(cols, size_, b, c0, n);
    counts_[b] = int(rows * n);
    displs_[b] = int(off);
    for (int64_t i = 0; i < rows; ++i, off += n) std::memcpy(&send_[off], y + i * ld + c0, n * sizeof(float));
    rcounts_[b] = int(rows * mine);
    rdispls_[b] = int(b * rows * mine);
  }
  recv_.resize(size_ * rows * mine + rows * cols);
  check_mpi(MPI_Alltoallv(send_.data(), counts_.data(), displs_.data(), MPI_FLOAT, recv_.data(), rcounts_.data(),
                          rdispls_.data(), MPI_FLOAT, comm_),
            "all-to-all");
  // 2. the upper levels of the reduction tree: rank order is chunk order.
  float* mine_sum = send_.data();  // reuse: rows x mine
  for (int64_t e = 0; e < rows * mine; ++e) mine_sum[e] = tree_sum(&recv_[e], size_, rows * mine);
  // 3. all-gather of the summed blocks into recv_ = [block][rows][n].
  for (int b = 0; b < size_; ++b) {
    int64_t c0, n;
    block_range(cols, size_, b, c0, n);
    rcounts_[b] = int(rows * n);
    rdispls_[b] = int(rows * c0);
  }
  float* gathered = recv_.data() + size_ * rows * mine;
  check_mpi(MPI_Allgatherv(mine_sum, int(rows * mine), MPI_FLOAT, gathered, rcounts_.data(), rdispls_.data(),
                           MPI_FLOAT, comm_),
            "all-gather");
  for (int b = 0; b < size_; ++b) {
    int64_t c0, n;
    block_range(cols, size_, b, c0, n);
    for (int64_t i = 0; i < rows; ++i) std::memcpy(y + i * ld + c0, gathered + rows * c0 + i * n, n * sizeof(float));
  }
  bytes_received_ += uint64_t((size_ - 1) * rows * mine + rows * (cols - mine)) * sizeof(float);
}

void TensorComm::gather_columns(const float* local, int64_t rows, const std::vector<int32_t>& col_counts,
                                float* full, int64_t ld) {
  if (size_ == 1) {
    for (int64_t i = 0; i < rows; ++i) std::memcpy(full + i * ld, local + i * col_counts[0], col_counts[0] * sizeof(float));
    return;
  }
  int64_t total = 0;
  for (int r = 0; r < size_; ++r) {
    rcounts_[r] = int(rows * col_counts[r]);
    rdispls_[r] = int(rows * total);
    total += col_counts[r];
  }
  recv_.resize(rows * total);
  check_mpi(MPI_Allgatherv(local, rcounts_[rank_], MPI_FLOAT, recv_.data(), rcounts_.data(), rdispls_.data(),
                           MPI_FLOAT, comm_),
            "all-gather");
  bytes_received_ += uint64_t(rows * (total - col_counts[rank_])) * sizeof(float);
  int64_t c0 = 0;
  for (int r = 0; r < size_; ++r) {
    const int64_t n = col_counts[r];
    for (int64_t i = 0; i < rows; ++i) std::memcpy(full + i * ld + c0, &recv_[rows * c0 + i * n], n * sizeof(float));
    c0 += n;
  }
}

void TensorComm::share_rows(float* x, int64_t rows, int64_t cols, int64_t ld, const std::vector<int>& owner) {
  if (size_ == 1 || rows == 0) return;
  // Each rank sends the rows it owns, in row order; the receivers know the owners, so they
  // know where each received row goes.
  std::fill(rcounts_.begin(), rcounts_.end(), 0);
  for (int64_t i = 0; i < rows; ++i)
    if (owner[i] >= 0) rcounts_[owner[i]] += int(cols);
  int64_t total = 0;
  for (int r = 0; r < size_; ++r) {
    rdispls_[r] = int(total);
    total += rcounts_[r];
  }
  send_.resize(rcounts_[rank_] + 1);
  int64_t off = 0;
  for (int64_t i = 0; i < rows; ++i)
    if (owner[i] == rank_) {
      std::memcpy(&send_[off], x + i * ld, cols * sizeof(float));
      off += cols;
    }
  recv_.resize(total + 1);
  check_mpi(MPI_Allgatherv(send_.data(), rcounts_[rank_], MPI_FLOAT, recv_.data(), rcounts_.data(), rdispls_.data(),
                           MPI_FLOAT, comm_),
            "all-gather of embedding rows");
  bytes_received_ += uint64_t(total - rcounts_[rank_]) * sizeof(float);
  std::vector<int64_t> next(rdispls_.begin(), rdispls_.end());
  for (int64_t i = 0; i < rows; ++i) {
    const int r = owner[i];
    if (r < 0) continue;
    if (r != rank_) std::memcpy(x + i * ld, &recv_[next[r]], cols * sizeof(float));
    next[r] += cols;
  }
}

}  // namespace sci_infer
