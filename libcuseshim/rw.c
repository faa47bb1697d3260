/* SPDX-License-Identifier: MIT */
/*
 * The read and write families on device fds, with the kernel's rules
 * (fs/fuse/file.c fuse_direct_io, fs/fuse/cuse.c):
 *  - access mode checked first (EBADF), as vfs_read/vfs_write do;
 *  - a zero-length call returns 0 and never reaches the driver;
 *  - the offset is always 0 at the start of each call and advances by
 *    the bytes transferred within it; pread/pwrite offsets are ignored
 *    (but a negative one is EINVAL);
 *  - a call is split into requests of at most max_read/max_write bytes
 *    and 32 user pages (proto_next_chunk);
 *  - a short reply ends the call; an error after some data returns the
 *    data;
 *  - each request carries the file's current flags (O_NONBLOCK...).
 */
#include <fcntl.h>
#include <limits.h>
#include <string.h>

#include "shim_i.h"

#define MAX_SEGS 40 /* a request covers at most 32 pages, so 33 segments */

/* The f_flags the kernel would have now: the open flags with the
 * run-time ones (F_SETFL, FIONBIO) read back from our socket. */
uint32_t shim_file_flags(int fd, struct shim_file *f)
{
	const uint32_t dynamic = O_NONBLOCK | O_APPEND | O_NOATIME | O_DIRECT;
	int now = shim_sys_fcntl(fd, F_GETFL, 0);

	if (now < 0)
		now = 0;
	return (f->open_flags & ~dynamic) | ((uint32_t)now & dynamic);
}

/* Inherited fds learn their open flags from the driver. */
int shim_ensure_flags(int fd, struct shim_file *f)
{
	struct shim_chan *ch;
	uint64_t handle;

	if (f->flags_known)
		return 0;
	return shim_file_chan(fd, f, &ch, &handle);
}

/* Bytes the driver sent down the device socket to mirror POLLIN for
 * callers that wait on the fd itself (io_uring, an epoll we never see):
 * taken before a non-blocking read, so that the fd is readable again only
 * when the driver says so after this read. */
static void drain_mirror(int fd)
{
	int saved = errno;

	proto_drain_mirror(fd, REAL(recvmmsg));
	errno = saved; /* its EAGAIN is not the caller's */
}

static ssize_t dev_io(int fd, struct shim_file *f, const struct iovec *iov, int iovcnt,
		      bool is_write, uint32_t extra_flags)
{
	struct shim_chan *ch;
	uint64_t handle;
	size_t total = 0, done = 0, max;
	uint32_t flags;
	int i, err;

	if (f->opath)
		return -EBADF;
	if (iovcnt < 0 || iovcnt > IOV_MAX)
		return -EINVAL;
	for (i = 0; i < iovcnt; i++) {
		if (iov[i].iov_len > SSIZE_MAX - total)
			return -EINVAL;
		total += iov[i].iov_len;
	}
	err = shim_file_chan(fd, f, &ch, &handle);
	if (err)
		return err;
	if ((f->open_flags & O_ACCMODE) == (is_write ? O_RDONLY : O_WRONLY))
		return -EBADF;
	if (total == 0)
		return 0;
	flags = shim_file_flags(fd, f) | extra_flags;
	if (!is_write && (flags & O_NONBLOCK))
		drain_mirror(fd);
	max = is_write ? shim_chan_hello(ch)->max_write : shim_chan_hello(ch)->max_read;
	if (max == 0 || max > CUSESHIM_MAX_PAYLOAD)
		max = CUSESHIM_MAX_PAYLOAD;
	while (done < total) {
		struct fuse_in_header in = {0};
		struct iovec seg[MAX_SEGS], req[2 + MAX_SEGS];
		size_t chunk = proto_next_chunk(iov, iovcnt, done, max);
		int nseg = proto_iov_slice(iov, iovcnt, done, chunk, seg, MAX_SEGS);
		ssize_t n;

		in.opcode = is_write ? FUSE_WRITE : FUSE_READ;
		in.unique = shim_chan_unique(ch);
		in.nodeid = handle;
		req[0] = (struct iovec){&in, sizeof(in)};
		if (is_write) {
			struct fuse_write_in wi = {.offset = done,
						   .size = chunk,
						   .write_flags = FUSE_WRITE_LOCKOWNER,
						   .lock_owner = shim_chan_lock_owner(ch),
						   .flags = flags};
			struct fuse_write_out wo;

			in.len = sizeof(in) + sizeof(wi) + chunk;
			req[1] = (struct iovec){&wi, sizeof(wi)};
			memcpy(req + 2, seg, nseg * sizeof(seg[0]));
			n = shim_chan_call(ch, req, 2 + nseg, -1, &wo, sizeof(wo), NULL, 0);
			if (n >= 0)
				n = wo.size > chunk ? -EIO : (ssize_t)wo.size;
		} else {
			struct fuse_read_in ri = {.offset = done,
						  .size = chunk,
						  .read_flags = FUSE_READ_LOCKOWNER,
						  .lock_owner = shim_chan_lock_owner(ch),
						  .flags = flags};

			in.len = sizeof(in) + sizeof(ri);
			req[1] = (struct iovec){&ri, sizeof(ri)};
			n = shim_chan_call(ch, req, 2, -1, NULL, 0, seg, nseg);
		}
		if (n < 0)
			return done ? (ssize_t)done : n;
		done += n;
		if ((size_t)n < chunk)
			break;
	}
	return done;
}

static ssize_t dev_rw1(int fd, struct shim_file *f, void *buf, size_t n, bool is_write)
{
	struct iovec v = {buf, n};

	return dev_io(fd, f, &v, 1, is_write, 0);
}

ssize_t shim_dev_rw(int fd, struct shim_file *f, void *buf, size_t n, bool is_write)
{
	return dev_rw1(fd, f, buf, n, is_write);
}

static int rwf_flags(int rwf, bool is_write, uint32_t *extra)
{
	*extra = 0;
	if (rwf & RWF_NOWAIT)
		return -EOPNOTSUPP; /* no FMODE_NOWAIT on CUSE files */
	if (rwf & ~(RWF_HIPRI | RWF_DSYNC | RWF_SYNC | RWF_APPEND))
		return -EOPNOTSUPP;
	if (is_write && (rwf & RWF_DSYNC))
		*extra |= O_DSYNC;
	if (is_write && (rwf & RWF_SYNC))
		*extra |= O_SYNC;
	if (is_write && (rwf & RWF_APPEND))
		*extra |= O_APPEND;
	return 0;
}

SHIM_EXPORT ssize_t read(int fd, void *buf, size_t n)
{
	struct shim_file *f = shim_fd_dev(fd);

	if (__builtin_expect(!f, 1)) {
		ssize_t r = REAL(read)(fd, buf, n);

		return __builtin_expect(r == 0, 0) && n ? shim_cuse_read_end(fd) : r;
	}
	return shim_ret(dev_rw1(fd, f, buf, n, false));
}

SHIM_EXPORT ssize_t __read_chk(int fd, void *buf, size_t n, size_t buflen)
{
	struct shim_file *f = shim_fd_dev(fd);

	if (__builtin_expect(!f, 1) || n > buflen) {
		ssize_t r = REAL(__read_chk)(fd, buf, n, buflen);

		return __builtin_expect(r == 0, 0) && n ? shim_cuse_read_end(fd) : r;
	}
	return shim_ret(dev_rw1(fd, f, buf, n, false));
}

SHIM_EXPORT ssize_t write(int fd, const void *buf, size_t n)
{
	struct shim_file *f = shim_fd_dev(fd);

	if (__builtin_expect(!f, 1))
		return REAL(write)(fd, buf, n);
	return shim_ret(dev_rw1(fd, f, (void *)buf, n, true));
}

#define PRW_WRAPPER(name, type, is_write)                                                          \
	SHIM_EXPORT ssize_t name(int fd, type buf, size_t n, off_t off)                            \
	{                                                                                          \
		struct shim_file *f = shim_fd_dev(fd);                                             \
		if (__builtin_expect(!f, 1))                                                       \
			return REAL(name)(fd, buf, n, off);                                        \
		if (off < 0)                                                                       \
			return shim_ret(-EINVAL);                                                  \
		return shim_ret(dev_rw1(fd, f, (void *)buf, n, is_write));                         \
	}

PRW_WRAPPER(pread, void *, false)
PRW_WRAPPER(pread64, void *, false)
PRW_WRAPPER(pwrite, const void *, true)
PRW_WRAPPER(pwrite64, const void *, true)

#define PREAD_CHK_WRAPPER(name)                                                                    \
	SHIM_EXPORT ssize_t name(int fd, void *buf, size_t n, off_t off, size_t buflen)            \
	{                                                                                          \
		struct shim_file *f = shim_fd_dev(fd);                                             \
		if (__builtin_expect(!f, 1) || n > buflen)                                         \
			return REAL(name)(fd, buf, n, off, buflen);                                \
		if (off < 0)                                                                       \
			return shim_ret(-EINVAL);                                                  \
		return shim_ret(dev_rw1(fd, f, buf, n, false));                                    \
	}

PREAD_CHK_WRAPPER(__pread_chk)
PREAD_CHK_WRAPPER(__pread64_chk)

SHIM_EXPORT ssize_t readv(int fd, const struct iovec *iov, int iovcnt)
{
	struct shim_file *f = shim_fd_dev(fd);

	if (__builtin_expect(!f, 1))
		return REAL(readv)(fd, iov, iovcnt);
	return shim_ret(dev_io(fd, f, iov, iovcnt, false, 0));
}

SHIM_EXPORT ssize_t writev(int fd, const struct iovec *iov, int iovcnt)
{
	struct shim_file *f = shim_fd_dev(fd);

	if (__builtin_expect(!f, 1)) {
		ssize_t r = REAL(writev)(fd, iov, iovcnt);

		/* a /dev/cuse channel whose device is gone: ENODEV, as the
		 * kernel's (SIGPIPE, if not ignored, was the socket's) */
		if (__builtin_expect(r < 0, 0) && errno == EPIPE && shim_cuse_channel(fd))
			errno = ENODEV;
		return r;
	}
	return shim_ret(dev_io(fd, f, iov, iovcnt, true, 0));
}

#define PRWV_WRAPPER(name, is_write)                                                               \
	SHIM_EXPORT ssize_t name(int fd, const struct iovec *iov, int iovcnt, off_t off)           \
	{                                                                                          \
		struct shim_file *f = shim_fd_dev(fd);                                             \
		if (__builtin_expect(!f, 1))                                                       \
			return REAL(name)(fd, iov, iovcnt, off);                                   \
		if (off < 0)                                                                       \
			return shim_ret(-EINVAL);                                                  \
		return shim_ret(dev_io(fd, f, iov, iovcnt, is_write, 0));                          \
	}

PRWV_WRAPPER(preadv, false)
PRWV_WRAPPER(preadv64, false)
PRWV_WRAPPER(pwritev, true)
PRWV_WRAPPER(pwritev64, true)

#define PRWV2_WRAPPER(name, is_write)                                                              \
	SHIM_EXPORT ssize_t name(int fd, const struct iovec *iov, int iovcnt, off_t off, int rwf)  \
	{                                                                                          \
		struct shim_file *f = shim_fd_dev(fd);                                             \
		uint32_t extra;                                                                    \
		int err;                                                                           \
		if (__builtin_expect(!f, 1))                                                       \
			return REAL(name)(fd, iov, iovcnt, off, rwf);                              \
		if (off < -1)                                                                      \
			return shim_ret(-EINVAL);                                                  \
		err = rwf_flags(rwf, is_write, &extra);                                            \
		if (err)                                                                           \
			return shim_ret(err);                                                      \
		return shim_ret(dev_io(fd, f, iov, iovcnt, is_write, extra));                      \
	}

PRWV2_WRAPPER(preadv2, false)
PRWV2_WRAPPER(preadv64v2, false)
PRWV2_WRAPPER(pwritev2, true)
PRWV2_WRAPPER(pwritev64v2, true)

/*
 * sendfile, splice and copy_file_range with a device at either end: a CUSE
 * file has no splice_read or splice_write and is not a regular file, so
 * the kernel refuses them with EINVAL (programs such as Python's
 * shutil.copyfile then fall back to read and write).  Made on our socket
 * they would bypass the driver.  The supervisor does the same (on_splice).
 */
static bool dev_either(int a, int b)
{
	return shim_fd_dev(a) || shim_fd_dev(b);
}

SHIM_EXPORT ssize_t sendfile(int out, int in, off_t *off, size_t n)
{
	if (__builtin_expect(!shim_fd_get(out) && !shim_fd_get(in), 1) || !dev_either(out, in))
		return REAL(sendfile)(out, in, off, n);
	return shim_ret(-EINVAL);
}

SHIM_EXPORT ssize_t sendfile64(int out, int in, off64_t *off, size_t n)
{
	if (__builtin_expect(!shim_fd_get(out) && !shim_fd_get(in), 1) || !dev_either(out, in))
		return REAL(sendfile64)(out, in, off, n);
	return shim_ret(-EINVAL);
}

SHIM_EXPORT ssize_t splice(int in, loff_t *off_in, int out, loff_t *off_out, size_t n,
			   unsigned int flags)
{
	if (__builtin_expect(!shim_fd_get(out) && !shim_fd_get(in), 1) || !dev_either(out, in))
		return REAL(splice)(in, off_in, out, off_out, n, flags);
	return shim_ret(-EINVAL);
}

SHIM_EXPORT ssize_t copy_file_range(int in, off64_t *off_in, int out, off64_t *off_out, size_t n,
				    unsigned int flags)
{
	if (__builtin_expect(!shim_fd_get(out) && !shim_fd_get(in), 1) || !dev_either(out, in))
		return REAL(copy_file_range)(in, off_in, out, off_out, n, flags);
	return shim_ret(-EINVAL);
}
