#pragma once
// Which host kernel path this build of the library takes, for the provenance of output files:
// the kernels choose AVX-512 / AVX-512 VNNI at compile time (linear_fixed_order.cpp,
// linear_q8_int8.cpp, panel_tile.hpp), so the name is fixed per build.
namespace sci_infer {

// "avx512-vnni" (F32/F16/BF16 and Q8_0 GEMMs vectorized), "avx512" (Q8_0 on integer loops) or
// "generic" (portable loops). The paths compute the same chains, so they should give the same
// bits; a build change is still named as a possible cause when `verify` finds a difference.
const char* cpu_kernel_path();

}  // namespace sci_infer
