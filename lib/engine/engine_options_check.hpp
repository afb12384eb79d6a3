#pragma once
// The limits of EngineOptions, and the check every Engine constructor runs before it allocates
// anything. The launcher's option validators and the C API use the same limits, so a bad value
// is refused with the same bound whichever way it comes in.
#include <cstddef>

#include "sci_infer/engine.hpp"

namespace sci_infer {

// Most threads an engine may use: 4x the machine's hardware threads (at least 16). Far more
// only oversubscribes the cores, and absurd counts crash the OpenMP runtime.
int max_engine_threads();
// The machine's physical memory in bytes (sysconf); a KV-cache budget above it cannot be held.
size_t physical_memory_bytes();
constexpr int kMaxEngineSequences = 1 << 16;    // sequences decoded together
constexpr int kMaxEngineStepTokens = 1 << 20;   // tokens in one forward step

// Throws sci_infer::Error naming the first bad field, its value and the allowed range. Called by
// every Engine constructor; also checks SCI_INFER_THREADS / OMP_NUM_THREADS when threads is 0.
void check_engine_options(const EngineOptions& options);

}  // namespace sci_infer
