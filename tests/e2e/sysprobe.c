/* SPDX-License-Identifier: MIT */
/*
 * sysprobe: a dynamically linked client that reaches a device with
 * syscall(2) alone (as Rust's std and some libraries do), so that only
 * the shim's syscall() wrapper can see it.  It writes TEXT, asks
 * FIONREAD, reads it back and closes, one line each:
 *
 *   sysprobe PATH TEXT   -> "open=ok", "write=N", "fionread=N",
 *                           "read=N data=...", "close=0"
 * Any failure prints "STEP=-1 errno=N" and exits 1.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

static long check(const char *what, long r)
{
	if (r < 0) {
		printf("%s=-1 errno=%d\n", what, errno);
		_exit(1);
	}
	return r;
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
	return 0;
}
