/* SPDX-License-Identifier: MIT */
/*
 * Which paths name emulated devices: /dev/NAME for every NAME in the
 * registry, and the explicit maps of CUSESHIM_MAP.  Paths are compared after
 * lexical normalisation ("//dev/./x" is "/dev/x").
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "shim_i.h"

static pthread_mutex_t dev_lock = PTHREAD_MUTEX_INITIALIZER;
static struct shim_dev *devs;

bool shim_path_candidate(const char *p)
{
	if (!p || p[0] != '/')
		return false;
	if (!strncmp(p, "/dev/", 5))
		return true;
	return p[1] == '/' || p[1] == '.' || shim_cfg.nmaps;
}

static struct shim_dev *dev_find_or_add(const char *name, const char *sock, const char *attr)
{
	struct shim_dev *d;

	pthread_mutex_lock(&dev_lock);
	for (d = devs; d; d = d->next)
		if (!strcmp(d->sock_path, sock))
			break;
	if (!d) {
		d = calloc(1, sizeof(*d));
		if (d) {
			snprintf(d->name, sizeof(d->name), "%s", name);
			snprintf(d->sock_path, sizeof(d->sock_path), "%s", sock);
			snprintf(d->attr_path, sizeof(d->attr_path), "%s", attr);
			d->next = devs;
			devs = d;
		}
	}
	pthread_mutex_unlock(&dev_lock);
	return d;
}

int shim_dev_refresh(struct shim_dev *dev)
{
	struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
	char buf[REGISTRY_ATTR_MAX];
	struct registry_attr a;
	struct stat st;
	ssize_t n;
	int fd, err = 0;

	fd = (int)syscall(SYS_openat, AT_FDCWD, dev->attr_path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -ENOENT;
	/* The driver holds a write lock for as long as it lives. */
	if (shim_sys_fcntl(fd, F_OFD_GETLK, (long)&fl) || fl.l_type == F_UNLCK)
		err = -ESRCH; /* nobody holds it: the driver is gone */
	if (!err) {
		n = syscall(SYS_pread64, fd, buf, sizeof(buf) - 1, 0);
		if (n <= 0 || registry_parse_attr(buf, n, &a))
			err = -ENOENT; /* not published yet */
	}
	if (!err && !shim_sys_fstat(fd, &st))
		dev->mtime = st.st_mtim;
	shim_sys_close(fd);
	if (!err)
		dev->attr = a;
	return err;
}

struct shim_dev *shim_dev_by_socket(const char *bound)
{
	char sock[108], name[256], attr[PATH_MAX];
	const char *slash = strrchr(bound, '/');
	size_t dlen, blen, n;
	struct shim_dev *d;
	int fd;

	if (!slash || slash[1] != '.')
		return NULL;
	dlen = slash - bound;
	blen = strlen(slash + 2) - 5; /* ".NAME.sock" -> NAME */
	if (blen == 0 || blen > 200)
		return NULL;
	if (snprintf(sock, sizeof(sock), "%.*s/%.*s", (int)dlen, bound, (int)blen, slash + 2) >=
		    (int)sizeof(sock) ||
	    snprintf(attr, sizeof(attr), "%.*s/.%.*s.attr", (int)dlen, bound, (int)blen,
		     slash + 2) >= (int)sizeof(attr))
		return NULL;
	n = strlen(shim_cfg.dir);
	if (n && !strncmp(sock, shim_cfg.dir, n) && sock[n] == '/')
		snprintf(name, sizeof(name), "%s", sock + n + 1);
	else
		snprintf(name, sizeof(name), "%.*s", (int)blen, slash + 2);
	/* Only a socket with a registry entry beside it is ours. */
	fd = (int)syscall(SYS_openat, AT_FDCWD, attr, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	shim_sys_close(fd);
	d = dev_find_or_add(name, sock, attr);
	if (d)
		shim_dev_refresh(d);
	return d;
}

static int path_lookup(int dirfd, const char *path, struct shim_dev **out);

/*
 * /dev/cuse, as a stock Debian system has it (crw------- root root 10,203,
 * made at boot): drivers and their test suites look for it, and an open of
 * it under the shim reaches cuse-bridge (cuse.c).
 */
static int cuse_node(struct shim_dev **out)
{
	static struct shim_dev node = {.name = REGISTRY_CUSE_NAME, .is_cuse = true};
	struct timespec now, up;

	registry_cuse_attr(&node.attr);
	if (!node.mtime.tv_sec && !clock_gettime(CLOCK_REALTIME, &now) &&
	    !clock_gettime(CLOCK_BOOTTIME, &up))
		node.mtime.tv_sec = now.tv_sec - up.tv_sec; /* made at boot */
	*out = &node;
	return 1;
}

struct shim_dev *shim_cuse_node(void)
{
	struct shim_dev *node;

	cuse_node(&node);
	return node;
}

/* errno is the caller's: a lookup that finds no device leaves it alone. */
int shim_path_lookup(int dirfd, const char *path, struct shim_dev **out)
{
	int saved = errno, r;

	shim_ensure_init();
	r = path_lookup(dirfd, path, out);

	errno = saved;
	return r;
}

static int path_lookup(int dirfd, const char *path, struct shim_dev **out)
{
	char norm[PATH_MAX], sock[108], attr[PATH_MAX];
	const char *name = NULL, *why;
	struct shim_dev *d;
	bool mapped = false;
	unsigned i;
	int r;

	if (!path || path[0] != '/' || registry_normalize(path, norm, sizeof(norm)) < 0)
		return 0;
	for (i = 0; i < shim_cfg.nmaps; i++)
		if (!strcmp(shim_cfg.maps[i].path, norm)) {
			name = shim_cfg.maps[i].name;
			mapped = true;
			break;
		}
	if (!name) {
		if (strncmp(norm, "/dev/", 5) || !norm[5])
			return 0;
		name = norm + 5;
	}
	if (registry_check_name(name, &why) || !shim_cfg.dir[0] ||
	    registry_paths(shim_cfg.dir, name, sock, sizeof(sock), attr, sizeof(attr)))
		return mapped ? -ENOENT : 0;
	/* One system call decides for paths that are not devices. */
	if (syscall(SYS_faccessat, AT_FDCWD, sock, F_OK, 0)) {
		if (!mapped && !strcmp(name, REGISTRY_CUSE_NAME))
			return cuse_node(out);
		return mapped ? -ENOENT : 0;
	}
	d = dev_find_or_add(name, sock, attr);
	if (!d)
		return -ENOMEM;
	r = shim_dev_refresh(d);
	if (r == -ESRCH && !d->told_stale) {
		d->told_stale = true;
		shim_log(REGISTRY_MSG_STALE, norm, shim_cfg.dir);
	}
	if (r)
		return mapped ? -ENOENT : 0; /* stale: as if the node were gone */
	*out = d;
	return 1;
}

/*
 * Symlinks to devices.  The kernel follows a link whose target is a device
 * node (a /dev/serial/by-id/... link, a link in the program's directory, a
 * symlinked directory); our nodes are not in the file system, so the real
 * call finds a dangling link, or a missing name in /dev, and fails ENOENT.
 * Only then, and only when a link or /dev is involved, do we walk the
 * path as the kernel would, following links (at most 40, as the kernel),
 * and look the result up.  A missing file elsewhere costs one lstat, or
 * two when its directory exists.
 */
static dev_t devtmpfs_dev; /* st_dev of /dev, once known */

static long raw_lstat(const char *path, struct stat *st)
{
	return syscall(SYS_newfstatat, AT_FDCWD, path, st, AT_SYMLINK_NOFOLLOW);
}

/* Is a link, /dev, or a missing directory on the way to @abs? */
static bool worth_walking(const char *abs)
{
	char parent[PATH_MAX];
	const char *slash = strrchr(abs, '/');
	struct stat st;

	if (!raw_lstat(abs, &st))
		return S_ISLNK(st.st_mode); /* a dangling link (else not ENOENT) */
	if (!slash || slash == abs || (size_t)(slash - abs) >= sizeof(parent))
		return false;
	memcpy(parent, abs, slash - abs);
	parent[slash - abs] = '\0';
	if (syscall(SYS_newfstatat, AT_FDCWD, parent, &st, 0))
		return true; /* a dangling link among the directories, perhaps */
	if (!devtmpfs_dev) {
		struct stat d;

		if (!syscall(SYS_newfstatat, AT_FDCWD, "/dev", &d, 0))
			devtmpfs_dev = d.st_dev;
	}
	return st.st_dev == devtmpfs_dev; /* in /dev, reached through a link */
}

/* @abs with its links followed (the last one too when @follow_last) into
 * @out; false when it cannot be (a loop, too long). */
static bool follow(const char *abs, bool follow_last, char *out, size_t size)
{
	char work[PATH_MAX], res[PATH_MAX] = "", link[PATH_MAX], *comp, *rest;
	size_t rlen = 0;
	int links = 0;

	if (snprintf(work, sizeof(work), "%s", abs) >= (int)sizeof(work))
		return false;
	for (comp = work; comp;) {
		struct stat st;
		long n;

		while (*comp == '/')
			comp++;
		rest = strchr(comp, '/');
		if (rest)
			*rest++ = '\0';
		if (!*comp || !strcmp(comp, ".")) {
			comp = rest;
			continue;
		}
		if (!strcmp(comp, "..")) {
			char *slash = strrchr(res, '/');

			rlen = slash ? (size_t)(slash - res) : 0;
			res[rlen] = '\0';
			comp = rest;
			continue;
		}
		if (rlen + 1 + strlen(comp) >= sizeof(res))
			return false;
		res[rlen] = '/';
		strcpy(res + rlen + 1, comp);
		if ((!rest && !follow_last) || raw_lstat(res, &st) || !S_ISLNK(st.st_mode)) {
			rlen += 1 + strlen(comp);
			comp = rest;
			continue;
		}
		n = syscall(SYS_readlinkat, AT_FDCWD, res, link, sizeof(link) - 1);
		if (n <= 0 || ++links > 40)
			return false;
		link[n] = '\0';
		res[rlen] = '\0'; /* the link's directory */
		if (link[0] == '/')
			rlen = 0, res[0] = '\0';
		/* the target, then what was left */
		if (snprintf(out, size, "%s%s%s", link, rest ? "/" : "", rest ? rest : "") >=
		    (int)size)
			return false;
		memcpy(work, out, strlen(out) + 1);
		comp = work;
	}
	if (snprintf(out, size, "%s", rlen ? res : "/") >= (int)size)
		return false;
	return true;
}

int shim_path_follow(int dirfd, const char *path, bool follow_last, struct shim_dev **dev)
{
	char abs[PATH_MAX], real[PATH_MAX], base[PATH_MAX];
	int saved = errno, r = 0;

	if (!path || !*path)
		return 0;
	if (path[0] == '/') {
		if (snprintf(abs, sizeof(abs), "%s", path) >= (int)sizeof(abs))
			return 0;
	} else {
		long n;

		if (dirfd == AT_FDCWD) {
			n = syscall(SYS_getcwd, base, sizeof(base));
			if (n <= 0)
				goto out;
		} else {
			char proc[40];

			snprintf(proc, sizeof(proc), "/proc/self/fd/%d", dirfd);
			n = syscall(SYS_readlinkat, AT_FDCWD, proc, base, sizeof(base) - 1);
			if (n <= 0 || base[0] != '/')
				goto out;
			base[n] = '\0';
		}
		if (snprintf(abs, sizeof(abs), "%s/%s", base, path) >= (int)sizeof(abs))
			goto out;
	}
	if (worth_walking(abs) && follow(abs, follow_last, real, sizeof(real)) &&
	    strcmp(real, abs) && shim_path_candidate(real))
		r = shim_path_lookup(AT_FDCWD, real, dev);
out:
	errno = saved;
	return r;
}

/*
 * Relative paths.  A relative path can only name a device when the cwd (or
 * the directory fd) is "/" or under "/dev"; we track both so that every
 * other relative open costs no system call: the cwd at start-up and after
 * chdir/fchdir, and fds opened on "/" or "/dev".
 */
static char cwd[PATH_MAX];
static _Atomic bool cwd_relevant;

void shim_cwd_changed(void)
{
	char buf[PATH_MAX];
	long n = syscall(SYS_getcwd, buf, sizeof(buf));

	if (n <= 0 || buf[0] != '/') {
		atomic_store(&cwd_relevant, false);
		return;
	}
	if (!strcmp(buf, "/") || !strcmp(buf, "/dev") || !strncmp(buf, "/dev/", 5)) {
		memcpy(cwd, buf, sizeof(buf));
		atomic_store(&cwd_relevant, true);
	} else {
		atomic_store(&cwd_relevant, false);
	}
}

#define DIRFD_MAX 65536
static _Atomic unsigned char dirfd_kind[DIRFD_MAX]; /* 1 "/", 2 "/dev" */

static unsigned char dir_kind(const char *path)
{
	if (!path || path[0] != '/')
		return 0;
	if (!path[1] || (path[1] == '/' && !path[2]))
		return 1;
	if (!strcmp(path, "/dev") || !strcmp(path, "/dev/"))
		return 2;
	return 0;
}

bool shim_dirfd_changes(int fd, const char *path)
{
	return (unsigned)fd < DIRFD_MAX &&
	       dir_kind(path) != atomic_load_explicit(&dirfd_kind[fd], memory_order_relaxed);
}

void shim_dirfd_opened(int fd, const char *path)
{
	if ((unsigned)fd < DIRFD_MAX)
		atomic_store_explicit(&dirfd_kind[fd], dir_kind(path), memory_order_relaxed);
}

void shim_dirfd_closed(int fd)
{
	if ((unsigned)fd < DIRFD_MAX && atomic_load_explicit(&dirfd_kind[fd], memory_order_relaxed))
		atomic_store_explicit(&dirfd_kind[fd], 0, memory_order_relaxed);
}

bool shim_path_absolute(int dirfd, const char *path, char *out, size_t size)
{
	const char *base;
	int n;

	if (!path || !*path || path[0] == '/')
		return false;
	if (dirfd == AT_FDCWD) {
		if (!atomic_load_explicit(&cwd_relevant, memory_order_relaxed))
			return false;
		base = cwd;
	} else if ((unsigned)dirfd < DIRFD_MAX) {
		unsigned char k = atomic_load_explicit(&dirfd_kind[dirfd], memory_order_relaxed);

		if (!k)
			return false;
		base = k == 1 ? "/" : "/dev";
	} else {
		return false;
	}
	n = snprintf(out, size, "%s/%s", base, path);
	return n > 0 && (size_t)n < size;
}
