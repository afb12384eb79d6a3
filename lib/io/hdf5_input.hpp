#pragma once
// Streaming reader of a batch job's input file (schema: docs/hdf5-schema.md).
//
// open() validates the whole file up front (datasets present, ranks, types, matching record
// counts, embedding width, decodable filters) and throws sci_infer::Error naming the file and
// dataset, so a bad file fails before any model work. read(begin, end) then reads only that
// hyperslab of every dataset, so inputs larger than memory work; problems that concern a single
// record (bad UTF-8, empty record, bad embedding length, NaN/Inf, negative max_new_tokens) are
// put in that record's RecordInput::error and never throw.
//
// Each rank opens its own read-only handle with plain POSIX I/O (no MPI-IO) and reads the ranges
// it claims. Not thread-safe: HDF5 is built without thread safety, so call from one thread.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "sci_infer/records.hpp"

namespace sci_infer {

struct InputOptions {
  uint32_t expected_embedding_width = 0;  // the model's d_model; 0 = don't check /embeddings
};

class InputFile {
 public:
  static std::unique_ptr<InputFile> open(const std::string& path, const InputOptions& options = {});
  ~InputFile();
  InputFile(const InputFile&) = delete;
  InputFile& operator=(const InputFile&) = delete;

  const std::string& path() const;
  uint64_t size() const;                  // number of records N
  uint32_t embedding_width() const;       // d_model of /embeddings, 0 if absent
  uint32_t embedding_max_rows() const;    // T of /embeddings, 0 if absent
  bool has_prompts() const;
  bool has_tokens() const;
  bool has_embeddings() const;
  bool has_seeds() const;
  bool has_max_new_tokens() const;

  // Records [begin, end), index = position in the file. Throws Error if end > size() or
  // begin > end, or if HDF5 fails to read (I/O error, corrupt chunk). Memory: the records plus,
  // with /embeddings, (end - begin) * T * d_model floats while reading.
  std::vector<RecordInput> read(uint64_t begin, uint64_t end) const;

  // One line for the log: path, record count, datasets with their types/shapes/filters.
  std::string describe() const;

 private:
  struct Impl;
  explicit InputFile(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace sci_infer
