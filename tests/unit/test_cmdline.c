/* SPDX-License-Identifier: MIT */
/* Unit tests of cused/cmdline.c: fuse_parse_cmdline() and the option check
 * of fuse_session_new(), against libfuse 3.14's behaviour. */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cused_i.h"

int fuse_parse_cmdline_30(struct fuse_args *args, struct fuse_cmdline_opts *opts);
int fuse_parse_cmdline_312(struct fuse_args *args, struct fuse_cmdline_opts *opts);

static char last_log[1024];

void cused_log(enum fuse_log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(last_log, sizeof(last_log), fmt, ap);
	va_end(ap);
}

#define ARGS(...) make_args((char *[]){__VA_ARGS__, NULL})

static struct fuse_args make_args(char **argv)
{
	struct fuse_args args = FUSE_ARGS_INIT(0, argv);

	while (argv[args.argc])
		args.argc++;
	return args;
}

#define EXPECT_ARGS(args, ...) expect_args(args, (const char *[]){__VA_ARGS__, NULL})

static void expect_args(const struct fuse_args *args, const char **want)
{
	int n = 0;

	while (want[n])
		n++;
	cr_assert_eq(args->argc, n, "argc is %d, expected %d", args->argc, n);
	for (int i = 0; i < n; i++)
		cr_assert_str_eq(args->argv[i], want[i], "argv[%d] is \"%s\", expected \"%s\"", i,
				 args->argv[i], want[i]);
	cr_assert_null(args->argv[n]);
}

static int parse(struct fuse_args *args, struct fuse_cmdline_opts *opts)
{
	memset(opts, 0xa5, sizeof(*opts));
	return cused_parse_cmdline_312(args, opts);
}

/* --- fuse_parse_cmdline --- */

Test(cmdline, defaults)
{
	struct fuse_args args = ARGS("prog");
	struct fuse_cmdline_opts o;

	cr_assert_eq(parse(&args, &o), 0);
	cr_assert_eq(o.singlethread, 0);
	cr_assert_eq(o.foreground, 0);
	cr_assert_eq(o.debug, 0);
	cr_assert_eq(o.nodefault_subtype, 0);
	cr_assert_null(o.mountpoint);
	cr_assert_eq(o.show_version, 0);
	cr_assert_eq(o.show_help, 0);
	cr_assert_eq(o.clone_fd, 0);
	cr_assert_eq(o.max_idle_threads, UINT_MAX);
	cr_assert_eq(o.max_threads, 10);
	EXPECT_ARGS(&args, "prog", "-osubtype=prog");
	fuse_opt_free_args(&args);
}

Test(cmdline, help_flags_removed)
{
	struct fuse_args a = ARGS("prog", "-h");
	struct fuse_args b = ARGS("prog", "--help");
	struct fuse_cmdline_opts o;

	cr_assert_eq(parse(&a, &o), 0);
	cr_assert_eq(o.show_help, 1);
	EXPECT_ARGS(&a, "prog", "-osubtype=prog");
	cr_assert_eq(parse(&b, &o), 0);
	cr_assert_eq(o.show_help, 1);
	EXPECT_ARGS(&b, "prog", "-osubtype=prog");
	fuse_opt_free_args(&a);
	fuse_opt_free_args(&b);
}

Test(cmdline, version_flags_removed)
{
	struct fuse_args a = ARGS("prog", "-V");
	struct fuse_args b = ARGS("prog", "--version");
	struct fuse_cmdline_opts o;

	cr_assert_eq(parse(&a, &o), 0);
	cr_assert_eq(o.show_version, 1);
	EXPECT_ARGS(&a, "prog", "-osubtype=prog");
	cr_assert_eq(parse(&b, &o), 0);
	cr_assert_eq(o.show_version, 1);
	EXPECT_ARGS(&b, "prog", "-osubtype=prog");
	fuse_opt_free_args(&a);
	fuse_opt_free_args(&b);
}

Test(cmdline, dash_d_sets_debug_foreground_and_is_kept)
{
	struct fuse_args args = ARGS("prog", "-d");
	struct fuse_cmdline_opts o;

	cr_assert_eq(parse(&args, &o), 0);
	cr_assert_eq(o.debug, 1);
	cr_assert_eq(o.foreground, 1);
	EXPECT_ARGS(&args, "prog", "-d", "-osubtype=prog");
	fuse_opt_free_args(&args);
}

Test(cmdline, o_debug_sets_debug_foreground_and_is_kept)
{
	struct fuse_args args = ARGS("prog", "-o", "debug");
	struct fuse_cmdline_opts o;

	cr_assert_eq(parse(&args, &o), 0);
	cr_assert_eq(o.debug, 1);
	cr_assert_eq(o.foreground, 1);
	EXPECT_ARGS(&args, "prog", "-o", "debug", "-osubtype=prog");
	fuse_opt_free_args(&args);
}

Test(cmdline, foreground_and_singlethread)
{
	struct fuse_args args = ARGS("prog", "-f", "-s");
	struct fuse_cmdline_opts o;

	cr_assert_eq(parse(&args, &o), 0);
	cr_assert_eq(o.foreground, 1);
	cr_assert_eq(o.singlethread, 1);
	cr_assert_eq(o.debug, 0);
	EXPECT_ARGS(&args, "prog", "-osubtype=prog");
	fuse_opt_free_args(&args);
}

Test(cmdline, thread_options_consumed)
{
	struct fuse_args args =
		ARGS("prog", "-oclone_fd,max_idle_threads=3", "-o", "max_threads=7");
	struct fuse_cmdline_opts o;

	cr_assert_eq(parse(&args, &o), 0);
	cr_assert_eq(o.clone_fd, 1);
	cr_assert_eq(o.max_idle_threads, 3);
	cr_assert_eq(o.max_threads, 7);
	EXPECT_ARGS(&args, "prog", "-osubtype=prog");
	fuse_opt_free_args(&args);
}

Test(cmdline, invalid_thread_count)
{
	char *argv[] = {"prog", "-omax_threads=abc", NULL};
	struct fuse_args args = make_args(argv);
	struct fuse_cmdline_opts o;

	cr_assert_eq(parse(&args, &o), -1);
	cr_assert_str_eq(last_log, "fuse: invalid parameter in option `max_threads=abc'\n");
	cr_assert_eq(args.argv, argv);
}

Test(cmdline, unknown_options_stay)
{
	struct fuse_args args = ARGS("prog", "-x", "-o", "foo,debug", "--name=dev");
	struct fuse_cmdline_opts o;

	cr_assert_eq(parse(&args, &o), 0);
	EXPECT_ARGS(&args, "prog", "-o", "foo,debug", "-x", "--name=dev", "-osubtype=prog");
	fuse_opt_free_args(&args);
}

Test(cmdline, fsname_kept_and_no_default_subtype)
{
	struct fuse_args args = ARGS("prog", "-ofsname=a\\,b");
	struct fuse_cmdline_opts o;

	cr_assert_eq(parse(&args, &o), 0);
	cr_assert_eq(o.nodefault_subtype, 1);
	EXPECT_ARGS(&args, "prog", "-o", "fsname=a\\,b");
	fuse_opt_free_args(&args);
}

Test(cmdline, subtype_kept_and_no_default_subtype)
{
	struct fuse_args args = ARGS("prog", "-o", "subtype=y");
	struct fuse_cmdline_opts o;

	cr_assert_eq(parse(&args, &o), 0);
	cr_assert_eq(o.nodefault_subtype, 1);
	EXPECT_ARGS(&args, "prog", "-o", "subtype=y");
	fuse_opt_free_args(&args);
}

Test(cmdline, subtype_is_basename_of_argv0)
{
	struct fuse_args a = ARGS("/usr/lib/cuse/mydrv");
	struct fuse_args b = ARGS("drv/");
	struct fuse_cmdline_opts o;

	cr_assert_eq(parse(&a, &o), 0);
	EXPECT_ARGS(&a, "/usr/lib/cuse/mydrv", "-osubtype=mydrv");
	cr_assert_eq(parse(&b, &o), 0);
	EXPECT_ARGS(&b, "drv/", "-osubtype=/");
	fuse_opt_free_args(&a);
	fuse_opt_free_args(&b);
}

Test(cmdline, swtpm_empty_argv0)
{
	struct fuse_args args = ARGS("", "-f");
	struct fuse_cmdline_opts o;

	cr_assert_eq(parse(&args, &o), 0);
	cr_assert_eq(o.foreground, 1);
	cr_assert_null(o.mountpoint);
	EXPECT_ARGS(&args, "", "-osubtype=");
	fuse_opt_free_args(&args);
}

Test(cmdline, v4l2codecs_newline_argv0)
{
	struct fuse_args args = ARGS("\n", "-f", "-d");
	struct fuse_cmdline_opts o;

	cr_assert_eq(parse(&args, &o), 0);
	cr_assert_eq(o.debug, 1);
	EXPECT_ARGS(&args, "\n", "-d", "-osubtype=\n");
	fuse_opt_free_args(&args);
}

static char tmpdir[64];

static void make_tree(void)
{
	char path[PATH_MAX];

	strcpy(tmpdir, "/tmp/cused-cmdline-XXXXXX");
	cr_assert_not_null(mkdtemp(tmpdir));
	snprintf(path, sizeof(path), "%s/real", tmpdir);
	cr_assert_eq(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/link", tmpdir);
	cr_assert_eq(symlink("real", path), 0);
}

static void remove_tree(void)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/link", tmpdir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/real", tmpdir);
	rmdir(path);
	rmdir(tmpdir);
}

Test(cmdline, mountpoint_is_realpathed, .init = make_tree, .fini = remove_tree)
{
	char given[PATH_MAX], want[PATH_MAX + 8], resolved[PATH_MAX];
	struct fuse_cmdline_opts o;
	struct fuse_args args;

	snprintf(given, sizeof(given), "%s/link/./", tmpdir);
	cr_assert_not_null(realpath(tmpdir, resolved));
	snprintf(want, sizeof(want), "%s/real", resolved);
	args = ARGS("prog", given, "-f");
	cr_assert_eq(parse(&args, &o), 0);
	cr_assert_str_eq(o.mountpoint, want);
	EXPECT_ARGS(&args, "prog", "-osubtype=prog");
	free(o.mountpoint);
	fuse_opt_free_args(&args);
}

Test(cmdline, bad_mountpoint)
{
	struct fuse_args args = ARGS("prog", "/nonexistent-cused/zz");
	struct fuse_cmdline_opts o;

	cr_assert_eq(parse(&args, &o), -1);
	cr_assert_str_eq(
		last_log,
		"fuse: bad mount point `/nonexistent-cused/zz': No such file or directory\n");
	cr_assert_eq(args.allocated, 0);
}

Test(cmdline, second_mountpoint_is_invalid)
{
	struct fuse_args args = ARGS("prog", "/tmp", "/");
	struct fuse_cmdline_opts o;

	cr_assert_eq(parse(&args, &o), -1);
	cr_assert_str_eq(last_log, "fuse: invalid argument `/'\n");
	free(o.mountpoint);
}

Test(cmdline, option_after_dashdash_is_a_mountpoint)
{
	struct fuse_args args = ARGS("prog", "-d", "--", "-x");
	struct fuse_cmdline_opts o;

	cr_assert_eq(parse(&args, &o), -1);
	cr_assert_str_eq(last_log, "fuse: bad mount point `-x': No such file or directory\n");
}

Test(cmdline, dev_fd_mountpoint_taken_verbatim)
{
	struct fuse_args args = ARGS("prog", "/dev/fd/7");
	struct fuse_cmdline_opts o;

	cr_assert_eq(parse(&args, &o), 0);
	cr_assert_str_eq(o.mountpoint, "/dev/fd/7");
	free(o.mountpoint);
	fuse_opt_free_args(&args);
}

Test(cmdline, v30_leaves_max_threads_alone)
{
	struct fuse_args args = ARGS("prog", "-s", "-o", "max_threads=3,max_idle_threads=5");
	struct fuse_cmdline_opts o;

	memset(&o, 0xa5, sizeof(o));
	o.max_threads = 0xdeadbeef;
	cr_assert_eq(cused_parse_cmdline_30(&args, &o), 0);
	cr_assert_eq(o.singlethread, 1);
	cr_assert_eq(o.foreground, 0);
	cr_assert_null(o.mountpoint);
	cr_assert_eq(o.max_idle_threads, 5);
	cr_assert_eq(o.max_threads, 0xdeadbeef, "wrote past the FUSE_3.0 struct");
	EXPECT_ARGS(&args, "prog", "-osubtype=prog");
	fuse_opt_free_args(&args);
}

Test(cmdline, v30_failure_writes_nothing)
{
	struct fuse_args args = ARGS("prog", "/tmp", "/");
	struct fuse_cmdline_opts o, before;

	memset(&o, 0x5a, sizeof(o));
	before = o;
	cr_assert_eq(cused_parse_cmdline_30(&args, &o), -1);
	cr_assert_eq(memcmp(&o, &before, sizeof(o)), 0);
}

Test(cmdline, exported_wrappers)
{
	struct fuse_args a = ARGS("prog", "-f");
	struct fuse_args b = ARGS("prog", "-d");
	struct fuse_cmdline_opts o;

	cr_assert_eq(fuse_parse_cmdline_312(&a, &o), 0);
	cr_assert_eq(o.foreground, 1);
	cr_assert_eq(o.max_threads, 10);
	o.max_threads = 77;
	cr_assert_eq(fuse_parse_cmdline_30(&b, &o), 0);
	cr_assert_eq(o.debug, 1);
	cr_assert_eq(o.max_threads, 77);
	fuse_opt_free_args(&a);
	fuse_opt_free_args(&b);
}

/* --- help and version texts --- */

static char *read_stdout(void)
{
	static char buf[4096];
	FILE *f;
	size_t n;

	fflush(stdout);
	f = cr_get_redirected_stdout();
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	return buf;
}

Test(cmdline_text, lowlevel_version, .init = cr_redirect_stdout)
{
	char *out;

	fuse_lowlevel_version();
	out = read_stdout();
	cr_assert_eq(strncmp(out, "using FUSE kernel interface version 7.38\n", 41), 0, "%s", out);
	cr_assert_not_null(strstr(out, "libcused"));
}

Test(cmdline_text, cmdline_help_lists_every_option, .init = cr_redirect_stdout)
{
	const char *names[] = {"-h",	   "--help",	       "-V",	     "--version",
			       "-d",	   "-o debug",	       "-f",	     "-s",
			       "clone_fd", "max_idle_threads", "max_threads"};
	char *out;

	fuse_cmdline_help();
	out = read_stdout();
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		cr_assert_not_null(strstr(out, names[i]), "%s missing", names[i]);
}

Test(cmdline_text, lowlevel_help, .init = cr_redirect_stdout)
{
	char *out;

	fuse_lowlevel_help();
	out = read_stdout();
	cr_assert_not_null(strstr(out, "-o allow_other"));
	cr_assert_not_null(strstr(out, "-o allow_root"));
}

/* --- fuse_session_new()'s option check --- */

static struct cused_session_opts sopts;

static int session(struct fuse_args *args)
{
	memset(&sopts, 0x5a, sizeof(sopts));
	return cused_session_parse_opts(args, &sopts);
}

Test(session_opts, nothing_to_parse)
{
	struct fuse_args args = ARGS("prog");

	cr_assert_eq(session(&args), 0);
	cr_assert_eq(sopts.debug, 0);
	cr_assert_eq(sopts.allow_other, 0);
	cr_assert_eq(sopts.allow_root, 0);
	EXPECT_ARGS(&args, "prog");
	fuse_opt_free_args(&args);
}

Test(session_opts, debug_spellings)
{
	const char *spellings[] = {"-odebug", "-d", "--debug"};

	for (int i = 0; i < 3; i++) {
		struct fuse_args args = ARGS("prog", (char *)spellings[i]);

		cr_assert_eq(session(&args), 0, "%s", spellings[i]);
		cr_assert_eq(sopts.debug, 1, "%s", spellings[i]);
		EXPECT_ARGS(&args, "prog");
		fuse_opt_free_args(&args);
	}
}

Test(session_opts, allow_root_implies_allow_other)
{
	struct fuse_args args = ARGS("prog", "-o", "allow_root");

	cr_assert_eq(session(&args), 0);
	cr_assert_eq(sopts.allow_root, 1);
	cr_assert_eq(sopts.allow_other, 1);
	EXPECT_ARGS(&args, "prog");
	fuse_opt_free_args(&args);
}

Test(session_opts, allow_other)
{
	struct fuse_args args = ARGS("prog", "-oallow_other");

	cr_assert_eq(session(&args), 0);
	cr_assert_eq(sopts.allow_root, 0);
	cr_assert_eq(sopts.allow_other, 1);
	EXPECT_ARGS(&args, "prog");
	fuse_opt_free_args(&args);
}

Test(session_opts, every_mount_option_accepted)
{
	struct fuse_args args =
		ARGS("prog", "-n", "-r",
		     "-oblkdev,auto_unmount,fsname=a,fsname=b,max_read=5,subtype=c,subtype=,"
		     "blksize=x,default_permissions,context=u,fscontext=u,defcontext=u,"
		     "rootcontext=u,user=me,ro,rw,suid,nosuid,dev,nodev,exec,noexec,async,sync,"
		     "dirsync,atime,noatime,-n,-r");

	cr_assert_eq(session(&args), 0, "%s", last_log);
	cr_assert_eq(sopts.debug, 0);
	EXPECT_ARGS(&args, "prog");
	fuse_opt_free_args(&args);
}

Test(session_opts, options_after_parse_cmdline)
{
	struct fuse_args args = ARGS("", "-f", "-d", "-ofsname=x");
	struct fuse_cmdline_opts o;

	cr_assert_eq(parse(&args, &o), 0);
	cr_assert_eq(session(&args), 0);
	cr_assert_eq(sopts.debug, 1);
	EXPECT_ARGS(&args, "");
	fuse_opt_free_args(&args);
}

Test(session_opts, unknown_options_fail_and_free_args)
{
	struct fuse_args args = ARGS("prog", "-o", "foo,ro", "bar", "-x");

	cr_assert_eq(session(&args), -1);
	cr_assert_str_eq(last_log, "fuse: unknown option(s): `-o foo bar -x'\n");
	cr_assert_eq(args.argc, 0);
	cr_assert_null(args.argv);
}

Test(session_opts, options_of_later_libfuse_rejected)
{
	const char *opts[] = {"lazytime",    "relatime", "nodiratime", "strictatime",
			      "max_write=5", "clone_fd", "io_uring",   "allow_root=1"};
	char want[128];

	for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++) {
		struct fuse_args args = ARGS("prog", "-o", (char *)opts[i]);

		cr_assert_eq(session(&args), -1, "%s", opts[i]);
		snprintf(want, sizeof(want), "fuse: unknown option(s): `-o %s'\n", opts[i]);
		cr_assert_str_eq(last_log, want);
	}
}

Test(session_opts, help_is_not_a_session_option)
{
	struct fuse_args args = ARGS("prog", "-h");

	cr_assert_eq(session(&args), -1);
	cr_assert_str_eq(last_log, "fuse: unknown option(s): `-h'\n");
}

Test(session_opts, bad_max_read)
{
	struct fuse_args args = ARGS("prog", "-omax_read=x");

	cr_assert_eq(session(&args), -1);
	cr_assert_str_eq(last_log, "fuse: invalid parameter in option `max_read=x'\n");
	fuse_opt_free_args(&args);
}

Test(session_opts, empty_argv)
{
	struct fuse_args args = FUSE_ARGS_INIT(0, NULL);

	cr_assert_eq(session(&args), -1);
	cr_assert_str_eq(last_log, "fuse: empty argv passed to fuse_session_new().\n");
}

Test(session_opts, option_like_argv0_only_warns)
{
	struct fuse_args args = ARGS("-x");

	cr_assert_eq(session(&args), 0);
	cr_assert_str_eq(last_log,
			 "fuse: warning: argv[0] looks like an option, but will be ignored\n");
	EXPECT_ARGS(&args, "-x");
	fuse_opt_free_args(&args);
}

Test(session_opts, trailing_dashdash_is_fine)
{
	struct fuse_args a = ARGS("prog", "-odebug", "--");
	struct fuse_args b = ARGS("prog", "--", "x");

	cr_assert_eq(session(&a), 0);
	EXPECT_ARGS(&a, "prog");
	fuse_opt_free_args(&a);
	cr_assert_eq(session(&b), -1);
	cr_assert_str_eq(last_log, "fuse: unknown option(s): `-- x'\n");
}
