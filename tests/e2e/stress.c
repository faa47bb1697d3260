/* SPDX-License-Identifier: MIT */
/*
 * stress DEV SECONDS THREADS: two processes of THREADS threads each hammer
 * a bufdev --per-open device for SECONDS (a negative number -N: for N
 * rounds of five operations per thread instead): every thread writes a pattern to
 * its own open file, polls for it, checks FIONREAD, reads it back and
 * compares every byte, while also polling and ioctl-ing one fd opened
 * before the fork and shared by both processes and all their threads.  Prints "ok ops=N" per
 * process; any wrong byte, count or error fails.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *dev;
static double seconds;
static long rounds; /* instead of seconds, when > 0 */
static int shared_fd;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

#define FAIL(...)                                                                                  \
	do {                                                                                       \
		fprintf(stderr, "stress[%d]: ", (int)getpid());                                    \
		fprintf(stderr, __VA_ARGS__);                                                      \
		fprintf(stderr, " (%s)\n", strerror(errno));                                       \
		exit(1);                                                                           \
	} while (0)

static void *worker(void *arg)
{
	long id = (long)arg, ops = 0;
	unsigned seed = (unsigned)(id * 7919 + getpid());
	char wbuf[4096], rbuf[4096];
	double end = now() + seconds;
	int fd = open(dev, O_RDWR);

	if (fd < 0)
		FAIL("open %s", dev);
	while (rounds ? ops < rounds * 5 : now() < end) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		struct pollfd ps = {.fd = shared_fd, .events = POLLOUT};
		size_t k = 1 + rand_r(&seed) % sizeof(wbuf), i;
		int avail = -1;
		ssize_t n;

		for (i = 0; i < k; i++)
			wbuf[i] = (char)(id * 31 + ops + i * 7);
		if ((n = write(fd, wbuf, k)) != (ssize_t)k)
			FAIL("thread %ld: write %zu gave %zd", id, k, n);
		if (poll(&p, 1, 5000) != 1 || !(p.revents & POLLIN))
			FAIL("thread %ld: poll gave revents 0x%x", id, p.revents);
		if (ioctl(fd, FIONREAD, &avail) || avail != (int)k)
			FAIL("thread %ld: FIONREAD %d, wrote %zu", id, avail, k);
		if ((n = read(fd, rbuf, sizeof(rbuf))) != (ssize_t)k || memcmp(rbuf, wbuf, k))
			FAIL("thread %ld: read %zd of %zu, or wrong bytes", id, n, k);
		if (ioctl(shared_fd, FIONREAD, &avail) || avail < 0)
			FAIL("thread %ld: shared FIONREAD", id);
		if (poll(&ps, 1, 0) != 1 || !(ps.revents & POLLOUT))
			FAIL("thread %ld: shared poll 0x%x", id, ps.revents);
		ops += 5;
	}
	close(fd);
	return (void *)ops;
}

static int run(int threads)
{
	pthread_t *t = calloc(threads, sizeof(*t));
	long total = 0, i;

	for (i = 0; i < threads; i++)
		if (pthread_create(&t[i], NULL, worker, (void *)i))
			FAIL("pthread_create");
	for (i = 0; i < threads; i++) {
		void *ops;

		pthread_join(t[i], &ops);
		total += (long)ops;
	}
	close(shared_fd);
	printf("ok ops=%ld\n", total);
	fflush(stdout);
	return 0;
}

int main(int argc, char **argv)
{
	int status, threads;
	pid_t child;

	if (argc != 4) {
		fprintf(stderr, "usage: stress DEV SECONDS THREADS\n");
		return 2;
	}
	dev = argv[1];
	seconds = atof(argv[2]);
	if (seconds < 0)
		rounds = (long)-seconds;
	threads = atoi(argv[3]);
	/* one open file shared by both processes and all their threads */
	shared_fd = open(dev, O_RDWR);
	if (shared_fd < 0)
		FAIL("open shared %s", dev);
	child = fork();
	if (child == 0)
		return run(threads);
	run(threads);
	if (waitpid(child, &status, 0) != child || !WIFEXITED(status) || WEXITSTATUS(status))
		return 1;
	return 0;
}
