/* SPDX-License-Identifier: MIT */
/*
 * libcused's API as drivers use it: every loop ABI (FUSE_USE_VERSION 30,
 * 35, 312), a driver's own loop on fuse_session_fd, the lifecycle
 * callbacks, fuse_daemonize, the signal handlers, fuse_session_reset,
 * fuse_reply_none, fuse_version, fuse_log, and a driver that survives
 * garbage from a client.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <criterion/parameterized.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "proto/cuseshim_proto.h"

TestSuite(driver_api, .init = h_setup, .fini = h_teardown, .timeout = 120);

/* loopdrv @bin serving /dev/lp in @mode, in the foreground, with one more
 * option @opt (may be NULL). */
static void start_loopdrv(struct h_driver *d, const char *bin, const char *mode, const char *opt)
{
	char logpath[600];

	snprintf(logpath, sizeof(logpath), "%s/lp.log", h_dir());
	cr_assert_eq(h_driver_start_argv(
			     d, "lp",
			     (const char *const[]){bin, "lp", logpath, mode, "-f", opt, NULL}, 0),
		     0, "%s %s did not start", bin, mode);
}

/* Criterion re-executes the test binary, so parameters hold no pointers. */
struct loop_case {
	char bin[16];
	char mode[8];
	char loop_result[24]; /* "loop returned N", "" when the driver has no loop */
};

ParameterizedTestParameters(driver_api, loops)
{
	static struct loop_case cases[] = {
		{"loopdrv30", "st", "loop returned 15"},
		{"loopdrv30", "mt", "loop returned 15"},
		{"loopdrv30", "custom", "loop returned 0"},
		{"loopdrv30", "main", ""},
		{"loopdrv35", "st", "loop returned 15"},
		{"loopdrv35", "mt", "loop returned 15"},
		{"loopdrv35", "main", ""},
		{"loopdrv312", "mt", "loop returned 15"},
		{"loopdrv312", "custom", "loop returned 0"},
		{"loopdrv312", "main", ""},
	};
	return cr_make_param_array(struct loop_case, cases, sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct loop_case *c, driver_api, loops)
{
	struct h_driver d;
	char *out = NULL, *log, *a, *b, *e, *z, *v;
	int version = 0, header = -1;

	start_loopdrv(&d, c->bin, c->mode, NULL);
	cr_assert_eq(H_RUN(H_SHIM, &out, "head", "-c", "7", "/dev/lp"), 0);
	cr_expect_str_eq(out, "data:ok");
	free(out);
	cr_assert_eq(H_RUN(H_SHIM, &out, h_stage("rwprobe"), "open:/dev/lp:r", "read:3"), 0);
	cr_expect_str_eq(out, "open=3\nread=3 data=bvd\n");
	free(out);
	h_driver_stop(&d, SIGTERM);
	cr_expect_eq(h_driver_wait(&d, 5000), 0, "%s %s did not exit 0", c->bin, c->mode);
	log = h_log(&d);
	a = strstr(log, "init userdata=ok proto=7 max_write=1048576\n");
	/* DEVNAME is published before init_done runs */
	b = strstr(log, "init_done published=yes\n");
	e = strstr(log, "release fh=7\n");
	z = strstr(log, "destroy\n");
	cr_expect(a && b && e && z && a < b && b < e && e < z, "callbacks out of order:\n%s", log);
	if (c->loop_result[0])
		cr_expect(strstr(log, c->loop_result), "%s", log);
	if (strcmp(c->mode, "main"))
		cr_expect(strstr(log, "multithreaded=1\n"), "%s", log);
	v = strstr(log, "fuse_version=");
	cr_expect(v && sscanf(v, "fuse_version=%d FUSE_VERSION=%d", &version, &header) == 2, "%s",
		  log);
	cr_expect_eq(version, header, "fuse_version() is %d, the header's FUSE_VERSION %d", version,
		     header);
	free(log);
}

/* The name is published before init_done, so a client may open the
 * device at once, here from init_done itself: it must be served, not
 * told ENOSYS because the driver had not yet marked itself ready. */
Test(driver_api, device_usable_from_init_done)
{
	struct h_driver d;
	char use[700], logpath[600];

	snprintf(use, sizeof(use), "LOOPDRV_USE_IN_INIT_DONE=%s -- dash -c ': < /dev/lp'",
		 h_stage("cuse-run"));
	snprintf(logpath, sizeof(logpath), "%s/lp.log", h_dir());
	/* env(1): the harness gives drivers a clean environment */
	cr_assert_eq(h_driver_start_argv(&d, "lp",
					 (const char *const[]){"/usr/bin/env", use,
							       h_stage("loopdrv312"), "lp", logpath,
							       "mt", "-f", NULL},
					 0),
		     0);
	cr_expect(h_log_wait(&d, "init_done use=0", 1, 20000), "%s", h_log(&d));
	cr_expect_eq(h_log_count(&d, "open"), 1, "%s", h_log(&d));
}

/* DEVNAME is read as the kernel reads it: " DEVNAME\t= lp \n" after an
 * earlier DEVNAME names /dev/lp. */
Test(driver_api, devname_parsed_as_the_kernel)
{
	struct h_driver d;
	char logpath[600], *out = NULL;

	snprintf(logpath, sizeof(logpath), "%s/lp.log", h_dir());
	cr_assert_eq(h_driver_start_argv(&d, "lp",
					 (const char *const[]){"/usr/bin/env",
							       "LOOPDRV_SPACED_DEVNAME=1",
							       h_stage("loopdrv312"), "lp", logpath,
							       "st", "-f", NULL},
					 0),
		     0);
	cr_assert_eq(H_RUN(H_SHIM, &out, "head", "-c", "7", "/dev/lp"), 0);
	cr_expect_str_eq(out, "data:ok");
	free(out);
}

/* After bad input, the driver still serves @dev. */
static void expect_alive(const char *dev)
{
	char cmd[300], *out = NULL;

	snprintf(cmd, sizeof(cmd), "echo alive > %s", dev);
	cr_assert_eq(H_RUN(H_SHIM, NULL, "sh", "-c", cmd), 0);
	cr_assert_eq(H_RUN(H_SHIM, &out, "cat", dev), 0);
	cr_expect_str_eq(out, "alive\n");
	free(out);
}

/* Lines of @d's stderr that contain @needle. */
static int err_lines(const struct h_driver *d, const char *needle)
{
	FILE *f = fopen(d->err, "re");
	char line[512];
	int n = 0;

	cr_assert(f);
	while (fgets(line, sizeof(line), f))
		n += strstr(line, needle) != NULL;
	fclose(f);
	return n;
}

/* The request ring (protocol 1.2) from a hand-made client: RING with an
 * unsealed memfd gets no ring (EINVAL); garbage in a ring, or an opcode that has no place
 * there, drops that connection with a log line, and the driver serves on. */
Test(driver_api, request_ring_refuses_what_it_must)
{
	struct h_driver d;
	char sock[600], *out = NULL, *err = NULL, script[4096];

	cr_assert_eq(h_driver_start(&d, "rg", NULL), 0);
	snprintf(sock, sizeof(sock), "%s/rg", h_dir());
	snprintf(
		script, sizeof(script),
		"import socket, struct, os, mmap, fcntl, ctypes, array, threading\n"
		"SIZE = %u\n"
		"libc = ctypes.CDLL(None, use_errno=True)\n"
		"def hello(seal):\n"
		"    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)\n"
		"    s.connect('%s')\n"
		"    msg = struct.pack('<IIQQIIIHH', 56, 0x43530001, 2, 0, 0, 0, 0, 0, 0)\n"
		"    msg += struct.pack('<IHHII', 0x43555345, 1, 2, threading.get_native_id(), 0)\n"
		"    s.send(msg); s.recv(100)\n"
		"    fd = os.memfd_create('ring', os.MFD_ALLOW_SEALING)\n"
		"    os.ftruncate(fd, SIZE)\n"
		"    if seal:\n"
		"        fcntl.fcntl(fd, fcntl.F_ADD_SEALS, fcntl.F_SEAL_SHRINK | "
		"fcntl.F_SEAL_GROW)\n"
		"    msg = struct.pack('<IIQQIIIHH', 40, 0x43530007, 4, 0, 0, 0, 0, 0, 0)\n"
		"    s.sendmsg([msg], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, "
		"array.array('i', [fd]))])\n"
		"    r = s.recv(100)\n"
		"    return s, mmap.mmap(fd, SIZE), struct.unpack('<i', r[4:8])[0]\n"
		"def poke(m, msg):\n"
		"    m[4096:4096 + len(msg)] = msg\n"
		"    m[0:4] = struct.pack('<I', 1)\n"
		"    addr = ctypes.addressof(ctypes.c_char.from_buffer(m))\n"
		"    libc.syscall(202, ctypes.c_void_p(addr), 1, 1, 0, 0, 0)\n"
		"s, m, f = hello(False); print('unsealed', f)\n"
		"for msg in [struct.pack('<I', 8),\n"
		"            struct.pack('<IIQQIIIHH', 56, 0x43530001, 6, 0, 0, 0, 0, 0, 0) + "
		"b'\\0' * 16]:\n"
		"    s, m, f = hello(True)\n"
		"    poke(m, msg)\n"
		"    s.settimeout(5)\n"
		"    print('sealed', f, 'then', len(s.recv(100)))\n",
		CUSESHIM_RING_SIZE, sock);
	cr_assert_eq(
		h_run(0, NULL, &out, &err, (const char *const[]){"python3", "-c", script, NULL}), 0,
		"%s", err);
	cr_expect_str_eq(out, "unsealed -22\nsealed 0 then 0\nsealed 0 then 0\n", "%s", err);
	free(out);
	free(err);
	expect_alive("/dev/rg");
	cr_expect_eq(err_lines(&d, "in the request ring of pid"), 2,
		     "log lines for the bad ring messages");
}

/* READ, WRITE and IOCTL go through the request ring unless
 * CUSESHIM_NO_RING=1; the program and the driver cannot tell which. */
Test(driver_api, request_ring_and_socket_agree)
{
	static const char *const script =
		"import os, fcntl, termios, array, threading\n"
		"fd = os.open('/dev/ra', os.O_RDWR)\n"
		"print(os.write(fd, b'x' * 200000))\n"
		"b = array.array('i', [0]); fcntl.ioctl(fd, termios.FIONREAD, b); print(b[0])\n"
		"print(len(os.read(fd, 150000)), len(os.read(fd, 60000)))\n"
		"t = threading.Thread(target=lambda: print(os.read(fd, 3)))\n"
		"t.start(); os.write(fd, b'xyz'); t.join(); os.close(fd)\n";
	/* (how reads and writes split depends on where python's buffers lie) */
	static const char *const ops[] = {"open ", "ioctl ", "release "};
	const char *const extra[] = {"-d", "--per-open", NULL};
	char *ring = NULL, *sock = NULL, *story;
	int counts[3], i, rings;
	struct h_driver d;

	cr_assert_eq(h_driver_start_blocking(&d, "ra", extra), 0);
	cr_assert_eq(H_RUN(H_SHIM, &ring, "python3", "-c", script), 0, "%s", ring);
	H_EXPECT_LOG(&d, "release ", 1, 5000);
	for (i = 0; i < 3; i++)
		counts[i] = h_log_count(&d, ops[i]);
	cr_assert_eq(H_RUN(H_SHIM, &sock, "env", "CUSESHIM_NO_RING=1", "python3", "-c", script), 0,
		     "%s", sock);
	cr_expect_str_eq(ring, "200000\n200000\n150000 50000\nb'xyz'\n");
	cr_expect_str_eq(sock, ring);
	free(ring);
	free(sock);
	/* the driver saw the same calls the second time */
	H_EXPECT_LOG(&d, "release ", 2, 5000);
	for (i = 0; i < 3; i++)
		cr_expect_eq(h_log_count(&d, ops[i]), 2 * counts[i], "%s\n%s", ops[i], h_log(&d));
	/* the first run's main thread, busy enough to ask for one; not its
	 * reader thread (one read), and nothing in the second run */
	rings = err_lines(&d, "RING: request ring for pid");
	story = rings == 1 ? NULL : h_driver_story(&d);
	cr_expect_eq(rings, 1, "request rings started\n%s", story ? story : "");
	free(story);
}

/*
 * While a client waits awake for a ring reply (protocol 1.3: spinning
 * when the driver is on another CPU, yielding to it on the same one), a
 * signal still interrupts a blocked read.  Spins of a whole second on
 * both sides put the alarm inside one; a client that missed the signal
 * would wait for the read forever.
 */
static void ring_wait_interrupted(const char *driver_cpu, const char *client_cpu)
{
	static const char *const steps[] = {"open:/dev/rs:rw", "write:4", "read:1",
					    "read:1",	       "read:1",  "read:1",
					    "alarm:300",       "read:9",  "alarms"};
	const char *argv[32] = {"env",	    "CUSESHIM_SPIN_US=1000000", "taskset", "-c",
				client_cpu, h_stage("rwprobe")};
	char logarg[600], pid[16], *out = NULL;
	struct h_driver d;
	size_t i;

	if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
		cr_skip_test("needs two CPUs");
	snprintf(logarg, sizeof(logarg), "--log=%s/rs.log", h_dir());
	cr_assert_eq(h_driver_start_argv(&d, "rs",
					 (const char *const[]){"/usr/bin/env",
							       "CUSESHIM_SPIN_US=1000000",
							       h_stage("bufdev"), "-f", "--name=rs",
							       logarg, "-d", NULL},
					 0),
		     0);
	/* every thread of the driver, and those it starts, on @driver_cpu */
	snprintf(pid, sizeof(pid), "%d", (int)d.pid);
	cr_assert_eq(H_RUN(0, NULL, "taskset", "-a", "-p", "-c", driver_cpu, pid), 0);
	for (i = 0; i < sizeof(steps) / sizeof(steps[0]); i++)
		argv[6 + i] = steps[i];
	cr_assert_eq(h_run(H_SHIM, NULL, &out, NULL, argv), 0);
	cr_expect_str_eq(out, "open=3\nwrite=4\nread=1 data=a\nread=1 data=a\nread=1 data=a\n"
			      "read=1 data=a\nread=-1 errno=EINTR\nalarms=1\n");
	free(out);
	cr_expect_eq(h_log_count(&d, "interrupt fh=1"), 1, "%s", h_log(&d));
	cr_expect_eq(err_lines(&d, "RING: request ring for pid"), 1, "request rings started");
}

Test(driver_api, a_signal_interrupts_a_ring_wait_across_cpus)
{
	ring_wait_interrupted("1", "0");
}

Test(driver_api, a_signal_interrupts_a_ring_wait_on_one_cpu)
{
	ring_wait_interrupted("0", "0");
}

/* cuse_lowlevel_setup twice in one process: two devices, two loops. */
Test(driver_api, two_devices_in_one_process)
{
	struct h_driver d;
	char path[700], *out = NULL, *log, *p;
	int inits = 0, destroys = 0;

	start_loopdrv(&d, "loopdrv312", "two", NULL);
	/* the start waited for lp; lp2's loop runs in a thread of its own */
	for (int i = 0; i < 500 && h_registry_pid("lp2") != d.pid; i++)
		h_msleep(10);
	cr_assert_eq(H_RUN(H_SHIM, &out, "sh", "-c",
			   "exec 3</dev/lp 4</dev/lp2; head -c 8 <&4; head -c 7 <&3; "
			   "test /dev/lp -ef /dev/lp2 || echo ' distinct'"),
		     0);
	cr_expect_str_eq(out, "data:twodata:ok distinct\n");
	free(out);
	cr_expect_eq(h_registry_pid("lp"), d.pid);
	cr_expect_eq(h_registry_pid("lp2"), d.pid);
	h_driver_stop(&d, SIGTERM);
	cr_expect_eq(h_driver_wait(&d, 5000), 0, "the driver did not exit 0");
	log = h_log(&d);
	for (p = log; (p = strstr(p, "init userdata=")); p++)
		inits++;
	for (p = log; (p = strstr(p, "destroy\n")); p++)
		destroys++;
	cr_expect_eq(inits, 2, "%s", log);
	cr_expect_eq(h_log_count(&d, "init_done published=yes"), 2, "%s", log);
	cr_expect_eq(destroys, 2, "%s", log);
	cr_expect(strstr(log, "first loop returned ") && strstr(log, "second loop returned 0\n"),
		  "%s", log);
	free(log);
	snprintf(path, sizeof(path), "%s/lp2", h_dir());
	cr_expect(access(path, F_OK) && errno == ENOENT, "%s is still there", path);
	snprintf(path, sizeof(path), "%s/lp", h_dir());
	cr_expect(access(path, F_OK) && errno == ENOENT, "%s is still there", path);
}

Test(driver_api, single_threaded_flag)
{
	struct h_driver d;
	char *log;

	start_loopdrv(&d, "loopdrv312", "st", "-s");
	log = h_log(&d);
	cr_expect(strstr(log, "multithreaded=0\n"), "%s", log);
	free(log);
}

Test(driver_api, unknown_option_goes_through_fuse_log)
{
	char logpath[400], *log;
	struct h_driver d;
	int rc;

	snprintf(logpath, sizeof(logpath), "%s/lp.log", h_dir());
	rc = H_RUN(0, NULL, h_stage("loopdrv312"), "lp", logpath, "st", "-f", "-o", "bogus");
	cr_expect_eq(rc, 1);
	snprintf(d.log, sizeof(d.log), "%.*s", (int)sizeof(d.log) - 1, logpath);
	log = h_log(&d);
	cr_expect(strstr(log, "fuse_log: fuse: unknown option(s): `-o bogus'\n"), "%s", log);
	free(log);
}

Test(driver_api, daemonizes_without_f)
{
	char *out = NULL, arg[64];
	pid_t pid;
	int rc;

	snprintf(arg, sizeof(arg), "--name=bg");
	rc = H_RUN(0, NULL, h_stage("bufdev"), "--eof", arg);
	cr_assert_eq(rc, 0, "bufdev without -f exited %d", rc);
	/* As with libfuse, the parent returns before the device is up. */
	for (int i = 0; i < 500 && (pid = h_registry_pid("bg")) <= 0; i++)
		h_msleep(10);
	cr_assert_gt(pid, 0, "no live registry entry after daemonizing");
	h_track_pid(pid);
	cr_expect_neq(kill(pid, 0), -1, "the daemon is not running");
	cr_assert_eq(H_RUN(H_SHIM, NULL, "sh", "-c", "echo daemon > /dev/bg"), 0);
	cr_assert_eq(H_RUN(H_SHIM, &out, "cat", "/dev/bg"), 0);
	cr_expect_str_eq(out, "daemon\n");
	free(out);
	kill(pid, SIGTERM);
	for (int i = 0; i < 500 && kill(pid, 0) == 0; i++)
		h_msleep(10);
	cr_expect_eq(kill(pid, 0), -1, "daemon ignored SIGTERM");
	cr_expect_eq(h_registry_pid("bg"), -1, "registry entry left behind");
}

static void clean_exit_on(int sig)
{
	struct h_driver d;
	char sock[600];

	cr_assert_eq(h_driver_start(&d, "sig", NULL), 0);
	h_driver_stop(&d, sig);
	cr_expect_eq(h_driver_wait(&d, 5000), 0, "signal %d: not a clean exit", sig);
	snprintf(sock, sizeof(sock), "%s/sig", h_dir());
	cr_expect_neq(access(sock, F_OK), 0);
}

Test(driver_api, sigint_ends_the_loop)
{
	clean_exit_on(SIGINT);
}

Test(driver_api, sighup_ends_the_loop)
{
	clean_exit_on(SIGHUP);
}

Test(driver_api, garbage_from_a_client_is_dropped)
{
	struct h_driver d;
	char sock[600], *out = NULL, *err = NULL, script[2048];

	cr_assert_eq(h_driver_start(&d, "g", NULL), 0);
	snprintf(sock, sizeof(sock), "%s/g", h_dir());
	snprintf(script, sizeof(script),
		 "import socket, struct\n"
		 "def conn():\n"
		 "    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)\n"
		 "    s.connect('%s')\n"
		 "    return s\n"
		 "for msg in [b'x', b'\\0' * 39, struct.pack('<IIQ', 999, 15, 2) + b'\\0' * 24,\n"
		 "            struct.pack('<IIQ', 40, 0xdead, 2) + b'\\0' * 24,\n"
		 "            struct.pack('<IIQQIIIHH', 80, 15, 2, 1, 0, 0, 0, 0, 0) + b'\\0' * "
		 "40]:\n"
		 "    s = conn(); s.send(msg)\n"
		 "    s.settimeout(5)\n"
		 "    try:\n"
		 "        r = s.recv(100)\n"
		 "    except Exception as e:\n"
		 "        r = b''\n"
		 "    print(len(r))\n",
		 sock);
	cr_assert_eq(
		h_run(0, NULL, &out, &err, (const char *const[]){"python3", "-c", script, NULL}), 0,
		"%s", err);
	/* every bad connection was closed without an answer */
	cr_expect_str_eq(out, "0\n0\n0\n0\n0\n");
	free(out);
	free(err);
	expect_alive("/dev/g");
	cr_expect(err_lines(&d, "malformed message from pid"),
		  "no log line for the malformed messages");
	/* cat's two reads (data, then end of file) and nothing else */
	cr_expect_eq(h_log_count(&d, "read "), 2, "a driver callback ran for bad input");
}

/* Four reads that can only be answered together, from four threads that
 * have made @warm reads of their file each first (from the fourth on,
 * through its request ring).  Prints the sorted results. */
static char *barrier_run(int warm, const char *const extra_opt)
{
	static const char *const script = "import os, sys, threading\n"
					  "res = []\n"
					  "def r():\n"
					  "    fd = os.open('/dev/lp', os.O_RDONLY)\n"
					  "    for _ in range(int(sys.argv[1])):\n"
					  "        assert os.read(fd, 16) == b'data:ok'\n"
					  "    try:\n"
					  "        res.append(os.read(fd, 5))\n"
					  "    except OSError as e:\n"
					  "        res.append(e.errno)\n"
					  "ts = [threading.Thread(target=r) for _ in range(4)]\n"
					  "[t.start() for t in ts]; [t.join(20) for t in ts]\n"
					  "print(sorted(map(str, res)))\n";
	struct h_driver d;
	char logpath[600], n[16], *out = NULL;

	snprintf(logpath, sizeof(logpath), "%s/lp.log", h_dir());
	snprintf(n, sizeof(n), "%d", warm);
	cr_assert_eq(
		h_driver_start_argv(&d, "lp",
				    (const char *const[]){"loopdrv312", "lp", logpath, "main", "-f",
							  extra_opt ? "-o" : NULL, extra_opt, NULL},
				    0),
		0);
	cr_assert_eq(H_RUN(H_SHIM, &out, "python3", "-c", script, n), 0, "%s", out);
	return out;
}

#define ALL_MET "[\"b'met!\\\\n'\", \"b'met!\\\\n'\", \"b'met!\\\\n'\", \"b'met!\\\\n'\"]\n"

Test(driver_api, mt_loop_runs_callbacks_concurrently)
{
	char *out = barrier_run(0, NULL);

	cr_expect_str_eq(out, ALL_MET);
	free(out);
}

Test(driver_api, max_threads_option_limits_the_workers)
{
	char *out = barrier_run(0, "max_threads=2");

	/* never four callbacks at once: every read times out with EIO */
	cr_expect_str_eq(out, "['5', '5', '5', '5']\n");
	free(out);
}

/* Through request rings, callbacks run concurrently too, and the rings
 * share the loop's max_threads. */
Test(driver_api, rings_run_callbacks_concurrently)
{
	char *out = barrier_run(4, NULL);

	cr_expect_str_eq(out, ALL_MET);
	free(out);
}

Test(driver_api, rings_share_the_loops_max_threads)
{
	char *out = barrier_run(4, "max_threads=3");

	cr_expect_str_eq(out, "['5', '5', '5', '5']\n");
	free(out);
}

/* fuse_reply_none on a read: the request is freed, the loop serves the
 * next caller, and this one waits, as with the kernel, until the
 * connection goes away. */
Test(driver_api, reply_none_leaves_only_that_caller_waiting)
{
	struct h_driver d;
	char *out = NULL;
	pid_t killer;

	start_loopdrv(&d, "loopdrv312", "st", NULL);
	killer = h_kill_after(&d, "read size=7 ", 300);
	/* head reads once the driver has the unanswered read */
	cr_assert_eq(H_RUN(H_SHIM, &out, "sh", "-c",
			   "$0 open:/dev/lp:r read:4 & "
			   "until grep -q '^read size=4 ' \"$1\"; do sleep 0.05; done; "
			   "head -c 7 /dev/lp; echo; wait",
			   h_stage("rwprobe"), d.log),
		     0);
	cr_expect_str_eq(out, "open=3\ndata:ok\nread=-1 errno=ECONNABORTED\n");
	free(out);
	waitpid(killer, NULL, 0);
	cr_expect_eq(h_log_count(&d, "read size=4 "), 1, "%s", h_log(&d));
}

/* The handlers are installed only where the driver left the default,
 * removed only where they are still ours; after fuse_session_exit,
 * fuse_session_reset lets the loop run again. */
Test(driver_api, signal_handlers_and_session_reset)
{
	struct h_driver d;
	char *out = NULL, *log;

	start_loopdrv(&d, "loopdrv312", "signals", NULL);
	cr_assert(h_log_wait(&d, "during:", 1, 5000));
	h_driver_stop(&d, SIGINT);
	h_driver_stop(&d, SIGHUP);
	cr_expect(h_log_wait(&d, "own SIGINT handler", 1, 5000));
	cr_assert_eq(H_RUN(H_SHIM, &out, "head", "-c", "7", "/dev/lp"), 0);
	cr_expect_str_eq(out, "data:ok");
	free(out);
	h_driver_stop(&d, SIGTERM);
	cr_assert(h_log_wait(&d, "reset ", 1, 5000), "%s", h_log(&d));
	cr_assert_eq(H_RUN(H_SHIM, &out, "head", "-c", "7", "/dev/lp"), 0);
	cr_expect_str_eq(out, "data:ok", "the loop did not run again after the reset");
	free(out);
	h_driver_stop(&d, SIGTERM);
	cr_expect_eq(h_driver_wait(&d, 5000), 0);
	log = h_log(&d);
	cr_expect(strstr(log, "during: INT=own HUP=ignored TERM=fuse PIPE=fuse\n"), "%s", log);
	cr_expect(strstr(log, "first loop returned 15 exited=0\nexit exited=1\n"
			      "reset exited=0\n"),
		  "%s", log);
	cr_expect(strstr(log, "loop returned 15\n"), "%s", log);
	cr_expect(strstr(log, "after: INT=own HUP=ignored TERM=default PIPE=default\n"), "%s", log);
	free(log);
}
