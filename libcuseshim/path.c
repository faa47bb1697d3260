/* SPDX-License-Identifier: MIT */
/*
 * Which paths name emulated devices: /dev/NAME for every NAME in the
 * registry, and the explicit maps of CUSESHIM_MAP.  Paths are compared after
 * lexical normalisation ("//dev/./x" is "/dev/x").
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
		err = -ENOENT;
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

int shim_path_lookup(int dirfd, const char *path, struct shim_dev **out)
{
	char norm[PATH_MAX], sock[108], attr[PATH_MAX];
	const char *name = NULL, *why;
	struct shim_dev *d;
	bool mapped = false;
	unsigned i;

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
	if (syscall(SYS_faccessat, AT_FDCWD, sock, F_OK, 0))
		return mapped ? -ENOENT : 0;
	d = dev_find_or_add(name, sock, attr);
	if (!d)
		return -ENOMEM;
	if (shim_dev_refresh(d))
		return mapped ? -ENOENT : 0; /* stale: as if the node were gone */
	*out = d;
	return 1;
}
