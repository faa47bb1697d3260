/* SPDX-License-Identifier: MIT */
/*
 * Listing /dev.  A directory stream of /dev, or of a subdirectory a DEVNAME
 * with a '/' makes, gives the real entries first and then the registry's
 * live devices that the real directory does not have (DT_CHR), and its
 * subdirectories (DT_DIR): `ls /dev`, os.listdir, pyserial's port listing
 * and find see them as on the kernel.  A subdirectory that exists only in
 * the registry (/dev/sub of DEVNAME=sub/x) is listed from the registry's
 * own directory, without the registry's files.  Streams of other
 * directories pay one test of a counter in readdir.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>

#include "shim_i.h"

struct dev_stream {
	DIR *dir;
	char rel[PATH_MAX]; /* "" for /dev, "sub" for /dev/sub */
	bool registry_only; /* @dir is the registry's own directory */
	bool real_done;	    /* the real entries are over: the registry's now */
	DIR *reg;	    /* the registry's directory, after the real entries */
	struct dirent ent;
	struct dev_stream *next;
};

static pthread_mutex_t streams_lock = PTHREAD_MUTEX_INITIALIZER;
static struct dev_stream *streams;
static _Atomic unsigned nstreams;

/* "/dev" or "/dev/REL" for @path (relative to @dirfd): REL in @rel. */
static bool dev_dir(int dirfd, const char *path, char *rel, size_t size)
{
	char abs[PATH_MAX], norm[PATH_MAX];

	if (shim_path_absolute(dirfd, path, abs, sizeof(abs)))
		path = abs;
	size_t n;

	if (!path || path[0] != '/' || registry_normalize(path, norm, sizeof(norm)) < 0)
		return false;
	for (n = strlen(norm); n > 1 && norm[n - 1] == '/';)
		norm[--n] = '\0'; /* "/dev/" is /dev, as glob opens it */
	if (!strcmp(norm, "/dev"))
		return snprintf(rel, size, "%s", "") >= 0;
	if (strncmp(norm, "/dev/", 5) || !norm[5])
		return false;
	return snprintf(rel, size, "%s", norm + 5) < (int)size;
}

static DIR *registry_opendir(const char *rel)
{
	char path[PATH_MAX * 2];

	if (!shim_cfg.dir[0])
		return NULL;
	snprintf(path, sizeof(path), "%s%s%s", shim_cfg.dir, *rel ? "/" : "", rel);
	return REAL(opendir)(path);
}

static DIR *track(DIR *d, const char *rel, bool registry_only)
{
	struct dev_stream *s;

	if (!d)
		return NULL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return d; /* listed without the devices */
	s->dir = d;
	snprintf(s->rel, sizeof(s->rel), "%s", rel);
	s->registry_only = registry_only;
	pthread_mutex_lock(&streams_lock);
	s->next = streams;
	streams = s;
	atomic_fetch_add(&nstreams, 1);
	pthread_mutex_unlock(&streams_lock);
	return d;
}

static struct dev_stream *find(DIR *d, bool unlink)
{
	struct dev_stream **pp, *s;

	pthread_mutex_lock(&streams_lock);
	for (pp = &streams; (s = *pp); pp = &s->next)
		if (s->dir == d) {
			if (unlink) {
				*pp = s->next;
				atomic_fetch_sub(&nstreams, 1);
			}
			break;
		}
	pthread_mutex_unlock(&streams_lock);
	return s;
}

SHIM_EXPORT DIR *opendir(const char *path)
{
	char rel[PATH_MAX];
	DIR *d;

	shim_ensure_init();
	if (!shim_may_be_null(path) || !dev_dir(AT_FDCWD, path, rel, sizeof(rel)))
		return REAL(opendir)(path);
	d = REAL(opendir)(path);
	if (d)
		return track(d, rel, false);
	if (errno == ENOENT && *rel) {
		/* only in the registry: a DEVNAME's directory */
		int saved = errno;

		d = registry_opendir(rel);
		if (d)
			return track(d, rel, true);
		errno = saved;
	}
	return NULL;
}

SHIM_EXPORT DIR *fdopendir(int fd)
{
	char rel[PATH_MAX];
	DIR *d = REAL(fdopendir)(fd);

	if (d && dev_dir(fd, ".", rel, sizeof(rel)))
		track(d, rel, false);
	return d;
}

/* Is @name (in @s's directory) a live device of the registry?  Its
 * driver holds a lock on its attributes (a stale entry is not listed, and
 * not complained about: nobody asked to open it). */
static bool live(struct dev_stream *s, const char *name)
{
	struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
	char rel[PATH_MAX], sock[108], attr[PATH_MAX];
	const char *why;
	bool ok;
	int fd;

	if (snprintf(rel, sizeof(rel), "%s%s%s", s->rel, *s->rel ? "/" : "", name) >=
		    (int)sizeof(rel) ||
	    registry_check_name(rel, &why) ||
	    registry_paths(shim_cfg.dir, rel, sock, sizeof(sock), attr, sizeof(attr)))
		return false;
	fd = (int)syscall(SYS_openat, AT_FDCWD, attr, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	ok = !shim_sys_fcntl(fd, F_OFD_GETLK, (long)&fl) && fl.l_type != F_UNLCK;
	shim_sys_close(fd);
	return ok;
}

/* Does the registry's subdirectory @name (of @s's) hold a live device? */
static bool holds_devices(struct dev_stream *s, const char *name)
{
	struct dev_stream sub = {0};
	struct dirent *e;
	bool found = false;
	DIR *d;

	snprintf(sub.rel, sizeof(sub.rel), "%s%s%s", s->rel, *s->rel ? "/" : "", name);
	d = registry_opendir(sub.rel);
	while (d && !found && (e = REAL(readdir)(d)))
		found = e->d_name[0] != '.' && e->d_type == DT_SOCK && live(&sub, e->d_name);
	if (d)
		REAL(closedir)(d);
	return found;
}

int shim_dev_dir_stat(const char *path, struct stat *st)
{
	char rel[PATH_MAX], reg[PATH_MAX * 2];
	struct stat rs;

	if (!dev_dir(AT_FDCWD, path, rel, sizeof(rel)) || !*rel || !shim_cfg.dir[0])
		return -1;
	snprintf(reg, sizeof(reg), "%s/%s", shim_cfg.dir, rel);
	if (syscall(SYS_newfstatat, AT_FDCWD, reg, &rs, AT_SYMLINK_NOFOLLOW) ||
	    !S_ISDIR(rs.st_mode))
		return -1;
	/* as devtmpfs makes a DEVNAME's directory */
	memset(st, 0, sizeof(*st));
	st->st_dev = makedev(0, 5);
	st->st_ino = rs.st_ino;
	st->st_mode = S_IFDIR | 0755;
	st->st_nlink = 2;
	st->st_blksize = 4096;
	st->st_atim = st->st_mtim = st->st_ctim = rs.st_mtim;
	return 0;
}

static struct dirent *as_device(struct dev_stream *s, const struct dirent *e)
{
	memcpy(&s->ent, e, sizeof(s->ent));
	s->ent.d_type = DT_CHR;
	return &s->ent;
}

/* The next entry of a stream of /dev or below, or NULL at the end. */
static struct dirent *next_entry(DIR *d, struct dev_stream *s)
{
	struct dirent *e;
	struct stat st;

	if (s->registry_only) {
		while ((e = REAL(readdir)(d))) {
			if (e->d_name[0] == '.' && strcmp(e->d_name, ".") &&
			    strcmp(e->d_name, ".."))
				continue; /* the registry's own files */
			if (e->d_type == DT_SOCK)
				return live(s, e->d_name) ? as_device(s, e) : next_entry(d, s);
			return e;
		}
		return NULL;
	}
	if (!s->real_done) {
		e = REAL(readdir)(d);
		if (e)
			return e;
		s->real_done = true;
		s->reg = registry_opendir(s->rel);
	}
	while (s->reg && (e = REAL(readdir)(s->reg))) {
		if (e->d_name[0] == '.')
			continue;
		/* a name the real directory has was listed already */
		if (!syscall(SYS_newfstatat, dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW))
			continue;
		if (e->d_type == DT_DIR && holds_devices(s, e->d_name))
			return e;
		if (e->d_type == DT_SOCK && live(s, e->d_name))
			return as_device(s, e);
	}
	return NULL;
}

static struct dirent *do_readdir(DIR *d)
{
	struct dev_stream *s;
	struct dirent *e;
	int saved = errno;

	if (__builtin_expect(!atomic_load_explicit(&nstreams, memory_order_relaxed), 1) ||
	    !(s = find(d, false)))
		return REAL(readdir)(d);
	e = next_entry(d, s);
	if (!e)
		errno = saved; /* the end: errno as it was */
	return e;
}

SHIM_EXPORT struct dirent *readdir(DIR *d)
{
	return do_readdir(d);
}

/* struct dirent64 is struct dirent on 64-bit targets. */
SHIM_EXPORT struct dirent64 *readdir64(DIR *d)
{
	return (struct dirent64 *)do_readdir(d);
}

SHIM_EXPORT void rewinddir(DIR *d)
{
	struct dev_stream *s;

	if (atomic_load_explicit(&nstreams, memory_order_relaxed) && (s = find(d, false))) {
		if (s->reg)
			REAL(closedir)(s->reg);
		s->reg = NULL;
		s->real_done = false;
	}
	REAL(rewinddir)(d);
}

SHIM_EXPORT int closedir(DIR *d)
{
	struct dev_stream *s;

	if (atomic_load_explicit(&nstreams, memory_order_relaxed) && (s = find(d, true))) {
		if (s->reg)
			REAL(closedir)(s->reg);
		free(s);
	}
	return REAL(closedir)(d);
}
