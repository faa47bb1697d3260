/* SPDX-License-Identifier: MIT */
/*
 * The request ring of a control connection (protocol 1.2, struct
 * cuseshim_ring): READ, WRITE and IOCTL in shared memory with futex
 * wake-ups, one at a time as the client thread makes them.
 *
 * A ring thread per connection waits on req_seq, copies each request out
 * of the shared page (the client may scribble on it meanwhile), checks it
 * as the loop checks a datagram and dispatches it in this thread; the
 * reply (cused_send, from whichever thread the driver answers in) lands in
 * the reply area.  The ring serves only while one of our loops runs: it
 * waits while the session is exited, a loop leaving waits for the ring's
 * dispatch in progress (cused_ring_loop), and the rings and the loop's
 * workers share its number of callbacks at once (cused_slot_take).  The connection's socket stays
 * the authority: its close stops the ring, and a bad ring message shuts
 * the socket down so that the loop closes the connection.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "cused_i.h"

/* More client threads than this get the socket: a ring is a thread. */
#define RINGS_MAX 256

struct cused_ring {
	struct fuse_session *se;
	struct cused_conn *conn; /* the thread's reference */
	struct cuseshim_ring *mem;
	_Atomic bool stop;
	_Atomic uint64_t pending; /* unique of the request being served */
	uint32_t pending_seq;
	bool waiters;	  /* the client keeps cli_sleep and cli_cpu (1.3) */
	uint64_t spin_ns; /* how long to wait awake for the next request */
};

/*
 * After a reply, a ring thread waits awake this long for the next request
 * before it sleeps (ring_spin): waking a sleeping thread on another CPU
 * costs tens of microseconds on a VM whose idle CPUs halt, several times
 * a request's own cost, and even on one CPU a futex sleep and wake-up
 * cost more than handing the CPU over.
 */
uint64_t cused_spin_ns(void)
{
	const char *s = getenv("CUSESHIM_SPIN_US");
	uint64_t ns;

	if (proto_spin_ns(s, &ns))
		cused_log(FUSE_LOG_WARNING,
			  "cuse: CUSESHIM_SPIN_US=%s is not a number of microseconds up to "
			  "1000000; using %d\n",
			  s, CUSESHIM_SPIN_US_DEFAULT);
	return ns;
}

static char *area(struct cused_ring *r, size_t off)
{
	return (char *)r->mem + off;
}

static void futex_wake(uint32_t *word)
{
	syscall(SYS_futex, word, FUTEX_WAKE, 1, NULL, NULL, 0);
}

/* Sleep while *@word is @old, at most @ms milliseconds (0: no limit). */
static void futex_wait_ms(uint32_t *word, uint32_t old, long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	syscall(SYS_futex, word, FUTEX_WAIT, old, ms ? &ts : NULL, NULL, 0);
}

/*
 * Wait awake for a request after @seen, at most spin_ns; true if one came
 * (or we are told to stop).  With the client on another CPU we spin; on
 * ours we yield the CPU to it at each look, which hands it over as fast
 * as a futex wake-up would and without one (the client does not wake us
 * when we do not sleep).
 */
static bool ring_spin(struct cused_ring *r, uint32_t seen)
{
	uint32_t peer = __atomic_load_n(&r->mem->cli_cpu, __ATOMIC_RELAXED);
	bool yield = peer == proto_ring_cpu();
	uint64_t end;
	unsigned i;

	if (!r->waiters || !r->spin_ns || !peer)
		return false;
	end = proto_now_ns() + r->spin_ns;
	for (i = 1;; i++) {
		if (__atomic_load_n(&r->mem->req_seq, __ATOMIC_ACQUIRE) != seen ||
		    atomic_load(&r->stop))
			return true;
		if (yield)
			sched_yield();
		else
			proto_cpu_relax();
		if ((yield || !(i % 64)) && proto_now_ns() > end)
			return false;
	}
}

/* Sleep until a request after @seen, saying so in srv_sleep first so
 * that the client wakes us (and only then). */
static void ring_sleep(struct cused_ring *r, uint32_t seen, long ms)
{
	struct cuseshim_ring *mem = r->mem;

	__atomic_store_n(&mem->srv_cpu, proto_ring_cpu(), __ATOMIC_RELAXED);
	__atomic_store_n(&mem->srv_sleep, 1, __ATOMIC_SEQ_CST);
	if (__atomic_load_n(&mem->req_seq, __ATOMIC_SEQ_CST) == seen && !atomic_load(&r->stop))
		futex_wait_ms(&mem->req_seq, seen, ms);
	__atomic_store_n(&mem->srv_sleep, 0, __ATOMIC_RELAXED);
}

/* A dispatch may start only while a loop runs, with one of the loop's
 * callback slots (as cused_slot_take); counted, for quiesce. */
static bool ring_enter(struct fuse_session *se)
{
	bool ok;

	pthread_mutex_lock(&se->ring_lock);
	while ((ok = se->in_loop && !fuse_session_exited(se)) && se->slots == 0)
		pthread_cond_wait(&se->ring_cond, &se->ring_lock);
	if (ok) {
		se->slots--;
		se->ring_busy++;
	}
	pthread_mutex_unlock(&se->ring_lock);
	return ok;
}

/* The dispatch is done: its slot back, and a loop leaving may go on. */
static void ring_leave(struct fuse_session *se)
{
	pthread_mutex_lock(&se->ring_lock);
	se->slots++;
	se->ring_busy--;
	pthread_cond_broadcast(&se->ring_cond);
	pthread_mutex_unlock(&se->ring_lock);
}

void cused_ring_loop(struct fuse_session *se, bool running, unsigned slots)
{
	pthread_mutex_lock(&se->ring_lock);
	se->in_loop = running;
	if (running)
		se->slots = slots ? slots : 1;
	/* rings waiting for a slot look at in_loop again */
	pthread_cond_broadcast(&se->ring_cond);
	while (!running && se->ring_busy)
		pthread_cond_wait(&se->ring_cond, &se->ring_lock);
	pthread_mutex_unlock(&se->ring_lock);
}

void cused_slot_take(struct fuse_session *se)
{
	pthread_mutex_lock(&se->ring_lock);
	while (se->slots == 0)
		pthread_cond_wait(&se->ring_cond, &se->ring_lock);
	se->slots--;
	pthread_mutex_unlock(&se->ring_lock);
}

void cused_slot_give(struct fuse_session *se)
{
	pthread_mutex_lock(&se->ring_lock);
	se->slots++;
	pthread_cond_broadcast(&se->ring_cond);
	pthread_mutex_unlock(&se->ring_lock);
}

void cused_ring_wait_gone(struct fuse_session *se)
{
	pthread_mutex_lock(&se->ring_lock);
	while (se->rings)
		pthread_cond_wait(&se->ring_cond, &se->ring_lock);
	pthread_mutex_unlock(&se->ring_lock);
}

/* Something the loop would have dropped the connection for. */
static void ring_fault(struct cused_ring *r, const char *what)
{
	cused_log(FUSE_LOG_ERR,
		  "cuse: %s: %s in the request ring of pid %d; dropping the connection\n",
		  r->se->devname, what, (int)r->conn->pid);
	shutdown(r->conn->fd, SHUT_RDWR);
	atomic_store(&r->stop, true);
}

static void serve_one(struct cused_ring *r, struct cused_msg *m, uint32_t seq)
{
	struct fuse_session *se = r->se;
	struct fuse_in_header *in = CUSED_MSG_DATA(m);
	uint32_t len;

	memcpy(&len, area(r, CUSESHIM_RING_REQ), sizeof(len));
	if (len < sizeof(*in) || len > CUSESHIM_MAX_MSG) {
		ring_fault(r, "a message of a bad length");
		return;
	}
	memcpy(in, area(r, CUSESHIM_RING_REQ), len);
	if (in->len != len || proto_check_request(in, len) ||
	    (in->opcode != FUSE_READ && in->opcode != FUSE_WRITE && in->opcode != FUSE_IOCTL)) {
		ring_fault(r, "a malformed message");
		return;
	}
	memset(m, 0, sizeof(*m));
	m->conn = cused_conn_get(r->conn);
	m->fd = -1;
	m->len = len;
	r->pending_seq = seq;
	atomic_store(&r->pending, in->unique);
	cused_dispatch(se, m, sizeof(*m) + len); /* in ring_enter's slot */
}

static void *ring_thread(void *arg)
{
	struct cused_ring *r = arg;
	struct fuse_session *se = r->se;
	struct cused_msg *m = malloc(sizeof(*m) + CUSESHIM_MAX_MSG);
	uint32_t seen = 0;

	if (!m)
		ring_fault(r, "no memory for a request");
	while (m && !atomic_load(&r->stop)) {
		uint32_t now = __atomic_load_n(&r->mem->req_seq, __ATOMIC_ACQUIRE);

		if (now == seen) {
			/* idle: a request or cused_ring_stop changes req_seq */
			if (!ring_spin(r, seen))
				ring_sleep(r, seen, 0);
			continue;
		}
		if (!se->in_loop || fuse_session_exited(se) || !ring_enter(se)) {
			/* no loop serves the session: look again now and then */
			ring_sleep(r, now, 500);
			continue;
		}
		seen = now;
		__atomic_store_n(&r->mem->srv_cpu, proto_ring_cpu(), __ATOMIC_RELAXED);
		serve_one(r, m, now);
		ring_leave(se);
	}
	free(m);
	pthread_mutex_lock(&se->ring_lock);
	if (--se->rings == 0)
		pthread_cond_broadcast(&se->ring_cond);
	pthread_mutex_unlock(&se->ring_lock);
	cused_conn_put(r->conn);
	return NULL;
}

int cused_ring_start(struct fuse_session *se, struct cused_conn *c, int memfd)
{
	struct cused_ring *r;
	pthread_attr_t attr;
	struct stat st;
	pthread_t t;
	sigset_t all, old;
	bool full;
	void *mem;
	int err, seals;

	/* sealed against shrinking, or the client could make us fault */
	if (memfd < 0 || fstat(memfd, &st) || !S_ISREG(st.st_mode) ||
	    st.st_size != CUSESHIM_RING_SIZE || (seals = fcntl(memfd, F_GET_SEALS)) < 0 ||
	    !(seals & F_SEAL_SHRINK))
		return -EINVAL;
	pthread_mutex_lock(&se->ring_lock);
	full = se->rings >= RINGS_MAX;
	pthread_mutex_unlock(&se->ring_lock);
	if (full)
		return -EAGAIN; /* that client goes by the socket */
	mem = mmap(NULL, CUSESHIM_RING_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
	if (mem == MAP_FAILED)
		return -errno;
	r = calloc(1, sizeof(*r));
	if (!r) {
		munmap(mem, CUSESHIM_RING_SIZE);
		return -ENOMEM;
	}
	r->se = se;
	r->conn = cused_conn_get(c);
	r->mem = mem;
	r->waiters = __atomic_load_n(&r->mem->flags, __ATOMIC_RELAXED) & CUSESHIM_RING_WAITERS;
	r->spin_ns = se->spin_ns;
	c->ring = r;
	pthread_mutex_lock(&se->ring_lock);
	se->rings++;
	pthread_mutex_unlock(&se->ring_lock);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, 256 * 1024);
	/* signals stay with the thread that installed the handlers */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	err = pthread_create(&t, &attr, ring_thread, r);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&attr);
	if (err) {
		pthread_mutex_lock(&se->ring_lock);
		se->rings--;
		pthread_mutex_unlock(&se->ring_lock);
		c->ring = NULL;
		cused_conn_put(c);
		munmap(mem, CUSESHIM_RING_SIZE);
		free(r);
		return -err;
	}
	return 0;
}

void cused_ring_stop(struct cused_conn *c)
{
	struct cused_ring *r = c->ring;

	if (!r)
		return;
	atomic_store(&r->stop, true);
	/* a thread between its look at stop and FUTEX_WAIT sleeps only while
	 * req_seq is what it saw: change it (the client is gone) */
	__atomic_fetch_add(&r->mem->req_seq, 1, __ATOMIC_SEQ_CST);
	futex_wake(&r->mem->req_seq);
}

void cused_ring_free(struct cused_conn *c)
{
	if (!c->ring)
		return;
	munmap(c->ring->mem, CUSESHIM_RING_SIZE);
	free(c->ring);
	c->ring = NULL;
}

bool cused_ring_reply(struct cused_conn *c, uint64_t unique, int error, const struct iovec *iov,
		      int count, int *ret)
{
	struct cused_ring *r = c->ring;
	struct fuse_out_header out = {.error = error, .unique = unique};
	uint64_t want = unique;
	size_t len = sizeof(out);
	char *p;
	int i;

	/* not once the connection is closed: the client learns of that from
	 * the socket (ECONNABORTED), as without a ring */
	if (!r || !unique || atomic_load(&r->stop) ||
	    !atomic_compare_exchange_strong(&r->pending, &want, 0))
		return false;
	for (i = 0; i < count; i++)
		len += iov[i].iov_len;
	if (len > CUSESHIM_MAX_MSG) {
		/* cannot happen for READ, WRITE, IOCTL within max sizes */
		out.error = -EIO;
		len = sizeof(out);
		count = 0;
	}
	out.len = (uint32_t)len;
	p = area(r, CUSESHIM_RING_REP);
	memcpy(p, &out, sizeof(out));
	p += sizeof(out);
	for (i = 0; i < count; i++) {
		memcpy(p, iov[i].iov_base, iov[i].iov_len);
		p += iov[i].iov_len;
	}
	__atomic_store_n(&r->mem->rep_seq, r->pending_seq, __ATOMIC_SEQ_CST);
	if (!r->waiters || __atomic_load_n(&r->mem->cli_sleep, __ATOMIC_SEQ_CST))
		futex_wake(&r->mem->rep_seq);
	*ret = 0;
	return true;
}
