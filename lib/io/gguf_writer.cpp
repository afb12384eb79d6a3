// GGUF v3 writer (little endian). The header (metadata and tensor table) is serialized in
// memory; tensor data is streamed to disk one tensor at a time. The file is written under a
// temporary name and renamed into place, so readers never see a half-written model.
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits>
#include <system_error>

#include "sci_infer/gguf.hpp"

namespace sci_infer {

namespace {

constexpr uint64_t kDefaultAlignment = 32;
constexpr uint32_t kMaxDims = 4;
const char* const kAlignmentKey = "general.alignment";

class ByteSink {
 public:
  template <typename T>
  void put(T v) {
    const size_t at = bytes.size();
    bytes.resize(at + sizeof(T));
    std::memcpy(bytes.data() + at, &v, sizeof(T));
  }
  void put_string(const std::string& s) {
    put<uint64_t>(s.size());
    bytes.insert(bytes.end(), s.begin(), s.end());
  }
  std::vector<uint8_t> bytes;
};

void put_scalar(ByteSink& out, GgufValueType t, int64_t i, uint64_t u, double f, const std::string& s) {
  switch (t) {
    case GgufValueType::UINT8: out.put(static_cast<uint8_t>(u)); return;
    case GgufValueType::INT8: out.put(static_cast<int8_t>(i)); return;
    case GgufValueType::UINT16: out.put(static_cast<uint16_t>(u)); return;
    case GgufValueType::INT16: out.put(static_cast<int16_t>(i)); return;
    case GgufValueType::UINT32: out.put(static_cast<uint32_t>(u)); return;
    case GgufValueType::INT32: out.put(static_cast<int32_t>(i)); return;
    case GgufValueType::UINT64: out.put(u); return;
    case GgufValueType::INT64: out.put(i); return;
    case GgufValueType::FLOAT32: out.put(static_cast<float>(f)); return;
    case GgufValueType::FLOAT64: out.put(f); return;
    case GgufValueType::BOOL: out.put(static_cast<uint8_t>(u != 0)); return;
    case GgufValueType::STRING: out.put_string(s); return;
    case GgufValueType::ARRAY: break;
  }
  throw Error("GgufWriter: nested arrays are not supported");
}

void put_value(ByteSink& out, const GgufValue& v) {
  out.put(static_cast<uint32_t>(v.type));
  if (v.type != GgufValueType::ARRAY) {
    put_scalar(out, v.type, v.i, v.u, v.f, v.s);
    return;
  }
  out.put(static_cast<uint32_t>(v.array_type));
  out.put<uint64_t>(v.array_size());
  static const std::string kNoString;
  if (v.array_type == GgufValueType::STRING) {
    for (const std::string& s : v.strings) out.put_string(s);
  } else if (v.array_type == GgufValueType::FLOAT32 || v.array_type == GgufValueType::FLOAT64) {
    for (double f : v.floats) put_scalar(out, v.array_type, 0, 0, f, kNoString);
  } else {
    for (int64_t i : v.ints) put_scalar(out, v.array_type, i, static_cast<uint64_t>(i), 0.0, kNoString);
  }
}

uint64_t align_up(uint64_t x, uint64_t a) { return (x + a - 1) / a * a; }

std::string shape_string(const std::vector<uint64_t>& ne) {
  std::string s = "[";
  for (size_t i = 0; i < ne.size(); ++i) s += (i ? ", " : "") + std::to_string(ne[i]);
  return s + "]";
}

// Owns the temporary output file: removed unless commit() renamed it into place.
class TempFile {
 public:
  explicit TempFile(const std::string& path)
      : path_(path), tmp_(path + ".tmp." + std::to_string(::getpid())) {
    file_ = std::fopen(tmp_.c_str(), "wb");
    if (!file_) fail("cannot create " + tmp_);
    std::setvbuf(file_, nullptr, _IOFBF, 1 << 20);
  }
  ~TempFile() {
    if (file_) std::fclose(file_);
    if (!committed_) std::remove(tmp_.c_str());
  }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;

  void write(const void* p, size_t n) {
    if (n != 0 && std::fwrite(p, 1, n, file_) != n) fail("write failed");
  }
  void pad_to(uint64_t pos, uint64_t alignment) {
    static const uint8_t zeros[256] = {};
    for (uint64_t n = align_up(pos, alignment) - pos; n > 0;) {
      const size_t k = static_cast<size_t>(std::min<uint64_t>(n, sizeof zeros));
      write(zeros, k);
      n -= k;
    }
  }
  void commit() {
    std::FILE* f = file_;
    file_ = nullptr;
    if (std::fclose(f) != 0) fail("close failed");
    if (std::rename(tmp_.c_str(), path_.c_str()) != 0) fail("cannot rename " + tmp_ + " into place");
    committed_ = true;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw Error(path_ + ": " + what + ": " + std::generic_category().message(errno));
  }
  std::string path_, tmp_;
  std::FILE* file_ = nullptr;
  bool committed_ = false;
};

}  // namespace

// ---- metadata ---------------------------------------------------------------------------------

// Setting a key twice keeps its first position and the last value, so the file never holds
// duplicate keys (which the reader rejects).
void GgufWriter::set_value(const std::string& key, GgufValue v) {
  if (key.empty()) throw Error("GgufWriter: empty metadata key");
  for (Kv& kv : kvs_) {
    if (kv.key == key) {
      kv.value = std::move(v);
      return;
    }
  }
  kvs_.push_back(Kv{key, std::move(v)});
}

void GgufWriter::set_string(const std::string& key, const std::string& v) {
  GgufValue x;
  x.type = GgufValueType::STRING;
  x.s = v;
  set_value(key, std::move(x));
}

void GgufWriter::set_uint32(const std::string& key, uint32_t v) {
  GgufValue x;
  x.type = GgufValueType::UINT32;
  x.u = v;
  set_value(key, std::move(x));
}

void GgufWriter::set_int32(const std::string& key, int32_t v) {
  GgufValue x;
  x.type = GgufValueType::INT32;
  x.i = v;
  set_value(key, std::move(x));
}

void GgufWriter::set_uint64(const std::string& key, uint64_t v) {
  GgufValue x;
  x.type = GgufValueType::UINT64;
  x.u = v;
  set_value(key, std::move(x));
}

void GgufWriter::set_float32(const std::string& key, float v) {
  GgufValue x;
  x.type = GgufValueType::FLOAT32;
  x.f = v;
  set_value(key, std::move(x));
}

void GgufWriter::set_bool(const std::string& key, bool v) {
  GgufValue x;
  x.type = GgufValueType::BOOL;
  x.u = v ? 1 : 0;
  set_value(key, std::move(x));
}

void GgufWriter::set_string_array(const std::string& key, const std::vector<std::string>& v) {
  GgufValue x;
  x.type = GgufValueType::ARRAY;
  x.array_type = GgufValueType::STRING;
  x.strings = v;
  set_value(key, std::move(x));
}

void GgufWriter::set_float32_array(const std::string& key, const std::vector<float>& v) {
  GgufValue x;
  x.type = GgufValueType::ARRAY;
  x.array_type = GgufValueType::FLOAT32;
  x.floats.assign(v.begin(), v.end());
  set_value(key, std::move(x));
}

void GgufWriter::set_int32_array(const std::string& key, const std::vector<int32_t>& v) {
  GgufValue x;
  x.type = GgufValueType::ARRAY;
  x.array_type = GgufValueType::INT32;
  x.ints.assign(v.begin(), v.end());
  set_value(key, std::move(x));
}

// ---- tensors ----------------------------------------------------------------------------------

// Validates what the reader would reject and returns the tensor's encoded size in bytes.
uint64_t GgufWriter::checked_tensor_bytes(const std::string& name, const std::vector<uint64_t>& ne,
                                          GgmlType type) const {
  const std::string what = "GgufWriter: tensor '" + name + "'";
  if (name.empty()) throw Error("GgufWriter: empty tensor name");
  for (const Tensor& t : tensors_) {
    if (t.name == name) throw Error(what + " added twice");
  }
  if (ne.empty() || ne.size() > kMaxDims) {
    throw Error(what + " has " + std::to_string(ne.size()) + " dimensions, expected 1 to 4");
  }
  if (!ggml_type_supported(static_cast<uint32_t>(type))) {
    throw Error(what + " has unsupported type " + std::to_string(static_cast<uint32_t>(type)));
  }
  uint64_t rows = 1;
  for (size_t d = 0; d < ne.size(); ++d) {
    if (ne[d] == 0) throw Error(what + " has a zero dimension: shape " + shape_string(ne));
    if (d > 0) {
      if (ne[d] > std::numeric_limits<uint64_t>::max() / rows) throw Error(what + " is too large");
      rows *= ne[d];
    }
  }
  if (ne[0] % ggml_block_elems(type) != 0) {
    throw Error(what + " of type " + ggml_type_name(type) + " has ne[0] = " + std::to_string(ne[0]) +
                ", not a multiple of the block size " + std::to_string(ggml_block_elems(type)));
  }
  const uint64_t row = ggml_row_bytes(type, ne[0]);
  if (row > std::numeric_limits<uint64_t>::max() / rows) throw Error(what + " is too large");
  return row * rows;
}

void GgufWriter::add_tensor(const std::string& name, const std::vector<uint64_t>& ne, GgmlType type,
                            std::vector<uint8_t> data) {
  const uint64_t n_bytes = checked_tensor_bytes(name, ne, type);
  if (data.size() != n_bytes) {
    throw Error("GgufWriter: tensor '" + name + "' " + ggml_type_name(type) + " " + shape_string(ne) +
                " needs " + std::to_string(n_bytes) + " bytes of data, got " + std::to_string(data.size()));
  }
  tensors_.push_back(Tensor{name, ne, type, n_bytes, std::move(data), nullptr});
}

void GgufWriter::add_tensor_lazy(const std::string& name, const std::vector<uint64_t>& ne, GgmlType type,
                                 TensorSource make) {
  const uint64_t n_bytes = checked_tensor_bytes(name, ne, type);
  if (!make) throw Error("GgufWriter: tensor '" + name + "' has no data source");
  tensors_.push_back(Tensor{name, ne, type, n_bytes, {}, std::move(make)});
}

// ---- output -----------------------------------------------------------------------------------

void GgufWriter::write(const std::string& path, uint64_t alignment) const {
  // The reader takes alignment from a UINT32 key, so it must fit one.
  if (alignment == 0 || (alignment & (alignment - 1)) != 0 ||
      alignment > std::numeric_limits<uint32_t>::max()) {
    throw Error(path + ": alignment " + std::to_string(alignment) + " is not a power of two below 2^32");
  }
  bool has_alignment_key = false;
  for (const Kv& kv : kvs_) {
    if (kv.key != kAlignmentKey) continue;
    has_alignment_key = true;
    if (kv.value.type != GgufValueType::UINT32 || kv.value.u != alignment) {
      throw Error(path + ": metadata key 'general.alignment' disagrees with the write alignment " +
                  std::to_string(alignment));
    }
  }
  const bool add_alignment_key = !has_alignment_key && alignment != kDefaultAlignment;

  ByteSink head;
  head.bytes.insert(head.bytes.end(), {'G', 'G', 'U', 'F'});
  head.put<uint32_t>(3);
  head.put<uint64_t>(tensors_.size());
  head.put<uint64_t>(kvs_.size() + (add_alignment_key ? 1 : 0));
  for (const Kv& kv : kvs_) {
    head.put_string(kv.key);
    put_value(head, kv.value);
  }
  if (add_alignment_key) {
    head.put_string(kAlignmentKey);
    head.put(static_cast<uint32_t>(GgufValueType::UINT32));
    head.put(static_cast<uint32_t>(alignment));
  }
  uint64_t offset = 0;
  for (const Tensor& t : tensors_) {
    head.put_string(t.name);
    head.put(static_cast<uint32_t>(t.ne.size()));
    for (uint64_t e : t.ne) head.put(e);
    head.put(static_cast<uint32_t>(t.type));
    head.put(offset);
    offset = align_up(offset + t.n_bytes, alignment);
  }

  TempFile out(path);
  out.write(head.bytes.data(), head.bytes.size());
  out.pad_to(head.bytes.size(), alignment);
  for (const Tensor& t : tensors_) {
    std::vector<uint8_t> made;
    if (t.make) made = t.make();
    const std::vector<uint8_t>& data = t.make ? made : t.data;
    if (data.size() != t.n_bytes) {
      throw Error(path + ": tensor '" + t.name + "' source produced " + std::to_string(data.size()) +
                  " bytes, expected " + std::to_string(t.n_bytes));
    }
    out.write(data.data(), data.size());
    out.pad_to(data.size(), alignment);
  }
  out.commit();
}

}  // namespace sci_infer
