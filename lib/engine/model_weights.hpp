#pragma once
// The model's weights as the kernels want them: packed GEMM operands (one fused Q|K|V and one
// fused gate|up per layer), norms and the token-embedding table in the execution space.
#include <memory>
#include <vector>

#include "kernels/linear.hpp"
#include "kernels/ops.hpp"
#include "model/shard_layout.hpp"
#include "parallel/tensor_comm.hpp"
#include "sci_infer/model.hpp"

namespace sci_infer {

// Optional parts (biases, QK-norm, post-norms) are empty Views (extent 0) when the model's
// architecture or file has none (ModelConfig::roles_present).
struct LayerWeights {
  Vector attn_norm, ffn_norm;
  std::unique_ptr<Linear> qkv, wo, gate_up, down;
  Vector qkv_bias, wo_bias, gate_up_bias, down_bias;  // this rank's slices, stacked like the GEMM outputs
  Vector q_norm, k_norm, post_attn_norm, post_ffn_norm;
};

// One RoPE table's frequencies: the angle of pair i at position p is p * inv_freq[i], and cos/sin
// are scaled by mscale (YaRN, rope.scaling.attn_factor).
struct RopeFrequencies {
  std::vector<double> inv_freq;
  double mscale = 1.0;
};
// llama.cpp's conventions (ggml rope_yarn, llama_context's yarn_attn_factor), in double.
RopeFrequencies rope_frequencies(const ModelConfig& c, bool sliding_window_layer, const float* freq_factors);

// With tensor parallelism each rank holds only its slices (model/shard_layout.hpp).
struct ModelWeights {
  // Host rows [vocab0, +n_vocab_rows) of the embedding table in token_embd_type: in the mapped
  // file (read with token_embd_file->copy_out) or in node-shared memory (token_embd_file null).
  const uint8_t* token_embd = nullptr;
  const GgufFile* token_embd_file = nullptr;
  size_t token_embd_row_bytes = 0, token_embd_bytes_held = 0;
  int32_t vocab0 = 0, n_vocab_rows = 0;
  GgmlType token_embd_type = GgmlType::F32;
  // Copies embedding row `id` (a vocabulary id of this rank's slice) to dst.
  void copy_embedding_row(int32_t id, uint8_t* dst) const;
  Vector output_norm;
  std::unique_ptr<Linear> output;  // output.weight, or token_embd.weight when tied
  std::vector<LayerWeights> layers;
  Kokkos::View<double*> rope_inv_freq, rope_inv_freq_swa;  // global and sliding-window layers
  double rope_mscale = 1.0, rope_mscale_swa = 1.0;
  size_t bytes() const;

  // arena: where packed weights go (node-shared memory), or nullptr for private memory.
  static ModelWeights load(const Model& model, GemmBackend backend, int n_threads, const ShardLayout& shard,
                           Reduction reduction, WeightArena* arena = nullptr);
};

}  // namespace sci_infer
