#include "kernels/cpu_kernel_path.hpp"

#include <cstdlib>

#include "kernels/cpu_features.hpp"
#include "sci_infer/error.hpp"

namespace sci_infer {
namespace {

constexpr CpuPath kAll[] = {CpuPath::Generic, CpuPath::Avx2, CpuPath::Avx512, CpuPath::Avx512Vnni};

// SCI_INFER_X86_KERNELS: lib/CMakeLists.txt compiled the per-ISA files into this library.
bool built(CpuPath p) {
#if defined(SCI_INFER_X86_KERNELS)
  (void)p;
  return true;
#else
  return p == CpuPath::Generic;
#endif
}

bool cpu_can(CpuPath p) {
  const CpuFeatures& f = cpu_features();
  switch (p) {
    case CpuPath::Generic: return true;
    case CpuPath::Avx2: return f.can_avx2();
    case CpuPath::Avx512: return f.can_avx512();
    case CpuPath::Avx512Vnni: return f.can_avx512_vnni();
  }
  return false;
}

std::string available_list() {
  std::string s;
  for (CpuPath p : cpu_paths_available()) s += (s.empty() ? "" : ", ") + std::string(cpu_path_name(p));
  return s;
}

std::string unavailable_reason(CpuPath p) {
  const std::string name = cpu_path_name(p);
  const std::string why = !built(p) ? "this build of sci_infer has no " + name + " kernels (not an x86-64 build)"
                                    : "this CPU cannot run them (CPU features: " + cpu_features().describe() + ")";
  return "the " + name + " kernels cannot be used: " + why + "; available here: " + available_list();
}

CpuPath choose() {
  const char* env = std::getenv("SCI_INFER_CPU_PATH");
  const std::string want = env ? env : "auto";
  if (want.empty() || want == "auto") return cpu_paths_available().back();
  for (CpuPath p : kAll)
    if (want == cpu_path_name(p)) {
      if (!cpu_path_available(p)) throw Error("SCI_INFER_CPU_PATH=" + want + " refused: " + unavailable_reason(p));
      return p;
    }
  throw Error("SCI_INFER_CPU_PATH=" + want +
              ": unknown host kernel path (use auto, generic, avx2, avx512 or avx512-vnni; available here: " +
              available_list() + ")");
}

thread_local int override_path = -1;  // ScopedCpuPath

}  // namespace

const char* cpu_path_name(CpuPath p) {
  switch (p) {
    case CpuPath::Generic: return "generic";
    case CpuPath::Avx2: return "avx2";
    case CpuPath::Avx512: return "avx512";
    case CpuPath::Avx512Vnni: return "avx512-vnni";
  }
  return "?";
}

bool cpu_path_available(CpuPath p) { return built(p) && cpu_can(p); }

std::vector<CpuPath> cpu_paths_available() {
  std::vector<CpuPath> v;
  for (CpuPath p : kAll)
    if (cpu_path_available(p)) v.push_back(p);
  return v;
}

CpuPath cpu_path() {
  static const CpuPath chosen = choose();  // a throw leaves it unset: every call refuses alike
  return chosen;
}

const char* cpu_kernel_path() { return cpu_path_name(cpu_path()); }

CpuKernels cpu_kernels(CpuPath p) {
  if (!cpu_path_available(p)) throw Error(unavailable_reason(p));
  CpuKernels k;
#if defined(SCI_INFER_X86_KERNELS)
  switch (p) {
    case CpuPath::Generic: break;
    case CpuPath::Avx2: k.panel_block = panel_block_avx2, k.q8_block = q8_block_avx2; break;
    case CpuPath::Avx512: k.panel_block = panel_block_avx512, k.q8_block = q8_block_avx2; break;
    case CpuPath::Avx512Vnni: k.panel_block = panel_block_avx512, k.q8_block = q8_block_avx512_vnni; break;
  }
#endif
  return k;
}

CpuKernels cpu_kernels_for_new_linear() {
  return cpu_kernels(override_path >= 0 ? static_cast<CpuPath>(override_path) : cpu_path());
}

ScopedCpuPath::ScopedCpuPath(CpuPath p) : previous_(override_path) {
  if (!cpu_path_available(p)) throw Error(unavailable_reason(p));
  override_path = static_cast<int>(p);
}

ScopedCpuPath::~ScopedCpuPath() { override_path = previous_; }

}  // namespace sci_infer
