#pragma once
// What a sci_infer_engine* points to, and the wrapper every C entry point runs its body in:
// it checks the handle, turns every exception into a status plus a message, and records the
// message where sci_infer_last_error finds it. No exception ever crosses the C boundary.
#include <cstdint>
#include <memory>
#include <new>
#include <string>
#include <utility>

#include "sci_infer/engine.hpp"
#include "sci_infer/error.hpp"
#include "sci_infer/sci_infer.h"

// Distinct magic numbers tell a live, closed or destroyed engine from a pointer to anything else.
// Destroy never frees the handle (it keeps these few bytes as a tombstone), so a call through a
// destroyed handle is always detected instead of reading freed memory.
constexpr uint64_t kMagicOpen = 0x5c1e'0e4e'0000'0001ull;
constexpr uint64_t kMagicClosed = 0x5c1e'0e4e'0000'0002ull;
constexpr uint64_t kMagicDestroyed = 0x5c1e'0e4e'dead'dead;

struct sci_infer_engine {
  uint64_t magic = kMagicOpen;
  std::unique_ptr<sci_infer::Engine> engine;  // null once closed
  std::string last_error;                     // "" when the last call succeeded
};

namespace sci_infer::capi {

// Thrown by the checks inside an entry point; carries the status the caller gets.
struct Failure {
  int status;
  std::string message;
};
[[noreturn]] inline void fail(int status, std::string message) { throw Failure{status, std::move(message)}; }

enum class HandleState { Null, Foreign, Open, Closed, Destroyed };
HandleState state_of(const sci_infer_engine* h);

// Records a failure of `function` for sci_infer_last_error: in the handle when it is open or
// closed, and always as the calling thread's last failure.
int record(sci_infer_engine* h, const char* function, int status, const std::string& message);

// Maps the exception in flight (inside a catch block) to a status and message.
std::pair<int, std::string> current_exception_status(int status_for_library_errors);

enum class Need { Open, OpenOrClosed };

// Runs body(engine_handle) after checking the handle; returns SCI_INFER_OK or the failure's status.
template <class Body>
int guarded(const char* function, sci_infer_engine* h, Need need, Body&& body) {
  switch (state_of(h)) {
    case HandleState::Null:
      return record(h, function, SCI_INFER_ERR_HANDLE, "the engine handle is NULL");
    case HandleState::Foreign:
      return record(nullptr, function, SCI_INFER_ERR_HANDLE,
                    "the handle is not a sci_infer engine (a bad pointer, or memory overwritten)");
    case HandleState::Destroyed:
      return record(h, function, SCI_INFER_ERR_HANDLE,
                    "the engine was destroyed (sci_infer_engine_destroy); create a new one");
    case HandleState::Closed:
      if (need == Need::Open)
        return record(h, function, SCI_INFER_ERR_CLOSED,
                      "the engine is closed (sci_infer_engine_close); only sci_infer_engine_destroy remains");
      break;
    case HandleState::Open: break;
  }
  try {
    body(*h);
    h->last_error.clear();
    return SCI_INFER_OK;
  } catch (const Failure& f) {
    return record(h, function, f.status, f.message);
  } catch (...) {
    const auto [status, message] = current_exception_status(SCI_INFER_ERR_INTERNAL);
    return record(h, function, status, message);
  }
}

}  // namespace sci_infer::capi
