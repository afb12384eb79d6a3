#include "parallel/large_bcast.hpp"

#include <algorithm>

#include "sci_infer/error.hpp"

namespace sci_infer {

std::vector<std::pair<uint64_t, int>> bcast_pieces(uint64_t total, int max_chunk) {
  if (max_chunk < 1) throw Error("bcast_pieces: the chunk size must be >= 1");
  std::vector<std::pair<uint64_t, int>> pieces;
  for (uint64_t at = 0; at < total; at += uint64_t(max_chunk))
    pieces.emplace_back(at, static_cast<int>(std::min<uint64_t>(uint64_t(max_chunk), total - at)));
  return pieces;
}

void bcast_bytes(void* data, uint64_t bytes, int root, MPI_Comm comm, int max_chunk) {
  char* p = static_cast<char*>(data);
  for (const auto& [offset, count] : bcast_pieces(bytes, max_chunk))
    MPI_Bcast(p + offset, count, MPI_BYTE, root, comm);
}

}  // namespace sci_infer
