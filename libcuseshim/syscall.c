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
#include <sys/file.h>
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

/*
 * The system calls that may reach a device: by a path, or by an fd as
 * first argument (mmap: the fifth).  Every other one goes straight to the
 * kernel, without a look at its arguments.
 */
#define SYSCALL_TABLE 512
__attribute__((visibility("hidden"), used)) const unsigned char shim_syscall_ours[SYSCALL_TABLE] = {
	[SYS_open] = 1,	       [SYS_creat] = 1,	    [SYS_openat] = 1,	  [SYS_openat2] = 1,
	[SYS_stat] = 1,	       [SYS_lstat] = 1,	    [SYS_newfstatat] = 1, [SYS_statx] = 1,
	[SYS_access] = 1,      [SYS_faccessat] = 1, [SYS_faccessat2] = 1, [SYS_close] = 1,
	[SYS_close_range] = 1, [SYS_read] = 1,	    [SYS_write] = 1,	  [SYS_pread64] = 1,
	[SYS_pwrite64] = 1,    [SYS_readv] = 1,	    [SYS_writev] = 1,	  [SYS_ioctl] = 1,
	[SYS_fstat] = 1,       [SYS_lseek] = 1,	    [SYS_fcntl] = 1,	  [SYS_dup] = 1,
	[SYS_dup2] = 1,	       [SYS_dup3] = 1,	    [SYS_fsync] = 1,	  [SYS_fdatasync] = 1,
	[SYS_mmap] = 1,	       [SYS_sendfile] = 1,  [SYS_splice] = 1,	  [SYS_copy_file_range] = 1,
	[SYS_flock] = 1,
};

_Static_assert(SYSCALL_TABLE == 512, "the assembly below says 512");
long shim_syscall_slow(long nr, ...);
long shim_syscall_fail(int err);

#if defined(__x86_64__)
/*
 * syscall() itself, in assembly as glibc's is: a number not in the table
 * is one `syscall` instruction with the arguments moved into place, and
 * -1/errno for an error (shim_syscall_fail); one in the table goes, every
 * register as the caller left it (%al included, for the variadic call),
 * to shim_syscall_slow.  That keeps the non-device call at glibc's cost.
 */
__asm__(".text\n"
	".globl syscall\n"
	".type syscall, @function\n"
	"syscall:\n"
#ifdef __CET__
	"	endbr64\n"
#endif
	"	cmpq $512, %rdi\n" /* SYSCALL_TABLE */
	"	jae 1f\n"
	"	leaq shim_syscall_ours(%rip), %r11\n"
	"	cmpb $0, (%r11,%rdi)\n"
	"	jne shim_syscall_slow\n"
	"1:	movq %rdi, %rax\n"
	"	movq %rsi, %rdi\n"
	"	movq %rdx, %rsi\n"
	"	movq %rcx, %rdx\n"
	"	movq %r8, %r10\n"
	"	movq %r9, %r8\n"
	"	movq 8(%rsp), %r9\n"
	"	syscall\n"
	"	cmpq $-4095, %rax\n"
	"	jae 2f\n"
	"	ret\n"
	"2:	negl %eax\n"
	"	movl %eax, %edi\n"
	"	jmp shim_syscall_fail\n"
	".size syscall, .-syscall\n");

__attribute__((visibility("hidden"), used)) long shim_syscall_fail(int err)
{
	errno = err;
	return -1;
}

__attribute__((visibility("hidden"), used)) TAKES_SIX_ARGS long shim_syscall_slow(long nr, ...)
#else
SHIM_EXPORT TAKES_SIX_ARGS long syscall(long nr, ...)
#endif
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
	case SYS_sendfile: return sendfile((int)a[0], (int)a[1], (off_t *)a[2], (size_t)a[3]);
	case SYS_splice:
		return splice((int)a[0], (loff_t *)a[1], (int)a[2], (loff_t *)a[3], (size_t)a[4],
			      (unsigned)a[5]);
	case SYS_copy_file_range:
		return copy_file_range((int)a[0], (off64_t *)a[1], (int)a[2], (off64_t *)a[3],
				       (size_t)a[4], (unsigned)a[5]);
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
		case SYS_flock: return flock((int)a[0], (int)a[1]);
		default: break;
		}
	}
	if (nr == SYS_mmap && dev_fd(a[4]) && !((int)a[3] & MAP_ANONYMOUS))
		return (long)mmap((void *)a[0], (size_t)a[1], (int)a[2], (int)a[3], (int)a[4],
				  (off_t)a[5]);
	return REAL(syscall)(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
}
