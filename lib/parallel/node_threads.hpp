#pragma once
// Default thread count of a rank: the node's cores divided among the ranks of `comm` that share
// the node, so that co-located ranks never oversubscribe the cores by default (spinning OpenMP
// threads of two ranks on the same core slow both down by orders of magnitude).
#include <mpi.h>

namespace sci_infer {

// `requested` > 0 wins; then SCI_INFER_THREADS, then OMP_NUM_THREADS; then cores / local ranks.
int threads_per_rank(int requested, MPI_Comm comm);

}  // namespace sci_infer
