// libFuzzer target for the safetensors header parser (lib/io/safetensors.cpp): any input must
// either parse or throw sci_infer::Error whose message starts with the file name; a parsed
// header's tensors must lie inside the data section, tile it, and have consistent sizes.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "io/safetensors.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const char* kName = "fuzz.safetensors";
  try {
    const sci_infer::SafetensorsHeader h = sci_infer::parse_safetensors_header(kName, data, size);
    uint64_t at = 0;
    for (const auto& t : h.tensors) {
      if (t.begin != at || t.end < t.begin || h.data_start + t.end > size ||
          t.end - t.begin != t.n_elements * sci_infer::safetensors_dtype_bytes(t.dtype))
        std::abort();
      at = t.end;
      if (t.end > t.begin) (void)data[h.data_start + t.end - 1];  // inside the input (ASan checks)
    }
    if (h.data_start + at != size) std::abort();
  } catch (const sci_infer::Error& e) {
    if (std::strncmp(e.what(), kName, std::strlen(kName)) != 0) {
      std::fprintf(stderr, "error message does not name the file: %s\n", e.what());
      std::abort();
    }
  }
  return 0;
}
