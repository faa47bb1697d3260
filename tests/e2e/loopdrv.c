/* SPDX-License-Identifier: MIT */
/*
 * loopdrv: a test driver built three times, with FUSE_USE_VERSION 30, 35
 * and 312, so that each of libfuse3's loop ABIs is called the way a real
 * driver built with that version calls it:
 *
 *   loopdrv NAME LOG MODE [libfuse options]
 *     MODE st      cuse_lowlevel_setup + fuse_session_loop
 *          mt      cuse_lowlevel_setup + fuse_session_loop_mt (the ABI of
 *                  this FUSE_USE_VERSION: _31, _32 or _312)
 *          custom  its own poll loop on fuse_session_fd with
 *                  fuse_session_receive_buf / fuse_session_process_buf
 *          main    cuse_lowlevel_main
 *          two     cuse_lowlevel_setup twice, for NAME and NAME2 (whose
 *                  reads answer "data:two"), each session looping in a
 *                  thread of its own
 *          signals SIGINT caught and SIGHUP ignored by the driver before
 *                  setup, dispositions logged during and after; the
 *                  first SIGTERM ends the loop, then fuse_session_exit,
 *                  fuse_session_reset, and the loop runs again until the
 *                  second
 *
 * Reads answer "data:<userdata check>" with fuse_reply_iov (and
 * fuse_reply_data for reads of 3 bytes, fuse_reply_none for reads of 4);
 * every callback is logged, init_done with whether the device's registry
 * entry is already published.  With LOOPDRV_USE_IN_INIT_DONE=CMD set,
 * init_done runs CMD (system(3)) and logs its exit status.  With
 * LOOPDRV_SPACED_DEVNAME set, the device info is "DEVNAME=not-this-one"
 * and then " DEVNAME\t= NAME \n", which the kernel reads as NAME.
 */
#include <cuse_lowlevel.h>
#include <fuse_lowlevel.h>

#include <errno.h>
#include <signal.h>
#include <poll.h>
#include <pthread.h>
#include <time.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static FILE *logf_;
static const char *devname_;
static int marker, marker2;

static void say(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfprintf(logf_, fmt, ap);
	va_end(ap);
	fflush(logf_);
}

static void log_func(enum fuse_log_level level, const char *fmt, va_list ap)
{
	fprintf(logf_, "fuse_log: ");
	vfprintf(logf_, fmt, ap);
	fflush(logf_);
}

static void drv_init(void *userdata, struct fuse_conn_info *conn)
{
	say("init userdata=%s proto=%u max_write=%u\n", userdata == &marker ? "ok" : "bad",
	    conn->proto_major, conn->max_write);
}

/* The registry's attribute line names this process once DEVNAME is
 * published. */
static const char *published(void *userdata)
{
	const char *dir = getenv("CUSE_DIR");
	char path[600], line[256] = "", want[32];
	FILE *f;

	if (!dir)
		return "unknown";
	snprintf(path, sizeof(path), "%s/.%s%s.attr", dir, devname_,
		 userdata == &marker2 ? "2" : "");
	f = fopen(path, "re");
	if (f) {
		if (!fgets(line, sizeof(line), f))
			line[0] = '\0';
		fclose(f);
	}
	snprintf(want, sizeof(want), " pid=%d ", (int)getpid());
	return strstr(line, want) ? "yes" : "no";
}

static void drv_init_done(void *userdata)
{
	const char *use = getenv("LOOPDRV_USE_IN_INIT_DONE");

	say("init_done published=%s\n", published(userdata));
	/* a client may use the device as soon as it is published, even
	 * while init_done runs (another worker serves it) */
	if (use) {
		int st = system(use);

		say("init_done use=%d\n", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	}
}

static void drv_destroy(void *userdata)
{
	say("destroy\n");
}

static void drv_open(fuse_req_t req, struct fuse_file_info *fi)
{
	fi->fh = 7;
	say("open\n");
	fuse_reply_open(req, fi);
}

/* Reads of 5 bytes meet here: none is answered until 4 are inside the
 * driver at once, which only a loop running callbacks concurrently allows
 * (a single thread, or max_threads < 4, times out with EIO). */
static pthread_mutex_t barrier_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t barrier_cond = PTHREAD_COND_INITIALIZER;
static int barrier_in, barrier_gen;

static void barrier_read(fuse_req_t req)
{
	struct timespec deadline;
	int gen, ok = 1;

	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += 3;
	pthread_mutex_lock(&barrier_lock);
	gen = barrier_gen;
	if (++barrier_in == 4) {
		barrier_in = 0;
		barrier_gen++;
		pthread_cond_broadcast(&barrier_cond);
	}
	while (gen == barrier_gen && ok)
		ok = pthread_cond_timedwait(&barrier_cond, &barrier_lock, &deadline) == 0;
	if (!ok)
		barrier_in--;
	pthread_mutex_unlock(&barrier_lock);
	say("barrier %s\n", ok ? "met" : "timed out");
	if (ok)
		fuse_reply_buf(req, "met!\n", 5);
	else
		fuse_reply_err(req, EIO);
}

static void drv_read(fuse_req_t req, size_t size, off_t off, struct fuse_file_info *fi)
{
	void *u = fuse_req_userdata(req);
	const char *ud = u == &marker ? "ok" : u == &marker2 ? "two" : "bad";
	struct iovec iov[2] = {{"data:", 5}, {(void *)ud, strlen(ud)}};

	say("read size=%zu fh=%llu\n", size, (unsigned long long)fi->fh);
	if (size == 5) {
		barrier_read(req);
		return;
	}
	if (size == 4) {
		/* no answer: the caller waits until the connection goes */
		fuse_reply_none(req);
		return;
	}
	if (size == 3) {
		struct fuse_bufvec bv = FUSE_BUFVEC_INIT(3);

		bv.buf[0].mem = "bvd";
		fuse_reply_data(req, &bv, FUSE_BUF_SPLICE_MOVE);
		return;
	}
	if (size < 7) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	fuse_reply_iov(req, iov, 2);
}

static void drv_release(fuse_req_t req, struct fuse_file_info *fi)
{
	say("release fh=%llu\n", (unsigned long long)fi->fh);
	fuse_reply_err(req, 0);
}

static const struct cuse_lowlevel_ops ops = {
	.init = drv_init,
	.init_done = drv_init_done,
	.destroy = drv_destroy,
	.open = drv_open,
	.read = drv_read,
	.release = drv_release,
};

/* The ending signals reach this loop only in its ppoll: a receive that
 * blocked after the poll saw the fd readable (it must not, as on
 * /dev/cuse) would hang the driver, and the test's wait for its exit
 * fails. */
static int custom_loop(struct fuse_session *se)
{
	struct fuse_buf buf = {0};
	sigset_t ending, old;
	int res = 0;

	sigemptyset(&ending);
	sigaddset(&ending, SIGTERM);
	sigaddset(&ending, SIGINT);
	sigaddset(&ending, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &ending, &old);
	while (!fuse_session_exited(se)) {
		struct pollfd p = {.fd = fuse_session_fd(se), .events = POLLIN};
		struct timespec tick = {0, 200 * 1000000L};

		if (ppoll(&p, 1, &tick, &old) <= 0)
			continue;
		res = fuse_session_receive_buf(se, &buf);
		if (res == -EINTR) {
			res = 0; /* nothing this time */
			continue;
		}
		if (res <= 0)
			break;
		fuse_session_process_buf(se, &buf);
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	free(buf.mem);
	fuse_session_reset(se);
	return res < 0 ? res : 0;
}

static struct cuse_info two_ci;

static void *loop_thread(void *se)
{
	say("second loop returned %d\n", fuse_session_loop(se));
	return NULL;
}

/* Two devices in one process.  As with libfuse, the signal handlers end
 * the session set up last; the driver then ends the other one itself. */
static int two_devices(int argc, char **argv, const char *name)
{
	char dev2[300];
	const char *info2[1] = {dev2};
	struct cuse_info ci2 = {.dev_info_argc = 1, .dev_info_argv = info2};
	struct fuse_session *se1, *se2;
	pthread_t t;
	int mt, res;

	snprintf(dev2, sizeof(dev2), "DEVNAME=%s2", name);
	se2 = cuse_lowlevel_setup(argc, argv, &ci2, &ops, &mt, &marker2);
	if (!se2)
		return 1;
	se1 = cuse_lowlevel_setup(argc, argv, &two_ci, &ops, &mt, &marker);
	if (!se1)
		return 1;
	if (pthread_create(&t, NULL, loop_thread, se2))
		return 1;
	res = fuse_session_loop(se1);
	say("first loop returned %d\n", res);
	fuse_session_exit(se2);
	pthread_join(t, NULL);
	cuse_lowlevel_teardown(se1);
	cuse_lowlevel_teardown(se2);
	return res == -1 ? 1 : 0;
}

static void on_sigint(int sig)
{
	static const char line[] = "own SIGINT handler\n";

	(void)sig;
	if (write(fileno(logf_), line, sizeof(line) - 1) < 0) {
		/* nothing to do in a handler */
	}
}

static void say_dispositions(const char *when)
{
	static const int sigs[] = {SIGINT, SIGHUP, SIGTERM, SIGPIPE};
	size_t i;

	say("%s:", when);
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		struct sigaction sa;

		sigaction(sigs[i], NULL, &sa);
		say(" %s=%s", sigabbrev_np(sigs[i]),
		    sa.sa_handler == on_sigint ? "own"
		    : sa.sa_handler == SIG_IGN ? "ignored"
		    : sa.sa_handler == SIG_DFL ? "default"
					       : "fuse");
	}
	say("\n");
}

static int signals_loop(struct fuse_session *se)
{
	int res;

	say_dispositions("during");
	res = fuse_session_loop(se);
	/* the loop resets the session as it returns, as libfuse's does */
	say("first loop returned %d exited=%d\n", res, fuse_session_exited(se));
	fuse_session_exit(se);
	say("exit exited=%d\n", fuse_session_exited(se));
	fuse_session_reset(se);
	say("reset exited=%d\n", fuse_session_exited(se));
	return fuse_session_loop(se);
}

int main(int argc, char **argv)
{
	char devname[256];
	const char *info[2] = {"IGNORED=1", devname};
	struct cuse_info ci = {.dev_info_argc = 2, .dev_info_argv = info};
	struct fuse_session *se;
	const char *mode, *name;
	int mt = 0, res;

	if (argc < 4) {
		fprintf(stderr, "usage: loopdrv NAME LOG st|mt|custom|main [options]\n");
		return 2;
	}
	name = devname_ = argv[1];
	snprintf(devname, sizeof(devname), "DEVNAME=%s", name);
	if (getenv("LOOPDRV_SPACED_DEVNAME")) {
		/* the kernel strips key and value, and the last one wins */
		info[0] = "DEVNAME=not-this-one";
		snprintf(devname, sizeof(devname), " DEVNAME\t= %s \n", name);
	}
	logf_ = fopen(argv[2], "a");
	if (!logf_)
		return 2;
	mode = argv[3];
	fuse_set_log_func(log_func);
	say("fuse_version=%d FUSE_VERSION=%d\n", fuse_version(), FUSE_VERSION);
	argv[3] = argv[0];
	argc -= 3;
	argv += 3;
	if (!strcmp(mode, "main"))
		return cuse_lowlevel_main(argc, argv, &ci, &ops, &marker);
	if (!strcmp(mode, "signals")) {
		signal(SIGINT, on_sigint);
		signal(SIGHUP, SIG_IGN);
	}
	if (!strcmp(mode, "two")) {
		two_ci = ci;
		return two_devices(argc, argv, name);
	}
	se = cuse_lowlevel_setup(argc, argv, &ci, &ops, &mt, &marker);
	if (!se)
		return 1;
	say("multithreaded=%d\n", mt);
	if (!strcmp(mode, "st")) {
		res = fuse_session_loop(se);
	} else if (!strcmp(mode, "signals")) {
		res = signals_loop(se);
	} else if (!strcmp(mode, "custom")) {
		res = custom_loop(se);
	} else {
#if FUSE_USE_VERSION < 32
		res = fuse_session_loop_mt(se, 0);
#elif FUSE_USE_VERSION < FUSE_MAKE_VERSION(3, 12)
		struct fuse_loop_config cfg = {.clone_fd = 0, .max_idle_threads = 10};

		res = fuse_session_loop_mt(se, &cfg);
#else
		struct fuse_loop_config *cfg = fuse_loop_cfg_create();

		fuse_loop_cfg_set_max_threads(cfg, 4);
		res = fuse_session_loop_mt(se, cfg);
		fuse_loop_cfg_destroy(cfg);
#endif
	}
	say("loop returned %d\n", res);
	cuse_lowlevel_teardown(se);
	if (!strcmp(mode, "signals"))
		say_dispositions("after");
	return res == -1 ? 1 : 0;
}
