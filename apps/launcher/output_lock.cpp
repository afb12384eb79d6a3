#include "output_lock.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "sci_infer/error.hpp"

namespace sci_infer::cli {
namespace {

#ifdef F_OFD_SETLK
constexpr int kSetLock = F_OFD_SETLK;  // per open file: two opens in one process conflict too
#else
constexpr int kSetLock = F_SETLK;
#endif

bool try_lock(int fd) {
  struct flock fl {};
  fl.l_type = F_WRLCK;
  fl.l_whence = SEEK_SET;  // l_start = l_len = 0: the whole file
  return ::fcntl(fd, kSetLock, &fl) == 0;
}

std::string read_holder(int fd) {
  char buf[512] = {};
  const ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
  std::string s(buf, n > 0 ? size_t(n) : 0);
  while (!s.empty() && (s.back() == '\n' || s.back() == '\0')) s.pop_back();
  return s.empty() ? "an unknown job (the lock file names no holder yet)" : s;
}

std::string host_name() {
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0) return "unknown-host";
  return host;
}

}  // namespace

std::string lock_path_for_output(const std::string& output) { return output + ".lock"; }

OutputLock::OutputLock(const std::string& output) : path_(lock_path_for_output(output)) {
  for (int attempt = 0; attempt < 8; ++attempt) {
    const int fd = ::open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0) {
      const int e = errno;
      throw Error(output + ": cannot create the output's lock file " + path_ + ": " + std::strerror(e) +
                  (e == EROFS || e == EACCES || e == EPERM ? " (the output directory must be writable)" : ""));
    }
    if (!try_lock(fd)) {
      const int e = errno;
      const std::string holder = read_holder(fd);
      ::close(fd);
      if (e == EAGAIN || e == EACCES)
        throw Error(output + ": the output is in use by another job (" + holder + ", lock file " + path_ +
                    "); wait for it to end, or choose another output");
      throw Error(output + ": cannot lock " + path_ + ": " + std::strerror(e) +
                  " (does this file system support fcntl locks?)");
    }
    // The holder removes the file when it ends: if that happened between our open and our lock,
    // we hold a lock on a removed file, and a third job could lock a new one. Retry then.
    struct stat by_fd {}, by_name {};
    if (::fstat(fd, &by_fd) == 0 && ::stat(path_.c_str(), &by_name) == 0 && by_fd.st_dev == by_name.st_dev &&
        by_fd.st_ino == by_name.st_ino) {
      const std::string text = "host " + host_name() + " pid " + std::to_string(::getpid()) + "\n";
      if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, text.data(), text.size(), 0) != ssize_t(text.size())) {
        const int e = errno;
        ::close(fd);
        throw Error(output + ": cannot write the output's lock file " + path_ + ": " + std::strerror(e));
      }
      fd_ = fd;
      return;
    }
    ::close(fd);
  }
  throw Error(output + ": cannot lock " + path_ + ": it keeps being replaced (another job starting or ending?)");
}

void OutputLock::release() {
  if (fd_ < 0) return;
  ::unlink(path_.c_str());  // while still holding the lock: see the constructor's check
  ::close(fd_);
  fd_ = -1;
}

OutputLock::~OutputLock() { release(); }

OutputLock::OutputLock(OutputLock&& other) noexcept : path_(std::move(other.path_)), fd_(other.fd_) {
  other.fd_ = -1;
}

OutputLock& OutputLock::operator=(OutputLock&& other) noexcept {
  if (this != &other) {
    release();
    path_ = std::move(other.path_);
    fd_ = other.fd_;
    other.fd_ = -1;
  }
  return *this;
}

}  // namespace sci_infer::cli
