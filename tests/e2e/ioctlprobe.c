/* SPDX-License-Identifier: MIT */
/*
 * ioctlprobe: a client the end-to-end tests run under the shim to make
 * exact ioctl calls on a ptrdev device (examples/ptrdev.h) and print what
 * came back, one line per result: "NAME=RESULT errno=NAME[ data=...]".
 * errno is cleared before each call, so "errno=0" also says a successful
 * call left it alone.  Data is printed with bytes outside printable ASCII
 * as \xNN and runs of more than 8 equal bytes as {C*COUNT}.
 *
 *   ioctlprobe STEP...
 *     open:PATH           open O_RDWR                          -> "open=FD"
 *     close
 *     reverse:TEXT[:z]    PTRDEV_REVERSE on a copy of TEXT (z: with empty
 *                         iovecs in the retries)
 *     reversen:N          on N bytes, 'a's then 'b's
 *     reversebad          buf is an unmapped page
 *     reversebadarg       the struct itself is on an unmapped page
 *     get:CAP             PTRDEV_GET into CAP bytes           (+ " len=N")
 *     fill:N:CH           PTRDEV_FILL of N bytes of CH
 *     fillbad             PTRDEV_FILL of 16 bytes to an unmapped page
 *     overlong:LEN:REPLY  PTRDEV_OVERLONG into LEN dots
 *     negdata:LEN         PTRDEV_NEGDATA into LEN dots
 *     iov256              PTRDEV_IOV256 (data: the 128 bytes out)
 *     iov257fit / iov257nofit
 *     raw:V / raw64:V     PTRDEV_RAW with arg V (raw64: with bits above 31
 *                         set in the request number)
 *     result:N / err:N    PTRDEV_RESULT / PTRDEV_ERR with arg N
 *     fionread            FIONREAD into an int preset to 0x55555555
 *     rget / rput:TEXT / recho:TEXT / rlong / rgetbad / rputbad
 *                         the PTRDEV_R_* commands on a 64-byte blob, dots
 *                         unless TEXT is given (bad: on an unmapped page)
 *     vfs                 the ioctls the VFS answers itself, on the fd
 *     pipe                ioctls on a pipe
 *     file                ioctls on a regular file in /tmp
 *     tty                 ioctls on /dev/tty, if it can be opened
 *     pty                 ioctls on a new pseudo-terminal pair
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <termios.h>
#include <unistd.h>

#include "examples/ptrdev.h"

static int fd = -1;

static const char *ename(int e)
{
	static char buf[16];
	static const struct {
		int e;
		const char *n;
	} names[] = {
		{0, "0"},
		{EBADF, "EBADF"},
		{EINVAL, "EINVAL"},
		{ENOENT, "ENOENT"},
		{ENXIO, "ENXIO"},
		{EIO, "EIO"},
		{ENODEV, "ENODEV"},
		{EFAULT, "EFAULT"},
		{EPERM, "EPERM"},
		{ENOMEM, "ENOMEM"},
		{ENOTTY, "ENOTTY"},
		{EBUSY, "EBUSY"},
		{ENOSYS, "ENOSYS"},
		{ENOTCONN, "ENOTCONN"},
		{EOPNOTSUPP, "EOPNOTSUPP"},
		{EAGAIN, "EAGAIN"},
		{ECONNABORTED, "ECONNABORTED"},
	};
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (names[i].e == e)
			return names[i].n;
	snprintf(buf, sizeof(buf), "%d", e);
	return buf;
}

static void put_byte(unsigned char c)
{
	if (c >= 0x20 && c < 0x7f && c != '\\' && c != '{')
		putchar(c);
	else
		printf("\\x%02x", c);
}

static void put_data(const char *buf, size_t n)
{
	size_t i = 0;

	printf(" data=");
	while (i < n) {
		size_t run = 1;

		while (i + run < n && buf[i + run] == buf[i])
			run++;
		if (run > 8) {
			putchar('{');
			put_byte((unsigned char)buf[i]);
			printf("*%zu}", run);
			i += run;
		} else {
			put_byte((unsigned char)buf[i++]);
		}
	}
}

/* "NAME=R errno=E", then the caller adds more, then end_line(). */
static void head(const char *name, long r, int err)
{
	printf("%s=%ld errno=%s", name, r, ename(err));
}

static void end_line(void)
{
	putchar('\n');
	fflush(stdout);
}

static void line(const char *name, long r, int err)
{
	head(name, r, err);
	end_line();
}

static void line_data(const char *name, long r, int err, const char *buf, size_t n)
{
	head(name, r, err);
	put_data(buf, n);
	end_line();
}

/* ioctl(2) with errno cleared first; *err gets errno after it. */
static long call(int f, unsigned long cmd, void *arg, int *err)
{
	long r;

	errno = 0;
	r = ioctl(f, cmd, arg);
	*err = errno;
	return r;
}

static void *bad_page(void)
{
	static void *bad;

	if (!bad)
		bad = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (bad == MAP_FAILED) {
		perror("mmap");
		exit(2);
	}
	return bad;
}

static char *dots(size_t n)
{
	char *p = malloc(n ? n : 1);

	if (!p) {
		perror("malloc");
		exit(2);
	}
	memset(p, '.', n);
	return p;
}

/* A PTRDEV_* struct command on @buf of @len bytes; prints its data. */
static void ptr_call(const char *name, unsigned long cmd, char *buf, uint32_t len, uint32_t flags)
{
	struct ptr_req r = {.len = len, .flags = flags, .buf = buf};
	int err;
	long ret = call(fd, cmd, &r, &err);

	line_data(name, ret, err, buf, len);
}

static void step_reverse(const char *text, const char *opt)
{
	size_t n = strlen(text);
	char *buf = dots(n);

	memcpy(buf, text, n);
	ptr_call("reverse", PTRDEV_REVERSE, buf, (uint32_t)n,
		 opt && *opt == 'z' ? PTR_F_ZEROIOV : 0);
	free(buf);
}

static void step_reversen(size_t n)
{
	char *buf = dots(n);

	memset(buf, 'a', n / 2);
	memset(buf + n / 2, 'b', n - n / 2);
	ptr_call("reversen", PTRDEV_REVERSE, buf, (uint32_t)n, 0);
	free(buf);
}

static void step_get(size_t cap)
{
	char *buf = dots(cap);
	struct ptr_req r = {.len = (uint32_t)cap, .buf = buf};
	int err;
	long ret = call(fd, PTRDEV_GET, &r, &err);

	head("get", ret, err);
	printf(" len=%u", r.len);
	put_data(buf, cap);
	end_line();
	free(buf);
}

static void step_iov256(void)
{
	char buf[256];
	int err, i;
	long r;

	for (i = 0; i < 128; i++)
		buf[i] = (char)('A' + i % 26);
	memset(buf + 128, '.', 128);
	r = call(fd, PTRDEV_IOV256, buf, &err);
	line_data("iov256", r, err, buf + 128, 128);
}

static void step_fionread(int f, const char *name)
{
	int v = 0x55555555, err;
	long r = call(f, FIONREAD, &v, &err);

	head(name, r, err);
	printf(" value=0x%x", (unsigned)v);
	end_line();
}

static void step_blob(const char *name, unsigned long cmd, const char *text, void *where)
{
	struct ptr_blob b;
	int err;
	long r;

	memset(&b, 0, sizeof(b));
	if (text)
		snprintf(b.data, sizeof(b.data), "%s", text);
	else
		memset(b.data, '.', sizeof(b.data));
	r = call(fd, cmd, where ? where : &b, &err);
	if (where)
		line(name, r, err);
	else
		line_data(name, r, err, b.data, strnlen(b.data, sizeof(b.data)));
}

static void step_rlong(void)
{
	uint32_t v[2] = {0x33333333, 0x44444444};
	int err;
	long r = call(fd, PTRDEV_R_LONG, v, &err);

	head("rlong", r, err);
	printf(" value=0x%x,0x%x", v[0], v[1]);
	end_line();
}

/* The ioctls fs/ioctl.c answers for every file, on the device fd. */
static void step_vfs(void)
{
	int on = 1, bsz = 0, err, d;
	loff_t qsize = 0;
	long r;

	r = call(fd, FIONBIO, bad_page(), &err);
	line("fionbio_bad", r, err);
	r = call(fd, FIONBIO, &on, &err);
	line("fionbio", r, err);
	on = 0;
	r = call(fd, FIONBIO, &on, &err);
	line("fionbio_off", r, err);
	r = call(fd, FIGETBSZ, &bsz, &err);
	head("figetbsz", r, err);
	printf(" value=%d", bsz);
	end_line();
	r = call(fd, FIOQSIZE, &qsize, &err);
	line("fioqsize", r, err);
	r = call(fd, FIOCLEX, NULL, &err);
	line("fioclex", r, err);
	printf("getfd=%d\n", fcntl(fd, F_GETFD));
	d = dup(fd);
	printf("dup_getfd=%d\n", fcntl(d, F_GETFD));
	close(d);
	r = call(fd, FIONCLEX, NULL, &err);
	line("fionclex", r, err);
	printf("getfd=%d\n", fcntl(fd, F_GETFD));
	fflush(stdout);
}

static void step_pipe(void)
{
	struct termios t;
	int p[2], on = 1, err, bsz = 0;
	long r;

	if (pipe(p)) {
		perror("pipe");
		exit(2);
	}
	if (write(p[1], "hello", 5) != 5) {
		perror("write");
		exit(2);
	}
	step_fionread(p[0], "pipe_fionread");
	r = call(p[0], FIONREAD, bad_page(), &err);
	line("pipe_fionread_bad", r, err);
	r = call(p[0], TCGETS, &t, &err);
	line("pipe_tcgets", r, err);
	r = call(p[1], FIONBIO, &on, &err);
	line("pipe_fionbio", r, err);
	printf("pipe_getfl_nonblock=%d\n", !!(fcntl(p[1], F_GETFL) & O_NONBLOCK));
	r = call(p[0], FIGETBSZ, &bsz, &err);
	head("pipe_figetbsz", r, err);
	printf(" value=%d", bsz);
	end_line();
	r = call(p[0], PTRDEV_RAW, NULL, &err);
	line("pipe_ptrdev_raw", r, err);
	close(p[0]);
	close(p[1]);
	r = call(p[0], FIONREAD, &on, &err);
	line("closed_fionread", r, err);
}

static void step_file(void)
{
	char path[] = "/tmp/ioctlprobe.XXXXXX";
	loff_t qsize = -1;
	int f = mkstemp(path), err;
	long r;

	if (f < 0) {
		perror("mkstemp");
		exit(2);
	}
	unlink(path);
	if (write(f, "abc", 3) != 3 || lseek(f, 0, SEEK_SET) != 0) {
		perror("write");
		exit(2);
	}
	step_fionread(f, "file_fionread");
	r = call(f, FIOQSIZE, &qsize, &err); /* the value depends on the fs */
	line("file_fioqsize", r, err);
	r = call(f, TCGETS, NULL, &err);
	line("file_tcgets", r, err);
	close(f);
}

static void step_tty(void)
{
	struct winsize ws;
	struct termios t;
	int f, err;
	long r;

	errno = 0;
	f = open("/dev/tty", O_RDWR | O_NOCTTY);
	err = errno;
	if (f < 0) {
		line("tty", -1, err);
		return;
	}
	line("tty", 0, err);
	r = call(f, TCGETS, &t, &err);
	line("tty_tcgets", r, err);
	r = call(f, TIOCGWINSZ, &ws, &err);
	line("tty_tiocgwinsz", r, err);
	r = call(f, TCGETS, bad_page(), &err);
	line("tty_tcgets_bad", r, err);
	close(f);
}

/* A pseudo-terminal pair: opens under /dev the shim must pass on. */
static void step_pty(void)
{
	struct winsize ws = {.ws_row = 24, .ws_col = 80}, got = {0};
	struct termios t;
	char name[64];
	int m, sl, unlock = 0, err;
	long r;

	errno = 0;
	m = open("/dev/ptmx", O_RDWR | O_NOCTTY);
	err = errno;
	line("ptmx", m < 0 ? -1 : 0, err);
	if (m < 0)
		return;
	r = call(m, TIOCSPTLCK, &unlock, &err);
	line("pty_unlock", r, err);
	if (ptsname_r(m, name, sizeof(name))) {
		perror("ptsname_r");
		exit(2);
	}
	errno = 0;
	sl = open(name, O_RDWR | O_NOCTTY);
	err = errno;
	line("pts", sl < 0 ? -1 : 0, err);
	if (sl < 0)
		return;
	r = call(sl, TCGETS, &t, &err);
	line("pts_tcgets", r, err);
	r = call(sl, TIOCSWINSZ, &ws, &err);
	line("pts_tiocswinsz", r, err);
	r = call(m, TIOCGWINSZ, &got, &err);
	head("ptmx_tiocgwinsz", r, err);
	printf(" value=%ux%u", got.ws_row, got.ws_col);
	end_line();
	r = call(sl, TCGETS, bad_page(), &err);
	line("pts_tcgets_bad", r, err);
	r = call(sl, PTRDEV_RAW, NULL, &err);
	line("pts_ptrdev_raw", r, err);
	close(sl);
	close(m);
}

static void step(char *s)
{
	char *arg = strchr(s, ':'), *arg2 = NULL;
	unsigned long a = 0, b = 0;
	int err;
	long r;

	if (arg) {
		*arg++ = '\0';
		arg2 = strchr(arg, ':');
		if (arg2)
			*arg2++ = '\0';
		a = strtoul(arg, NULL, 0);
		if (arg2)
			b = strtoul(arg2, NULL, 0);
	}
	if (!strcmp(s, "open")) {
		errno = 0;
		fd = open(arg, O_RDWR);
		line("open", fd, errno);
	} else if (!strcmp(s, "close")) {
		errno = 0;
		r = close(fd);
		line("close", r, errno);
	} else if (!strcmp(s, "reverse")) {
		step_reverse(arg, arg2);
	} else if (!strcmp(s, "reversen")) {
		step_reversen(a);
	} else if (!strcmp(s, "reversebad")) {
		struct ptr_req q = {.len = 16, .buf = bad_page()};

		r = call(fd, PTRDEV_REVERSE, &q, &err);
		line("reversebad", r, err);
	} else if (!strcmp(s, "reversebadarg")) {
		r = call(fd, PTRDEV_REVERSE, bad_page(), &err);
		line("reversebadarg", r, err);
	} else if (!strcmp(s, "get")) {
		step_get(a);
	} else if (!strcmp(s, "fill")) {
		char *buf = dots(a);

		ptr_call("fill", PTRDEV_FILL, buf, (uint32_t)a, arg2 ? (unsigned char)*arg2 : 'x');
		free(buf);
	} else if (!strcmp(s, "fillbad")) {
		struct ptr_req q = {.len = 16, .flags = 'x', .buf = bad_page()};

		r = call(fd, PTRDEV_FILL, &q, &err);
		line("fillbad", r, err);
	} else if (!strcmp(s, "overlong")) {
		char *buf = dots(a);

		ptr_call("overlong", PTRDEV_OVERLONG, buf, (uint32_t)a, (uint32_t)b);
		free(buf);
	} else if (!strcmp(s, "negdata")) {
		char *buf = dots(a);

		ptr_call("negdata", PTRDEV_NEGDATA, buf, (uint32_t)a, 0);
		free(buf);
	} else if (!strcmp(s, "iov256")) {
		step_iov256();
	} else if (!strcmp(s, "iov257fit")) {
		char *buf = dots(8192);

		r = call(fd, PTRDEV_IOV257_FIT, buf, &err);
		line_data("iov257fit", r, err, buf, 8192);
		free(buf);
	} else if (!strcmp(s, "iov257nofit")) {
		char buf[512];

		memset(buf, '.', sizeof(buf));
		r = call(fd, PTRDEV_IOV257_NOFIT, buf, &err);
		line_data("iov257nofit", r, err, buf, sizeof(buf));
	} else if (!strcmp(s, "raw")) {
		r = call(fd, PTRDEV_RAW, (void *)a, &err);
		line("raw", r, err);
	} else if (!strcmp(s, "raw64")) {
		/* the kernel looks at 32 bits of the request */
		r = call(fd, (unsigned long)PTRDEV_RAW | 0xabcd00000000ul, (void *)a, &err);
		line("raw64", r, err);
	} else if (!strcmp(s, "result")) {
		r = call(fd, PTRDEV_RESULT, (void *)a, &err);
		line("result", r, err);
	} else if (!strcmp(s, "err")) {
		r = call(fd, PTRDEV_ERR, (void *)a, &err);
		line("err", r, err);
	} else if (!strcmp(s, "fionread")) {
		step_fionread(fd, "fionread");
	} else if (!strcmp(s, "rget")) {
		step_blob("rget", PTRDEV_R_GET, NULL, NULL);
	} else if (!strcmp(s, "rgetbad")) {
		step_blob("rgetbad", PTRDEV_R_GET, NULL, bad_page());
	} else if (!strcmp(s, "rput")) {
		step_blob("rput", PTRDEV_R_PUT, arg, NULL);
	} else if (!strcmp(s, "rputbad")) {
		step_blob("rputbad", PTRDEV_R_PUT, NULL, bad_page());
	} else if (!strcmp(s, "recho")) {
		step_blob("recho", PTRDEV_R_ECHO, arg, NULL);
	} else if (!strcmp(s, "rlong")) {
		step_rlong();
	} else if (!strcmp(s, "vfs")) {
		step_vfs();
	} else if (!strcmp(s, "pipe")) {
		step_pipe();
	} else if (!strcmp(s, "file")) {
		step_file();
	} else if (!strcmp(s, "tty")) {
		step_tty();
	} else if (!strcmp(s, "pty")) {
		step_pty();
	} else {
		fprintf(stderr, "ioctlprobe: unknown step '%s'\n", s);
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
