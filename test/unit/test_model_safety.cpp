// Model files that cannot blow up memory, non-finite weights that never pass as results, and a
// KV budget that does not depend on the tensor-parallel layout (issues 14 item 9, 15).
//
// Hostile files are a valid tiny model copied through the project's GGUF writer with one value
// changed (gguf_edit.hpp). Memory bounds are asserted in a forked child under RLIMIT_AS (model
// opening uses no threads, so forking is safe) or by the growth of this process's RSS.
#include <catch2/catch.hpp>

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <limits>
#include <string>

#include "engine/kv_cache.hpp"
#include "gguf_edit.hpp"
#include "model/shard_layout.hpp"
#include "sci_infer/engine.hpp"
#include "sci_infer/model.hpp"
#include "sci_infer/model_maker.hpp"
#include "temp_dir.hpp"

using namespace sci_infer;
using Catch::Matchers::Contains;

namespace {

struct TempDir : testing::TempDir {
  TempDir() : testing::TempDir("sci_infer_model_safety") {}
};

std::string make_tiny(const TempDir& d, const std::string& name, GgmlType dtype = GgmlType::F32, bool tied = true,
                      uint32_t kv_heads = 2) {
  ModelSpec s = model_spec_preset("tiny");
  s.dtype = dtype;
  s.tied_output = tied;
  s.n_kv_heads = kv_heads;
  s.seed = 7;
  const std::string path = d.file(name);
  make_test_model(s, path);
  return path;
}

size_t proc_statm(int field) {  // /proc/self/statm: size resident ... in pages
  std::ifstream in("/proc/self/statm");
  size_t v[2] = {0, 0};
  in >> v[0] >> v[1];
  return v[field] * static_cast<size_t>(::sysconf(_SC_PAGESIZE));
}
size_t rss_bytes() { return proc_statm(1); }

// Runs fn in a child whose address space may grow by at most `headroom` bytes; returns the
// child's message ("" if fn returned normally) or "bad_alloc" / "crashed".
std::string in_bounded_child(size_t headroom, const std::function<void()>& fn) {
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::close(fds[0]);
    const rlim_t limit = proc_statm(0) + headroom;
    struct rlimit rl = {limit, limit};
    ::setrlimit(RLIMIT_AS, &rl);
    std::string msg;
    try {
      fn();
    } catch (const std::bad_alloc&) {
      msg = "bad_alloc";
    } catch (const std::exception& e) {
      msg = std::string("error: ") + e.what();
    }
    if (::write(fds[1], msg.data(), msg.size()) < 0) _exit(3);
    _exit(0);
  }
  ::close(fds[1]);
  std::string msg;
  char buf[4096];
  for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;) msg.append(buf, static_cast<size_t>(n));
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return "crashed";
  return msg;
}

constexpr size_t kHeadroom = 256u << 20;  // far more than a 440 KB file needs, far less than 2^30 of anything

}  // namespace

TEST_CASE("a block_count that disagrees with the tensors is refused before anything is sized from it",
          "[model_safety]") {
  TempDir d;
  const std::string good = make_tiny(d, "good.gguf");
  for (uint64_t claimed : {uint64_t(1) << 30, uint64_t(4096), uint64_t(3), uint64_t(1)}) {
    const std::string bad = d.file("layers" + std::to_string(claimed) + ".gguf");
    testing::rewrite_gguf(good, bad, testing::set_uint("llama.block_count", claimed));
    const std::string msg = in_bounded_child(kHeadroom, [&] { Model::open(bad); });
    INFO("block_count " << claimed << ": " << msg);
    CHECK_THAT(msg, Contains("error: ") && Contains("llama.block_count = " + std::to_string(claimed)));
    if (claimed > 4096) CHECK_THAT(msg, Contains("out of range"));
    else CHECK_THAT(msg, Contains("holds tensors of 2 layers (blk.0 to blk.1)"));
  }
  // The real count still opens (the check is not simply "refuse everything").
  CHECK(in_bounded_child(kHeadroom, [&] { Model::open(good); }) == "");
}

TEST_CASE("a tensor missing from one layer or an extra layer is named", "[model_safety]") {
  TempDir d;
  const std::string good = make_tiny(d, "good.gguf");
  // blk.1 renamed to blk.2: two layers' worth of tensors, but numbered 0 and 2.
  auto f = GgufFile::open(good);
  GgufWriter w;
  for (const auto& k : f->metadata_keys()) w.set_value(k, f->value(k));
  for (const auto& t : f->tensors()) {
    std::string name = t.name;
    if (name.compare(0, 6, "blk.1.") == 0) name = "blk.2." + name.substr(6);
    const uint8_t* p = f->tensor_data(t);
    w.add_tensor(name, t.ne, t.type, std::vector<uint8_t>(p, p + t.n_bytes));
  }
  const std::string gap = d.file("gap.gguf");
  w.write(gap);
  REQUIRE_THROWS_WITH(Model::open(gap), Contains("llama.block_count = 2 but the file holds tensors of 2 layers "
                                                 "(blk.0 to blk.2)"));
}

TEST_CASE("shard metadata out of range is refused with the key named", "[model_safety]") {
  TempDir d;
  const std::string good = make_tiny(d, "good.gguf");
  const std::string bad = d.file("shard.gguf");
  // Add the keys a shard file carries, with absurd values.
  auto f = GgufFile::open(good);
  GgufWriter w;
  for (const auto& k : f->metadata_keys()) w.set_value(k, f->value(k));
  w.set_uint64("sci_infer.shard.tp", (uint64_t(1) << 32) + 2);  // wraps to 2 in 32 bits
  w.set_uint64("sci_infer.shard.rank", 0);
  w.set_uint64("sci_infer.shard.vocab_size", 1024);
  for (const auto& t : f->tensors()) {
    const uint8_t* p = f->tensor_data(t);
    w.add_tensor(t.name, t.ne, t.type, std::vector<uint8_t>(p, p + t.n_bytes));
  }
  w.write(bad);
  REQUIRE_THROWS_WITH(Model::open(bad), Contains("sci_infer.shard.tp = 4294967298 is out of range"));
}

TEST_CASE("the KV page table is sized from the budget, never from context_length", "[model_safety]") {
  TempDir d;
  const std::string path = d.file("ctx.gguf");
  testing::rewrite_gguf(make_tiny(d, "good.gguf"), path, testing::set_uint("llama.context_length", uint64_t(1) << 30));
  auto model = Model::open(path);  // a legal (if optimistic) context length
  REQUIRE(model->config().context == (1 << 30));
  ensure_kokkos_initialized();
  const ModelConfig& c = model->config();
  const ShardLayout one = ShardLayout::make(c, 1, 0);
  // tiny: 2 layers x 2 KV heads x 16 dims x 32 positions x K,V x 4 bytes = 16 KiB a page.
  const size_t page = 2 * 2 * 2 * 16 * 32 * 4;
  const size_t rss0 = rss_bytes();
  {
    KvCache kv(c, one, 1u << 20, 2);  // before the fix: a 2 x 2^25-entry page table (256 MiB)
    CHECK(kv.total_pages() == int32_t((1u << 20) / page));
    CHECK(kv.views().page_table.extent(0) == 2);
    CHECK(kv.views().page_table.extent(1) <= size_t(kv.total_pages()));
    CHECK(rss_bytes() - rss0 < (32u << 20));
  }
  // The same through the engine: construction stays within the budget and a short record runs.
  EngineOptions o;
  o.threads = 1;
  o.kv_cache_bytes = 1u << 20;
  o.max_sequences = 2;
  const size_t rss1 = rss_bytes();
  Engine e(model, o);
  CHECK(rss_bytes() - rss1 < (64u << 20));
  Request r;
  r.task = Task::Score;
  r.tokens = {1, 2, 3, 4};
  CHECK(e.run({r})[0].status == 0);
}

TEST_CASE("the KV budget is per model copy: the same page count at every tp", "[model_safety]") {
  TempDir d;
  // 8 heads, 2 KV heads: split at tp 2, replicated (one head per rank) at tp 4.
  ModelSpec s = model_spec_preset("tiny");
  s.dim = 128;
  s.n_heads = 8;
  s.n_kv_heads = 2;
  s.ffn_dim = 256;
  const std::string path = d.file("gqa.gguf");
  make_test_model(s, path);
  auto model = Model::open(path);
  ensure_kokkos_initialized();
  const ModelConfig& c = model->config();
  const size_t budget = 200u << 10;
  // Whole model: 2 layers x 2 KV heads x 16 dims x 32 positions x 2 x 4 bytes = 16 KiB a page.
  const int32_t expected_pages = int32_t(budget / (2 * 2 * 2 * 16 * 32 * 4));
  const KvCache tp1(c, ShardLayout::make(c, 1, 0), budget, 8);
  CHECK(tp1.total_pages() == expected_pages);
  for (int tp : {2, 4}) {
    for (int rank = 0; rank < tp; ++rank) {
      const ShardLayout sl = ShardLayout::make(c, tp, rank);
      const KvCache kv(c, sl, budget, 8);
      INFO("tp " << tp << " rank " << rank);
      CHECK(kv.total_pages() == expected_pages);
      // Each rank stores its own heads' share: one of the two KV heads at tp 2 and tp 4 alike.
      CHECK(kv.stats().bytes * 2 == tp1.stats().bytes);
    }
  }
}

// ---- non-finite weights --------------------------------------------------------------------

namespace {

bool all_finite(const std::vector<float>& v) {
  for (float x : v)
    if (!std::isfinite(x)) return false;
  return true;
}

Request make_request(uint64_t id, Task task, std::vector<int32_t> tokens) {
  Request r;
  r.id = id;
  r.task = task;
  r.tokens = std::move(tokens);
  r.max_new_tokens = 4;
  r.sampling.ignore_eos = true;
  return r;
}

// No result may be status 0 with a non-finite value in it.
void check_no_silent_garbage(const std::vector<RecordResult>& res) {
  for (const auto& r : res) {
    INFO("record " << r.index << " status " << r.status << " " << r.error);
    if (r.status == 0) {
      CHECK(all_finite(r.logprobs));
      CHECK(all_finite(r.embedding));
      CHECK(all_finite(r.logits));
    } else {
      CHECK(r.status == 2);
      CHECK(r.finish == FinishReason::Error);
      CHECK(r.tokens.empty());
      CHECK(r.logprobs.empty());
    }
  }
}

std::vector<RecordResult> run_mixed(const std::string& path) {
  EngineOptions o;
  o.threads = 1;
  o.kv_cache_bytes = 8u << 20;
  Engine e(Model::open(path), o);
  std::vector<Request> rs;
  for (Task t : {Task::Score, Task::Generate, Task::Embed, Task::Logits})
    for (int i = 0; i < 2; ++i) rs.push_back(make_request(rs.size(), t, {1, 2, 3, int32_t(10 + i), 4}));
  return e.run(std::move(rs));
}

void check_every_record_fails(const std::string& path, const std::string& tensor) {
  NonFiniteValue bad;
  REQUIRE(find_non_finite(*GgufFile::open(path), &bad));
  CHECK(bad.tensor == tensor);
  const auto res = run_mixed(path);
  check_no_silent_garbage(res);
  for (const auto& r : res) {
    INFO("record " << r.index << ": " << r.error);
    CHECK(r.status == 2);
    CHECK_THAT(r.error, Contains("record " + std::to_string(r.index) + ": non-finite "));
  }
}

}  // namespace

TEST_CASE("a NaN in some embedding rows fails exactly the records that use those tokens", "[model_safety]") {
  TempDir d;
  // Untied: the output projection is a separate matrix, so only the embedding lookup is poisoned.
  const std::string good = make_tiny(d, "good.gguf", GgmlType::F32, /*tied=*/false);
  const std::string bad = d.file("nan_embd.gguf");
  const uint64_t dim = 64;
  auto e = testing::set_f32_element("token_embd.weight", 5 * dim + 3, std::numeric_limits<float>::quiet_NaN());
  auto e2 = testing::set_f32_element("token_embd.weight", 7 * dim, std::numeric_limits<float>::infinity());
  testing::GgufEdit both;
  both.tensor = [&](const GgufTensorInfo& t, std::vector<uint8_t>& b) {
    e.tensor(t, b);
    e2.tensor(t, b);
  };
  testing::rewrite_gguf(good, bad, both);

  NonFiniteValue nf;
  REQUIRE(find_non_finite(*GgufFile::open(bad), &nf));
  CHECK(nf.tensor == "token_embd.weight");
  CHECK(nf.element == 5 * dim + 3);
  CHECK(nf.index == std::vector<uint64_t>{3, 5});
  CHECK(std::isnan(nf.value));
  CHECK_FALSE(find_non_finite(*GgufFile::open(good), nullptr));

  EngineOptions o;
  o.threads = 1;
  o.kv_cache_bytes = 8u << 20;
  Engine engine(Model::open(bad), o);
  std::vector<Request> rs = {
      make_request(0, Task::Score, {1, 2, 3, 4, 6, 8}),     // clean
      make_request(1, Task::Score, {1, 2, 5, 3}),           // NaN enters at position 2
      make_request(2, Task::Generate, {7, 1, 2}),           // Inf at position 0, sampled from position 2
      make_request(3, Task::Embed, {1, 5}),                 // pooled hidden state
      make_request(4, Task::Embed, {1, 2, 3}),              // clean
      make_request(5, Task::Logits, {9, 7, 9}),             // Inf at position 1, logits of position 2
      make_request(6, Task::Score, {9, 10, 11, 12}),        // clean, batched with the others
  };
  const auto res = engine.run(rs);
  check_no_silent_garbage(res);
  CHECK(res[0].status == 0);
  CHECK(res[0].logprobs.size() == 5);
  CHECK(res[4].status == 0);
  CHECK(res[4].embedding.size() == dim);
  CHECK(res[6].status == 0);
  CHECK(res[1].status == 2);
  CHECK_THAT(res[1].error, Contains("record 1: non-finite logits at position 2 (NaN"));
  CHECK(res[2].status == 2);
  CHECK_THAT(res[2].error, Contains("record 2: non-finite logits at position 2"));
  CHECK(res[3].status == 2);
  CHECK_THAT(res[3].error, Contains("record 3: non-finite hidden state (embedding output) at position 1"));
  CHECK(res[5].status == 2);
  CHECK_THAT(res[5].error, Contains("record 5: non-finite logits at position 2"));
  CHECK(res[5].logits.empty());
}

TEST_CASE("a NaN in an FFN matrix fails every record", "[model_safety]") {
  TempDir d;
  const std::string bad = d.file("nan_ffn.gguf");
  testing::rewrite_gguf(make_tiny(d, "good.gguf"), bad,
                        testing::set_f32_element("blk.1.ffn_down.weight", 77, std::numeric_limits<float>::quiet_NaN()));
  check_every_record_fails(bad, "blk.1.ffn_down.weight");
}

TEST_CASE("an Inf in the output norm fails every record", "[model_safety]") {
  TempDir d;
  const std::string bad = d.file("inf_norm.gguf");
  testing::rewrite_gguf(make_tiny(d, "good.gguf"), bad,
                        testing::set_f32_element("output_norm.weight", 10, std::numeric_limits<float>::infinity()));
  check_every_record_fails(bad, "output_norm.weight");
}

TEST_CASE("a NaN Q8_0 block scale fails every record and is named by the finiteness scan", "[model_safety]") {
  TempDir d;
  const std::string bad = d.file("nan_q8.gguf");
  testing::GgufEdit e;
  e.tensor = [](const GgufTensorInfo& t, std::vector<uint8_t>& b) {
    if (t.name != "blk.0.ffn_up.weight") return;
    REQUIRE(t.type == GgmlType::Q8_0);
    const uint16_t nan_f16 = 0x7E00;          // the F16 scale d of block 3 (34-byte blocks)
    std::memcpy(b.data() + 3 * 34, &nan_f16, 2);
  };
  testing::rewrite_gguf(make_tiny(d, "good.gguf", GgmlType::Q8_0), bad, e);
  NonFiniteValue nf;
  REQUIRE(find_non_finite(*GgufFile::open(bad), &nf));
  CHECK(nf.tensor == "blk.0.ffn_up.weight");
  CHECK(nf.element == 3 * 32);  // the first value of block 3 (ne[0] = 64: row 1, column 32)
  CHECK(nf.index == std::vector<uint64_t>{32, 1});
  check_every_record_fails(bad, "blk.0.ffn_up.weight");
}

TEST_CASE("a NaN in an attention matrix fails every record", "[model_safety]") {
  TempDir d;
  const std::string bad = d.file("nan_attn.gguf");
  testing::rewrite_gguf(make_tiny(d, "good.gguf", GgmlType::F32, true, /*kv_heads=*/1), bad,
                        testing::set_f32_element("blk.0.attn_k.weight", 40, std::numeric_limits<float>::quiet_NaN()));
  check_every_record_fails(bad, "blk.0.attn_k.weight");
}
