/* SPDX-License-Identifier: MIT */
/*
 * rawdrv: a CUSE driver with no libfuse at all, as xNVMe's backend and the
 * Rust crates are: it opens /dev/cuse and speaks the protocol itself, one
 * read() per request and one writev() per reply (issue 18).  Single
 * threaded.  Its device keeps a byte queue:
 *   - READ takes from the queue; on an empty one it waits (the request is
 *     parked) until a WRITE fills it, or an INTERRUPT ends it with EINTR;
 *   - WRITE appends and answers parked reads, then notifies the poll
 *     handle it was given (FUSE_NOTIFY_POLL);
 *   - POLL: POLLOUT, and POLLIN when the queue has bytes;
 *   - IOCTL: ptrdev's PTRDEV_REVERSE (three rounds of retries, unrestricted),
 *     PTRDEV_R_ECHO (restricted: in and out from _IOC_SIZE), PTRDEV_RAW.
 * --restricted makes its ioctls restricted (no CUSE_UNRESTRICTED_IOCTL).
 * --bad=long answers every READ with one byte more than was asked, and
 * --bad=unknown sends an extra reply to a unique nobody asked, first: the
 * kernel (and cuse-bridge) must refuse both.
 * Each request is a line in --log=FILE, after what fstat says of the fd.  Exits 0 when its read
 * says ENODEV (the device was aborted), 1 on any other end.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/fuse.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <unistd.h>

#include "examples/ptrdev.h"

#define BUFSZ (135168) /* libfuse 2's read buffer: 128 KiB and a page */

static int fd = -1;
static FILE *log_file;
static const char *bad = "";
static bool restricted;
static char queue[65536];
static size_t qlen;
static uint64_t parked; /* the unique of a waiting READ, or 0 */
static uint32_t parked_size;
static uint64_t kh;
static bool have_kh;

static void say(const char *fmt, ...)
{
	va_list ap;

	if (!log_file)
		return;
	va_start(ap, fmt);
	vfprintf(log_file, fmt, ap);
	va_end(ap);
	fflush(log_file);
}

static void reply(uint64_t unique, int error, const void *a, size_t alen, const void *b,
		  size_t blen)
{
	struct fuse_out_header oh = {sizeof(oh) + alen + blen, error, unique};
	struct iovec v[3] = {{&oh, sizeof(oh)}, {(void *)a, alen}, {(void *)b, blen}};

	if (writev(fd, v, 3) < 0)
		say("writev: %s\n", strerror(errno));
}

static void answer_read(uint64_t unique, uint32_t size)
{
	size_t n = qlen < size ? qlen : size;

	if (!strcmp(bad, "long"))
		n = size + 1 < sizeof(queue) ? size + 1 : sizeof(queue);
	reply(unique, 0, queue, n, NULL, 0);
	if (n > qlen)
		n = qlen;
	memmove(queue, queue + n, qlen - n);
	qlen -= n;
}

static void do_ioctl(uint64_t unique, const struct fuse_ioctl_in *ii, const char *in)
{
	switch (ii->cmd) {
	case PTRDEV_RAW: {
		struct fuse_ioctl_out io = {.result = (int32_t)((ii->arg + 1) & 0x7fffffff)};

		reply(unique, 0, &io, sizeof(io), NULL, 0);
		return;
	}
	case PTRDEV_R_ECHO: {
		struct fuse_ioctl_out io = {0};
		char out[sizeof(struct ptr_blob)] = "";
		size_t i;

		for (i = 0; i < ii->in_size && i < sizeof(out) && in[i]; i++)
			out[i] = (char)(in[i] >= 'a' && in[i] <= 'z' ? in[i] - 32 : in[i]);
		io.result = (int32_t)i;
		reply(unique, 0, &io, sizeof(io), out,
		      ii->out_size < sizeof(out) ? ii->out_size : sizeof(out));
		return;
	}
	case PTRDEV_REVERSE: {
		struct fuse_ioctl_out io = {.flags = FUSE_IOCTL_RETRY};
		struct fuse_ioctl_iovec v[3];
		struct ptr_req pr;

		if (!(ii->flags & FUSE_IOCTL_UNRESTRICTED)) {
			reply(unique, -ENOTTY, NULL, 0, NULL, 0);
			return;
		}
		if (ii->in_size < sizeof(pr)) {
			/* round 1: the struct */
			v[0] = (struct fuse_ioctl_iovec){ii->arg, sizeof(pr)};
			io.in_iovs = 1;
			reply(unique, 0, &io, sizeof(io), v, sizeof(v[0]));
			return;
		}
		memcpy(&pr, in, sizeof(pr));
		if (ii->in_size < sizeof(pr) + pr.len) {
			/* round 2: the struct and buf in, buf out */
			v[0] = (struct fuse_ioctl_iovec){ii->arg, sizeof(pr)};
			v[1] = (struct fuse_ioctl_iovec){(uint64_t)(uintptr_t)pr.buf, pr.len};
			v[2] = v[1];
			io.in_iovs = 2;
			io.out_iovs = 1;
			reply(unique, 0, &io, sizeof(io), v, sizeof(v));
			return;
		}
		{
			char *text = malloc(pr.len + 1);
			uint32_t i;

			if (!text) {
				reply(unique, -ENOMEM, NULL, 0, NULL, 0);
				return;
			}
			for (i = 0; i < pr.len; i++)
				text[i] = in[sizeof(pr) + pr.len - 1 - i];
			io = (struct fuse_ioctl_out){.result = (int32_t)pr.len};
			reply(unique, 0, &io, sizeof(io), text, pr.len);
			free(text);
		}
		return;
	}
	}
	reply(unique, -ENOTTY, NULL, 0, NULL, 0);
}

static int serve(const char *name)
{
	static char buf[BUFSZ];
	char info[300];
	uint64_t next_fh = 1;

	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));
		struct fuse_in_header *in = (void *)buf;
		const char *arg = buf + sizeof(*in);

		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0) {
			say("read %s\n", errno == ENODEV ? "ENODEV" : strerror(errno));
			return errno == ENODEV ? 0 : 1;
		}
		if ((size_t)n < sizeof(*in) || in->len != (uint32_t)n) {
			say("short read %zd\n", n);
			return 1;
		}
		switch (in->opcode) {
		case CUSE_INIT: {
			const struct cuse_init_in *ci = (const void *)arg;
			struct cuse_init_out co = {.major = 7,
						   .minor = 31,
						   .flags =
							   restricted ? 0 : CUSE_UNRESTRICTED_IOCTL,
						   .max_read = 65536,
						   .max_write = 65536};
			int len = snprintf(info, sizeof(info), "DEVNAME=%s", name) + 1;

			say("init %u.%u flags=0x%x\n", ci->major, ci->minor, ci->flags);
			reply(in->unique, 0, &co, sizeof(co), info, (size_t)len);
			if (!strcmp(bad, "unknown"))
				reply(1000000, 0, NULL, 0, NULL, 0); /* even: not an interrupt */
			break;
		}
		case FUSE_OPEN: {
			const struct fuse_open_in *oi = (const void *)arg;
			struct fuse_open_out oo = {.fh = next_fh++};

			say("open flags=0%o uid=%u pid=%u\n", oi->flags, in->uid, in->pid);
			reply(in->unique, 0, &oo, sizeof(oo), NULL, 0);
			break;
		}
		case FUSE_READ: {
			const struct fuse_read_in *ri = (const void *)arg;

			say("read size=%u\n", ri->size);
			if (qlen || !strcmp(bad, "long")) {
				answer_read(in->unique, ri->size);
			} else if (ri->flags & O_NONBLOCK) {
				reply(in->unique, -EAGAIN, NULL, 0, NULL, 0);
			} else {
				parked = in->unique;
				parked_size = ri->size;
			}
			break;
		}
		case FUSE_WRITE: {
			const struct fuse_write_in *wi = (const void *)arg;
			struct fuse_write_out wo = {.size = wi->size};
			size_t room = sizeof(queue) - qlen;

			if (wo.size > room)
				wo.size = (uint32_t)room;
			memcpy(queue + qlen, arg + sizeof(*wi), wo.size);
			qlen += wo.size;
			say("write size=%u\n", wi->size);
			reply(in->unique, 0, &wo, sizeof(wo), NULL, 0);
			if (parked) {
				answer_read(parked, parked_size);
				parked = 0;
			}
			if (have_kh) {
				struct fuse_notify_poll_wakeup_out pw = {.kh = kh};

				say("notify kh=%llu\n", (unsigned long long)kh);
				reply(0, FUSE_NOTIFY_POLL, &pw, sizeof(pw), NULL, 0);
			}
			break;
		}
		case FUSE_IOCTL: {
			const struct fuse_ioctl_in *ii = (const void *)arg;

			say("ioctl cmd=0x%x in=%u out=%u\n", ii->cmd, ii->in_size, ii->out_size);
			do_ioctl(in->unique, ii, arg + sizeof(*ii));
			break;
		}
		case FUSE_POLL: {
			const struct fuse_poll_in *pi = (const void *)arg;
			struct fuse_poll_out po = {.revents = POLLOUT | (qlen ? POLLIN : 0)};

			if (pi->flags & FUSE_POLL_SCHEDULE_NOTIFY) {
				kh = pi->kh;
				have_kh = true;
			}
			say("poll events=0x%x\n", pi->events);
			reply(in->unique, 0, &po, sizeof(po), NULL, 0);
			break;
		}
		case FUSE_INTERRUPT: {
			const struct fuse_interrupt_in *ii = (const void *)arg;

			say("interrupt\n");
			if (parked && parked == ii->unique) {
				reply(parked, -EINTR, NULL, 0, NULL, 0);
				parked = 0;
			} else {
				reply(in->unique, -EAGAIN, NULL, 0, NULL, 0);
			}
			break;
		}
		case FUSE_RELEASE:
			say("release fh=%llu\n",
			    (unsigned long long)((const struct fuse_release_in *)arg)->fh);
			reply(in->unique, 0, NULL, 0, NULL, 0);
			break;
		default:
			say("opcode %u: ENOSYS\n", in->opcode);
			reply(in->unique, -ENOSYS, NULL, 0, NULL, 0);
		}
	}
}

int main(int argc, char **argv)
{
	const char *name = NULL;
	struct stat st;
	int i;

	for (i = 1; i < argc; i++)
		if (!strncmp(argv[i], "--name=", 7))
			name = argv[i] + 7;
		else if (!strncmp(argv[i], "--log=", 6))
			log_file = fopen(argv[i] + 6, "ae");
		else if (!strncmp(argv[i], "--bad=", 6))
			bad = argv[i] + 6;
		else if (!strcmp(argv[i], "--restricted"))
			restricted = true;
	if (!name) {
		fprintf(stderr, "usage: rawdrv --name=NAME [--log=FILE] [--bad=long|unknown] "
				"[--restricted]\n");
		return 2;
	}
	fd = open("/dev/cuse", O_RDWR);
	if (fd < 0) {
		fprintf(stderr, "rawdrv: /dev/cuse: %s\n", strerror(errno));
		return 1;
	}
	if (!fstat(fd, &st))
		say("fstat %s %u:%u\n", S_ISCHR(st.st_mode) ? "chr" : "other", major(st.st_rdev),
		    minor(st.st_rdev));
	return serve(name);
}
