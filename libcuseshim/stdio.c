/* SPDX-License-Identifier: MIT */
/*
 * stdio on device fds.  glibc's FILE makes its open, read, write, fstat,
 * ioctl(TCGETS) and close system calls inside libc, where no wrapper of
 * ours sees them.  So a FILE on a device is a stream of our own, built with
 * fopencookie: its callbacks read and write through shim_dev_rw, by the
 * kernel's rules, and its close goes through the shim's close() (the last
 * close waits for RELEASE).
 *
 * Objects:
 *   struct stream  the cookie of one such FILE: the fd and a 4096-byte
 *                  buffer (a CUSE node's st_blksize, what glibc would
 *                  use).  Allocated by whoever makes the FILE, freed by
 *                  its close callback; listed so that freopen can tell
 *                  our FILEs from glibc's.
 *
 * What glibc does and we repeat: the stream's _fileno is the fd, so
 * fileno(f) and ioctl(fileno(f), ...) work; on the first use of a buffer
 * glibc probes a character device with TCGETS and line-buffers a tty -
 * we probe when the FILE is made (the driver sees the TCGETS a little
 * earlier than it would in the kernel, and also for a stream that is never
 * used); lseek on a CUSE file returns 0, so the seek callback does too.
 *
 * Differences left (glibc's cookie FILEs are not its file FILEs):
 *  - an fread larger than the buffer reads 4096 bytes at a time; glibc's
 *    file stream would read it straight into the caller's buffer in one
 *    read(2);
 *  - the streams are byte-oriented: wide-character I/O on them fails;
 *  - ",ccs=" in a mode is refused (EINVAL).
 *
 * freopen must keep the FILE pointer (freopen("/dev/X", "w", stdout)):
 *  - on one of our streams: reopen the device (or the file), dup3 the new
 *    fd over the stream's fd, and reset the stream in place.  Reads and
 *    writes keep working.  (glibc's own freopen would crash on a cookie
 *    FILE: it writes through the _wide_data of a byte stream.)
 *  - on a FILE of glibc's: reset it with the real freopen onto /dev/null
 *    and dup3 the device over its fd.  Writes then reach the driver as
 *    data written on the device socket (libcused makes them WRITEs, after
 *    the writer has returned); reads cannot work through that FILE, so
 *    they fail with EBADF at once instead of blocking.  If the FILE is
 *    stdin, stdout or stderr and the mode reads, that variable is pointed
 *    at a stream of ours on the same fd, and freopen returns it: code that
 *    uses stdin after freopen(..., stdin) reads the device; a pointer
 *    saved before freopen cannot read it.
 *
 * At start-up, std fds that are devices (`sort < /dev/X`) get streams of
 * ours as stdin, stdout and stderr.  Their directions are glibc's (stdin
 * reads, stdout and stderr write, whatever the fd's access mode: the
 * device then answers EBADF as the kernel would); stderr is unbuffered.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "shim_i.h"

#define STREAM_BUFSIZE 4096

/* The direction bits of a FILE's _flags (glibc libio/libio.h, the public
 * <libio.h> until glibc 2.27 and unchanged since).  _IO_EOF_SEEN and
 * _IO_ERR_SEEN are in the public <bits/types/struct_FILE.h>. */
#define GLIBC_NO_READS		0x0004
#define GLIBC_NO_WRITES		0x0008
#define GLIBC_CURRENTLY_PUTTING 0x0800
#define GLIBC_IS_APPENDING	0x1000
#define GLIBC_DIRECTION		(GLIBC_NO_READS | GLIBC_NO_WRITES | GLIBC_IS_APPENDING)

struct stream {
	FILE *fp;
	int fd; /* -1 once a failed freopen closed it */
	bool unbuffered;
	struct stream *next;
	char buf[STREAM_BUFSIZE];
};

/* A mode string, as glibc's fopen or fdopen reads it. */
struct stream_mode {
	int flags;   /* for open(2) */
	unsigned io; /* GLIBC_DIRECTION bits */
	bool ccs;
};

static struct stream *streams;
static pthread_mutex_t streams_lock = PTHREAD_MUTEX_INITIALIZER;

/* errno, once, at the boundary of a function returning a FILE. */
static FILE *stdio_fail(int err)
{
	errno = -err;
	return NULL;
}

/* ---------------------------------------------------------------- modes */

/* libio/fileops.c _IO_new_file_fopen: the first letter, then up to six
 * more; letters it does not know are skipped, ",ccs=" may follow. */
static int parse_fopen_mode(const char *mode, struct stream_mode *m)
{
	const char *last;
	int i;

	memset(m, 0, sizeof(*m));
	switch (*mode) {
	case 'r':
		m->flags = O_RDONLY;
		m->io = GLIBC_NO_WRITES;
		break;
	case 'w':
		m->flags = O_WRONLY | O_CREAT | O_TRUNC;
		m->io = GLIBC_NO_READS;
		break;
	case 'a':
		m->flags = O_WRONLY | O_CREAT | O_APPEND;
		m->io = GLIBC_NO_READS | GLIBC_IS_APPENDING;
		break;
	default: return -EINVAL;
	}
	last = mode;
	for (i = 1; i < 7; i++) {
		switch (*++mode) {
		case '\0': break;
		case '+':
			m->flags = (m->flags & ~O_ACCMODE) | O_RDWR;
			m->io &= GLIBC_IS_APPENDING;
			last = mode;
			continue;
		case 'x':
			m->flags |= O_EXCL;
			last = mode;
			continue;
		case 'b': last = mode; continue;
		case 'e': m->flags |= O_CLOEXEC; continue;
		default: continue; /* 'm', 'c': nothing to do on a device */
		}
		break;
	}
	m->ccs = strstr(last + 1, ",ccs=") != NULL;
	return 0;
}

/* libio/iofdopen.c: the first letter, then up to four more; a '+' ends it. */
static int parse_fdopen_mode(const char *mode, struct stream_mode *m)
{
	int i;

	memset(m, 0, sizeof(*m));
	switch (*mode) {
	case 'r': m->io = GLIBC_NO_WRITES; break;
	case 'w': m->io = GLIBC_NO_READS; break;
	case 'a': m->io = GLIBC_NO_READS | GLIBC_IS_APPENDING; break;
	default: return -EINVAL;
	}
	for (i = 1; i < 5; i++) {
		switch (*++mode) {
		case '\0': break;
		case '+': m->io &= GLIBC_IS_APPENDING; break;
		default: continue;
		}
		break;
	}
	return 0;
}

/* The same direction as a mode string for fopencookie or freopen. */
static void mode_string(unsigned io, bool cloexec, char out[4])
{
	char *p = out;

	*p++ = (io & GLIBC_NO_WRITES) ? 'r' : (io & GLIBC_IS_APPENDING) ? 'a' : 'w';
	if (!(io & (GLIBC_NO_READS | GLIBC_NO_WRITES)))
		*p++ = '+';
	if (cloexec)
		*p++ = 'e';
	*p = '\0';
}

/* ---------------------------------------------------------------- cookie */

static ssize_t stream_io(struct stream *c, char *buf, size_t n, bool is_write)
{
	struct shim_file *f;
	ssize_t r;

	if (c->fd < 0)
		return -EBADF;
	f = shim_fd_get(c->fd);
	if (f)
		return shim_dev_rw(c->fd, f, buf, n, is_write);
	/* not a device (any more): the fd, as glibc would use it */
	r = is_write ? REAL(write)(c->fd, buf, n) : REAL(read)(c->fd, buf, n);
	return r < 0 ? -errno : r;
}

static ssize_t stream_read(void *cookie, char *buf, size_t n)
{
	int saved = errno;
	ssize_t r = stream_io(cookie, buf, n, false);

	if (r < 0) {
		errno = (int)-r;
		return -1;
	}
	errno = saved;
	return r;
}

/* Like glibc's _IO_new_file_write: write it all, stop at an error (the
 * stream then has its error flag set by the short count).  A write that
 * returns 0 ends it too, where glibc would spin. */
static ssize_t stream_write(void *cookie, const char *buf, size_t n)
{
	int saved = errno;
	size_t done = 0;

	while (done < n) {
		ssize_t r = stream_io(cookie, (char *)buf + done, n - done, true);

		if (r < 0) {
			saved = (int)-r;
			break;
		}
		if (r == 0)
			break;
		done += r;
	}
	errno = saved;
	return done;
}

/* A CUSE file's lseek is noop_llseek: it succeeds, the position stays 0. */
static int stream_seek(void *cookie, off64_t *pos, int whence)
{
	struct stream *c = cookie;
	off64_t r;

	if (c->fd >= 0 && shim_fd_get(c->fd)) {
		*pos = 0;
		return 0;
	}
	r = REAL(lseek64)(c->fd, *pos, whence);
	if (r < 0)
		return -1;
	*pos = r;
	return 0;
}

static void streams_remove(struct stream *c)
{
	struct stream **pp;

	pthread_mutex_lock(&streams_lock);
	for (pp = &streams; *pp; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	pthread_mutex_unlock(&streams_lock);
}

/* fclose: the fd goes through the shim's close(), so the release is
 * waited for, once.  glibc touches the buffer no more after this. */
static int stream_close(void *cookie)
{
	struct stream *c = cookie;
	int r = 0;

	streams_remove(c);
	if (c->fd >= 0)
		r = close(c->fd);
	free(c);
	return r;
}

static const cookie_io_functions_t stream_funcs = {
	.read = stream_read,
	.write = stream_write,
	.seek = stream_seek,
	.close = stream_close,
};

static struct stream *stream_find(FILE *fp)
{
	struct stream *c;

	pthread_mutex_lock(&streams_lock);
	for (c = streams; c && c->fp != fp; c = c->next)
		;
	pthread_mutex_unlock(&streams_lock);
	return c;
}

/* glibc's buffering for the file now at c->fd (libio/filedoalloc.c): a
 * character device is probed with TCGETS and a tty is line-buffered. */
static void stream_buffering(struct stream *c)
{
	struct shim_file *f = c->fd >= 0 ? shim_fd_get(c->fd) : NULL;
	bool tty = false;
	struct stat st;

	if (c->unbuffered) {
		setvbuf(c->fp, NULL, _IONBF, 0);
		return;
	}
	if (f) {
		unsigned char k[64] = {0}; /* the kernel's struct termios: 36 */

		tty = shim_dev_ioctl(c->fd, f, TCGETS, k) == 0;
	} else if (c->fd >= 0 && !shim_sys_fstat(c->fd, &st) && S_ISCHR(st.st_mode)) {
		tty = REAL(isatty)(c->fd) == 1;
	}
	setvbuf(c->fp, c->buf, tty ? _IOLBF : _IOFBF, sizeof(c->buf));
}

/* A FILE of ours on @fd.  NULL (-errno in *err) if out of memory. */
static FILE *stream_new(int fd, unsigned io, bool unbuffered, int *err)
{
	struct stream *c = calloc(1, sizeof(*c));
	char mode[4];

	if (!c) {
		*err = -ENOMEM;
		return NULL;
	}
	mode_string(io, false, mode);
	c->fd = fd;
	c->unbuffered = unbuffered;
	c->fp = fopencookie(c, mode, stream_funcs);
	if (!c->fp) {
		free(c);
		*err = -ENOMEM;
		return NULL;
	}
	c->fp->_fileno = fd;
	stream_buffering(c);
	pthread_mutex_lock(&streams_lock);
	c->next = streams;
	streams = c;
	pthread_mutex_unlock(&streams_lock);
	return c->fp;
}

/* ---------------------------------------------------------------- fopen */

static FILE *fopen_device(struct shim_dev *dev, const char *mode)
{
	struct stream_mode m;
	int saved = errno, err, fd;
	FILE *fp;

	err = parse_fopen_mode(mode, &m);
	if (!err && m.ccs)
		err = -EINVAL; /* no conversion on our streams */
	if (!err && (m.flags & (O_CREAT | O_EXCL)) == (O_CREAT | O_EXCL))
		err = -EEXIST; /* the node exists */
	if (err)
		return stdio_fail(err);
	fd = shim_open_device(dev, m.flags);
	if (fd < 0)
		return stdio_fail(fd);
	fp = stream_new(fd, m.io, false, &err);
	if (!fp) {
		close(fd);
		return stdio_fail(err);
	}
	errno = saved;
	return fp;
}

static FILE *do_fopen(FILE *(*real)(const char *, const char *), const char *path, const char *mode)
{
	struct shim_dev *dev;
	int r;

	FILE *fp;

	if (__builtin_expect(!shim_path_candidate(path), 1)) {
		int saved = errno;

		fp = real(path, mode);
		/* a symlink to a device (path.c) */
		if (__builtin_expect(!fp, 0) && errno == ENOENT &&
		    shim_path_follow(AT_FDCWD, path, true, &dev) > 0) {
			errno = saved;
			return fopen_device(dev, mode);
		}
		return fp;
	}
	r = shim_path_lookup(AT_FDCWD, path, &dev);
	if (r < 0)
		return stdio_fail(r);
	if (r == 0)
		return real(path, mode);
	return fopen_device(dev, mode);
}

SHIM_EXPORT FILE *fopen(const char *path, const char *mode)
{
	return do_fopen(REAL(fopen), path, mode);
}

SHIM_EXPORT FILE *fopen64(const char *path, const char *mode)
{
	return do_fopen(REAL(fopen64), path, mode);
}

/* ---------------------------------------------------------------- fdopen */

SHIM_EXPORT FILE *fdopen(int fd, const char *mode)
{
	struct shim_file *f = shim_fd_get(fd);
	struct stream_mode m;
	int saved = errno, err, acc;
	FILE *fp;

	if (__builtin_expect(!f, 1))
		return REAL(fdopen)(fd, mode);
	err = parse_fdopen_mode(mode, &m);
	if (!err)
		err = shim_ensure_flags(fd, f);
	if (err)
		return stdio_fail(err);
	/* glibc checks the mode against F_GETFL's access mode */
	acc = (int)(shim_file_flags(fd, f) & O_ACCMODE);
	if ((acc == O_RDONLY && !(m.io & GLIBC_NO_WRITES)) ||
	    (acc == O_WRONLY && !(m.io & GLIBC_NO_READS)))
		return stdio_fail(-EINVAL);
	if (m.io & GLIBC_IS_APPENDING) {
		int now = shim_sys_fcntl(fd, F_GETFL, 0);

		if (now >= 0 && !(now & O_APPEND) && shim_sys_fcntl(fd, F_SETFL, now | O_APPEND))
			return stdio_fail(-errno);
	}
	fp = stream_new(fd, m.io, false, &err);
	if (!fp)
		return stdio_fail(err);
	errno = saved;
	return fp;
}

/* ---------------------------------------------------------------- freopen */

typedef FILE *real_freopen_fn(const char *, const char *, FILE *);

/* The real freopen closes the stream's fd out of our sight (dup3 over it,
 * or close when the open fails): take the fd out of the table first and
 * finish its close after, waiting for the release like close() does. */
static FILE *real_freopen(real_freopen_fn *real, const char *path, const char *mode, FILE *fp)
{
	int n = fp->_fileno, saved;
	struct shim_file *old = n >= 0 && shim_fd_get(n) ? shim_fd_take(n) : NULL;
	struct stat st;
	FILE *r;

	r = real(path, mode, fp);
	if (!old)
		return r;
	saved = errno;
	if (!old->opath && !shim_sys_fstat(n, &st) && S_ISSOCK(st.st_mode) &&
	    st.st_ino == old->ino) {
		shim_fd_set(n, old); /* still open: the real freopen failed early */
	} else if (!old->opath) {
		shim_closed(old);
	}
	shim_file_put(old);
	errno = saved;
	return r;
}

/* The new fd is open; put it in place of the stream's fd and reset the
 * stream for @m, keeping the FILE (lock held by the caller). */
static FILE *stream_retarget(struct stream *c, int fd, const struct stream_mode *m)
{
	FILE *fp = c->fp;
	int err;

	if (c->fd >= 0) {
		if (dup3(fd, c->fd, m->flags & O_CLOEXEC) < 0) {
			err = -errno;
			close(fd);
			return stdio_fail(err);
		}
		close(fd);
	} else {
		if (!(m->flags & O_CLOEXEC))
			shim_sys_fcntl(fd, F_SETFD, 0);
		c->fd = fd;
	}
	fp->_fileno = c->fd;
	fp->_flags &= ~(GLIBC_DIRECTION | _IO_EOF_SEEN | _IO_ERR_SEEN);
	fp->_flags |= m->io;
	stream_buffering(c);
	fp->_flags &= ~GLIBC_CURRENTLY_PUTTING;
	return fp;
}

/* The open for the new file failed: the old one is closed, as glibc's
 * freopen does, and the stream is unusable.  Its _fileno becomes -2,
 * fopencookie's "no fd, but open": an fclose still reaches our close
 * callback, which unlists and frees the cookie (with -1 glibc would free
 * the FILE and leave us a stale entry). */
static FILE *stream_fail(struct stream *c, int err)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->fp->_fileno = -2;
	return stdio_fail(err);
}

/* freopen on a stream of ours: @dev is the device to open, or NULL for
 * @path (NULL: the file the stream has open, as /proc/self/fd/N). */
static FILE *freopen_ours(struct stream *c, struct shim_dev *dev, const char *path,
			  const char *mode)
{
	struct stream_mode m;
	char self[32];
	FILE *r;
	int err, fd;

	flockfile(c->fp);
	fflush(c->fp); /* a failed flush does not stop freopen */
	err = parse_fopen_mode(mode, &m);
	if (!err && m.ccs)
		err = -EINVAL;
	if (!err && dev && (m.flags & (O_CREAT | O_EXCL)) == (O_CREAT | O_EXCL))
		err = -EEXIST;
	if (err) {
		r = stream_fail(c, err);
		goto out;
	}
	if (dev) {
		fd = shim_open_device(dev, m.flags | O_CLOEXEC);
	} else {
		if (!path) {
			snprintf(self, sizeof(self), "/proc/self/fd/%d", c->fd);
			path = self;
		}
		fd = REAL(open)(path, m.flags | O_CLOEXEC, 0666);
		if (fd < 0)
			fd = -errno;
		else
			shim_fd_forget(fd);
	}
	r = fd < 0 ? stream_fail(c, fd) : stream_retarget(c, fd, &m);
out:
	funlockfile(c->fp);
	return r;
}

static FILE **std_stream(FILE *fp)
{
	return fp == stdin ? &stdin : fp == stdout ? &stdout : fp == stderr ? &stderr : NULL;
}

/* The new file cannot be opened: glibc's freopen closes the stream then. */
static FILE *freopen_failed(real_freopen_fn *real, struct stream *c, FILE *fp, int err)
{
	if (c) {
		flockfile(fp);
		fflush(fp);
		stream_fail(c, err);
		funlockfile(fp);
	} else {
		fflush(fp);
		real_freopen(real, "", "r", fp); /* ENOENT, and the fd closed */
	}
	return stdio_fail(err);
}

/* freopen of a device on a FILE of glibc's (see the top of the file). */
static FILE *freopen_plain(real_freopen_fn *real, struct shim_dev *dev, const char *mode, FILE *fp)
{
	struct stream_mode m;
	struct shim_file *f;
	char reset[4];
	FILE **std, *c;
	int err, fd, n;

	err = parse_fopen_mode(mode, &m);
	if (!err && m.ccs)
		err = -EINVAL;
	if (!err && (m.flags & (O_CREAT | O_EXCL)) == (O_CREAT | O_EXCL))
		err = -EEXIST;
	fd = err ? err : shim_open_device(dev, m.flags | O_CLOEXEC);
	if (fd < 0)
		return freopen_failed(real, NULL, fp, fd);
	fflush(fp);
	mode_string(m.io, m.flags & O_CLOEXEC, reset);
	if (!real_freopen(real, "/dev/null", reset, fp)) {
		err = -errno;
		close(fd);
		return stdio_fail(err);
	}
	n = fp->_fileno;
	if (dup3(fd, n, m.flags & O_CLOEXEC) < 0) {
		err = -errno;
		close(fd);
		return stdio_fail(err);
	}
	close(fd);
	if (!(m.io & GLIBC_NO_READS)) {
		/* glibc would read the socket and wait for ever: fail those
		 * reads; a standard stream is replaced by one of ours */
		fp->_flags |= GLIBC_NO_READS;
		std = std_stream(fp);
		c = std ? stream_new(n, m.io, std == &stderr, &err) : NULL;
		if (c) {
			*std = c;
			return c;
		}
		shim_log("freopen(\"%s\", \"%s\") on a stream the shim did not make: reads "
			 "through it fail (EBADF); use fopen\n",
			 dev->name, mode);
	}
	f = shim_fd_get(n);
	if (f) {
		unsigned char k[64] = {0};

		if (shim_dev_ioctl(n, f, TCGETS, k) == 0)
			setvbuf(fp, NULL, _IOLBF, 0);
	}
	return fp;
}

static FILE *do_freopen(real_freopen_fn *real, const char *path, const char *mode, FILE *fp)
{
	struct shim_dev *dev = NULL;
	struct shim_file *f;
	struct stream *c;
	int saved = errno, r = 0;
	FILE *res;

	if (!fp || !mode)
		return real(path, mode, fp);
	if (path && shim_path_candidate(path)) {
		r = shim_path_lookup(AT_FDCWD, path, &dev);
		if (r <= 0)
			dev = NULL;
	} else if (!path && fp->_fileno >= 0 && (f = shim_fd_get(fp->_fileno)))
		dev = f->dev; /* the kernel reopens the device through /proc/self/fd */
	c = stream_find(fp);
	if (r < 0)
		res = freopen_failed(real, c, fp, r);
	else if (c)
		res = freopen_ours(c, dev, path, mode);
	else if (dev)
		res = freopen_plain(real, dev, mode, fp);
	else if (fp->_fileno >= 0 && shim_fd_get(fp->_fileno))
		return real_freopen(real, path, mode, fp); /* off a device */
	else
		return real(path, mode, fp);
	if (res)
		errno = saved;
	return res;
}

SHIM_EXPORT FILE *freopen(const char *path, const char *mode, FILE *fp)
{
	return do_freopen(REAL(freopen), path, mode, fp);
}

SHIM_EXPORT FILE *freopen64(const char *path, const char *mode, FILE *fp)
{
	return do_freopen(REAL(freopen64), path, mode, fp);
}

/* ---------------------------------------------------------------- exit */

/* glibc's list of every FILE, with its lock (exported by libc; the links
 * are struct FILE's public _chain).  The list's type is glibc's
 * struct _IO_FILE_plus, which begins with the FILE. */
extern FILE *_IO_list_all;
void _IO_list_lock(void);
void _IO_list_unlock(void);

/*
 * Output buffered for a device fd, in our streams or glibc's (stdout after
 * a dup2 of the device onto fd 1), is written now, while the fd is still
 * open.  A stream another thread has locked (blocked in a read, say) is
 * left alone: waiting for it could hang the exit.
 */
void shim_stdio_exit_flush(void)
{
	FILE *fp;

	_IO_list_lock();
	for (fp = _IO_list_all; fp; fp = fp->_chain) {
		if (fp->_fileno < 0 || !shim_fd_get(fp->_fileno) ||
		    fp->_IO_write_ptr <= fp->_IO_write_base)
			continue;
		if (ftrylockfile(fp)) {
			shim_log("exit: fd %d's stdio stream is in use by another thread; its "
				 "buffered output may not reach the device\n",
				 fp->_fileno);
			continue;
		}
		fflush_unlocked(fp);
		funlockfile(fp);
	}
	_IO_list_unlock();
}

/* ---------------------------------------------------------------- start-up */

void shim_stdio_init(void)
{
	static const unsigned io[3] = {GLIBC_NO_WRITES, GLIBC_NO_READS, GLIBC_NO_READS};
	FILE **std[3] = {&stdin, &stdout, &stderr};
	int fd, err;

	for (fd = 0; fd < 3; fd++) {
		struct shim_file *f = shim_fd_get(fd);
		FILE *fp;

		if (__builtin_expect(!f || f->opath, 1))
			continue;
		fp = stream_new(fd, io[fd], fd == 2, &err);
		if (fp)
			*std[fd] = fp;
		else
			shim_log("no stdio stream for fd %d: out of memory\n", fd);
	}
}

/*
 * fclose of a glibc FILE whose fd is a device (a stream freopen'd onto
 * one): glibc closes the fd inside libc, so forget it here and wait for
 * the release as close() does.  Our own streams close through their
 * cookie, which calls close().
 */
SHIM_EXPORT int fclose(FILE *fp)
{
	struct shim_file *f;
	int r, saved;

	if (!fp || __builtin_expect(!shim_fd_get(fp->_fileno), 1) || stream_find(fp))
		return REAL(fclose)(fp);
	f = shim_fd_take(fp->_fileno);
	r = REAL(fclose)(fp);
	saved = errno;
	shim_after_close(f);
	errno = saved;
	return r;
}
