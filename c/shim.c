/*
 * unimem's C shim: the Linux calls wasi-libc lacks or gives WASI meaning
 * (open with Linux flags, ioctl, mmap, the directory calls, getpid, the
 * program break) as imports of the simulated kernel ("unimem" module).
 * Linked before libc, so these definitions replace libc's. Each import
 * returns what the Linux system call returns: a value, or -errno (errno
 * already numbered as wasi-libc numbers it, so strerror and comparisons
 * with EINVAL agree). read, write, close and lseek stay libc's: they reach
 * the same kernel through the WASI calls the host implements.
 */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <sys/stat.h>
#include <poll.h>

#define IMPORT(n) __attribute__((import_module("unimem"), import_name(#n)))

IMPORT(open) int32_t unimem_open(const char *path, int32_t flags, int32_t mode);
IMPORT(ioctl) int32_t unimem_ioctl(int32_t fd, uint32_t req, uint32_t arg);
IMPORT(mmap) int32_t unimem_mmap(uint32_t addr, uint32_t len, int32_t prot, int32_t flags, int32_t fd, int64_t off);
IMPORT(munmap) int32_t unimem_munmap(uint32_t addr, uint32_t len);
IMPORT(mprotect) int32_t unimem_mprotect(uint32_t addr, uint32_t len, int32_t prot);
IMPORT(getdents64) int32_t unimem_getdents64(int32_t fd, void *buf, uint32_t count);
IMPORT(getpid) int32_t unimem_getpid(void);
IMPORT(brk_grow) int32_t unimem_brk_grow(uint32_t pages);
IMPORT(fork) int32_t unimem_fork(void);
IMPORT(wait) int32_t unimem_wait(int32_t pid, int32_t *status);
IMPORT(socketpair) int32_t unimem_socketpair(int32_t type, int32_t *sv);
IMPORT(sendmsg) int32_t unimem_sendmsg(int32_t fd, const struct msghdr *msg, int32_t flags);
IMPORT(recvmsg) int32_t unimem_recvmsg(int32_t fd, struct msghdr *msg, int32_t flags);
IMPORT(getauxval) uint32_t unimem_getauxval(uint32_t type);
IMPORT(fcntl) int32_t unimem_fcntl(int32_t fd, int32_t cmd, int32_t arg);
IMPORT(memfd_create) int32_t unimem_memfd_create(const char *name, uint32_t flags);
IMPORT(ftruncate) int32_t unimem_ftruncate(int32_t fd, int64_t length);
IMPORT(pipe2) int32_t unimem_pipe2(int32_t *fds, int32_t flags);
IMPORT(poll) int32_t unimem_poll(struct pollfd *fds, uint32_t nfds, int32_t timeout);
/* stat of a path (lstat with nofollow), or fstat of fd when path is NULL */
IMPORT(stat) int32_t unimem_stat(int32_t fd, const char *path, int32_t nofollow, void *out);

/* A Linux return value: -4095..-1 is -errno. */
static long sysret(long r) {
  if (r < 0 && r > -4096) {
    errno = (int)-r;
    return -1;
  }
  return r;
}

int open(const char *path, int flags, ...) {
  int mode = 0;
  if ((flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE) {
    va_list ap;
    va_start(ap, flags);
    mode = va_arg(ap, int);
    va_end(ap);
  }
  return (int)sysret(unimem_open(path, flags, mode));
}

int ioctl(int fd, unsigned long request, ...) {
  va_list ap;
  va_start(ap, request);
  void *arg = va_arg(ap, void *);
  va_end(ap);
  return (int)sysret(unimem_ioctl(fd, (uint32_t)request, (uint32_t)(uintptr_t)arg));
}

void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off) {
  int32_t r = unimem_mmap((uint32_t)(uintptr_t)addr, (uint32_t)len, prot, flags, fd, (int64_t)off);
  if (r < 0 && r > -4096) {
    errno = -r;
    return MAP_FAILED;
  }
  return (void *)(uintptr_t)(uint32_t)r;
}

int munmap(void *addr, size_t len) {
  return (int)sysret(unimem_munmap((uint32_t)(uintptr_t)addr, (uint32_t)len));
}

int mprotect(void *addr, size_t len, int prot) {
  return (int)sysret(unimem_mprotect((uint32_t)(uintptr_t)addr, (uint32_t)len, prot));
}

int fcntl(int fd, int cmd, ...) {
  va_list ap;
  va_start(ap, cmd);
  int arg = va_arg(ap, int);
  va_end(ap);
  return (int)sysret(unimem_fcntl(fd, cmd, arg));
}

int ftruncate(int fd, off_t length) {
  return (int)sysret(unimem_ftruncate(fd, (int64_t)length));
}

int pipe2(int fds[2], int flags) {
  return (int)sysret(unimem_pipe2(fds, flags));
}

int pipe(int fds[2]) {
  return pipe2(fds, 0);
}

/* poll with Linux's struct pollfd and POLL* values (unimem's <poll.h>), on any file the kernel polls. */
int poll(struct pollfd *fds, nfds_t nfds, int timeout) {
  return (int)sysret(unimem_poll(fds, (uint32_t)nfds, timeout));
}

/* What the host's stat import writes: Linux's fields at fixed places. */
struct unimem_stat {
  uint32_t mode, nlink, uid, gid;
  uint64_t dev, ino, rdev;
  int64_t size, blksize, blocks;
};

/* The kernel's stat in wasi-libc's struct stat (whose S_IFIFO is not Linux's). */
static int fill_stat(int32_t r, const struct unimem_stat *u, struct stat *st) {
  if (sysret(r) < 0) return -1;
  memset(st, 0, sizeof *st);
  st->st_mode = (u->mode & 0170000) == 0010000 ? (S_IFIFO | (u->mode & 07777)) : u->mode;
  st->st_nlink = u->nlink;
  st->st_uid = u->uid;
  st->st_gid = u->gid;
  st->st_dev = u->dev;
  st->st_ino = u->ino;
  st->st_rdev = u->rdev;
  st->st_size = u->size;
  st->st_blksize = u->blksize;
  st->st_blocks = u->blocks;
  return 0;
}

int stat(const char *restrict path, struct stat *restrict st) {
  struct unimem_stat u;
  return fill_stat(unimem_stat(-1, path, 0, &u), &u, st);
}

int lstat(const char *restrict path, struct stat *restrict st) {
  struct unimem_stat u;
  return fill_stat(unimem_stat(-1, path, 1, &u), &u, st);
}

int fstat(int fd, struct stat *st) {
  struct unimem_stat u;
  return fill_stat(unimem_stat(fd, NULL, 0, &u), &u, st);
}

/* Linux's generic system-call entry, for the calls a program makes by number. */
long syscall(long number, ...) {
  va_list ap;
  va_start(ap, number);
  long r;
  switch (number) {
    case 279: { /* __NR_memfd_create */
      const char *name = va_arg(ap, const char *);
      unsigned flags = va_arg(ap, unsigned);
      r = sysret(unimem_memfd_create(name, flags));
      break;
    }
    default:
      errno = ENOSYS;
      r = -1;
  }
  va_end(ap);
  return r;
}

/* The kernel's page size (AT_PAGESZ), not the wasm page: mmap, madvise and udmabuf count in it. */
int getpagesize(void) {
  return (int)unimem_getauxval(6 /* AT_PAGESZ */);
}

pid_t getpid(void) {
  return unimem_getpid();
}

/*
 * The program break is the end of the wasm memory, which is the process's
 * memory from address 0 up: growing it grows the wasm memory and maps the
 * new pages in the process (the host does both).
 */
void *sbrk(intptr_t increment) {
  if (increment == 0) return (void *)(__builtin_wasm_memory_size(0) * 65536);
  if (increment < 0 || increment % 65536 != 0) {
    errno = EINVAL;
    return (void *)-1;
  }
  int32_t old = unimem_brk_grow((uint32_t)(increment / 65536));
  if (old < 0) {
    errno = ENOMEM;
    return (void *)-1;
  }
  return (void *)((uintptr_t)old * 65536);
}

/* A directory stream over getdents64 (Linux's struct linux_dirent64 records). */
struct _DIR {
  int fd;
  int pos;
  int len;
  struct dirent *ent;
  char buf[2048];
};

DIR *opendir(const char *name) {
  int fd = open(name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return NULL;
  DIR *d = calloc(1, sizeof(DIR));
  if (!d) {
    close(fd);
    return NULL;
  }
  d->fd = fd;
  return d;
}

struct dirent *readdir(DIR *d) {
  if (d->pos >= d->len) {
    long n = sysret(unimem_getdents64(d->fd, d->buf, sizeof d->buf));
    if (n <= 0) return NULL;
    d->len = (int)n;
    d->pos = 0;
  }
  const unsigned char *rec = (const unsigned char *)d->buf + d->pos;
  uint64_t ino;
  uint16_t reclen;
  memcpy(&ino, rec, 8);
  memcpy(&reclen, rec + 16, 2);
  const char *name = (const char *)rec + 19;
  size_t nlen = strlen(name);
  free(d->ent);
  d->ent = malloc(sizeof(struct dirent) + nlen + 1);
  if (!d->ent) return NULL;
  d->ent->d_ino = ino;
  d->ent->d_type = rec[18];
  memcpy(d->ent->d_name, name, nlen + 1);
  d->pos += reclen;
  return d->ent;
}

int closedir(DIR *d) {
  int r = close(d->fd);
  free(d->ent);
  free(d);
  return r;
}

int dirfd(DIR *d) {
  return d->fd;
}

/*
 * fork copies the process, its memory and the program's own state with
 * it: the child returns 0 from here, the parent the child's pid.
 */
pid_t fork(void) {
  return (pid_t)sysret(unimem_fork());
}

pid_t waitpid(pid_t pid, int *status, int options) {
  if (options != 0) {
    errno = EINVAL;
    return -1;
  }
  return (pid_t)sysret(unimem_wait(pid, status));
}

pid_t wait(int *status) {
  return waitpid(-1, status, 0);
}

/* A unix socket pair (unimem's are SOCK_SEQPACKET, message by message, whatever the type asks). */
int socketpair(int domain, int type, int protocol, int sv[2]) {
  if (domain != AF_UNIX || protocol != 0) {
    errno = EAFNOSUPPORT;
    return -1;
  }
  return (int)sysret(unimem_socketpair(type, sv));
}

ssize_t sendmsg(int fd, const struct msghdr *msg, int flags) {
  return sysret(unimem_sendmsg(fd, msg, flags));
}

ssize_t recvmsg(int fd, struct msghdr *msg, int flags) {
  return sysret(unimem_recvmsg(fd, msg, flags));
}

/* What a C program cannot do in unimem yet: Linux's answer for a call the kernel lacks. */
int execv(const char *path, char *const argv[]) {
  (void)path;
  (void)argv;
  errno = ENOSYS;
  return -1;
}

int execve(const char *path, char *const argv[], char *const envp[]) {
  (void)path;
  (void)argv;
  (void)envp;
  errno = ENOSYS;
  return -1;
}

int execvp(const char *file, char *const argv[]) {
  (void)file;
  (void)argv;
  errno = ENOSYS;
  return -1;
}

/* Where errno lives: the host gives each thread its own value, swapped in when the thread enters the instance. */
__attribute__((export_name("unimem_errno_location"))) int *unimem_errno_location(void) {
  return &errno;
}
