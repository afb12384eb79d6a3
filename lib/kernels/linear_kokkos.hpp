#pragma once
// Knobs of the Kokkos tiled GEMM (linear_kokkos.cpp) that tests turn to show that they never
// change a bit: the team size and the tile shape. The engine always uses the defaults.
#include <memory>

#include "kernels/linear.hpp"

namespace sci_infer {

struct KokkosGemmConfig {
  enum class Tiles { Auto, Big, Small };
  int team_size = 0;  // 0: 256 threads on a device backend, 1 on host backends
  Tiles tiles = Tiles::Auto;
};

std::unique_ptr<Linear> make_linear_kokkos(const WeightView* parts, int n_parts, int k_chunks,
                                           const KokkosGemmConfig& cfg);

// The largest team the backend allows for these kernels (1 on Serial).
int kokkos_gemm_team_size_max();

}  // namespace sci_infer
