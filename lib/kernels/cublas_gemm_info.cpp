// Builds without CUDA have no cuBLAS layers: nothing to record (cublas_gemm_info.hpp).
#include "kernels/cublas_gemm_info.hpp"

namespace sci_infer {
#if !defined(SCI_INFER_HAVE_CUDA)
std::string cublas_gemm_provenance() { return ""; }
#endif
}  // namespace sci_infer
