// Safetensors header parsing and validation (format in safetensors.hpp).
#include "io/safetensors.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstring>
#include <limits>
#include <set>

namespace sci_infer {
namespace {

using nlohmann::json;

// The reference implementation's limit: a header is a table of names and numbers, never this big.
constexpr uint64_t kMaxHeaderBytes = 100u * 1000u * 1000u;
constexpr size_t kMaxDims = 8;

[[noreturn]] void fail(const std::string& file, const std::string& what) { throw Error(file + ": " + what); }

std::string shape_text(const std::vector<uint64_t>& s) {
  std::string t = "[";
  for (size_t i = 0; i < s.size(); ++i) t += (i ? ", " : "") + std::to_string(s[i]);
  return t + "]";
}

uint64_t read_u64(const json& v, const std::string& file, const std::string& what) {
  if (!v.is_number_unsigned()) {
    if (v.is_number_integer() && v.get<int64_t>() >= 0) return v.get<uint64_t>();
    fail(file, what + " must be a non-negative integer, found " + v.dump());
  }
  return v.get<uint64_t>();
}

SafetensorsTensor parse_entry(const std::string& file, const std::string& name, const json& e) {
  const std::string where = "tensor '" + name + "'";
  if (!e.is_object()) fail(file, where + ": header entry must be an object");
  for (auto it = e.begin(); it != e.end(); ++it)
    if (it.key() != "dtype" && it.key() != "shape" && it.key() != "data_offsets")
      fail(file, where + ": unknown header field '" + it.key() + "'");
  if (!e.contains("dtype") || !e["dtype"].is_string()) fail(file, where + ": 'dtype' missing or not a string");
  if (!e.contains("shape") || !e["shape"].is_array()) fail(file, where + ": 'shape' missing or not an array");
  if (!e.contains("data_offsets") || !e["data_offsets"].is_array() || e["data_offsets"].size() != 2)
    fail(file, where + ": 'data_offsets' missing or not an array [begin, end]");
  SafetensorsTensor t;
  t.name = name;
  t.dtype = e["dtype"].get<std::string>();
  const uint64_t esize = safetensors_dtype_bytes(t.dtype);
  if (esize == 0) fail(file, where + ": unknown dtype '" + t.dtype + "'");
  if (e["shape"].size() > kMaxDims) fail(file, where + ": shape has more than " + std::to_string(kMaxDims) + " dimensions");
  uint64_t n = 1;
  bool overflow = false;
  for (const json& d : e["shape"]) {
    const uint64_t v = read_u64(d, file, where + " shape entry");
    t.shape.push_back(v);
    if (v != 0 && n > std::numeric_limits<uint64_t>::max() / v) overflow = true;
    n *= v;
  }
  if (overflow || n > std::numeric_limits<uint64_t>::max() / esize)
    fail(file, where + ": shape " + shape_text(t.shape) + " is too large");
  t.n_elements = n;
  t.begin = read_u64(e["data_offsets"][0], file, where + " data_offsets[0]");
  t.end = read_u64(e["data_offsets"][1], file, where + " data_offsets[1]");
  if (t.end < t.begin)
    fail(file, where + ": data_offsets [" + std::to_string(t.begin) + ", " + std::to_string(t.end) + "] end before begin");
  if (t.end - t.begin != n * esize)
    fail(file, where + ": data_offsets [" + std::to_string(t.begin) + ", " + std::to_string(t.end) + "] hold " +
                   std::to_string(t.end - t.begin) + " bytes but " + t.dtype + " " + shape_text(t.shape) + " needs " +
                   std::to_string(n * esize));
  return t;
}

}  // namespace

uint64_t safetensors_dtype_bytes(const std::string& d) {
  if (d == "BOOL" || d == "U8" || d == "I8" || d == "F8_E4M3" || d == "F8_E5M2" || d == "F8_E8M0") return 1;
  if (d == "U16" || d == "I16" || d == "F16" || d == "BF16") return 2;
  if (d == "U32" || d == "I32" || d == "F32") return 4;
  if (d == "U64" || d == "I64" || d == "F64") return 8;
  return 0;
}

const SafetensorsTensor* SafetensorsHeader::find(const std::string& name) const {
  for (const auto& t : tensors)
    if (t.name == name) return &t;
  return nullptr;
}

SafetensorsHeader parse_safetensors_header(const std::string& file, const uint8_t* data, uint64_t size) {
  if (size < 8) fail(file, "truncated: " + std::to_string(size) + " bytes, not even the 8-byte header length");
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | data[i];
  if (n > kMaxHeaderBytes)
    fail(file, "header length " + std::to_string(n) + " exceeds the limit of " + std::to_string(kMaxHeaderBytes) +
                   " bytes (not a safetensors file?)");
  if (n > size - 8)
    fail(file, "truncated: header length " + std::to_string(n) + " but only " + std::to_string(size - 8) +
                   " bytes follow it");
  if (n < 2 || data[8] != '{') fail(file, "header is not a JSON object (must start with '{')");
  // nlohmann keeps the last of duplicate keys silently; the parser callback sees every key.
  std::set<std::string> seen;
  std::string duplicate;
  const json::parser_callback_t cb = [&](int depth, json::parse_event_t ev, json& parsed) {
    if (ev == json::parse_event_t::key && depth == 1 && !seen.insert(parsed.get<std::string>()).second &&
        duplicate.empty())
      duplicate = parsed.get<std::string>();
    return true;
  };
  const char* p = reinterpret_cast<const char*>(data + 8);
  json h = json::parse(p, p + n, cb, /*allow_exceptions=*/false);
  if (h.is_discarded() || !h.is_object()) fail(file, "header is not valid JSON (an object of tensor entries)");
  if (!duplicate.empty()) fail(file, "tensor '" + duplicate + "' appears twice in the header");
  SafetensorsHeader out;
  out.data_start = 8 + n;
  const uint64_t avail = size - out.data_start;
  for (auto it = h.begin(); it != h.end(); ++it) {
    if (it.key() == "__metadata__") {
      if (!it.value().is_object()) fail(file, "__metadata__ must be an object of strings");
      for (auto m = it.value().begin(); m != it.value().end(); ++m) {
        if (!m.value().is_string()) fail(file, "__metadata__ entry '" + m.key() + "' is not a string");
        out.metadata[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    if (it.key().empty()) fail(file, "a tensor has an empty name");
    out.tensors.push_back(parse_entry(file, it.key(), it.value()));
  }
  std::sort(out.tensors.begin(), out.tensors.end(), [](const SafetensorsTensor& a, const SafetensorsTensor& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  uint64_t at = 0;
  const SafetensorsTensor* prev = nullptr;
  for (const SafetensorsTensor& t : out.tensors) {
    if (t.end > avail)
      fail(file, "tensor '" + t.name + "': data_offsets [" + std::to_string(t.begin) + ", " + std::to_string(t.end) +
                     "] extend past the end of the file (data section has " + std::to_string(avail) + " bytes)");
    if (t.begin < at)
      fail(file, "tensors '" + prev->name + "' and '" + t.name + "' overlap (bytes " + std::to_string(t.begin) + " to " +
                     std::to_string(at) + ")");
    if (t.begin > at)
      fail(file, "tensor '" + t.name + "': gap of " + std::to_string(t.begin - at) + " unindexed bytes before it at " +
                     std::to_string(at) + (prev ? " (after '" + prev->name + "')" : std::string()));
    if ((out.data_start + t.begin) % safetensors_dtype_bytes(t.dtype) != 0)
      fail(file, "tensor '" + t.name + "': " + t.dtype + " data at file offset " + std::to_string(out.data_start + t.begin) +
                     " is not aligned to its element size");
    at = t.end;
    prev = &t;
  }
  if (at != avail)
    fail(file, std::to_string(avail - at) + " bytes after the last tensor's data are not indexed by the header "
               "(truncated header or trailing garbage)");
  return out;
}

SafetensorsFile SafetensorsFile::open(const std::string& path) {
  SafetensorsFile f;
  f.region = MappedRegion::map_file(path);
  f.header = parse_safetensors_header(path, f.region->data(), f.region->size());
  return f;
}

}  // namespace sci_infer
