#pragma once
// One forward step of the transformer over a flat list of tokens from many sequences.
#include <vector>

#include "engine/model_weights.hpp"
#include "kernels/ops.hpp"
#include "sci_infer/model.hpp"

namespace sci_infer {

struct StepPlan {
  struct Token {
    int32_t seq = 0;        // index of the sequence in the engine's active list
    int32_t slot = 0;       // its KV-cache slot
    int32_t position = 0;
    int32_t token = -1;     // -1: the input is the embedding row `emb`
    const float* emb = nullptr;
    bool want_logits = false;
    bool want_hidden = false;  // final (normed) hidden state, for pooling
  };
  std::vector<Token> tokens;
};

// Host copies of what the step produced, in plan order.
struct StepOutputs {
  std::vector<float> logits;  // one n_vocab row per token with want_logits
  std::vector<float> hidden;  // one dim row per token with want_hidden
};

// With tensor parallelism every rank of the group runs the same plan on its heads, FFN rows and
// vocabulary rows; `comm` combines the row-parallel outputs and gathers the logits, so every
// rank ends the step with the same residual stream and the same full logits.
class ForwardPass {
 public:
  ForwardPass(const ModelConfig& c, const ShardLayout& shard, TensorComm& comm, int32_t max_tokens);
  StepOutputs run(const StepPlan& plan, const KvCacheViews& cache, const ModelWeights& w);

 private:
  ModelConfig c_;
  ShardLayout s_;
  TensorComm& comm_;
  int32_t max_tokens_;
  int32_t q_dim_, kv_dim_, ffn_;
  std::vector<int32_t> vocab_counts_;  // vocabulary rows of each rank
  std::vector<int> row_owner_;
  ByteVector emb_rows_;  // this step's embedding-table rows, one per token
  Matrix x_, h_, qkv_, att_, tmp_, gate_up_, act_, sel_, logits_, emb_in_, rope_cs_, rope_cs_swa_;
  StepTokens st_;
  IntVector logit_rows_, hidden_rows_;
  void linear(const Linear& l, const Matrix& in, int32_t n, const Matrix& out);
  void embed(const StepPlan& plan, const ModelWeights& w);
  void sum_partials(const Matrix& y, int32_t n);
  bool any_swa_ = false;
};

}  // namespace sci_infer
