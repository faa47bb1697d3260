/* SPDX-License-Identifier: MIT */
/*
 * syscall(2): programs (and Rust's std, and libraries that want a call
 * glibc does not wrap) issue syscall(SYS_openat, ...) and friends, which
 * no other wrapper sees.  Those that can touch a device go to the shim's
 * wrappers, which keep the same -1/errno convention; a call on an fd that
 * is not a device is made exactly as asked.
 */
#define SHIM_SYSCALL_C
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdarg.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/uio.h>

#include "shim_i.h"

/* Six arguments are taken whatever the caller passed, as glibc's own
 * syscall() does: the last ones may be the caller's stack beyond its
 * arguments, which ASan would call an underflow. */
#define TAKES_SIX_ARGS __attribute__((no_sanitize_address))

TAKES_SIX_ARGS long shim_raw_syscall(long nr, ...)
{
	va_list ap;
	long a[6];
	int i;

	va_start(ap, nr);
	for (i = 0; i < 6; i++)
		a[i] = va_arg(ap, long); /* as many as the kernel may read */
	va_end(ap);
	return REAL(syscall)(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
}

/* For calls whose first argument is an fd: a device? */
static bool dev_fd(long fd)
{
	return fd >= 0 && fd <= INT32_MAX && shim_fd_get((int)fd) != NULL;
}

SHIM_EXPORT TAKES_SIX_ARGS long syscall(long nr, ...)
{
	va_list ap;
	long a[6];
	int i;

	va_start(ap, nr);
	for (i = 0; i < 6; i++)
		a[i] = va_arg(ap, long);
	va_end(ap);
	switch (nr) {
	case SYS_open: return open((const char *)a[0], (int)a[1], (mode_t)a[2]);
	case SYS_creat: return creat((const char *)a[0], (mode_t)a[1]);
	case SYS_openat: return openat((int)a[0], (const char *)a[1], (int)a[2], (mode_t)a[3]);
	case SYS_openat2: {
		const struct open_how *how = (const void *)a[2];
		char abs[PATH_MAX];
		const char *p = (const char *)a[1];
		struct shim_dev *dev;

		/* only a device path is ours; everything else as asked */
		if (how && a[3] >= (long)sizeof(*how) && p &&
		    (shim_path_absolute((int)a[0], p, abs, sizeof(abs)) ? (p = abs) : p) &&
		    shim_path_candidate(p) && shim_path_lookup(AT_FDCWD, p, &dev) > 0)
			return shim_ret(shim_open_device(dev, (int)how->flags));
		break;
	}
	case SYS_stat: return stat((const char *)a[0], (struct stat *)a[1]);
	case SYS_lstat: return lstat((const char *)a[0], (struct stat *)a[1]);
	case SYS_newfstatat:
		return fstatat((int)a[0], (const char *)a[1], (struct stat *)a[2], (int)a[3]);
	case SYS_statx:
		return statx((int)a[0], (const char *)a[1], (int)a[2], (unsigned)a[3],
			     (struct statx *)a[4]);
	case SYS_access: return access((const char *)a[0], (int)a[1]);
	case SYS_faccessat:
	case SYS_faccessat2:
		return faccessat((int)a[0], (const char *)a[1], (int)a[2],
				 nr == SYS_faccessat2 ? (int)a[3] : 0);
	case SYS_close: return close((int)a[0]);
	case SYS_close_range: return close_range((unsigned)a[0], (unsigned)a[1], (int)a[2]);
	default: break;
	}
	if (dev_fd(a[0])) {
		switch (nr) {
		case SYS_read: return read((int)a[0], (void *)a[1], (size_t)a[2]);
		case SYS_write: return write((int)a[0], (const void *)a[1], (size_t)a[2]);
		case SYS_pread64: return pread((int)a[0], (void *)a[1], (size_t)a[2], (off_t)a[3]);
		case SYS_pwrite64:
			return pwrite((int)a[0], (const void *)a[1], (size_t)a[2], (off_t)a[3]);
		case SYS_readv: return readv((int)a[0], (const struct iovec *)a[1], (int)a[2]);
		case SYS_writev: return writev((int)a[0], (const struct iovec *)a[1], (int)a[2]);
		case SYS_ioctl: return ioctl((int)a[0], (unsigned long)a[1], (void *)a[2]);
		case SYS_fstat: return fstat((int)a[0], (struct stat *)a[1]);
		case SYS_lseek: return lseek((int)a[0], (off_t)a[1], (int)a[2]);
		case SYS_fcntl: return fcntl((int)a[0], (int)a[1], (void *)a[2]);
		case SYS_dup: return dup((int)a[0]);
		case SYS_dup2: return dup2((int)a[0], (int)a[1]);
		case SYS_dup3: return dup3((int)a[0], (int)a[1], (int)a[2]);
		case SYS_fsync: return fsync((int)a[0]);
		case SYS_fdatasync: return fdatasync((int)a[0]);
		default: break;
		}
	}
	if (nr == SYS_mmap && dev_fd(a[4]) && !((int)a[3] & MAP_ANONYMOUS))
		return (long)mmap((void *)a[0], (size_t)a[1], (int)a[2], (int)a[3], (int)a[4],
				  (off_t)a[5]);
	return REAL(syscall)(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
}
