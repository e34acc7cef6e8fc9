/*
 * unimem's C header layer: <fcntl.h> with Linux's O_* values. wasi-libc
 * numbers the open flags its own way (WASI rights and oflags); a unimem
 * process is a Linux process, so open() passes the program's flags to the
 * simulated kernel as Linux reads them. F_* and FD_CLOEXEC already agree.
 */
#ifndef UNIMEM_FCNTL_H
#define UNIMEM_FCNTL_H
#include_next <fcntl.h>
#undef O_ACCMODE
#undef O_RDONLY
#undef O_WRONLY
#undef O_RDWR
#undef O_CREAT
#undef O_EXCL
#undef O_NOCTTY
#undef O_TRUNC
#undef O_APPEND
#undef O_NONBLOCK
#undef O_DSYNC
#undef O_SYNC
#undef O_RSYNC
#undef O_DIRECTORY
#undef O_NOFOLLOW
#undef O_CLOEXEC
#undef O_PATH
#undef O_SEARCH
#undef O_EXEC
#undef O_TMPFILE
#undef O_NDELAY
#define O_ACCMODE 00000003
#define O_RDONLY 00000000
#define O_WRONLY 00000001
#define O_RDWR 00000002
#define O_CREAT 00000100
#define O_EXCL 00000200
#define O_NOCTTY 00000400
#define O_TRUNC 00001000
#define O_APPEND 00002000
#define O_NONBLOCK 00004000
#define O_NDELAY O_NONBLOCK
#define O_DSYNC 00010000
#define O_DIRECTORY 00200000
#define O_NOFOLLOW 00400000
#define O_CLOEXEC 02000000
#define O_SYNC 04010000
#define O_RSYNC O_SYNC
#define O_PATH 010000000
#define O_SEARCH O_PATH
#define O_EXEC O_PATH
#define O_TMPFILE 020200000
/* file sealing (memfd), as <linux/fcntl.h> */
#ifndef F_ADD_SEALS
#define F_LINUX_SPECIFIC_BASE 1024
#define F_ADD_SEALS (F_LINUX_SPECIFIC_BASE + 9)
#define F_GET_SEALS (F_LINUX_SPECIFIC_BASE + 10)
#define F_SEAL_SEAL 0x0001
#define F_SEAL_SHRINK 0x0002
#define F_SEAL_GROW 0x0004
#define F_SEAL_WRITE 0x0008
#define F_SEAL_FUTURE_WRITE 0x0010
#endif
#endif
