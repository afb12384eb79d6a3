#pragma once
// Safetensors (https://github.com/huggingface/safetensors): u64 LE header length N, N bytes of
// JSON header {"name": {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {..}},
// then the raw little-endian tensor bytes (offsets relative to the first byte after the header).
// The file is hostile input: every field is checked against the spec and the file size, and
// every error names the file and the tensor.
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "sci_infer/gguf.hpp"

namespace sci_infer {

struct SafetensorsTensor {
  std::string name;
  std::string dtype;             // as written ("BF16", "F32", "U8", ...), checked against the spec's list
  std::vector<uint64_t> shape;   // row-major, outermost first (the reverse of ggml's ne)
  uint64_t begin = 0, end = 0;   // relative to the data section
  uint64_t n_elements = 0;
};

struct SafetensorsHeader {
  uint64_t data_start = 0;       // 8 + N: absolute file offset of the data section
  std::vector<SafetensorsTensor> tensors;  // in file order of their data
  std::map<std::string, std::string> metadata;  // "__metadata__"
  const SafetensorsTensor* find(const std::string& name) const;
};

// Bytes per element of a safetensors dtype; 0 for a name the spec does not define.
uint64_t safetensors_dtype_bytes(const std::string& dtype);

// Parses and validates the header of a safetensors image of `size` bytes (`name` in messages).
// Rules (those of the reference implementation): header length at most 100 MB and within the
// file; a JSON object with unique keys; each tensor entry has exactly dtype, shape, data_offsets;
// end - begin == prod(shape) x dtype size; tensors tile the data section with no overlap, no gap
// and nothing after the last; each tensor starts on a multiple of its element size.
SafetensorsHeader parse_safetensors_header(const std::string& name, const uint8_t* data, uint64_t size);

// A mapped safetensors file and its validated header.
struct SafetensorsFile {
  std::shared_ptr<const MappedRegion> region;
  SafetensorsHeader header;
  static SafetensorsFile open(const std::string& path);  // throws sci_infer::Error
};

}  // namespace sci_infer
