// Every Engine constructor refuses out-of-range EngineOptions with sci_infer::Error naming the
// field, before allocating anything (threads = 100000 used to crash libgomp; a KV budget of
// 2^64-1 bytes, from a negative --kv-cache-mb, sized 2^30 pages).
#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "engine/engine_options_check.hpp"
#include "sci_infer/engine.hpp"
#include "sci_infer/error.hpp"
#include "sci_infer/model_maker.hpp"

using namespace sci_infer;

namespace {

std::shared_ptr<const Model> tiny_model() {
  const auto path = std::filesystem::temp_directory_path() / "sci_infer_options_check_tiny.gguf";
  if (!std::filesystem::exists(path)) {
    ModelSpec s = model_spec_preset("tiny");
    s.context = 64;
    make_test_model(s, path.string());
  }
  return Model::open(path.string());
}

std::string refusal(const EngineOptions& o) {
  try {
    Engine e(tiny_model(), o);
  } catch (const Error& err) {
    return err.what();
  }
  return "";
}

}  // namespace

TEST_CASE("Engine refuses out-of-range options and names the field") {
  const struct {
    const char* field;
    void (*set)(EngineOptions&);
  } bad[] = {
      {"threads", [](EngineOptions& o) { o.threads = 100000; }},
      {"threads", [](EngineOptions& o) { o.threads = -1; }},
      {"kv_cache_bytes", [](EngineOptions& o) { o.kv_cache_bytes = SIZE_MAX; }},
      {"kv_cache_bytes", [](EngineOptions& o) { o.kv_cache_bytes = 0; }},
      {"max_sequences", [](EngineOptions& o) { o.max_sequences = 0; }},
      {"max_sequences", [](EngineOptions& o) { o.max_sequences = kMaxEngineSequences + 1; }},
      {"max_step_tokens", [](EngineOptions& o) { o.max_step_tokens = 0; }},
      {"max_step_tokens", [](EngineOptions& o) { o.max_step_tokens = 1 << 30; }},
  };
  for (const auto& b : bad) {
    EngineOptions o;
    o.threads = 1;
    o.kv_cache_bytes = 8u << 20;
    b.set(o);
    const std::string why = refusal(o);
    INFO(b.field << ": " << why);
    CHECK(why.find(b.field) != std::string::npos);
  }
  EngineOptions ok;
  ok.threads = 1;
  ok.kv_cache_bytes = 8u << 20;
  CHECK(refusal(ok).empty());
}

TEST_CASE("The thread bound is at least 16 and 4x the hardware threads and memory is known") {
  CHECK(max_engine_threads() >= 16);
  CHECK(physical_memory_bytes() > (size_t(64) << 20));
}
