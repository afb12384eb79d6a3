// Mixture-of-experts FFN kernels (see moe.hpp for the order of every operation and why the
// result of a token depends on its own row only).
#include "kernels/moe.hpp"
#include "kernels/ops_loops.hpp"
#include "kernels/portable_math.hpp"

#include <omp.h>

#include <cmath>
#include <string>
#include <type_traits>

#include "sci_infer/error.hpp"

namespace sci_infer {
namespace {

// The portable exp: the same bits on host and device (portable_math.hpp).
KOKKOS_INLINE_FUNCTION float moe_exp(float x) { return pmath::exp_f32(x); }

using namespace kernel_loops;  // the same row/cell fan-out as ops*.cpp

void run_linear(const Linear& l, const Matrix& in, int32_t row0, int32_t n, const Matrix& out) {
  if (n == 0) return;
  Kokkos::fence();  // the kernels before the GEMM must have finished writing `in`
  const int64_t ldi = static_cast<int64_t>(in.extent(1)), ldo = static_cast<int64_t>(out.extent(1));
  l.forward(in.data() + int64_t(row0) * ldi, n, ldi, out.data() + int64_t(row0) * ldo, ldo);
}

// Rows [r0, r0 + n) of a 2-D float-like tensor, decoded to F32 on the host.
std::vector<float> decode_rows(const WeightView& v, int64_t r0, int64_t n, int64_t k0, int64_t width) {
  std::vector<float> row(size_t(v.n_in)), out(size_t(n * width));
  for (int64_t r = 0; r < n; ++r) {
    decode_row(v.type, v.row(r0 + r), row.data(), uint64_t(v.n_in));
    for (int64_t j = 0; j < width; ++j) out[size_t(r * width + j)] = row[size_t(k0 + j)];
  }
  return out;
}

void check_shape(const WeightView& v, int64_t n_out, int64_t n_in) {
  if (v.n_out != n_out || v.n_in != n_in)
    throw Error(v.name + ": shape [" + std::to_string(v.n_out) + " x " + std::to_string(v.n_in) + "], expected [" +
                std::to_string(n_out) + " x " + std::to_string(n_in) + "] (rows x K)");
}

}  // namespace

MoeWorkspace::MoeWorkspace(int32_t max_tok, int32_t n_expert, int32_t used, int32_t dim, int32_t ffn)
    : max_tokens(max_tok), n_used(used) {
  const int32_t slots = std::max(1, max_tok * used);
  auto mat = [](const char* name, int64_t r, int64_t c) {
    return Matrix(Kokkos::ViewAllocateWithoutInitializing(name), std::max<int64_t>(r, 1), c);
  };
  logits = mat("moe_logits", max_tok, n_expert);
  ids = IntMatrix("moe_ids", std::max(1, max_tok), used);
  weights = mat("moe_weights", max_tok, used);
  order = IntVector("moe_order", slots);
  row_expert = IntVector("moe_row_expert", slots);
  xg = mat("moe_xg", slots, dim);
  gu = mat("moe_gu", slots, 2 * int64_t(ffn));
  act = mat("moe_act", slots, ffn);
  yg = mat("moe_yg", slots, dim);
  slot_y = mat("moe_slot_y", slots, dim);
}

int moe_down_chunks(int64_t ffn, GgmlType down_type, int max_chunks) {
  const int64_t block = static_cast<int64_t>(ggml_block_elems(down_type));
  int c = max_chunks;
  while (c > 1 && ffn % (int64_t(c) * block) != 0) c /= 2;
  return c;
}

MoeLayerWeights make_moe_layer(const MoeWeightViews& v, int32_t n_expert, int32_t n_used, SwigluOai act,
                               int tp, int rank, int max_chunks, GemmBackend backend, int n_threads,
                               WeightArena* arena) {
  const int64_t dim = v.router.n_in;
  if (n_expert <= 0 || n_used <= 0 || n_used > n_expert || n_used > 64)
    throw Error(v.router.name + ": expert_used_count " + std::to_string(n_used) + " must be in [1, min(64, expert_count " +
                std::to_string(n_expert) + ")]");
  check_shape(v.router, n_expert, dim);
  if (v.gate.n_out % n_expert != 0)
    throw Error(v.gate.name + ": " + std::to_string(v.gate.n_out) + " rows are not expert_count " +
                std::to_string(n_expert) + " experts");
  const int64_t ffn_full = v.gate.n_out / n_expert;
  check_shape(v.gate, n_expert * ffn_full, dim);
  check_shape(v.up, n_expert * ffn_full, dim);
  check_shape(v.down, n_expert * dim, ffn_full);

  MoeLayerWeights w;
  w.n_expert = n_expert;
  w.n_used = n_used;
  w.dim = static_cast<int32_t>(dim);
  w.act = act;
  w.tp = tp;
  w.rank = rank;
  w.down_chunks = moe_down_chunks(ffn_full, v.down.type, max_chunks);
  int64_t ffn = ffn_full, ffn0 = 0;
  int local_chunks = w.down_chunks;
  w.expert0 = 0;
  w.n_local = n_expert;
  if (tp > 1 && w.down_chunks % tp == 0 && ffn_full % tp == 0) {  // layout rows
    ffn = ffn_full / tp;
    ffn0 = ffn * rank;
    local_chunks = w.down_chunks / tp;
  } else if (tp > 1 && n_expert % tp == 0) {  // layout experts
    w.split_experts = true;
    w.n_local = n_expert / tp;
    w.expert0 = w.n_local * rank;
  } else if (tp > 1) {
    throw Error(v.down.name + ": tp " + std::to_string(tp) + " divides neither the " + std::to_string(w.down_chunks) +
                " K-chunks of the expert FFN width " + std::to_string(ffn_full) + " (" + ggml_type_name(v.down.type) +
                ") nor the expert_count " + std::to_string(n_expert));
  }
  w.ffn = static_cast<int32_t>(ffn);
  check_k_chunks(v.down.name, ffn, local_chunks);
  w.router = make_linear(backend, &v.router, 1, n_threads, 1, arena);
  if (v.router_bias.data) {
    check_shape(v.router_bias, 1, n_expert);
    const auto b = decode_rows(v.router_bias, 0, 1, 0, n_expert);
    w.router_bias = Vector("moe_router_bias", n_expert);
    auto h = Kokkos::create_mirror_view(w.router_bias);
    for (int32_t e = 0; e < n_expert; ++e) h(e) = b[size_t(e)];
    Kokkos::deep_copy(w.router_bias, h);
  }
  w.gate_up_bias = Matrix("moe_gate_up_bias", n_expert, 2 * ffn);  // zero when absent
  w.down_bias = Matrix("moe_down_bias", n_expert, dim);
  auto gub = Kokkos::create_mirror_view(w.gate_up_bias);
  auto db = Kokkos::create_mirror_view(w.down_bias);
  Kokkos::deep_copy(gub, 0.0f);
  Kokkos::deep_copy(db, 0.0f);
  auto fill_bias = [&](const WeightView& b, int64_t width, int64_t k0, int64_t take, int64_t col0, auto& dst) {
    if (!b.data) return;
    check_shape(b, n_expert, width);
    const auto f = decode_rows(b, 0, n_expert, k0, take);
    for (int32_t e = 0; e < n_expert; ++e)
      for (int64_t j = 0; j < take; ++j) dst(e, col0 + j) = f[size_t(e * take + j)];
  };
  fill_bias(v.gate_bias, ffn_full, ffn0, ffn, 0, gub);
  fill_bias(v.up_bias, ffn_full, ffn0, ffn, ffn, gub);
  fill_bias(v.down_bias, dim, 0, dim, 0, db);
  Kokkos::deep_copy(w.gate_up_bias, gub);
  Kokkos::deep_copy(w.down_bias, db);

  w.gate_up.resize(size_t(n_expert));
  w.down.resize(size_t(n_expert));
  for (int32_t e = w.expert0; e < w.expert0 + w.n_local; ++e) {
    const WeightView gu[2] = {v.gate.rows(e * ffn_full + ffn0, ffn), v.up.rows(e * ffn_full + ffn0, ffn)};
    w.gate_up[size_t(e)] = make_linear(backend, gu, 2, n_threads, 1, arena);
    const WeightView d = v.down.rows(int64_t(e) * dim, dim).columns(ffn0, ffn);
    w.down[size_t(e)] = make_linear(backend, &d, 1, n_threads, local_chunks, arena);
  }
  return w;
}

void moe_topk_softmax(const Matrix& logits, int32_t n, int32_t n_used, const IntMatrix& ids,
                      const Matrix& weights) {
  const int32_t n_expert = static_cast<int32_t>(logits.extent(1));
  for_each_row("sci_infer::moe_topk_softmax", n, KOKKOS_LAMBDA(const int32_t t) {
    // Selection by repeated scans: k is small, and "first strictly larger wins" gives the
    // lower id on ties without any sort whose stability could differ between backends.
    float chosen[64];
    for (int32_t k = 0; k < n_used; ++k) {
      int32_t best = -1;
      float best_v = 0.0f;
      for (int32_t e = 0; e < n_expert; ++e) {
        bool taken = false;
        for (int32_t q = 0; q < k; ++q) taken = taken || ids(t, q) == e;
        if (taken) continue;
        const float v = logits(t, e) != logits(t, e) ? -INFINITY : logits(t, e);  // NaN ranks last
        if (best < 0 || v > best_v) {
          best = e;
          best_v = v;
        }
      }
      ids(t, k) = best;
      chosen[k] = best_v;
    }
    // Softmax over the chosen logits; chosen[0] is their maximum.
    const float m = chosen[0];
    float sum = 0.0f;
    for (int32_t k = 0; k < n_used; ++k) {
      chosen[k] = moe_exp(chosen[k] - m);
      sum += chosen[k];
    }
    for (int32_t k = 0; k < n_used; ++k) weights(t, k) = chosen[k] / sum;
  });
}

void swiglu_oai(const Matrix& gate_up, int32_t ffn, int32_t n, SwigluOai p, const Matrix& out) {
  const float alpha = p.alpha, limit = p.limit;
  for_each_cell("sci_infer::swiglu_oai", n, ffn, KOKKOS_LAMBDA(const int32_t t, const int32_t j) {
    float g = gate_up(t, j), u = gate_up(t, ffn + j);
    g = g > limit ? limit : g;
    u = u > limit ? limit : (u < -limit ? -limit : u);
    out(t, j) = g / (1.0f + moe_exp(alpha * -g)) * (u + 1.0f);
  });
}

void moe_route(const MoeLayerWeights& w, const Matrix& x, int32_t n, MoeWorkspace& ws) {
  if (n > ws.max_tokens) throw Error("moe_route: " + std::to_string(n) + " rows exceed the workspace's " +
                                     std::to_string(ws.max_tokens));
  run_linear(*w.router, x, 0, n, ws.logits);
  if (w.router_bias.extent(0) > 0) {
    const auto logits = ws.logits;
    const auto b = w.router_bias;
    for_each_cell("sci_infer::moe_router_bias", n, w.n_expert,
                  KOKKOS_LAMBDA(const int32_t t, const int32_t e) { logits(t, e) += b(e); });
  }
  moe_topk_softmax(ws.logits, n, w.n_used, ws.ids, ws.weights);
}

void moe_experts(const MoeLayerWeights& w, const Matrix& x, int32_t n, MoeWorkspace& ws) {
  const int32_t used = w.n_used, slots = n * used, dim = w.dim, ffn = w.ffn;
  // Group the slots per expert with a counting sort on the host: expert by expert, and within an
  // expert in ascending slot (= token) order. The grouping only decides which GEMM call a row
  // goes to; it never changes the row's bits.
  Kokkos::fence();
  auto ids = Kokkos::create_mirror_view(ws.ids);
  Kokkos::deep_copy(ids, ws.ids);
  ws.offsets.assign(size_t(w.n_expert) + 1, 0);
  for (int32_t t = 0; t < n; ++t)
    for (int32_t k = 0; k < used; ++k) ++ws.offsets[size_t(ids(t, k)) + 1];
  for (int32_t e = 0; e < w.n_expert; ++e) ws.offsets[size_t(e) + 1] += ws.offsets[size_t(e)];
  auto order = Kokkos::create_mirror_view(ws.order);
  auto row_expert = Kokkos::create_mirror_view(ws.row_expert);
  std::vector<int32_t> next(ws.offsets.begin(), ws.offsets.end() - 1);
  for (int32_t t = 0; t < n; ++t)
    for (int32_t k = 0; k < used; ++k) {
      const int32_t e = ids(t, k), r = next[size_t(e)]++;
      order(r) = t * used + k;
      row_expert(r) = e;
    }
  Kokkos::deep_copy(ws.order, order);
  Kokkos::deep_copy(ws.row_expert, row_expert);

  const auto xg = ws.xg, gu = ws.gu, act = ws.act, yg = ws.yg, slot_y = ws.slot_y;
  const auto ord = ws.order, rexp = ws.row_expert;
  const auto gub = w.gate_up_bias;
  for_each_cell("sci_infer::moe_gather", slots, dim, KOKKOS_LAMBDA(const int32_t r, const int32_t j) {
    xg(r, j) = x(ord(r) / used, j);
  });
  // Layout experts: only this rank's experts are computed; the other grouped rows keep whatever
  // the buffers held and are never read (their slots come from their owners).
  auto rows_of = [&](int32_t e) { return ws.offsets[size_t(e) + 1] - ws.offsets[size_t(e)]; };
  for (int32_t e = w.expert0; e < w.expert0 + w.n_local; ++e)
    run_linear(*w.gate_up[size_t(e)], xg, ws.offsets[size_t(e)], rows_of(e), gu);
  Kokkos::fence();
  for_each_cell("sci_infer::moe_gate_up_bias", slots, 2 * ffn, KOKKOS_LAMBDA(const int32_t r, const int32_t j) {
    gu(r, j) += gub(rexp(r), j);
  });
  swiglu_oai(gu, ffn, slots, w.act, act);
  for (int32_t e = w.expert0; e < w.expert0 + w.n_local; ++e)
    run_linear(*w.down[size_t(e)], act, ws.offsets[size_t(e)], rows_of(e), yg);
  Kokkos::fence();
  for_each_cell("sci_infer::moe_scatter", slots, dim, KOKKOS_LAMBDA(const int32_t r, const int32_t j) {
    slot_y(ord(r), j) = yg(r, j);
  });
}

void moe_combine(const MoeLayerWeights& w, int32_t n, const MoeWorkspace& ws, const Matrix& out) {
  const int32_t used = w.n_used;
  const auto ids = ws.ids;
  const auto wt = ws.weights;
  const auto y = ws.slot_y;
  const auto db = w.down_bias;
  for_each_cell("sci_infer::moe_combine", n, w.dim, KOKKOS_LAMBDA(const int32_t t, const int32_t j) {
    float acc = (y(t * used, j) + db(ids(t, 0), j)) * wt(t, 0);
    for (int32_t k = 1; k < used; ++k) acc = acc + (y(t * used + k, j) + db(ids(t, k), j)) * wt(t, k);
    out(t, j) = acc;
  });
}

void moe_exchange(const MoeLayerWeights& w, int32_t n, MoeWorkspace& ws, const MoeExchange& ex) {
  if (w.tp == 1 || n == 0) return;
  const int64_t slots = int64_t(n) * w.n_used, ld = static_cast<int64_t>(ws.slot_y.extent(1));
  Kokkos::fence();
  auto host = Kokkos::create_mirror_view(ws.slot_y);
  Kokkos::deep_copy(host, ws.slot_y);
  if (w.split_experts) {
    auto ids = Kokkos::create_mirror_view(ws.ids);
    Kokkos::deep_copy(ids, ws.ids);
    std::vector<int> owner(static_cast<size_t>(slots));
    for (int32_t t = 0; t < n; ++t)
      for (int32_t k = 0; k < w.n_used; ++k) owner[size_t(t) * w.n_used + k] = w.owner(ids(t, k));
    if (!ex.share_rows) throw Error("moe_exchange: expert-sharded layer without share_rows");
    ex.share_rows(host.data(), slots, w.dim, ld, owner);
  } else {
    if (!ex.sum_partials) throw Error("moe_exchange: row-split layer without sum_partials");
    ex.sum_partials(host.data(), slots, w.dim, ld);
  }
  Kokkos::deep_copy(ws.slot_y, host);
}

void moe_ffn(const MoeLayerWeights& w, const Matrix& x, int32_t n, MoeWorkspace& ws, const Matrix& out,
             const MoeExchange& ex) {
  moe_route(w, x, n, ws);
  moe_experts(w, x, n, ws);
  moe_exchange(w, n, ws, ex);
  moe_combine(w, n, ws, out);
}

}  // namespace sci_infer
