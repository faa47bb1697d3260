/* SPDX-License-Identifier: MIT */
/*
 * bufdev: a CUSE driver written only against libfuse3's <cuse_lowlevel.h>.
 * Writes append to one byte queue shared by every open; reads consume from
 * it.  A read of an empty queue waits until a writer supplies data (it is
 * answered from the writer's callback), fails EAGAIN with O_NONBLOCK, and
 * ends with EINTR if the caller is interrupted; --eof makes an empty queue
 * read as end of file instead.  poll reports POLLIN while there is data
 * and notifies waiters when data arrives.  ioctls: FIONREAD, BUFDEV_CLEAR,
 * BUFDEV_NOTIFY (wakes pollers with no new data).
 * --per-open gives every open file a queue of its own; --ignore-interrupts
 * keeps interrupted reads parked (a writer answers them late).
 * BUFDEV_WAIT (an ioctl) waits for data like a read.
 *
 *   bufdev [-f] [-d] [-s] --name=NAME [--maj=N] [--min=N] [--log=FILE]
 *          [--eof] [--read-cap=N] [--write-cap=N] [--open-errno=E]
 *
 * --log appends one line per callback to FILE (what the tests read; an
 * open adds a "creds" line with the caller's uid, gid and groups);
 * --read-cap/--write-cap make replies short; --open-errno fails opens;
 * --release-delay=MS makes release slow (to see who waits for it);
 * --open-delay=MS makes open take that long, and then fail EINTR if the
 * caller was interrupted meanwhile;
 * --write-delay=MS makes every write take that long before it is stored;
 * --no-rw leaves out the read and write callbacks; --max-write=N is the
 * max_write its init gives the connection; --seccomp installs a filter of
 * its own after init_done (deny_syscalls; --seccomp-prlimit: one that only
 * kills prlimit64); --check-dev=PATH logs what a
 * stat of PATH finds at init_done; --chroot=DIR chroots in init, before
 * the device is published, as swtpm's --chroot does.
 */
#ifndef FUSE_USE_VERSION
#define FUSE_USE_VERSION 31
#endif

#include <cuse_lowlevel.h>
#include <fuse_opt.h>

/* libfuse 2 (built with FUSE_USE_VERSION 29, as a test driver) does not
 * pass poll's events on */
#if FUSE_USE_VERSION >= 30
#define POLL_EVENTS(fi) (fi)->poll_events
#else
#define POLL_EVENTS(fi) 0u
#endif

#include <errno.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <stdarg.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>

struct bufdev_opts {
	char *name;
	unsigned maj, min;
	char *log;
	unsigned read_cap, write_cap;
	unsigned release_delay;
	unsigned open_delay;
	unsigned write_delay;
	int eof;
	int per_open;
	int no_rw;
	unsigned max_write;
	int ignore_interrupts;
	int open_errno;
	int debug;
	int seccomp;	     /* a filter of its own after init_done */
	int seccomp_prlimit; /* ...that only kills prlimit64 */
	char *check_dev;     /* stat this path at init_done and log it */
	char *chroot_dir;    /* chroot there in init, before the device is published */
};

static struct bufdev_opts opts;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
struct queue {
	char *buf;
	size_t len, size;
};
static struct queue shared;
static struct queue **per_open; /* --per-open: one queue per fh */
static size_t nper_open;
static FILE *log_file;
static unsigned long next_fh = 1;

/* BUFDEV_CLEAR empties the queue; FIONREAD tells its length. */
#define BUFDEV_CLEAR _IO('B', 1)
/* BUFDEV_WAIT waits until the queue has data; returns its length. */
#define BUFDEV_WAIT _IO('B', 2)
/* BUFDEV_NOTIFY wakes the pollers with nothing new to read (a driver may
 * notify whenever it likes; the poller must ask again). */
#define BUFDEV_NOTIFY _IO('B', 3)

/* A read waiting for data. */
struct parked {
	fuse_req_t req;
	size_t size;
	unsigned long fh;
	struct queue *q;
	int is_ioctl; /* BUFDEV_WAIT: answer with the length, take nothing */
	struct parked *next;
};

/* The queue of file @fh (lock held); NULL when out of memory. */
static struct queue *queue_of(uint64_t fh)
{
	if (!opts.per_open)
		return &shared;
	if (fh >= nper_open) {
		size_t n = fh * 2 + 8;
		struct queue **q = realloc(per_open, n * sizeof(*q));

		if (!q)
			return NULL;
		memset(q + nper_open, 0, (n - nper_open) * sizeof(*q));
		per_open = q;
		nper_open = n;
	}
	if (!per_open[fh])
		per_open[fh] = calloc(1, sizeof(struct queue));
	return per_open[fh];
}
static struct parked *parked;
static struct fuse_pollhandle **handles;
static size_t nhandles;

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

static void bufdev_init(void *userdata, struct fuse_conn_info *conn)
{
	(void)userdata;
	if (opts.max_write)
		conn->max_write = opts.max_write;
	if (opts.chroot_dir && (chroot(opts.chroot_dir) || chdir("/")))
		say("chroot %s: %s\n", opts.chroot_dir, strerror(errno));
}

/*
 * --seccomp: what hardened drivers do once they serve.  eventfd2, tgkill,
 * execve and splice fail EPERM, prlimit64 kills the process: the machinery
 * under the driver (libfuse, libcused, the shim, cuse-bridge) must not
 * need any of them from here on.
 */
static int deny_syscalls(bool only_prlimit)
{
#define DENY(nr, action)                                                                           \
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (nr), 0, 1), BPF_STMT(BPF_RET | BPF_K, (action))
	struct sock_filter prog[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		DENY(__NR_prlimit64, SECCOMP_RET_KILL_PROCESS),
		/* --seccomp-prlimit: the program ends here */
		DENY(__NR_eventfd2, SECCOMP_RET_ERRNO | EPERM),
		DENY(__NR_tgkill, SECCOMP_RET_ERRNO | EPERM),
		DENY(__NR_execve, SECCOMP_RET_ERRNO | EPERM),
		DENY(__NR_splice, SECCOMP_RET_ERRNO | EPERM),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
#undef DENY
	struct sock_fprog fprog = {sizeof(prog) / sizeof(prog[0]), prog};

	if (only_prlimit) {
		/* cut the program after the prlimit64 test */
		prog[6] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
		fprog.len = 7;
	}

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) ||
	    syscall(__NR_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, &fprog))
		return -errno;
	return 0;
}

static void bufdev_init_done(void *userdata)
{
	struct stat st;

	say("init_done\n");
	if (opts.check_dev) {
		if (stat(opts.check_dev, &st))
			say("check %s: %s\n", opts.check_dev, strerror(errno));
		else
			say("check %s: %s %u:%u\n", opts.check_dev,
			    S_ISCHR(st.st_mode) ? "chr" : "other", major(st.st_rdev),
			    minor(st.st_rdev));
	}
	if (opts.seccomp || opts.seccomp_prlimit) {
		int err = deny_syscalls(!opts.seccomp);

		say("seccomp %s\n", err ? strerror(-err) : "on");
	}
}

/* The caller's uid, gid and supplementary groups, on a line of their own. */
static void log_creds(fuse_req_t req, uint64_t fh)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	gid_t list[32];
	char groups[32 * 12] = "";
	size_t len = 0;
	int n = fuse_req_getgroups(req, 32, list), i;

	for (i = 0; i < n && i < 32; i++)
		len += (size_t)snprintf(groups + len, sizeof(groups) - len, "%s%u", i ? "," : "",
					(unsigned)list[i]);
	say("creds fh=%lu uid=%u gid=%u groups=%s\n", (unsigned long)fh, (unsigned)ctx->uid,
	    (unsigned)ctx->gid, n < 0 ? "?" : groups);
}

static void bufdev_open(fuse_req_t req, struct fuse_file_info *fi)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);

	pthread_mutex_lock(&lock);
	fi->fh = next_fh++;
	pthread_mutex_unlock(&lock);
	{
		/* what a driver learns about its caller: groups, /proc */
		char path[64], comm[64] = "?";
		FILE *f;
		int groups = fuse_req_getgroups(req, 0, NULL);

		snprintf(path, sizeof(path), "/proc/%d/comm", (int)ctx->pid);
		f = fopen(path, "re");
		if (f) {
			if (fgets(comm, sizeof(comm), f))
				comm[strcspn(comm, "\n")] = '\0';
			fclose(f);
		}
		say("open fh=%lu flags=0%o uid=%u pid=%d groups=%d comm=%s\n",
		    (unsigned long)fi->fh, fi->flags, (unsigned)ctx->uid, (int)ctx->pid, groups,
		    comm);
		log_creds(req, fi->fh);
	}
	if (opts.open_delay) {
		/* an open that takes long, and gives up if interrupted */
		usleep(opts.open_delay * 1000);
		if (fuse_req_interrupted(req)) {
			say("open fh=%lu interrupted\n", (unsigned long)fi->fh);
			fuse_reply_err(req, EINTR);
			return;
		}
	}
	if (opts.open_errno) {
		fuse_reply_err(req, opts.open_errno);
		return;
	}
	fuse_reply_open(req, fi);
}

/* Take up to @size bytes off @q into a new buffer (lock held). */
static char *take(struct queue *q, size_t size, size_t *n)
{
	char *out;

	*n = size < q->len ? size : q->len;
	if (opts.read_cap && *n > opts.read_cap)
		*n = opts.read_cap;
	out = malloc(*n ? *n : 1);
	if (out && *n) {
		memcpy(out, q->buf, *n);
		memmove(q->buf, q->buf + *n, q->len - *n);
		q->len -= *n;
	}
	return out;
}

static void bufdev_interrupted(fuse_req_t req, void *data)
{
	struct parked **pp, *p = NULL;

	pthread_mutex_lock(&lock);
	for (pp = &parked; *pp; pp = &(*pp)->next)
		if (*pp == data) {
			p = *pp;
			*pp = p->next;
			break;
		}
	pthread_mutex_unlock(&lock);
	if (!p)
		return; /* a writer answered it first */
	say("interrupt fh=%lu\n", p->fh);
	if (opts.ignore_interrupts) {
		/* keep it: a writer will answer it, late */
		pthread_mutex_lock(&lock);
		p->next = parked;
		parked = p;
		pthread_mutex_unlock(&lock);
		return;
	}
	fuse_reply_err(req, EINTR);
	free(p);
}

static void bufdev_read(fuse_req_t req, size_t size, off_t off, struct fuse_file_info *fi)
{
	struct parked *p;
	struct queue *q;
	size_t n;
	char *out;

	pthread_mutex_lock(&lock);
	q = queue_of(fi->fh);
	if (!q) {
		pthread_mutex_unlock(&lock);
		fuse_reply_err(req, ENOMEM);
		return;
	}
	if (q->len == 0 && !opts.eof) {
		if (fi->flags & O_NONBLOCK) {
			pthread_mutex_unlock(&lock);
			say("read fh=%lu size=%zu off=%lld flags=0%o -> EAGAIN\n",
			    (unsigned long)fi->fh, size, (long long)off, fi->flags);
			fuse_reply_err(req, EAGAIN);
			return;
		}
		p = calloc(1, sizeof(*p));
		if (!p) {
			pthread_mutex_unlock(&lock);
			fuse_reply_err(req, ENOMEM);
			return;
		}
		p->req = req;
		p->size = size;
		p->fh = fi->fh;
		p->q = q;
		p->next = NULL;
		/* oldest first */
		{
			struct parked **pp = &parked;

			while (*pp)
				pp = &(*pp)->next;
			*pp = p;
		}
		pthread_mutex_unlock(&lock);
		say("read fh=%lu size=%zu off=%lld flags=0%o -> parked\n", (unsigned long)fi->fh,
		    size, (long long)off, fi->flags);
		fuse_req_interrupt_func(req, bufdev_interrupted, p);
		return;
	}
	out = take(q, size, &n);
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

/* Within bufdev_write's answering of parked reads, on this thread. */
static __thread int in_write;

/* Wake every poller (their handles are used up). */
static void notify_pollers(void)
{
	struct fuse_pollhandle **ph;
	size_t nph, i;

	pthread_mutex_lock(&lock);
	ph = handles;
	nph = nhandles;
	handles = NULL;
	nhandles = 0;
	pthread_mutex_unlock(&lock);
	for (i = 0; i < nph; i++) {
		fuse_lowlevel_notify_poll(ph[i]);
		fuse_pollhandle_destroy(ph[i]);
	}
	free(ph);
}

/* Data arrived in @q: answer its parked reads, oldest first, and wake
 * pollers. */
static void data_arrived(struct queue *q)
{

	for (;;) {
		struct parked *p;
		size_t n;
		char *out;

		pthread_mutex_lock(&lock);
		p = NULL;
		if (q->len) {
			struct parked **pp;

			for (pp = &parked; *pp; pp = &(*pp)->next)
				if ((*pp)->q == q) {
					p = *pp;
					*pp = p->next;
					break;
				}
		}
		if (p && p->is_ioctl) {
			int len = (int)q->len;

			pthread_mutex_unlock(&lock);
			say("ioctl wait fh=%lu -> %d (from a writer)\n", p->fh, len);
			fuse_req_interrupt_func(p->req, NULL, NULL);
			fuse_reply_ioctl(p->req, len, NULL, 0);
			free(p);
			continue;
		}
		out = p ? take(q, p->size, &n) : NULL;
		pthread_mutex_unlock(&lock);
		if (!p)
			break;
		say("read fh=%lu size=%zu -> %zu (from a writer)\n", p->fh, p->size, n);
		fuse_req_interrupt_func(p->req, NULL, NULL);
		if (out)
			fuse_reply_buf(p->req, out, n);
		else
			fuse_reply_err(p->req, ENOMEM);
		free(out);
		free(p);
	}
	notify_pollers();
}

static void bufdev_poll(fuse_req_t req, struct fuse_file_info *fi, struct fuse_pollhandle *ph)
{
	unsigned revents = POLLOUT | POLLWRNORM;
	int asked = ph != NULL;
	struct queue *q;

	pthread_mutex_lock(&lock);
	q = queue_of(fi->fh);
	if (q && q->len)
		revents |= POLLIN | POLLRDNORM;
	if (ph) {
		struct fuse_pollhandle **n = realloc(handles, (nhandles + 1) * sizeof(*n));

		if (n) {
			handles = n;
			handles[nhandles++] = ph;
			ph = NULL;
		}
	}
	pthread_mutex_unlock(&lock);
	if (ph)
		fuse_pollhandle_destroy(ph);
	say("poll fh=%lu events=0x%x -> 0x%x ph=%d\n", (unsigned long)fi->fh, POLL_EVENTS(fi),
	    revents, asked);
	fuse_reply_poll(req, revents);
}

static void bufdev_ioctl(fuse_req_t req, int cmd, void *arg, struct fuse_file_info *fi,
			 unsigned flags, const void *in_buf, size_t in_bufsz, size_t out_bufsz)
{
	say("ioctl fh=%lu cmd=0x%x in=%zu out=%zu pid=%d\n", (unsigned long)fi->fh, (unsigned)cmd,
	    in_bufsz, out_bufsz, (int)fuse_req_ctx(req)->pid);
	switch ((unsigned)cmd) {
	case FIONREAD: {
		struct iovec iov = {arg, sizeof(int)};
		int n;

		if (out_bufsz < sizeof(int)) {
			fuse_reply_ioctl_retry(req, NULL, 0, &iov, 1);
			return;
		}
		pthread_mutex_lock(&lock);
		n = queue_of(fi->fh) ? (int)queue_of(fi->fh)->len : 0;
		pthread_mutex_unlock(&lock);
		fuse_reply_ioctl(req, 0, &n, sizeof(n));
		return;
	}
	case BUFDEV_WAIT: {
		struct parked *p = calloc(1, sizeof(*p));
		struct parked **pp;
		struct queue *q;

		if (!p) {
			fuse_reply_err(req, ENOMEM);
			return;
		}
		pthread_mutex_lock(&lock);
		q = queue_of(fi->fh);
		if (q && q->len) {
			int len = (int)q->len;

			pthread_mutex_unlock(&lock);
			free(p);
			fuse_reply_ioctl(req, len, NULL, 0);
			return;
		}
		p->req = req;
		p->fh = fi->fh;
		p->q = q;
		p->is_ioctl = 1;
		for (pp = &parked; *pp; pp = &(*pp)->next)
			;
		*pp = p;
		pthread_mutex_unlock(&lock);
		say("ioctl wait fh=%lu -> parked\n", (unsigned long)fi->fh);
		fuse_req_interrupt_func(req, bufdev_interrupted, p);
		return;
	}
	case BUFDEV_NOTIFY:
		fuse_reply_ioctl(req, 0, NULL, 0);
		notify_pollers();
		return;
	case BUFDEV_CLEAR:
		pthread_mutex_lock(&lock);
		if (queue_of(fi->fh))
			queue_of(fi->fh)->len = 0;
		pthread_mutex_unlock(&lock);
		fuse_reply_ioctl(req, 0, NULL, 0);
		return;
	default: fuse_reply_err(req, ENOTTY);
	}
}

static void bufdev_write(fuse_req_t req, const char *buf, size_t size, off_t off,
			 struct fuse_file_info *fi)
{
	struct queue *q;
	size_t n = size;

	if (opts.write_delay)
		usleep(opts.write_delay * 1000);
	if (opts.write_cap && n > opts.write_cap)
		n = opts.write_cap;
	pthread_mutex_lock(&lock);
	q = queue_of(fi->fh);
	if (q && q->len + n > q->size) {
		size_t want = (q->len + n) * 2;
		char *b = realloc(q->buf, want);

		if (b) {
			q->buf = b;
			q->size = want;
		}
	}
	if (!q || q->len + n > q->size) {
		pthread_mutex_unlock(&lock);
		fuse_reply_err(req, ENOMEM);
		return;
	}
	memcpy(q->buf + q->len, buf, n);
	q->len += n;
	pthread_mutex_unlock(&lock);
	say("write fh=%lu size=%zu off=%lld flags=0%o -> %zu\n", (unsigned long)fi->fh, size,
	    (long long)off, fi->flags, n);
	/* Before the reply: once the write is answered, the file may be
	 * released (and a per-open @q freed) by another thread. */
	in_write++;
	data_arrived(q);
	in_write--;
	fuse_reply_write(req, n);
}

static void bufdev_release(fuse_req_t req, struct fuse_file_info *fi)
{
	/* libfuse never calls back from inside a reply: say so if we are */
	if (in_write)
		say("release fh=%lu called inside a write callback\n", (unsigned long)fi->fh);
	if (opts.per_open) {
		pthread_mutex_lock(&lock);
		if (fi->fh < nper_open && per_open[fi->fh]) {
			free(per_open[fi->fh]->buf);
			free(per_open[fi->fh]);
			per_open[fi->fh] = NULL;
		}
		pthread_mutex_unlock(&lock);
	}
	if (opts.release_delay)
		usleep(opts.release_delay * 1000);
	say("release fh=%lu flags=0%o\n", (unsigned long)fi->fh, fi->flags);
	fuse_reply_err(req, 0);
}

static const struct cuse_lowlevel_ops bufdev_ops = {
	.init = bufdev_init,
	.init_done = bufdev_init_done,
	.open = bufdev_open,
	.read = bufdev_read,
	.write = bufdev_write,
	.release = bufdev_release,
	.ioctl = bufdev_ioctl,
	.poll = bufdev_poll,
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
	OPT("--open-delay=%u", open_delay),
	OPT("--write-delay=%u", write_delay),
	OPT("--eof", eof),
	OPT("--per-open", per_open),
	OPT("--no-rw", no_rw),
	OPT("--max-write=%u", max_write),
	OPT("--ignore-interrupts", ignore_interrupts),
	OPT("--seccomp", seccomp),
	OPT("--seccomp-prlimit", seccomp_prlimit),
	OPT("--check-dev=%s", check_dev),
	OPT("--chroot=%s", chroot_dir),
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
		       "              [--log=FILE] [--eof] [--per-open] [--read-cap=N] "
		       "[--write-cap=N]"
		       " [--open-errno=E] [--release-delay=MS] [--write-delay=MS] [--no-rw]\n"
		       "              [--max-write=N] [--open-delay=MS] [--seccomp] "
		       "[--seccomp-prlimit] [--check-dev=PATH]\n"
		       "              [--chroot=DIR]\n");
		exit(0);
	}
	return 1;
}

int main(int argc, char **argv)
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	struct cuse_lowlevel_ops ops;
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
	ops = bufdev_ops;
	if (opts.no_rw)
		ops.read = NULL, ops.write = NULL;
	ret = cuse_lowlevel_main(args.argc, args.argv, &ci, &ops, NULL);
	fuse_opt_free_args(&args);
	free(devarg);
	free(opts.name);
	free(opts.log);
	free(opts.check_dev);
	free(opts.chroot_dir);
	return ret;
}
