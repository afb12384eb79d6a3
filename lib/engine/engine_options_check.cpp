// Range checks of EngineOptions (engine_options_check.hpp).
#include "engine/engine_options_check.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <string>
#include <thread>

#include "sci_infer/device.hpp"
#include "sci_infer/error.hpp"

namespace sci_infer {

int max_engine_threads() {
  return std::max(16, 4 * static_cast<int>(std::thread::hardware_concurrency()));
}

size_t physical_memory_bytes() {
  const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGE_SIZE);
  if (pages <= 0 || page <= 0) return SIZE_MAX;  // unknown: no bound from it
  return size_t(pages) * size_t(page);
}

namespace {

[[noreturn]] void refuse(const std::string& field, const std::string& value, const std::string& allowed) {
  throw Error("engine options: " + field + " is " + value + ", must be " + allowed);
}

void check_threads(const std::string& field, long long threads, bool zero_ok) {
  const int limit = max_engine_threads();
  if (threads < (zero_ok ? 0 : 1) || threads > limit)
    refuse(field, std::to_string(threads),
           std::string("in [") + (zero_ok ? "0" : "1") + ", " + std::to_string(limit) + "] (4 x the " +
               std::to_string(std::thread::hardware_concurrency()) + " hardware threads, at least 16)");
}

}  // namespace

void check_engine_options(const EngineOptions& o) {
  // A collective engine (and the launcher) resolves 0 from the environment before this check.
  check_threads("threads (the option, or SCI_INFER_THREADS / OMP_NUM_THREADS)", o.threads, true);
  if (o.threads == 0)  // the default comes from the environment: the same bound applies
    for (const char* var : {"SCI_INFER_THREADS", "OMP_NUM_THREADS"})
      if (const char* v = std::getenv(var)) {
        const long long n = std::atoll(v);
        if (n > 0) {
          check_threads(std::string("threads (from ") + var + "=" + v + ")", n, false);
          break;  // the first one set wins, as when the threads are resolved
        }
      }
  const size_t mem = physical_memory_bytes();
  if (o.kv_cache_bytes == 0 || o.kv_cache_bytes > mem)
    refuse("kv_cache_bytes", std::to_string(o.kv_cache_bytes),
           "in [1, " + std::to_string(mem) + "] (the machine's physical memory)");
  if (o.max_sequences < 1 || o.max_sequences > kMaxEngineSequences)
    refuse("max_sequences", std::to_string(o.max_sequences), "in [1, " + std::to_string(kMaxEngineSequences) + "]");
  if (o.max_step_tokens < 1 || o.max_step_tokens > kMaxEngineStepTokens)
    refuse("max_step_tokens", std::to_string(o.max_step_tokens),
           "in [1, " + std::to_string(kMaxEngineStepTokens) + "]");
  if (o.tensor_parallel < 1) refuse("tensor_parallel", std::to_string(o.tensor_parallel), ">= 1");
  check_device(o.device, "engine options: device");  // an index this process can use (device.hpp)
}

}  // namespace sci_infer
