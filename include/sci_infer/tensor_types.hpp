#pragma once
// ggml tensor element types that sci_infer reads and writes, with conversions.
// Block layouts follow ggml: Q8_0 = 32 values per block, {fp16 scale d; int8 q[32]}, x = d*q.
#include <cstddef>
#include <cstdint>
#include <string>

namespace sci_infer {

enum class GgmlType : uint32_t { F32 = 0, F16 = 1, Q8_0 = 8, BF16 = 30 };

bool ggml_type_supported(uint32_t raw);       // one of the four above
const char* ggml_type_name(GgmlType t);        // "F32", "F16", "Q8_0", "BF16"
GgmlType ggml_type_from_name(const std::string& name);  // throws sci_infer::Error
size_t ggml_block_elems(GgmlType t);           // 1, 1, 32, 1
size_t ggml_block_bytes(GgmlType t);           // 4, 2, 34, 2
// Bytes of a row of n elements; throws if n is not a multiple of the block size.
size_t ggml_row_bytes(GgmlType t, uint64_t n);

float fp16_to_f32(uint16_t h);
uint16_t f32_to_fp16(float f);                 // round to nearest even, as ggml
float bf16_to_f32(uint16_t h);
uint16_t f32_to_bf16(float f);                 // round to nearest even, NaN kept quiet

// Encode n floats (n a multiple of the block size) into dst (ggml_row_bytes(t, n) bytes).
void encode_row(GgmlType t, const float* src, void* dst, uint64_t n);
// Decode n elements of type t into floats.
void decode_row(GgmlType t, const void* src, float* dst, uint64_t n);

}  // namespace sci_infer
