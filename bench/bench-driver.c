/* SPDX-License-Identifier: MIT */
/* The driver cuse-bench measures against: answers every read with as many
 * bytes as asked (from a static buffer) and accepts every write.  Written
 * against <cuse_lowlevel.h> like any driver, linked with libcused.
 *
 * For the poll figure the device has one readiness flag: a write sets it
 * and notifies the poller that is waiting, a read clears it.  The
 * BENCH_IOC_NOTIFIED ioctl (bench.h) tells when that notify was sent;
 * BENCH_IOC_WORK is a request whose cost is the driver's. */
#define FUSE_USE_VERSION 31

#include <cuse_lowlevel.h>

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "bench/bench.h"

static char data[CUSESHIM_BENCH_MAX];

/* Poll state, shared by every open file (the multi-threaded loop calls us
 * concurrently). */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int readable;
static struct fuse_pollhandle *waiting;
static uint64_t notified_ns;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static void bench_read(fuse_req_t req, size_t size, off_t off, struct fuse_file_info *fi)
{
	pthread_mutex_lock(&lock);
	readable = 0;
	pthread_mutex_unlock(&lock);
	fuse_reply_buf(req, data, size < sizeof(data) ? size : sizeof(data));
}

static void bench_write(fuse_req_t req, const char *buf, size_t size, off_t off,
			struct fuse_file_info *fi)
{
	struct fuse_pollhandle *ph;

	pthread_mutex_lock(&lock);
	readable = 1;
	ph = waiting;
	waiting = NULL;
	notified_ns = ph ? now_ns() : 0;
	pthread_mutex_unlock(&lock);
	if (ph) {
		fuse_lowlevel_notify_poll(ph);
		fuse_pollhandle_destroy(ph);
	}
	fuse_reply_write(req, size);
}

static void bench_poll(fuse_req_t req, struct fuse_file_info *fi, struct fuse_pollhandle *ph)
{
	unsigned revents = POLLOUT | POLLWRNORM;

	pthread_mutex_lock(&lock);
	if (readable) {
		revents |= POLLIN | POLLRDNORM;
	} else if (ph) {
		struct fuse_pollhandle *old = waiting;

		waiting = ph;
		ph = old;
	}
	pthread_mutex_unlock(&lock);
	if (ph)
		fuse_pollhandle_destroy(ph);
	fuse_reply_poll(req, revents);
}

/* BENCH_WORK_NS of this thread's CPU time, computing (not sleeping, not
 * waiting: a preempted thread's time does not count). */
static uint64_t work(void)
{
	struct timespec ts;
	uint64_t end, x = 1;
	int i;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	end = (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec + BENCH_WORK_NS;
	do {
		for (i = 0; i < 256; i++)
			x = x * 6364136223846793005ull + 1442695040888963407ull;
		clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	} while ((uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec < end);
	return x;
}

static void bench_ioctl(fuse_req_t req, int cmd, void *arg, struct fuse_file_info *fi,
			unsigned flags, const void *in_buf, size_t in_bufsz, size_t out_bufsz)
{
	uint64_t when;

	if ((unsigned)cmd == BENCH_IOC_WORK) {
		when = work();
		fuse_reply_ioctl(req, 0, &when, sizeof(when));
		return;
	}
	if ((unsigned)cmd != BENCH_IOC_NOTIFIED) {
		fuse_reply_err(req, ENOTTY);
		return;
	}
	pthread_mutex_lock(&lock);
	when = notified_ns;
	pthread_mutex_unlock(&lock);
	fuse_reply_ioctl(req, 0, &when, sizeof(when));
}

static const struct cuse_lowlevel_ops ops = {
	.read = bench_read,
	.write = bench_write,
	.poll = bench_poll,
	.ioctl = bench_ioctl,
};

int main(int argc, char **argv)
{
	char devname[256];
	const char *info[1] = {devname};
	struct cuse_info ci = {.dev_info_argc = 1, .dev_info_argv = info};

	if (argc < 2) {
		fprintf(stderr, "usage: bench-driver NAME [libfuse options]\n");
		return 2;
	}
	snprintf(devname, sizeof(devname), "DEVNAME=%s", argv[1]);
	memset(data, 'b', sizeof(data));
	argv[1] = argv[0];
	return cuse_lowlevel_main(argc - 1, argv + 1, &ci, &ops, NULL);
}
