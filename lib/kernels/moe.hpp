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
// Tensor parallelism, two layouts with the bits of tp = 1 (make_moe_layer picks one):
//  * rows (the dense FFN's split, per expert): rank r of tp holds rows [r*ffn/tp, +ffn/tp) of
//    every expert's gate and up (and their biases) and the same K columns of every expert's down,
//    with chunks/tp of the down's K-chunks. The per-slot down outputs are partial subtree roots;
//    the group sums them (TensorComm::sum_partials: the upper levels of the same pairwise tree)
//    BEFORE moe_combine adds the down bias and the weights. Needs tp | chunks.
//  * experts (when tp does not divide the chunks, e.g. MXFP4 experts of width 2880: 32-value
//    blocks leave 2 chunks): rank r holds whole experts [r*E/tp, +E/tp), computes the slots that
//    chose them with all chunks, and the group copies each slot row from its owner
//    (TensorComm::share_rows). Needs tp | n_expert.
// chunks, the down projection's K-chunk count, depends on the shape only: the largest power of
// two <= max_chunks such that every chunk is whole blocks of the down's type. Routing is
// replicated (every rank computes the same logits from the same residual stream).
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
  int32_t ffn = 0;                                 // this rank's rows of each expert it holds
  int tp = 1, rank = 0;
  bool split_experts = false;                      // layout "experts" (else "rows")
  int32_t expert0 = 0, n_local = 0;                // the experts this rank computes
  int down_chunks = 1;                             // K-chunks of the whole down projection
  SwigluOai act;
  std::unique_ptr<Linear> router;                  // [n_expert, dim], replicated on every rank
  Vector router_bias;                              // [n_expert]; extent 0: no bias
  std::vector<std::unique_ptr<Linear>> gate_up;    // per expert [2*ffn, dim]: gate rows, then up rows (null: not held)
  std::vector<std::unique_ptr<Linear>> down;       // per expert [dim, ffn] (K-chunked)
  int owner(int32_t expert) const { return split_experts ? expert / n_local : rank; }
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

// The down projection's K-chunk count for experts of width ffn stored as `down_type`.
int moe_down_chunks(int64_t ffn, GgmlType down_type, int max_chunks);

// Builds this rank's MoeLayerWeights in the layout above (gate and up of one expert stacked into
// one Linear). Throws sci_infer::Error naming the tensor and the widths when a shape does not
// fit or neither layout works for this tp.
MoeLayerWeights make_moe_layer(const MoeWeightViews& v, int32_t n_expert, int32_t n_used, SwigluOai act,
                               int tp, int rank, int max_chunks, GemmBackend backend, int n_threads,
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

// Groups the rows per expert and runs the expert FFNs this rank holds; fills ws.slot_y (down
// bias NOT added: under tp these are partial sums or rows of other ranks, see MoeExchange).
void moe_experts(const MoeLayerWeights& w, const Matrix& x, int32_t n, MoeWorkspace& ws);

// out[t] = sum_k weights[t][k] * (slot_y[t*n_used + k] + down_bias[ids[t][k]]), slots in order.
void moe_combine(const MoeLayerWeights& w, int32_t n, const MoeWorkspace& ws, const Matrix& out);

// How the tp group completes ws.slot_y (host buffers, TensorComm's signatures). Unused at tp 1.
struct MoeExchange {
  std::function<void(float* y, int64_t rows, int64_t cols, int64_t ld)> sum_partials;  // layout rows
  std::function<void(float* y, int64_t rows, int64_t cols, int64_t ld, const std::vector<int>& owner)>
      share_rows;  // layout experts
};

// Completes ws.slot_y across the group (after moe_experts, before moe_combine).
void moe_exchange(const MoeLayerWeights& w, int32_t n, MoeWorkspace& ws, const MoeExchange& ex);

// The whole branch: route, experts, exchange (tp > 1), combine.
void moe_ffn(const MoeLayerWeights& w, const Matrix& x, int32_t n, MoeWorkspace& ws, const Matrix& out,
             const MoeExchange& ex = {});

}  // namespace sci_infer
