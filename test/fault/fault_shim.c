/* Fault injection for the launcher tests (test/mpi/test_faults.py): an LD_PRELOAD library that
 * makes one libc call fail with a chosen errno, on one rank, for files whose path contains a
 * chosen substring, after a number of successful calls. Configured by the environment:
 *
 *   SCI_FAULT_CALL   write | pwrite | fsync | rename | pread | read  (pwrite also covers
 *                    pwrite64, pread pread64, fsync fdatasync; HDF5's sec2 driver uses
 *                    pread/pwrite, the journal write + fsync, snapshots rename)
 *   SCI_FAULT_ERRNO  EIO | ENOSPC | ENOMEM | EDQUOT | EROFS or a number (default EIO)
 *   SCI_FAULT_RANK   only the process whose PMI_RANK (MPICH, Intel MPI) or OMPI_COMM_WORLD_RANK
 *                    is this; unset: every process (mpiexec itself has no rank: never)
 *   SCI_FAULT_PATH   only files whose path (for a descriptor: /proc/self/fd) contains this
 *   SCI_FAULT_AFTER  let this many matching calls succeed first (default 0); every matching
 *                    call after them fails (a full disk stays full)
 *   SCI_FAULT_DELAY_MS  instead of failing, make each matching call take this much longer
 *                    (a slow file system: keeps a job running while a test looks at it)
 *   SCI_FAULT_LOG    append one line per injected failure to this file, so a test can check
 *                    that its fault really happened (the shim never writes to stderr: a test
 *                    must find the cause in the program's own message)
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

static int g_ready, g_active, g_errno = EIO;
static long g_after, g_delay_ms;
static long g_seen;
static const char *g_call, *g_path, *g_log;

static void init(void) {
  if (g_ready) return;
  g_ready = 1;
  g_call = getenv("SCI_FAULT_CALL");
  if (!g_call || !*g_call) return;
  const char* want_rank = getenv("SCI_FAULT_RANK");
  if (want_rank && *want_rank) {
    const char* rank = getenv("PMI_RANK");
    if (!rank) rank = getenv("OMPI_COMM_WORLD_RANK");
    if (!rank || strcmp(rank, want_rank) != 0) return;
  }
  const char* e = getenv("SCI_FAULT_ERRNO");
  if (e && *e) {
    if (!strcmp(e, "EIO")) g_errno = EIO;
    else if (!strcmp(e, "ENOSPC")) g_errno = ENOSPC;
    else if (!strcmp(e, "ENOMEM")) g_errno = ENOMEM;
    else if (!strcmp(e, "EDQUOT")) g_errno = EDQUOT;
    else if (!strcmp(e, "EROFS")) g_errno = EROFS;
    else g_errno = atoi(e);
  }
  const char* after = getenv("SCI_FAULT_AFTER");
  g_after = after ? atol(after) : 0;
  g_path = getenv("SCI_FAULT_PATH");
  g_log = getenv("SCI_FAULT_LOG");
  const char* delay = getenv("SCI_FAULT_DELAY_MS");
  g_delay_ms = delay ? atol(delay) : 0;
  g_active = 1;
}

static void* next(const char* name) { return dlsym(RTLD_NEXT, name); }

static void log_fault(const char* call, const char* path) {
  if (!g_log) return;
  int (*real_open)(const char*, int, ...) = (int (*)(const char*, int, ...))next("open");
  ssize_t (*real_write)(int, const void*, size_t) = (ssize_t(*)(int, const void*, size_t))next("write");
  int fd = real_open(g_log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return;
  char line[4352];
  int n = snprintf(line, sizeof line, "pid %d: %s(%s) -> %s\n", (int)getpid(), call, path, strerror(g_errno));
  if (n > 0) real_write(fd, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
  close(fd);
}

/* Decides for one call of `call` on `path`: returns 1 (and logs) if it must fail. */
static int should_fail(const char* call, const char* path) {
  init();
  if (!g_active || strcmp(g_call, call) != 0) return 0;
  if (g_path && *g_path && (!path || !strstr(path, g_path))) return 0;
  if (__atomic_fetch_add(&g_seen, 1, __ATOMIC_SEQ_CST) < g_after) return 0;
  if (g_delay_ms > 0) {  /* slow, not failing */
    struct timespec ts = {g_delay_ms / 1000, (g_delay_ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
    return 0;
  }
  log_fault(call, path ? path : "?");
  return 1;
}

static int fd_should_fail(const char* call, int fd) {
  init();
  if (!g_active || strcmp(g_call, call) != 0) return 0;
  char link[64], path[4096];
  snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  ssize_t n = readlink(link, path, sizeof path - 1);
  path[n > 0 ? n : 0] = '\0';
  return should_fail(call, path);
}

ssize_t write(int fd, const void* buf, size_t n) {
  if (fd_should_fail("write", fd)) return errno = g_errno, -1;
  return ((ssize_t(*)(int, const void*, size_t))next("write"))(fd, buf, n);
}

ssize_t pwrite(int fd, const void* buf, size_t n, off_t off) {
  if (fd_should_fail("pwrite", fd)) return errno = g_errno, -1;
  return ((ssize_t(*)(int, const void*, size_t, off_t))next("pwrite"))(fd, buf, n, off);
}

ssize_t pwrite64(int fd, const void* buf, size_t n, off_t off) {
  if (fd_should_fail("pwrite", fd)) return errno = g_errno, -1;
  return ((ssize_t(*)(int, const void*, size_t, off_t))next("pwrite64"))(fd, buf, n, off);
}

ssize_t read(int fd, void* buf, size_t n) {
  if (fd_should_fail("read", fd)) return errno = g_errno, -1;
  return ((ssize_t(*)(int, void*, size_t))next("read"))(fd, buf, n);
}

ssize_t pread(int fd, void* buf, size_t n, off_t off) {
  if (fd_should_fail("pread", fd)) return errno = g_errno, -1;
  return ((ssize_t(*)(int, void*, size_t, off_t))next("pread"))(fd, buf, n, off);
}

ssize_t pread64(int fd, void* buf, size_t n, off_t off) {
  if (fd_should_fail("pread", fd)) return errno = g_errno, -1;
  return ((ssize_t(*)(int, void*, size_t, off_t))next("pread64"))(fd, buf, n, off);
}

int fsync(int fd) {
  if (fd_should_fail("fsync", fd)) return errno = g_errno, -1;
  return ((int (*)(int))next("fsync"))(fd);
}

int fdatasync(int fd) {
  if (fd_should_fail("fsync", fd)) return errno = g_errno, -1;
  return ((int (*)(int))next("fdatasync"))(fd);
}

int rename(const char* from, const char* to) {
  if (should_fail("rename", to)) return errno = g_errno, -1;
  return ((int (*)(const char*, const char*))next("rename"))(from, to);
}
