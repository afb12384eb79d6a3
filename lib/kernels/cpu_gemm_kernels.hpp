#pragma once
// The interface between the panel GEMMs (linear_fixed_order.cpp, linear_q8_int8.cpp) and their
// per-instruction-set bodies (cpu_avx2.cpp, cpu_avx512.cpp, cpu_avx512_vnni.cpp), which are
// compiled with -mavx2 / -mavx512f / -mavx512vnni while the rest of the library is built for the
// baseline target; cpu_kernel_path.cpp picks the bodies this CPU can run, once, at load.
//
// This header declares plain data and functions only. A per-ISA file must not include headers
// that define inline functions or templates used elsewhere too (Kokkos, panel_tile.hpp, ...):
// the linker keeps one copy of such a function, and if it kept the AVX-512 one, the generic
// path would execute AVX-512 instructions on a CPU without them.
//
// The contract of every body (what makes the paths give the same bits): for each output,
//   F32/F16/BF16: acc = fma(x[k], w[k], acc) for k in order, from +0.0f, on the exactly widened w;
//   Q8_0:         acc = fma(float(isum_b), d_w,b * d_x,b, acc) for blocks b in order, isum_b the
//                 exact int32 block dot product;
// with k_chunks > 1 one such chain per K-chunk, merged by the pairwise tree of linear.hpp in the
// binary-counter order of panel_tile.hpp's chunk_tree_push.
#include <cstddef>
#include <cstdint>

namespace sci_infer {

constexpr int kPanel = 32;  // output columns per packed panel

// A weight packed by FixedOrderLinear: panel p, row k holds the kPanel weights of outputs
// [32p, 32p+32) for input k, contiguous, in the stored type.
struct PanelWeights {
  enum Type : int { F32, F16, BF16 } type;
  const uint8_t* data;   // 64-byte aligned panels
  size_t panel_bytes;    // n_in * kPanel * element size
  int64_t n_in, n_out;
  int k_chunks;
};

// A Q8_0 weight packed by Q8Linear: per panel and 32-block, [k/4][output][4] int8 quants,
// then the output's fp16 scale (as float) and the sum of its 32 quants.
struct Q8PanelWeights {
  const int8_t* q;       // [panel][block][k/4][kPanel][4]
  const float* scale;    // [panel][block][kPanel]
  const int32_t* wsum;   // [panel][block][kPanel]
  int64_t n_in, n_blocks, n_out;
  int k_chunks;
};

// Rows [0, rows) (rows <= 6) of x (row stride ldx) against panels [p0, p1) -> y (row stride ldy).
using PanelBlockFn = void (*)(const PanelWeights& w, const float* x, int64_t ldx, int rows, int64_t p0,
                              int64_t p1, float* y, int64_t ldy);
// Rows [r, r + rows) of the quantized activations (xq: q + 128 as bytes, [row][n_in]; xd: their
// scales, [row][n_blocks]) against panels [p0, p1) -> y (rows from 0, row stride ldy).
using Q8BlockFn = void (*)(const Q8PanelWeights& w, const uint8_t* xq, const float* xd, int64_t r, int rows,
                           int64_t p0, int64_t p1, float* y, int64_t ldy);

// The bodies of one path; a null entry means the portable loops of the caller's file.
struct CpuKernels {
  PanelBlockFn panel_block = nullptr;
  Q8BlockFn q8_block = nullptr;
};

// Defined in the per-ISA files (only built for x86-64, see lib/CMakeLists.txt).
void panel_block_avx2(const PanelWeights&, const float*, int64_t, int, int64_t, int64_t, float*, int64_t);
void panel_block_avx512(const PanelWeights&, const float*, int64_t, int, int64_t, int64_t, float*, int64_t);
void q8_block_avx2(const Q8PanelWeights&, const uint8_t*, const float*, int64_t, int, int64_t, int64_t, float*,
                   int64_t);
void q8_block_avx512_vnni(const Q8PanelWeights&, const uint8_t*, const float*, int64_t, int, int64_t, int64_t,
                          float*, int64_t);

}  // namespace sci_infer
