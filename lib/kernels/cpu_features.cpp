#include "kernels/cpu_features.hpp"

#include <cstdint>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

namespace sci_infer {
namespace {

#if defined(__x86_64__) || defined(__i386__)
// XCR0, the register-state components the OS has enabled (0 without OSXSAVE). Inline assembly
// rather than _xgetbv, which would need -mxsave for this baseline-compiled file.
uint64_t os_enabled_state() {
  unsigned eax, ebx, ecx, edx;
  if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx) || !(ecx & bit_OSXSAVE)) return 0;
  uint32_t lo, hi;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return (uint64_t(hi) << 32) | lo;
}

CpuFeatures detect() {
  CpuFeatures f;
  __builtin_cpu_init();
  f.avx2 = __builtin_cpu_supports("avx2");
  f.fma = __builtin_cpu_supports("fma");
  unsigned eax, ebx, ecx, edx;  // F16C from CPUID leaf 1 itself: clang's builtin does not know it
  f.f16c = __get_cpuid(1, &eax, &ebx, &ecx, &edx) && (ecx & bit_F16C);
  f.avx512f = __builtin_cpu_supports("avx512f");
  f.avx512vnni = __builtin_cpu_supports("avx512vnni");
  const uint64_t xcr0 = os_enabled_state();
  f.os_ymm = (xcr0 & 0x6) == 0x6;     // SSE + AVX state
  f.os_zmm = (xcr0 & 0xe6) == 0xe6;   // + opmask, ZMM_Hi256, Hi16_ZMM
  return f;
}
#else
CpuFeatures detect() { return {}; }
#endif

}  // namespace

std::string CpuFeatures::describe() const {
  std::string have, lack;
  auto add = [&](bool on, const char* name) {
    std::string& list = on ? have : lack;
    if (!list.empty()) list += ' ';
    list += name;
  };
  add(avx2, "avx2");
  add(fma, "fma");
  add(f16c, "f16c");
  add(avx512f, "avx512f");
  add(avx512vnni, "avx512vnni");
  std::string s = have.empty() ? "none of avx2 fma f16c avx512f avx512vnni" : have;
  if (!have.empty() && !lack.empty()) s += "; no " + lack;
  s += os_zmm ? "; OS saves ymm and zmm" : (os_ymm ? "; OS saves ymm, not zmm" : "; OS saves neither ymm nor zmm");
  return s;
}

const CpuFeatures& cpu_features() {
  static const CpuFeatures f = detect();
  return f;
}

}  // namespace sci_infer
