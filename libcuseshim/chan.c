/* SPDX-License-Identifier: MIT */
/*
 * Control channels: each thread talks to each driver over its own
 * SOCK_SEQPACKET connection, one request at a time, so replies can never
 * cross between threads or between a parent and its fork child.  A channel
 * belongs to the process that made it; a fork child notices the pid change
 * and connects its own.
 *
 * Channel fds are internal: close-on-exec, moved high out of the program's
 * way, and protected from close() and dup2() by the wrappers.
 */
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <linux/futex.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>

#include "shim_i.h"

#define CACHE_SLOTS 8

struct shim_chan {
	struct shim_dev *dev;
	bool poll;	   /* carries FUSE_POLL and receives FUSE_NOTIFY_POLL */
	unsigned notified; /* wakeups seen while waiting for a reply */
	_Atomic int fd;
	pid_t pid;
	uint64_t unique;
	struct cuseshim_hello_out hello;
	struct cuseshim_ring *ring; /* the driver serves it (ring_on) */
	_Atomic int ring_fd;	    /* its memfd (internal), for preadv/pwritev */
	bool ring_on;
	bool ring_waiters; /* both sides keep the *_sleep and *_cpu words */
	uint32_t ring_seq;
	uint64_t spin_ns; /* how long to wait awake for a ring reply */
	unsigned busy;	  /* READ/WRITE/IOCTL on the socket; RING_AFTER asks for one */
	struct {
		uint64_t ino;
		uint64_t handle;
	} cache[CACHE_SLOTS];
	unsigned next_slot;
	struct shim_chan *next;	    /* this thread's channels */
	struct shim_chan *all_next; /* every channel, for shim_move_internal_fd */
};

static __thread struct shim_chan *tls_chans;
static pthread_key_t chan_key;
static pthread_once_t key_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t all_lock = PTHREAD_MUTEX_INITIALIZER;
static struct shim_chan *all_chans;

#define INTERNAL_MAX (1 << 20)
static _Atomic uint64_t internal_bits[INTERNAL_MAX / 64];

static void mark_internal(int fd, bool on)
{
	uint64_t bit = 1ull << (fd & 63);

	if ((unsigned)fd >= INTERNAL_MAX)
		return;
	if (on)
		atomic_fetch_or(&internal_bits[fd >> 6], bit);
	else
		atomic_fetch_and(&internal_bits[fd >> 6], ~bit);
}

bool shim_is_internal_fd(int fd)
{
	if ((unsigned)fd >= INTERNAL_MAX)
		return false;
	return atomic_load_explicit(&internal_bits[fd >> 6], memory_order_relaxed) &
	       (1ull << (fd & 63));
}

int shim_next_internal_fd(unsigned fd)
{
	unsigned w;

	for (w = fd >> 6; w < INTERNAL_MAX / 64; w++) {
		uint64_t bits = atomic_load_explicit(&internal_bits[w], memory_order_relaxed);

		if (w == fd >> 6)
			bits &= ~0ull << (fd & 63);
		if (bits)
			return (int)(w * 64 + __builtin_ctzll(bits));
	}
	return -1;
}

/* Where internal fds go: well above what programs use, below the limit. */
static int high_base(void)
{
	struct rlimit rl;
	rlim_t cur = 1024;

	if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur != RLIM_INFINITY)
		cur = rl.rlim_cur;
	if (cur > 65536)
		cur = 65536;
	return cur > 20 ? (int)(cur / 2) : 3;
}

static int place_high(int fd)
{
	int hi = shim_sys_fcntl(fd, F_DUPFD_CLOEXEC, high_base());

	if (hi < 0)
		return fd;
	shim_sys_close(fd);
	return hi;
}

int shim_make_internal_fd(int fd)
{
	fd = place_high(fd);
	mark_internal(fd, true);
	return fd;
}

/* Our mapping and memfd (a fork child's copies of its parent's). */
static void ring_drop(struct shim_chan *ch)
{
	int fd = atomic_exchange(&ch->ring_fd, -1);

	if (fd >= 0) {
		mark_internal(fd, false);
		shim_sys_close(fd);
	}
	if (ch->ring)
		munmap(ch->ring, CUSESHIM_RING_SIZE);
	ch->ring = NULL;
	ch->ring_on = false;
}

static void chan_disconnect(struct shim_chan *ch)
{
	int fd = atomic_exchange(&ch->fd, -1);

	if (fd >= 0) {
		mark_internal(fd, false);
		shim_sys_close(fd);
	}
	ring_drop(ch);
	memset(ch->cache, 0, sizeof(ch->cache));
}

static void thread_exit(void *unused)
{
	struct shim_chan *ch;

	for (ch = tls_chans; ch; ch = ch->next)
		if (ch->pid == shim_sys_getpid())
			chan_disconnect(ch);
}

static void make_key(void)
{
	pthread_key_create(&chan_key, thread_exit);
}

uint64_t shim_chan_unique(struct shim_chan *ch)
{
	ch->unique += 2;
	return ch->unique;
}

const struct cuseshim_hello_out *shim_chan_hello(struct shim_chan *ch)
{
	return &ch->hello;
}

uint64_t shim_chan_lock_owner(struct shim_chan *ch)
{
	/* The kernel scrambles the fd table's address: one per process. */
	uint64_t x = (uint64_t)ch->pid * 0x9e3779b97f4a7c15ull;

	return x ^ (x >> 29);
}

static int send_all(int fd, struct iovec *iov, int n, int sendfd)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct msghdr mh = {.msg_iov = iov, .msg_iovlen = n};
	ssize_t r;

	if (sendfd >= 0) {
		struct cmsghdr *cm;

		memset(&ctl, 0, sizeof(ctl));
		mh.msg_control = ctl.buf;
		mh.msg_controllen = sizeof(ctl.buf);
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &sendfd, sizeof(int));
	}
	do
		r = sendmsg(fd, &mh, MSG_NOSIGNAL);
	while (r < 0 && errno == EINTR);
	return r < 0 ? -errno : 0;
}

static void send_interrupt(int fd, uint64_t unique)
{
	struct fuse_in_header ih = {.len = sizeof(ih) + sizeof(struct fuse_interrupt_in),
				    .opcode = FUSE_INTERRUPT,
				    .unique = unique | 1};
	struct fuse_interrupt_in ii = {.unique = unique};
	struct iovec iv[2] = {{&ih, sizeof(ih)}, {&ii, sizeof(ii)}};

	send_all(fd, iv, 2, -1);
}

static long futex(uint32_t *word, int op, uint32_t val, const struct timespec *ts)
{
	return shim_raw_syscall(SYS_futex, word, op, val, ts, NULL, 0);
}

/* Is the driver's end of @fd gone? */
static bool hung_up(int fd)
{
	struct pollfd p = {fd, POLLIN, 0};

	return REAL(poll)(&p, 1, 0) == 1 && (p.revents & (POLLHUP | POLLERR));
}

/* The kernel's struct sigaction, for rt_sigaction. */
struct kernel_sigaction {
	void (*handler)(int);
	unsigned long flags;
	void (*restorer)(void);
	uint64_t mask;
};

/* Would one of the signals in @set run a handler when unblocked? */
static bool handler_for(uint64_t set)
{
	struct kernel_sigaction ka;
	int sig;

	for (sig = 1; sig <= 64; sig++)
		if ((set & (1ull << (sig - 1))) &&
		    !shim_raw_syscall(SYS_rt_sigaction, sig, NULL, &ka, sizeof(uint64_t)) &&
		    ka.handler != SIG_DFL && ka.handler != SIG_IGN)
			return true;
	return false;
}

/*
 * Wait awake, at most spin_ns, for the ring's reply @seq: true if it came.
 * Spinning when the driver runs on another CPU; yielding the CPU at each
 * look (@yield) when it may need ours, on which it then runs at once.
 * Signals are blocked meanwhile, so that one that arrives is not handled
 * unseen: a signal with a handler ends the wait, and *@caught says so,
 * which interrupts the request as the futex wait's EINTR would.
 */
static bool ring_spin(struct shim_chan *ch, uint32_t seq, bool yield, bool *caught)
{
	/* all but glibc's own SIGCANCEL and SIGSETXID (32, 33) */
	uint64_t all = ~((1ull << 31) | (1ull << 32)), old, pending;
	uint64_t end;
	bool got = false;
	unsigned i;

	if (shim_raw_syscall(SYS_rt_sigprocmask, SIG_BLOCK, &all, &old, sizeof(all)))
		return false;
	end = proto_now_ns() + ch->spin_ns;
	for (i = 1;; i++) {
		if (__atomic_load_n(&ch->ring->rep_seq, __ATOMIC_ACQUIRE) == seq) {
			got = true;
			break;
		}
		if (yield)
			shim_raw_syscall(SYS_sched_yield);
		else
			proto_cpu_relax();
		/* now and then: the time, and a signal that came (which ends
		 * the wait at once, to interrupt the request without delay) */
		if (!(i % (yield ? 4 : 64)) &&
		    (proto_now_ns() > end ||
		     (!shim_raw_syscall(SYS_rt_sigpending, &pending, sizeof(pending)) &&
		      (pending & ~old) && (*caught = handler_for(pending & ~old)))))
			break;
	}
	shim_raw_syscall(SYS_rt_sigprocmask, SIG_SETMASK, &old, NULL, sizeof(old));
	return got;
}

/*
 * Copy @len bytes between the caller's buffers @user and the ring at
 * @off, into the ring (@in) or out of it, as the kernel copies: a bad
 * buffer is false (EFAULT), never a crash.  Through the ring's memfd,
 * which costs half of process_vm_readv/writev on ourselves, the way left
 * when a dup2 over the memfd's number could not move it.
 */
static bool ring_copy(struct shim_chan *ch, bool in, const struct iovec *user, int n, size_t off,
		      size_t len)
{
	int fd = atomic_load(&ch->ring_fd);
	struct iovec mine = {(char *)ch->ring + off, len};
	long done;

	if (fd >= 0)
		done = shim_raw_syscall(in ? SYS_pwritev : SYS_preadv, fd, user, n, off, 0);
	else if (in)
		done = process_vm_readv(ch->pid, &mine, 1, user, (unsigned long)n, 0);
	else
		done = process_vm_writev(ch->pid, &mine, 1, user, (unsigned long)n, 0);
	return done == (long)len;
}

/*
 * One request and its reply through the channel's ring (protocol 1.2),
 * with chan_call's results.  @req[0] and @req[1] (header, arguments) and
 * @out are ours; the caller's buffers (the rest of @req, @payload) are
 * copied by the kernel (ring_copy), so a bad one is EFAULT, as the socket
 * would say, never a crash.  While we wait, a signal handler that
 * ran sends FUSE_INTERRUPT on the socket, and every 100 ms we look at the
 * socket for the driver's death.  With waiters (1.3) each side wakes the
 * other only when it sleeps, and each waits awake for a while first
 * (ring_spin).
 */
static ssize_t ring_call(struct shim_chan *ch, struct iovec *req, int nreq, void *out,
			 size_t out_size, const struct iovec *payload, int npayload)
{
	const struct fuse_in_header *in = req[0].iov_base;
	struct cuseshim_ring *r = ch->ring;
	char *rep = (char *)r + CUSESHIM_RING_REP;
	struct iovec back[40];
	struct fuse_out_header hdr;
	bool interrupted = false;
	size_t room = 0, body, len = 0, head = req[0].iov_len + req[1].iov_len, back_len;
	uint32_t seq;
	int fd = atomic_load(&ch->fd), i, nback = 0, saved = errno;

	for (i = 0; i < nreq; i++)
		len += req[i].iov_len;
	if (len > CUSESHIM_MAX_MSG || npayload > 40 || nreq < 2)
		return -EINVAL;
	/* header and arguments are ours; what follows may be the caller's */
	memcpy((char *)r + CUSESHIM_RING_REQ, req[0].iov_base, req[0].iov_len);
	memcpy((char *)r + CUSESHIM_RING_REQ + req[0].iov_len, req[1].iov_base, req[1].iov_len);
	if (len > head &&
	    !ring_copy(ch, true, req + 2, nreq - 2, CUSESHIM_RING_REQ + head, len - head))
		return -EFAULT; /* a bad caller buffer: nothing was sent */
	seq = ++ch->ring_seq;
	if (ch->ring_waiters) {
		uint32_t me = proto_ring_cpu(), peer;
		bool caught = false;

		bool woke = false;

		__atomic_store_n(&r->cli_cpu, me, __ATOMIC_RELAXED);
		__atomic_store_n(&r->req_seq, seq, __ATOMIC_SEQ_CST);
		peer = __atomic_load_n(&r->srv_cpu, __ATOMIC_RELAXED);
		if (__atomic_load_n(&r->srv_sleep, __ATOMIC_SEQ_CST)) {
			futex(&r->req_seq, FUTEX_WAKE, 1, NULL);
			woke = true; /* it may be put on our CPU */
		}
		if (ch->spin_ns && !ring_spin(ch, seq, woke || !peer || peer == me, &caught) &&
		    caught) {
			interrupted = true;
			send_interrupt(fd, in->unique);
		}
	} else {
		__atomic_store_n(&r->req_seq, seq, __ATOMIC_RELEASE);
		futex(&r->req_seq, FUTEX_WAKE, 1, NULL);
	}
	for (;;) {
		uint32_t now;
		struct timespec ts = {0, 100 * 1000000L};

		/* say we sleep, then look: the driver wakes us only if we do */
		if (ch->ring_waiters)
			__atomic_store_n(&r->cli_sleep, 1, __ATOMIC_SEQ_CST);
		now = __atomic_load_n(&r->rep_seq, __ATOMIC_SEQ_CST);
		if (now == seq)
			break;
		/* with a timeout, a handler's signal ends the wait (EINTR)
		 * even under SA_RESTART, as a FUSE request's wait does */
		if (futex(&r->rep_seq, FUTEX_WAIT, now, &ts) == 0 || errno == EAGAIN)
			continue;
		if (errno == EINTR && !interrupted) {
			interrupted = true;
			send_interrupt(fd, in->unique);
		} else if (errno == ETIMEDOUT && hung_up(fd)) {
			chan_disconnect(ch);
			return -ECONNABORTED; /* the driver died with our request */
		}
	}
	if (ch->ring_waiters)
		__atomic_store_n(&r->cli_sleep, 0, __ATOMIC_RELAXED);
	memcpy(&hdr, rep, sizeof(hdr));
	if (hdr.unique != in->unique || hdr.len < sizeof(hdr) || hdr.len > CUSESHIM_MAX_MSG) {
		shim_log("malformed reply from %s; dropping the connection\n", ch->dev->name);
		chan_disconnect(ch);
		return -EIO;
	}
	if (hdr.error > 0 || hdr.error <= -1000)
		return -EIO;
	if (hdr.error)
		return hdr.len == sizeof(hdr) ? hdr.error : -EIO;
	body = hdr.len - sizeof(hdr);
	for (i = 0; i < npayload; i++)
		room += payload[i].iov_len;
	if (body < out_size || body > out_size + room)
		return -EIO; /* shorter or longer than asked */
	if (out_size)
		memcpy(out, rep + sizeof(hdr), out_size);
	back_len = body - out_size;
	for (i = 0, room = back_len; i < npayload && room; i++) {
		back[nback] = payload[i];
		if (back[nback].iov_len > room)
			back[nback].iov_len = room;
		room -= back[nback++].iov_len;
	}
	if (back_len && !ring_copy(ch, false, back, nback,
				   CUSESHIM_RING_REP + sizeof(hdr) + out_size, back_len))
		return -EFAULT;
	errno = saved; /* the futex waits' EAGAIN and ETIMEDOUT are not the caller's */
	return (ssize_t)back_len;
}

static ssize_t chan_call(struct shim_chan *ch, struct iovec *req, int nreq, int sendfd, void *out,
			 size_t out_size, const struct iovec *payload, int npayload);

/* How long a client thread waits awake for a ring reply from a driver on
 * another CPU (CUSESHIM_SPIN_US, as libcused reads it). */
static uint64_t spin_ns(void)
{
	const char *s = getenv("CUSESHIM_SPIN_US");
	uint64_t ns;

	if (proto_spin_ns(s, &ns))
		shim_log("CUSESHIM_SPIN_US=%s is not a number of microseconds up to 1000000; "
			 "using %d\n",
			 s, CUSESHIM_SPIN_US_DEFAULT);
	return ns;
}

/* A request ring for @ch (mapped at ch->ring) and its memfd to pass in
 * RING, or -1 to go without (CUSESHIM_NO_RING=1, or no memory). */
static int ring_create(struct shim_chan *ch)
{
	const char *off = getenv("CUSESHIM_NO_RING");
	void *mem;
	int fd;

	ring_drop(ch);
	ch->ring_seq = 0;
	if (off && *off && strcmp(off, "0"))
		return -1;
	fd = (int)shim_raw_syscall(SYS_memfd_create, "cuseshim-ring",
				   MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return -1;
	/* the driver maps it too: it must never shrink under it */
	if (shim_raw_syscall(SYS_ftruncate, fd, CUSESHIM_RING_SIZE) ||
	    shim_sys_fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL)) {
		shim_sys_close(fd);
		return -1;
	}
	mem = (void *)shim_raw_syscall(SYS_mmap, NULL, CUSESHIM_RING_SIZE, PROT_READ | PROT_WRITE,
				       MAP_SHARED, fd, 0);
	if (mem == MAP_FAILED) {
		shim_sys_close(fd);
		return -1;
	}
	ch->ring = mem;
	/* ring_copy's reads need not touch the memfd's atime */
	shim_sys_fcntl(fd, F_SETFL, O_NOATIME);
	fd = place_high(fd);
	mark_internal(fd, true);
	atomic_store(&ch->ring_fd, fd);
	/* we keep cli_sleep and cli_cpu (1.3); the driver looks once */
	ch->ring->flags = CUSESHIM_RING_WAITERS;
	ch->ring_waiters = ch->hello.features & CUSESHIM_FEAT_RING_WAITERS;
	ch->spin_ns = spin_ns();
	return fd;
}

/*
 * A channel that has made RING_AFTER requests asks for a ring: a short-
 * lived one (cat of a few reads) is not worth the driver's thread.  Asked
 * once per connection; without it, everything stays on the socket.
 */
#define RING_AFTER 4

static void ring_ask(struct shim_chan *ch)
{
	struct fuse_in_header in = {.len = sizeof(in), .opcode = CUSESHIM_OP_RING};
	struct iovec req[1] = {{&in, sizeof(in)}};
	int memfd;

	if (!(ch->hello.features & CUSESHIM_FEAT_RING) || (memfd = ring_create(ch)) < 0)
		return;
	in.unique = shim_chan_unique(ch);
	if (chan_call(ch, req, 1, memfd, NULL, 0, NULL, 0) == 0)
		ch->ring_on = true;
	else
		ring_drop(ch); /* and the memfd, which we keep for ring_copy */
}

static ssize_t chan_call(struct shim_chan *ch, struct iovec *req, int nreq, int sendfd, void *out,
			 size_t out_size, const struct iovec *payload, int npayload)
{
	const struct fuse_in_header *in = req[0].iov_base;
	struct fuse_out_header hdr;
	struct iovec v[2 + 40];
	int fd = atomic_load(&ch->fd), i, nv = 0;
	bool interrupted = false;
	long result;
	int err;

	if (fd < 0)
		return -ENOTCONN;
	if (npayload > 40)
		return -EINVAL;
	if (sendfd < 0 &&
	    (in->opcode == FUSE_READ || in->opcode == FUSE_WRITE || in->opcode == FUSE_IOCTL)) {
		if (!ch->ring_on && ++ch->busy == RING_AFTER && !ch->poll)
			ring_ask(ch);
		if (ch->ring_on)
			return ring_call(ch, req, nreq, out, out_size, payload, npayload);
	}
	err = send_all(fd, req, nreq, sendfd);
	if (err == -EFAULT)
		return -EFAULT; /* a bad caller buffer: nothing was sent */
	if (err) {
		/* Never delivered: the driver is gone (the kernel's ENOTCONN
		 * for new requests after an abort). */
		chan_disconnect(ch);
		return -ENOTCONN;
	}
	v[nv++] = (struct iovec){&hdr, sizeof(hdr)};
	if (out_size)
		v[nv++] = (struct iovec){out, out_size};
	for (i = 0; i < npayload; i++)
		v[nv++] = payload[i];
	for (;;) {
		struct msghdr mh = {.msg_iov = v, .msg_iovlen = nv};
		ssize_t n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);

		if (n < 0 && errno == EINTR) {
			/* A signal handler ran (SO_RCVTIMEO makes recvmsg return
			 * EINTR even under SA_RESTART): tell the driver, then
			 * wait for its answer, as the kernel does. */
			if (!interrupted && in->opcode != CUSESHIM_OP_HELLO &&
			    in->opcode != CUSESHIM_OP_ATTACH && in->opcode != CUSESHIM_OP_CLOSED) {
				interrupted = true;
				send_interrupt(fd, in->unique);
			}
			continue;
		}
		if (n < 0 && errno == EAGAIN)
			continue; /* SO_RCVTIMEO expired: keep waiting */
		if (n < 0 && errno == EFAULT)
			return -EFAULT;
		if (n <= 0) {
			chan_disconnect(ch);
			return -ECONNABORTED; /* the driver died with our request */
		}
		switch (proto_reply_take(&hdr, (size_t)n, mh.msg_flags & MSG_TRUNC, in->unique,
					 out_size, &result)) {
		case PROTO_REPLY_DONE: return result;
		case PROTO_REPLY_NOTIFY:
			ch->notified++; /* a wakeup; only poll channels get them */
			continue;
		case PROTO_REPLY_LATE: continue; /* a request we gave up on */
		case PROTO_REPLY_BROKEN:
			shim_log("malformed reply from %s; dropping the connection\n",
				 ch->dev->name);
			chan_disconnect(ch);
			return -EIO;
		}
	}
}

ssize_t shim_chan_call(struct shim_chan *ch, struct iovec *req, int nreq, int sendfd, void *out,
		       size_t out_size, const struct iovec *payload, int npayload)
{
	struct timespec t0, t1;
	char line[256];
	ssize_t n;

	if (!shim_cfg.debug)
		return chan_call(ch, req, nreq, sendfd, out, out_size, payload, npayload);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	n = chan_call(ch, req, nreq, sendfd, out, out_size, payload, npayload);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	proto_trace_line(line, sizeof(line), req, nreq, n, out, out_size,
			 (double)(t1.tv_sec - t0.tv_sec) * 1e6 +
				 (double)(t1.tv_nsec - t0.tv_nsec) / 1e3);
	shim_trace("%s: %s\n", ch->dev->name, line);
	return n;
}

static int chan_connect(struct shim_chan *ch)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct fuse_in_header in = {0};
	struct cuseshim_hello_in hi = {0};
	struct iovec req[2] = {{&in, sizeof(in)}, {&hi, sizeof(hi)}};
	ssize_t n;
	int fd;

	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	strncpy(sa.sun_path, ch->dev->sock_path, sizeof(sa.sun_path) - 1);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		int err = errno;

		shim_sys_close(fd);
		return err == EMFILE || err == ENFILE ? -err : -ENOTCONN;
	}
	{
		/* recvmsg on a socket with a receive timeout is never
		 * restarted after a signal handler (signal(7)). */
		struct timeval tv = {.tv_sec = 3600};

		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	}
	fd = place_high(fd);
	mark_internal(fd, true);
	atomic_store(&ch->fd, fd);
	ch->pid = shim_sys_getpid();
	memset(ch->cache, 0, sizeof(ch->cache));
	in.len = sizeof(in) + sizeof(hi);
	in.opcode = CUSESHIM_OP_HELLO;
	in.unique = shim_chan_unique(ch);
	hi.magic = CUSESHIM_MAGIC;
	hi.major = CUSESHIM_PROTO_MAJOR;
	hi.minor = CUSESHIM_PROTO_MINOR;
	hi.tid = shim_sys_gettid();
	ch->busy = 0;
	n = shim_chan_call(ch, req, 2, -1, &ch->hello, sizeof(ch->hello), NULL, 0);
	if (n < 0 || ch->hello.magic != CUSESHIM_MAGIC || ch->hello.major != CUSESHIM_PROTO_MAJOR) {
		shim_log("%s: handshake with the driver failed (%s)\n", ch->dev->name,
			 n < 0 ? strerror((int)-n) : "protocol mismatch");
		chan_disconnect(ch);
		return -ENOTCONN;
	}
	return 0;
}

static int chan_get(struct shim_dev *dev, bool poll, struct shim_chan **out)
{
	pid_t pid = shim_sys_getpid();
	struct shim_chan *ch;
	int err;

	if (shim_shared_child_is(pid)) {
		/* a vfork child may only exec or exit: the channels are the
		 * parent's */
		shim_log("device %s used between vfork and exec; refused\n", dev->name);
		return -ENOTCONN;
	}
	for (ch = tls_chans; ch; ch = ch->next)
		if (ch->dev == dev && ch->poll == poll)
			break;
	if (!ch) {
		pthread_once(&key_once, make_key);
		ch = calloc(1, sizeof(*ch));
		if (!ch)
			return -ENOMEM;
		ch->dev = dev;
		ch->poll = poll;
		ch->fd = -1;
		ch->ring_fd = -1;
		ch->pid = pid;
		ch->next = tls_chans;
		tls_chans = ch;
		pthread_setspecific(chan_key, ch);
		pthread_mutex_lock(&all_lock);
		ch->all_next = all_chans;
		all_chans = ch;
		pthread_mutex_unlock(&all_lock);
	}
	if (ch->pid != pid) {
		/* A fork child: the connection and the ring are the parent's. */
		int fd = atomic_exchange(&ch->fd, -1);

		if (fd >= 0) {
			mark_internal(fd, false);
			shim_sys_close(fd);
		}
		ring_drop(ch);
		ch->pid = pid;
	}
	if (atomic_load(&ch->fd) < 0) {
		err = chan_connect(ch);
		if (err)
			return err;
	}
	*out = ch;
	return 0;
}

int shim_chan_get(struct shim_dev *dev, struct shim_chan **out)
{
	return chan_get(dev, false, out);
}

void shim_chan_interrupt(struct shim_chan *ch, uint64_t unique)
{
	int fd = atomic_load(&ch->fd);

	if (fd >= 0)
		send_interrupt(fd, unique);
}

/* A poll channel of its own, not the thread's (epoll registrations). */
int shim_chan_new_watch(struct shim_dev *dev, struct shim_chan **out)
{
	struct shim_chan *ch = calloc(1, sizeof(*ch));
	int err;

	if (!ch)
		return -ENOMEM;
	ch->dev = dev;
	ch->poll = true;
	ch->fd = -1;
	ch->ring_fd = -1;
	pthread_mutex_lock(&all_lock);
	ch->all_next = all_chans;
	all_chans = ch;
	pthread_mutex_unlock(&all_lock);
	err = chan_connect(ch);
	if (err) {
		shim_chan_free(ch);
		return err;
	}
	*out = ch;
	return 0;
}

void shim_chan_free(struct shim_chan *ch)
{
	struct shim_chan **pp;

	chan_disconnect(ch);
	pthread_mutex_lock(&all_lock);
	for (pp = &all_chans; *pp; pp = &(*pp)->all_next)
		if (*pp == ch) {
			*pp = ch->all_next;
			break;
		}
	pthread_mutex_unlock(&all_lock);
	free(ch);
}

int shim_chan_get_poll(struct shim_dev *dev, struct shim_chan **out)
{
	return chan_get(dev, true, out);
}

int shim_chan_fd(struct shim_chan *ch)
{
	return atomic_load(&ch->fd);
}

/* Take the wakeups queued on a poll channel; returns how many. */
unsigned shim_chan_drain(struct shim_chan *ch)
{
	struct fuse_out_header hdr;
	struct fuse_notify_poll_wakeup_out wake;
	struct iovec v[2] = {{&hdr, sizeof(hdr)}, {&wake, sizeof(wake)}};
	unsigned n = ch->notified;
	int fd = atomic_load(&ch->fd);

	ch->notified = 0;
	while (fd >= 0) {
		struct msghdr mh = {.msg_iov = v, .msg_iovlen = 2};
		ssize_t r = recvmsg(fd, &mh, MSG_DONTWAIT);

		if (r < 0 && errno == EINTR)
			continue;
		if (r == 0) {
			chan_disconnect(ch); /* the driver is gone */
			break;
		}
		if (r < 0)
			break;
		n++;
	}
	return n;
}

int shim_file_chan(int fd, struct shim_file *f, struct shim_chan **ch, uint64_t *handle)
{
	int err = shim_chan_get(f->dev, ch);

	return err ? err : shim_chan_attach(*ch, fd, f, handle);
}

int shim_chan_attach(struct shim_chan *ch, int fd, struct shim_file *f, uint64_t *handle)
{
	struct fuse_in_header in = {0};
	struct iovec req[1] = {{&in, sizeof(in)}};
	struct cuseshim_attach_out out;
	unsigned i;
	ssize_t n;

	for (i = 0; i < CACHE_SLOTS; i++)
		if (ch->cache[i].handle && ch->cache[i].ino == f->ino) {
			*handle = ch->cache[i].handle;
			return 0;
		}
	in.len = sizeof(in);
	in.opcode = CUSESHIM_OP_ATTACH;
	in.unique = shim_chan_unique(ch);
	n = shim_chan_call(ch, req, 1, fd, &out, sizeof(out), NULL, 0);
	if (n < 0)
		return (int)n;
	i = ch->next_slot++ % CACHE_SLOTS;
	ch->cache[i].ino = f->ino;
	ch->cache[i].handle = out.handle;
	f->open_flags = out.open_flags;
	f->flags_known = true;
	*handle = out.handle;
	return 0;
}

void shim_closed(struct shim_file *f)
{
	struct fuse_in_header in = {0};
	struct cuseshim_closed_in ci = {.ino = f->ino};
	struct iovec req[2] = {{&in, sizeof(in)}, {&ci, sizeof(ci)}};
	struct shim_chan *ch;
	unsigned i;

	if (shim_chan_get(f->dev, &ch))
		return;
	for (i = 0; i < CACHE_SLOTS; i++)
		if (ch->cache[i].ino == f->ino)
			ch->cache[i].handle = 0;
	in.len = sizeof(in) + sizeof(ci);
	in.opcode = CUSESHIM_OP_CLOSED;
	in.unique = shim_chan_unique(ch);
	shim_chan_call(ch, req, 2, -1, NULL, 0, NULL, 0);
}

void shim_move_internal_fd(int fd)
{
	struct shim_chan *ch;

	if (!shim_is_internal_fd(fd))
		return;
	pthread_mutex_lock(&all_lock);
	for (ch = all_chans; ch; ch = ch->all_next) {
		_Atomic int *at = atomic_load(&ch->fd) == fd	    ? &ch->fd
				  : atomic_load(&ch->ring_fd) == fd ? &ch->ring_fd
								    : NULL;
		int hi;

		if (!at)
			continue;
		/* -1 when it cannot move: a ring copies another way, and a
		 * connection is gone */
		hi = shim_sys_fcntl(fd, F_DUPFD_CLOEXEC, high_base());
		if (hi >= 0)
			mark_internal(hi, true);
		atomic_store(at, hi < 0 ? -1 : hi);
		mark_internal(fd, false);
	}
	pthread_mutex_unlock(&all_lock);
}
