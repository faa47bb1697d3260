/* SPDX-License-Identifier: MIT */
/*
 * ptrdev: a CUSE driver written only against libfuse3's <cuse_lowlevel.h>,
 * whose ioctls chase pointers into the caller's memory the way libfuse's
 * example/cuse.c and osspd do, and probe every limit of the RETRY protocol
 * (the commands are described in ptrdev.h).
 *
 *   ptrdev [-f] [-d] [-s] --name=NAME [--log=FILE] [--restricted]
 *
 * --log appends one line per callback to FILE, written after the reply and
 * naming what the reply function returned:
 *   ioctl NAME cmd=0x.. flags=0x.. arg=0x.. in=N out=N -> ACTION = RET
 * --restricted runs the device without CUSE_UNRESTRICTED_IOCTL.
 *
 * Unrestricted ioctls arrive with no data at first; each handler looks at
 * what it was given (in_bufsz, out_bufsz) to tell the rounds apart, and
 * asks for more with fuse_reply_ioctl_retry until it has what it needs.
 * The driver keeps no state between rounds: the struct is simply asked for
 * again in every round that needs it.
 */
#define FUSE_USE_VERSION 31

#include <cuse_lowlevel.h>
#include <fuse_opt.h>

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include "ptrdev.h"

struct ptrdev_opts {
	char *name;
	char *log;
	int restricted;
	int debug;
};

static struct ptrdev_opts opts;
static FILE *log_file;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned long next_fh = 1;

/* One ioctl callback: what came in, for the handler and the log line. */
struct call {
	fuse_req_t req;
	const char *name;
	unsigned cmd;
	unsigned flags;
	void *arg;
	const void *in;
	size_t in_size, out_size;
	bool zeroiov; /* surround the iovecs of a retry with empty ones */
};

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	va_list ap;

	if (opts.debug) {
		va_start(ap, fmt);
		fprintf(stderr, "ptrdev: ");
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

static void note(const struct call *c, const char *action, int ret)
{
	say("ioctl %s cmd=0x%x flags=0x%x arg=0x%lx in=%zu out=%zu -> %s = %d\n", c->name, c->cmd,
	    c->flags, (unsigned long)(uintptr_t)c->arg, c->in_size, c->out_size, action, ret);
}

/* ------------------------------------------------------------------ replies */

/* Copy @n iovecs to @dst, each between two empty ones when asked. */
static size_t spread(const struct call *c, struct iovec *dst, const struct iovec *src, size_t n)
{
	size_t i, k = 0;

	for (i = 0; i < n; i++) {
		if (c->zeroiov)
			dst[k++] = (struct iovec){NULL, 0};
		dst[k++] = src[i];
	}
	if (c->zeroiov && n)
		dst[k++] = (struct iovec){NULL, 0};
	return k;
}

static void retry(struct call *c, const struct iovec *in, size_t nin, const struct iovec *out,
		  size_t nout)
{
	struct iovec vin[8], vout[8];
	char action[64];
	int r;

	if (c->zeroiov && nin <= 3 && nout <= 3) {
		nin = spread(c, vin, in, nin);
		nout = spread(c, vout, out, nout);
		in = vin;
		out = vout;
	}
	r = fuse_reply_ioctl_retry(c->req, in, nin, out, nout);
	snprintf(action, sizeof(action), "retry in=%zu out=%zu", nin, nout);
	note(c, action, r);
}

static void reply_iov(struct call *c, int result, const struct iovec *iov, int count)
{
	char action[64];
	size_t size = 0;
	int i, r;

	for (i = 0; i < count; i++)
		size += iov[i].iov_len;
	r = fuse_reply_ioctl_iov(c->req, result, iov, count);
	snprintf(action, sizeof(action), "reply result=%d size=%zu", result, size);
	note(c, action, r);
}

static void reply(struct call *c, int result, const void *buf, size_t size)
{
	char action[64];
	int r;

	r = fuse_reply_ioctl(c->req, result, buf, size);
	snprintf(action, sizeof(action), "reply result=%d size=%zu", result, size);
	note(c, action, r);
}

static void reply_err(struct call *c, int err)
{
	char action[32];
	int r;

	r = fuse_reply_err(c->req, err);
	snprintf(action, sizeof(action), "err %d", err);
	note(c, action, r);
}

/* ------------------------------------------------------- pointer chasing */

/* Round 1 of every struct ptr_req command: ask for the struct.  Returns
 * true with *r filled once it is there. */
static bool get_req(struct call *c, struct ptr_req *r)
{
	struct iovec iov = {c->arg, sizeof(*r)};

	if (c->in_size < sizeof(*r)) {
		retry(c, &iov, 1, NULL, 0);
		return false;
	}
	memcpy(r, c->in, sizeof(*r));
	c->zeroiov = r->flags & PTR_F_ZEROIOV;
	return true;
}

static void do_reverse(struct call *c)
{
	struct ptr_req r;
	const char *data;
	char *rev;
	size_t i;

	if (!get_req(c, &r))
		return;
	if (r.len == 0) {
		reply(c, 0, NULL, 0);
		return;
	}
	if (c->in_size < sizeof(r) + r.len || c->out_size < r.len) {
		struct iovec in[2] = {{c->arg, sizeof(r)}, {r.buf, r.len}};
		struct iovec out = {r.buf, r.len};

		retry(c, in, 2, &out, 1);
		return;
	}
	data = (const char *)c->in + sizeof(r);
	rev = malloc(r.len);
	if (!rev) {
		reply_err(c, ENOMEM);
		return;
	}
	for (i = 0; i < r.len; i++)
		rev[i] = data[r.len - 1 - i];
	reply(c, (int)r.len, rev, r.len);
	free(rev);
}

static void do_get(struct call *c)
{
	static const char msg[] = PTRDEV_MESSAGE;
	struct ptr_req r;
	size_t n;

	if (!get_req(c, &r))
		return;
	n = r.len < sizeof(msg) - 1 ? r.len : sizeof(msg) - 1;
	/* Only now is it known how much goes out. */
	if (c->out_size < sizeof(r) + n) {
		struct iovec in = {c->arg, sizeof(r)};
		struct iovec out[2] = {{c->arg, sizeof(r)}, {r.buf, n}};

		retry(c, &in, 1, out, 2);
		return;
	}
	r.len = (uint32_t)n;
	{
		struct iovec data[2] = {{&r, sizeof(r)}, {(void *)msg, n}};

		reply_iov(c, (int)n, data, 2);
	}
}

/* Ask for buf out (and the struct again in), as FILL, OVERLONG and
 * NEGDATA all do; true once out_size covers it. */
static bool get_out(struct call *c, const struct ptr_req *r)
{
	struct iovec in = {c->arg, sizeof(*r)};
	struct iovec out = {r->buf, r->len};

	if (c->out_size >= r->len)
		return true;
	retry(c, &in, 1, &out, 1);
	return false;
}

static void do_fill(struct call *c)
{
	struct ptr_req r;
	char *out;

	if (!get_req(c, &r) || !get_out(c, &r))
		return;
	out = malloc(r.len ? r.len : 1);
	if (!out) {
		reply_err(c, ENOMEM);
		return;
	}
	memset(out, (unsigned char)r.flags, r.len);
	reply(c, (int)r.len, out, r.len);
	free(out);
}

static void do_overlong(struct call *c)
{
	struct ptr_req r;
	char *out;

	if (!get_req(c, &r) || !get_out(c, &r))
		return;
	out = malloc(r.flags ? r.flags : 1);
	if (!out) {
		reply_err(c, ENOMEM);
		return;
	}
	memset(out, '#', r.flags);
	reply(c, (int)r.flags, out, r.flags);
	free(out);
}

static void do_negdata(struct call *c)
{
	static const char partial[] = "partial";
	struct ptr_req r;

	if (!get_req(c, &r) || !get_out(c, &r))
		return;
	/* A negative result with data: the data is still copied out. */
	reply(c, -EBUSY, partial, r.len < sizeof(partial) - 1 ? r.len : sizeof(partial) - 1);
}

/* ------------------------------------------------------------ limits */

static void do_iov256(struct call *c)
{
	struct iovec in[128], out[128];
	char *base = c->arg, data[128];
	size_t i;

	if (c->in_size < 128) {
		for (i = 0; i < 128; i++) {
			in[i] = (struct iovec){base + i, 1};
			out[i] = (struct iovec){base + 128 + i, 1};
		}
		retry(c, in, 128, out, 128);
		return;
	}
	for (i = 0; i < 128; i++)
		data[i] = ((const char *)c->in)[127 - i];
	reply(c, 128, data, sizeof(data));
}

/* 257 one-byte out iovecs over arg. */
static void retry257(struct call *c)
{
	struct iovec out[257];
	size_t i;

	for (i = 0; i < 257; i++)
		out[i] = (struct iovec){(char *)c->arg + i, 1};
	retry(c, NULL, 0, out, 257);
}

static void do_iov257_fit(struct call *c)
{
	struct iovec out = {c->arg, 8192};

	if (c->out_size == 0)
		retry(c, NULL, 0, &out, 1);
	else if (c->out_size == 8192)
		retry257(c); /* fits: the caller must refuse the count */
	else
		reply(c, (int)c->out_size, NULL, 0); /* 257 were accepted */
}

static void do_iov257_nofit(struct call *c)
{
	if (c->out_size == 0)
		retry257(c); /* does not fit: our reply fails EINVAL */
	else
		reply(c, (int)c->out_size, NULL, 0);
}

/* ------------------------------------------------------- plain results */

static void do_raw(struct call *c)
{
	reply(c, (int)(((uintptr_t)c->arg + 1) & INT_MAX), NULL, 0);
}

static void do_result(struct call *c)
{
	reply(c, -(int)(uintptr_t)c->arg, NULL, 0);
}

static void do_err(struct call *c)
{
	reply_err(c, (int)(uintptr_t)c->arg);
}

static void do_fionread(struct call *c)
{
	int n = PTRDEV_FIONREAD;
	struct iovec out = {c->arg, sizeof(n)};

	if (c->out_size >= sizeof(n))
		reply(c, 0, &n, sizeof(n));
	else if (c->flags & FUSE_IOCTL_UNRESTRICTED)
		retry(c, NULL, 0, &out, 1);
	else
		reply(c, 0, NULL, 0); /* restricted: nowhere to put it */
}

/* ---------------------------------------------------------- restricted */

/* The buffer a restricted device gets from the kernel, {arg, _IOC_SIZE};
 * unrestricted, the same one is asked for with a retry. */
static bool ioc_buffers(struct call *c)
{
	struct iovec iov = {c->arg, _IOC_SIZE(c->cmd)};
	bool in = _IOC_DIR(c->cmd) & _IOC_WRITE, out = _IOC_DIR(c->cmd) & _IOC_READ;

	if ((!in || c->in_size >= iov.iov_len) && (!out || c->out_size >= iov.iov_len))
		return true;
	if (c->flags & FUSE_IOCTL_UNRESTRICTED)
		retry(c, &iov, in, &iov, out);
	else
		reply_err(c, EIO); /* the kernel always gives them */
	return false;
}

static void do_r_get(struct call *c)
{
	struct ptr_blob b = {PTRDEV_MESSAGE};

	if (ioc_buffers(c))
		reply(c, (int)strlen(b.data), &b, sizeof(b));
}

static void do_r_put(struct call *c)
{
	if (ioc_buffers(c))
		reply(c, (int)strnlen(c->in, sizeof(struct ptr_blob)), NULL, 0);
}

static void do_r_echo(struct call *c)
{
	struct ptr_blob b;
	size_t i;

	if (!ioc_buffers(c))
		return;
	memcpy(&b, c->in, sizeof(b));
	for (i = 0; i < sizeof(b.data); i++)
		b.data[i] = (char)toupper((unsigned char)b.data[i]);
	reply(c, (int)strnlen(b.data, sizeof(b.data)), &b, sizeof(b));
}

static void do_r_long(struct call *c)
{
	uint32_t v[2] = {0x11111111, 0x22222222};

	if (ioc_buffers(c))
		reply(c, 0, v, sizeof(v)); /* twice _IOC_SIZE */
}

/* -------------------------------------------------------------- dispatch */

static const struct {
	unsigned cmd;
	const char *name;
	void (*fn)(struct call *c);
} commands[] = {
	{PTRDEV_REVERSE, "REVERSE", do_reverse},
	{PTRDEV_GET, "GET", do_get},
	{PTRDEV_FILL, "FILL", do_fill},
	{PTRDEV_OVERLONG, "OVERLONG", do_overlong},
	{PTRDEV_NEGDATA, "NEGDATA", do_negdata},
	{PTRDEV_IOV256, "IOV256", do_iov256},
	{PTRDEV_IOV257_FIT, "IOV257_FIT", do_iov257_fit},
	{PTRDEV_IOV257_NOFIT, "IOV257_NOFIT", do_iov257_nofit},
	{PTRDEV_RAW, "RAW", do_raw},
	{PTRDEV_RESULT, "RESULT", do_result},
	{PTRDEV_ERR, "ERR", do_err},
	{FIONREAD, "FIONREAD", do_fionread},
	{PTRDEV_R_GET, "R_GET", do_r_get},
	{PTRDEV_R_PUT, "R_PUT", do_r_put},
	{PTRDEV_R_ECHO, "R_ECHO", do_r_echo},
	{PTRDEV_R_LONG, "R_LONG", do_r_long},
};

static void ptrdev_ioctl(fuse_req_t req, int cmd, void *arg, struct fuse_file_info *fi,
			 unsigned flags, const void *in_buf, size_t in_bufsz, size_t out_bufsz)
{
	/* _IOR and _IOWR commands arrive as negative ints. */
	struct call c = {
		.req = req,
		.name = "OTHER",
		.cmd = (unsigned)cmd,
		.flags = flags,
		.arg = arg,
		.in = in_buf,
		.in_size = in_bufsz,
		.out_size = out_bufsz,
	};
	size_t i;

	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (commands[i].cmd == c.cmd) {
			c.name = commands[i].name;
			commands[i].fn(&c);
			return;
		}
	reply_err(&c, ENOTTY);
}

static void ptrdev_init_done(void *userdata)
{
	say("init_done\n");
}

static void ptrdev_open(fuse_req_t req, struct fuse_file_info *fi)
{
	pthread_mutex_lock(&lock);
	fi->fh = next_fh++;
	pthread_mutex_unlock(&lock);
	say("open fh=%lu\n", (unsigned long)fi->fh);
	fuse_reply_open(req, fi);
}

static void ptrdev_release(fuse_req_t req, struct fuse_file_info *fi)
{
	say("release fh=%lu\n", (unsigned long)fi->fh);
	fuse_reply_err(req, 0);
}

static const struct cuse_lowlevel_ops ptrdev_ops = {
	.init_done = ptrdev_init_done,
	.open = ptrdev_open,
	.release = ptrdev_release,
	.ioctl = ptrdev_ioctl,
};

#define OPT(t, p)                                                                                  \
	{                                                                                          \
		t, offsetof(struct ptrdev_opts, p), 1                                              \
	}
static const struct fuse_opt ptrdev_optspec[] = {
	OPT("--name=%s", name),
	OPT("--log=%s", log),
	OPT("--restricted", restricted),
	OPT("-d", debug),
	FUSE_OPT_KEY("-d", FUSE_OPT_KEY_KEEP),
	FUSE_OPT_KEY("-h", 0),
	FUSE_OPT_KEY("--help", 0),
	FUSE_OPT_END,
};

static int ptrdev_key(void *data, const char *arg, int key, struct fuse_args *outargs)
{
	if (key == 0) {
		printf("usage: ptrdev [-f] [-d] [-s] --name=NAME [--log=FILE] [--restricted]\n");
		exit(0);
	}
	return 1;
}

int main(int argc, char **argv)
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	struct cuse_info ci = {0};
	const char *dev_info[1];
	char *devarg;
	int ret;

	if (fuse_opt_parse(&args, &opts, ptrdev_optspec, ptrdev_key)) {
		fprintf(stderr, "ptrdev: bad arguments\n");
		return 1;
	}
	if (!opts.name) {
		fprintf(stderr, "ptrdev: --name=NAME is required\n");
		return 1;
	}
	if (opts.log) {
		log_file = fopen(opts.log, "ae");
		if (!log_file) {
			fprintf(stderr, "ptrdev: cannot open %s: %s\n", opts.log, strerror(errno));
			return 1;
		}
	}
	devarg = malloc(strlen(opts.name) + 9);
	if (!devarg)
		return 1;
	sprintf(devarg, "DEVNAME=%s", opts.name);
	dev_info[0] = devarg;
	ci.dev_info_argc = 1;
	ci.dev_info_argv = dev_info;
	ci.flags = opts.restricted ? 0 : CUSE_UNRESTRICTED_IOCTL;
	ret = cuse_lowlevel_main(args.argc, args.argv, &ci, &ptrdev_ops, NULL);
	fuse_opt_free_args(&args);
	free(devarg);
	free(opts.name);
	free(opts.log);
	return ret;
}
