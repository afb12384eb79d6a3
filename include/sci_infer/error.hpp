#pragma once
// One exception type for everything the library reports to its caller. The message always
// names what failed and where (file, dataset, record, tensor) so a batch log is actionable.
#include <stdexcept>
#include <string>

namespace sci_infer {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace sci_infer
