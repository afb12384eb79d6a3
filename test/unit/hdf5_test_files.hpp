#pragma once
// Builds HDF5 input files for tests with the HDF5 C API: the datasets of the input schema
// (docs/hdf5-schema.md) plus deliberately broken variants (wrong types, wrong shapes,
// mismatched lengths, unavailable filters). Reusable by any test that needs an input file.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "io/hdf5_input.hpp"
#include "sci_infer/error.hpp"

namespace sci_infer::test_files {

enum class NumType { Int8, Int16, Int32, Int64, UInt8, UInt16, UInt32, UInt64, Float32, Float64 };

enum class StringKind {
  VariableUtf8,   // what h5py writes for str
  VariableAscii,  // what h5py writes for bytes
  FixedNullTerm,
  FixedNullPad,   // what h5py writes for numpy 'S' arrays
  FixedSpacePad,
};

struct InputSpec {
  std::optional<std::vector<std::string>> prompts;  // raw bytes: may hold invalid UTF-8
  StringKind prompt_kind = StringKind::VariableUtf8;

  std::optional<std::vector<std::vector<int64_t>>> tokens;
  NumType token_type = NumType::Int32;  // element type of the vlen (Float32 to test rejection)

  std::optional<std::vector<float>> embeddings;  // row-major values of embeddings_dims
  std::vector<uint64_t> embeddings_dims;         // normally {N, T, d_model}; any rank allowed
  NumType embeddings_type = NumType::Float32;

  std::optional<std::vector<int64_t>> embedding_lengths;
  NumType embedding_lengths_type = NumType::Int32;

  std::optional<std::vector<uint64_t>> seeds;
  NumType seeds_type = NumType::UInt64;

  std::optional<std::vector<int64_t>> max_new_tokens;
  NumType max_new_tokens_type = NumType::Int32;

  bool chunked_gzip = false;  // chunk along records + gzip level 4 + shuffle
  uint64_t chunk_records = 1024;
};

// Creates (truncates) `path` with the datasets of `spec`. Throws std::runtime_error on failure.
void write_input_file(const std::string& path, const InputSpec& spec);

// Adds a numeric dataset of any shape to an existing file (creates the file if missing).
void add_numeric_dataset(const std::string& path, const std::string& name, NumType type,
                         const std::vector<uint64_t>& dims, const std::vector<double>& values);
// Adds a group (e.g. to make /prompts a group instead of a dataset).
void add_group(const std::string& path, const std::string& name);
// Adds a 1-D int32 dataset of n records (all 1) whose pipeline needs HDF5 filter `filter_id`.
// The filter is registered (as a pass-through) only while writing, so readers in this process
// afterwards see a dataset needing a filter that this HDF5 build does not provide. `optional`:
// the pipeline entry has H5Z_FLAG_OPTIONAL, as h5py writes lzf.
void add_dataset_with_filter(const std::string& path, const std::string& name, uint64_t n,
                             int filter_id, bool optional = false);

// A fresh, empty directory under $TMPDIR (or /tmp); the caller removes it.
std::string make_temp_dir(const std::string& tag);
std::string read_bytes(const std::string& path);
void write_bytes(const std::string& path, const std::string& data);

// Message of the Error thrown by InputFile::open (fails the test if none is thrown).
inline std::string open_error(const std::string& path, const InputOptions& opts = {}) {
  try {
    InputFile::open(path, opts);
  } catch (const Error& e) {
    return e.what();
  }
  FAIL("InputFile::open(" << path << ") did not throw");
  return "";
}

}  // namespace sci_infer::test_files
