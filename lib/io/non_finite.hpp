#pragma once
// One scan for NaN/Inf, shared by the input reader (embedding rows) and the engine (logits,
// hidden states, log-probabilities): non-finite values never pass as inputs or results.
#include <cmath>
#include <cstddef>

namespace sci_infer {

// Index of the first NaN or Inf in p[0, n), or n if there is none.
inline size_t first_non_finite(const float* p, size_t n) {
  for (size_t k = 0; k < n; ++k)
    if (!std::isfinite(p[k])) return k;
  return n;
}

}  // namespace sci_infer
