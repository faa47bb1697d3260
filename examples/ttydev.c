/* SPDX-License-Identifier: MIT */
/*
 * ttydev: a tty-like CUSE driver written only against libfuse3's
 * <cuse_lowlevel.h>.  It keeps one terminal state for the device, as a
 * fresh pty has it (38400 baud, 8 bits, canonical mode with echo), and
 * answers the termios ioctls with it; writes loop back into a byte queue
 * that reads consume, and an empty queue reads as end of file.
 *
 *   ttydev [-f] [-d] [-s] --name=NAME [--log=FILE]
 *
 * --log appends one line per callback to FILE; a line that changes the
 * terminal state shows the new state (what the tests read).
 *
 * The termios ioctls are old-style numbers without _IOC size bits, so
 * the device is unrestricted: the first request of an ioctl carries no
 * data, and the driver answers RETRY naming the caller's buffer (in for
 * the sets, out for the gets); the second request carries it.  Commands
 * whose argument is a plain value (TCFLSH, TCSBRK, TCXONC) need no copy.
 */
#define FUSE_USE_VERSION 31

#include <cuse_lowlevel.h>
#include <fuse_opt.h>

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

/* The kernel's struct termios (asm-generic/termbits.h): what TCGETS and
 * TCSETS carry, not glibc's larger struct of the same name. */
#define KERNEL_NCCS 19

struct kernel_termios {
	tcflag_t c_iflag;
	tcflag_t c_oflag;
	tcflag_t c_cflag;
	tcflag_t c_lflag;
	cc_t c_line;
	cc_t c_cc[KERNEL_NCCS];
};

struct ttydev_opts {
	char *name;
	char *log;
	int debug;
};

static struct ttydev_opts opts;
static FILE *log_file;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned long next_fh = 1;

/* The device's state, under @lock. */
static struct kernel_termios tio = {
	.c_iflag = ICRNL | IXON,
	.c_oflag = OPOST | ONLCR,
	.c_cflag = B38400 | CS8 | CREAD | CLOCAL | HUPCL,
	.c_lflag = ISIG | ICANON | ECHO | ECHOE | ECHOK | ECHOCTL | ECHOKE | IEXTEN,
	/* the kernel's INIT_C_CC */
	.c_cc = {[VINTR] = 003,
		 [VQUIT] = 034,
		 [VERASE] = 0177,
		 [VKILL] = 025,
		 [VEOF] = 004,
		 [VTIME] = 0,
		 [VMIN] = 1,
		 [VSTART] = 021,
		 [VSTOP] = 023,
		 [VSUSP] = 032,
		 [VREPRINT] = 022,
		 [VDISCARD] = 017,
		 [VWERASE] = 027,
		 [VLNEXT] = 026},
};
static struct winsize winsize = {.ws_row = 24, .ws_col = 80};
static pid_t pgrp; /* 0 until TIOCSPGRP: then the caller's pid is reported */
static char *queue;
static size_t queue_len, queue_size;

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	va_list ap;

	if (opts.debug) {
		va_start(ap, fmt);
		fprintf(stderr, "ttydev: ");
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

/* CBAUD is B0..B38400, then with CBAUDEX set B57600..B4000000. */
static const unsigned bauds[] = {0,   50,   75,	  110,	134,  150,  200,   300,
				 600, 1200, 1800, 2400, 4800, 9600, 19200, 38400};
static const unsigned bauds_ex[] = {57600,   115200,  230400,  460800,	500000,
				    576000,  921600,  1000000, 1152000, 1500000,
				    2000000, 2500000, 3000000, 3500000, 4000000};

static unsigned baud_of(tcflag_t cflag)
{
	tcflag_t code = cflag & CBAUD;

	if (!(code & CBAUDEX))
		return bauds[code];
	code &= ~CBAUDEX;
	return code ? bauds_ex[code - 1] : 0;
}

/* One line with the whole state (lock held). */
static void say_state(const char *what, unsigned long fh, const char *cmd)
{
	say("%s fh=%lu%s%s iflag=0%o oflag=0%o cflag=0%o lflag=0%o speed=%u echo=%d icanon=%d"
	    " isig=%d vmin=%u vtime=%u\n",
	    what, fh, cmd ? " cmd=" : "", cmd ? cmd : "", tio.c_iflag, tio.c_oflag, tio.c_cflag,
	    tio.c_lflag, baud_of(tio.c_cflag), !!(tio.c_lflag & ECHO), !!(tio.c_lflag & ICANON),
	    !!(tio.c_lflag & ISIG), tio.c_cc[VMIN], tio.c_cc[VTIME]);
}

static void ttydev_init_done(void *userdata)
{
	say("init_done\n");
}

static void ttydev_open(fuse_req_t req, struct fuse_file_info *fi)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);

	pthread_mutex_lock(&lock);
	fi->fh = next_fh++;
	pthread_mutex_unlock(&lock);
	say("open fh=%lu flags=0%o pid=%d\n", (unsigned long)fi->fh, fi->flags, (int)ctx->pid);
	fuse_reply_open(req, fi);
}

static void ttydev_release(fuse_req_t req, struct fuse_file_info *fi)
{
	say("release fh=%lu\n", (unsigned long)fi->fh);
	fuse_reply_err(req, 0);
}

static void ttydev_read(fuse_req_t req, size_t size, off_t off, struct fuse_file_info *fi)
{
	char *out;
	size_t n;

	pthread_mutex_lock(&lock);
	n = size < queue_len ? size : queue_len;
	out = malloc(n ? n : 1);
	if (out && n) {
		memcpy(out, queue, n);
		memmove(queue, queue + n, queue_len - n);
		queue_len -= n;
	}
	pthread_mutex_unlock(&lock);
	if (!out) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	say("read fh=%lu size=%zu -> %zu\n", (unsigned long)fi->fh, size, n);
	fuse_reply_buf(req, out, n);
	free(out);
}

static void ttydev_write(fuse_req_t req, const char *buf, size_t size, off_t off,
			 struct fuse_file_info *fi)
{
	pthread_mutex_lock(&lock);
	if (queue_len + size > queue_size) {
		size_t want = (queue_len + size) * 2;
		char *q = realloc(queue, want);

		if (!q) {
			pthread_mutex_unlock(&lock);
			fuse_reply_err(req, ENOMEM);
			return;
		}
		queue = q;
		queue_size = want;
	}
	memcpy(queue + queue_len, buf, size);
	queue_len += size;
	pthread_mutex_unlock(&lock);
	say("write fh=%lu size=%zu -> %zu\n", (unsigned long)fi->fh, size, size);
	fuse_reply_write(req, size);
}

/* ---- ioctls: one table entry per command */

typedef void tty_ioctl_fn(fuse_req_t req, struct fuse_file_info *fi, void *arg, const void *in);

struct tty_ioctl {
	unsigned cmd;
	const char *name;
	size_t in_size, out_size; /* of the caller's buffer at arg */
	tty_ioctl_fn *handle;
};

static void do_tcgets(fuse_req_t req, struct fuse_file_info *fi, void *arg, const void *in)
{
	struct kernel_termios t;

	pthread_mutex_lock(&lock);
	t = tio;
	say_state("tcgets", fi->fh, NULL);
	pthread_mutex_unlock(&lock);
	fuse_reply_ioctl(req, 0, &t, sizeof(t));
}

static void set_termios(fuse_req_t req, struct fuse_file_info *fi, const void *in, const char *cmd)
{
	pthread_mutex_lock(&lock);
	memcpy(&tio, in, sizeof(tio));
	say_state("tcsets", fi->fh, cmd);
	pthread_mutex_unlock(&lock);
	fuse_reply_ioctl(req, 0, NULL, 0);
}

static void do_tcsets(fuse_req_t req, struct fuse_file_info *fi, void *arg, const void *in)
{
	set_termios(req, fi, in, "TCSETS");
}

/* Output is never pending here, so there is nothing to wait for. */
static void do_tcsetsw(fuse_req_t req, struct fuse_file_info *fi, void *arg, const void *in)
{
	set_termios(req, fi, in, "TCSETSW");
}

static void do_tcsetsf(fuse_req_t req, struct fuse_file_info *fi, void *arg, const void *in)
{
	pthread_mutex_lock(&lock);
	queue_len = 0; /* and the input is discarded */
	pthread_mutex_unlock(&lock);
	set_termios(req, fi, in, "TCSETSF");
}

static void do_tiocgwinsz(fuse_req_t req, struct fuse_file_info *fi, void *arg, const void *in)
{
	struct winsize w;

	pthread_mutex_lock(&lock);
	w = winsize;
	pthread_mutex_unlock(&lock);
	say("tiocgwinsz fh=%lu rows=%u cols=%u\n", (unsigned long)fi->fh, w.ws_row, w.ws_col);
	fuse_reply_ioctl(req, 0, &w, sizeof(w));
}

static void do_tiocswinsz(fuse_req_t req, struct fuse_file_info *fi, void *arg, const void *in)
{
	pthread_mutex_lock(&lock);
	memcpy(&winsize, in, sizeof(winsize));
	say("tiocswinsz fh=%lu rows=%u cols=%u\n", (unsigned long)fi->fh, winsize.ws_row,
	    winsize.ws_col);
	pthread_mutex_unlock(&lock);
	fuse_reply_ioctl(req, 0, NULL, 0);
}

static void do_fionread(fuse_req_t req, struct fuse_file_info *fi, void *arg, const void *in)
{
	int n;

	pthread_mutex_lock(&lock);
	n = (int)queue_len;
	pthread_mutex_unlock(&lock);
	say("fionread fh=%lu -> %d\n", (unsigned long)fi->fh, n);
	fuse_reply_ioctl(req, 0, &n, sizeof(n));
}

static void do_tiocoutq(fuse_req_t req, struct fuse_file_info *fi, void *arg, const void *in)
{
	int n = 0; /* output leaves at once */

	say("tiocoutq fh=%lu -> %d\n", (unsigned long)fi->fh, n);
	fuse_reply_ioctl(req, 0, &n, sizeof(n));
}

static void do_tcflsh(fuse_req_t req, struct fuse_file_info *fi, void *arg, const void *in)
{
	int sel = (int)(uintptr_t)arg;
	size_t dropped = 0;

	if (sel != TCIFLUSH && sel != TCOFLUSH && sel != TCIOFLUSH) {
		say("tcflsh fh=%lu arg=%d -> EINVAL\n", (unsigned long)fi->fh, sel);
		fuse_reply_err(req, EINVAL);
		return;
	}
	pthread_mutex_lock(&lock);
	if (sel != TCOFLUSH) {
		dropped = queue_len;
		queue_len = 0;
	}
	pthread_mutex_unlock(&lock);
	say("tcflsh fh=%lu arg=%d dropped=%zu\n", (unsigned long)fi->fh, sel, dropped);
	fuse_reply_ioctl(req, 0, NULL, 0);
}

/* TCSBRK: 0 sends a break, anything else just drains (tcdrain). */
static void do_tcsbrk(fuse_req_t req, struct fuse_file_info *fi, void *arg, const void *in)
{
	say("tcsbrk fh=%lu arg=%lu\n", (unsigned long)fi->fh, (unsigned long)(uintptr_t)arg);
	fuse_reply_ioctl(req, 0, NULL, 0);
}

/* TCSBRKP: a break of arg tenths of a second. */
static void do_tcsbrkp(fuse_req_t req, struct fuse_file_info *fi, void *arg, const void *in)
{
	say("tcsbrkp fh=%lu arg=%lu\n", (unsigned long)fi->fh, (unsigned long)(uintptr_t)arg);
	fuse_reply_ioctl(req, 0, NULL, 0);
}

static void do_tcxonc(fuse_req_t req, struct fuse_file_info *fi, void *arg, const void *in)
{
	int action = (int)(uintptr_t)arg;

	if (action != TCOOFF && action != TCOON && action != TCIOFF && action != TCION) {
		say("tcxonc fh=%lu arg=%d -> EINVAL\n", (unsigned long)fi->fh, action);
		fuse_reply_err(req, EINVAL);
		return;
	}
	say("tcxonc fh=%lu arg=%d\n", (unsigned long)fi->fh, action);
	fuse_reply_ioctl(req, 0, NULL, 0);
}

static void do_tiocgpgrp(fuse_req_t req, struct fuse_file_info *fi, void *arg, const void *in)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	int pg;

	pthread_mutex_lock(&lock);
	pg = pgrp ? (int)pgrp : (int)ctx->pid;
	pthread_mutex_unlock(&lock);
	say("tiocgpgrp fh=%lu pid=%d -> %d\n", (unsigned long)fi->fh, (int)ctx->pid, pg);
	fuse_reply_ioctl(req, 0, &pg, sizeof(pg));
}

static void do_tiocspgrp(fuse_req_t req, struct fuse_file_info *fi, void *arg, const void *in)
{
	int pg;

	memcpy(&pg, in, sizeof(pg));
	if (pg < 0) {
		say("tiocspgrp fh=%lu pgrp=%d -> EINVAL\n", (unsigned long)fi->fh, pg);
		fuse_reply_err(req, EINVAL);
		return;
	}
	pthread_mutex_lock(&lock);
	pgrp = pg;
	pthread_mutex_unlock(&lock);
	say("tiocspgrp fh=%lu pgrp=%d\n", (unsigned long)fi->fh, pg);
	fuse_reply_ioctl(req, 0, NULL, 0);
}

#define T sizeof(struct kernel_termios)
#define W sizeof(struct winsize)
#define I sizeof(int)
static const struct tty_ioctl tty_ioctls[] = {
	{TCGETS, "TCGETS", 0, T, do_tcgets},
	{TCSETS, "TCSETS", T, 0, do_tcsets},
	{TCSETSW, "TCSETSW", T, 0, do_tcsetsw},
	{TCSETSF, "TCSETSF", T, 0, do_tcsetsf},
	{TIOCGWINSZ, "TIOCGWINSZ", 0, W, do_tiocgwinsz},
	{TIOCSWINSZ, "TIOCSWINSZ", W, 0, do_tiocswinsz},
	{FIONREAD, "FIONREAD", 0, I, do_fionread},
	{TIOCOUTQ, "TIOCOUTQ", 0, I, do_tiocoutq},
	{TCFLSH, "TCFLSH", 0, 0, do_tcflsh},
	{TCSBRK, "TCSBRK", 0, 0, do_tcsbrk},
	{TCSBRKP, "TCSBRKP", 0, 0, do_tcsbrkp},
	{TCXONC, "TCXONC", 0, 0, do_tcxonc},
	{TIOCGPGRP, "TIOCGPGRP", 0, I, do_tiocgpgrp},
	{TIOCSPGRP, "TIOCSPGRP", I, 0, do_tiocspgrp},
};
#undef T
#undef W
#undef I

static void ttydev_ioctl(fuse_req_t req, int cmd, void *arg, struct fuse_file_info *fi,
			 unsigned flags, const void *in_buf, size_t in_bufsz, size_t out_bufsz)
{
	const struct tty_ioctl *op = NULL;
	size_t i;

	for (i = 0; i < sizeof(tty_ioctls) / sizeof(tty_ioctls[0]); i++)
		if (tty_ioctls[i].cmd == (unsigned)cmd)
			op = &tty_ioctls[i];
	if (!op) {
		say("ioctl fh=%lu cmd=0x%x -> ENOTTY\n", (unsigned long)fi->fh, (unsigned)cmd);
		fuse_reply_err(req, ENOTTY);
		return;
	}
	if (in_bufsz < op->in_size || out_bufsz < op->out_size) {
		struct iovec in = {arg, op->in_size}, out = {arg, op->out_size};

		say("retry fh=%lu cmd=%s in=%zu out=%zu\n", (unsigned long)fi->fh, op->name,
		    op->in_size, op->out_size);
		fuse_reply_ioctl_retry(req, &in, op->in_size ? 1 : 0, &out, op->out_size ? 1 : 0);
		return;
	}
	op->handle(req, fi, arg, in_buf);
}

static const struct cuse_lowlevel_ops ttydev_ops = {
	.init_done = ttydev_init_done,
	.open = ttydev_open,
	.read = ttydev_read,
	.write = ttydev_write,
	.release = ttydev_release,
	.ioctl = ttydev_ioctl,
};

#define OPT(t, p)                                                                                  \
	{                                                                                          \
		t, offsetof(struct ttydev_opts, p), 1                                              \
	}
static const struct fuse_opt ttydev_optspec[] = {
	OPT("--name=%s", name), OPT("--log=%s", log),
	OPT("-d", debug),	FUSE_OPT_KEY("-d", FUSE_OPT_KEY_KEEP),
	FUSE_OPT_KEY("-h", 0),	FUSE_OPT_KEY("--help", 0),
	FUSE_OPT_END,
};

static int ttydev_key(void *data, const char *arg, int key, struct fuse_args *outargs)
{
	if (key == 0) {
		printf("usage: ttydev [-f] [-d] [-s] --name=NAME [--log=FILE]\n");
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

	if (fuse_opt_parse(&args, &opts, ttydev_optspec, ttydev_key)) {
		fprintf(stderr, "ttydev: bad arguments\n");
		return 1;
	}
	if (!opts.name) {
		fprintf(stderr, "ttydev: --name=NAME is required\n");
		return 1;
	}
	if (opts.log) {
		log_file = fopen(opts.log, "ae");
		if (!log_file) {
			fprintf(stderr, "ttydev: cannot open %s: %s\n", opts.log, strerror(errno));
			return 1;
		}
	}
	devarg = malloc(strlen(opts.name) + sizeof("DEVNAME="));
	if (!devarg)
		return 1;
	sprintf(devarg, "DEVNAME=%s", opts.name);
	dev_info[0] = devarg;
	ci.dev_info_argc = 1;
	ci.dev_info_argv = dev_info;
	ci.flags = CUSE_UNRESTRICTED_IOCTL;
	ret = cuse_lowlevel_main(args.argc, args.argv, &ci, &ttydev_ops, NULL);
	fuse_opt_free_args(&args);
	free(devarg);
	free(opts.name);
	free(opts.log);
	return ret;
}
