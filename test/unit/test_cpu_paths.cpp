// Run-time dispatch of the host GEMM bodies (kernels/cpu_kernel_path.hpp): every path this CPU
// can run gives, for F32/F16/BF16/Q8_0 weights, every row count, panel tails and K-chunk counts,
// exactly the bits of an independent scalar model of the contract (one fma chain per output,
// K-chunks merged by the pairwise tree) -- and so the same bits as each other. Paths this CPU
// lacks are named in the output; on a CPU that has them they are tested automatically.
// Also: the paths offered match the CPU's own feature list (/proc/cpuinfo), and asking for one
// it lacks is refused with the CPU's features in the message.
#include <catch2/catch.hpp>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "kernels/cpu_features.hpp"
#include "kernels/cpu_kernel_path.hpp"
#include "kernels/linear.hpp"
#include "sci_infer/engine.hpp"
#include "sci_infer/error.hpp"

using namespace sci_infer;

namespace {

const CpuPath kAllPaths[] = {CpuPath::Generic, CpuPath::Avx2, CpuPath::Avx512, CpuPath::Avx512Vnni};

// Raw weight bytes plus the exactly dequantized values the contract multiplies by.
struct Weight {
  GgmlType type;
  int64_t n, k;
  std::vector<uint8_t> bytes;
  std::vector<float> dequant;
  WeightView view() const { return WeightView{"w", type, n, k, bytes.data()}; }
};

// Normal values, a few rows scaled into F16/BF16 subnormals, a -0.0; Q8_0 also gets quants of
// -128 (which llama.cpp never writes but a file may hold) to exercise the exact int8 paths.
Weight make_weight(GgmlType t, int64_t n, int64_t k, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.0f, 0.5f);
  std::vector<float> f(n * k);
  for (int64_t i = 0; i < n * k; ++i) f[i] = nd(rng) * ((i / k) % 7 == 3 ? 1e-6f : 1.0f);
  f[5] = -0.0f;
  const size_t rb = ggml_row_bytes(t, k);
  Weight w{t, n, k, std::vector<uint8_t>(rb * n), std::vector<float>(n * k)};
  for (int64_t r = 0; r < n; ++r) encode_row(t, &f[r * k], &w.bytes[r * rb], k);
  if (t == GgmlType::Q8_0)
    for (int64_t r = 0; r < n; r += 5) w.bytes[r * rb + 2 + (r % 32)] = 0x80;
  for (int64_t r = 0; r < n; ++r) decode_row(t, &w.bytes[r * rb], &w.dequant[r * k], k);
  return w;
}

float pairwise_tree(std::vector<float> part) {
  while (part.size() > 1) {
    std::vector<float> up(part.size() / 2);
    for (size_t i = 0; i < up.size(); ++i) up[i] = part[2 * i] + part[2 * i + 1];
    part.swap(up);
  }
  return part[0];
}

float reference(const float* x, const float* w, int64_t k, int chunks) {
  std::vector<float> part(chunks);
  for (int c = 0; c < chunks; ++c) {
    float acc = 0.0f;
    for (int64_t i = c * k / chunks; i < (c + 1) * k / chunks; ++i) acc = std::fma(x[i], w[i], acc);
    part[c] = acc;
  }
  return pairwise_tree(part);
}

// Q8_0 as q8_activations.hpp specifies: x quantized per 32-block (d = max|x| / 127, q = rint(x / d)
// through the reciprocal), exact int32 block sums, acc = fma(isum, d_w * d_x, acc) in block order.
float reference_q8(const float* x, const uint8_t* wrow, int64_t k, int chunks) {
  const int64_t nb = k / 32;
  std::vector<float> part(chunks);
  for (int c = 0; c < chunks; ++c) {
    float acc = 0.0f;
    for (int64_t b = c * nb / chunks; b < (c + 1) * nb / chunks; ++b) {
      float amax = 0.0f;
      for (int i = 0; i < 32; ++i) amax = std::max(amax, std::fabs(x[b * 32 + i]));
      const float dx = amax / 127.0f, inv = dx != 0.0f ? 1.0f / dx : 0.0f;
      uint16_t h;
      std::memcpy(&h, wrow + b * 34, 2);
      int32_t isum = 0;
      for (int i = 0; i < 32; ++i) {
        const float q = std::max(-127.0f, std::min(127.0f, std::rint(x[b * 32 + i] * inv)));
        isum += static_cast<int32_t>(q) * static_cast<int8_t>(wrow[b * 34 + 2 + i]);
      }
      acc = std::fma(static_cast<float>(isum), fp16_to_f32(h) * dx, acc);
    }
    part[c] = acc;
  }
  return pairwise_tree(part);
}

std::set<std::string> proc_cpuinfo_flags() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  std::set<std::string> flags;
  while (std::getline(in, line))
    if (line.rfind("flags", 0) == 0) {
      std::istringstream words(line.substr(line.find(':') + 1));
      for (std::string w; words >> w;) flags.insert(w);
      break;
    }
  return flags;
}

std::string names(const std::vector<CpuPath>& v) {
  std::string s;
  for (CpuPath p : v) s += (s.empty() ? "" : " ") + std::string(cpu_path_name(p));
  return s;
}

}  // namespace

TEST_CASE("every host kernel path this CPU has gives the bits of the scalar contract", "[gemm][cpu_path]") {
  ensure_kokkos_initialized();
  std::vector<CpuPath> untested;
  for (CpuPath p : kAllPaths)
    if (!cpu_path_available(p)) untested.push_back(p);
  std::printf("cpu paths: testing %s; not runnable on this CPU (%s), so not tested here: %s\n",
              names(cpu_paths_available()).c_str(), cpu_features().describe().c_str(),
              untested.empty() ? "none" : names(untested).c_str());
  const int64_t K = 128;
  for (GgmlType t : {GgmlType::F32, GgmlType::F16, GgmlType::BF16, GgmlType::Q8_0}) {
    for (int64_t n : {int64_t(20), int64_t(300)}) {  // one partial panel; 9 full + 1 partial (groups, tails)
      const Weight w = make_weight(t, n, K, uint32_t(7 + n));
      const WeightView v = w.view();
      for (int chunks : {1, 4}) {
        for (int64_t m : {1, 2, 3, 4, 5, 6, 13}) {  // every microkernel row count, and a remainder
          std::mt19937 rng(uint32_t(m * 31 + chunks));
          std::normal_distribution<float> nd(0.0f, 1.0f);
          std::vector<float> x(m * K);
          for (auto& e : x) e = nd(rng);
          std::fill(x.begin(), x.begin() + 32, 0.0f);  // an all-zero Q8 block: d_x = 0
          x[40] = 1e30f;                                // a block dominated by one value
          std::vector<float> want(m * n);
          for (int64_t i = 0; i < m; ++i)
            for (int64_t j = 0; j < n; ++j)
              want[i * n + j] = t == GgmlType::Q8_0
                                    ? reference_q8(&x[i * K], &w.bytes[j * ggml_row_bytes(t, K)], K, chunks)
                                    : reference(&x[i * K], &w.dequant[j * K], K, chunks);
          for (CpuPath p : cpu_paths_available()) {
            std::unique_ptr<Linear> lin;
            {
              ScopedCpuPath use(p);
              lin = make_linear_fixed_order(&v, 1, 2, chunks);
            }
            std::vector<float> y(m * n, -1.0f);
            lin->forward(x.data(), m, K, y.data(), n);
            int64_t bad = 0;
            for (int64_t e = 0; e < m * n; ++e) bad += std::memcmp(&y[e], &want[e], 4) != 0;
            INFO(cpu_path_name(p) << " " << ggml_type_name(t) << " n " << n << " chunks " << chunks << " m " << m);
            CHECK(bad == 0);
          }
        }
      }
    }
  }
}

TEST_CASE("the host kernel paths offered are the ones the CPU's feature flags allow", "[cpu_path]") {
  const std::set<std::string> f = proc_cpuinfo_flags();
  if (f.empty()) {
    WARN("no /proc/cpuinfo flags line: not checked");
    return;
  }
  auto has = [&](const char* s) { return f.count(s) > 0; };
  std::vector<CpuPath> want = {CpuPath::Generic};
#if defined(__x86_64__)
  const bool avx2 = has("avx2") && has("fma") && has("f16c");
  if (avx2) want.push_back(CpuPath::Avx2);
  if (avx2 && has("avx512f")) want.push_back(CpuPath::Avx512);
  if (avx2 && has("avx512f") && has("avx512_vnni")) want.push_back(CpuPath::Avx512Vnni);
#endif
  INFO("/proc/cpuinfo allows: " << names(want) << "; sci_infer offers: " << names(cpu_paths_available()));
  CHECK(cpu_paths_available() == want);
  // Unforced, the process uses the best of them.
  if (!std::getenv("SCI_INFER_CPU_PATH")) CHECK(cpu_path() == want.back());
}

TEST_CASE("asking for a host kernel path the CPU lacks is refused, naming the path and the CPU's features",
          "[cpu_path]") {
  bool any = false;
  for (CpuPath p : kAllPaths) {
    if (cpu_path_available(p)) continue;
    any = true;
    try {
      ScopedCpuPath use(p);
      FAIL("ScopedCpuPath accepted " << cpu_path_name(p));
    } catch (const Error& e) {
      const std::string msg = e.what();
      INFO(msg);
      CHECK(msg.find(std::string("the ") + cpu_path_name(p) + " kernels cannot be used") != std::string::npos);
      CHECK(msg.find("CPU features: ") != std::string::npos);
      CHECK(msg.find("available here: generic") != std::string::npos);
    }
  }
  if (!any) WARN("this CPU runs every host kernel path: nothing to refuse here");
}
