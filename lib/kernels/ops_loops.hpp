#pragma once
// The loops the kernels run their per-row and per-cell functors in (shared by ops*.cpp).
#include <omp.h>

#include <Kokkos_Core.hpp>
#include <cstdint>
#include <type_traits>

#include "kernels/ops.hpp"

namespace sci_infer {
namespace kernel_loops {

// Debian's Kokkos has only the Serial backend, which would run these kernels on one core of the
// rank. On Serial, the row-parallel kernels and attention fan out over the rank's OpenMP
// threads instead, running the same functor for each index, each index wholly on one thread
// (so the bits never depend on the thread count). Parallel backends use Kokkos as they are.
inline bool host_fan_out() {
#if defined(KOKKOS_ENABLE_SERIAL)
  return std::is_same<Kokkos::DefaultExecutionSpace, Kokkos::Serial>::value && kernel_threads() > 1;
#else
  return false;
#endif
}

// f(t) for every row t < n.
template <class F>
inline void for_each_row(const char* name, int32_t n, const F& f) {
  if (host_fan_out()) {
#pragma omp parallel for schedule(static) num_threads(kernel_threads()) if (n > 1)
    for (int32_t t = 0; t < n; ++t) f(t);
    return;
  }
  Kokkos::parallel_for(name, Kokkos::RangePolicy<>(0, n), f);
}

// f(t, j) for every cell of rows x cols: one fine-grained index space on parallel backends; on
// the Serial fan-out, whole rows per thread.
template <class F>
inline void for_each_cell(const char* name, int32_t rows, int32_t cols, const F& f) {
  if (rows == 0 || cols == 0) return;
  if (host_fan_out()) {
#pragma omp parallel for schedule(static) num_threads(kernel_threads()) if (rows > 1)
    for (int32_t t = 0; t < rows; ++t)
      for (int32_t j = 0; j < cols; ++j) f(t, j);
    return;
  }
  Kokkos::parallel_for(name, Kokkos::MDRangePolicy<Kokkos::Rank<2>>({0, 0}, {rows, cols}), f);
}

}  // namespace kernel_loops
}  // namespace sci_infer
