#pragma once
// MPI_Bcast of any number of bytes: MPI-3 counts are `int`, so a buffer of 2^31 bytes or more
// (the launcher's per-record "done" flags of a job with more than 2^31-1 records) would overflow
// the count. The buffer goes in pieces of at most `max_chunk` bytes instead.
#include <mpi.h>

#include <climits>
#include <cstdint>
#include <utility>
#include <vector>

namespace sci_infer {

// [offset, size) pieces covering `total` bytes, each at most `max_chunk` (>= 1) bytes.
std::vector<std::pair<uint64_t, int>> bcast_pieces(uint64_t total, int max_chunk);

// Collective over `comm`: every rank passes the same `bytes` and `max_chunk`.
void bcast_bytes(void* data, uint64_t bytes, int root, MPI_Comm comm, int max_chunk = INT_MAX);

}  // namespace sci_infer
