#include "hdf5_test_files.hpp"

#include <hdf5.h>
#include <stdlib.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "io/hdf5_util.hpp"

namespace sci_infer::test_files {

namespace {

using h5::Id;

hid_t file_type_of(NumType t) {
  switch (t) {
    case NumType::Int8: return H5T_STD_I8LE;
    case NumType::Int16: return H5T_STD_I16LE;
    case NumType::Int32: return H5T_STD_I32LE;
    case NumType::Int64: return H5T_STD_I64LE;
    case NumType::UInt8: return H5T_STD_U8LE;
    case NumType::UInt16: return H5T_STD_U16LE;
    case NumType::UInt32: return H5T_STD_U32LE;
    case NumType::UInt64: return H5T_STD_U64LE;
    case NumType::Float32: return H5T_IEEE_F32LE;
    case NumType::Float64: return H5T_IEEE_F64LE;
  }
  throw std::runtime_error("bad NumType");
}

struct Layout {
  bool chunked_gzip = false;
  uint64_t chunk_records = 1024;
};

// Creates dataset `name` with the given file type and shape and writes `buf` (memory type
// `mem_type`) into it; chunked along the first dimension + shuffle + gzip when asked.
void write_dataset(hid_t file, const std::string& name, hid_t file_type,
                   const std::vector<uint64_t>& dims64, hid_t mem_type, const void* buf,
                   const Layout& layout) {
  std::vector<hsize_t> dims(dims64.begin(), dims64.end());
  Id space = h5::space_id(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr),
                          "test: H5Screate_simple " + name);
  Id dcpl = h5::plist_id(H5Pcreate(H5P_DATASET_CREATE), "test: H5Pcreate");
  if (layout.chunked_gzip && !dims.empty() && dims[0] > 0) {
    std::vector<hsize_t> chunk = dims;
    chunk[0] = std::min<hsize_t>(dims[0], layout.chunk_records);
    for (hsize_t& c : chunk) c = std::max<hsize_t>(c, 1);
    h5::check_status(H5Pset_chunk(dcpl.get(), static_cast<int>(chunk.size()), chunk.data()),
                     "test: H5Pset_chunk");
    h5::check_status(H5Pset_shuffle(dcpl.get()), "test: H5Pset_shuffle");
    h5::check_status(H5Pset_deflate(dcpl.get(), 4), "test: H5Pset_deflate");
  }
  Id ds = h5::dataset_id(H5Dcreate2(file, name.c_str(), file_type, space.get(), H5P_DEFAULT,
                                    dcpl.get(), H5P_DEFAULT),
                         "test: H5Dcreate2 " + name);
  const bool empty = std::any_of(dims.begin(), dims.end(), [](hsize_t d) { return d == 0; });
  if (!empty)
    h5::check_status(H5Dwrite(ds.get(), mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf),
                     "test: H5Dwrite " + name);
}

void write_ints(hid_t file, const std::string& name, NumType type, const std::vector<int64_t>& v,
                const Layout& layout) {
  write_dataset(file, name, file_type_of(type), {v.size()}, H5T_NATIVE_INT64, v.data(), layout);
}

void write_prompts(hid_t file, const InputSpec& spec, const Layout& layout) {
  const std::vector<std::string>& prompts = *spec.prompts;
  Id type = h5::type_id(H5Tcopy(H5T_C_S1), "test: H5Tcopy");
  const bool variable =
      spec.prompt_kind == StringKind::VariableUtf8 || spec.prompt_kind == StringKind::VariableAscii;
  H5Tset_cset(type.get(),
              spec.prompt_kind == StringKind::VariableAscii ? H5T_CSET_ASCII : H5T_CSET_UTF8);
  if (variable) {
    H5Tset_size(type.get(), H5T_VARIABLE);
    std::vector<const char*> ptrs;
    for (const std::string& s : prompts) ptrs.push_back(s.c_str());
    write_dataset(file, "/prompts", type.get(), {prompts.size()}, type.get(), ptrs.data(), layout);
    return;
  }
  size_t size = 1;
  for (const std::string& s : prompts) size = std::max(size, s.size());
  if (spec.prompt_kind == StringKind::FixedNullTerm) size += 1;
  const char fill = spec.prompt_kind == StringKind::FixedSpacePad ? ' ' : '\0';
  std::string buf(prompts.size() * size, fill);
  for (size_t i = 0; i < prompts.size(); ++i)
    std::memcpy(&buf[i * size], prompts[i].data(), prompts[i].size());
  H5Tset_size(type.get(), size);
  H5Tset_strpad(type.get(), spec.prompt_kind == StringKind::FixedNullTerm   ? H5T_STR_NULLTERM
                            : spec.prompt_kind == StringKind::FixedNullPad ? H5T_STR_NULLPAD
                                                                           : H5T_STR_SPACEPAD);
  write_dataset(file, "/prompts", type.get(), {prompts.size()}, type.get(), buf.data(), layout);
}

void write_tokens(hid_t file, const InputSpec& spec, const Layout& layout) {
  const auto& tokens = *spec.tokens;
  Id file_type = h5::type_id(H5Tvlen_create(file_type_of(spec.token_type)), "test: vlen");
  Id mem_type = h5::type_id(H5Tvlen_create(H5T_NATIVE_INT64), "test: vlen");
  std::vector<hvl_t> buf;
  for (const auto& t : tokens) buf.push_back(hvl_t{t.size(), const_cast<int64_t*>(t.data())});
  write_dataset(file, "/tokens", file_type.get(), {tokens.size()}, mem_type.get(), buf.data(),
                layout);
}

Id open_or_create(const std::string& path) {
  h5::QuietErrors quiet;
  if (H5Fis_hdf5(path.c_str()) > 0)
    return h5::file_id(H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT), "test: open " + path);
  return h5::file_id(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT),
                     "test: create " + path);
}

}  // namespace

void write_input_file(const std::string& path, const InputSpec& spec) {
  h5::QuietErrors quiet;
  Id file = h5::file_id(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT),
                        "test: create " + path);
  const Layout layout{spec.chunked_gzip, spec.chunk_records};
  const hid_t f = file.get();
  if (spec.prompts) write_prompts(f, spec, layout);
  if (spec.tokens) write_tokens(f, spec, layout);
  if (spec.embeddings)
    write_dataset(f, "/embeddings", file_type_of(spec.embeddings_type), spec.embeddings_dims,
                  H5T_NATIVE_FLOAT, spec.embeddings->data(), layout);
  if (spec.embedding_lengths)
    write_ints(f, "/embedding_lengths", spec.embedding_lengths_type, *spec.embedding_lengths,
               layout);
  if (spec.seeds)
    write_dataset(f, "/seeds", file_type_of(spec.seeds_type), {spec.seeds->size()},
                  H5T_NATIVE_UINT64, spec.seeds->data(), layout);
  if (spec.max_new_tokens)
    write_ints(f, "/max_new_tokens", spec.max_new_tokens_type, *spec.max_new_tokens, layout);
}

void add_numeric_dataset(const std::string& path, const std::string& name, NumType type,
                         const std::vector<uint64_t>& dims, const std::vector<double>& values) {
  h5::QuietErrors quiet;
  Id file = open_or_create(path);
  write_dataset(file.get(), name, file_type_of(type), dims, H5T_NATIVE_DOUBLE, values.data(),
                Layout{});
}

void add_group(const std::string& path, const std::string& name) {
  h5::QuietErrors quiet;
  Id file = open_or_create(path);
  Id g = h5::group_id(H5Gcreate2(file.get(), name.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
                      "test: H5Gcreate2 " + name);
}

namespace {

// A pass-through filter: registered only while the test file is written, so that readers see a
// dataset whose mandatory filter this HDF5 does not have.
size_t identity_filter(unsigned, size_t, const unsigned[], size_t nbytes, size_t*, void**) {
  return nbytes;
}

}  // namespace

void add_dataset_with_filter(const std::string& path, const std::string& name, uint64_t n,
                             int filter_id, bool optional) {
  h5::QuietErrors quiet;
  const H5Z_class2_t filter_class = {H5Z_CLASS_T_VERS, static_cast<H5Z_filter_t>(filter_id),
                                     1, 1, "sci_infer test filter", nullptr, nullptr,
                                     identity_filter};
  h5::check_status(H5Zregister(&filter_class), "test: H5Zregister");
  struct Unregister {
    int id;
    ~Unregister() { H5Zunregister(static_cast<H5Z_filter_t>(id)); }
  } unregister{filter_id};

  Id file = open_or_create(path);
  hsize_t dims[1] = {n}, chunk[1] = {std::max<hsize_t>(1, std::min<hsize_t>(n, 64))};
  Id space = h5::space_id(H5Screate_simple(1, dims, nullptr), "test: H5Screate_simple");
  Id dcpl = h5::plist_id(H5Pcreate(H5P_DATASET_CREATE), "test: H5Pcreate");
  h5::check_status(H5Pset_chunk(dcpl.get(), 1, chunk), "test: H5Pset_chunk");
  h5::check_status(H5Pset_filter(dcpl.get(), static_cast<H5Z_filter_t>(filter_id),
                                 optional ? H5Z_FLAG_OPTIONAL : H5Z_FLAG_MANDATORY, 0, nullptr),
                   "test: H5Pset_filter");
  Id ds = h5::dataset_id(H5Dcreate2(file.get(), name.c_str(), H5T_STD_I32LE, space.get(),
                                    H5P_DEFAULT, dcpl.get(), H5P_DEFAULT),
                         "test: H5Dcreate2 " + name);
  std::vector<int32_t> values(n, 1);
  if (n > 0)
    h5::check_status(H5Dwrite(ds.get(), H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT,
                              values.data()),
                     "test: H5Dwrite " + name);
  ds.reset();
  h5::check_status(file.close(), "test: close " + path);  // flush while the filter exists
}

std::string make_temp_dir(const std::string& tag) {
  const char* base = std::getenv("TMPDIR");
  std::string tmpl = std::string(base && *base ? base : "/tmp") + "/sci_infer-" + tag + "-XXXXXX";
  if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed for " + tmpl);
  return tmpl;
}

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void write_bytes(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
  if (!out) throw std::runtime_error("cannot write " + path);
}

}  // namespace sci_infer::test_files
