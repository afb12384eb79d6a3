#pragma once
// The type registry: one description per ggml type (like ggml's type_traits). Everything that
// depends on a weight type (reader acceptance, row sizes, dequantization for the F32 backends,
// the integer GEMM of the default backend, tensor-parallel cut rules) reads it from here.
//
// Integer dot products (the default backend): a weight block of type T pairs with activations
// quantized as `act` (q8_activations.hpp): llama.cpp's pairing, Q8_0 for Q4_0/Q5_0/Q8_0/MXFP4,
// Q8_1 (Q8_0 plus the block's integer sum) for Q4_1/Q5_1, Q8_K (256-blocks) for the K-quants.
// `dot` accumulates one weight row's blocks [b0, b1) into acc[i] for `rows` activation rows,
// block after block in k order, each block's contribution a fixed sequence of float operations
// on exact int32 sums (`arithmetic` says which; docs/reproducibility.md repeats it). So an
// output's bits depend on its activation row, the weight row and the K-chunking only.
#include <cstdint>

#include "sci_infer/tensor_types.hpp"

namespace sci_infer {

// How the activations are prepared for a type's dot kernel.
enum class ActQuant { F32, Q8_0, Q8_1, Q8_K };

// Activations of `rows` rows, as a dot kernel reads them (row i at offset i * ld of each array).
struct ActView {
  const float* x = nullptr;    // F32: the activations themselves
  int64_t ldx = 0;
  const int8_t* q = nullptr;   // Q8_*: int8 quants [row][k]
  int64_t ldq = 0;
  const float* d = nullptr;    // Q8_*: one scale per activation block (32 or 256 values)
  int64_t ldd = 0;
  const int32_t* s = nullptr;  // Q8_1 / Q8_K: sum of the quants of every 32 values
  int64_t lds = 0;
};

constexpr int kMaxDotRows = 16;  // rows one dot call serves (each weight block is unpacked once)

using BlockDot = void (*)(const uint8_t* wrow, int64_t b0, int64_t b1, const ActView& a, int rows, float* acc);
using DequantRow = void (*)(const uint8_t* src, float* dst, int64_t n);

struct TypeTraits {
  GgmlType type;
  const char* name;
  int block_elems;     // values per block
  int block_bytes;     // bytes per block
  bool quantized;      // a block type (integer dot products), not F32/F16/BF16
  ActQuant act;        // the activation quantization its dot kernel pairs with
  DequantRow dequantize_row;
  BlockDot dot;
  const char* arithmetic;  // one block's contribution, as documented
};

// nullptr if sci_infer does not read that ggml type.
const TypeTraits* find_type_traits(uint32_t raw);
// Throws sci_infer::Error for an unsupported type.
const TypeTraits& type_traits(GgmlType t);
// All supported types, in ggml's numbering order.
const TypeTraits* all_type_traits(int* n);

const char* act_quant_name(ActQuant a);  // "F32", "Q8_0", "Q8_1", "Q8_K"
inline int act_block(ActQuant a) { return a == ActQuant::Q8_K ? 256 : (a == ActQuant::F32 ? 1 : 32); }

}  // namespace sci_infer
