/* SPDX-License-Identifier: MIT */
/*
 * rwprobe: a client the end-to-end tests run under the shim to make exact
 * system calls on a device and print what came back, one line per step.
 *
 *   rwprobe STEP...
 *     open:PATH:FLAGS   FLAGS from r w rw, +n(onblock) +a(ppend) +c(loexec)
 *                       +t(runc) +x(excl, with creat) +C(reat) +N(octty)
 *                       +D(irectory) +s(ync)          -> "open=FD" or errno
 *     fd:N              use an inherited fd N from now on
 *     write:N[:CH]      write N bytes of CH (default 'a')   -> "write=R"
 *     writev:K:L        K iovecs of L bytes, each in its own page
 *     read:N            read N bytes                -> "read=R data=..."
 *     readat:N:PAGEOFF  read N bytes into a buffer at that page offset
 *     pread:N:OFF       pread with offset OFF
 *     pwrite:N:OFF      pwrite with offset OFF
 *     preadv2:N:FLAGS   preadv2 with RWF flags (nowait)
 *     pwritev2:N:FLAGS  pwritev2 with RWF flags (dsync)
 *     readbad / writebad  read into / write from an unmapped address
 *     fstat             -> "fstat mode=0%o rdev=MAJ:MIN blksize=N"
 *     stat:PATH         the same for a path
 *     getfl / setfl:FLAGS (n, a, A=O_ASYNC, 0)
 *     getfd / dup / dup2:N / close / lseek / mmap / fsync / fdatasync
 *     flock:sh|ex|un[:nb]  flock(2) -> "flock=R"
 *     setlkw:r|w|u      fcntl F_SETLKW of the whole file -> "setlkw=R"
 *     access:PATH:MODE  MODE from r w x f
 *     sleep:MS
 *     rawpoll:MS        poll(POLLIN) of MS ms by an inline syscall, which
 *                       no wrapper sees: the device fd's own readiness
 *                                          -> "rawpoll=R revents=0xE"
 *   The other entry points of each family, each as its own step (a
 *   fortified or large-file build of this file reaches the __*_2 and *64
 *   names through them):
 *     open2:PATH:FLAGS  open with two arguments, flags not a constant
 *     openat:PATH:FLAGS openat relative to an fd of /dev   -> "openat=FD"
 *     openat2:PATH:FLAGS the same with two arguments
 *     creat:PATH        creat(PATH, 0644)                  -> "creat=FD"
 *     preadv:N / pwritev:N   one iovec of N (at most 64) bytes, offset 0
 *     dup3:N / dupfd:N / dupfdcx:N   dup3(fd, N, O_CLOEXEC), F_DUPFD and
 *                       F_DUPFD_CLOEXEC from N; the copy becomes the fd
 *     lstat:PATH / fstatat:PATH       -> as stat
 *     oldstat:NAME[:PATH]  a pre-2.33 name by dlsym (__xstat64, __lxstat,
 *                       __fxstat64, __fxstatat ...): PATH, or the fd
 *     faccessat:PATH:MODE / faccessate:PATH:MODE (AT_EACCESS) /
 *     euidaccess:PATH:MODE / eaccess:PATH:MODE  -> as access
 * Errors print "STEP=-1 errno=NAME".
 */
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <stdbool.h>
#include <sys/file.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/select.h>
#include <sys/time.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
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
		{ENOSYS, "ENOSYS"}, {EEXIST, "EEXIST"},	    {ENOMEM, "ENOMEM"},
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
	int f = 0;

	if (!strncmp(s, "rw", 2)) {
		f = O_RDWR;
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
		case 't': f |= O_TRUNC; break;
		case 'x': f |= O_EXCL; break;
		case 'C': f |= O_CREAT; break;
		case 'N': f |= O_NOCTTY; break;
		case 'D': f |= O_DIRECTORY; break;
		case 's': f |= O_SYNC; break;
		case 'A': f |= O_ASYNC; break;
		case 'P': f |= O_PATH; break;
		default: break;
		}
	return f;
}

static char *page_buf(size_t n, size_t pageoff)
{
	char *p = mmap(NULL, n + pageoff + 4096, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED) {
		perror("mmap");
		exit(2);
	}
	return p + pageoff;
}

static void print_data(const char *what, long r, const char *buf)
{
	if (r < 0) {
		result(what, r);
		return;
	}
	printf("%s=%ld data=%.*s\n", what, r, r > 32 ? 32 : (int)r, buf);
}

static void print_stat(const char *what, int r, const struct stat *st)
{
	if (r < 0) {
		result(what, r);
		return;
	}
	printf("%s mode=0%o rdev=%u:%u blksize=%ld uid=%u\n", what, st->st_mode, major(st->st_rdev),
	       minor(st->st_rdev), (long)st->st_blksize, (unsigned)st->st_uid);
}

static int access_mode(const char *m)
{
	int mode = 0;

	for (m = m ? m : "f"; *m; m++)
		mode |= *m == 'r' ? R_OK : *m == 'w' ? W_OK : *m == 'x' ? X_OK : F_OK;
	return mode;
}

/* A pre-2.33 stat name, as an old binary calls it (_STAT_VER is 1). */
static void old_stat(const char *name, const char *path)
{
	void *fn = dlsym(RTLD_DEFAULT, name);
	struct stat st;
	int r;

	if (!fn) {
		printf("%s: no such symbol\n", name);
		return;
	}
	if (strstr(name, "fxstatat"))
		r = ((int (*)(int, int, const char *, struct stat *, int))fn)(1, AT_FDCWD, path,
									      &st, 0);
	else if (strstr(name, "fxstat"))
		r = ((int (*)(int, int, struct stat *))fn)(1, fd, &st);
	else
		r = ((int (*)(int, const char *, struct stat *))fn)(1, path, &st);
	print_stat(name, r, &st);
}

/* The entry points that have no step of their own above. */
static bool family_step(const char *s, const char *arg, const char *arg2, long a)
{
	char buf[64];
	struct iovec v = {buf, a < (long)sizeof(buf) ? (size_t)a : sizeof(buf)};
	struct stat st;
	int dir, r;

	if (!strcmp(s, "open2")) {
		fd = open(arg, parse_flags(arg2 ? arg2 : "rw"));
		result(s, fd);
	} else if (!strcmp(s, "openat") || !strcmp(s, "openat2")) {
		dir = open("/dev", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		fd = s[6] ? openat(dir, arg, parse_flags(arg2 ? arg2 : "rw"))
			  : openat(dir, arg, parse_flags(arg2 ? arg2 : "rw"), 0644);
		result(s, fd);
		close(dir);
	} else if (!strcmp(s, "creat")) {
		fd = creat(arg, 0644);
		result(s, fd);
	} else if (!strcmp(s, "preadv")) {
		print_data(s, preadv(fd, &v, 1, 0), buf);
	} else if (!strcmp(s, "pwritev")) {
		memset(buf, 'V', sizeof(buf));
		result(s, pwritev(fd, &v, 1, 0));
	} else if (!strcmp(s, "dup3") || !strcmp(s, "dupfd") || !strcmp(s, "dupfdcx")) {
		r = s[3] == '3'	  ? dup3(fd, (int)a, O_CLOEXEC)
		    : s[5] == 'c' ? fcntl(fd, F_DUPFD_CLOEXEC, (int)a)
				  : fcntl(fd, F_DUPFD, (int)a);
		result(s, r);
		if (r >= 0)
			fd = r;
	} else if (!strcmp(s, "lstat") || !strcmp(s, "fstatat")) {
		r = s[0] == 'l' ? lstat(arg, &st) : fstatat(AT_FDCWD, arg, &st, 0);
		print_stat(s, r, &st);
	} else if (!strcmp(s, "oldstat")) {
		old_stat(arg, arg2);
	} else if (!strcmp(s, "faccessat") || !strcmp(s, "faccessate")) {
		result(s, faccessat(AT_FDCWD, arg, access_mode(arg2), s[9] ? AT_EACCESS : 0));
	} else if (!strcmp(s, "euidaccess") || !strcmp(s, "eaccess")) {
		result(s, s[1] == 'u' ? euidaccess(arg, access_mode(arg2))
				      : eaccess(arg, access_mode(arg2)));
	} else {
		return false;
	}
	return true;
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
	} else if (!strcmp(s, "write")) {
		char *buf = malloc(a ? a : 1);

		memset(buf, arg2 ? arg2[0] : 'a', a);
		result("write", write(fd, buf, a));
		free(buf);
	} else if (!strcmp(s, "writev") || !strcmp(s, "readv")) {
		struct iovec *iov = calloc(a, sizeof(*iov));
		char *base = page_buf(a * 4096, 0);
		long i;

		for (i = 0; i < a; i++) {
			iov[i].iov_base = base + i * 4096;
			iov[i].iov_len = b;
			memset(iov[i].iov_base, 'v', b);
		}
		result(s, s[0] == 'w' ? writev(fd, iov, a) : readv(fd, iov, a));
		free(iov);
	} else if (!strcmp(s, "read")) {
		char *buf = malloc(a ? a : 1);

		print_data("read", read(fd, buf, a), buf);
		free(buf);
	} else if (!strcmp(s, "readat") || !strcmp(s, "writeat")) {
		char *buf = page_buf(a, b);

		memset(buf, 'w', a);
		if (s[0] == 'r')
			print_data("readat", read(fd, buf, a), buf);
		else
			result("writeat", write(fd, buf, a));
	} else if (!strcmp(s, "pread")) {
		char *buf = malloc(a ? a : 1);

		print_data("pread", pread(fd, buf, a, b), buf);
		free(buf);
	} else if (!strcmp(s, "pwrite")) {
		char *buf = malloc(a ? a : 1);

		memset(buf, 'p', a);
		result("pwrite", pwrite(fd, buf, a, b));
		free(buf);
	} else if (!strcmp(s, "preadv2") || !strcmp(s, "pwritev2")) {
		char *buf = malloc(a ? a : 1);
		struct iovec v = {buf, a};
		int rwf = arg2 && !strcmp(arg2, "nowait")  ? RWF_NOWAIT
			  : arg2 && !strcmp(arg2, "dsync") ? RWF_DSYNC
							   : 0;

		memset(buf, 'q', a);
		result(s, s[1] == 'r' ? preadv2(fd, &v, 1, -1, rwf) : pwritev2(fd, &v, 1, -1, rwf));
		free(buf);
	} else if (!strcmp(s, "readbad") || !strcmp(s, "writebad")) {
		void *bad = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		result(s, s[0] == 'r' ? read(fd, bad, 16) : write(fd, bad, 16));
	} else if (!strcmp(s, "fstat")) {
		struct stat st;
		int r = fstat(fd, &st);

		print_stat("fstat", r, &st);
	} else if (!strcmp(s, "stat")) {
		struct stat st;
		int r = stat(arg, &st);

		print_stat("stat", r, &st);
	} else if (!strcmp(s, "getfl")) {
		int r = fcntl(fd, F_GETFL);

		if (r < 0)
			result("getfl", r);
		else
			printf("getfl=0%o\n", r);
	} else if (!strcmp(s, "setfl")) {
		result("setfl", fcntl(fd, F_SETFL, arg ? parse_flags(arg) : 0));
	} else if (!strcmp(s, "getfd")) {
		result("getfd", fcntl(fd, F_GETFD));
	} else if (!strcmp(s, "dup")) {
		int r = dup(fd);

		result("dup", r);
		if (r >= 0)
			fd = r;
	} else if (!strcmp(s, "dup2")) {
		int r = dup2(fd, (int)a);

		result("dup2", r);
		if (r >= 0)
			fd = r;
	} else if (!strcmp(s, "close")) {
		result("close", close(fd));
	} else if (!strcmp(s, "lseek")) {
		result("lseek", (long)lseek(fd, 100, SEEK_SET));
	} else if (!strcmp(s, "mmap")) {
		void *p = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);

		result("mmap", p == MAP_FAILED ? -1 : 0);
	} else if (!strcmp(s, "flock")) {
		int op = !strcmp(arg, "sh") ? LOCK_SH : !strcmp(arg, "ex") ? LOCK_EX : LOCK_UN;

		result("flock", flock(fd, op | (arg2 && !strcmp(arg2, "nb") ? LOCK_NB : 0)));
	} else if (!strcmp(s, "setlkw")) {
		struct flock fl = {.l_type = (short)(!strcmp(arg, "r")	 ? F_RDLCK
						     : !strcmp(arg, "w") ? F_WRLCK
									 : F_UNLCK)};

		result("setlkw", fcntl(fd, F_SETLKW, &fl));
	} else if (!strcmp(s, "fsync")) {
		result("fsync", fsync(fd));
	} else if (!strcmp(s, "fdatasync")) {
		result("fdatasync", fdatasync(fd));
	} else if (!strcmp(s, "access")) {
		result("access", access(arg, access_mode(arg2)));
	} else if (!strcmp(s, "alarm")) {
		probe_alarm(a, SA_RESTART);
	} else if (!strcmp(s, "alarms")) {
		printf("alarms=%d\n", (int)probe_alarms);
	} else if (!strcmp(s, "fionbio")) {
		int on = (int)a;

		result("fionbio", ioctl(fd, FIONBIO, &on));
	} else if (!strcmp(s, "fionread")) {
		int n = -1;
		int r = ioctl(fd, FIONREAD, &n);

		if (r < 0)
			result("fionread", r);
		else
			printf("fionread=%d\n", n);
	} else if (!strcmp(s, "_fork") || !strcmp(s, "clonefork")) {
		/* The child runs the remaining steps; the parent waits for it
		 * and exits with its status.  _Fork runs no atfork handler;
		 * a raw clone not even libc's own bookkeeping. */
		pid_t pid = s[0] == '_' ? _Fork()
					: (pid_t)syscall(SYS_clone, SIGCHLD, 0, NULL, NULL, 0);
		int status;

		if (pid < 0) {
			result(s, -1);
		} else if (pid > 0) {
			waitpid(pid, &status, 0);
			exit(WIFEXITED(status) ? WEXITSTATUS(status) : 1);
		}
	} else if (!strcmp(s, "ppollsig") || !strcmp(s, "pselectsig") || !strcmp(s, "epwaitsig")) {
		/* SIGUSR1 blocked; the wait's own mask unblocks it; a child
		 * sends it in 200 ms: the wait must end with EINTR. */
		struct sigaction sa = {.sa_handler = probe_on_alarm};
		sigset_t block, none;
		struct timespec ts = {5, 0};
		pid_t parent = getpid(), kid;
		int r;

		sigemptyset(&sa.sa_mask);
		sigaction(SIGUSR1, &sa, NULL);
		sigemptyset(&block);
		sigaddset(&block, SIGUSR1);
		sigprocmask(SIG_BLOCK, &block, NULL);
		sigemptyset(&none);
		kid = fork();
		if (kid == 0) {
			usleep(200000);
			kill(parent, SIGUSR1);
			_exit(0);
		}
		if (s[1] == 'p') {
			struct pollfd p = {.fd = fd, .events = POLLIN};

			r = ppoll(&p, 1, &ts, &none);
		} else if (s[1] == 's') {
			fd_set rs;

			FD_ZERO(&rs);
			FD_SET(fd, &rs);
			r = pselect(fd + 1, &rs, NULL, NULL, &ts, &none);
		} else {
			struct epoll_event ev = {.events = EPOLLIN}, out;
			int ep = epoll_create1(0);

			epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
			r = epoll_pwait(ep, &out, 1, 5000, &none);
			close(ep);
		}
		result(s, r);
		waitpid(kid, NULL, 0);
		printf("handled=%d\n", (int)probe_alarms);
	} else if (!strcmp(s, "pollwait")) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		int r = poll(&p, 1, (int)a);

		if (r < 0)
			result("pollwait", r);
		else
			printf("pollwait=%d revents=0x%x\n", r, p.revents);
	} else if (!strcmp(s, "readcanary") || !strcmp(s, "ioctlcanary")) {
		/* a buffer of @a bytes (@b: the ioctl command) with 64 guard
		 * bytes after it: nothing may be written past @a */
		char *buf = malloc(a + 64);
		long r;
		int i, smashed = 0;

		memset(buf, '#', a + 64);
		r = s[0] == 'r' ? read(fd, buf, a) : ioctl(fd, (unsigned long)b, buf);
		for (i = 0; i < 64; i++)
			smashed |= buf[a + i] != '#';
		if (r < 0)
			printf("%s=-1 errno=%s guard=%s\n", s, ename(errno),
			       smashed ? "smashed" : "intact");
		else
			printf("%s=%ld guard=%s\n", s, r, smashed ? "smashed" : "intact");
		free(buf);
	} else if (!strcmp(s, "readlinkfd")) {
		/* __readlink_chk in a fortified build: the buffer size is known */
		char link[64], target[256];
		ssize_t n;

		snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
		n = readlink(link, target, sizeof(target) - 1);
		if (n < 0)
			result("readlinkfd", n);
		else
			printf("readlinkfd=%.*s\n", (int)n, target);
	} else if (!strcmp(s, "realpath")) {
		char out[PATH_MAX]; /* __realpath_chk when fortified */

		if (realpath(arg, out))
			printf("realpath=%s\n", out);
		else
			result("realpath", -1);
	} else if (!strcmp(s, "rawclose")) {
		/* close(2) by an inline syscall instruction, which no wrapper
		 * (not even syscall(3)'s) sees: behind the shim's back */
		long r = SYS_close;
#if defined(__x86_64__)
		__asm__ volatile("syscall" : "+a"(r) : "D"((long)fd) : "rcx", "r11", "memory");
#else
		r = syscall(SYS_close, fd);
#endif
		result("rawclose", (int)r);
	} else if (!strcmp(s, "rawpoll")) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		long r = SYS_poll;
#if defined(__x86_64__)
		register long ms __asm__("rdx") = a;

		__asm__ volatile("syscall"
				 : "+a"(r)
				 : "D"(&p), "S"(1L), "r"(ms)
				 : "rcx", "r11", "memory");
		if (r < 0) {
			errno = (int)-r;
			r = -1;
		}
#else
		r = poll(&p, 1, (int)a);
#endif
		if (r < 0)
			result("rawpoll", -1);
		else
			printf("rawpoll=%ld revents=0x%x\n", r, r ? p.revents : 0);
	} else if (!strcmp(s, "closefrom")) {
		closefrom((int)a);
		printf("closefrom\n");
	} else if (!strcmp(s, "sigpipe")) {
		struct sigaction old;

		sigaction(SIGPIPE, NULL, &old);
		printf("sigpipe=%s\n", old.sa_handler == SIG_DFL ? "default" : "changed");
	} else if (!strcmp(s, "waitioctl")) {
		result("waitioctl", ioctl(fd, _IO('B', 2))); /* bufdev's BUFDEV_WAIT */
	} else if (!strcmp(s, "now")) {
		struct timespec ts;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		printf("now=%lld\n", (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
	} else if (!strcmp(s, "opennull")) {
		const char *volatile none = NULL; /* as a careless program passes it */

		result("opennull", open(none, O_RDONLY));
	} else if (!strcmp(s, "sleep")) {
		struct timespec ts = {a / 1000, (a % 1000) * 1000000};

		nanosleep(&ts, NULL);
	} else if (!family_step(s, arg, arg2, a)) {
		fprintf(stderr, "rwprobe: unknown step '%s'\n", s);
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
