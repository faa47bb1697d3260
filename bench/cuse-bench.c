/* SPDX-License-Identifier: MIT */
/*
 * cuse-bench: the cost of emulated device operations through the real shim,
 * libcused and the seccomp supervisor, next to the floors measured in the
 * same run.  One line per figure, in the shape of ../shared/perf-anchors:
 *
 *   RESULT <name> median=<x> p99=<x> min=<x> max=<x> unit=<u> iters=<n>
 *
 *   cuse-bench [--iters N] [--pin same|diff|none] [--only NAME,...] [--list]
 *
 * Shape.  The parent starts two bench-drivers in a private registry, one on
 * libfuse's single-threaded loop (-s) for the latency and throughput
 * figures, one on the multi-threaded loop for the scaling figures, and
 * for the bridge.* figures the same driver linked with Debian's libfuse3
 * (realfuse-bench-driver, -s) under `cused run --bridge`, and then
 * runs each figure in a fresh process of its own, `cuse-bench --client NAME
 * ...`, started plainly, with the shim in LD_PRELOAD or under `cuse-run
 * --seccomp`, as the figure's mode says (figures[] below).  --pin puts the
 * client on CPU 0 and the other end (drivers, supervisor, echo process) on
 * CPU 0 (same) or CPU 1 (diff), or pins nothing (none).
 *
 * Statistics.  A figure takes iters/div samples after a tenth as many
 * warm-up ones.  A sample is the time of `batch` operations divided by
 * batch (batch > 1 only where one call is not much longer than reading the
 * clock).  MB/s samples are the bytes of one call over its time.  p99 is
 * the 99th percentile of ns/op figures and the 1st of MB/s and ops/s ones
 * (the slow end either way); min and max are in the figure's unit.  iters
 * is the number of operations timed.
 *
 * Built by make, not run by make check (timings on a shared machine are not
 * tests).  Sections: statistics and pinning; operations; figures; the
 * table; client mode; the parent.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench/bench.h"

enum mode { PLAIN, SHIM, SECCOMP };
enum unit { NS_OP, MB_S, OPS_S };

struct figure;
struct target;
typedef int (*op_fn)(struct target *t);

struct figure {
	const char *name;
	enum mode mode;
	int (*run)(const struct figure *f);
	op_fn op;    /* the operation timed, for the runs that take one */
	size_t size; /* bytes a call */
	int threads; /* client threads */
	long batch;  /* operations a sample */
	long div;    /* samples = iters / div */
	enum unit unit;
	int bridged; /* on the bridged driver (Debian's libfuse3 through cuse-bridge) */
};

/* Client mode's parameters, from the parent's command line. */
static long iters = 20000;
static int cpu_client = -1, cpu_peer = -1;
static const char *dev, *mtdev, *brdev;

/* ------------------------------------------------------------------ statistics and pinning */

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static void report(const struct figure *f, double *v, long n, long ops)
{
	static const char *const units[] = {[NS_OP] = "ns/op", [MB_S] = "MB/s", [OPS_S] = "ops/s"};
	double slow;

	qsort(v, n, sizeof(*v), cmp);
	slow = f->unit == NS_OP ? v[(long)(n * 0.99)] : v[(long)(n * 0.01)];
	printf("RESULT %s median=%.1f p99=%.1f min=%.1f max=%.1f unit=%s iters=%ld\n", f->name,
	       n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2, slow, v[0], v[n - 1],
	       units[f->unit], ops);
	fflush(stdout);
}

static long samples_of(const struct figure *f)
{
	long n = iters / f->div;

	return n < 10 ? 10 : n;
}

static void pin(int cpu)
{
	cpu_set_t s;

	if (cpu < 0)
		return;
	CPU_ZERO(&s);
	CPU_SET(cpu, &s);
	if (sched_setaffinity(0, sizeof(s), &s))
		fprintf(stderr, "cuse-bench: cannot pin to CPU %d: %s\n", cpu, strerror(errno));
}

static int fail(const struct figure *f, const char *what)
{
	fprintf(stderr, "cuse-bench: %s: %s: %s\n", f->name, what, strerror(errno));
	return -1;
}

/* ------------------------------------------------------------------ operations */

/* What an operation works on; each returns 0, or -1 with errno set. */
struct target {
	int fd;		  /* device, /dev/null, or the ping-pong end written */
	int fd_in;	  /* the ping-pong end read */
	const char *path; /* open_close */
	char *buf;
	size_t size;
};

static int whole(ssize_t r, size_t want)
{
	if (r == (ssize_t)want)
		return 0;
	if (r >= 0)
		errno = EIO; /* short */
	return -1;
}

static int op_read(struct target *t)
{
	return whole(read(t->fd, t->buf, t->size), t->size);
}

/* read of /dev/null: end of file */
static int op_read_eof(struct target *t)
{
	return whole(read(t->fd, t->buf, t->size), 0);
}

static int op_write(struct target *t)
{
	return whole(write(t->fd, t->buf, t->size), t->size);
}

static int op_ioctl(struct target *t)
{
	return ioctl(t->fd, BENCH_IOC_NOTIFIED, t->buf) ? -1 : 0;
}

static int op_work(struct target *t)
{
	return ioctl(t->fd, BENCH_IOC_WORK, t->buf) ? -1 : 0;
}

static int op_open_close(struct target *t)
{
	int fd = open(t->path, O_RDWR);

	return fd < 0 ? -1 : close(fd);
}

static int op_getppid(struct target *t)
{
	return syscall(SYS_getppid) > 0 ? 0 : -1;
}

static int op_pingpong(struct target *t)
{
	char c = 'x';

	if (write(t->fd, &c, 1) != 1)
		return -1;
	return whole(read(t->fd_in, &c, 1), 1);
}

/* Time f->op on @t: samples_of(f) samples of f->batch calls each. */
static int measure(const struct figure *f, struct target *t)
{
	long n = samples_of(f), i, j;
	double *v = malloc(n * sizeof(*v));

	if (!v)
		return fail(f, "malloc");
	for (i = -n / 10; i < n; i++) {
		uint64_t t0 = now_ns();
		double ns;

		for (j = 0; j < f->batch; j++)
			if (f->op(t)) {
				free(v);
				return fail(f, "call");
			}
		ns = (double)(now_ns() - t0) / f->batch;
		if (i >= 0)
			v[i] = f->unit == MB_S ? f->size * 1e3 / ns : ns;
	}
	report(f, v, n, n * f->batch);
	free(v);
	return 0;
}

/* ------------------------------------------------------------------ figures */

static void close_ends(int in, int out)
{
	close(in);
	if (out != in)
		close(out);
}

/* The floors: a 1-byte ping-pong with an echo process on the peer CPU.
 * The echo ends at end of file, when we close our ends. */
static int pingpong(const struct figure *f, int a_in, int a_out, int b_in, int b_out)
{
	struct target t = {.fd = a_out, .fd_in = a_in};
	char c;
	pid_t pid = fork();
	int r;

	if (pid < 0)
		return fail(f, "fork");
	if (pid == 0) {
		close_ends(a_in, a_out);
		pin(cpu_peer);
		while (read(b_in, &c, 1) == 1 && write(b_out, &c, 1) == 1)
			;
		_exit(0);
	}
	close_ends(b_in, b_out);
	r = measure(f, &t);
	close_ends(a_in, a_out);
	waitpid(pid, NULL, 0);
	return r;
}

static int run_seqpacket(const struct figure *f)
{
	int sp[2];

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp))
		return fail(f, "socketpair");
	return pingpong(f, sp[0], sp[0], sp[1], sp[1]);
}

static int run_pipe(const struct figure *f)
{
	int ab[2], ba[2];

	if (pipe2(ab, O_CLOEXEC) || pipe2(ba, O_CLOEXEC))
		return fail(f, "pipe");
	return pingpong(f, ba[0], ab[1], ab[0], ba[1]);
}

/* f->op on an open file of @path, with a buffer of f->size bytes. */
static int run_on(const struct figure *f, const char *path)
{
	struct target t = {.size = f->size};
	int r;

	t.buf = calloc(1, f->size < 8 ? 8 : f->size);
	t.fd = open(path, O_RDWR);
	if (!t.buf || t.fd < 0) {
		r = fail(f, path);
	} else {
		r = measure(f, &t);
		close(t.fd);
	}
	free(t.buf);
	return r;
}

static int run_device(const struct figure *f)
{
	return run_on(f, dev);
}

static int run_nondev(const struct figure *f)
{
	return run_on(f, "/dev/null");
}

static int run_open_close(const struct figure *f)
{
	struct target t = {.path = dev};

	return measure(f, &t);
}

/*
 * Poll wake-up latency.  One sample: this thread calls poll(POLLIN) on the
 * device, which is not readable; the driver's poll callback keeps the poll
 * handle and answers "not ready", so poll waits.  A second client thread,
 * 50 us after being told to go, writes 1 byte; the driver's write callback
 * marks the device readable, reads CLOCK_MONOTONIC and calls
 * fuse_lowlevel_notify_poll.  The sample is from that clock reading to the
 * moment our poll returns POLLIN (the shim polls the driver again on the
 * wake-up, as the kernel does, and that round trip is included).  We then
 * read the byte (not readable again) and fetch the driver's clock reading
 * with BENCH_IOC_NOTIFIED.  A sample whose write came before our poll had
 * reached the driver (no handle waiting: the driver says 0) is taken again.
 */
struct poll_writer {
	int fd;
	sem_t go;
	int stop, err;
};

static void *poll_writer(void *arg)
{
	static const struct timespec pause = {0, 50000};
	struct poll_writer *w = arg;

	for (;;) {
		while (sem_wait(&w->go))
			;
		if (w->stop)
			return NULL;
		nanosleep(&pause, NULL); /* let the poller block first */
		if (write(w->fd, "w", 1) != 1)
			w->err = errno ? errno : EIO;
	}
}

static int poll_sample(const struct figure *f, struct poll_writer *w, double *ns)
{
	struct pollfd p = {.fd = w->fd, .events = POLLIN};
	uint64_t woke, notified;
	char c;

	sem_post(&w->go);
	errno = ETIMEDOUT;
	if (poll(&p, 1, 10000) != 1 || !(p.revents & POLLIN))
		return fail(f, "poll");
	woke = now_ns();
	if (read(w->fd, &c, 1) != 1 || ioctl(w->fd, BENCH_IOC_NOTIFIED, &notified))
		return fail(f, "read or ioctl");
	if (w->err) {
		errno = w->err;
		return fail(f, "write");
	}
	*ns = notified ? (double)(woke - notified) : -1;
	return 0;
}

static int run_poll(const struct figure *f)
{
	struct poll_writer w = {.fd = open(dev, O_RDWR)};
	long n = samples_of(f), i = -n / 10, again = 0;
	double *v = malloc(n * sizeof(*v)), ns;
	pthread_t tid;
	int r = 0;

	if (w.fd < 0 || !v || sem_init(&w.go, 0, 0) ||
	    (errno = pthread_create(&tid, NULL, poll_writer, &w))) {
		free(v);
		return fail(f, "setup");
	}
	while (i < n && !(r = poll_sample(f, &w, &ns))) {
		if (ns >= 0) {
			if (i >= 0)
				v[i] = ns;
			i++;
		} else if (++again > n) {
			errno = EAGAIN;
			r = fail(f, "the write keeps coming before the poll");
		}
	}
	w.stop = 1;
	sem_post(&w.go);
	pthread_join(tid, NULL);
	if (!r)
		report(f, v, n, n);
	close(w.fd);
	free(v);
	return r;
}

/*
 * Scaling: f->threads client threads, each with its own open file of the
 * multi-threaded driver's device, call f->op f->batch times between two
 * barriers; a sample is the operations of all threads over the time from
 * the start to the last thread's end.
 */
struct scale {
	const struct figure *f;
	pthread_barrier_t start, end;
	long rounds;
	int err;
};

struct scale_thread {
	struct scale *s;
	struct target t;
};

static void *scale_thread(void *arg)
{
	struct scale_thread *st = arg;
	struct scale *s = st->s;
	long r, i;

	for (r = 0; r < s->rounds; r++) {
		pthread_barrier_wait(&s->start);
		for (i = 0; i < s->f->batch && !s->err; i++)
			if (s->f->op(&st->t))
				s->err = errno;
		pthread_barrier_wait(&s->end);
	}
	return NULL;
}

static int run_scale(const struct figure *f)
{
	long n = samples_of(f), i;
	struct scale s = {.f = f, .rounds = n + n / 10};
	struct scale_thread th[f->threads];
	pthread_t tid[f->threads];
	char buf[f->threads][f->size];
	double *v = malloc(n * sizeof(*v));
	int k;

	if (!v)
		return fail(f, "malloc");
	for (k = 0; k < f->threads; k++) {
		th[k] = (struct scale_thread){.s = &s, .t = {.buf = buf[k], .size = f->size}};
		th[k].t.fd = open(mtdev, O_RDWR);
		if (th[k].t.fd < 0)
			return fail(f, mtdev);
	}
	pthread_barrier_init(&s.start, NULL, f->threads + 1);
	pthread_barrier_init(&s.end, NULL, f->threads + 1);
	for (k = 0; k < f->threads; k++)
		if ((errno = pthread_create(&tid[k], NULL, scale_thread, &th[k])))
			exit(fail(f, "pthread_create")); /* the others wait at the barrier */
	for (i = -n / 10; i < n; i++) {
		uint64_t t0 = now_ns();

		pthread_barrier_wait(&s.start);
		pthread_barrier_wait(&s.end);
		if (i >= 0)
			v[i] = (double)f->threads * f->batch * 1e9 / (double)(now_ns() - t0);
	}
	for (k = 0; k < f->threads; k++) {
		pthread_join(tid[k], NULL);
		close(th[k].t.fd);
	}
	if (s.err) {
		errno = s.err;
		free(v);
		return fail(f, "call");
	}
	report(f, v, n, n * f->batch * f->threads);
	free(v);
	return 0;
}

/* ------------------------------------------------------------------ the table */

/* clang-format off */
#define RW(op, size, div) {#op "." #size, SHIM, run_device, op_##op, size, 1, 1, div, MB_S, 0}
#define SCALE(n) {"scale.read.1.t" #n, SHIM, run_scale, op_read, 1, n, 100, 100, OPS_S, 0}
#define WORK(n) {"scale.work.t" #n, SHIM, run_scale, op_work, 8, n, 10, 100, OPS_S, 0}
#define BR(name, run, op, size, div, unit) {"bridge." name, SHIM, run, op, size, 1, 1, div, unit, 1}

static const struct figure figures[] = {
	/* name                    mode     run             op             size thr batch  div unit   bridged */
	{"floor.seqpacket.1",      PLAIN,   run_seqpacket,  op_pingpong,   1,   1,  1,     1,  NS_OP, 0},
	{"floor.pipe.1",           PLAIN,   run_pipe,       op_pingpong,   1,   1,  1,     1,  NS_OP, 0},
	{"read.1",                 SHIM,    run_device,     op_read,       1,   1,  1,     1,  NS_OP, 0},
	{"seccomp.read.1",         SECCOMP, run_device,     op_read,       1,   1,  1,     1,  NS_OP, 0},
	{"write.1",                SHIM,    run_device,     op_write,      1,   1,  1,     1,  NS_OP, 0},
	{"ioctl.8",                SHIM,    run_device,     op_ioctl,      8,   1,  1,     1,  NS_OP, 0},
	{"open_close",             SHIM,    run_open_close, op_open_close, 0,   1,  1,     10, NS_OP, 0},
	RW(read, 4096, 2), RW(read, 65536, 5), RW(read, 131072, 9), RW(read, 1048576, 65),
	RW(write, 4096, 2), RW(write, 65536, 5), RW(write, 131072, 9), RW(write, 1048576, 65),
	{"poll.wake",              SHIM,    run_poll,       NULL,          1,   2,  1,     4,  NS_OP, 0},
	BR("read.1", run_device, op_read, 1, 1, NS_OP),
	BR("write.1", run_device, op_write, 1, 1, NS_OP),
	BR("ioctl.8", run_device, op_ioctl, 8, 1, NS_OP),
	BR("open_close", run_open_close, op_open_close, 0, 10, NS_OP),
	BR("read.1048576", run_device, op_read, 1048576, 65, MB_S),
	BR("write.1048576", run_device, op_write, 1048576, 65, MB_S),
	SCALE(1), SCALE(2), SCALE(4), SCALE(8),
	WORK(1), WORK(2), WORK(4), WORK(8),
	{"nondev.read.plain",      PLAIN,   run_nondev,     op_read_eof,   1,   1,  100,   10, NS_OP, 0},
	{"nondev.read.shim",       SHIM,    run_nondev,     op_read_eof,   1,   1,  100,   10, NS_OP, 0},
	{"nondev.read.seccomp",    SECCOMP, run_nondev,     op_read_eof,   1,   1,  1,     1,  NS_OP, 0},
	{"nondev.getppid.plain",   PLAIN,   run_nondev,     op_getppid,    0,   1,  100,   10, NS_OP, 0},
	{"nondev.getppid.shim",    SHIM,    run_nondev,     op_getppid,    0,   1,  100,   10, NS_OP, 0},
	{"nondev.getppid.seccomp", SECCOMP, run_nondev,     op_getppid,    0,   1,  100,   10, NS_OP, 0},
};
/* clang-format on */

#define NFIGURES (sizeof(figures) / sizeof(figures[0]))

static const struct figure *find(const char *name)
{
	size_t i;

	for (i = 0; i < NFIGURES; i++)
		if (!strcmp(figures[i].name, name))
			return &figures[i];
	return NULL;
}

/* ------------------------------------------------------------------ client mode */

/* cuse-bench --client NAME ITERS CPU_CLIENT CPU_PEER DEV MTDEV */
static int client(char **argv)
{
	const struct figure *f = find(argv[0]);

	if (!f) {
		fprintf(stderr, "cuse-bench: no figure '%s'\n", argv[0]);
		return 2;
	}
	iters = atol(argv[1]);
	cpu_client = atoi(argv[2]);
	cpu_peer = atoi(argv[3]);
	dev = argv[4];
	mtdev = argv[5];
	pin(cpu_client);
	return f->run(f) ? 1 : 0;
}

/* ------------------------------------------------------------------ the parent */

/* Paths next to this program in the build tree. */
struct paths {
	char self[PATH_MAX], driver[PATH_MAX], shim[PATH_MAX], cuse_run[PATH_MAX];
	char cused[PATH_MAX], realdriver[PATH_MAX];
};

static int find_paths(struct paths *p)
{
	char dir[PATH_MAX - 64], *slash;
	ssize_t n = readlink("/proc/self/exe", p->self, sizeof(p->self) - 1);

	if (n <= 0 || (size_t)n >= sizeof(dir))
		return -1;
	p->self[n] = '\0';
	memcpy(dir, p->self, n + 1);
	slash = strrchr(dir, '/');
	*slash = '\0';
	snprintf(p->driver, sizeof(p->driver), "%s/bench-driver", dir);
	snprintf(p->cuse_run, sizeof(p->cuse_run), "%s/../cuse-run", dir);
	snprintf(p->cused, sizeof(p->cused), "%s/../cused/cused", dir);
	snprintf(p->realdriver, sizeof(p->realdriver), "%s/realfuse-bench-driver", dir);
	if (getenv("CUSESHIM_LIB"))
		snprintf(p->shim, sizeof(p->shim), "%s", getenv("CUSESHIM_LIB"));
	else
		snprintf(p->shim, sizeof(p->shim), "%s/../libcuseshim/.libs/libcuseshim.so", dir);
	return 0;
}

/* @name matches an --only entry when the entry is the whole name or the
 * part before one of its dots ("read" is read.1, read.4096, ...). */
static int selected(const char *name, const char *only)
{
	const char *p = only;

	if (!only)
		return 1;
	while (*p) {
		size_t len = strcspn(p, ",");

		if (len && !strncmp(name, p, len) && (name[len] == '\0' || name[len] == '.'))
			return 1;
		p += len + (p[len] == ',');
	}
	return 0;
}

static int check_only(const char *only)
{
	char entry[128];
	const char *p = only;
	size_t i;

	while (*p) {
		size_t len = strcspn(p, ",");
		int hit = 0;

		snprintf(entry, sizeof(entry), "%.*s", (int)len, p);
		for (i = 0; i < NFIGURES; i++)
			hit |= selected(figures[i].name, entry);
		if (!hit) {
			fprintf(stderr, "cuse-bench: no figure '%s' (--list shows them)\n", entry);
			return -1;
		}
		p += len + (p[len] == ',');
	}
	return 0;
}

/* @mt: 0 libfuse's single-threaded loop (-s), 1 the multi-threaded one,
 * 2 single-threaded, Debian's libfuse3 bridged (cused run --bridge). */
static pid_t start_driver(const struct paths *p, const char *dir, const char *devpath, int mt)
{
	char sock[PATH_MAX];
	pid_t pid = fork();
	int i;

	if (pid < 0) {
		perror("cuse-bench: fork");
		return pid;
	}
	if (pid == 0) {
		const char *loop = mt == 1 ? NULL : "-s";

		pin(cpu_peer);
		if (mt == 2)
			execl(p->cused, p->cused, "run", "--bridge", "--", p->realdriver,
			      devpath + 5, "-f", loop, (char *)NULL);
		else
			execl(p->driver, p->driver, devpath + 5, "-f", loop, (char *)NULL);
		perror(mt == 2 ? p->cused : p->driver);
		_exit(127);
	}
	snprintf(sock, sizeof(sock), "%s/%s", dir, devpath + 5);
	for (i = 0; i < 1000 && access(sock, F_OK); i++)
		usleep(5000);
	return pid;
}

/* Run figure @f in a process of its own, in its mode. */
static int run_figure(const struct paths *p, const struct figure *f)
{
	char n[32], a[16], b[16];
	char *args[] = {"cuse-run",
			"--seccomp",
			"--",
			(char *)p->self,
			"--client",
			(char *)f->name,
			n,
			a,
			b,
			(char *)(f->bridged ? brdev : dev),
			(char *)mtdev,
			NULL};
	char **argv = f->mode == SECCOMP ? args : args + 3;
	pid_t pid;
	int status;

	snprintf(n, sizeof(n), "%ld", iters);
	snprintf(a, sizeof(a), "%d", cpu_client);
	snprintf(b, sizeof(b), "%d", cpu_peer);
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		if (f->mode == SHIM)
			setenv("LD_PRELOAD", p->shim, 1);
		else
			unsetenv("LD_PRELOAD");
		if (f->mode == SECCOMP)
			pin(cpu_peer); /* the supervisor's CPU; the client pins itself */
		execv(f->mode == SECCOMP ? p->cuse_run : p->self, argv);
		perror(argv[0]);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status)) {
		fprintf(stderr, "cuse-bench: %s failed\n", f->name);
		return -1;
	}
	return 0;
}

static int set_pinning(const char *mode)
{
	if (!strcmp(mode, "same"))
		cpu_client = cpu_peer = 0;
	else if (!strcmp(mode, "diff"))
		cpu_client = 0, cpu_peer = 1;
	else if (strcmp(mode, "none"))
		return -1;
	return 0;
}

static void stop_driver(pid_t pid)
{
	if (pid <= 0)
		return;
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
}

static void usage(FILE *out)
{
	fprintf(out, "usage: cuse-bench [--iters N] [--pin same|diff|none] [--only NAME,...] "
		     "[--list]\n");
}

int main(int argc, char **argv)
{
	char dir[] = "/tmp/cuse-bench.XXXXXX", devpath[64], mtpath[64], brpath[64];
	const char *mode = "none", *only = NULL;
	struct paths p;
	pid_t drv = -1, mtdrv = -1, brdrv = -1;
	int i, devices = 0, bridged = 0, failed = 0;
	size_t k;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--iters") && i + 1 < argc) {
			iters = atol(argv[++i]);
		} else if (!strcmp(argv[i], "--pin") && i + 1 < argc) {
			mode = argv[++i];
		} else if (!strcmp(argv[i], "--only") && i + 1 < argc) {
			only = argv[++i];
		} else if (!strcmp(argv[i], "--list")) {
			for (k = 0; k < NFIGURES; k++)
				printf("%s\n", figures[k].name);
			return 0;
		} else if (!strcmp(argv[i], "--client") && argc - i == 7) {
			return client(argv + i + 1);
		} else {
			usage(stderr);
			return 2;
		}
	}
	if (set_pinning(mode)) {
		usage(stderr);
		return 2;
	}
	if (only && check_only(only))
		return 2;
	if (iters < 100)
		iters = 100;
	if (find_paths(&p)) {
		perror("cuse-bench: /proc/self/exe");
		return 1;
	}
	for (k = 0; k < NFIGURES; k++) {
		devices |= selected(figures[k].name, only) && figures[k].mode != PLAIN;
		bridged |= selected(figures[k].name, only) && figures[k].bridged;
	}
	if (devices && !mkdtemp(dir)) {
		perror("cuse-bench: mkdtemp");
		return 1;
	}
	snprintf(devpath, sizeof(devpath), "/dev/bench%d", (int)getpid());
	snprintf(mtpath, sizeof(mtpath), "/dev/bench%dmt", (int)getpid());
	snprintf(brpath, sizeof(brpath), "/dev/bench%dbr", (int)getpid());
	dev = devpath;
	mtdev = mtpath;
	brdev = brpath;
	printf("# cuse-bench: pin=%s iters=%ld\n", mode, iters);
	if (devices) {
		setenv("CUSE_DIR", dir, 1);
		drv = start_driver(&p, dir, devpath, 0);
		mtdrv = start_driver(&p, dir, mtpath, 1);
		if (bridged && access(p.realdriver, X_OK))
			fprintf(stderr, "cuse-bench: no %s: the bridge.* figures fail\n",
				p.realdriver);
		else if (bridged)
			brdrv = start_driver(&p, dir, brpath, 2);
	}
	for (k = 0; k < NFIGURES; k++)
		if (selected(figures[k].name, only))
			failed |= run_figure(&p, &figures[k]);
	if (devices) {
		stop_driver(drv);
		stop_driver(mtdrv);
		stop_driver(brdrv);
		rmdir(dir);
	}
	return failed ? 1 : 0;
}
