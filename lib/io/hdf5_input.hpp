#pragma once
// Streaming reader of a batch job's input file (schema: docs/hdf5-schema.md).
//
// open() validates the whole file up front (datasets present, ranks, types, matching record
// counts, embedding width, sane shapes, decodable filters) and throws sci_infer::Error naming the
// file and dataset, so a bad file fails before any model work or allocation. read(begin, end)
// then reads only that hyperslab of every dataset, so inputs larger than memory work; problems
// that concern a single record (bad UTF-8, empty record, bad embedding length, NaN/Inf,
// out-of-range per-record values, a chunk HDF5 cannot read or decompress) are put in that
// record's RecordInput::error and never throw: one damaged chunk fails its records, not the job.
//
// User datasets carried through to the output (docs/hdf5-schema.md): /ids whenever present, and
// any other 1-D per-record root dataset named in InputOptions::carry; carried() lists them for
// the output writer (OutputLayout::carried), which copies them from this file.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "sci_infer/records.hpp"

namespace sci_infer {

struct InputOptions {
  uint32_t expected_embedding_width = 0;  // the model's d_model; 0 = don't check /embeddings
  std::vector<std::string> carry;         // extra datasets to carry ("doc_id" or "/doc_id")
};

// Shape limits checked at open: bigger is refused naming the dataset, before any allocation.
constexpr uint64_t kMaxInputRecords = uint64_t(1) << 32;      // N (ranks hold a byte per record)
constexpr uint64_t kMaxRecordBytes = uint64_t(1) << 30;       // one record's fixed-size values
constexpr uint64_t kMaxEmbeddingRows = uint64_t(1) << 24;     // T of /embeddings
constexpr uint64_t kMaxEmbeddingWidth = uint64_t(1) << 20;    // d_model of /embeddings
// read() splits a range into pieces of at most this many bytes of fixed-size values (at least
// one record each), so a claim of many wide records never allocates more at once.
constexpr uint64_t kMaxReadBytes = uint64_t(256) << 20;

// "doc_id" -> "/doc_id"; throws Error for an empty name or one naming a nested path.
std::string carried_dataset_name(const std::string& name);

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
  // Root datasets copied to the output, "/ids" first when present: validated at open (1-D,
  // N records, integer, float or string type; /ids integer or string).
  std::vector<std::string> carried() const;

  // Records [begin, end), index = position in the file. Throws Error only if end > size() or
  // begin > end. A failed HDF5 read of a block is retried record by record; records that stay
  // unreadable get RecordInput::error ("in.h5: /prompts[17]: cannot read (HDF5: ...)").
  // Memory: the records plus at most max(kMaxReadBytes, one record) of read buffers.
  std::vector<RecordInput> read(uint64_t begin, uint64_t end) const;

  // One line for the log: path, record count, datasets with their types/shapes/filters.
  std::string describe() const;

 private:
  struct Impl;
  explicit InputFile(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace sci_infer
