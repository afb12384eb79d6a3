// Handle checks, error recording, and the small entry points that only read state.
#include "handle.hpp"

#include "sci_infer/version.hpp"

namespace sci_infer::capi {
namespace {
// The calling thread's last failure: the only place a failed create can leave its message.
// Thread-local, so engines and threads never see each other's messages.
thread_local std::string t_last_error;
}  // namespace

HandleState state_of(const sci_infer_engine* h) {
  if (h == nullptr) return HandleState::Null;
  switch (h->magic) {
    case kMagicOpen: return HandleState::Open;
    case kMagicClosed: return HandleState::Closed;
    case kMagicDestroyed: return HandleState::Destroyed;
    default: return HandleState::Foreign;
  }
}

int record(sci_infer_engine* h, const char* function, int status, const std::string& message) {
  try {
    std::string text = std::string(function) + ": " + message;
    // Not into a destroyed handle: its tombstone stays as small as possible (no string memory).
    const HandleState s = state_of(h);
    if (s == HandleState::Open || s == HandleState::Closed) h->last_error = text;
    t_last_error = std::move(text);
  } catch (...) {
    // Out of memory while building the message: the status still says what happened.
  }
  return status;
}

std::pair<int, std::string> current_exception_status(int status_for_library_errors) {
  try {
    throw;
  } catch (const Failure& f) {
    return {f.status, f.message};
  } catch (const std::bad_alloc&) {
    return {SCI_INFER_ERR_INTERNAL, "out of memory"};
  } catch (const sci_infer::Error& e) {
    return {status_for_library_errors, e.what()};
  } catch (const std::exception& e) {
    return {SCI_INFER_ERR_INTERNAL, std::string("unexpected error: ") + e.what()};
  } catch (...) {
    return {SCI_INFER_ERR_INTERNAL, "unexpected error of unknown type"};
  }
}

}  // namespace sci_infer::capi

using namespace sci_infer::capi;

extern "C" {

const char* sci_infer_version(void) { return sci_infer::kVersion; }

const char* sci_infer_kokkos(void) {
  static const std::string text = sci_infer::kokkos_description();
  return text.c_str();
}

const char* sci_infer_device(void) {
  thread_local std::string text;
  try {
    text = sci_infer::device_description();
  } catch (...) {
    text = "unknown";
  }
  return text.c_str();
}

const char* sci_infer_status_name(int status) {
  switch (status) {
    case SCI_INFER_OK: return "SCI_INFER_OK";
    case SCI_INFER_ERR_HANDLE: return "SCI_INFER_ERR_HANDLE";
    case SCI_INFER_ERR_CLOSED: return "SCI_INFER_ERR_CLOSED";
    case SCI_INFER_ERR_ARGUMENT: return "SCI_INFER_ERR_ARGUMENT";
    case SCI_INFER_ERR_BUFFER_TOO_SMALL: return "SCI_INFER_ERR_BUFFER_TOO_SMALL";
    case SCI_INFER_ERR_LOAD: return "SCI_INFER_ERR_LOAD";
    case SCI_INFER_ERR_MPI: return "SCI_INFER_ERR_MPI";
    case SCI_INFER_ERR_REQUEST: return "SCI_INFER_ERR_REQUEST";
    case SCI_INFER_ERR_INTERNAL: return "SCI_INFER_ERR_INTERNAL";
  }
  return "unknown sci_infer status";
}

const char* sci_infer_last_error(const sci_infer_engine* engine) {
  const HandleState s = state_of(engine);
  if (s == HandleState::Open || s == HandleState::Closed) return engine->last_error.c_str();
  return t_last_error.c_str();
}

}  // extern "C"
