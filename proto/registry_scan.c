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

/* The attribute file @base in @dir/@rel, if its device is live. */
static int visit(const char *dir, const char *rel, const char *base, registry_scan_fn *fn,
		 void *data)
{
	char path[PATH_MAX], line[REGISTRY_ATTR_MAX], name[PATH_MAX];
	struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
	struct registry_attr a;
	ssize_t n;
	int fd;

	if (snprintf(path, sizeof(path), "%s/%s%s", dir, rel, base) >= (int)sizeof(path))
		return 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
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

static int walk(const char *dir, const char *rel, registry_scan_fn *fn, void *data, int depth)
{
	char path[PATH_MAX];
	struct dirent *e;
	int r = 0;
	DIR *d;

	if (snprintf(path, sizeof(path), "%s/%s", dir, rel) >= (int)sizeof(path))
		return 0;
	d = opendir(path);
	if (!d)
		return 0;
	while (!r && (e = readdir(d))) {
		size_t len = strlen(e->d_name);

		if (e->d_name[0] == '.' && len > 6 && !strcmp(e->d_name + len - 5, ".attr")) {
			r = visit(dir, rel, e->d_name, fn, data);
		} else if (e->d_type == DT_DIR && e->d_name[0] != '.' && depth < 8) {
			char sub[PATH_MAX];

			if (snprintf(sub, sizeof(sub), "%s%s/", rel, e->d_name) < (int)sizeof(sub))
				r = walk(dir, sub, fn, data, depth + 1);
		}
	}
	closedir(d);
	return r;
}

int registry_scan(const char *dir, registry_scan_fn *fn, void *data)
{
	return walk(dir, "", fn, data, 0);
}
