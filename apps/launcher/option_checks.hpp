#pragma once
// CLI11 validators for numeric options: each refuses a value outside its range (NaN and
// infinities included) with a message that names the allowed range; CLI11 prefixes the option's
// name ("--top-p: 2 is not in (0, 1]"). They run on command-line values and on values read from
// a --config file alike, before any work.
#include <CLI/CLI.hpp>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <sstream>
#include <string>

#include "sci_infer/device.hpp"

namespace sci_infer::cli {

inline std::string number_text(double v) {
  std::ostringstream s;
  s.precision(15);
  s << v;
  return s.str();
}

// A finite number in the interval from lo to hi (hi = infinity: no upper bound); `*_open`
// excludes that end. `why` explains a bound that is not obvious.
inline CLI::Validator in_range(double lo, bool lo_open, double hi = std::numeric_limits<double>::infinity(),
                               bool hi_open = false, const std::string& why = "") {
  std::string range;
  if (std::isinf(hi))
    range = (lo_open ? "> " : ">= ") + number_text(lo);
  else
    range = std::string("in ") + (lo_open ? "(" : "[") + number_text(lo) + ", " + number_text(hi) + (hi_open ? ")" : "]");
  return CLI::Validator(
      [=](std::string& text) -> std::string {
        const char* s = text.c_str();
        char* end = nullptr;
        errno = 0;
        const double v = std::strtod(s, &end);
        // Not a number at all: the option's own conversion reports it.
        if (end == s || *end != '\0') return std::string();
        if (!std::isfinite(v) || errno == ERANGE) return text + " is not a finite number (must be " + range + ")";
        const bool ok = (lo_open ? v > lo : v >= lo) && (hi_open ? v < hi : v <= hi);
        return ok ? std::string() : text + " is out of range: must be " + range + (why.empty() ? "" : " (" + why + ")");
      },
      range);
}

// --device: "auto" or an index this process can use; with "auto", SCI_INFER_DEVICE is checked.
inline CLI::Validator device_index() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        try {
          check_device(parse_device(text, ""), "");
          return std::string();
        } catch (const std::exception& e) {
          const char* env = std::getenv("SCI_INFER_DEVICE");
          return std::string(e.what()) + (env && text == env ? " (the value of SCI_INFER_DEVICE)" : "");
        }
      },
      "auto|N");
}

}  // namespace sci_infer::cli
