/* SPDX-License-Identifier: MIT */
/* Validation and request splitting for the cuseshim wire protocol. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>

#include "cuseshim_proto.h"

struct proto_op {
	const char *name;
	int in_size;  /* fixed args after fuse_in_header, -1 = not carried */
	int out_size; /* fixed args after fuse_out_header on success */
	int payload;  /* request may carry a payload after its args */
};

static const struct proto_op fuse_ops[] = {
	[FUSE_OPEN] = {"OPEN", sizeof(struct fuse_open_in), sizeof(struct fuse_open_out), 0},
	[FUSE_READ] = {"READ", sizeof(struct fuse_read_in), 0, 0},
	[FUSE_WRITE] = {"WRITE", sizeof(struct fuse_write_in), sizeof(struct fuse_write_out), 1},
	[FUSE_RELEASE] = {"RELEASE", sizeof(struct fuse_release_in), 0, 0},
	[FUSE_INTERRUPT] = {"INTERRUPT", sizeof(struct fuse_interrupt_in), 0, 0},
	[FUSE_IOCTL] = {"IOCTL", sizeof(struct fuse_ioctl_in), sizeof(struct fuse_ioctl_out), 1},
	[FUSE_POLL] = {"POLL", sizeof(struct fuse_poll_in), sizeof(struct fuse_poll_out), 0},
};

static const struct proto_op shim_ops[] = {
	[CUSESHIM_OP_HELLO - CUSESHIM_OP_HELLO] = {"HELLO", sizeof(struct cuseshim_hello_in),
						   sizeof(struct cuseshim_hello_out), 0},
	[CUSESHIM_OP_OPEN - CUSESHIM_OP_HELLO] = {"SHIM_OPEN", sizeof(struct cuseshim_open_in),
						  sizeof(struct cuseshim_open_out), 0},
	[CUSESHIM_OP_ATTACH -
		CUSESHIM_OP_HELLO] = {"ATTACH", 0, sizeof(struct cuseshim_attach_out), 0},
	[CUSESHIM_OP_CLOSED -
		CUSESHIM_OP_HELLO] = {"CLOSED", sizeof(struct cuseshim_closed_in), 0, 0},
	[CUSESHIM_OP_STATUS -
		CUSESHIM_OP_HELLO] = {"STATUS", 0, sizeof(struct cuseshim_status_out), 0},
	[CUSESHIM_OP_ABORT - CUSESHIM_OP_HELLO] = {"ABORT", 0, 0, 0},
	[CUSESHIM_OP_RING - CUSESHIM_OP_HELLO] = {"RING", 0, 0, 0},
	[CUSESHIM_OP_FLOCK - CUSESHIM_OP_HELLO] = {"FLOCK", sizeof(struct cuseshim_flock_in), 0, 0},
	[CUSESHIM_OP_SETFL - CUSESHIM_OP_HELLO] = {"SETFL", sizeof(struct cuseshim_setfl_in), 0, 0},
	[CUSESHIM_OP_PLOCK - CUSESHIM_OP_HELLO] = {"PLOCK", sizeof(struct cuseshim_plock_in),
						   sizeof(struct cuseshim_plock_out), 0},
};

static const struct proto_op *proto_op(uint32_t opcode)
{
	const struct proto_op *op = NULL;

	if (opcode < sizeof(fuse_ops) / sizeof(fuse_ops[0]))
		op = &fuse_ops[opcode];
	else if (opcode >= CUSESHIM_OP_HELLO &&
		 opcode - CUSESHIM_OP_HELLO < sizeof(shim_ops) / sizeof(shim_ops[0]))
		op = &shim_ops[opcode - CUSESHIM_OP_HELLO];
	return op && op->name ? op : NULL;
}

long proto_in_arg_size(uint32_t opcode)
{
	const struct proto_op *op = proto_op(opcode);

	return op ? op->in_size : -1;
}

long proto_out_arg_size(uint32_t opcode)
{
	const struct proto_op *op = proto_op(opcode);

	return op ? op->out_size : -1;
}

const char *proto_opname(uint32_t opcode)
{
	const struct proto_op *op = proto_op(opcode);

	if (opcode == CUSE_INIT)
		return "CUSE_INIT";
	return op ? op->name : "UNKNOWN";
}

int proto_check_request(const void *msg, size_t n)
{
	const struct fuse_in_header *in = msg;
	const struct proto_op *op;
	size_t need;

	if (n < sizeof(*in) || n > CUSESHIM_MAX_MSG || in->len != n)
		return -EPROTO;
	op = proto_op(in->opcode);
	if (!op)
		return -EPROTO;
	need = sizeof(*in) + op->in_size;
	if (n < need || (!op->payload && n != need))
		return -EPROTO;
	if (in->opcode == FUSE_WRITE) {
		const struct fuse_write_in *w = (const void *)(in + 1);

		if (w->size != n - need || w->size > CUSESHIM_MAX_PAYLOAD)
			return -EPROTO;
	}
	if (in->opcode == FUSE_IOCTL) {
		const struct fuse_ioctl_in *io = (const void *)(in + 1);

		if (io->in_size != n - need || io->in_size > CUSESHIM_MAX_PAYLOAD ||
		    io->out_size > CUSESHIM_MAX_PAYLOAD)
			return -EPROTO;
	}
	if (in->opcode == FUSE_INTERRUPT) {
		const struct fuse_interrupt_in *ii = (const void *)(in + 1);

		if (in->unique != (ii->unique | 1))
			return -EPROTO;
	}
	if (in->opcode == FUSE_READ) {
		const struct fuse_read_in *r = (const void *)(in + 1);

		if (r->size > CUSESHIM_MAX_PAYLOAD)
			return -EPROTO;
	}
	return 0;
}

int proto_check_reply(const void *msg, size_t n, uint32_t opcode, size_t max_payload)
{
	const struct fuse_out_header *out = msg;
	long fixed = proto_out_arg_size(opcode);

	if (n < sizeof(*out) || out->len != n || fixed < 0)
		return -EPROTO;
	if (out->error > 0 || out->error <= -1000)
		return -EPROTO;
	if (out->error)
		return n == sizeof(*out) ? 0 : -EPROTO;
	if (n < sizeof(*out) + (size_t)fixed)
		return -EPROTO;
	if (n - sizeof(*out) - (size_t)fixed > max_payload)
		return -EPROTO;
	return 0;
}

enum proto_reply proto_reply_take(const struct fuse_out_header *hdr, size_t n, bool trunc,
				  uint64_t unique, size_t out_size, long *result)
{
	*result = -EIO;
	if (n < sizeof(*hdr) || hdr->len != n) {
		/* longer than the caller's buffers: its answer fails, another
		 * one is skipped; anything else is garbage */
		if (n < sizeof(*hdr) || !trunc)
			return PROTO_REPLY_BROKEN;
		if (hdr->unique == unique)
			return PROTO_REPLY_DONE;
	}
	if (hdr->unique == 0 && hdr->error == FUSE_NOTIFY_POLL)
		return PROTO_REPLY_NOTIFY;
	if (hdr->unique != unique)
		return PROTO_REPLY_LATE;
	if (hdr->error > 0 || hdr->error <= -1000)
		return PROTO_REPLY_DONE;
	if (hdr->error) {
		if (n == sizeof(*hdr))
			*result = hdr->error;
		return PROTO_REPLY_DONE;
	}
	if (n >= sizeof(*hdr) + out_size)
		*result = (long)(n - sizeof(*hdr) - out_size);
	return PROTO_REPLY_DONE;
}

size_t proto_next_chunk(const struct iovec *iov, int iovcnt, size_t skip, size_t max)
{
	size_t bytes = 0, pages = 0, off = skip;
	int i = 0;

	while (i < iovcnt && off >= iov[i].iov_len) {
		off -= iov[i].iov_len;
		i++;
	}
	while (i < iovcnt && bytes < max && pages < CUSESHIM_MAX_PAGES) {
		uintptr_t base = (uintptr_t)iov[i].iov_base + off;
		size_t len = iov[i].iov_len - off;
		size_t start = base & (CUSESHIM_PAGE_SIZE - 1);
		size_t n;

		if (len > max - bytes)
			len = max - bytes;
		if (len == 0) {
			i++;
			off = 0;
			continue;
		}
		n = (len + start + CUSESHIM_PAGE_SIZE - 1) / CUSESHIM_PAGE_SIZE;
		if (pages + n > CUSESHIM_MAX_PAGES) {
			n = CUSESHIM_MAX_PAGES - pages;
			len = n * CUSESHIM_PAGE_SIZE - start;
		}
		bytes += len;
		pages += n;
		off += len;
		if (off == iov[i].iov_len) {
			i++;
			off = 0;
		}
	}
	return bytes;
}

int proto_iov_slice(const struct iovec *iov, int iovcnt, size_t skip, size_t len, struct iovec *out,
		    int max)
{
	int i = 0, n = 0;

	while (i < iovcnt && skip >= iov[i].iov_len) {
		skip -= iov[i].iov_len;
		i++;
	}
	for (; i < iovcnt && len && n < max; i++) {
		size_t take = iov[i].iov_len - skip;

		if (take > len)
			take = len;
		if (take) {
			out[n].iov_base = (char *)iov[i].iov_base + skip;
			out[n].iov_len = take;
			n++;
		}
		len -= take;
		skip = 0;
	}
	return n;
}

uint32_t proto_open_flags(int flags)
{
	flags &= ~(O_CREAT | O_EXCL | O_NOCTTY | O_TRUNC | O_CLOEXEC);
	return (uint32_t)flags | 0100000; /* the kernel's O_LARGEFILE on x86_64 */
}

static int take_iovs(const struct fuse_ioctl_iovec *src, unsigned n, struct iovec *dst,
		     size_t *total)
{
	unsigned i;

	*total = 0;
	for (i = 0; i < n; i++) {
		struct fuse_ioctl_iovec v;

		memcpy(&v, &src[i], sizeof(v)); /* the array need not be aligned */
		if (v.base > UINTPTR_MAX || v.len > SIZE_MAX)
			return -EIO;
		if (v.len > CUSESHIM_MAX_PAYLOAD || *total + v.len > CUSESHIM_MAX_PAYLOAD)
			return -ENOMEM;
		dst[i].iov_base = (void *)(uintptr_t)v.base;
		dst[i].iov_len = v.len;
		*total += v.len;
	}
	return 0;
}

int proto_ioctl_retry(const struct fuse_ioctl_out *out, const void *arr, size_t n, struct iovec *in,
		      size_t *in_size, struct iovec *outv, size_t *out_size)
{
	const struct fuse_ioctl_iovec *v = arr;
	int err;

	if (out->in_iovs > FUSE_IOCTL_MAX_IOV || out->out_iovs > FUSE_IOCTL_MAX_IOV ||
	    out->in_iovs + out->out_iovs > FUSE_IOCTL_MAX_IOV)
		return -ENOMEM;
	if (n != (size_t)(out->in_iovs + out->out_iovs) * sizeof(*v))
		return -EIO;
	err = take_iovs(v, out->in_iovs, in, in_size);
	if (!err)
		err = take_iovs(v + out->in_iovs, out->out_iovs, outv, out_size);
	return err;
}

void proto_describe(const struct fuse_in_header *in, const void *arg, size_t alen, char *buf,
		    size_t size)
{
	if (in->opcode == FUSE_READ && alen >= sizeof(struct fuse_read_in)) {
		const struct fuse_read_in *r = arg;

		snprintf(buf, size, "offset %lld size %u flags 0%o", (long long)r->offset, r->size,
			 r->flags);
	} else if (in->opcode == FUSE_WRITE && alen >= sizeof(struct fuse_write_in)) {
		const struct fuse_write_in *w = arg;

		snprintf(buf, size, "offset %lld size %u flags 0%o", (long long)w->offset, w->size,
			 w->flags);
	} else if (in->opcode == FUSE_IOCTL && alen >= sizeof(struct fuse_ioctl_in)) {
		const struct fuse_ioctl_in *io = arg;

		snprintf(buf, size, "cmd %#x arg %#llx in %u out %u flags %#x", io->cmd,
			 (unsigned long long)io->arg, io->in_size, io->out_size, io->flags);
	} else if (in->opcode == FUSE_POLL && alen >= sizeof(struct fuse_poll_in)) {
		const struct fuse_poll_in *po = arg;

		snprintf(buf, size, "events %#x flags %#x", po->events, po->flags);
	} else {
		snprintf(buf, size, "insize %u", in->len);
	}
}

void proto_trace_line(char *buf, size_t size, const struct iovec *req, int nreq, long result,
		      const void *out, size_t out_size, double us)
{
	const struct fuse_in_header *in = req[0].iov_base;
	const char *ename = result < 0 ? strerrorname_np((int)-result) : NULL;
	char what[160], res[64];

	proto_describe(in, nreq > 1 ? req[1].iov_base : NULL, nreq > 1 ? req[1].iov_len : 0, what,
		       sizeof(what));
	if (result < 0) {
		if (ename)
			snprintf(res, sizeof(res), "-%s", ename);
		else
			snprintf(res, sizeof(res), "%ld", result);
	} else if (in->opcode == FUSE_WRITE && out && out_size >= sizeof(struct fuse_write_out)) {
		snprintf(res, sizeof(res), "%u", ((const struct fuse_write_out *)out)->size);
	} else if (in->opcode == FUSE_IOCTL && out && out_size >= sizeof(struct fuse_ioctl_out)) {
		const struct fuse_ioctl_out *io = out;

		if (io->flags & FUSE_IOCTL_RETRY)
			snprintf(res, sizeof(res), "retry, %u in %u out iovecs", io->in_iovs,
				 io->out_iovs);
		else
			snprintf(res, sizeof(res), "result %d, %ld bytes out", io->result, result);
	} else if (in->opcode == FUSE_POLL && out && out_size >= sizeof(struct fuse_poll_out)) {
		snprintf(res, sizeof(res), "revents %#x",
			 ((const struct fuse_poll_out *)out)->revents);
	} else {
		snprintf(res, sizeof(res), "%ld", result);
	}
	snprintf(buf, size, "%s unique %llu %s -> %s (%.1f us)", proto_opname(in->opcode),
		 (unsigned long long)in->unique, what, res, us);
}

unsigned proto_drain_mirror(int fd, proto_recvmmsg_fn rmm)
{
	enum { BATCH = 4 };
	char b[BATCH][8];
	struct iovec v[BATCH];
	struct mmsghdr mm[BATCH];
	unsigned total = 0;
	int i, n;

	do {
		memset(mm, 0, sizeof(mm));
		for (i = 0; i < BATCH; i++) {
			v[i] = (struct iovec){b[i], sizeof(b[i])};
			mm[i].msg_hdr.msg_iov = &v[i];
			mm[i].msg_hdr.msg_iovlen = 1;
		}
		n = rmm(fd, mm, BATCH, MSG_DONTWAIT, NULL);
		if (n > 0)
			total += (unsigned)n;
	} while (n == BATCH);
	return total;
}

uint32_t proto_ring_cpu(void)
{
	int cpu = sched_getcpu();

	return cpu < 0 ? 0 : (uint32_t)cpu + 1;
}

uint64_t proto_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int proto_lock_range(int whence, int64_t l_start, int64_t l_len, int64_t *start, int64_t *end)
{
	/* SEEK_CUR and SEEK_END count from 0 too: the kernel's CUSE file
	 * never moves its offset, and its inode's size is 0 */
	if (whence != SEEK_SET && whence != SEEK_CUR && whence != SEEK_END)
		return -EINVAL;
	if (l_start < 0)
		return -EINVAL;
	*start = l_start;
	if (l_len > 0) {
		if (l_len - 1 > CUSESHIM_PLOCK_EOF - l_start)
			return -EOVERFLOW;
		*end = l_start + (l_len - 1);
	} else if (l_len < 0) {
		if (l_start + l_len < 0)
			return -EINVAL;
		*end = l_start - 1;
		*start = l_start + l_len;
	} else {
		*end = CUSESHIM_PLOCK_EOF;
	}
	return 0;
}

void proto_lock_flock(int64_t start, int64_t end, int64_t *l_start, int64_t *l_len)
{
	*l_start = start;
	*l_len = end == CUSESHIM_PLOCK_EOF ? 0 : end - start + 1;
}

int proto_plock_in(int cmd, const struct flock *fl, struct cuseshim_plock_in *pi)
{
	bool ofd = cmd == F_OFD_GETLK || cmd == F_OFD_SETLK || cmd == F_OFD_SETLKW;

	memset(pi, 0, sizeof(*pi));
	if (ofd && fl->l_pid != 0)
		return -EINVAL;
	pi->cmd = cmd == F_GETLK || cmd == F_OFD_GETLK	 ? CUSESHIM_PLOCK_GET
		  : cmd == F_SETLK || cmd == F_OFD_SETLK ? CUSESHIM_PLOCK_SET
							 : CUSESHIM_PLOCK_WAIT;
	if (fl->l_type != F_RDLCK && fl->l_type != F_WRLCK &&
	    (fl->l_type != F_UNLCK || pi->cmd == CUSESHIM_PLOCK_GET))
		return -EINVAL;
	pi->type = (uint32_t)fl->l_type;
	pi->ofd = ofd;
	return proto_lock_range(fl->l_whence, fl->l_start, fl->l_len, &pi->start, &pi->end);
}

void proto_plock_out(const struct cuseshim_plock_out *po, struct flock *fl)
{
	int64_t start, len;

	fl->l_type = (short)po->type;
	if (po->type == F_UNLCK)
		return; /* the rest as the caller gave it */
	proto_lock_flock(po->start, po->end, &start, &len);
	fl->l_whence = SEEK_SET;
	fl->l_start = start;
	fl->l_len = len;
	fl->l_pid = po->pid;
}

int proto_spin_ns(const char *s, uint64_t *ns)
{
	unsigned long us;
	char *end;

	*ns = CUSESHIM_SPIN_US_DEFAULT * 1000u;
	if (!s || !*s)
		return 0;
	errno = 0;
	us = strtoul(s, &end, 10);
	if (*end || errno || us > 1000000 || *s == '-')
		return -1;
	*ns = (uint64_t)us * 1000u;
	return 0;
}
