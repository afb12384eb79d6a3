#include "kernels/cpu_kernel_path.hpp"

namespace sci_infer {

// Compiled with the library's flags (-march=native by default), so these are the macros the
// kernels themselves see.
const char* cpu_kernel_path() {
#if defined(__AVX512F__) && defined(__AVX512VNNI__)
  return "avx512-vnni";
#elif defined(__AVX512F__)
  return "avx512";
#else
  return "generic";
#endif
}

}  // namespace sci_infer
