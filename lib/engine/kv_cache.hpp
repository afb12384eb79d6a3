#pragma once
// Paged KV cache with a fixed memory budget. A sequence reserves all pages it can ever need
// when it is admitted (prompt + max new tokens), so a running sequence never waits for memory
// and nothing is ever evicted; sequences that do not fit wait in the queue.
//
// The budget is that of one model copy (the whole tensor-parallel group): the number of pages
// is what the full model's KV (every KV head) fits in it, the same for every tp, so which
// records fit never depends on the layout; each rank then allocates those pages for the KV
// heads it stores (1/tp of them, or one replicated head). Every allocation is bounded by the
// budget: the page table holds at most the pages that fit, whatever the model's context length.
#include <vector>

#include "kernels/ops.hpp"
#include "model/shard_layout.hpp"
#include "sci_infer/engine.hpp"
#include "sci_infer/model.hpp"

namespace sci_infer {

class KvCache {
 public:
  // `model`: the whole model's configuration; `shard`: the KV heads this rank stores.
  KvCache(const ModelConfig& model, const ShardLayout& shard, size_t budget_bytes, int max_sequences);
  // Pages a budget of `budget_bytes` holds for `model` (the same on every rank of any layout).
  static int64_t pages_in_budget(const ModelConfig& model, size_t budget_bytes);
  int32_t pages_for(int32_t positions) const { return (positions + kKvBlock - 1) / kKvBlock; }
  int32_t total_pages() const { return n_pages_; }
  // Reserves pages for `positions` positions; returns the sequence slot, or -1 if it must wait.
  int32_t acquire(int32_t positions);
  void release(int32_t slot);
  const KvCacheViews& views() const { return views_; }
  KvCacheStats stats() const;

 private:
  int32_t n_pages_ = 0, max_pages_per_seq_ = 0;
  size_t bytes_ = 0;
  KvCacheViews views_;
  IntMatrix::HostMirror page_table_host_;
  std::vector<int32_t> free_pages_;      // stacks of free pages and sequence slots
  std::vector<int32_t> free_slots_;
  std::vector<std::vector<int32_t>> slot_pages_;
};

}  // namespace sci_infer
