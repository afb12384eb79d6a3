#include "parallel/node_threads.hpp"

#include <omp.h>

#include <algorithm>
#include <cstdlib>

namespace sci_infer {

int threads_per_rank(int requested, MPI_Comm comm) {
  if (requested > 0) return requested;
  for (const char* var : {"SCI_INFER_THREADS", "OMP_NUM_THREADS"})
    if (const char* v = std::getenv(var))
      if (std::atoi(v) > 0) return std::atoi(v);
  MPI_Comm node;
  MPI_Comm_split_type(comm, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node);
  int local = 1;
  MPI_Comm_size(node, &local);
  MPI_Comm_free(&node);
  return std::max(1, std::max(1, omp_get_num_procs()) / local);
}

}  // namespace sci_infer
