// Element-type conversions checked against independent references: IEEE values computed with
// ldexp, nearest-value searches over all representable halves, and hand-derived bit patterns.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "sci_infer/error.hpp"
#include "sci_infer/tensor_types.hpp"

using namespace sci_infer;

namespace {

float from_bits(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
uint32_t to_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

// IEEE binary16 value from its fields, computed in double without any bit tricks.
double half_value(uint16_t h) {
  const int sign = h >> 15, exp = (h >> 10) & 31, mant = h & 1023;
  const double mag = exp == 0 ? std::ldexp(mant, -24) : std::ldexp(1024 + mant, exp - 25);
  return sign ? -mag : mag;
}

// Round-to-nearest-even reference for finite |x| < 65520: search the sorted positive halves.
uint16_t reference_fp16(float x) {
  static const std::vector<double> values = [] {
    std::vector<double> v;
    for (uint16_t h = 0; h <= 0x7BFF; ++h) v.push_back(half_value(h));
    return v;
  }();
  const double a = std::fabs(static_cast<double>(x));
  const auto hi = static_cast<size_t>(std::lower_bound(values.begin(), values.end(), a) - values.begin());
  uint16_t best = static_cast<uint16_t>(std::min<size_t>(hi, 0x7BFF));  // above 65504: the max
  if (hi > 0 && hi < values.size()) {
    const size_t lo = hi - 1;
    const double dlo = a - values[lo], dhi = values[hi] - a;
    if (dlo < dhi || (dlo == dhi && (lo & 1) == 0)) best = static_cast<uint16_t>(lo);
  }
  return static_cast<uint16_t>(best | (std::signbit(x) ? 0x8000 : 0));
}

uint64_t next_random(uint64_t& s) {  // xorshift64*, deterministic
  s ^= s >> 12;
  s ^= s << 25;
  s ^= s >> 27;
  return s * 0x2545F4914F6CDD1Dull;
}

}  // namespace

TEST_CASE("tensor types: names, blocks and row sizes", "[tensor_types]") {
  CHECK(std::string(ggml_type_name(GgmlType::Q8_0)) == "Q8_0");
  CHECK(ggml_type_from_name("BF16") == GgmlType::BF16);
  CHECK(ggml_type_from_name("Q4_K") == GgmlType::Q4_K);
  CHECK_THROWS_AS(ggml_type_from_name("Q2_K"), Error);
  CHECK(ggml_type_supported(0));
  CHECK(ggml_type_supported(1));
  CHECK(ggml_type_supported(8));
  CHECK(ggml_type_supported(30));
  // ggml's numbers (ggml.h): the registry's types, and not the ones it lacks.
  for (uint32_t t : {2u, 3u, 6u, 7u, 12u, 13u, 14u, 39u}) CHECK(ggml_type_supported(t));
  for (uint32_t t : {9u, 10u, 11u, 15u, 16u, 20u, 23u, 40u}) CHECK_FALSE(ggml_type_supported(t));
  // Block geometry from ggml-common.h's static_asserts.
  CHECK(ggml_block_bytes(GgmlType::Q4_0) == 18);
  CHECK(ggml_block_bytes(GgmlType::Q4_1) == 20);
  CHECK(ggml_block_bytes(GgmlType::Q5_0) == 22);
  CHECK(ggml_block_bytes(GgmlType::Q5_1) == 24);
  CHECK(ggml_block_bytes(GgmlType::MXFP4) == 17);
  CHECK(ggml_block_bytes(GgmlType::Q4_K) == 144);
  CHECK(ggml_block_bytes(GgmlType::Q5_K) == 176);
  CHECK(ggml_block_bytes(GgmlType::Q6_K) == 210);
  CHECK(ggml_block_elems(GgmlType::Q6_K) == 256);
  CHECK(ggml_block_elems(GgmlType::MXFP4) == 32);
  CHECK(ggml_row_bytes(GgmlType::Q4_K, 512) == 288);
  CHECK_THROWS_AS(ggml_row_bytes(GgmlType::Q4_K, 288), Error);
  CHECK_THROWS_AS(encode_row(GgmlType::Q4_K, nullptr, nullptr, 256), Error);
  CHECK(ggml_block_elems(GgmlType::Q8_0) == 32);
  CHECK(ggml_block_bytes(GgmlType::Q8_0) == 34);
  CHECK(ggml_row_bytes(GgmlType::F32, 10) == 40);
  CHECK(ggml_row_bytes(GgmlType::F16, 10) == 20);
  CHECK(ggml_row_bytes(GgmlType::BF16, 10) == 20);
  CHECK(ggml_row_bytes(GgmlType::Q8_0, 64) == 68);
  CHECK_THROWS_AS(ggml_row_bytes(GgmlType::Q8_0, 33), Error);
  CHECK_THROWS_AS(ggml_row_bytes(GgmlType::F32, std::numeric_limits<uint64_t>::max()), Error);
}

TEST_CASE("fp16: known bit patterns", "[tensor_types]") {
  CHECK(f32_to_fp16(1.0f) == 0x3C00);
  CHECK(f32_to_fp16(-2.0f) == 0xC000);
  CHECK(f32_to_fp16(0.5f) == 0x3800);
  CHECK(f32_to_fp16(0.1f) == 0x2E66);
  CHECK(f32_to_fp16(0.0f) == 0x0000);
  CHECK(f32_to_fp16(-0.0f) == 0x8000);
  CHECK(f32_to_fp16(65504.0f) == 0x7BFF);                       // largest finite half
  CHECK(f32_to_fp16(65519.996f) == 0x7BFF);                     // just below the tie
  CHECK(f32_to_fp16(65520.0f) == 0x7C00);                       // tie with 2^16 goes to inf (even)
  CHECK(f32_to_fp16(1e10f) == 0x7C00);
  CHECK(f32_to_fp16(-std::numeric_limits<float>::infinity()) == 0xFC00);
  CHECK(f32_to_fp16(std::ldexp(1.0f, -14)) == 0x0400);          // smallest normal
  CHECK(f32_to_fp16(std::ldexp(1023.0f, -24)) == 0x03FF);       // largest subnormal
  CHECK(f32_to_fp16(std::ldexp(1.0f, -24)) == 0x0001);          // smallest subnormal
  CHECK(f32_to_fp16(std::ldexp(1.0f, -25)) == 0x0000);          // tie with 0 -> 0 (even)
  CHECK(f32_to_fp16(std::nextafter(std::ldexp(1.0f, -25), 1.0f)) == 0x0001);
  CHECK(f32_to_fp16(std::ldexp(1.5f, -24)) == 0x0002);          // subnormal tie 1.5 -> 2
  CHECK(f32_to_fp16(std::ldexp(2.5f, -24)) == 0x0002);          // subnormal tie 2.5 -> 2
  CHECK(f32_to_fp16(std::ldexp(1023.5f, -24)) == 0x0400);       // rounds up into the normals
  CHECK(f32_to_fp16(1.0f + std::ldexp(1.0f, -11)) == 0x3C00);   // tie 1 | 1+2^-10 -> even 1
  CHECK(f32_to_fp16(1.0f + std::ldexp(3.0f, -11)) == 0x3C02);   // tie odd | even -> even
  CHECK(f32_to_fp16(2047.5f / 1024.0f) == 0x4000);              // mantissa carry bumps exponent
  CHECK(fp16_to_f32(0x3C00) == 1.0f);
  CHECK(fp16_to_f32(0x7BFF) == 65504.0f);
  CHECK(fp16_to_f32(0x0001) == std::ldexp(1.0f, -24));
  CHECK(std::isinf(fp16_to_f32(0x7C00)));
  CHECK(std::isnan(fp16_to_f32(0x7E00)));
  CHECK(std::signbit(fp16_to_f32(0x8000)));
}

TEST_CASE("fp16: NaN stays NaN with its sign", "[tensor_types]") {
  const float qnan = std::numeric_limits<float>::quiet_NaN();
  const uint16_t h = f32_to_fp16(qnan);
  CHECK((h & 0x7C00) == 0x7C00);
  CHECK((h & 0x03FF) != 0);
  CHECK((f32_to_fp16(-qnan) & 0x8000) == 0x8000);
  CHECK(std::isnan(fp16_to_f32(f32_to_fp16(from_bits(0x7F800001)))));  // signalling NaN
}

TEST_CASE("fp16: every half decodes exactly and round-trips", "[tensor_types]") {
  for (uint32_t h = 0; h <= 0xFFFF; ++h) {
    const auto h16 = static_cast<uint16_t>(h);
    const float f = fp16_to_f32(h16);
    if (((h >> 10) & 31) == 31 && (h & 1023) != 0) {
      REQUIRE(std::isnan(f));
      continue;
    }
    REQUIRE(static_cast<double>(f) == (((h >> 10) & 31) == 31 ? (h >> 15 ? -INFINITY : INFINITY) : half_value(h16)));
    REQUIRE(f32_to_fp16(f) == h16);
  }
}

TEST_CASE("fp16: rounding matches a nearest-even search", "[tensor_types]") {
  uint64_t s = 0x1234567;
  int checked = 0;
  for (int i = 0; i < 200000; ++i) {
    // Random bit patterns concentrated on the half range (exponents 100..143).
    const uint32_t r = static_cast<uint32_t>(next_random(s));
    const uint32_t exp = 100 + (r >> 24) % 44;
    const float x = from_bits((r & 0x807FFFFFu) | (exp << 23));
    if (std::fabs(x) >= 65520.0f) continue;
    REQUIRE(f32_to_fp16(x) == reference_fp16(x));
    ++checked;
  }
  // Exact midpoints between neighbouring halves are the hard case: test them all for one binade
  // of normals and all subnormals.
  for (uint16_t h = 0; h < 0x0800; ++h) {
    const float mid = static_cast<float>((half_value(h) + half_value(h + 1)) / 2);
    REQUIRE(f32_to_fp16(mid) == reference_fp16(mid));
    REQUIRE(f32_to_fp16(-mid) == reference_fp16(-mid));
  }
  CHECK(checked > 100000);
}

TEST_CASE("bf16: known values, ties and NaN", "[tensor_types]") {
  CHECK(f32_to_bf16(1.0f) == 0x3F80);
  CHECK(f32_to_bf16(-2.0f) == 0xC000);
  CHECK(f32_to_bf16(3.14159265f) == 0x4049);
  CHECK(f32_to_bf16(from_bits(0x3F808000)) == 0x3F80);  // tie, keep even
  CHECK(f32_to_bf16(from_bits(0x3F818000)) == 0x3F82);  // tie, round odd up to even
  CHECK(f32_to_bf16(from_bits(0x3F808001)) == 0x3F81);  // above the tie
  CHECK(f32_to_bf16(std::numeric_limits<float>::max()) == 0x7F80);  // rounds to inf
  CHECK(f32_to_bf16(from_bits(0x7F800001)) == 0x7FC0);  // signalling NaN -> quiet, not inf
  CHECK(f32_to_bf16(from_bits(0xFF800001)) == 0xFFC0);
  CHECK(bf16_to_f32(0x3F80) == 1.0f);
  for (uint32_t h = 0; h <= 0xFFFF; ++h) {
    const float f = bf16_to_f32(static_cast<uint16_t>(h));
    REQUIRE(to_bits(f) == h << 16);
    if (!std::isnan(f)) REQUIRE(f32_to_bf16(f) == h);
  }
}

TEST_CASE("rows: F32, F16 and BF16 encode element-wise", "[tensor_types]") {
  std::vector<float> x = {0.0f, 1.0f, -1.5f, 3.14159f, 1e-6f, 65504.0f, -1e5f, 0.333f};
  std::vector<uint8_t> buf(x.size() * 4);
  std::vector<float> y(x.size());
  encode_row(GgmlType::F32, x.data(), buf.data(), x.size());
  decode_row(GgmlType::F32, buf.data(), y.data(), x.size());
  CHECK(y == x);
  for (GgmlType t : {GgmlType::F16, GgmlType::BF16}) {
    encode_row(t, x.data(), buf.data(), x.size());
    decode_row(t, buf.data(), y.data(), x.size());
    for (size_t i = 0; i < x.size(); ++i) {
      uint16_t h;
      std::memcpy(&h, buf.data() + 2 * i, 2);
      REQUIRE(h == (t == GgmlType::F16 ? f32_to_fp16(x[i]) : f32_to_bf16(x[i])));
      REQUIRE(to_bits(y[i]) == to_bits(t == GgmlType::F16 ? fp16_to_f32(h) : bf16_to_f32(h)));
    }
  }
}

TEST_CASE("Q8_0: layout, exact cases and error bound", "[tensor_types]") {
  SECTION("integers in [-127, 127] with amax 127 are exact (d = 1)") {
    std::vector<float> x(32);
    for (int j = 0; j < 32; ++j) x[j] = static_cast<float>((j * 37) % 255 - 127);
    x[5] = 127.0f;
    std::vector<uint8_t> buf(34);
    encode_row(GgmlType::Q8_0, x.data(), buf.data(), 32);
    uint16_t d;
    std::memcpy(&d, buf.data(), 2);
    CHECK(d == 0x3C00);
    for (int j = 0; j < 32; ++j) CHECK(static_cast<int8_t>(buf[2 + j]) == static_cast<int>(x[j]));
    std::vector<float> y(32);
    decode_row(GgmlType::Q8_0, buf.data(), y.data(), 32);
    CHECK(y == x);
  }
  SECTION("an all-zero block has d = 0 and decodes to zeros") {
    std::vector<float> x(32, 0.0f), y(32, 1.0f);
    std::vector<uint8_t> buf(34, 0xFF);
    encode_row(GgmlType::Q8_0, x.data(), buf.data(), 32);
    CHECK(std::all_of(buf.begin(), buf.end(), [](uint8_t b) { return b == 0; }));
    decode_row(GgmlType::Q8_0, buf.data(), y.data(), 32);
    CHECK(y == x);
  }
  SECTION("random rows: d = fp16(amax/127), |q| <= 127, error within half a step") {
    uint64_t s = 99;
    const size_t n = 32 * 64;
    std::vector<float> x(n), y(n);
    for (size_t i = 0; i < n; ++i) {
      const double u = static_cast<double>(next_random(s) >> 11) * 0x1p-53;
      x[i] = static_cast<float>((u - 0.5) * std::ldexp(1.0, static_cast<int>(i / 32 % 20) - 10));
    }
    std::vector<uint8_t> buf(ggml_row_bytes(GgmlType::Q8_0, n));
    encode_row(GgmlType::Q8_0, x.data(), buf.data(), n);
    decode_row(GgmlType::Q8_0, buf.data(), y.data(), n);
    for (size_t b = 0; b < n / 32; ++b) {
      float amax = 0;
      for (size_t j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(x[b * 32 + j]));
      const float d = amax / 127.0f;
      uint16_t dh;
      std::memcpy(&dh, buf.data() + 34 * b, 2);
      REQUIRE(dh == f32_to_fp16(d));
      const double d16 = fp16_to_f32(dh);
      // Half a quantization step (plus float slack in x * (1/d)) and the fp16 rounding of d
      // scaled by |q| <= 127.
      const double bound = d * (0.5 + 1e-4) + std::fabs(d16 - d) * 127.0;
      for (size_t j = 0; j < 32; ++j) {
        const int q = static_cast<int8_t>(buf[34 * b + 2 + j]);
        REQUIRE(std::abs(q) <= 127);
        REQUIRE(std::fabs(static_cast<double>(x[b * 32 + j]) - y[b * 32 + j]) <= bound);
      }
    }
  }
  SECTION("rows that are not a multiple of 32 are refused") {
    std::vector<float> x(40);
    std::vector<uint8_t> buf(64);
    CHECK_THROWS_AS(encode_row(GgmlType::Q8_0, x.data(), buf.data(), 40), Error);
    CHECK_THROWS_AS(decode_row(GgmlType::Q8_0, buf.data(), x.data(), 40), Error);
  }
}
