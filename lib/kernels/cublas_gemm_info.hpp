#pragma once
// What --gemm cublas ran, for the provenance of output files (linear_cublas.cu).
#include <string>

namespace sci_infer {

// The cuBLASLt and CUDA runtime versions, the GPU model and SM count, the math (tf32 / bf16) and
// the one algorithm pinned for each layer shape (the same for every M); "" in a build without
// CUDA, or before any cuBLAS layer was made in this process.
std::string cublas_gemm_provenance();

}  // namespace sci_infer
