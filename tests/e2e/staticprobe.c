/* SPDX-License-Identifier: MIT */
/*
 * staticprobe: rwprobe's statically linked sibling.  LD_PRELOAD cannot
 * reach it, so every device call it makes must come through the seccomp
 * supervisor (cuse-run --seccomp).  One line per step:
 *
 *   staticprobe STEP...
 *     open:PATH[:FLAGS]  FLAGS from r w rw, +n(onblock) +a(ppend) +c(loexec)
 *                        +C(reat) +P (O_PATH alone)  -> "open=FD"
 *     fd:N               use fd N from now on
 *     write:N[:CH]       write N bytes of CH          -> "write=R"
 *     read:N             read N bytes                -> "read=R data=..."
 *     pread:N:OFF / pwrite:N:OFF
 *     readv:K:L / writev:K:L   K iovecs of L bytes, one per page
 *     readbad / writebad / ioctlbad   an unmapped buffer
 *     fionread           ioctl(FIONREAD)             -> "fionread=N"
 *     fstat / stat:PATH  -> "fstat mode=0%o rdev=MAJ:MIN blksize=N"
 *     access:PATH:MODE   MODE from r w x f
 *     getfl / lseek / mmap / fsync / fdatasync / close
 *     dup2:N             and use N from now on
 *     fork               the child runs the remaining steps, the parent
 *                        waits and exits with its status
 *     pipe               a pipe round trip           -> "pipe=N data=..."
 *     epollwait:MS       the fd in a new epoll set (EPOLLIN|EPOLLET), one
 *                        epoll_wait of MS ms -> "epollwait=N events=0xE"
 *     pollwait:MS        poll(POLLIN) of MS ms -> "pollwait=N revents=0xE"
 *     alarm:MS           a SIGALRM handler (SA_RESTART) firing in MS ms
 *     alarm0:MS          the same without SA_RESTART
 *     alarms             -> "alarms=N", the handler's count
 *     waitioctl          bufdev's BUFDEV_WAIT -> "waitioctl=R"
 *     flockex            flock(LOCK_EX) -> "flock=R"
 *     setlkw             fcntl F_SETLKW, F_WRLCK of the whole file
 *                        -> "setlkw=R"
 *     pid                -> "pid=N"
 * Errors print "STEP=-1 errno=NAME".
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "probe.h"

static int fd = -1;

static const char *ename(int e)
{
	static char buf[16];
	static const struct {
		int e;
		const char *n;
	} names[] = {
		{EBADF, "EBADF"},   {EINVAL, "EINVAL"},	    {ENOENT, "ENOENT"},
		{ENXIO, "ENXIO"},   {EACCES, "EACCES"},	    {EIO, "EIO"},
		{ENODEV, "ENODEV"}, {ENOTDIR, "ENOTDIR"},   {EFAULT, "EFAULT"},
		{EPERM, "EPERM"},   {ENOTCONN, "ENOTCONN"}, {EOPNOTSUPP, "EOPNOTSUPP"},
		{ESPIPE, "ESPIPE"}, {EAGAIN, "EAGAIN"},	    {ECONNABORTED, "ECONNABORTED"},
		{ENOTTY, "ENOTTY"}, {EBUSY, "EBUSY"},	    {EINTR, "EINTR"},
		{ENOSYS, "ENOSYS"},
	};
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (names[i].e == e)
			return names[i].n;
	snprintf(buf, sizeof(buf), "%d", e);
	return buf;
}

static void result(const char *what, long r)
{
	if (r < 0)
		printf("%s=-1 errno=%s\n", what, ename(errno));
	else
		printf("%s=%ld\n", what, r);
}

static int parse_flags(const char *s)
{
	int f = O_RDWR;

	if (!strncmp(s, "rw", 2)) {
		s += 2;
	} else if (*s == 'r') {
		f = O_RDONLY;
		s++;
	} else if (*s == 'w') {
		f = O_WRONLY;
		s++;
	}
	for (; *s; s++)
		switch (*s) {
		case 'n': f |= O_NONBLOCK; break;
		case 'a': f |= O_APPEND; break;
		case 'c': f |= O_CLOEXEC; break;
		case 'C': f |= O_CREAT; break;
		case 'P': f = O_PATH | (f & O_CLOEXEC); break;
		default: break;
		}
	return f;
}

static void print_data(const char *what, long r, const char *buf)
{
	if (r < 0)
		result(what, r);
	else
		printf("%s=%ld data=%.*s\n", what, r, r > 32 ? 32 : (int)r, buf);
}

static void print_stat(const char *what, int r, const struct stat *st)
{
	if (r < 0)
		result(what, r);
	else
		printf("%s mode=0%o rdev=%u:%u blksize=%ld\n", what, st->st_mode,
		       major(st->st_rdev), minor(st->st_rdev), (long)st->st_blksize);
}

static void *bad_page(void)
{
	return mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
}

static void step(char *s)
{
	char *arg = strchr(s, ':'), *arg2 = NULL;
	long a = 0, b = 0;

	if (arg) {
		*arg++ = '\0';
		arg2 = strchr(arg, ':');
		if (arg2)
			*arg2++ = '\0';
		a = strtol(arg, NULL, 0);
		if (arg2)
			b = strtol(arg2, NULL, 0);
	}
	if (!strcmp(s, "open")) {
		fd = open(arg, arg2 ? parse_flags(arg2) : O_RDWR, 0644);
		result("open", fd);
	} else if (!strcmp(s, "fd")) {
		fd = (int)a;
	} else if (!strcmp(s, "write") || !strcmp(s, "pwrite")) {
		char *buf = malloc(a ? a : 1);

		memset(buf, s[0] == 'p' ? 'p' : arg2 ? arg2[0] : 'a', a);
		result(s, s[0] == 'w' ? write(fd, buf, a) : pwrite(fd, buf, a, b));
		free(buf);
	} else if (!strcmp(s, "read") || !strcmp(s, "pread")) {
		char *buf = malloc(a ? a : 1);

		print_data(s, s[0] == 'r' ? read(fd, buf, a) : pread(fd, buf, a, b), buf);
		free(buf);
	} else if (!strcmp(s, "readv") || !strcmp(s, "writev")) {
		struct iovec *iov = calloc(a ? a : 1, sizeof(*iov));
		char *base = mmap(NULL, (a + 1) * 4096, PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		char all[256] = "";
		long i, r;

		for (i = 0; i < a; i++) {
			iov[i].iov_base = base + i * 4096;
			iov[i].iov_len = b;
			memset(iov[i].iov_base, 'v', b);
		}
		r = s[0] == 'w' ? writev(fd, iov, a) : readv(fd, iov, a);
		if (r >= 0 && s[0] == 'r') {
			for (i = 0; i < a && strlen(all) + b < sizeof(all); i++)
				strncat(all, iov[i].iov_base, b);
			printf("readv=%ld data=%s\n", r, all);
		} else {
			result(s, r);
		}
		free(iov);
	} else if (!strcmp(s, "readbad") || !strcmp(s, "writebad")) {
		void *bad = bad_page();

		result(s, s[0] == 'r' ? read(fd, bad, 16) : write(fd, bad, 16));
	} else if (!strcmp(s, "ioctlbad")) {
		result(s, ioctl(fd, FIONREAD, bad_page()));
	} else if (!strcmp(s, "fionread")) {
		int n = -1, r = ioctl(fd, FIONREAD, &n);

		if (r < 0)
			result("fionread", r);
		else
			printf("fionread=%d\n", n);
	} else if (!strcmp(s, "fstat")) {
		struct stat st;
		int r = fstat(fd, &st);

		print_stat("fstat", r, &st);
	} else if (!strcmp(s, "stat")) {
		struct stat st;
		int r = stat(arg, &st);

		print_stat("stat", r, &st);
	} else if (!strcmp(s, "access")) {
		int mode = 0;
		const char *m;

		for (m = arg2 ? arg2 : "f"; *m; m++)
			mode |= *m == 'r' ? R_OK : *m == 'w' ? W_OK : *m == 'x' ? X_OK : F_OK;
		result("access", access(arg, mode));
	} else if (!strcmp(s, "getfl")) {
		int r = fcntl(fd, F_GETFL);

		if (r < 0)
			result("getfl", r);
		else
			printf("getfl=0%o\n", r);
	} else if (!strcmp(s, "lseek")) {
		result("lseek", (long)lseek(fd, 0, SEEK_CUR));
	} else if (!strcmp(s, "mmap")) {
		void *p = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);

		result("mmap", p == MAP_FAILED ? -1 : 0);
	} else if (!strcmp(s, "fsync")) {
		result("fsync", fsync(fd));
	} else if (!strcmp(s, "fdatasync")) {
		result("fdatasync", fdatasync(fd));
	} else if (!strcmp(s, "close")) {
		result("close", close(fd));
	} else if (!strcmp(s, "dup2")) {
		int r = dup2(fd, (int)a);

		result("dup2", r);
		if (r >= 0)
			fd = r;
	} else if (!strcmp(s, "fork")) {
		pid_t pid = fork();
		int status;

		if (pid < 0) {
			result("fork", -1);
		} else if (pid > 0) {
			waitpid(pid, &status, 0);
			exit(WIFEXITED(status) ? WEXITSTATUS(status) : 1);
		}
	} else if (!strcmp(s, "pipe")) {
		int p[2];
		char buf[16] = "";
		long r;

		if (pipe(p)) {
			result("pipe", -1);
		} else {
			if (write(p[1], "piped", 5) != 5)
				printf("pipe write failed\n");
			r = read(p[0], buf, sizeof(buf));
			print_data("pipe", r, buf);
			close(p[0]);
			close(p[1]);
		}
	} else if (!strcmp(s, "epollwait")) {
		struct epoll_event ev = {.events = EPOLLIN | EPOLLET};
		int ep = epoll_create1(EPOLL_CLOEXEC), r;

		if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev)) {
			result("epollwait", -1);
		} else {
			ev.events = 0;
			r = epoll_wait(ep, &ev, 1, (int)a);
			if (r < 0)
				result("epollwait", r);
			else
				printf("epollwait=%d events=0x%x\n", r, r ? ev.events : 0);
		}
		if (ep >= 0)
			close(ep);
	} else if (!strcmp(s, "pollwait")) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		int r = poll(&p, 1, (int)a);

		if (r < 0)
			result("pollwait", r);
		else
			printf("pollwait=%d revents=0x%x\n", r, r ? p.revents : 0);
	} else if (!strcmp(s, "alarm")) {
		probe_alarm(a, SA_RESTART);
	} else if (!strcmp(s, "alarm0")) {
		probe_alarm(a, 0);
	} else if (!strcmp(s, "flockex")) {
		result("flock", flock(fd, LOCK_EX));
	} else if (!strcmp(s, "setlkw")) {
		struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};

		result("setlkw", fcntl(fd, F_SETLKW, &fl));
	} else if (!strcmp(s, "waitioctl")) {
		result("waitioctl", ioctl(fd, _IO('B', 2))); /* bufdev's BUFDEV_WAIT */
	} else if (!strcmp(s, "pid")) {
		printf("pid=%d\n", (int)getpid());
	} else if (!strcmp(s, "alarms")) {
		printf("alarms=%d\n", (int)probe_alarms);
	} else if (!strcmp(s, "sleep")) {
		struct timespec ts = {a / 1000, (a % 1000) * 1000000};

		nanosleep(&ts, NULL);
	} else {
		fprintf(stderr, "staticprobe: unknown step '%s'\n", s);
		exit(2);
	}
	fflush(stdout);
}

int main(int argc, char **argv)
{
	int i;

	for (i = 1; i < argc; i++)
		step(argv[i]);
	return 0;
}
