/* SPDX-License-Identifier: MIT */
/*
 * End-to-end: every name of each wrapped family reaches the device, not
 * only the one a plain build calls.  rwprobe is built four ways (plain,
 * fortified, fortified with 64-bit off_t, 64-bit off_t), each test first
 * checks with nm that the builds import the names it is about, then runs
 * the same steps through all of them and compares the output.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

TestSuite(families, .init = h_setup, .fini = h_teardown, .timeout = 120);

static struct h_driver drv;

static const char *const probes[] = {"rwprobe", "fortprobe", "fort2probe", "lfsprobe"};

/* The undefined dynamic symbol @name (without version) is in @probe. */
static bool imports(const char *probe, const char *name)
{
	char cmd[1024], line[256], want[128];
	bool found = false;
	FILE *p;

	snprintf(cmd, sizeof(cmd), "nm -D --undefined-only '%s'", h_stage(probe));
	snprintf(want, sizeof(want), " %s@", name);
	p = popen(cmd, "r");
	cr_assert(p, "cannot run nm");
	while (fgets(line, sizeof(line), p))
		found |= strstr(line, want) != NULL;
	pclose(p);
	return found;
}

/* Each "probe:name" in @pairs (NULL-terminated) is imported. */
static void expect_imports(const char *const pairs[])
{
	for (; *pairs; pairs++) {
		char probe[32];
		const char *name = strchr(*pairs, ':');

		snprintf(probe, sizeof(probe), "%.*s", (int)(name - *pairs), *pairs);
		cr_expect(imports(probe, name + 1), "%s does not call %s", probe, name + 1);
	}
}

/* @steps through every build of rwprobe print @expect ("%u": the test
 * user's uid); returns how many builds ran. */
static int expect_every_build(const char *expect, const char *const steps[])
{
	const char *argv[40], *want = h_with_uid(expect);
	size_t i, n;

	for (n = 0; steps[n] && n < 38; n++)
		argv[n + 1] = steps[n];
	argv[n + 1] = NULL;
	for (i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
		char *out = NULL;
		int rc;

		argv[0] = h_stage(probes[i]);
		rc = h_run(H_SHIM, NULL, &out, NULL, argv);
		cr_expect_eq(rc, 0, "%s exited %d", probes[i], rc);
		cr_expect_str_eq(out, want, "%s printed:\n%s", probes[i], out);
		free(out);
	}
	return (int)i;
}

static void start(const char *const extra[])
{
	cr_assert_eq(h_driver_start(&drv, "dev0", extra), 0, "driver did not start");
}

Test(families, open)
{
	int builds;

	expect_imports((const char *const[]){
		"rwprobe:open", "rwprobe:openat", "rwprobe:creat", "fortprobe:__open_2",
		"fortprobe:__openat_2", "fort2probe:__open64_2", "fort2probe:__openat64_2",
		"lfsprobe:open64", "lfsprobe:openat64", "lfsprobe:creat64", NULL});
	start(NULL);
	/* openat opens /dev first (fd 3): the device gets fd 4 */
	builds = expect_every_build(
		"open2=3\nwrite=2\nclose=0\ncreat=3\nwrite=1\nclose=0\n"
		"openat=4\nread=3 data=xxy\nclose=0\nopenat2=4\nclose=0\n"
		"openat=-1 errno=ENOENT\n",
		(const char *const[]){"open2:/dev/dev0:w", "write:2:x", "close", "creat:/dev/dev0",
				      "write:1:y", "close", "openat:dev0:r", "read:3", "close",
				      "openat2:dev0:rw", "close", "openat:nosuchdev:r", NULL});
	/* the kernel's flags: O_LARGEFILE added, O_CREAT and O_TRUNC gone */
	cr_expect_eq(h_log_count(&drv, "open fh=1 flags=0100001 "), 1, "%s", h_log(&drv));
	cr_expect_eq(h_log_count(&drv, "open fh=2 flags=0100001 "), 1, "%s", h_log(&drv));
	cr_expect_eq(h_log_count(&drv, "open fh=3 flags=0100000 "), 1, "%s", h_log(&drv));
	cr_expect_eq(h_log_count(&drv, "open fh=4 flags=0100002 "), 1, "%s", h_log(&drv));
	h_expect_balanced(&drv, 4 * builds);
}

Test(families, vectored_and_mmap)
{
	int builds;

	expect_imports((const char *const[]){
		"rwprobe:preadv", "rwprobe:pwritev", "rwprobe:preadv2", "rwprobe:pwritev2",
		"rwprobe:mmap", "lfsprobe:preadv64", "lfsprobe:pwritev64", "lfsprobe:preadv64v2",
		"lfsprobe:pwritev64v2", "lfsprobe:mmap64", NULL});
	start(NULL);
	builds = expect_every_build("open=3\npwritev=5\npreadv=3 data=VVV\npwritev2=2\npreadv2=4\n"
				    "preadv=0 data=\nmmap=-1 errno=ENODEV\n",
				    (const char *const[]){"open:/dev/dev0:rw", "pwritev:5",
							  "preadv:3", "pwritev2:2", "preadv2:10",
							  "preadv:4", "mmap", NULL});
	cr_expect_eq(h_log_count(&drv, "write fh=1 size=5 off=0 "), 1, "%s", h_log(&drv));
	cr_expect_eq(h_log_count(&drv, "read fh=1 size=3 off=0 "), 1, "%s", h_log(&drv));
	cr_expect_eq(h_log_count(&drv, "write fh=1 size=2 off=0 "), 1, "%s", h_log(&drv));
	cr_expect_eq(h_log_count(&drv, "read fh=1 size=10 off=0 "), 1, "%s", h_log(&drv));
	cr_expect_eq(h_log_count(&drv, "read "), 3 * builds, "%s", h_log(&drv));
	cr_expect_eq(h_log_count(&drv, "write "), 2 * builds, "%s", h_log(&drv));
}

/* The copy keeps the file after the original fd is closed; the driver
 * sees one release, after the copy's last call. */
Test(families, dup3_and_fcntl_dupfd)
{
	char *log, *release, key[64];
	int fh;

	expect_imports(
		(const char *const[]){"rwprobe:dup3", "rwprobe:fcntl", "lfsprobe:fcntl64", NULL});
	start(NULL);
	expect_every_build("open=3\ndup3=10\ngetfd=1\nclose=0\nwrite=2\nread=2 data=dd\nclose=0\n"
			   "open=3\ndupfd=20\ngetfd=0\nclose=0\nwrite=1\nread=1 data=e\nclose=0\n"
			   "open=3\ndupfdcx=30\ngetfd=1\nclose=0\nwrite=1\nread=1 data=f\nclose=0\n"
			   "open=3\ndupfd=4\nclose=0\n",
			   (const char *const[]){"open:/dev/dev0:rw",
						 "dup3:10",
						 "getfd",
						 "fd:3",
						 "close",
						 "fd:10",
						 "write:2:d",
						 "read:2",
						 "close",
						 "open:/dev/dev0:rw",
						 "dupfd:20",
						 "getfd",
						 "fd:3",
						 "close",
						 "fd:20",
						 "write:1:e",
						 "read:1",
						 "close",
						 "open:/dev/dev0:rw",
						 "dupfdcx:30",
						 "getfd",
						 "fd:3",
						 "close",
						 "fd:30",
						 "write:1:f",
						 "read:1",
						 "close",
						 "open:/dev/dev0:r",
						 "dupfd:0",
						 "close",
						 NULL});
	h_expect_balanced(&drv, 4 * 4);
	log = h_log(&drv);
	for (fh = 1; fh <= 16; fh++) {
		snprintf(key, sizeof(key), "release fh=%d ", fh);
		release = strstr(log, key);
		snprintf(key, sizeof(key), "%s fh=%d ", fh % 4 ? "read" : "open", fh);
		cr_expect(release && strstr(log, key) && strstr(log, key) < release,
			  "fh=%d released before its last call:\n%s", fh, log);
	}
	free(log);
}

Test(families, stat_names)
{
	const char *extra[] = {"--maj=7", "--min=1", NULL};

	expect_imports((const char *const[]){"rwprobe:lstat", "rwprobe:fstatat", "lfsprobe:lstat64",
					     "lfsprobe:fstatat64", NULL});
	start(extra);
	expect_every_build("lstat mode=020600 rdev=7:1 blksize=4096 uid=%u\n"
			   "fstatat mode=020600 rdev=7:1 blksize=4096 uid=%u\n"
			   "__xstat mode=020600 rdev=7:1 blksize=4096 uid=%u\n"
			   "__xstat64 mode=020600 rdev=7:1 blksize=4096 uid=%u\n"
			   "__lxstat mode=020600 rdev=7:1 blksize=4096 uid=%u\n"
			   "__lxstat64 mode=020600 rdev=7:1 blksize=4096 uid=%u\n"
			   "__fxstatat mode=020600 rdev=7:1 blksize=4096 uid=%u\n"
			   "__fxstatat64 mode=020600 rdev=7:1 blksize=4096 uid=%u\n"
			   "open=3\n"
			   "__fxstat mode=020600 rdev=7:1 blksize=4096 uid=%u\n"
			   "__fxstat64 mode=020600 rdev=7:1 blksize=4096 uid=%u\n"
			   "lstat=-1 errno=ENOENT\n__lxstat64=-1 errno=ENOENT\n",
			   (const char *const[]){
				   "lstat:/dev/dev0", "fstatat:/dev/dev0",
				   "oldstat:__xstat:/dev/dev0", "oldstat:__xstat64:/dev/dev0",
				   "oldstat:__lxstat:/dev/dev0", "oldstat:__lxstat64:/dev/dev0",
				   "oldstat:__fxstatat:/dev/dev0", "oldstat:__fxstatat64:/dev/dev0",
				   "open:/dev/dev0:r", "oldstat:__fxstat", "oldstat:__fxstat64",
				   "lstat:/dev/nosuchdev", "oldstat:__lxstat64:/dev/nosuchdev",
				   NULL});
}

/* A driver whose node is 0400: the owner may read, not write. */
static void start_read_only(void)
{
	char log[600];

	snprintf(log, sizeof(log), "--log=%s/dev0.log", h_dir());
	cr_assert_eq(h_driver_start_argv(&drv, "dev0",
					 (const char *const[]){"cused", "run", "--mode=0400", "--",
							       h_stage("bufdev"), "-f", "--eof",
							       "--name=dev0", log, NULL},
					 0),
		     0, "driver did not start");
}

Test(families, access_names)
{
	expect_imports((const char *const[]){"rwprobe:faccessat", "rwprobe:euidaccess",
					     "rwprobe:eaccess", NULL});
	start_read_only();
	expect_every_build("faccessat=0\nfaccessat=-1 errno=EACCES\nfaccessate=0\n"
			   "faccessate=-1 errno=EACCES\neuidaccess=0\neuidaccess=-1 errno=EACCES\n"
			   "eaccess=0\neaccess=-1 errno=EACCES\nfaccessat=-1 errno=ENOENT\n",
			   (const char *const[]){"faccessat:/dev/dev0:r", "faccessat:/dev/dev0:w",
						 "faccessate:/dev/dev0:f", "faccessate:/dev/dev0:x",
						 "euidaccess:/dev/dev0:r",
						 "euidaccess:/dev/dev0:rw", "eaccess:/dev/dev0:r",
						 "eaccess:/dev/dev0:x",
						 "faccessat:/dev/nosuchdev:f", NULL});
}

static void shell_tests(const char *sh)
{
	char *out = NULL;

	cr_assert_eq(H_RUN(H_SHIM, &out, sh, "-c",
			   "for op in -e -c -r -w -x; do test $op /dev/dev0 && echo y || echo n; "
			   "done; [ -r /dev/nosuchdev ] && echo y || echo n"),
		     0);
	cr_expect_str_eq(out, "y\ny\ny\nn\nn\nn\n", "%s printed:\n%s", sh, out);
	free(out);
}

Test(families, shell_test_operators_follow_the_mode)
{
	start_read_only();
	shell_tests("bash");
	shell_tests("dash");
}
