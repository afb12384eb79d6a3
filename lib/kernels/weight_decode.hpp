#pragma once
// Dequantizes a (possibly fused) weight into a dense row-major F32 [N][K] buffer: used by the
// backends that compute in F32 on a widened copy (portable Kokkos, oneDNN, cuBLAS).
#include <vector>

#include "kernels/linear.hpp"

namespace sci_infer {

inline std::vector<float> decode_weight_parts(const WeightView* parts, int n_parts, int64_t& n_out,
                                              int64_t& n_in) {
  n_in = parts[0].n_in;
  n_out = 0;
  for (int p = 0; p < n_parts; ++p) n_out += parts[p].n_out;
  std::vector<float> w(static_cast<size_t>(n_out) * n_in);
  int64_t row = 0;
  for (int p = 0; p < n_parts; ++p) {
    for (int64_t r = 0; r < parts[p].n_out; ++r, ++row)
      decode_row(parts[p].type, parts[p].row(r), w.data() + row * n_in, n_in);
  }
  return w;
}

}  // namespace sci_infer
