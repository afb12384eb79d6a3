#include "engine/kv_cache.hpp"

#include <algorithm>
#include <string>

namespace sci_infer {

namespace {
// K and V of kKvBlock positions of every layer, for n_kv_heads heads.
size_t page_bytes(const ModelConfig& c, int32_t n_kv_heads) {
  return 2 * size_t(c.n_layers) * kKvBlock * size_t(n_kv_heads) * size_t(c.head_dim) * sizeof(float);
}
}  // namespace

int64_t KvCache::pages_in_budget(const ModelConfig& c, size_t budget_bytes) {
  return static_cast<int64_t>(std::min<size_t>(budget_bytes / page_bytes(c, c.n_kv_heads), 1u << 30));
}

KvCache::KvCache(const ModelConfig& c, const ShardLayout& shard, size_t budget_bytes, int max_sequences) {
  const size_t full_page = page_bytes(c, c.n_kv_heads);
  const int64_t fit = pages_in_budget(c, budget_bytes);
  if (fit < 1)
    throw Error("KV-cache budget of " + std::to_string(budget_bytes) + " bytes holds no page (one page of " +
                std::to_string(kKvBlock) + " positions of the whole model needs " + std::to_string(full_page) +
                " bytes)");
  // No sequence ever holds more than its context's pages: more than max_sequences of them would
  // never be used (and capping here changes no result: a request needs at most one context).
  const int64_t per_seq = pages_for(c.context);
  n_pages_ = static_cast<int32_t>(std::min<int64_t>(fit, per_seq * max_sequences));
  max_pages_per_seq_ = static_cast<int32_t>(std::min<int64_t>(per_seq, n_pages_));
  const size_t kv_dim = size_t(shard.n_kv_heads) * c.head_dim;
  bytes_ = page_bytes(c, shard.n_kv_heads) * size_t(n_pages_);
  // Not zero-filled: a position is always written before any attention reads it.
  views_.k = decltype(views_.k)(Kokkos::ViewAllocateWithoutInitializing("kv_k"), c.n_layers, n_pages_, kv_dim, kKvBlock);
  views_.v = decltype(views_.v)(Kokkos::ViewAllocateWithoutInitializing("kv_v"), c.n_layers, n_pages_, kKvBlock, kv_dim);
  views_.page_table = IntMatrix("kv_page_table", max_sequences, max_pages_per_seq_);
  page_table_host_ = Kokkos::create_mirror_view(views_.page_table);
  for (int32_t p = n_pages_ - 1; p >= 0; --p) free_pages_.push_back(p);
  for (int32_t s = max_sequences - 1; s >= 0; --s) free_slots_.push_back(s);
  slot_pages_.resize(max_sequences);
}

int32_t KvCache::acquire(int32_t positions) {
  const int32_t need = pages_for(std::max(positions, 1));
  if (free_slots_.empty() || int32_t(free_pages_.size()) < need) return -1;
  const int32_t slot = free_slots_.back();
  free_slots_.pop_back();
  for (int32_t i = 0; i < need; ++i) {
    const int32_t page = free_pages_.back();
    free_pages_.pop_back();
    slot_pages_[slot].push_back(page);
    page_table_host_(slot, i) = page;
  }
  Kokkos::deep_copy(views_.page_table, page_table_host_);
  return slot;
}

void KvCache::release(int32_t slot) {
  // Which page or slot a sequence gets never changes its results (attention reads through the
  // page table), so freed ones simply go back on the stacks: O(1) per page.
  for (int32_t page : slot_pages_[slot]) free_pages_.push_back(page);
  slot_pages_[slot].clear();
  free_slots_.push_back(slot);
}

KvCacheStats KvCache::stats() const {
  KvCacheStats s;
  s.bytes = bytes_;
  s.pages = n_pages_;
  s.pages_in_use = n_pages_ - static_cast<int32_t>(free_pages_.size());
  s.page_tokens = kKvBlock;
  return s;
}

}  // namespace sci_infer
