#pragma once
// Which host kernel path the GEMMs take, chosen at run time: the library is built for the
// baseline target and carries per-instruction-set bodies (cpu_gemm_kernels.hpp); the best one
// this CPU and OS can run is picked once, when first asked for (at the first weight packed).
//
//   generic      portable loops (any CPU)
//   avx2         F32/F16/BF16 and Q8_0 GEMMs in AVX2 + FMA + F16C
//   avx512       F32/F16/BF16 in AVX-512F; Q8_0 as avx2
//   avx512-vnni  as avx512, Q8_0 with AVX-512 VNNI int8 dot products
//
// SCI_INFER_CPU_PATH=auto|generic|avx2|avx512|avx512-vnni forces one (auto: the best). Every path
// computes the same per-output chains, so they give the same bits; provenance records the path
// (sci_infer.kernel_path) so that `verify` can name it if that ever fails.
#include <string>
#include <vector>

#include "kernels/cpu_gemm_kernels.hpp"

namespace sci_infer {

enum class CpuPath { Generic, Avx2, Avx512, Avx512Vnni };

const char* cpu_path_name(CpuPath p);  // "generic", "avx2", "avx512", "avx512-vnni"
// Paths this build and this CPU can run, generic first, best last.
std::vector<CpuPath> cpu_paths_available();
bool cpu_path_available(CpuPath p);

// This process's path: SCI_INFER_CPU_PATH's, or the best available. Throws sci_infer::Error (the
// launcher exits 2) when the variable names an unknown path or one this CPU or build cannot run,
// with the CPU's features in the message. The launcher calls it before any work.
CpuPath cpu_path();
const char* cpu_kernel_path();  // cpu_path_name(cpu_path()), for provenance

// The bodies of a path (it must be available).
CpuKernels cpu_kernels(CpuPath p);

// The kernels a Linear built now on this thread uses: cpu_path()'s, unless a ScopedCpuPath on
// this thread says otherwise (tests and benchmarks compare paths in one process with it).
CpuKernels cpu_kernels_for_new_linear();
class ScopedCpuPath {
 public:
  explicit ScopedCpuPath(CpuPath p);  // throws sci_infer::Error if p is not available
  ~ScopedCpuPath();
  ScopedCpuPath(const ScopedCpuPath&) = delete;
  ScopedCpuPath& operator=(const ScopedCpuPath&) = delete;

 private:
  int previous_;
};

}  // namespace sci_infer
