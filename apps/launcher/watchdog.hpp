#pragma once
// A job must end promptly, with a message, when one of its ranks dies or hangs: the others
// would otherwise wait forever in the next collective (MPICH's mpiexec kills a job whose rank
// dies, but not every launcher does, and a hung rank - a stalled file system, a stopped
// process - dies of nothing). The main loop calls beat() after every step; if no beat comes
// for `timeout_s`, a background thread prints what the rank was doing and exits the process
// with kExitHung. It makes no MPI call (MPI need not be thread-safe here); each rank's own
// watchdog fires, and mpiexec tears down the rest.
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

#include "exit_codes.hpp"

namespace sci_infer::cli {

class Watchdog {
 public:
  Watchdog(double timeout_s, int rank);  // timeout_s <= 0: disabled
  ~Watchdog();
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;
  void beat(const char* phase);  // phase: a string literal naming what comes next

 private:
  void watch();
  double timeout_s_;
  int rank_;
  std::atomic<long long> last_ms_{0};
  std::atomic<const char*> phase_{"start"};
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  std::thread thread_;
};

}  // namespace sci_infer::cli
