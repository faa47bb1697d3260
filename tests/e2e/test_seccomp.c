/* SPDX-License-Identifier: MIT */
/*
 * End-to-end: cuse-run --seccomp.  Programs LD_PRELOAD cannot reach (our
 * statically linked staticprobe, Debian's static busybox) use a bufdev
 * device through the seccomp supervisor, unprivileged.
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

TestSuite(seccomp, .init = h_setup, .fini = h_teardown, .timeout = 120);

#define BUSYBOX "/bin/busybox"

static struct h_driver drv;

static void start(const char *const extra[])
{
	cr_assert_eq(h_driver_start(&drv, "sdev", extra), 0, "bufdev did not start");
}

/* Run @argv under cuse-run --seccomp; returns the exit status, *out and
 * *err (may be NULL) what it printed. */
static int run_sup_err(char **out, char **err, const char *const argv[])
{
	const char *args[64];
	size_t n = 0;

	args[n++] = h_stage("cuse-run");
	args[n++] = "--seccomp";
	args[n++] = "--";
	for (; *argv && n < 63; argv++)
		args[n++] = *argv;
	args[n] = NULL;
	return h_run(0, NULL, out, err, args);
}

static int run_sup(char **out, const char *const argv[])
{
	return run_sup_err(out, NULL, argv);
}

static void expect_sup(const char *expect, const char *const argv[])
{
	char *out = NULL;
	int rc = run_sup(&out, argv);

	cr_expect_eq(rc, 0, "%s exited %d", argv[0], rc);
	cr_expect_str_eq(out, expect, "%s printed:\n%s", argv[0], out);
	free(out);
}

/* Every open file description got exactly one release. */
static void expect_balanced(int opens)
{
	cr_expect(h_log_wait(&drv, "release ", opens, 5000), "releases:\n%s", h_log(&drv));
	h_msleep(50);
	cr_expect_eq(h_log_count(&drv, "open "), opens, "opens in log:\n%s", h_log(&drv));
	cr_expect_eq(h_log_count(&drv, "release "), opens, "releases in log:\n%s", h_log(&drv));
}

/* The supervisor's half of e2e::splice_family_fails_einval. */
Test(seccomp, splice_family_fails_einval)
{
	char script[600], dev[160];

	snprintf(script, sizeof(script), "%s/spliceprobe.py", getenv("CUSESHIM_STAGE"));
	start(NULL);
	snprintf(dev, sizeof(dev), "/dev/%s", drv.name);
	expect_sup("copyfile ok\nsendfile-to EINVAL\nsendfile-from EINVAL\nsplice-to EINVAL\n"
		   "splice-from EINVAL\ncopy_file_range-to EINVAL\ncopy_file_range-from EINVAL\n"
		   "syscall-sendfile EINVAL\nsyscall-splice EINVAL\ncopied-by-shutil\n",
		   (const char *const[]){"python3", script, dev, NULL});
	cr_expect_eq(h_log_count(&drv, "write "), 1, "%s", h_log(&drv));
}

/* Runs a staged python probe against a fresh device under the
 * supervisor and checks its output and the driver's open/release count. */
static void expect_probe(const char *probe, const char *out, int opens)
{
	char script[600], dev[160];

	snprintf(script, sizeof(script), "%s/%s", getenv("CUSESHIM_STAGE"), probe);
	start(NULL);
	snprintf(dev, sizeof(dev), "/dev/%s", drv.name);
	expect_sup(out, (const char *const[]){"python3", script, dev, NULL});
	expect_balanced(opens);
}

/* The supervisor's half of e2e::flock_locks_are_the_nodes. */
Test(seccomp, flock_locks_are_the_nodes)
{
	expect_probe("flockprobe.py", FLOCKPROBE_OUT, 4);
}

/* The supervisor's half of e2e::record_locks_are_the_nodes.  (Its close
 * is not seen: the probe's close that drops the process's locks is the
 * last one of a file they were taken through.) */
Test(seccomp, record_locks_are_the_nodes)
{
	expect_probe("plockprobe.py", PLOCKPROBE_OUT, 3);
}

/* Runs, under the supervisor, staticprobe with @steps on the device while
 * another process holds the device's lock (fcntl.@pylock, LOCK_EX) for
 * 0.6 s, and meanwhile @after (shell; $p is the probe's pid). */
static char *while_locked(const char *pylock, const char *steps, const char *after)
{
	char holder[400], cmd[1000], *out = NULL;

	snprintf(cmd, sizeof(cmd), "%s%s open:/dev/%s:rw %s & p=$!; %s; wait $p; wait",
		 h_lock_holder(holder, sizeof(holder), drv.name, pylock, 600),
		 h_stage("staticprobe"), drv.name, steps, after);
	cr_assert_eq(run_sup(&out, (const char *const[]){"bash", "-c", cmd, NULL}), 0);
	return out;
}

/* A blocking flock is restarted after a handler with SA_RESTART, as the
 * kernel restarts it (and the shim: e2e::flock_waits_on_through_an_
 * sa_restart_signal).  The target waits killably (WAIT_KILLABLE_RECV), so
 * the supervisor ends the lock wait itself and answers "restart"
 * (ERESTARTSYS), which the kernel resolves by the handler's flags. */
Test(seccomp, flock_waits_on_through_an_sa_restart_signal)
{
	char *out;

	start(NULL);
	out = while_locked("flock", "alarm:150 flockex alarms", ":");
	cr_expect_str_eq(out, "open=3\nflock=0\nalarms=1\n");
	free(out);
	expect_balanced(2);
}

/* Without SA_RESTART the handler's signal ends the wait, EINTR; the lock
 * is still the node's, taken by the next open once the holder is gone. */
Test(seccomp, flock_and_a_signal_without_sa_restart_end_eintr)
{
	char cmd[200], *out;

	start(NULL);
	snprintf(cmd, sizeof(cmd), "wait $p; %s open:/dev/%s:rw flockex", h_stage("staticprobe"),
		 drv.name);
	out = while_locked("flock", "alarm0:150 flockex alarms", cmd);
	cr_expect_str_eq(out, "open=3\nflock=-1 errno=EINTR\nalarms=1\nopen=3\nflock=0\n");
	free(out);
	expect_balanced(3);
}

/* A stop and continue in the middle of the wait is no signal to the
 * program: the kernel restarts its flock (no handler ran;
 * tests/oracle/flock_stop.sh). */
Test(seccomp, flock_waits_on_through_a_stop)
{
	char *out;

	start(NULL);
	out = while_locked("flock", "flockex",
			   "sleep 0.15; kill -STOP $p; sleep 0.15; kill -CONT $p");
	cr_expect_str_eq(out, "open=3\nflock=0\n");
	free(out);
	expect_balanced(2);
}

/* The limit, named (README): a signal to a process of several threads
 * ends the wait EINTR, said once on stderr.  (Python retries an EINTR
 * after running the handler, so the flock still succeeds.) */
Test(seccomp, flock_and_a_process_signal_of_threads_say_eintr)
{
	const char *want = "cuse-run: flock on /dev/sdev ended EINTR by a signal to a "
			   "multi-threaded process, even if its handler has SA_RESTART (see "
			   "README)\n";
	char holder[400], cmd[1400], *out = NULL, *err = NULL;

	start(NULL);
	snprintf(cmd, sizeof(cmd),
		 "%s"
		 "python3 -c \"import fcntl, os, signal, threading, time\n"
		 "fd = os.open('/dev/%s', os.O_RDWR)\n"
		 "hits = []\n"
		 "signal.signal(signal.SIGALRM, lambda *a: hits.append(1))\n"
		 "threading.Thread(target=time.sleep, args=(5,), daemon=True).start()\n"
		 "signal.setitimer(signal.ITIMER_REAL, 0.15)\n"
		 "fcntl.flock(fd, fcntl.LOCK_EX)\n"
		 "print('flock', len(hits))\"; wait",
		 h_lock_holder(holder, sizeof(holder), drv.name, "flock", 1200), drv.name);
	cr_assert_eq(run_sup_err(&out, &err, (const char *const[]){"bash", "-c", cmd, NULL}), 0);
	cr_expect_str_eq(out, "flock 1\n");
	cr_expect_str_eq(err, want);
	free(out);
	free(err);
	expect_balanced(2);
}

/* F_SETLKW's wait as flock's (e2e::setlkw_waits_on_through_an_sa_
 * restart_signal; tests/oracle/setlkw_restart.sh). */
Test(seccomp, setlkw_waits_on_through_an_sa_restart_signal)
{
	char *out;

	start(NULL);
	out = while_locked("lockf", "alarm:150 setlkw alarms", ":");
	cr_expect_str_eq(out, "open=3\nsetlkw=0\nalarms=1\n");
	free(out);
	expect_balanced(2);
}

static void need_busybox(void)
{
	if (access(BUSYBOX, X_OK))
		cr_skip_test("needs Debian's static busybox at " BUSYBOX
			     " (apt-get install busybox-static)");
}

/* ---------------------------------------------------------- staticprobe */

Test(seccomp, static_write_read_fionread)
{
	start(NULL);
	expect_sup("open=3\nwrite=5\nfionread=5\nread=5 data=xxxxx\nread=0 data=\n",
		   (const char *const[]){h_stage("staticprobe"), "open:/dev/sdev:rw", "write:5:x",
					 "fionread", "read:100", "read:100", NULL});
	expect_balanced(1);
	cr_expect_eq(h_log_count(&drv, "write fh=1 size=5 off=0"), 1, "%s", h_log(&drv));
	cr_expect_eq(h_log_count(&drv, "read fh=1 size=100 off=0"), 2, "%s", h_log(&drv));
}

Test(seccomp, static_stat_and_vfs_answers)
{
	start((const char *const[]){"--maj=42", "--min=7", NULL});
	expect_sup("open=3\n"
		   "fstat mode=020600 rdev=42:7 blksize=4096\n"
		   "stat mode=020600 rdev=42:7 blksize=4096\n"
		   "access=0\n"
		   "lseek=0\n"
		   "mmap=-1 errno=ENODEV\n"
		   "fsync=-1 errno=EINVAL\n"
		   "fdatasync=-1 errno=EINVAL\n"
		   "getfl=0100002\n",
		   (const char *const[]){h_stage("staticprobe"), "open:/dev/sdev:rw", "fstat",
					 "stat:/dev/sdev", "access:/dev/sdev:rw", "lseek", "mmap",
					 "fsync", "fdatasync", "getfl", NULL});
	cr_expect_eq(h_log_count(&drv, "open "), 1, "%s", h_log(&drv));
	/* VFS answers never reach the driver */
	cr_expect_eq(h_log_count(&drv, "ioctl "), 0, "%s", h_log(&drv));
}

Test(seccomp, static_vectors_offsets_dup_fork)
{
	start(NULL);
	expect_sup("open=3\nwritev=12\nreadv=12 data=vvvvvvvvvvvv\npwrite=3\n"
		   "pread=3 data=ppp\npread=-1 errno=EINVAL\ndup2=10\nwrite=2\nread=2 data=zz\n",
		   (const char *const[]){h_stage("staticprobe"), "open:/dev/sdev:rw", "writev:3:4",
					 "readv:3:4", "pwrite:3:1000", "pread:10:7", "pread:1:-1",
					 "dup2:10", "fork", "write:2:z", "read:10", NULL});
	/* readv over three pages: one request, as the kernel splits it */
	cr_expect_eq(h_log_count(&drv, "read fh=1 size=12 off=0"), 1, "%s", h_log(&drv));
	/* pread/pwrite offsets are ignored, as on a CUSE device */
	cr_expect_eq(h_log_count(&drv, "write fh=1 size=3 off=0"), 1, "%s", h_log(&drv));
	/* dup2 and the fork child share the one open file */
	expect_balanced(1);
}

Test(seccomp, static_bad_buffers_efault)
{
	start(NULL);
	expect_sup("open=3\nreadbad=-1 errno=EFAULT\nwritebad=-1 errno=EFAULT\n"
		   "ioctlbad=-1 errno=EFAULT\nwrite=3\nread=3 data=aaa\n",
		   (const char *const[]){h_stage("staticprobe"), "open:/dev/sdev:rw", "readbad",
					 "writebad", "ioctlbad", "write:3", "read:10", NULL});
	/* a bad read buffer is refused before the driver sees a request, a
	 * bad write buffer before anything is sent */
	cr_expect_eq(h_log_count(&drv, "read "), 1, "%s", h_log(&drv));
	cr_expect_eq(h_log_count(&drv, "write "), 1, "%s", h_log(&drv));
}

/* A regular file, a pipe and real device nodes: the same output with and
 * without the supervisor. */
Test(seccomp, non_devices_untouched)
{
	char f1[200], f2[200], a1[220], a2[220];
	char *plain = NULL, *sup = NULL;
	const char *const steps[] = {"write:5:x",
				     "lseek",
				     "pread:10:0",
				     "fstat",
				     "getfl",
				     "mmap",
				     "fsync",
				     "stat:/dev/null",
				     "pipe",
				     "access:/dev/null:rw",
				     "open:/dev/null:r",
				     "read:10",
				     "stat:/dev/sdevnone",
				     NULL};
	const char *args[32];
	int rc, n, i;

	start(NULL);
	snprintf(f1, sizeof(f1), "%s/plain1", h_dir());
	snprintf(f2, sizeof(f2), "%s/plain2", h_dir());
	snprintf(a1, sizeof(a1), "open:%s:rwC", f1);
	snprintf(a2, sizeof(a2), "open:%s:rwC", f2);
	n = 0;
	args[n++] = h_stage("staticprobe");
	args[n++] = a1;
	for (i = 0; steps[i]; i++)
		args[n++] = steps[i];
	args[n] = NULL;
	rc = h_run(0, NULL, &plain, NULL, args);
	cr_assert_eq(rc, 0);
	args[1] = a2;
	rc = run_sup(&sup, args);
	cr_expect_eq(rc, 0);
	cr_expect_str_eq(sup, plain, "supervised:\n%s\nplain:\n%s", sup, plain);
	cr_expect(strstr(plain, "fstat mode=0100644") && strstr(plain, "pipe=5 data=piped") &&
			  strstr(plain, "stat mode=020666 rdev=1:3") &&
			  strstr(plain, "stat=-1 errno=ENOENT"),
		  "%s", plain);
	cr_expect_eq(h_log_count(&drv, "open "), 0, "%s", h_log(&drv));
	free(plain);
	free(sup);
}

Test(seccomp, exit_status_propagates)
{
	char *out = NULL, *err = NULL;
	int rc;

	rc = run_sup_err(&out, &err,
			 (const char *const[]){h_stage("staticprobe"), "nosuchstep", NULL});
	cr_expect_eq(rc, 2);
	cr_expect(strstr(err, "unknown step 'nosuchstep'"), "%s", err);
	free(out);
	free(err);
	rc = run_sup_err(&out, &err, (const char *const[]){"/nonexistent/program", NULL});
	cr_expect_eq(rc, 127);
	cr_expect(strstr(err, "cuse-run: cannot run '/nonexistent/program'"), "%s", err);
	free(out);
	free(err);
}

/* The driver dies while a static client is blocked in read: the read
 * fails ECONNABORTED, later calls ENOTCONN, nothing hangs. */
Test(seccomp, driver_death_unblocks_reader)
{
	struct timespec t0, t1;
	char *out = NULL;
	pid_t killer;
	int rc;

	cr_assert_eq(h_driver_start_blocking(&drv, "sdev", NULL), 0);
	killer = h_kill_after(&drv, "read ", 200);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	rc = run_sup(&out, (const char *const[]){h_stage("staticprobe"), "open:/dev/sdev:r",
						 "read:10", "read:10", NULL});
	clock_gettime(CLOCK_MONOTONIC, &t1);
	waitpid(killer, NULL, 0);
	cr_expect_eq(rc, 0);
	cr_expect_str_eq(out, "open=3\nread=-1 errno=ECONNABORTED\nread=-1 errno=ENOTCONN\n", "%s",
			 out);
	cr_expect_lt(t1.tv_sec - t0.tv_sec, 15);
	free(out);
}

/* A caught signal during a blocked read: the driver gets FUSE_INTERRUPT
 * and the read fails EINTR even under SA_RESTART, as on a kernel CUSE
 * node (the same test as semantics::sa_restart_does_not_hide_the_interrupt).
 * Without the supervisor's signal check the read would wait for data. */
Test(seccomp, a_caught_signal_interrupts_a_blocked_read)
{
	cr_assert_eq(h_driver_start_blocking(&drv, "sdev", NULL), 0);
	expect_sup("open=3\nread=-1 errno=EINTR\nalarms=1\nopen=4\nread=-1 errno=EAGAIN\n",
		   (const char *const[]){h_stage("staticprobe"), "open:/dev/sdev:r", "alarm:300",
					 "read:10", "alarms", "open:/dev/sdev:rn", "read:10",
					 NULL});
	cr_expect_eq(h_log_count(&drv, "interrupt fh=1"), 1, "%s", h_log(&drv));
	expect_balanced(2);
}

/* fuse_req_ctx names the supervised program, not the supervisor: its
 * pid in the open (where the driver reads its /proc/PID/comm) and in
 * later requests. */
Test(seccomp, the_driver_sees_the_program_as_its_caller)
{
	char *out = NULL, *log, want[64];
	int pid;

	start(NULL);
	cr_assert_eq(run_sup(&out, (const char *const[]){h_stage("staticprobe"), "pid",
							 "open:/dev/sdev:r", "fionread", NULL}),
		     0);
	cr_assert(sscanf(out, "pid=%d\nopen=3\nfionread=0\n", &pid) == 1, "%s", out);
	free(out);
	log = h_log(&drv);
	snprintf(want, sizeof(want), " pid=%d groups=", pid);
	cr_expect(strstr(log, want), "open: wanted%s\n%s", want, log);
	cr_expect(strstr(log, " comm=staticprobe\n"), "%s", log);
	snprintf(want, sizeof(want), "cmd=0x541b in=0 out=4 pid=%d\n", pid);
	cr_expect(strstr(log, want), "ioctl: wanted %s\n%s", want, log);
	free(log);
}

/* epoll under the supervisor watches the device socket itself: a read
 * answered EAGAIN has the driver's POLLIN mirrored there (what Go's
 * netpoller relies on), and only when the driver has data. */
Test(seccomp, pollin_mirrored_for_epoll)
{
	char *out = NULL;
	pid_t writer;
	int rc;

	cr_assert_eq(h_driver_start_blocking(&drv, "sdev", NULL), 0);
	/* once the mirror's poll found nothing */
	writer = h_write_after(&drv, "poll fh=1 ", 300, "/dev/sdev", "hello");
	rc = run_sup(&out, (const char *const[]){h_stage("staticprobe"), "open:/dev/sdev:rn",
						 "read:10", "epollwait:20000", "read:10", "read:10",
						 "epollwait:300", NULL});
	waitpid(writer, NULL, 0);
	cr_expect_eq(rc, 0);
	cr_expect_str_eq(out,
			 "open=3\n"
			 "read=-1 errno=EAGAIN\n"
			 "epollwait=1 events=0x1\n"
			 "read=5 data=hello\n"
			 "read=-1 errno=EAGAIN\n"
			 "epollwait=0 events=0x0\n",
			 "%s", out);
	free(out);
	/* the non-blocking reads reached the driver as such */
	cr_expect_eq(h_log_count(&drv, "read fh=1 size=10 off=0 flags=0104000 -> EAGAIN"), 2, "%s",
		     h_log(&drv));
}

/* A driver's notify only says "ask again": with nothing new to read the
 * fd stays unreadable, as a kernel poll asks the driver after a wake-up.
 * (bufdev's BUFDEV_NOTIFY, _IO('B', 3), notifies with no new data.) */
Test(seccomp, a_notify_without_data_is_no_pollin)
{
	char *out = NULL;
	pid_t notifier;
	int rc;

	cr_assert_eq(h_driver_start_blocking(&drv, "sdev", NULL), 0);
	/* while the program waits in epoll_wait after its EAGAIN */
	notifier = h_run_after(&drv, "read fh=1 size=10 off=0 flags=0104000 -> EAGAIN", 100,
			       (const char *const[]){"python3", "-c",
						     "import fcntl, os; fcntl.ioctl("
						     "os.open('/dev/sdev', os.O_RDWR), 0x4203)",
						     NULL});
	rc = run_sup(&out, (const char *const[]){h_stage("staticprobe"), "open:/dev/sdev:rn",
						 "read:10", "epollwait:1500", NULL});
	waitpid(notifier, NULL, 0);
	cr_expect_eq(rc, 0);
	cr_expect_str_eq(out, "open=3\nread=-1 errno=EAGAIN\nepollwait=0 events=0x0\n", "%s",
			 h_log(&drv));
	/* the notify came, and the mirror asked the driver again */
	cr_expect_eq(h_log_count(&drv, "ioctl fh=2 cmd=0x4203 "), 1, "%s", h_log(&drv));
	cr_expect_geq(h_log_count(&drv, "poll fh=1 "), 2, "%s", h_log(&drv));
}

/* ...and level-triggered: readable from the open while the driver has
 * data, again after a read that left some, not once it is empty. */
Test(seccomp, pollin_mirror_is_level_triggered)
{
	cr_assert_eq(h_driver_start_blocking(&drv, "sdev", NULL), 0);
	cr_assert_eq(H_RUN(H_SHIM, NULL, "sh", "-c", "printf 0123456789 > /dev/sdev"), 0);
	expect_sup("open=3\n"
		   "epollwait=1 events=0x1\n"
		   "read=4 data=0123\n"
		   "epollwait=1 events=0x1\n"
		   "pollwait=1 revents=0x1\n"
		   "read=6 data=456789\n"
		   "epollwait=0 events=0x0\n"
		   "pollwait=0 revents=0x0\n",
		   (const char *const[]){h_stage("staticprobe"), "open:/dev/sdev:rw",
					 "epollwait:20000", "read:4", "epollwait:20000",
					 "pollwait:20000", "read:100", "epollwait:300",
					 "pollwait:300", NULL});
	expect_balanced(2);
}

/* A dead driver: poll returns at once (the kernel says POLLERR; the
 * socket says POLLIN|POLLHUP, and the read then fails ENOTCONN). */
Test(seccomp, poll_wakes_when_the_driver_dies)
{
	char *out = NULL;
	pid_t killer;
	int rc;

	cr_assert_eq(h_driver_start_blocking(&drv, "sdev", NULL), 0);
	killer = h_kill_after(&drv, "poll fh=1 ", 200);
	rc = run_sup(&out, (const char *const[]){h_stage("staticprobe"), "open:/dev/sdev:r",
						 "pollwait:20000", "read:10", NULL});
	waitpid(killer, NULL, 0);
	cr_expect_eq(rc, 0);
	cr_expect_str_eq(out, "open=3\npollwait=1 revents=0x11\nread=-1 errno=ENOTCONN\n", "%s",
			 out);
	free(out);
}

static void need_go(void)
{
	if (access(h_stage("goprobe"), X_OK))
		cr_skip_test("needs Go to build tests/e2e/goprobe (apt-get install golang-go)");
}

/* A Go program, put under the supervisor by cuse-run on its own: Go opens
 * the device with its own system calls, registers it with its netpoller
 * and makes it non-blocking; its read parks until the mirrored POLLIN. */
Test(seccomp, go_program_reads_through_its_netpoller)
{
	const char *extra[] = {"--maj=42", "--min=7", NULL};
	char *out = NULL;
	pid_t writer;
	int rc;

	need_go();
	cr_assert_eq(h_driver_start_blocking(&drv, "sdev", extra), 0);
	/* once the mirror's poll found nothing */
	writer = h_write_after(&drv, "poll fh=1 ", 300, "/dev/sdev", "hello");
	rc = h_run(0, NULL, &out, NULL,
		   (const char *const[]){h_stage("cuse-run"), "--", h_stage("goprobe"), "/dev/sdev",
					 "getfl", "stat", "read:16", "write:go!", "read:16", NULL});
	waitpid(writer, NULL, 0);
	cr_expect_eq(rc, 0);
	cr_expect_str_eq(out,
			 "open=ok\n"
			 "nonblock=true\n"
			 "mode=chr rdev=42:7\n"
			 "read=5 data=hello\n"
			 "write=3\n"
			 "read=3 data=go!\n",
			 "%s", out);
	free(out);
	/* Go's reads reach the driver non-blocking; the first found nothing */
	cr_expect_eq(h_log_count(&drv, "read fh=1 size=16 off=0 flags=0104002 -> EAGAIN"), 1, "%s",
		     h_log(&drv));
	cr_expect_eq(h_log_count(&drv, "read fh=1 size=16 off=0 flags=0104002 -> 5"), 1, "%s",
		     h_log(&drv));
	cr_expect_eq(h_log_count(&drv, "read fh=1 size=16 off=0 flags=0104002 -> 3"), 1, "%s",
		     h_log(&drv));
	expect_balanced(2);
}

/* An fd opened by a shimmed parent is adopted by the supervisor. */
Test(seccomp, inherited_device_fd_adopted)
{
	char cmd[1024];
	char *out = NULL;
	int rc;

	start((const char *const[]){"--maj=42", "--min=7", NULL});
	snprintf(cmd, sizeof(cmd),
		 "exec 3<>/dev/sdev; echo abc >&3; %s --seccomp -- %s fd:3 getfl fstat read:10",
		 h_stage("cuse-run"), h_stage("staticprobe"));
	rc = h_run(H_SHIM, NULL, &out, NULL, (const char *const[]){"dash", "-c", cmd, NULL});
	cr_expect_eq(rc, 0);
	cr_expect_str_eq(out,
			 "getfl=0100002\nfstat mode=020600 rdev=42:7 blksize=4096\n"
			 "read=4 data=abc\n\n",
			 "%s", out);
	expect_balanced(1);
	free(out);
}

/* ---------------------------------------------------------- busybox */

Test(seccomp, busybox_echo_cat)
{
	need_busybox();
	start(NULL);
	expect_sup("hi\n", (const char *const[]){BUSYBOX, "sh", "-c",
						 "echo hi > /dev/sdev; cat /dev/sdev", NULL});
	expect_balanced(2);
}

Test(seccomp, busybox_redirections_and_test)
{
	need_busybox();
	start(NULL);
	expect_sup("char\nnot a file\ngot abc\nqueued\n",
		   (const char *const[]){BUSYBOX, "sh", "-c",
					 "[ -c /dev/sdev ] && echo char; "
					 "[ -f /dev/sdev ] || echo not a file; "
					 "exec 3<>/dev/sdev; echo abc >&3; read line <&3; "
					 "echo got $line; exec 3>&-; "
					 "echo queued > /dev/sdev; cat < /dev/sdev",
					 NULL});
	expect_balanced(3);
}

Test(seccomp, busybox_tools)
{
	need_busybox();
	start(NULL);
	expect_sup("0123\n456789\n",
		   (const char *const[]){BUSYBOX, "sh", "-c",
					 "printf 0123456789 > /dev/sdev; "
					 "busybox dd if=/dev/sdev bs=4 count=1 2>/dev/null; echo; "
					 "busybox head -c 100 /dev/sdev; echo",
					 NULL});
	expect_balanced(3);
	cr_expect_eq(h_log_count(&drv, "read fh=2 size=4 off=0"), 1, "%s", h_log(&drv));
}

/* A device call that waits for the driver holds up nothing else: while
 * head waits in its read, the supervisor receives the shell's calls (the
 * open and write that feed head) in another thread. */
Test(seccomp, a_waiting_device_call_holds_up_nothing_else)
{
	need_busybox();
	cr_assert_eq(h_driver_start_blocking(&drv, "sdev", NULL), 0, "bufdev did not start");
	expect_sup(
		"late\ndone\n",
		(const char *const[]){BUSYBOX, "sh", "-c",
				      "busybox head -c 5 /dev/sdev & busybox sleep 0.3; "
				      "[ -c /dev/sdev ] && echo late > /dev/sdev; wait; echo done",
				      NULL});
	expect_balanced(2);
	/* head's one read waited, and the shell's write answered it */
	cr_expect_eq(h_log_count(&drv, "read fh=1 size=4096 off=0 flags=0100000 -> parked"), 1,
		     "%s", h_log(&drv));
	cr_expect_eq(h_log_count(&drv, "read fh=1 size=4096 -> 5 (from a writer)"), 1, "%s",
		     h_log(&drv));
}

/* The supervisor serves orphaned descendants too, and waits for them. */
Test(seccomp, orphans_are_served)
{
	need_busybox();
	start(NULL);
	expect_sup("early\n",
		   (const char *const[]){BUSYBOX, "sh", "-c",
					 "(busybox sleep 0.3; echo late > /dev/sdev) & echo early",
					 NULL});
	cr_expect_eq(h_log_count(&drv, "write fh=1 size=5 off=0"), 1, "%s", h_log(&drv));
	expect_balanced(1);
}

Test(seccomp, killed_program_status)
{
	char *out = NULL;

	need_busybox();
	cr_expect_eq(run_sup(&out, (const char *const[]){BUSYBOX, "sh", "-c", "kill -9 $$", NULL}),
		     128 + 9);
	free(out);
}

/* ------------------------------------------- ioctl, against the shim */

/* The dynamically linked ioctlprobe under --seccomp (no shim in it) must
 * print exactly what it prints under the shim. */
static void ioctl_same_as_shim(bool restricted, const char *const steps[])
{
	char namearg[64], logarg[600];
	const char *argv[64];
	char *shim = NULL, *sup = NULL;
	size_t n = 0;

	snprintf(namearg, sizeof(namearg), "--name=ptr0");
	snprintf(logarg, sizeof(logarg), "--log=%s/ptr0.log", h_dir());
	cr_assert_eq(
		h_driver_start_argv(&drv, "ptr0",
				    (const char *const[]){"ptrdev", "-f", namearg, logarg,
							  restricted ? "--restricted" : NULL, NULL},
				    0),
		0, "ptrdev did not start");
	argv[n++] = h_stage("ioctlprobe");
	argv[n++] = "open:/dev/ptr0";
	for (; *steps && n < 63; steps++)
		argv[n++] = *steps;
	argv[n] = NULL;
	cr_expect_eq(h_run(H_SHIM, NULL, &shim, NULL, argv), 0);
	cr_expect_eq(run_sup(&sup, argv), 0);
	cr_expect_str_eq(sup, shim, "--seccomp:\n%s\nshim:\n%s", sup, shim);
	cr_expect(strstr(shim, "open=3 errno=0\n"), "%s", shim);
	free(sup);
	/* and a static build of it, which cuse-run supervises by itself */
	argv[0] = h_stage("staticioctlprobe");
	cr_expect_eq(h_run(H_SHIM, NULL, &sup, NULL, argv), 0);
	cr_expect_str_eq(sup, shim, "static:\n%s\nshim:\n%s", sup, shim);
	free(shim);
	free(sup);
}

Test(seccomp, ioctl_unrestricted_like_the_shim)
{
	ioctl_same_as_shim(false, (const char *const[]){"reverse:hello",
							"reverse:hi:z",
							"reversen:70000",
							"reversebad",
							"reversebadarg",
							"get:10",
							"get:100",
							"fill:5:x",
							"fillbad",
							"overlong:4:8",
							"negdata:4",
							"iov256",
							"iov257fit",
							"iov257nofit",
							"raw:5",
							"raw64:5",
							"result:7",
							"err:22",
							"err:38",
							"fionread",
							"vfs",
							"pipe",
							"file",
							"pty",
							NULL});
}

Test(seccomp, ioctl_restricted_like_the_shim)
{
	ioctl_same_as_shim(true, (const char *const[]){"rget", "rput:hello", "recho:hello", "rlong",
						       "rgetbad", "rputbad", "raw:5", "fionread",
						       "vfs", "reverse:hello", NULL});
}

/* ------------------------------------------------------------- paths */

Test(seccomp, relative_and_odd_paths)
{
	need_busybox();
	start(NULL);
	expect_sup("rel\nodd\n",
		   (const char *const[]){BUSYBOX, "sh", "-c",
					 "cd /dev && echo rel > sdev && cat ./sdev; cd /; "
					 "echo odd > //dev/./sdev; cat dev/../dev/sdev",
					 NULL});
	expect_balanced(4);
}

Test(seccomp, map_option)
{
	char *out = NULL;
	int rc;

	need_busybox();
	start(NULL);
	rc = h_run(0, NULL, &out, NULL,
		   (const char *const[]){h_stage("cuse-run"), "--seccomp",
					 "--map=/dev/ttyFAKE0=sdev", "--", BUSYBOX, "sh", "-c",
					 "echo mapped > /dev/ttyFAKE0; cat /dev/ttyFAKE0; "
					 "[ -c /dev/ttyFAKE0 ] && echo char",
					 NULL});
	cr_expect_eq(rc, 0);
	cr_expect_str_eq(out, "mapped\nchar\n", "%s", out);
	free(out);
	expect_balanced(2);
}

Test(seccomp, static_programs_are_supervised_without_asking)
{
	struct h_driver d;
	char *out = NULL, *err = NULL;
	int rc;

	if (access("/bin/busybox", X_OK))
		cr_skip_test("no static busybox (package busybox-static)");
	cr_assert_eq(h_driver_start(&d, "auto", NULL), 0);
	/* plain cuse-run: the ELF has no PT_INTERP, so the supervisor is used
	 * (without it, static busybox could not open the device at all) */
	rc = h_run(H_SHIM, NULL, &out, &err,
		   (const char *const[]){"/bin/busybox", "sh", "-c",
					 "echo auto > /dev/auto; cat /dev/auto", NULL});
	cr_expect_eq(rc, 0, "%s", err);
	cr_expect_str_eq(out, "auto\n");
	free(out);
	free(err);
	cr_expect_eq(h_log_count(&d, "open "), 2);
}

/* A preloaded program that execs a static one: the exec goes through
 * cuse-run --in-place, so the static program keeps the pid (and parent)
 * and reaches the device, and the driver sees it as the caller. */
Test(seccomp, static_program_execd_by_a_preloaded_one)
{
	char *out = NULL, *log, cmd[512], want[64];
	int sh = 0, pid = 0;

	start(NULL);
	snprintf(cmd, sizeof(cmd),
		 "echo hello > /dev/sdev; echo sh=$$; exec %s pid open:/dev/sdev:r read:10",
		 h_stage("staticprobe"));
	cr_assert_eq(H_RUN(H_SHIM, &out, "dash", "-c", cmd), 0, "%s", out);
	cr_assert(sscanf(out, "sh=%d\npid=%d\n", &sh, &pid) == 2, "%s", out);
	cr_expect_eq(sh, pid, "the exec changed the pid:\n%s", out);
	cr_expect(strstr(out, "\nopen=3\nread=6 data=hello\n\n"), "%s", out);
	free(out);
	expect_balanced(2);
	log = h_log(&drv);
	snprintf(want, sizeof(want), " pid=%d groups=", pid);
	cr_expect(strstr(log, want) && strstr(log, " comm=staticprobe\n"), "%s", log);
	free(log);
}

/* ...by every way there is to exec: bash (execve, an inherited device
 * fd), python's subprocess and os.posix_spawn, env (execvp), under the
 * plain LD_PRELOAD too; CUSESHIM_NO_AUTO_SECCOMP=1 turns it off. */
Test(seccomp, static_program_execd_every_way)
{
	const char *sp = h_stage("staticprobe");
	char *out = NULL, cmd[1024], pre[4200], lib[4096];

	start(NULL);
	snprintf(cmd, sizeof(cmd),
		 "exec 3<>/dev/sdev; echo abc >&3; %s fd:3 read:10; exec 3>&-; "
		 "python3 -c 'import subprocess; subprocess.run([\"%s\", \"open:/dev/sdev:rw\", "
		 "\"write:3:z\", \"read:10\"])'; "
		 "python3 -c 'import os; os.waitpid(os.posix_spawn(\"%s\", [\"sp\", "
		 "\"open:/dev/sdev:rw\", \"write:2:q\", \"read:10\"], os.environ), 0)'; "
		 "env %s open:/dev/sdev:r",
		 sp, sp, sp, sp);
	cr_assert_eq(H_RUN(H_SHIM, &out, "bash", "-c", cmd), 0, "%s", out);
	cr_expect_str_eq(out, "read=4 data=abc\n\n"
			      "open=3\nwrite=3\nread=3 data=zzz\n"
			      "open=3\nwrite=2\nread=2 data=qq\n"
			      "open=3\n");
	free(out);
	expect_balanced(4);

	snprintf(lib, sizeof(lib), "%s", h_stage("libcuseshim.so"));
	h_preload_var(pre, sizeof(pre), lib);
	cr_assert_eq(H_RUN(0, &out, "env", pre, H_CLIENT_ASAN, "dash", "-c",
			   "echo hi > /dev/sdev; exec \"$0\" open:/dev/sdev:r read:10", sp),
		     0);
	cr_expect_str_eq(out, "open=3\nread=3 data=hi\n\n");
	free(out);
	cr_assert_eq(
		H_RUN(H_SHIM, &out, "env", "CUSESHIM_NO_AUTO_SECCOMP=1", sp, "open:/dev/sdev:r"),
		0);
	cr_expect_str_eq(out, "open=-1 errno=ENOENT\n");
	free(out);
}

/* Go's own ioctls (syscall.Syscall(SYS_IOCTL)): pointer-chasing on an
 * unrestricted device, a fixed-size one on a restricted device. */
Test(seccomp, go_program_ioctls)
{
	static const char *const modes[2][4] = {
		{NULL, "reverse:hello", "fionread", "open=ok\nreverse=5 data=olleh\nfionread=42\n"},
		{"--restricted", "recho:hello", "recho:go",
		 "open=ok\nrecho=5 data=HELLO\n"
		 "recho=2 data=GO\n"},
	};
	int i;

	need_go();
	for (i = 0; i < 2; i++) {
		char name[16], namearg[32], logarg[600], dev[32], *out = NULL;
		struct h_driver d;

		snprintf(name, sizeof(name), "goptr%d", i);
		snprintf(namearg, sizeof(namearg), "--name=%s", name);
		snprintf(logarg, sizeof(logarg), "--log=%s/%s.log", h_dir(), name);
		snprintf(dev, sizeof(dev), "/dev/%s", name);
		cr_assert_eq(h_driver_start_argv(&d, name,
						 (const char *const[]){"ptrdev", "-f", namearg,
								       logarg, modes[i][0], NULL},
						 0),
			     0);
		cr_assert_eq(H_RUN(H_SHIM, &out, h_stage("goprobe"), dev, modes[i][1], modes[i][2]),
			     0, "%s", out);
		cr_expect_str_eq(out, modes[i][3]);
		free(out);
		h_driver_stop(&d, SIGTERM);
	}
}

/* syscall(2) only, in a dynamically linked program under the plain
 * LD_PRELOAD: the shim's syscall() wrapper is all that sees it. */
Test(seccomp, syscall_only_client_under_plain_preload)
{
	char pre[4200], *out = NULL;

	start(NULL);
	h_preload_var(pre, sizeof(pre), h_stage("libcuseshim.so"));
	cr_assert_eq(H_RUN(0, &out, "env", pre, H_CLIENT_ASAN, h_stage("sysprobe"), "/dev/sdev",
			   "raw-call"),
		     0, "%s", out);
	cr_expect_str_eq(out, "open=ok\nwrite=8\nfionread=8\nread=8 data=raw-call\nclose=0\n"
			      "plain getppid=ok enosys=ok esrch=ok six=ok six_einval=ok\n");
	free(out);
	expect_balanced(1);
	/* an unrestricted device: FIONREAD's int comes in a retry */
	cr_expect_eq(h_log_count(&drv, "ioctl fh=1 cmd=0x541b in=0 out=4 pid="), 1, "%s",
		     h_log(&drv));
}

/* Shells and make under the supervisor: fork, exec and wait all day. */
Test(seccomp, supervised_shell_loop_and_make)
{
	char mk[600], *out = NULL;
	FILE *f;

	start(NULL);
	cr_assert_eq(
		run_sup(&out, (const char *const[]){"bash", "-c",
						    "for i in $(seq 100); do echo $i > /dev/sdev; "
						    "cat /dev/sdev > /dev/null; done; echo done",
						    NULL}),
		0);
	cr_expect_str_eq(out, "done\n");
	free(out);
	expect_balanced(200);

	snprintf(mk, sizeof(mk), "%s/Makefile", h_dir());
	f = fopen(mk, "w");
	cr_assert(f);
	fputs("all: a.out b.txt c.txt\n"
	      "a.out: prog.c\n\t$(CC) -o $@ prog.c\n"
	      "prog.c:\n\tprintf 'int main(void) { return 0; }\\n' > $@\n"
	      "b.txt:\n\techo bee > /dev/sdev; cat /dev/sdev > $@\n"
	      "c.txt: b.txt\n\tcat b.txt b.txt > $@\n",
	      f);
	fclose(f);
	chmod(mk, 0644);
	chmod(h_dir(), 0777);
	cr_assert_eq(run_sup(&out, (const char *const[]){"make", "-s", "-j2", "-C", h_dir(), NULL}),
		     0, "%s", out);
	free(out);
	snprintf(mk, sizeof(mk), "%s/c.txt", h_dir());
	f = fopen(mk, "r");
	cr_assert(f, "make did not build c.txt");
	{
		char line[64] = "";

		cr_expect(fgets(line, sizeof(line), f) && !strcmp(line, "bee\n"), "%s", line);
	}
	fclose(f);
	snprintf(mk, sizeof(mk), "%s/a.out", h_dir());
	cr_expect(!access(mk, X_OK), "make did not build a.out");
}

/* A limit, said loudly: the kernel's O_PATH fd of a device cannot be
 * injected (ADDFD refuses O_PATH files). */
Test(seccomp, o_path_open_of_a_device_fails_loudly)
{
	char *out = NULL, *err = NULL;

	start(NULL);
	cr_assert_eq(run_sup_err(&out, &err,
				 (const char *const[]){h_stage("staticprobe"), "open:/dev/sdev:rP",
						       "open:/dev/sdev:r", NULL}),
		     0);
	cr_expect_str_eq(out, "open=-1 errno=EOPNOTSUPP\nopen=3\n");
	cr_expect(strstr(err, "cuse-run: O_PATH open of device sdev is not supported under "
			      "--seccomp\n"),
		  "%s", err);
	free(out);
	free(err);
	expect_balanced(1);
}

/* The supervisor dies while its program waits in a device read: the read
 * ends instead of hanging, and the driver sees the request interrupted
 * and the file released.  (The kernel fails it ENOSYS once the listener
 * is gone, but so it fails the program's write of that result: every
 * notified call does, which is why only "open=3" is printed.) */
Test(seccomp, supervisor_death_fails_calls_instead_of_hanging)
{
	char *out = NULL;
	pid_t killer;
	int rc;

	cr_assert_eq(h_driver_start_blocking(&drv, "sdev", NULL), 0);
	killer = fork();
	if (killer == 0) {
		/* the program's pid is in the driver's open line; cuse-run is
		 * its parent */
		char *log, *p, path[64], stat[512];
		int pid = 0, ppid = 0;
		FILE *f;

		if (!h_log_wait(&drv, "read ", 1, 20000))
			_exit(1);
		log = h_log(&drv);
		p = strstr(log, " pid=");
		if (!p || sscanf(p, " pid=%d", &pid) != 1)
			_exit(2);
		snprintf(path, sizeof(path), "/proc/%d/stat", pid);
		f = fopen(path, "r");
		if (!f || !fgets(stat, sizeof(stat), f) || !(p = strrchr(stat, ')')) ||
		    sscanf(p + 1, " %*c %d", &ppid) != 1)
			_exit(3);
		h_msleep(100);
		_exit(kill(ppid, SIGKILL) ? 4 : 0);
	}
	rc = run_sup(&out, (const char *const[]){h_stage("staticprobe"), "open:/dev/sdev:r",
						 "read:10", NULL});
	cr_expect_eq(rc, 128 + SIGKILL, "cuse-run exited %d (-1: the program hung)", rc);
	cr_expect_str_eq(out, "open=3\n");
	free(out);
	waitpid(killer, &rc, 0);
	cr_expect(WIFEXITED(rc) && WEXITSTATUS(rc) == 0, "the killer failed: %d", rc);
	cr_expect(h_log_wait(&drv, "release fh=1", 1, 5000), "%s", h_log(&drv));
	cr_expect_eq(h_log_count(&drv, "interrupt fh=1"), 1, "%s", h_log(&drv));
}
