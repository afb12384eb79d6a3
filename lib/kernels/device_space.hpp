#pragma once
// What the engine needs to know about where Kokkos runs, and exact element decoding usable in
// device code (no host intrinsics, no vendor conversion routines whose rounding could differ:
// every conversion here is exact).
#include <Kokkos_Core.hpp>
#include <cstdint>
#include <cstring>

namespace sci_infer {

// True when the default execution space cannot touch host memory (CUDA, HIP, SYCL): then the
// engine keeps its data in device memory and `--gemm fixed` runs the Kokkos tiled GEMM
// (linear_kokkos.cpp) instead of the host kernels.
constexpr bool device_backend() {
  return !Kokkos::SpaceAccessibility<Kokkos::HostSpace, Kokkos::DefaultExecutionSpace::memory_space>::accessible;
}

// IEEE half -> float, by bits (exact).
KOKKOS_INLINE_FUNCTION float device_half_to_float(uint16_t h) {
  const uint32_t sign = uint32_t(h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1fu;
  uint32_t mant = h & 0x3ffu;
  uint32_t bits;
  if (exp == 0x1f) {
    bits = sign | 0x7f800000u | (mant << 13);
  } else if (exp != 0) {
    bits = sign | ((exp + 112u) << 23) | (mant << 13);
  } else if (mant == 0) {
    bits = sign;
  } else {  // subnormal half: normalise
    exp = 113;
    while ((mant & 0x400u) == 0) {
      mant <<= 1;
      --exp;
    }
    bits = sign | (exp << 23) | ((mant & 0x3ffu) << 13);
  }
  float f;
  memcpy(&f, &bits, sizeof(f));
  return f;
}

// bfloat16 -> float (exact: the high half of the float's bits).
KOKKOS_INLINE_FUNCTION float device_bf16_to_float(uint16_t h) {
  const uint32_t bits = uint32_t(h) << 16;
  float f;
  memcpy(&f, &bits, sizeof(f));
  return f;
}

}  // namespace sci_infer
