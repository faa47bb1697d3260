/* SPDX-License-Identifier: MIT */
/*
 * Command-line handling a driver sees through libfuse: fuse_parse_cmdline()
 * (both ABIs), the help and version texts, and the option check that
 * fuse_session_new() performs.  Option sets and messages are libfuse 3.14's.
 */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cused_i.h"

/* With versioned symbols the header declares only fuse_parse_cmdline(); the
 * two implementations behind its FUSE_3.0 and FUSE_3.12 versions: */
int fuse_parse_cmdline_30(struct fuse_args *args, struct fuse_cmdline_opts *opts);
int fuse_parse_cmdline_312(struct fuse_args *args, struct fuse_cmdline_opts *opts);

/* What the CUSE_INIT reply of libcused announces. */
#define CUSED_KERNEL_MAJOR 7
#define CUSED_KERNEL_MINOR 38

static int nomem(void)
{
	cused_log(FUSE_LOG_ERR, "fuse: memory allocation failed\n");
	return -1;
}

/* clang-format off */
#define CMDLINE_FLAG(templ, field) { templ, offsetof(struct fuse_cmdline_opts, field), 1 }
#define CMDLINE_VALUE(templ, field) { templ, offsetof(struct fuse_cmdline_opts, field), 0 }
/* clang-format on */

/* "-d"/"debug" and "fsname="/"subtype=" are also kept in the arguments:
 * fuse_session_new() acts on them later. */
static const struct fuse_opt cmdline_templates[] = {
	CMDLINE_FLAG("-h", show_help),
	CMDLINE_FLAG("--help", show_help),
	CMDLINE_FLAG("-V", show_version),
	CMDLINE_FLAG("--version", show_version),
	CMDLINE_FLAG("-d", debug),
	CMDLINE_FLAG("-d", foreground),
	FUSE_OPT_KEY("-d", FUSE_OPT_KEY_KEEP),
	CMDLINE_FLAG("debug", debug),
	CMDLINE_FLAG("debug", foreground),
	FUSE_OPT_KEY("debug", FUSE_OPT_KEY_KEEP),
	CMDLINE_FLAG("-f", foreground),
	CMDLINE_FLAG("-s", singlethread),
	CMDLINE_FLAG("fsname=", nodefault_subtype),
	FUSE_OPT_KEY("fsname=", FUSE_OPT_KEY_KEEP),
	CMDLINE_FLAG("subtype=", nodefault_subtype),
	FUSE_OPT_KEY("subtype=", FUSE_OPT_KEY_KEEP),
	CMDLINE_FLAG("clone_fd", clone_fd),
	CMDLINE_VALUE("max_idle_threads=%u", max_idle_threads),
	CMDLINE_VALUE("max_threads=%u", max_threads),
	FUSE_OPT_END,
};

/* "/dev/fd/N" names a /dev/fuse descriptor inherited from a parent; libfuse
 * takes it verbatim instead of resolving it. */
static bool is_fd_mountpoint(const char *arg)
{
	unsigned int fd;
	int len = 0;

	return sscanf(arg, "/dev/fd/%u%n", &fd, &len) == 1 && (size_t)len == strlen(arg);
}

/* The one non-option is the mount point; CUSE has no use for it, but it
 * must exist, as with libfuse. */
static int cmdline_proc(void *data, const char *arg, int key, struct fuse_args *outargs)
{
	struct fuse_cmdline_opts *opts = data;
	char path[PATH_MAX];

	if (key != FUSE_OPT_KEY_NONOPT)
		return 1;

	if (opts->mountpoint) {
		cused_log(FUSE_LOG_ERR, "fuse: invalid argument `%s'\n", arg);
		return -1;
	}
	if (is_fd_mountpoint(arg))
		return fuse_opt_add_opt(&opts->mountpoint, arg);
	if (!realpath(arg, path)) {
		cused_log(FUSE_LOG_ERR, "fuse: bad mount point `%s': %s\n", arg, strerror(errno));
		return -1;
	}
	return fuse_opt_add_opt(&opts->mountpoint, path);
}

/* "-osubtype=<basename of argv[0]>"; a trailing '/' is its own basename. */
static int add_default_subtype(struct fuse_args *args)
{
	const char *prog = args->argc ? args->argv[0] : "";
	const char *base = strrchr(prog, '/');
	char *opt;
	int res;

	if (!base)
		base = prog;
	else if (base[1])
		base++;
	if (asprintf(&opt, "-osubtype=%s", base) < 0)
		return nomem();
	res = fuse_opt_add_arg(args, opt);
	free(opt);
	return res;
}

int cused_parse_cmdline_312(struct fuse_args *args, struct fuse_cmdline_opts *opts)
{
	memset(opts, 0, sizeof(*opts));
	opts->max_idle_threads = UINT_MAX;
	opts->max_threads = 10;

	if (fuse_opt_parse(args, opts, cmdline_templates, cmdline_proc) == -1)
		return -1;
	if (!opts->nodefault_subtype && add_default_subtype(args) == -1)
		return -1;
	return 0;
}

/* A FUSE_3.0 caller's struct ends after max_idle_threads: fill only that
 * much, and nothing at all on failure. */
int cused_parse_cmdline_30(struct fuse_args *args, struct fuse_cmdline_opts *opts)
{
	struct fuse_cmdline_opts full;

	if (cused_parse_cmdline_312(args, &full) == -1) {
		free(full.mountpoint);
		return -1;
	}
	memcpy(opts, &full,
	       offsetof(struct fuse_cmdline_opts, max_idle_threads) +
		       sizeof(full.max_idle_threads));
	return 0;
}

CUSED_EXPORT int fuse_parse_cmdline_30(struct fuse_args *args, struct fuse_cmdline_opts *opts)
{
	return cused_parse_cmdline_30(args, opts);
}

CUSED_EXPORT int fuse_parse_cmdline_312(struct fuse_args *args, struct fuse_cmdline_opts *opts)
{
	return cused_parse_cmdline_312(args, opts);
}

CUSED_EXPORT void fuse_cmdline_help(void)
{
	printf("    -h   --help            show this help text\n"
	       "    -V   --version         show version information\n"
	       "    -d   -o debug          log every request (implies -f)\n"
	       "    -f                     stay in the foreground\n"
	       "    -s                     serve requests from a single thread\n"
	       "    -o clone_fd            give each worker thread its own channel\n"
	       "    -o max_idle_threads=N  idle worker threads kept at most\n"
	       "                           (default: -1, no limit)\n"
	       "    -o max_threads=N       worker threads at most (default: 10)\n");
}

CUSED_EXPORT void fuse_lowlevel_help(void)
{
	printf("    -o allow_other         let every user open the device\n"
	       "    -o allow_root          let root open the device as well\n"
	       "    -o auto_unmount        accepted; devices vanish with the driver anyway\n");
}

CUSED_EXPORT void fuse_lowlevel_version(void)
{
	printf("using FUSE kernel interface version %i.%i\n", CUSED_KERNEL_MAJOR,
	       CUSED_KERNEL_MINOR);
	printf("libcused (cuseshim): CUSE devices served without /dev/cuse\n");
}

/*
 * fuse_session_new() parses its arguments twice: for the lowlevel options,
 * then (after allow_root has added "-oallow_other") for libfuse 3.14's mount
 * options.  The mount options mean nothing for a CUSE device but must be
 * accepted, and their parameters checked, exactly as libfuse does ("-o
 * max_read=x" fails).  3.14 has none of the *atime/lazytime options of later
 * releases.
 */
/* clang-format off */
#define SESSION_FLAG(templ, field) { templ, offsetof(struct cused_session_opts, field), 1 }
/* clang-format on */

static const struct fuse_opt session_templates[] = {
	SESSION_FLAG("debug", debug),
	SESSION_FLAG("-d", debug),
	SESSION_FLAG("--debug", debug),
	SESSION_FLAG("allow_root", allow_root),
	FUSE_OPT_END,
};

struct ignored_mount_opts {
	int allow_other;
	char *fsname;
	char *subtype;
	unsigned int max_read;
};

/* clang-format off */
#define MOUNT_FIELD(templ, field, val) { templ, offsetof(struct ignored_mount_opts, field), val }
#define MOUNT_IGNORED(templ) FUSE_OPT_KEY(templ, FUSE_OPT_KEY_DISCARD)
/* clang-format on */

static const struct fuse_opt mount_templates[] = {
	MOUNT_FIELD("allow_other", allow_other, 1),
	MOUNT_FIELD("fsname=%s", fsname, 0),
	MOUNT_FIELD("subtype=%s", subtype, 0),
	MOUNT_FIELD("max_read=%u", max_read, 0),
	MOUNT_IGNORED("blkdev"),
	MOUNT_IGNORED("auto_unmount"),
	MOUNT_IGNORED("blksize="),
	MOUNT_IGNORED("default_permissions"),
	MOUNT_IGNORED("context="),
	MOUNT_IGNORED("fscontext="),
	MOUNT_IGNORED("defcontext="),
	MOUNT_IGNORED("rootcontext="),
	MOUNT_IGNORED("user="),
	MOUNT_IGNORED("-n"),
	MOUNT_IGNORED("-r"),
	MOUNT_IGNORED("ro"),
	MOUNT_IGNORED("rw"),
	MOUNT_IGNORED("suid"),
	MOUNT_IGNORED("nosuid"),
	MOUNT_IGNORED("dev"),
	MOUNT_IGNORED("nodev"),
	MOUNT_IGNORED("exec"),
	MOUNT_IGNORED("noexec"),
	MOUNT_IGNORED("async"),
	MOUNT_IGNORED("sync"),
	MOUNT_IGNORED("dirsync"),
	MOUNT_IGNORED("atime"),
	MOUNT_IGNORED("noatime"),
	FUSE_OPT_END,
};

/* "fuse: unknown option(s): `a b c'", the leftovers joined by spaces. */
static void log_unknown(const struct fuse_args *args)
{
	size_t len = 0;
	char *list, *d;

	for (int i = 1; i < args->argc; i++)
		len += strlen(args->argv[i]) + 1;
	list = malloc(len);
	if (!list) {
		nomem();
		return;
	}
	d = list;
	for (int i = 1; i < args->argc; i++) {
		if (i > 1)
			*d++ = ' ';
		d = stpcpy(d, args->argv[i]);
	}
	cused_log(FUSE_LOG_ERR, "fuse: unknown option(s): `%s'\n", list);
	free(list);
}

int cused_session_parse_opts(struct fuse_args *args, struct cused_session_opts *opts)
{
	struct ignored_mount_opts mo = {0};
	int res = -1;

	memset(opts, 0, sizeof(*opts));
	if (args->argc == 0) {
		cused_log(FUSE_LOG_ERR, "fuse: empty argv passed to fuse_session_new().\n");
		return -1;
	}

	if (fuse_opt_parse(args, opts, session_templates, NULL) == -1)
		return -1;
	/* libfuse implements allow_root as allow_other plus its own check. */
	if (opts->allow_root && fuse_opt_add_arg(args, "-oallow_other") == -1)
		return -1;
	if (fuse_opt_parse(args, &mo, mount_templates, NULL) == -1)
		goto out;
	opts->allow_other = mo.allow_other;

	if (args->argc == 1 && args->argv[0][0] == '-') {
		cused_log(FUSE_LOG_ERR,
			  "fuse: warning: argv[0] looks like an option, but will be ignored\n");
	} else if (args->argc != 1) {
		log_unknown(args);
		/* libfuse frees the arguments on this path. */
		fuse_opt_free_args(args);
		goto out;
	}
	res = 0;
out:
	free(mo.fsname);
	free(mo.subtype);
	return res;
}
