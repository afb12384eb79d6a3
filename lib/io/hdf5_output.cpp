#include "io/hdf5_output.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>
#include <memory>

#include "io/hdf5_util.hpp"
#include "io/utf8.hpp"
#include "sci_infer/error.hpp"

namespace sci_infer {

namespace fs = std::filesystem;
using h5::Id;

namespace {

// Dataset names under /results (relied on by outside checks and by the reader below).
constexpr const char* kGroup = "/results";
constexpr const char* kTokens = "tokens";
constexpr const char* kText = "text";
constexpr const char* kLogprobs = "logprobs";
constexpr const char* kFinish = "finish_reason";
constexpr const char* kStatus = "status";
constexpr const char* kError = "error";
constexpr const char* kEmbeddings = "embeddings";

// Keeps a chunk of /results/embeddings near 4 MiB, whatever d_model is.
constexpr size_t kMaxChunkBytes = 4u << 20;
constexpr uint64_t kReadSlab = 4096;

std::string errno_text() { return std::strerror(errno); }

// ---------------------------------------------------------------------------------------------
// Files: durable, atomic replacement
// ---------------------------------------------------------------------------------------------

void fsync_path(const std::string& path, bool directory) {
  int fd = ::open(path.c_str(), (directory ? O_RDONLY | O_DIRECTORY : O_RDONLY) | O_CLOEXEC);
  if (fd < 0) throw Error(path + ": cannot open for fsync: " + errno_text());
  int rc = ::fsync(fd);
  int saved = errno;
  ::close(fd);
  if (rc != 0 && !(directory && saved == EINVAL))
    throw Error(path + ": fsync failed: " + std::strerror(saved));
}

std::string parent_dir(const std::string& path) {
  fs::path parent = fs::path(path).parent_path();
  return parent.empty() ? "." : parent.string();
}

// Deletes the temporary snapshot unless release()d after the rename.
class TempFile {
 public:
  explicit TempFile(std::string path) : path_(std::move(path)) {}
  ~TempFile() {
    if (!path_.empty()) ::unlink(path_.c_str());
  }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  const std::string& path() const { return path_; }
  void release() { path_.clear(); }

 private:
  std::string path_;
};

// ---------------------------------------------------------------------------------------------
// Writing
// ---------------------------------------------------------------------------------------------

// Object creation properties shared by everything we create: no access/modify times in object
// headers, so identical results give identical bytes.
Id untimed_plist(hid_t cls) {
  Id p = h5::plist_id(H5Pcreate(cls), "H5Pcreate");
  h5::check_status(H5Pset_obj_track_times(p.get(), 0), "H5Pset_obj_track_times");
  return p;
}

void write_string_attr(hid_t obj, const std::string& name, const std::string& value,
                       const std::string& where) {
  Id type = h5::utf8_string_type();
  Id space = h5::space_id(H5Screate(H5S_SCALAR), "H5Screate");
  Id attr = h5::attr_id(H5Acreate2(obj, name.c_str(), type.get(), space.get(), H5P_DEFAULT,
                                   H5P_DEFAULT),
                        where + ": cannot create attribute " + name);
  const std::string clean = utf8::sanitize(value);
  const char* p = clean.c_str();
  h5::check_status(H5Awrite(attr.get(), type.get(), &p), where + ": cannot write attribute " + name);
}

void write_int_attr(hid_t obj, const std::string& name, int64_t value, const std::string& where) {
  Id space = h5::space_id(H5Screate(H5S_SCALAR), "H5Screate");
  Id attr = h5::attr_id(H5Acreate2(obj, name.c_str(), H5T_STD_I64LE, space.get(), H5P_DEFAULT,
                                   H5P_DEFAULT),
                        where + ": cannot create attribute " + name);
  h5::check_status(H5Awrite(attr.get(), H5T_NATIVE_INT64, &value),
                   where + ": cannot write attribute " + name);
}

// One record range's values, laid out as HDF5 wants them for H5Dwrite.
struct Slab {
  uint64_t begin = 0;
  std::vector<RecordResult> results;  // pending records: status -1, empty values
  std::vector<std::string> text, error;
};

class SnapshotWriter {
 public:
  SnapshotWriter(const std::string& file_path, const std::string& shown_path, uint64_t n,
                 const OutputLayout& layout);
  void write_attributes(const StringAttrs& s, const IntAttrs& i);
  void write_slab(const Slab& slab);
  void close();
  void abandon() noexcept;

 private:
  void create_contents();
  Id create(const char* name, hid_t file_type, uint32_t width, bool shuffle);
  void write(const Id& ds, const char* name, hid_t mem_type, uint64_t begin, uint64_t count,
             uint32_t width, const void* buf);

  std::string where_;  // the user's path, for messages
  uint64_t n_;
  OutputLayout layout_;
  uint64_t chunk_;
  Id file_, group_;
  Id str_type_, vlen_i32_file_, vlen_i32_mem_, vlen_f32_file_, vlen_f32_mem_;
  Id tokens_, text_, logprobs_, finish_, status_, error_, embeddings_;
  // Carried user datasets: read slab by slab from the input as the results are written.
  struct Carried {
    std::string name;  // "ids" (under /results)
    Id source, mem_type, dest;
    bool variable_string = false;
  };
  void open_carried();
  void copy_carried(const Carried& c, uint64_t begin, uint64_t count);
  Id carry_file_;
  std::vector<Carried> carried_;
};

void SnapshotWriter::open_carried() {
  if (layout_.carried.empty()) return;
  const std::string& src = layout_.carry_from;
  Id fapl = h5::posix_fapl();
  carry_file_ = h5::file_id(H5Fopen(src.c_str(), H5F_ACC_RDONLY, fapl.get()),
                            where_ + ": cannot open " + src + " to copy its carried datasets");
  for (const std::string& name : layout_.carried) {
    const std::string what = where_ + ": carried dataset " + src + ":" + name;
    Carried c;
    c.name = name.empty() || name[0] != '/' ? name : name.substr(1);
    if (c.name.empty() || is_result_dataset_name(c.name) || c.name.find('/') != std::string::npos)
      throw Error(what + ": cannot be written as /results/" + c.name);
    c.source = h5::dataset_id(H5Dopen2(carry_file_.get(), name.c_str(), H5P_DEFAULT), what);
    const std::vector<hsize_t> dims = h5::dims_of(c.source.get());
    if (dims.size() != 1 || dims[0] != n_)
      throw Error(what + " has shape " + h5::dims_string(dims) + ", expected [" +
                  std::to_string(n_) + "]");
    Id file_type = h5::type_id(H5Dget_type(c.source.get()), what);
    const H5T_class_t cls = H5Tget_class(file_type.get());
    if (cls == H5T_STRING) {
      c.variable_string = H5Tis_variable_str(file_type.get()) > 0;
      c.mem_type = h5::type_id(H5Tcopy(file_type.get()), what);
    } else if (cls == H5T_INTEGER || cls == H5T_FLOAT) {
      c.mem_type = h5::type_id(H5Tget_native_type(file_type.get(), H5T_DIR_ASCEND), what);
    } else {
      throw Error(what + " has type " + h5::type_name(file_type.get()) +
                  ", expected an integer, float or string type");
    }
    // The input's own type (byte order, width, string kind): the values are copied, not converted.
    c.dest = create(c.name.c_str(), file_type.get(), 0, cls != H5T_STRING);
    carried_.push_back(std::move(c));
  }
}

void SnapshotWriter::copy_carried(const Carried& c, uint64_t begin, uint64_t count) {
  std::vector<char> buf(count * H5Tget_size(c.mem_type.get()));
  h5::RowSelection s = h5::select_rows(c.source.get(), {n_}, begin, count);
  h5::check_status(H5Dread(c.source.get(), c.mem_type.get(), s.mem_space.get(), s.file_space.get(),
                           H5P_DEFAULT, buf.data()),
                   where_ + ": cannot read " + layout_.carry_from + ":/" + c.name + "[" +
                       std::to_string(begin) + ":" + std::to_string(begin + count) + "] to carry it");
  std::unique_ptr<h5::VlenReclaim> reclaim;
  if (c.variable_string)
    reclaim = std::make_unique<h5::VlenReclaim>(c.mem_type.get(), s.mem_space.get(), buf.data());
  write(c.dest, c.name.c_str(), c.mem_type.get(), begin, count, 0, buf.data());
}

SnapshotWriter::SnapshotWriter(const std::string& file_path, const std::string& shown_path,
                               uint64_t n, const OutputLayout& layout)
    : where_(shown_path), n_(n), layout_(layout), chunk_(std::min<uint64_t>(layout.chunk_records, n)) {
  Id fcpl = untimed_plist(H5P_FILE_CREATE);  // also governs the root group's header
  Id fapl = h5::posix_fapl();
  file_ = h5::file_id(H5Fcreate(file_path.c_str(), H5F_ACC_TRUNC, fcpl.get(), fapl.get()),
                      where_ + ": cannot create " + file_path);
  try {
    create_contents();
  } catch (...) {
    abandon();
    throw;
  }
}

void SnapshotWriter::create_contents() {
  Id gcpl = untimed_plist(H5P_GROUP_CREATE);
  group_ = h5::group_id(H5Gcreate2(file_.get(), kGroup, H5P_DEFAULT, gcpl.get(), H5P_DEFAULT),
                        where_ + ": cannot create group /results");

  str_type_ = h5::utf8_string_type();
  vlen_i32_file_ = h5::type_id(H5Tvlen_create(H5T_STD_I32LE), "H5Tvlen_create");
  vlen_i32_mem_ = h5::type_id(H5Tvlen_create(H5T_NATIVE_INT32), "H5Tvlen_create");
  vlen_f32_file_ = h5::type_id(H5Tvlen_create(H5T_IEEE_F32LE), "H5Tvlen_create");
  vlen_f32_mem_ = h5::type_id(H5Tvlen_create(H5T_NATIVE_FLOAT), "H5Tvlen_create");

  tokens_ = create(kTokens, vlen_i32_file_.get(), 0, false);
  text_ = create(kText, str_type_.get(), 0, false);
  logprobs_ = create(kLogprobs, vlen_f32_file_.get(), 0, false);
  finish_ = create(kFinish, str_type_.get(), 0, false);
  status_ = create(kStatus, H5T_STD_I32LE, 0, true);
  error_ = create(kError, str_type_.get(), 0, false);
  if (layout_.task == "embed") {
    embeddings_ = create(kEmbeddings, H5T_IEEE_F32LE, layout_.d_model, true);
    write_string_attr(embeddings_.get(), "pooling", layout_.pooling, where_ + ": /results/embeddings");
  }
  open_carried();
}

// [n] (width 0) or [n, width] dataset, chunked along records and gzip-1 compressed.
Id SnapshotWriter::create(const char* name, hid_t file_type, uint32_t width, bool shuffle) {
  const std::string what = where_ + ": cannot create /results/" + name;
  std::vector<hsize_t> dims{n_};
  if (width) dims.push_back(width);
  Id space = h5::space_id(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr), what);
  Id dcpl = untimed_plist(H5P_DATASET_CREATE);
  if (n_ > 0) {  // a chunk needs a non-zero extent; an empty output stays contiguous
    uint64_t rows = chunk_;
    if (width) rows = std::max<uint64_t>(1, std::min<uint64_t>(rows, kMaxChunkBytes / (4ull * width)));
    std::vector<hsize_t> chunk{rows};
    if (width) chunk.push_back(width);
    h5::check_status(H5Pset_chunk(dcpl.get(), static_cast<int>(chunk.size()), chunk.data()), what);
    if (shuffle) h5::check_status(H5Pset_shuffle(dcpl.get()), what);
    h5::check_status(H5Pset_deflate(dcpl.get(), 1), what);
  }
  return h5::dataset_id(
      H5Dcreate2(group_.get(), name, file_type, space.get(), H5P_DEFAULT, dcpl.get(), H5P_DEFAULT),
      what);
}

void SnapshotWriter::write(const Id& ds, const char* name, hid_t mem_type, uint64_t begin,
                           uint64_t count, uint32_t width, const void* buf) {
  std::vector<hsize_t> dims{n_};
  if (width) dims.push_back(width);
  h5::RowSelection s = h5::select_rows(ds.get(), dims, begin, count);
  h5::check_status(H5Dwrite(ds.get(), mem_type, s.mem_space.get(), s.file_space.get(), H5P_DEFAULT,
                            buf),
                   where_ + ": cannot write /results/" + name);
}

void SnapshotWriter::write_attributes(const StringAttrs& s, const IntAttrs& i) {
  for (const auto& [name, value] : s) write_string_attr(file_.get(), name, value, where_);
  for (const auto& [name, value] : i) write_int_attr(file_.get(), name, value, where_);
}

hvl_t as_vlen(const void* data, size_t n) { return hvl_t{n, const_cast<void*>(data)}; }

void SnapshotWriter::write_slab(const Slab& slab) {
  const size_t count = slab.results.size();
  std::vector<hvl_t> tokens(count), logprobs(count);
  std::vector<const char*> text(count), error(count), finish(count);
  std::vector<int32_t> status(count);
  for (size_t i = 0; i < count; ++i) {
    const RecordResult& r = slab.results[i];
    tokens[i] = as_vlen(r.tokens.data(), r.tokens.size());
    logprobs[i] = as_vlen(r.logprobs.data(), r.logprobs.size());
    text[i] = slab.text[i].c_str();
    error[i] = slab.error[i].c_str();
    finish[i] = finish_reason_name(r.finish);
    status[i] = r.status;
  }
  write(tokens_, kTokens, vlen_i32_mem_.get(), slab.begin, count, 0, tokens.data());
  write(text_, kText, str_type_.get(), slab.begin, count, 0, text.data());
  write(logprobs_, kLogprobs, vlen_f32_mem_.get(), slab.begin, count, 0, logprobs.data());
  write(finish_, kFinish, str_type_.get(), slab.begin, count, 0, finish.data());
  write(status_, kStatus, H5T_NATIVE_INT32, slab.begin, count, 0, status.data());
  write(error_, kError, str_type_.get(), slab.begin, count, 0, error.data());
  for (const Carried& c : carried_) copy_carried(c, slab.begin, count);
  if (!embeddings_) return;

  const size_t d = layout_.d_model;
  std::vector<float> rows(count * d, std::numeric_limits<float>::quiet_NaN());
  for (size_t i = 0; i < count; ++i) {
    const std::vector<float>& e = slab.results[i].embedding;
    if (e.empty()) continue;  // pending or failed: NaN row
    if (e.size() != d)
      throw Error(where_ + ": result of record " + std::to_string(slab.begin + i) + " has " +
                  std::to_string(e.size()) + " embedding values, expected d_model = " +
                  std::to_string(d));
    std::copy(e.begin(), e.end(), rows.begin() + i * d);
  }
  write(embeddings_, kEmbeddings, H5T_NATIVE_FLOAT, slab.begin, count, layout_.d_model, rows.data());
}

void SnapshotWriter::close() {
  // Everything is flushed while the file is still open (a failure here can still be abandoned
  // cleanly, see abandon()); H5Fclose then has nothing left to write.
  h5::check_status(H5Fflush(file_.get(), H5F_SCOPE_LOCAL), where_ + ": cannot finish writing the snapshot");
  tokens_.reset(), text_.reset(), logprobs_.reset(), finish_.reset();
  status_.reset(), error_.reset(), embeddings_.reset();
  carried_.clear();
  carry_file_.reset();
  group_.reset();
  // H5Fclose flushes everything: its failure (disk full) must not go unnoticed.
  h5::check_status(file_.close(), where_ + ": cannot finish writing the snapshot");
}

// A snapshot that failed part-way (disk full, an I/O error) must not take the process down with
// it: HDF5 1.10 cannot close a file whose flush failed; closing it anyway leaves a dangling file
// id that crashes the library's shutdown (SIGSEGV in MPI_Finalize instead of the job's exit
// code; see HDFGroup/hdf5#2291). So the file's descriptor is pointed at an anonymous in-memory
// file (whatever HDF5 still writes goes there, and the disk space of the removed temporary is
// freed at once), its datasets are closed, and the file itself is left open.
void SnapshotWriter::abandon() noexcept {
  if (!file_) return;
  void* handle = nullptr;
  if (H5Fget_vfd_handle(file_.get(), H5P_DEFAULT, &handle) >= 0 && handle) {
    const int fd = *static_cast<int*>(handle);
    const int mem = ::memfd_create("sci_infer-abandoned-snapshot", MFD_CLOEXEC);
    if (mem >= 0) {
      ::dup2(mem, fd);
      ::close(mem);
    }
  }
  tokens_.reset(), text_.reset(), logprobs_.reset(), finish_.reset();
  status_.reset(), error_.reset(), embeddings_.reset(), group_.reset();
  // Not closed: after a failed metadata flush HDF5 1.10 can no longer close the file (its
  // cache is left mid-flush) and a failed close frees it while its id lives on. The extra
  // reference keeps it, harmlessly, in memory until the process ends; the launcher does not let
  // HDF5 tear itself down at exit (MpiSession), which would trip over it.
  H5Iinc_ref(file_.get());
  file_.reset();
}

Slab gather_slab(uint64_t begin, uint64_t count, const ResultLookup& lookup) {
  Slab slab;
  slab.begin = begin;
  slab.results.resize(count);
  slab.text.resize(count);
  slab.error.resize(count);
  for (uint64_t i = 0; i < count; ++i) {
    RecordResult& r = slab.results[i];
    if (!lookup(begin + i, r)) {
      r = RecordResult{};
      r.status = kStatusPending;
    }
    r.index = begin + i;
    slab.text[i] = utf8::sanitize(r.text);
    slab.error[i] = utf8::sanitize(r.error);
  }
  return slab;
}

void validate_layout(const std::string& path, const OutputLayout& layout) {
  if (layout.chunk_records == 0) throw Error(path + ": output chunk_records must be > 0");
  if (layout.task == "embed" && layout.d_model == 0)
    throw Error(path + ": task embed needs the embedding width (OutputLayout::d_model)");
}

}  // namespace

bool is_result_dataset_name(const std::string& name) {
  for (const char* n : {kTokens, kText, kLogprobs, kFinish, kStatus, kError, kEmbeddings})
    if (name == n) return true;
  return false;
}

void write_output_snapshot(const std::string& path, uint64_t n_records, const OutputLayout& layout,
                           const ResultLookup& results, const StringAttrs& string_attrs,
                           const IntAttrs& int_attrs) {
  validate_layout(path, layout);
  h5::QuietErrors quiet;
  TempFile tmp(path + ".tmp-" + std::to_string(::getpid()));
  {
    SnapshotWriter w(tmp.path(), path, n_records, layout);
    try {
      w.write_attributes(string_attrs, int_attrs);
      for (uint64_t begin = 0; begin < n_records; begin += layout.chunk_records) {
        const uint64_t count = std::min<uint64_t>(layout.chunk_records, n_records - begin);
        w.write_slab(gather_slab(begin, count, results));
      }
      w.close();
    } catch (...) {
      w.abandon();
      throw;
    }
  }
  // Data first, then the name: after a crash, `path` is the old file or the complete new one.
  fsync_path(tmp.path(), false);
  if (std::rename(tmp.path().c_str(), path.c_str()) != 0)
    throw Error(path + ": cannot rename " + tmp.path() + " over it: " + errno_text());
  tmp.release();
  fsync_path(parent_dir(path), true);
  remove_stale_snapshot_temps(path);
}

void write_output_snapshot(const std::string& path, uint64_t n_records, const OutputLayout& layout,
                           const std::map<uint64_t, RecordResult>& results,
                           const StringAttrs& string_attrs, const IntAttrs& int_attrs) {
  if (!results.empty() && results.rbegin()->first >= n_records)
    throw Error(path + ": result for record " + std::to_string(results.rbegin()->first) +
                " but the output has only " + std::to_string(n_records) + " records");
  // Indices arrive in order: walk the map alongside instead of searching it.
  auto it = results.begin();
  ResultLookup lookup = [&](uint64_t index, RecordResult& out) {
    while (it != results.end() && it->first < index) ++it;
    if (it == results.end() || it->first != index) return false;
    out = it->second;
    return true;
  };
  write_output_snapshot(path, n_records, layout, lookup, string_attrs, int_attrs);
}

size_t remove_stale_snapshot_temps(const std::string& path) {
  const fs::path p(path);
  const std::string prefix = p.filename().string() + ".tmp-";
  size_t removed = 0;
  std::error_code ec;
  for (fs::directory_iterator it(parent_dir(path), ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.size() <= prefix.size() || name.compare(0, prefix.size(), prefix) != 0) continue;
    const std::string pid = name.substr(prefix.size());
    if (!std::all_of(pid.begin(), pid.end(), [](char c) { return c >= '0' && c <= '9'; })) continue;
    if (fs::remove(it->path(), ec)) ++removed;
  }
  return removed;
}

// =============================================================================================
// Reading
// =============================================================================================

namespace {

struct ResultsFile {
  std::string path;
  Id file;
  uint64_t n = 0;
  uint32_t d_model = 0;
  Id tokens, text, logprobs, finish, status, error, embeddings;
};

Id open_result_dataset(const ResultsFile& f, const char* name, bool required) {
  const std::string link = std::string(kGroup) + "/" + name;
  htri_t exists = H5Lexists(f.file.get(), kGroup, H5P_DEFAULT) > 0
                      ? H5Lexists(f.file.get(), link.c_str(), H5P_DEFAULT)
                      : 0;
  if (exists <= 0) {
    if (required) throw Error(f.path + ": dataset " + link + " is missing (not a sci_infer output?)");
    return Id{};
  }
  return h5::dataset_id(H5Dopen2(f.file.get(), link.c_str(), H5P_DEFAULT),
                        f.path + ": cannot open dataset " + link);
}

void require_length(const ResultsFile& f, const Id& ds, const char* name, size_t rank) {
  std::vector<hsize_t> dims = h5::dims_of(ds.get());
  if (dims.size() != rank || dims[0] != f.n)
    throw Error(f.path + ": dataset /results/" + name + " has shape " + h5::dims_string(dims) +
                " but /results/status has " + std::to_string(f.n) + " records");
}

ResultsFile open_results(const std::string& path) {
  ResultsFile f;
  f.path = path;
  if (H5Fis_hdf5(path.c_str()) <= 0) throw Error(path + ": missing or not an HDF5 file");
  Id fapl = h5::posix_fapl();
  f.file = h5::file_id(H5Fopen(path.c_str(), H5F_ACC_RDONLY, fapl.get()), path + ": cannot open");
  f.status = open_result_dataset(f, kStatus, true);
  std::vector<hsize_t> dims = h5::dims_of(f.status.get());
  if (dims.size() != 1) throw Error(path + ": dataset /results/status is not 1-D");
  f.n = dims[0];
  f.tokens = open_result_dataset(f, kTokens, true);
  f.text = open_result_dataset(f, kText, true);
  f.logprobs = open_result_dataset(f, kLogprobs, true);
  f.finish = open_result_dataset(f, kFinish, true);
  f.error = open_result_dataset(f, kError, true);
  f.embeddings = open_result_dataset(f, kEmbeddings, false);
  const std::pair<const Id*, const char*> vlen_sets[] = {
      {&f.tokens, kTokens}, {&f.text, kText}, {&f.logprobs, kLogprobs}, {&f.finish, kFinish},
      {&f.error, kError}};
  for (const auto& [ds, name] : vlen_sets) require_length(f, *ds, name, 1);
  if (f.embeddings) {
    require_length(f, f.embeddings, kEmbeddings, 2);
    f.d_model = static_cast<uint32_t>(h5::dims_of(f.embeddings.get())[1]);
  }
  return f;
}

FinishReason parse_finish(const ResultsFile& f, uint64_t index, const std::string& s) {
  if (s.empty()) return FinishReason::None;
  for (FinishReason r : {FinishReason::Stop, FinishReason::Length, FinishReason::Error})
    if (s == finish_reason_name(r)) return r;
  throw Error(f.path + ": /results/finish_reason[" + std::to_string(index) + "] is \"" + s +
              "\", expected stop, length, error or empty");
}

template <class T>
void read_plain(const ResultsFile& f, const Id& ds, const char* name, hid_t mem_type,
                uint64_t begin, uint64_t count, uint32_t width, T* buf) {
  std::vector<hsize_t> dims{f.n};
  if (width) dims.push_back(width);
  h5::RowSelection s = h5::select_rows(ds.get(), dims, begin, count);
  h5::check_status(H5Dread(ds.get(), mem_type, s.mem_space.get(), s.file_space.get(), H5P_DEFAULT,
                           buf),
                   f.path + ": cannot read /results/" + name);
}

// Reads a slab of a variable-length dataset and hands element i to set(i, element).
template <class T, class Set>
void read_vlen(const ResultsFile& f, const Id& ds, const char* name, hid_t mem_type,
               uint64_t begin, uint64_t count, Set&& set) {
  std::vector<T> buf(count);
  read_plain(f, ds, name, mem_type, begin, count, 0, buf.data());
  h5::RowSelection s = h5::select_rows(ds.get(), {f.n}, begin, count);
  h5::VlenReclaim reclaim(mem_type, s.mem_space.get(), buf.data());
  for (uint64_t i = 0; i < count; ++i) set(i, buf[i]);
}

template <class T>
std::vector<T> vlen_values(const hvl_t& v) {
  const T* p = static_cast<const T*>(v.p);
  return std::vector<T>(p, p + v.len);
}

// Reads records [begin, begin + count) whose status is not pending.
std::vector<RecordResult> read_results_slab(const ResultsFile& f, uint64_t begin, uint64_t count) {
  std::vector<int32_t> status(count);
  read_plain(f, f.status, kStatus, H5T_NATIVE_INT32, begin, count, 0, status.data());
  std::vector<RecordResult> rs(count);
  Id str = h5::utf8_string_type();
  Id vi32 = h5::type_id(H5Tvlen_create(H5T_NATIVE_INT32), "H5Tvlen_create");
  Id vf32 = h5::type_id(H5Tvlen_create(H5T_NATIVE_FLOAT), "H5Tvlen_create");
  auto text = [](const char* p) { return p ? std::string(p) : std::string(); };
  read_vlen<hvl_t>(f, f.tokens, kTokens, vi32.get(), begin, count,
                   [&](uint64_t i, const hvl_t& v) { rs[i].tokens = vlen_values<int32_t>(v); });
  read_vlen<hvl_t>(f, f.logprobs, kLogprobs, vf32.get(), begin, count,
                   [&](uint64_t i, const hvl_t& v) { rs[i].logprobs = vlen_values<float>(v); });
  read_vlen<char*>(f, f.text, kText, str.get(), begin, count,
                   [&](uint64_t i, const char* p) { rs[i].text = text(p); });
  read_vlen<char*>(f, f.error, kError, str.get(), begin, count,
                   [&](uint64_t i, const char* p) { rs[i].error = text(p); });
  read_vlen<char*>(f, f.finish, kFinish, str.get(), begin, count, [&](uint64_t i, const char* p) {
    rs[i].finish = parse_finish(f, begin + i, text(p));
  });
  if (f.embeddings) {
    std::vector<float> rows(count * f.d_model);
    read_plain(f, f.embeddings, kEmbeddings, H5T_NATIVE_FLOAT, begin, count, f.d_model, rows.data());
    for (uint64_t i = 0; i < count; ++i) {
      const float* row = rows.data() + i * f.d_model;
      // Failed records have a NaN row: give them no embedding, as the writer received them.
      if (std::all_of(row, row + f.d_model, [](float x) { return std::isnan(x); })) continue;
      rs[i].embedding.assign(row, row + f.d_model);
    }
  }
  std::vector<RecordResult> done;
  for (uint64_t i = 0; i < count; ++i) {
    if (status[i] == kStatusPending) continue;
    rs[i].index = begin + i;
    rs[i].status = status[i];
    done.push_back(std::move(rs[i]));
  }
  return done;
}

void read_root_attributes(hid_t file, const std::string& path, OutputInfo& info) {
  H5O_info_t oinfo;
  h5::check_status(H5Oget_info2(file, &oinfo, H5O_INFO_NUM_ATTRS), path + ": H5Oget_info");
  for (hsize_t i = 0; i < oinfo.num_attrs; ++i) {
    Id attr = h5::attr_id(H5Aopen_by_idx(file, ".", H5_INDEX_NAME, H5_ITER_INC, i, H5P_DEFAULT,
                                         H5P_DEFAULT),
                          path + ": cannot open attribute");
    ssize_t len = H5Aget_name(attr.get(), 0, nullptr);
    std::string name(static_cast<size_t>(std::max<ssize_t>(len, 0)), '\0');
    H5Aget_name(attr.get(), name.size() + 1, name.data());
    Id type = h5::type_id(H5Aget_type(attr.get()), path + ": attribute " + name);
    const H5T_class_t cls = H5Tget_class(type.get());
    if (cls == H5T_INTEGER) {
      int64_t v = 0;
      h5::check_status(H5Aread(attr.get(), H5T_NATIVE_INT64, &v), path + ": attribute " + name);
      info.int_attrs.emplace_back(name, v);
    } else if (cls == H5T_STRING && H5Tis_variable_str(type.get()) > 0) {
      Id mem = h5::type_id(H5Tcopy(type.get()), "H5Tcopy");
      char* p = nullptr;
      h5::check_status(H5Aread(attr.get(), mem.get(), &p), path + ": attribute " + name);
      info.string_attrs.emplace_back(name, p ? p : "");
      H5free_memory(p);
    }  // other attribute types are not ours: ignored
  }
}

}  // namespace

void for_each_output_result(const std::string& path,
                            const std::function<void(RecordResult&&)>& consume) {
  h5::QuietErrors quiet;
  ResultsFile f = open_results(path);
  for (uint64_t begin = 0; begin < f.n; begin += kReadSlab) {
    const uint64_t count = std::min<uint64_t>(kReadSlab, f.n - begin);
    for (RecordResult& r : read_results_slab(f, begin, count)) consume(std::move(r));
  }
}

std::map<uint64_t, RecordResult> read_output_results(const std::string& path) {
  std::map<uint64_t, RecordResult> out;
  for_each_output_result(path, [&](RecordResult&& r) {
    const uint64_t index = r.index;
    out.emplace_hint(out.end(), index, std::move(r));
  });
  return out;
}

OutputInfo read_output_info(const std::string& path) {
  h5::QuietErrors quiet;
  ResultsFile f = open_results(path);
  OutputInfo info;
  info.n_records = f.n;
  for (uint64_t begin = 0; begin < f.n; begin += kReadSlab) {
    const uint64_t count = std::min<uint64_t>(kReadSlab, f.n - begin);
    std::vector<int32_t> status(count);
    read_plain(f, f.status, kStatus, H5T_NATIVE_INT32, begin, count, 0, status.data());
    info.n_done += static_cast<uint64_t>(
        std::count_if(status.begin(), status.end(), [](int32_t s) { return s != kStatusPending; }));
  }
  read_root_attributes(f.file.get(), path, info);
  info.layout.task = f.embeddings ? "embed" : "";
  for (const auto& [name, value] : info.string_attrs)
    if (name == "sci_infer.task") info.layout.task = value;
  if (f.embeddings) {
    info.layout.d_model = f.d_model;
    if (H5Aexists(f.embeddings.get(), "pooling") > 0) {
      Id attr = h5::attr_id(H5Aopen(f.embeddings.get(), "pooling", H5P_DEFAULT), path + ": pooling");
      Id type = h5::utf8_string_type();
      char* p = nullptr;
      h5::check_status(H5Aread(attr.get(), type.get(), &p), path + ": /results/embeddings pooling");
      info.layout.pooling = p ? p : "";
      H5free_memory(p);
    }
  }
  return info;
}

}  // namespace sci_infer
