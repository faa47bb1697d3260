/* SPDX-License-Identifier: MIT */
/*
 * The request loop: fuse_session_receive_buf/process_buf and the single and
 * multi-threaded loops built on them.
 *
 * fuse_session_fd() is an epoll set holding the kick pipe, the listening
 * socket and every connection.  Connections are registered EPOLLONESHOT: the
 * worker that receives an event owns that connection until it re-arms it,
 * so exactly one thread ever closes a connection and a datagram is never
 * read by two workers.  New connections are re-armed only after their
 * handshake, which needs a quiet socket (see dispatch.c, OPEN).
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cused_i.h"

#define EP_KICK	  ((void *)1)
#define EP_LISTEN ((void *)2)

static void accept_conn(struct fuse_session *se)
{
	struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP | EPOLLONESHOT};
	struct cused_conn *c;
	struct ucred cr;
	socklen_t len = sizeof(cr);
	int fd;

	fd = accept4(se->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (fd < 0)
		return;
	c = calloc(1, sizeof(*c));
	if (!c || getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len)) {
		cused_log(FUSE_LOG_ERR, "cuse: cannot accept client: %s\n", strerror(errno));
		free(c);
		close(fd);
		return;
	}
	c->fd = fd;
	c->kind = CONN_NEW;
	c->refs = 1;
	c->pid = c->tid = cr.pid;
	c->uid = cr.uid;
	c->gid = cr.gid;
	ev.data.ptr = c;
	pthread_mutex_lock(&se->lock);
	c->next = se->conns;
	se->conns = c;
	pthread_mutex_unlock(&se->lock);
	if (epoll_ctl(se->epfd, EPOLL_CTL_ADD, fd, &ev))
		cused_conn_close(se, c);
}

static void build_init(struct fuse_session *se, struct cused_msg *m)
{
	struct fuse_in_header *in = CUSED_MSG_DATA(m);
	struct cuse_init_in *arg = (void *)(in + 1);

	memset(m, 0, sizeof(*m));
	m->fd = -1;
	m->len = sizeof(*in) + sizeof(*arg);
	memset(in, 0, m->len);
	in->len = m->len;
	in->opcode = CUSE_INIT;
	arg->major = FUSE_KERNEL_VERSION;
	arg->minor = FUSE_KERNEL_MINOR_VERSION;
	arg->flags = CUSE_UNRESTRICTED_IOCTL;
}

/* The last copy of the client's end is closed: hand the driver a RELEASE,
 * unless a CLOSED request already started it. */
/* An internal message about @f (its reference travels with it): the
 * zeroed argument struct of @size bytes to fill in. */
static void *internal_msg(struct cused_msg *m, struct cused_file *f, uint32_t opcode, size_t size)
{
	struct fuse_in_header *in = CUSED_MSG_DATA(m);

	memset(m, 0, sizeof(*m));
	m->fd = -1;
	m->file = f;
	m->len = sizeof(*in) + size;
	memset(in, 0, m->len);
	in->len = m->len;
	in->opcode = opcode;
	return in + 1;
}

/* The internal RELEASE message of @f. */
static void release_msg(struct cused_msg *m, struct cused_file *f)
{
	struct fuse_release_in *arg = internal_msg(m, f, FUSE_RELEASE, sizeof(*arg));

	arg->fh = f->fh;
	arg->flags = f->last_flags;
}

static bool build_release(struct fuse_session *se, struct cused_conn *c, struct cused_msg *m)
{
	struct cused_file *f = c->file;
	bool start;

	pthread_mutex_lock(&se->lock);
	start = f && f->state == FILE_OPEN && !f->busy;
	if (start) {
		f->state = FILE_RELEASING;
		f->refs++;
	} else if (f && f->state == FILE_OPEN) {
		f->release_pending = true; /* after the requests in flight */
	}
	pthread_mutex_unlock(&se->lock);
	if (!start)
		return false;
	release_msg(m, f);
	return true;
}

void cused_defer_release(struct fuse_session *se, struct cused_file *f)
{
	struct cused_file **pp;

	pthread_mutex_lock(&se->lock);
	f->next_deferred = NULL;
	for (pp = &se->deferred; *pp; pp = &(*pp)->next_deferred)
		;
	if (!se->deferred && !se->mirrors && write(se->kick[1], "r", 1) != 1)
		cused_log(FUSE_LOG_ERR, "cuse: %s: cannot wake the loop for a release\n",
			  se->devname);
	*pp = f;
	pthread_mutex_unlock(&se->lock);
}

void cused_mirror_queue(struct fuse_session *se, struct cused_file *f)
{
	struct cused_file **pp;

	pthread_mutex_lock(&se->lock);
	if (f->state == FILE_OPEN && f->conn && !f->mirror_queued) {
		f->mirror_queued = true;
		f->refs++;
		f->busy++; /* the poll is a request on the file */
		f->answering++;
		f->next_mirror = NULL;
		for (pp = &se->mirrors; *pp; pp = &(*pp)->next_mirror)
			;
		if (!se->deferred && !se->mirrors && write(se->kick[1], "r", 1) != 1)
			cused_log(FUSE_LOG_ERR, "cuse: %s: cannot wake the loop for a poll\n",
				  se->devname);
		*pp = f;
	}
	pthread_mutex_unlock(&se->lock);
}

/* The internal POLL message of @f's mirror. */
static void mirror_msg(struct cused_msg *m, struct cused_file *f)
{
	struct fuse_poll_in *arg = internal_msg(m, f, FUSE_POLL, sizeof(*arg));

	arg->fh = f->fh;
	arg->kh = f->kh;
	arg->flags = FUSE_POLL_SCHEDULE_NOTIFY;
	arg->events = POLLIN;
}

static ssize_t raw_write(struct fuse_session *se, struct cused_conn *c, struct cused_msg *m,
			 ssize_t n, bool truncated)
{
	struct fuse_in_header *in = CUSED_MSG_DATA(m);
	struct fuse_write_in *arg = (void *)(in + 1);
	struct cused_file *f = c->file;

	if (truncated)
		cused_log(FUSE_LOG_ERR,
			  "cuse: %s: a write of more than %zu bytes bypassed the shim; "
			  "the rest of it is lost\n",
			  se->devname, (size_t)n);
	pthread_mutex_lock(&se->lock);
	if (f->state == FILE_OPEN) {
		f->refs++;
		f->busy++; /* in flight: the release waits for it */
		f->raw++;
	} else {
		f = NULL;
	}
	pthread_mutex_unlock(&se->lock);
	if (!f)
		return cused_rearm(se, c) ? -1 : 0;
	/* The writer went on at once, and its next write may already wait
	 * in the socket: this connection is read again only when the driver
	 * has taken this one (cused_raw_done), as a device's writes from one
	 * thread reach the driver in order. */
	memset(m, 0, sizeof(*m));
	m->fd = -1;
	m->file = f;
	m->raw_conn = cused_conn_get(c);
	m->len = sizeof(*in) + sizeof(*arg) + n;
	memset(in, 0, sizeof(*in) + sizeof(*arg));
	in->len = m->len;
	in->opcode = FUSE_WRITE;
	arg->fh = f->fh;
	arg->size = n;
	arg->write_flags = FUSE_WRITE_LOCKOWNER;
	arg->flags = f->last_flags;
	return m->len;
}

/* Read one datagram from @c.  Returns its size, 0 to look for another
 * event, or -1 when the connection is gone. */
static ssize_t recv_conn(struct fuse_session *se, struct cused_conn *c, struct cused_msg *m)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * 4)];
		struct cmsghdr align;
	} ctl;
	/* On an open file connection every datagram is data a program wrote
	 * past the shim (stdio, static binaries): it becomes a WRITE. */
	const size_t raw_off = sizeof(struct fuse_in_header) + sizeof(struct fuse_write_in);
	bool raw = c->kind == CONN_FILE;
	struct iovec iov = {(char *)CUSED_MSG_DATA(m) + (raw ? raw_off : 0),
			    se->bufsize - sizeof(*m) - (raw ? raw_off : 0)};
	struct msghdr mh = {.msg_iov = &iov,
			    .msg_iovlen = 1,
			    .msg_control = ctl.buf,
			    .msg_controllen = sizeof(ctl.buf)};
	struct cmsghdr *cm;
	ssize_t n;
	int fd = -1;

	/* Never through a preloaded shim (a driver started under cuse-run):
	 * its recvmsg would take the client's socket that comes with an
	 * OPEN for a device file of this process. */
	n = syscall(SYS_recvmsg, c->fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return c->kind == CONN_NEW || cused_rearm(se, c) == 0 ? 0 : -1;
	if (n <= 0)
		return -1;
	for (cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
		int *fds = (int *)CMSG_DATA(cm);
		size_t i, k;

		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		k = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (i = 0; i < k; i++) {
			if (fd < 0)
				fd = fds[i];
			else
				close(fds[i]);
		}
	}
	if (raw) {
		if (fd >= 0)
			close(fd);
		return raw_write(se, c, m, n, mh.msg_flags & MSG_TRUNC);
	}
	if ((mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) || proto_check_request(iov.iov_base, n)) {
		const struct fuse_in_header *in = iov.iov_base;

		cused_log(FUSE_LOG_ERR,
			  "cuse: %s: malformed message from pid %d (%zd bytes, opcode %u); "
			  "dropping the connection\n",
			  se->devname, (int)c->pid, n, n >= 8 ? in->opcode : 0);
		if (fd >= 0)
			close(fd);
		return -1;
	}
	memset(m, 0, sizeof(*m));
	m->conn = cused_conn_get(c);
	m->fd = fd;
	m->len = n;
	/* Control connections take their next request at once; new ones wait
	 * until their handshake is done. */
	if (c->kind == CONN_CONTROL && cused_rearm(se, c)) {
		cused_conn_put(c);
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return n;
}

/*
 * The next message for the driver.  An event can end in no message (a
 * new connection, a socket's end whose release is already under way, a
 * datagram that was not one); our loops then wait for the next event.  A
 * driver's own loop (@once) polled fuse_session_fd() and must not block
 * here: it gets -EINTR, which it takes as libfuse's "nothing this time,
 * call again".
 */
static int receive(struct fuse_session *se, struct fuse_buf *buf, bool once)
{
	struct cused_msg *m;

	if (!buf->mem) {
		buf->mem = malloc(se->bufsize);
		if (!buf->mem) {
			cused_log(FUSE_LOG_ERR, "fuse: failed to allocate read buffer\n");
			return -ENOMEM;
		}
	}
	m = buf->mem;
	for (;;) {
		struct epoll_event ev;
		struct cused_conn *c;
		ssize_t n;
		int r;

		if (se->exited)
			return 0;
		r = epoll_wait(se->epfd, &ev, 1, -1);
		if (r < 0)
			return errno == EINTR ? -EINTR : -errno;
		if (r == 0)
			continue;
		if (ev.data.ptr == EP_KICK) {
			struct cused_file *f = NULL, *mf = NULL;
			bool deliver = false;
			char b;

			if (se->exited)
				return 0;
			pthread_mutex_lock(&se->lock);
			if (!se->init_delivered && read(se->kick[0], &b, 1) == 1) {
				se->init_delivered = true;
				deliver = true;
			} else if (se->init_delivered && (se->deferred || se->mirrors)) {
				if (se->deferred) {
					f = se->deferred;
					se->deferred = f->next_deferred;
				} else {
					mf = se->mirrors;
					se->mirrors = mf->next_mirror;
				}
				if (!se->deferred && !se->mirrors &&
				    read(se->kick[0], &b, 1) != 1) {
					/* the byte went with a reset: nothing to do */
				}
			}
			pthread_mutex_unlock(&se->lock);
			if (f) {
				release_msg(m, f);
				break;
			}
			if (mf) {
				mirror_msg(m, mf);
				break;
			}
			if (!deliver) {
				if (once)
					return -EINTR;
				continue;
			}
			build_init(se, m);
			break;
		}
		if (ev.data.ptr == EP_LISTEN) {
			accept_conn(se);
		} else {
			c = ev.data.ptr;
			n = recv_conn(se, c, m);
			if (n > 0)
				break;
			if (n < 0 && c->kind == CONN_FILE && build_release(se, c, m)) {
				/* The message holds the file; the connection can go. */
				cused_conn_close(se, c);
				break;
			}
			if (n < 0)
				cused_conn_close(se, c);
		}
		if (once)
			return -EINTR;
	}
	buf->size = sizeof(*m) + m->len;
	buf->flags = 0;
	return buf->size;
}

CUSED_EXPORT
int fuse_session_receive_buf(struct fuse_session *se, struct fuse_buf *buf)
{
	return receive(se, buf, true);
}

CUSED_EXPORT
void fuse_session_process_buf(struct fuse_session *se, const struct fuse_buf *buf)
{
	if (!buf || !buf->mem || buf->size < sizeof(struct cused_msg))
		return;
	cused_dispatch(se, buf->mem, buf->size);
}

CUSED_EXPORT
int fuse_session_loop(struct fuse_session *se)
{
	struct fuse_buf buf = {0};
	int res = 0;

	cused_ring_loop(se, true, 1); /* request rings take turns with us */
	while (!fuse_session_exited(se)) {
		res = receive(se, &buf, false);
		if (res == -EINTR)
			continue;
		if (res <= 0)
			break;
		cused_slot_take(se);
		cused_dispatch(se, buf.mem, buf.size);
		cused_slot_give(se);
	}
	cused_ring_loop(se, false, 0);
	free(buf.mem);
	if (res > 0)
		res = 0;
	if (se->error != 0)
		res = se->error;
	fuse_session_reset(se);
	return res;
}

/*
 * The multi-threaded loop, with libfuse's policy: a worker that takes a
 * request while no other worker is idle starts another one, up to
 * max_threads; idle workers beyond max_idle_threads exit.
 */
struct fuse_loop_config {
	int clone_fd;
	unsigned max_idle_threads;
	unsigned max_threads;
};

struct mt_loop {
	struct fuse_session *se;
	struct fuse_loop_config cfg;
	pthread_mutex_t lock;
	pthread_cond_t done;
	unsigned workers, idle;
	int error;
};

static void *mt_worker(void *arg);

static int mt_spawn(struct mt_loop *mt)
{
	pthread_attr_t attr;
	pthread_t t;
	sigset_t all, old;
	int err;

	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	/* Workers leave signals to the thread that installed handlers. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	err = pthread_create(&t, &attr, mt_worker, mt);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&attr);
	if (err) {
		cused_log(FUSE_LOG_ERR, "fuse: error creating thread: %s\n", strerror(err));
		return -err;
	}
	mt->workers++;
	mt->idle++;
	return 0;
}

static void *mt_worker(void *arg)
{
	struct mt_loop *mt = arg;
	struct fuse_session *se = mt->se;
	struct fuse_buf buf = {0};

	for (;;) {
		int res = receive(se, &buf, false);

		pthread_mutex_lock(&mt->lock);
		if (res == -EINTR) {
			pthread_mutex_unlock(&mt->lock);
			continue;
		}
		if (res <= 0) {
			if (res < 0 && !mt->error)
				mt->error = res;
			fuse_session_exit(se);
			break;
		}
		mt->idle--;
		if (mt->idle == 0 && mt->workers < mt->cfg.max_threads)
			mt_spawn(mt);
		pthread_mutex_unlock(&mt->lock);

		cused_slot_take(se);
		cused_dispatch(se, buf.mem, buf.size);
		cused_slot_give(se);

		pthread_mutex_lock(&mt->lock);
		mt->idle++;
		if (mt->idle > mt->cfg.max_idle_threads && mt->workers > 1) {
			break;
		}
		pthread_mutex_unlock(&mt->lock);
	}
	mt->idle--;
	mt->workers--;
	pthread_cond_broadcast(&mt->done);
	pthread_mutex_unlock(&mt->lock);
	free(buf.mem);
	return NULL;
}

static int loop_mt(struct fuse_session *se, const struct fuse_loop_config *cfg)
{
	struct mt_loop mt = {.se = se};
	int res;

	mt.cfg.max_threads = 10;
	mt.cfg.max_idle_threads = -1U;
	if (cfg)
		mt.cfg = *cfg;
	if (mt.cfg.max_threads == 0)
		mt.cfg.max_threads = 1;
	pthread_mutex_init(&mt.lock, NULL);
	pthread_cond_init(&mt.done, NULL);
	cused_ring_loop(se, true, mt.cfg.max_threads);
	pthread_mutex_lock(&mt.lock);
	res = mt_spawn(&mt);
	while (!res && mt.workers > 0)
		pthread_cond_wait(&mt.done, &mt.lock);
	pthread_mutex_unlock(&mt.lock);
	cused_ring_loop(se, false, 0);
	pthread_cond_destroy(&mt.done);
	pthread_mutex_destroy(&mt.lock);
	if (!res)
		res = mt.error;
	if (se->error != 0)
		res = se->error;
	fuse_session_reset(se);
	return res;
}

int cused_loop_mt_312(struct fuse_session *se, struct fuse_loop_config *config);
int cused_loop_mt_32(struct fuse_session *se, struct fuse_loop_config_v1 *config);
int cused_loop_mt_31(struct fuse_session *se, int clone_fd);

int cused_loop_mt_312(struct fuse_session *se, struct fuse_loop_config *config)
{
	return loop_mt(se, config);
}

int cused_loop_mt_32(struct fuse_session *se, struct fuse_loop_config_v1 *v1)
{
	struct fuse_loop_config cfg = {.max_threads = 10, .max_idle_threads = -1U};

	if (v1) {
		cfg.clone_fd = v1->clone_fd;
		cfg.max_idle_threads = v1->max_idle_threads;
	}
	return loop_mt(se, &cfg);
}

int cused_loop_mt_31(struct fuse_session *se, int clone_fd)
{
	struct fuse_loop_config cfg = {
		.clone_fd = clone_fd, .max_threads = 10, .max_idle_threads = -1U};

	return loop_mt(se, &cfg);
}

CUSED_EXPORT
struct fuse_loop_config *fuse_loop_cfg_create(void)
{
	struct fuse_loop_config *cfg = calloc(1, sizeof(*cfg));

	if (cfg) {
		cfg->max_threads = 10;
		cfg->max_idle_threads = -1U;
	}
	return cfg;
}

CUSED_EXPORT
void fuse_loop_cfg_destroy(struct fuse_loop_config *config)
{
	free(config);
}

CUSED_EXPORT
void fuse_loop_cfg_set_idle_threads(struct fuse_loop_config *config, unsigned int value)
{
	config->max_idle_threads = value;
}

CUSED_EXPORT
void fuse_loop_cfg_set_max_threads(struct fuse_loop_config *config, unsigned int value)
{
	config->max_threads = value;
}

CUSED_EXPORT
void fuse_loop_cfg_set_clone_fd(struct fuse_loop_config *config, unsigned int value)
{
	config->clone_fd = value;
}

CUSED_EXPORT
void fuse_loop_cfg_convert(struct fuse_loop_config *config, struct fuse_loop_config_v1 *v1_conf)
{
	config->clone_fd = v1_conf->clone_fd;
	config->max_idle_threads = v1_conf->max_idle_threads;
}
