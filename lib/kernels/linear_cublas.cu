// cuBLAS backend (built with -DSCI_INFER_CUDA=ON). Weights are dequantized to F32 and uploaded
// once; forward() takes device pointers (the engine's activations live in device memory when
// Kokkos is built for CUDA). Y[M,N] = X[M,K] W^T is computed column-major as
// Y^T[N,M] = W[N,K] · X^T[K,M]: W (row-major [N][K]) is W^T column-major, hence CUBLAS_OP_T.
//
// Reproducibility: cublasSgemm with CUBLAS_PEDANTIC_MATH and a fixed workspace is run-to-run
// deterministic for one shape, but cuBLAS may choose another kernel (another reduction order)
// for another M: batch invariance is only promised by the fixed-order/Kokkos backends.
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <string>

#include "kernels/linear.hpp"
#include "kernels/weight_decode.hpp"
#include "sci_infer/error.hpp"

namespace sci_infer {
namespace {

void check_cuda(cudaError_t e, const char* what) {
  if (e != cudaSuccess) throw Error(std::string("CUDA error in ") + what + ": " + cudaGetErrorString(e));
}
void check_cublas(cublasStatus_t s, const char* what) {
  if (s != CUBLAS_STATUS_SUCCESS) throw Error(std::string("cuBLAS error in ") + what + ": status " + std::to_string(int(s)));
}

class CublasLinear final : public Linear {
 public:
  CublasLinear(const WeightView* parts, int n_parts) {
    std::vector<float> w = decode_weight_parts(parts, n_parts, n_out_, n_in_);
    check_cuda(cudaMalloc(&w_dev_, w.size() * sizeof(float)), "cudaMalloc(weights)");
    check_cuda(cudaMemcpy(w_dev_, w.data(), w.size() * sizeof(float), cudaMemcpyHostToDevice), "upload weights");
    check_cublas(cublasCreate(&handle_), "cublasCreate");
    check_cublas(cublasSetMathMode(handle_, CUBLAS_PEDANTIC_MATH), "cublasSetMathMode");
  }
  ~CublasLinear() override {
    cudaFree(w_dev_);
    cublasDestroy(handle_);
  }
  size_t bytes() const override { return static_cast<size_t>(n_out_) * n_in_ * sizeof(float); }

  void forward(const float* x, int64_t m, int64_t ldx, float* y, int64_t ldy) const override {
    if (m <= 0) return;
    const float one = 1.0f, zero = 0.0f;
    check_cublas(cublasSgemm(handle_, CUBLAS_OP_T, CUBLAS_OP_N, static_cast<int>(n_out_), static_cast<int>(m),
                             static_cast<int>(n_in_), &one, w_dev_, static_cast<int>(n_in_), x,
                             static_cast<int>(ldx), &zero, y, static_cast<int>(ldy)),
                 "cublasSgemm");
    check_cuda(cudaDeviceSynchronize(), "linear forward");
  }

 private:
  float* w_dev_ = nullptr;
  cublasHandle_t handle_ = nullptr;
};

}  // namespace

std::unique_ptr<Linear> make_linear_cublas(const WeightView* parts, int n_parts) {
  return std::make_unique<CublasLinear>(parts, n_parts);
}

}  // namespace sci_infer
