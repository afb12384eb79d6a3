#pragma once
// One job per output: rank 0 holds an advisory lock on "<output>.lock" for the job's whole life,
// taken before anything of the output is removed or written. A second job on the same output
// (whatever its options: --resume, --overwrite) is refused, with the holder's host and pid,
// which the lock file holds as text.
//
// The lock is an open-file-description lock (fcntl F_OFD_SETLK; POSIX F_SETLK where OFD locks
// are missing): it works on NFS (through lockd) and Lustre/GPFS mounted with locking, and the
// kernel drops it when the process dies, so a killed job leaves no stale lock, only the file.
// The holder removes the file when it ends; a taker checks after locking that the path still
// names the file it locked, so a remove racing with a new job cannot let two jobs in.
#include <string>

namespace sci_infer::cli {

class OutputLock {
 public:
  OutputLock() = default;
  // Takes the lock of `output` or throws Error: held by another job (names host and pid), or
  // the lock file cannot be created (read-only or missing directory, permissions).
  explicit OutputLock(const std::string& output);
  ~OutputLock();  // removes the lock file and releases the lock
  OutputLock(OutputLock&& other) noexcept;
  OutputLock& operator=(OutputLock&& other) noexcept;
  OutputLock(const OutputLock&) = delete;
  OutputLock& operator=(const OutputLock&) = delete;

  bool held() const { return fd_ >= 0; }
  const std::string& path() const { return path_; }
  void release();

 private:
  std::string path_;
  int fd_ = -1;
};

std::string lock_path_for_output(const std::string& output);  // "<output>.lock"

}  // namespace sci_infer::cli
