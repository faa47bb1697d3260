/* SPDX-License-Identifier: MIT */
/*
 * cuse-bench: latency of emulated device operations through the real shim
 * and libcused, next to the floors measured in the same run.  One line per
 * figure, in the shape of ../shared/perf-anchors:
 *
 *   RESULT <name> median=<x> p99=<x> min=<x> max=<x> unit=ns/op iters=<n>
 *
 *   cuse-bench [--iters N] [--pin same|diff|none]
 *
 * It starts bench-driver in a private registry, then runs itself under the
 * shim (LD_PRELOAD) in client mode for the device figures.  Built by make,
 * not run by make check (timings on a shared machine are not tests).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long iters = 20000;
static int pin_a = -1, pin_b = -1;

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

static void report(const char *name, double *v, long n)
{
	qsort(v, n, sizeof(*v), cmp);
	printf("RESULT %s median=%.1f p99=%.1f min=%.1f max=%.1f unit=ns/op iters=%ld\n", name,
	       n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2, v[(long)(n * 0.99)], v[0],
	       v[n - 1], n);
	fflush(stdout);
}

static void pin(int cpu)
{
	cpu_set_t s;

	if (cpu < 0)
		return;
	CPU_ZERO(&s);
	CPU_SET(cpu, &s);
	sched_setaffinity(0, sizeof(s), &s);
}

/* 1-byte ping-pong between two processes over @a/@b (fds of each end). */
static void pingpong(const char *name, int a_rd, int a_wr, int b_rd, int b_wr)
{
	double *v = malloc(iters * sizeof(*v));
	long i, warm = iters / 10;
	char c = 'x';
	pid_t pid = fork();

	if (pid == 0) {
		pin(pin_b);
		for (i = 0; i < iters + warm; i++)
			if (read(b_rd, &c, 1) != 1 || write(b_wr, &c, 1) != 1)
				_exit(1);
		_exit(0);
	}
	pin(pin_a);
	for (i = 0; i < iters + warm; i++) {
		uint64_t t = now_ns();

		if (write(a_wr, &c, 1) != 1 || read(a_rd, &c, 1) != 1) {
			perror(name);
			exit(1);
		}
		if (i >= warm)
			v[i - warm] = now_ns() - t;
	}
	waitpid(pid, NULL, 0);
	report(name, v, iters);
	free(v);
}

static void floors(void)
{
	int sp[2], p1[2], p2[2];

	if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sp) || pipe(p1) || pipe(p2)) {
		perror("floors");
		exit(1);
	}
	pingpong("floor.seqpacket.1", sp[0], sp[0], sp[1], sp[1]);
	pingpong("floor.pipe.1", p2[0], p1[1], p1[0], p2[1]);
	close(sp[0]);
	close(sp[1]);
}

/* Client mode, under the shim. */
static int client(const char *dev)
{
	double *v = malloc(iters * sizeof(*v));
	long i, warm = iters / 10;
	char buf[8];
	int fd;

	pin(pin_a);
	fd = open(dev, O_RDWR);
	if (fd < 0) {
		fprintf(stderr, "cuse-bench: open %s: %s\n", dev, strerror(errno));
		return 1;
	}
	for (i = 0; i < iters + warm; i++) {
		uint64_t t = now_ns();

		if (read(fd, buf, 1) != 1) {
			perror("cuse-bench: read");
			return 1;
		}
		if (i >= warm)
			v[i - warm] = now_ns() - t;
	}
	report("read.1", v, iters);
	for (i = 0; i < iters + warm; i++) {
		uint64_t t = now_ns();

		if (write(fd, buf, 1) != 1) {
			perror("cuse-bench: write");
			return 1;
		}
		if (i >= warm)
			v[i - warm] = now_ns() - t;
	}
	report("write.1", v, iters);
	close(fd);
	for (i = 0; i < iters / 10 + warm; i++) {
		uint64_t t = now_ns();

		fd = open(dev, O_RDWR);
		if (fd < 0 || close(fd)) {
			perror("cuse-bench: open+close");
			return 1;
		}
		if (i >= warm)
			v[i - warm] = now_ns() - t;
	}
	report("open_close", v, iters / 10);
	return 0;
}

static void sibling(char *out, size_t size, const char *self, const char *rel)
{
	char exe[PATH_MAX - 64], *slash;
	ssize_t n = readlink(self, exe, sizeof(exe) - 1);

	exe[n > 0 ? n : 0] = '\0';
	slash = strrchr(exe, '/');
	if (slash)
		*slash = '\0';
	snprintf(out, size, "%s/%s", exe, rel);
}

int main(int argc, char **argv)
{
	char dir[] = "/tmp/cuse-bench.XXXXXX", drvpath[PATH_MAX + 32], shim[PATH_MAX + 64],
	     self[64];
	char sock[PATH_MAX], dev[64], iterarg[32];
	const char *mode = "none";
	pid_t drv, cl;
	int i, status;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--iters") && i + 1 < argc)
			iters = atol(argv[++i]);
		else if (!strcmp(argv[i], "--pin") && i + 1 < argc)
			mode = argv[++i];
		else if (!strcmp(argv[i], "--client") && i + 1 < argc)
			return pin_a = getenv("CUSE_BENCH_PIN") ? atoi(getenv("CUSE_BENCH_PIN"))
								: -1,
			       client(argv[++i]);
		else {
			fprintf(stderr, "usage: cuse-bench [--iters N] [--pin same|diff|none]\n");
			return 2;
		}
	}
	if (iters < 100)
		iters = 100;
	if (!strcmp(mode, "same"))
		pin_a = pin_b = 0;
	else if (!strcmp(mode, "diff"))
		pin_a = 0, pin_b = 1;
	printf("# cuse-bench: pin=%s iters=%ld\n", mode, iters);
	floors();

	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	sibling(drvpath, sizeof(drvpath), "/proc/self/exe", "bench-driver");
	sibling(shim, sizeof(shim), "/proc/self/exe", "../libcuseshim/.libs/libcuseshim.so");
	if (getenv("CUSESHIM_LIB"))
		snprintf(shim, sizeof(shim), "%s", getenv("CUSESHIM_LIB"));
	snprintf(self, sizeof(self), "/proc/%d/exe", (int)getpid());
	setenv("CUSE_DIR", dir, 1);
	snprintf(dev, sizeof(dev), "/dev/bench%d", (int)getpid());
	drv = fork();
	if (drv == 0) {
		pin(pin_b);
		execl(drvpath, drvpath, dev + 5, "-f", "-s", (char *)NULL);
		perror(drvpath);
		_exit(127);
	}
	snprintf(sock, sizeof(sock), "%s/%s", dir, dev + 5);
	for (i = 0; i < 1000 && access(sock, F_OK); i++)
		usleep(5000);
	snprintf(iterarg, sizeof(iterarg), "%ld", iters);
	cl = fork();
	if (cl == 0) {
		char pinv[16];

		snprintf(pinv, sizeof(pinv), "%d", pin_a);
		setenv("CUSE_BENCH_PIN", pinv, 1);
		setenv("LD_PRELOAD", shim, 1);
		execl(self, "cuse-bench", "--iters", iterarg, "--client", dev, (char *)NULL);
		_exit(127);
	}
	waitpid(cl, &status, 0);
	kill(drv, SIGTERM);
	waitpid(drv, NULL, 0);
	rmdir(dir);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}
