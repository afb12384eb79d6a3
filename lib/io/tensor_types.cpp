// ggml element types: names, block geometry and scalar/row conversions.
//
// The fp16/bf16 conversions are portable integer implementations of IEEE round-to-nearest-even,
// bit-identical to ggml (and to F16C's _cvtss_sh with RNE) on every input; NaNs become quiet NaNs
// with the sign kept. No intrinsics, so every build of the library rounds identically.
#include "sci_infer/tensor_types.hpp"

#include <cmath>
#include <cstring>
#include <limits>

#include "kernels/quant_blocks.hpp"
#include "kernels/quant_registry.hpp"
#include "sci_infer/error.hpp"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "sci_infer reads and writes little-endian GGUF data in place; big-endian hosts are unsupported"
#endif

namespace sci_infer {

namespace {

uint32_t float_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
}

float bits_float(uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

constexpr size_t kQ8BlockElems = qblock::kQK;
constexpr size_t kQ8BlockBytes = qblock::kQ8_0Bytes;

void check_multiple(GgmlType t, uint64_t n) {
  if (n % ggml_block_elems(t) != 0) {
    throw Error(std::string("tensor row of ") + std::to_string(n) + " elements is not a multiple of the " +
                ggml_type_name(t) + " block size " + std::to_string(ggml_block_elems(t)));
  }
}

// ggml's quantize_row_q8_0_ref: d = amax/127 stored as fp16, q = round(x / d) computed as x * (1/d).
void encode_q8_0(const float* src, uint8_t* dst, uint64_t n) {
  for (uint64_t b = 0; b < n / kQ8BlockElems; ++b) {
    const float* x = src + b * kQ8BlockElems;
    uint8_t* out = dst + b * kQ8BlockBytes;
    float amax = 0.0f;
    for (size_t j = 0; j < kQ8BlockElems; ++j) amax = std::fmax(amax, std::fabs(x[j]));
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    const uint16_t dh = f32_to_fp16(d);
    std::memcpy(out, &dh, 2);
    for (size_t j = 0; j < kQ8BlockElems; ++j) {
      out[2 + j] = static_cast<uint8_t>(static_cast<int8_t>(std::round(x[j] * id)));
    }
  }
}

}  // namespace

bool ggml_type_supported(uint32_t raw) { return find_type_traits(raw) != nullptr; }

const char* ggml_type_name(GgmlType t) {
  const TypeTraits* p = find_type_traits(static_cast<uint32_t>(t));
  return p ? p->name : "UNKNOWN";
}

const char* ggml_supported_type_names() {
  static const std::string names = [] {
    int n = 0;
    const TypeTraits* all = all_type_traits(&n);
    std::string s;
    for (int i = 0; i < n; ++i) s += (i ? ", " : "") + std::string(all[i].name);
    return s;
  }();
  return names.c_str();
}

GgmlType ggml_type_from_name(const std::string& name) {
  int n = 0;
  const TypeTraits* all = all_type_traits(&n);
  for (int i = 0; i < n; ++i)
    if (name == all[i].name) return all[i].type;
  throw Error("unknown tensor type '" + name + "' (supported: " + ggml_supported_type_names() + ")");
}

size_t ggml_block_elems(GgmlType t) { return static_cast<size_t>(type_traits(t).block_elems); }

size_t ggml_block_bytes(GgmlType t) { return static_cast<size_t>(type_traits(t).block_bytes); }

bool ggml_type_quantized(GgmlType t) { return type_traits(t).quantized; }

size_t ggml_row_bytes(GgmlType t, uint64_t n) {
  check_multiple(t, n);
  const uint64_t blocks = n / ggml_block_elems(t);
  const uint64_t bytes_per_block = ggml_block_bytes(t);
  if (blocks > std::numeric_limits<size_t>::max() / bytes_per_block) {
    throw Error("tensor row of " + std::to_string(n) + " elements is too large");
  }
  return static_cast<size_t>(blocks * bytes_per_block);
}

float fp16_to_f32(uint16_t h) { return qblock::half_to_float(h); }

uint16_t f32_to_fp16(float f) {
  const uint32_t x = float_bits(f);
  const uint16_t sign = static_cast<uint16_t>((x >> 16) & 0x8000u);
  const uint32_t mag = x & 0x7FFFFFFFu;
  if (mag > 0x7F800000u) return sign | 0x7E00u;            // NaN -> quiet NaN
  if (mag >= 0x477FF000u) return sign | 0x7C00u;           // >= 65520 (the 65504/65536 tie) -> inf
  if (mag >= 0x38800000u) {                                // normal half (>= 2^-14)
    const uint32_t exp = (mag >> 23) - 112u;
    uint32_t h = (exp << 10) | ((mag >> 13) & 0x3FFu);
    const uint32_t rest = mag & 0x1FFFu;
    // Round to nearest even; a mantissa carry correctly bumps the exponent.
    if (rest > 0x1000u || (rest == 0x1000u && (h & 1u))) ++h;
    return static_cast<uint16_t>(sign | h);
  }
  if (mag <= 0x33000000u) return sign;                     // <= 2^-25 (tie with 0 goes to even 0)
  // Subnormal half: value / 2^-24 = m * 2^(e+1) with the implicit bit restored in m.
  const uint32_t m = (mag & 0x7FFFFFu) | 0x800000u;
  const int e = static_cast<int>(mag >> 23) - 127;         // -25 < e < -14
  const uint32_t shift = static_cast<uint32_t>(-(e + 1));  // 14..24
  uint32_t h = m >> shift;
  const uint32_t rest = m & ((1u << shift) - 1u);
  const uint32_t half = 1u << (shift - 1u);
  if (rest > half || (rest == half && (h & 1u))) ++h;      // may round up to the smallest normal
  return static_cast<uint16_t>(sign | h);
}

float bf16_to_f32(uint16_t h) { return bits_float(static_cast<uint32_t>(h) << 16); }

uint16_t f32_to_bf16(float f) {
  const uint32_t x = float_bits(f);
  if ((x & 0x7FFFFFFFu) > 0x7F800000u) return static_cast<uint16_t>((x >> 16) | 0x40u);  // quiet NaN
  // Adding 0x7FFF plus the lowest kept bit rounds to nearest even; overflow carries into inf.
  return static_cast<uint16_t>((x + 0x7FFFu + ((x >> 16) & 1u)) >> 16);
}

void encode_row(GgmlType t, const float* src, void* dst, uint64_t n) {
  check_multiple(t, n);
  auto* out = static_cast<uint8_t*>(dst);
  switch (t) {
    case GgmlType::F32:
      std::memcpy(out, src, n * sizeof(float));
      return;
    case GgmlType::F16:
      for (uint64_t i = 0; i < n; ++i) {
        const uint16_t h = f32_to_fp16(src[i]);
        std::memcpy(out + 2 * i, &h, 2);
      }
      return;
    case GgmlType::BF16:
      for (uint64_t i = 0; i < n; ++i) {
        const uint16_t h = f32_to_bf16(src[i]);
        std::memcpy(out + 2 * i, &h, 2);
      }
      return;
    case GgmlType::Q8_0:
      encode_q8_0(src, out, n);
      return;
    default:
      break;
  }
  throw Error(std::string("encode_row: sci_infer does not write ") + ggml_type_name(t) +
              " (make such files with llama.cpp's llama-quantize or gguf-py)");
}

void decode_row(GgmlType t, const void* src, float* dst, uint64_t n) {
  check_multiple(t, n);
  type_traits(t).dequantize_row(static_cast<const uint8_t*>(src), dst, static_cast<int64_t>(n));
}

}  // namespace sci_infer
