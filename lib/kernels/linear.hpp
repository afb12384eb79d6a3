#pragma once
// Linear layers: Y[M, N] = X[M, K] · W[N, K]^T, the only GEMM the model needs.
//
// Every backend is constructed from the weight exactly as stored in the GGUF file (any type of
// the registry, quant_registry.hpp), prepacks it once at load, and then runs `forward` on activations that live
// in the engine's memory space (host for Serial/OpenMP Kokkos, device for CUDA).
//
// Reproducibility: the default backend (FixedOrder) computes every output element as a single
// sequential chain of fused multiply-adds over k = 0..K-1, on the exactly dequantized weight.
// Rows of X never interact, threads split only over rows and output columns, so the bits of
// Y[m, :] depend on X[m, :] and W alone, never on M, the thread count or the SIMD width.
// The Kokkos tiled backend (linear_kokkos.cpp; what FixedOrder runs on a device backend)
// computes the same chain and so gives the same bits.
//
// K-chunked reduction (tensor parallelism): with k_chunks = C > 1 (a power of two dividing K),
// each output is instead the sum of C chains over the equal, contiguous K-chunks, combined by
// a balanced pairwise tree (((c0+c1)+(c2+c3))+...). A tensor-parallel rank that holds K/tp
// columns computes a complete subtree (C/tp chunks); the ranks' subtree roots are then combined
// with the upper levels of the same tree (parallel/tree_reduce.hpp), so the bits of the
// row-split layers do not depend on how many ranks share them.
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
  int k_chunks() const { return k_chunks_; }

 protected:
  int64_t n_out_ = 0, n_in_ = 0;
  int k_chunks_ = 1;
};

// Where a backend may put its packed weights instead of private heap memory: the ranks of a node
// that hold the same slices share one copy (parallel/node_shared_memory.hpp). allocate() is
// collective over those ranks, called in the same order on each; exactly one of them gets
// *fill = true and writes the memory, which the others may read once the arena is published.
class WeightArena {
 public:
  virtual ~WeightArena() = default;
  virtual uint8_t* allocate(size_t bytes, bool* fill) = 0;  // 64-byte aligned
  virtual bool shared() const = 0;  // false: every allocation is this rank's own
};

// Throws unless c is a power of two that divides k.
void check_k_chunks(const std::string& name, int64_t k, int c);

// Balanced pairwise tree sum of `leaves` values laid out with stride `stride`: the one order
// every backend and every rank uses to combine K-chunk partial sums. leaves is a power of two.
inline float tree_sum(const float* v, int leaves, int64_t stride) {
  float tmp[64];
  for (int i = 0; i < leaves; ++i) tmp[i] = v[i * stride];
  for (int width = leaves; width > 1; width /= 2)
    for (int i = 0; i < width / 2; ++i) tmp[i] = tmp[2 * i] + tmp[2 * i + 1];
  return tmp[0];
}

// Builds a Linear for `backend`; several WeightViews with the same K are stacked along N
// (fused Q|K|V and gate|up projections: one pass over X instead of two or three).
// k_chunks > 1 selects the K-chunked reduction above (fixed and kokkos backends; the vendor
// backends are not bitwise reproducible anyway and ignore it).
// An arena is used by the fixed-order backend (the default); the others keep private copies.
std::unique_ptr<Linear> make_linear(GemmBackend backend, const WeightView* parts, int n_parts,
                                    int n_threads, int k_chunks = 1, WeightArena* arena = nullptr);

// Per-backend factories (each in its own file).
std::unique_ptr<Linear> make_linear_fixed_order(const WeightView* parts, int n_parts, int n_threads,
                                                int k_chunks = 1, WeightArena* arena = nullptr);
// Q8_0 weights (the fixed-order backend's choice for them): int8 x int8 with quantized activations.
std::unique_ptr<Linear> make_linear_q8_int8(const WeightView* parts, int n_parts, int n_threads, int k_chunks = 1,
                                            WeightArena* arena = nullptr);
// Any quantized type, and fused parts of different types (the fixed-order backend's choice for
// them): each part through its type's integer dot kernel (linear_quant.cpp).
std::unique_ptr<Linear> make_linear_quant(const WeightView* parts, int n_parts, int n_threads, int k_chunks = 1,
                                          WeightArena* arena = nullptr);
// True when every part has type t.
bool all_parts_of_type(const WeightView* parts, int n_parts, GgmlType t);
std::unique_ptr<Linear> make_linear_kokkos(const WeightView* parts, int n_parts, int k_chunks = 1);
std::unique_ptr<Linear> make_linear_onednn(const WeightView* parts, int n_parts);
std::unique_ptr<Linear> make_linear_cublas(const WeightView* parts, int n_parts);

}  // namespace sci_infer
