// GGUF reader and writer. A small reference file is encoded here byte by byte from the spec
// (independently of GgufWriter, whose output must match it exactly); every malformed case is
// that file with one field patched, so each test names exactly what is wrong.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "sci_infer/error.hpp"
#include "sci_infer/gguf.hpp"
#include "temp_dir.hpp"

using namespace sci_infer;
using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;

namespace {

namespace fs = std::filesystem;

// A scratch directory of this file's tests.
struct TempDir : testing::TempDir {
  TempDir() : testing::TempDir("sci_infer_gguf") {}
};

std::vector<uint8_t> read_bytes(const std::string& path) { return testing::read_file_bytes(path); }

void write_bytes(const std::string& path, const std::vector<uint8_t>& b) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}

uint64_t align_up(uint64_t x, uint64_t a) { return (x + a - 1) / a * a; }

// Little-endian byte encoder that remembers where named fields start, for later patching.
struct Raw {
  std::vector<uint8_t> b;
  std::map<std::string, size_t> at;

  template <typename T>
  Raw& put(T v) {
    const size_t n = b.size();
    b.resize(n + sizeof(T));
    std::memcpy(b.data() + n, &v, sizeof(T));
    return *this;
  }
  Raw& str(const std::string& s) {
    put<uint64_t>(s.size());
    b.insert(b.end(), s.begin(), s.end());
    return *this;
  }
  Raw& mark(const std::string& name) {
    at[name] = b.size();
    return *this;
  }
  Raw& pad(size_t a) {
    b.resize(align_up(b.size(), a), 0);
    return *this;
  }
};

constexpr uint32_t T_UINT32 = 4, T_INT32 = 5, T_STRING = 8, T_ARRAY = 9;

std::vector<float> tensor_a_values() { return {0, 1, 2, 3, 4, 5, 6, 7}; }
std::vector<uint16_t> tensor_b_values() {
  std::vector<uint16_t> v;
  for (int i = 0; i < 16; ++i) v.push_back(static_cast<uint16_t>(0x3C00 + i));
  return v;
}

// The reference file: four metadata keys, tensor "a" F32 [4, 2] and tensor "b" F16 [16].
// Both tensors are 32 bytes, so with the default alignment the file ends exactly at the end of
// "b" and every shorter prefix is a truncated file.
Raw reference_image(uint32_t version = 3, uint32_t alignment = 32) {
  const bool alignment_key = alignment != 32;
  Raw r;
  r.b = {'G', 'G', 'U', 'F'};
  r.mark("version").put<uint32_t>(version);
  r.mark("tensor_count").put<uint64_t>(2);
  r.mark("kv_count").put<uint64_t>(alignment_key ? 5 : 4);
  r.mark("kv0").str("general.architecture").mark("kv0.type").put<uint32_t>(T_STRING).str("llama");
  r.mark("kv1").str("k.one").mark("kv1.type").put<uint32_t>(T_UINT32).put<uint32_t>(7);
  r.mark("kv2").str("k.two").put<uint32_t>(T_ARRAY).mark("kv2.elem_type").put<uint32_t>(T_INT32);
  r.mark("kv2.count").put<uint64_t>(3).put<int32_t>(1).put<int32_t>(-2).put<int32_t>(3);
  r.mark("kv3").str("k.strs").put<uint32_t>(T_ARRAY).put<uint32_t>(T_STRING);
  r.mark("kv3.count").put<uint64_t>(2).mark("kv3.str0").str("a").str("bc");
  if (alignment_key) {
    r.str("general.alignment").mark("align.type").put<uint32_t>(T_UINT32);
    r.mark("align.value").put<uint32_t>(alignment);
  }
  r.mark("t0").str("a").mark("t0.n_dims").put<uint32_t>(2);
  r.mark("t0.ne0").put<uint64_t>(4).mark("t0.ne1").put<uint64_t>(2);
  r.mark("t0.type").put<uint32_t>(0).mark("t0.offset").put<uint64_t>(0);
  r.mark("t1").str("b").mark("t1.n_dims").put<uint32_t>(1).mark("t1.ne0").put<uint64_t>(16);
  r.mark("t1.type").put<uint32_t>(1).mark("t1.offset").put<uint64_t>(align_up(32, alignment));
  r.pad(alignment).mark("data");
  for (float f : tensor_a_values()) r.put(f);
  r.pad(alignment);
  for (uint16_t h : tensor_b_values()) r.put(h);
  r.pad(alignment);
  return r;
}

std::vector<uint8_t> bytes_of(const void* p, size_t n) {
  const auto* c = static_cast<const uint8_t*>(p);
  return std::vector<uint8_t>(c, c + n);
}

// Writes the reference content through GgufWriter.
void write_reference_with_writer(const std::string& path, uint64_t alignment = 32) {
  GgufWriter w;
  w.set_string("general.architecture", "llama");
  w.set_uint32("k.one", 7);
  w.set_int32_array("k.two", {1, -2, 3});
  w.set_string_array("k.strs", {"a", "bc"});
  const auto a = tensor_a_values();
  const auto b = tensor_b_values();
  w.add_tensor("a", {4, 2}, GgmlType::F32, bytes_of(a.data(), a.size() * 4));
  w.add_tensor("b", {16}, GgmlType::F16, bytes_of(b.data(), b.size() * 2));
  w.write(path, alignment);
}

template <typename T>
void poke(std::vector<uint8_t>& b, size_t at, T v) {
  REQUIRE(at + sizeof(T) <= b.size());
  std::memcpy(b.data() + at, &v, sizeof(T));
}

const char* const kName = "bad.gguf";

std::unique_ptr<GgufFile> open_bytes(const std::vector<uint8_t>& b, size_t n = std::string::npos) {
  return GgufFile::open_buffer(kName, b.data(), std::min(n, b.size()));
}

// The Error message from opening `b` (the test fails if it opens or throws anything else).
std::string open_error(const std::vector<uint8_t>& b, size_t n = std::string::npos) {
  try {
    open_bytes(b, n);
  } catch (const Error& e) {
    return e.what();
  }
  FAIL("malformed image opened without error");
  return "";
}

}  // namespace

// ---- writer / reader round trip -----------------------------------------------------------

TEST_CASE("gguf: GgufWriter output is byte-identical to the hand-encoded reference", "[gguf]") {
  TempDir dir;
  for (uint32_t alignment : {32u, 64u, 4096u}) {
    const std::string path = dir.file("ref.gguf");
    write_reference_with_writer(path, alignment);
    INFO("alignment " << alignment);
    CHECK(read_bytes(path) == reference_image(3, alignment).b);
  }
}

TEST_CASE("gguf: reference file reads back", "[gguf]") {
  TempDir dir;
  const std::string path = dir.file("ref.gguf");
  write_reference_with_writer(path);
  auto f = GgufFile::open(path);
  CHECK(f->path() == path);
  CHECK(f->version() == 3);
  CHECK(f->alignment() == 32);
  CHECK(f->file_size() == reference_image().b.size());
  CHECK(f->data_offset() == reference_image().at["data"]);
  CHECK(f->metadata_keys() == std::vector<std::string>{"general.architecture", "k.one", "k.two", "k.strs"});
  CHECK(f->get_string("general.architecture") == "llama");
  CHECK(f->get_uint("k.one") == 7);
  CHECK(f->get_int_array("k.two") == std::vector<int64_t>{1, -2, 3});
  CHECK(f->value("k.two").array_size() == 3);
  CHECK(f->get_string_array("k.strs") == std::vector<std::string>{"a", "bc"});
  REQUIRE(f->tensors().size() == 2);
  const GgufTensorInfo& a = f->tensor("a", {4, 2});
  CHECK(a.type == GgmlType::F32);
  CHECK(a.n_elements == 8);
  CHECK(a.n_bytes == 32);
  CHECK(a.offset == 0);
  std::vector<float> av(8);
  std::memcpy(av.data(), f->tensor_data(a), 32);
  CHECK(av == tensor_a_values());
  const GgufTensorInfo& b = f->tensor("b", {16});
  CHECK(b.type == GgmlType::F16);
  CHECK(b.offset == 32);
  std::vector<uint16_t> bv(16);
  std::memcpy(bv.data(), f->tensor_data(b), 32);
  CHECK(bv == tensor_b_values());
  CHECK(f->find_tensor("c") == nullptr);
  CHECK(&f->tensors()[1] == f->find_tensor("b"));
}

TEST_CASE("gguf: every metadata setter and getter", "[gguf]") {
  TempDir dir;
  const std::string path = dir.file("kv.gguf");
  GgufWriter w;
  w.set_string("s", "héllo\n");
  w.set_string("empty", "");
  w.set_uint32("u32", 4000000000u);
  w.set_int32("i32", -5);
  w.set_int32("i32pos", 12);
  w.set_uint64("u64", std::numeric_limits<uint64_t>::max());
  w.set_float32("f32", 0.25f);
  w.set_bool("yes", true);
  w.set_bool("no", false);
  w.set_string_array("sa", {"x", "", "yz"});
  w.set_float32_array("fa", {1.5f, -2.0f});
  w.set_int32_array("ia", {std::numeric_limits<int32_t>::min(), 0, 7});
  w.set_int32_array("ia_empty", {});
  w.set_uint32("twice", 1);
  w.set_uint32("twice", 2);  // replaces the value, keeps the position
  w.write(path);

  auto f = GgufFile::open(path);
  CHECK(f->metadata_keys().size() == 14);
  CHECK(f->metadata_keys().back() == "twice");
  CHECK(f->get_uint("twice") == 2);
  CHECK(f->get_string("s") == "héllo\n");
  CHECK(f->get_string("empty").empty());
  CHECK(f->value("u32").type == GgufValueType::UINT32);
  CHECK(f->get_uint("u32") == 4000000000u);
  CHECK(f->get_int("u32") == 4000000000);
  CHECK(f->get_float("u32") == 4e9);
  CHECK(f->get_int("i32") == -5);
  CHECK(f->get_uint("i32pos") == 12);
  CHECK(f->get_uint("u64") == std::numeric_limits<uint64_t>::max());
  CHECK(f->get_float("f32") == 0.25);
  CHECK(f->get_bool("yes"));
  CHECK_FALSE(f->get_bool("no"));
  CHECK(f->get_string_array("sa") == std::vector<std::string>{"x", "", "yz"});
  CHECK(f->get_float_array("fa") == std::vector<double>{1.5, -2.0});
  CHECK(f->get_int_array("ia") == std::vector<int64_t>{std::numeric_limits<int32_t>::min(), 0, 7});
  CHECK(f->get_int_array("ia_empty").empty());
  CHECK(f->value("sa").array_type == GgufValueType::STRING);
  CHECK(f->value("sa").array_size() == 3);
  CHECK(f->value("s").array_size() == 0);

  SECTION("defaults apply only to absent keys") {
    CHECK(f->get_uint_or("nope", 9) == 9);
    CHECK(f->get_float_or("nope", 1.5) == 1.5);
    CHECK(f->get_string_or("nope", "d") == "d");
    CHECK(f->get_uint_or("u32", 9) == 4000000000u);
    CHECK(f->get_float_or("f32", 1.5) == 0.25);
    CHECK(f->get_string_or("s", "d") == "héllo\n");
    CHECK_THROWS_AS(f->get_uint_or("s", 9), Error);
    CHECK_THROWS_AS(f->get_string_or("u32", "d"), Error);
  }
  SECTION("missing keys and wrong types name file and key") {
    CHECK_THROWS_WITH(f->value("llama.block_count"),
                      path + ": metadata key 'llama.block_count' is missing");
    CHECK_THROWS_WITH(f->get_uint("s"), path + ": metadata key 's' has type STRING, expected a non-negative integer");
    CHECK_THROWS_WITH(f->get_int("s"), path + ": metadata key 's' has type STRING, expected an integer");
    CHECK_THROWS_WITH(f->get_string("u32"), path + ": metadata key 'u32' has type UINT32, expected a string");
    CHECK_THROWS_WITH(f->get_uint("i32"), Contains("'i32' has negative value -5"));
    CHECK_THROWS_WITH(f->get_int("u64"), Contains("'u64'") && Contains("does not fit"));
    CHECK_THROWS_WITH(f->get_float("s"), Contains("expected a number"));
    CHECK_THROWS_WITH(f->get_bool("u32"), Contains("has type UINT32, expected BOOL"));
    CHECK_THROWS_WITH(f->get_uint("yes"), Contains("has type BOOL"));
    CHECK_THROWS_WITH(f->get_string_array("ia"), Contains("has type ARRAY of INT32, expected an ARRAY of STRING"));
    CHECK_THROWS_WITH(f->get_float_array("ia"), Contains("'ia' has type ARRAY of INT32"));
    CHECK_THROWS_WITH(f->get_int_array("fa"), Contains("'fa' has type ARRAY of FLOAT32"));
    CHECK_THROWS_WITH(f->get_int_array("s"), Contains("'s' has type STRING"));
  }
}

TEST_CASE("gguf: the reader decodes every metadata value type", "[gguf]") {
  Raw r;
  r.b = {'G', 'G', 'U', 'F'};
  r.put<uint32_t>(3).put<uint64_t>(0).put<uint64_t>(13 + 9);
  r.str("u8").put<uint32_t>(0).put<uint8_t>(200);
  r.str("i8").put<uint32_t>(1).put<int8_t>(-100);
  r.str("u16").put<uint32_t>(2).put<uint16_t>(60000);
  r.str("i16").put<uint32_t>(3).put<int16_t>(-30000);
  r.str("u32").put<uint32_t>(4).put<uint32_t>(4000000000u);
  r.str("i32").put<uint32_t>(5).put<int32_t>(-2000000000);
  r.str("f32").put<uint32_t>(6).put<float>(-0.5f);
  r.str("bool").put<uint32_t>(7).put<uint8_t>(1);
  r.str("str").put<uint32_t>(8).str("text");
  r.str("u64").put<uint32_t>(10).put<uint64_t>(1ull << 63);
  r.str("i64").put<uint32_t>(11).put<int64_t>(-(1ll << 62));
  r.str("f64").put<uint32_t>(12).put<double>(1e300);
  r.str("bool0").put<uint32_t>(7).put<uint8_t>(0);
  auto array = [&](const char* key, uint32_t type, uint64_t n) { r.str(key).put<uint32_t>(9).put(type).put(n); };
  array("a_u8", 0, 2);
  r.put<uint8_t>(255).put<uint8_t>(0);
  array("a_i8", 1, 1);
  r.put<int8_t>(-128);
  array("a_u16", 2, 1);
  r.put<uint16_t>(65535);
  array("a_i16", 3, 1);
  r.put<int16_t>(-32768);
  array("a_u32", 4, 1);
  r.put<uint32_t>(4294967295u);
  array("a_u64", 10, 1);
  r.put<uint64_t>(1ull << 40);
  array("a_i64", 11, 1);
  r.put<int64_t>(std::numeric_limits<int64_t>::min());
  array("a_f64", 12, 2);
  r.put<double>(0.1).put<double>(-3.0);
  array("a_bool", 7, 3);
  r.put<uint8_t>(1).put<uint8_t>(0).put<uint8_t>(1);

  auto f = open_bytes(r.b);
  CHECK(f->get_uint("u8") == 200);
  CHECK(f->get_int("i8") == -100);
  CHECK(f->get_uint("u16") == 60000);
  CHECK(f->get_int("i16") == -30000);
  CHECK(f->get_uint("u32") == 4000000000u);
  CHECK(f->get_int("i32") == -2000000000);
  CHECK(f->get_float("f32") == -0.5);
  CHECK(f->get_bool("bool"));
  CHECK_FALSE(f->get_bool("bool0"));
  CHECK(f->get_string("str") == "text");
  CHECK(f->get_uint("u64") == (1ull << 63));
  CHECK(f->get_int("i64") == -(1ll << 62));
  CHECK(f->get_float("f64") == 1e300);
  CHECK(f->value("i8").type == GgufValueType::INT8);
  CHECK(f->get_int_array("a_u8") == std::vector<int64_t>{255, 0});
  CHECK(f->get_int_array("a_i8") == std::vector<int64_t>{-128});
  CHECK(f->get_int_array("a_u16") == std::vector<int64_t>{65535});
  CHECK(f->get_int_array("a_i16") == std::vector<int64_t>{-32768});
  CHECK(f->get_int_array("a_u32") == std::vector<int64_t>{4294967295});
  CHECK(f->get_int_array("a_u64") == std::vector<int64_t>{1ll << 40});
  CHECK(f->get_int_array("a_i64") == std::vector<int64_t>{std::numeric_limits<int64_t>::min()});
  CHECK(f->get_float_array("a_f64") == std::vector<double>{0.1, -3.0});
  CHECK(f->get_int_array("a_bool") == std::vector<int64_t>{1, 0, 1});
  CHECK(f->value("a_f64").array_type == GgufValueType::FLOAT64);
  CHECK(f->tensors().empty());
}

TEST_CASE("gguf: tensors of every type, rank and alignment", "[gguf]") {
  TempDir dir;
  const std::string path = dir.file("t.gguf");
  struct Spec { std::string name; std::vector<uint64_t> ne; GgmlType type; };
  const std::vector<Spec> specs = {
      {"f32.1d", {3}, GgmlType::F32},          {"f16.2d", {5, 3}, GgmlType::F16},
      {"q8.3d", {64, 2, 3}, GgmlType::Q8_0},   {"bf16.4d", {2, 3, 1, 2}, GgmlType::BF16},
      {"q8.1d", {32}, GgmlType::Q8_0},
  };
  for (uint64_t alignment : {1ull, 8ull, 32ull, 128ull}) {
    INFO("alignment " << alignment);
    GgufWriter w;
    std::vector<std::vector<uint8_t>> datas;
    for (size_t k = 0; k < specs.size(); ++k) {
      uint64_t rows = 1;
      for (size_t d = 1; d < specs[k].ne.size(); ++d) rows *= specs[k].ne[d];
      std::vector<uint8_t> data(ggml_row_bytes(specs[k].type, specs[k].ne[0]) * rows);
      for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<uint8_t>(i * 7 + k);
      datas.push_back(data);
      if (k % 2) {
        w.add_tensor_lazy(specs[k].name, specs[k].ne, specs[k].type, [data] { return data; });
      } else {
        w.add_tensor(specs[k].name, specs[k].ne, specs[k].type, data);
      }
    }
    w.write(path, alignment);
    auto f = GgufFile::open(path);
    CHECK(f->alignment() == alignment);
    CHECK(f->has("general.alignment") == (alignment != 32));
    CHECK(f->data_offset() % alignment == 0);
    REQUIRE(f->tensors().size() == specs.size());
    for (size_t k = 0; k < specs.size(); ++k) {
      const GgufTensorInfo& t = f->tensor(specs[k].name, specs[k].ne);
      CHECK(t.name == f->tensors()[k].name);  // file order is insertion order
      CHECK(t.type == specs[k].type);
      CHECK(t.offset % alignment == 0);
      CHECK(t.n_bytes == datas[k].size());
      CHECK(bytes_of(f->tensor_data(t), t.n_bytes) == datas[k]);
    }
  }
}

TEST_CASE("gguf: version 2 files are accepted, trailing bytes are ignored", "[gguf]") {
  Raw v2 = reference_image(2);
  auto f = open_bytes(v2.b);
  CHECK(f->version() == 2);
  Raw longer = reference_image();
  longer.b.resize(longer.b.size() + 100, 0xAB);
  CHECK(open_bytes(longer.b)->tensors().size() == 2);
  CHECK(open_bytes(reference_image(3, 64).b)->alignment() == 64);
}

TEST_CASE("gguf: tensor() checks presence and shape", "[gguf]") {
  auto f = open_bytes(reference_image().b);
  CHECK_THROWS_WITH(f->tensor("missing.weight"), "bad.gguf: tensor 'missing.weight' is missing");
  CHECK_THROWS_WITH(f->tensor("a", {4, 3}), "bad.gguf: tensor 'a' has shape [4, 2], expected [4, 3]");
  CHECK_THROWS_WITH(f->tensor("a", {4}), "bad.gguf: tensor 'a' has shape [4, 2], expected [4]");
  CHECK_THROWS_WITH(f->tensor("a", {2, 4}), Contains("expected [2, 4]"));
  CHECK(f->tensor("a").ne == std::vector<uint64_t>{4, 2});
}

TEST_CASE("gguf: writer refuses inconsistent input", "[gguf]") {
  TempDir dir;
  GgufWriter w;
  CHECK_THROWS_WITH(w.add_tensor("x", {4}, GgmlType::F32, std::vector<uint8_t>(15)), Contains("needs 16 bytes"));
  CHECK_THROWS_WITH(w.add_tensor("x", {33}, GgmlType::Q8_0, {}), Contains("not a multiple of the block size 32"));
  CHECK_THROWS_AS(w.add_tensor("x", {4, 0}, GgmlType::F32, {}), Error);
  CHECK_THROWS_AS(w.add_tensor("x", {}, GgmlType::F32, {}), Error);
  CHECK_THROWS_AS(w.add_tensor("x", {1, 1, 1, 1, 1}, GgmlType::F32, std::vector<uint8_t>(4)), Error);
  CHECK_THROWS_AS(w.add_tensor("", {1}, GgmlType::F32, std::vector<uint8_t>(4)), Error);
  CHECK_THROWS_AS(w.add_tensor("x", {1}, static_cast<GgmlType>(12), std::vector<uint8_t>(4)), Error);
  CHECK_THROWS_AS(w.add_tensor_lazy("x", {1}, GgmlType::F32, nullptr), Error);
  CHECK_THROWS_AS(w.set_uint32("", 1), Error);
  w.add_tensor("x", {4}, GgmlType::F32, std::vector<uint8_t>(16));
  CHECK_THROWS_WITH(w.add_tensor("x", {4}, GgmlType::F32, std::vector<uint8_t>(16)), Contains("added twice"));
  CHECK_THROWS_AS(w.write(dir.file("a.gguf"), 0), Error);
  CHECK_THROWS_AS(w.write(dir.file("a.gguf"), 48), Error);
  w.add_tensor_lazy("y", {4}, GgmlType::F32, [] { return std::vector<uint8_t>(3); });
  CHECK_THROWS_WITH(w.write(dir.file("b.gguf")), Contains("source produced 3 bytes, expected 16"));
  CHECK_FALSE(fs::exists(dir.file("b.gguf")));  // no partial file left behind
  CHECK(fs::is_empty(fs::path(dir.file(""))));

  GgufWriter w2;
  w2.set_uint32("general.alignment", 64);
  CHECK_THROWS_WITH(w2.write(dir.file("c.gguf")), Contains("disagrees"));
  w2.write(dir.file("c.gguf"), 64);
  CHECK(GgufFile::open(dir.file("c.gguf"))->alignment() == 64);
  CHECK_THROWS_WITH(w2.write(dir.file("no/such/dir/d.gguf")), StartsWith(dir.file("no/such/dir/d.gguf") + ": "));
}

// ---- malformed input ----------------------------------------------------------------------

TEST_CASE("gguf: malformed files raise Error naming the file and the fault", "[gguf]") {
  Raw ref = reference_image();
  std::vector<uint8_t> b = ref.b;
  auto& at = ref.at;
  REQUIRE(open_bytes(b)->tensors().size() == 2);

  SECTION("bad magic") {
    b[0] = 'X';
    CHECK_THAT(open_error(b), StartsWith("bad.gguf: ") && Contains("not a GGUF file") && Contains("XGUF"));
    b[0] = 0;
    CHECK_THAT(open_error(b), Contains("\\x00GUF"));
  }
  SECTION("unsupported versions") {
    for (uint32_t v : {0u, 1u, 4u, 0xFFFFFFFFu}) {
      poke<uint32_t>(b, at["version"], v);
      CHECK_THAT(open_error(b), Contains("unsupported GGUF version " + std::to_string(v)));
    }
    poke<uint32_t>(b, at["version"], 0x03000000u);
    CHECK_THAT(open_error(b), Contains("big-endian"));
  }
  SECTION("every truncation of the file") {
    for (size_t n = 0; n < b.size(); ++n) {
      INFO("prefix of " << n << " bytes");
      CHECK_THAT(open_error(b, n), StartsWith("bad.gguf: "));
    }
    CHECK_THAT(open_error(b, 0), Contains("truncated while reading header"));
    CHECK_THAT(open_error(b, 10), Contains("truncated while reading header"));
    CHECK_THAT(open_error(b, at["kv1"] + 3), Contains("metadata key count 4 cannot fit"));
    CHECK_THAT(open_error(b, at["kv2"] + 3), Contains("truncated while reading metadata key 2"));
    CHECK_THAT(open_error(b, at["kv2.count"] + 10), Contains("metadata key 2 ('k.two')"));
    CHECK_THAT(open_error(b, at["t1.ne0"]), Contains("truncated while reading tensor info 1 ('b')"));
    CHECK_THAT(open_error(b, at["data"] - 1), Contains("padding before the data section"));
    CHECK_THAT(open_error(b, b.size() - 1), Contains("tensor 'b' data") && Contains("past the end"));
  }
  SECTION("counts larger than the file could hold") {
    poke<uint64_t>(b, at["kv_count"], 1ull << 62);
    CHECK_THAT(open_error(b), Contains("metadata key count 4611686018427387904 cannot fit"));
    b = ref.b;
    poke<uint64_t>(b, at["tensor_count"], std::numeric_limits<uint64_t>::max());
    CHECK_THAT(open_error(b), Contains("tensor count") && Contains("cannot fit"));
    b = ref.b;
    poke<uint64_t>(b, at["kv2.count"], 1ull << 61);
    CHECK_THAT(open_error(b), Contains("array of INT32, element count") && Contains("'k.two'"));
    b = ref.b;
    poke<uint64_t>(b, at["kv3.count"], 1ull << 40);
    CHECK_THAT(open_error(b), Contains("array of STRING"));
    b = ref.b;
    poke<uint64_t>(b, at["kv0"], std::numeric_limits<uint64_t>::max());  // key length
    CHECK_THAT(open_error(b), Contains("string length 18446744073709551615 exceeds"));
    b = ref.b;
    poke<uint64_t>(b, at["kv3.str0"], 1ull << 62);  // string inside an array
    CHECK_THAT(open_error(b), Contains("metadata key 3 ('k.strs')") && Contains("string length"));
    b = ref.b;
    poke<uint64_t>(b, at["kv_count"], 5);  // one more key than present: reads into the tensors
    CHECK_THAT(open_error(b), StartsWith("bad.gguf: "));
    b = ref.b;
    poke<uint64_t>(b, at["tensor_count"], 3);  // one more tensor than present: reads into data
    CHECK_THAT(open_error(b), Contains("tensor info 2"));
  }
  SECTION("unknown and nested value types, bad bool") {
    poke<uint32_t>(b, at["kv1.type"], 13);
    CHECK_THAT(open_error(b), Contains("metadata key 'k.one' has unknown value type 13"));
    b = ref.b;
    poke<uint32_t>(b, at["kv2.elem_type"], 9);
    CHECK_THAT(open_error(b), Contains("nested arrays"));
    b = ref.b;
    poke<uint32_t>(b, at["kv2.elem_type"], 77);
    CHECK_THAT(open_error(b), Contains("array of unknown value type 77"));
    b = ref.b;
    poke<uint32_t>(b, at["kv1.type"], 7);  // BOOL whose byte is 7 (low byte of the UINT32)
    CHECK_THAT(open_error(b), Contains("BOOL value 7"));
  }
  SECTION("duplicate names") {
    std::memcpy(b.data() + at["kv2"] + 8, "k.one", 5);  // "k.two" -> "k.one"
    CHECK_THAT(open_error(b), Contains("duplicate metadata key 'k.one'"));
    b = ref.b;
    b[at["t1"] + 8] = 'a';
    CHECK_THAT(open_error(b), Contains("duplicate tensor name 'a'"));
  }
  SECTION("empty names") {
    // An empty key makes the rest of the file misparse; the point is the early, precise error.
    poke<uint64_t>(b, at["kv1"], 0);
    CHECK_THAT(open_error(b), Contains("metadata key 1 has an empty name"));
  }
  SECTION("tensor type") {
    poke<uint32_t>(b, at["t0.type"], 10);
    CHECK_THAT(open_error(b), Contains("tensor 'a' has unsupported type 10 (Q2_K); supported: F32, F16, Q4_0"));
    poke<uint32_t>(b, at["t0.type"], 1000);
    CHECK_THAT(open_error(b), Contains("unsupported type 1000;"));
    poke<uint32_t>(b, at["t0.type"], 8);  // Q8_0 with ne[0] = 4
    CHECK_THAT(open_error(b), Contains("ne[0] = 4, not a multiple of the block size 32"));
  }
  SECTION("shapes") {
    poke<uint32_t>(b, at["t0.n_dims"], 0);
    CHECK_THAT(open_error(b), Contains("tensor 'a' has 0 dimensions, expected 1 to 4"));
    poke<uint32_t>(b, at["t0.n_dims"], 5);
    CHECK_THAT(open_error(b), Contains("has 5 dimensions"));
    b = ref.b;
    poke<uint64_t>(b, at["t0.ne1"], 0);
    CHECK_THAT(open_error(b), Contains("tensor 'a' has a zero dimension: shape [4, 0]"));
    poke<uint64_t>(b, at["t0.ne0"], 1ull << 32);
    poke<uint64_t>(b, at["t0.ne1"], 1ull << 31);
    CHECK_THAT(open_error(b), Contains("too many elements"));
    poke<uint64_t>(b, at["t0.ne0"], 1ull << 61);  // 2^62 elements fit int64, 2^64 bytes do not
    poke<uint64_t>(b, at["t0.ne1"], 2);
    CHECK_THAT(open_error(b), Contains("tensor 'a' shape [2305843009213693952, 2] is too large in bytes"));
    poke<uint64_t>(b, at["t0.ne0"], (1ull << 62) + 4);  // one row of over 2^64 bytes
    poke<uint64_t>(b, at["t0.ne1"], 1);
    CHECK_THAT(open_error(b), StartsWith("bad.gguf: ") && Contains("too large in bytes"));
  }
  SECTION("tensor offsets and extents") {
    poke<uint64_t>(b, at["t1.offset"], 33);
    CHECK_THAT(open_error(b), Contains("tensor 'b' offset 33 is not a multiple of the alignment 32"));
    poke<uint64_t>(b, at["t1.offset"], 64);
    CHECK_THAT(open_error(b), Contains("tensor 'b' data (offset 64, 32 bytes) extends past the end"));
    poke<uint64_t>(b, at["t1.offset"], 1ull << 63);
    CHECK_THAT(open_error(b), Contains("extends past the end"));
    poke<uint64_t>(b, at["t1.offset"], 0);
    CHECK_THAT(open_error(b), Contains("tensors 'a' and 'b' overlap"));
    b = ref.b;
    poke<uint64_t>(b, at["t0.ne1"], 3);  // "a" grows into "b"
    CHECK_THAT(open_error(b), Contains("overlap"));
  }
  SECTION("general.alignment") {
    Raw r = reference_image(3, 64);
    std::vector<uint8_t> c = r.b;
    for (uint32_t bad : {0u, 48u, 3u}) {
      poke<uint32_t>(c, r.at["align.value"], bad);
      CHECK_THAT(open_error(c), Contains("general.alignment " + std::to_string(bad) + " is not a non-zero power of two"));
    }
    c = r.b;
    poke<uint32_t>(c, r.at["align.type"], T_INT32);
    CHECK_THAT(open_error(c), Contains("'general.alignment' has type INT32, expected UINT32"));
  }
}

TEST_CASE("gguf: open() on real files reports the path", "[gguf]") {
  TempDir dir;
  const std::string missing = dir.file("missing.gguf");
  CHECK_THROWS_WITH(GgufFile::open(missing), StartsWith(missing + ": cannot open"));
  CHECK_THROWS_WITH(GgufFile::open(dir.file("")), Contains("not a regular file"));
  const std::string empty = dir.file("empty.gguf");
  write_bytes(empty, {});
  CHECK_THROWS_WITH(GgufFile::open(empty), empty + ": truncated while reading header");
  std::vector<uint8_t> b = reference_image().b;
  const std::string path = dir.file("cut.gguf");
  for (size_t n : {size_t{3}, size_t{20}, size_t{60}, b.size() / 2, b.size() - 1}) {
    write_bytes(path, std::vector<uint8_t>(b.begin(), b.begin() + static_cast<long>(n)));
    CHECK_THROWS_WITH(GgufFile::open(path), StartsWith(path + ": "));
  }
  write_bytes(path, b);
  CHECK(GgufFile::open(path)->tensors().size() == 2);
}
