/* SPDX-License-Identifier: MIT */
/*
 * The open family.  Opening a device connects a new socket to the driver;
 * that socket is the program's fd (numbered like any open), and its first
 * message is OPEN, carrying the socket itself so the driver can verify it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "shim_i.h"

/*
 * The OPEN's answer.  A signal handler that runs meanwhile interrupts the
 * open as the kernel's FUSE_INTERRUPT would (the driver may give up with
 * EINTR), and we wait on for the answer.  The interrupt goes on the
 * thread's control channel: the driver reads the file connection only
 * once the open is answered.
 */
static int recv_open_reply(struct shim_dev *dev, int fd, uint64_t unique,
			   struct cuseshim_open_out *out)
{
	struct fuse_out_header hdr;
	struct iovec v[2] = {{&hdr, sizeof(hdr)}, {out, sizeof(*out)}};
	struct msghdr mh = {.msg_iov = v, .msg_iovlen = 2};
	bool interrupted = false;
	struct shim_chan *ch;
	ssize_t n;

	/* recvmsg on a socket with a receive timeout is not restarted after
	 * a handler, even with SA_RESTART (signal(7)) */
	static const struct timeval hour = {3600, 0};

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &hour, sizeof(hour));
	for (;;) {
		n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);
		if (n >= 0 || (errno != EINTR && errno != EAGAIN))
			break;
		if (errno == EINTR && !interrupted && shim_chan_get(dev, &ch) == 0) {
			interrupted = true;
			shim_chan_interrupt(ch, unique);
		}
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &(struct timeval){0, 0}, sizeof(struct timeval));
	if (n <= 0)
		return -ENXIO; /* the driver went away during open */
	if ((size_t)n < sizeof(hdr) || hdr.len != (uint32_t)n || hdr.unique != unique)
		return -EIO;
	if (hdr.error)
		return hdr.error > -1000 && hdr.error < 0 && n == sizeof(hdr) ? hdr.error : -EIO;
	if ((size_t)n != sizeof(hdr) + sizeof(*out) || out->hello.magic != CUSESHIM_MAGIC)
		return -EIO;
	return 0;
}

/* O_PATH: the kernel does not call the driver's open.  Hold the registry
 * entry instead, so that fstat and fchdir-free uses behave, and read and
 * write fail EBADF as on an O_PATH fd. */
static int open_path_only(struct shim_dev *dev, int flags)
{
	struct shim_file *f;
	struct stat st;
	int fd = (int)syscall(SYS_openat, AT_FDCWD, dev->attr_path,
			      O_PATH | O_NOFOLLOW | (flags & O_CLOEXEC));

	if (fd < 0)
		return -ENOENT;
	if (shim_sys_fstat(fd, &st) || !(f = shim_file_new(dev, st.st_ino))) {
		shim_sys_close(fd);
		return -ENOMEM;
	}
	f->opath = true;
	f->flags_known = true;
	f->open_flags = O_PATH | 0100000;
	shim_fd_set(fd, f);
	shim_file_put(f);
	return fd;
}

int shim_open_device(struct shim_dev *dev, int flags)
{
	static _Atomic uint64_t opens;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct fuse_in_header in = {0};
	struct cuseshim_open_in oi = {0};
	struct cuseshim_open_out out;
	struct iovec iov[2] = {{&in, sizeof(in)}, {&oi, sizeof(oi)}};
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct msghdr mh = {.msg_iov = iov,
			    .msg_iovlen = 2,
			    .msg_control = ctl.buf,
			    .msg_controllen = sizeof(ctl.buf)};
	struct cmsghdr *cm;
	struct shim_file *f;
	struct stat st;
	int fd, err;

	if (flags & O_DIRECTORY)
		return -ENOTDIR;
	if ((flags & (O_CREAT | O_EXCL)) == (O_CREAT | O_EXCL))
		return -EEXIST; /* the node exists */
	if (dev->is_cuse)
		return shim_cuse_open(flags);
	if (flags & O_PATH)
		return open_path_only(dev, flags);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | ((flags & O_CLOEXEC) ? SOCK_CLOEXEC : 0), 0);
	if (fd < 0)
		return -errno;
	strncpy(sa.sun_path, dev->sock_path, sizeof(sa.sun_path) - 1);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		/* ECONNREFUSED: nobody listens any more, the driver (or its
		 * bridge, a moment after the driver) is ending: the kernel's
		 * node is gone then */
		err = errno == ENOENT || errno == ECONNREFUSED ? -ENOENT
		      : errno == EACCES			       ? -EACCES
							       : -ENXIO;
		goto fail;
	}
	in.len = sizeof(in) + sizeof(oi);
	in.opcode = CUSESHIM_OP_OPEN;
	in.unique = CUSESHIM_OPEN_UNIQUE | atomic_fetch_add(&opens, 1);
	oi.hello.magic = CUSESHIM_MAGIC;
	oi.hello.major = CUSESHIM_PROTO_MAJOR;
	oi.hello.minor = CUSESHIM_PROTO_MINOR;
	oi.hello.tid = shim_sys_gettid();
	oi.open.flags = proto_open_flags(flags);
	memset(&ctl, 0, sizeof(ctl));
	cm = CMSG_FIRSTHDR(&mh);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	if (sendmsg(fd, &mh, MSG_NOSIGNAL) < 0) {
		err = -ENXIO;
		goto fail;
	}
	err = recv_open_reply(dev, fd, in.unique, &out);
	if (err)
		goto fail;
	if ((flags & (O_NONBLOCK | O_APPEND)) &&
	    shim_sys_fcntl(fd, F_SETFL, flags & (O_NONBLOCK | O_APPEND))) {
		err = -errno;
		goto fail;
	}
	if (shim_sys_fstat(fd, &st)) {
		err = -errno;
		goto fail;
	}
	f = shim_file_new(dev, st.st_ino);
	if (!f) {
		err = -ENOMEM;
		goto fail;
	}
	f->open_flags = oi.open.flags;
	f->flags_known = true;
	shim_fd_set(fd, f);
	shim_file_put(f);
	if (shim_cfg.debug)
		shim_trace("open %s flags 0%o -> fd %d\n", dev->name, oi.open.flags, fd);
	return fd;
fail:
	shim_sys_close(fd);
	if (err == -EACCES && !dev->told_denied) {
		dev->told_denied = true;
		char path[300];

		snprintf(path, sizeof(path), "/dev/%s", dev->name);
		shim_log(REGISTRY_MSG_DENIED, path, dev->attr.mode, (unsigned)dev->attr.uid,
			 (unsigned)dev->attr.gid);
	}
	return err;
}

static bool has_mode(int flags)
{
	return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE;
}

/* Common body: @dirfd is AT_FDCWD for the open() forms. */
static int do_open(int (*real_open)(const char *, int, ...), int dirfd,
		   int (*real_openat)(int, const char *, int, ...), const char *path, int flags,
		   mode_t mode)
{
	char abs[PATH_MAX];
	const char *p = path;
	struct shim_dev *dev;
	int r, fd, saved;

	if (shim_path_absolute(dirfd, path, abs, sizeof(abs)))
		p = abs; /* relative to "/" or "/dev" */
	if (p && p[0] == '/' && p[1] == 'p' && !strncmp(p, "/proc/", 6)) {
		/* /proc/self/fd/N of a device: a new open of it, as the
		 * kernel does (a socket could not be reopened so) */
		struct shim_file *f = shim_fd_link(p);

		if (f)
			return (int)shim_ret(shim_open_device(f->dev, flags));
	}
	if (p && p[0] == '/' && p[1] == 'd' && !strncmp(p, "/dev/fd/", 8)) {
		struct shim_file *f = shim_fd_link(p);

		if (f)
			return (int)shim_ret(shim_open_device(f->dev, flags));
	}
	if (shim_path_candidate(p)) {
		r = shim_path_lookup(AT_FDCWD, p, &dev);
		if (r < 0)
			return (int)shim_ret(r);
		if (r > 0)
			return (int)shim_ret(shim_open_device(dev, flags));
	}
	saved = errno;
	fd = real_open ? real_open(path, flags, mode) : real_openat(dirfd, path, flags, mode);
	/* Through a symlink to a device (path.c): the real call found it
	 * dangling, or could not create its target in /dev. */
	if (__builtin_expect(fd < 0, 0) && !(flags & O_NOFOLLOW) &&
	    (errno == ENOENT || (errno == EACCES && (flags & O_CREAT))) &&
	    shim_path_follow(dirfd, path, true, &dev) > 0) {
		errno = saved;
		return (int)shim_ret(shim_open_device(dev, flags));
	}
	/* A number we missed the close of, or a directory fd of "/" or
	 * "/dev": only then is there state to update (and, in a vfork
	 * child, none that is ours to update). */
	if (fd >= 0 && (shim_fd_get(fd) || shim_dirfd_changes(fd, p)) && !shim_shared_child()) {
		shim_fd_forget(fd);
		shim_dirfd_opened(fd, p);
	}
	return fd;
}

#define OPEN_WRAPPER(name)                                                                         \
	SHIM_EXPORT int name(const char *path, int flags, ...)                                     \
	{                                                                                          \
		mode_t mode = 0;                                                                   \
		if (has_mode(flags)) {                                                             \
			va_list ap;                                                                \
			va_start(ap, flags);                                                       \
			mode = va_arg(ap, mode_t);                                                 \
			va_end(ap);                                                                \
		}                                                                                  \
		return do_open(REAL(name), AT_FDCWD, NULL, path, flags, mode);                     \
	}

#define OPENAT_WRAPPER(name)                                                                       \
	SHIM_EXPORT int name(int dirfd, const char *path, int flags, ...)                          \
	{                                                                                          \
		mode_t mode = 0;                                                                   \
		if (has_mode(flags)) {                                                             \
			va_list ap;                                                                \
			va_start(ap, flags);                                                       \
			mode = va_arg(ap, mode_t);                                                 \
			va_end(ap);                                                                \
		}                                                                                  \
		return do_open(NULL, dirfd, REAL(name), path, flags, mode);                        \
	}

OPEN_WRAPPER(open)
OPEN_WRAPPER(open64)
OPENAT_WRAPPER(openat)
OPENAT_WRAPPER(openat64)

static int open2(int (*real)(const char *, int, ...), const char *path, int flags)
{
	return do_open(real, AT_FDCWD, NULL, path, flags, 0);
}

static int open2_real_plain(const char *path, int flags, ...)
{
	return REAL(__open_2)(path, flags);
}

static int open64_2_real_plain(const char *path, int flags, ...)
{
	return REAL(__open64_2)(path, flags);
}

static int openat2_real_plain(int dirfd, const char *path, int flags, ...)
{
	return REAL(__openat_2)(dirfd, path, flags);
}

static int openat64_2_real_plain(int dirfd, const char *path, int flags, ...)
{
	return REAL(__openat64_2)(dirfd, path, flags);
}

SHIM_EXPORT int __open_2(const char *path, int flags)
{
	return open2(open2_real_plain, path, flags);
}

SHIM_EXPORT int __open64_2(const char *path, int flags)
{
	return open2(open64_2_real_plain, path, flags);
}

SHIM_EXPORT int __openat_2(int dirfd, const char *path, int flags)
{
	return do_open(NULL, dirfd, openat2_real_plain, path, flags, 0);
}

SHIM_EXPORT int __openat64_2(int dirfd, const char *path, int flags)
{
	return do_open(NULL, dirfd, openat64_2_real_plain, path, flags, 0);
}

static int creat_real(const char *path, int flags, ...)
{
	va_list ap;
	mode_t mode;

	va_start(ap, flags);
	mode = va_arg(ap, mode_t);
	va_end(ap);
	return REAL(creat)(path, mode);
}

static int creat64_real(const char *path, int flags, ...)
{
	va_list ap;
	mode_t mode;

	va_start(ap, flags);
	mode = va_arg(ap, mode_t);
	va_end(ap);
	return REAL(creat64)(path, mode);
}

SHIM_EXPORT int creat(const char *path, mode_t mode)
{
	return do_open(creat_real, AT_FDCWD, NULL, path, O_CREAT | O_WRONLY | O_TRUNC, mode);
}

SHIM_EXPORT int creat64(const char *path, mode_t mode)
{
	return do_open(creat64_real, AT_FDCWD, NULL, path, O_CREAT | O_WRONLY | O_TRUNC, mode);
}
