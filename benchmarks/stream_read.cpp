// stream_read: the machine's streaming-read bandwidth, the ceiling of a memory-bound decode step.
//
//   stream_read [--threads 2] [--mib 1024] [--passes 10] [--json]
//
// Each thread first-touches its own contiguous share of one large array of doubles (far larger
// than any cache), then every pass sums the whole array: the threads start together, each sums
// its share with independent SIMD accumulators (no writes, no dependency chain), and the pass
// time is from the common start to the last thread's end. The best pass is reported as GB/s
// (1e9 bytes/s), the same unit the bandwidth efficiency in bench_targets.sh uses.
// Build: g++ -O3 -march=native -fopenmp-simd -pthread benchmarks/stream_read.cpp -o stream_read
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace {

using clock_type = std::chrono::steady_clock;

// 32 independent accumulators (4 AVX-512 or 8 AVX2 registers): the adds never wait on each
// other, so the loop is limited by loads, not by the latency of one add chain.
double sum_range(const double* p, size_t n) {
  constexpr size_t kAcc = 32;
  double acc[kAcc] = {};
  size_t i = 0;
  for (; i + kAcc <= n; i += kAcc)
#pragma omp simd
    for (size_t j = 0; j < kAcc; ++j) acc[j] += p[i + j];
  double s = 0.0;
  for (; i < n; ++i) s += p[i];
  for (double x : acc) s += x;
  return s;
}

// A reusable spin barrier: the passes are short enough that a futex wake-up would show.
class Barrier {
 public:
  explicit Barrier(int n) : n_(n) {}
  void wait() {
    const int gen = gen_.load(std::memory_order_acquire);
    if (count_.fetch_add(1, std::memory_order_acq_rel) + 1 == n_) {
      count_.store(0, std::memory_order_relaxed);
      gen_.fetch_add(1, std::memory_order_acq_rel);
    } else {
      while (gen_.load(std::memory_order_acquire) == gen) std::this_thread::yield();
    }
  }

 private:
  const int n_;
  std::atomic<int> count_{0}, gen_{0};
};

}  // namespace

int main(int argc, char** argv) {
  int threads = 2, passes = 10;
  size_t mib = 1024;
  bool json = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> const char* {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--threads") threads = std::atoi(next());
    else if (a == "--mib") mib = std::strtoull(next(), nullptr, 10);
    else if (a == "--passes") passes = std::atoi(next());
    else if (a == "--json") json = true;
    else {
      std::fprintf(stderr, "usage: stream_read [--threads N] [--mib MiB] [--passes N] [--json]\n");
      return 2;
    }
  }
  threads = std::max(threads, 1);
  passes = std::max(passes, 1);
  const size_t n = mib * 1024 * 1024 / sizeof(double);
  const size_t bytes = n * sizeof(double);
  // 2 MiB-aligned so that transparent huge pages can back it (fewer TLB misses, as a large
  // packed weight buffer would get).
  const size_t align = size_t(2) << 20;
  double* a = static_cast<double*>(std::aligned_alloc(align, (bytes + align - 1) / align * align));
  if (!a) {
    std::fprintf(stderr, "cannot allocate %zu MiB\n", mib);
    return 1;
  }

  // The main thread is worker 0 and keeps the time: no extra thread competes for the cores.
  Barrier barrier(threads);
  std::vector<double> partial(size_t(threads) * 8, 0.0);  // one cache line per thread
  std::vector<double> times;
  const int warmup = 1;
  auto work = [&](int t) {
    const size_t lo = n * t / threads, hi = n * (t + 1) / threads;
    for (size_t i = lo; i < hi; ++i) a[i] = double(i & 1023) * 0.5;  // first touch by the owner
    for (int p = 0; p < warmup + passes; ++p) {
      barrier.wait();  // pass start
      const auto t0 = clock_type::now();
      partial[size_t(t) * 8] += sum_range(a + lo, hi - lo);
      barrier.wait();  // pass end: the last thread is done
      if (t == 0 && p >= warmup) times.push_back(std::chrono::duration<double>(clock_type::now() - t0).count());
    }
  };
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back(work, t);
  work(0);
  for (auto& th : pool) th.join();
  const double best_s = *std::min_element(times.begin(), times.end());
  double sum_s = 0.0;
  for (double x : times) sum_s += x;
  double check = 0.0;
  for (int t = 0; t < threads; ++t) check += partial[size_t(t) * 8];
  const double best = bytes / best_s / 1e9, mean = bytes * double(passes) / sum_s / 1e9;
  if (json)
    std::printf("{\"threads\": %d, \"mib\": %zu, \"passes\": %d, \"best_gb_s\": %.3f, \"mean_gb_s\": %.3f, "
                "\"checksum\": %.6g}\n",
                threads, mib, passes, best, mean, check);
  else
    std::printf("stream read: %d threads, %zu MiB, best of %d passes: %.2f GB/s (mean %.2f GB/s)\n", threads, mib,
                passes, best, mean);
  std::free(a);
  return 0;
}
