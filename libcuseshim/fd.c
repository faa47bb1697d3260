/* SPDX-License-Identifier: MIT */
/*
 * fd lifecycle: close, dup*, fcntl.  The device fd is a real socket, so the
 * kernel does the work; the shim keeps its table in step, reports the
 * flags a CUSE file would have, and makes close() wait for RELEASE when it
 * was the last close (the kernel's release is synchronous).
 */
#include <fcntl.h>
#include <linux/close_range.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <sys/file.h>

#include "shim_i.h"

void shim_after_close(struct shim_file *f)
{
	if (!f)
		return;
	if (!f->opath)
		shim_closed(f);
	shim_file_put(f);
}

/*
 * exit(): the kernel closes a process's files as it exits, and runs each
 * last close's release before the parent can see the exit.  The shim's
 * destructor (init.c) does the same for device fds: first what stdio still
 * holds for them is written (glibc flushes only after the destructors,
 * and the driver must get the data before the release), then each fd that
 * still is the device is closed through close().  _exit, a fatal signal
 * and exec do not come here: those releases follow the socket's end, and
 * the device's next open waits for them.
 */
void shim_exit_files(void)
{
	int fd;

	if (__builtin_expect(shim_fd_next(0) < 0, 1) || shim_shared_child())
		return;
	shim_stdio_exit_flush();
	for (fd = shim_fd_next(0); fd >= 0; fd = shim_fd_next(fd + 1)) {
		struct shim_file *f = shim_fd_get(fd);

		if (f && !f->opath && shim_fd_verify(fd, f))
			close(fd);
	}
}

SHIM_EXPORT int close(int fd)
{
	struct shim_file *f;
	int r;

	if (__builtin_expect(shim_is_internal_fd(fd), 0))
		return (int)shim_ret(-EBADF); /* not the program's to close */
	if (__builtin_expect(!shim_fd_get(fd), 1)) {
		shim_epoll_close(fd);
		shim_dirfd_closed(fd);
		return REAL(close)(fd);
	}
	if (shim_shared_child())
		return REAL(close)(fd); /* the parent's table is not ours */
	f = shim_fd_take(fd);
	r = REAL(close)(fd);
	if (r == 0 || errno != EBADF) {
		int saved = errno;

		shim_after_close(f);
		errno = saved;
		return 0; /* a CUSE close always succeeds */
	}
	shim_file_put(f);
	return r;
}

SHIM_EXPORT int dup(int fd)
{
	struct shim_file *f = shim_fd_dev(fd);
	int r = REAL(dup)(fd);

	if (r >= 0) {
		if (f)
			shim_fd_set(r, f);
		else
			shim_fd_forget(r);
	}
	return r;
}

static int dup_to(int oldfd, int newfd, int flags, bool is_dup3)
{
	struct shim_file *f, *old = NULL;
	int r;

	if (shim_is_internal_fd(oldfd))
		return (int)shim_ret(-EBADF);
	if ((shim_fd_get(oldfd) || shim_fd_get(newfd) || shim_is_internal_fd(newfd)) &&
	    shim_shared_child())
		return is_dup3 ? REAL(dup3)(oldfd, newfd, flags) : REAL(dup2)(oldfd, newfd);
	shim_move_internal_fd(newfd);
	f = shim_fd_dev(oldfd);
	if (oldfd != newfd)
		old = shim_fd_get(newfd) ? shim_fd_take(newfd) : NULL;
	r = is_dup3 ? REAL(dup3)(oldfd, newfd, flags) : REAL(dup2)(oldfd, newfd);
	if (r < 0) {
		if (old)
			shim_fd_set(newfd, old), shim_file_put(old);
		return r;
	}
	if (f)
		shim_fd_set(r, f);
	else if (oldfd != newfd)
		shim_fd_forget(r);
	if (old && old != f) {
		int saved = errno;

		shim_after_close(old);
		errno = saved;
	} else {
		shim_file_put(old);
	}
	return r;
}

SHIM_EXPORT int dup2(int oldfd, int newfd)
{
	return dup_to(oldfd, newfd, 0, false);
}

SHIM_EXPORT int dup3(int oldfd, int newfd, int flags)
{
	return dup_to(oldfd, newfd, flags, true);
}

/*
 * File locks.  The kernel keeps flock and fcntl locks on the device's
 * inode, shared by every open of the node.  Here the driver's libcused
 * keeps them: flock locks per open file (FLOCK), fcntl and lockf record
 * locks per process or, the OFD ones, per open file (PLOCK).  A driver
 * that predates them answers ENOSYS (or, for PLOCK, says an older
 * protocol minor), and the lock is then taken on our socket, which is of
 * one open alone: it excludes nobody, and the first one in a process says
 * so, once.
 */
static void lock_unshared(struct shim_file *f, const char *call)
{
	static atomic_bool said;

	if (!atomic_exchange(&said, true))
		shim_log("%s on /dev/%s: locks on an emulated device are not shared between its "
			 "opens, so this one excludes no other process (see README)\n",
			 call, f->dev->name);
}

/* One request of ours about @f, @arg its fixed arguments, answered with
 * an error alone or @out: 0 or -errno.  @restart: wait as the kernel waits for a
 * lock, restarted after a signal handler with SA_RESTART (the channel's
 * receive timeout, which makes every signal end the wait, is off meanwhile);
 * otherwise a signal interrupts the request, as a FUSE request's. */
static int file_call(int fd, struct shim_file *f, uint32_t opcode, void *arg, size_t size,
		     void *out, size_t out_size, bool restart)
{
	static const struct timeval none = {0, 0}, hour = {3600, 0};
	struct fuse_in_header in = {0};
	struct iovec req[2] = {{&in, sizeof(in)}, {arg, size}};
	struct shim_chan *ch;
	uint64_t handle;
	ssize_t n;
	int err;

	err = shim_file_chan(fd, f, &ch, &handle);
	if (err)
		return err;
	if (opcode == CUSESHIM_OP_PLOCK && shim_chan_hello(ch)->minor < 8)
		return -ENOSYS;
	in.len = (uint32_t)(sizeof(in) + size);
	in.opcode = opcode;
	in.unique = shim_chan_unique(ch);
	in.nodeid = handle;
	if (restart)
		setsockopt(shim_chan_fd(ch), SOL_SOCKET, SO_RCVTIMEO, &none, sizeof(none));
	n = shim_chan_call(ch, req, 2, -1, out, out_size, NULL, 0);
	if (restart)
		setsockopt(shim_chan_fd(ch), SOL_SOCKET, SO_RCVTIMEO, &hour, sizeof(hour));
	return n < 0 ? (int)n : 0;
}

static int dev_flock(int fd, struct shim_file *f, int op)
{
	struct cuseshim_flock_in li = {.op = (uint32_t)op};
	int err;

	if (f->opath)
		return -EBADF;
	err = file_call(fd, f, CUSESHIM_OP_FLOCK, &li, sizeof(li), NULL, 0,
			!(op & LOCK_NB) && (op & ~LOCK_NB) != LOCK_UN);
	if (err != -ENOSYS)
		return err;
	lock_unshared(f, "flock");
	return REAL(flock)(fd, op) ? -errno : 0;
}

SHIM_EXPORT int flock(int fd, int op)
{
	struct shim_file *f = shim_fd_dev(fd);

	if (__builtin_expect(!f, 1))
		return REAL(flock)(fd, op);
	return (int)shim_ret(dev_flock(fd, f, op));
}

/*
 * fcntl's record locks on a device: @fl is the caller's struct flock
 * (copied by the kernel, so that a bad pointer is EFAULT).  l_whence
 * counts from 0 whatever it is: a CUSE file's offset never moves and its
 * size is 0.  Returns 0, -errno, or 1 when the driver cannot keep them.
 */
static int dev_plock(int fd, struct shim_file *f, int cmd, void *fl_user)
{
	struct cuseshim_plock_in pi;
	struct cuseshim_plock_out po;
	struct flock fl;
	struct iovec mine = {&fl, sizeof(fl)}, theirs = {fl_user, sizeof(fl)};
	int err;

	if (process_vm_readv(shim_sys_getpid(), &mine, 1, &theirs, 1, 0) != sizeof(fl))
		return -EFAULT;
	err = proto_plock_in(cmd, &fl, &pi);
	if (!err)
		err = file_call(fd, f, CUSESHIM_OP_PLOCK, &pi, sizeof(pi), &po, sizeof(po),
				pi.cmd == CUSESHIM_PLOCK_WAIT);
	if (err == -ENOSYS)
		return 1;
	if (err || pi.cmd != CUSESHIM_PLOCK_GET)
		return err;
	proto_plock_out(&po, &fl);
	if (process_vm_writev(shim_sys_getpid(), &mine, 1, &theirs, 1, 0) != sizeof(fl))
		return -EFAULT;
	return 0;
}

/* lockf(3) as glibc makes it of fcntl: a write lock from the offset (0 on
 * a CUSE file) for @len bytes; F_TEST asks whether another process holds
 * one there. */
static int dev_lockf(int fd, struct shim_file *f, int cmd, off_t len)
{
	struct flock fl = {.l_whence = SEEK_CUR, .l_start = 0, .l_len = len};
	int r;

	switch (cmd) {
	case F_TEST:
		fl.l_type = F_RDLCK;
		r = dev_plock(fd, f, F_GETLK, &fl);
		if (r)
			return r;
		return fl.l_type == F_UNLCK || fl.l_pid == shim_sys_getpid() ? 0 : -EACCES;
	case F_ULOCK: fl.l_type = F_UNLCK; return dev_plock(fd, f, F_SETLK, &fl);
	case F_LOCK: fl.l_type = F_WRLCK; return dev_plock(fd, f, F_SETLKW, &fl);
	case F_TLOCK: fl.l_type = F_WRLCK; return dev_plock(fd, f, F_SETLK, &fl);
	default: return -EINVAL;
	}
}

SHIM_EXPORT int lockf(int fd, int cmd, off_t len)
{
	struct shim_file *f = shim_fd_dev(fd);
	int r;

	if (__builtin_expect(!f, 1) || f->opath)
		return REAL(lockf)(fd, cmd, len);
	r = dev_lockf(fd, f, cmd, len);
	if (r != 1)
		return (int)shim_ret(r);
	if (cmd != F_TEST)
		lock_unshared(f, "lockf");
	return REAL(lockf)(fd, cmd, len);
}

SHIM_EXPORT int lockf64(int fd, int cmd, off64_t len)
{
	return lockf(fd, cmd, (off_t)len);
}

/* The driver's RELEASE carries the file's f_flags at the last close:
 * tell it when F_SETFL or FIONBIO changed them (a driver that predates
 * SETFL answers ENOSYS, and its RELEASE has the flags of the last
 * request instead). */
void shim_flags_changed(int fd, struct shim_file *f)
{
	struct cuseshim_setfl_in si = {0};
	int saved = errno;

	if (shim_ensure_flags(fd, f) == 0) {
		si.flags = shim_file_flags(fd, f);
		file_call(fd, f, CUSESHIM_OP_SETFL, &si, sizeof(si), NULL, 0, false);
	}
	errno = saved;
}

static int do_fcntl(int (*real)(int, int, ...), int fd, int cmd, void *arg)
{
	struct shim_file *f = shim_fd_dev(fd);
	int r, err;

	if (__builtin_expect(!f, 1)) {
		r = real(fd, cmd, arg);
		if (r >= 0 && (cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC))
			shim_fd_forget(r);
		return r;
	}
	if (f->opath && cmd != F_DUPFD && cmd != F_DUPFD_CLOEXEC)
		return real(fd, cmd, arg);
	switch (cmd) {
	case F_DUPFD:
	case F_DUPFD_CLOEXEC:
		r = real(fd, cmd, arg);
		if (r >= 0)
			shim_fd_set(r, f);
		return r;
	case F_GETFL:
		err = shim_ensure_flags(fd, f);
		if (err)
			return (int)shim_ret(err);
		return (int)shim_file_flags(fd, f);
	case F_SETFL:
		/* CUSE files have no fasync: O_ASYNC is accepted and dropped. */
		r = real(fd, cmd, (void *)((long)arg & ~(long)O_ASYNC));
		if (r == 0)
			shim_flags_changed(fd, f);
		return r;
	case F_GETLK:
	case F_SETLK:
	case F_SETLKW:
	case F_OFD_GETLK:
	case F_OFD_SETLK:
	case F_OFD_SETLKW:
		r = dev_plock(fd, f, cmd, arg);
		if (r != 1)
			return (int)shim_ret(r);
		if (cmd != F_GETLK && cmd != F_OFD_GETLK)
			lock_unshared(f, "fcntl");
		return real(fd, cmd, arg);
	default: return real(fd, cmd, arg);
	}
}

SHIM_EXPORT int fcntl(int fd, int cmd, ...)
{
	va_list ap;
	void *arg;

	va_start(ap, cmd);
	arg = va_arg(ap, void *);
	va_end(ap);
	return do_fcntl(REAL(fcntl), fd, cmd, arg);
}

SHIM_EXPORT int fcntl64(int fd, int cmd, ...)
{
	va_list ap;
	void *arg;

	va_start(ap, cmd);
	arg = va_arg(ap, void *);
	va_end(ap);
	return do_fcntl(REAL(fcntl64), fd, cmd, arg);
}

/*
 * close_range and closefrom: our internal fds are skipped (the range is
 * split around them), device fds in the range are forgotten and, as with
 * close(), the last close waits for the driver's release.
 */
static int close_range_(unsigned first, unsigned last, int flags)
{
	unsigned lo = first;
	int r = 0;

	if (first > last)
		return -EINVAL;
	if ((flags & CLOSE_RANGE_CLOEXEC) || shim_shared_child())
		return REAL(close_range)(first, last, flags) ? -errno : 0;
	while (lo <= last) {
		int in = shim_next_internal_fd(lo);
		unsigned hi = (in < 0 || (unsigned)in > last) ? last : (unsigned)in - 1;

		if (in != (int)lo && REAL(close_range)(lo, hi, flags))
			r = -errno;
		if (in < 0 || (unsigned)in >= last)
			break;
		lo = (unsigned)in + 1;
	}
	shim_fd_take_range(first, last, shim_after_close);
	return r;
}

SHIM_EXPORT int close_range(unsigned int first, unsigned int last, int flags)
{
	return (int)shim_ret(close_range_(first, last, flags));
}

SHIM_EXPORT void closefrom(int lowfd)
{
	int saved = errno;

	close_range_(lowfd < 0 ? 0 : (unsigned)lowfd, ~0U, 0);
	errno = saved;
}
