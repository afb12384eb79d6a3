#pragma once
// One copy of the packed weights per node instead of one per rank: the ranks of a node that
// hold the same weight slices (the same tensor-parallel rank in different data-parallel groups)
// allocate them in MPI shared-memory windows; the lowest of them packs, the others map the
// same pages. With 4 data-parallel ranks on a node, the weights take 1/4 of the memory.
#include <mpi.h>

#include <vector>

#include "kernels/linear.hpp"

namespace sci_infer {

class NodeSharedMemory final : public WeightArena {
 public:
  // Collective over `comm`: groups its ranks by node and by `slice` (ranks with equal slice
  // hold equal weights). Sharing is off (every allocation private) when a group has one rank.
  NodeSharedMemory(MPI_Comm comm, int slice);
  ~NodeSharedMemory() override;  // frees the windows (collective; skipped after MPI_Finalize)
  NodeSharedMemory(const NodeSharedMemory&) = delete;
  NodeSharedMemory& operator=(const NodeSharedMemory&) = delete;

  uint8_t* allocate(size_t bytes, bool* fill) override;
  bool shared() const override { return size_ > 1; }
  // Collective: after it, what the filling rank wrote is visible to every sharer.
  void publish();
  int sharers() const { return size_; }

 private:
  MPI_Comm replicas_ = MPI_COMM_NULL;
  int rank_ = 0, size_ = 1;
  std::vector<MPI_Win> windows_;
  std::vector<std::vector<uint8_t>> private_;  // when nobody shares
};

}  // namespace sci_infer
