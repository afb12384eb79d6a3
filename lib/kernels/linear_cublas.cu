// cuBLAS backend (built with -DSCI_INFER_CUDA=ON). Weights are dequantized to F32 and uploaded
// once; forward() takes device pointers (the engine's activations live in device memory when
// Kokkos is built for CUDA) or host pointers (a host Kokkos build offloading its GEMMs: x and y
// are staged through device buffers). Y[M,N] = X[M,K] W^T is computed column-major as
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
    cudaFree(stage_);
    cudaFree(w_dev_);
    cublasDestroy(handle_);
  }
  size_t bytes() const override { return static_cast<size_t>(n_out_) * n_in_ * sizeof(float); }

  void forward(const float* x, int64_t m, int64_t ldx, float* y, int64_t ldy) const override {
    if (m <= 0) return;
    if (is_host_pointer(x) || is_host_pointer(y)) return forward_staged(x, m, ldx, y, ldy);
    gemm(x, m, ldx, y, ldy);
  }

 private:
  float* w_dev_ = nullptr;
  cublasHandle_t handle_ = nullptr;
  mutable float* stage_ = nullptr;  // device copies of x and y for host callers
  mutable size_t stage_floats_ = 0;

  static bool is_host_pointer(const void* p) {
    cudaPointerAttributes a{};
    if (cudaPointerGetAttributes(&a, p) != cudaSuccess) {
      cudaGetLastError();  // clear the error: an unknown pointer is plain host memory
      return true;
    }
    return a.type == cudaMemoryTypeUnregistered || a.type == cudaMemoryTypeHost;
  }

  // Host activations (a host Kokkos build offloading only its GEMMs): copy x in, y out.
  void forward_staged(const float* x, int64_t m, int64_t ldx, float* y, int64_t ldy) const {
    const size_t need = size_t(m) * (n_in_ + n_out_);
    if (need > stage_floats_) {
      cudaFree(stage_);
      check_cuda(cudaMalloc(&stage_, need * sizeof(float)), "cudaMalloc(stage)");
      stage_floats_ = need;
    }
    float* dx = stage_;
    float* dy = stage_ + size_t(m) * n_in_;
    check_cuda(cudaMemcpy2D(dx, n_in_ * sizeof(float), x, ldx * sizeof(float), n_in_ * sizeof(float), m,
                            cudaMemcpyHostToDevice), "stage x");
    gemm(dx, m, n_in_, dy, n_out_);
    check_cuda(cudaMemcpy2D(y, ldy * sizeof(float), dy, n_out_ * sizeof(float), n_out_ * sizeof(float), m,
                            cudaMemcpyDeviceToHost), "stage y");
  }

  void gemm(const float* x, int64_t m, int64_t ldx, float* y, int64_t ldy) const {
    const float one = 1.0f, zero = 0.0f;
    check_cublas(cublasSgemm(handle_, CUBLAS_OP_T, CUBLAS_OP_N, static_cast<int>(n_out_), static_cast<int>(m),
                             static_cast<int>(n_in_), &one, w_dev_, static_cast<int>(n_in_), x,
                             static_cast<int>(ldx), &zero, y, static_cast<int>(ldy)),
                 "cublasSgemm");
    check_cuda(cudaDeviceSynchronize(), "linear forward");
  }
};

}  // namespace

std::unique_ptr<Linear> make_linear_cublas(const WeightView* parts, int n_parts) {
  return std::make_unique<CublasLinear>(parts, n_parts);
}

}  // namespace sci_infer
