/* SPDX-License-Identifier: MIT */
/*
 * Reliability: the driver dying under blocked clients, clients dying
 * under the driver, resources after many cycles, load, hostile peers, and
 * permissions.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

TestSuite(reliability, .init = h_setup, .fini = h_teardown, .timeout = 180);

static long mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int count_fds(pid_t pid)
{
	char path[64];
	struct dirent *e;
	int n = 0;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	d = opendir(path);
	cr_assert(d, "cannot read %s", path);
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

static long rss_kb(pid_t pid)
{
	char path[64], line[256];
	long kb = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	cr_assert(f);
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "VmRSS:", 6))
			kb = atol(line + 6);
	fclose(f);
	return kb;
}

/* 16 clients blocked in read, ioctl and poll; SIGKILL the driver. */
Test(reliability, driver_death_under_blocked_clients)
{
	const char *steps[3] = {"read:10", "waitioctl", "pollwait:20000"};
	const char *expect[3] = {"read=-1 errno=ECONNABORTED", "waitioctl=-1 errno=ECONNABORTED",
				 "pollwait=1 revents=0x8"};
	struct h_driver d;
	char script[4096], *out = NULL, *line, *save = NULL;
	long killed;
	int i, n = 0, rc;
	pid_t runner;
	int pfd[2];

	cr_assert_eq(h_driver_start_blocking(&d, "rel", NULL), 0);
	/* a shell starts 16 rwprobes, each printing its result and when */
	n = snprintf(script, sizeof(script), "p=%s; ", h_stage("rwprobe"));
	for (i = 0; i < 16; i++)
		n += snprintf(script + n, sizeof(script) - n,
			      "(echo \"$($p open:/dev/rel:r %s now 2>&1 | tr '\\n' ' ')\") & ",
			      steps[i % 3]);
	snprintf(script + n, sizeof(script) - n, "wait");
	cr_assert(!pipe(pfd));
	runner = fork();
	if (runner == 0) {
		char *o = NULL;
		int r = h_run(H_SHIM, NULL, &o, NULL,
			      (const char *const[]){"sh", "-c", script, NULL});

		if (write(pfd[1], o, strlen(o)) < 0)
			_exit(2);
		_exit(r);
	}
	close(pfd[1]);
	/* all 16 are blocked: 11 parked reads/ioctls logged, 5 polls asked */
	cr_assert(h_log_wait(&d, "read fh=", 6, 10000) && h_log_wait(&d, "ioctl wait", 5, 10000),
		  "clients did not block:\n%s", h_log(&d));
	cr_assert(h_log_wait(&d, "poll ", 5, 10000));
	h_msleep(200);
	killed = mono_ms();
	h_driver_stop(&d, SIGKILL);
	h_driver_wait(&d, 5000);
	waitpid(runner, &rc, 0);
	out = calloc(1, 65536);
	for (n = 0; (i = read(pfd[0], out + n, 65535 - n)) > 0;)
		n += i;
	close(pfd[0]);
	cr_expect(WIFEXITED(rc) && WEXITSTATUS(rc) == 0, "a client failed or was killed:\n%s", out);
	n = 0;
	for (line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		const char *now = strstr(line, "now=");
		bool known = false;

		for (i = 0; i < 3; i++)
			known |= strstr(line, expect[i]) != NULL;
		cr_expect(known, "unexpected result: %s", line);
		cr_expect(now && atol(now + 4) - killed < 1000,
			  "returned %ld ms after the kill: %s", now ? atol(now + 4) - killed : -1,
			  line);
		n++;
	}
	cr_expect_eq(n, 16, "only %d clients reported", n);
	free(out);
	/* a restarted driver serves new opens */
	cr_assert_eq(h_driver_start(&d, "rel", NULL), 0);
	cr_assert_eq(H_RUN(H_SHIM, &out, "sh", "-c", "echo back > /dev/rel; cat /dev/rel"), 0);
	cr_expect_str_eq(out, "back\n");
	free(out);
}

Test(reliability, new_requests_on_a_dead_drivers_fd_are_enotconn)
{
	struct h_driver d;
	char *out = NULL, pid[16];

	cr_assert_eq(h_driver_start(&d, "rel", NULL), 0);
	snprintf(pid, sizeof(pid), "%d", (int)d.pid);
	cr_assert_eq(H_RUN(H_SHIM, &out, "bash", "-c",
			   "exec 3<>/dev/rel; $1 fd:3 write:1; kill -9 $0; sleep 0.3; "
			   "$1 fd:3 read:1 write:1 waitioctl close",
			   pid, h_stage("rwprobe")),
		     0);
	cr_expect_str_eq(out, "write=1\nread=-1 errno=ENOTCONN\nwrite=-1 errno=ENOTCONN\n"
			      "waitioctl=-1 errno=ENOTCONN\nclose=0\n");
	free(out);
	h_driver_wait(&d, 5000);
	cr_assert_eq(H_RUN(H_SHIM, &out, h_stage("rwprobe"), "open:/dev/rel:r"), 0);
	cr_expect_str_eq(out, "open=-1 errno=ENOENT\n");
	free(out);
}

Test(reliability, client_killed_in_a_blocking_read)
{
	const char *extra[] = {"--ignore-interrupts", NULL};
	struct h_driver d;
	char *out = NULL, *log;
	pid_t kid;
	int st;

	cr_assert_eq(h_driver_start_blocking(&d, "rel", extra), 0);
	kid = fork();
	if (kid == 0)
		_exit(H_RUN(H_SHIM, NULL, h_stage("rwprobe"), "open:/dev/rel:r", "read:10"));
	cr_assert(h_log_wait(&d, "read fh=1", 1, 10000));
	kill(kid, SIGKILL); /* the harness's child: its rwprobe dies with it */
	waitpid(kid, &st, 0);
	cr_assert(h_log_wait(&d, "interrupt fh=1", 1, 5000), "%s", h_log(&d));
	/* the driver keeps the read and answers it late: dropped silently */
	cr_assert_eq(H_RUN(H_SHIM, &out, "sh", "-c", "printf late > /dev/rel; echo ok"), 0);
	cr_expect_str_eq(out, "ok\n");
	free(out);
	cr_assert(h_log_wait(&d, "release fh=1", 1, 5000), "%s", h_log(&d));
	log = h_log(&d);
	cr_expect(strstr(log, "(from a writer)"), "the late answer was not given:\n%s", log);
	cr_expect_eq(h_log_count(&d, "release fh=1 "), 1);
	free(log);
	/* and still serves everyone else */
	cr_assert_eq(
		H_RUN(H_SHIM, &out, h_stage("rwprobe"), "open:/dev/rel:rw", "write:3", "read:3"),
		0);
	cr_expect_str_eq(out, "open=3\nwrite=3\nread=3 data=aaa\n");
	free(out);
}

Test(reliability, no_leaks_over_many_cycles)
{
	struct h_driver d;
	char *out = NULL;
	int fds0, fds1;
	long rss0, rss1;

	cr_assert_eq(h_driver_start_blocking(&d, "rel", NULL), 0);
	/* warm up, then measure */
	cr_assert_eq(
		H_RUN(H_SHIM, NULL, "python3", "-c",
		      "import os\nfor i in range(200): os.close(os.open('/dev/rel', os.O_RDWR))"),
		0);
	/* measured as at the end: once the warm-up's files are released and
	 * its connections closed, which the driver notices a moment later */
	cr_assert(h_log_wait(&d, "release ", 200, 20000), "warm-up releases missing");
	h_msleep(200);
	fds0 = count_fds(d.pid);
	rss0 = rss_kb(d.pid);
	cr_assert_eq(H_RUN(H_SHIM, &out, "python3", "-c",
			   "import os\n"
			   "for i in range(10000):\n"
			   "    fd = os.open('/dev/rel', os.O_RDWR)\n"
			   "    if i % 10 == 0: os.write(fd, b'x'); os.read(fd, 1)\n"
			   "    os.close(fd)\n"
			   "print('done')\n"),
		     0);
	cr_expect_str_eq(out, "done\n");
	free(out);
	/* 1000 clients killed while they hold the device open */
	cr_assert_eq(H_RUN(H_SHIM, &out, "python3", "-c",
			   "import os, signal\n"
			   "for i in range(1000):\n"
			   "    r, w = os.pipe()\n"
			   "    pid = os.fork()\n"
			   "    if pid == 0:\n"
			   "        fd = os.open('/dev/rel', os.O_RDWR); os.write(w, b'1')\n"
			   "        os.read(fd, 1); os.read(fd, 1); os._exit(0)\n"
			   "    os.read(r, 1); os.kill(pid, signal.SIGKILL); os.waitpid(pid, 0)\n"
			   "    os.close(r); os.close(w)\n"
			   "print('killed')\n"),
		     0);
	cr_expect_str_eq(out, "killed\n");
	free(out);
	cr_assert(h_log_wait(&d, "release ", 11200, 20000), "releases missing");
	h_msleep(200);
	fds1 = count_fds(d.pid);
	rss1 = rss_kb(d.pid);
	cr_expect_eq(fds1, fds0, "driver fds %d -> %d", fds0, fds1);
	/* bound: 2 MiB of growth over 11,000 files (not under ASan, whose
	 * quarantine keeps freed memory on purpose) */
	if (!h_sanitizers())
		cr_expect_lt(rss1 - rss0, 2048, "driver RSS grew %ld kB (%ld -> %ld)", rss1 - rss0,
			     rss0, rss1);
	cr_expect_eq(h_log_count(&d, "open "), h_log_count(&d, "release "));
}

Test(reliability, load_64_processes)
{
	const char *extra[] = {"--per-open", NULL};
	struct h_driver d;
	char *out = NULL;
	int rc;

	cr_assert_eq(h_driver_start_blocking(&d, "rel", extra), 0);
	/* 64 processes (32 pairs) x 400 rounds x 5 operations = 2,000 each */
	rc = h_run(H_SHIM, NULL, &out, NULL,
		   (const char *const[]){"sh", "-c",
					 "for i in $(seq 32); do $0 /dev/rel -400 1 & done; wait",
					 h_stage("stress"), NULL});
	cr_expect_eq(rc, 0, "%s", out);
	{
		int lines = 0;
		char *p;

		for (p = out; (p = strstr(p, "ok ops=2000\n")); p++)
			lines++;
		cr_expect_eq(lines, 64, "%d of 64 processes did 2000 verified ops:\n%s", lines,
			     out);
	}
	free(out);
}

Test(reliability, permissions_by_mode_and_group)
{
	struct h_driver d;
	char *out = NULL;

	if (!h_root())
		cr_skip_test("needs root to run a second user");
	/* 0600: the driver's user only */
	cr_assert_eq(h_driver_start(&d, "p600", NULL), 0);
	cr_assert_eq(H_RUN(H_SHIM | H_AS_OTHER, &out, h_stage("rwprobe"), "open:/dev/p600:r"), 0);
	cr_expect_str_eq(out, "open=-1 errno=EACCES\n");
	free(out);
	/* 0660: the group (the other user shares nogroup), read and write */
	cr_assert_eq(h_driver_start_argv(
			     &d, "p660",
			     (const char *const[]){"bufdev", "-f", "--eof", "--name=p660", NULL},
			     H_MODE660),
		     0);
	cr_assert_eq(H_RUN(H_SHIM | H_AS_OTHER, &out, h_stage("rwprobe"), "open:/dev/p660:rw",
			   "access:/dev/p660:rw"),
		     0);
	cr_expect_str_eq(out, "open=3\naccess=0\n");
	free(out);
	/* 0604: others may read, not write */
	cr_assert_eq(h_driver_start_argv(
			     &d, "p604",
			     (const char *const[]){"bufdev", "-f", "--eof", "--name=p604", NULL},
			     H_MODE604),
		     0);
	cr_assert_eq(H_RUN(H_SHIM | H_AS_OTHER | H_NOGROUP, &out, h_stage("rwprobe"),
			   "open:/dev/p604:r", "open:/dev/p604:w"),
		     0);
	cr_expect_str_eq(out, "open=3\nopen=-1 errno=EACCES\n");
	free(out);
}

Test(reliability, clients_cannot_forge_identity_or_reach_other_files)
{
	struct h_driver d;
	char sock[600], script[4096], *out = NULL, *err = NULL, *log;

	cr_assert_eq(h_driver_start(&d, "f", NULL), 0);
	snprintf(sock, sizeof(sock), "%s/f", h_dir());
	snprintf(script, sizeof(script),
		 "import socket, struct, os\n"
		 "def hdr(n, op, uniq, node=0, uid=0, gid=0, pid=0):\n"
		 "    return struct.pack('<IIQQIIIHH', n, op, uniq, node, uid, gid, pid, 0, 0)\n"
		 "c = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET); c.connect('%s')\n"
		 "# HELLO claiming pid 1's thread and uid 0 in the header\n"
		 "c.send(hdr(56, 0x43530001, 2, uid=0, pid=1) + struct.pack('<IHHII', 0x43555345, "
		 "1, "
		 "0, 1, 0))\n"
		 "print(len(c.recv(100)))\n"
		 "# a READ for a handle never attached\n"
		 "c.send(hdr(80, 15, 4, node=1) + struct.pack('<QQIIQII', 0, 0, 10, 0, 0, 0, 0))\n"
		 "r = c.recv(100); print(struct.unpack('<IiQ', r[:16])[1])\n"
		 "# an ATTACH with no fd, then with a pipe\n"
		 "c.send(hdr(40, 0x43530003, 6)); r = c.recv(100); print(struct.unpack('<IiQ', "
		 "r[:16])[1])\n"
		 "rp, wp = os.pipe()\n"
		 "c.sendmsg([hdr(40, 0x43530003, 8)], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, "
		 "struct.pack('i', rp))])\n"
		 "r = c.recv(100); print(struct.unpack('<IiQ', r[:16])[1])\n"
		 "# an OPEN that hands over some other socket\n"
		 "o = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET); o.connect('%s')\n"
		 "x, y = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)\n"
		 "o.sendmsg([hdr(64, 0x43530002, 2) + struct.pack('<IHHIIII', 0x43555345, 1, 0, 0, "
		 "0, "
		 "0o100000, 0)], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, struct.pack('i', "
		 "x.fileno()))])\n"
		 "r = o.recv(100); print(len(r) and struct.unpack('<IiQ', r[:16])[1])\n",
		 sock, sock);
	cr_assert_eq(h_run(H_SHIM, NULL, &out, &err,
			   (const char *const[]){"python3", "-c", script, NULL}),
		     0, "%s", err);
	/* HELLO answered; EBADF for the made-up handle, the missing fd and the
	 * pipe; the OPEN with a foreign socket refused (EPROTO) */
	cr_expect_str_eq(out, "48\n-9\n-9\n-9\n-71\n");
	free(out);
	free(err);
	log = h_log(&d);
	cr_expect(!strstr(log, "read "), "a driver callback ran:\n%s", log);
	cr_expect(!strstr(log, "open "), "a driver callback ran:\n%s", log);
	free(log);
}

/* A driver refuses a registry it cannot trust, and says why. */
static void expect_refused(const char *dir_env, const char *why)
{
	char *err = NULL, env[600];
	int rc;

	snprintf(env, sizeof(env), "CUSE_DIR=%s", dir_env);
	rc = h_run(H_NODIR, NULL, NULL, &err,
		   (const char *const[]){"env", env, h_stage("bufdev"), "-f", "--name=x", NULL});
	cr_expect_eq(rc, 1, "driver exited %d", rc);
	cr_expect(strstr(err, why), "stderr: %s", err);
	free(err);
}

Test(reliability, registry_directory_must_be_trustworthy)
{
	char link[600], open_dir[600];

	if (!h_root())
		cr_skip_test("needs root to prepare directories for another user");
	/* a symlink at the registry's name */
	snprintf(link, sizeof(link), "%s/link", h_dir());
	cr_assert(!symlink("/tmp", link));
	expect_refused(link, "cannot use registry directory");
	expect_refused(link, "it is a symbolic link");
	/* a directory anyone may write to */
	snprintf(open_dir, sizeof(open_dir), "%s/open", h_dir());
	cr_assert(!mkdir(open_dir, 0777) && !chmod(open_dir, 0777));
	expect_refused(open_dir, "others may write to it and it is not sticky");
	/* one that belongs to someone else */
	cr_assert(!chmod(open_dir, 0755) && !chown(open_dir, 65533, 65533));
	expect_refused(open_dir, "it belongs to another user");
}

Test(reliability, registry_directory_is_created_private)
{
	struct h_driver d;
	char dir[600], arg[700];
	struct stat st;

	snprintf(dir, sizeof(dir), "%s/new/reg", h_dir());
	snprintf(arg, sizeof(arg), "CUSE_DIR=%s", dir);
	cr_assert_eq(h_driver_start_argv(
			     &d, "x",
			     (const char *const[]){"bufdev", "-f", "--eof", "--name=x", NULL},
			     H_REGISTRY_SUBDIR),
		     0);
	cr_assert(!stat(dir, &st), "%s not created", dir);
	cr_expect_eq(st.st_mode & 07777, 0700, "registry created with mode 0%o",
		     st.st_mode & 07777);
}

/* A hostile driver: the client gets the kernel's errors, never crashes,
 * never writes past its buffers, and its other requests keep working. */
struct hostile_case {
	char mode[32];
	char steps[2][32];
	char expect[160];
};

ParameterizedTestParameters(reliability, hostile_driver)
{
	static struct hostile_case cases[] = {
		{"read-too-long", {"readcanary:10", ""}, "readcanary=-1 errno=EIO guard=intact\n"},
		{"read-bad-length",
		 {"readcanary:10", ""},
		 "readcanary=-1 errno=EIO guard=intact\n"},
		{"read-positive-error",
		 {"readcanary:10", ""},
		 "readcanary=-1 errno=EIO guard=intact\n"},
		{"read-error-with-data",
		 {"readcanary:10", ""},
		 "readcanary=-1 errno=EIO guard=intact\n"},
		{"read-wrong-unique", {"readcanary:10", ""}, "readcanary=2 guard=intact\n"},
		{"read-short-header",
		 {"readcanary:10", ""},
		 "readcanary=-1 errno=EIO guard=intact\n"},
		{"ioctl-retry-unmapped",
		 {"ioctlcanary:8:0x80084601", ""},
		 "ioctlcanary=-1 errno=EFAULT guard=intact\n"},
		/* 257 iovecs do not fit a 4096-byte reply: EIO (the kernel's
		 * reply write fails); after an 8 KiB round they fit: ENOMEM */
		{"ioctl-retry-257",
		 {"ioctlcanary:8:0x80084601", ""},
		 "ioctlcanary=-1 errno=EIO guard=intact\n"},
		{"ioctl-retry-257-fits",
		 {"ioctlcanary:8:0x80084601", ""},
		 "ioctlcanary=-1 errno=ENOMEM guard=intact\n"},
		{"ioctl-retry-count-mismatch",
		 {"ioctlcanary:8:0x80084601", ""},
		 "ioctlcanary=-1 errno=EIO guard=intact\n"},
	};
	return cr_make_param_array(struct hostile_case, cases, sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct hostile_case *c, reliability, hostile_driver)
{
	char script[600], *out = NULL, expect[300];
	const char *py = getenv("CUSESHIM_STAGE");
	struct h_driver d;
	int rc;

	snprintf(script, sizeof(script), "%s/fakedrv.py", py ? py : ".");
	cr_assert_eq(h_driver_start_argv(&d, "evil",
					 (const char *const[]){"/usr/bin/python3", script, h_dir(),
							       "evil", c->mode, NULL},
					 0),
		     0, "the fake driver did not start");
	/* the bad answer, then a plain open, still working */
	rc = H_RUN(H_SHIM, &out, h_stage("rwprobe"), "open:/dev/evil:rw", c->steps[0],
		   "open:/dev/evil:r");
	cr_expect_eq(rc, 0, "rwprobe exited %d (crashed?)", rc);
	snprintf(expect, sizeof(expect), "open=3\n%sopen=4\n", c->expect);
	cr_expect_str_eq(out, expect);
	free(out);
}
