#pragma once
// How every backend quantizes activations for the integer dot products (as llama.cpp does):
// each row of activations is cut into blocks (32 values for Q8_0/Q8_1 partners, 256 for the
// K-quants' Q8_K), each block is quantized to int8 with one float scale, each weight block's
// dot product is exact in int32, and the blocks accumulate in k order with fused multiply-adds
// (quant_registry.cpp says per type which). This quantization is the one definition that all
// backends share, so they agree bit for bit.
#include <Kokkos_Core.hpp>
#include <cstdint>

namespace sci_infer {

constexpr int kQ8Block = 32;

// q[i] = rint(x[i] / d) in [-127, 127], d = max|x| / 127 (a NaN in x makes d NaN, so it shows).
// Symmetric, so llama.cpp's Q8_0, Q8_1 and (with N = 256) Q8_K activations all use this form;
// the scale stays a float (llama.cpp rounds Q8_0's to fp16: slightly less exact).
template <int N>
KOKKOS_INLINE_FUNCTION void quantize_q8_block_n(const float* x, int8_t* q, float* d) {
  float amax = 0.0f;
  bool nan = false;
  for (int i = 0; i < N; ++i) {
    const float a = x[i] < 0.0f ? -x[i] : x[i];
    amax = a > amax ? a : amax;  // max is order-free
    nan = nan || (x[i] != x[i]);
  }
  const float dd = amax / 127.0f;
  const float id = dd != 0.0f ? 1.0f / dd : 0.0f;
  for (int i = 0; i < N; ++i) {
    float v = rintf(x[i] * id);
    v = v > 127.0f ? 127.0f : (v < -127.0f ? -127.0f : v);
    q[i] = static_cast<int8_t>(v);
  }
  *d = nan ? __builtin_nanf("") : dd;
}

KOKKOS_INLINE_FUNCTION void quantize_q8_block(const float* x, int8_t* q, float* d) {
  quantize_q8_block_n<kQ8Block>(x, q, d);
}

}  // namespace sci_infer
