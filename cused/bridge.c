/* SPDX-License-Identifier: MIT */
/*
 * cuse-bridge: the kernel's side of /dev/cuse for one driver that opened it.
 *
 * A driver that is not linked with libcused (libfuse 2, libfuse3.so.4, a
 * static libfuse, or none at all) opens "/dev/cuse" and speaks the FUSE
 * protocol on that fd: one read() per request, one writev() per reply.
 * The shim hands it one end of a SOCK_SEQPACKET socketpair and starts
 * this program, detached, on the other.  We play the kernel there:
 *
 *   - CUSE_INIT goes first; the driver's reply is checked as cuse.c checks
 *     it, and becomes a libcused session, so the device is published in
 *     the registry like any other and clients reach it the usual way.
 *   - Each request libcused hands us (open, read, write, ioctl, poll,
 *     release) is written to the channel as the kernel would write it,
 *     with a unique of ours; the driver's reply, read by one thread, is
 *     checked as fs/fuse/dev.c checks replies and answers the libcused
 *     request it belongs to.
 *   - Interrupts go out as FUSE_INTERRUPT with unique | FUSE_INT_REQ_BIT,
 *     again when the driver answers -EAGAIN; FUSE_NOTIFY_POLL wakes the
 *     pollers of the file whose poll handle it names.
 *   - The driver's last close of the channel (its exit or death) fails
 *     every request in flight with ECONNABORTED and removes the device;
 *     the end of our session (cused abort, a signal) closes our end, which
 *     the shim turns into ENODEV for the driver's next read.
 *
 * Objects: one struct bridge (the channel and the table of requests the
 * driver holds, under one lock); one struct pending per request in the
 * driver's hands, freed when its reply or the driver's death answers it.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>

#include "cused_i.h"

#define BRIDGE_MINOR 38 /* what Debian 12's 6.1 kernel sends (tests/oracle/raw_driver.sh) */
/* The kernel's CUSE never sends a request bigger than 128 KiB of data
 * (FUSE_DEFAULT_MAX_PAGES_PER_REQ pages): that fits one datagram. */
#define BRIDGE_MAX_IO (32u * 4096u)
#define BRIDGE_BUF    (1u << 20)
/* fs/fuse/fuse_i.h: an interrupt's unique is its request's with bit 0 set */
#define FUSE_INT_REQ_BIT (1ULL << 0)

struct pending {
	uint64_t unique;
	fuse_req_t req;
	uint32_t opcode;
	uint32_t size; /* READ: bytes asked; IOCTL: out_size */
	bool sent;     /* written to the channel */
	bool intr_due; /* interrupted before it was: the INTERRUPT follows it */
	struct pending *next;
};

struct bridge {
	int fd;
	pid_t driver_pid;
	struct fuse_session *se;
	pthread_mutex_t lock;
	struct pending *pending;
	uint64_t next_unique;
	_Atomic bool no_interrupts; /* the driver answered an INTERRUPT -ENOSYS */
	bool dead;		    /* the channel is closed */
	_Atomic bool closing;	    /* our session ended: we close the channel */
	uint32_t max_read, max_write;
};

int cused_loop_mt_312(struct fuse_session *se, struct fuse_loop_config *config);

static struct bridge br = {.fd = -1, .lock = PTHREAD_MUTEX_INITIALIZER, .next_unique = 2};

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	char line[512];
	va_list ap;
	int n;

	n = snprintf(line, sizeof(line), "cuse-bridge[%d]: ", (int)getpid());
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	va_end(ap);
	fuse_log(FUSE_LOG_ERR, "%s", line);
}

/* ------------------------------------------------------------ the channel */

static int chan_send(struct iovec *iov, int count)
{
	struct msghdr mh = {.msg_iov = iov, .msg_iovlen = count};

	for (;;) {
		if (sendmsg(br.fd, &mh, MSG_NOSIGNAL) >= 0)
			return 0;
		if (errno != EINTR)
			return -errno;
	}
}

/* Fill the request header the kernel would send for @req. */
static void in_header(struct fuse_in_header *in, fuse_req_t req, uint32_t opcode, uint64_t unique,
		      size_t len)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);

	memset(in, 0, sizeof(*in));
	in->len = (uint32_t)len;
	in->opcode = opcode;
	in->unique = unique;
	in->nodeid = 0; /* CUSE's files have no inode number of their own */
	in->uid = ctx->uid;
	in->gid = ctx->gid;
	in->pid = (uint32_t)ctx->pid;
}

static void bridge_interrupt(fuse_req_t req, void *data);
static void send_interrupt(uint64_t unique);

/* The request @unique has left: true if an interrupt waits for it (the
 * kernel sends one only for a request the driver has read). */
static bool mark_sent(uint64_t unique)
{
	struct pending *p;
	bool due = false;

	pthread_mutex_lock(&br.lock);
	for (p = br.pending; p; p = p->next)
		if (p->unique == unique) {
			p->sent = true;
			due = p->intr_due;
			break;
		}
	pthread_mutex_unlock(&br.lock);
	return due;
}

/* The pending request @unique, taken out of the table (caller owns it). */
static struct pending *take(uint64_t unique)
{
	struct pending **pp, *p;

	pthread_mutex_lock(&br.lock);
	for (pp = &br.pending; (p = *pp); pp = &p->next)
		if (p->unique == unique) {
			*pp = p->next;
			break;
		}
	pthread_mutex_unlock(&br.lock);
	return p;
}

/*
 * Hand @req to the driver: header, @arg, then @data.  The request is in the
 * pending table before it leaves, so its reply always finds it.
 */
static void forward(fuse_req_t req, uint32_t opcode, const void *arg, size_t arg_size,
		    const void *data, size_t data_size, uint32_t size)
{
	struct fuse_in_header in;
	struct iovec iov[3];
	struct pending *p = malloc(sizeof(*p));
	int err;

	if (!p) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	pthread_mutex_lock(&br.lock);
	if (br.dead) {
		pthread_mutex_unlock(&br.lock);
		free(p);
		fuse_reply_err(req, ENOTCONN);
		return;
	}
	p->unique = br.next_unique;
	br.next_unique += 2; /* even: bit 0 is FUSE_INT_REQ_BIT */
	p->req = req;
	p->opcode = opcode;
	p->size = size;
	p->sent = p->intr_due = false;
	p->next = br.pending;
	br.pending = p;
	pthread_mutex_unlock(&br.lock);

	in_header(&in, req, opcode, p->unique, sizeof(in) + arg_size + data_size);
	/* before the request leaves: once it has, its reply may free @req
	 * at any moment */
	fuse_req_interrupt_func(req, bridge_interrupt, (void *)(uintptr_t)in.unique);
	iov[0] = (struct iovec){&in, sizeof(in)};
	iov[1] = (struct iovec){(void *)arg, arg_size};
	iov[2] = (struct iovec){(void *)data, data_size};
	err = chan_send(iov, data_size ? 3 : 2);
	if (err) {
		/* The driver is gone, and the request never reached it: as
		 * on the kernel's disconnected channel, ENOTCONN (unless the
		 * channel's end answered it meanwhile). */
		struct pending *q = take(in.unique);

		if (q) {
			fuse_reply_err(q->req, ENOTCONN);
			free(q);
		}
		return;
	}
	if (mark_sent(in.unique))
		send_interrupt(in.unique);
}

/* Is @unique with the driver?  One that is not sent yet gets its
 * interrupt once it is. */
static bool with_driver(uint64_t unique)
{
	struct pending *p;
	bool sent = false;

	pthread_mutex_lock(&br.lock);
	for (p = br.pending; p; p = p->next)
		if (p->unique == unique) {
			sent = p->sent;
			p->intr_due = !sent;
			break;
		}
	pthread_mutex_unlock(&br.lock);
	return sent;
}

static void send_interrupt(uint64_t unique)
{
	struct fuse_in_header in = {.len = sizeof(in) + sizeof(struct fuse_interrupt_in),
				    .opcode = FUSE_INTERRUPT,
				    .unique = unique | FUSE_INT_REQ_BIT};
	struct fuse_interrupt_in ii = {.unique = unique};
	struct iovec iov[2] = {{&in, sizeof(in)}, {&ii, sizeof(ii)}};

	if (!br.no_interrupts && with_driver(unique))
		(void)chan_send(iov, 2);
}

static void bridge_interrupt(fuse_req_t req, void *data)
{
	(void)req;
	send_interrupt((uint64_t)(uintptr_t)data);
}

/* ------------------------------------------------------------ operations */

static void bridge_init(void *userdata, struct fuse_conn_info *conn)
{
	(void)userdata;
	conn->max_read = br.max_read;
	conn->max_write = br.max_write;
}

static void bridge_open(fuse_req_t req, struct fuse_file_info *fi)
{
	struct fuse_open_in oi = {.flags = (uint32_t)fi->flags};

	forward(req, FUSE_OPEN, &oi, sizeof(oi), NULL, 0, 0);
}

static void bridge_read(fuse_req_t req, size_t size, off_t off, struct fuse_file_info *fi)
{
	struct fuse_read_in ri = {.fh = fi->fh,
				  .offset = (uint64_t)off,
				  .size = (uint32_t)size,
				  .read_flags = FUSE_READ_LOCKOWNER,
				  .lock_owner = fi->lock_owner,
				  .flags = (uint32_t)fi->flags};

	forward(req, FUSE_READ, &ri, sizeof(ri), NULL, 0, (uint32_t)size);
}

static void bridge_write(fuse_req_t req, const char *buf, size_t size, off_t off,
			 struct fuse_file_info *fi)
{
	struct fuse_write_in wi = {.fh = fi->fh,
				   .offset = (uint64_t)off,
				   .size = (uint32_t)size,
				   .write_flags = FUSE_WRITE_LOCKOWNER,
				   .lock_owner = fi->lock_owner,
				   .flags = (uint32_t)fi->flags};

	forward(req, FUSE_WRITE, &wi, sizeof(wi), buf, size, (uint32_t)size);
}

static void bridge_release(fuse_req_t req, struct fuse_file_info *fi)
{
	struct fuse_release_in ri = {.fh = fi->fh,
				     .flags = (uint32_t)fi->flags,
				     .release_flags =
					     fi->flock_release ? FUSE_RELEASE_FLOCK_UNLOCK : 0,
				     .lock_owner = fi->lock_owner};

	forward(req, FUSE_RELEASE, &ri, sizeof(ri), NULL, 0, 0);
}

static void bridge_ioctl(fuse_req_t req, int cmd, void *arg, struct fuse_file_info *fi,
			 unsigned flags, const void *in_buf, size_t in_bufsz, size_t out_bufsz)
{
	struct fuse_ioctl_in ii = {.fh = fi->fh,
				   .flags = flags,
				   .cmd = (uint32_t)cmd,
				   .arg = (uint64_t)(uintptr_t)arg,
				   .in_size = (uint32_t)in_bufsz,
				   .out_size = (uint32_t)out_bufsz};

	forward(req, FUSE_IOCTL, &ii, sizeof(ii), in_buf, in_bufsz, (uint32_t)out_bufsz);
}

/* libcused's poll handle names the file by its kernel handle; that is the
 * kh the driver sees, and the one its notification brings back. */
static void bridge_poll(fuse_req_t req, struct fuse_file_info *fi, struct fuse_pollhandle *ph)
{
	struct fuse_poll_in pi = {.fh = fi->fh, .events = fi->poll_events};

	if (ph) {
		pi.kh = ph->kh;
		pi.flags = FUSE_POLL_SCHEDULE_NOTIFY;
		fuse_pollhandle_destroy(ph);
	}
	forward(req, FUSE_POLL, &pi, sizeof(pi), NULL, 0, 0);
}

static const struct cuse_lowlevel_ops bridge_ops = {
	.init = bridge_init,
	.open = bridge_open,
	.read = bridge_read,
	.write = bridge_write,
	.release = bridge_release,
	.ioctl = bridge_ioctl,
	.poll = bridge_poll,
};

/* ------------------------------------------------------------ replies */

/* A reply to @p: its payload @data, @len bytes, after the header. */
static void answer(struct pending *p, const char *data, size_t len)
{
	fuse_req_t req = p->req;

	switch (p->opcode) {
	case FUSE_OPEN: {
		struct fuse_open_out oo;
		struct fuse_file_info fi = {0};

		if (len != sizeof(oo))
			goto bad;
		memcpy(&oo, data, sizeof(oo));
		fi.fh = oo.fh;
		fi.direct_io = !!(oo.open_flags & FOPEN_DIRECT_IO);
		fi.nonseekable = !!(oo.open_flags & FOPEN_NONSEEKABLE);
		fi.keep_cache = !!(oo.open_flags & FOPEN_KEEP_CACHE);
		fuse_reply_open(req, &fi);
		return;
	}
	case FUSE_READ:
		if (len > p->size)
			goto bad;
		fuse_reply_buf(req, data, len);
		return;
	case FUSE_WRITE: {
		struct fuse_write_out wo;

		if (len != sizeof(wo))
			goto bad;
		memcpy(&wo, data, sizeof(wo));
		fuse_reply_write(req, wo.size);
		return;
	}
	case FUSE_RELEASE:
		if (len)
			goto bad;
		fuse_reply_err(req, 0);
		return;
	case FUSE_POLL: {
		struct fuse_poll_out po;

		if (len != sizeof(po))
			goto bad;
		memcpy(&po, data, sizeof(po));
		fuse_reply_poll(req, po.revents);
		return;
	}
	case FUSE_IOCTL: {
		struct fuse_ioctl_out io;
		struct iovec v[2 * FUSE_IOCTL_MAX_IOV];
		struct fuse_ioctl_iovec fv;
		size_t i, n;

		if (len < sizeof(io))
			goto bad;
		memcpy(&io, data, sizeof(io));
		data += sizeof(io);
		len -= sizeof(io);
		if (!(io.flags & FUSE_IOCTL_RETRY)) {
			if (len > p->size)
				goto bad;
			fuse_reply_ioctl(req, io.result, len ? data : NULL, len);
			return;
		}
		n = (size_t)io.in_iovs + io.out_iovs;
		if (io.in_iovs > FUSE_IOCTL_MAX_IOV || io.out_iovs > FUSE_IOCTL_MAX_IOV ||
		    len != n * sizeof(fv))
			goto bad;
		for (i = 0; i < n; i++) {
			memcpy(&fv, data + i * sizeof(fv), sizeof(fv));
			v[i] = (struct iovec){(void *)(uintptr_t)fv.base, (size_t)fv.len};
		}
		fuse_reply_ioctl_retry(req, v, io.in_iovs, v + io.in_iovs, io.out_iovs);
		return;
	}
	}
bad:
	/* fs/fuse/dev.c: a reply whose size does not fit its request fails
	 * that request with EIO (the driver's writev gets EINVAL) */
	say("bad reply to %s request %llu (%zu bytes): dropped, the caller gets EIO\n",
	    p->opcode == FUSE_IOCTL  ? "IOCTL"
	    : p->opcode == FUSE_READ ? "READ"
				     : "a",
	    (unsigned long long)p->unique, len);
	fuse_reply_err(req, EIO);
}

static void notify(int code, const char *data, size_t len)
{
	struct fuse_notify_poll_wakeup_out pw;

	if (code != FUSE_NOTIFY_POLL || len != sizeof(pw)) {
		say("notification %d (%zu bytes) is not one CUSE has: dropped\n", code, len);
		return;
	}
	memcpy(&pw, data, sizeof(pw));
	struct fuse_pollhandle ph = {.se = br.se, .kh = pw.kh};

	fuse_lowlevel_notify_poll(&ph);
}

/* One message from the driver, checked as fuse_dev_do_write checks it. */
static void dispatch_reply(const char *buf, size_t n)
{
	struct fuse_out_header oh;
	struct pending *p;

	if (n < sizeof(oh)) {
		say("a %zu-byte write is shorter than a reply header: dropped\n", n);
		return;
	}
	memcpy(&oh, buf, sizeof(oh));
	if (oh.len != n) {
		say("a reply says %u bytes and has %zu: dropped\n", oh.len, n);
		return;
	}
	if (!oh.unique) {
		notify(oh.error, buf + sizeof(oh), n - sizeof(oh));
		return;
	}
	if (oh.error <= -512 || oh.error > 0) {
		say("reply %llu has error %d, outside the kernel's range: dropped\n",
		    (unsigned long long)oh.unique, oh.error);
		return;
	}
	if (oh.unique & FUSE_INT_REQ_BIT) {
		/* the answer to an INTERRUPT: -EAGAIN asks for it again,
		 * -ENOSYS says the driver has none */
		if (oh.error == -ENOSYS)
			br.no_interrupts = true;
		else if (oh.error == -EAGAIN)
			send_interrupt(oh.unique & ~FUSE_INT_REQ_BIT);
		return;
	}
	p = take(oh.unique);
	if (!p) {
		say("reply to unknown request %llu: dropped\n", (unsigned long long)oh.unique);
		return;
	}
	if (oh.error) {
		if (n != sizeof(oh)) {
			say("error reply %llu carries data: the caller gets EIO\n",
			    (unsigned long long)oh.unique);
			fuse_reply_err(p->req, EIO);
		} else {
			fuse_reply_err(p->req, -oh.error);
		}
	} else {
		answer(p, buf + sizeof(oh), n - sizeof(oh));
	}
	free(p);
}

/*
 * The channel is closed: what the kernel does at the last close of
 * /dev/cuse.  When the driver ended (its exit or death, not our abort) we
 * end at once, as a dead libcused driver does: our sockets close under
 * the clients, whose requests in flight fail ECONNABORTED, later ones
 * ENOTCONN, and whose pollers see POLLERR, all at the same moment.  The
 * name goes first, as the kernel's node does; the entry's hidden socket
 * and attributes stay, stale, so that a file a process inherits later is
 * still known for what it was.  After our abort the session is ending
 * anyway: the requests still with the driver fail ECONNABORTED.
 */
static void channel_closed(void)
{
	struct pending *p, *next;

	if (!br.closing) {
		cused_unpublish(br.se);
		_exit(0);
	}
	pthread_mutex_lock(&br.lock);
	br.dead = true;
	p = br.pending;
	br.pending = NULL;
	pthread_mutex_unlock(&br.lock);
	for (; p; p = next) {
		next = p->next;
		fuse_reply_err(p->req, ECONNABORTED);
		free(p);
	}
}

static void *reader(void *arg)
{
	char *buf = malloc(BRIDGE_BUF);
	ssize_t n;

	(void)arg;
	if (!buf) {
		say("out of memory\n");
		_exit(1);
	}
	for (;;) {
		n = recv(br.fd, buf, BRIDGE_BUF, MSG_TRUNC);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if ((size_t)n > BRIDGE_BUF) {
			say("a %zd-byte reply is bigger than any request allows: dropped\n", n);
			continue;
		}
		dispatch_reply(buf, (size_t)n);
	}
	free(buf);
	channel_closed();
	return NULL;
}

/* ------------------------------------------------------------ CUSE_INIT */

/* Send CUSE_INIT and read the driver's answer into @ci (whose strings
 * point into @info).  Returns 0, or -1 after saying why. */
static int cuse_init(struct cuse_info *ci, char *info, size_t info_size, const char **argv,
		     size_t argv_max)
{
	struct fuse_in_header in = {
		.len = sizeof(in) + sizeof(struct cuse_init_in), .opcode = CUSE_INIT, .unique = 1};
	struct cuse_init_in ii = {.major = FUSE_KERNEL_VERSION,
				  .minor = BRIDGE_MINOR,
				  .flags = CUSE_UNRESTRICTED_IOCTL};
	struct iovec iov[2] = {{&in, sizeof(in)}, {&ii, sizeof(ii)}};
	struct fuse_out_header oh;
	struct cuse_init_out io;
	struct iovec rv[3] = {{&oh, sizeof(oh)}, {&io, sizeof(io)}, {info, info_size - 1}};
	union {
		char buf[CMSG_SPACE(sizeof(struct ucred))];
		struct cmsghdr align;
	} ctl;
	struct msghdr mh = {.msg_iov = rv,
			    .msg_iovlen = 3,
			    .msg_control = ctl.buf,
			    .msg_controllen = sizeof(ctl.buf)};
	struct cmsghdr *cm;
	size_t len, argc = 0;
	ssize_t n;
	char *s;
	int one = 1, zero = 0;

	/* the answer's sender is the process that serves the device (after
	 * libfuse's fork into the background) */
	setsockopt(br.fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one));
	if (chan_send(iov, 2))
		return -1;
	do
		n = recvmsg(br.fd, &mh, MSG_TRUNC);
	while (n < 0 && errno == EINTR);
	setsockopt(br.fd, SOL_SOCKET, SO_PASSCRED, &zero, sizeof(zero));
	if (n <= 0)
		return -1; /* the driver ended before answering: nothing to say */
	for (cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm))
		if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_CREDENTIALS) {
			struct ucred uc;

			memcpy(&uc, CMSG_DATA(cm), sizeof(uc));
			br.driver_pid = uc.pid;
		}
	if ((size_t)n < sizeof(oh) || oh.len != (size_t)n || oh.unique != 1) {
		say("the driver's answer to CUSE_INIT is malformed (%zd bytes)\n", n);
		return -1;
	}
	if (oh.error) {
		say("the driver answered CUSE_INIT with error %d\n", oh.error);
		return -1;
	}
	if ((size_t)n < sizeof(oh) + sizeof(io) || (size_t)n > sizeof(oh) + sizeof(io) + 4096) {
		say("the driver's answer to CUSE_INIT has %zd bytes\n", n);
		return -1;
	}
	if (io.major != FUSE_KERNEL_VERSION || io.minor < 11) {
		say("the driver speaks FUSE %u.%u; CUSE needs 7.11 or later\n", io.major, io.minor);
		return -1;
	}
	len = (size_t)n - sizeof(oh) - sizeof(io);
	info[len] = '\0';
	for (s = info; s < info + len && argc < argv_max; s += strlen(s) + 1)
		if (*s)
			argv[argc++] = s;
	ci->dev_major = io.dev_major;
	ci->dev_minor = io.dev_minor;
	ci->dev_info_argc = (unsigned)argc;
	ci->dev_info_argv = argv;
	ci->flags = io.flags & CUSE_UNRESTRICTED_IOCTL;
	/* cuse.c raises both to a page; a request never carries more than
	 * the kernel's 128 KiB */
	br.max_read = io.max_read < 4096 ? 4096 : io.max_read;
	br.max_write = io.max_write < 4096 ? 4096 : io.max_write;
	if (br.max_read > BRIDGE_MAX_IO)
		br.max_read = BRIDGE_MAX_IO;
	if (br.max_write > BRIDGE_MAX_IO)
		br.max_write = BRIDGE_MAX_IO;
	return 0;
}

/* ------------------------------------------------------------ main */

static int usage(void)
{
	fprintf(stderr, "cuse-bridge: started by the cuseshim interposer for a driver's "
			"open of /dev/cuse; not a command to run by hand\n"
			"usage: cuse-bridge [--detach] FD\n");
	return 2;
}

int main(int argc, char **argv)
{
	char *args_v[] = {argv[0], NULL};
	struct fuse_args args = FUSE_ARGS_INIT(1, args_v);
	static char info[4097];
	const char *info_argv[64];
	struct cuse_info ci = {0};
	pthread_t thread;
	sigset_t none;
	bool detach = false;
	char *end;
	long fd;
	int i, res;

	for (i = 1; i < argc && argv[i][0] == '-'; i++)
		if (!strcmp(argv[i], "--detach"))
			detach = true;
		else
			return usage();
	if (i != argc - 1)
		return usage();
	fd = strtol(argv[i], &end, 10);
	if (*end || fd < 3 || fd > INT32_MAX || fcntl((int)fd, F_GETFD) < 0)
		return usage();
	br.fd = (int)fd;
	if (detach) {
		/* the shim waits for this process only: the bridge lives on as
		 * nobody's child, so the driver never sees it exit */
		pid_t pid = fork();

		if (pid < 0)
			return 1;
		if (pid > 0)
			_exit(0);
		setsid();
	}
	/* nothing of the driver's but stderr: its other fds, left open for
	 * us, must not be held open by us */
	if (br.fd != 3) {
		if (dup2(br.fd, 3) < 0)
			return 1;
		br.fd = 3;
	}
	fcntl(br.fd, F_SETFD, FD_CLOEXEC);
	syscall(SYS_close_range, 4u, ~0u, 0u);
	{
		int nul = open("/dev/null", O_RDWR | O_CLOEXEC);

		if (nul >= 0) {
			dup2(nul, 0);
			dup2(nul, 1);
			close(nul);
		}
	}
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (cuse_init(&ci, info, sizeof(info), info_argv, 64))
		return 1;
	br.se = cuse_lowlevel_new(&args, &ci, &bridge_ops, NULL);
	fuse_opt_free_args(&args);
	if (!br.se)
		return 1; /* libcused said why; our close ends the driver */
	br.se->serving_pid = br.driver_pid;
	/* Our ring threads hand each request on and return at once: a ring
	 * thread that then spun for the next one would only take the CPU
	 * from the driver and from the reader of its reply. */
	br.se->spin_ns = 0;
	if (pthread_create(&thread, NULL, reader, NULL)) {
		say("cannot start: %s\n", strerror(errno));
		return 1;
	}
	if (fuse_set_signal_handlers(br.se) == -1)
		return 1;
	res = cused_loop_mt_312(br.se, NULL);
	/* The session ended here (abort, a signal): the driver's next read
	 * finds the end of the channel, which the shim makes ENODEV, as after
	 * the kernel's abort.  We read on until the driver closes its end, so
	 * that its writes meanwhile never meet a closed socket (EPIPE and
	 * SIGPIPE, where the kernel says ENODEV). */
	br.closing = true;
	shutdown(br.fd, SHUT_WR);
	pthread_join(thread, NULL);
	fuse_remove_signal_handlers(br.se);
	fuse_session_destroy(br.se);
	return res < 0 ? 1 : 0;
}
