#pragma once
// The bytes of every ggml block type that sci_infer reads, and their exact dequantization.
//
// Layouts and arithmetic are ggml's (ggml-common.h, ggml-quants.c dequantize_row_*): every
// value decodes with the same float operations in the same order, so a decoded weight is
// bit-identical to llama.cpp's (and gguf-py's) dequantization. Host and device callable
// (KOKKOS_INLINE_FUNCTION): the embedding lookup decodes single elements on the device.
// The type registry (quant_registry.hpp) points at these; nothing else knows a block layout.
#include <Kokkos_Macros.hpp>
#include <cstdint>
#include <cstring>

#include "sci_infer/tensor_types.hpp"

namespace sci_infer {
namespace qblock {

// ---- scalar formats --------------------------------------------------------------------------

KOKKOS_INLINE_FUNCTION float bits_to_float(uint32_t u) {
  float f;
  memcpy(&f, &u, sizeof f);
  return f;
}

// IEEE half -> float, exact (integer implementation: same bits on every device).
KOKKOS_INLINE_FUNCTION float half_to_float(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1Fu;
  const uint32_t mant = h & 0x3FFu;
  if (exp == 0) {
    const float mag = static_cast<float>(mant) * 0x1p-24f;  // zero or subnormal: exact
    return sign ? -mag : mag;
  }
  if (exp == 31) return bits_to_float(sign | 0x7F800000u | (mant << 13));  // inf / NaN
  return bits_to_float(sign | ((exp + 112u) << 23) | (mant << 13));
}

KOKKOS_INLINE_FUNCTION float load_half(const uint8_t* p) {
  uint16_t h;
  memcpy(&h, p, 2);
  return half_to_float(h);
}

// E8M0 exponent byte -> 2^(e-128): ggml's GGML_E8M0_TO_FP32_HALF (half of the OCP MX scale,
// because the FP4 table below holds twice the E2M1 values).
KOKKOS_INLINE_FUNCTION float e8m0_half_to_float(uint8_t e) {
  return bits_to_float(e < 2 ? (0x00200000u << e) : (static_cast<uint32_t>(e - 1) << 23));
}

// E2M1 code -> 2 x value (ggml's kvalues_mxfp4).
KOKKOS_INLINE_FUNCTION int8_t mxfp4_value(int code) {
  constexpr int8_t v[16] = {0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12};
  return v[code & 15];
}

// The 6-bit scale and min of sub-block j (0..7) of a Q4_K / Q5_K block (ggml get_scale_min_k4).
KOKKOS_INLINE_FUNCTION void k4_scale_min(int j, const uint8_t* q, int& sc, int& m) {
  if (j < 4) {
    sc = q[j] & 63;
    m = q[j + 4] & 63;
  } else {
    sc = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
    m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
  }
}

// ---- block geometry (bytes) ------------------------------------------------------------------
constexpr int kQK = 32;   // the 32-element blocks
constexpr int kQKK = 256; // the K-quant super-blocks
constexpr int kQ4_0Bytes = 2 + 16;             // d, qs[16] (low nibbles: 0..15, high: 16..31)
constexpr int kQ4_1Bytes = 2 + 2 + 16;         // d, m, qs[16]
constexpr int kQ5_0Bytes = 2 + 4 + 16;         // d, qh (bit e = 5th bit of element e), qs[16]
constexpr int kQ5_1Bytes = 2 + 2 + 4 + 16;     // d, m, qh, qs[16]
constexpr int kQ8_0Bytes = 2 + 32;             // d, int8 qs[32]
constexpr int kMXFP4Bytes = 1 + 16;            // E8M0 e, qs[16] (E2M1 codes)
constexpr int kQ4_KBytes = 2 + 2 + 12 + 128;   // d, dmin, scales[12] (6-bit sc/m x 8), qs[128]
constexpr int kQ5_KBytes = 2 + 2 + 12 + 32 + 128;  // d, dmin, scales[12], qh[32], qs[128]
constexpr int kQ6_KBytes = 128 + 64 + 16 + 2;  // ql[128], qh[64], int8 scales[16], d

// ---- integer quants of one element (the part that the integer dot products use) -------------
// Element e of a 32-block: low nibble of byte e for e < 16, high nibble of byte e - 16.
KOKKOS_INLINE_FUNCTION int nibble32(const uint8_t* qs, int e) { return e < 16 ? (qs[e] & 15) : (qs[e - 16] >> 4); }
KOKKOS_INLINE_FUNCTION int high_bit32(const uint8_t* qh, int e) {
  uint32_t h;
  memcpy(&h, qh, 4);
  return (h >> e) & 1u;
}
// Q4_K / Q5_K: element e (0..255) lies in sub-block e / 32; its nibble is in byte 32*(e/64) + e%32.
KOKKOS_INLINE_FUNCTION int k_nibble(const uint8_t* qs, int e) {
  const uint8_t byte = qs[32 * (e / 64) + e % 32];
  return (e % 64) < 32 ? (byte & 15) : (byte >> 4);
}
KOKKOS_INLINE_FUNCTION int q5k_high_bit(const uint8_t* qh, int e) { return (qh[e % 32] >> (e / 32)) & 1; }
// Q6_K: element e -> signed 6-bit quant q - 32 and its int8 scale index (e / 16).
KOKKOS_INLINE_FUNCTION int q6k_quant(const uint8_t* b, int e) {
  const uint8_t* ql = b + 64 * (e / 128);
  const uint8_t* qh = b + 128 + 32 * (e / 128);
  const int quarter = (e % 128) / 32, l = e % 32;
  const int lo = quarter & 1 ? ql[l + 32] : ql[l];
  const int nib = quarter < 2 ? (lo & 15) : (lo >> 4);
  return (nib | (((qh[l] >> (2 * quarter)) & 3) << 4)) - 32;
}

// ---- dequantization of one element: x = (as ggml computes it) -------------------------------
// Same float operations as ggml's dequantize_row_* (with -ffp-contract=off: no fused ops).
KOKKOS_INLINE_FUNCTION float dequant_element(GgmlType t, const uint8_t* row, int64_t j) {
  switch (t) {
    case GgmlType::F32: {
      float f;
      memcpy(&f, row + 4 * j, 4);
      return f;
    }
    case GgmlType::F16: return load_half(row + 2 * j);
    case GgmlType::BF16: {
      uint16_t h;
      memcpy(&h, row + 2 * j, 2);
      return bits_to_float(static_cast<uint32_t>(h) << 16);
    }
    case GgmlType::Q4_0: {
      const uint8_t* b = row + (j / kQK) * kQ4_0Bytes;
      return static_cast<float>(nibble32(b + 2, int(j % kQK)) - 8) * load_half(b);
    }
    case GgmlType::Q4_1: {
      const uint8_t* b = row + (j / kQK) * kQ4_1Bytes;
      return static_cast<float>(nibble32(b + 4, int(j % kQK))) * load_half(b) + load_half(b + 2);
    }
    case GgmlType::Q5_0: {
      const uint8_t* b = row + (j / kQK) * kQ5_0Bytes;
      const int e = int(j % kQK);
      return static_cast<float>((nibble32(b + 6, e) | (high_bit32(b + 2, e) << 4)) - 16) * load_half(b);
    }
    case GgmlType::Q5_1: {
      const uint8_t* b = row + (j / kQK) * kQ5_1Bytes;
      const int e = int(j % kQK);
      return static_cast<float>(nibble32(b + 8, e) | (high_bit32(b + 4, e) << 4)) * load_half(b) + load_half(b + 2);
    }
    case GgmlType::Q8_0: {
      const uint8_t* b = row + (j / kQK) * kQ8_0Bytes;
      return static_cast<float>(static_cast<int8_t>(b[2 + j % kQK])) * load_half(b);
    }
    case GgmlType::MXFP4: {
      const uint8_t* b = row + (j / kQK) * kMXFP4Bytes;
      return static_cast<float>(mxfp4_value(nibble32(b + 1, int(j % kQK)))) * e8m0_half_to_float(b[0]);
    }
    case GgmlType::Q4_K: {
      const uint8_t* b = row + (j / kQKK) * kQ4_KBytes;
      const int e = int(j % kQKK);
      int sc, m;
      k4_scale_min(e / 32, b + 4, sc, m);
      const float d1 = load_half(b) * static_cast<float>(sc), m1 = load_half(b + 2) * static_cast<float>(m);
      return d1 * static_cast<float>(k_nibble(b + 16, e)) - m1;
    }
    case GgmlType::Q5_K: {
      const uint8_t* b = row + (j / kQKK) * kQ5_KBytes;
      const int e = int(j % kQKK);
      int sc, m;
      k4_scale_min(e / 32, b + 4, sc, m);
      const float d1 = load_half(b) * static_cast<float>(sc), m1 = load_half(b + 2) * static_cast<float>(m);
      return d1 * static_cast<float>(k_nibble(b + 48, e) + 16 * q5k_high_bit(b + 16, e)) - m1;
    }
    case GgmlType::Q6_K: {
      const uint8_t* b = row + (j / kQKK) * kQ6_KBytes;
      const int e = int(j % kQKK);
      const float d = load_half(b + 208);
      return d * static_cast<float>(static_cast<int8_t>(b[192 + e / 16])) * static_cast<float>(q6k_quant(b, e));
    }
  }
  return 0.0f;
}

// Elements and bytes per block (device-callable twins of the registry's fields).
KOKKOS_INLINE_FUNCTION int block_elems(GgmlType t) {
  switch (t) {
    case GgmlType::Q4_0: case GgmlType::Q4_1: case GgmlType::Q5_0: case GgmlType::Q5_1:
    case GgmlType::Q8_0: case GgmlType::MXFP4: return kQK;
    case GgmlType::Q4_K: case GgmlType::Q5_K: case GgmlType::Q6_K: return kQKK;
    default: return 1;
  }
}
KOKKOS_INLINE_FUNCTION int block_bytes(GgmlType t) {
  switch (t) {
    case GgmlType::F32: return 4;
    case GgmlType::F16: case GgmlType::BF16: return 2;
    case GgmlType::Q4_0: return kQ4_0Bytes;
    case GgmlType::Q4_1: return kQ4_1Bytes;
    case GgmlType::Q5_0: return kQ5_0Bytes;
    case GgmlType::Q5_1: return kQ5_1Bytes;
    case GgmlType::Q8_0: return kQ8_0Bytes;
    case GgmlType::MXFP4: return kMXFP4Bytes;
    case GgmlType::Q4_K: return kQ4_KBytes;
    case GgmlType::Q5_K: return kQ5_KBytes;
    case GgmlType::Q6_K: return kQ6_KBytes;
  }
  return 0;
}

}  // namespace qblock
}  // namespace sci_infer
