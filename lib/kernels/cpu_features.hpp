#pragma once
// What this CPU and its operating system let the host kernels use: the instruction-set
// extensions (CPUID, as __builtin_cpu_supports reports them) and whether the OS saves the
// vector registers they need across context switches (XCR0 via xgetbv): a CPU with AVX-512
// under an OS (or hypervisor) that does not enable the ZMM state cannot run AVX-512 code.
#include <string>

namespace sci_infer {

struct CpuFeatures {
  bool avx2 = false, fma = false, f16c = false;  // the avx2 path needs all three
  bool avx512f = false, avx512vnni = false;
  bool os_ymm = false;  // OS saves the 256-bit AVX state
  bool os_zmm = false;  // OS saves the AVX-512 state (opmask, upper ZMM halves, ZMM16-31)

  bool can_avx2() const { return avx2 && fma && f16c && os_ymm; }
  bool can_avx512() const { return can_avx2() && avx512f && os_zmm; }
  bool can_avx512_vnni() const { return can_avx512() && avx512vnni; }
  // For messages: "avx2 fma f16c; no avx512f avx512vnni; OS saves ymm, not zmm".
  std::string describe() const;
};

// Detected once (all false on a CPU that is not x86-64).
const CpuFeatures& cpu_features();

}  // namespace sci_infer
