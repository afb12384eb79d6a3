// The input's optional datasets beyond the records themselves (docs/hdf5-schema.md): user
// datasets carried through to the output (/ids, --carry), per-record sampling datasets, and the
// faults of an input file that must be refused at open (filters, absurd shapes) or must fail
// only the records concerned (a damaged chunk read mid-run).
#include <catch2/catch.hpp>

#include <hdf5.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>

#include "hdf5_test_files.hpp"
#include "temp_dir.hpp"
#include "io/hdf5_input.hpp"
#include "io/hdf5_output.hpp"
#include "io/hdf5_util.hpp"
#include "sci_infer/error.hpp"

namespace fs = std::filesystem;
using namespace sci_infer;
using namespace sci_infer::test_files;
using Catch::Matchers::Contains;
using h5::Id;

namespace {

std::vector<std::string> prompts(size_t n) {
  std::vector<std::string> v;
  for (size_t i = 0; i < n; ++i) v.push_back("prompt " + std::to_string(i));
  return v;
}

void write_prompts_file(const std::string& path, size_t n, bool chunked = false, uint64_t chunk = 16) {
  InputSpec spec;
  spec.prompts = prompts(n);
  spec.chunked_gzip = chunked;
  spec.chunk_records = chunk;
  write_input_file(path, spec);
}

Id open_rw(const std::string& path) {
  return h5::file_id(H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT), "test: open " + path);
}

// A 1-D dataset of variable-length UTF-8 strings.
void add_strings(const std::string& path, const std::string& name, const std::vector<std::string>& v) {
  Id file = open_rw(path);
  Id type = h5::utf8_string_type();
  hsize_t n = v.size();
  Id space = h5::space_id(H5Screate_simple(1, &n, nullptr), "test");
  Id ds = h5::dataset_id(H5Dcreate2(file.get(), name.c_str(), type.get(), space.get(), H5P_DEFAULT,
                                    H5P_DEFAULT, H5P_DEFAULT),
                         "test: create " + name);
  std::vector<const char*> p;
  for (const std::string& s : v) p.push_back(s.c_str());
  h5::check_status(H5Dwrite(ds.get(), type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, p.data()), "test: write");
}

// A 1-D dataset of variable-length int64 sequences.
void add_vlen_int64(const std::string& path, const std::string& name,
                    const std::vector<std::vector<int64_t>>& v) {
  Id file = open_rw(path);
  Id type = h5::type_id(H5Tvlen_create(H5T_STD_I64LE), "test");
  Id mem = h5::type_id(H5Tvlen_create(H5T_NATIVE_INT64), "test");
  hsize_t n = v.size();
  Id space = h5::space_id(H5Screate_simple(1, &n, nullptr), "test");
  Id ds = h5::dataset_id(H5Dcreate2(file.get(), name.c_str(), type.get(), space.get(), H5P_DEFAULT,
                                    H5P_DEFAULT, H5P_DEFAULT),
                         "test: create " + name);
  std::vector<hvl_t> buf;
  for (const auto& x : v) buf.push_back(hvl_t{x.size(), const_cast<int64_t*>(x.data())});
  h5::check_status(H5Dwrite(ds.get(), mem.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, buf.data()), "test: write");
}

// A chunked float32 dataset of the given shape with nothing written (HDF5 stores no chunk), so a
// file of a few KB declares any size.
void add_declared_only(const std::string& path, const std::string& name, std::vector<hsize_t> dims) {
  Id file = open_rw(path);
  Id space = h5::space_id(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr), "test");
  Id dcpl = h5::plist_id(H5Pcreate(H5P_DATASET_CREATE), "test");
  std::vector<hsize_t> chunk(dims.size(), 1);
  chunk.back() = std::min<hsize_t>(dims.back(), 64);
  h5::check_status(H5Pset_chunk(dcpl.get(), static_cast<int>(chunk.size()), chunk.data()), "test");
  Id ds = h5::dataset_id(H5Dcreate2(file.get(), name.c_str(), H5T_IEEE_F32LE, space.get(), H5P_DEFAULT,
                                    dcpl.get(), H5P_DEFAULT),
                         "test: create " + name);
}


InputOptions carrying(std::vector<std::string> names) {
  InputOptions o;
  o.carry = std::move(names);
  return o;
}

// Flips bytes inside chunk `index` of `dataset` (past its first bytes, so the gzip header stays
// plausible and inflate fails on the data), the way a bad disk block or a torn copy would.
void damage_chunk(const std::string& path, const std::string& dataset, hsize_t index) {
  haddr_t addr = 0;
  hsize_t size = 0;
  {
    Id file = h5::file_id(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), "test: open");
    Id ds = h5::dataset_id(H5Dopen2(file.get(), dataset.c_str(), H5P_DEFAULT), "test: open ds");
    Id space = h5::space_id(H5Dget_space(ds.get()), "test: H5Dget_space");
    hsize_t offset[1];
    unsigned mask = 0;
    h5::check_status(H5Dget_chunk_info(ds.get(), space.get(), index, offset, &mask, &addr, &size),
                     "test: H5Dget_chunk_info");
  }
  REQUIRE(size > 4);
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  for (hsize_t k = 2; k < size; ++k) {
    f.seekg(static_cast<std::streamoff>(addr + k));
    const char c = static_cast<char>(f.get() ^ 0x5a);
    f.seekp(static_cast<std::streamoff>(addr + k));
    f.put(c);
  }
}

}  // namespace

// =============================================================================================
// Carried datasets
// =============================================================================================

TEST_CASE("input: /ids and --carry datasets are validated and listed for the output",
          "[hdf5][input][carry]") {
  sci_infer::testing::TempDir dir("h5inds");
  const std::string path = dir.file("in.h5");
  write_prompts_file(path, 4);
  add_numeric_dataset(path, "/ids", NumType::Int64, {4}, {100, 101, 102, 103});
  add_strings(path, "/doc", {"a", "b", "c", "d"});
  add_numeric_dataset(path, "/weight", NumType::Float64, {4}, {0.5, 1.5, 2.5, 3.5});

  CHECK(InputFile::open(path)->carried() == std::vector<std::string>{"/ids"});
  CHECK(InputFile::open(path, carrying({"doc", "/weight", "ids", "doc"}))->carried() ==
        std::vector<std::string>{"/ids", "/doc", "/weight"});

  CHECK(open_error(path, carrying({"nope"})) == path + ": --carry nope: the input has no dataset /nope");
  CHECK_THAT(open_error(path, carrying({"status"})), Contains("/results/status"));
  CHECK_THAT(open_error(path, carrying({"a/b"})), Contains("--carry a/b"));
}

TEST_CASE("input: carried datasets of another length or shape are refused at open",
          "[hdf5][input][carry][errors]") {
  sci_infer::testing::TempDir dir("h5inds");
  const std::string path = dir.file("in.h5");
  write_prompts_file(path, 4);
  add_numeric_dataset(path, "/ids", NumType::Int64, {3}, {1, 2, 3});
  CHECK(open_error(path) == path + ": /ids has 3 records but /prompts has 4");

  write_prompts_file(path, 4);
  add_numeric_dataset(path, "/ids", NumType::Float32, {4}, {1, 2, 3, 4});
  CHECK(open_error(path) == path + ": dataset /ids has type float32, expected an integer or string type");

  write_prompts_file(path, 4);
  add_numeric_dataset(path, "/label", NumType::Int32, {4, 2}, {1, 2, 3, 4, 5, 6, 7, 8});
  CHECK_NOTHROW(InputFile::open(path));  // not carried: not looked at
  CHECK_THAT(open_error(path, carrying({"label"})),
             Contains(path + ": dataset /label has shape [4, 2], expected a 1-D dataset"));

  write_prompts_file(path, 4);
  add_numeric_dataset(path, "/label", NumType::Int32, {5}, {1, 2, 3, 4, 5});
  CHECK(open_error(path, carrying({"label"})) == path + ": /label has 5 records but /prompts has 4");
}

TEST_CASE("output: carried datasets are copied to /results with their type and values",
          "[hdf5][output][carry]") {
  sci_infer::testing::TempDir dir("h5inds");
  const std::string in = dir.file("in.h5"), out = dir.file("out.h5");
  write_prompts_file(in, 5);
  const std::vector<double> ids = {7, 9000000000.0, 3, 1, 42};
  add_numeric_dataset(in, "/ids", NumType::Int64, {5}, ids);
  add_strings(in, "/doc", {"d0", "d\xC3\xA9", "", "d3", "d4"});

  OutputLayout layout;
  layout.chunk_records = 2;  // several slabs
  layout.carry_from = in;
  layout.carried = InputFile::open(in, carrying({"doc"}))->carried();
  std::map<uint64_t, RecordResult> results;
  results[1].status = 0;
  write_output_snapshot(out, 5, layout, results, {}, {});

  h5::QuietErrors quiet;
  Id file = h5::file_id(H5Fopen(out.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), "test: open out");
  Id ds = h5::dataset_id(H5Dopen2(file.get(), "/results/ids", H5P_DEFAULT), "/results/ids");
  Id type = h5::type_id(H5Dget_type(ds.get()), "type");
  CHECK(H5Tequal(type.get(), H5T_STD_I64LE) > 0);
  std::vector<int64_t> got(5);
  h5::check_status(H5Dread(ds.get(), H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, got.data()), "read");
  for (size_t i = 0; i < 5; ++i) CHECK(got[i] == static_cast<int64_t>(ids[i]));

  Id doc = h5::dataset_id(H5Dopen2(file.get(), "/results/doc", H5P_DEFAULT), "/results/doc");
  Id str = h5::utf8_string_type();
  std::vector<char*> s(5);
  h5::check_status(H5Dread(doc.get(), str.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, s.data()), "read doc");
  CHECK(std::string(s[1]) == "d\xC3\xA9");
  CHECK(std::string(s[2]).empty());
  CHECK(std::string(s[4]) == "d4");
  Id space = h5::space_id(H5Dget_space(doc.get()), "space");
  H5Dvlen_reclaim(str.get(), space.get(), H5P_DEFAULT, s.data());

  // The results themselves are unchanged by the extra datasets.
  auto back = read_output_results(out);
  REQUIRE(back.size() == 1);
  CHECK(back.begin()->first == 1);
}

// =============================================================================================
// Per-record sampling datasets
// =============================================================================================

TEST_CASE("input: per-record temperature, top_p, top_k and stop_tokens; bad values fail their record",
          "[hdf5][input][records]") {
  sci_infer::testing::TempDir dir("h5inds");
  const std::string path = dir.file("in.h5");
  const double nan = std::nan("");
  write_prompts_file(path, 8);
  add_numeric_dataset(path, "/temperature", NumType::Float32, {8}, {0.7, -1, nan, 0, 0, 0, 0, 1.25});
  add_numeric_dataset(path, "/top_p", NumType::Float32, {8}, {0.9, 1, 1, 0, 1.5, 1, 1, 1});
  add_numeric_dataset(path, "/top_k", NumType::Int32, {8}, {5, 0, 0, 0, 0, -3, 0, 40});
  add_vlen_int64(path, "/stop_tokens", {{1, 2}, {}, {}, {}, {}, {}, {int64_t(1) << 40}, {}});

  auto recs = InputFile::open(path)->read(0, 8);
  REQUIRE(recs.size() == 8);
  CHECK(recs[0].error.empty());
  CHECK(*recs[0].temperature == 0.7f);
  CHECK(*recs[0].top_p == 0.9f);
  CHECK(*recs[0].top_k == 5);
  CHECK(*recs[0].stop_tokens == std::vector<int32_t>{1, 2});
  CHECK(recs[7].error.empty());
  CHECK(*recs[7].temperature == 1.25f);
  CHECK(*recs[7].top_k == 40);
  CHECK(recs[7].stop_tokens->empty());

  CHECK(recs[1].error == path + ": /temperature[1] is -1, expected a finite temperature >= 0 (0 = greedy)");
  CHECK_THAT(recs[2].error, Contains(path + ": /temperature[2] is nan"));
  CHECK(recs[3].error == path + ": /top_p[3] is 0, expected a probability mass in (0, 1]");
  CHECK_THAT(recs[4].error, Contains(path + ": /top_p[4] is 1.5"));
  CHECK_THAT(recs[5].error, Contains(path + ": /top_k[5] is -3"));
  CHECK_THAT(recs[6].error, Contains(path + ": /stop_tokens[6]: token 0 has id 1099511627776"));
}

TEST_CASE("input: per-record sampling datasets of the wrong type or length are refused at open",
          "[hdf5][input][errors]") {
  sci_infer::testing::TempDir dir("h5inds");
  const std::string path = dir.file("in.h5");
  write_prompts_file(path, 4);
  add_numeric_dataset(path, "/top_k", NumType::Float32, {4}, {1, 2, 3, 4});
  CHECK(open_error(path) == path + ": dataset /top_k has type float32, expected an integer type (int32)");
  write_prompts_file(path, 4);
  add_numeric_dataset(path, "/temperature", NumType::Float32, {3}, {1, 2, 3});
  CHECK(open_error(path) == path + ": /temperature has 3 records but /prompts has 4");
  write_prompts_file(path, 4);
  add_strings(path, "/stop_tokens", {"1", "2", "3", "4"});
  CHECK_THAT(open_error(path), Contains(path + ": dataset /stop_tokens has type variable-length string"));
}

// =============================================================================================
// Faults: refused at open, or failing only the records concerned
// =============================================================================================

TEST_CASE("input: an optional filter this HDF5 lacks (as h5py writes lzf) is refused at open",
          "[hdf5][input][errors][faults]") {
  sci_infer::testing::TempDir dir("h5inds");
  const std::string path = dir.file("in.h5");
  write_prompts_file(path, 4);
  add_dataset_with_filter(path, "/seeds", 4, 32000, /*optional=*/true);
  CHECK_THAT(open_error(path), Contains(path + ": dataset /seeds needs the HDF5 filter") &&
                                   Contains("id 32000"));
}

TEST_CASE("input: absurd shapes are refused at open, before any allocation", "[hdf5][input][errors][faults]") {
  sci_infer::testing::TempDir dir("h5inds");
  const std::string path = dir.file("in.h5");
  write_prompts_file(path, 4);
  add_declared_only(path, "/embeddings", {4, 1000000000, 64});
  CHECK_THAT(open_error(path, InputOptions{64}),
             Contains(path + ": dataset /embeddings has unusable shape [4, 1000000000, 64]"));

  // Rows and width each within bounds, but one record would be 2^34 bytes.
  write_prompts_file(path, 4);
  add_declared_only(path, "/embeddings", {4, 1u << 24, 1u << 8});
  CHECK_THAT(open_error(path), Contains(path + ": dataset /embeddings has shape [4, 16777216, 256]") &&
                                   Contains("more than the limit of 1073741824"));

  InputSpec none;
  write_input_file(path, none);
  add_declared_only(path, "/embeddings", {uint64_t(1) << 40, 2, 64});
  CHECK_THAT(open_error(path), Contains(path + ": dataset /embeddings has shape [1099511627776, 2, 64]") &&
                                   Contains("records, more than the limit"));
}

TEST_CASE("input: a damaged chunk fails only its records, the reads go on", "[hdf5][input][faults]") {
  sci_infer::testing::TempDir dir("h5inds");
  const std::string path = dir.file("in.h5");
  InputSpec spec;
  spec.prompts = prompts(64);
  std::vector<uint64_t> seeds;
  for (uint64_t i = 0; i < 64; ++i) seeds.push_back(977 * i + 13);
  spec.seeds = seeds;
  spec.chunked_gzip = true;
  spec.chunk_records = 16;
  write_input_file(path, spec);
  damage_chunk(path, "/seeds", 1);  // records 16..31

  auto in = InputFile::open(path);  // the metadata is intact: open succeeds
  for (uint64_t block : {uint64_t(64), uint64_t(8), uint64_t(5)}) {
    INFO("reading blocks of " << block);
    for (uint64_t b = 0; b < 64; b += block) {
      const uint64_t e = std::min<uint64_t>(64, b + block);
      std::vector<RecordInput> recs;
      REQUIRE_NOTHROW(recs = in->read(b, e));
      for (const RecordInput& r : recs) {
        INFO("record " << r.index << ": " << r.error);
        if (r.index >= 16 && r.index < 32) {
          CHECK_THAT(r.error, Contains(path + ": /seeds[" + std::to_string(r.index) + "]: cannot read (HDF5:"));
          CHECK_FALSE(r.seed.has_value());
        } else {
          CHECK(r.error.empty());
          CHECK(*r.seed == seeds[r.index]);
          CHECK(r.prompt == "prompt " + std::to_string(r.index));
        }
      }
    }
  }
}

TEST_CASE("input: a damaged chunk of variable-length prompts fails only its records", "[hdf5][input][faults]") {
  sci_infer::testing::TempDir dir("h5inds");
  const std::string path = dir.file("in.h5");
  write_prompts_file(path, 48, /*chunked=*/true, 16);
  damage_chunk(path, "/prompts", 2);  // records 32..47
  auto recs = InputFile::open(path)->read(0, 48);
  for (const RecordInput& r : recs) {
    INFO("record " << r.index << ": " << r.error);
    if (r.index >= 32)
      CHECK_THAT(r.error, Contains(path + ": /prompts[" + std::to_string(r.index) + "]: cannot read"));
    else
      CHECK((r.error.empty() && r.prompt == "prompt " + std::to_string(r.index)));
  }
}
