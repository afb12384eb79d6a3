#pragma once
// The simulation of the in-situ example: explicit 2-D heat equation on an nx x ny grid whose rows
// are split across the ranks of a communicator (one halo row above and below), fixed zero
// boundaries, and a hot spot held at 1. Nothing here knows about inference.
#include <mpi.h>

#include <algorithm>
#include <vector>

class HeatField {
 public:
  HeatField(MPI_Comm comm, int nx, int ny_local) : comm_(comm), nx_(nx), ny_(ny_local) {
    MPI_Comm_rank(comm, &rank_);
    MPI_Comm_size(comm, &size_);
    u_.assign(size_t(nx_) * (ny_ + 2), 0.0);
    next_ = u_;
  }

  // One explicit step (alpha = D dt / dx^2 = 0.2 < 0.25: stable).
  void step() {
    exchange_halos();
    constexpr double alpha = 0.2;
    for (int j = 1; j <= ny_; ++j)
      for (int i = 0; i < nx_; ++i) {
        const double left = i > 0 ? at(i - 1, j) : 0.0, right = i + 1 < nx_ ? at(i + 1, j) : 0.0;
        next_[idx(i, j)] = at(i, j) + alpha * (left + right + at(i, j - 1) + at(i, j + 1) - 4.0 * at(i, j));
      }
    std::swap(u_, next_);
    hold_hot_spot();
  }

  // A coarse view for the model: `bands` rows of `width` values, row b holding the means of
  // `width` column blocks of band b of this rank's rows (zero where a block is empty, i.e. when
  // the grid is narrower than `width`). Row-major, bands x width.
  std::vector<float> coarse_view(int bands, int width) const {
    std::vector<float> out(size_t(bands) * width, 0.0f);
    for (int b = 0; b < bands; ++b) {
      const int j0 = 1 + b * ny_ / bands, j1 = 1 + (b + 1) * ny_ / bands;
      for (int c = 0; c < width; ++c) {
        const int i0 = c * nx_ / width, i1 = (c + 1) * nx_ / width;
        double sum = 0.0;
        for (int j = j0; j < j1; ++j)
          for (int i = i0; i < i1; ++i) sum += at(i, j);
        const long n = long(j1 - j0) * (i1 - i0);
        out[size_t(b) * width + c] = n > 0 ? float(sum / double(n)) : 0.0f;
      }
    }
    return out;
  }

  double mean() const {  // collective
    double local = 0.0, global = 0.0;
    for (int j = 1; j <= ny_; ++j)
      for (int i = 0; i < nx_; ++i) local += at(i, j);
    MPI_Allreduce(&local, &global, 1, MPI_DOUBLE, MPI_SUM, comm_);
    return global / (double(nx_) * ny_ * size_);
  }

 private:
  MPI_Comm comm_;
  int rank_ = 0, size_ = 1, nx_, ny_;
  std::vector<double> u_, next_;

  size_t idx(int i, int j) const { return size_t(j) * nx_ + i; }
  double at(int i, int j) const { return u_[idx(i, j)]; }

  void exchange_halos() {
    const int up = rank_ > 0 ? rank_ - 1 : MPI_PROC_NULL, down = rank_ + 1 < size_ ? rank_ + 1 : MPI_PROC_NULL;
    MPI_Sendrecv(&u_[idx(0, 1)], nx_, MPI_DOUBLE, up, 0, &u_[idx(0, ny_ + 1)], nx_, MPI_DOUBLE, down, 0, comm_,
                 MPI_STATUS_IGNORE);
    MPI_Sendrecv(&u_[idx(0, ny_)], nx_, MPI_DOUBLE, down, 1, &u_[idx(0, 0)], nx_, MPI_DOUBLE, up, 1, comm_,
                 MPI_STATUS_IGNORE);
  }

  // A hot spot on rank 0 near the top-left (a heater switched on at t = 0).
  void hold_hot_spot() {
    if (rank_ != 0) return;
    for (int j = 1 + ny_ / 4; j <= std::min(ny_, ny_ / 4 + ny_ / 8 + 1); ++j)
      for (int i = nx_ / 4; i < nx_ / 4 + nx_ / 8; ++i) u_[idx(i, j)] = 1.0;
  }
};
