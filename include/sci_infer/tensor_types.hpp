#pragma once
// ggml tensor element types that sci_infer reads (and, for some, writes), with conversions.
// Block layouts and dequantization are ggml's, bit for bit (lib/kernels/quant_blocks.hpp);
// each type has one description in the registry (lib/kernels/quant_registry.hpp): name,
// block geometry, dequantization, the activation quantization it pairs with and its dot kernel.
// docs/quantization.md lists the types.
#include <cstddef>
#include <cstdint>
#include <string>

namespace sci_infer {

// The numbers are ggml's (enum ggml_type).
enum class GgmlType : uint32_t {
  F32 = 0,
  F16 = 1,
  Q4_0 = 2,
  Q4_1 = 3,
  Q5_0 = 6,
  Q5_1 = 7,
  Q8_0 = 8,
  Q4_K = 12,
  Q5_K = 13,
  Q6_K = 14,
  BF16 = 30,
  MXFP4 = 39,
};

bool ggml_type_supported(uint32_t raw);       // one of the types above
const char* ggml_type_name(GgmlType t);        // "F32", "Q4_K", ...
const char* ggml_supported_type_names();       // "F32, F16, BF16, Q4_0, ..." for messages
GgmlType ggml_type_from_name(const std::string& name);  // throws sci_infer::Error
size_t ggml_block_elems(GgmlType t);           // 1 (float types), 32, or 256 (K-quants)
size_t ggml_block_bytes(GgmlType t);           // e.g. 4 (F32), 34 (Q8_0), 144 (Q4_K)
bool ggml_type_quantized(GgmlType t);          // a block type (not F32/F16/BF16)
// Bytes of a row of n elements; throws if n is not a multiple of the block size.
size_t ggml_row_bytes(GgmlType t, uint64_t n);

float fp16_to_f32(uint16_t h);
uint16_t f32_to_fp16(float f);                 // round to nearest even, as ggml
float bf16_to_f32(uint16_t h);
uint16_t f32_to_bf16(float f);                 // round to nearest even, NaN kept quiet

// Encode n floats (n a multiple of the block size) into dst (ggml_row_bytes(t, n) bytes).
// F32, F16, BF16 and Q8_0 only (the model maker's types; the other quantized files come from
// llama.cpp's tools); throws for the others.
void encode_row(GgmlType t, const float* src, void* dst, uint64_t n);
// Decode n elements of type t into floats, exactly as ggml dequantizes them.
void decode_row(GgmlType t, const void* src, float* dst, uint64_t n);

}  // namespace sci_infer
