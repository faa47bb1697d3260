/* SPDX-License-Identifier: MIT */
/*
 * cuse-bridge (issue 18): drivers that are not linked with libcused open
 * /dev/cuse and get the kernel's side of it.  bufdev is built three such
 * ways (Debian's libfuse3 forced onto the bridge, libfuse 2, a static
 * libfuse3); the acceptance suites run against each (bridge-*suites.sh).
 * Here: what is particular to the bridge — /dev/cuse itself, how cused run
 * chooses, the ends of a driver (abort, SIGKILL, a duplicate name), a
 * driver that daemonizes or seccomps itself, and whole sessions inside one
 * wrapper, where the driver runs under the shim too.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

TestSuite(bridge, .init = h_setup, .fini = h_teardown, .timeout = 120);

/* The builds of bufdev that only the bridge can serve; [0] is libfuse3
 * with --bridge. */
static const char *const bridged[] = {"realfuse-bufdev", "fuse2-bufdev", "static-fuse3-bufdev"};
#define NBRIDGED (sizeof(bridged) / sizeof(bridged[0]))

static bool built(const char *drv)
{
	return access(h_stage(drv), X_OK) == 0;
}

/* `cused run [--bridge] -- DRV [-f] --name=NAME --log=... EXTRA...` */
static int start(struct h_driver *d, const char *drv, const char *name, bool fg,
		 const char *const extra[], int flags)
{
	char namearg[128], logarg[600];
	const char *argv[32];
	int n = 0;

	snprintf(namearg, sizeof(namearg), "--name=%s", name);
	snprintf(logarg, sizeof(logarg), "--log=%s/%s.log", h_dir(), name);
	argv[n++] = "cused";
	argv[n++] = "run";
	if (!strcmp(drv, "realfuse-bufdev"))
		argv[n++] = "--bridge";
	argv[n++] = "--";
	argv[n++] = h_stage(drv);
	if (fg)
		argv[n++] = "-f";
	argv[n++] = namearg;
	argv[n++] = logarg;
	for (; extra && *extra && n < 31; extra++)
		argv[n++] = *extra;
	argv[n] = NULL;
	return h_driver_start_argv(d, name, argv, flags);
}

Test(bridge, dev_cuse_is_the_kernels_node)
{
	char *out = NULL;

	cr_assert_eq(H_RUN(H_SHIM, &out, "sh", "-c",
			   "stat -c '%F %t:%T %a %U:%G' /dev/cuse; [ -c /dev/cuse ] && echo chr; "
			   "ls /dev/cuse"),
		     0);
	cr_expect_str_eq(out, "character special file a:cb 600 root:root\nchr\n/dev/cuse\n");
	free(out);
	/* and for a static program, under the supervisor */
	cr_assert_eq(H_RUN(H_SHIM, &out, h_stage("staticprobe"), "stat:/dev/cuse"), 0);
	cr_expect_str_eq(out, "stat mode=020600 rdev=10:203 blksize=4096\n");
	free(out);
}

Test(bridge, cused_run_says_which_way)
{
	static const struct {
		const char *drv, *opt, *says;
	} cases[] = {
		{"realfuse-bufdev", NULL, "realfuse-bufdev links libfuse3.so.3: on libcused"},
		{"realfuse-bufdev", "--bridge",
		 "realfuse-bufdev (--bridge): bridged (cuse-bridge plays the kernel's /dev/cuse)"},
		{"fuse2-bufdev", NULL, "fuse2-bufdev links libfuse.so.2: bridged"},
		{"static-fuse3-bufdev", NULL,
		 "static-fuse3-bufdev links no libfuse.so (a static libfuse, or none): bridged"},
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *argv[8] = {h_stage("cused"), "run", "-d"};
		char *out = NULL, *err = NULL;
		int n = 3;

		if (!built(cases[i].drv))
			continue;
		if (cases[i].opt)
			argv[n++] = cases[i].opt;
		argv[n++] = "--";
		argv[n++] = h_stage(cases[i].drv);
		argv[n++] = "--help";
		argv[n] = NULL;
		cr_expect_eq(h_run(0, NULL, &out, &err, argv), 0, "%s", err);
		cr_expect(strstr(err, cases[i].says), "%s: %s", cases[i].drv, err);
		cr_expect(strstr(out, "usage: bufdev"), "%s", out);
		free(out);
		free(err);
	}
}

/* A client parked in a read when the device is aborted: ECONNABORTED; the
 * driver's read says ENODEV, so libfuse ends its loop and exits 0. */
Test(bridge, abort_ends_each_driver_cleanly)
{
	size_t i;

	for (i = 0; i < NBRIDGED; i++) {
		struct h_driver d;
		char *out = NULL, parked[600], name[16], dev[32];
		pid_t kid;

		if (!built(bridged[i]))
			continue;
		snprintf(name, sizeof(name), "ab%zu", i);
		snprintf(dev, sizeof(dev), "open:/dev/%s:r", name);
		cr_assert_eq(start(&d, bridged[i], name, true, NULL, 0), 0, "%s", bridged[i]);
		snprintf(parked, sizeof(parked), "%s/%s.out", h_dir(), name);
		kid = fork();
		if (kid == 0) {
			char *o = NULL;
			FILE *f;

			h_run(H_SHIM, NULL, &o, NULL,
			      (const char *const[]){h_stage("rwprobe"), dev, "read:10", NULL});
			f = fopen(parked, "w");
			if (f) {
				fputs(o, f);
				fclose(f);
			}
			_exit(0);
		}
		cr_assert(h_log_wait(&d, "read fh=", 1, 10000), "%s", h_log(&d));
		cr_assert_eq(H_RUN(0, NULL, h_stage("cused"), "abort", name), 0);
		cr_expect_eq(h_driver_wait(&d, 5000), 0, "%s: %s", bridged[i], h_driver_story(&d));
		waitpid(kid, NULL, 0);
		{
			FILE *f = fopen(parked, "re");
			char buf[256] = "";
			size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;

			if (f)
				fclose(f);
			buf[n] = '\0';
			cr_expect_str_eq(buf, "open=3\nread=-1 errno=ECONNABORTED\n", "%s",
					 bridged[i]);
		}
		cr_assert_eq(H_RUN(H_SHIM, &out, h_stage("rwprobe"), dev), 0);
		cr_expect_str_eq(out, "open=-1 errno=ENOENT\n");
		free(out);
	}
}

/* Is anybody serving the entry's socket? (The bridge is not our child.) */
static bool served(const char *name)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0), r;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/.%s.sock", h_dir(), name);
	r = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	close(fd);
	return r == 0;
}

/* SIGKILL of the driver: the bridge goes with it, at once. */
Test(bridge, sigkill_of_the_driver_ends_its_bridge)
{
	struct h_driver d;
	char *out = NULL;
	int i;

	cr_assert_eq(start(&d, "realfuse-bufdev", "kl", true, NULL, 0), 0);
	cr_assert(served("kl"));
	h_driver_stop(&d, SIGKILL);
	cr_expect_eq(h_driver_wait(&d, 5000), 128 + SIGKILL);
	for (i = 0; i < 500 && served("kl"); i++)
		h_msleep(10);
	cr_expect(!served("kl"), "the bridge outlived its driver");
	cr_assert_eq(H_RUN(H_SHIM, &out, h_stage("rwprobe"), "open:/dev/kl:r"), 0);
	cr_expect_str_eq(out, "open=-1 errno=ENOENT\n");
	free(out);
}

/* The kernel refuses a second device of a name and aborts the channel:
 * the driver ends as libfuse ends on ENODEV; we say why, once. */
Test(bridge, a_taken_name_is_refused_with_one_line)
{
	struct h_driver d1;
	char *out = NULL, *err = NULL;
	const char *drv = built("fuse2-bufdev") ? "fuse2-bufdev" : "static-fuse3-bufdev";

	cr_assert_eq(start(&d1, "realfuse-bufdev", "dup", true, NULL, 0), 0);
	cr_expect_eq(h_run(0, NULL, &out, &err,
			   (const char *const[]){h_stage("cused"), "run", "--", h_stage(drv), "-f",
						 "--name=dup", NULL}),
		     0, "%s", err);
	cr_expect_str_eq(out, "");
	cr_expect(strstr(err, "cuse: device 'dup' is already served by another driver (pid"), "%s",
		  err);
	cr_expect(!strchr(strchr(err, '\n') + 1, '\n'), "one line only: %s", err);
	free(out);
	free(err);
	cr_assert_eq(H_RUN(H_SHIM, &out, "sh", "-c", "echo still > /dev/dup; head -c 6 /dev/dup"),
		     0);
	cr_expect_str_eq(out, "still\n");
	free(out);
}

/* Without -f libfuse forks into the background after its open of
 * /dev/cuse: the device stays, and the registry names the process that
 * serves it. */
Test(bridge, a_daemonizing_driver_keeps_serving)
{
	const char *const eof[] = {"--eof", NULL};
	struct h_driver d;
	char path[64], comm[64] = "", *out = NULL;
	pid_t daemon;
	FILE *f;
	int i;

	/* the parent exits once the daemon runs: the start sees that */
	start(&d, "realfuse-bufdev", "bg", false, eof, H_ANYPID);
	for (i = 0; i < 1000 && (daemon = h_registry_pid("bg")) <= 0; i++)
		h_msleep(10);
	cr_assert_gt(daemon, 0, "no daemon published the device");
	h_track_pid(daemon);
	cr_expect_neq(daemon, d.pid, "the registry names the parent");
	snprintf(path, sizeof(path), "/proc/%d/comm", (int)daemon);
	f = fopen(path, "re");
	cr_assert(f, "the serving process %d is not there", (int)daemon);
	cr_assert(fgets(comm, sizeof(comm), f));
	fclose(f);
	cr_expect_str_eq(comm, "realfuse-bufdev\n");
	cr_assert_eq(H_RUN(H_SHIM, &out, "sh", "-c", "echo daemon > /dev/bg; cat /dev/bg"), 0);
	cr_expect_str_eq(out, "daemon\n");
	free(out);
	cr_assert_eq(H_RUN(0, NULL, h_stage("cused"), "abort", "bg"), 0);
	for (i = 0; i < 500 && kill(daemon, 0) == 0; i++)
		h_msleep(10);
	cr_expect_neq(kill(daemon, 0), 0, "the daemon did not end after the abort");
}

/* A driver that seccomps itself after init_done (eventfd2, tgkill, execve,
 * splice denied; prlimit64 fatal) keeps serving: reads, writes, ioctls,
 * polls, opens and releases need none of them on the driver's side. */
Test(bridge, a_driver_with_its_own_seccomp_filter_keeps_serving)
{
	static const char *const modes[][3] = {{"--seccomp", "--eof", NULL},
					       {"--seccomp", "-s", NULL}};
	size_t i, m;

	for (i = 0; i < NBRIDGED; i++)
		for (m = 0; m < 2; m++) {
			struct h_driver d;
			char *out = NULL, name[16], script[512];

			if (!built(bridged[i]))
				continue;
			snprintf(name, sizeof(name), "sc%zu%zu", i, m);
			snprintf(script, sizeof(script),
				 "echo one > /dev/%s; echo two > /dev/%s; head -c 8 /dev/%s; "
				 "python3 -c \"import os, select\n"
				 "fd = os.open('/dev/%s', os.O_RDWR)\n"
				 "p = select.poll(); p.register(fd, select.POLLIN)\n"
				 "print(p.poll(1000))\"",
				 name, name, name, name);
			cr_assert_eq(start(&d, bridged[i], name, true, modes[m], 0), 0);
			cr_assert(h_log_wait(&d, "seccomp on", 1, 5000), "%s", h_driver_story(&d));
			cr_assert_eq(H_RUN(H_SHIM, &out, "sh", "-c", script), 0, "%s: %s",
				     bridged[i], h_driver_story(&d));
			cr_expect_str_eq(out, "one\ntwo\n[]\n", "%s %s", bridged[i], modes[m][1]);
			free(out);
			if (m == 0) {
				/* libfuse's threaded loop ends its workers with
				 * pthread_cancel, which needs tgkill */
				h_driver_stop(&d, SIGKILL);
				cr_expect_eq(h_driver_wait(&d, 5000), 128 + SIGKILL);
				continue;
			}
			cr_assert_eq(H_RUN(0, NULL, h_stage("cused"), "abort", name), 0);
			cr_expect_eq(h_driver_wait(&d, 5000), 0, "%s %s: %s", bridged[i],
				     modes[m][1], h_driver_story(&d));
		}
}

/* Under cused run, either way, the driver sees the registry as a client
 * does: a stat of another device finds it. */
Test(bridge, the_driver_sees_registry_devices)
{
	const char *const check[] = {"--eof", "--check-dev=/dev/other", NULL};
	const char *const other[] = {"--maj=240", "--min=7", NULL};
	const char *const libcused[] = {"cused",       "run", "--",
					NULL,	       "-f",  "--eof",
					"--name=fast", NULL,  "--check-dev=/dev/other",
					NULL};
	struct h_driver o, d, f;
	char logarg[600];

	cr_assert_eq(h_driver_start(&o, "other", other), 0);
	cr_assert_eq(start(&d, "fuse2-bufdev", "br", true, check, 0), 0);
	H_EXPECT_LOG(&d, "check /dev/other: chr 240:7", 1, 5000);
	/* and the fast path: libfuse3.so.3 bound to libcused */
	snprintf(logarg, sizeof(logarg), "--log=%s/fast.log", h_dir());
	{
		const char *argv[16];

		memcpy(argv, libcused, sizeof(libcused));
		argv[3] = h_stage("realfuse-bufdev");
		argv[7] = logarg;
		cr_assert_eq(h_driver_start_argv(&f, "fast", argv, 0), 0);
	}
	H_EXPECT_LOG(&f, "check /dev/other: chr 240:7", 1, 5000);
}

/*
 * A test session inside one wrapper, as test harnesses run them: the
 * driver starts inside `cuse-run -- sh -c ...` and so inherits the shim,
 * which must never get in its way: a libcused driver, one on cused run's
 * fast path, bridged ones; single- and multi-threaded; with a seccomp
 * filter of their own that kills prlimit64.
 */
Test(bridge, a_whole_session_inside_one_wrapper)
{
	static const char *const drivers[] = {"bufdev", "cused run -- realfuse-bufdev",
					      "cused run --bridge -- realfuse-bufdev",
					      "cused run -- fuse2-bufdev"};
	static const char *const modes[] = {"", "-s", "--seccomp-prlimit", "-s --seccomp-prlimit"};
	size_t i, m;

	for (i = 0; i < sizeof(drivers) / sizeof(drivers[0]); i++)
		for (m = 0; m < sizeof(modes) / sizeof(modes[0]); m++) {
			char script[1024], *out = NULL, *err = NULL;
			int rc;

			if (strstr(drivers[i], "fuse2") && !built("fuse2-bufdev"))
				continue;
			snprintf(script, sizeof(script),
				 "cd %s; PATH=$PWD:$PATH; %s -f --eof --name=w %s & "
				 "n=0; while [ ! -c /dev/w ] && [ $n -lt 200 ]; do sleep 0.05; "
				 "n=$((n+1)); done; "
				 "echo hi > /dev/w; cat /dev/w; ./cused abort w; wait $!; echo "
				 "rc=$?",
				 getenv("CUSESHIM_STAGE"), drivers[i], modes[m]);
			rc = h_run(H_SHIM, NULL, &out, &err,
				   (const char *const[]){"sh", "-c", script, NULL});
			cr_expect_eq(rc, 0, "%s %s: %s", drivers[i], modes[m], err);
			cr_expect_str_eq(out, "hi\nrc=0\n", "%s %s: %s", drivers[i], modes[m], err);
			free(out);
			free(err);
		}
}

/* The slaves osspd has forked (ossp-alsap children of @osspd). */
static int slaves(pid_t osspd)
{
	char cmd[128], *out = NULL;
	int n;

	snprintf(cmd, sizeof(cmd), "pgrep -c -P %d -x ossp-alsap", (int)osspd);
	H_RUN(0, &out, "sh", "-c", cmd);
	n = out ? atoi(out) : -1;
	free(out);
	return n;
}

/*
 * Debian's osspd, unmodified: a libfuse 2 binary serving three CUSE
 * devices from one process, forking an ALSA slave per open of a DSP.  The
 * slaves get the ALSA null PCM through a private mount of /usr/share/alsa
 * (a mount namespace of its own: nothing outside the test's directory is
 * touched), which needs root; osspd itself runs as nobody.
 */
Test(bridge, osspd_from_debian_serves_dsp_adsp_and_mixer)
{
	char alsa[600], script[2048], *out = NULL;
	struct h_driver d;
	pid_t kid;
	FILE *f;
	int i;

	if (!h_root())
		cr_skip_test("needs root for a private mount of /usr/share/alsa");
	if (access("/usr/sbin/osspd", X_OK) || access("/usr/lib/osspd/ossp-alsap", X_OK))
		cr_skip_test(
			"osspd and osspd-alsa are not installed (tests/deps.sh installs them)");
	snprintf(alsa, sizeof(alsa), "%s/alsa", h_dir());
	cr_assert(!mkdir(alsa, 0755));
	snprintf(script, sizeof(script), "%s/alsa.conf", alsa);
	f = fopen(script, "w");
	cr_assert(f);
	fputs("pcm.!default { type null }\n", f);
	cr_assert(!fclose(f));
	cr_assert(!chmod(script, 0644));
	snprintf(script, sizeof(script),
		 "mount --bind %s /usr/share/alsa && exec setpriv --reuid=%s --regid=%s "
		 "--clear-groups %s/cused run -- osspd -f --dsp-slave=/usr/lib/osspd/ossp-alsap",
		 alsa, h_with_uid("%u"), h_with_uid("%u"), getenv("CUSESHIM_STAGE"));
	cr_assert_eq(h_driver_start_argv(&d, "dsp",
					 (const char *const[]){"/usr/bin/unshare", "-m", "sh", "-c",
							       script, NULL},
					 H_KEEP_ROOT),
		     0, "%s", h_driver_story(&d));
	for (i = 0; i < 500; i++) {
		cr_assert_eq(H_RUN(0, &out, h_stage("cused"), "list"), 0);
		if (strstr(out, "/dev/mixer") && strstr(out, "/dev/adsp"))
			break;
		free(out);
		out = NULL;
		h_msleep(10);
	}
	cr_assert(out);
	cr_expect(strstr(out, "/dev/dsp ") && strstr(out, " 14:3 "), "%s", out);
	cr_expect(strstr(out, "/dev/adsp ") && strstr(out, " 14:12 "), "%s", out);
	cr_expect(strstr(out, "/dev/mixer ") && strstr(out, " 14:0 "), "%s", out);
	free(out);

	cr_assert_eq(H_RUN(H_SHIM, &out, h_stage("ossprobe"), "dsp", "/dev/dsp", "0"), 0);
	cr_expect_str_eq(out, "open=ok\nsetfmt=0 fmt=0x10\nchannels=0 n=2\nspeed=0 rate=44100\n"
			      "write=4096\nnonblocking=wrote 1 MiB\npoll=1 pollout=1\nclose=0\n");
	free(out);
	cr_assert_eq(H_RUN(H_SHIM, &out, h_stage("ossprobe"), "mixer", "/dev/mixer"), 0);
	cr_expect_str_eq(out, "info=0 id=OSS Proxy\nread_pcm=0\nclose=0\n");
	free(out);

	/* a slave while /dev/adsp is open, none after its close */
	kid = fork();
	if (kid == 0)
		_exit(H_RUN(H_SHIM, NULL, h_stage("ossprobe"), "dsp", "/dev/adsp", "1500"));
	for (i = 0; i < 300 && slaves(d.pid) < 1; i++)
		h_msleep(10);
	cr_expect_eq(slaves(d.pid), 1, "no slave while /dev/adsp is open");
	waitpid(kid, NULL, 0);
	for (i = 0; i < 300 && slaves(d.pid) > 0; i++)
		h_msleep(10);
	cr_expect_eq(slaves(d.pid), 0, "the slave outlived the close");
}

/* rawdrv: no libfuse, the protocol spoken on /dev/cuse by the driver. */
static void start_rawbin(struct h_driver *d, const char *bin, const char *name, const char *opt)
{
	char namearg[128], logarg[600];

	snprintf(namearg, sizeof(namearg), "--name=%s", name);
	snprintf(logarg, sizeof(logarg), "--log=%s/%s.log", h_dir(), name);
	cr_assert_eq(h_driver_start_argv(d, name,
					 (const char *const[]){"cused", "run", "--", h_stage(bin),
							       namearg, logarg, opt, NULL},
					 /* a static one runs in a child of the
					  * supervisor cused run became */
					 strstr(bin, "static") ? H_ANYPID : 0),
		     0, "%s", h_driver_story(d));
}

static void start_raw(struct h_driver *d, const char *name, const char *opt)
{
	start_rawbin(d, "rawdrv", name, opt);
}

Test(bridge, a_driver_without_libfuse_reads_writes_and_ioctls)
{
	struct h_driver d, r;
	char *out = NULL;

	start_raw(&d, "raw", NULL);
	H_EXPECT_LOG(&d, "init 7.38 flags=0x1", 1, 1000);
	/* the driver's fstat of its /dev/cuse fd: the kernel's node */
	cr_expect_eq(h_log_count(&d, "fstat chr 10:203"), 1, "%s", h_log(&d));
	cr_assert_eq(H_RUN(H_SHIM, &out, "sh", "-c", "echo hello > /dev/raw; head -c 6 /dev/raw"),
		     0);
	cr_expect_str_eq(out, "hello\n");
	free(out);
	/* unrestricted: three rounds of retries, the pointer chased */
	cr_assert_eq(H_RUN(H_SHIM, &out, h_stage("ioctlprobe"), "open:/dev/raw", "reverse:abcdef",
			   "raw:41"),
		     0);
	cr_expect_str_eq(out, "open=3 errno=0\nreverse=6 errno=0 data=fedcba\nraw=42 errno=0\n");
	free(out);
	cr_expect_eq(h_log_count(&d, "ioctl cmd=0xc0105001 "), 3, "%s", h_log(&d));
	/* restricted: in and out from _IOC_SIZE, no retries */
	start_raw(&r, "rraw", "--restricted");
	cr_assert_eq(H_RUN(H_SHIM, &out, h_stage("ioctlprobe"), "open:/dev/rraw", "recho:hello",
			   "reverse:abc"),
		     0);
	cr_expect_str_eq(out, "open=3 errno=0\nrecho=5 errno=0 data=HELLO\n"
			      "reverse=-1 errno=ENOTTY data=abc\n");
	free(out);
	cr_expect_eq(h_log_count(&r, "ioctl cmd=0xc0405016 in=64 out=64"), 1, "%s", h_log(&r));
	h_expect_balanced(&r, 1);
}

/* A poll that waits is woken by the driver's FUSE_NOTIFY_POLL; a read
 * the driver parks ends EINTR when a signal interrupts it. */
Test(bridge, a_driver_without_libfuse_notifies_and_is_interrupted)
{
	struct h_driver d;
	char *out = NULL;
	pid_t w;

	start_raw(&d, "rawp", NULL);
	w = h_write_after(&d, "poll events=", 300, "/dev/rawp", "late");
	cr_assert_eq(H_RUN(H_SHIM, &out, "python3", "-c",
			   "import os, select, time\n"
			   "fd = os.open('/dev/rawp', os.O_RDWR)\n"
			   "p = select.poll(); p.register(fd, select.POLLIN)\n"
			   "t = time.time(); r = p.poll(10000)\n"
			   "print(r == [(fd, select.POLLIN)], time.time() - t > 0.2)\n"
			   "print(os.read(fd, 10))\n"),
		     0);
	waitpid(w, NULL, 0);
	cr_expect_str_eq(out, "True True\nb'late'\n");
	free(out);
	cr_expect_gt(h_log_count(&d, "notify kh="), 0, "%s", h_log(&d));
	cr_assert_eq(H_RUN(H_SHIM, &out, "python3", "-c",
			   "import os, signal\n"
			   "def ring(s, f): raise TimeoutError\n"
			   "signal.signal(signal.SIGALRM, ring)\n"
			   "fd = os.open('/dev/rawp', os.O_RDONLY)\n"
			   "signal.setitimer(signal.ITIMER_REAL, 0.3)\n"
			   "try:\n"
			   "    print(os.read(fd, 10))\n"
			   "except TimeoutError:\n"
			   "    print('interrupted')\n"),
		     0);
	cr_expect_str_eq(out, "interrupted\n");
	free(out);
	H_EXPECT_LOG(&d, "interrupt", 1, 2000);
	/* abort: the driver's read says ENODEV and it ends cleanly */
	cr_assert_eq(H_RUN(0, NULL, h_stage("cused"), "abort", "rawp"), 0);
	cr_expect_eq(h_driver_wait(&d, 5000), 0, "%s", h_driver_story(&d));
	cr_expect_eq(h_log_count(&d, "read ENODEV"), 1, "%s", h_log(&d));
}

/* Replies the kernel refuses are refused here too, with a line saying so:
 * a READ answered with more than was asked fails its caller EIO; an
 * answer to a request nobody made is dropped, and the device goes on. */
Test(bridge, replies_the_kernel_refuses_are_refused)
{
	struct h_driver d, u;
	char *out = NULL, *story;

	start_raw(&d, "long", "--bad=long");
	cr_assert_eq(H_RUN(H_SHIM, &out, h_stage("rwprobe"), "open:/dev/long:r", "read:4"), 0);
	cr_expect_str_eq(out, "open=3\nread=-1 errno=EIO\n");
	free(out);
	story = h_driver_story(&d);
	cr_expect(strstr(story, "bad reply to READ request"), "%s", story);
	free(story);
	/* a difference from the kernel (README, limits): the driver's writev
	 * of the bad reply succeeds, where the kernel's says EINVAL */
	cr_expect_eq(h_log_count(&d, "writev:"), 0, "%s", h_log(&d));
	start_raw(&u, "unk", "--bad=unknown");
	cr_assert_eq(H_RUN(H_SHIM, &out, "sh", "-c", "echo fine > /dev/unk; head -c 5 /dev/unk"),
		     0);
	cr_expect_str_eq(out, "fine\n");
	free(out);
	story = h_driver_story(&u);
	cr_expect(strstr(story, "reply to unknown request"), "%s", story);
	free(story);
	/* (the kernel's writev says ENOENT: README, limits) */
	cr_expect_eq(h_log_count(&u, "writev:"), 0, "%s", h_log(&u));
}

/*
 * The same driver linked fully static: LD_PRELOAD cannot reach it, so
 * cused run puts it under the seccomp supervisor, which hands its open of
 * /dev/cuse a bridge.  Its reads and writes are the kernel's own; after
 * an abort its read gives 0, not ENODEV (README, limits).
 */
Test(bridge, a_static_driver_without_libfuse_runs_under_the_supervisor)
{
	struct h_driver d, r;
	char *out = NULL;
	pid_t w;

	start_rawbin(&d, "staticrawdrv", "sraw", NULL);
	/* (a socket under the supervisor: README, limits) */
	cr_expect_eq(h_log_count(&d, "fstat other 0:0"), 1, "%s", h_log(&d));
	cr_assert_eq(H_RUN(H_SHIM, &out, "sh", "-c", "echo hello > /dev/sraw; head -c 6 /dev/sraw"),
		     0);
	cr_expect_str_eq(out, "hello\n");
	free(out);
	cr_assert_eq(H_RUN(H_SHIM, &out, h_stage("ioctlprobe"), "open:/dev/sraw", "reverse:abcdef",
			   "raw:41"),
		     0);
	cr_expect_str_eq(out, "open=3 errno=0\nreverse=6 errno=0 data=fedcba\nraw=42 errno=0\n");
	free(out);
	w = h_write_after(&d, "poll events=", 300, "/dev/sraw", "late");
	cr_assert_eq(H_RUN(H_SHIM, &out, "python3", "-c",
			   "import os, select, signal\n"
			   "fd = os.open('/dev/sraw', os.O_RDWR)\n"
			   "p = select.poll(); p.register(fd, select.POLLIN)\n"
			   "print(p.poll(10000) == [(fd, select.POLLIN)], os.read(fd, 10))\n"
			   "def ring(s, f): raise TimeoutError\n"
			   "signal.signal(signal.SIGALRM, ring)\n"
			   "signal.setitimer(signal.ITIMER_REAL, 0.3)\n"
			   "try:\n"
			   "    print(os.read(fd, 10))\n"
			   "except TimeoutError:\n"
			   "    print('interrupted')\n"),
		     0);
	waitpid(w, NULL, 0);
	cr_expect_str_eq(out, "True b'late'\ninterrupted\n");
	free(out);
	H_EXPECT_LOG(&d, "interrupt", 1, 2000);
	start_rawbin(&r, "staticrawdrv", "srr", "--restricted");
	cr_assert_eq(H_RUN(H_SHIM, &out, h_stage("ioctlprobe"), "open:/dev/srr", "recho:hi"), 0);
	cr_expect_str_eq(out, "open=3 errno=0\nrecho=2 errno=0 data=HI\n");
	free(out);
	cr_assert_eq(H_RUN(0, NULL, h_stage("cused"), "abort", "sraw"), 0);
	cr_expect_eq(h_driver_wait(&d, 5000), 1, "%s", h_driver_story(&d));
	cr_expect_eq(h_log_count(&d, "short read 0"), 1, "%s", h_log(&d));
}

/* The cuse-bridge serving this test's registry (by its CUSE_DIR), or -1. */
static pid_t bridge_pid(void)
{
	char want[700], path[300], comm[32], env[8192];
	DIR *proc = opendir("/proc");
	struct dirent *e;
	pid_t found = -1;

	snprintf(want, sizeof(want), "CUSE_DIR=%s", h_dir());
	while (proc && (e = readdir(proc)) && found < 0) {
		FILE *f;
		size_t n, off;

		if (e->d_name[0] < '1' || e->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/comm", e->d_name);
		f = fopen(path, "re");
		if (!f)
			continue;
		n = fread(comm, 1, sizeof(comm) - 1, f);
		fclose(f);
		comm[n] = '\0';
		if (strcmp(comm, "cuse-bridge\n"))
			continue;
		snprintf(path, sizeof(path), "/proc/%s/environ", e->d_name);
		f = fopen(path, "re");
		if (!f)
			continue;
		n = fread(env, 1, sizeof(env) - 1, f);
		fclose(f);
		env[n] = '\0';
		for (off = 0; off < n; off += strlen(env + off) + 1)
			if (!strcmp(env + off, want))
				found = atoi(e->d_name);
	}
	if (proc)
		closedir(proc);
	return found;
}

/* Stopped and started again at once, as test scripts do: the new driver
 * gets the name its predecessor's bridge is still letting go of (here
 * held up on purpose, with SIGSTOP, for 300 ms). */
Test(bridge, a_driver_started_again_at_once_gets_its_name)
{
	const char *const eof[] = {"--eof", NULL};
	struct h_driver d;
	char *out = NULL;
	pid_t old, kid;

	cr_assert_eq(start(&d, "realfuse-bufdev", "again", true, eof, 0), 0);
	old = bridge_pid();
	cr_assert_gt(old, 0, "no bridge found");
	cr_assert(!kill(old, SIGSTOP));
	h_driver_stop(&d, SIGTERM);
	cr_expect_eq(h_driver_wait(&d, 5000), 0);
	kid = fork();
	if (kid == 0) {
		h_msleep(300);
		kill(old, SIGCONT);
		_exit(0);
	}
	cr_assert_eq(start(&d, "realfuse-bufdev", "again", true, eof, 0), 0, "%s",
		     h_driver_story(&d));
	waitpid(kid, NULL, 0);
	cr_assert_eq(H_RUN(H_SHIM, &out, "sh", "-c", "echo up > /dev/again; cat /dev/again"), 0);
	cr_expect_str_eq(out, "up\n");
	free(out);
}
