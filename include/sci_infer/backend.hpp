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

// How tensor-parallel ranks combine the partial sums of the row-split layers.
//   deterministic : fixed K-chunks and a fixed tree: the same bits for tp = 1, 2, 4, ... (default)
//   fast          : MPI_Allreduce; the bits depend on tp and on the MPI library
enum class Reduction { Deterministic, Fast };
const char* reduction_name(Reduction r);
Reduction reduction_from_name(const std::string& name);  // throws sci_infer::Error

}  // namespace sci_infer
