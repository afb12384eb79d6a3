// The HDF5 data layer: input validation and streaming reads, the results journal, and the
// atomic output snapshot (docs/hdf5-schema.md).
#include <catch2/catch.hpp>

#include <hdf5.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cmath>
#include <filesystem>
#include <limits>
#include <thread>

#include "hdf5_test_files.hpp"
#include "io/hdf5_input.hpp"
#include "io/hdf5_output.hpp"
#include "io/hdf5_util.hpp"
#include "io/result_journal.hpp"
#include "io/utf8.hpp"
#include "sci_infer/error.hpp"

namespace fs = std::filesystem;
using namespace sci_infer;
using namespace sci_infer::test_files;
using Catch::Matchers::Contains;

namespace {

// A fresh directory per test case, removed afterwards.
struct TempDir {
  std::string path = make_temp_dir("h5io");
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string operator/(const std::string& name) const { return path + "/" + name; }
};

std::vector<std::string> numbered(size_t n, const std::string& prefix) {
  std::vector<std::string> v;
  for (size_t i = 0; i < n; ++i) v.push_back(prefix + std::to_string(i));
  return v;
}


std::vector<RecordInput> read_all(const std::string& path, const InputOptions& opts = {}) {
  auto in = InputFile::open(path, opts);
  return in->read(0, in->size());
}

// Only record `bad` has an error, and it contains `text`.
void require_only_bad(const std::vector<RecordInput>& recs, size_t bad, const std::string& text) {
  for (const RecordInput& r : recs) {
    INFO("record " << r.index << ": " << r.error);
    if (r.index == bad)
      REQUIRE_THAT(r.error, Contains(text));
    else
      REQUIRE(r.error.empty());
  }
}

}  // namespace

// =============================================================================================
// UTF-8
// =============================================================================================

TEST_CASE("utf8: strict validation", "[hdf5][utf8]") {
  CHECK(utf8::is_valid(""));
  CHECK(utf8::is_valid("plain ascii"));
  CHECK(utf8::is_valid("\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80"));  // é € 😀
  CHECK(utf8::is_valid("\xF4\x8F\xBF\xBF"));                      // U+10FFFF
  CHECK(utf8::first_invalid("ab\xC0\x80") == 2);                  // overlong NUL
  CHECK(utf8::first_invalid("\xE0\x80\xAF") == 0);                // overlong '/'
  CHECK(utf8::first_invalid("\xF0\x80\x80\xAF") == 0);            // overlong 4-byte
  CHECK(utf8::first_invalid("x\xED\xA0\x80") == 1);               // surrogate U+D800
  CHECK(utf8::first_invalid("\xF4\x90\x80\x80") == 0);            // U+110000
  CHECK(utf8::first_invalid("\xF5\x80\x80\x80") == 0);
  CHECK(utf8::first_invalid("abc\xE2\x82") == 3);                 // cut short
  CHECK(utf8::first_invalid("\x80") == 0);                        // stray continuation
  CHECK(utf8::sanitize("a\xFF" "b\xE2\x82") == "a\xEF\xBF\xBD" "b\xEF\xBF\xBD");
}

// =============================================================================================
// Input: valid files
// =============================================================================================

TEST_CASE("input: prompts, tokens, seeds and max_new_tokens are read by range", "[hdf5][input]") {
  TempDir dir;
  const std::string path = dir / "in.h5";
  InputSpec spec;
  spec.prompts = std::vector<std::string>{"hello", "w\xC3\xB6rld", "", "x"};
  spec.tokens = std::vector<std::vector<int64_t>>{{1, 2, 3}, {}, {7}, {8, 9}};
  spec.seeds = std::vector<uint64_t>{0, 1, 2, std::numeric_limits<uint64_t>::max()};
  spec.max_new_tokens = std::vector<int64_t>{16, 0, 1, 32};
  write_input_file(path, spec);

  auto in = InputFile::open(path);
  REQUIRE(in->size() == 4);
  CHECK(in->has_prompts());
  CHECK(in->has_tokens());
  CHECK_FALSE(in->has_embeddings());
  CHECK(in->embedding_width() == 0);
  CHECK_THAT(in->describe(), Contains("4 records") && Contains("/prompts") && Contains("/seeds"));

  auto recs = in->read(1, 4);
  REQUIRE(recs.size() == 3);
  CHECK(recs[0].index == 1);
  CHECK(recs[0].prompt == "w\xC3\xB6rld");
  CHECK(recs[0].has_tokens);
  CHECK(recs[0].tokens.empty());
  CHECK(recs[1].prompt.empty());
  CHECK(recs[1].tokens == std::vector<int32_t>{7});
  CHECK(recs[2].seed == std::numeric_limits<uint64_t>::max());
  CHECK(recs[2].max_new_tokens == 32);
  for (const auto& r : recs) CHECK(r.error.empty());  // record 2 has tokens: not empty

  CHECK(in->read(2, 2).empty());
  CHECK_THROWS_AS(in->read(3, 5), Error);
  CHECK_THROWS_AS(in->read(3, 2), Error);
}

TEST_CASE("input: fixed-length and ASCII string prompts", "[hdf5][input]") {
  TempDir dir;
  const std::vector<std::string> prompts{"abc", "a longer one", "z"};
  for (StringKind kind : {StringKind::VariableAscii, StringKind::FixedNullTerm,
                          StringKind::FixedNullPad, StringKind::FixedSpacePad}) {
    const std::string path = dir / ("in" + std::to_string(static_cast<int>(kind)) + ".h5");
    InputSpec spec;
    spec.prompts = prompts;
    spec.prompt_kind = kind;
    write_input_file(path, spec);
    auto recs = read_all(path);
    REQUIRE(recs.size() == 3);
    for (size_t i = 0; i < 3; ++i) {
      CHECK(recs[i].prompt == prompts[i]);
      CHECK(recs[i].error.empty());
    }
  }
}

TEST_CASE("input: token ids of other integer types are converted", "[hdf5][input]") {
  TempDir dir;
  for (NumType t : {NumType::Int64, NumType::UInt16, NumType::UInt8}) {
    const std::string path = dir / ("t" + std::to_string(static_cast<int>(t)) + ".h5");
    InputSpec spec;
    spec.tokens = std::vector<std::vector<int64_t>>{{1, 200}, {3}};
    spec.token_type = t;
    write_input_file(path, spec);
    auto recs = read_all(path);
    CHECK(recs[0].tokens == std::vector<int32_t>{1, 200});
    CHECK(recs[1].tokens == std::vector<int32_t>{3});
  }
}

TEST_CASE("input: int64 token ids beyond int32 fail only their record", "[hdf5][input]") {
  TempDir dir;
  const std::string path = dir / "in.h5";
  InputSpec spec;
  spec.tokens = std::vector<std::vector<int64_t>>{{1}, {2, int64_t{1} << 40}, {3}};
  spec.token_type = NumType::Int64;
  write_input_file(path, spec);
  require_only_bad(read_all(path), 1, path + ": /tokens[1]: token 1 has id 1099511627776");
}

TEST_CASE("input: embeddings with and without lengths", "[hdf5][input]") {
  TempDir dir;
  const uint64_t N = 3, T = 4, D = 2;
  std::vector<float> values(N * T * D);
  for (size_t i = 0; i < values.size(); ++i) values[i] = static_cast<float>(i);

  SECTION("with /embedding_lengths only the used rows are returned") {
    const std::string path = dir / "in.h5";
    InputSpec spec;
    spec.embeddings = values;
    spec.embeddings_dims = {N, T, D};
    spec.embedding_lengths = std::vector<int64_t>{1, 4, 2};
    write_input_file(path, spec);
    auto in = InputFile::open(path, InputOptions{D});
    CHECK(in->embedding_width() == D);
    CHECK(in->embedding_max_rows() == T);
    auto recs = in->read(0, N);
    CHECK(recs[0].n_embedding_rows == 1);
    CHECK(recs[0].embeddings == std::vector<float>{0, 1});
    CHECK(recs[1].n_embedding_rows == 4);
    CHECK(recs[1].embeddings.size() == T * D);
    CHECK(recs[1].embeddings.front() == 8);
    CHECK(recs[2].embeddings == std::vector<float>{16, 17, 18, 19});
  }
  SECTION("without /embedding_lengths all T rows are used") {
    const std::string path = dir / "in.h5";
    InputSpec spec;
    spec.embeddings = values;
    spec.embeddings_dims = {N, T, D};
    write_input_file(path, spec);
    auto recs = read_all(path);
    for (const auto& r : recs) {
      CHECK(r.n_embedding_rows == T);
      CHECK(r.embeddings.size() == T * D);
      CHECK(r.error.empty());
    }
  }
}

// =============================================================================================
// Input: whole-file errors (thrown by open, naming file and dataset)
// =============================================================================================

TEST_CASE("input: missing file and non-HDF5 file", "[hdf5][input][errors]") {
  TempDir dir;
  CHECK_THAT(open_error(dir / "missing.h5"), Contains(dir / "missing.h5") && Contains("No such file"));
  write_bytes(dir / "text.h5", "this is not HDF5\n");
  CHECK_THAT(open_error(dir / "text.h5"), Contains(dir / "text.h5") && Contains("not an HDF5 file"));
}

TEST_CASE("input: no record dataset", "[hdf5][input][errors]") {
  TempDir dir;
  const std::string path = dir / "in.h5";
  InputSpec spec;
  spec.seeds = std::vector<uint64_t>{1, 2};
  write_input_file(path, spec);
  CHECK_THAT(open_error(path), Contains(path) && Contains("/prompts, /tokens or /embeddings"));
}

TEST_CASE("input: wrong dataset types", "[hdf5][input][errors]") {
  TempDir dir;
  const std::string path = dir / "in.h5";
  InputSpec spec;
  spec.prompts = numbered(3, "p");

  SECTION("/seeds float64") {
    write_input_file(path, spec);
    add_numeric_dataset(path, "/seeds", NumType::Float64, {3}, {1, 2, 3});
    CHECK(open_error(path) ==
          path + ": dataset /seeds has type float64, expected an unsigned 64-bit integer");
  }
  SECTION("/tokens of floats") {
    spec.tokens = std::vector<std::vector<int64_t>>{{1}, {2}, {3}};
    spec.token_type = NumType::Float32;
    write_input_file(path, spec);
    CHECK_THAT(open_error(path),
               Contains(path + ": dataset /tokens has type variable-length float32"));
  }
  SECTION("/prompts numeric") {
    InputSpec s2;
    write_input_file(path, s2);
    add_numeric_dataset(path, "/prompts", NumType::Int32, {3}, {1, 2, 3});
    CHECK_THAT(open_error(path), Contains(path + ": dataset /prompts has type int32, expected a string"));
  }
  SECTION("/prompts is a group") {
    InputSpec s2;
    write_input_file(path, s2);
    add_group(path, "/prompts");
    CHECK_THAT(open_error(path), Contains(path + ": /prompts is not a dataset"));
  }
  SECTION("/max_new_tokens float") {
    write_input_file(path, spec);
    add_numeric_dataset(path, "/max_new_tokens", NumType::Float32, {3}, {1, 2, 3});
    CHECK_THAT(open_error(path), Contains(path + ": dataset /max_new_tokens has type float32"));
  }
  SECTION("/embedding_lengths float") {
    InputSpec s2;
    s2.embeddings = std::vector<float>(3 * 2 * 2, 1.f);
    s2.embeddings_dims = {3, 2, 2};
    write_input_file(path, s2);
    add_numeric_dataset(path, "/embedding_lengths", NumType::Float64, {3}, {1, 2, 1});
    CHECK_THAT(open_error(path), Contains(path + ": dataset /embedding_lengths has type float64"));
  }
  SECTION("/embeddings integer") {
    InputSpec s2;
    s2.embeddings = std::vector<float>(3 * 2 * 2, 1.f);
    s2.embeddings_dims = {3, 2, 2};
    s2.embeddings_type = NumType::Int32;
    write_input_file(path, s2);
    CHECK_THAT(open_error(path),
               Contains(path + ": dataset /embeddings has type int32, expected float32"));
  }
}

TEST_CASE("input: wrong ranks", "[hdf5][input][errors]") {
  TempDir dir;
  const std::string path = dir / "in.h5";
  SECTION("/embeddings not 3-D") {
    InputSpec spec;
    spec.embeddings = std::vector<float>(6, 1.f);
    spec.embeddings_dims = {3, 2};
    write_input_file(path, spec);
    CHECK_THAT(open_error(path), Contains(path + ": dataset /embeddings has shape [3, 2], "
                                                 "expected a 3-D dataset [N, T, d_model]"));
  }
  SECTION("/seeds 2-D") {
    InputSpec spec;
    spec.prompts = numbered(2, "p");
    write_input_file(path, spec);
    add_numeric_dataset(path, "/seeds", NumType::UInt64, {2, 2}, {1, 2, 3, 4});
    CHECK_THAT(open_error(path), Contains(path + ": dataset /seeds has shape [2, 2]"));
  }
}

TEST_CASE("input: mismatched record counts", "[hdf5][input][errors]") {
  TempDir dir;
  const std::string path = dir / "in.h5";
  InputSpec spec;
  spec.prompts = numbered(12, "p");
  SECTION("tokens vs prompts") {
    spec.tokens = std::vector<std::vector<int64_t>>(10, {1});
    write_input_file(path, spec);
    CHECK(open_error(path) == path + ": /tokens has 10 records but /prompts has 12");
  }
  SECTION("seeds vs prompts") {
    spec.seeds = std::vector<uint64_t>(11, 1);
    write_input_file(path, spec);
    CHECK(open_error(path) == path + ": /seeds has 11 records but /prompts has 12");
  }
  SECTION("max_new_tokens vs prompts") {
    spec.max_new_tokens = std::vector<int64_t>(13, 1);
    write_input_file(path, spec);
    CHECK(open_error(path) == path + ": /max_new_tokens has 13 records but /prompts has 12");
  }
  SECTION("embedding_lengths vs embeddings") {
    InputSpec s2;
    s2.embeddings = std::vector<float>(3 * 2 * 2, 1.f);
    s2.embeddings_dims = {3, 2, 2};
    s2.embedding_lengths = std::vector<int64_t>{1, 1};
    write_input_file(path, s2);
    CHECK(open_error(path) == path + ": /embedding_lengths has 2 records but /embeddings has 3");
  }
  SECTION("embedding_lengths without embeddings") {
    spec.embedding_lengths = std::vector<int64_t>(12, 1);
    write_input_file(path, spec);
    CHECK(open_error(path) == path + ": /embedding_lengths is present but /embeddings is not");
  }
  SECTION("embedding_lengths 2-D") {
    InputSpec s2;
    s2.embeddings = std::vector<float>(3 * 2 * 2, 1.f);
    s2.embeddings_dims = {3, 2, 2};
    write_input_file(path, s2);
    add_numeric_dataset(path, "/embedding_lengths", NumType::Int32, {3, 1}, {1, 1, 1});
    CHECK_THAT(open_error(path), Contains(path + ": dataset /embedding_lengths has shape [3, 1]"));
  }
}

TEST_CASE("input: embedding width must match the model", "[hdf5][input][errors]") {
  TempDir dir;
  const std::string path = dir / "in.h5";
  InputSpec spec;
  spec.embeddings = std::vector<float>(2 * 3 * 4, 0.5f);
  spec.embeddings_dims = {2, 3, 4};
  write_input_file(path, spec);
  CHECK_NOTHROW(InputFile::open(path, InputOptions{4}));
  CHECK_NOTHROW(InputFile::open(path, InputOptions{0}));
  CHECK(open_error(path, InputOptions{8}) ==
        path + ": dataset /embeddings has width 4 (shape [2, 3, 4]) but the model's d_model is 8");
}

TEST_CASE("input: a filter this HDF5 cannot decode is rejected at open", "[hdf5][input][errors]") {
  TempDir dir;
  const std::string path = dir / "in.h5";
  InputSpec spec;
  spec.prompts = numbered(4, "p");
  write_input_file(path, spec);
  add_dataset_with_filter(path, "/max_new_tokens", 4, 300);  // a test-range filter id
  CHECK_THAT(open_error(path), Contains(path + ": dataset /max_new_tokens needs the HDF5 filter") &&
                                   Contains("300"));
}

// =============================================================================================
// Input: per-record errors (only that record fails, message names file, dataset and record)
// =============================================================================================

TEST_CASE("input: invalid UTF-8 prompts", "[hdf5][input][records]") {
  TempDir dir;
  const std::string path = dir / "in.h5";
  const std::vector<std::pair<std::string, size_t>> bad{
      {"hello\xC0\x80", 5},          // overlong
      {"ab\xED\xA0\x80", 2},         // surrogate
      {"\xF4\x90\x80\x80", 0},       // > U+10FFFF
      {"xyz\xE2\x82", 3},            // truncated
  };
  for (const auto& [text, offset] : bad) {
    InputSpec spec;
    spec.prompts = std::vector<std::string>{"fine", text, "\xF0\x9F\x98\x80 also fine"};
    write_input_file(path, spec);
    require_only_bad(read_all(path), 1,
                     path + ": /prompts[1]: invalid UTF-8 at byte " + std::to_string(offset));
  }
}

TEST_CASE("input: invalid UTF-8 in fixed-length prompts", "[hdf5][input][records]") {
  TempDir dir;
  const std::string path = dir / "in.h5";
  InputSpec spec;
  spec.prompts = std::vector<std::string>{"ok", "a\xFF", "ok"};
  spec.prompt_kind = StringKind::FixedNullPad;
  write_input_file(path, spec);
  require_only_bad(read_all(path), 1, path + ": /prompts[1]: invalid UTF-8 at byte 1");
}

TEST_CASE("input: empty records", "[hdf5][input][records]") {
  TempDir dir;
  const std::string path = dir / "in.h5";
  SECTION("empty prompt") {
    InputSpec spec;
    spec.prompts = std::vector<std::string>{"a", "b", ""};
    write_input_file(path, spec);
    require_only_bad(read_all(path), 2, path + ": record 2 is empty: /prompts[2] is an empty string");
  }
  SECTION("empty prompt and empty tokens") {
    InputSpec spec;
    spec.prompts = std::vector<std::string>{"", "", "c"};
    spec.tokens = std::vector<std::vector<int64_t>>{{}, {5}, {}};
    write_input_file(path, spec);
    require_only_bad(read_all(path), 0,
                     path + ": record 0 is empty: /prompts[0] is an empty string, /tokens[0] has no tokens");
  }
  SECTION("zero embedding rows") {
    InputSpec spec;
    spec.embeddings = std::vector<float>(3 * 2 * 2, 1.f);
    spec.embeddings_dims = {3, 2, 2};
    spec.embedding_lengths = std::vector<int64_t>{2, 0, 1};
    write_input_file(path, spec);
    require_only_bad(read_all(path), 1, path + ": record 1 is empty: /embeddings[1] has 0 rows");
  }
}

TEST_CASE("input: embedding lengths outside 0..T", "[hdf5][input][records]") {
  TempDir dir;
  const std::string path = dir / "in.h5";
  for (int64_t bad : {int64_t{-1}, int64_t{3}}) {
    InputSpec spec;
    spec.embeddings = std::vector<float>(3 * 2 * 2, 1.f);
    spec.embeddings_dims = {3, 2, 2};
    spec.embedding_lengths = std::vector<int64_t>{2, 1, bad};
    write_input_file(path, spec);
    require_only_bad(read_all(path), 2,
                     path + ": /embedding_lengths[2] is " + std::to_string(bad) + ", outside 0..2");
  }
}

TEST_CASE("input: NaN/Inf in used embedding rows", "[hdf5][input][records]") {
  TempDir dir;
  const std::string path = dir / "in.h5";
  std::vector<float> values(3 * 2 * 2, 1.f);
  values[1 * 4 + 1 * 2 + 0] = std::numeric_limits<float>::infinity();  // record 1, row 1
  values[2 * 4 + 1 * 2 + 1] = std::nanf("");                           // record 2, row 1 (unused)
  InputSpec spec;
  spec.embeddings = values;
  spec.embeddings_dims = {3, 2, 2};
  spec.embedding_lengths = std::vector<int64_t>{2, 2, 1};
  write_input_file(path, spec);
  auto recs = read_all(path);
  require_only_bad(recs, 1, path + ": /embeddings[1]: non-finite value inf at row 1, column 0");
  CHECK(recs[2].n_embedding_rows == 1);  // the NaN lies beyond its length: not used, no error
}

TEST_CASE("input: negative max_new_tokens and seeds", "[hdf5][input][records]") {
  TempDir dir;
  const std::string path = dir / "in.h5";
  SECTION("max_new_tokens") {
    InputSpec spec;
    spec.prompts = numbered(3, "p");
    spec.max_new_tokens = std::vector<int64_t>{4, -3, 0};
    write_input_file(path, spec);
    auto recs = read_all(path);
    require_only_bad(recs, 1, path + ": /max_new_tokens[1] is -3, expected >= 0");
    CHECK(recs[2].max_new_tokens == 0);
  }
  SECTION("signed seeds are accepted, negative ones fail their record") {
    InputSpec spec;
    spec.prompts = numbered(3, "p");
    write_input_file(path, spec);
    add_numeric_dataset(path, "/seeds", NumType::Int64, {3}, {5, -1, 7});
    auto recs = read_all(path);
    require_only_bad(recs, 1, path + ": /seeds[1] is -1");
    CHECK(recs[0].seed == 5u);
    CHECK(recs[2].seed == 7u);
  }
}

// =============================================================================================
// Input: streaming a large chunked, gzip-compressed file by ranges
// =============================================================================================

TEST_CASE("input: 200k-record chunked gzip input read in ranges", "[hdf5][input][streaming]") {
  TempDir dir;
  const std::string path = dir / "big.h5";
  const uint64_t N = 200000;
  InputSpec spec;
  spec.prompts.emplace();
  spec.tokens.emplace();
  spec.seeds.emplace();
  for (uint64_t i = 0; i < N; ++i) {
    spec.prompts->push_back("p" + std::to_string(i));
    spec.tokens->push_back(std::vector<int64_t>(i % 5 + 1, static_cast<int64_t>(i)));
    spec.seeds->push_back(i * 3);
  }
  spec.chunked_gzip = true;
  spec.chunk_records = 4096;
  write_input_file(path, spec);
  spec = InputSpec{};  // the writer's copy is not needed any more

  auto in = InputFile::open(path);
  REQUIRE(in->size() == N);
  CHECK_THAT(in->describe(), Contains("gzip"));
  // Ranges that start/end inside chunks, on chunk boundaries and at the end of the file.
  const std::vector<std::pair<uint64_t, uint64_t>> ranges{
      {0, 1}, {4095, 4097}, {8192, 8192 + 4096}, {12345, 23456}, {N - 3, N}, {100000, 100000}};
  for (const auto& [begin, end] : ranges) {
    auto recs = in->read(begin, end);
    REQUIRE(recs.size() == end - begin);
    for (uint64_t k = 0; k < recs.size(); ++k) {
      const uint64_t i = begin + k;
      const RecordInput& r = recs[k];
      REQUIRE(r.index == i);
      REQUIRE(r.prompt == "p" + std::to_string(i));
      REQUIRE(r.tokens == std::vector<int32_t>(i % 5 + 1, static_cast<int32_t>(i)));
      REQUIRE(r.seed == i * 3);
      REQUIRE(r.error.empty());
    }
  }
  // Whole file in 64k-record windows, as ranks would: every record seen exactly once.
  uint64_t seen = 0;
  for (uint64_t b = 0; b < N; b += 65536) {
    auto recs = in->read(b, std::min(N, b + 65536));
    REQUIRE(recs.front().index == b);
    seen += recs.size();
  }
  CHECK(seen == N);
}

// =============================================================================================
// Journal
// =============================================================================================

namespace {

RecordResult make_result(uint64_t index) {
  RecordResult r;
  r.index = index;
  r.status = index % 7 == 3 ? kStatusRuntimeError : kStatusOk;
  if (r.status != kStatusOk) r.error = "record " + std::to_string(index) + " failed: \xE2\x9C\x97";
  for (uint64_t k = 0; k < index % 4; ++k) {
    r.tokens.push_back(static_cast<int32_t>(index * 10 + k));
    r.logprobs.push_back(-0.25f * static_cast<float>(k + 1));
  }
  r.text = "out " + std::to_string(index) + " \xC3\xA9";
  r.finish = index % 2 ? FinishReason::Stop : FinishReason::Length;
  return r;
}

bool same(const RecordResult& a, const RecordResult& b) {
  return a.index == b.index && a.status == b.status && a.error == b.error && a.tokens == b.tokens &&
         a.text == b.text && a.logprobs == b.logprobs && a.finish == b.finish &&
         a.embedding == b.embedding;
}

std::string write_journal(const std::string& dir, int rank, const std::vector<uint64_t>& indices) {
  JournalWriter w(dir, rank);
  for (uint64_t i : indices) w.append(make_result(i));
  w.commit();
  return w.path();
}

}  // namespace

TEST_CASE("journal: payload round trip and CRC", "[hdf5][journal]") {
  CHECK(journal_format::crc32("123456789", 9) == 0xCBF43926u);  // the standard check value
  RecordResult r = make_result(6);
  r.embedding = {1.5f, -0.f, std::numeric_limits<float>::infinity()};
  r.finish = FinishReason::Error;
  const std::string payload = journal_format::encode_payload(r);
  RecordResult back;
  REQUIRE(journal_format::decode_payload(payload.data(), payload.size(), back));
  CHECK(same(r, back));
  CHECK_FALSE(journal_format::decode_payload(payload.data(), payload.size() - 1, back));
}

TEST_CASE("journal: write, commit, read back", "[hdf5][journal]") {
  TempDir dir;
  const std::string jdir = journal_dir_for_output(dir / "out.h5");
  CHECK(jdir == dir / "out.h5.journal");
  CHECK(read_journal_dir(jdir).empty());  // no directory yet: empty journal

  std::string path;
  {
    JournalWriter w(jdir, 3);  // creates the directory
    path = w.path();
    CHECK_THAT(fs::path(path).filename().string(), Contains("rank-3-"));
    for (uint64_t i = 0; i < 10; ++i) w.append(make_result(i));
    CHECK(w.buffered() == 10);
    w.commit();
    CHECK(w.buffered() == 0);
    CHECK(w.committed_entries() == 10);
    w.append(make_result(10));
    w.commit();
  }
  write_bytes(jdir + "/notes.txt", "not a journal");  // foreign files are ignored

  JournalReadReport report;
  auto results = read_journal_dir(jdir, &report);
  REQUIRE(results.size() == 11);
  for (const auto& [i, r] : results) CHECK(same(r, make_result(i)));
  CHECK(report.files == 1);
  CHECK(report.torn_files == 0);

  JournalIndex index(jdir);
  CHECK(index.size() == 11);
  RecordResult r;
  REQUIRE(index.load(7, r));
  CHECK(same(r, make_result(7)));
  CHECK_FALSE(index.load(11, r));
}

TEST_CASE("journal: destructor commits buffered results", "[hdf5][journal]") {
  TempDir dir;
  {
    JournalWriter w(dir / "j", 0);
    w.append(make_result(1));
  }
  CHECK(read_journal_dir(dir / "j").size() == 1);
}

TEST_CASE("journal: truncation at every byte of the last entry drops only that entry",
          "[hdf5][journal]") {
  TempDir dir;
  const std::string jdir = dir / "j";
  const std::string path = write_journal(jdir, 0, {0, 1, 2, 3});
  const std::string full = read_bytes(path);
  const size_t last_size =
      journal_format::kEntryOverhead + journal_format::encode_payload(make_result(3)).size();
  const size_t last_begin = full.size() - last_size;

  for (size_t cut = last_begin; cut < full.size(); ++cut) {
    write_bytes(path, full.substr(0, cut));
    JournalReadReport report;
    auto results = read_journal_dir(jdir, &report);
    INFO("cut at " << cut);
    REQUIRE(results.size() == 3);
    REQUIRE(results.count(3) == 0);
    REQUIRE(same(results.at(2), make_result(2)));
    REQUIRE(report.torn_files == (cut == last_begin ? 0u : 1u));
    JournalIndex index(jdir);
    REQUIRE(index.size() == 3);
  }
  // A header cut short (killed right after creating the file): no results, no error.
  for (size_t cut : {size_t{0}, size_t{5}}) {
    write_bytes(path, full.substr(0, cut));
    CHECK(read_journal_dir(jdir).empty());
  }
}

TEST_CASE("journal: a bad CRC drops only that file's tail", "[hdf5][journal]") {
  TempDir dir;
  const std::string jdir = dir / "j";
  const std::string a = write_journal(jdir, 0, {0, 1, 2, 3});
  write_journal(jdir, 1, {10, 11, 12});
  // Flip one byte inside the payload of record 2 (third entry of file a).
  std::string bytes = read_bytes(a);
  size_t offset = journal_format::kHeaderSize;
  for (uint64_t i : {0, 1})
    offset += journal_format::kEntryOverhead + journal_format::encode_payload(make_result(i)).size();
  bytes[offset + 8 + 3] ^= 0x40;
  write_bytes(a, bytes);

  JournalReadReport report;
  auto results = read_journal_dir(jdir, &report);
  std::vector<uint64_t> keys;
  for (const auto& kv : results) keys.push_back(kv.first);
  CHECK(keys == std::vector<uint64_t>{0, 1, 10, 11, 12});
  CHECK(report.torn_files == 1);
  REQUIRE(report.notes.size() == 1);
  CHECK_THAT(report.notes[0], Contains(a) && Contains("CRC mismatch"));
}

TEST_CASE("journal: files of any rank count merge; duplicates keep the first copy",
          "[hdf5][journal]") {
  TempDir dir;
  const std::string jdir = dir / "j";
  write_journal(jdir, 0, {0, 2, 4});
  write_journal(jdir, 1, {1, 3, 5});
  write_journal(jdir, 0, {6, 4});  // a resumed run (other -n) redoing record 4
  {
    JournalWriter w(jdir, 2);  // a conflicting copy of record 5
    RecordResult r = make_result(5);
    r.text = "different";
    w.append(r);
    w.commit();
  }
  JournalReadReport report;
  auto results = read_journal_dir(jdir, &report);
  REQUIRE(results.size() == 7);
  for (uint64_t i = 0; i < 7; ++i) CHECK(same(results.at(i), make_result(i)));
  CHECK(report.files == 4);
  CHECK(report.duplicates == 2);
  CHECK(report.conflicting_duplicates == 1);

  JournalReadReport index_report;
  JournalIndex index(jdir, &index_report);
  CHECK(index.indices() == std::vector<uint64_t>{0, 1, 2, 3, 4, 5, 6});
  CHECK(index_report.duplicates == 2);
  CHECK(index_report.conflicting_duplicates == 1);
  for (uint64_t i = 0; i < 7; ++i) {
    RecordResult r;
    REQUIRE(index.load(i, r));
    CHECK(same(r, make_result(i)));
  }
}

TEST_CASE("journal: a file with a foreign header is an error", "[hdf5][journal]") {
  TempDir dir;
  fs::create_directories(dir / "j");
  write_bytes(dir / "j/rank-0-1-abc.bin", std::string(32, 'x'));
  CHECK_THROWS_WITH(read_journal_dir(dir / "j"), Contains("not a sci_infer results journal"));
}

// =============================================================================================
// Output snapshot
// =============================================================================================

namespace {

const StringAttrs kStringAttrs{{"sci_infer.version", "0.1.0"},
                               {"sci_infer.task", "generate"},
                               {"sci_infer.config", "{\"temperature\": 0}"}};
const IntAttrs kIntAttrs{{"sci_infer.seed", 42}, {"sci_infer.n_ranks", 4}};

std::map<uint64_t, RecordResult> some_results(uint64_t n, uint64_t stride) {
  std::map<uint64_t, RecordResult> m;
  for (uint64_t i = 0; i < n; i += stride) m[i] = make_result(i);
  return m;
}

std::vector<std::string> dir_entries(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace

TEST_CASE("output: snapshot round trip; pending records read back as absent", "[hdf5][output]") {
  TempDir dir;
  const std::string path = dir / "out.h5";
  const uint64_t N = 10000;  // several chunks, last one partial
  auto results = some_results(N, 3);
  write_output_snapshot(path, N, OutputLayout{}, results, kStringAttrs, kIntAttrs);

  auto back = read_output_results(path);
  REQUIRE(back.size() == results.size());
  for (const auto& [i, r] : results) {
    INFO("record " << i);
    REQUIRE(back.count(i) == 1);
    REQUIRE(same(back.at(i), r));
  }
  OutputInfo info = read_output_info(path);
  CHECK(info.n_records == N);
  CHECK(info.n_done == results.size());
  CHECK(info.layout.task == "generate");
  CHECK(info.string_attrs.size() == 3);
  CHECK(std::find(info.string_attrs.begin(), info.string_attrs.end(),
                  std::pair<std::string, std::string>{"sci_infer.config", "{\"temperature\": 0}"}) !=
        info.string_attrs.end());
  CHECK(info.int_attrs == IntAttrs{{"sci_infer.n_ranks", 4}, {"sci_infer.seed", 42}});
  CHECK(dir_entries(dir.path) == std::vector<std::string>{"out.h5"});  // no temporaries left
}

TEST_CASE("output: pending rows have status -1 and empty values", "[hdf5][output]") {
  TempDir dir;
  const std::string path = dir / "out.h5";
  write_output_snapshot(path, 3, OutputLayout{}, some_results(3, 2), {}, {});
  h5::Id f(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
  h5::Id status(H5Dopen2(f.get(), "/results/status", H5P_DEFAULT), H5Dclose);
  int32_t s[3];
  REQUIRE(H5Dread(status.get(), H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, s) >= 0);
  CHECK(s[0] == 0);
  CHECK(s[1] == -1);
  h5::Id finish(H5Dopen2(f.get(), "/results/finish_reason", H5P_DEFAULT), H5Dclose);
  h5::Id str = h5::utf8_string_type();
  char* fr[3] = {nullptr, nullptr, nullptr};
  REQUIRE(H5Dread(finish.get(), str.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, fr) >= 0);
  CHECK(std::string(fr[0]) == "length");
  CHECK(std::string(fr[1]).empty());
  h5::Id space(H5Dget_space(finish.get()), H5Sclose);
  H5Dvlen_reclaim(str.get(), space.get(), H5P_DEFAULT, fr);
}

TEST_CASE("output: embeddings with pooling attribute and NaN pending rows", "[hdf5][output]") {
  TempDir dir;
  const std::string path = dir / "out.h5";
  OutputLayout layout;
  layout.task = "embed";
  layout.pooling = "mean";
  layout.d_model = 3;
  std::map<uint64_t, RecordResult> results;
  for (uint64_t i : {0, 2}) {
    RecordResult r;
    r.index = i;
    r.embedding = {float(i), 1.f, -2.f};
    results[i] = r;
  }
  RecordResult failed;
  failed.index = 3;
  failed.status = kStatusInputError;
  failed.error = "in.h5: record 3 is empty";
  failed.finish = FinishReason::Error;
  results[3] = failed;
  write_output_snapshot(path, 5, layout, results, {{"sci_infer.task", "embed"}}, {});

  auto back = read_output_results(path);
  REQUIRE(back.size() == 3);
  CHECK(back.at(2).embedding == std::vector<float>{2.f, 1.f, -2.f});
  CHECK(back.at(3).embedding.empty());
  CHECK(back.at(3).error == failed.error);
  OutputInfo info = read_output_info(path);
  CHECK(info.layout.task == "embed");
  CHECK(info.layout.pooling == "mean");
  CHECK(info.layout.d_model == 3);

  h5::Id f(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
  h5::Id ds(H5Dopen2(f.get(), "/results/embeddings", H5P_DEFAULT), H5Dclose);
  CHECK(h5::dims_of(ds.get()) == std::vector<hsize_t>{5, 3});
  std::vector<float> rows(15);
  REQUIRE(H5Dread(ds.get(), H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, rows.data()) >= 0);
  CHECK(std::isnan(rows[3]));   // record 1 pending
  CHECK(std::isnan(rows[12]));  // record 4 pending

  RecordResult wrong;
  wrong.index = 1;
  wrong.embedding = {1.f};
  results[1] = wrong;
  CHECK_THROWS_WITH(write_output_snapshot(path, 5, layout, results, {}, {}),
                    Contains("record 1 has 1 embedding values, expected d_model = 3"));
  CHECK(read_output_results(path).size() == 3);  // the old snapshot survived the failure
  CHECK(dir_entries(dir.path) == std::vector<std::string>{"out.h5"});
}

TEST_CASE("output: identical results give byte-identical snapshots", "[hdf5][output]") {
  TempDir dir;
  auto results = some_results(9000, 2);
  write_output_snapshot(dir / "a.h5", 9000, OutputLayout{}, results, kStringAttrs, kIntAttrs);
  // Any stored time would differ after this pause.
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  write_output_snapshot(dir / "b.h5", 9000, OutputLayout{}, results, kStringAttrs, kIntAttrs);
  const std::string a = read_bytes(dir / "a.h5"), b = read_bytes(dir / "b.h5");
  CHECK(a.size() == b.size());
  CHECK(a == b);
}

TEST_CASE("output: replacing a snapshot is atomic and cleans stale temporaries", "[hdf5][output]") {
  TempDir dir;
  const std::string path = dir / "out.h5";
  write_output_snapshot(path, 100, OutputLayout{}, some_results(100, 10), {}, {});
  write_bytes(path + ".tmp-999999", "left by a writer killed mid-snapshot");
  write_bytes(dir / "out.h5.tmp-notapid", "not ours");

  write_output_snapshot(path, 100, OutputLayout{}, some_results(100, 1), {}, {});
  CHECK(read_output_results(path).size() == 100);
  CHECK(dir_entries(dir.path) == std::vector<std::string>{"out.h5", "out.h5.tmp-notapid"});
}

TEST_CASE("output: streaming lookup from a journal index", "[hdf5][output][journal]") {
  TempDir dir;
  const std::string jdir = dir / "j";
  write_journal(jdir, 0, {0, 5, 9});
  write_journal(jdir, 1, {1, 2});
  JournalIndex index(jdir);
  const std::string path = dir / "out.h5";
  write_output_snapshot(path, 12, OutputLayout{},
                        [&](uint64_t i, RecordResult& r) { return index.load(i, r); }, {}, {});
  auto back = read_output_results(path);
  CHECK(back.size() == 5);
  for (const auto& [i, r] : back) CHECK(same(r, make_result(i)));
}

TEST_CASE("output: invalid UTF-8 text is stored as U+FFFD; bad arguments throw", "[hdf5][output]") {
  TempDir dir;
  const std::string path = dir / "out.h5";
  std::map<uint64_t, RecordResult> results;
  results[0].text = "ok\xFFz";
  write_output_snapshot(path, 1, OutputLayout{}, results, {}, {});
  CHECK(read_output_results(path).at(0).text == "ok\xEF\xBF\xBDz");

  results[5] = RecordResult{};
  CHECK_THROWS_WITH(write_output_snapshot(path, 2, OutputLayout{}, results, {}, {}),
                    Contains("record 5"));
  OutputLayout embed;
  embed.task = "embed";
  CHECK_THROWS_WITH(write_output_snapshot(path, 1, embed, std::map<uint64_t, RecordResult>{}, {}, {}),
                    Contains("d_model"));
  CHECK(dir_entries(dir.path) == std::vector<std::string>{"out.h5"});
}

TEST_CASE("output: empty output and reading a non-output file", "[hdf5][output]") {
  TempDir dir;
  write_output_snapshot(dir / "empty.h5", 0, OutputLayout{}, std::map<uint64_t, RecordResult>{},
                        {}, {});
  CHECK(read_output_results(dir / "empty.h5").empty());
  CHECK(read_output_info(dir / "empty.h5").n_records == 0);

  InputSpec spec;
  spec.prompts = numbered(2, "p");
  write_input_file(dir / "in.h5", spec);
  CHECK_THROWS_WITH(read_output_results(dir / "in.h5"),
                    Contains(dir / "in.h5") && Contains("/results/status is missing"));
  CHECK_THROWS_WITH(read_output_results(dir / "nothing.h5"), Contains("not an HDF5 file"));
}

// Hidden (run by test/hdf5.cmake only): writes sample outputs that
// test/python/check_output_schema.py then reads with h5py, the way users read them.
TEST_CASE("output: schema samples for the Python check", "[.][schema-sample]") {
  const char* dir = std::getenv("SCI_INFER_SCHEMA_SAMPLE_DIR");
  if (!dir) {
    WARN("SCI_INFER_SCHEMA_SAMPLE_DIR not set: nothing written");
    return;
  }
  fs::create_directories(dir);
  const StringAttrs attrs{{"sci_infer.version", "0.1.0"},
                          {"sci_infer.git_commit", "0123456789ab"},
                          {"sci_infer.model_path", "/models/m.gguf"},
                          {"sci_infer.model_sha256", std::string(64, 'a')},
                          {"sci_infer.model_metadata", "{\"general.architecture\": \"llama\"}"},
                          {"sci_infer.config", "{\"max_new_tokens\": 16}"},
                          {"sci_infer.task", "generate"},
                          {"sci_infer.hostnames", "node1,node2"},
                          {"sci_infer.start_time", "2024-01-01T00:00:00Z"},
                          {"sci_infer.end_time", "2024-01-01T00:01:00Z"}};
  const IntAttrs ints{{"sci_infer.seed", 42}, {"sci_infer.n_ranks", 2}};
  auto results = some_results(10, 2);  // odd records pending
  results[4].status = kStatusInputError;
  results[4].error = "in.h5: /prompts[4]: invalid UTF-8 at byte 5";
  results[4].finish = FinishReason::None;
  results[4].tokens.clear();
  results[4].logprobs.clear();
  results[4].text.clear();
  write_output_snapshot(std::string(dir) + "/generate.h5", 10, OutputLayout{}, results, attrs, ints);

  OutputLayout embed;
  embed.task = "embed";
  embed.pooling = "mean";
  embed.d_model = 4;
  std::map<uint64_t, RecordResult> emb;
  for (uint64_t i : {0, 1, 3}) {
    emb[i].index = i;
    emb[i].embedding = {1.f, 2.f, 3.f, float(i)};
  }
  StringAttrs embed_attrs = attrs;
  embed_attrs[6].second = "embed";
  write_output_snapshot(std::string(dir) + "/embed.h5", 5, embed, emb, embed_attrs, ints);
}
