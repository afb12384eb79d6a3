#include "parallel/node_shared_memory.hpp"

#include <cstdint>
#include <string>

#include "sci_infer/error.hpp"

namespace sci_infer {

NodeSharedMemory::NodeSharedMemory(MPI_Comm comm, int slice) {
  int rank = 0;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm node = MPI_COMM_NULL;
  MPI_Comm_split_type(comm, MPI_COMM_TYPE_SHARED, rank, MPI_INFO_NULL, &node);
  MPI_Comm_split(node, slice, rank, &replicas_);
  MPI_Comm_free(&node);
  MPI_Comm_rank(replicas_, &rank_);
  MPI_Comm_size(replicas_, &size_);
}

NodeSharedMemory::~NodeSharedMemory() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (finalized) return;
  for (MPI_Win& w : windows_) {
    MPI_Win_unlock_all(w);
    MPI_Win_free(&w);
  }
  MPI_Comm_free(&replicas_);
}

uint8_t* NodeSharedMemory::allocate(size_t bytes, bool* fill) {
  if (size_ == 1) {  // nobody to share with: plain memory, 64-byte aligned
    private_.emplace_back(bytes + 64);
    auto p = reinterpret_cast<uintptr_t>(private_.back().data());
    *fill = true;
    return reinterpret_cast<uint8_t*>((p + 63) / 64 * 64);
  }
  // The window's memory lives on the filling rank (rank 0 of the sharers); the others ask for
  // zero bytes and query its address in their own mapping.
  const MPI_Aint mine = rank_ == 0 ? MPI_Aint(bytes + 64) : 0;
  void* base = nullptr;
  MPI_Win win;
  const int rc = MPI_Win_allocate_shared(mine, 1, MPI_INFO_NULL, replicas_, &base, &win);
  if (rc != MPI_SUCCESS) throw Error("cannot allocate " + std::to_string(bytes) + " bytes of node-shared weight memory");
  windows_.push_back(win);
  MPI_Win_lock_all(MPI_MODE_NOCHECK, win);  // one passive epoch for the window's life
  MPI_Aint size = 0;
  int disp = 0;
  MPI_Win_shared_query(win, 0, &size, &disp, &base);
  // Mappings are page-aligned in every process, so rounding up gives the same offset everywhere.
  auto p = reinterpret_cast<uintptr_t>(base);
  *fill = rank_ == 0;
  return reinterpret_cast<uint8_t*>((p + 63) / 64 * 64);
}

void NodeSharedMemory::publish() {
  if (size_ == 1) return;
  for (MPI_Win& w : windows_) MPI_Win_sync(w);  // rank 0's stores, then everyone's view
  MPI_Barrier(replicas_);
  for (MPI_Win& w : windows_) MPI_Win_sync(w);
}

}  // namespace sci_infer
