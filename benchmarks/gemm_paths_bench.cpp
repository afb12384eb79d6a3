// The fixed-order GEMM on each host kernel path this CPU runs (kernels/cpu_kernel_path.hpp):
// GFLOP/s of Y[M,N] = X[M,K] W[N,K]^T for F32/F16/BF16/Q8_0 weights, best of several repetitions,
// and a check that every path gave the generic path's bits on the timed data.
// Usage: sci_infer_gemm_paths_bench [N K threads seconds_per_case]   (default 2048 768 2 0.4)
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <vector>

#include "kernels/cpu_features.hpp"
#include "kernels/cpu_kernel_path.hpp"
#include "kernels/linear.hpp"
#include "sci_infer/engine.hpp"

using namespace sci_infer;

int main(int argc, char** argv) {
  const int64_t N = argc > 1 ? std::atol(argv[1]) : 2048, K = argc > 2 ? std::atol(argv[2]) : 768;
  const int threads = argc > 3 ? std::atoi(argv[3]) : 2;
  const double budget = argc > 4 ? std::atof(argv[4]) : 0.4;
  ensure_kokkos_initialized();
  std::printf("# CPU: %s; N %ld K %ld, %d threads, best of repetitions in %.1f s per case\n",
              cpu_features().describe().c_str(), (long)N, (long)K, threads, budget);
  std::printf("%-6s %4s %-12s %10s %8s %s\n", "type", "M", "path", "GFLOP/s", "vs gen", "bits");
  std::mt19937 rng(1);
  std::normal_distribution<float> nd(0.0f, 0.5f);
  std::vector<float> wf(N * K);
  for (auto& v : wf) v = nd(rng);
  for (GgmlType t : {GgmlType::F32, GgmlType::F16, GgmlType::BF16, GgmlType::Q8_0}) {
    const size_t rb = ggml_row_bytes(t, K);
    std::vector<uint8_t> bytes(rb * N);
    for (int64_t r = 0; r < N; ++r) encode_row(t, &wf[r * K], &bytes[r * rb], K);
    const WeightView view{"w", t, N, K, bytes.data()};
    for (int64_t m : {int64_t(1), int64_t(64)}) {
      std::vector<float> x(m * K), y(m * N), y_generic;
      for (auto& v : x) v = nd(rng);
      double generic_s = 0;
      for (CpuPath p : cpu_paths_available()) {
        std::unique_ptr<Linear> lin;
        {
          ScopedCpuPath use(p);
          lin = make_linear_fixed_order(&view, 1, threads);
        }
        double best = 1e30, spent = 0;
        for (int rep = 0; spent < budget || rep < 3; ++rep) {
          const auto t0 = std::chrono::steady_clock::now();
          lin->forward(x.data(), m, K, y.data(), N);
          const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
          best = s < best ? s : best;
          spent += s;
        }
        if (p == CpuPath::Generic) generic_s = best, y_generic = y;
        const bool same = std::memcmp(y.data(), y_generic.data(), y.size() * 4) == 0;
        std::printf("%-6s %4ld %-12s %10.2f %7.2fx %s\n", ggml_type_name(t), (long)m, cpu_path_name(p),
                    2.0 * m * N * K / best * 1e-9, generic_s / best, same ? "same" : "DIFFERENT");
      }
    }
  }
  return 0;
}
