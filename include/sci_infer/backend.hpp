#pragma once
// Which GEMM implementation runs the linear layers.
//   fixed  : sci_infer's own fixed-order kernel (default; bitwise batch/thread invariant)
//   kokkos : portable Kokkos kernel, same bits as fixed, slow; the reference
//   onednn : oneDNN matmul, prepacked weights; fast, not batch-invariant
//   cublas : cuBLAS (CUDA builds); not batch-invariant
#include <string>

namespace sci_infer {

enum class GemmBackend { FixedOrder, Kokkos, OneDnn, Cublas };
const char* gemm_backend_name(GemmBackend b);
GemmBackend gemm_backend_from_name(const std::string& name);  // throws sci_infer::Error

}  // namespace sci_infer
