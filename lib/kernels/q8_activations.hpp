#pragma once
// How every backend multiplies by Q8_0 weights (as llama.cpp does): each row of activations is
// quantized per block of 32 to int8 with one float scale, each block's dot product is exact in
// int32, and the blocks accumulate in order: acc = fma(float(isum_b), d_w,b * d_x,b, acc).
// The quantization below is the one definition all backends share, so they agree bit for bit.
#include <Kokkos_Core.hpp>
#include <cstdint>

namespace sci_infer {

constexpr int kQ8Block = 32;

// q[i] = rint(x[i] / d) in [-127, 127], d = max|x| / 127 (a NaN in x makes d NaN, so it shows).
KOKKOS_INLINE_FUNCTION void quantize_q8_block(const float* x, int8_t* q, float* d) {
  float amax = 0.0f;
  bool nan = false;
  for (int i = 0; i < kQ8Block; ++i) {
    const float a = x[i] < 0.0f ? -x[i] : x[i];
    amax = a > amax ? a : amax;  // max is order-free
    nan = nan || (x[i] != x[i]);
  }
  const float dd = amax / 127.0f;
  const float id = dd != 0.0f ? 1.0f / dd : 0.0f;
  for (int i = 0; i < kQ8Block; ++i) {
    float v = rintf(x[i] * id);
    v = v > 127.0f ? 127.0f : (v < -127.0f ? -127.0f : v);
    q[i] = static_cast<int8_t>(v);
  }
  *d = nan ? __builtin_nanf("") : dd;
}

}  // namespace sci_infer
