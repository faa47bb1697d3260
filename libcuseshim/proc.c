/* SPDX-License-Identifier: MIT */
/*
 * Names and processes: what a device fd is called (readlink of
 * /proc/self/fd/N, realpath), the cwd, fds that arrive by SCM_RIGHTS, and
 * posix_spawn's file actions, which glibc runs inside the child where no
 * wrapper sees them.
 */
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "shim_i.h"

/* ---------------------------------------------------------------- names */

/* The device fd named by "/proc/self/fd/N", "/proc/thread-self/fd/N",
 * "/proc/<our pid>/fd/N" or "/dev/fd/N", or NULL. */
struct shim_file *shim_fd_link(const char *path)
{
	const char *n = NULL;
	char *end;
	long fd;

	if (!path || path[0] != '/')
		return NULL;
	if (!strncmp(path, "/proc/self/fd/", 14))
		n = path + 14;
	else if (!strncmp(path, "/proc/thread-self/fd/", 21))
		n = path + 21;
	else if (!strncmp(path, "/dev/fd/", 8))
		n = path + 8;
	else if (!strncmp(path, "/proc/", 6) && path[6] >= '1' && path[6] <= '9') {
		long pid = strtol(path + 6, &end, 10);

		if (!strncmp(end, "/fd/", 4) && pid == shim_sys_getpid())
			n = end + 4;
	}
	if (!n || *n < '0' || *n > '9')
		return NULL;
	fd = strtol(n, &end, 10);
	if (*end || fd > INT_MAX)
		return NULL;
	return shim_fd_dev((int)fd);
}

static ssize_t link_name(const struct shim_file *f, char *buf, size_t size)
{
	char name[PATH_MAX];
	size_t n = (size_t)snprintf(name, sizeof(name), "/dev/%s", f->dev->name);

	if (n > size)
		n = size; /* readlink truncates, without a NUL */
	memcpy(buf, name, n);
	return (ssize_t)n;
}

SHIM_EXPORT ssize_t readlink(const char *path, char *buf, size_t size)
{
	struct shim_file *f = shim_fd_link(path);

	if (__builtin_expect(!f, 1))
		return REAL(readlink)(path, buf, size);
	return link_name(f, buf, size);
}

/* readlinkat(dirfd, "N") with a dirfd of /proc/self/fd, or "fd/N" with
 * one of /proc/self: the name the dirfd has, and @path under it.  Only
 * for such relative names is the dirfd looked at. */
static struct shim_file *fd_link_at(int dirfd, const char *path)
{
	char link[32], full[96];
	int saved = errno;
	ssize_t n;

	if (!path || path[0] == '/' || dirfd == AT_FDCWD)
		return shim_fd_link(path);
	if ((path[0] < '0' || path[0] > '9') && strncmp(path, "fd/", 3))
		return NULL;
	snprintf(link, sizeof(link), "/proc/self/fd/%d", dirfd);
	n = REAL(readlink)(link, full, 64);
	errno = saved;
	if (n <= 0 || n >= 64 || strncmp(full, "/proc/", 6))
		return NULL;
	if ((size_t)snprintf(full + n, sizeof(full) - (size_t)n, "/%s", path) >=
	    sizeof(full) - (size_t)n)
		return NULL;
	return shim_fd_link(full);
}

SHIM_EXPORT ssize_t readlinkat(int dirfd, const char *path, char *buf, size_t size)
{
	struct shim_file *f = fd_link_at(dirfd, shim_may_be_null(path));

	if (__builtin_expect(!f, 1))
		return REAL(readlinkat)(dirfd, path, buf, size);
	return link_name(f, buf, size);
}

SHIM_EXPORT ssize_t __readlink_chk(const char *path, char *buf, size_t size, size_t buflen)
{
	if (size > buflen)
		return REAL(__readlink_chk)(path, buf, size, buflen);
	return readlink(path, buf, size);
}

SHIM_EXPORT ssize_t __readlinkat_chk(int dirfd, const char *path, char *buf, size_t size,
				     size_t buflen)
{
	if (size > buflen)
		return REAL(__readlinkat_chk)(dirfd, path, buf, size, buflen);
	return readlinkat(dirfd, path, buf, size);
}

/* The canonical name of a device path, or NULL if @path is not one.
 * glibc's realpath lstat()s every component internally, where the shim
 * cannot answer, so device paths are resolved here. */
static char *device_realpath(const char *path, char *out, size_t size)
{
	char abs[PATH_MAX], norm[PATH_MAX];
	struct shim_dev *dev;
	const char *p = path;

	if (shim_path_absolute(AT_FDCWD, path, abs, sizeof(abs)))
		p = abs;
	if (!shim_path_candidate(p) || shim_path_lookup(AT_FDCWD, p, &dev) <= 0 ||
	    registry_normalize(p, norm, sizeof(norm)) < 0)
		return NULL;
	if (!out) {
		out = strdup(norm);
		return out;
	}
	snprintf(out, size, "%s", norm);
	return out;
}

SHIM_EXPORT char *realpath(const char *path, char *resolved)
{
	int saved = errno;
	char *r = device_realpath(path, resolved, PATH_MAX);

	errno = saved;
	return r ? r : REAL(realpath)(path, resolved);
}

SHIM_EXPORT char *__realpath_chk(const char *path, char *resolved, size_t resolvedlen)
{
	if (resolvedlen < PATH_MAX)
		return REAL(__realpath_chk)(path, resolved, resolvedlen);
	return realpath(path, resolved);
}

SHIM_EXPORT char *canonicalize_file_name(const char *path)
{
	int saved = errno;
	char *r = device_realpath(path, NULL, 0);

	errno = saved;
	return r ? r : REAL(canonicalize_file_name)(path);
}

SHIM_EXPORT int chdir(const char *path)
{
	int r = REAL(chdir)(path);

	if (r == 0 && !shim_shared_child()) {
		int saved = errno;

		shim_cwd_changed();
		errno = saved;
	}
	return r;
}

SHIM_EXPORT int fchdir(int fd)
{
	int r = REAL(fchdir)(fd);

	if (r == 0 && !shim_shared_child()) {
		int saved = errno;

		shim_cwd_changed();
		errno = saved;
	}
	return r;
}

/* ---------------------------------------------------------------- fd passing */

/* Device fds that arrive with SCM_RIGHTS are ours to recognise. */
static void adopt_rights(struct msghdr *msg)
{
	struct cmsghdr *cm;

	if (!msg || !msg->msg_control || msg->msg_controllen < sizeof(struct cmsghdr))
		return;
	for (cm = CMSG_FIRSTHDR(msg); cm; cm = CMSG_NXTHDR(msg, cm)) {
		size_t i, k;
		int *fds = (int *)CMSG_DATA(cm);

		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		k = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (i = 0; i < k; i++) {
			shim_fd_forget(fds[i]);
			shim_adopt_fd(fds[i]);
		}
	}
}

SHIM_EXPORT ssize_t recvmsg(int fd, struct msghdr *msg, int flags)
{
	ssize_t r = REAL(recvmsg)(fd, msg, flags);

	if (r >= 0 && __builtin_expect(msg && msg->msg_controllen, 0)) {
		int saved = errno;

		adopt_rights(msg);
		errno = saved;
	}
	return r;
}

SHIM_EXPORT int recvmmsg(int fd, struct mmsghdr *vec, unsigned int n, int flags,
			 struct timespec *timeout)
{
	int r = REAL(recvmmsg)(fd, vec, n, flags, timeout), i;

	if (r > 0) {
		int saved = errno;

		for (i = 0; i < r; i++)
			if (vec[i].msg_hdr.msg_controllen)
				adopt_rights(&vec[i].msg_hdr);
		errno = saved;
	}
	return r;
}

/* ---------------------------------------------------------------- posix_spawn */

/*
 * An addopen of a device path would run glibc's internal open in the
 * child, which finds no /dev node.  Open the device in the parent now
 * (close-on-exec) and let the child dup2 it instead; the parent's copy is
 * closed when the file actions are destroyed.  Difference from the
 * kernel: the driver sees the open when the action is added, and every
 * spawn with these actions shares that one open file.
 */
struct spawn_open {
	posix_spawn_file_actions_t *fa;
	int fd;
	struct spawn_open *next;
};
static pthread_mutex_t spawn_lock = PTHREAD_MUTEX_INITIALIZER;
static struct spawn_open *spawn_opens;

SHIM_EXPORT int posix_spawn_file_actions_addopen(posix_spawn_file_actions_t *fa, int fd,
						 const char *path, int oflag, mode_t mode)
{
	char abs[PATH_MAX];
	const char *p = path;
	struct shim_dev *dev;
	struct spawn_open *so;
	int devfd, r;

	if (shim_path_absolute(AT_FDCWD, path, abs, sizeof(abs)))
		p = abs;
	if (__builtin_expect(!shim_path_candidate(p), 1) ||
	    shim_path_lookup(AT_FDCWD, p, &dev) <= 0)
		return REAL(posix_spawn_file_actions_addopen)(fa, fd, path, oflag, mode);
	so = malloc(sizeof(*so));
	if (!so)
		return ENOMEM;
	devfd = shim_open_device(dev, oflag | O_CLOEXEC);
	if (devfd < 0) {
		free(so);
		return REAL(posix_spawn_file_actions_addopen)(fa, fd, path, oflag, mode);
	}
	r = REAL(posix_spawn_file_actions_adddup2)(fa, devfd, fd);
	if (r) {
		free(so);
		close(devfd);
		return r;
	}
	so->fa = fa;
	so->fd = devfd;
	pthread_mutex_lock(&spawn_lock);
	so->next = spawn_opens;
	spawn_opens = so;
	pthread_mutex_unlock(&spawn_lock);
	return 0;
}

SHIM_EXPORT int posix_spawn_file_actions_destroy(posix_spawn_file_actions_t *fa)
{
	struct spawn_open **pp, *so, *done = NULL;

	pthread_mutex_lock(&spawn_lock);
	for (pp = &spawn_opens; (so = *pp);) {
		if (so->fa == fa) {
			*pp = so->next;
			so->next = done;
			done = so;
		} else {
			pp = &so->next;
		}
	}
	pthread_mutex_unlock(&spawn_lock);
	while (done) {
		so = done;
		done = so->next;
		close(so->fd); /* our close: the last one waits for release */
		free(so);
	}
	return REAL(posix_spawn_file_actions_destroy)(fa);
}
