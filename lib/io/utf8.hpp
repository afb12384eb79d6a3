#pragma once
// Strict UTF-8 (RFC 3629) checks for the HDF5 layer: prompts are validated on input, and text
// written into datasets declared UTF-8 is made valid so any reader (h5py .asstr()) can decode it.
#include <cstddef>
#include <string>
#include <string_view>

namespace sci_infer::utf8 {

// Byte offset of the first invalid sequence, or std::string_view::npos when `s` is valid.
// Rejects overlong encodings, UTF-16 surrogates (U+D800..U+DFFF), code points above U+10FFFF,
// stray continuation bytes and sequences cut short by the end of the string.
size_t first_invalid(std::string_view s);

inline bool is_valid(std::string_view s) { return first_invalid(s) == std::string_view::npos; }

// `s` with each maximal invalid subpart replaced by U+FFFD (the Unicode-recommended practice).
std::string sanitize(std::string_view s);

}  // namespace sci_infer::utf8
