/* SPDX-License-Identifier: MIT */
/*
 * ioctl on device fds (fs/fuse/ioctl.c fuse_do_ioctl, fs/ioctl.c).
 *
 * The VFS answers a few commands itself before any driver sees them
 * (FIOCLEX, FIONCLEX, FIONBIO, FIOASYNC, FIOQSIZE, FIGETBSZ, ...); we do
 * the same, on our socket where its semantics are the VFS's.
 *
 * Restricted mode (the default): the buffer is {arg, _IOC_SIZE(cmd)}; it is
 * sent with the request if _IOC_WRITE, and the reply's data is copied back
 * to it if _IOC_READ.  A driver's RETRY fails the call with EIO.
 *
 * Unrestricted mode (CUSE_UNRESTRICTED_IOCTL): the first request carries no
 * data.  The driver may answer RETRY with arrays of in and out iovecs naming
 * the caller's memory; we copy the in iovecs into the next request and ask
 * again with in_size/out_size set, any number of rounds; the final answer's
 * data is scattered over the last round's out iovecs.
 *
 * Every copy between the caller's memory and the driver is done by the
 * kernel, as sendmsg/recvmsg iovecs pointing at that memory: a bad address
 * fails the call with EFAULT and can never crash the program.  A copy-in
 * fault happens before the driver sees the request, a copy-out fault after
 * it answered, as in the kernel.  Limits: at most 256 iovecs in all and
 * 128 KiB per direction (ENOMEM); an iovec array that does not match its
 * counts is EIO.  The data is copied back even when the result is
 * negative; a result of -ENOSYS or a header ENOSYS becomes ENOTTY.
 */
#include <fcntl.h>
#include <linux/fiemap.h>
#include <linux/fs.h>
#include <stdarg.h>
#include <string.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/uio.h>

#include "shim_i.h"

#define MAX_IOV FUSE_IOCTL_MAX_IOV

struct ioctl_state {
	struct iovec in[MAX_IOV];
	struct iovec out[MAX_IOV];
	unsigned nin, nout;
	size_t in_size, out_size;
};

/* Copy @n bytes of @buf to the caller's out iovecs; EFAULT on a bad one. */
static int copy_out(const char *buf, size_t n, const struct iovec *out, unsigned nout)
{
	struct iovec local = {(void *)buf, n};
	struct iovec remote[MAX_IOV];
	unsigned i, k = 0;
	size_t left = n;

	if (!n)
		return 0;
	for (i = 0; i < nout && left; i++) {
		remote[k] = out[i];
		if (remote[k].iov_len > left)
			remote[k].iov_len = left;
		left -= remote[k].iov_len;
		if (remote[k].iov_len)
			k++;
	}
	if (process_vm_writev(shim_sys_getpid(), &local, 1, remote, k, 0) != (ssize_t)n)
		return -EFAULT;
	return 0;
}

static long dev_ioctl(int fd, struct shim_file *f, unsigned cmd, void *arg)
{
	struct ioctl_state *st = NULL;
	char *bounce = NULL;
	struct shim_chan *ch;
	uint64_t handle;
	bool unrestricted;
	long ret;
	int err;

	err = shim_file_chan(fd, f, &ch, &handle);
	if (err)
		return err;
	unrestricted = shim_chan_hello(ch)->flags & CUSE_UNRESTRICTED_IOCTL;
	st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	if (!unrestricted) {
		size_t size = _IOC_SIZE(cmd);

		if ((_IOC_DIR(cmd) & _IOC_WRITE) && size) {
			st->in[0] = (struct iovec){arg, size};
			st->nin = 1;
			st->in_size = size;
		}
		if ((_IOC_DIR(cmd) & _IOC_READ) && size) {
			st->out[0] = (struct iovec){arg, size};
			st->nout = 1;
			st->out_size = size;
		}
	}
	for (;;) {
		struct fuse_in_header in = {0};
		struct fuse_ioctl_in ii = {
			.flags = unrestricted ? FUSE_IOCTL_UNRESTRICTED : 0,
			.cmd = cmd,
			.arg = (uintptr_t)arg,
			.in_size = st->in_size,
			.out_size = st->out_size,
		};
		struct fuse_ioctl_out out;
		struct iovec req[2 + MAX_IOV], dst;
		size_t room = st->out_size > 4096 ? st->out_size : 4096;
		ssize_t n;
		unsigned i;

		in.len = sizeof(in) + sizeof(ii) + st->in_size;
		in.opcode = FUSE_IOCTL;
		in.unique = shim_chan_unique(ch);
		in.nodeid = handle;
		req[0] = (struct iovec){&in, sizeof(in)};
		req[1] = (struct iovec){&ii, sizeof(ii)};
		for (i = 0; i < st->nin; i++)
			req[2 + i] = st->in[i];
		if (unrestricted) {
			/* Data or a RETRY array: read into our own buffer. */
			char *b = realloc(bounce, room);

			if (!b) {
				ret = -ENOMEM;
				break;
			}
			bounce = b;
			dst = (struct iovec){bounce, room};
			n = shim_chan_call(ch, req, 2 + st->nin, -1, &out, sizeof(out), &dst, 1);
		} else {
			/* The reply's data lands in the caller's buffer directly. */
			n = shim_chan_call(ch, req, 2 + st->nin, -1, &out, sizeof(out), st->out,
					   st->nout);
		}
		if (n < 0) {
			ret = n == -ENOSYS ? -ENOTTY : n;
			break;
		}
		if (!(out.flags & FUSE_IOCTL_RETRY)) {
			if ((size_t)n > st->out_size) {
				ret = -EIO;
				break;
			}
			if (unrestricted) {
				err = copy_out(bounce, n, st->out, st->nout);
				if (err) {
					ret = err;
					break;
				}
			}
			ret = out.result == -ENOSYS ? -ENOTTY : out.result;
			break;
		}
		if (!unrestricted) {
			ret = -EIO;
			break;
		}
		err = proto_ioctl_retry(&out, bounce, n, st->in, &st->in_size, st->out,
					&st->out_size);
		if (err) {
			ret = err;
			break;
		}
		st->nin = out.in_iovs;
		st->nout = out.out_iovs;
	}
	free(bounce);
	free(st);
	return ret;
}

/* The ioctls the VFS answers for every file (fs/ioctl.c do_vfs_ioctl). */
long shim_dev_ioctl(int fd, struct shim_file *f, unsigned cmd, void *arg)
{
	switch (cmd) {
	case FIOCLEX:
	case FIONCLEX:
		/* per descriptor, exactly as on our socket */
		return REAL(ioctl)(fd, cmd, arg) ? -errno : 0;
	case FIONBIO:
		/* per open file, as on our socket; the driver's RELEASE will
		 * carry it */
		if (REAL(ioctl)(fd, cmd, arg))
			return -errno;
		shim_flags_changed(fd, f);
		return 0;
	case FIOASYNC: {
		int on;
		struct iovec l = {&on, sizeof(on)}, r = {arg, sizeof(on)};

		/* a CUSE file has no fasync: turning it on is ENOTTY */
		if (process_vm_readv(shim_sys_getpid(), &l, 1, &r, 1, 0) != sizeof(on))
			return -EFAULT;
		return on ? -ENOTTY : 0;
	}
	case FIOQSIZE: return -ENOTTY; /* not a regular file or directory */
	case FIGETBSZ: {
		int bsz = 4096;
		struct iovec l = {&bsz, sizeof(bsz)}, r = {arg, sizeof(bsz)};

		if (process_vm_writev(shim_sys_getpid(), &l, 1, &r, 1, 0) != sizeof(bsz))
			return -EFAULT;
		return 0;
	}
	case FIFREEZE:
	case FITHAW: return geteuid() == 0 ? -EOPNOTSUPP : -EPERM;
	case FS_IOC_FIEMAP: return -EOPNOTSUPP;
	default: break;
	}
	if (f->opath)
		return -EBADF;
	return dev_ioctl(fd, f, cmd, arg);
}

SHIM_EXPORT int ioctl(int fd, unsigned long request, ...)
{
	struct shim_file *f = shim_fd_dev(fd);
	va_list ap;
	void *arg;

	va_start(ap, request);
	arg = va_arg(ap, void *);
	va_end(ap);
	if (__builtin_expect(!f, 1))
		return REAL(ioctl)(fd, request, arg);
	/* The kernel looks at 32 bits of the request. */
	return (int)shim_ret(shim_dev_ioctl(fd, f, (unsigned)request, arg));
}
