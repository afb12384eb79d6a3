// The kernels' math functions (lib/kernels/portable_math.hpp) against long double references
// (x87 80-bit expl/tanhl/sinl/cosl: 11 bits more than double, so rounding them to the tested
// precision is a sound reference), over the whole float range by stepping through bit patterns,
// plus the special values. The bounds asserted are the ones the header documents.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>

#include "kernels/portable_math.hpp"

using namespace sci_infer;

namespace {

// One unit in the last place of a float (or double) at the magnitude of ref, subnormals included.
long double ulp_f32(long double ref) {
  int e = 0;
  std::frexp(ref, &e);
  return std::ldexp(1.0L, std::max(e - 1, -126) - 23);
}
long double ulp_f64(long double ref) {
  int e = 0;
  std::frexp(ref, &e);
  return std::ldexp(1.0L, std::max(e - 1, -1022) - 52);
}

bool same_bits(float a, float b) { return std::memcmp(&a, &b, sizeof a) == 0; }

// Every float with bit pattern b = start + j * step (both signs, all exponents, subnormals).
template <class F>
void for_floats(uint32_t step, F f) {
  for (uint64_t b = 0; b <= 0xffffffffu; b += step) f(pmath::bits_to_f32(uint32_t(b)));
}

}  // namespace

TEST_CASE("exp_f32 is within 1.5 ulp of e^x over the float range", "[invariance][portable_math]") {
  long double worst = 0;
  float worst_x = 0;
  int64_t n = 0;
  for_floats(9973, [&](float x) {
    if (std::isnan(x)) return;
    const long double ref = expl(x);
    const float got = pmath::exp_f32(x);
    if (ref > std::numeric_limits<float>::max()) {  // overflows: inf, or FLT_MAX right at the edge
      CHECK((std::isinf(got) || got == std::numeric_limits<float>::max()));
      return;
    }
    const long double err = fabsl(got - ref) / ulp_f32(ref);
    if (err > worst) worst = err, worst_x = x;
    ++n;
  });
  INFO("max error " << double(worst) << " ulp at x = " << worst_x << " over " << n << " inputs");
  CHECK(n > 300000);
  CHECK(worst <= 1.5L);
}

TEST_CASE("exp_f32 special values", "[invariance][portable_math]") {
  const float inf = std::numeric_limits<float>::infinity();
  CHECK(same_bits(pmath::exp_f32(0.0f), 1.0f));
  CHECK(same_bits(pmath::exp_f32(-0.0f), 1.0f));
  CHECK(same_bits(pmath::exp_f32(1.0f), 2.71828175f));  // e rounded to float: 0x402df854
  CHECK(same_bits(pmath::exp_f32(1e-40f), 1.0f));       // subnormal input
  CHECK(same_bits(pmath::exp_f32(inf), inf));
  CHECK(same_bits(pmath::exp_f32(-inf), 0.0f));
  CHECK(same_bits(pmath::exp_f32(89.0f), inf));
  CHECK(same_bits(pmath::exp_f32(-104.0f), 0.0f));
  CHECK(std::isnan(pmath::exp_f32(std::nanf(""))));
  // Subnormal results round once: e^-100 = 3.720076e-44 = 27 * 2^-149 (nearest subnormal).
  CHECK(same_bits(pmath::exp_f32(-100.0f), std::ldexp(27.0f, -149)));
  CHECK(same_bits(pmath::exp_f32(88.7f), float(expl(88.7f))));  // near the top: exact rounding here
}

TEST_CASE("tanh_f32 is within 2 ulp of tanh(x) over the float range", "[invariance][portable_math]") {
  long double worst = 0;
  float worst_x = 0;
  for_floats(9973, [&](float x) {
    if (std::isnan(x)) return;
    const long double ref = tanhl(x);
    const long double err = fabsl(pmath::tanh_f32(x) - ref) / ulp_f32(ref);
    if (err > worst) worst = err, worst_x = x;
  });
  INFO("max error " << double(worst) << " ulp at x = " << worst_x);
  CHECK(worst <= 2.0L);
  const float inf = std::numeric_limits<float>::infinity();
  CHECK(same_bits(pmath::tanh_f32(inf), 1.0f));
  CHECK(same_bits(pmath::tanh_f32(-inf), -1.0f));
  CHECK(same_bits(pmath::tanh_f32(-0.0f), -0.0f));
  CHECK(same_bits(pmath::tanh_f32(1e-40f), 1e-40f));
  CHECK(same_bits(pmath::tanh_f32(20.0f), 1.0f));
  CHECK(std::isnan(pmath::tanh_f32(std::nanf(""))));
}

TEST_CASE("sincos_f64 is within 3 ulp of sin and cos for |x| < 2^30", "[invariance][portable_math]") {
  std::mt19937_64 rng(42);
  long double worst = 0;
  double worst_x = 0;
  int float_mismatch = 0;
  const int n = 200000;
  auto check = [&](double x) {
    double s, c;
    pmath::sincos_f64(x, &s, &c);
    const long double rs = sinl(x), rc = cosl(x);
    const long double e = std::max(fabsl(s - rs) / ulp_f64(rs), fabsl(c - rc) / ulp_f64(rc));
    if (e > worst) worst = e, worst_x = x;
    float_mismatch += float(s) != float(rs) || float(c) != float(rc);
  };
  for (int i = 0; i < n; ++i) {
    switch (i % 4) {
      case 0: check(std::uniform_real_distribution<double>(-4.0, 4.0)(rng)); break;
      case 1: check(std::uniform_real_distribution<double>(-1e6, 1e6)(rng)); break;
      case 2: check(std::ldexp(std::uniform_real_distribution<double>(-1.0, 1.0)(rng), 30)); break;
      // RoPE angles: position * theta^(-2i/d), positions up to 128 Ki.
      default: check(double(i % 131072) * std::pow(10000.0, -2.0 * double(i % 64) / 128.0)); break;
    }
  }
  // Multiples of pi/2 (the hardest arguments for range reduction) and tiny ones.
  for (int k = 1; k < 4000; ++k) check(double(k) * 1.5707963267948966);
  check(1e-300);
  check(std::ldexp(1.0, -1074));
  INFO("max error " << double(worst) << " ulp (double) at x = " << worst_x << "; "
       << float_mismatch << " of " << n + 4001 << " differ from the reference once rounded to float");
  CHECK(worst <= 3.0L);
  CHECK(float_mismatch <= n / 10000);  // rounding to float hides the double error almost always
  double s, c;
  pmath::sincos_f64(0.0, &s, &c);
  CHECK((s == 0.0 && !std::signbit(s) && c == 1.0));
  pmath::sincos_f64(-0.0, &s, &c);
  CHECK((s == 0.0 && std::signbit(s) && c == 1.0));
  pmath::sincos_f64(std::numeric_limits<double>::infinity(), &s, &c);
  CHECK((std::isnan(s) && std::isnan(c)));
  pmath::sincos_f64(std::nan(""), &s, &c);
  CHECK((std::isnan(s) && std::isnan(c)));
}
