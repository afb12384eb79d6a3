#include "sci_infer/records.hpp"

namespace sci_infer {

const char* finish_reason_name(FinishReason r) {
  switch (r) {
    case FinishReason::Stop: return "stop";
    case FinishReason::Length: return "length";
    case FinishReason::Error: return "error";
    case FinishReason::None: break;
  }
  return "";
}

}  // namespace sci_infer
