#pragma once
// Small HDF5 C-API helpers shared by the input reader, the output writer and the tests:
// an RAII id handle (so every id is closed on every path, exceptions included), checked calls
// that turn a failed HDF5 call into sci_infer::Error with HDF5's own innermost messages, and a
// guard that stops HDF5 from printing its error stack to stderr while we handle errors ourselves.
//
// HDF5 here is built without thread safety: call into it from one thread at a time.
#include <hdf5.h>

#include <string>
#include <utility>
#include <vector>

#include "sci_infer/error.hpp"

namespace sci_infer::h5 {

// Owns one HDF5 id and closes it with the matching H5?close function.
class Id {
 public:
  using Closer = herr_t (*)(hid_t);
  Id() = default;
  Id(hid_t id, Closer closer) : id_(id), closer_(closer) {}
  Id(const Id&) = delete;
  Id& operator=(const Id&) = delete;
  Id(Id&& o) noexcept : id_(std::exchange(o.id_, H5I_INVALID_HID)), closer_(o.closer_) {}
  Id& operator=(Id&& o) noexcept {
    if (this != &o) {
      reset();
      id_ = std::exchange(o.id_, H5I_INVALID_HID);
      closer_ = o.closer_;
    }
    return *this;
  }
  ~Id() { reset(); }

  hid_t get() const { return id_; }
  explicit operator bool() const { return id_ >= 0; }
  void reset() {
    if (id_ >= 0 && closer_) closer_(id_);
    id_ = H5I_INVALID_HID;
  }
  // Closes now and reports failure (H5Fclose flushes: its result matters for the writer).
  herr_t close() {
    herr_t rc = (id_ >= 0 && closer_) ? closer_(id_) : 0;
    id_ = H5I_INVALID_HID;
    return rc;
  }

 private:
  hid_t id_ = H5I_INVALID_HID;
  Closer closer_ = nullptr;
};

// The innermost messages of HDF5's current error stack ("" if empty), e.g.
// "required filter 'szip' is not registered". Call right after the failing call.
std::string error_stack_summary();

// Throws Error("<what>: <HDF5 detail>") when an id/status is negative; returns it otherwise.
hid_t check(hid_t id, const std::string& what);
herr_t check_status(herr_t rc, const std::string& what);

// Checked constructors for owned ids.
Id file_id(hid_t id, const std::string& what);
Id dataset_id(hid_t id, const std::string& what);
Id group_id(hid_t id, const std::string& what);
Id type_id(hid_t id, const std::string& what);
Id space_id(hid_t id, const std::string& what);
Id plist_id(hid_t id, const std::string& what);
Id attr_id(hid_t id, const std::string& what);
Id object_id(hid_t id, const std::string& what);  // from H5Oopen: closes with H5Oclose

// While alive, HDF5 does not print error stacks (we turn them into exceptions instead).
// Restores the previous handler, so a caller that wants HDF5's printing keeps it.
class QuietErrors {
 public:
  QuietErrors();
  ~QuietErrors();
  QuietErrors(const QuietErrors&) = delete;
  QuietErrors& operator=(const QuietErrors&) = delete;

 private:
  H5E_auto2_t old_func_ = nullptr;
  void* old_data_ = nullptr;
};

// A file access property list for plain POSIX (sec2) I/O that keeps HDF5's file locking but
// does not fail on file systems where locking is disabled (some Lustre/NFS mounts).
Id posix_fapl();

// "float32", "uint64", "variable-length string", "variable-length int32", "compound", ...
std::string type_name(hid_t type);

// Current extent of a dataset.
std::vector<hsize_t> dims_of(hid_t dataset);
std::string dims_string(const std::vector<hsize_t>& dims);  // "[3, 4]"

// File and memory dataspaces selecting rows [begin, begin + count) of a dataset whose extent is
// `dims` (all of the other dimensions): how every reader and writer here touches a range.
struct RowSelection {
  Id file_space;
  Id mem_space;
};
RowSelection select_rows(hid_t dataset, const std::vector<hsize_t>& dims, uint64_t begin,
                         uint64_t count);

// Returns the memory HDF5 allocated while reading variable-length data (strings, vlen
// sequences) into `buf` when it goes out of scope, so consumers may throw.
class VlenReclaim {
 public:
  VlenReclaim(hid_t mem_type, hid_t mem_space, void* buf)
      : type_(mem_type), space_(mem_space), buf_(buf) {}
  ~VlenReclaim() { H5Dvlen_reclaim(type_, space_, H5P_DEFAULT, buf_); }
  VlenReclaim(const VlenReclaim&) = delete;
  VlenReclaim& operator=(const VlenReclaim&) = delete;

 private:
  hid_t type_, space_;
  void* buf_;
};

// A variable-length UTF-8 string type (for datasets and attributes we write or read).
Id utf8_string_type();

// Throws if the dataset's filter pipeline names a filter this HDF5 build cannot decode (e.g.
// szip where the build lacks it, or h5py's lzf, id 32000), optional filters included, so the job
// stops before any work instead of failing on the first read.
void require_filters_available(hid_t dataset, const std::string& what);
// "gzip", "shuffle" ... of a dataset's filter pipeline ("" when none).
std::string filter_names(hid_t dataset);

}  // namespace sci_infer::h5
