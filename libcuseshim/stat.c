/* SPDX-License-Identifier: MIT */
/*
 * The stat and access families on device paths and fds: what devtmpfs
 * would report for the node (S_IFCHR, st_rdev from the driver's
 * major:minor, mode and owner from the registry, st_blksize 4096, which
 * stdio uses as its buffer size).  Both stat generations are wrapped:
 * binaries built against glibc < 2.33 call __xstat and friends.
 */
#include <fcntl.h>
#include <string.h>
#include <sys/sysmacros.h>

#include "shim_i.h"

static uint64_t name_ino(const char *name)
{
	uint64_t h = 1469598103934665603ull;

	for (; *name; name++)
		h = (h ^ (unsigned char)*name) * 1099511628211ull;
	return (h & 0xffffffffull) | 1;
}

void shim_fill_stat(const struct shim_dev *dev, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_dev = makedev(0, 5); /* devtmpfs is usually 0:5 */
	st->st_ino = name_ino(dev->name);
	st->st_mode = S_IFCHR | (dev->attr.mode & 07777);
	st->st_nlink = 1;
	st->st_uid = dev->attr.uid;
	st->st_gid = dev->attr.gid;
	st->st_rdev = makedev(dev->attr.major, dev->attr.minor);
	st->st_blksize = 4096;
	st->st_atim = st->st_mtim = st->st_ctim = dev->mtime;
}

static void statx_of(const struct stat *stp, struct statx *sx);

static void fill_statx(const struct shim_dev *dev, struct statx *sx)
{
	struct stat st;

	shim_fill_stat(dev, &st);
	statx_of(&st, sx);
	sx->stx_rdev_major = dev->attr.major;
	sx->stx_rdev_minor = dev->attr.minor;
}

/* statx's answer for @stp, a node on devtmpfs (0:5). */
static void statx_of(const struct stat *stp, struct statx *sx)
{
	const struct stat st = *stp;

	memset(sx, 0, sizeof(*sx));
	sx->stx_mask = STATX_BASIC_STATS;
	sx->stx_blksize = st.st_blksize;
	sx->stx_nlink = st.st_nlink;
	sx->stx_uid = st.st_uid;
	sx->stx_gid = st.st_gid;
	sx->stx_mode = st.st_mode;
	sx->stx_ino = st.st_ino;
	sx->stx_atime.tv_sec = sx->stx_mtime.tv_sec = sx->stx_ctime.tv_sec = st.st_mtim.tv_sec;
	sx->stx_atime.tv_nsec = sx->stx_mtime.tv_nsec = sx->stx_ctime.tv_nsec = st.st_mtim.tv_nsec;
	sx->stx_dev_major = 0;
	sx->stx_dev_minor = 5;
}

/* 1 = device path (filled), 0 = not ours, <0 = error. */
static int path_stat(int dirfd, const char *path, struct stat *st)
{
	char abs[PATH_MAX];
	struct shim_dev *dev;
	int r;

	if (shim_path_absolute(dirfd, path, abs, sizeof(abs)))
		path = abs;
	if (!shim_path_candidate(path))
		return 0;
	r = shim_path_lookup(AT_FDCWD, path, &dev);
	if (r > 0)
		shim_fill_stat(dev, st);
	return r;
}

static struct shim_dev *fd_dev(int fd)
{
	struct shim_file *f = shim_fd_dev(fd);

	return f ? f->dev : NULL;
}

/* The real stat of @path failed: a device through symlinks, or a
 * directory only a DEVNAME makes?  On success errno is @saved again. */
static int stat_followed(int dirfd, const char *path, bool follow_last, struct stat *st, int saved)
{
	struct shim_dev *dev;

	if (errno != ENOENT)
		return -1;
	if (shim_path_follow(dirfd, path, follow_last, &dev) > 0)
		shim_fill_stat(dev, st);
	else if (dirfd != AT_FDCWD || shim_dev_dir_stat(path, st))
		return -1;
	errno = saved;
	return 0;
}

#define STAT_WRAPPER(name, type, follow_last)                                                      \
	SHIM_EXPORT int name(const char *path, type *st)                                           \
	{                                                                                          \
		int saved = errno, r = path_stat(AT_FDCWD, path, (struct stat *)st);               \
		if (__builtin_expect(r == 0, 1)) {                                                 \
			r = REAL(name)(path, st);                                                  \
			return __builtin_expect(r < 0, 0)                                          \
				       ? stat_followed(AT_FDCWD, path, follow_last,                \
						       (struct stat *)st, saved)                   \
				       : r;                                                        \
		}                                                                                  \
		return r < 0 ? (int)shim_ret(r) : 0;                                               \
	}

STAT_WRAPPER(stat, struct stat, true)
STAT_WRAPPER(stat64, struct stat64, true)
STAT_WRAPPER(lstat, struct stat, false)
STAT_WRAPPER(lstat64, struct stat64, false)

/* A socket that is a driver's /dev/cuse channel shows the kernel's node
 * (cuse.c); any other fstat pays one test of st_mode. */
#define CUSE_CHANNEL_STAT(fd, st)                                                                  \
	(__builtin_expect(S_ISSOCK((st)->st_mode), 0) && shim_cuse_stat((fd), (struct stat *)(st)))

#define FSTAT_WRAPPER(name, type)                                                                  \
	SHIM_EXPORT int name(int fd, type *st)                                                     \
	{                                                                                          \
		struct shim_dev *dev = fd_dev(fd);                                                 \
		if (__builtin_expect(!dev, 1)) {                                                   \
			int r = REAL(name)(fd, st);                                                \
			if (r == 0 && CUSE_CHANNEL_STAT(fd, st))                                   \
				return 0;                                                          \
			return r;                                                                  \
		}                                                                                  \
		shim_fill_stat(dev, (struct stat *)st);                                            \
		return 0;                                                                          \
	}

FSTAT_WRAPPER(fstat, struct stat)
FSTAT_WRAPPER(fstat64, struct stat64)

/* struct stat64 has struct stat's layout on 64-bit targets. */
static int do_fstatat(int (*real)(int, const char *, struct stat *, int), int dirfd,
		      const char *path, struct stat *st, int flags)
{
	struct shim_dev *dev;
	int r;

	if (path && !*path && (flags & AT_EMPTY_PATH) && (dev = fd_dev(dirfd))) {
		shim_fill_stat(dev, st);
		return 0;
	}
	r = path_stat(dirfd, path, st);
	if (__builtin_expect(r == 0, 1)) {
		int saved = errno;

		r = real(dirfd, path, st, flags);
		if (__builtin_expect(r < 0, 0))
			r = stat_followed(dirfd, path, !(flags & AT_SYMLINK_NOFOLLOW), st, saved);
		return r;
	}
	return r < 0 ? (int)shim_ret(r) : 0;
}

SHIM_EXPORT int fstatat(int dirfd, const char *path, struct stat *st, int flags)
{
	return do_fstatat(REAL(fstatat), dirfd, path, st, flags);
}

SHIM_EXPORT int fstatat64(int dirfd, const char *path, struct stat64 *st, int flags)
{
	return do_fstatat((int (*)(int, const char *, struct stat *, int))REAL(fstatat64), dirfd,
			  path, (struct stat *)st, flags);
}

/*
 * The pre-2.33 names; _STAT_VER is 1 on x86_64.  A device answers here.
 * Anything else goes to the next definition of the same old name when
 * there is one (another preload library such as libfakeroot implements
 * stat through __xstat: calling our stat instead would loop), and to the
 * modern call otherwise (glibc keeps the old names only as hidden compat
 * symbols, which dlsym does not find).
 */
#define XSTAT_WRAPPER(name, type, modern)                                                          \
	SHIM_EXPORT int name(int ver, const char *path, type *st)                                  \
	{                                                                                          \
		int r = path_stat(AT_FDCWD, path, (struct stat *)st);                              \
		if (__builtin_expect(r == 0, 1))                                                   \
			return REAL(name) ? REAL(name)(ver, path, st) : REAL(modern)(path, st);    \
		return r < 0 ? (int)shim_ret(r) : 0;                                               \
	}

XSTAT_WRAPPER(__xstat, struct stat, stat)
XSTAT_WRAPPER(__xstat64, struct stat64, stat64)
XSTAT_WRAPPER(__lxstat, struct stat, lstat)
XSTAT_WRAPPER(__lxstat64, struct stat64, lstat64)

#define FXSTAT_WRAPPER(name, type, modern)                                                         \
	SHIM_EXPORT int name(int ver, int fd, type *st)                                            \
	{                                                                                          \
		struct shim_dev *dev = fd_dev(fd);                                                 \
		if (__builtin_expect(!dev, 1)) {                                                   \
			int r = REAL(name) ? REAL(name)(ver, fd, st) : REAL(modern)(fd, st);       \
			if (r == 0 && CUSE_CHANNEL_STAT(fd, st))                                   \
				return 0;                                                          \
			return r;                                                                  \
		}                                                                                  \
		shim_fill_stat(dev, (struct stat *)st);                                            \
		return 0;                                                                          \
	}

FXSTAT_WRAPPER(__fxstat, struct stat, fstat)
FXSTAT_WRAPPER(__fxstat64, struct stat64, fstat64)

#define FXSTATAT_WRAPPER(name, type, modern)                                                       \
	SHIM_EXPORT int name(int ver, int dirfd, const char *path, type *st, int flags)            \
	{                                                                                          \
		struct shim_dev *dev;                                                              \
		int r;                                                                             \
		if (path && !*path && (flags & AT_EMPTY_PATH) && (dev = fd_dev(dirfd))) {          \
			shim_fill_stat(dev, (struct stat *)st);                                    \
			return 0;                                                                  \
		}                                                                                  \
		r = path_stat(dirfd, path, (struct stat *)st);                                     \
		if (__builtin_expect(r == 0, 1))                                                   \
			return REAL(name) ? REAL(name)(ver, dirfd, path, st, flags)                \
					  : REAL(modern)(dirfd, path, st, flags);                  \
		return r < 0 ? (int)shim_ret(r) : 0;                                               \
	}

FXSTATAT_WRAPPER(__fxstatat, struct stat, fstatat)
FXSTATAT_WRAPPER(__fxstatat64, struct stat64, fstatat64)

SHIM_EXPORT int statx(int dirfd, const char *path, int flags, unsigned int mask, struct statx *sx)
{
	struct shim_dev *dev = NULL;
	struct stat st;
	int r = 0;

	if (!shim_may_be_null(path))
		return REAL(statx)(dirfd, path, flags, mask, sx);
	if (!*path && (flags & AT_EMPTY_PATH))
		dev = fd_dev(dirfd);
	else if (shim_path_candidate(path))
		r = shim_path_lookup(dirfd, path, &dev);
	if (r < 0)
		return (int)shim_ret(r);
	if (__builtin_expect(!dev, 1)) {
		int saved = errno;

		r = REAL(statx)(dirfd, path, flags, mask, sx);
		if (__builtin_expect(r == 0, 1) || errno != ENOENT || !*path)
			return r;
		/* a directory only a DEVNAME makes (dir.c) */
		if (dirfd == AT_FDCWD && !shim_dev_dir_stat(path, &st)) {
			statx_of(&st, sx);
			errno = saved;
			return 0;
		}
		/* a device through symlinks (path.c) */
		if (shim_path_follow(dirfd, path, !(flags & AT_SYMLINK_NOFOLLOW), &dev) <= 0)
			return r;
		errno = saved;
	}
	fill_statx(dev, sx);
	return 0;
}

/* The node's permission bits against our real or effective ids. */
static int dev_access(const struct shim_dev *dev, int mode, bool effective)
{
	uid_t uid = effective ? geteuid() : getuid();
	gid_t gid = effective ? getegid() : getgid();
	unsigned bits;

	if (mode == F_OK)
		return 0;
	if (uid == 0)
		return 0;
	if (uid == dev->attr.uid) {
		bits = dev->attr.mode >> 6;
	} else {
		gid_t groups[256];
		int n = getgroups(256, groups), i;
		bool member = gid == dev->attr.gid;

		for (i = 0; i < n && !member; i++)
			member = groups[i] == dev->attr.gid;
		bits = member ? dev->attr.mode >> 3 : dev->attr.mode;
	}
	return ((bits & 7) & mode) == (unsigned)mode ? 0 : -EACCES;
}

static int do_access(int dirfd, const char *path, int mode, bool effective, bool *handled)
{
	char abs[PATH_MAX];
	struct shim_dev *dev;
	int r;

	*handled = false;
	if (shim_path_absolute(dirfd, path, abs, sizeof(abs)))
		path = abs;
	if (!shim_path_candidate(path))
		return 0;
	r = shim_path_lookup(AT_FDCWD, path, &dev);
	if (r == 0)
		return 0;
	*handled = true;
	return r < 0 ? r : dev_access(dev, mode, effective);
}

/* The real access of @path failed ENOENT: a device through symlinks? */
static int access_followed(int r, int saved, int dirfd, const char *path, int mode, bool effective)
{
	struct shim_dev *dev;

	if (__builtin_expect(r == 0, 1) || errno != ENOENT ||
	    shim_path_follow(dirfd, path, true, &dev) <= 0)
		return r;
	r = dev_access(dev, mode, effective);
	if (!r)
		errno = saved;
	return (int)shim_ret(r);
}

#define ACCESS_WRAPPER(name, effective)                                                            \
	SHIM_EXPORT int name(const char *path, int mode)                                           \
	{                                                                                          \
		bool handled;                                                                      \
		int saved = errno, r = do_access(AT_FDCWD, path, mode, effective, &handled);       \
		if (__builtin_expect(!handled, 1))                                                 \
			return access_followed(REAL(name)(path, mode), saved, AT_FDCWD, path,      \
					       mode, effective);                                   \
		return (int)shim_ret(r);                                                           \
	}

ACCESS_WRAPPER(access, false)
ACCESS_WRAPPER(euidaccess, true)
ACCESS_WRAPPER(eaccess, true)

SHIM_EXPORT int faccessat(int dirfd, const char *path, int mode, int flags)
{
	bool handled;
	int saved = errno, r = do_access(dirfd, path, mode, flags & AT_EACCESS, &handled);

	if (__builtin_expect(!handled, 1))
		return (flags & AT_SYMLINK_NOFOLLOW)
			       ? REAL(faccessat)(dirfd, path, mode, flags)
			       : access_followed(REAL(faccessat)(dirfd, path, mode, flags), saved,
						 dirfd, path, mode, flags & AT_EACCESS);
	return (int)shim_ret(r);
}

/*
 * Extended attributes of a device node (ls -l probes for ACLs and
 * SELinux labels): a devtmpfs node has none, so lists are empty and every
 * attribute is ENODATA; setting one is refused as on a node we may not
 * label.
 */
static bool xattr_device(int dirfd, const char *path)
{
	char abs[PATH_MAX];
	struct shim_dev *dev;

	struct stat st;

	if (shim_path_absolute(dirfd, path, abs, sizeof(abs)))
		path = abs;
	return shim_path_candidate(path) &&
	       (shim_path_lookup(AT_FDCWD, path, &dev) > 0 || !shim_dev_dir_stat(path, &st));
}

#define GETXATTR_WRAPPER(name)                                                                     \
	SHIM_EXPORT ssize_t name(const char *path, const char *attr, void *value, size_t size)     \
	{                                                                                          \
		if (__builtin_expect(!xattr_device(AT_FDCWD, path), 1))                            \
			return REAL(name)(path, attr, value, size);                                \
		return shim_ret(-ENODATA);                                                         \
	}

GETXATTR_WRAPPER(getxattr)
GETXATTR_WRAPPER(lgetxattr)

#define LISTXATTR_WRAPPER(name)                                                                    \
	SHIM_EXPORT ssize_t name(const char *path, char *list, size_t size)                        \
	{                                                                                          \
		if (__builtin_expect(!xattr_device(AT_FDCWD, path), 1))                            \
			return REAL(name)(path, list, size);                                       \
		return 0;                                                                          \
	}

LISTXATTR_WRAPPER(listxattr)
LISTXATTR_WRAPPER(llistxattr)

SHIM_EXPORT ssize_t fgetxattr(int fd, const char *attr, void *value, size_t size)
{
	if (__builtin_expect(!fd_dev(fd), 1))
		return REAL(fgetxattr)(fd, attr, value, size);
	return shim_ret(-ENODATA);
}

SHIM_EXPORT ssize_t flistxattr(int fd, char *list, size_t size)
{
	if (__builtin_expect(!fd_dev(fd), 1))
		return REAL(flistxattr)(fd, list, size);
	return 0;
}
