/* SPDX-License-Identifier: MIT */
/*
 * sysprobe: a dynamically linked client that reaches a device with
 * syscall(2) alone (as Rust's std and some libraries do), so that only
 * the shim's syscall() wrapper can see it.  It writes TEXT, asks
 * FIONREAD, reads it back and closes, one line each:
 *
 *   sysprobe PATH TEXT   -> "open=ok", "write=N", "fionread=N",
 *                           "read=N data=...", "close=0"
 * Any failure prints "STEP=-1 errno=N" and exits 1.  Then calls that are
 * no device's, which the wrapper passes straight on, one line:
 *   "plain getppid=ok enosys=ok esrch=ok six=ok six_einval=ok"
 * (an unknown number is ENOSYS, kill of no process ESRCH, errno as the
 * kernel says; process_vm_readv's sixth argument, flags, arrives: 0
 * copies, 1 is EINVAL).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

static long check(const char *what, long r)
{
	if (r < 0) {
		printf("%s=-1 errno=%d\n", what, errno);
		_exit(1);
	}
	return r;
}

static const char *ok(bool good)
{
	return good ? "ok" : "BAD";
}

static void plain(void)
{
	char src[4] = "six", dst[4] = "";
	struct iovec l = {dst, 3}, r = {src, 3};
	bool enosys, esrch, six, einval;

	errno = 0;
	enosys = syscall(9999, 1, 2, 3) == -1 && errno == ENOSYS;
	errno = 0;
	esrch = syscall(SYS_kill, INT_MAX, 0) == -1 && errno == ESRCH;
	six = syscall(SYS_process_vm_readv, getpid(), &l, 1, &r, 1, 0) == 3 && !strcmp(dst, "six");
	errno = 0;
	einval = syscall(SYS_process_vm_readv, getpid(), &l, 1, &r, 1, 1) == -1 && errno == EINVAL;
	printf("plain getppid=%s enosys=%s esrch=%s six=%s six_einval=%s\n",
	       ok(syscall(SYS_getppid) == getppid()), ok(enosys), ok(esrch), ok(six), ok(einval));
}

int main(int argc, char **argv)
{
	char buf[256];
	long fd, n;
	int avail = -1;

	if (argc != 3) {
		fprintf(stderr, "usage: sysprobe PATH TEXT\n");
		return 2;
	}
	fd = check("open", syscall(SYS_openat, AT_FDCWD, argv[1], O_RDWR | O_CLOEXEC, 0));
	printf("open=ok\n");
	printf("write=%ld\n", check("write", syscall(SYS_write, fd, argv[2], strlen(argv[2]))));
	check("fionread", syscall(SYS_ioctl, fd, FIONREAD, &avail));
	printf("fionread=%d\n", avail);
	n = check("read", syscall(SYS_read, fd, buf, sizeof(buf)));
	printf("read=%ld data=%.*s\n", n, (int)n, buf);
	printf("close=%ld\n", check("close", syscall(SYS_close, fd)));
	plain();
	return 0;
}
