#include "output_paths.hpp"

#include <hdf5.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "io/hdf5_util.hpp"
#include "sci_infer/error.hpp"

namespace sci_infer::cli {
namespace {

bool same_file(const struct stat& a, const struct stat& b) { return a.st_dev == b.st_dev && a.st_ino == b.st_ino; }

const char* kind_of(mode_t m) {
  if (S_ISDIR(m)) return "a directory";
  if (S_ISCHR(m)) return "a character device";
  if (S_ISBLK(m)) return "a block device";
  if (S_ISFIFO(m)) return "a fifo";
  if (S_ISSOCK(m)) return "a socket";
  return "not a regular file";
}

// `path` exists: it must be a regular file (symbolic links followed) that is none of `protect`.
void check_one(const std::string& output, const std::string& path, const std::vector<ProtectedFile>& protect) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return;  // a dangling link or nothing: nothing to protect
    throw Error(output + ": cannot inspect " + path + ": " + std::strerror(errno));
  }
  const std::string what = path == output ? "the output" : path;
  if (!S_ISREG(st.st_mode))
    throw Error(output + ": " + what + " is " + kind_of(st.st_mode) +
                "; an output (and its journal files) must be a regular file, nothing else is ever replaced");
  for (const ProtectedFile& p : protect) {
    struct stat other {};
    if (::stat(p.path.c_str(), &other) == 0 && same_file(st, other))
      throw Error(output + ": " + what + " is the job's " + p.role + " (" + p.path +
                  "); choose an output path that is not one of the job's own files");
  }
}

}  // namespace

void check_output_path(const std::string& output, const std::string& journal_dir,
                       const std::vector<ProtectedFile>& protect) {
  namespace fs = std::filesystem;
  check_one(output, output, protect);
  std::error_code ec;
  const fs::file_status js = fs::status(journal_dir, ec);
  if (ec || !fs::exists(js)) return;
  if (!fs::is_directory(js))
    throw Error(output + ": " + journal_dir + " exists but is not a journal directory; remove or rename it");
  for (const fs::directory_entry& e : fs::directory_iterator(journal_dir, ec)) {
    if (e.is_symlink() || !e.is_regular_file())
      throw Error(output + ": " + e.path().string() +
                  " in the journal directory is not a regular file; a journal directory holds only journal files");
    check_one(output, e.path().string(), protect);
  }
  if (ec) throw Error(output + ": cannot list " + journal_dir + ": " + ec.message());
}

bool is_sci_infer_output(const std::string& path) {
  h5::QuietErrors quiet;
  if (H5Fis_hdf5(path.c_str()) <= 0) return false;
  const hid_t file = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  if (file < 0) return false;
  const bool ours = H5Aexists(file, "sci_infer.version") > 0 && H5Lexists(file, "results", H5P_DEFAULT) > 0;
  H5Fclose(file);
  return ours;
}

}  // namespace sci_infer::cli
