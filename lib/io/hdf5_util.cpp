#include "io/hdf5_util.hpp"

#include <sstream>

namespace sci_infer::h5 {

namespace {

// H5Ewalk2 callback: collects each record's description, innermost first.
herr_t collect_message(unsigned, const H5E_error2_t* err, void* data) {
  auto* out = static_cast<std::vector<std::string>*>(data);
  if (err && err->desc && *err->desc) out->emplace_back(err->desc);
  return 0;
}

}  // namespace

std::string error_stack_summary() {
  std::vector<std::string> messages;
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, collect_message, &messages);
  // The two innermost records carry the cause ("unable to open file", "errno = 2 ...");
  // the outer ones only repeat the API call that failed.
  std::string out;
  for (size_t i = 0; i < messages.size() && i < 2; ++i) {
    if (!out.empty()) out += "; ";
    out += messages[i];
  }
  return out;
}

hid_t check(hid_t id, const std::string& what) {
  if (id < 0) {
    std::string detail = error_stack_summary();
    throw Error(detail.empty() ? what : what + " (HDF5: " + detail + ")");
  }
  return id;
}

herr_t check_status(herr_t rc, const std::string& what) {
  if (rc < 0) {
    std::string detail = error_stack_summary();
    throw Error(detail.empty() ? what : what + " (HDF5: " + detail + ")");
  }
  return rc;
}

Id file_id(hid_t id, const std::string& what) { return Id(check(id, what), H5Fclose); }
Id dataset_id(hid_t id, const std::string& what) { return Id(check(id, what), H5Dclose); }
Id group_id(hid_t id, const std::string& what) { return Id(check(id, what), H5Gclose); }
Id type_id(hid_t id, const std::string& what) { return Id(check(id, what), H5Tclose); }
Id space_id(hid_t id, const std::string& what) { return Id(check(id, what), H5Sclose); }
Id plist_id(hid_t id, const std::string& what) { return Id(check(id, what), H5Pclose); }
Id attr_id(hid_t id, const std::string& what) { return Id(check(id, what), H5Aclose); }
Id object_id(hid_t id, const std::string& what) { return Id(check(id, what), H5Oclose); }

QuietErrors::QuietErrors() {
  H5Eget_auto2(H5E_DEFAULT, &old_func_, &old_data_);
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
}

QuietErrors::~QuietErrors() { H5Eset_auto2(H5E_DEFAULT, old_func_, old_data_); }

Id posix_fapl() {
  Id fapl = plist_id(H5Pcreate(H5P_FILE_ACCESS), "H5Pcreate(file access)");
  check_status(H5Pset_file_locking(fapl.get(), /*use_file_locking=*/1, /*ignore_when_disabled=*/1),
               "H5Pset_file_locking");
  return fapl;
}

namespace {

std::string integer_name(hid_t type) {
  std::string name = H5Tget_sign(type) == H5T_SGN_NONE ? "uint" : "int";
  return name + std::to_string(8 * H5Tget_size(type));
}

}  // namespace

std::string type_name(hid_t type) {
  switch (H5Tget_class(type)) {
    case H5T_INTEGER: return integer_name(type);
    case H5T_FLOAT: return "float" + std::to_string(8 * H5Tget_size(type));
    case H5T_STRING:
      if (H5Tis_variable_str(type) > 0) return "variable-length string";
      return "fixed-length string (" + std::to_string(H5Tget_size(type)) + " bytes)";
    case H5T_VLEN: {
      Id super(H5Tget_super(type), H5Tclose);
      return "variable-length " + (super ? type_name(super.get()) : std::string("?"));
    }
    case H5T_ARRAY: return "array";
    case H5T_COMPOUND: return "compound";
    case H5T_ENUM: return "enum";
    case H5T_OPAQUE: return "opaque";
    case H5T_REFERENCE: return "reference";
    case H5T_BITFIELD: return "bitfield";
    case H5T_TIME: return "time";
    default: return "unknown";
  }
}

std::vector<hsize_t> dims_of(hid_t dataset) {
  Id space = space_id(H5Dget_space(dataset), "H5Dget_space");
  int rank = H5Sget_simple_extent_ndims(space.get());
  if (rank < 0) throw Error("dataspace is not simple");
  std::vector<hsize_t> dims(static_cast<size_t>(rank));
  if (rank > 0) H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr);
  return dims;
}

std::string dims_string(const std::vector<hsize_t>& dims) {
  std::ostringstream os;
  os << '[';
  for (size_t i = 0; i < dims.size(); ++i) os << (i ? ", " : "") << dims[i];
  os << ']';
  return os.str();
}

RowSelection select_rows(hid_t dataset, const std::vector<hsize_t>& dims, uint64_t begin,
                         uint64_t count) {
  RowSelection s;
  s.file_space = space_id(H5Dget_space(dataset), "H5Dget_space");
  std::vector<hsize_t> start(dims.size(), 0), counts = dims;
  start[0] = begin;
  counts[0] = count;
  check_status(H5Sselect_hyperslab(s.file_space.get(), H5S_SELECT_SET, start.data(), nullptr,
                                   counts.data(), nullptr),
               "H5Sselect_hyperslab");
  s.mem_space = space_id(H5Screate_simple(static_cast<int>(counts.size()), counts.data(), nullptr),
                         "H5Screate_simple");
  return s;
}

Id utf8_string_type() {
  Id t = type_id(H5Tcopy(H5T_C_S1), "H5Tcopy");
  check_status(H5Tset_size(t.get(), H5T_VARIABLE), "H5Tset_size");
  check_status(H5Tset_cset(t.get(), H5T_CSET_UTF8), "H5Tset_cset");
  return t;
}

namespace {

std::string filter_name(H5Z_filter_t id, const char* stored_name) {
  switch (id) {
    case H5Z_FILTER_DEFLATE: return "gzip";
    case H5Z_FILTER_SHUFFLE: return "shuffle";
    case H5Z_FILTER_FLETCHER32: return "fletcher32";
    case H5Z_FILTER_SZIP: return "szip";
    case H5Z_FILTER_NBIT: return "nbit";
    case H5Z_FILTER_SCALEOFFSET: return "scaleoffset";
    default:
      return (stored_name && *stored_name ? std::string(stored_name) : std::string("filter")) +
             " (id " + std::to_string(id) + ")";
  }
}

template <class F>
void for_each_filter(hid_t dataset, F&& f) {
  Id dcpl = plist_id(H5Dget_create_plist(dataset), "H5Dget_create_plist");
  int n = H5Pget_nfilters(dcpl.get());
  for (int i = 0; i < n; ++i) {
    unsigned flags = 0;
    size_t n_values = 0;
    char name[256] = {0};
    unsigned config = 0;
    H5Z_filter_t id = H5Pget_filter2(dcpl.get(), static_cast<unsigned>(i), &flags, &n_values,
                                     nullptr, sizeof name, name, &config);
    if (id >= 0) f(id, flags, name);
  }
}

}  // namespace

void require_filters_available(hid_t dataset, const std::string& what) {
  // Optional filters too: H5Z_FLAG_OPTIONAL only lets a *writer* skip the filter for a chunk;
  // chunks it did apply (h5py writes lzf as optional) cannot be read without it.
  for_each_filter(dataset, [&](H5Z_filter_t id, unsigned, const char* name) {
    unsigned info = 0;
    bool decodable = H5Zfilter_avail(id) > 0 && H5Zget_filter_info(id, &info) >= 0 &&
                     (info & H5Z_FILTER_CONFIG_DECODE_ENABLED);
    if (!decodable)
      throw Error(what + " needs the HDF5 filter " + filter_name(id, name) +
                  ", which this HDF5 library cannot decode (rewrite the file with gzip, e.g. "
                  "h5repack -f GZIP=1)");
  });
}

std::string filter_names(hid_t dataset) {
  std::string out;
  for_each_filter(dataset, [&](H5Z_filter_t id, unsigned, const char* name) {
    if (!out.empty()) out += "+";
    out += filter_name(id, name);
  });
  return out;
}

}  // namespace sci_infer::h5
