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

struct LayerWeights {
  Vector attn_norm, ffn_norm;
  std::unique_ptr<Linear> qkv, wo, gate_up, down;
};

// With tensor parallelism each rank holds only its slices (model/shard_layout.hpp).
struct ModelWeights {
  ByteVector token_embd;   // raw rows [vocab0, +n_vocab_rows) in token_embd_type, decoded on the fly
  int32_t vocab0 = 0, n_vocab_rows = 0;
  GgmlType token_embd_type = GgmlType::F32;
  Vector output_norm;
  std::unique_ptr<Linear> output;  // output.weight, or token_embd.weight when tied
  std::vector<LayerWeights> layers;
  Kokkos::View<double*> rope_inv_freq;
  size_t bytes() const;

  // arena: where packed weights go (node-shared memory), or nullptr for private memory.
  static ModelWeights load(const Model& model, GemmBackend backend, int n_threads, const ShardLayout& shard,
                           Reduction reduction, WeightArena* arena = nullptr);
};

}  // namespace sci_infer
