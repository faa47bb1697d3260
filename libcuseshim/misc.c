/* SPDX-License-Identifier: MIT */
/* What a CUSE file does with the rest of the file API (fs/fuse/cuse.c
 * cuse_frontend_fops): lseek is noop_llseek, there is no mmap, no fsync. */
#include <sys/mman.h>

#include "shim_i.h"

#define LSEEK_WRAPPER(name)                                                                        \
	SHIM_EXPORT off_t name(int fd, off_t off, int whence)                                      \
	{                                                                                          \
		if (__builtin_expect(!shim_fd_dev(fd), 1))                                         \
			return REAL(name)(fd, off, whence);                                        \
		return 0; /* the position never moves from 0 */                                    \
	}

LSEEK_WRAPPER(lseek)
LSEEK_WRAPPER(lseek64)

#define MMAP_WRAPPER(name)                                                                         \
	SHIM_EXPORT void *name(void *addr, size_t len, int prot, int flags, int fd, off_t off)     \
	{                                                                                          \
		if (__builtin_expect((flags & MAP_ANONYMOUS) || !shim_fd_dev(fd), 1))              \
			return REAL(name)(addr, len, prot, flags, fd, off);                        \
		errno = ENODEV;                                                                    \
		return MAP_FAILED;                                                                 \
	}

MMAP_WRAPPER(mmap)
MMAP_WRAPPER(mmap64)

#define FSYNC_WRAPPER(name)                                                                        \
	SHIM_EXPORT int name(int fd)                                                               \
	{                                                                                          \
		if (__builtin_expect(!shim_fd_dev(fd), 1))                                         \
			return REAL(name)(fd);                                                     \
		return (int)shim_ret(-EINVAL);                                                     \
	}

FSYNC_WRAPPER(fsync)
FSYNC_WRAPPER(fdatasync)
