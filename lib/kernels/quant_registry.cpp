// The type registry's table, and each type's integer dot kernel (portable C++ loops that the
// compiler vectorizes; no intrinsics, so every build computes the same integers and floats).
//
// A dot kernel unpacks one weight block into int8 quants (and its integer sub-block scales)
// once, then serves up to kMaxDotRows activation rows with it. Per row and block the float
// operations are the fixed sequence in the table's `arithmetic` column; int32 sums are exact.
#include "kernels/quant_registry.hpp"

#include <cmath>
#include <cstring>
#include <string>

#include "kernels/quant_blocks.hpp"
#include "sci_infer/error.hpp"

namespace sci_infer {
namespace {

using namespace qblock;

template <int N>
inline int32_t idot(const int8_t* a, const int8_t* b) {
  int32_t s = 0;
  for (int i = 0; i < N; ++i) s += int32_t(a[i]) * int32_t(b[i]);
  return s;
}

// ---- dequantization (exactly ggml's values: quant_blocks.hpp) ---------------------------------
template <GgmlType T>
void dequantize_row_t(const uint8_t* src, float* dst, int64_t n) {
  for (int64_t j = 0; j < n; ++j) dst[j] = dequant_element(T, src, j);
}

// ---- float weights: one fma chain over k (the fixed-order backend's chain) ---------------------
template <GgmlType T>
void dot_float(const uint8_t* w, int64_t b0, int64_t b1, const ActView& a, int rows, float* acc) {
  constexpr int64_t kStrip = 256;
  float wf[kStrip];
  for (int64_t k0 = b0; k0 < b1; k0 += kStrip) {
    const int64_t len = std::min<int64_t>(kStrip, b1 - k0);
    for (int64_t k = 0; k < len; ++k) wf[k] = dequant_element(T, w, k0 + k);
    for (int i = 0; i < rows; ++i) {
      const float* x = a.x + i * a.ldx + k0;
      float s = acc[i];
      for (int64_t k = 0; k < len; ++k) s = std::fma(x[k], wf[k], s);
      acc[i] = s;
    }
  }
}

// ---- 32-blocks with Q8_0 activations: acc = fma(float(isum), d_w * d_x, acc) -------------------
// unpack(block, q) writes the block's 32 signed quants and returns the block's float scale.
template <float (*Unpack)(const uint8_t*, int8_t*), int Bytes>
void dot_q8_0_pair(const uint8_t* w, int64_t b0, int64_t b1, const ActView& a, int rows, float* acc) {
  for (int64_t b = b0; b < b1; ++b) {
    int8_t q[kQK];
    const float dw = Unpack(w + b * Bytes, q);
    for (int i = 0; i < rows; ++i) {
      const int32_t isum = idot<kQK>(q, a.q + i * a.ldq + b * kQK);
      acc[i] = std::fma(float(isum), dw * a.d[i * a.ldd + b], acc[i]);
    }
  }
}

// ---- 32-blocks with a min, Q8_1 activations:
//      acc = fma(float(isum), d_w * d_x, acc); acc = fma(float(sum q_x), m_w * d_x, acc) --------
template <void (*Unpack)(const uint8_t*, int8_t*, float*, float*), int Bytes>
void dot_q8_1_pair(const uint8_t* w, int64_t b0, int64_t b1, const ActView& a, int rows, float* acc) {
  for (int64_t b = b0; b < b1; ++b) {
    int8_t q[kQK];
    float dw, mw;
    Unpack(w + b * Bytes, q, &dw, &mw);
    for (int i = 0; i < rows; ++i) {
      const int32_t isum = idot<kQK>(q, a.q + i * a.ldq + b * kQK);
      const float dx = a.d[i * a.ldd + b];
      acc[i] = std::fma(float(isum), dw * dx, acc[i]);
      acc[i] = std::fma(float(a.s[i * a.lds + b]), mw * dx, acc[i]);
    }
  }
}

// The unpackers spell out quant_blocks.hpp's element rules as whole-block loops (vectorizable);
// check_quant_kernels.py holds both to gguf-py's dequantization.
inline void nibbles32(const uint8_t* qs, int8_t* q) {
  for (int l = 0; l < 16; ++l) {
    q[l] = int8_t(qs[l] & 15);
    q[l + 16] = int8_t(qs[l] >> 4);
  }
}
inline void add_high_bits32(const uint8_t* qh, int8_t* q) {
  uint32_t h;
  std::memcpy(&h, qh, 4);
  for (int e = 0; e < kQK; ++e) q[e] = int8_t(q[e] | (((h >> e) & 1u) << 4));
}
float unpack_q4_0(const uint8_t* b, int8_t* q) {
  nibbles32(b + 2, q);
  for (int e = 0; e < kQK; ++e) q[e] = int8_t(q[e] - 8);
  return load_half(b);
}
float unpack_q5_0(const uint8_t* b, int8_t* q) {
  nibbles32(b + 6, q);
  add_high_bits32(b + 2, q);
  for (int e = 0; e < kQK; ++e) q[e] = int8_t(q[e] - 16);
  return load_half(b);
}
float unpack_q8_0(const uint8_t* b, int8_t* q) {
  std::memcpy(q, b + 2, kQK);
  return load_half(b);
}
float unpack_mxfp4(const uint8_t* b, int8_t* q) {
  nibbles32(b + 1, q);
  for (int e = 0; e < kQK; ++e) q[e] = mxfp4_value(q[e]);
  return e8m0_half_to_float(b[0]);
}
void unpack_q4_1(const uint8_t* b, int8_t* q, float* d, float* m) {
  nibbles32(b + 4, q);
  *d = load_half(b);
  *m = load_half(b + 2);
}
void unpack_q5_1(const uint8_t* b, int8_t* q, float* d, float* m) {
  nibbles32(b + 8, q);
  add_high_bits32(b + 4, q);
  *d = load_half(b);
  *m = load_half(b + 2);
}

// ---- Q4_K / Q5_K with Q8_K activations: 8 sub-blocks of 32 with 6-bit scale sc_j and min m_j:
//      isum = sum_j sc_j * dot_j, msum = sum_j m_j * (sum of q_x in sub-block j);
//      acc = fma(float(isum), d * d_x, acc); acc = fma(float(-msum), dmin * d_x, acc) ----------
template <bool Five>
void dot_qk_min(const uint8_t* w, int64_t b0, int64_t b1, const ActView& a, int rows, float* acc) {
  constexpr int Bytes = Five ? kQ5_KBytes : kQ4_KBytes;
  for (int64_t b = b0; b < b1; ++b) {
    const uint8_t* blk = w + b * Bytes;
    int8_t q[kQKK];
    int sc[8], mn[8];
    for (int j = 0; j < 8; ++j) k4_scale_min(j, blk + 4, sc[j], mn[j]);
    const uint8_t* qs = blk + (Five ? 48 : 16);
    for (int g = 0; g < 4; ++g)  // 64 values per 32 bytes: low nibbles, then high nibbles
      for (int l = 0; l < 32; ++l) {
        q[64 * g + l] = int8_t(qs[32 * g + l] & 15);
        q[64 * g + 32 + l] = int8_t(qs[32 * g + l] >> 4);
      }
    if (Five)  // bit j of qh[l]: the 5th bit of value l of sub-block j
      for (int j = 0; j < 8; ++j)
        for (int l = 0; l < 32; ++l) q[32 * j + l] = int8_t(q[32 * j + l] | (((blk[16 + l] >> j) & 1) << 4));
    const float d = load_half(blk), dmin = load_half(blk + 2);
    for (int i = 0; i < rows; ++i) {
      const int8_t* x = a.q + i * a.ldq + b * kQKK;
      const int32_t* xs = a.s + i * a.lds + b * 8;
      int32_t isum = 0, msum = 0;
      for (int j = 0; j < 8; ++j) {
        isum += sc[j] * idot<32>(q + 32 * j, x + 32 * j);
        msum += mn[j] * xs[j];
      }
      const float dx = a.d[i * a.ldd + b];
      acc[i] = std::fma(float(isum), d * dx, acc[i]);
      acc[i] = std::fma(float(-msum), dmin * dx, acc[i]);
    }
  }
}

// ---- Q6_K with Q8_K activations: 16 sub-blocks of 16 with int8 scales:
//      isum = sum_j sc_j * dot_j; acc = fma(float(isum), d * d_x, acc) --------------------------
void dot_q6_k(const uint8_t* w, int64_t b0, int64_t b1, const ActView& a, int rows, float* acc) {
  for (int64_t b = b0; b < b1; ++b) {
    const uint8_t* blk = w + b * kQ6_KBytes;
    int8_t q[kQKK];
    int sc[16];
    for (int j = 0; j < 16; ++j) sc[j] = static_cast<int8_t>(blk[192 + j]);
    for (int h = 0; h < 2; ++h) {  // per 128 values: ql[64], qh[32]
      const uint8_t* ql = blk + 64 * h;
      const uint8_t* qh = blk + 128 + 32 * h;
      int8_t* o = q + 128 * h;
      for (int l = 0; l < 32; ++l) {
        o[l] = int8_t(((ql[l] & 15) | ((qh[l] & 3) << 4)) - 32);
        o[l + 32] = int8_t(((ql[l + 32] & 15) | (((qh[l] >> 2) & 3) << 4)) - 32);
        o[l + 64] = int8_t(((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32);
        o[l + 96] = int8_t(((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32);
      }
    }
    const float d = load_half(blk + 208);
    for (int i = 0; i < rows; ++i) {
      const int8_t* x = a.q + i * a.ldq + b * kQKK;
      int32_t isum = 0;
      for (int j = 0; j < 16; ++j) isum += sc[j] * idot<16>(q + 16 * j, x + 16 * j);
      acc[i] = std::fma(float(isum), d * a.d[i * a.ldd + b], acc[i]);
    }
  }
}

const char* kFloatArith = "acc = fma(x_k, w_k, acc) for k in order (F32 activations)";
const char* kQ80Arith = "acc = fma(float(isum), d_w * d_x, acc); isum = sum of 32 int8 x int products";
const char* kQ81Arith = "acc = fma(float(isum), d_w * d_x, acc); acc = fma(float(sum q_x), m_w * d_x, acc)";
const char* kQ4KArith =
    "isum = sum_j sc_j * dot32_j, msum = sum_j m_j * sum32_j(q_x); acc = fma(float(isum), d * d_x, acc); "
    "acc = fma(float(-msum), dmin * d_x, acc)";
const char* kQ6KArith = "isum = sum_j sc_j * dot16_j; acc = fma(float(isum), d * d_x, acc)";

// ggml's numbering order.
const TypeTraits kTypes[] = {
    {GgmlType::F32, "F32", 1, 4, false, ActQuant::F32, dequantize_row_t<GgmlType::F32>, dot_float<GgmlType::F32>,
     kFloatArith},
    {GgmlType::F16, "F16", 1, 2, false, ActQuant::F32, dequantize_row_t<GgmlType::F16>, dot_float<GgmlType::F16>,
     kFloatArith},
    {GgmlType::Q4_0, "Q4_0", kQK, kQ4_0Bytes, true, ActQuant::Q8_0, dequantize_row_t<GgmlType::Q4_0>,
     dot_q8_0_pair<unpack_q4_0, kQ4_0Bytes>, kQ80Arith},
    {GgmlType::Q4_1, "Q4_1", kQK, kQ4_1Bytes, true, ActQuant::Q8_1, dequantize_row_t<GgmlType::Q4_1>,
     dot_q8_1_pair<unpack_q4_1, kQ4_1Bytes>, kQ81Arith},
    {GgmlType::Q5_0, "Q5_0", kQK, kQ5_0Bytes, true, ActQuant::Q8_0, dequantize_row_t<GgmlType::Q5_0>,
     dot_q8_0_pair<unpack_q5_0, kQ5_0Bytes>, kQ80Arith},
    {GgmlType::Q5_1, "Q5_1", kQK, kQ5_1Bytes, true, ActQuant::Q8_1, dequantize_row_t<GgmlType::Q5_1>,
     dot_q8_1_pair<unpack_q5_1, kQ5_1Bytes>, kQ81Arith},
    {GgmlType::Q8_0, "Q8_0", kQK, kQ8_0Bytes, true, ActQuant::Q8_0, dequantize_row_t<GgmlType::Q8_0>,
     dot_q8_0_pair<unpack_q8_0, kQ8_0Bytes>, kQ80Arith},
    {GgmlType::Q4_K, "Q4_K", kQKK, kQ4_KBytes, true, ActQuant::Q8_K, dequantize_row_t<GgmlType::Q4_K>,
     dot_qk_min<false>, kQ4KArith},
    {GgmlType::Q5_K, "Q5_K", kQKK, kQ5_KBytes, true, ActQuant::Q8_K, dequantize_row_t<GgmlType::Q5_K>,
     dot_qk_min<true>, kQ4KArith},
    {GgmlType::Q6_K, "Q6_K", kQKK, kQ6_KBytes, true, ActQuant::Q8_K, dequantize_row_t<GgmlType::Q6_K>, dot_q6_k,
     kQ6KArith},
    {GgmlType::BF16, "BF16", 1, 2, false, ActQuant::F32, dequantize_row_t<GgmlType::BF16>, dot_float<GgmlType::BF16>,
     kFloatArith},
    {GgmlType::MXFP4, "MXFP4", kQK, kMXFP4Bytes, true, ActQuant::Q8_0, dequantize_row_t<GgmlType::MXFP4>,
     dot_q8_0_pair<unpack_mxfp4, kMXFP4Bytes>, kQ80Arith},
};

}  // namespace

const TypeTraits* find_type_traits(uint32_t raw) {
  for (const TypeTraits& t : kTypes)
    if (static_cast<uint32_t>(t.type) == raw) return &t;
  return nullptr;
}

const TypeTraits& type_traits(GgmlType t) {
  const TypeTraits* p = find_type_traits(static_cast<uint32_t>(t));
  if (!p) throw Error("unsupported tensor type " + std::to_string(static_cast<uint32_t>(t)));
  return *p;
}

const TypeTraits* all_type_traits(int* n) {
  *n = static_cast<int>(sizeof kTypes / sizeof kTypes[0]);
  return kTypes;
}

const char* act_quant_name(ActQuant a) {
  switch (a) {
    case ActQuant::F32: return "F32";
    case ActQuant::Q8_0: return "Q8_0";
    case ActQuant::Q8_1: return "Q8_1";
    case ActQuant::Q8_K: return "Q8_K";
  }
  return "?";
}

}  // namespace sci_infer
