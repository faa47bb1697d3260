/* SPDX-License-Identifier: MIT */
/*
 * cused: run and list CUSE drivers served by libcused.
 *
 *   cused run [--bridge] [-d] [--dir=DIR] [--mode=MODE] [--owner=USER] [--group=GROUP]
 *             -- DRIVER [ARG]...
 *       runs an unmodified driver binary.  One linked with libfuse3.so.3
 *       runs against libcused instead: a directory whose libfuse3.so.3 is
 *       libcused comes first in LD_LIBRARY_PATH, and libcused carries
 *       libfuse3's version nodes, so the dynamic linker binds every symbol
 *       to it.  Any other (libfuse.so.2, libfuse3.so.4, a static libfuse,
 *       none) runs under cuse-run, whose shim gives its open of /dev/cuse
 *       to cuse-bridge, which plays the kernel's side of that fd.
 *   cused list [--dir=DIR] [--json]
 *       the live devices of a registry.
 *   cused waiting NAME / cused abort NAME
 *       the kernel's /sys/class/cuse/NAME/{waiting,abort}: requests the
 *       driver has not answered yet; abort the device.
 */
#include <dirent.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/socket.h>
#include <sys/un.h>

#include "proto/cuseshim_proto.h"
#include "proto/registry.h"

#define TRY_HELP "Try 'cused --help' for more information.\n"

static void usage(FILE *out)
{
	fprintf(out, "Usage: cused run [OPTION]... -- DRIVER [ARG]...\n"
		     "       cused list [--dir=DIR] [--json]\n"
		     "Run an unmodified CUSE driver binary (linked with libfuse3) on libcused,\n"
		     "or list the devices drivers serve.\n"
		     "\n"
		     "  --dir=DIR        registry directory (default: $CUSE_DIR, "
		     "$XDG_RUNTIME_DIR/cuse,\n"
		     "                   /run/cuse for root, /tmp/cuse-UID otherwise)\n"
		     "  --mode=MODE      permissions of the device (octal, default 0600)\n"
		     "  --owner=USER     owner of the device (default: the driver's user)\n"
		     "  --group=GROUP    group of the device (default: the driver's group)\n"
		     "  --bridge         (run) serve the driver through cuse-bridge, which plays\n"
		     "                   the kernel's /dev/cuse, even when it links libfuse3.so.3\n"
		     "  -d, --debug      (run) say which way the driver runs, and why\n"
		     "  --json           (list) one JSON object per device\n"
		     "  -h, --help       show this help and exit\n"
		     "  -V, --version    show the version and exit\n");
}

static int exists(const char *path)
{
	return access(path, R_OK) == 0;
}

/* The directory whose libfuse3.so.3 is libcused: next to us in the build
 * tree, else the installed one. */
static const char *compat_dir(void)
{
	static char path[PATH_MAX + 64];
	char exe[PATH_MAX - 64], probe[PATH_MAX + 128], *slash;
	const char *env = getenv("CUSED_COMPAT_DIR");
	ssize_t n;

	if (env && *env)
		return env;
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = '\0';
		slash = strrchr(exe, '/');
		if (slash) {
			*slash = '\0';
			snprintf(path, sizeof(path), "%s/cused/compat", exe);
			snprintf(probe, sizeof(probe), "%s/libfuse3.so.3", path);
			if (exists(probe))
				return path;
			snprintf(path, sizeof(path), "%s/fuse3", exe);
			snprintf(probe, sizeof(probe), "%s/libfuse3.so.3", path);
			if (exists(probe))
				return path;
		}
	}
	return COMPATDIR;
}

/* The program execvp would run for @name, in @out. */
static int find_program(const char *name, char *out, size_t size)
{
	const char *path = getenv("PATH"), *p, *colon;

	if (strchr(name, '/'))
		return snprintf(out, size, "%s", name) < (int)size ? 0 : -1;
	for (p = path && *path ? path : "/usr/local/bin:/usr/bin:/bin"; *p; p = colon + 1) {
		colon = strchrnul(p, ':');
		if (snprintf(out, size, "%.*s/%s", (int)(colon - p), colon > p ? p : ".", name) <
			    (int)size &&
		    access(out, X_OK) == 0)
			return 0;
		if (!*colon)
			break;
	}
	return -1;
}

static bool pread_all(int fd, void *buf, size_t n, off_t off)
{
	return pread(fd, buf, n, off) == (ssize_t)n;
}

/*
 * Which libfuse the 64-bit ELF program @path asks the dynamic linker for
 * (DT_NEEDED): "libfuse3.so.3", "libfuse3.so.4", "libfuse.so.2", or NULL
 * for none (a static libfuse, no libfuse, not a dynamic program).
 */
static const char *libfuse_needed(const char *path)
{
	static char found[64];
	Elf64_Ehdr eh;
	Elf64_Phdr ph, dyn = {0};
	Elf64_Dyn d;
	uint64_t strtab = 0, needed[64], stroff = 0;
	size_t nneeded = 0, i;
	const char *res = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return NULL;
	if (!pread_all(fd, &eh, sizeof(eh), 0) || memcmp(eh.e_ident, ELFMAG, SELFMAG) ||
	    eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_phentsize != sizeof(ph) || eh.e_phnum > 256)
		goto out;
	for (i = 0; i < eh.e_phnum; i++)
		if (pread_all(fd, &ph, sizeof(ph), (off_t)(eh.e_phoff + i * sizeof(ph))) &&
		    ph.p_type == PT_DYNAMIC)
			dyn = ph;
	for (i = 0; dyn.p_filesz && i < dyn.p_filesz / sizeof(d) && i < 4096; i++) {
		if (!pread_all(fd, &d, sizeof(d), (off_t)(dyn.p_offset + i * sizeof(d))) ||
		    d.d_tag == DT_NULL)
			break;
		if (d.d_tag == DT_STRTAB)
			strtab = d.d_un.d_ptr;
		else if (d.d_tag == DT_NEEDED && nneeded < 64)
			needed[nneeded++] = d.d_un.d_val;
	}
	/* the string table's address, as a file offset */
	for (i = 0; strtab && i < eh.e_phnum; i++)
		if (pread_all(fd, &ph, sizeof(ph), (off_t)(eh.e_phoff + i * sizeof(ph))) &&
		    ph.p_type == PT_LOAD && strtab >= ph.p_vaddr &&
		    strtab < ph.p_vaddr + ph.p_filesz)
			stroff = strtab - ph.p_vaddr + ph.p_offset;
	for (i = 0; stroff && i < nneeded && !res; i++) {
		char name[sizeof(found)] = "";

		if (pread(fd, name, sizeof(name) - 1, (off_t)(stroff + needed[i])) <= 0)
			continue;
		if (!strncmp(name, "libfuse3.so.", 12) || !strncmp(name, "libfuse.so.", 11)) {
			snprintf(found, sizeof(found), "%s", name);
			res = found;
		}
	}
out:
	close(fd);
	return res;
}

/* cuse-run, which puts the shim (and with it /dev/cuse) under the driver:
 * beside us (the test stage), in the build tree above us, or installed. */
static const char *cuse_run_path(void)
{
	static char path[PATH_MAX + 64];
	char exe[PATH_MAX - 64], *slash;
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	if (n > 0) {
		exe[n] = '\0';
		slash = strrchr(exe, '/');
		if (slash) {
			*slash = '\0';
			snprintf(path, sizeof(path), "%s/cuse-run", exe);
			if (access(path, X_OK) == 0)
				return path;
			snprintf(path, sizeof(path), "%s/../cuse-run", exe);
			if (access(path, X_OK) == 0)
				return path;
		}
	}
	return BINDIR "/cuse-run";
}

/* The driver runs under cuse-run, so that it sees registry devices as any
 * client does, and its open of /dev/cuse, if it makes one, goes to
 * cuse-bridge. */
static int run_under_shim(int argc, char **argv)
{
	const char *run = cuse_run_path();
	char **v = calloc((size_t)argc + 3, sizeof(char *));

	if (!v)
		return 125;
	v[0] = (char *)run;
	v[1] = "--";
	memcpy(v + 2, argv, (size_t)argc * sizeof(char *));
	execv(run, v);
	fprintf(stderr, "cused run: cannot run '%s': %s\n", run, strerror(errno));
	return 126;
}

static int cmd_run(int argc, char **argv, bool bridge, int debug)
{
	const char *dir = compat_dir(), *old, *lib;
	char probe[PATH_MAX + 256], prog[PATH_MAX], *ld;

	if (argc < 1) {
		fprintf(stderr, "cused run: no driver given\n");
		return 125;
	}
	if (find_program(argv[0], prog, sizeof(prog))) {
		fprintf(stderr, "cused run: cannot run '%s': %s\n", argv[0], strerror(ENOENT));
		return 127;
	}
	lib = libfuse_needed(prog);
	if (bridge || !lib || strcmp(lib, "libfuse3.so.3")) {
		if (debug)
			fprintf(stderr,
				"cused run: %s %s: bridged (cuse-bridge plays the kernel's "
				"/dev/cuse)\n",
				argv[0],
				bridge ? "(--bridge)"
				: lib  ? (snprintf(probe, sizeof(probe), "links %s", lib), probe)
				       : "links no libfuse.so (a static libfuse, or none)");
		return run_under_shim(argc, argv);
	}
	if (debug)
		fprintf(stderr, "cused run: %s links libfuse3.so.3: on libcused (%s)\n", argv[0],
			dir);
	snprintf(probe, sizeof(probe), "%s/libfuse3.so.3", dir);
	if (!exists(probe)) {
		fprintf(stderr, "cused run: cannot find libcused as '%s'\n", probe);
		return 125;
	}
	old = getenv("LD_LIBRARY_PATH");
	ld = malloc(strlen(dir) + (old ? strlen(old) : 0) + 2);
	if (!ld)
		return 125;
	sprintf(ld, "%s%s%s", dir, old && *old ? ":" : "", old && *old ? old : "");
	setenv("LD_LIBRARY_PATH", ld, 1);
	return run_under_shim(argc, argv);
}

/* Ask the driver of @sock: HELLO, then @op.  Returns 0 or -errno. */
static int admin(const char *sock, uint32_t op, struct cuseshim_status_out *st)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct {
		struct fuse_in_header in;
		struct cuseshim_hello_in hi;
	} hello = {{sizeof(hello), CUSESHIM_OP_HELLO, 2, 0, 0, 0, 0, 0, 0},
		   {CUSESHIM_MAGIC, CUSESHIM_PROTO_MAJOR, CUSESHIM_PROTO_MINOR, 0, 0}};
	struct fuse_in_header req = {sizeof(req), op, 4, 0, 0, 0, 0, 0, 0};
	char buf[256];
	struct fuse_out_header *out = (void *)buf;
	ssize_t n;
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    send(fd, &hello, sizeof(hello), 0) < 0 ||
	    recv(fd, buf, sizeof(buf), 0) < (ssize_t)sizeof(*out) || out->error ||
	    send(fd, &req, sizeof(req), 0) < 0) {
		close(fd);
		return -ENOTCONN;
	}
	n = recv(fd, buf, sizeof(buf), 0);
	close(fd);
	if (n < (ssize_t)sizeof(*out) || out->len != (uint32_t)n)
		return -EIO;
	if (out->error)
		return out->error;
	if (st && (size_t)n >= sizeof(*out) + sizeof(*st))
		memcpy(st, out + 1, sizeof(*st));
	return 0;
}

/* One live entry (registry_scan): a line of the list. */
static int show(const char *dir, const char *name, const struct registry_attr *a, void *data)
{
	char sock[PATH_MAX + 256];
	struct cuseshim_status_out st;
	int json = *(int *)data, err;

	snprintf(sock, sizeof(sock), "%s/%s", dir, name);
	if (access(sock, F_OK))
		return 0; /* aborted, or going away */
	err = admin(sock, CUSESHIM_OP_STATUS, &st);
	if (json)
		printf("{\"name\":\"%s\",\"pid\":%d,\"major\":%u,\"minor\":%u,"
		       "\"mode\":\"%04o\",\"uid\":%u,\"gid\":%u,\"unrestricted_ioctl\":%s",
		       name, (int)a->pid, a->major, a->minor, a->mode, (unsigned)a->uid,
		       (unsigned)a->gid, a->flags & 1 ? "true" : "false");
	else
		printf("/dev/%-24s pid %-7d %3u:%-3u %04o %u:%u", name, (int)a->pid, a->major,
		       a->minor, a->mode, (unsigned)a->uid, (unsigned)a->gid);
	if (json && !err)
		printf(",\"open_files\":%u,\"waiting\":%u}\n", st.open_files, st.waiting);
	else if (json)
		printf("}\n");
	else if (!err)
		printf(" open %u waiting %u\n", st.open_files, st.waiting);
	else
		printf("\n");
	return 0;
}

static int cmd_list(const char *dir, int json)
{
	registry_scan(dir, show, &json);
	return 0;
}

static int parse_id(const char *s, int group, unsigned *out)
{
	char *end;
	unsigned long v = strtoul(s, &end, 10);

	if (*s && !*end) {
		*out = (unsigned)v;
		return 0;
	}
	if (group) {
		struct group *g = getgrnam(s);

		if (g) {
			*out = g->gr_gid;
			return 0;
		}
	} else {
		struct passwd *p = getpwnam(s);

		if (p) {
			*out = p->pw_uid;
			return 0;
		}
	}
	return -1;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"dir", required_argument, NULL, 'D'},	 {"mode", required_argument, NULL, 'm'},
		{"owner", required_argument, NULL, 'o'}, {"group", required_argument, NULL, 'g'},
		{"json", no_argument, NULL, 'j'},	 {"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},	 {"bridge", no_argument, NULL, 'b'},
		{"debug", no_argument, NULL, 'd'},	 {NULL, 0, NULL, 0},
	};
	bool bridge = false;
	int debug = 0;
	const char *cmd;
	char dir[PATH_MAX], num[32];
	int c, json = 0;
	unsigned id;

	if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		usage(stdout);
		return 0;
	}
	if (argc > 1 && (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V"))) {
		printf("cused (cuseshim) %s\n", PACKAGE_VERSION);
		return 0;
	}
	if (argc < 2) {
		fprintf(stderr, "cused: no command given\n" TRY_HELP);
		return 125;
	}
	cmd = argv[1];
	argv++;
	argc--;
	argv[0] = "cused"; /* getopt's messages name it */
	while ((c = getopt_long(argc, argv, "+hVd", opts, NULL)) != -1) {
		switch (c) {
		case 'D': setenv("CUSE_DIR", optarg, 1); break;
		case 'm': {
			char *end;
			unsigned long v = strtoul(optarg, &end, 8);

			if (*end || v > 07777) {
				fprintf(stderr, "cused: --mode wants an octal mode, not '%s'\n",
					optarg);
				return 125;
			}
			setenv("CUSED_MODE", optarg, 1);
			break;
		}
		case 'o':
		case 'g':
			if (parse_id(optarg, c == 'g', &id)) {
				fprintf(stderr, "cused: no such %s '%s'\n",
					c == 'g' ? "group" : "user", optarg);
				return 125;
			}
			snprintf(num, sizeof(num), "%u", id);
			setenv(c == 'g' ? "CUSED_GROUP" : "CUSED_OWNER", num, 1);
			break;
		case 'j': json = 1; break;
		case 'b': bridge = true; break;
		case 'd': debug = 1; break;
		case 'h': usage(stdout); return 0;
		case 'V': printf("cused (cuseshim) %s\n", PACKAGE_VERSION); return 0;
		default: fputs(TRY_HELP, stderr); return 125;
		}
	}
	if (!strcmp(cmd, "run"))
		return cmd_run(argc - optind, argv + optind, bridge, debug);
	if (!strcmp(cmd, "list")) {
		if (registry_dir(dir, sizeof(dir), getenv("CUSE_DIR"), getenv("XDG_RUNTIME_DIR"),
				 geteuid()) < 0) {
			fprintf(stderr, "cused: registry directory name too long\n");
			return 125;
		}
		return cmd_list(dir, json);
	}
	if (!strcmp(cmd, "waiting") || !strcmp(cmd, "abort")) {
		char sock[PATH_MAX + 256], attr[PATH_MAX + 256];
		struct cuseshim_status_out st;
		int err;

		if (optind >= argc) {
			fprintf(stderr, "cused %s: which device?\n", cmd);
			return 125;
		}
		if (registry_dir(dir, sizeof(dir), getenv("CUSE_DIR"), getenv("XDG_RUNTIME_DIR"),
				 geteuid()) < 0 ||
		    registry_paths(dir, argv[optind], sock, sizeof(sock), attr, sizeof(attr))) {
			fprintf(stderr, "cused: bad device name '%s'\n", argv[optind]);
			return 125;
		}
		err = admin(sock, cmd[0] == 'w' ? CUSESHIM_OP_STATUS : CUSESHIM_OP_ABORT, &st);
		if (err) {
			fprintf(stderr, "cused %s: %s: %s\n", cmd, argv[optind],
				err == -ENOTCONN ? "no such device" : strerror(-err));
			return 1;
		}
		if (cmd[0] == 'w')
			printf("%u\n", st.waiting);
		return 0;
	}
	fprintf(stderr, "cused: unknown command '%s'\n" TRY_HELP, cmd);
	return 125;
}
