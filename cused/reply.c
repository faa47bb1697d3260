/* SPDX-License-Identifier: MIT */
/*
 * Replies: every fuse_reply_* ends its request exactly once, from whichever
 * thread the driver calls it.  Each checks the reply against what the
 * request asked for the way the kernel would, so a driver sees the same
 * return values it would get from /dev/cuse.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cused_i.h"

struct fuse_req *cused_req_new(struct fuse_session *se, struct cused_conn *c, uint32_t opcode,
			       uint64_t unique)
{
	struct fuse_req *req = calloc(1, sizeof(*req));

	if (!req)
		return NULL;
	req->se = se;
	req->conn = c ? cused_conn_get(c) : NULL;
	req->opcode = opcode;
	req->unique = unique;
	req->refs = 1;
	if (se->debug)
		clock_gettime(CLOCK_MONOTONIC, &req->start);
	if (c) {
		/* In flight until replied, so that FUSE_INTERRUPT finds it. */
		pthread_mutex_lock(&se->lock);
		req->next_inflight = c->inflight;
		c->inflight = req;
		se->waiting++;
		if (c->pending_intr && c->pending_intr == unique)
			req->interrupted = true;
		c->pending_intr = 0;
		pthread_mutex_unlock(&se->lock);
	}
	return req;
}

bool cused_release_due_locked(struct cused_file *f)
{
	if (f->busy || !f->release_pending || f->state != FILE_OPEN || f->conn)
		return false;
	f->release_pending = false;
	f->state = FILE_RELEASING;
	f->refs++; /* for the RELEASE message */
	return true;
}

static void unbusy(struct fuse_session *se, struct cused_file *f, bool answered, bool raw)
{
	bool release = false;

	/* The kernel holds the file for a request in flight: its release
	 * comes after the last answer. */
	pthread_mutex_lock(&se->lock);
	if (f->busy)
		f->busy--;
	if (answered && f->answering)
		f->answering--;
	if (raw && f->raw)
		f->raw--;
	release = cused_release_due_locked(f);
	pthread_mutex_unlock(&se->lock);
	/* Not from inside the driver's reply call: its callback may still
	 * use the file's state, or hold its own lock. */
	if (release)
		cused_defer_release(se, f);
}

void cused_file_unbusy(struct fuse_session *se, struct cused_file *f, bool answered)
{
	unbusy(se, f, answered, false);
}

/* The end of a write that bypassed the shim (raw_write counted it). */
void cused_file_raw_unbusy(struct fuse_session *se, struct cused_file *f)
{
	unbusy(se, f, false, true);
}

static void req_destroy(struct fuse_req *req)
{
	struct fuse_session *se = req->se;
	struct cused_file *f = req->file;

	cused_raw_done(se, req->raw_conn);
	if (f && req->raw)
		cused_file_raw_unbusy(se, f);
	else if (f && req->opcode != FUSE_OPEN && req->opcode != FUSE_RELEASE)
		cused_file_unbusy(se, f, req->answering);
	free(req->raw);
	if (f)
		cused_file_put(se, f);
	cused_conn_put(req->conn);
	free(req);
}

void cused_req_free(struct fuse_req *req)
{
	struct fuse_session *se = req->se;
	bool last;

	pthread_mutex_lock(&se->lock);
	if (req->conn) {
		struct fuse_req **pp;

		for (pp = &req->conn->inflight; *pp; pp = &(*pp)->next_inflight)
			if (*pp == req) {
				*pp = req->next_inflight;
				se->waiting--;
				break;
			}
	}
	last = --req->refs == 0;
	pthread_mutex_unlock(&se->lock);
	if (last)
		req_destroy(req);
}

/* FUSE_INTERRUPT for @unique on @c: mark the request and run the driver's
 * interrupt function, in this (the receiving) thread, as libfuse does. */
void cused_interrupt(struct fuse_session *se, struct cused_conn *c, uint64_t unique)
{
	fuse_interrupt_func_t func = NULL;
	struct fuse_req *req;
	void *data = NULL;

	pthread_mutex_lock(&se->lock);
	for (req = c->inflight; req; req = req->next_inflight)
		if (req->unique == unique)
			break;
	if (req) {
		req->interrupted = true;
		req->intr_delivered = true;
		req->refs++;
		func = req->ifunc;
		data = req->idata;
	} else {
		c->pending_intr = unique; /* its request is still on the way */
	}
	pthread_mutex_unlock(&se->lock);
	if (!req)
		return;
	cused_debug(se, "   INTERRUPT: unique %llu%s\n", (unsigned long long)unique,
		    func ? ", calling the driver" : "");
	if (func)
		func(req, data);
	pthread_mutex_lock(&se->lock);
	func = NULL;
	if (--req->refs == 0)
		func = (fuse_interrupt_func_t)1;
	pthread_mutex_unlock(&se->lock);
	if (func)
		req_destroy(req);
}

void cused_interrupt_all(struct fuse_session *se, struct cused_conn *c)
{
	for (;;) {
		struct fuse_req *req;
		uint64_t unique = 0;

		pthread_mutex_lock(&se->lock);
		for (req = c->inflight; req; req = req->next_inflight)
			if (!req->intr_delivered)
				break;
		if (req)
			unique = req->unique;
		pthread_mutex_unlock(&se->lock);
		if (!req)
			return;
		cused_interrupt(se, c, unique);
	}
}

CUSED_EXPORT
void fuse_req_interrupt_func(fuse_req_t req, fuse_interrupt_func_t func, void *data)
{
	bool now;

	pthread_mutex_lock(&req->se->lock);
	req->ifunc = func;
	req->idata = data;
	now = req->interrupted && func;
	pthread_mutex_unlock(&req->se->lock);
	if (now)
		func(req, data);
}

CUSED_EXPORT
int fuse_req_interrupted(fuse_req_t req)
{
	int r;

	pthread_mutex_lock(&req->se->lock);
	r = req->interrupted;
	pthread_mutex_unlock(&req->se->lock);
	return r;
}

int cused_send(struct cused_conn *c, uint64_t unique, int error, const struct iovec *iov, int count)
{
	struct iovec v[1 + 64];
	struct fuse_out_header out = {.error = error, .unique = unique};
	struct msghdr mh = {.msg_iov = v};
	size_t len = sizeof(out);
	int i;

	if (!c || count > 64)
		return c ? -EINVAL : 0;
	if (c->ring && cused_ring_reply(c, unique, error, iov, count, &i))
		return i;
	v[0].iov_base = &out;
	v[0].iov_len = sizeof(out);
	for (i = 0; i < count; i++) {
		v[i + 1] = iov[i];
		len += iov[i].iov_len;
	}
	out.len = len;
	mh.msg_iovlen = count + 1;
	for (;;) {
		ssize_t n = sendmsg(c->fd, &mh, MSG_NOSIGNAL);

		if (n >= 0)
			return 0;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN) {
			/* the client is not reading; wait for room */
			struct epoll_event ev;
			int ep = epoll_create1(EPOLL_CLOEXEC);

			ev.events = EPOLLOUT;
			if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) ||
			    epoll_wait(ep, &ev, 1, 1000) <= 0) {
				if (ep >= 0)
					close(ep);
				return -EAGAIN;
			}
			close(ep);
			continue;
		}
		/* Client gone: the kernel answers ENOENT for a reply
		 * nobody waits for; libfuse ignores it, so do we. */
		return 0;
	}
}

void cused_debug(struct fuse_session *se, const char *fmt, ...)
{
	va_list ap;

	if (!se->debug)
		return;
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
}

static void finish_open(struct fuse_req *req, const struct fuse_file_info *fi)
{
	struct fuse_session *se = req->se;
	struct cused_file *f = req->file;
	struct cuseshim_open_out out;
	struct iovec iov = {&out, sizeof(out)};
	bool early;

	memset(&out, 0, sizeof(out));
	out.hello.magic = CUSESHIM_MAGIC;
	out.hello.major = CUSESHIM_PROTO_MAJOR;
	out.hello.minor = CUSESHIM_PROTO_MINOR;
	out.hello.flags = se->ci_flags;
	out.hello.max_read = se->max_read;
	out.hello.max_write = se->max_write;
	out.hello.dev_major = se->attr.major;
	out.hello.dev_minor = se->attr.minor;
	/* A driver without a poll op is always ready (DEFAULT_POLLMASK): its
	 * POLLIN mirror byte follows the answer at once, and the answer says
	 * so (the client waits for it); others are asked after the answer. */
	early = req->mirror_after && !se->op.poll;
	if (early)
		out.hello.flags |= CUSESHIM_OPEN_MIRRORED;
	pthread_mutex_lock(&se->lock);
	f->fh = fi ? fi->fh : 0;
	f->state = FILE_OPEN;
	if (early)
		f->mirror_wanted = true;
	pthread_mutex_unlock(&se->lock);
	cused_send(req->conn, req->unique, 0, &iov, 1);
	if (early)
		cused_mirror_fire(se, f);
	/* From now on the connection only tells us about the last close. */
	if (cused_rearm(se, req->conn))
		cused_conn_close(se, req->conn);
	else if (req->mirror_after && !early)
		cused_mirror_queue(se, f);
}

/* The reply to a request the kernel would have rejected: the client sees
 * EIO, the driver gets @ret back from its reply call. */
static int send_reply(struct fuse_req *req, int error, const struct iovec *iov, int count);

static int reject(struct fuse_req *req, int ret)
{
	if (req->opcode == FUSE_RELEASE) {
		send_reply(req, 0, NULL, 0);
		return ret;
	}
	cused_send(req->conn, req->unique, -EIO, NULL, 0);
	if (req->opcode == FUSE_OPEN)
		cused_conn_close(req->se, req->conn);
	cused_req_free(req);
	return ret;
}

/* Common end of every reply.  @iov (may be NULL) is the payload after the
 * fixed out-struct of the opcode. */
static int send_reply(struct fuse_req *req, int error, const struct iovec *iov, int count)
{
	struct fuse_session *se = req->se;
	int res = 0;

	if (req->file && req->opcode != FUSE_OPEN && req->opcode != FUSE_RELEASE) {
		/* From here the client may have its answer: a close it sends
		 * next finds the file busy only with answered requests. */
		pthread_mutex_lock(&se->lock);
		req->file->answering++;
		req->answering = true;
		pthread_mutex_unlock(&se->lock);
	}

	if (se->debug) {
		struct timespec now;
		size_t outsize = 0;
		int i;

		clock_gettime(CLOCK_MONOTONIC, &now);
		for (i = 0; iov && i < count; i++)
			outsize += iov[i].iov_len;
		cused_debug(se, "   unique: %llu, %s: %d%s%s%s, outsize: %zu, latency: %.1f us\n",
			    (unsigned long long)req->unique, error ? "error" : "success", error,
			    error ? " (" : "", error ? strerror(-error) : "", error ? ")" : "",
			    outsize,
			    (double)(now.tv_sec - req->start.tv_sec) * 1e6 +
				    (double)(now.tv_nsec - req->start.tv_nsec) / 1e3);
	}
	switch (req->opcode) {
	case FUSE_RELEASE: {
		struct cused_file *f = req->file;

		req->file = NULL;
		cused_req_free(req);
		cused_release_done(se, f);
		return 0;
	}
	case FUSE_OPEN:
		if (error == -ENOSYS) {
			/* Modern kernels: open succeeds, and from now on the
			 * device's opens skip the driver and get no RELEASE. */
			se->no_open = true;
			req->file->no_release = true;
			finish_open(req, NULL);
			cused_req_free(req);
			return 0;
		}
		if (error) {
			cused_send(req->conn, req->unique, error, NULL, 0);
			cused_conn_close(se, req->conn);
			cused_req_free(req);
			return 0;
		}
		break;
	case FUSE_READ:
		/* A non-blocking reader may wait for POLLIN on the fd itself:
		 * have the driver's readiness mirrored there. */
		if (req->file && (error == -EAGAIN || req->mirror_after))
			cused_mirror_queue(se, req->file);
		break;
	default: break;
	}
	res = cused_send(req->conn, req->unique, error, iov, count);
	cused_req_free(req);
	return res;
}

CUSED_EXPORT
int fuse_reply_err(fuse_req_t req, int err)
{
	if (req->raw) {
		cused_log(FUSE_LOG_ERR,
			  "cuse: %s: a write that bypassed the shim failed (%s); %zu bytes "
			  "dropped\n",
			  req->se->devname, strerror(err), req->raw_len);
		cused_req_free(req);
		return 0;
	}
	if (req->mirror) {
		/* The kernel's poll of a driver without one is "ready"; any
		 * other answer is no reason to keep a reader waiting either. */
		cused_mirror_fire(req->se, req->file);
		cused_req_free(req);
		return 0;
	}
	if (err < 0 || err >= 1000) {
		cused_log(FUSE_LOG_ERR, "fuse: bad error value: %i\n", -err);
		err = ERANGE;
	}
	/* too short a reply: the caller sees EIO; FLOCK is our own, and
	 * answered with the error alone */
	if (err == 0 && req->opcode != FUSE_RELEASE && req->opcode != FUSE_READ &&
	    req->opcode != CUSESHIM_OP_FLOCK)
		return reject(req, 0);
	return send_reply(req, -err, NULL, 0);
}

CUSED_EXPORT
void fuse_reply_none(fuse_req_t req)
{
	if (req->opcode == FUSE_RELEASE) {
		send_reply(req, 0, NULL, 0);
		return;
	}
	/* The caller waits until the connection goes away, as with the
	 * kernel; we only free our side. */
	cused_req_free(req);
}

CUSED_EXPORT
int fuse_reply_open(fuse_req_t req, const struct fuse_file_info *fi)
{
	if (req->opcode != FUSE_OPEN)
		return reject(req, -EINVAL);
	finish_open(req, fi);
	cused_req_free(req);
	return 0;
}

CUSED_EXPORT
int fuse_reply_write(fuse_req_t req, size_t count)
{
	struct fuse_write_out out = {.size = count};
	struct iovec iov = {&out, sizeof(out)};

	if (req->opcode != FUSE_WRITE)
		return reject(req, -EINVAL);
	if (req->raw) {
		/* Nobody waits for this one: offer the driver the rest. */
		if (count == 0 || count > req->raw_len) {
			cused_log(FUSE_LOG_ERR,
				  "cuse: %s: driver took %zu of %zu bytes written past the shim; "
				  "dropping the rest\n",
				  req->se->devname, count, req->raw_len);
			cused_req_free(req);
			return 0;
		}
		if (count < req->raw_len) {
			memmove(req->raw, req->raw + count, req->raw_len - count);
			req->raw_len -= count;
			cused_raw_write(req->se, req);
			return 0;
		}
		cused_req_free(req);
		return 0;
	}
	if (count > req->size || count > UINT32_MAX)
		return reject(req, 0); /* the kernel accepts it, the caller gets EIO */
	return send_reply(req, 0, &iov, 1);
}

CUSED_EXPORT
int fuse_reply_iov(fuse_req_t req, const struct iovec *iov, int count)
{
	size_t total = 0;
	int i;

	if (req->opcode != FUSE_READ)
		return reject(req, -EINVAL);
	if (count < 0 || count > 64)
		return reject(req, -EINVAL);
	for (i = 0; i < count; i++)
		total += iov[i].iov_len;
	if (total > req->size)
		return reject(req, -EINVAL); /* kernel: EINVAL to us, EIO to the caller */
	return send_reply(req, 0, iov, count);
}

int cused_reply_data(fuse_req_t req, const void *data, size_t size)
{
	struct iovec iov = {(void *)data, size};

	return send_reply(req, 0, &iov, 1);
}

CUSED_EXPORT
int fuse_reply_buf(fuse_req_t req, const char *buf, size_t size)
{
	struct iovec iov = {(void *)buf, size};

	return fuse_reply_iov(req, &iov, size ? 1 : 0);
}

CUSED_EXPORT
size_t fuse_buf_size(const struct fuse_bufvec *bufv)
{
	size_t i, size = 0;

	for (i = 0; i < bufv->count; i++)
		size += bufv->buf[i].size == SIZE_MAX ? SIZE_MAX : bufv->buf[i].size;
	return size;
}

static ssize_t buf_rw(const struct fuse_buf *b, size_t off, void *mem, size_t len, bool to_fd)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n;

		if (b->flags & FUSE_BUF_FD_SEEK)
			n = to_fd ? pwrite(b->fd, (char *)mem + done, len - done,
					   b->pos + off + done)
				  : pread(b->fd, (char *)mem + done, len - done,
					  b->pos + off + done);
		else
			n = to_fd ? write(b->fd, (char *)mem + done, len - done)
				  : read(b->fd, (char *)mem + done, len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return done ? (ssize_t)done : -errno;
		if (n == 0)
			break;
		done += n;
		if (!(b->flags & FUSE_BUF_FD_RETRY))
			break;
	}
	return done;
}

/* Copy between two buffer vectors; memory and fd buffers on either side. */
CUSED_EXPORT
ssize_t fuse_buf_copy(struct fuse_bufvec *dst, struct fuse_bufvec *src,
		      enum fuse_buf_copy_flags flags)
{
	size_t copied = 0;
	char tmp[65536];

	if (dst == src)
		return fuse_buf_size(dst);
	while (dst->idx < dst->count && src->idx < src->count) {
		const struct fuse_buf *d = &dst->buf[dst->idx], *s = &src->buf[src->idx];
		size_t dlen = d->size - dst->off, slen = s->size - src->off;
		size_t len = dlen < slen ? dlen : slen;
		ssize_t n;

		if (len == 0)
			goto advance;
		if (!(d->flags & FUSE_BUF_IS_FD) && !(s->flags & FUSE_BUF_IS_FD)) {
			memmove((char *)d->mem + dst->off, (char *)s->mem + src->off, len);
			n = len;
		} else if (!(d->flags & FUSE_BUF_IS_FD)) {
			n = buf_rw(s, src->off, (char *)d->mem + dst->off, len, false);
		} else if (!(s->flags & FUSE_BUF_IS_FD)) {
			n = buf_rw(d, dst->off, (char *)s->mem + src->off, len, true);
		} else {
			if (len > sizeof(tmp))
				len = sizeof(tmp);
			n = buf_rw(s, src->off, tmp, len, false);
			if (n > 0)
				n = buf_rw(d, dst->off, tmp, n, true);
		}
		if (n < 0)
			return copied ? (ssize_t)copied : n;
		copied += n;
		dst->off += n;
		src->off += n;
		if ((size_t)n < len)
			break;
	advance:
		if (dst->off == d->size) {
			dst->idx++;
			dst->off = 0;
		}
		if (src->off == s->size) {
			src->idx++;
			src->off = 0;
		}
	}
	return copied;
}

CUSED_EXPORT
int fuse_reply_data(fuse_req_t req, struct fuse_bufvec *bufv, enum fuse_buf_copy_flags flags)
{
	size_t size = fuse_buf_size(bufv), want;
	struct fuse_bufvec dst = FUSE_BUFVEC_INIT(0);
	char *mem;
	ssize_t n;
	int res;

	if (req->opcode != FUSE_READ)
		return reject(req, -EINVAL);
	want = size < req->size ? size : req->size;
	if (size != SIZE_MAX && size > req->size)
		return reject(req, -EINVAL);
	mem = malloc(want ? want : 1);
	if (!mem)
		return reject(req, -ENOMEM);
	dst.buf[0].mem = mem;
	dst.buf[0].size = want;
	n = fuse_buf_copy(&dst, bufv, flags);
	if (n < 0) {
		free(mem);
		fuse_reply_err(req, -n);
		return (int)n;
	}
	res = fuse_reply_buf(req, mem, n);
	free(mem);
	return res;
}

CUSED_EXPORT
void *fuse_req_userdata(fuse_req_t req)
{
	return req->se->userdata;
}

CUSED_EXPORT
const struct fuse_ctx *fuse_req_ctx(fuse_req_t req)
{
	return &req->ctx;
}

CUSED_EXPORT
int fuse_req_getgroups(fuse_req_t req, int size, gid_t list[])
{
	char path[64], line[8192];
	int count = -EIO;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/status", (int)req->ctx.pid,
		 (int)req->ctx.pid);
	f = fopen(path, "re");
	if (!f)
		return -EIO;
	while (fgets(line, sizeof(line), f)) {
		char *p, *end;

		if (strncmp(line, "Groups:", 7))
			continue;
		count = 0;
		for (p = line + 7;; p = end) {
			unsigned long g = strtoul(p, &end, 10);

			if (end == p)
				break;
			if (count < size)
				list[count] = g;
			count++;
		}
		break;
	}
	fclose(f);
	return count;
}

/* ioctl replies: the kernel accepts data up to max(out_size, 4096) bytes
 * but fails the caller with EIO beyond out_size; longer still, the
 * driver's write fails EINVAL. */
static int ioctl_reply(struct fuse_req *req, int result, const struct iovec *iov, int count)
{
	struct fuse_ioctl_out out = {.result = result};
	struct iovec v[1 + 64];
	size_t total = 0, room;
	int i;

	if (req->opcode != FUSE_IOCTL)
		return reject(req, -EINVAL);
	if (count < 0 || count > 64)
		return reject(req, -EINVAL);
	for (i = 0; i < count; i++)
		total += iov[i].iov_len;
	room = req->size > 4096 ? req->size : 4096;
	if (total > req->size)
		return reject(req, total > room ? -EINVAL : 0);
	v[0].iov_base = &out;
	v[0].iov_len = sizeof(out);
	for (i = 0; i < count; i++)
		v[i + 1] = iov[i];
	return send_reply(req, 0, v, count + 1);
}

CUSED_EXPORT
int fuse_reply_ioctl(fuse_req_t req, int result, const void *buf, size_t size)
{
	struct iovec iov = {(void *)buf, size};

	return ioctl_reply(req, result, &iov, size ? 1 : 0);
}

CUSED_EXPORT
int fuse_reply_ioctl_iov(fuse_req_t req, int result, const struct iovec *iov, int count)
{
	return ioctl_reply(req, result, iov, count);
}

/*
 * RETRY: tell the caller which of its own buffers to copy in and out, and
 * to ask again.  Only unrestricted devices may (the kernel fails the
 * caller with EIO otherwise).  The iovec array travels in the reply buffer
 * of max(out_size, 4096) bytes: if it does not fit, the driver's write
 * fails EINVAL and the caller gets EIO.  The counts themselves (at most
 * 256) and the 128 KiB per direction are the caller's side to check.
 */
CUSED_EXPORT
int fuse_reply_ioctl_retry(fuse_req_t req, const struct iovec *in_iov, size_t in_count,
			   const struct iovec *out_iov, size_t out_count)
{
	struct fuse_ioctl_out out = {.flags = FUSE_IOCTL_RETRY};
	struct fuse_ioctl_iovec *arr;
	size_t i, n = in_count + out_count, room;
	struct iovec v[2];
	int res;

	if (req->opcode != FUSE_IOCTL)
		return reject(req, -EINVAL);
	if (!(req->ioctl_flags & FUSE_IOCTL_UNRESTRICTED))
		return reject(req, 0);
	room = req->size > 4096 ? req->size : 4096;
	if (n > room / sizeof(*arr) || in_count > UINT32_MAX || out_count > UINT32_MAX) {
		cused_log(FUSE_LOG_ERR, "fuse: retry ioctl: %zu iovecs do not fit the reply\n", n);
		return reject(req, -EINVAL);
	}
	arr = calloc(n ? n : 1, sizeof(*arr));
	if (!arr)
		return reject(req, -ENOMEM);
	for (i = 0; i < in_count; i++) {
		arr[i].base = (uintptr_t)in_iov[i].iov_base;
		arr[i].len = in_iov[i].iov_len;
	}
	for (i = 0; i < out_count; i++) {
		arr[in_count + i].base = (uintptr_t)out_iov[i].iov_base;
		arr[in_count + i].len = out_iov[i].iov_len;
	}
	out.in_iovs = in_count;
	out.out_iovs = out_count;
	v[0] = (struct iovec){&out, sizeof(out)};
	v[1] = (struct iovec){arr, n * sizeof(*arr)};
	res = send_reply(req, 0, v, 2);
	free(arr);
	return res;
}

CUSED_EXPORT
int fuse_reply_poll(fuse_req_t req, unsigned revents)
{
	struct fuse_poll_out out = {.revents = revents};
	struct iovec iov = {&out, sizeof(out)};

	if (req->opcode != FUSE_POLL)
		return reject(req, -EINVAL);
	if (req->mirror) {
		if (revents & (POLLIN | POLLERR | POLLHUP))
			cused_mirror_fire(req->se, req->file);
		cused_req_free(req);
		return 0;
	}
	return send_reply(req, 0, &iov, 1);
}

void cused_mirror_fire(struct fuse_session *se, struct cused_file *f)
{
	struct cused_conn *c = NULL;

	pthread_mutex_lock(&se->lock);
	if (f->mirror_wanted && f->state == FILE_OPEN && f->conn) {
		f->mirror_wanted = false;
		c = cused_conn_get(f->conn);
	}
	pthread_mutex_unlock(&se->lock);
	if (!c)
		return;
	/* One byte makes the client's end readable; the client drains it
	 * before its next non-blocking read.  A full queue already holds one. */
	(void)send(c->fd, "p", 1, MSG_DONTWAIT | MSG_NOSIGNAL);
	cused_conn_put(c);
}

/* Wake the connections in @w (consumed) for poll handle @kh. */
void cused_notify_pollers(struct fuse_session *se, struct cused_waiter *w, uint64_t kh)
{
	struct fuse_notify_poll_wakeup_out wake = {.kh = kh};
	struct fuse_out_header hdr = {.len = sizeof(hdr) + sizeof(wake), .error = FUSE_NOTIFY_POLL};
	struct iovec v[2] = {{&hdr, sizeof(hdr)}, {&wake, sizeof(wake)}};
	struct msghdr mh = {.msg_iov = v, .msg_iovlen = 2};
	struct cused_waiter *next;

	for (; w; w = next) {
		next = w->next;
		/* A full queue already holds a wakeup: nothing is lost. */
		(void)sendmsg(w->conn->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
		cused_conn_put(w->conn);
		free(w);
	}
}

CUSED_EXPORT
int fuse_lowlevel_notify_poll(struct fuse_pollhandle *ph)
{
	struct fuse_session *se;
	struct cused_waiter *w = NULL;
	struct cused_file *f;

	if (!ph)
		return 0;
	se = ph->se;
	if (!se->got_init)
		return -ENOTCONN;
	pthread_mutex_lock(&se->lock);
	for (f = se->files; f; f = f->next)
		if (f->kh == ph->kh && f->state != FILE_RELEASED) {
			w = f->pollers;
			f->pollers = NULL;
			f->refs++;
			break;
		}
	pthread_mutex_unlock(&se->lock);
	cused_debug(se, "   NOTIFY_POLL: kh %llu\n", (unsigned long long)ph->kh);
	cused_notify_pollers(se, w, ph->kh);
	if (f) {
		bool ask;

		/* A notify only says "ask again", as for every poller: the
		 * mirror's own poll sets the fd readable if POLLIN is there
		 * now, not a read that took the data meanwhile. */
		pthread_mutex_lock(&se->lock);
		ask = f->mirror_wanted;
		pthread_mutex_unlock(&se->lock);
		if (ask)
			cused_mirror_queue(se, f);
		cused_file_put(se, f);
	}
	return 0;
}

CUSED_EXPORT
void fuse_pollhandle_destroy(struct fuse_pollhandle *ph)
{
	free(ph);
}
