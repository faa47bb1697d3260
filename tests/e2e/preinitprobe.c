/* SPDX-License-Identifier: MIT */
/*
 * preinitprobe DEV: writes "preinit\n" to DEV from a .preinit_array
 * function, which the dynamic loader runs before any shared library's
 * constructor (the shim's included), then "main\n" from main.  Errors go
 * to stderr and make the exit status 1.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int failed;

static void put(const char *path, const char *who, const char *what)
{
	int fd = open(path, O_WRONLY);

	if (fd < 0 || write(fd, what, strlen(what)) != (ssize_t)strlen(what) || close(fd)) {
		dprintf(2, "preinitprobe: %s: %s: %s\n", who, path, strerror(errno));
		failed = 1;
	}
}

static void early(int argc, char **argv, char **envp)
{
	(void)envp;
	if (argc > 1)
		put(argv[1], "preinit", "preinit\n");
}

__attribute__((section(".preinit_array"), used)) static void (*const preinit)(int, char **,
									      char **) = early;

int main(int argc, char **argv)
{
	if (argc < 2) {
		dprintf(2, "usage: preinitprobe DEV\n");
		return 2;
	}
	put(argv[1], "main", "main\n");
	return failed;
}
