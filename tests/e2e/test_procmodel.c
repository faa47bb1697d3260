/* SPDX-License-Identifier: MIT */
/*
 * The process model from C programs: a parent and its fork child on one
 * fd at once, vfork+exec, libc's popen, exec and close-on-exec, the shim's
 * own fds under a low fd limit, closing twice, fdopen+fclose, the
 * program's signal state, NULL paths, and the fortified and 64-bit
 * builds of the other probes.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"

TestSuite(procmodel, .init = h_setup, .fini = h_teardown, .timeout = 120);

#define DEV "/dev/pm"

static struct h_driver drv;

static void start(void)
{
	cr_assert_eq(h_driver_start(&drv, "pm", NULL), 0, "driver did not start");
}

static void expect_balanced(int opens)
{
	cr_expect(h_log_wait(&drv, "release ", opens, 5000));
	h_msleep(50);
	cr_expect_eq(h_log_count(&drv, "open "), opens, "%s", h_log(&drv));
	cr_expect_eq(h_log_count(&drv, "release "), opens, "%s", h_log(&drv));
}

/* Run @argv under the shim; it must exit 0 and print @expect. */
static void expect_run(const char *expect, const char *const argv[])
{
	char *out = NULL, *err = NULL;
	int rc = h_run(H_SHIM, NULL, &out, &err, argv);

	cr_expect_eq(rc, 0, "%s exited %d:\n%s\n%s", argv[0], rc, out, err);
	cr_expect_str_eq(out, expect, "%s printed:\n%s\n%slog:\n%s", argv[0], out, err,
			 h_log(&drv));
	free(out);
	free(err);
}

#define PROC(expect, ...)                                                                          \
	expect_run((expect), (const char *const[]){h_stage("procprobe"), __VA_ARGS__, NULL})

/* Lines of the driver log that start with @prefix and end with @suffix. */
static int count_lines(const char *prefix, const char *suffix)
{
	char *log = h_log(&drv), *line, *save = NULL;
	size_t np = strlen(prefix), ns = strlen(suffix);
	int n = 0;

	for (line = strtok_r(log, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		size_t len = strlen(line);

		if (!strncmp(line, prefix, np) && len >= ns && !strcmp(line + len - ns, suffix))
			n++;
	}
	free(log);
	return n;
}

/* ---------------------------------------------------------------- fork */

/*
 * Thousands of requests from a parent and its fork child on the one fd
 * opened before the fork, at the same time.  Every count is checked (odd
 * sizes in the parent, even in the child), and the driver must see each
 * process's ioctls as that process's: a child still on the parent's
 * control connection would be the parent to the driver, and the two
 * would take each other's replies.
 */
static void hammer(bool seccomp, int rounds)
{
	char *out = NULL, suffix[32], arg[32];
	int parent = 0, child = 0, child2 = 0;
	const char *p;

	snprintf(arg, sizeof(arg), "forkhammer:%d", rounds);
	start();
	/* under the preloaded shim, or cuse-run --seccomp */
	cr_assert_eq(h_run(seccomp ? 0 : H_SHIM, NULL, &out, NULL,
			   (const char *const[]){h_stage("cuse-run"), "--seccomp", "--",
						 h_stage("procprobe"), "open:" DEV ":rw", arg,
						 "fionread", "close", NULL} +
				   (seccomp ? 0 : 3)),
		     0, "%s", out);
	cr_assert(!strncmp(out, "open=3\nhammer child=ok pid=", 27), "%s", out);
	child = atoi(out + 27);
	p = strstr(out, "\nhammer parent=ok pid=");
	cr_assert(p, "%s", out);
	cr_assert_eq(sscanf(p, "\nhammer parent=ok pid=%d child=%d", &parent, &child2), 2);
	cr_expect_eq(child, child2);
	cr_expect(strstr(out, "\nfionread=0\nclose=0\n"), "%s", out);
	free(out);
	expect_balanced(1);
	snprintf(suffix, sizeof(suffix), " pid=%d", child);
	cr_expect_eq(count_lines("ioctl fh=1 cmd=0x541b in=0 out=4 ", suffix), rounds);
	/* and one before the fork, one after */
	snprintf(suffix, sizeof(suffix), " pid=%d", parent);
	cr_expect_eq(count_lines("ioctl fh=1 cmd=0x541b in=0 out=4 ", suffix), rounds + 2);
	cr_expect_eq(h_log_count(&drv, "write fh=1 "), 2 * rounds);
	cr_expect_eq(h_log_count(&drv, "read fh=1 "), 2 * rounds);
}

Test(procmodel, parent_and_fork_child_hammer_the_same_fd)
{
	hammer(false, 2000);
}

/* The supervisor makes the requests for both processes and must still
 * name each as itself. */
Test(procmodel, parent_and_fork_child_hammer_the_same_fd_under_seccomp)
{
	hammer(true, 500);
}

/* ---------------------------------------------------------------- vfork, popen, exec */

/*
 * vfork, then exec of a program that uses the inherited fd; the second
 * child first moves it to fd 0 and closes the original with the shim's
 * wrappers, in memory it shares with the parent.  The parent's own view
 * stays: its fd 3 is still the device, its fd 0 still the pipe, and the
 * driver sees one release, at the parent's close.
 */
static void vfork_exec(bool seccomp)
{
	const char *want = "open=3\nwrite=2\nwrite=2\nfionread=4\nvforkexec=0\n"
			   "write=2\nisdev:0=yes\nread=2 data=P1\nvforkexec=0\n"
			   "isdev:0=no\nisdev:3=yes\nwrite=2\nread=6 data=C1C2P2\nclose=0\n";
	const char *argv[] = {h_stage("cuse-run"),
			      "--seccomp",
			      "--",
			      h_stage("procprobe"),
			      "open:" DEV ":rw",
			      "write:P1",
			      "vforkexec:-1:fd:3,write:C1,fionread",
			      "vforkexec:0:fd:0,write:C2,isdev:0,read:2",
			      "isdev:0",
			      "isdev:3",
			      "write:P2",
			      "read:100",
			      "close",
			      NULL};
	char *out = NULL;

	start();
	/* under the preloaded shim, or cuse-run --seccomp */
	cr_assert_eq(h_run(seccomp ? 0 : H_SHIM, NULL, &out, NULL, seccomp ? argv : argv + 3), 0,
		     "%s", out);
	cr_expect_str_eq(out, want, "printed:\n%s\nlog:\n%s", out, h_log(&drv));
	free(out);
	expect_balanced(1);
	cr_expect_eq(h_log_count(&drv, "write "), 4, "%s", h_log(&drv));
}

Test(procmodel, vfork_exec_children_and_the_parent_after_them)
{
	vfork_exec(false);
}

Test(procmodel, vfork_exec_children_and_the_parent_after_them_under_seccomp)
{
	vfork_exec(true);
}

Test(procmodel, libc_popen_writes_and_reads_the_device)
{
	start();
	PROC("popenw=0\npopenr=0 data=through popen\n", "popenw:" DEV ":through popen",
	     "popenr:" DEV);
	expect_balanced(2);
}

/* exec into a preloaded C program: fcntl(F_GETFD) works on the
 * inheritable fd and is EBADF on the close-on-exec one. */
Test(procmodel, exec_keeps_the_inheritable_fd_only)
{
	start();
	PROC("open=3\nopen=4\nwrite=4\ngetfd=0\nread=4 data=kept\ngetfd=-1 errno=EBADF\n"
	     "write=-1 errno=EBADF\n",
	     "open:" DEV ":rw", "open:" DEV ":rw+c", "write:kept",
	     "exec:fd:3,getfd,read:100,fd:4,getfd,write:x");
	expect_balanced(2);
}

/* ---------------------------------------------------------------- the shim's own fds */

/*
 * With RLIMIT_NOFILE at 256 the shim's connection sits at 128 or above,
 * where loops over every fd number reach it.  dup2 onto it gives the
 * program that number (it is /dev/null afterwards and closes); the device
 * keeps working.
 */
Test(procmodel, dup2_onto_the_shims_own_fds)
{
	start();
	PROC("nofile=0\nopen=3\nwrite=1\ninternal=some high=yes\ndup2internal=1 owned=1\n"
	     "internal=some high=yes\nwrite=1\nread=2 data=ab\n",
	     "nofile:256", "open:" DEV ":rw", "write:a", "internal", "dup2internal", "internal",
	     "write:b", "read:10");
	expect_balanced(1);
}

/* The same once the thread is busy enough for a request ring, whose
 * memfd the shim keeps high too: its connection and the memfd move, and
 * reads and writes through the ring go on. */
Test(procmodel, dup2_onto_the_shims_own_fds_with_a_ring)
{
	start();
	PROC("nofile=0\nopen=3\nwrite=1\nwrite=1\nwrite=1\nwrite=1\nwrite=1\n"
	     "internal=some high=yes\ndup2internal=2 owned=2\ninternal=some high=yes\n"
	     "write=1\nread=6 data=aaaaab\n",
	     "nofile:256", "open:" DEV ":rw", "write:a", "write:a", "write:a", "write:a", "write:a",
	     "internal", "dup2internal", "internal", "write:b", "read:10");
	expect_balanced(1);
}

Test(procmodel, closing_and_dup2ing_every_fd_number_under_a_low_limit)
{
	start();
	PROC("nofile=0\nopen=3\nwrite=1\ncloseall\nwrite=1\ndup2all failed=0\nwrite=1\n"
	     "closeall\nwrite=1\nread=4 data=abcd\n",
	     "nofile:256", "open:" DEV ":rw", "write:a", "closeall", "write:b", "dup2all",
	     "write:c", "closeall", "write:d", "read:10");
	expect_balanced(1);
}

/* ---------------------------------------------------------------- closing */

Test(procmodel, closing_twice_is_ebadf_with_one_release)
{
	start();
	expect_run("open=3\nwrite=1\nclose=0\nclose=-1 errno=EBADF\n",
		   (const char *const[]){h_stage("rwprobe"), "open:" DEV ":rw", "write:1", "close",
					 "close", NULL});
	expect_balanced(1);
}

Test(procmodel, fdopen_then_fclose_closes_the_device_once)
{
	start();
	PROC("open=3\nfclose=0\nclose=-1 errno=EBADF\nopen=3\nwrite=2\n", "open:" DEV ":rw",
	     "fdopenclose", "open:" DEV ":rw", "write:ok");
	expect_balanced(2);
}

/* An fd number closed behind the shim's back and reused for a regular
 * file: its ioctl is the file's (FIONREAD: the bytes left), not the
 * driver's. */
Test(procmodel, ioctl_on_a_reused_fd_number_goes_to_the_file)
{
	char path[600], arg[700];
	FILE *f;

	start();
	snprintf(path, sizeof(path), "%s/seven", h_dir());
	f = fopen(path, "w");
	cr_assert(f);
	fputs("7 bytes", f);
	fclose(f);
	cr_assert(!chmod(path, 0644));
	snprintf(arg, sizeof(arg), "open:%s:r", path);
	expect_run("open=3\nrawclose=0\nopen=3\nfionread=7\n",
		   (const char *const[]){h_stage("rwprobe"), "open:" DEV ":rw", "rawclose", arg,
					 "fionread", NULL});
	expect_balanced(1);
	cr_expect_eq(h_log_count(&drv, "ioctl "), 0, "%s", h_log(&drv));
}

/* ---------------------------------------------------------------- signals */

/* sigaction as the program set it, the masks of both threads, and every
 * handler fires, after both threads used the device: with the preloaded
 * shim, and under the seccomp supervisor (whose traps could claim
 * SIGSYS). */
Test(procmodel, the_programs_sigactions_and_masks_are_kept)
{
	static const char *const want =
		"open=3\nsigsetup\nwrite=3\nfionread=3\nread=3 data=sig\n"
		"sigcheck INT=same\nsigcheck TERM=same\nsigcheck CHLD=same\nsigcheck PIPE=same\n"
		"sigcheck SYS=same\nsigcheck mask=same\nsigcheck thread mask=same\n"
		"sigcheck fired INT=1 TERM=1 CHLD=1 PIPE=1 SYS=1\nclose=0\n";
	char *out = NULL;

	start();
	PROC(want, "open:" DEV ":rw", "sigsetup", "write:sig", "fionread", "read:3", "sigcheck",
	     "close");
	cr_assert_eq(H_RUN(0, &out, h_stage("cuse-run"), "--seccomp", "--", h_stage("procprobe"),
			   "open:" DEV ":rw", "sigsetup", "write:sig", "fionread", "read:3",
			   "sigcheck", "close"),
		     0, "%s", out);
	cr_expect_str_eq(out, want, "under --seccomp");
	free(out);
	expect_balanced(2);
}

/* ---------------------------------------------------------------- paths */

/* Every call with a NULL path fails as it does without the shim (each in
 * a child of its own, so that a crash is one line), plain and fortified. */
Test(procmodel, null_paths_fail_as_without_the_shim)
{
	static const char *const probes[] = {"procprobe", "fortprocprobe"};
	size_t i;

	if (h_sanitizers())
		cr_skip_test("ASan's interceptors come first in LD_PRELOAD and crash on a NULL "
			     "path (readlink, fopen64) before the shim sees it");
	start();
	for (i = 0; i < 2; i++) {
		char *with = NULL, *without = NULL;

		cr_assert_eq(H_RUN(H_SHIM, &with, h_stage(probes[i]), "nullpaths"), 0);
		cr_assert_eq(H_RUN(0, &without, h_stage(probes[i]), "nullpaths"), 0);
		cr_expect_str_eq(with, without, "%s", probes[i]);
		cr_expect(!strstr(with, "killed"), "%s", with);
		cr_expect(strstr(with, "\nstatx=-1 errno=EFAULT\n"), "%s", with);
		cr_expect(strstr(with, "\nreadlinkat=-1 errno=EFAULT\n"), "%s", with);
		cr_expect(strstr(with, "\nrealpath=-1 errno=EINVAL\n"), "%s", with);
		free(with);
		free(without);
	}
}

/* readlinkat relative to a dirfd of /proc/self/fd or /proc/self names the
 * device too; other fds keep their kernel names. */
Test(procmodel, readlinkat_under_a_proc_dirfd_names_the_device)
{
	char *out = NULL;

	start();
	PROC("open=3\nreadlinkatdirs 3=/dev/pm fd/3=/dev/pm\n", "open:" DEV ":rw",
	     "readlinkatdirs");
	cr_assert_eq(H_RUN(H_SHIM, &out, h_stage("procprobe"), "fd:1", "readlinkatdirs"), 0);
	cr_expect(!strncmp(out, "readlinkatdirs 1=pipe:[", 23), "%s", out);
	cr_expect(strstr(out, " fd/1=pipe:["), "%s", out);
	free(out);
}

/*
 * readlink and readlinkat with a length the compiler cannot see, into a
 * buffer whose size it knows: the fortified builds call __readlink_chk
 * and __readlinkat_chk, which must name the device, and still abort on a
 * length beyond the buffer.
 */
Test(procmodel, fortified_readlink_with_a_runtime_length)
{
	static const char *const probes[] = {"procprobe", "fortprocprobe", "fort2procprobe",
					     "lfsprocprobe"};
	char *out = NULL;
	size_t i;

	start();
	for (i = 0; i < sizeof(probes) / sizeof(probes[0]); i++)
		expect_run("open=3\nreadlinkn=/dev/pm\nreadlinkatn=/dev/pm\nreadlinkn=/dev\n",
			   (const char *const[]){h_stage(probes[i]), "open:" DEV ":rw",
						 "readlinkn:63", "readlinkatn:63", "readlinkn:4",
						 NULL});
	for (i = 1; i < 3; i++) {
		cr_assert_eq(H_RUN(0, &out, "nm", "-D", "--undefined-only", h_stage(probes[i])), 0);
		cr_expect(strstr(out, " __readlink_chk@"), "%s:\n%s", probes[i], out);
		cr_expect(strstr(out, " __readlinkat_chk@"), "%s:\n%s", probes[i], out);
		free(out);
		/* a length past the 64-byte buffer: glibc's check still fires */
		cr_expect_eq(
			H_RUN(H_SHIM, NULL, h_stage(probes[i]), "open:" DEV ":rw", "readlinkn:65"),
			128 + 6, "%s", probes[i]);
	}
}

/* ---------------------------------------------------------------- stdio */

/* The sizes of the driver's reads or writes (@prefix "read " or "write "),
 * in order, space-separated. */
static char *io_sizes(const char *prefix)
{
	char *log = h_log(&drv), *line, *save = NULL, *out = calloc(1, strlen(log) + 1);
	size_t np = strlen(prefix);

	cr_assert(out);
	for (line = strtok_r(log, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		const char *size = strstr(line, " size=");

		if (!strncmp(line, prefix, np) && size)
			sprintf(out + strlen(out), "%s%d", *out ? " " : "", atoi(size + 6));
	}
	free(log);
	return out;
}

/* setvbuf decides the writes the driver sees: unbuffered, one per fputs;
 * line-buffered, up to each newline and the rest at fflush; fully
 * buffered, one at fflush.  An unbuffered reader reads byte by byte. */
Test(procmodel, setvbuf_shapes_the_requests)
{
	static const char *const modes[] = {"setvbuf:n", "setvbuf:l", "setvbuf:f"};
	char *sizes;
	size_t i;

	start();
	for (i = 0; i < 3; i++)
		expect_run("fopen=3\nsetvbuf=0\nfputs=5\nfputs=6\nfflush=0\nfclose=0\n",
			   (const char *const[]){h_stage("stdioprobe"), "fopen:" DEV ":w", modes[i],
						 "fputs:ab\\ncd", "fputs:efghij", "fflush",
						 "fclose", NULL});
	sizes = io_sizes("write ");
	cr_expect_str_eq(sizes, "5 6 3 8 11");
	free(sizes);
	expect_run("fopen=3\nsetvbuf=0\nfgets=3 data=ab\\n\nfclose=0\n",
		   (const char *const[]){h_stage("stdioprobe"), "fopen:" DEV ":r", "setvbuf:n",
					 "fgets:100", "fclose", NULL});
	sizes = io_sizes("read ");
	cr_expect_str_eq(sizes, "1 1 1");
	free(sizes);
	expect_balanced(4);
}

/* ---------------------------------------------------------------- other builds */

Test(procmodel, fortified_and_large_file_stdio_probes)
{
	static const char *const probes[] = {"fortstdioprobe", "fort2stdioprobe", "lfsstdioprobe"};
	const char *want = "fopen=3\nsetvbuf=0\nfwrite=5\nfprintf=4\nfputs=3\nfflush=0\n"
			   "fionread=12\nfclose=0\nfopen64=3\nfgets=6 data=aaaaa\\n\n"
			   "getline=4 data=x=1\\n\nfread=2 data=zz\nfclose=0\n";
	size_t i;

	start();
	for (i = 0; i < sizeof(probes) / sizeof(probes[0]) + 1; i++) {
		const char *probe = i ? probes[i - 1] : "stdioprobe";
		char *out = NULL;

		cr_assert_eq(H_RUN(H_SHIM, &out, h_stage(probe), "fopen:" DEV ":w", "setvbuf:f:64",
				   "fwrite:5", "fprintf:\\nx=1", "fputs:\\nzz", "fflush",
				   "fionread", "fclose", "fopen64:" DEV ":r", "fgets:100",
				   "getline", "fread:10", "fclose"),
			     0, "%s", probe);
		cr_expect_str_eq(out, want, "%s printed:\n%s", probe, out);
		free(out);
	}
}

Test(procmodel, fortified_and_large_file_ioctl_probes)
{
	static const char *const probes[] = {"ioctlprobe", "fortioctlprobe", "fort2ioctlprobe",
					     "lfsioctlprobe"};
	char logarg[600], *plain = NULL;
	size_t i;

	snprintf(logarg, sizeof(logarg), "--log=%s/ptr0.log", h_dir());
	cr_assert_eq(h_driver_start_argv(
			     &drv, "ptr0",
			     (const char *const[]){"ptrdev", "-f", "--name=ptr0", logarg, NULL}, 0),
		     0, "ptrdev did not start");
	for (i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
		char *out = NULL;

		cr_assert_eq(H_RUN(H_SHIM, &out, h_stage(probes[i]), "open:/dev/ptr0",
				   "reverse:fortified", "get:8", "fill:5:q", "fionread", "iov256",
				   "rput:stdio", "rget", "result:7", "err:5", "file", "pipe"),
			     0, "%s", probes[i]);
		if (!i) {
			plain = out;
			cr_expect(strstr(plain, "data=deifitrof"), "%s", plain);
			continue;
		}
		cr_expect_str_eq(out, plain, "%s differs:\n%s---\n%s", probes[i], out, plain);
		free(out);
	}
	free(plain);
}

/* stress's parent and child threads, fortified and with 64-bit off_t. */
Test(procmodel, fortified_and_large_file_stress)
{
	static const char *const probes[] = {"fortstress", "lfsstress"};
	const char *extra[] = {"--per-open", NULL};
	size_t i;

	cr_assert_eq(h_driver_start_blocking(&drv, "pm", extra), 0);
	for (i = 0; i < 2; i++) {
		char *out = NULL;

		cr_assert_eq(
			h_run(H_SHIM, NULL, &out, NULL,
			      (const char *const[]){h_stage(probes[i]), DEV, "-100", "3", NULL}),
			0, "%s: %s", probes[i], out);
		cr_expect_str_eq(out, "ok ops=1500\nok ops=1500\n", "%s", probes[i]);
		free(out);
	}
}
