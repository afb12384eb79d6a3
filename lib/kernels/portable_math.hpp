#pragma once
// The math functions the kernels call, in one implementation shared by host and device, so that
// every Kokkos backend (Serial, OpenMP, CUDA, ...) gives the same bits.
//
// A vendor libm (glibc, CUDA's libdevice, SYCL's) is free to round its last bit differently; these
// are built only from IEEE operations that every backend rounds the same way: +, -, *, /, fma
// (always written as fma, never left to contraction), rint, comparisons, integer ops and exact
// scaling by powers of two assembled from bits. The constants are those of Cephes (float) and
// fdlibm (double) polynomials, which are well studied; the accuracy bounds below are measured by
// test/unit/test_portable_math.cpp against long double references.
//
//   exp_f32     max error 1.5 ulp (float; measured 1.01) over all finite inputs, subnormal results
//               included; +inf -> +inf, -inf -> +0, NaN -> NaN
//   tanh_f32    max error 2 ulp (float; measured 1.33); tanh(+-inf) = +-1, keeps the sign of zero
//   sincos_f64  max error 3 ulp (double; measured 2.2) for |x| < 2^30 (RoPE angles are position *
//               frequency); rounded to float, equal to the reference rounded to float in all of
//               the 2e5 sampled inputs. Larger |x| stay deterministic, less accurate.
//
// sqrt needs no copy: IEEE requires it correctly rounded, on every backend.
#include <Kokkos_Core.hpp>
#include <cmath>
#include <cstdint>
#include <cstring>

namespace sci_infer {
namespace pmath {

KOKKOS_INLINE_FUNCTION float bits_to_f32(uint32_t b) {
  float f;
  memcpy(&f, &b, sizeof(f));
  return f;
}
KOKKOS_INLINE_FUNCTION double bits_to_f64(uint64_t b) {
  double d;
  memcpy(&d, &b, sizeof(d));
  return d;
}
KOKKOS_INLINE_FUNCTION uint32_t f32_bits(float f) {
  uint32_t b;
  memcpy(&b, &f, sizeof(b));
  return b;
}

// 2^e as a float, for e in [-126, 127] (a normal number: exact).
KOKKOS_INLINE_FUNCTION float pow2_f32(int32_t e) { return bits_to_f32(uint32_t(e + 127) << 23); }

// e^x in float.
KOKKOS_INLINE_FUNCTION float exp_f32(float x) {
  if (x != x) return x + x;                       // NaN stays NaN
  if (x > 88.72284f) return bits_to_f32(0x7f800000u);  // above ln(FLT_MAX): +inf
  if (x < -103.97208f) return 0.0f;               // below ln of the smallest subnormal / 2: +0
  // x = n ln2 + r, |r| <= ln2 / 2; ln2 in two parts (Cody-Waite), the first with few bits so
  // n * part1 is exact for |n| <= 150 and the fma subtractions lose nothing.
  const float n = rintf(x * 1.44269504088896341f);
  float r = fmaf(n, -0.693359375f, x);
  r = fmaf(n, 2.12194440e-4f, r);
  // e^r = 1 + r + r^2 P(r) (Cephes expf).
  float p = 1.9875691500e-4f;
  p = fmaf(p, r, 1.3981999507e-3f);
  p = fmaf(p, r, 8.3334519073e-3f);
  p = fmaf(p, r, 4.1665795894e-2f);
  p = fmaf(p, r, 1.6666665459e-1f);
  p = fmaf(p, r, 5.0000001201e-1f);
  const float y = fmaf(p, r * r, r) + 1.0f;
  // y * 2^n in two exact-exponent steps (n in [-150, 128]): the first product is exact, the
  // second rounds once, also into the subnormal range or to +inf.
  const int32_t ni = static_cast<int32_t>(n);
  const int32_t a = ni / 2;
  return (y * pow2_f32(a)) * pow2_f32(ni - a);
}

// tanh(x) in float.
KOKKOS_INLINE_FUNCTION float tanh_f32(float x) {
  const float a = x < 0.0f ? -x : x;
  if (a >= 0.625f) {  // 1 - 2 / (e^2a + 1): no cancellation this far from 0; e^2a = inf gives 1
    const float t = 1.0f - 2.0f / (exp_f32(2.0f * a) + 1.0f);
    return x < 0.0f ? -t : t;
  }
  if (a < 2.44140625e-4f) return x;  // |x| < 2^-12: tanh x rounds to x (keeps -0 and subnormals)
  // Odd polynomial near 0 (Cephes tanhf): x + x^3 P(x^2). NaN falls through and stays NaN.
  const float z = x * x;
  float p = -5.70498872745e-3f;
  p = fmaf(p, z, 2.06390887954e-2f);
  p = fmaf(p, z, -5.37397155531e-2f);
  p = fmaf(p, z, 1.33314422036e-1f);
  p = fmaf(p, z, -3.33332819422e-1f);
  return fmaf(p * z, x, x);
}

// sin(x) and cos(x) in double (the RoPE table computes its angles and their sines in double and
// rounds once to float).
KOKKOS_INLINE_FUNCTION void sincos_f64(double x, double* s, double* c) {
  if (!(x - x == 0.0)) {  // inf or NaN
    *s = *c = x - x;
    return;
  }
  if (x < 7.450580596923828e-09 && x > -7.450580596923828e-09) {  // |x| < 2^-27: sin x = x, keeps -0
    *s = x;
    *c = 1.0;
    return;
  }
  // x = k pi/2 + r, |r| <= pi/4, with pi/2 in four parts of 33 bits (fdlibm's pio2_1, pio2_2,
  // pio2_3, pio2_3t). Each fma forms x - k * part exactly before its one rounding, and the
  // remainder shrinks at every step, so r keeps full relative accuracy for |x| < 2^30.
  const double k = rint(x * 6.36619772367581382433e-01);
  double r = fma(-k, 1.57079632673412561417e+00, x);
  r = fma(-k, 6.07710050630396597660e-11, r);
  r = fma(-k, 2.02226624871116645580e-21, r);
  r = fma(-k, 8.47842766036889956997e-32, r);
  const double z = r * r;
  // fdlibm __kernel_sin / __kernel_cos (tail term dropped: the result is rounded to float later,
  // and it stays within 1 ulp of double without it).
  double ps = 1.58969099521155010221e-10;
  ps = fma(ps, z, -2.50507602534068634195e-08);
  ps = fma(ps, z, 2.75573137070700676789e-06);
  ps = fma(ps, z, -1.98412698298579493134e-04);
  ps = fma(ps, z, 8.33333333332248946124e-03);
  ps = fma(ps, z, -1.66666666666666324348e-01);
  const double sin_r = fma(ps, z * r, r);
  double pc = -1.13596475577881948265e-11;
  pc = fma(pc, z, 2.08757232129817482790e-09);
  pc = fma(pc, z, -2.75573143513906633035e-07);
  pc = fma(pc, z, 2.48015872894767294178e-05);
  pc = fma(pc, z, -1.38888888888741095749e-03);
  pc = fma(pc, z, 4.16666666666666019037e-02);
  const double hz = 0.5 * z, w = 1.0 - hz;
  const double cos_r = w + (((1.0 - w) - hz) + (z * z) * pc);
  const int32_t q = static_cast<int32_t>(static_cast<int64_t>(k) & 3);
  const double sq = (q & 1) ? cos_r : sin_r, cq = (q & 1) ? sin_r : cos_r;
  *s = (q & 2) ? -sq : sq;
  *c = ((q + 1) & 2) ? -cq : cq;
}

}  // namespace pmath
}  // namespace sci_infer
