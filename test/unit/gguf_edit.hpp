#pragma once
// Test helper: copies a GGUF file through the project's own writer (GgufWriter), letting a test
// change one metadata value or the bytes of one tensor: a hostile or broken model in one line.
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "sci_infer/gguf.hpp"
#include "sci_infer/tensor_types.hpp"

namespace sci_infer::testing {

struct GgufEdit {
  // Called for every metadata key; may change the value (or return false to drop the key).
  std::function<bool(const std::string& key, GgufValue& v)> metadata;
  // Called for every tensor with its encoded bytes, which it may change.
  std::function<void(const GgufTensorInfo& t, std::vector<uint8_t>& bytes)> tensor;
};

inline void rewrite_gguf(const std::string& src, const std::string& dst, const GgufEdit& edit) {
  auto f = GgufFile::open(src);
  GgufWriter w;
  for (const auto& key : f->metadata_keys()) {
    if (key == "general.alignment") continue;  // write() sets it from its argument
    GgufValue v = f->value(key);
    if (edit.metadata && !edit.metadata(key, v)) continue;
    w.set_value(key, v);
  }
  for (const auto& t : f->tensors()) {
    const uint8_t* p = f->tensor_data(t);
    std::vector<uint8_t> bytes(p, p + t.n_bytes);
    if (edit.tensor) edit.tensor(t, bytes);
    w.add_tensor(t.name, t.ne, t.type, std::move(bytes));
  }
  w.write(dst, f->alignment());
}

// Sets a scalar integer metadata key (keeping its type) to v.
inline GgufEdit set_uint(const std::string& key, uint64_t v) {
  GgufEdit e;
  e.metadata = [key, v](const std::string& k, GgufValue& val) {
    if (k == key) {
      val.type = GgufValueType::UINT64;
      val.u = v;
    }
    return true;
  };
  return e;
}

// Overwrites element `element` of tensor `name` (an F32 tensor) with x.
inline GgufEdit set_f32_element(const std::string& name, uint64_t element, float x) {
  GgufEdit e;
  e.tensor = [name, element, x](const GgufTensorInfo& t, std::vector<uint8_t>& b) {
    if (t.name != name) return;
    if (t.type != GgmlType::F32) throw std::runtime_error("set_f32_element: " + name + " is not F32");
    std::memcpy(b.data() + element * 4, &x, 4);
  };
  return e;
}

}  // namespace sci_infer::testing
