// GGUF reader: maps the file read-only and validates every byte it interprets before use.
//
// Layout (v2 and v3 are identical on little-endian hosts; v1 used 32-bit counts and is refused):
//   "GGUF" | u32 version | u64 tensor_count | u64 kv_count
//   kv_count x { string key | u32 value_type | value }
//   tensor_count x { string name | u32 n_dims | u64 ne[n_dims] | u32 ggml_type | u64 offset }
//   padding to general.alignment (default 32) | data section (tensor offsets are relative to it)
// with string = u64 length + bytes and array = u32 element type + u64 count + elements.
//
// Hostile input is the design case: every read is bounds-checked, every count is compared with
// the bytes that could hold it before any memory is reserved, and all arithmetic on sizes and
// offsets is overflow-checked, so a malformed file costs at most memory proportional to its size
// and always ends in a sci_infer::Error that names the file and the item being read.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <mutex>
#include <system_error>

#include "sci_infer/gguf.hpp"

namespace sci_infer {

namespace {

constexpr uint32_t kMaxDims = 4;
// Smallest encodings, used to reject counts that could not fit in the bytes left.
constexpr uint64_t kMinKvBytes = 8 + 4 + 1;               // empty key, type, 1-byte value
constexpr uint64_t kMinTensorInfoBytes = 8 + 4 + 8 + 4 + 8;  // empty name, n_dims, ne[0], type, offset

bool is_valid_value_type(uint32_t t) { return t <= static_cast<uint32_t>(GgufValueType::FLOAT64); }

// Bytes one element of type t occupies; for STRING the minimum (its length prefix).
uint64_t min_value_bytes(GgufValueType t) {
  switch (t) {
    case GgufValueType::UINT8: case GgufValueType::INT8: case GgufValueType::BOOL: return 1;
    case GgufValueType::UINT16: case GgufValueType::INT16: return 2;
    case GgufValueType::UINT32: case GgufValueType::INT32: case GgufValueType::FLOAT32: return 4;
    case GgufValueType::UINT64: case GgufValueType::INT64: case GgufValueType::FLOAT64:
    case GgufValueType::STRING: return 8;
    case GgufValueType::ARRAY: return 4 + 8;
  }
  return 1;
}

bool is_signed_int(GgufValueType t) {
  return t == GgufValueType::INT8 || t == GgufValueType::INT16 || t == GgufValueType::INT32 ||
         t == GgufValueType::INT64;
}
bool is_unsigned_int(GgufValueType t) {
  return t == GgufValueType::UINT8 || t == GgufValueType::UINT16 || t == GgufValueType::UINT32 ||
         t == GgufValueType::UINT64;
}
bool is_float(GgufValueType t) { return t == GgufValueType::FLOAT32 || t == GgufValueType::FLOAT64; }

// Names of ggml types we do not support, so the error says what the file actually holds.
const char* unsupported_ggml_type_name(uint32_t t) {
  switch (t) {
    case 9: return "Q8_1"; case 10: return "Q2_K"; case 11: return "Q3_K"; case 15: return "Q8_K";
    case 16: return "IQ2_XXS"; case 17: return "IQ2_XS"; case 18: return "IQ3_XXS"; case 19: return "IQ1_S";
    case 20: return "IQ4_NL"; case 21: return "IQ3_S"; case 22: return "IQ2_S"; case 23: return "IQ4_XS";
    case 24: return "I8"; case 25: return "I16"; case 26: return "I32"; case 27: return "I64";
    case 28: return "F64"; case 29: return "IQ1_M"; case 34: return "TQ1_0"; case 35: return "TQ2_0";
    default: return nullptr;
  }
}

std::string shape_string(const std::vector<uint64_t>& ne) {
  std::string s = "[";
  for (size_t i = 0; i < ne.size(); ++i) s += (i ? ", " : "") + std::to_string(ne[i]);
  return s + "]";
}

// Printable rendering of untrusted bytes (magic, names) for messages.
std::string escape_bytes(const uint8_t* p, size_t n) {
  static const char* hex = "0123456789abcdef";
  std::string s;
  for (size_t i = 0; i < n; ++i) {
    if (p[i] >= 0x20 && p[i] < 0x7F && p[i] != '\\') {
      s += static_cast<char>(p[i]);
    } else {
      s += "\\x";
      s += hex[p[i] >> 4];
      s += hex[p[i] & 15];
    }
  }
  return s;
}

std::string describe_type(const GgufValue& v) {
  std::string s = gguf_value_type_name(v.type);
  if (v.type == GgufValueType::ARRAY) s += std::string(" of ") + gguf_value_type_name(v.array_type);
  return s;
}

// Bounds-checked little-endian reads over the file image. `context` names what is being read
// ("tensor info 3 ('blk.0.attn_q.weight')") so a truncation error points at the damaged item.
class Cursor {
 public:
  Cursor(const std::string& path, const uint8_t* base, uint64_t size)
      : path_(path), base_(base), size_(size) {}

  uint64_t pos() const { return pos_; }
  uint64_t remaining() const { return size_ - pos_; }
  void set_context(std::string what) { context_ = std::move(what); }
  const std::string& context() const { return context_; }

  [[noreturn]] void fail(const std::string& what) const { throw Error(path_ + ": " + what); }

  void need(uint64_t n) const {
    if (n > remaining()) fail("truncated while reading " + context_);
  }

  template <typename T>
  T read() {
    need(sizeof(T));
    T v;
    std::memcpy(&v, base_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }

  std::string read_string() {
    const uint64_t len = read<uint64_t>();
    if (len > remaining()) {
      fail("truncated while reading " + context_ + ": string length " + std::to_string(len) +
           " exceeds the " + std::to_string(remaining()) + " bytes left");
    }
    std::string s(reinterpret_cast<const char*>(base_ + pos_), static_cast<size_t>(len));
    pos_ += len;
    return s;
  }

  const uint8_t* here() const { return base_ + pos_; }
  void skip(uint64_t n) {
    need(n);
    pos_ += n;
  }

 private:
  const std::string& path_;
  const uint8_t* base_;
  uint64_t size_;
  uint64_t pos_ = 0;
  std::string context_ = "header";
};

}  // namespace

// Fills a GgufFile from its image; the file object owns the mapping, so on any throw the
// caller's unique_ptr releases it.
class GgufParser {
 public:
  GgufParser(GgufFile& f, const uint8_t* base, uint64_t size)
      : f_(f), base_(base), size_(size), cur_(f.path_, base, size) {}

  void parse() {
    const auto counts = parse_header();
    parse_metadata(counts.second);
    parse_alignment();
    parse_tensor_infos(counts.first);
    locate_data_section();
    check_tensor_extents();
  }

 private:
  GgufFile& f_;
  const uint8_t* base_;
  uint64_t size_;
  Cursor cur_;

  [[noreturn]] void fail(const std::string& what) const { cur_.fail(what); }

  // Returns {tensor_count, kv_count}.
  std::pair<uint64_t, uint64_t> parse_header() {
    cur_.set_context("header");
    cur_.need(4);
    if (std::memcmp(cur_.here(), "GGUF", 4) != 0) {
      fail("not a GGUF file (magic '" + escape_bytes(cur_.here(), 4) + "', expected 'GGUF')");
    }
    cur_.skip(4);
    const uint32_t version = cur_.read<uint32_t>();
    if (version != 2 && version != 3) {
      std::string why = "unsupported GGUF version " + std::to_string(version) + " (supported: 2, 3)";
      if (version != 0 && (version & 0xFFFFu) == 0) why += "; the file looks big-endian";
      fail(why);
    }
    f_.version_ = version;
    const uint64_t tensor_count = cur_.read<uint64_t>();
    const uint64_t kv_count = cur_.read<uint64_t>();
    check_count(kv_count, kMinKvBytes, "metadata key count");
    check_count(tensor_count, kMinTensorInfoBytes, "tensor count");
    return {tensor_count, kv_count};
  }

  // A count whose smallest encoding exceeds the rest of the file is corrupt; rejecting it here
  // also bounds every reservation by the file size.
  void check_count(uint64_t count, uint64_t min_bytes, const std::string& what) const {
    if (count > cur_.remaining() / min_bytes) {
      fail(what + " " + std::to_string(count) + " cannot fit in the remaining " +
           std::to_string(cur_.remaining()) + " bytes (" + cur_.context() + ")");
    }
  }

  void parse_metadata(uint64_t kv_count) {
    f_.keys_.reserve(static_cast<size_t>(kv_count));
    for (uint64_t k = 0; k < kv_count; ++k) {
      cur_.set_context("metadata key " + std::to_string(k));
      std::string key = cur_.read_string();
      if (key.empty()) fail("metadata key " + std::to_string(k) + " has an empty name");
      if (f_.kv_.count(key)) fail("duplicate metadata key '" + key + "'");
      cur_.set_context("metadata key " + std::to_string(k) + " ('" + key + "')");
      const uint32_t raw_type = cur_.read<uint32_t>();
      if (!is_valid_value_type(raw_type)) {
        fail("metadata key '" + key + "' has unknown value type " + std::to_string(raw_type));
      }
      GgufValue v;
      v.type = static_cast<GgufValueType>(raw_type);
      if (v.type == GgufValueType::ARRAY) {
        parse_array(key, v);
      } else {
        parse_scalar(key, v.type, v);
      }
      f_.keys_.push_back(key);
      f_.kv_.emplace(std::move(key), std::move(v));
    }
  }

  void parse_scalar(const std::string& key, GgufValueType t, GgufValue& v) {
    switch (t) {
      case GgufValueType::UINT8: v.u = cur_.read<uint8_t>(); return;
      case GgufValueType::INT8: v.i = cur_.read<int8_t>(); return;
      case GgufValueType::UINT16: v.u = cur_.read<uint16_t>(); return;
      case GgufValueType::INT16: v.i = cur_.read<int16_t>(); return;
      case GgufValueType::UINT32: v.u = cur_.read<uint32_t>(); return;
      case GgufValueType::INT32: v.i = cur_.read<int32_t>(); return;
      case GgufValueType::UINT64: v.u = cur_.read<uint64_t>(); return;
      case GgufValueType::INT64: v.i = cur_.read<int64_t>(); return;
      case GgufValueType::FLOAT32: v.f = cur_.read<float>(); return;
      case GgufValueType::FLOAT64: v.f = cur_.read<double>(); return;
      case GgufValueType::BOOL: v.u = read_bool(key); return;
      case GgufValueType::STRING: v.s = cur_.read_string(); return;
      case GgufValueType::ARRAY: break;
    }
    fail("metadata key '" + key + "': nested arrays are not supported");
  }

  bool read_bool(const std::string& key) {
    const uint8_t b = cur_.read<uint8_t>();
    if (b > 1) fail("metadata key '" + key + "' has BOOL value " + std::to_string(b) + ", expected 0 or 1");
    return b != 0;
  }

  void parse_array(const std::string& key, GgufValue& v) {
    const uint32_t raw_elem = cur_.read<uint32_t>();
    if (!is_valid_value_type(raw_elem)) {
      fail("metadata key '" + key + "' is an array of unknown value type " + std::to_string(raw_elem));
    }
    v.array_type = static_cast<GgufValueType>(raw_elem);
    if (v.array_type == GgufValueType::ARRAY) {
      fail("metadata key '" + key + "': nested arrays are not supported");
    }
    const uint64_t count = cur_.read<uint64_t>();
    check_count(count, min_value_bytes(v.array_type),
                std::string("array of ") + gguf_value_type_name(v.array_type) + ", element count");
    const size_t n = static_cast<size_t>(count);
    if (v.array_type == GgufValueType::STRING) {
      v.strings.reserve(n);
      for (size_t j = 0; j < n; ++j) v.strings.push_back(cur_.read_string());
    } else if (is_float(v.array_type)) {
      v.floats.resize(n);
      for (size_t j = 0; j < n; ++j) {
        v.floats[j] = v.array_type == GgufValueType::FLOAT32 ? cur_.read<float>() : cur_.read<double>();
      }
    } else {
      v.ints.resize(n);
      for (size_t j = 0; j < n; ++j) v.ints[j] = read_int_element(key, v.array_type);
    }
  }

  int64_t read_int_element(const std::string& key, GgufValueType t) {
    switch (t) {
      case GgufValueType::UINT8: return cur_.read<uint8_t>();
      case GgufValueType::INT8: return cur_.read<int8_t>();
      case GgufValueType::UINT16: return cur_.read<uint16_t>();
      case GgufValueType::INT16: return cur_.read<int16_t>();
      case GgufValueType::UINT32: return cur_.read<uint32_t>();
      case GgufValueType::INT32: return cur_.read<int32_t>();
      case GgufValueType::INT64: return cur_.read<int64_t>();
      case GgufValueType::BOOL: return read_bool(key);
      case GgufValueType::UINT64: {
        // Arrays widen to int64; a value that does not fit would silently change sign.
        const uint64_t u = cur_.read<uint64_t>();
        if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
          fail("metadata key '" + key + "': UINT64 array element " + std::to_string(u) +
               " does not fit in int64");
        }
        return static_cast<int64_t>(u);
      }
      default: break;
    }
    fail("metadata key '" + key + "': internal error, not an integer array");
  }

  void parse_alignment() {
    auto it = f_.kv_.find("general.alignment");
    if (it == f_.kv_.end()) return;
    const GgufValue& v = it->second;
    if (v.type != GgufValueType::UINT32) {
      fail("metadata key 'general.alignment' has type " + describe_type(v) + ", expected UINT32");
    }
    if (v.u == 0 || (v.u & (v.u - 1)) != 0) {
      fail("general.alignment " + std::to_string(v.u) + " is not a non-zero power of two");
    }
    f_.alignment_ = v.u;
  }

  void parse_tensor_infos(uint64_t tensor_count) {
    f_.tensors_.reserve(static_cast<size_t>(tensor_count));
    for (uint64_t i = 0; i < tensor_count; ++i) {
      cur_.set_context("tensor info " + std::to_string(i));
      GgufTensorInfo t;
      t.name = cur_.read_string();
      if (t.name.empty()) fail("tensor info " + std::to_string(i) + " has an empty name");
      auto dup = f_.tensor_index_.find(t.name);
      if (dup != f_.tensor_index_.end()) {
        fail("duplicate tensor name '" + t.name + "' (tensor infos " + std::to_string(dup->second) +
             " and " + std::to_string(i) + ")");
      }
      cur_.set_context("tensor info " + std::to_string(i) + " ('" + t.name + "')");
      parse_tensor_shape(t);
      parse_tensor_type(t);
      t.offset = cur_.read<uint64_t>();
      if (t.offset % f_.alignment_ != 0) {
        fail("tensor '" + t.name + "' offset " + std::to_string(t.offset) +
             " is not a multiple of the alignment " + std::to_string(f_.alignment_));
      }
      f_.tensor_index_.emplace(t.name, f_.tensors_.size());
      f_.tensors_.push_back(std::move(t));
    }
  }

  void parse_tensor_shape(GgufTensorInfo& t) {
    const uint32_t n_dims = cur_.read<uint32_t>();
    if (n_dims < 1 || n_dims > kMaxDims) {
      fail("tensor '" + t.name + "' has " + std::to_string(n_dims) + " dimensions, expected 1 to " +
           std::to_string(kMaxDims));
    }
    for (uint32_t d = 0; d < n_dims; ++d) t.ne.push_back(cur_.read<uint64_t>());
    // ggml counts elements in int64, so that is the limit (and it keeps byte sizes in range).
    uint64_t n = 1;
    for (uint64_t e : t.ne) {
      if (e == 0) fail("tensor '" + t.name + "' has a zero dimension: shape " + shape_string(t.ne));
      if (e > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) / n) {
        fail("tensor '" + t.name + "' shape " + shape_string(t.ne) + " has too many elements");
      }
      n *= e;
    }
    t.n_elements = n;
  }

  void parse_tensor_type(GgufTensorInfo& t) {
    const uint32_t raw = cur_.read<uint32_t>();
    if (!ggml_type_supported(raw)) {
      const char* known = unsupported_ggml_type_name(raw);
      fail("tensor '" + t.name + "' has unsupported type " + std::to_string(raw) +
           (known ? std::string(" (") + known + ")" : std::string()) +
           "; supported: " + ggml_supported_type_names());
    }
    t.type = static_cast<GgmlType>(raw);
    if (t.ne[0] % ggml_block_elems(t.type) != 0) {
      fail("tensor '" + t.name + "' of type " + ggml_type_name(t.type) + " has ne[0] = " +
           std::to_string(t.ne[0]) + ", not a multiple of the block size " +
           std::to_string(ggml_block_elems(t.type)));
    }
    // Up to 2^63 elements of up to 4 bytes each can exceed 2^64 bytes: check before multiplying
    // (ggml_row_bytes would throw too, but without the file name).
    const uint64_t blocks_per_row = t.ne[0] / ggml_block_elems(t.type);
    const uint64_t rows = t.n_elements / t.ne[0];
    const uint64_t max = std::numeric_limits<uint64_t>::max();
    const uint64_t block_bytes = ggml_block_bytes(t.type);
    if (blocks_per_row > max / block_bytes || blocks_per_row * block_bytes > max / rows) {
      fail("tensor '" + t.name + "' shape " + shape_string(t.ne) + " is too large in bytes");
    }
    t.n_bytes = blocks_per_row * block_bytes * rows;
  }

  void locate_data_section() {
    const uint64_t end_of_infos = cur_.pos();
    const uint64_t a = f_.alignment_;
    // end_of_infos <= file size and a <= 2^31, so this cannot overflow.
    f_.data_offset_ = (end_of_infos + a - 1) / a * a;
    if (!f_.tensors_.empty() && f_.data_offset_ > size_) {
      fail("truncated while reading the padding before the data section (data starts at " +
           std::to_string(f_.data_offset_) + ", file is " + std::to_string(size_) + " bytes)");
    }
    f_.header_ = base_;
    f_.source_data_.assign(1, base_ + std::min<uint64_t>(f_.data_offset_, size_));
  }

  void check_tensor_extents() {
    const uint64_t avail = size_ - std::min<uint64_t>(f_.data_offset_, size_);
    for (const GgufTensorInfo& t : f_.tensors_) {
      if (t.offset > avail || t.n_bytes > avail - t.offset) {
        fail("tensor '" + t.name + "' data (offset " + std::to_string(t.offset) + ", " +
             std::to_string(t.n_bytes) + " bytes) extends past the end of the file (data section has " +
             std::to_string(avail) + " bytes)");
      }
    }
    std::vector<const GgufTensorInfo*> by_offset;
    by_offset.reserve(f_.tensors_.size());
    for (const GgufTensorInfo& t : f_.tensors_) by_offset.push_back(&t);
    std::sort(by_offset.begin(), by_offset.end(),
              [](const GgufTensorInfo* a, const GgufTensorInfo* b) { return a->offset < b->offset; });
    for (size_t k = 1; k < by_offset.size(); ++k) {
      const GgufTensorInfo& prev = *by_offset[k - 1];
      const GgufTensorInfo& next = *by_offset[k];
      if (prev.offset + prev.n_bytes > next.offset) {
        fail("tensors '" + prev.name + "' and '" + next.name + "' overlap in the data section");
      }
    }
  }
};

// ---------------------------------------------------------------------------------------------

const char* gguf_value_type_name(GgufValueType t) {
  switch (t) {
    case GgufValueType::UINT8: return "UINT8";
    case GgufValueType::INT8: return "INT8";
    case GgufValueType::UINT16: return "UINT16";
    case GgufValueType::INT16: return "INT16";
    case GgufValueType::UINT32: return "UINT32";
    case GgufValueType::INT32: return "INT32";
    case GgufValueType::FLOAT32: return "FLOAT32";
    case GgufValueType::BOOL: return "BOOL";
    case GgufValueType::STRING: return "STRING";
    case GgufValueType::ARRAY: return "ARRAY";
    case GgufValueType::UINT64: return "UINT64";
    case GgufValueType::INT64: return "INT64";
    case GgufValueType::FLOAT64: return "FLOAT64";
  }
  return "UNKNOWN";
}

size_t GgufValue::array_size() const {
  if (type != GgufValueType::ARRAY) return 0;
  if (array_type == GgufValueType::STRING) return strings.size();
  if (is_float(array_type)) return floats.size();
  return ints.size();
}

// ---- data regions ---------------------------------------------------------------------------

std::shared_ptr<const MappedRegion> MappedRegion::map_file(const std::string& path) {
  std::shared_ptr<MappedRegion> r(new MappedRegion());
  r->path_ = path;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw Error(path + ": cannot open: " + std::generic_category().message(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    throw Error(path + ": cannot stat: " + std::generic_category().message(err));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    throw Error(path + ": not a regular file");
  }
  r->size_ = static_cast<uint64_t>(st.st_size);
  if (r->size_ > 0) {  // mmap refuses length 0; an empty file fails parsing as truncated
    void* m = ::mmap(nullptr, static_cast<size_t>(r->size_), PROT_READ, MAP_PRIVATE, fd, 0);
    const int err = errno;
    if (m == MAP_FAILED) {
      ::close(fd);
      throw Error(path + ": cannot mmap: " + std::generic_category().message(err));
    }
    r->map_ = m;
    r->data_ = static_cast<const uint8_t*>(m);
    r->fd_ = fd;  // kept for copy_out: reads that must not map pages into this process
  } else {
    ::close(fd);
  }
  return r;
}

std::shared_ptr<const MappedRegion> MappedRegion::hold(const std::string& name, std::vector<uint8_t> bytes) {
  std::shared_ptr<MappedRegion> r(new MappedRegion());
  r->path_ = name;
  r->buffer_ = std::move(bytes);
  r->data_ = r->buffer_.data();
  r->size_ = r->buffer_.size();
  return r;
}

MappedRegion::~MappedRegion() {
  if (fd_ >= 0) ::close(fd_);
  if (map_) ::munmap(map_, static_cast<size_t>(size_));
}

bool MappedRegion::contains(const void* p) const {
  const auto* b = static_cast<const uint8_t*>(p);
  return data_ && b >= data_ && b < data_ + size_;
}

// madvise over the whole pages around [begin, begin + bytes), clipped to the mapping: advice that
// spills onto a neighbour's page is harmless (a dropped page is read back on its next use).
void MappedRegion::advise(const void* begin, size_t bytes, int advice) const {
  if (!map_ || bytes == 0) return;
  const uintptr_t page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
  const uintptr_t lo = reinterpret_cast<uintptr_t>(map_), hi = lo + static_cast<uintptr_t>(size_);
  const uintptr_t a = std::max(lo, reinterpret_cast<uintptr_t>(begin) / page * page);
  const uintptr_t b = std::min(hi, (reinterpret_cast<uintptr_t>(begin) + bytes + page - 1) / page * page);
  if (a < b) ::madvise(reinterpret_cast<void*>(a), b - a, advice);
}

void MappedRegion::copy_out(const void* begin, size_t bytes, void* dst) const {
  const auto* p = static_cast<const uint8_t*>(begin);
  if (fd_ < 0) {  // an in-memory buffer
    std::memcpy(dst, p, bytes);
    return;
  }
  off_t offset = static_cast<off_t>(p - data_);
  auto* out = static_cast<uint8_t*>(dst);
  while (bytes > 0) {
    const ssize_t n = ::pread(fd_, out, bytes, offset);
    if (n <= 0) {
      if (n < 0 && errno == EINTR) continue;
      throw Error(path_ + ": cannot read " + std::to_string(bytes) + " bytes at offset " + std::to_string(offset) +
                  (n < 0 ? ": " + std::generic_category().message(errno) : ": unexpected end of file"));
    }
    out += n;
    offset += n;
    bytes -= static_cast<size_t>(n);
  }
}

// ---- GgufFile ---------------------------------------------------------------------------------

std::unique_ptr<GgufFile> GgufFile::open(const std::string& path) {
  std::unique_ptr<GgufFile> f(new GgufFile());
  f->path_ = path;
  f->sources_.push_back(MappedRegion::map_file(path));
  f->size_ = f->sources_[0]->size();
  GgufParser(*f, f->sources_[0]->data(), f->size_).parse();
  return f;
}

std::unique_ptr<GgufFile> GgufFile::open_buffer(const std::string& name, const uint8_t* data, size_t n) {
  std::unique_ptr<GgufFile> f(new GgufFile());
  f->path_ = name;
  f->sources_.push_back(MappedRegion::hold(name, n > 0 ? std::vector<uint8_t>(data, data + n) : std::vector<uint8_t>()));
  f->size_ = n;
  GgufParser(*f, f->sources_[0]->data(), f->size_).parse();
  return f;
}

// A derived tensor's bytes and the holds on them (see assemble).
struct GgufFile::Derived {
  DeriveBytes fill;
  std::mutex m;
  std::unique_ptr<uint8_t, void (*)(void*)> bytes{nullptr, std::free};
  uint64_t holds = 0;
};

std::unique_ptr<GgufFile> GgufFile::assemble(const std::string& path,
                                             std::vector<std::pair<std::string, GgufValue>> metadata,
                                             std::vector<GgufTensorInfo> tensors,
                                             std::vector<std::shared_ptr<const MappedRegion>> sources,
                                             std::map<std::string, DeriveBytes> derived) {
  std::unique_ptr<GgufFile> f(new GgufFile());
  f->path_ = path;
  f->version_ = 3;
  for (auto& kv : metadata) {
    if (f->kv_.count(kv.first)) throw Error(path + ": duplicate metadata key '" + kv.first + "'");
    f->keys_.push_back(kv.first);
    f->kv_.emplace(kv.first, std::move(kv.second));
  }
  for (const auto& s : sources) {
    f->size_ += s->size();
    f->source_data_.push_back(s->data());
  }
  for (GgufTensorInfo& t : tensors) {
    const std::string where = path + ": tensor '" + t.name + "'";
    if (t.source >= sources.size() && t.source != kDerivedSource)
      throw Error(where + " names data source " + std::to_string(t.source) + " of " + std::to_string(sources.size()));
    if (t.ne.empty() || t.ne.size() > kMaxDims) throw Error(where + " has " + std::to_string(t.ne.size()) + " dimensions");
    uint64_t n = 1;
    for (uint64_t e : t.ne) {
      if (e == 0 || e > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) / n)
        throw Error(where + " has shape " + shape_string(t.ne) + " (zero or too many elements)");
      n *= e;
    }
    if (t.ne[0] % ggml_block_elems(t.type) != 0) throw Error(where + " ne[0] is not a multiple of its block size");
    t.n_elements = n;
    const uint64_t row = ggml_row_bytes(t.type, t.ne[0]), rows = n / t.ne[0];
    if (rows > std::numeric_limits<uint64_t>::max() / row) throw Error(where + " is too large in bytes");
    t.n_bytes = row * rows;
    if (t.source == kDerivedSource) {
      const auto d = derived.find(t.name);
      if (d == derived.end() || !d->second) throw Error(where + " is derived but has no way to compute its bytes");
      f->derived_[t.name] = std::make_unique<Derived>();
      f->derived_[t.name]->fill = std::move(d->second);
      derived.erase(d);
      if (f->tensor_index_.count(t.name)) throw Error(path + ": duplicate tensor name '" + t.name + "'");
      f->tensor_index_.emplace(t.name, f->tensors_.size());
      f->tensors_.push_back(std::move(t));
      continue;
    }
    const uint64_t avail = sources[t.source]->size();
    if (t.offset > avail || t.n_bytes > avail - t.offset)
      throw Error(where + " data (offset " + std::to_string(t.offset) + ", " + std::to_string(t.n_bytes) +
                  " bytes) extends past the end of " + sources[t.source]->path() + " (" + std::to_string(avail) + " bytes)");
    if (f->tensor_index_.count(t.name)) throw Error(path + ": duplicate tensor name '" + t.name + "'");
    f->tensor_index_.emplace(t.name, f->tensors_.size());
    f->tensors_.push_back(std::move(t));
  }
  if (!derived.empty()) throw Error(path + ": derived bytes for '" + derived.begin()->first + "', which is no derived tensor");
  f->sources_ = std::move(sources);
  return f;
}

const uint8_t* GgufFile::derived_data(const GgufTensorInfo& t) const {
  Derived& d = *derived_.at(t.name);
  std::lock_guard<std::mutex> lock(d.m);
  if (!d.bytes) {  // 64-byte aligned, as a mapped tensor in a GGUF file is at least 32-aligned
    void* p = std::aligned_alloc(64, (t.n_bytes + 63) / 64 * 64);
    if (!p) throw Error(path_ + ": tensor '" + t.name + "': out of memory computing its " + std::to_string(t.n_bytes) + " bytes");
    d.bytes.reset(static_cast<uint8_t*>(p));
    d.fill(d.bytes.get());
  }
  ++d.holds;
  return d.bytes.get();
}

bool GgufFile::release_derived(const void* begin) const {
  for (const auto& e : derived_) {
    Derived& d = *e.second;
    std::lock_guard<std::mutex> lock(d.m);
    if (!d.bytes || d.bytes.get() != begin) continue;
    if (d.holds > 0 && --d.holds == 0) d.bytes.reset();
    return true;
  }
  return false;
}

const MappedRegion* GgufFile::region_of(const void* p) const {
  for (const auto& s : sources_)
    if (s->contains(p)) return s.get();
  return nullptr;
}

void GgufFile::release_resident_pages(const void* begin, size_t bytes) const {
  if (!derived_.empty() && release_derived(begin)) return;
  if (const MappedRegion* r = region_of(begin)) r->advise(begin, bytes, MADV_DONTNEED);
}

void GgufFile::expect_random_access(const void* begin, size_t bytes) const {
  if (const MappedRegion* r = region_of(begin)) r->advise(begin, bytes, MADV_RANDOM);
}

void GgufFile::copy_out(const void* begin, size_t bytes, void* dst) const {
  if (bytes == 0) return;
  const MappedRegion* r = region_of(begin);
  if (!r) throw Error(path_ + ": copy_out of bytes outside the model's data");
  r->copy_out(begin, bytes, dst);
}

GgufFile::~GgufFile() = default;

// ---- metadata getters -----------------------------------------------------------------------

const GgufValue& GgufFile::value(const std::string& key) const {
  auto it = kv_.find(key);
  if (it == kv_.end()) throw Error(path_ + ": metadata key '" + key + "' is missing");
  return it->second;
}

namespace {
[[noreturn]] void wrong_type(const std::string& path, const std::string& key, const GgufValue& v,
                             const char* expected) {
  throw Error(path + ": metadata key '" + key + "' has type " + describe_type(v) + ", expected " + expected);
}
}  // namespace

std::string GgufFile::get_string(const std::string& key) const {
  const GgufValue& v = value(key);
  if (v.type != GgufValueType::STRING) wrong_type(path_, key, v, "a string");
  return v.s;
}

uint64_t GgufFile::get_uint(const std::string& key) const {
  const GgufValue& v = value(key);
  if (is_unsigned_int(v.type)) return v.u;
  if (is_signed_int(v.type)) {
    if (v.i < 0) {
      throw Error(path_ + ": metadata key '" + key + "' has negative value " + std::to_string(v.i) +
                  ", expected a non-negative integer");
    }
    return static_cast<uint64_t>(v.i);
  }
  wrong_type(path_, key, v, "a non-negative integer");
}

int64_t GgufFile::get_int(const std::string& key) const {
  const GgufValue& v = value(key);
  if (is_signed_int(v.type)) return v.i;
  if (is_unsigned_int(v.type)) {
    if (v.u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      throw Error(path_ + ": metadata key '" + key + "' value " + std::to_string(v.u) +
                  " does not fit in a signed 64-bit integer");
    }
    return static_cast<int64_t>(v.u);
  }
  wrong_type(path_, key, v, "an integer");
}

double GgufFile::get_float(const std::string& key) const {
  const GgufValue& v = value(key);
  if (is_float(v.type)) return v.f;
  if (is_signed_int(v.type)) return static_cast<double>(v.i);
  if (is_unsigned_int(v.type)) return static_cast<double>(v.u);
  wrong_type(path_, key, v, "a number");
}

bool GgufFile::get_bool(const std::string& key) const {
  const GgufValue& v = value(key);
  if (v.type != GgufValueType::BOOL) wrong_type(path_, key, v, "BOOL");
  return v.u != 0;
}

// The *_or getters default only when the key is absent: a present key of the wrong type is a
// broken file, not a reason to silently use the default.
uint64_t GgufFile::get_uint_or(const std::string& key, uint64_t def) const {
  return has(key) ? get_uint(key) : def;
}
double GgufFile::get_float_or(const std::string& key, double def) const {
  return has(key) ? get_float(key) : def;
}
std::string GgufFile::get_string_or(const std::string& key, const std::string& def) const {
  return has(key) ? get_string(key) : def;
}

const std::vector<std::string>& GgufFile::get_string_array(const std::string& key) const {
  const GgufValue& v = value(key);
  if (v.type != GgufValueType::ARRAY || v.array_type != GgufValueType::STRING) {
    wrong_type(path_, key, v, "an ARRAY of STRING");
  }
  return v.strings;
}

const std::vector<double>& GgufFile::get_float_array(const std::string& key) const {
  const GgufValue& v = value(key);
  if (v.type != GgufValueType::ARRAY || !is_float(v.array_type)) {
    wrong_type(path_, key, v, "an ARRAY of FLOAT32 or FLOAT64");
  }
  return v.floats;
}

const std::vector<int64_t>& GgufFile::get_int_array(const std::string& key) const {
  const GgufValue& v = value(key);
  if (v.type != GgufValueType::ARRAY ||
      !(is_signed_int(v.array_type) || is_unsigned_int(v.array_type) || v.array_type == GgufValueType::BOOL)) {
    wrong_type(path_, key, v, "an ARRAY of integers");
  }
  return v.ints;
}

// ---- tensors ------------------------------------------------------------------------------

const GgufTensorInfo* GgufFile::find_tensor(const std::string& name) const {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

const GgufTensorInfo& GgufFile::tensor(const std::string& name, const std::vector<uint64_t>& shape) const {
  const GgufTensorInfo* t = find_tensor(name);
  if (!t) throw Error(path_ + ": tensor '" + name + "' is missing");
  if (!shape.empty() && t->ne != shape) {
    throw Error(path_ + ": tensor '" + name + "' has shape " + shape_string(t->ne) + ", expected " +
                shape_string(shape));
  }
  return *t;
}

}  // namespace sci_infer
