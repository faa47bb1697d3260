/* SPDX-License-Identifier: MIT */
/*
 * End-to-end: stdio on devices.  glibc's FILE makes its system calls inside
 * libc, so without the shim's stdio streams a read through stdio never
 * reaches the driver and waits for ever.  stdioprobe drives fopen, fdopen
 * and freopen step by step; fstreamprobe is C++; and unmodified programs
 * read the device as stdin or as a file.  Where the kernel's behaviour is
 * visible to a driver (the TCGETS probe, 4096-byte reads, one WRITE per
 * flush, one RELEASE per fclose) the driver's log is checked.
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

TestSuite(stdio, .init = h_setup, .fini = h_teardown, .timeout = 120);

#define DEV "/dev/sdev0"

static struct h_driver drv;

static void start(void)
{
	cr_assert_eq(h_driver_start(&drv, "sdev0", NULL), 0, "bufdev did not start");
}

/* Put @data into the device's queue with a shell redirection. */
static void fill(const char *data)
{
	char cmd[4096];

	snprintf(cmd, sizeof(cmd), "printf '%%s' '%s' > " DEV, data);
	cr_assert_eq(H_RUN(H_SHIM, NULL, "dash", "-c", cmd), 0);
}

static void expect_run(int flags, const char *expect, const char *const argv[])
{
	char *out = NULL;
	int rc = h_run(flags, NULL, &out, NULL, argv);

	cr_expect_eq(rc, 0, "%s exited %d", argv[0], rc);
	cr_expect_str_eq(out, expect, "%s printed:\n%s\nlog:\n%s", argv[0], out, h_log(&drv));
	free(out);
}

/* stdioprobe STEP... under the shim must print @expect. */
#define PROBE(expect, ...)                                                                         \
	expect_run(H_SHIM, (expect),                                                               \
		   (const char *const[]){h_stage("stdioprobe"), __VA_ARGS__, NULL})

/* `sh -c @cmd` under the shim must print @expect. */
static void expect_sh(const char *cmd, const char *expect)
{
	expect_run(H_SHIM, expect, (const char *const[]){"sh", "-c", cmd, NULL});
}

/* Every open file description got exactly one release. */
static void expect_balanced(int opens)
{
	cr_expect(h_log_wait(&drv, "release ", opens, 5000));
	h_msleep(50);
	cr_expect_eq(h_log_count(&drv, "open "), opens, "opens in log:\n%s", h_log(&drv));
	cr_expect_eq(h_log_count(&drv, "release "), opens, "releases in log:\n%s", h_log(&drv));
}

/* The log lines starting with each of @want appear in that order, each
 * after the previous one. */
static void expect_sequence(const char *const want[])
{
	char *log = h_log(&drv), *at = log;

	for (; *want; want++) {
		char *hit = strstr(at, *want);

		while (hit && hit != log && hit[-1] != '\n')
			hit = strstr(hit + 1, *want);
		cr_expect(hit, "no '%s' after the previous line in the log:\n%s", *want, log);
		if (!hit)
			break;
		at = hit + strlen(*want);
	}
	free(log);
}

/* ---------------------------------------------------------------- reading */

Test(stdio, fopen_reads_reach_the_driver)
{
	start();
	fill("line one\n42 word\nthird\nfourth\n");
	PROBE("fopen=3\nfgets=9 data=line one\\n\nfscanf=2 int=42 str=word\nfgetc=10\n"
	      "getline=6 data=third\\n\nfread=7 data=fourth\\n\nfeof=1 ferror=0\nfclose=0\n",
	      "fopen:" DEV ":r", "fgets:100", "fscanf", "fgetc", "getline", "fread:100", "state",
	      "fclose");
	expect_balanced(2);
}

/* The kernel measurement: fopen("r") + fread(8) is a TCGETS (glibc's tty
 * probe of a character device), then ONE read of st_blksize, 4096. */
Test(stdio, fread_is_tcgets_then_one_read_of_4096)
{
	start();
	fill("0123456789abcdef");
	PROBE("fopen=3\nfread=8 data=01234567\nfread=8 data=89abcdef\nfclose=0\n",
	      "fopen:" DEV ":r", "fread:8", "fread:8", "fclose");
	cr_expect_eq(h_log_count(&drv, "read "), 1, "%s", h_log(&drv));
	expect_sequence((const char *const[]){"open fh=2 ", "ioctl fh=2 cmd=0x5401 ",
					      "read fh=2 size=4096 off=0 ", "release fh=2 ", NULL});
}

Test(stdio, fopen64_reads_too)
{
	start();
	fill("sixty-four\n");
	PROBE("fopen64=3\ngetline=11 data=sixty-four\\n\nfclose=0\n", "fopen64:" DEV ":rb",
	      "getline", "fclose");
	expect_balanced(2);
}

Test(stdio, end_of_file_and_errors_as_glibc)
{
	start();
	PROBE("fopen=3\nfgets=NULL\nfeof=1 ferror=0\nfclose=0\n"
	      "fopen=3\nfread=0 data=\nfeof=0 ferror=1\nfclose=0\n",
	      "fopen:" DEV ":r", "fgets:10", "state", "fclose",
	      /* reading a write-only stream fails in glibc, before the driver */
	      "fopen:" DEV ":w", "fread:4", "state", "fclose");
	cr_expect_eq(h_log_count(&drv, "read "), 1);
	expect_balanced(2);
}

/* ---------------------------------------------------------------- writing */

Test(stdio, fprintf_and_fflush_are_one_write)
{
	char *out = NULL;

	start();
	PROBE("fopen=3\nfprintf=8\nfprintf=3\nfflush=0\nfclose=0\n", "fopen:" DEV ":w",
	      "fprintf:abc\\ndef\\n", "fprintf:ghi", "fflush", "fclose");
	/* not a tty: fully buffered, so the newlines did not flush */
	cr_expect_eq(h_log_count(&drv, "write "), 1, "%s", h_log(&drv));
	cr_expect_eq(h_log_count(&drv, "write fh=1 size=11 off=0 "), 1, "%s", h_log(&drv));
	cr_assert_eq(H_RUN(H_SHIM, &out, "cat", DEV), 0);
	cr_expect_str_eq(out, "abc\ndef\nghi");
	free(out);
	expect_balanced(2);
}

Test(stdio, fclose_flushes_and_append_mode)
{
	char *out = NULL;

	start();
	PROBE("fopen=3\nfputs=4\nfwrite=5\nfclose=0\nfopen=3\nfputs=3\nfclose=0\n",
	      "fopen:" DEV ":w", "fputs:one\\n", "fwrite:5:z", "fclose", "fopen:" DEV ":a",
	      "fputs:two", "fclose");
	cr_expect_eq(h_log_count(&drv, "write "), 2, "%s", h_log(&drv));
	/* "a" is O_WRONLY|O_APPEND: the driver sees the append flag */
	cr_expect_eq(h_log_count(&drv, "open fh=2 flags=0102001 "), 1, "%s", h_log(&drv));
	cr_assert_eq(H_RUN(H_SHIM, &out, "cat", DEV), 0);
	cr_expect_str_eq(out, "one\nzzzzztwo");
	free(out);
}

Test(stdio, read_write_stream)
{
	start();
	PROBE("fopen=3\nfputs=6\nfflush=0\nfgets=6 data=round\\n\nfclose=0\n", "fopen:" DEV ":r+",
	      "fputs:round\\n", "fflush", "fgets:50", "fclose");
	cr_expect_eq(h_log_count(&drv, "open fh=1 flags=0100002 "), 1, "%s", h_log(&drv));
	expect_balanced(1);
}

/* ---------------------------------------------------------------- fds */

Test(stdio, one_open_and_one_release_per_stream)
{
	start();
	PROBE("fopen=3\nfopen=4\nfclose=0\nfopen64=4\nfclose=0\nfclose=0\n", "fopen:" DEV ":r",
	      "fopen:" DEV ":w", "fclose", "fopen64:" DEV ":a+", "fclose", "std:in", "fclose");
	/* the first stream is left to exit, which releases it too */
	expect_balanced(3);
}

Test(stdio, fileno_and_fionread)
{
	start();
	fill("12345");
	PROBE("fopen=3\nfileno=3\nfionread=5\nfgetc=49\nfionread=0\nfclose=0\n", "fopen:" DEV ":r",
	      "fileno", "fionread", "fgetc", "fionread", "fclose");
	/* bufdev asks for the int with a retry: the second request of each */
	cr_expect_eq(h_log_count(&drv, "ioctl fh=2 cmd=0x541b in=0 out=4"), 2, "%s", h_log(&drv));
}

Test(stdio, fclose_after_close_of_fileno_releases_once)
{
	start();
	PROBE("fopen=3\nclosefd=0\nfclose=-1 errno=EBADF\n", "fopen:" DEV ":r", "closefd",
	      "fclose");
	expect_balanced(1);
}

Test(stdio, modes_the_driver_never_sees)
{
	start();
	PROBE("fopen=-1 errno=EEXIST\nfopen=-1 errno=EINVAL\nfopen=-1 errno=EINVAL\n"
	      "fopen=3\nfclose=0\nfopen=3\nfclose=0\n",
	      "fopen:" DEV ":wx", "fopen:" DEV ":r,ccs=UTF-8", "fopen:" DEV ":q",
	      /* x without create is not exclusive; e, m and c change nothing */
	      "fopen:" DEV ":rx", "fclose", "fopen:" DEV ":wbemc", "fclose");
	expect_balanced(2);
	cr_expect_eq(h_log_count(&drv, "open fh=2 flags=0100001 "), 1, "%s", h_log(&drv));
}

Test(stdio, missing_and_stale_devices_fail_fopen)
{
	PROBE("fopen=-1 errno=ENOENT\n", "fopen:/dev/sdev-none:r");
	start();
	h_driver_stop(&drv, SIGKILL);
	cr_assert_neq(h_driver_wait(&drv, 5000), -1);
	/* as in the kernel, where the node went with the driver: "w" would
	 * create it, which /dev does not let us do */
	PROBE("fopen=-1 errno=ENOENT\nfopen64=-1 errno=EACCES\n", "fopen:" DEV ":r",
	      "fopen64:" DEV ":w");
}

/* ---------------------------------------------------------------- fdopen */

Test(stdio, fdopen_of_a_device_fd)
{
	start();
	PROBE("open=3\nfdopen=3\nfputs=4\nfflush=0\nfgets=4 data=via\\n\nfclose=0\n",
	      "open:" DEV ":rw", "fdopen:r+", "fputs:via\\n", "fflush", "fgets:10", "fclose");
	expect_balanced(1);
}

Test(stdio, fdopen_checks_the_access_mode)
{
	start();
	PROBE("open=3\nfdopen=-1 errno=EINVAL\nfdopen=-1 errno=EINVAL\nfdopen=3\nfclose=0\n"
	      "open=3\nfdopen=-1 errno=EINVAL\nfdopen=3\nfputs=3\nfclose=0\n",
	      "open:" DEV ":r", "fdopen:w", "fdopen:r+", "fdopen:rb", "fclose", "open:" DEV ":w",
	      "fdopen:r", "fdopen:a", "fputs:end", "fclose");
	expect_balanced(2);
	cr_expect_eq(h_log_count(&drv, "write fh=2 size=3 off=0 flags=0102001 "), 1,
		     "fdopen(a) sets O_APPEND:\n%s", h_log(&drv));
}

Test(stdio, fdopen_of_an_inherited_fd)
{
	char *out = NULL;

	start();
	fill("inherited\n");
	cr_assert_eq(H_RUN(H_SHIM, &out, "bash", "-c",
			   "exec 5<" DEV "; \"$0\" fd:5 fdopen:r getline", h_stage("stdioprobe")),
		     0);
	cr_expect_str_eq(out, "fdopen=5\ngetline=10 data=inherited\\n\n");
	free(out);
	expect_balanced(2);
}

/* ---------------------------------------------------------------- freopen */

Test(stdio, freopen_stdout_onto_the_device)
{
	char *out = NULL;

	start();
	PROBE("freopen=same fileno=1\nfprintf=7\nfflush=0\nfprintf=5\n", "std:out",
	      "freopen:" DEV ":w", "fprintf:to-dev\\n", "fflush", "fprintf:more\\n");
	/* those writes bypass the shim (glibc's own FILE): libcused turns
	 * them into WRITEs after the fact */
	cr_assert(h_log_wait(&drv, "write ", 2, 5000), "%s", h_log(&drv));
	cr_assert_eq(H_RUN(H_SHIM, &out, "cat", DEV), 0);
	cr_expect_str_eq(out, "to-dev\nmore\n");
	free(out);
	expect_balanced(2);
}

/* Each of those writes returns before the driver has seen it; still the
 * driver gets them one after another, in order, as from a real device. */
Test(stdio, writes_past_the_shim_arrive_in_order)
{
	enum { LINES = 300 };
	char *out = NULL, *want, *p;
	int i;

	start();
	PROBE("freopen=same fileno=1\nlines=300\n", "std:out", "freopen:" DEV ":w", "lines:300");
	cr_assert(h_log_wait(&drv, "write ", LINES, 10000), "%s", h_log(&drv));
	want = malloc(LINES * 5);
	cr_assert(want);
	for (p = want, i = 1; i <= LINES; i++)
		p += sprintf(p, "%d\n", i);
	cr_assert_eq(H_RUN(H_SHIM, &out, "cat", DEV), 0);
	cr_expect_str_eq(out, want);
	cr_expect_eq(h_log_count(&drv, "write "), LINES);
	free(out);
	free(want);
	expect_balanced(2);
}

/* The driver is still in the write that went past the shim when the
 * fclose comes: the close waits for the release that follows the write,
 * as close(2) waits for the kernel's last fput. */
Test(stdio, fclose_during_a_write_past_the_shim_waits_for_release)
{
	const char *extra[] = {"--write-delay=300", NULL};

	cr_assert_eq(h_driver_start(&drv, "sdev0", extra), 0, "bufdev did not start");
	PROBE("fopen=3\nfreopen=same fileno=3\nfwrite=4\nfflush=0\nfclose=0\n", "fopen:/dev/null:w",
	      "freopen:" DEV ":w", "fwrite:4", "fflush", "fclose");
	cr_expect_eq(h_log_count(&drv, "release fh=1 "), 1, "fclose returned first:\n%s",
		     h_log(&drv));
	cr_expect(h_log_before(&drv, "write fh=1 size=4 ", "release fh=1 "), "%s", h_log(&drv));
}

/* The probe exits with @data unwritten in a stream on the device: the
 * exit writes it out, then the last close waits for the (slow) release,
 * as the kernel's exit does before the parent sees it. */
static void expect_flushed_at_exit(const char *expect, const char *const steps[], int size)
{
	const char *extra[] = {"--release-delay=300", NULL};
	const char *argv[16] = {h_stage("stdioprobe")};
	char write_line[64];
	size_t i;

	for (i = 0; steps[i] && i < 14; i++)
		argv[i + 1] = steps[i];
	cr_assert_eq(h_driver_start(&drv, "sdev0", extra), 0, "bufdev did not start");
	expect_run(H_SHIM, expect, argv);
	snprintf(write_line, sizeof(write_line), "write fh=1 size=%d ", size);
	cr_expect_eq(h_log_count(&drv, "release fh=1 "), 1, "the exit did not wait:\n%s",
		     h_log(&drv));
	cr_expect(h_log_before(&drv, write_line, "release fh=1 "), "%s", h_log(&drv));
	cr_expect_eq(h_log_count(&drv, "write "), 1, "%s", h_log(&drv));
}

/* glibc's stdout, on the device by a dup2 behind stdio's back */
Test(stdio, exit_writes_stdout_out_before_the_release)
{
	expect_flushed_at_exit("open=3\ndup2=1\nfprintf=6\n",
			       (const char *const[]){"open:" DEV ":w", "dup2:1", "std:out",
						     "fprintf:hello\\n", NULL},
			       6);
}

Test(stdio, exit_writes_a_freopened_stdout_out_before_the_release)
{
	expect_flushed_at_exit(
		"freopen=same fileno=1\nfprintf=5\n",
		(const char *const[]){"std:out", "freopen:" DEV ":w", "fprintf:bye\\n\\n", NULL},
		5);
}

/* a stream of ours, never closed */
Test(stdio, exit_writes_an_fopened_stream_out_before_the_release)
{
	expect_flushed_at_exit("fopen=3\nfwrite=100\n",
			       (const char *const[]){"fopen:" DEV ":w", "fwrite:100", NULL}, 100);
}

Test(stdio, freopen_stdin_onto_the_device_reads)
{
	start();
	fill("first\n7 seven\n");
	PROBE("freopen=std fileno=0\ngetline=6 data=first\\n\nfscanf=2 int=7 str=seven\n", "std:in",
	      "freopen:" DEV ":r", "getline", "fscanf");
	expect_sequence((const char *const[]){"open fh=2 ", "ioctl fh=2 cmd=0x5401 ",
					      "read fh=2 size=4096 ", NULL});
	expect_balanced(2);
}

Test(stdio, freopen_keeps_our_stream)
{
	start();
	/* NULL path: the kernel reopens the device through /proc/self/fd,
	 * a new open, and the old file is released */
	PROBE("fopen=3\nfputs=6\nfreopen64=same fileno=3\nfgets=6 data=again\\n\n"
	      "freopen=same fileno=3\nfputs=4\nfflush=0\nrawread=4 data=pre\\n\nfclose=0\n",
	      "fopen:" DEV ":w", "fputs:again\\n", "freopen64:-:r", "fgets:10",
	      "freopen:" DEV ":r+", "fputs:pre\\n", "fflush", "rawread:10", "fclose");
	expect_balanced(3);
	expect_sequence((const char *const[]){"open fh=1 flags=0100001 ", "write fh=1 size=6 ",
					      "open fh=2 flags=0100000 ", "release fh=1 ",
					      "open fh=3 flags=0100002 ", "release fh=2 ",
					      "release fh=3 ", NULL});
}

Test(stdio, freopen_off_the_device_releases_once)
{
	char path[600], *text = NULL;
	FILE *f;

	start();
	snprintf(path, sizeof(path), "%s/plain", h_dir());
	{
		char step[640];

		snprintf(step, sizeof(step), "freopen:%s:w", path);
		PROBE("fopen=3\nfputs=4\nfreopen=same fileno=3\nfputs=6\nfclose=0\n",
		      "fopen:" DEV ":w", "fputs:dev\\n", step, "fputs:plain\\n", "fclose");
	}
	expect_balanced(1);
	cr_expect_eq(h_log_count(&drv, "write fh=1 size=4 "), 1, "%s", h_log(&drv));
	f = fopen(path, "r");
	cr_assert(f, "%s was not written", path);
	text = calloc(1, 64);
	cr_expect_eq(fread(text, 1, 63, f), 6);
	fclose(f);
	cr_expect_str_eq(text, "plain\n");
	free(text);
}

Test(stdio, freopen_of_a_missing_path_closes_the_device)
{
	start();
	/* the stream is closed, but an fclose of it (undefined) is harmless */
	PROBE("fopen=3\nfreopen=-1 errno=ENOENT\nfclose=0\n", "fopen:" DEV ":r",
	      "freopen:/dev/sdev-none:r", "fclose");
	expect_balanced(1);
}

/* ---------------------------------------------------------------- C++ */

Test(stdio, cxx_fstream_write_and_read)
{
	start();
	expect_run(H_SHIM, "ofstream=ok\nifstream=hello-c++\nfstream=hello-c++-rw\n",
		   (const char *const[]){h_stage("fstreamprobe"), DEV, "hello-c++", NULL});
	expect_balanced(3);
}

/* ---------------------------------------------------------------- programs */

#define LINES "foo x\nbar y\nbaz x\n"

Test(stdio, sort_reads_stdin)
{
	start();
	fill(LINES);
	expect_sh("sort < " DEV, "bar y\nbaz x\nfoo x\n");
	/* stdin is a device from exec on: the TCGETS probe, then the reads */
	expect_sequence(
		(const char *const[]){"open fh=2 ", "ioctl fh=2 cmd=0x5401 ", "read fh=2 ", NULL});
	expect_balanced(2);
}

Test(stdio, wc_head_tr_read_stdin)
{
	start();
	fill(LINES);
	expect_sh("wc -l < " DEV, "3\n");
	fill(LINES);
	expect_sh("head -n 2 < " DEV, "foo x\nbar y\n");
	fill(LINES);
	expect_sh("tr a-z A-Z < " DEV, "FOO X\nBAR Y\nBAZ X\n");
}

Test(stdio, grep_awk_sed_read_the_device)
{
	start();
	fill(LINES);
	expect_sh("grep x " DEV, "foo x\nbaz x\n");
	fill(LINES);
	expect_sh("awk '{print $2 $1}' " DEV, "xfoo\nybar\nxbaz\n");
	fill(LINES);
	expect_sh("awk 'END {print NR}' < " DEV, "3\n");
	fill(LINES);
	expect_sh("sed s/a/A/ " DEV, "foo x\nbAr y\nbAz x\n");
	fill(LINES);
	expect_sh("sed -n 2p < " DEV, "bar y\n");
}

/* sed reads its file with getdelim: 4096-byte reads, as in the kernel */
Test(stdio, sed_reads_in_blocks_of_4096)
{
	start();
	fill(LINES);
	expect_sh("sed -n 1p " DEV, "foo x\n");
	cr_expect_eq(h_log_count(&drv, "read fh=2 size=4096 "), 2, "%s", h_log(&drv));
}

Test(stdio, stdout_and_stderr_on_the_device_from_exec)
{
	char *out = NULL;

	start();
	cr_assert_eq(H_RUN(H_SHIM, NULL, "sh", "-c", "seq 3 > " DEV), 0);
	/* the release of a file closed by exit(2) follows it (README) */
	cr_expect(h_log_wait(&drv, "release fh=1 ", 1, 5000));
	/* glibc probes a character device stdout with TCGETS; not a tty:
	 * one WRITE at exit */
	expect_sequence((const char *const[]){"open fh=1 ", "ioctl fh=1 cmd=0x5401 ",
					      "write fh=1 size=6 ", "release fh=1 ", NULL});
	cr_expect_eq(h_log_count(&drv, "write fh=1 "), 1, "%s", h_log(&drv));
	cr_assert_eq(H_RUN(H_SHIM, NULL, "sh", "-c", "ls /nonexistent 2> " DEV), 2);
	cr_assert_eq(H_RUN(H_SHIM, &out, "cat", DEV), 0);
	cr_expect_str_eq(out,
			 "1\n2\n3\nls: cannot access '/nonexistent': No such file or directory\n");
	free(out);
	expect_balanced(3);
}

Test(stdio, stdin_stream_of_a_write_only_fd)
{
	/* glibc's stdin reads whatever the fd: the device says EBADF */
	start();
	expect_run(H_SHIM, "fgetc=-1\nfeof=0 ferror=1\n",
		   (const char *const[]){"sh", "-c", "\"$0\" std:in fgetc state 0>" DEV,
					 h_stage("stdioprobe"), NULL});
	cr_expect_eq(h_log_count(&drv, "read "), 0, "%s", h_log(&drv));
}

/* ---------------------------------------------------------------- ttys */

Test(stdio, a_tty_device_is_line_buffered)
{
	char namearg[64], logarg[600];

	snprintf(namearg, sizeof(namearg), "--name=stty0");
	snprintf(logarg, sizeof(logarg), "--log=%s/stty0.log", h_dir());
	cr_assert_eq(h_driver_start_argv(
			     &drv, "stty0",
			     (const char *const[]){"ttydev", "-f", namearg, logarg, NULL}, 0),
		     0, "ttydev did not start");
	/* ttydev loops writes back: rawread shows what reached the driver */
	PROBE("fopen=3\nfputs=2\nrawread=0 data=\nfputs=2\nrawread=4 data=abc\\n\nfclose=0\n",
	      "fopen:/dev/stty0:r+", "fputs:ab", "rawread:10", "fputs:c\\n", "rawread:10",
	      "fclose");
	cr_expect_eq(h_log_count(&drv, "tcgets "), 1, "%s", h_log(&drv));
}

/* ---------------------------------------------------------------- not devices */

static void same_with_and_without_shim(const char *const argv[])
{
	char *plain = NULL, *shimmed = NULL;

	cr_assert_eq(h_run(0, NULL, &plain, NULL, argv), 0);
	cr_assert_eq(h_run(H_SHIM, NULL, &shimmed, NULL, argv), 0);
	cr_expect_str_eq(shimmed, plain);
	free(plain);
	free(shimmed);
}

Test(stdio, other_files_behave_as_without_the_shim)
{
	char path[600], w[640], wx[640], r[640], fr[640];
	FILE *f;

	start();
	snprintf(path, sizeof(path), "%s/text", h_dir());
	f = fopen(path, "w");
	cr_assert(f);
	fputs("alpha\n1 beta\ngamma\n", f);
	fclose(f);
	snprintf(r, sizeof(r), "fopen:%s:r", path);
	snprintf(w, sizeof(w), "fopen:%s/new:w", h_dir());
	snprintf(wx, sizeof(wx), "fopen:%s/new:wx", h_dir());
	snprintf(fr, sizeof(fr), "freopen:%s:r", path);
	same_with_and_without_shim((const char *const[]){h_stage("stdioprobe"),
							 r,
							 "fgets:100",
							 "fscanf",
							 "ftell",
							 "getline",
							 "fread:100",
							 "state",
							 "fileno",
							 "fclose",
							 "fopen:/dev/null:r",
							 "fread:4",
							 "state",
							 "freopen:-:w",
							 "fputs:x",
							 "fclose",
							 "fopen64:/nonexistent/x:r",
							 "fopen:/dev/sdev0/x:r",
							 w,
							 "fputs:x",
							 "fclose",
							 wx,
							 r,
							 fr,
							 "getline",
							 "fclose",
							 "open:/dev/null:r",
							 "fdopen:w",
							 "fdopen:r",
							 "fgetc",
							 "fclose",
							 NULL});
	/* a file that is not a device gets nothing from the driver */
	cr_expect_eq(h_log_count(&drv, "open "), 0);
}
