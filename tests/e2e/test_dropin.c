/* SPDX-License-Identifier: MIT */
/*
 * Drop-in: a driver binary linked with Debian's real libfuse3 runs
 * unchanged under `cused run`, bound to libcused; `cused list` shows the
 * devices; permissions given on cused's command line; --help/--version.
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <sys/stat.h>
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

/* Waits for flock and fcntl locks never reach the driver: the device's
 * "waiting" count leaves them out, as the kernel's does. */
Test(dropin, lock_waits_are_not_waiting_requests)
{
	struct h_driver d;
	char *out = NULL;
	pid_t holder;
	int i, st;

	cr_assert_eq(h_driver_start_blocking(&d, "lw", NULL), 0);
	holder = fork();
	if (holder == 0) {
		/* holds both locks for a while; two waiters queue behind it */
		h_run(H_SHIM, NULL, NULL, NULL,
		      (const char *const[]){
			      "bash", "-c",
			      "python3 -c \"import fcntl, os, time\n"
			      "fd = os.open('/dev/lw', os.O_RDWR)\n"
			      "fcntl.flock(fd, fcntl.LOCK_EX); fcntl.lockf(fd, fcntl.LOCK_EX)\n"
			      "time.sleep(1.5)\" & sleep 0.3; "
			      "\"$0\" open:/dev/lw:rw flock:ex & \"$0\" open:/dev/lw:rw setlkw:w & "
			      "wait",
			      h_stage("rwprobe"), NULL});
		_exit(0);
	}
	for (i = 0; i < 200 && h_log_count(&d, "open ") < 3; i++)
		h_msleep(10);
	cr_expect_eq(h_log_count(&d, "open "), 3, "%s", h_log(&d));
	h_msleep(300);
	cr_assert_eq(H_RUN(0, &out, h_stage("cused"), "waiting", "lw"), 0);
	cr_expect_str_eq(out, "0\n");
	free(out);
	waitpid(holder, &st, 0);
	h_expect_balanced(&d, 3);
}

static char *slurp(const char *path)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = fopen(path, "re"), *m = open_memstream(&buf, &len);
	int c;

	cr_assert(m);
	while (f && (c = getc(f)) != EOF)
		putc(c, m);
	if (f)
		fclose(f);
	fclose(m);
	return buf;
}

/* How many lines of @text contain @a and (unless NULL) @b. */
static int lines_with(const char *text, const char *a, const char *b)
{
	int n = 0;

	for (const char *l = text; l && *l;) {
		const char *e = strchrnul(l, '\n');
		char *line = strndup(l, (size_t)(e - l));

		n += strstr(line, a) && (!b || strstr(line, b));
		free(line);
		l = *e ? e + 1 : e;
	}
	return n;
}

Test(dropin, debug_lines_on_both_sides)
{
	struct h_driver d;
	char *out = NULL, *err = NULL, *drv;
	const char *script = "echo abc > /dev/trc; head -c 3 /dev/trc; echo; "
			     "python3 -c 'import fcntl,termios,os,array; "
			     "fd=os.open(\"/dev/trc\",os.O_RDWR); b=array.array(\"i\",[0]); "
			     "fcntl.ioctl(fd,termios.FIONREAD,b); print(b[0])'";

	cr_assert_eq(h_driver_start(&d, "trc", (const char *const[]){"-d", NULL}), 0);
	cr_assert_eq(h_run(0, NULL, &out, &err,
			   (const char *const[]){h_stage("cuse-run"), "-d", "--", "sh", "-c",
						 script, NULL}),
		     0);
	cr_expect_str_eq(out, "abc\n1\n");
	/* the client: one line per request, with what it asked and got */
	cr_expect_eq(lines_with(err, "trc: WRITE unique ", " offset 0 size 4 flags 0100001 -> 4 ("),
		     1, "%s", err);
	cr_expect_eq(lines_with(err, "trc: READ unique ", " offset 0 size 3 flags 0100000 -> 3 ("),
		     1, "%s", err);
	cr_expect_eq(lines_with(err, "trc: IOCTL unique ", " cmd 0x541b "), 2, "%s", err);
	cr_expect_eq(lines_with(err, "-> retry, 0 in 1 out iovecs (", NULL), 1, "%s", err);
	cr_expect_eq(lines_with(err, "-> result 0, 4 bytes out (", NULL), 1, "%s", err);
	cr_expect_eq(lines_with(err, "open trc flags ", " -> fd "), 3, "%s", err);
	cr_expect_eq(lines_with(err, " us)", NULL), lines_with(err, "trc: ", NULL), "%s", err);
	free(out);
	free(err);

	/* the driver: libfuse's request and reply lines, with fh and latency */
	h_driver_stop(&d, SIGTERM);
	drv = slurp(d.err);
	cr_expect_eq(lines_with(drv, "opcode: WRITE (16)", NULL), 1, "%s", drv);
	cr_expect_eq(lines_with(drv, "opcode: READ (15)", NULL), 1, "%s", drv);
	cr_expect_eq(lines_with(drv, "opcode: IOCTL (39)", NULL), 2, "%s", drv);
	cr_expect_eq(lines_with(drv, "   fh: ", ", offset 0 size 4 flags 0100001"), 1, "%s", drv);
	cr_expect_eq(lines_with(drv, "   fh: ", ", cmd 0x541b"), 2, "%s", drv);
	cr_expect_geq(lines_with(drv, ", success: 0, outsize: ", ", latency: "), 4, "%s", drv);
	free(drv);
}

Test(dropin, debug_lines_to_a_file)
{
	struct h_driver d;
	char path[600], arg[700], bad[700], *out = NULL, *err = NULL, *log;

	cr_assert_eq(h_driver_start(&d, "trf", NULL), 0);
	snprintf(path, sizeof(path), "%s/trace.log", h_dir());
	snprintf(arg, sizeof(arg), "--debug-file=%s", path);
	cr_assert_eq(
		h_run(0, NULL, &out, &err,
		      (const char *const[]){h_stage("cuse-run"), arg, "--", "sh", "-c",
					    "echo x > /dev/trf; exec 2>&-; cat /dev/trf", NULL}),
		0);
	cr_expect_str_eq(out, "x\n");
	cr_expect_str_eq(err, "", "debug output leaked to stderr: %s", err);
	log = slurp(path);
	/* both processes append to the same file, even after closing stderr */
	cr_expect_eq(lines_with(log, "trf: WRITE unique ", " -> 2 ("), 1, "%s", log);
	cr_expect_eq(lines_with(log, "trf: READ unique ", " -> 2 ("), 1, "%s", log);
	free(log);
	free(out);
	free(err);

	/* a file that cannot be opened: said once, and output goes to stderr */
	snprintf(bad, sizeof(bad), "CUSESHIM_DEBUG=%s/no/such/dir/t.log", h_dir());
	cr_assert_eq(h_run(H_SHIM, NULL, &out, &err,
			   (const char *const[]){"env", bad, "cat", "/dev/trf", NULL}),
		     0);
	cr_expect_eq(lines_with(err, "cannot open debug file ",
				"no/such/dir/t.log: No such file or directory; debug output goes "
				"to stderr"),
		     1, "%s", err);
	cr_expect_eq(lines_with(err, "trf: READ unique ", " -> 0 ("), 1, "%s", err);
	free(out);
	free(err);
}

Test(dropin, debug_lines_under_seccomp)
{
	struct h_driver d;
	char *out = NULL, *err = NULL;

	cr_assert_eq(h_driver_start(&d, "trs", NULL), 0);
	cr_assert_eq(h_run(0, "hi\n", &out, &err,
			   (const char *const[]){h_stage("cuse-run"), "-d", "--seccomp", "--",
						 h_stage("staticprobe"), "open:/dev/trs:rw",
						 "write:2", "read:2", "close", NULL}),
		     0);
	cr_expect_eq(lines_with(err, ": WRITE unique ", " size 2 flags 0100002 -> 2 ("), 1, "%s",
		     err);
	cr_expect_eq(lines_with(err, ": READ unique ", " size 2 flags 0100002 -> 2 ("), 1, "%s",
		     err);
	free(out);
	free(err);
}

/* The one line after "cuseshim[PID]: " or at the start, exactly once. */
static void expect_line(const char *text, const char *line)
{
	char *l = strndup(line, strcspn(line, "\n"));

	cr_expect_eq(lines_with(text, l, NULL), 1, "want once: %s\ngot:\n%s", l, text);
	free(l);
}

/* Every failure a user can cause says what happened and what to do. */
Test(dropin, errors_a_user_can_act_on)
{
	struct h_driver d;
	char want[1400], env[1100], locked[700], *out = NULL, *err = NULL;
	int rc;

	/* a second driver for a name in use */
	cr_assert_eq(h_driver_start(&d, "ea", NULL), 0);
	rc = h_run(0, NULL, NULL, &err,
		   (const char *const[]){h_stage("bufdev"), "-f", "--name=ea", NULL});
	cr_expect_eq(rc, 1);
	snprintf(want, sizeof(want),
		 "cuse: device 'ea' is already served by another driver (pid %d, registry %s); "
		 "stop that driver or choose another DEVNAME\n",
		 (int)d.pid, h_dir());
	cr_expect_str_eq(err, want);
	free(err);

	/* its driver killed: the entry is stale; said once per process */
	h_driver_stop(&d, SIGKILL);
	cr_assert_eq(h_run(H_SHIM, NULL, &out, &err,
			   (const char *const[]){"python3", "-c",
						 "import os\n"
						 "for i in range(3):\n"
						 "    try: os.open('/dev/ea', os.O_RDONLY)\n"
						 "    except OSError as e: print(e.strerror)\n",
						 NULL}),
		     0);
	cr_expect_str_eq(out, "No such file or directory\nNo such file or directory\n"
			      "No such file or directory\n");
	snprintf(want, sizeof(want),
		 "]: /dev/ea: its driver is no longer running (a stale entry in %s); start the "
		 "driver again\n",
		 h_dir());
	expect_line(err, want);
	free(out);
	free(err);
	/* the same from the seccomp supervisor */
	cr_assert_eq(h_run(0, NULL, &out, &err,
			   (const char *const[]){h_stage("cuse-run"), "--seccomp", "--",
						 h_stage("staticprobe"), "open:/dev/ea:r",
						 "open:/dev/ea:r", NULL}),
		     0);
	cr_expect_str_eq(out, "open=-1 errno=ENOENT\nopen=-1 errno=ENOENT\n");
	expect_line(err, want + 3);
	cr_expect(strstr(err, "cuse-run: /dev/ea: its driver"), "%s", err);
	free(out);
	free(err);
	/* ...and a new driver reclaims the name */
	cr_assert_eq(h_driver_start(&d, "ea", NULL), 0);

	/* no such device: the program's own message, as with the kernel */
	cr_assert_eq(H_RUN(H_SHIM, &out, "sh", "-c", "cat /dev/nosuchdev 2>&1; true"), 0);
	cr_expect_str_eq(out, "cat: /dev/nosuchdev: No such file or directory\n");
	free(out);

	/* a registry directory the driver cannot create */
	snprintf(locked, sizeof(locked), "%s/locked", h_dir());
	cr_assert(!mkdir(locked, 0555) && !chmod(locked, 0555));
	snprintf(env, sizeof(env), "CUSE_DIR=%s/reg", locked);
	rc = h_run(H_NODIR, NULL, NULL, &err,
		   (const char *const[]){"env", env, h_stage("bufdev"), "-f", "--name=x", NULL});
	cr_expect_eq(rc, 1);
	snprintf(want, sizeof(want),
		 "cuse: cannot use registry directory '%s/reg': Permission denied; set CUSE_DIR "
		 "to a directory of your own\n",
		 locked);
	expect_line(err, want);
	free(err);

	/* a registry path too long for a Unix socket */
	snprintf(env, sizeof(env), "CUSE_DIR=%s/%0100d", h_dir(), 0);
	rc = h_run(H_NODIR, NULL, NULL, &err,
		   (const char *const[]){"env", env, h_stage("bufdev"), "-f", "--name=x", NULL});
	cr_expect_eq(rc, 1);
	snprintf(want, sizeof(want),
		 "cuse: registry path for 'x' under '%s' is too long for a socket (107 bytes at "
		 "most); set CUSE_DIR to a shorter directory\n",
		 env + strlen("CUSE_DIR="));
	expect_line(err, want);
	free(err);

	/* a bad option */
	rc = h_run(0, NULL, NULL, &err,
		   (const char *const[]){h_stage("cuse-run"), "--bogus", "true", NULL});
	cr_expect_eq(rc, 125);
	cr_expect_str_eq(err, "cuse-run: unrecognized option '--bogus'\n"
			      "Try 'cuse-run --help' for more information.\n");
	free(err);
	rc = h_run(0, NULL, NULL, &err,
		   (const char *const[]){h_stage("cused"), "frobnicate", NULL});
	cr_expect_neq(rc, 0);
	cr_expect_str_eq(err, "cused: unknown command 'frobnicate'\n"
			      "Try 'cused --help' for more information.\n");
	free(err);

	/* permission denied by the device's mode */
	if (!h_root())
		return;
	cr_assert_eq(h_run(H_SHIM | H_AS_OTHER, NULL, &out, &err,
			   (const char *const[]){"sh", "-c", "cat /dev/ea; cat /dev/ea", NULL}),
		     1);
	cr_expect_eq(lines_with(err, "cat: /dev/ea: Permission denied", NULL), 2, "%s", err);
	cr_expect_eq(lines_with(err, "]: /dev/ea: permission denied: mode 0600, owner ",
				"; run as them, or start the driver with CUSED_MODE or "
				"CUSED_GROUP"),
		     2, "%s", err);
	free(out);
	free(err);
	cr_assert_eq(h_run(H_AS_OTHER, NULL, &out, &err,
			   (const char *const[]){h_stage("cuse-run"), "--seccomp", "--",
						 h_stage("staticprobe"), "open:/dev/ea:r",
						 "open:/dev/ea:r", NULL}),
		     0);
	cr_expect_str_eq(out, "open=-1 errno=EACCES\nopen=-1 errno=EACCES\n");
	cr_expect_eq(lines_with(err, "cuse-run: /dev/ea: permission denied: mode 0600, owner ",
				"; run as them, or start the driver with CUSED_MODE or "
				"CUSED_GROUP"),
		     1, "%s", err);
	free(out);
	free(err);
}
