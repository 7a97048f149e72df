// make test-faults: a full file system for one folder, on demand. Preloaded into the server
// (LD_PRELOAD), it makes write(), pwrite() and writev() (and fallocate(), should the content store ever
// reserve space) fail with ENOSPC for regular files under $FAULTS_ENOSPC_DIR while the file
// $FAULTS_ENOSPC_TRIGGER exists, so that the lane can fill the content store's disk and empty it again
// without a restart. Everything else passes through untouched.
// Built by scripts/test-faults: cc -shared -fPIC -O2 -o enospc.so enospc.c -ldl
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

// Whether a write to fd must fail: a regular file under the folder, while the trigger exists.
static int full(int fd) {
  const char* dir = getenv("FAULTS_ENOSPC_DIR");
  const char* trigger = getenv("FAULTS_ENOSPC_TRIGGER");
  if (!dir || !*dir || !trigger || !*trigger) return 0;
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) return 0;  // sockets, pipes, terminals: never
  char link[64], path[4096];
  snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  const ssize_t n = readlink(link, path, sizeof path - 1);
  if (n <= 0) return 0;
  path[n] = '\0';
  const size_t len = strlen(dir);
  if (strncmp(path, dir, len) != 0 || (path[len] != '/' && path[len] != '\0')) return 0;
  return access(trigger, F_OK) == 0;
}

#define NEXT(name) static __typeof__(name)* next; if (!next) next = (__typeof__(name)*)dlsym(RTLD_NEXT, #name)

ssize_t write(int fd, const void* buf, size_t count) {
  NEXT(write);
  if (count > 0 && full(fd)) { errno = ENOSPC; return -1; }
  return next(fd, buf, count);
}

ssize_t pwrite(int fd, const void* buf, size_t count, off_t offset) {
  NEXT(pwrite);
  if (count > 0 && full(fd)) { errno = ENOSPC; return -1; }
  return next(fd, buf, count, offset);
}

ssize_t pwrite64(int fd, const void* buf, size_t count, off64_t offset) {
  NEXT(pwrite64);
  if (count > 0 && full(fd)) { errno = ENOSPC; return -1; }
  return next(fd, buf, count, offset);
}

ssize_t writev(int fd, const struct iovec* iov, int iovcnt) {
  NEXT(writev);
  if (iovcnt > 0 && full(fd)) { errno = ENOSPC; return -1; }
  return next(fd, iov, iovcnt);
}

int fallocate(int fd, int mode, off_t offset, off_t len) {
  NEXT(fallocate);
  if (full(fd)) { errno = ENOSPC; return -1; }
  return next(fd, mode, offset, len);
}

int posix_fallocate(int fd, off_t offset, off_t len) {
  NEXT(posix_fallocate);
  if (full(fd)) return ENOSPC;  // posix_fallocate answers the error instead of setting errno
  return next(fd, offset, len);
}
