/* SPDX-License-Identifier: MIT */
/*
 * End-to-end: the ttydev example driver serving a tty-like device, and
 * unmodified programs (stty, tty, dash, python3's termios, os, fcntl and
 * ctypes) using the termios API on it through the shim.  glibc issues
 * these ioctls inside libc, so each test here fails without the shim's
 * termios wrappers; the driver's log shows what reached it.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

TestSuite(tty, .init = h_setup, .fini = h_teardown, .timeout = 120);

#define TTY "/dev/vtty0"

static struct h_driver drv;

static void start_tty_named(struct h_driver *d, const char *name)
{
	char namearg[200], logarg[600];

	snprintf(namearg, sizeof(namearg), "--name=%s", name);
	snprintf(logarg, sizeof(logarg), "--log=%s/%s.log", h_dir(), name);
	cr_assert_eq(
		h_driver_start_argv(
			d, name, (const char *const[]){"ttydev", "-f", namearg, logarg, NULL}, 0),
		0, "ttydev %s did not start", name);
	cr_assert_str_eq(d->log, logarg + strlen("--log="));
}

static void start_tty(void)
{
	start_tty_named(&drv, "vtty0");
}

/* Run @argv under the shim; its exit status must be @rc; returns stdout. */
static char *run(int rc, const char *const argv[])
{
	char *out = NULL, *err = NULL;
	int got = h_run(H_SHIM, NULL, &out, &err, argv);

	cr_assert_eq(got, rc, "%s exited %d, not %d; stdout:\n%s\nstderr:\n%s", argv[0], got, rc,
		     out, err);
	free(err);
	return out;
}

/* python3 -c @script DEV under the shim, which must succeed. */
static char *py(const char *script, const char *dev)
{
	return run(0, (const char *const[]){"python3", "-c", script, dev, NULL});
}

static void expect_has(const char *text, const char *want)
{
	cr_expect(strstr(text, want), "'%s' not in:\n%s", want, text);
}

static void expect_lacks(const char *text, const char *unwanted)
{
	cr_expect(!strstr(text, unwanted), "'%s' unexpectedly in:\n%s", unwanted, text);
}

/* The @nth (from 0; -1 for the last) log line starting with @prefix. */
static char *log_line(const struct h_driver *d, const char *prefix, int nth)
{
	char *log = h_log(d), *line, *save = NULL, *found = NULL;
	int i = 0;

	for (line = strtok_r(log, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		if (!strncmp(line, prefix, strlen(prefix)) && (nth < 0 || i++ == nth))
			found = line;
	found = strdup(found ? found : "");
	free(log);
	return found;
}

/* Every open of the device got its release. */
static void expect_balanced(const struct h_driver *d, int opens)
{
	cr_expect(h_log_wait(d, "release ", opens, 5000), "log:\n%s", h_log(d));
	cr_expect_eq(h_log_count(d, "open "), opens, "log:\n%s", h_log(d));
	cr_expect_eq(h_log_count(d, "release "), opens, "log:\n%s", h_log(d));
}

/* ------------------------------------------------------------------ stty */

Test(tty, stty_prints_the_driver_defaults)
{
	char *out;

	start_tty();
	out = run(0, (const char *const[]){"stty", "-F", TTY, NULL});
	/* only what differs from "sane" follows the first line */
	cr_expect_str_eq(out, "speed 38400 baud; line = 0;\n-brkint -imaxbel\n");
	free(out);
	out = run(0, (const char *const[]){"stty", "-a", "-F", TTY, NULL});
	expect_has(out, "speed 38400 baud; rows 24; columns 80; line = 0;\n");
	expect_has(out, "intr = ^C; quit = ^\\; erase = ^?; kill = ^U; eof = ^D;");
	expect_has(out, "min = 1; time = 0;");
	expect_has(out, "-parenb -parodd -cmspar cs8 hupcl -cstopb cread clocal -crtscts\n");
	expect_has(out, " icrnl ixon ");
	expect_has(out, "opost ");
	expect_has(out, " onlcr ");
	expect_has(out, "isig icanon iexten echo echoe echok -echonl ");
	free(out);
	/* each stty asked once, through a RETRY for the caller's buffer */
	cr_expect_eq(h_log_count(&drv, "retry fh=1 cmd=TCGETS in=0 out=36"), 1, "%s", h_log(&drv));
	cr_expect_eq(h_log_count(&drv, "tcgets fh=1 "), 1);
	cr_expect_eq(h_log_count(&drv, "tcgets fh=2 "), 1);
	cr_expect_eq(h_log_count(&drv, "tiocgwinsz fh=2 rows=24 cols=80"), 1);
	cr_expect_eq(h_log_count(&drv, "tcsets "), 0);
	expect_balanced(&drv, 2);
}

Test(tty, stty_raw_echo_9600_reaches_the_driver)
{
	char *out, *line;

	start_tty();
	out = run(0, (const char *const[]){"stty", "-F", TTY, "raw", "-echo", "9600", NULL});
	cr_expect_str_eq(out, "");
	free(out);
	/* stty sets with TCSADRAIN, then reads back to verify */
	cr_expect_eq(h_log_count(&drv, "tcsets "), 1, "%s", h_log(&drv));
	line = log_line(&drv, "tcsets ", 0);
	expect_has(line, "tcsets fh=1 cmd=TCSETSW ");
	expect_has(line, " speed=9600 echo=0 icanon=0 isig=0 vmin=1 vtime=0");
	free(line);
	line = log_line(&drv, "tcgets ", -1);
	expect_has(line, " speed=9600 echo=0 icanon=0 ");
	free(line);
	out = run(0, (const char *const[]){"stty", "-F", TTY, NULL});
	expect_has(out, "speed 9600 baud;");
	expect_has(out, "-isig -icanon -echo\n");
	expect_has(out, "-opost");
	free(out);
	/* and back, from the other side of a shell redirection */
	out = run(0, (const char *const[]){"dash", "-c", "stty sane 38400 < " TTY "; stty < " TTY,
					   NULL});
	cr_expect_str_eq(out, "speed 38400 baud; line = 0;\n");
	free(out);
	line = log_line(&drv, "tcsets ", -1);
	expect_has(line, " speed=38400 echo=1 icanon=1 isig=1 ");
	free(line);
	expect_balanced(&drv, 4);
}

/* busybox is static: cuse-run puts it under the seccomp supervisor, whose
 * ioctl retry rounds must give stty the same terminal. */
Test(tty, busybox_stty_under_seccomp)
{
	char *out, *line;

	if (access("/bin/busybox", X_OK))
		cr_skip_test("no /bin/busybox (Debian's busybox-static)");
	start_tty();
	out = run(0, (const char *const[]){"/bin/busybox", "stty", "-F", TTY, "raw", "-echo",
					   "9600", NULL});
	cr_expect_str_eq(out, "");
	free(out);
	line = log_line(&drv, "tcsets ", 0);
	expect_has(line, " speed=9600 echo=0 icanon=0 isig=0 ");
	free(line);
	out = run(0, (const char *const[]){"/bin/busybox", "stty", "-F", TTY, NULL});
	expect_has(out, "speed 9600 baud;");
	expect_has(out, "-echo");
	free(out);
	out = run(0, (const char *const[]){"/bin/busybox", "stty", "-F", TTY, "size", NULL});
	cr_expect_str_eq(out, "24 80\n");
	free(out);
	expect_balanced(&drv, 3);
}

/* ttydev has no poll op: its FUSE_POLL is answered ENOSYS, and from then
 * on every poll of the device is DEFAULT_POLLMASK at once, as the
 * kernel's no_poll.  Under the supervisor the first poll right after the
 * open sees it too: the mirror byte comes with the open's answer. */
Test(tty, a_driver_without_poll_is_always_ready)
{
	static const char script[] =
		"import os, select, sys\n"
		"fd = os.open(sys.argv[1], os.O_RDWR)\n"
		"p = select.poll()\n"
		"p.register(fd, select.POLLIN | select.POLLOUT)\n"
		"print(p.poll(0), p.poll(1000))\n"
		"print(select.select([fd], [fd], [], 0) == ([fd], [fd], []))\n";
	const char *want = "[(3, 5)] [(3, 5)]\nTrue\n";
	char *out = NULL;

	start_tty();
	cr_expect_eq(h_run(0, NULL, &out, NULL,
			   (const char *const[]){h_stage("cuse-run"), "--seccomp", "--", "python3",
						 "-c", script, TTY, NULL}),
		     0);
	cr_expect_str_eq(out, want, "under --seccomp: %s", out);
	free(out);
	out = py(script, TTY);
	cr_expect_str_eq(out, want);
	free(out);
	expect_balanced(&drv, 2);
}

Test(tty, stty_on_a_device_that_is_no_tty)
{
	struct h_driver plain;
	char *out = NULL, *err = NULL;

	cr_assert_eq(h_driver_start(&plain, "plain", NULL), 0);
	cr_expect_eq(h_run(H_SHIM, NULL, &out, &err,
			   (const char *const[]){"stty", "-F", "/dev/plain", NULL}),
		     1);
	cr_expect_str_eq(out, "");
	cr_expect_str_eq(err, "stty: /dev/plain: Inappropriate ioctl for device\n");
	free(out);
	free(err);
	/* the driver was asked (and said ENOTTY), with no data: 0x5401 is TCGETS */
	cr_expect_eq(h_log_count(&plain, "ioctl fh=1 cmd=0x5401 in=0 out=0"), 1, "%s",
		     h_log(&plain));
}

/* ---------------------------------------------------------------- python */

/* On @argv[1], or on a fresh pty for "pty". */
static const char py_roundtrip[] =
	"import os, sys, termios as T\n"
	"if sys.argv[1] == 'pty':\n"
	"    m, fd = os.openpty()\n"
	"else:\n"
	"    fd = os.open(sys.argv[1], os.O_RDWR | os.O_NOCTTY)\n"
	"a = T.tcgetattr(fd)\n"
	"print('before', a[4] == T.B38400, a[5] == T.B38400, bool(a[3] & T.ECHO),\n"
	"      bool(a[3] & T.ICANON), a[2] & T.CSIZE == T.CS8, a[6][T.VINTR], a[6][T.VMIN],\n"
	"      set(a[6][19:]) == {b'\\0'}, len(a[6]))\n"
	"a[4] = a[5] = T.B19200\n"
	"a[3] &= ~(T.ECHO | T.ICANON)\n"
	"a[6][T.VMIN] = 0\n"
	"a[6][T.VTIME] = 5\n"
	"T.tcsetattr(fd, T.TCSAFLUSH, a)\n"
	"b = T.tcgetattr(fd)\n"
	"print('after', b[4] == T.B19200, b[5] == T.B19200, b[2] & T.CBAUD == T.B19200,\n"
	"      bool(b[3] & T.ECHO), bool(b[3] & T.ICANON), b[6][T.VMIN], b[6][T.VTIME],\n"
	"      b[:2] == a[:2], b[3] == a[3])\n"
	"try:\n"
	"    T.tcsetattr(fd, 99, a)\n"
	"except T.error as e:\n"
	"    print('when=99', os.strerror(e.args[0]))\n";

static const char py_speed[] = "import os, sys, termios as T\n"
			       "fd = os.open(sys.argv[1], os.O_RDONLY)\n"
			       "a = T.tcgetattr(fd)\n"
			       "print(a[4] == T.B115200, a[5] == T.B115200, "
			       "a[2] & T.CBAUD == T.B115200, bool(a[3] & T.ECHO))\n";

Test(tty, python_termios_agrees_with_stty)
{
	char *out, *line;
	char *pty = NULL;

	start_tty();
	out = py(py_roundtrip, TTY);
	/* without ICANON, python gives VMIN and VTIME as numbers */
	cr_expect_str_eq(out, "before True True True True True b'\\x03' b'\\x01' True 32\n"
			      "after True True True False False 0 5 True True\n"
			      "when=99 Invalid argument\n");
	/* exactly what a real pty says */
	cr_assert_eq(h_run(0, NULL, &pty, NULL,
			   (const char *const[]){"python3", "-c", py_roundtrip, "pty", NULL}),
		     0);
	cr_expect_str_eq(out, pty);
	free(pty);
	free(out);
	/* TCSAFLUSH is TCSETSF; the bad action never reached the driver */
	cr_expect_eq(h_log_count(&drv, "tcsets "), 1, "%s", h_log(&drv));
	line = log_line(&drv, "tcsets ", 0);
	expect_has(line, "tcsets fh=1 cmd=TCSETSF ");
	expect_has(line, " speed=19200 echo=0 icanon=0 isig=1 vmin=0 vtime=5");
	free(line);
	out = run(0, (const char *const[]){"stty", "-F", TTY, NULL});
	expect_has(out, "speed 19200 baud;");
	expect_has(out, "min = 0; time = 5;");
	expect_has(out, "-icanon -echo\n");
	free(out);
	/* stty sets, python reads */
	out = run(0, (const char *const[]){"stty", "-F", TTY, "115200", "echo", NULL});
	free(out);
	out = py(py_speed, TTY);
	cr_expect_str_eq(out, "True True True True\n");
	free(out);
}

static const char py_errno[] =
	"import ctypes, os, sys, termios as T\n"
	"libc = ctypes.CDLL(None, use_errno=True)\n"
	"fd = os.open(sys.argv[1], os.O_RDWR)\n"
	"buf = ctypes.create_string_buffer(60)\n"
	"for name, call in [('isatty', lambda: libc.isatty(fd)),\n"
	"                   ('tcgetattr', lambda: libc.tcgetattr(fd, buf)),\n"
	"                   ('tcsetattr', lambda: libc.tcsetattr(fd, T.TCSADRAIN, buf)),\n"
	"                   ('tcsetattr7', lambda: libc.tcsetattr(fd, 7, buf)),\n"
	"                   ('tcdrain', lambda: libc.tcdrain(fd))]:\n"
	"    ctypes.set_errno(77)\n"
	"    r = call()\n"
	"    print(name, r, ctypes.get_errno())\n";

Test(tty, errno_is_untouched_on_success)
{
	char *out;

	start_tty();
	out = py(py_errno, TTY);
	cr_expect_str_eq(out, "isatty 1 77\n"
			      "tcgetattr 0 77\n"
			      "tcsetattr 0 77\n"
			      "tcsetattr7 -1 22\n"
			      "tcdrain 0 77\n");
	free(out);
	cr_expect_eq(h_log_count(&drv, "tcsets fh=1 cmd=TCSETSW "), 1, "%s", h_log(&drv));
	cr_expect_eq(h_log_count(&drv, "tcsets "), 1);
}

/* ---------------------------------------------------- isatty and ttyname */

static const char py_isatty[] =
	"import ctypes, os, sys\n"
	"libc = ctypes.CDLL(None, use_errno=True)\n"
	"for path in sys.argv[1:]:\n"
	"    fd = os.open(path, os.O_RDWR)\n"
	"    ctypes.set_errno(0)\n"
	"    r = libc.isatty(fd)\n"
	"    print(path, os.isatty(fd), r, os.strerror(ctypes.get_errno()))\n";

Test(tty, isatty_is_the_drivers_answer)
{
	struct h_driver plain;
	char *out;

	start_tty();
	cr_assert_eq(h_driver_start(&plain, "plain", NULL), 0);
	out = run(0, (const char *const[]){"python3", "-c", py_isatty, TTY, "/dev/plain", NULL});
	cr_expect_str_eq(out, TTY " True 1 Success\n"
				  "/dev/plain False 0 Inappropriate ioctl for device\n");
	free(out);
	cr_expect_eq(h_log_count(&drv, "tcgets fh=1 "), 2, "%s", h_log(&drv));
	cr_expect_eq(h_log_count(&plain, "ioctl fh=1 cmd=0x5401 in=0 out=0"), 2, "%s",
		     h_log(&plain));
	/* a shell's test -t calls isatty too */
	out = run(0, (const char *const[]){"dash", "-c",
					   "exec 3<>" TTY " 4<>/dev/plain; "
					   "[ -t 3 ] && echo tty || echo notty; "
					   "[ -t 4 ] && echo tty || echo notty",
					   NULL});
	cr_expect_str_eq(out, "tty\nnotty\n");
	free(out);
}

static const char py_ttyname[] =
	"import ctypes, errno, os, sys\n"
	"libc = ctypes.CDLL(None, use_errno=True)\n"
	"libc.ttyname.restype = ctypes.c_char_p\n"
	"fd = os.open(sys.argv[1], os.O_RDWR)\n"
	"print(os.ttyname(fd))\n"
	"ctypes.set_errno(77)\n"
	"print(libc.ttyname(fd).decode(), ctypes.get_errno())\n"
	"n = len(sys.argv[1]) + 1\n"
	"for size in (n, n - 1, 9):\n"
	"    buf = ctypes.create_string_buffer(b'x' * 64)\n"
	"    ctypes.set_errno(77)\n"
	"    r = libc.ttyname_r(fd, buf, size)\n"
	"    print(size - n, errno.errorcode.get(r, r), ctypes.get_errno(),\n"
	"          buf.value.decode() if r == 0 else '')\n"
	"buf = ctypes.create_string_buffer(64)\n"
	"print(libc.__ttyname_r_chk(fd, buf, 64, 64), buf.value.decode())\n"
	"for path in sys.argv[2:]:\n"
	"    try:\n"
	"        os.ttyname(os.open(path, os.O_RDWR))\n"
	"    except OSError as e:\n"
	"        print(path, e.strerror)\n";

Test(tty, ttyname_is_the_device_path)
{
	struct h_driver plain;
	char *out, *err = NULL;

	start_tty_named(&drv, "vtty-with-a-long-name");
	cr_assert_eq(h_driver_start(&plain, "plain", NULL), 0);
	out = run(0,
		  (const char *const[]){"python3", "-c", py_ttyname, "/dev/vtty-with-a-long-name",
					"/dev/plain", "/dev/null", NULL});
	cr_expect_str_eq(out, "/dev/vtty-with-a-long-name\n"
			      "/dev/vtty-with-a-long-name 77\n"
			      "0 0 77 /dev/vtty-with-a-long-name\n"
			      "-1 ERANGE 34 \n"
			      "-18 ERANGE 34 \n"
			      "0 /dev/vtty-with-a-long-name\n"
			      "/dev/plain Inappropriate ioctl for device\n"
			      "/dev/null Inappropriate ioctl for device\n");
	free(out);
	/* tty(1) on an inherited descriptor */
	out = run(0, (const char *const[]){"dash", "-c", "tty < /dev/vtty-with-a-long-name", NULL});
	cr_expect_str_eq(out, "/dev/vtty-with-a-long-name\n");
	free(out);
	out = run(1, (const char *const[]){"dash", "-c", "tty < /dev/plain", NULL});
	cr_expect_str_eq(out, "not a tty\n");
	free(out);
	/* a fortify check that fails still aborts, as glibc's own does */
	out = NULL;
	cr_expect_eq(
		h_run(H_SHIM, NULL, &out, &err,
		      (const char *const[]){"python3", "-c",
					    "import ctypes, os, sys\n"
					    "fd = os.open(sys.argv[1], os.O_RDWR)\n"
					    "buf = ctypes.create_string_buffer(64)\n"
					    "ctypes.CDLL(None).__ttyname_r_chk(fd, buf, 64, 32)\n"
					    "print('not reached')\n",
					    "/dev/vtty-with-a-long-name", NULL}),
		128 + 6);
	cr_expect_str_eq(out, "");
	expect_has(err, "buffer overflow detected");
	free(out);
	free(err);
}

/* ------------------------------------------- flush, drain, break, flow */

static const char py_lines[] =
	"import fcntl, os, struct, sys, termios as T\n"
	"fd = os.open(sys.argv[1], os.O_RDWR)\n"
	"def inq():\n"
	"    return struct.unpack('i', fcntl.ioctl(fd, T.FIONREAD, b'\\0' * 4))[0]\n"
	"os.write(fd, b'hello')\n"
	"print('queued', inq())\n"
	"T.tcflush(fd, T.TCOFLUSH)\n"
	"print('after TCOFLUSH', inq())\n"
	"T.tcflush(fd, T.TCIFLUSH)\n"
	"print('after TCIFLUSH', inq())\n"
	"T.tcdrain(fd)\n"
	"T.tcsendbreak(fd, 0)\n"
	"T.tcsendbreak(fd, 250)\n"
	"T.tcflow(fd, T.TCOOFF)\n"
	"T.tcflow(fd, T.TCOON)\n"
	"for call in (lambda: T.tcflow(fd, 99), lambda: T.tcflush(fd, 7)):\n"
	"    try:\n"
	"        call()\n"
	"    except T.error as e:\n"
	"        print(os.strerror(e.args[0]))\n";

Test(tty, flush_drain_break_and_flow_reach_the_driver)
{
	char *out;

	start_tty();
	out = py(py_lines, TTY);
	cr_expect_str_eq(out, "queued 5\nafter TCOFLUSH 5\nafter TCIFLUSH 0\n"
			      "Invalid argument\nInvalid argument\n");
	free(out);
	cr_expect_eq(h_log_count(&drv, "tcflsh fh=1 arg=1 dropped=0"), 1, "%s", h_log(&drv));
	cr_expect_eq(h_log_count(&drv, "tcflsh fh=1 arg=0 dropped=5"), 1);
	cr_expect_eq(h_log_count(&drv, "tcflsh fh=1 arg=7 -> EINVAL"), 1);
	/* tcdrain is TCSBRK 1; a zero break TCSBRK 0; 250 ms is TCSBRKP 3 */
	cr_expect_eq(h_log_count(&drv, "tcsbrk fh=1 arg=1"), 1);
	cr_expect_eq(h_log_count(&drv, "tcsbrk fh=1 arg=0"), 1);
	cr_expect_eq(h_log_count(&drv, "tcsbrk "), 2);
	cr_expect_eq(h_log_count(&drv, "tcsbrkp fh=1 arg=3"), 1);
	cr_expect_eq(h_log_count(&drv, "tcxonc fh=1 arg=0"), 1);
	cr_expect_eq(h_log_count(&drv, "tcxonc fh=1 arg=1"), 1);
	cr_expect_eq(h_log_count(&drv, "tcxonc fh=1 arg=99 -> EINVAL"), 1);
	/* value arguments need no copy: no RETRY for any of them */
	cr_expect_eq(h_log_count(&drv, "retry fh=1 cmd=TC"), 0, "%s", h_log(&drv));
}

static const char py_fionread[] =
	"import fcntl, os, struct, sys, termios as T\n"
	"fd = os.open(sys.argv[1], os.O_RDONLY)\n"
	"buf = bytearray(4)\n"
	"r = fcntl.ioctl(fd, T.FIONREAD, buf, True)\n"
	"print(r, struct.unpack('i', buf)[0],\n"
	"      struct.unpack('i', fcntl.ioctl(fd, T.TIOCOUTQ, b'\\xff' * 4))[0])\n";

Test(tty, fionread_counts_the_queue)
{
	char *out;

	start_tty();
	out = run(0,
		  (const char *const[]){"dash", "-c", "printf '%s' 'twelve bytes' > " TTY, NULL});
	free(out);
	out = py(py_fionread, TTY);
	cr_expect_str_eq(out, "0 12 0\n");
	free(out);
	out = run(0, (const char *const[]){"cat", TTY, NULL});
	cr_expect_str_eq(out, "twelve bytes");
	free(out);
	out = py(py_fionread, TTY);
	cr_expect_str_eq(out, "0 0 0\n");
	free(out);
	cr_expect_eq(h_log_count(&drv, "fionread fh=2 -> 12"), 1, "%s", h_log(&drv));
	cr_expect_eq(h_log_count(&drv, "fionread fh=4 -> 0"), 1, "%s", h_log(&drv));
}

static const char py_winsz[] =
	"import fcntl, os, struct, sys, termios as T\n"
	"fd = os.open(sys.argv[1], os.O_RDWR)\n"
	"fcntl.ioctl(fd, T.TIOCSWINSZ, struct.pack('HHHH', 50, 132, 0, 0))\n"
	"print(struct.unpack('HHHH', fcntl.ioctl(fd, T.TIOCGWINSZ, bytes(8))))\n"
	"print(os.get_terminal_size(fd))\n";

Test(tty, window_size)
{
	char *out;

	start_tty();
	out = py(py_winsz, TTY);
	cr_expect_str_eq(out, "(50, 132, 0, 0)\nos.terminal_size(columns=132, lines=50)\n");
	free(out);
	out = run(0, (const char *const[]){"stty", "-F", TTY, "size", NULL});
	cr_expect_str_eq(out, "50 132\n");
	free(out);
	cr_expect_eq(h_log_count(&drv, "tiocswinsz fh=1 rows=50 cols=132"), 1, "%s", h_log(&drv));
}

static const char py_pgrp[] = "import ctypes, os, sys\n"
			      "libc = ctypes.CDLL(None, use_errno=True)\n"
			      "fd = os.open(sys.argv[1], os.O_RDWR)\n"
			      "print(os.tcgetpgrp(fd) == os.getpid())\n"
			      "os.tcsetpgrp(fd, 4242)\n"
			      "print(os.tcgetpgrp(fd))\n"
			      "print(libc.tcgetsid(fd), os.strerror(ctypes.get_errno()))\n";

Test(tty, process_groups)
{
	char *out, *line;

	start_tty();
	out = py(py_pgrp, TTY);
	cr_expect_str_eq(out, "True\n4242\n-1 Inappropriate ioctl for device\n");
	free(out);
	line = log_line(&drv, "tiocgpgrp fh=1 ", 0);
	expect_has(line, " -> ");
	free(line);
	cr_expect_eq(h_log_count(&drv, "tiocspgrp fh=1 pgrp=4242"), 1, "%s", h_log(&drv));
	cr_expect_eq(h_log_count(&drv, "tiocgpgrp fh=1 "), 2);
	/* TIOCGSID is not ttydev's: ENOTTY, and no fallback to TIOCGPGRP */
	cr_expect_eq(h_log_count(&drv, "ioctl fh=1 cmd=0x5429 -> ENOTTY"), 1);
}

/* ---------------------------------------------------- not our business */

static const char py_real[] =
	"import ctypes, errno, os\n"
	"libc = ctypes.CDLL(None, use_errno=True)\n"
	"libc.ttyname.restype = ctypes.c_char_p\n"
	"r, w = os.pipe()\n"
	"fds = [('pipe', r), ('null', os.open('/dev/null', os.O_RDWR))]\n"
	"try:\n"
	"    m, s = os.openpty()\n"
	"    fds.append(('pty', s))\n"
	"except OSError as e:\n"
	"    print('no pty', e.strerror)\n"
	"buf = ctypes.create_string_buffer(64)\n"
	"for label, fd in fds:\n"
	"    for name, call in [\n"
	"            ('isatty', lambda: libc.isatty(fd)),\n"
	"            ('tcgetattr', lambda: libc.tcgetattr(fd, buf)),\n"
	"            ('tcsetattr', lambda: libc.tcsetattr(fd, 0, buf)),\n"
	"            ('tcsetattr9', lambda: libc.tcsetattr(fd, 9, buf)),\n"
	"            ('tcflush', lambda: libc.tcflush(fd, 0)),\n"
	"            ('tcdrain', lambda: libc.tcdrain(fd)),\n"
	"            ('tcflow', lambda: libc.tcflow(fd, 1)),\n"
	"            ('tcsendbreak', lambda: libc.tcsendbreak(fd, 0)),\n"
	"            ('tcgetpgrp', lambda: libc.tcgetpgrp(fd)),\n"
	"            ('tcsetpgrp', lambda: libc.tcsetpgrp(fd, os.getpgrp())),\n"
	"            ('tcgetsid', lambda: libc.tcgetsid(fd)),\n"
	"            ('ttyname', lambda: libc.ttyname(fd) is not None),\n"
	"            ('ttyname_r', lambda: libc.ttyname_r(fd, buf, 64)),\n"
	"            ('python', lambda: os.isatty(fd))]:\n"
	"        ctypes.set_errno(0)\n"
	"        res = call()\n"
	"        e = ctypes.get_errno()\n"
	"        print(label, name, res, errno.errorcode.get(e, e))\n";

Test(tty, real_fds_behave_as_without_the_shim)
{
	char *plain = NULL, *shim;

	start_tty(); /* a device exists, but none of these fds is it */
	cr_assert_eq(
		h_run(0, NULL, &plain, NULL, (const char *const[]){"python3", "-c", py_real, NULL}),
		0);
	shim = run(0, (const char *const[]){"python3", "-c", py_real, NULL});
	cr_expect_str_eq(shim, plain);
	expect_has(shim, "pipe isatty 0 ENOTTY\n");
	expect_has(shim, "pipe tcgetattr -1 ENOTTY\n");
	expect_has(shim, "pipe tcsetattr9 -1 EINVAL\n");
	expect_has(shim, "pipe tcflush -1 ENOTTY\n");
	expect_has(shim, "pipe ttyname False ENOTTY\n");
	expect_has(shim, "pipe ttyname_r 25 ENOTTY\n");
	expect_has(shim, "null tcgetattr -1 ENOTTY\n");
	expect_lacks(shim, "pipe tcgetattr 0");
	free(plain);
	free(shim);
	cr_expect_eq(h_log_count(&drv, "open "), 0, "%s", h_log(&drv));
}
