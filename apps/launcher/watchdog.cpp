#include "watchdog.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>

namespace sci_infer::cli {
namespace {

long long now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

Watchdog::Watchdog(double timeout_s, int rank) : timeout_s_(timeout_s), rank_(rank) {
  last_ms_ = now_ms();
  if (timeout_s_ > 0) thread_ = std::thread([this] { watch(); });
}

Watchdog::~Watchdog() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    done_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Watchdog::beat(const char* phase) {
  phase_ = phase;
  last_ms_ = now_ms();
}

void Watchdog::watch() {
  std::unique_lock<std::mutex> lock(mu_);
  const auto tick = std::chrono::milliseconds(std::min<long long>(1000, (long long)(timeout_s_ * 250) + 1));
  while (!cv_.wait_for(lock, tick, [this] { return done_; })) {
    const double idle = (now_ms() - last_ms_.load()) / 1000.0;
    if (idle > timeout_s_) {
      std::fprintf(stderr,
                   "sci-infer: rank %d: no progress for %.0f s while in '%s' (--collective-timeout %.0f): another rank "
                   "of the job has died or hangs (a rank that failed has printed its own message above); ending "
                   "this rank (exit %d). Committed results are kept: rerun with --resume.\n",
                   rank_, idle, phase_.load(), timeout_s_, kExitHung);
      std::fflush(stderr);
      std::fflush(stdout);
      std::_Exit(kExitHung);
    }
  }
}

}  // namespace sci_infer::cli
