#pragma once
// SHA-256 (FIPS 180-4) of a file, for provenance: output files record the model's hash so a
// rerun months later can prove it used the same weights.
#include <string>

namespace sci_infer {

std::string sha256_hex(const void* data, size_t n);
std::string sha256_file_hex(const std::string& path);  // throws sci_infer::Error

}  // namespace sci_infer
