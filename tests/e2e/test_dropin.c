/* SPDX-License-Identifier: MIT */
/*
 * Drop-in: a driver binary linked with Debian's real libfuse3 runs
 * unchanged under `cused run`, bound to libcused; `cused list` shows the
 * devices; permissions given on cused's command line; --help/--version.
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <sys/wait.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

TestSuite(dropin, .init = h_setup, .fini = h_teardown, .timeout = 120);

static void start_realfuse(struct h_driver *d, const char *name, const char *const opts[])
{
	char namearg[128], logarg[600];
	const char *argv[24];
	int n = 0;

	snprintf(namearg, sizeof(namearg), "--name=%s", name);
	snprintf(logarg, sizeof(logarg), "--log=%s/%s.log", h_dir(), name);
	argv[n++] = "cused";
	argv[n++] = "run";
	for (; opts && *opts; opts++)
		argv[n++] = *opts;
	argv[n++] = "--";
	argv[n++] = h_stage("realfuse-bufdev");
	argv[n++] = "-f";
	argv[n++] = "--eof";
	argv[n++] = namearg;
	argv[n++] = logarg;
	argv[n] = NULL;
	cr_assert_eq(h_driver_start_argv(d, name, argv, 0), 0, "the libfuse3 driver did not start");
}

Test(dropin, unmodified_libfuse3_binary_runs_on_libcused)
{
	struct h_driver d;
	char maps[64], line[1024], *out = NULL;
	bool ours = false, theirs = false;
	FILE *f;

	start_realfuse(&d, "drop", NULL);
	snprintf(maps, sizeof(maps), "/proc/%d/maps", (int)d.pid);
	f = fopen(maps, "re");
	cr_assert(f);
	while (fgets(line, sizeof(line), f)) {
		ours |= strstr(line, "/fuse3/libfuse3.so.3") != NULL;
		theirs |= strstr(line, "/usr/lib/x86_64-linux-gnu/libfuse3") != NULL;
	}
	fclose(f);
	cr_expect(ours && !theirs, "the driver is not bound to libcused (ours %d, libfuse3 %d)",
		  ours, theirs);
	cr_assert_eq(H_RUN(H_SHIM, &out, "sh", "-c", "echo dropped-in > /dev/drop; cat /dev/drop"),
		     0);
	cr_expect_str_eq(out, "dropped-in\n");
	free(out);
	cr_expect_eq(h_log_count(&d, "open "), 2);
	h_driver_stop(&d, SIGTERM);
	cr_expect_eq(h_driver_wait(&d, 5000), 0);
}

Test(dropin, list_shows_live_devices)
{
	struct h_driver d, e;
	char *out = NULL, want[128];

	start_realfuse(&d, "one", NULL);
	cr_assert_eq(h_driver_start(&e, "sub/two", NULL), 0);
	cr_assert_eq(H_RUN(0, &out, h_stage("cused"), "list"), 0);
	snprintf(want, sizeof(want), " pid %d ", (int)d.pid);
	cr_expect(!strncmp(out, "/dev/one ", 9) || strstr(out, "\n/dev/one "), "%s", out);
	cr_expect(strstr(out, want), "%s", out);
	cr_expect(strstr(out, "/dev/sub/two "), "%s", out);
	free(out);
	cr_assert_eq(H_RUN(0, &out, h_stage("cused"), "list", "--json"), 0);
	snprintf(want, sizeof(want), "{\"name\":\"one\",\"pid\":%d,", (int)d.pid);
	cr_expect(strstr(out, want), "%s", out);
	free(out);
	/* a killed driver's stale entry is not listed */
	h_driver_stop(&e, SIGKILL);
	h_driver_wait(&e, 5000);
	cr_assert_eq(H_RUN(0, &out, h_stage("cused"), "list"), 0);
	cr_expect(!strstr(out, "sub/two"), "%s", out);
	free(out);
}

Test(dropin, permissions_from_the_command_line)
{
	const char *opts[] = {"--mode=0640", "--group=100", NULL};
	struct h_driver d;
	char *out = NULL;

	start_realfuse(&d, "perm", opts);
	cr_assert_eq(H_RUN(H_SHIM, &out, "stat", "-c", "%a %g", "/dev/perm"), 0);
	cr_expect_str_eq(out, "640 100\n");
	free(out);
	if (!h_root())
		return;
	/* a member of group 100 may read, not write; others may not */
	cr_assert_eq(H_RUN(H_SHIM | H_AS_OTHER | H_GROUPS | H_NOGROUP, &out, h_stage("rwprobe"),
			   "open:/dev/perm:r", "open:/dev/perm:w"),
		     0);
	cr_expect_str_eq(out, "open=3\nopen=-1 errno=EACCES\n");
	free(out);
	cr_assert_eq(H_RUN(H_SHIM | H_AS_OTHER | H_NOGROUP, &out, h_stage("rwprobe"),
			   "open:/dev/perm:r"),
		     0);
	cr_expect_str_eq(out, "open=-1 errno=EACCES\n");
	free(out);
}

Test(dropin, help_and_version_on_every_command)
{
	static const char *const cmds[] = {"cused", "cuse-run"};
	size_t i;

	for (i = 0; i < 2; i++) {
		char *out = NULL;

		cr_assert_eq(H_RUN(0, &out, h_stage(cmds[i]), "--help"), 0);
		cr_expect(!strncmp(out, "Usage: ", 7), "%s --help: %s", cmds[i], out);
		free(out);
		cr_assert_eq(H_RUN(0, &out, h_stage(cmds[i]), "--version"), 0);
		cr_expect(strstr(out, "(cuseshim) "), "%s --version: %s", cmds[i], out);
		free(out);
	}
	cr_expect_eq(H_RUN(0, NULL, h_stage("cused"), "frobnicate"), 125);
}

/* Across a container boundary: the registry directory bound into a
 * rootless bwrap --unshare-all sandbox (new user, pid, net, ipc, uts
 * namespaces) carries the device both ways. */
static bool have_bwrap(void)
{
	return !access("/usr/bin/bwrap", X_OK) && H_RUN(0, NULL, "/usr/bin/bwrap", "--unshare-all",
							"--ro-bind", "/", "/", "true") == 0;
}

Test(dropin, client_inside_a_rootless_sandbox)
{
	struct h_driver d;
	char *out = NULL;

	if (!have_bwrap())
		cr_skip_test("bwrap missing or unprivileged user namespaces unavailable");
	cr_assert_eq(h_driver_start(&d, "box", NULL), 0);
	cr_assert_eq(
		H_RUN(0, &out, "/usr/bin/bwrap", "--unshare-all", "--ro-bind", "/", "/", "--dev",
		      "/dev", "--proc", "/proc", "--bind", h_dir(), h_dir(), "--",
		      h_stage("cuse-run"), "--", "sh", "-c",
		      "echo from-the-box > /dev/box; cat /dev/box; test -c /dev/box && echo chr"),
		0);
	cr_expect_str_eq(out, "from-the-box\nchr\n");
	free(out);
	cr_expect_eq(h_log_count(&d, "open "), 2);
}

Test(dropin, driver_inside_a_rootless_sandbox)
{
	struct h_driver d;
	char name[64], log[600], *out = NULL;

	if (!have_bwrap())
		cr_skip_test("bwrap missing or unprivileged user namespaces unavailable");
	snprintf(name, sizeof(name), "--name=inbox");
	snprintf(log, sizeof(log), "--log=%s/inbox.log", h_dir());
	cr_assert_eq(h_driver_start_argv(&d, "inbox",
					 (const char *const[]){"/usr/bin/bwrap", "--unshare-all",
							       "--die-with-parent", "--ro-bind",
							       "/", "/", "--bind", h_dir(), h_dir(),
							       "--", h_stage("bufdev"), "-f",
							       "--eof", name, log, NULL},
					 H_ANYPID),
		     0, "the sandboxed driver did not publish");
	cr_assert_eq(H_RUN(H_SHIM, &out, "sh", "-c", "echo out-to-in > /dev/inbox; cat /dev/inbox"),
		     0);
	cr_expect_str_eq(out, "out-to-in\n");
	free(out);
}

Test(dropin, waiting_and_abort_like_sysfs)
{
	struct h_driver d;
	char *out = NULL, *err = NULL, pollout[600];
	pid_t kid, pkid;
	int st, rc;

	cr_assert_eq(h_driver_start_blocking(&d, "ab", NULL), 0);
	snprintf(pollout, sizeof(pollout), "%s/poll.out", h_dir());
	/* one client parked in a read, one in poll */
	kid = fork();
	if (kid == 0) {
		char *o = NULL;
		FILE *f;

		h_run(H_SHIM, NULL, &o, NULL,
		      (const char *const[]){h_stage("rwprobe"), "open:/dev/ab:r", "read:10", NULL});
		f = fopen(pollout, "a");
		if (f) {
			fprintf(f, "%s", o);
			fclose(f);
		}
		_exit(0);
	}
	pkid = fork();
	if (pkid == 0) {
		char *o = NULL;
		FILE *f;

		h_run(H_SHIM, NULL, &o, NULL,
		      (const char *const[]){h_stage("rwprobe"), "open:/dev/ab:r", "pollwait:20000",
					    NULL});
		f = fopen(pollout, "a");
		if (f) {
			fprintf(f, "%s", o);
			fclose(f);
		}
		_exit(0);
	}
	cr_assert(h_log_wait(&d, "read fh=", 1, 10000) && h_log_wait(&d, "poll fh=", 1, 10000));
	cr_assert_eq(H_RUN(0, &out, h_stage("cused"), "waiting", "ab"), 0);
	cr_expect_str_eq(out, "1\n", "the parked read is the one waiting request");
	free(out);
	cr_assert_eq(H_RUN(0, &out, h_stage("cused"), "list"), 0);
	cr_expect(strstr(out, " open 2 waiting 1\n"), "%s", out);
	free(out);
	if (h_root()) {
		rc = h_run(H_AS_OTHER, NULL, NULL, &err,
			   (const char *const[]){h_stage("cused"), "abort", "ab", NULL});
		cr_expect_eq(rc, 1);
		cr_expect(strstr(err, "Operation not permitted"), "%s", err);
		free(err);
	}
	cr_assert_eq(H_RUN(0, NULL, h_stage("cused"), "abort", "ab"), 0);
	/* the driver's loop ends cleanly */
	cr_expect_eq(h_driver_wait(&d, 5000), 0);
	waitpid(kid, &st, 0);
	waitpid(pkid, &st, 0);
	{
		FILE *f = fopen(pollout, "re");
		char buf[512] = "";
		size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;

		if (f)
			fclose(f);
		buf[n] = '\0';
		cr_expect(strstr(buf, "read=-1 errno=ECONNABORTED\n"), "%s", buf);
		cr_expect(strstr(buf, "pollwait=1 revents=0x8\n"), "%s", buf);
	}
	cr_assert_eq(H_RUN(H_SHIM, &out, h_stage("rwprobe"), "open:/dev/ab:r"), 0);
	cr_expect_str_eq(out, "open=-1 errno=ENOENT\n");
	free(out);
	cr_assert_eq(H_RUN(0, &out, h_stage("cused"), "list"), 0);
	cr_expect(!strstr(out, "/dev/ab "), "%s", out);
	free(out);
}
