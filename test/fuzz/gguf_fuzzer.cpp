// libFuzzer target for the GGUF reader: any input must either open or throw sci_infer::Error.
// Anything else (a crash, a sanitizer report, another exception type, a huge allocation, an
// error message that does not start with the file name) is a bug.
// Files that open are exercised further: every metadata getter and a decode of every tensor.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "sci_infer/gguf.hpp"

namespace {

void exercise_metadata(const sci_infer::GgufFile& f) {
  for (const std::string& key : f.metadata_keys()) {
    // Each getter either succeeds or throws Error for the wrong type; both are fine.
    try { (void)f.get_string(key); } catch (const sci_infer::Error&) {}
    try { (void)f.get_uint(key); } catch (const sci_infer::Error&) {}
    try { (void)f.get_int(key); } catch (const sci_infer::Error&) {}
    try { (void)f.get_float(key); } catch (const sci_infer::Error&) {}
    try { (void)f.get_bool(key); } catch (const sci_infer::Error&) {}
    try { (void)f.get_string_array(key).size(); } catch (const sci_infer::Error&) {}
    try { (void)f.get_float_array(key).size(); } catch (const sci_infer::Error&) {}
    try { (void)f.get_int_array(key).size(); } catch (const sci_infer::Error&) {}
    (void)f.value(key).array_size();
  }
}

void exercise_tensors(const sci_infer::GgufFile& f) {
  std::vector<float> row;
  for (const sci_infer::GgufTensorInfo& t : f.tensors()) {
    (void)f.tensor(t.name, t.ne);
    // Decode the whole tensor, capped so a large (but valid) tensor does not slow fuzzing.
    const uint64_t n = t.n_elements < 4096 ? t.n_elements : t.ne[0] < 4096 ? t.ne[0] : 0;
    if (n == 0) continue;
    row.resize(n);
    sci_infer::decode_row(t.type, f.tensor_data(t), row.data(), n);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    auto f = sci_infer::GgufFile::open_buffer("fuzz.gguf", data, size);
    exercise_metadata(*f);
    exercise_tensors(*f);
  } catch (const sci_infer::Error& e) {
    // The expected outcome for malformed input, provided the message names the file.
    if (std::strncmp(e.what(), "fuzz.gguf: ", 11) != 0) {
      std::fprintf(stderr, "Error message without the file name: %s\n", e.what());
      std::abort();
    }
  }
  return 0;
}
