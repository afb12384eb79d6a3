#include "io/hdf5_input.hpp"
#include "io/non_finite.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <limits>
#include <new>
#include <sstream>

#include "io/hdf5_output.hpp"
#include "io/hdf5_util.hpp"
#include "io/utf8.hpp"
#include "sci_infer/error.hpp"

namespace sci_infer {

namespace {

using h5::Id;

// One optional root dataset of the input file, opened once and kept open for all reads.
struct Dataset {
  std::string name;  // "/prompts"
  Id id;
  Id file_type;
  std::vector<hsize_t> dims;
  explicit operator bool() const { return static_cast<bool>(id); }
};

// ---------------------------------------------------------------------------------------------
// Whole-file validation (open)
// ---------------------------------------------------------------------------------------------

void require_hdf5_file(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0)
    throw Error(path + ": cannot open input file: " + std::strerror(errno));
  if (!S_ISREG(st.st_mode)) throw Error(path + ": input is not a regular file");
  if (::access(path.c_str(), R_OK) != 0)
    throw Error(path + ": cannot read input file: " + std::strerror(errno));
  if (H5Fis_hdf5(path.c_str()) <= 0) throw Error(path + ": not an HDF5 file");
}

// Opens root dataset `name` if the file has it (an empty Dataset otherwise).
Dataset open_optional(hid_t file, const std::string& path, const std::string& name) {
  Dataset d;
  d.name = name[0] == '/' ? name : "/" + name;
  htri_t exists = H5Lexists(file, d.name.c_str(), H5P_DEFAULT);
  h5::check_status(exists, path + ": cannot look up " + d.name);
  if (exists == 0) return Dataset{};
  {
    Id obj = h5::object_id(H5Oopen(file, d.name.c_str(), H5P_DEFAULT),
                           path + ": cannot open " + d.name);
    if (H5Iget_type(obj.get()) != H5I_DATASET)
      throw Error(path + ": " + d.name + " is not a dataset (a group or named datatype)");
  }
  d.id = h5::dataset_id(H5Dopen2(file, d.name.c_str(), H5P_DEFAULT),
                        path + ": cannot open dataset " + d.name);
  d.file_type = h5::type_id(H5Dget_type(d.id.get()), path + ": cannot get the type of " + d.name);
  d.dims = h5::dims_of(d.id.get());
  h5::require_filters_available(d.id.get(), path + ": dataset " + d.name);
  return d;
}

[[noreturn]] void type_error(const std::string& path, const Dataset& d, const char* expected) {
  throw Error(path + ": dataset " + d.name + " has type " + h5::type_name(d.file_type.get()) +
              ", expected " + expected);
}

void require_rank(const std::string& path, const Dataset& d, size_t rank, const char* shape) {
  if (d.dims.size() != rank)
    throw Error(path + ": dataset " + d.name + " has shape " + h5::dims_string(d.dims) +
                ", expected " + shape);
}

H5T_class_t type_class(const Dataset& d) { return H5Tget_class(d.file_type.get()); }

void check_prompts(const std::string& path, const Dataset& d) {
  require_rank(path, d, 1, "a 1-D dataset [N]");
  if (type_class(d) != H5T_STRING)
    type_error(path, d, "a string type (variable-length UTF-8 or fixed-length)");
}

void check_vlen_integers(const std::string& path, const Dataset& d) {
  require_rank(path, d, 1, "a 1-D dataset [N]");
  bool ok = type_class(d) == H5T_VLEN;
  if (ok) {
    Id super = h5::type_id(H5Tget_super(d.file_type.get()), path + ": " + d.name);
    ok = H5Tget_class(super.get()) == H5T_INTEGER;
  }
  if (!ok) type_error(path, d, "variable-length int32 (any variable-length integer type)");
}

void check_integer_1d(const std::string& path, const Dataset& d, const char* expected) {
  require_rank(path, d, 1, "a 1-D dataset [N]");
  if (type_class(d) != H5T_INTEGER) type_error(path, d, expected);
}

void check_number_1d(const std::string& path, const Dataset& d, const char* expected) {
  require_rank(path, d, 1, "a 1-D dataset [N]");
  if (type_class(d) != H5T_FLOAT && type_class(d) != H5T_INTEGER) type_error(path, d, expected);
}

// A carried dataset: copied value by value, so any plain scalar type is fine.
void check_carried(const std::string& path, const Dataset& d, bool is_ids) {
  require_rank(path, d, 1, "a 1-D dataset [N] (one value per record)");
  const H5T_class_t c = type_class(d);
  const bool ok = c == H5T_INTEGER || c == H5T_STRING || (!is_ids && c == H5T_FLOAT);
  if (!ok) type_error(path, d, is_ids ? "an integer or string type" : "an integer, float or string type");
}

// a * b, or 0 when it overflows 64 bits (every caller refuses 0 as a product of non-zero sizes).
uint64_t checked_mul(uint64_t a, uint64_t b) {
  if (a != 0 && b > std::numeric_limits<uint64_t>::max() / a) return 0;
  return a * b;
}

// Bytes one record of `d` takes in a read buffer (what read() allocates per record; HDF5 itself
// allocates variable-length data as stored in the file).
uint64_t record_bytes(const Dataset& d) {
  const hid_t t = d.file_type.get();
  switch (H5Tget_class(t)) {
    case H5T_STRING: return H5Tis_variable_str(t) > 0 ? sizeof(char*) : H5Tget_size(t);
    case H5T_VLEN: return sizeof(hvl_t);
    case H5T_FLOAT:
      if (d.dims.size() == 3) return checked_mul(checked_mul(d.dims[1], d.dims[2]), sizeof(float));
      return sizeof(double);
    default: return sizeof(int64_t);
  }
}

// Absurd shapes are refused here, before anything is allocated from them: a few KB of HDF5
// metadata can declare [4, 1e9, 64] or a product of sizes that overflows.
void check_shape_bounds(const std::string& path, const Dataset& d) {
  const std::string where = path + ": dataset " + d.name + " has shape " + h5::dims_string(d.dims);
  if (d.dims.empty()) throw Error(where + ", expected one entry per record");
  if (d.dims[0] > kMaxInputRecords)
    throw Error(where + ": " + std::to_string(d.dims[0]) + " records, more than the limit of " +
                std::to_string(kMaxInputRecords));
  bool any_zero = false;
  for (hsize_t x : d.dims) any_zero |= x == 0;
  if (any_zero) return;  // no values at all
  uint64_t total = 1;
  for (hsize_t x : d.dims)
    if ((total = checked_mul(total, x)) == 0)
      throw Error(where + ": the number of values overflows 64 bits");
  const uint64_t bytes = record_bytes(d);
  if (bytes == 0) throw Error(where + ": the size of one record overflows 64 bits");
  if (bytes > kMaxRecordBytes)
    throw Error(where + ": one record takes " + std::to_string(bytes) + " bytes, more than the limit of " +
                std::to_string(kMaxRecordBytes));
}

void check_embeddings(const std::string& path, const Dataset& d, uint32_t expected_width) {
  require_rank(path, d, 3, "a 3-D dataset [N, T, d_model]");
  if (type_class(d) != H5T_FLOAT) type_error(path, d, "float32");
  const hsize_t width = d.dims[2];
  if (width == 0 || width > kMaxEmbeddingWidth || d.dims[1] > kMaxEmbeddingRows)
    throw Error(path + ": dataset " + d.name + " has unusable shape " + h5::dims_string(d.dims) +
                " (T must be at most " + std::to_string(kMaxEmbeddingRows) + " rows, d_model 1.." +
                std::to_string(kMaxEmbeddingWidth) + ")");
  if (expected_width != 0 && width != expected_width)
    throw Error(path + ": dataset " + d.name + " has width " + std::to_string(width) +
                " (shape " + h5::dims_string(d.dims) + ") but the model's d_model is " +
                std::to_string(expected_width));
}

// All record datasets must agree on N; the first present of /prompts, /tokens, /embeddings
// defines it (so the message names the two datasets that disagree).
uint64_t check_record_counts(const std::string& path, const std::vector<const Dataset*>& present) {
  const Dataset* primary = present.front();
  const uint64_t n = primary->dims[0];
  for (const Dataset* d : present) {
    if (d->dims[0] != n)
      throw Error(path + ": " + d->name + " has " + std::to_string(d->dims[0]) +
                  " records but " + primary->name + " has " + std::to_string(n));
  }
  return n;
}

// ---------------------------------------------------------------------------------------------
// Hyperslab reads (read)
// ---------------------------------------------------------------------------------------------

// H5Dread failed (I/O error, a chunk that does not decompress ...): caught by InputFile::read,
// which retries record by record and fails only the records that stay unreadable.
struct ReadFailure : Error {
  std::string dataset;  // "/prompts"
  std::string detail;   // HDF5's innermost messages
  ReadFailure(const std::string& what, std::string ds, std::string d)
      : Error(what), dataset(std::move(ds)), detail(std::move(d)) {}
};

std::string range_text(uint64_t begin, uint64_t count) {
  return "[" + std::to_string(begin) + ":" + std::to_string(begin + count) + "]";
}

void checked_read(herr_t rc, const std::string& path, const Dataset& d, uint64_t begin,
                  uint64_t count) {
  if (rc >= 0) return;
  std::string detail = h5::error_stack_summary();
  throw ReadFailure(path + ": cannot read " + d.name + range_text(begin, count) +
                        (detail.empty() ? "" : " (HDF5: " + detail + ")"),
                    d.name, detail);
}

void read_slab(const std::string& path, const Dataset& d, hid_t mem_type, uint64_t begin,
               uint64_t count, void* buf) {
  h5::RowSelection s = h5::select_rows(d.id.get(), d.dims, begin, count);
  checked_read(
      H5Dread(d.id.get(), mem_type, s.mem_space.get(), s.file_space.get(), H5P_DEFAULT, buf),
      path, d, begin, count);
}

// Reads a slab of a variable-length dataset (T = char* or hvl_t), hands the buffer to
// `consume`, then returns HDF5's allocations, also when `consume` throws.
template <class T, class Consume>
void read_vlen(const std::string& path, const Dataset& d, hid_t mem_type, uint64_t begin,
               uint64_t count, Consume&& consume) {
  std::vector<T> buf(count);
  h5::RowSelection s = h5::select_rows(d.id.get(), d.dims, begin, count);
  checked_read(H5Dread(d.id.get(), mem_type, s.mem_space.get(), s.file_space.get(), H5P_DEFAULT,
                       buf.data()),
               path, d, begin, count);
  h5::VlenReclaim reclaim(mem_type, s.mem_space.get(), buf.data());
  consume(buf);
}

// Rows [0, n_rows) of records [begin, begin + count) of a [N, T, d] dataset, as float.
void read_embedding_rows(const std::string& path, const Dataset& d, uint64_t begin, uint64_t count,
                         uint64_t n_rows, float* buf) {
  Id file_space = h5::space_id(H5Dget_space(d.id.get()), "H5Dget_space");
  const hsize_t start[3] = {begin, 0, 0}, counts[3] = {count, n_rows, d.dims[2]};
  h5::check_status(H5Sselect_hyperslab(file_space.get(), H5S_SELECT_SET, start, nullptr, counts, nullptr),
                   "H5Sselect_hyperslab");
  Id mem_space = h5::space_id(H5Screate_simple(3, counts, nullptr), "H5Screate_simple");
  checked_read(H5Dread(d.id.get(), H5T_NATIVE_FLOAT, mem_space.get(), file_space.get(), H5P_DEFAULT, buf),
               path, d, begin, count);
}

std::vector<int64_t> read_int64(const std::string& path, const Dataset& d, uint64_t begin,
                                uint64_t count) {
  std::vector<int64_t> v(count);
  read_slab(path, d, H5T_NATIVE_INT64, begin, count, v.data());
  return v;
}

std::vector<double> read_double(const std::string& path, const Dataset& d, uint64_t begin,
                                uint64_t count) {
  std::vector<double> v(count);
  read_slab(path, d, H5T_NATIVE_DOUBLE, begin, count, v.data());
  return v;
}

bool is_unsigned(const Dataset& d) { return H5Tget_sign(d.file_type.get()) == H5T_SGN_NONE; }

// "in.h5: /prompts[17]"
std::string record_ref(const std::string& path, const Dataset& d, uint64_t index) {
  return path + ": " + d.name + "[" + std::to_string(index) + "]";
}

void add_error(RecordInput& r, const std::string& msg) {
  if (!r.error.empty()) r.error += "; ";
  r.error += msg;
}

// Fixed-length strings come padded; strip the padding the way h5py/numpy would.
std::string unpad(const char* p, size_t size, H5T_str_t pad) {
  std::string s(p, size);
  if (pad == H5T_STR_NULLTERM) {
    size_t nul = s.find('\0');
    if (nul != std::string::npos) s.resize(nul);
  } else {
    const char fill = pad == H5T_STR_SPACEPAD ? ' ' : '\0';
    size_t last = s.find_last_not_of(fill);
    s.resize(last == std::string::npos ? 0 : last + 1);
  }
  return s;
}

std::vector<std::string> read_prompt_strings(const std::string& path, const Dataset& d,
                                             uint64_t begin, uint64_t count) {
  std::vector<std::string> out(count);
  hid_t ftype = d.file_type.get();
  if (H5Tis_variable_str(ftype) > 0) {
    Id mem = h5::type_id(H5Tcopy(H5T_C_S1), "H5Tcopy");
    h5::check_status(H5Tset_size(mem.get(), H5T_VARIABLE), "H5Tset_size");
    // Same character set as the file: HDF5 does not convert between ASCII and UTF-8.
    h5::check_status(H5Tset_cset(mem.get(), H5Tget_cset(ftype)), "H5Tset_cset");
    read_vlen<char*>(path, d, mem.get(), begin, count, [&](std::vector<char*>& buf) {
      for (uint64_t i = 0; i < count; ++i)
        if (buf[i]) out[i] = buf[i];
    });
  } else {
    const size_t size = H5Tget_size(ftype);
    Id mem = h5::type_id(H5Tcopy(ftype), "H5Tcopy");
    std::vector<char> buf(count * size);
    read_slab(path, d, mem.get(), begin, count, buf.data());
    const H5T_str_t pad = H5Tget_strpad(ftype);
    for (uint64_t i = 0; i < count; ++i) out[i] = unpad(buf.data() + i * size, size, pad);
  }
  return out;
}

}  // namespace

struct InputFile::Impl {
  std::string path;
  Id file;
  uint64_t n = 0;
  Dataset prompts, tokens, embeddings, embedding_lengths, seeds, max_new_tokens;
  Dataset temperature, top_p, top_k, stop_tokens;  // per-record sampling overrides
  std::vector<Dataset> carried;                    // /ids and --carry datasets, copied to the output
  uint64_t records_per_read = 1;                   // read() pieces: kMaxReadBytes of buffers

  // Each fill_X reads records [begin, begin + count) of one dataset into recs[0..count) and
  // throws ReadFailure (or bad_alloc) before changing any record if the read fails.
  using Fill = void (Impl::*)(uint64_t begin, RecordInput* recs, size_t count) const;
  void fill_prompts(uint64_t begin, RecordInput* recs, size_t count) const;
  void fill_tokens(uint64_t begin, RecordInput* recs, size_t count) const;
  void fill_embeddings(uint64_t begin, RecordInput* recs, size_t count) const;
  void fill_seeds(uint64_t begin, RecordInput* recs, size_t count) const;
  void fill_max_new_tokens(uint64_t begin, RecordInput* recs, size_t count) const;
  void fill_temperature(uint64_t begin, RecordInput* recs, size_t count) const;
  void fill_top_p(uint64_t begin, RecordInput* recs, size_t count) const;
  void fill_top_k(uint64_t begin, RecordInput* recs, size_t count) const;
  void fill_stop_tokens(uint64_t begin, RecordInput* recs, size_t count) const;
  void fill_robustly(const Dataset& d, Fill fill, uint64_t begin, RecordInput* recs,
                     size_t count) const;
  void check_empty(RecordInput& r) const;
  void check_datasets(const InputOptions& options) const;  // ranks, types, shapes; throws
  void open_carried(const InputOptions& options);

  // The datasets that carry one value per record, in the order their counts are compared.
  std::vector<const Dataset*> present() const {
    std::vector<const Dataset*> out;
    for (const Dataset* d : {&prompts, &tokens, &embeddings, &embedding_lengths, &seeds,
                             &max_new_tokens, &temperature, &top_p, &top_k, &stop_tokens})
      if (*d) out.push_back(d);
    for (const Dataset& d : carried)
      if (std::none_of(out.begin(), out.end(), [&](const Dataset* o) { return o->name == d.name; }))
        out.push_back(&d);
    return out;
  }
};

void InputFile::Impl::check_datasets(const InputOptions& options) const {
  if (prompts) check_prompts(path, prompts);
  if (tokens) check_vlen_integers(path, tokens);
  if (embeddings) check_embeddings(path, embeddings, options.expected_embedding_width);
  if (embedding_lengths) check_integer_1d(path, embedding_lengths, "an integer type (int32)");
  if (seeds) check_integer_1d(path, seeds, "an unsigned 64-bit integer");
  if (max_new_tokens) check_integer_1d(path, max_new_tokens, "an integer type (int32)");
  if (temperature) check_number_1d(path, temperature, "a float type (float32)");
  if (top_p) check_number_1d(path, top_p, "a float type (float32)");
  if (top_k) check_integer_1d(path, top_k, "an integer type (int32)");
  if (stop_tokens) check_vlen_integers(path, stop_tokens);
  for (const Dataset& d : carried) check_carried(path, d, d.name == "/ids");
  for (const Dataset* d : present()) check_shape_bounds(path, *d);
}

// /ids whenever present, then the --carry names in order (each once).
void InputFile::Impl::open_carried(const InputOptions& options) {
  std::vector<std::string> names;
  if (H5Lexists(file.get(), "/ids", H5P_DEFAULT) > 0) names.push_back("/ids");
  for (const std::string& raw : options.carry) {
    const std::string name = carried_dataset_name(raw);
    if (std::find(names.begin(), names.end(), name) != names.end()) continue;
    if (is_result_dataset_name(name.substr(1)))
      throw Error(path + ": --carry " + raw + ": the output already has /results" + name +
                  " (a result dataset); rename the input dataset");
    names.push_back(name);
  }
  for (const std::string& name : names) {
    Dataset d = open_optional(file.get(), path, name);
    if (!d) throw Error(path + ": --carry " + name.substr(1) + ": the input has no dataset " + name);
    carried.push_back(std::move(d));
  }
}

void InputFile::Impl::fill_robustly(const Dataset& d, Fill fill, uint64_t begin,
                                    RecordInput* recs, size_t count) const {
  try {
    (this->*fill)(begin, recs, count);
    return;
  } catch (const ReadFailure&) {
  } catch (const std::bad_alloc&) {
  }
  // One bad chunk (or an allocation a block needed) must not take the other records with it:
  // retry one by one, so only the records HDF5 really cannot read fail.
  for (size_t i = 0; i < count; ++i) {
    try {
      (this->*fill)(begin + i, recs + i, 1);
    } catch (const ReadFailure& e) {
      add_error(recs[i], path + ": " + e.dataset + "[" + std::to_string(recs[i].index) + "]: cannot read" +
                             (e.detail.empty() ? std::string() : " (HDF5: " + e.detail + ")"));
    } catch (const std::bad_alloc&) {
      add_error(recs[i], record_ref(path, d, recs[i].index) + ": cannot read (out of memory)");
    }
  }
}

void InputFile::Impl::fill_prompts(uint64_t begin, RecordInput* recs, size_t count) const {
  std::vector<std::string> strings = read_prompt_strings(path, prompts, begin, count);
  for (size_t i = 0; i < count; ++i) {
    RecordInput& r = recs[i];
    r.has_prompt = true;
    r.prompt = std::move(strings[i]);
    size_t bad = utf8::first_invalid(r.prompt);
    if (bad != std::string::npos)
      add_error(r, record_ref(path, prompts, r.index) + ": invalid UTF-8 at byte " +
                       std::to_string(bad));
  }
}

namespace {

// Token ids read as int64 whatever the file's integer type, so out-of-range ids are caught here
// instead of being clipped silently by HDF5's conversion to int32. False (and `err` set) if one is.
bool int32_ids(const hvl_t& v, std::vector<int32_t>& out, const std::string& ref, std::string& err) {
  const auto* ids = static_cast<const int64_t*>(v.p);
  out.resize(v.len);
  for (size_t k = 0; k < v.len; ++k) {
    if (ids[k] < std::numeric_limits<int32_t>::min() || ids[k] > std::numeric_limits<int32_t>::max()) {
      err = ref + ": token " + std::to_string(k) + " has id " + std::to_string(ids[k]) +
            ", outside the int32 range";
      out.clear();
      return false;
    }
    out[k] = static_cast<int32_t>(ids[k]);
  }
  return true;
}

}  // namespace

void InputFile::Impl::fill_tokens(uint64_t begin, RecordInput* recs, size_t count) const {
  Id mem = h5::type_id(H5Tvlen_create(H5T_NATIVE_INT64), "H5Tvlen_create");
  read_vlen<hvl_t>(path, tokens, mem.get(), begin, count, [&](std::vector<hvl_t>& buf) {
    for (size_t i = 0; i < count; ++i) {
      RecordInput& r = recs[i];
      r.has_tokens = true;
      std::string err;
      if (!int32_ids(buf[i], r.tokens, record_ref(path, tokens, r.index), err)) add_error(r, err);
    }
  });
}

void InputFile::Impl::fill_stop_tokens(uint64_t begin, RecordInput* recs, size_t count) const {
  Id mem = h5::type_id(H5Tvlen_create(H5T_NATIVE_INT64), "H5Tvlen_create");
  read_vlen<hvl_t>(path, stop_tokens, mem.get(), begin, count, [&](std::vector<hvl_t>& buf) {
    for (size_t i = 0; i < count; ++i) {
      std::vector<int32_t> ids;
      std::string err;
      if (int32_ids(buf[i], ids, record_ref(path, stop_tokens, recs[i].index), err))
        recs[i].stop_tokens = std::move(ids);
      else
        add_error(recs[i], err);
    }
  });
}

namespace {

// "-1" / "nan" / "0.25": a per-record value as the message shows it.
std::string number_text(double v) {
  std::ostringstream os;
  os << v;
  return os.str();
}

}  // namespace

void InputFile::Impl::fill_temperature(uint64_t begin, RecordInput* recs, size_t count) const {
  std::vector<double> v = read_double(path, temperature, begin, count);
  for (size_t i = 0; i < count; ++i) {
    if (std::isfinite(v[i]) && v[i] >= 0 && v[i] <= std::numeric_limits<float>::max())
      recs[i].temperature = static_cast<float>(v[i]);
    else
      add_error(recs[i], record_ref(path, temperature, recs[i].index) + " is " + number_text(v[i]) +
                             ", expected a finite temperature >= 0 (0 = greedy)");
  }
}

void InputFile::Impl::fill_top_p(uint64_t begin, RecordInput* recs, size_t count) const {
  std::vector<double> v = read_double(path, top_p, begin, count);
  for (size_t i = 0; i < count; ++i) {
    if (v[i] > 0 && v[i] <= 1)  // false for NaN
      recs[i].top_p = static_cast<float>(v[i]);
    else
      add_error(recs[i], record_ref(path, top_p, recs[i].index) + " is " + number_text(v[i]) +
                             ", expected a probability mass in (0, 1]");
  }
}

void InputFile::Impl::fill_top_k(uint64_t begin, RecordInput* recs, size_t count) const {
  std::vector<int64_t> v = read_int64(path, top_k, begin, count);
  for (size_t i = 0; i < count; ++i) {
    if (v[i] >= 0 && v[i] <= std::numeric_limits<int32_t>::max())
      recs[i].top_k = static_cast<int32_t>(v[i]);
    else
      add_error(recs[i], record_ref(path, top_k, recs[i].index) + " is " + std::to_string(v[i]) +
                             ", expected 0 (all tokens) .. " +
                             std::to_string(std::numeric_limits<int32_t>::max()));
  }
}

namespace {

}  // namespace

void InputFile::Impl::fill_embeddings(uint64_t begin, RecordInput* recs, size_t count) const {
  const uint64_t rows = embeddings.dims[1], width = embeddings.dims[2];
  std::vector<int64_t> lengths;
  if (embedding_lengths) lengths = read_int64(path, embedding_lengths, begin, count);
  // Only the rows some record of the block uses are read: padded inputs (T much larger than
  // most lengths) then cost memory for their data, not for their padding.
  uint64_t used = rows;
  if (embedding_lengths) {
    used = 0;
    for (int64_t len : lengths)
      if (len > 0 && static_cast<uint64_t>(len) <= rows) used = std::max(used, static_cast<uint64_t>(len));
  }
  std::vector<float> block(count * used * width);
  if (!block.empty()) read_embedding_rows(path, embeddings, begin, count, used, block.data());

  for (size_t i = 0; i < count; ++i) {
    RecordInput& r = recs[i];
    const int64_t len = embedding_lengths ? lengths[i] : static_cast<int64_t>(rows);
    if (len < 0 || static_cast<uint64_t>(len) > rows) {
      add_error(r, record_ref(path, embedding_lengths, r.index) + " is " + std::to_string(len) +
                       ", outside 0.." + std::to_string(rows) + " (the T dimension of " +
                       embeddings.name + ")");
      continue;
    }
    const float* src = block.data() + i * used * width;
    const size_t n_values = static_cast<size_t>(len) * width;
    const size_t bad = first_non_finite(src, n_values);
    if (bad != n_values) {
      std::ostringstream msg;
      msg << record_ref(path, embeddings, r.index) << ": non-finite value " << src[bad]
          << " at row " << bad / width << ", column " << bad % width;
      add_error(r, msg.str());
      continue;
    }
    r.n_embedding_rows = static_cast<uint32_t>(len);
    r.embeddings.assign(src, src + n_values);
  }
}

void InputFile::Impl::fill_seeds(uint64_t begin, RecordInput* recs, size_t count) const {
  if (is_unsigned(seeds)) {
    std::vector<uint64_t> v(count);
    read_slab(path, seeds, H5T_NATIVE_UINT64, begin, count, v.data());
    for (size_t i = 0; i < count; ++i) recs[i].seed = v[i];
    return;
  }
  // Signed seeds (numpy's default int64) are fine as long as they are not negative.
  std::vector<int64_t> v = read_int64(path, seeds, begin, count);
  for (size_t i = 0; i < count; ++i) {
    if (v[i] < 0)
      add_error(recs[i], record_ref(path, seeds, recs[i].index) + " is " + std::to_string(v[i]) +
                             ", expected a non-negative seed");
    else
      recs[i].seed = static_cast<uint64_t>(v[i]);
  }
}

void InputFile::Impl::fill_max_new_tokens(uint64_t begin, RecordInput* recs, size_t count) const {
  std::vector<int64_t> v = read_int64(path, max_new_tokens, begin, count);
  for (size_t i = 0; i < count; ++i) {
    RecordInput& r = recs[i];
    if (v[i] < 0)
      add_error(r, record_ref(path, max_new_tokens, r.index) + " is " + std::to_string(v[i]) +
                       ", expected >= 0");
    else if (v[i] > std::numeric_limits<int32_t>::max())
      add_error(r, record_ref(path, max_new_tokens, r.index) + " is " + std::to_string(v[i]) +
                       ", larger than the int32 range");
    else
      r.max_new_tokens = static_cast<int32_t>(v[i]);
  }
}

void InputFile::Impl::check_empty(RecordInput& r) const {
  if (!r.error.empty()) return;  // already failed; "empty" would only repeat the cause
  if (!r.prompt.empty() || !r.tokens.empty() || r.n_embedding_rows > 0) return;
  std::string why;
  auto part = [&](const Dataset& d, const char* text) {
    if (!d) return;
    why += why.empty() ? ": " : ", ";
    why += d.name + "[" + std::to_string(r.index) + "] " + text;
  };
  part(prompts, "is an empty string");
  part(tokens, "has no tokens");
  part(embeddings, "has 0 rows");
  add_error(r, path + ": record " + std::to_string(r.index) + " is empty" + why);
}

InputFile::InputFile(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
InputFile::~InputFile() = default;

std::string carried_dataset_name(const std::string& name) {
  const std::string n = !name.empty() && name[0] == '/' ? name.substr(1) : name;
  if (n.empty() || n.find('/') != std::string::npos)
    throw Error("--carry " + name + ": expected the name of a root dataset of the input (e.g. doc_id)");
  return "/" + n;
}

std::unique_ptr<InputFile> InputFile::open(const std::string& path, const InputOptions& options) {
  h5::QuietErrors quiet;
  require_hdf5_file(path);
  auto f = std::make_unique<Impl>();
  f->path = path;
  h5::Id fapl = h5::posix_fapl();
  f->file = h5::file_id(H5Fopen(path.c_str(), H5F_ACC_RDONLY, fapl.get()),
                        path + ": cannot open HDF5 file");
  const hid_t file = f->file.get();
  f->prompts = open_optional(file, path, "prompts");
  f->tokens = open_optional(file, path, "tokens");
  f->embeddings = open_optional(file, path, "embeddings");
  f->embedding_lengths = open_optional(file, path, "embedding_lengths");
  f->seeds = open_optional(file, path, "seeds");
  f->max_new_tokens = open_optional(file, path, "max_new_tokens");
  f->temperature = open_optional(file, path, "temperature");
  f->top_p = open_optional(file, path, "top_p");
  f->top_k = open_optional(file, path, "top_k");
  f->stop_tokens = open_optional(file, path, "stop_tokens");
  f->open_carried(options);

  if (!f->prompts && !f->tokens && !f->embeddings)
    throw Error(path + ": no record dataset: expected /prompts, /tokens or /embeddings");
  if (f->embedding_lengths && !f->embeddings)
    throw Error(path + ": /embedding_lengths is present but /embeddings is not");

  f->check_datasets(options);
  f->n = check_record_counts(path, f->present());
  uint64_t widest = 1;
  for (const Dataset* d : f->present()) widest = std::max(widest, record_bytes(*d));
  f->records_per_read = std::max<uint64_t>(1, kMaxReadBytes / widest);
  return std::unique_ptr<InputFile>(new InputFile(std::move(f)));
}

const std::string& InputFile::path() const { return impl_->path; }
uint64_t InputFile::size() const { return impl_->n; }
uint32_t InputFile::embedding_width() const {
  return impl_->embeddings ? static_cast<uint32_t>(impl_->embeddings.dims[2]) : 0;
}
uint32_t InputFile::embedding_max_rows() const {
  return impl_->embeddings ? static_cast<uint32_t>(impl_->embeddings.dims[1]) : 0;
}
bool InputFile::has_prompts() const { return static_cast<bool>(impl_->prompts); }
bool InputFile::has_tokens() const { return static_cast<bool>(impl_->tokens); }
bool InputFile::has_embeddings() const { return static_cast<bool>(impl_->embeddings); }
bool InputFile::has_seeds() const { return static_cast<bool>(impl_->seeds); }
bool InputFile::has_max_new_tokens() const { return static_cast<bool>(impl_->max_new_tokens); }
std::vector<std::string> InputFile::carried() const {
  std::vector<std::string> names;
  for (const Dataset& d : impl_->carried) names.push_back(d.name);
  return names;
}

std::vector<RecordInput> InputFile::read(uint64_t begin, uint64_t end) const {
  const Impl& f = *impl_;
  if (begin > end || end > f.n)
    throw Error(f.path + ": record range [" + std::to_string(begin) + ", " + std::to_string(end) +
                ") is outside the file's " + std::to_string(f.n) + " records");
  h5::QuietErrors quiet;
  std::vector<RecordInput> recs(end - begin);
  for (size_t i = 0; i < recs.size(); ++i) recs[i].index = begin + i;
  const std::pair<const Dataset*, Impl::Fill> fills[] = {
      {&f.prompts, &Impl::fill_prompts},         {&f.tokens, &Impl::fill_tokens},
      {&f.embeddings, &Impl::fill_embeddings},   {&f.seeds, &Impl::fill_seeds},
      {&f.max_new_tokens, &Impl::fill_max_new_tokens}, {&f.temperature, &Impl::fill_temperature},
      {&f.top_p, &Impl::fill_top_p},             {&f.top_k, &Impl::fill_top_k},
      {&f.stop_tokens, &Impl::fill_stop_tokens}};
  for (size_t p = 0; p < recs.size(); p += f.records_per_read) {
    const size_t count = static_cast<size_t>(std::min<uint64_t>(f.records_per_read, recs.size() - p));
    for (const auto& [d, fill] : fills)
      if (*d) f.fill_robustly(*d, fill, begin + p, recs.data() + p, count);
  }
  for (RecordInput& r : recs) f.check_empty(r);
  return recs;
}

namespace {

std::string describe_dataset(const Dataset& d) {
  std::string s = d.name + ": " + h5::type_name(d.file_type.get());
  if (H5Tget_class(d.file_type.get()) == H5T_STRING)
    s += H5Tget_cset(d.file_type.get()) == H5T_CSET_UTF8 ? " (UTF-8)" : " (ASCII)";
  s += " " + h5::dims_string(d.dims);
  std::string filters = h5::filter_names(d.id.get());
  if (!filters.empty()) s += " " + filters;
  return s;
}

}  // namespace

std::string InputFile::describe() const {
  const Impl& f = *impl_;
  h5::QuietErrors quiet;
  std::string s = f.path + ": " + std::to_string(f.n) + " records";
  for (const Dataset* d : f.present()) s += "; " + describe_dataset(*d);
  return s;
}

}  // namespace sci_infer
