/* SPDX-License-Identifier: MIT */
/*
 * Dispatch: one handler per opcode, from a table, for every message
 * receive_buf hands out.  Handlers run in the worker that received the
 * message; a handler that passes a request to the driver leaves its reply
 * to reply.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cused_i.h"

struct dispatch_ctx {
	struct fuse_session *se;
	struct cused_msg *m;
	struct fuse_in_header *in;
	void *arg;
	size_t arglen; /* bytes at arg */
};

/* With -d: what a READ, WRITE, IOCTL or POLL asks of file @f. */
static void debug_args(const struct dispatch_ctx *d, const struct cused_file *f)
{
	char what[160];

	if (!d->se->debug)
		return;
	proto_describe(d->in, d->arg, d->arglen, what, sizeof(what));
	cused_debug(d->se, "   fh: %llu, %s\n", (unsigned long long)f->fh, what);
}

typedef void (*handler_fn)(struct dispatch_ctx *d);

static void reply_now(struct dispatch_ctx *d, int error, const void *arg, size_t size)
{
	struct iovec iov = {(void *)arg, size};

	if (d->m->conn)
		cused_send(d->m->conn, d->in->unique, error, &iov, size ? 1 : 0);
}

/* What the kernel says of a process or thread (/proc/PID/status, stat). */
struct task_ids {
	pid_t tgid, ppid, sid;
	uid_t fsuid;
	gid_t fsgid;
	bool filtered; /* under a seccomp filter */
};

/* /proc/PID/@what, NUL-terminated in @buf. */
static int read_proc(pid_t pid, const char *what, char *buf, size_t size)
{
	char path[64];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, what);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, size - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	return 0;
}

static int task_ids(pid_t pid, struct task_ids *t)
{
	char buf[2048], *p;
	unsigned long u[4], g[4];
	long tg, pp, sid;
	int mode = 0;

	if (read_proc(pid, "stat", buf, sizeof(buf)))
		return -1;
	p = strrchr(buf, ')'); /* after the command name, which may hold anything */
	if (!p || sscanf(p + 1, " %*c %*d %*d %ld", &sid) != 1)
		return -1;
	if (read_proc(pid, "status", buf, sizeof(buf)))
		return -1;
	if (!(p = strstr(buf, "\nTgid:")) || sscanf(p + 6, "%ld", &tg) != 1 ||
	    !(p = strstr(buf, "\nPPid:")) || sscanf(p + 6, "%ld", &pp) != 1 ||
	    !(p = strstr(buf, "\nUid:")) ||
	    sscanf(p + 5, "%lu %lu %lu %lu", &u[0], &u[1], &u[2], &u[3]) != 4 ||
	    !(p = strstr(buf, "\nGid:")) ||
	    sscanf(p + 5, "%lu %lu %lu %lu", &g[0], &g[1], &g[2], &g[3]) != 4)
		return -1;
	p = strstr(buf, "\nSeccomp:");
	if (p)
		sscanf(p + 9, "%d", &mode);
	t->tgid = (pid_t)tg;
	t->ppid = (pid_t)pp;
	t->sid = (pid_t)sid;
	t->fsuid = (uid_t)u[3];
	t->fsgid = (gid_t)g[3];
	t->filtered = mode == 2;
	return 0;
}

/*
 * A client names the thread it asks for (HELLO's and OPEN's tid, a
 * request's fuse_in_header.pid): its own, or, for the seccomp supervisor,
 * one of a program it supervises.  That is its word only: believe it if
 * the kernel says the thread belongs to the connecting process or to a
 * process below it, and take the thread's own fsuid/fsgid, as the kernel
 * takes the caller's.  A supervisor that runs detached from its program
 * (cuse-run --in-place, which the shim uses) is believed for a thread
 * under a seccomp filter in its own session with its own fsuid/fsgid.
 */
static bool vouch(const struct cused_conn *c, pid_t tid, uid_t *uid, gid_t *gid)
{
	struct task_ids t, peer;
	pid_t p;
	int depth;

	if (tid <= 0 || c->pid <= 0 || task_ids(tid, &t))
		return false;
	*uid = t.fsuid;
	*gid = t.fsgid;
	for (p = t.tgid, depth = 0; depth < 256; depth++) {
		struct task_ids up;

		if (p == c->pid)
			return true;
		if (p <= 1)
			break;
		if (p == t.tgid)
			p = t.ppid;
		else if (task_ids(p, &up))
			return false;
		else
			p = up.ppid;
	}
	return t.filtered && t.fsuid == c->uid && t.fsgid == c->gid && !task_ids(c->pid, &peer) &&
	       peer.sid == t.sid;
}

/* HELLO's or OPEN's thread, if vouched for, is the connection's caller. */
static void take_caller(struct cused_conn *c, uint32_t tid)
{
	uid_t uid;
	gid_t gid;

	if (tid && vouch(c, (pid_t)tid, &uid, &gid)) {
		c->tid = (pid_t)tid;
		c->uid = uid;
		c->gid = gid;
	}
}

static void fill_ctx(struct dispatch_ctx *d, struct fuse_req *req, struct cused_conn *c)
{
	pid_t tid = (pid_t)d->in->pid;

	req->ctx.uid = c->uid;
	req->ctx.gid = c->gid;
	req->ctx.pid = c->tid;
	req->ctx.umask = 0;
	if (!tid || tid == c->tid)
		return;
	pthread_mutex_lock(&d->se->lock);
	if (tid != c->as_tid) {
		uid_t uid;
		gid_t gid;

		pthread_mutex_unlock(&d->se->lock);
		if (!vouch(c, tid, &uid, &gid)) {
			cused_debug(d->se,
				    "   pid %d named thread %d, not one of its own; ignored\n",
				    (int)c->pid, (int)tid);
			return;
		}
		pthread_mutex_lock(&d->se->lock);
		c->as_tid = tid;
		c->as_uid = uid;
		c->as_gid = gid;
	}
	req->ctx.pid = c->as_tid;
	req->ctx.uid = c->as_uid;
	req->ctx.gid = c->as_gid;
	pthread_mutex_unlock(&d->se->lock);
}

/* RING: the connection's request ring, when one of our loops serves it. */
static void do_ring(struct dispatch_ctx *d)
{
	struct cused_conn *c = d->m->conn;
	int err = -EPROTO;

	if (c && c->kind == CONN_CONTROL && !c->ring)
		err = d->se->in_loop ? cused_ring_start(d->se, c, d->m->fd) : -EOPNOTSUPP;
	if (!err)
		cused_debug(d->se, "   RING: request ring for pid %d\n", (int)c->pid);
	reply_now(d, err, NULL, 0);
}

static void hello_out(struct fuse_session *se, struct cuseshim_hello_out *h)
{
	memset(h, 0, sizeof(*h));
	h->magic = CUSESHIM_MAGIC;
	h->major = CUSESHIM_PROTO_MAJOR;
	h->minor = CUSESHIM_PROTO_MINOR;
	h->flags = se->ci_flags;
	h->max_read = se->max_read;
	h->max_write = se->max_write;
	h->dev_major = se->attr.major;
	h->dev_minor = se->attr.minor;
	h->features = CUSESHIM_FEAT_RING | CUSESHIM_FEAT_RING_WAITERS;
}

static int check_hello(struct dispatch_ctx *d, const struct cuseshim_hello_in *h)
{
	if (h->magic != CUSESHIM_MAGIC || h->major != CUSESHIM_PROTO_MAJOR) {
		cused_log(FUSE_LOG_ERR,
			  "cuse: %s: client pid %d speaks protocol %u.%u, we speak %u.%u; "
			  "refusing it\n",
			  d->se->devname, (int)d->m->conn->pid, h->major, h->minor,
			  CUSESHIM_PROTO_MAJOR, CUSESHIM_PROTO_MINOR);
		return -EPROTO;
	}
	return 0;
}

static void do_init(struct dispatch_ctx *d)
{
	struct fuse_session *se = d->se;
	struct fuse_conn_info *ci = &se->conn_info;
	int err;

	if (d->m->conn || se->got_init)
		return;
	memset(ci, 0, sizeof(*ci));
	ci->proto_major = FUSE_KERNEL_VERSION;
	ci->proto_minor = FUSE_KERNEL_MINOR_VERSION;
	ci->max_write = 1024 * 1024;
	ci->max_read = CUSESHIM_MAX_READ;
	ci->max_readahead = 0;
	if (se->op.init)
		se->op.init(se->userdata, ci);
	se->max_read = CUSESHIM_MAX_READ;
	se->max_write = ci->max_write < 4096 ? 4096 : ci->max_write;
	if (se->max_write > CUSESHIM_MAX_PAYLOAD)
		se->max_write = CUSESHIM_MAX_PAYLOAD;
	cused_debug(se, "   CUSE_INIT: flags 0x%x, max_read %u, max_write %u, dev %u:%u\n",
		    se->ci_flags, se->max_read, se->max_write, se->attr.major, se->attr.minor);
	/* Ready before the name is published: a client that finds it at
	 * once must not be told ENOSYS. */
	se->got_init = true;
	err = cused_publish(se);
	if (err) {
		se->error = err; /* what the loop returns */
		fuse_session_exit(se);
		return;
	}
	if (se->op.init_done)
		se->op.init_done(se->userdata);
}

static void do_hello(struct dispatch_ctx *d)
{
	const struct cuseshim_hello_in *h = d->arg;
	struct cused_conn *c = d->m->conn;
	struct cuseshim_hello_out out;
	int err;

	if (c->kind != CONN_NEW) {
		reply_now(d, -EPROTO, NULL, 0);
		return;
	}
	err = check_hello(d, h);
	if (err) {
		reply_now(d, err, NULL, 0);
		cused_conn_close(d->se, c);
		return;
	}
	take_caller(c, h->tid);
	c->kind = CONN_CONTROL;
	hello_out(d->se, &out);
	reply_now(d, 0, &out, sizeof(out));
	if (cused_rearm(d->se, c))
		cused_conn_close(d->se, c);
}

static bool in_group(pid_t pid, gid_t gid)
{
	char path[64], line[4096];
	bool found = false;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f)) {
		char *p, *end;

		if (strncmp(line, "Groups:", 7))
			continue;
		for (p = line + 7;; p = end) {
			unsigned long g = strtoul(p, &end, 10);

			if (end == p)
				break;
			if (g == gid)
				found = true;
		}
	}
	fclose(f);
	return found;
}

/* The node's permission check, with the kernel-verified credentials of
 * the connecting process. */
static int may_open(struct fuse_session *se, const struct cused_conn *c, uint32_t flags)
{
	unsigned need, bits, mode = se->attr.mode;

	if (c->uid == 0)
		return 0;
	switch (flags & O_ACCMODE) {
	case O_RDONLY: need = 4; break;
	case O_WRONLY: need = 2; break;
	default: need = 6; break;
	}
	if (c->uid == se->attr.uid)
		bits = mode >> 6;
	else if (c->gid == se->attr.gid || in_group(c->tid, se->attr.gid))
		bits = mode >> 3;
	else
		bits = mode;
	return (bits & need) == need ? 0 : -EACCES;
}

/* The fd that came with OPEN must be the client's end of this very
 * connection: send a nonce through it and expect it on our end. */
static int verify_peer(struct cused_conn *c, int fd, uint64_t *ino)
{
	uint8_t nonce[16], got[32];
	struct stat st;

	if (fd < 0 || fstat(fd, &st) || !S_ISSOCK(st.st_mode))
		return -EPROTO;
	if (getrandom(nonce, sizeof(nonce), GRND_NONBLOCK) != sizeof(nonce))
		return -EIO;
	if (send(fd, nonce, sizeof(nonce), MSG_DONTWAIT | MSG_NOSIGNAL) != sizeof(nonce))
		return -EPROTO;
	if (recv(c->fd, got, sizeof(got), MSG_DONTWAIT) != sizeof(nonce) ||
	    memcmp(got, nonce, sizeof(nonce)))
		return -EPROTO;
	*ino = st.st_ino;
	return 0;
}

/*
 * Before an open reaches the driver: let the RELEASEs it is working on
 * finish, until RELEASE_WAIT_MS after the last of them started.  In the
 * kernel the process whose last close (or exit) caused one waits for it,
 * so a program that opens the device after that process is done gets
 * there after the release; ours do not wait when they exit, or close
 * behind the shim's back, so the next open does.  Only releases already
 * with the driver are waited for (one still queued may need this very
 * thread), and a release the driver never answers holds up no open for
 * long.
 */
#define RELEASE_WAIT_MS 1000

static void wait_for_releases(struct fuse_session *se)
{
	struct timespec until;

	pthread_mutex_lock(&se->lock);
	until = se->release_started;
	until.tv_sec += RELEASE_WAIT_MS / 1000;
	while (se->releasing && !fuse_session_exited(se) &&
	       pthread_cond_timedwait(&se->released, &se->lock, &until) != ETIMEDOUT)
		;
	pthread_mutex_unlock(&se->lock);
}

static void do_open(struct dispatch_ctx *d)
{
	const struct cuseshim_open_in *oi = d->arg;
	struct fuse_session *se = d->se;
	struct cused_conn *c = d->m->conn;
	struct cused_file *f, *it;
	struct fuse_req *req;
	uint64_t ino = 0;
	int err;

	err = c->kind == CONN_NEW ? check_hello(d, &oi->hello) : -EPROTO;
	if (!err)
		err = verify_peer(c, d->m->fd, &ino);
	/* The client's end came only to prove who sent it: close it now, or
	 * a close right after the open would not look like the last one. */
	if (d->m->fd >= 0) {
		close(d->m->fd);
		d->m->fd = -1;
	}
	if (err == -EPROTO)
		cused_log(FUSE_LOG_ERR, "cuse: %s: bad OPEN from pid %d; dropping it\n",
			  se->devname, (int)c->pid);
	if (!err) {
		take_caller(c, oi->hello.tid);
		err = may_open(se, c, oi->open.flags);
	}
	if (err) {
		reply_now(d, err, NULL, 0);
		cused_conn_close(se, c);
		return;
	}
	wait_for_releases(se);
	f = calloc(1, sizeof(*f));
	if (!f) {
		reply_now(d, -ENOMEM, NULL, 0);
		cused_conn_close(se, c);
		return;
	}
	f->ino = ino;
	f->open_flags = f->last_flags = oi->open.flags;
	f->state = FILE_OPENING;
	f->refs = 1; /* c->file */
	f->conn = c;
	pthread_mutex_lock(&se->lock);
	for (it = se->files; it; it = it->next)
		if (it->ino == ino && it->state != FILE_RELEASED)
			break;
	if (!it) {
		f->kh = ++se->next_kh; /* a fresh poll handle id per open, from 1 */
		f->next = se->files;
		se->files = f;
		c->kind = CONN_FILE;
		c->file = f;
	}
	pthread_mutex_unlock(&se->lock);
	if (it) {
		free(f);
		reply_now(d, -EPROTO, NULL, 0);
		cused_conn_close(se, c);
		return;
	}
	req = cused_req_new(se, c, FUSE_OPEN, d->in->unique);
	if (req)
		req->mirror_after = oi->open.open_flags & CUSESHIM_OPEN_MIRROR;
	if (!req) {
		reply_now(d, -ENOMEM, NULL, 0);
		cused_conn_close(se, c);
		return;
	}
	fill_ctx(d, req, c);
	pthread_mutex_lock(&se->lock);
	f->refs++;
	pthread_mutex_unlock(&se->lock);
	req->file = f;
	req->fi.flags = oi->open.flags;
	if (se->no_open) {
		f->no_release = true;
		fuse_reply_open(req, &req->fi);
	} else if (!se->op.open) {
		fuse_reply_open(req, &req->fi);
	} else {
		se->op.open(req, &req->fi);
	}
}

static void unbusy(struct fuse_session *se, struct cused_file *f)
{
	pthread_mutex_lock(&se->lock);
	f->busy--;
	pthread_mutex_unlock(&se->lock);
	cused_file_put(se, f);
}

/* Handle -> file, for requests on a control connection. */
static struct cused_file *lookup_handle(struct fuse_session *se, struct cused_conn *c,
					uint64_t handle)
{
	struct cused_file *f = NULL;

	pthread_mutex_lock(&se->lock);
	if (c->kind == CONN_CONTROL && handle >= 1 && handle <= c->nhandles)
		f = c->handles[handle - 1];
	if (f && f->state == FILE_OPEN) {
		f->refs++;
		f->busy++; /* until the request's end (req_destroy) */
	} else {
		f = NULL;
	}
	pthread_mutex_unlock(&se->lock);
	return f;
}

static void do_attach(struct dispatch_ctx *d)
{
	struct fuse_session *se = d->se;
	struct cused_conn *c = d->m->conn;
	struct cuseshim_attach_out out = {0};
	struct cused_file *f;
	struct stat st;
	size_t i, slot = SIZE_MAX;
	int err = 0;
	bool bad;

	bad = c->kind != CONN_CONTROL || d->m->fd < 0 || fstat(d->m->fd, &st) ||
	      !S_ISSOCK(st.st_mode);

	/* The client's end came only to name the file: close it before the
	 * answer, or a close right after this request would not look like
	 * the last one (do_closed looks for the socket's peer gone). */
	if (d->m->fd >= 0) {
		close(d->m->fd);
		d->m->fd = -1;
	}
	if (bad) {
		reply_now(d, -EBADF, NULL, 0);
		return;
	}
	pthread_mutex_lock(&se->lock);
	for (f = se->files; f; f = f->next)
		if (f->ino == st.st_ino && f->state == FILE_OPEN)
			break;
	if (!f) {
		err = -ENOTCONN;
		goto out;
	}
	for (i = 0; i < c->nhandles; i++) {
		struct cused_file *h = c->handles[i];

		if (h == f) {
			out.handle = i + 1;
			goto found;
		}
		if (!h || h->state == FILE_RELEASED) {
			if (h) {
				/* drop it; cannot free under the lock */
				c->handles[i] = NULL;
				if (--h->refs == 0) {
					struct cused_file **pp;

					for (pp = &se->files; *pp; pp = &(*pp)->next)
						if (*pp == h) {
							*pp = h->next;
							break;
						}
					free(h);
				}
			}
			if (slot == SIZE_MAX)
				slot = i;
		}
	}
	if (slot == SIZE_MAX) {
		struct cused_file **n = realloc(c->handles, (c->nhandles + 8) * sizeof(*n));

		if (!n) {
			err = -ENOMEM;
			goto out;
		}
		memset(n + c->nhandles, 0, 8 * sizeof(*n));
		c->handles = n;
		slot = c->nhandles;
		c->nhandles += 8;
	}
	c->handles[slot] = f;
	f->refs++;
	out.handle = slot + 1;
found:
	out.open_flags = f->open_flags;
out:
	pthread_mutex_unlock(&se->lock);
	reply_now(d, err, &out, err ? 0 : sizeof(out));
}

static void locks_changed(struct fuse_session *se);

void cused_start_release(struct fuse_session *se, struct cused_file *f)
{
	struct fuse_req *req;
	bool wake;

	/* the file's lock goes as its release begins (__fput's
	 * locks_remove_file, before ->release); a waiter may also have been
	 * waiting for a lock lock_conflicts saw go at the close */
	pthread_mutex_lock(&se->lock);
	wake = f->lock || se->lock_waiters;
	f->lock = 0;
	pthread_mutex_unlock(&se->lock);
	if (wake)
		locks_changed(se);
	cused_plock_released(se, f);

	if (f->no_release || !se->op.release) {
		cused_release_done(se, f);
		return;
	}
	req = cused_req_new(se, NULL, FUSE_RELEASE, 0);
	if (!req) {
		cused_release_done(se, f);
		return;
	}
	req->file = f;
	req->fi.fh = f->fh;
	req->fi.flags = f->last_flags;
	pthread_mutex_lock(&se->lock);
	f->releasing = true;
	se->releasing++;
	clock_gettime(CLOCK_MONOTONIC, &se->release_started);
	pthread_mutex_unlock(&se->lock);
	se->op.release(req, &req->fi);
}

void cused_release_done(struct fuse_session *se, struct cused_file *f)
{
	struct cused_waiter *w, *next, *pollers;

	pthread_mutex_lock(&se->lock);
	f->state = FILE_RELEASED;
	if (f->releasing) {
		f->releasing = false;
		se->releasing--;
		pthread_cond_broadcast(&se->released);
	}
	w = f->waiters;
	f->waiters = NULL;
	pollers = f->pollers;
	f->pollers = NULL;
	pthread_mutex_unlock(&se->lock);
	cused_notify_pollers(se, pollers, f->kh); /* release wakes every poller */
	for (; w; w = next) {
		next = w->next;
		cused_send(w->conn, w->unique, 0, NULL, 0);
		cused_conn_put(w->conn);
		free(w);
	}
	cused_file_put(se, f);
}

static void do_closed(struct dispatch_ctx *d)
{
	const struct cuseshim_closed_in *ci = d->arg;
	struct fuse_session *se = d->se;
	struct cused_waiter *w = NULL;
	struct cused_file *f;
	bool start = false, wait = false, eof_first = false;

	if (d->m->conn->kind != CONN_CONTROL) {
		reply_now(d, -EPROTO, NULL, 0);
		return;
	}
	/* a close of any fd of the node drops the process's POSIX locks */
	cused_plock_closed(se, d->m->conn->pid);
	pthread_mutex_lock(&se->lock);
	for (f = se->files; f; f = f->next)
		if (f->ino == ci->ino && f->state != FILE_RELEASED)
			break;
	/* Writes past the shim were made before this close, and returned at
	 * once: they hold the file no more than a queued one does. */
	if (f && f->state == FILE_OPEN && f->busy == f->answering + f->raw) {
		struct pollfd p = {.fd = f->conn ? f->conn->fd : -1, .events = POLLIN | POLLRDHUP};

		/* no connection left, or its peer gone: that was the last close */
		if (!f->conn || (poll(&p, 1, 0) == 1 && (p.revents & (POLLHUP | POLLRDHUP)))) {
			if (f->conn && ((p.revents & POLLIN) || f->raw)) {
				/* data written past the shim still queued or on
				 * its way to the driver: the loop takes it, then
				 * starts the release at EOF */
				f->release_pending = true;
				eof_first = true;
			} else if (!f->busy) {
				f->state = FILE_RELEASING;
				f->release_pending = false;
				f->refs++;
				start = true;
			} else {
				/* answered requests still finishing: their end
				 * starts the release, and we wait for it */
				f->release_pending = true;
			}
		}
	}
	/* A release under way, or due once answered requests and writes
	 * past the shim finish (the loop may have seen the socket's end
	 * already): the closer waits for it, as close(2) waits for the last fput.  A file
	 * busy with an unanswered request (another thread's read, a poll) is
	 * held by that request, as in the kernel, and the close returns at
	 * once: its release follows the last answer. */
	if (f && (f->state == FILE_RELEASING || eof_first ||
		  (f->release_pending && f->busy && f->busy == f->answering + f->raw))) {
		w = malloc(sizeof(*w));
		if (w) {
			w->conn = cused_conn_get(d->m->conn);
			w->unique = d->in->unique;
			w->next = f->waiters;
			f->waiters = w;
			wait = true;
		}
	}
	pthread_mutex_unlock(&se->lock);
	if (!wait)
		reply_now(d, 0, NULL, 0);
	if (start)
		cused_start_release(se, f);
}

static void do_release(struct dispatch_ctx *d)
{
	/* Built by receive_buf from the file connection's EOF; the file
	 * reference travels with the message. */
	struct cused_file *f = d->m->file;

	if (d->m->conn || !f)
		return;
	d->m->file = NULL;
	cused_start_release(d->se, f);
}

/* Data written straight to the device socket (stdio's internal write,
 * static binaries).  The writer has already returned; keep offering the
 * rest to the driver until it takes it all or fails. */
void cused_raw_write(struct fuse_session *se, struct fuse_req *req)
{
	if (!se->op.write) {
		cused_log(FUSE_LOG_ERR, "cuse: %s: driver has no write; %zu bytes dropped\n",
			  se->devname, req->raw_len);
		cused_req_free(req);
		return;
	}
	req->size = req->raw_len;
	se->op.write(req, req->raw, req->raw_len, 0, &req->fi);
}

static void do_raw(struct dispatch_ctx *d)
{
	const struct fuse_write_in *wi = d->arg;
	struct cused_file *f = d->m->file;
	struct fuse_req *req;

	req = cused_req_new(d->se, NULL, FUSE_WRITE, 0);
	if (req)
		req->raw = malloc(wi->size ? wi->size : 1);
	if (!req || !req->raw) {
		cused_log(FUSE_LOG_ERR, "cuse: %s: out of memory; %u written bytes dropped\n",
			  d->se->devname, wi->size);
		if (req)
			cused_req_free(req);
		return;
	}
	memcpy(req->raw, wi + 1, wi->size);
	req->raw_len = wi->size;
	req->file = f;
	d->m->file = NULL;
	req->raw_conn = d->m->raw_conn;
	d->m->raw_conn = NULL;
	req->fi.fh = f->fh;
	req->fi.flags = wi->flags;
	cused_raw_write(d->se, req);
}

#define WRITE_CALL_FLAGS (O_DSYNC | O_SYNC | O_APPEND)

static void do_rw(struct dispatch_ctx *d)
{
	struct fuse_session *se = d->se;
	struct cused_conn *c = d->m->conn;
	bool is_read = d->in->opcode == FUSE_READ;
	const struct fuse_read_in *ri = d->arg;
	const struct fuse_write_in *wi = d->arg;
	struct cused_file *f = lookup_handle(se, c, d->in->nodeid);
	struct fuse_req *req;

	if (!f) {
		reply_now(d, -EBADF, NULL, 0);
		return;
	}
	debug_args(d, f);
	req = cused_req_new(se, c, d->in->opcode, d->in->unique);
	if (!req) {
		unbusy(se, f);
		reply_now(d, -ENOMEM, NULL, 0);
		return;
	}
	fill_ctx(d, req, c);
	req->file = f;
	/* f_flags for the RELEASE; a WRITE's O_DSYNC, O_SYNC and O_APPEND may
	 * be that call's alone (pwritev2's RWF_*), so those stay as they were */
	if (is_read)
		f->last_flags = ri->flags;
	else
		f->last_flags = (wi->flags & ~(uint32_t)WRITE_CALL_FLAGS) |
				(f->last_flags & WRITE_CALL_FLAGS);
	req->fi.fh = f->fh;
	req->fi.flags = is_read ? ri->flags : wi->flags;
	req->fi.lock_owner = is_read ? ri->lock_owner : wi->lock_owner;
	if (is_read) {
		req->size = ri->size;
		req->mirror_after = ri->read_flags & CUSESHIM_READ_MIRROR;
		if (se->op.read)
			se->op.read(req, ri->size, ri->offset, &req->fi);
		else
			fuse_reply_err(req, ENOSYS);
	} else {
		req->size = wi->size;
		if (se->op.write)
			se->op.write(req, (const char *)(wi + 1), wi->size, wi->offset, &req->fi);
		else
			fuse_reply_err(req, ENOSYS);
	}
}

static void do_unintroduced(struct dispatch_ctx *d)
{
	cused_log(FUSE_LOG_ERR,
		  "cuse: %s: %s from pid %d before HELLO or OPEN; dropping the connection\n",
		  d->se->devname, proto_opname(d->in->opcode), (int)d->m->conn->pid);
	cused_conn_close(d->se, d->m->conn);
}

static void do_ioctl(struct dispatch_ctx *d)
{
	struct fuse_session *se = d->se;
	struct cused_conn *c = d->m->conn;
	const struct fuse_ioctl_in *ii = d->arg;
	struct cused_file *f = lookup_handle(se, c, d->in->nodeid);
	struct fuse_req *req;
	uint32_t flags = ii->flags & (FUSE_IOCTL_COMPAT | FUSE_IOCTL_32BIT | FUSE_IOCTL_COMPAT_X32);

	if (!f) {
		reply_now(d, -EBADF, NULL, 0);
		return;
	}
	debug_args(d, f);
	/* The device's mode, not the client's word, says unrestricted. */
	if (se->ci_flags & CUSE_UNRESTRICTED_IOCTL)
		flags |= FUSE_IOCTL_UNRESTRICTED;
	req = cused_req_new(se, c, FUSE_IOCTL, d->in->unique);
	if (!req) {
		unbusy(se, f);
		reply_now(d, -ENOMEM, NULL, 0);
		return;
	}
	fill_ctx(d, req, c);
	req->file = f;
	req->size = ii->out_size;
	req->ioctl_flags = flags;
	req->fi.fh = f->fh; /* and flags 0, as libfuse passes them */
	if (!se->op.ioctl) {
		fuse_reply_err(req, ENOSYS);
		return;
	}
	se->op.ioctl(req, (int)ii->cmd, (void *)(uintptr_t)ii->arg, &req->fi, flags,
		     ii->in_size ? (const void *)(ii + 1) : NULL, ii->in_size, ii->out_size);
}

static void do_poll(struct dispatch_ctx *d)
{
	struct fuse_session *se = d->se;
	struct cused_conn *c = d->m->conn;
	const struct fuse_poll_in *pi = d->arg;
	struct cused_file *f = lookup_handle(se, c, d->in->nodeid);
	struct fuse_pollhandle *ph = NULL;
	struct fuse_req *req;

	if (!f) {
		reply_now(d, -EBADF, NULL, 0);
		return;
	}
	debug_args(d, f);
	if (pi->flags & FUSE_POLL_SCHEDULE_NOTIFY) {
		struct cused_waiter *w, *it;

		ph = malloc(sizeof(*ph));
		w = malloc(sizeof(*w));
		if (!ph || !w) {
			free(ph);
			free(w);
			unbusy(se, f);
			reply_now(d, -ENOMEM, NULL, 0);
			return;
		}
		ph->se = se;
		ph->kh = f->kh;
		/* This connection wants the next notify of this file. */
		pthread_mutex_lock(&se->lock);
		for (it = f->pollers; it; it = it->next)
			if (it->conn == c)
				break;
		if (!it) {
			w->conn = cused_conn_get(c);
			w->unique = 0;
			w->next = f->pollers;
			f->pollers = w;
			w = NULL;
		}
		pthread_mutex_unlock(&se->lock);
		free(w);
	}
	req = cused_req_new(se, c, FUSE_POLL, d->in->unique);
	if (!req) {
		free(ph);
		unbusy(se, f);
		reply_now(d, -ENOMEM, NULL, 0);
		return;
	}
	fill_ctx(d, req, c);
	req->file = f;
	req->fi.fh = f->fh;
	req->fi.poll_events = pi->events;
	if (!se->op.poll) {
		free(ph);
		fuse_reply_err(req, ENOSYS);
		return;
	}
	se->op.poll(req, &req->fi, ph);
}

/* The mirror's own poll (built by the loop after a read answered EAGAIN;
 * the file's busy/answering count and reference travel with it). */
static void do_mirror_poll(struct dispatch_ctx *d)
{
	const struct fuse_poll_in *pi = d->arg;
	struct fuse_session *se = d->se;
	struct cused_file *f = d->m->file;
	struct fuse_pollhandle *ph;
	struct fuse_req *req;
	bool open;

	d->m->file = NULL;
	pthread_mutex_lock(&se->lock);
	f->mirror_queued = false;
	open = f->state == FILE_OPEN && f->conn;
	if (open)
		f->mirror_wanted = true;
	pthread_mutex_unlock(&se->lock);
	req = open ? cused_req_new(se, NULL, FUSE_POLL, 0) : NULL;
	if (!req) {
		cused_file_unbusy(se, f, true);
		cused_file_put(se, f);
		return;
	}
	req->mirror = true;
	req->answering = true;
	req->file = f;
	req->fi.fh = f->fh;
	req->fi.flags = f->last_flags;
	req->fi.poll_events = pi->events;
	if (!se->op.poll) {
		fuse_reply_poll(req, POLLIN); /* always ready */
		return;
	}
	ph = malloc(sizeof(*ph));
	if (ph) {
		ph->se = se;
		ph->kh = f->kh;
	}
	se->op.poll(req, &req->fi, ph);
}

/* The file connection of the OPEN @unique in flight from @c's process
 * (with a reference), or NULL. */
static struct cused_conn *opening_conn(struct fuse_session *se, struct cused_conn *c,
				       uint64_t unique)
{
	struct cused_conn *found = NULL;
	struct cused_file *f;
	struct fuse_req *req;

	pthread_mutex_lock(&se->lock);
	for (f = se->files; f && !found; f = f->next) {
		if (f->state != FILE_OPENING || !f->conn || f->conn->pid != c->pid ||
		    f->conn->uid != c->uid)
			continue;
		for (req = f->conn->inflight; req; req = req->next_inflight)
			if (req->unique == unique && req->opcode == FUSE_OPEN)
				found = cused_conn_get(f->conn);
	}
	pthread_mutex_unlock(&se->lock);
	return found;
}

static void do_interrupt(struct dispatch_ctx *d)
{
	const struct fuse_interrupt_in *ii = d->arg;
	struct cused_conn *fc;

	if (d->m->conn->kind != CONN_CONTROL)
		return;
	if (!(ii->unique & CUSESHIM_OPEN_UNIQUE)) {
		cused_interrupt(d->se, d->m->conn, ii->unique);
	} else if ((fc = opening_conn(d->se, d->m->conn, ii->unique))) {
		/* an open, which is on its file connection (1.7) */
		cused_interrupt(d->se, fc, ii->unique);
		cused_conn_put(fc);
	}
	/* no reply: the interrupted request answers */
}

/*
 * FLOCK: flock(2) locks, kept as the kernel keeps them on the node's
 * inode (fs/locks.c): one per open file, so that dup'd and inherited fds
 * share it, shared or exclusive, dropped by LOCK_UN and when the file's
 * release begins.  A conversion drops the old lock first, as flock(2)
 * says.  A request that must wait stays in se->lock_waiters until the
 * lock is free, or until an INTERRUPT (a signal in the caller, or its
 * connection gone) ends it with EINTR.  The driver never sees any of it,
 * as with the kernel's CUSE.
 */
static bool lock_conflicts(struct fuse_session *se, struct cused_file *f, int type)
{
	struct cused_file *g;

	for (g = se->files; g; g = g->next) {
		struct pollfd p = {.fd = g->conn ? g->conn->fd : -1, .events = POLLRDHUP};

		if (g == f || g->state != FILE_OPEN || !g->lock ||
		    (type == LOCK_SH && g->lock == LOCK_SH))
			continue;
		/* Its last close was made (the socket's peer is gone) and its
		 * release is on the way: the kernel dropped the lock at that
		 * close already (a close under the supervisor does not wait). */
		if (!g->conn || (poll(&p, 1, 0) == 1 && (p.revents & (POLLHUP | POLLRDHUP)))) {
			g->lock = 0;
			continue;
		}
		return true;
	}
	return false;
}

/* Some lock went: grant, oldest first, what no longer conflicts. */
static void locks_changed(struct fuse_session *se)
{
	struct fuse_req **pp, *req, *granted = NULL, **tail = &granted;

	pthread_mutex_lock(&se->lock);
	for (pp = &se->lock_waiters; (req = *pp);) {
		if (lock_conflicts(se, req->file, req->lock_type)) {
			pp = &req->next_lockwait;
			continue;
		}
		req->file->lock = req->lock_type;
		*pp = req->next_lockwait;
		req->next_lockwait = NULL;
		*tail = req;
		tail = &req->next_lockwait;
	}
	pthread_mutex_unlock(&se->lock);
	for (; granted; granted = req) {
		req = granted->next_lockwait;
		fuse_reply_err(granted, 0);
	}
}

/* The INTERRUPT of a waiting FLOCK (cused_interrupt calls it). */
static void lock_wait_interrupted(fuse_req_t req, void *data)
{
	struct fuse_session *se = req->se;
	struct fuse_req **pp;
	bool waiting = false;

	(void)data;
	pthread_mutex_lock(&se->lock);
	for (pp = &se->lock_waiters; *pp; pp = &(*pp)->next_lockwait)
		if (*pp == req) {
			*pp = req->next_lockwait;
			waiting = true;
			break;
		}
	pthread_mutex_unlock(&se->lock);
	if (waiting) /* else it was granted meanwhile, and answered */
		fuse_reply_err(req, EINTR);
}

static void do_flock(struct dispatch_ctx *d)
{
	const struct cuseshim_flock_in *li = d->arg;
	struct fuse_session *se = d->se;
	int type = (int)(li->op & ~(uint32_t)LOCK_NB), err = 0;
	struct cused_file *f;
	struct fuse_req *req, **pp;
	bool dropped = false, wait = false;

	if (type != LOCK_SH && type != LOCK_EX && type != LOCK_UN) {
		reply_now(d, -EINVAL, NULL, 0);
		return;
	}
	f = lookup_handle(se, d->m->conn, d->in->nodeid);
	if (!f) {
		reply_now(d, -EBADF, NULL, 0);
		return;
	}
	req = cused_req_new(se, d->m->conn, CUSESHIM_OP_FLOCK, d->in->unique);
	if (!req) {
		unbusy(se, f);
		reply_now(d, -ENOMEM, NULL, 0);
		return;
	}
	req->file = f;
	pthread_mutex_lock(&se->lock);
	if (f->lock && f->lock != type) {
		f->lock = 0;
		dropped = true;
	}
	if (type == LOCK_UN || f->lock == type) {
		/* done */
	} else if (!lock_conflicts(se, f, type)) {
		f->lock = type;
	} else if (li->op & LOCK_NB) {
		err = -EWOULDBLOCK;
	} else if (req->interrupted) {
		err = -EINTR;
	} else {
		req->lock_type = type;
		req->ifunc = lock_wait_interrupted;
		for (pp = &se->lock_waiters; *pp; pp = &(*pp)->next_lockwait)
			;
		*pp = req;
		wait = true;
	}
	if (se->lock_waiters && !wait)
		dropped = true; /* lock_conflicts may have seen a lock go */
	pthread_mutex_unlock(&se->lock);
	if (!wait)
		fuse_reply_err(req, -err);
	if (dropped)
		locks_changed(se);
}

/* The process of the thread a request names, when its connection may
 * speak for it (a supervisor's, see vouch); else the connection's. */
static pid_t caller_process(struct dispatch_ctx *d)
{
	struct cused_conn *c = d->m->conn;
	pid_t tid = (pid_t)d->in->pid;
	struct task_ids t;
	uid_t uid;
	gid_t gid;

	if (!tid || tid == c->tid || !vouch(c, tid, &uid, &gid) || task_ids(tid, &t))
		return c->pid;
	return t.tgid;
}

/* PLOCK: an fcntl/lockf record lock (plock.c); the owner of a POSIX one
 * is the caller's process. */
static void do_plock(struct dispatch_ctx *d)
{
	struct fuse_session *se = d->se;
	struct cused_file *f = lookup_handle(se, d->m->conn, d->in->nodeid);
	struct fuse_req *req;

	if (!f) {
		reply_now(d, -EBADF, NULL, 0);
		return;
	}
	req = cused_req_new(se, d->m->conn, CUSESHIM_OP_PLOCK, d->in->unique);
	if (!req) {
		unbusy(se, f);
		reply_now(d, -ENOMEM, NULL, 0);
		return;
	}
	req->file = f;
	cused_plock(se, req, f, d->arg, caller_process(d));
}

/* SETFL: the file's f_flags now, for its RELEASE. */
static void do_setfl(struct dispatch_ctx *d)
{
	const struct cuseshim_setfl_in *si = d->arg;
	struct cused_file *f = lookup_handle(d->se, d->m->conn, d->in->nodeid);

	if (!f) {
		reply_now(d, -EBADF, NULL, 0);
		return;
	}
	pthread_mutex_lock(&d->se->lock);
	f->last_flags = si->flags;
	pthread_mutex_unlock(&d->se->lock);
	unbusy(d->se, f);
	reply_now(d, 0, NULL, 0);
}

/* STATUS and ABORT: the kernel's /sys/class/cuse/NAME/{waiting,abort},
 * for the driver's own user and root only. */
static bool admin_allowed(struct dispatch_ctx *d)
{
	struct cused_conn *c = d->m->conn;

	if (c->kind == CONN_CONTROL && (c->uid == 0 || c->uid == geteuid()))
		return true;
	reply_now(d, -EPERM, NULL, 0);
	return false;
}

static void do_status(struct dispatch_ctx *d)
{
	struct fuse_session *se = d->se;
	struct cuseshim_status_out out = {0};
	struct cused_conn *c;
	struct cused_file *f;
	struct fuse_req *req;

	if (!admin_allowed(d))
		return;
	pthread_mutex_lock(&se->lock);
	for (f = se->files; f; f = f->next)
		out.open_files += f->state == FILE_OPEN;
	for (c = se->conns; c; c = c->next)
		out.connections++;
	/* a lock wait is no request of the driver's (the kernel's CUSE never
	 * sends one) */
	out.waiting = se->waiting;
	for (req = se->lock_waiters; req; req = req->next_lockwait)
		out.waiting--;
	for (req = se->plock_waiters; req; req = req->next_lockwait)
		out.waiting--;
	pthread_mutex_unlock(&se->lock);
	reply_now(d, 0, &out, sizeof(out));
}

/*
 * Abort, as a write to /sys/class/cuse/NAME/abort does: the device goes,
 * every connection is cut (requests in flight fail ECONNABORTED, later
 * ones ENOTCONN, pollers see POLLERR), and the driver's loop ends as if
 * /dev/cuse returned ENODEV: cleanly.  Connections are only shut down
 * here; each is closed by the worker that sees its end, as always.
 */
static void do_abort(struct dispatch_ctx *d)
{
	struct fuse_session *se = d->se;
	struct cused_conn *c;

	if (!admin_allowed(d))
		return;
	reply_now(d, 0, NULL, 0);
	cused_log(FUSE_LOG_INFO, "cuse: %s: aborted by pid %d\n", se->devname,
		  (int)d->m->conn->pid);
	cused_unpublish(se);
	pthread_mutex_lock(&se->lock);
	se->aborted = true;
	for (c = se->conns; c; c = c->next)
		shutdown(c->fd, SHUT_RDWR);
	pthread_mutex_unlock(&se->lock);
	fuse_session_exit(se);
}

static void do_enosys(struct dispatch_ctx *d)
{
	reply_now(d, -ENOSYS, NULL, 0);
}

static const struct {
	uint32_t opcode;
	handler_fn fn;
} handlers[] = {
	{CUSE_INIT, do_init},
	{CUSESHIM_OP_HELLO, do_hello},
	{CUSESHIM_OP_OPEN, do_open},
	{CUSESHIM_OP_ATTACH, do_attach},
	{CUSESHIM_OP_CLOSED, do_closed},
	{FUSE_READ, do_rw},
	{FUSE_WRITE, do_rw},
	{FUSE_RELEASE, do_release},
	{FUSE_IOCTL, do_ioctl},
	{FUSE_POLL, do_poll},
	{FUSE_INTERRUPT, do_interrupt},
	{CUSESHIM_OP_STATUS, do_status},
	{CUSESHIM_OP_ABORT, do_abort},
	{CUSESHIM_OP_RING, do_ring},
	{CUSESHIM_OP_FLOCK, do_flock},
	{CUSESHIM_OP_PLOCK, do_plock},
	{CUSESHIM_OP_SETFL, do_setfl},
};

void cused_dispatch(struct fuse_session *se, void *mem, size_t size)
{
	struct cused_msg *m = mem;
	struct dispatch_ctx d = {.se = se, .m = m, .in = CUSED_MSG_DATA(m)};
	handler_fn fn = do_enosys;
	size_t i;

	if (size < sizeof(*m) + sizeof(struct fuse_in_header) || m->len != size - sizeof(*m))
		return;
	d.arg = d.in + 1;
	d.arglen = size - sizeof(*m) - sizeof(*d.in);
	for (i = 0; i < sizeof(handlers) / sizeof(handlers[0]); i++)
		if (handlers[i].opcode == d.in->opcode)
			fn = handlers[i].fn;
	cused_debug(se,
		    "unique: %" PRIu64 ", opcode: %s (%u), nodeid: %" PRIu64
		    ", insize: %u, pid: %d\n",
		    (uint64_t)d.in->unique, proto_opname(d.in->opcode), d.in->opcode,
		    (uint64_t)d.in->nodeid, d.in->len, m->conn ? (int)m->conn->tid : 0);
	if (!se->got_init && d.in->opcode != CUSE_INIT)
		fn = do_enosys;
	/* A new connection must introduce itself first. */
	if (m->conn && m->conn->kind == CONN_NEW && d.in->opcode != CUSESHIM_OP_HELLO &&
	    d.in->opcode != CUSESHIM_OP_OPEN)
		fn = do_unintroduced;
	/* Messages from the wire are never internal ones. */
	if (m->conn && (d.in->opcode == CUSE_INIT || d.in->opcode == FUSE_RELEASE))
		fn = do_enosys;
	if (!m->conn && m->file && d.in->opcode == FUSE_WRITE)
		fn = do_raw;
	if (!m->conn && m->file && d.in->opcode == FUSE_POLL)
		fn = do_mirror_poll;
	fn(&d);
	if (m->fd >= 0)
		close(m->fd);
	m->fd = -1;
	if (m->file) {
		/* a write that bypassed the shim and was never taken */
		if (!m->conn && d.in->opcode == FUSE_WRITE)
			cused_file_raw_unbusy(se, m->file);
		cused_file_put(se, m->file);
	}
	m->file = NULL;
	cused_raw_done(se, m->raw_conn);
	m->raw_conn = NULL;
	cused_conn_put(m->conn);
	m->conn = NULL;
}
