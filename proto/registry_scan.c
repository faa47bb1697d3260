/* SPDX-License-Identifier: MIT */
/*
 * The registry's live devices, for the driver side (libcused, cused):
 * every DIR/D/.B.attr whose line is complete and whose lock is held.  It
 * does its own I/O, so it is not in the shim's copy of this library.
 */
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "proto/registry.h"

/* The attribute file @base in @rel under the registry @dfd (named @dir
 * for @fn), if its device is live. */
static int visit(int dfd, const char *dir, const char *rel, const char *base, registry_scan_fn *fn,
		 void *data)
{
	char path[PATH_MAX], line[REGISTRY_ATTR_MAX], name[PATH_MAX];
	struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
	struct registry_attr a;
	ssize_t n;
	int fd;

	if (snprintf(path, sizeof(path), "%s%s", rel, base) >= (int)sizeof(path))
		return 0;
	fd = openat(dfd, path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return 0;
	n = pread(fd, line, sizeof(line) - 1, 0);
	if (fcntl(fd, F_OFD_GETLK, &fl) || fl.l_type == F_UNLCK || n <= 0 ||
	    registry_parse_attr(line, (size_t)n, &a)) {
		close(fd);
		return 0; /* stale, or not published yet */
	}
	close(fd);
	/* ".NAME.attr" -> NAME */
	snprintf(name, sizeof(name), "%s%.*s", rel, (int)(strlen(base) - 6), base + 1);
	return fn(dir, name, &a, data);
}

static int walk(int dfd, const char *dir, const char *rel, registry_scan_fn *fn, void *data,
		int depth)
{
	struct dirent *e;
	int r = 0, fd;
	DIR *d;

	fd = openat(dfd, *rel ? rel : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return 0;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return 0;
	}
	while (!r && (e = readdir(d))) {
		size_t len = strlen(e->d_name);

		if (e->d_name[0] == '.' && len > 6 && !strcmp(e->d_name + len - 5, ".attr")) {
			r = visit(dfd, dir, rel, e->d_name, fn, data);
		} else if (e->d_type == DT_DIR && e->d_name[0] != '.' && depth < 8) {
			char sub[PATH_MAX];

			if (snprintf(sub, sizeof(sub), "%s%s/", rel, e->d_name) < (int)sizeof(sub))
				r = walk(dfd, dir, sub, fn, data, depth + 1);
		}
	}
	closedir(d);
	return r;
}

int registry_scan_at(int dfd, const char *dir, registry_scan_fn *fn, void *data)
{
	return walk(dfd, dir, "", fn, data, 0);
}

int registry_scan(const char *dir, registry_scan_fn *fn, void *data)
{
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), r;

	if (dfd < 0)
		return 0;
	r = registry_scan_at(dfd, dir, fn, data);
	close(dfd);
	return r;
}
