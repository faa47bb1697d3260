/* SPDX-License-Identifier: MIT */
/*
 * Device semantics beyond plain I/O: blocking and non-blocking reads,
 * readiness through every interface python3 offers (select, poll, epoll
 * level- and edge-triggered, selectors), interrupts, FIONBIO and FIONREAD,
 * concurrent requests on one fd, and a stress run.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

TestSuite(semantics, .init = h_setup, .fini = h_teardown, .timeout = 120);

static struct h_driver drv;

static void start_blocking(const char *name)
{
	cr_assert_eq(h_driver_start_blocking(&drv, name, NULL), 0, "driver %s did not start", name);
}

/* Run a python3 script under the shim; return its output. */
static char *py(const char *script)
{
	char *out = NULL, *err = NULL;
	int rc = h_run(H_SHIM, NULL, &out, &err,
		       (const char *const[]){"python3", "-c", script, NULL});

	cr_assert_eq(rc, 0, "python3 exited %d:\n%s\n%s", rc, out, err);
	free(err);
	return out;
}

static void expect_py(const char *script, const char *expect)
{
	char *out = py(script);

	cr_expect_str_eq(out, expect);
	free(out);
}

/* A second process writes "late" to the device 200 ms from now. */
#define LATE_WRITER                                                                                \
	"import os, subprocess, time, select, selectors\n"                                         \
	"def late():\n"                                                                            \
	"    return subprocess.Popen(['sh', '-c', 'sleep 0.2; printf late > /dev/sem'])\n"         \
	"fd = os.open('/dev/sem', os.O_RDWR)\n"

Test(semantics, select_wakes_on_late_data)
{
	start_blocking("sem");
	expect_py(LATE_WRITER "r, w = os.pipe()\n"
			      "print(select.select([fd, r], [], [], 0.1))\n"
			      "p = late(); t = time.time()\n"
			      "rl, _, _ = select.select([fd, r], [], [], 5)\n"
			      "print(rl == [fd], 0.1 < time.time() - t < 3)\n"
			      "print(os.read(fd, 10)); p.wait()\n"
			      "os.write(w, b'x')\n"
			      "print(select.select([fd, r], [], [], 1)[0] == [r])\n"
			      "print(select.select([], [fd], [], 0)[1] == [fd])\n"
			      "print(select.select([], [], [fd], 0))\n",
		  "([], [], [])\nTrue True\nb'late'\nTrue\nTrue\n([], [], [])\n");
	/* the driver sees select's keys (fs/select.c, and the kernel's CUSE
	 * said so: tests/oracle/keys_and_flags.sh): a read set is
	 * POLLIN_SET|POLLEX_SET (0xfb), a write set POLLOUT_SET|POLLEX_SET
	 * (0x32e), an exception set POLLEX_SET (0x22), no POLLHUP added */
	if (h_poll_events())
		cr_expect_gt(h_log_count(&drv, "poll fh=1 events=0xfb "), 0, "%s", h_log(&drv));
	if (h_poll_events())
		cr_expect_gt(h_log_count(&drv, "poll fh=1 events=0x32e "), 0, "%s", h_log(&drv));
	if (h_poll_events())
		cr_expect_gt(h_log_count(&drv, "poll fh=1 events=0x22 "), 0, "%s", h_log(&drv));
	if (h_poll_events())
		cr_expect_eq(h_log_count(&drv, "poll fh=1 events=0xdb "), 0, "%s", h_log(&drv));
}

Test(semantics, poll_wakes_on_late_data)
{
	start_blocking("sem");
	expect_py(LATE_WRITER
		  "r, w = os.pipe()\n"
		  "p = select.poll(); p.register(fd, select.POLLIN); p.register(r, "
		  "select.POLLIN)\n"
		  "print(p.poll(100))\n"
		  "q = late(); t = time.time()\n"
		  "print(p.poll(5000) == [(fd, select.POLLIN)], time.time() - t > 0.1)\n"
		  "print(os.read(fd, 10)); q.wait()\n"
		  "os.write(w, b'x')\n"
		  "print(p.poll(1000) == [(r, select.POLLIN)])\n",
		  "[]\nTrue True\nb'late'\nTrue\n");
	/* poll(2) asks for IN|ERR|HUP: the kernel's mangled events (0x19) */
	if (h_poll_events())
		cr_expect_gt(h_log_count(&drv, "poll fh=1 events=0x19 "), 0, "%s", h_log(&drv));
}

Test(semantics, epoll_level_triggered)
{
	start_blocking("sem");
	expect_py(LATE_WRITER "ep = select.epoll()\n"
			      "ep.register(fd, select.EPOLLIN)\n"
			      "print(ep.poll(0.1))\n"
			      "q = late()\n"
			      "print(ep.poll(5) == [(fd, select.EPOLLIN)])\n"
			      "print(ep.poll(0.1) == [(fd, select.EPOLLIN)])\n"
			      "print(os.read(fd, 10)); q.wait()\n"
			      "print(ep.poll(0.2))\n",
		  "[]\nTrue\nTrue\nb'late'\n[]\n");
	/* epoll_ctl adds EPOLLERR|EPOLLHUP: the driver sees 0x19 */
	if (h_poll_events())
		cr_expect_gt(h_log_count(&drv, "poll fh=1 events=0x19 "), 0, "%s", h_log(&drv));
	if (h_poll_events())
		cr_expect_eq(h_log_count(&drv, "poll fh=1 events=0x1 "), 0, "%s", h_log(&drv));
}

/* Which of its polls give the driver a poll handle, phase by phase
 * (tests/e2e/pollprobe.py): as the kernel's CUSE gives them
 * (tests/oracle/poll_handles.sh), where someone waits on the file.  None
 * for a poll or select that does not wait, nor for a device after the
 * first ready fd; the passes after a wakeup or the timeout, and every
 * poll of an epoll item, from epoll_ctl's own on, have one. */
Test(semantics, poll_handles_where_the_kernel_gives_them)
{
	char script[600], *out = NULL, *err = NULL;
	struct h_driver d2;

	snprintf(script, sizeof(script), "%s/pollprobe.py", getenv("CUSESHIM_STAGE"));
	start_blocking("ph");
	cr_assert_eq(h_driver_start_blocking(&d2, "ph2", (const char *const[]){"--per-open", NULL}),
		     0);
	cr_assert_eq(h_run(H_SHIM, NULL, &out, &err,
			   (const char *const[]){"python3", script, "/dev/ph", drv.log, "/dev/ph2",
						 NULL}),
		     0, "%s", err);
	cr_expect_str_eq(out, "open \npoll0 ph=0\npoll150 ph=1 ph=1\nready True\n"
			      "pollwake ph=1 ph=1\nselect0 ph=0\nselect150 ph=1 ph=1\n"
			      "epolladd ph=1\nepoll0 \nready True\nepollwake ph=1\n"
			      "epollagain ph=1\nopen2 \nreadyfirst ph=1 ph=0\n"
			      "readysecond ph=1 ph=1\n");
	free(out);
	free(err);
}

Test(semantics, epoll_edge_triggered)
{
	start_blocking("sem");
	expect_py(LATE_WRITER "ep = select.epoll()\n"
			      "ep.register(fd, select.EPOLLIN | select.EPOLLET)\n"
			      "print(ep.poll(0.1))\n"
			      "q = late()\n"
			      "print(ep.poll(5) == [(fd, select.EPOLLIN)])\n"
			      "print(ep.poll(0.2))\n"
			      "print(os.read(fd, 10)); q.wait()\n",
		  "[]\nTrue\n[]\nb'late'\n");
}

Test(semantics, epoll_mixed_with_a_pipe_and_oneshot)
{
	start_blocking("sem");
	expect_py(LATE_WRITER "r, w = os.pipe()\n"
			      "ep = select.epoll()\n"
			      "ep.register(r, select.EPOLLIN)\n"
			      "ep.register(fd, select.EPOLLIN | select.EPOLLONESHOT)\n"
			      "os.write(w, b'x')\n"
			      "print(ep.poll(1) == [(r, select.EPOLLIN)])\n"
			      "os.read(r, 1)\n"
			      "q = late()\n"
			      "print(ep.poll(5) == [(fd, select.EPOLLIN)])\n"
			      "print(ep.poll(0.2))\n"
			      "ep.modify(fd, select.EPOLLIN)\n"
			      "print(ep.poll(1) == [(fd, select.EPOLLIN)])\n"
			      "ep.unregister(fd)\n"
			      "print(ep.poll(0.1))\n"
			      "print(os.read(fd, 10)); q.wait()\n",
		  "True\nTrue\n[]\nTrue\n[]\nb'late'\n");
}

Test(semantics, selectors_default_selector)
{
	start_blocking("sem");
	expect_py(LATE_WRITER "s = selectors.DefaultSelector()\n"
			      "s.register(fd, selectors.EVENT_READ, 'dev')\n"
			      "print(s.select(0.1))\n"
			      "q = late()\n"
			      "ev = s.select(5)\n"
			      "print([(k.data, m) for k, m in ev])\n"
			      "print(os.read(fd, 10)); q.wait()\n",
		  "[]\n[('dev', 1)]\nb'late'\n");
}

Test(semantics, every_poller_wakes)
{
	/* Three processes wait on the same file; one write wakes all. */
	start_blocking("sem");
	expect_py("import os, select, subprocess, time\n"
		  "fd = os.open('/dev/sem', os.O_RDWR)\n"
		  "kids = [os.fork() for _ in range(1)]\n"
		  "if kids[0] == 0:\n"
		  "    ok = select.select([fd], [], [], 5)[0] == [fd]\n"
		  "    os._exit(0 if ok else 1)\n"
		  "k2 = os.fork()\n"
		  "if k2 == 0:\n"
		  "    p = select.poll(); p.register(fd, select.POLLIN)\n"
		  "    os._exit(0 if p.poll(5000) else 1)\n"
		  "time.sleep(0.3)\n"
		  "w = os.open('/dev/sem', os.O_WRONLY); os.write(w, b'all')\n"
		  "ok = select.select([fd], [], [], 5)[0] == [fd]\n"
		  "st = [os.waitpid(k, 0)[1] for k in (kids[0], k2)]\n"
		  "print(ok, st)\n",
		  "True [0, 0]\n");
}

Test(semantics, timeouts_expire_with_zero)
{
	start_blocking("sem");
	expect_py("import os, select, time\n"
		  "fd = os.open('/dev/sem', os.O_RDWR)\n"
		  "t = time.time(); r = select.select([fd], [], [], 0.3)\n"
		  "print(r, 0.25 < time.time() - t < 2)\n"
		  "p = select.poll(); p.register(fd, select.POLLIN)\n"
		  "t = time.time(); print(p.poll(300), 0.25 < time.time() - t < 2)\n"
		  "ep = select.epoll(); ep.register(fd, select.EPOLLIN)\n"
		  "t = time.time(); print(ep.poll(0.3), 0.25 < time.time() - t < 2)\n",
		  "([], [], []) True\n[] True\n[] True\n");
}

Test(semantics, blocking_read_waits_for_a_writer)
{
	char *log;

	start_blocking("sem");
	expect_py("import os, threading, time\n"
		  "fd = os.open('/dev/sem', os.O_RDWR)\n"
		  "got = []\n"
		  "t = threading.Thread(target=lambda: got.append(os.read(fd, 100)))\n"
		  "t.start(); time.sleep(0.3)\n"
		  "print(got)\n"
		  "os.write(fd, b'from B')\n"
		  "t.join(5); print(got)\n",
		  "[]\n[b'from B']\n");
	log = h_log(&drv);
	cr_expect(strstr(log, "-> parked\n"), "%s", log);
	cr_expect(strstr(log, "-> 6 (from a writer)\n"), "%s", log);
	free(log);
}

/* The last close while a read is parked: the release comes once the read
 * is answered, and as a callback of its own, never from inside the
 * writer's callback that answered it (libfuse and the kernel never nest
 * them; drivers rely on it for their locks and per-file state). */
Test(semantics, release_after_a_parked_read_is_its_own_callback)
{
	char *log;

	start_blocking("sem");
	expect_py("import os, threading, time\n"
		  "fd = os.open('/dev/sem', os.O_RDONLY)\n"
		  "got = []\n"
		  "r = threading.Thread(target=lambda: got.append(os.read(fd, 100)))\n"
		  "r.start(); time.sleep(0.3)\n"
		  "c = threading.Thread(target=os.close, args=(fd,))\n"
		  "c.start(); time.sleep(0.3)\n"
		  "w = os.open('/dev/sem', os.O_WRONLY)\n"
		  "os.write(w, b'late'); r.join(5); c.join(5)\n"
		  "print(got, r.is_alive(), c.is_alive())\n"
		  "os.close(w)\n",
		  "[b'late'] False False\n");
	cr_expect_eq(h_log_count(&drv, "release "), 2);
	log = h_log(&drv);
	cr_expect(!strstr(log, "inside a write callback"), "%s", log);
	cr_expect(strstr(log, "-> 4 (from a writer)\n"), "%s", log);
	free(log);
}

/* close(2) while another thread's read is parked returns at once (that
 * read holds the file, as fdget does in the kernel); the read is answered
 * by a later writer and the release follows it.  Checked against kernel
 * CUSE with cuse-oracle (Debian's 6.1, bufdev on Debian's libfuse3): the
 * same output and the same log, release after the read's answer. */
Test(semantics, close_while_another_thread_reads_returns_at_once)
{
	start_blocking("sem");
	expect_py("import os, threading, time, signal\n"
		  "signal.alarm(5)\n"
		  "fd = os.open('/dev/sem', os.O_RDONLY)\n"
		  "got = []\n"
		  "r = threading.Thread(target=lambda: got.append(os.read(fd, 10)))\n"
		  "r.start(); time.sleep(0.3)\n"
		  "os.close(fd); print('closed', got)\n"
		  "w = os.open('/dev/sem', os.O_WRONLY)\n"
		  "os.write(w, b'x'); r.join(5); os.close(w)\n"
		  "print(got)\n",
		  "closed []\n[b'x']\n");
	cr_expect(h_log_wait(&drv, "release ", 2, 5000), "releases missing");
	cr_expect(h_log_before(&drv, "read fh=1 size=10 -> 1 (from a writer)\n", "release fh=1 "),
		  "%s", h_log(&drv));
}

Test(semantics, nonblocking_reads_get_eagain)
{
	start_blocking("sem");
	cr_assert_eq(H_RUN(H_SHIM, NULL, h_stage("rwprobe"), "open:/dev/sem:rn", "read:5",
			   "fionbio:0", "getfl", "fionbio:1", "getfl", "read:5"),
		     0);
	expect_py("import os\n"
		  "fd = os.open('/dev/sem', os.O_RDWR)\n"
		  "os.set_blocking(fd, False)\n"
		  "try:\n"
		  "    os.read(fd, 5)\n"
		  "except BlockingIOError:\n"
		  "    print('EAGAIN')\n"
		  "print(os.get_blocking(fd))\n",
		  "EAGAIN\nFalse\n");
	/* the driver saw O_NONBLOCK in the flags of each of those reads */
	cr_expect_eq(h_log_count(&drv, "read fh=1 size=5 off=0 flags=0104000 -> EAGAIN"), 2, "%s",
		     h_log(&drv));
	cr_expect_eq(h_log_count(&drv, "read fh=2 size=5 off=0 flags=0104002 -> EAGAIN"), 1, "%s",
		     h_log(&drv));
}

/* A caller no wrapper sees (io_uring, an inline syscall) waits on the fd
 * itself: POLLIN is mirrored there once a read found nothing, only while
 * the driver has data, and the next read takes the mirror back. */
Test(semantics, pollin_mirrored_on_the_fd_itself)
{
	char *out = NULL;
	pid_t writer;

	start_blocking("sem");
	/* once the mirror's poll found nothing */
	writer = h_write_after(&drv, "poll fh=1 ", 300, "/dev/sem", "hello");
	cr_expect_eq(H_RUN(H_SHIM, &out, h_stage("rwprobe"), "open:/dev/sem:rn", "rawpoll:0",
			   "read:10", "rawpoll:20000", "read:10", "read:10", "rawpoll:300"),
		     0);
	waitpid(writer, NULL, 0);
	cr_expect_str_eq(out,
			 "open=3\n"
			 "rawpoll=0 revents=0x0\n"
			 "read=-1 errno=EAGAIN\n"
			 "rawpoll=1 revents=0x1\n"
			 "read=5 data=hello\n"
			 "read=-1 errno=EAGAIN\n"
			 "rawpoll=0 revents=0x0\n",
			 "%s", out);
	free(out);
	cr_expect_eq(h_log_count(&drv, "read fh=1 size=10 off=0 flags=0104000 -> EAGAIN"), 2, "%s",
		     h_log(&drv));
	/* the mirror's polls are the driver's own poll callback */
	if (h_poll_events())
		cr_expect_eq(h_log_count(&drv, "poll fh=1 events=0x1 -> 0x104"), 2, "%s",
			     h_log(&drv));
}

Test(semantics, fionbio_and_fionread)
{
	start_blocking("sem");
	{
		char *out = NULL;

		cr_assert_eq(H_RUN(H_SHIM, &out, h_stage("rwprobe"), "open:/dev/sem:rw", "getfl",
				   "fionbio:1", "getfl", "read:3", "fionbio:0", "write:7",
				   "fionread", "read:3", "fionread"),
			     0);
		cr_expect_str_eq(out, "open=3\ngetfl=0100002\nfionbio=0\ngetfl=0104002\n"
				      "read=-1 errno=EAGAIN\nfionbio=0\nwrite=7\nfionread=7\n"
				      "read=3 data=aaa\nfionread=4\n");
		free(out);
	}
	/* FIONBIO is the VFS's: it never reached the driver */
	cr_expect_eq(h_log_count(&drv, "ioctl fh=1 cmd=0x5421"), 0);
	cr_expect_eq(h_log_count(&drv, "ioctl fh=1 cmd=0x541b"), 4, "%s", h_log(&drv));
}

Test(semantics, sigint_interrupts_a_blocked_cat)
{
	char *log;
	int rc;

	start_blocking("sem");
	rc = H_RUN(H_SHIM, NULL, "timeout", "-s", "INT", "1", "cat", "/dev/sem");
	cr_expect_eq(rc, 124, "timeout exited %d", rc);
	cr_assert(h_log_wait(&drv, "release ", 1, 5000));
	log = h_log(&drv);
	cr_expect(strstr(log, "-> parked\ninterrupt fh=1\nrelease fh=1 "),
		  "the driver did not see the interrupt before the release:\n%s", log);
	free(log);
}

Test(semantics, sa_restart_does_not_hide_the_interrupt)
{
	start_blocking("sem");
	{
		char *out = NULL;

		cr_assert_eq(H_RUN(H_SHIM, &out, h_stage("rwprobe"), "open:/dev/sem:r", "alarm:300",
				   "read:10", "alarms"),
			     0);
		cr_expect_str_eq(out, "open=3\nread=-1 errno=EINTR\nalarms=1\n");
		free(out);
	}
	cr_expect_eq(h_log_count(&drv, "interrupt fh=1"), 1, "%s", h_log(&drv));
}

/* A signal interrupts a waiting ioctl as it does a read: the driver gets
 * the INTERRUPT, answers EINTR, and ioctl(2) fails with it (the kernel's
 * fuse_do_ioctl passes it on); under the supervisor too. */
Test(semantics, a_signal_interrupts_a_waiting_ioctl)
{
	char *out = NULL;

	start_blocking("sem");
	cr_assert_eq(H_RUN(H_SHIM, &out, h_stage("rwprobe"), "open:/dev/sem:r", "alarm:300",
			   "waitioctl", "alarms"),
		     0);
	cr_expect_str_eq(out, "open=3\nwaitioctl=-1 errno=EINTR\nalarms=1\n");
	free(out);
	cr_expect(h_log_before(&drv, "ioctl wait fh=1 -> parked", "interrupt fh=1"), "%s",
		  h_log(&drv));
	cr_assert_eq(h_run(0, NULL, &out, NULL,
			   (const char *const[]){h_stage("cuse-run"), "--seccomp", "--",
						 h_stage("staticprobe"), "open:/dev/sem:r",
						 "alarm:300", "waitioctl", NULL}),
		     0);
	cr_expect_str_eq(out, "open=3\nwaitioctl=-1 errno=EINTR\n", "under --seccomp");
	free(out);
	cr_expect_eq(h_log_count(&drv, "interrupt fh="), 2, "%s", h_log(&drv));
}

/* A signal during a slow open: the driver gets the INTERRUPT, its EINTR
 * is the open's, and the failed open gets no release; an open left alone
 * succeeds (tests/oracle/open_interrupted.sh).  Under --seccomp the
 * handler runs only once the open is done (README). */
Test(semantics, a_signal_interrupts_a_slow_open)
{
	char *out = NULL;

	cr_assert_eq(h_driver_start(&drv, "sem", (const char *const[]){"--open-delay=500", NULL}),
		     0);
	cr_assert_eq(
		H_RUN(H_SHIM, &out, h_stage("rwprobe"), "alarm:100", "open:/dev/sem:rw", "alarms"),
		0);
	cr_expect_str_eq(out, "open=-1 errno=EINTR\nalarms=1\n");
	free(out);
	cr_assert_eq(H_RUN(H_SHIM, &out, h_stage("rwprobe"), "open:/dev/sem:rw", "alarms"), 0);
	cr_expect_str_eq(out, "open=3\nalarms=0\n");
	free(out);
	H_EXPECT_LOG(&drv, "release ", 1, 5000);
	cr_expect_eq(h_log_count(&drv, "open fh=1 interrupted"), 1, "%s", h_log(&drv));
	cr_expect_eq(h_log_count(&drv, "open fh=2 interrupted"), 0, "%s", h_log(&drv));
	cr_expect_eq(h_log_count(&drv, "release fh=2 "), 1, "%s", h_log(&drv));
	cr_expect_eq(h_log_count(&drv, "release "), 1, "%s", h_log(&drv));
	/* the supervisor's difference, pinned */
	cr_assert_eq(h_run(0, NULL, &out, NULL,
			   (const char *const[]){h_stage("cuse-run"), "--seccomp", "--",
						 h_stage("staticprobe"), "alarm:100",
						 "open:/dev/sem:rw", "alarms", NULL}),
		     0);
	cr_expect_str_eq(out, "open=3\nalarms=1\n", "under --seccomp");
	free(out);
	cr_expect_eq(h_log_count(&drv, "open fh=3 interrupted"), 0, "%s", h_log(&drv));
}

Test(semantics, concurrent_requests_on_one_fd)
{
	/* A blocked in read, B writes, C asks FIONREAD: all on one fd. */
	start_blocking("sem");
	expect_py("import os, threading, time, fcntl, termios, array\n"
		  "fd = os.open('/dev/sem', os.O_RDWR)\n"
		  "got = []\n"
		  "a = threading.Thread(target=lambda: got.append(os.read(fd, 3)))\n"
		  "a.start(); time.sleep(0.2)\n"
		  "def c():\n"
		  "    b = array.array('i', [9]); fcntl.ioctl(fd, termios.FIONREAD, b); "
		  "got.append(b[0])\n"
		  "t = threading.Thread(target=c); t.start(); t.join(5)\n"
		  "b = threading.Thread(target=lambda: os.write(fd, b'abcdef')); b.start()\n"
		  "a.join(5); b.join(5)\n"
		  "print(got, os.read(fd, 10))\n",
		  "[0, b'abc'] b'def'\n");
}

Test(semantics, stress_threads_and_processes)
{
	const char *extra[] = {"--per-open", NULL};
	char *out = NULL;
	int rc;

	cr_assert_eq(h_driver_start_blocking(&drv, "sem", extra), 0);
	rc = h_run(H_SHIM, NULL, &out, NULL,
		   (const char *const[]){h_stage("stress"), "/dev/sem", "3", "32", NULL});
	cr_expect_eq(rc, 0, "stress failed: %s", out);
	cr_expect(!strncmp(out, "ok ops=", 7) && strstr(out + 1, "\nok ops="), "%s", out);
	free(out);
}

Test(semantics, signal_masks_are_applied_atomically)
{
	static const char *const waits[] = {"ppollsig", "pselectsig", "epwaitsig"};
	size_t i;

	start_blocking("sem");
	for (i = 0; i < sizeof(waits) / sizeof(waits[0]); i++) {
		char *out = NULL, expect[64];

		cr_assert_eq(H_RUN(H_SHIM, &out, h_stage("rwprobe"), "open:/dev/sem:r", waits[i]),
			     0);
		snprintf(expect, sizeof(expect), "open=3\n%s=-1 errno=EINTR\nhandled=1\n",
			 waits[i]);
		cr_expect_str_eq(out, expect);
		free(out);
	}
}

Test(semantics, driver_death_wakes_pollers_with_pollerr)
{
	struct h_driver d;
	char *out = NULL;
	pid_t kid;
	int rc;

	cr_assert_eq(h_driver_start_blocking(&d, "sem", NULL), 0);
	kid = fork();
	if (kid == 0) {
		h_msleep(400);
		kill(d.pid, SIGKILL);
		_exit(0);
	}
	rc = H_RUN(H_SHIM, &out, h_stage("rwprobe"), "open:/dev/sem:r", "pollwait:10000");
	waitpid(kid, NULL, 0);
	cr_expect_eq(rc, 0);
	/* POLLERR alone, and not a timeout (kernel CUSE: tests/oracle) */
	cr_expect_str_eq(out, "open=3\npollwait=1 revents=0x8\n");
	free(out);
}
