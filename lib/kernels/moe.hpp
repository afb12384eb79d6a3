#pragma once
// Mixture-of-experts FFN (gpt-oss, llama.cpp's build_moe_ffn with SOFTMAX_WEIGHT gating and the
// clamped "OAI" SwiGLU), batch-, thread- and tp-invariant:
//
//   logits[t]  = router(x[t]) + router_bias                  (an ordinary Linear GEMM)
//   top-k      : the n_used largest logits of row t; ties go to the LOWER expert id; a NaN logit
//                ranks below every number. Slots k = 0..n_used-1 are in that rank order.
//   weight[t]  = softmax over the chosen logits only (gpt-oss: softmax AFTER top-k), summed in
//                slot order.
//   expert e   : g|u = gate_up_e(x[t]) + gate_up_bias_e; a = swiglu_oai(g, u);
//                y = down_e(a) + down_bias_e
//   out[t]     = sum over slots k = 0, 1, ... (rank order, plain multiply then add, as llama.cpp's
//                ggml_mul + chained ggml_add): ((w0*y0 + w1*y1) + w2*y2) + ...
//
// Why a token's bits depend on its own row only: routing and combine are per-row kernels with
// sequential loops; the expert GEMMs run on rows gathered per expert (ascending token order,
// a counting sort on the host), but a Linear never lets rows interact (linear.hpp), so a row's
// output does not depend on which other rows share its group, their number or their order.
//
// Tensor parallelism (the dense FFN's split, per expert): rank r of tp holds rows
// [r*ffn/tp, +ffn/tp) of every expert's gate and up (and of their biases) and the same K columns
// of every expert's down, with reduction_chunks/tp K-chunks. The per-slot down outputs are
// partial subtree roots; the caller sums them across the group (TensorComm::sum_partials, the
// upper levels of the same pairwise tree) BEFORE moe_combine adds the down bias and weights
// them, so every tp gives the bits of tp = 1. Routing is replicated (every rank computes the
// same logits from the same residual stream). Shapes: tp and reduction_chunks must divide the
// expert FFN width (expert_feed_forward_length), reduction_chunks a power of two.
#include <functional>
#include <memory>
#include <vector>

#include "kernels/linear.hpp"
#include "kernels/ops.hpp"

namespace sci_infer {

// The clamped SwiGLU of gpt-oss (ggml_swiglu_oai): with g clamped above at limit and u clamped
// to [-limit, limit], out = g * sigmoid(alpha * g) * (u + 1), evaluated as
// g / (1 + exp(-alpha * g)) * (u + 1) (llama.cpp's operation order).
struct SwigluOai {
  float alpha = 1.702f;
  float limit = 7.0f;
};

// One layer's experts as this rank holds them.
struct MoeLayerWeights {
  int32_t n_expert = 0, n_used = 0, dim = 0;
  int32_t ffn = 0;                                 // this rank's rows of each expert (full / tp)
  SwigluOai act;
  std::unique_ptr<Linear> router;                  // [n_expert, dim], replicated on every rank
  Vector router_bias;                              // [n_expert]; extent 0: no bias
  std::vector<std::unique_ptr<Linear>> gate_up;    // per expert [2*ffn, dim]: gate rows, then up rows
  std::vector<std::unique_ptr<Linear>> down;       // per expert [dim, ffn] (K-chunked for tp)
  Matrix gate_up_bias;                             // [n_expert][2*ffn] (gate part, then up part)
  Matrix down_bias;                                // [n_expert][dim]
};

// Where the expert weights of one layer live in the file: the 3-D GGUF tensors flattened to
// 2-D, i.e. ffn_{gate,up}_exps as [n_expert*ffn_full rows, dim] and ffn_down_exps as
// [n_expert*dim rows, ffn_full]; the biases as [n_expert rows, width] (F32/F16/BF16).
// A missing bias has data == nullptr.
struct MoeWeightViews {
  WeightView router, router_bias;
  WeightView gate, up, down;
  WeightView gate_bias, up_bias, down_bias;
};

// Builds this rank's MoeLayerWeights: expert e's gate/up rows [e*ffn_full + ffn0, +ffn) stacked
// into one Linear, its down columns [ffn0, +ffn) with local_chunks K-chunks. Throws
// sci_infer::Error naming the tensor when a shape does not fit or tp does not divide ffn_full.
MoeLayerWeights make_moe_layer(const MoeWeightViews& v, int32_t n_expert, int32_t n_used, SwigluOai act,
                               int tp, int rank, int local_chunks, GemmBackend backend, int n_threads,
                               WeightArena* arena = nullptr);

// Buffers of one forward pass for up to max_tokens rows (shared by every MoE layer).
struct MoeWorkspace {
  int32_t max_tokens = 0, n_used = 0;
  Matrix logits;       // [max_tokens][n_expert]
  IntMatrix ids;       // [max_tokens][n_used] chosen experts, in rank order
  Matrix weights;      // [max_tokens][n_used]
  IntVector order;     // grouped row r -> slot t*n_used + k
  IntVector row_expert;// grouped row r -> its expert
  Matrix xg, gu, act, yg;   // grouped rows: inputs, gate|up, activation, down output
  Matrix slot_y;       // [max_tokens*n_used][dim] down output per (token, slot), bias not added
  std::vector<int32_t> offsets;  // host: expert e's grouped rows are [offsets[e], offsets[e+1])
  MoeWorkspace() = default;
  MoeWorkspace(int32_t max_tokens, int32_t n_expert, int32_t n_used, int32_t dim, int32_t ffn);
};

// ---- the steps (each usable alone; tests drive them one by one) ----

// ids[t][k], weights[t][k] for t < n from logits[t][0..n_expert) (rule in the header comment).
void moe_topk_softmax(const Matrix& logits, int32_t n, int32_t n_used, const IntMatrix& ids,
                      const Matrix& weights);

// out[t][j] = swiglu_oai(gu[t][j], gu[t][ffn + j]) for t < n, j < ffn.
void swiglu_oai(const Matrix& gate_up, int32_t ffn, int32_t n, SwigluOai p, const Matrix& out);

// Router logits and top-k/softmax into ws.logits / ws.ids / ws.weights.
void moe_route(const MoeLayerWeights& w, const Matrix& x, int32_t n, MoeWorkspace& ws);

// Groups the rows per expert and runs the expert FFNs; fills ws.slot_y (down bias NOT added:
// under tp these are partial sums the caller combines first).
void moe_experts(const MoeLayerWeights& w, const Matrix& x, int32_t n, MoeWorkspace& ws);

// out[t] = sum_k weights[t][k] * (slot_y[t*n_used + k] + down_bias[ids[t][k]]), slots in order.
void moe_combine(const MoeLayerWeights& w, int32_t n, const MoeWorkspace& ws, const Matrix& out);

// The whole branch. sum_partials(y, rows) combines ws.slot_y across the tp group (no-op at tp 1).
void moe_ffn(const MoeLayerWeights& w, const Matrix& x, int32_t n, MoeWorkspace& ws, const Matrix& out,
             const std::function<void(const Matrix&, int32_t)>& sum_partials = {});

}  // namespace sci_infer
