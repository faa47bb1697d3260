/* SPDX-License-Identifier: MIT */
/* Registry paths and the attribute line (see registry.h). */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "registry.h"

int registry_dir(char *buf, size_t size, const char *cuse_dir, const char *xdg_runtime_dir,
		 uid_t uid)
{
	int n;

	if (cuse_dir && *cuse_dir)
		n = snprintf(buf, size, "%s", cuse_dir);
	else if (xdg_runtime_dir && *xdg_runtime_dir == '/') {
		size_t len = strlen(xdg_runtime_dir);

		while (len > 1 && xdg_runtime_dir[len - 1] == '/')
			len--;
		n = snprintf(buf, size, "%.*s/cuse", (int)len, xdg_runtime_dir);
	} else if (uid == 0)
		n = snprintf(buf, size, "/run/cuse");
	else
		n = snprintf(buf, size, "/tmp/cuse-%u", (unsigned)uid);
	if (n < 0 || (size_t)n >= size)
		return -ENAMETOOLONG;
	while (n > 1 && buf[n - 1] == '/')
		buf[--n] = '\0';
	return 0;
}

void registry_cuse_attr(struct registry_attr *a)
{
	memset(a, 0, sizeof(*a));
	a->version = REGISTRY_ATTR_VERSION;
	a->major = 10;
	a->minor = 203;
	a->mode = 0600;
}

int registry_node_name(char *name)
{
	char *r = name, *w = name;
	bool dir_only = false;

	while (*r) {
		char *slash = strchr(r, '/');
		size_t len = slash ? (size_t)(slash - r) : strlen(r);

		if (len && !(len == 1 && r[0] == '.')) {
			if (w != name)
				*w++ = '/';
			memmove(w, r, len);
			w += len;
		}
		if (!slash)
			break;
		dir_only = !slash[1]; /* the name ends with '/' */
		r = slash + 1;
	}
	*w = '\0';
	return dir_only ? 1 : 0;
}

int registry_check_name(const char *name, const char **why)
{
	const char *p = name, *last;

	*why = NULL;
	if (!name || !*name)
		*why = "empty name";
	else if (strlen(name) > 200)
		*why = "name longer than 200 bytes";
	else if (*name == '/' || name[strlen(name) - 1] == '/')
		*why = "name starts or ends with '/'";
	else if (strstr(name, "//"))
		*why = "empty path component";
	if (*why)
		return -EINVAL;
	for (;;) {
		const char *slash = strchr(p, '/');
		size_t len = slash ? (size_t)(slash - p) : strlen(p);

		if ((len == 1 && p[0] == '.') || (len == 2 && p[0] == '.' && p[1] == '.')) {
			*why = "'.' or '..' component";
			return -EINVAL;
		}
		if (!slash)
			break;
		p = slash + 1;
	}
	last = strrchr(name, '/');
	last = last ? last + 1 : name;
	/* The registry's own files are ".NAME.attr" and ".NAME.sock". */
	if (*last == '.' && strlen(last) > 5 &&
	    (!strcmp(last + strlen(last) - 5, ".attr") ||
	     !strcmp(last + strlen(last) - 5, ".sock"))) {
		*why = "'.NAME.attr' and '.NAME.sock' are reserved for the registry";
		return -EINVAL;
	}
	for (p = name; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f) {
			*why = "control character in name";
			return -EINVAL;
		}
	return 0;
}

int registry_paths(const char *dir, const char *name, char *sock, size_t sock_size, char *attr,
		   size_t attr_size)
{
	const char *base = strrchr(name, '/');
	int n;

	n = snprintf(sock, sock_size, "%s/%s", dir, name);
	if (n < 0 || (size_t)n >= sock_size ||
	    (size_t)n >= sizeof(((struct sockaddr_un *)0)->sun_path))
		return -ENAMETOOLONG;
	if (base)
		n = snprintf(attr, attr_size, "%s/%.*s/.%s.attr", dir, (int)(base - name), name,
			     base + 1);
	else
		n = snprintf(attr, attr_size, "%s/.%s.attr", dir, name);
	if (n < 0 || (size_t)n >= attr_size)
		return -ENAMETOOLONG;
	return 0;
}

int registry_format_attr(char *buf, size_t size, const struct registry_attr *a)
{
	int n = snprintf(buf, size,
			 "version=%u major=%u minor=%u mode=%04o uid=%u gid=%u pid=%d flags=%u\n",
			 REGISTRY_ATTR_VERSION, a->major, a->minor, a->mode & 07777,
			 (unsigned)a->uid, (unsigned)a->gid, (int)a->pid, (unsigned)a->flags);

	if (n < 0 || (size_t)n >= size)
		return -ENAMETOOLONG;
	return n;
}

static int parse_field(const char *key, size_t klen, unsigned long v, struct registry_attr *a,
		       unsigned *seen)
{
	static const char *const keys[] = {"version", "major", "minor", "mode",
					   "uid",     "gid",   "pid",	"flags"};
	unsigned i;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (strlen(keys[i]) == klen && !memcmp(keys[i], key, klen))
			break;
	if (i == sizeof(keys) / sizeof(keys[0]))
		return 0; /* not ours */
	*seen |= 1u << i;
	switch (i) {
	case 0: a->version = v; break;
	case 1: a->major = v; break;
	case 2: a->minor = v; break;
	case 3: a->mode = v & 07777; break;
	case 4: a->uid = v; break;
	case 5: a->gid = v; break;
	case 6: a->pid = v; break;
	case 7: a->flags = v; break;
	}
	return 1;
}

int registry_parse_attr(const char *buf, size_t n, struct registry_attr *a)
{
	char line[REGISTRY_ATTR_MAX];
	unsigned seen = 0;
	char *p, *end;

	if (n == 0 || n >= sizeof(line) || buf[n - 1] != '\n')
		return -EINVAL;
	memcpy(line, buf, n);
	line[n - 1] = '\0';
	memset(a, 0, sizeof(*a));
	for (p = line; *p;) {
		char *eq, *tok_end;
		unsigned long v;

		while (*p == ' ')
			p++;
		if (!*p)
			break;
		tok_end = strchr(p, ' ');
		if (!tok_end)
			tok_end = p + strlen(p);
		eq = memchr(p, '=', tok_end - p);
		if (!eq || eq == p)
			return -EINVAL;
		if (!parse_field(p, eq - p, 0, a, &(unsigned){0})) {
			/* a newer writer's key: skip it, whatever its value */
			p = tok_end;
			continue;
		}
		if (eq[1] < '0' || eq[1] > '9')
			return -EINVAL; /* no sign, no blank */
		errno = 0;
		v = strtoul(eq + 1, &end, (eq - p == 4 && !memcmp(p, "mode", 4)) ? 8 : 10);
		if (errno || end != tok_end || v > UINT32_MAX)
			return -EINVAL;
		parse_field(p, eq - p, v, a, &seen);
		p = tok_end;
	}
	if (seen != 0xff || a->version < 1)
		return -EINVAL;
	return 0;
}

int registry_normalize(const char *path, char *out, size_t size)
{
	size_t o = 0;
	const char *p = path;
	bool dir = false;

	if (!path || *path != '/' || size < 2)
		return -EINVAL;
	out[o++] = '/';
	while (*p) {
		const char *start, *slash;
		size_t len;

		while (*p == '/')
			p++;
		if (!*p)
			break;
		start = p;
		slash = strchr(p, '/');
		len = slash ? (size_t)(slash - p) : strlen(p);
		p += len;
		dir = false;
		if (len == 1 && start[0] == '.') {
			dir = true;
			continue;
		}
		if (len == 2 && start[0] == '.' && start[1] == '.') {
			dir = true;
			while (o > 1 && out[o - 1] != '/')
				o--;
			if (o > 1)
				o--;
			continue;
		}
		if (o > 1) {
			if (o + 1 >= size)
				return -ENAMETOOLONG;
			out[o++] = '/';
		}
		if (o + len >= size)
			return -ENAMETOOLONG;
		memcpy(out + o, start, len);
		o += len;
	}
	/* "/dev/x/" and "/dev/x/." name a directory: keep a slash so that
	 * they never match a device. */
	if (o > 1 && (dir || p[-1] == '/')) {
		if (o + 1 >= size)
			return -ENAMETOOLONG;
		out[o++] = '/';
	}
	out[o] = '\0';
	return (int)o;
}
