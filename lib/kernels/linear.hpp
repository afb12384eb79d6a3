#pragma once
// Linear layers: Y[M, N] = X[M, K] · W[N, K]^T, the only GEMM the model needs.
//
// Every backend is constructed from the weight exactly as stored in the GGUF file (F32, F16,
// BF16 or Q8_0), prepacks it once at load, and then runs `forward` on activations that live
// in the engine's memory space (host for Serial/OpenMP Kokkos, device for CUDA).
//
// Reproducibility: the default backend (FixedOrder) computes every output element as a single
// sequential chain of fused multiply-adds over k = 0..K-1, on the exactly dequantized weight.
// Rows of X never interact, threads split only over rows and output columns, so the bits of
// Y[m, :] depend on X[m, :] and W alone, never on M, the thread count or the SIMD width.
// The portable Kokkos backend computes the same chain and so gives the same bits.
#include <cstdint>
#include <memory>
#include <string>

#include "sci_infer/backend.hpp"
#include "sci_infer/model.hpp"
#include "sci_infer/tensor_types.hpp"

namespace sci_infer {

class Linear {
 public:
  virtual ~Linear() = default;
  // x: M rows with stride ldx; y: M rows with stride ldy. Overwrites y.
  virtual void forward(const float* x, int64_t m, int64_t ldx, float* y, int64_t ldy) const = 0;
  int64_t n_out() const { return n_out_; }
  int64_t n_in() const { return n_in_; }
  virtual size_t bytes() const = 0;  // memory held by the packed weight

 protected:
  int64_t n_out_ = 0, n_in_ = 0;
};

// Builds a Linear for `backend`; several WeightViews with the same K are stacked along N
// (fused Q|K|V and gate|up projections: one pass over X instead of two or three).
std::unique_ptr<Linear> make_linear(GemmBackend backend, const WeightView* parts, int n_parts,
                                    int n_threads);

// Per-backend factories (each in its own file).
std::unique_ptr<Linear> make_linear_fixed_order(const WeightView* parts, int n_parts, int n_threads);
std::unique_ptr<Linear> make_linear_kokkos(const WeightView* parts, int n_parts);
std::unique_ptr<Linear> make_linear_onednn(const WeightView* parts, int n_parts);
std::unique_ptr<Linear> make_linear_cublas(const WeightView* parts, int n_parts);

}  // namespace sci_infer
