#pragma once
// The output file out.h5: an atomic, deterministic snapshot of all results known so far
// (schema: docs/hdf5-schema.md).
//
// write_output_snapshot() writes the whole file to "<path>.tmp-<pid>", fsyncs it and renames it
// over <path>, so after a crash at any moment <path> is the previous snapshot or the new one,
// never a torn file. Records without a result are written as pending (status -1). The journal
// (result_journal.hpp), not this file, is the durable record of progress.
//
// Not thread-safe (HDF5 is built without thread safety): call from one thread.
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "sci_infer/records.hpp"

namespace sci_infer {

// /results/status values.
constexpr int32_t kStatusPending = -1;     // not computed yet
constexpr int32_t kStatusOk = 0;
constexpr int32_t kStatusInputError = 1;   // the record's input was invalid
constexpr int32_t kStatusRuntimeError = 2; // the record failed while running

struct OutputLayout {
  std::string task = "generate";  // "generate" | "score" | "embed"
  std::string pooling;            // embed: attribute "pooling" of /results/embeddings
  uint32_t d_model = 0;           // embed: width of /results/embeddings (required > 0)
  uint32_t chunk_records = 4096;  // records per HDF5 chunk (and per write)
  // User datasets carried through (docs/hdf5-schema.md): each 1-D [n_records] root dataset of
  // the file `carry_from` named in `carried` ("/ids") is copied, values and type, to
  // /results/<name>, so results line up with the input by id and not only by position.
  std::string carry_from;
  std::vector<std::string> carried;
};

// True for the names of the datasets the writer makes under /results ("status", "tokens" ...):
// a carried dataset may not take one of them.
bool is_result_dataset_name(const std::string& name);

using StringAttrs = std::vector<std::pair<std::string, std::string>>;
using IntAttrs = std::vector<std::pair<std::string, int64_t>>;

// Called once per record with index = 0, 1, ..., n_records - 1 in order: fills `out` and returns
// true if the record has a result, returns false if it is pending. Lets the caller stream results
// from a JournalIndex instead of holding them all in memory.
using ResultLookup = std::function<bool(uint64_t index, RecordResult& out)>;

// Writes the snapshot (see above). String attributes are written as variable-length UTF-8
// scalars, int attributes as int64 scalars, all on the root group. Text is stored as UTF-8:
// invalid byte sequences in text/error are replaced by U+FFFD, and a NUL ends a string (HDF5
// strings are C strings). Throws Error (the old <path> stays untouched and the temporary is
// removed) on I/O failure, a result whose index is >= n_records, or an embed result whose
// embedding is neither empty nor d_model floats. Deterministic: identical arguments give a
// byte-identical file with the same HDF5 library version.
void write_output_snapshot(const std::string& path, uint64_t n_records, const OutputLayout& layout,
                           const ResultLookup& results, const StringAttrs& string_attrs,
                           const IntAttrs& int_attrs);
void write_output_snapshot(const std::string& path, uint64_t n_records, const OutputLayout& layout,
                           const std::map<uint64_t, RecordResult>& results,
                           const StringAttrs& string_attrs, const IntAttrs& int_attrs);

// Removes "<path>.tmp-<pid>" files left by writers killed mid-snapshot; returns how many.
// write_output_snapshot() calls it after each successful rename. Only one process may write a
// given output (rank 0 of one job), so any such temporary is garbage.
size_t remove_stale_snapshot_temps(const std::string& path);

// Every computed record (status != -1) of an output file, keyed by index; throws Error naming
// the file and dataset if the file lacks the /results datasets or their lengths disagree.
// Memory: all results (about 200 bytes per record plus their data).
std::map<uint64_t, RecordResult> read_output_results(const std::string& path);
// The same, one record at a time in index order, reading 4096 records per HDF5 read.
void for_each_output_result(const std::string& path,
                            const std::function<void(RecordResult&&)>& consume);

struct OutputInfo {
  uint64_t n_records = 0;
  uint64_t n_done = 0;        // status != -1
  OutputLayout layout;        // task from "sci_infer.task" if present, else "embed" when
                              // /results/embeddings exists; d_model and pooling from that dataset
  StringAttrs string_attrs;   // root attributes, sorted by name
  IntAttrs int_attrs;
};
OutputInfo read_output_info(const std::string& path);

}  // namespace sci_infer
