#pragma once
// Checks of the output path before anything is removed or written (prepare_output): an output
// must never be, or replace, a file the job reads (input, model, a tensor-parallel shard) or a
// non-regular file (a device such as /dev/null, a fifo, a directory), and --overwrite may only
// replace a previous output of sci-infer. Each check throws Error naming both paths.
#include <string>
#include <vector>

namespace sci_infer::cli {

struct ProtectedFile {
  std::string role;  // "input", "model", "model shard 1", ...
  std::string path;
};

// `output` (if it exists) must be a regular file other than every file in `protect`; the same
// for each file in the journal directory `journal_dir` (if it exists, it must be a directory).
void check_output_path(const std::string& output, const std::string& journal_dir,
                       const std::vector<ProtectedFile>& protect);

// True if `path` is an HDF5 file written by sci-infer (root attribute sci_infer.version).
bool is_sci_infer_output(const std::string& path);

}  // namespace sci_infer::cli
