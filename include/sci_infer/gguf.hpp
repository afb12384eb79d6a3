#pragma once
// GGUF v3 reading (memory-mapped, bounds-checked) and writing.
// Spec: https://github.com/ggml-org/ggml/blob/master/docs/gguf.md
// Every malformed input raises sci_infer::Error whose message starts with the file path.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "sci_infer/error.hpp"
#include "sci_infer/tensor_types.hpp"

namespace sci_infer {

enum class GgufValueType : uint32_t {
  UINT8 = 0, INT8 = 1, UINT16 = 2, INT16 = 3, UINT32 = 4, INT32 = 5, FLOAT32 = 6,
  BOOL = 7, STRING = 8, ARRAY = 9, UINT64 = 10, INT64 = 11, FLOAT64 = 12,
};
const char* gguf_value_type_name(GgufValueType t);

// One metadata value. Scalars live in the matching field; arrays are typed vectors
// (all integer types widen to int64/uint64, floats to double, so callers need no switch).
struct GgufValue {
  GgufValueType type = GgufValueType::UINT32;
  GgufValueType array_type = GgufValueType::UINT32;  // element type when type == ARRAY
  int64_t i = 0;        // signed integer scalars
  uint64_t u = 0;       // unsigned integer scalars and BOOL (0/1)
  double f = 0.0;       // FLOAT32 / FLOAT64
  std::string s;        // STRING
  std::vector<int64_t> ints;         // arrays of any integer type or BOOL
  std::vector<double> floats;        // arrays of FLOAT32 / FLOAT64
  std::vector<std::string> strings;  // arrays of STRING
  size_t array_size() const;
};

struct GgufTensorInfo {
  std::string name;
  std::vector<uint64_t> ne;  // ne[0] is the contiguous (fastest) dimension, as in ggml
  GgmlType type = GgmlType::F32;
  uint64_t offset = 0;       // relative to the start of the data section
  uint64_t n_elements = 0;
  uint64_t n_bytes = 0;
  uint32_t source = 0;       // which of the file's data regions holds it (GGUF files have one)
};

// Read-only bytes that tensor data lives in: a mapped file, or an owned buffer (an in-memory
// image, or tensors synthesized at load). A GgufFile is a view of tensors in one or more of them
// (a Hugging Face checkpoint directory: one per safetensors file, see lib/model/hf_checkpoint.hpp).
class MappedRegion {
 public:
  // Maps the whole file read-only (keeping the descriptor for copy_out); throws sci_infer::Error.
  static std::shared_ptr<const MappedRegion> map_file(const std::string& path);
  static std::shared_ptr<const MappedRegion> hold(const std::string& name, std::vector<uint8_t> bytes);
  ~MappedRegion();
  MappedRegion(const MappedRegion&) = delete;
  MappedRegion& operator=(const MappedRegion&) = delete;
  const std::string& path() const { return path_; }
  const uint8_t* data() const { return data_; }
  uint64_t size() const { return size_; }
  bool contains(const void* p) const;
  void advise(const void* begin, size_t bytes, int advice) const;  // madvise, clipped to the mapping
  void copy_out(const void* begin, size_t bytes, void* dst) const;   // pread for a mapped file

 private:
  MappedRegion() = default;
  std::string path_;
  void* map_ = nullptr;
  int fd_ = -1;
  std::vector<uint8_t> buffer_;
  const uint8_t* data_ = nullptr;
  uint64_t size_ = 0;
};

class GgufFile {
 public:
  // Opens and fully validates header, metadata and tensor table; throws sci_infer::Error.
  static std::unique_ptr<GgufFile> open(const std::string& path);
  // Same validation on an in-memory image, which is copied; `name` stands in for the path in
  // messages. Used by the fuzzer and by tests that build malformed files byte by byte.
  static std::unique_ptr<GgufFile> open_buffer(const std::string& name, const uint8_t* data, size_t n);
  // A view assembled from parts read elsewhere (a Hugging Face checkpoint): metadata in the given
  // order and tensors whose `source` indexes `sources` and whose offset is relative to that
  // region's start. Each tensor's n_elements/n_bytes are recomputed from ne and type and its extent
  // checked against its region; names must be unique. header_bytes() is then empty.
  //
  // A tensor with source kDerivedSource has no stored bytes: `derived[name]` writes its n_bytes
  // when it is first read (a checkpoint's MXFP4 experts, repacked from two other tensors), so
  // the view holds nothing until then. Each tensor_data() of it takes a hold on those bytes and
  // each release_resident_pages() of it gives one back; with no hold left they are freed (and
  // recomputed by the next tensor_data), so a model is not resident twice over once packed.
  static constexpr uint32_t kDerivedSource = 0xFFFFFFFFu;
  using DeriveBytes = std::function<void(uint8_t* dst)>;
  static std::unique_ptr<GgufFile> assemble(const std::string& path,
                                            std::vector<std::pair<std::string, GgufValue>> metadata,
                                            std::vector<GgufTensorInfo> tensors,
                                            std::vector<std::shared_ptr<const MappedRegion>> sources,
                                            std::map<std::string, DeriveBytes> derived = {});
  ~GgufFile();
  GgufFile(const GgufFile&) = delete;
  GgufFile& operator=(const GgufFile&) = delete;

  const std::string& path() const { return path_; }
  uint32_t version() const { return version_; }
  uint64_t alignment() const { return alignment_; }
  uint64_t file_size() const { return size_; }

  // ---- metadata (keys in file order via metadata_keys) ----
  const std::vector<std::string>& metadata_keys() const { return keys_; }
  bool has(const std::string& key) const { return kv_.count(key) != 0; }
  const GgufValue& value(const std::string& key) const;  // throws if missing
  // Typed getters throw (naming file and key) if missing or of an incompatible type.
  std::string get_string(const std::string& key) const;
  uint64_t get_uint(const std::string& key) const;   // any non-negative integer type
  int64_t get_int(const std::string& key) const;     // any integer type
  double get_float(const std::string& key) const;    // FLOAT32/64 or integer
  bool get_bool(const std::string& key) const;
  uint64_t get_uint_or(const std::string& key, uint64_t def) const;
  double get_float_or(const std::string& key, double def) const;
  std::string get_string_or(const std::string& key, const std::string& def) const;
  const std::vector<std::string>& get_string_array(const std::string& key) const;
  const std::vector<double>& get_float_array(const std::string& key) const;
  const std::vector<int64_t>& get_int_array(const std::string& key) const;

  // ---- tensors ----
  const std::vector<GgufTensorInfo>& tensors() const { return tensors_; }
  const GgufTensorInfo* find_tensor(const std::string& name) const;
  // Throws if absent; if `shape` is non-empty, also throws unless ne == shape exactly.
  const GgufTensorInfo& tensor(const std::string& name, const std::vector<uint64_t>& shape = {}) const;
  const uint8_t* tensor_data(const GgufTensorInfo& t) const {
    return t.source == kDerivedSource ? derived_data(t) : source_data_[t.source] + t.offset;
  }
  uint64_t data_offset() const { return data_offset_; }  // absolute file offset of the data section
  // The bytes before the data section: header, metadata and tensor table.
  const uint8_t* header_bytes() const { return header_; }
  const std::vector<std::shared_ptr<const MappedRegion>>& sources() const { return sources_; }
  // Drops the mapped file's pages covering [begin, begin + bytes) from this process's resident
  // memory (they are re-read from the file if touched again). The engine calls it for each tensor
  // once it holds its own packed copy, so the model is never resident twice over. For a derived
  // tensor (begin = its tensor_data) it gives back one hold (see assemble).
  void release_resident_pages(const void* begin, size_t bytes) const;
  // Tells the kernel that [begin, begin + bytes) is read a row here and there (the embedding
  // table): no read-ahead, so a lookup brings in its own pages, not its neighbours'.
  void expect_random_access(const void* begin, size_t bytes) const;
  // Copies [begin, begin + bytes) of the mapping to dst by reading the file, without mapping its
  // pages into this process (a lookup of a few embedding rows then costs no resident memory:
  // touching the mapping would fault in 64 KiB around each row).
  void copy_out(const void* begin, size_t bytes, void* dst) const;

 private:
  GgufFile() = default;
  const MappedRegion* region_of(const void* p) const;
  struct Derived;
  const uint8_t* derived_data(const GgufTensorInfo& t) const;
  bool release_derived(const void* begin) const;
  std::string path_;
  uint32_t version_ = 0;
  uint64_t alignment_ = 32;
  uint64_t size_ = 0;
  uint64_t data_offset_ = 0;
  std::vector<std::shared_ptr<const MappedRegion>> sources_;  // a GGUF file: the file (or open_buffer's copy)
  std::vector<const uint8_t*> source_data_;  // where tensor offsets start in each source
  const uint8_t* header_ = nullptr;
  std::vector<std::string> keys_;
  std::map<std::string, GgufValue> kv_;
  std::vector<GgufTensorInfo> tensors_;
  std::map<std::string, size_t> tensor_index_;
  std::map<std::string, std::unique_ptr<Derived>> derived_;  // by tensor name
  friend class GgufParser;
};

// The first NaN or Inf among a file's tensor values (file order of the tensor table).
struct NonFiniteValue {
  std::string tensor;
  std::vector<uint64_t> index;  // the element's coordinates, ne[0] (contiguous) first
  uint64_t element = 0;         // its flat index
  float value = 0.0f;           // as decoded (Q8_0: scale x quant, so a NaN/Inf scale shows here)
};
// Decodes every value of every tensor (F32, F16, BF16; Q8_0 through its F16 block scales) and
// returns the first that is not finite, or false. Reads the whole file once, dropping each
// tensor's pages once scanned, so a large model is never resident.
bool find_non_finite(const GgufFile& f, NonFiniteValue* first);

// Builds a GGUF v3 file in memory and writes it. Tensors are stored in insertion order,
// each aligned to `alignment` (general.alignment is written when it is not 32).
class GgufWriter {
 public:
  void set_string(const std::string& key, const std::string& v);
  void set_uint32(const std::string& key, uint32_t v);
  void set_int32(const std::string& key, int32_t v);
  void set_uint64(const std::string& key, uint64_t v);
  void set_float32(const std::string& key, float v);
  void set_bool(const std::string& key, bool v);
  void set_string_array(const std::string& key, const std::vector<std::string>& v);
  void set_float32_array(const std::string& key, const std::vector<float>& v);
  void set_int32_array(const std::string& key, const std::vector<int32_t>& v);
  void set_value(const std::string& key, GgufValue v);  // any type, e.g. copied from a GgufFile
  // `data` must already be encoded in `type` (see tensor_types.hpp); size is checked.
  void add_tensor(const std::string& name, const std::vector<uint64_t>& ne, GgmlType type,
                  std::vector<uint8_t> data);
  // Like add_tensor, but `make` produces the encoded bytes only while write() runs, one tensor
  // at a time, so a large model is never held in memory whole. Its size is checked likewise.
  using TensorSource = std::function<std::vector<uint8_t>()>;
  void add_tensor_lazy(const std::string& name, const std::vector<uint64_t>& ne, GgmlType type,
                       TensorSource make);
  void write(const std::string& path, uint64_t alignment = 32) const;

 private:
  struct Kv { std::string key; GgufValue value; };
  struct Tensor {
    std::string name;
    std::vector<uint64_t> ne;
    GgmlType type;
    uint64_t n_bytes;
    std::vector<uint8_t> data;  // empty when `make` is set
    TensorSource make;
  };
  uint64_t checked_tensor_bytes(const std::string& name, const std::vector<uint64_t>& ne, GgmlType type) const;
  std::vector<Kv> kvs_;
  std::vector<Tensor> tensors_;
};

}  // namespace sci_infer
