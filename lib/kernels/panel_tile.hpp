#pragma once
// Pieces shared by the portable panel GEMM loops (linear_fixed_order.cpp, linear_q8_int8.cpp,
// linear_kokkos.cpp; the per-ISA files cpu_*.cpp keep their own register-form copies, see
// cpu_gemm_kernels.hpp): storing a tile of a 32-output panel, and the K-chunk tree of linear.hpp
// built incrementally. After chunk c (0-based) ends with partial `acc`, chunk_tree_push merges
// equal-sized subtrees like the carries of a binary counter, so after the last chunk `acc` is
// ((c0+c1)+(c2+c3))+... without storing all C partials (stack: 7 levels, C <= 64).
#include <Kokkos_Core.hpp>
#include <algorithm>
#include <cstdint>
#include <cstring>

#include "kernels/cpu_gemm_kernels.hpp"  // kPanel

namespace sci_infer {

KOKKOS_INLINE_FUNCTION void chunk_tree_push(float* stack, int c, float& acc) {
  int level = 0;
  for (; (c >> level) & 1; ++level) acc = stack[level] + acc;
  stack[level] = acc;
}

// acc[rows][kPanel] -> columns [panel * 32, +32) of y (clipped to n_out).
inline void store_panel_rows(const float* acc, int rows, int64_t panel, int64_t n_out, float* y, int64_t ldy) {
  const int64_t c0 = panel * kPanel;
  const int cols = static_cast<int>(std::min<int64_t>(kPanel, n_out - c0));
  for (int i = 0; i < rows; ++i) std::memcpy(y + i * ldy + c0, acc + i * kPanel, cols * sizeof(float));
}

}  // namespace sci_infer
