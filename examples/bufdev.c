/* SPDX-License-Identifier: MIT */
/*
 * bufdev: a CUSE driver written only against libfuse3's <cuse_lowlevel.h>.
 * Writes append to one byte queue shared by every open; reads consume from
 * it; an empty queue reads as end of file.
 *
 *   bufdev [-f] [-d] [-s] --name=NAME [--maj=N] [--min=N] [--log=FILE]
 *          [--read-cap=N] [--write-cap=N] [--open-errno=E]
 *
 * --log appends one line per callback to FILE (what the tests read);
 * --read-cap/--write-cap make replies short; --open-errno fails opens;
 * --release-delay=MS makes release slow (to see who waits for it).
 */
#define FUSE_USE_VERSION 31

#include <cuse_lowlevel.h>
#include <fuse_opt.h>

#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct bufdev_opts {
	char *name;
	unsigned maj, min;
	char *log;
	unsigned read_cap, write_cap;
	unsigned release_delay;
	int open_errno;
	int debug;
};

static struct bufdev_opts opts;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static char *queue;
static size_t queue_len, queue_size;
static FILE *log_file;
static unsigned long next_fh = 1;

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	va_list ap;

	if (opts.debug) {
		va_start(ap, fmt);
		fprintf(stderr, "bufdev: ");
		vfprintf(stderr, fmt, ap);
		va_end(ap);
	}
	if (log_file) {
		va_start(ap, fmt);
		vfprintf(log_file, fmt, ap);
		va_end(ap);
		fflush(log_file);
	}
}

static void bufdev_init_done(void *userdata)
{
	say("init_done\n");
}

static void bufdev_open(fuse_req_t req, struct fuse_file_info *fi)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);

	pthread_mutex_lock(&lock);
	fi->fh = next_fh++;
	pthread_mutex_unlock(&lock);
	say("open fh=%lu flags=0%o uid=%u pid=%d\n", (unsigned long)fi->fh, fi->flags,
	    (unsigned)ctx->uid, (int)ctx->pid);
	if (opts.open_errno) {
		fuse_reply_err(req, opts.open_errno);
		return;
	}
	fuse_reply_open(req, fi);
}

static void bufdev_read(fuse_req_t req, size_t size, off_t off, struct fuse_file_info *fi)
{
	size_t n;
	char *out;

	pthread_mutex_lock(&lock);
	n = size < queue_len ? size : queue_len;
	if (opts.read_cap && n > opts.read_cap)
		n = opts.read_cap;
	out = malloc(n ? n : 1);
	if (out) {
		memcpy(out, queue, n);
		memmove(queue, queue + n, queue_len - n);
		queue_len -= n;
	}
	pthread_mutex_unlock(&lock);
	say("read fh=%lu size=%zu off=%lld flags=0%o -> %zu\n", (unsigned long)fi->fh, size,
	    (long long)off, fi->flags, out ? n : 0);
	if (!out) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	fuse_reply_buf(req, out, n);
	free(out);
}

static void bufdev_write(fuse_req_t req, const char *buf, size_t size, off_t off,
			 struct fuse_file_info *fi)
{
	size_t n = size;

	if (opts.write_cap && n > opts.write_cap)
		n = opts.write_cap;
	pthread_mutex_lock(&lock);
	if (queue_len + n > queue_size) {
		size_t want = (queue_len + n) * 2;
		char *q = realloc(queue, want);

		if (!q) {
			pthread_mutex_unlock(&lock);
			fuse_reply_err(req, ENOMEM);
			return;
		}
		queue = q;
		queue_size = want;
	}
	memcpy(queue + queue_len, buf, n);
	queue_len += n;
	pthread_mutex_unlock(&lock);
	say("write fh=%lu size=%zu off=%lld flags=0%o -> %zu\n", (unsigned long)fi->fh, size,
	    (long long)off, fi->flags, n);
	fuse_reply_write(req, n);
}

static void bufdev_release(fuse_req_t req, struct fuse_file_info *fi)
{
	if (opts.release_delay)
		usleep(opts.release_delay * 1000);
	say("release fh=%lu flags=0%o\n", (unsigned long)fi->fh, fi->flags);
	fuse_reply_err(req, 0);
}

static const struct cuse_lowlevel_ops bufdev_ops = {
	.init_done = bufdev_init_done,
	.open = bufdev_open,
	.read = bufdev_read,
	.write = bufdev_write,
	.release = bufdev_release,
};

#define OPT(t, p)                                                                                  \
	{                                                                                          \
		t, offsetof(struct bufdev_opts, p), 1                                              \
	}
static const struct fuse_opt bufdev_optspec[] = {
	OPT("--name=%s", name),
	OPT("--maj=%u", maj),
	OPT("--min=%u", min),
	OPT("--log=%s", log),
	OPT("--read-cap=%u", read_cap),
	OPT("--write-cap=%u", write_cap),
	OPT("--open-errno=%i", open_errno),
	OPT("--release-delay=%u", release_delay),
	OPT("-d", debug),
	FUSE_OPT_KEY("-d", FUSE_OPT_KEY_KEEP),
	FUSE_OPT_KEY("-h", 0),
	FUSE_OPT_KEY("--help", 0),
	FUSE_OPT_END,
};

static int bufdev_key(void *data, const char *arg, int key, struct fuse_args *outargs)
{
	if (key == 0) {
		printf("usage: bufdev [-f] [-d] [-s] --name=NAME [--maj=N] [--min=N]\n"
		       "              [--log=FILE] [--read-cap=N] [--write-cap=N]"
		       " [--open-errno=E] [--release-delay=MS]\n");
		exit(0);
	}
	return 1;
}

int main(int argc, char **argv)
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	struct cuse_info ci = {0};
	char *devarg;
	const char *dev_info[1];
	int ret;

	if (fuse_opt_parse(&args, &opts, bufdev_optspec, bufdev_key)) {
		fprintf(stderr, "bufdev: bad arguments\n");
		return 1;
	}
	if (!opts.name) {
		fprintf(stderr, "bufdev: --name=NAME is required\n");
		return 1;
	}
	if (opts.log) {
		log_file = fopen(opts.log, "ae");
		if (!log_file) {
			fprintf(stderr, "bufdev: cannot open %s: %s\n", opts.log, strerror(errno));
			return 1;
		}
	}
	devarg = malloc(strlen(opts.name) + 9);
	if (!devarg)
		return 1;
	sprintf(devarg, "DEVNAME=%s", opts.name);
	dev_info[0] = devarg;
	ci.dev_major = opts.maj;
	ci.dev_minor = opts.min;
	ci.dev_info_argc = 1;
	ci.dev_info_argv = dev_info;
	ci.flags = CUSE_UNRESTRICTED_IOCTL;
	ret = cuse_lowlevel_main(args.argc, args.argv, &ci, &bufdev_ops, NULL);
	fuse_opt_free_args(&args);
	free(devarg);
	free(opts.name);
	free(opts.log);
	return ret;
}
