/* SPDX-License-Identifier: MIT */
/*
 * The process model: fork (with atfork, _Fork, raw clone, a thread blocked
 * in the device), vfork and posix_spawn, system and popen, exec with and
 * without close-on-exec, fd passing, closing ranges, fd numbers reused
 * behind the shim's back, the names of a device fd, relative paths, and
 * the caller's credentials as the driver sees them.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

TestSuite(process, .init = h_setup, .fini = h_teardown, .timeout = 120);

static struct h_driver drv;

static void start(void)
{
	cr_assert_eq(h_driver_start(&drv, "pr", NULL), 0, "driver did not start");
}

static char *run_py(int flags, const char *script)
{
	char *out = NULL, *err = NULL;
	int rc = h_run(flags, NULL, &out, &err,
		       (const char *const[]){"python3", "-c", script, NULL});

	cr_assert_eq(rc, 0, "python3 exited %d:\n%s\n%s", rc, out, err);
	free(err);
	return out;
}

static void expect_py(const char *script, const char *expect)
{
	char *out = run_py(H_SHIM, script);

	cr_expect_str_eq(out, expect);
	free(out);
}

static void expect_balanced(int opens)
{
	cr_expect(h_log_wait(&drv, "release ", opens, 5000));
	h_msleep(50);
	cr_expect_eq(h_log_count(&drv, "open "), opens, "%s", h_log(&drv));
	cr_expect_eq(h_log_count(&drv, "release "), opens, "%s", h_log(&drv));
}

Test(process, fork_child_and_parent_share_the_file)
{
	start();
	expect_py("import os\n"
		  "fd = os.open('/dev/pr', os.O_RDWR)\n"
		  "os.write(fd, b'parent')\n"
		  "pid = os.fork()\n"
		  "if pid == 0:\n"
		  "    os.write(fd, b'+child'); os._exit(0)\n"
		  "os.waitpid(pid, 0)\n"
		  "print(os.read(fd, 100))\n",
		  "b'parent+child'\n");
	expect_balanced(1);
}

Test(process, fork_while_a_thread_is_blocked_in_the_device)
{
	cr_assert_eq(h_driver_start_blocking(&drv, "pr", NULL), 0);
	expect_py("import os, threading, time\n"
		  "fd = os.open('/dev/pr', os.O_RDWR)\n"
		  "got = []\n"
		  "t = threading.Thread(target=lambda: got.append(os.read(fd, 9)))\n"
		  "t.start(); time.sleep(0.3)\n"
		  "pid = os.fork()\n"
		  "if pid == 0:\n"
		  "    f2 = os.open('/dev/pr', os.O_RDWR)\n"
		  "    os.write(f2, b'from-kid!')\n"
		  "    os._exit(0)\n"
		  "print(os.waitpid(pid, 0)[1])\n"
		  "t.join(5); print(got)\n",
		  "0\n[b'from-kid!']\n");
}

Test(process, _fork_and_raw_clone_reconnect)
{
	char *out = NULL;

	start();
	cr_assert_eq(H_RUN(H_SHIM, &out, h_stage("rwprobe"), "open:/dev/pr:rw", "write:2:x",
			   "_fork", "write:3:y", "clonefork", "write:1:z", "read:10"),
		     0);
	cr_expect_str_eq(out, "open=3\nwrite=2\nwrite=3\nwrite=1\nread=6 data=xxyyyz\n");
	free(out);
}

Test(process, stress_parent_and_child_on_one_file)
{
	const char *extra[] = {"--per-open", NULL};
	char *out = NULL;

	cr_assert_eq(h_driver_start_blocking(&drv, "pr", extra), 0);
	cr_assert_eq(h_run(H_SHIM, NULL, &out, NULL,
			   (const char *const[]){h_stage("stress"), "/dev/pr", "2", "8", NULL}),
		     0, "%s", out);
	free(out);
}

Test(process, system_popen_and_subprocess)
{
	start();
	expect_py("import os, subprocess\n"
		  "print(os.system('echo sys > /dev/pr'))\n"
		  "with os.popen('cat /dev/pr') as p: print(repr(p.read()))\n"
		  "p = os.popen('cat > /dev/pr', 'w'); p.write('popen-w'); print(p.close())\n"
		  "print(subprocess.run(['cat', '/dev/pr'], capture_output=True).stdout)\n",
		  "0\n'sys\\n'\nNone\nb'popen-w'\n");
	expect_balanced(4);
}

Test(process, posix_spawn_open_and_dup2)
{
	start();
	expect_py("import os\n"
		  "w = os.open('/dev/pr', os.O_WRONLY)\n"
		  "os.write(w, b'spawned-in')\n"
		  "r, wp = os.pipe()\n"
		  "pid = os.posix_spawnp('cat', ['cat'], os.environ, file_actions=[\n"
		  "    (os.POSIX_SPAWN_OPEN, 0, '/dev/pr', os.O_RDONLY, 0),\n"
		  "    (os.POSIX_SPAWN_DUP2, wp, 1)])\n"
		  "os.close(wp); print(os.waitpid(pid, 0)[1], os.read(r, 100))\n"
		  "os.write(w, b'dup2-in')\n"
		  "rr = os.open('/dev/pr', os.O_RDONLY)\n"
		  "r2, wp2 = os.pipe()\n"
		  "pid = os.posix_spawnp('cat', ['cat'], os.environ, file_actions=[\n"
		  "    (os.POSIX_SPAWN_DUP2, rr, 0), (os.POSIX_SPAWN_DUP2, wp2, 1)])\n"
		  "os.close(wp2); print(os.waitpid(pid, 0)[1], os.read(r2, 100))\n",
		  "0 b'spawned-in'\n0 b'dup2-in'\n");
	/* w, the addopen (opened in the parent) and rr */
	expect_balanced(3);
}

Test(process, exec_keeps_inheritable_and_drops_cloexec)
{
	char *out = NULL;

	start();
	expect_py("import os, subprocess\n"
		  "fd = os.open('/dev/pr', os.O_RDWR)\n"
		  "os.write(fd, b'inherited')\n"
		  "print(os.get_inheritable(fd))\n"
		  "r = subprocess.run(['sh', '-c', 'cat <&%d' % fd], capture_output=True)\n"
		  "print(r.returncode != 0)\n"
		  "os.set_inheritable(fd, True)\n"
		  "r = subprocess.run(['sh', '-c', 'cat <&%d' % fd], pass_fds=(fd,), "
		  "capture_output=True)\n"
		  "print(r.returncode, r.stdout)\n",
		  "False\nTrue\n0 b'inherited'\n");
	cr_assert_eq(H_RUN(H_SHIM, &out, h_stage("rwprobe"), "open:/dev/pr:rc", "getfd"), 0);
	cr_expect_str_eq(out, "open=3\ngetfd=1\n");
	free(out);
}

Test(process, fd_passing_with_scm_rights)
{
	start();
	expect_py("import os, socket, subprocess, sys\n"
		  "a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)\n"
		  "child = ('import os, socket\\n'\n"
		  "         's = socket.socket(fileno=%d)\\n'\n"
		  "         'msg, fds, _, _ = socket.recv_fds(s, 10, 1)\\n'\n"
		  "         'os.write(fds[0], b\"via-scm\")\\n'\n"
		  "         'os.close(fds[0])\\n'\n"
		  "         's.send(b\"done\")\\n') % b.fileno()\n"
		  "kid = subprocess.Popen([sys.executable, '-c', child], pass_fds=(b.fileno(),))\n"
		  "fd = os.open('/dev/pr', os.O_RDWR)\n"
		  "socket.send_fds(a, [b'fd'], [fd])\n"
		  "print(a.recv(10)); kid.wait()\n"
		  "print(os.read(fd, 100))\n",
		  "b'done'\nb'via-scm'\n");
	expect_balanced(1);
}

Test(process, closing_ranges_and_every_fd_number)
{
	start();
	expect_py("import os\n"
		  "fd = os.open('/dev/pr', os.O_RDWR)\n"
		  "os.write(fd, b'a')\n"
		  "os.closerange(fd + 1, 65536)\n"
		  "os.write(fd, b'b')\n"
		  "for i in range(fd + 1, 4096):\n"
		  "    try:\n"
		  "        os.close(i)\n"
		  "    except OSError:\n"
		  "        pass\n"
		  "os.write(fd, b'c')\n"
		  "null = os.open('/dev/null', os.O_RDONLY)\n"
		  "for i in range(fd + 2, 1024):\n"
		  "    os.dup2(null, i)\n"
		  "os.write(fd, b'd')\n"
		  "print(os.read(fd, 10))\n",
		  "b'abcd'\n");
	expect_py("import os\n"
		  "fd = os.open('/dev/pr', os.O_RDWR)\n"
		  "os.write(fd, b'x')\n"
		  "os.closerange(3, 65536)\n"
		  "fd = os.open('/dev/pr', os.O_RDWR)\n"
		  "print(os.read(fd, 10))\n",
		  "b'x'\n");
}

Test(process, reused_fd_number_is_not_the_device)
{
	start();
	expect_py("import os, ctypes\n"
		  "libc = ctypes.CDLL(None, use_errno=True)\n"
		  "fd = os.open('/dev/pr', os.O_RDWR)\n"
		  "libc.syscall(3, fd)  # close(2) through syscall(3)\n"
		  "r, w = os.pipe()\n"
		  "print(fd in (r, w))\n"
		  "os.write(w, b'pipe-data')\n"
		  "print(os.read(r, 100))\n",
		  "True\nb'pipe-data'\n");
	cr_expect_eq(h_log_count(&drv, "write "), 0, "%s", h_log(&drv));
}

/* The same with a close no wrapper sees (an inline syscall instruction):
 * the reused number is a regular file, and writes go to it. */
Test(process, fd_closed_behind_the_shims_back_and_reused)
{
	char path[600], arg[700], *out = NULL;
	struct stat st;
	FILE *f;

	start();
	snprintf(path, sizeof(path), "%s/plain", h_dir());
	f = fopen(path, "w");
	cr_assert(f);
	fclose(f);
	cr_assert(!chmod(path, 0666));
	snprintf(arg, sizeof(arg), "open:%s:w", path);
	cr_assert_eq(H_RUN(H_SHIM, &out, h_stage("rwprobe"), "open:/dev/pr:rw", "rawclose", arg,
			   "write:5", "fstat", "close"),
		     0);
	cr_expect(strstr(out, "open=3\nrawclose=0\nopen=3\nwrite=5\n"), "%s", out);
	free(out);
	cr_assert(!stat(path, &st));
	cr_expect_eq(st.st_size, 5);
	cr_expect_eq(h_log_count(&drv, "write "), 0, "%s", h_log(&drv));
	expect_balanced(1);
}

Test(process, names_of_a_device)
{
	start();
	expect_py("import os, ctypes\n"
		  "fd = os.open('/dev/pr', os.O_RDWR)\n"
		  "print(os.readlink('/proc/self/fd/%d' % fd))\n"
		  "print(os.readlink('/dev/fd/%d' % fd))\n"
		  "print(os.readlink('/proc/%d/fd/%d' % (os.getpid(), fd)))\n"
		  "print(os.path.realpath('//dev/./pr'))\n"
		  "libc = ctypes.CDLL(None)\n"
		  "libc.realpath.restype = ctypes.c_char_p\n"
		  "libc.canonicalize_file_name.restype = ctypes.c_char_p\n"
		  "print(libc.realpath(b'/dev/../dev/pr', None))\n"
		  "print(libc.canonicalize_file_name(b'/dev//pr'))\n",
		  "/dev/pr\n/dev/pr\n/dev/pr\n/dev/pr\nb'/dev/pr'\nb'/dev/pr'\n");
}

Test(process, relative_paths_and_dirfds)
{
	char *out = NULL;

	start();
	cr_assert_eq(H_RUN(H_SHIM, &out, "bash", "-c",
			   "cd /dev && echo rel > pr && cat pr && cd / && cat dev/pr; "
			   "cd /tmp && (cat pr 2>/dev/null || echo no-such)"),
		     0);
	cr_expect_str_eq(out, "rel\nno-such\n");
	free(out);
	expect_py("import os\n"
		  "d = os.open('/dev', os.O_RDONLY | os.O_DIRECTORY)\n"
		  "fd = os.open('pr', os.O_RDWR, dir_fd=d)\n"
		  "os.write(fd, b'dirfd')\n"
		  "root = os.open('/', os.O_RDONLY | os.O_DIRECTORY)\n"
		  "print(os.read(os.open('dev/pr', os.O_RDONLY, dir_fd=root), 10))\n"
		  "tmp = os.open('/tmp', os.O_RDONLY | os.O_DIRECTORY)\n"
		  "try:\n"
		  "    os.open('pr', os.O_RDONLY, dir_fd=tmp); print('matched!')\n"
		  "except FileNotFoundError:\n"
		  "    print('ENOENT')\n"
		  "print(os.stat('pr', dir_fd=d).st_rdev == os.stat('/dev/pr').st_rdev)\n",
		  "b'dirfd'\nENOENT\nTrue\n");
}

Test(process, null_paths_as_without_the_shim)
{
	char *with = NULL, *without = NULL;

	start();
	cr_assert_eq(H_RUN(H_SHIM, &with, h_stage("rwprobe"), "opennull", "access::f"), 0);
	cr_assert_eq(H_RUN(0, &without, h_stage("rwprobe"), "opennull", "access::f"), 0);
	cr_expect_str_eq(with, without);
	free(with);
	free(without);
}

/* fuse_req_getgroups and the gid: the client's supplementary groups (the
 * kernel lists them sorted), and a gid other than the uid's group. */
Test(process, credentials_the_driver_sees)
{
	char *log;

	if (!h_root())
		cr_skip_test("needs root to give the client supplementary groups");
	start();
	cr_assert_eq(H_RUN(H_SHIM | H_GROUPS, NULL, h_stage("rwprobe"), "open:/dev/pr:r"), 0);
	log = h_log(&drv);
	cr_expect(strstr(log, " uid=65534 "), "%s", log);
	cr_expect(strstr(log, " groups=2 comm=rwprobe\n"), "%s", log);
	cr_expect(strstr(log, "\ncreds fh=1 uid=65534 gid=65534 groups=27,100\n"), "%s", log);
	free(log);
	cr_assert_eq(H_RUN(H_SHIM | H_NOGROUP, NULL, h_stage("rwprobe"), "open:/dev/pr:r"), 0);
	log = h_log(&drv);
	cr_expect(strstr(log, "\ncreds fh=2 uid=65534 gid=65533 groups=\n"), "%s", log);
	free(log);
}

/* fuse_req_ctx's pid is the calling thread's id, the uid and gid are the
 * caller's, and a driver that reads /proc/<pid>/comm finds the caller:
 * whoever runs the suite. */
Test(process, the_driver_sees_the_calling_thread_and_its_proc)
{
	char *log, *out, want[64];

	start();
	cr_assert_eq(H_RUN(H_SHIM, NULL, h_stage("rwprobe"), "open:/dev/pr:r"), 0);
	log = h_log(&drv);
	cr_expect(strstr(log, " comm=rwprobe\n"), "%s", log);
	snprintf(want, sizeof(want), "\ncreds fh=1 uid=%u gid=%u ",
		 h_root() ? 65534u : (unsigned)getuid(), h_root() ? 65534u : (unsigned)getgid());
	cr_expect(strstr(log, want), "want '%s' in\n%s", want + 1, log);
	free(log);
	out = run_py(H_SHIM, "import os, threading\n"
			     "ids = []\n"
			     "def t():\n"
			     "    ids.append(threading.get_native_id())\n"
			     "    os.open('/dev/pr', os.O_RDONLY)\n"
			     "th = threading.Thread(target=t); th.start(); th.join()\n"
			     "print(ids[0] != os.getpid(), ids[0])\n");
	cr_assert(!strncmp(out, "True ", 5), "%s", out);
	snprintf(want, sizeof(want), " pid=%d groups=", atoi(out + 5));
	free(out);
	log = h_log(&drv);
	cr_expect(strstr(log, want), "driver did not see the thread id (%s):\n%s", want, log);
	free(log);
}

Test(process, reopening_proc_self_fd_is_a_new_open)
{
	start();
	expect_py("import os\n"
		  "fd = os.open('/dev/pr', os.O_RDWR)\n"
		  "os.write(fd, b'again')\n"
		  "fd2 = os.open('/proc/self/fd/%d' % fd, os.O_RDONLY)\n"
		  "fd3 = os.open('/dev/fd/%d' % fd, os.O_RDONLY)\n"
		  "print(fd2 != fd, os.read(fd2, 2), os.read(fd3, 10))\n",
		  "True b'ag' b'ain'\n");
	/* three opens, each its own file, as in the kernel */
	expect_balanced(3);
}

Test(process, fortified_and_large_file_builds)
{
	static const char *const probes[] = {"fortprobe", "fort2probe", "lfsprobe"};
	char *plain = NULL;
	size_t i;

	start();
	cr_assert_eq(H_RUN(H_SHIM, &plain, h_stage("rwprobe"), "open:/dev/pr:rw", "write:4",
			   "read:4", "pwrite:3:9", "pread:3:9", "readv:2:2", "fstat",
			   "stat:/dev/pr", "lseek", "getfl", "readlinkfd", "realpath://dev/./pr",
			   "close"),
		     0);
	cr_expect(strstr(plain, "read=4 data=aaaa\n"), "%s", plain);
	cr_expect(strstr(plain, "readlinkfd=/dev/pr\nrealpath=/dev/pr\n"), "%s", plain);
	for (i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
		char *out = NULL;

		cr_assert_eq(H_RUN(H_SHIM, &out, h_stage(probes[i]), "open:/dev/pr:rw", "write:4",
				   "read:4", "pwrite:3:9", "pread:3:9", "readv:2:2", "fstat",
				   "stat:/dev/pr", "lseek", "getfl", "readlinkfd",
				   "realpath://dev/./pr", "close"),
			     0);
		cr_expect_str_eq(out, plain, "%s differs:\n%s---\n%s", probes[i], out, plain);
		free(out);
	}
	free(plain);
}

Test(process, the_programs_own_signal_state_is_kept)
{
	start();
	expect_py(
		"import os, signal, select, fcntl, termios, array\n"
		"h = lambda s, f: None\n"
		"for s in (signal.SIGINT, signal.SIGTERM, signal.SIGCHLD, signal.SIGPIPE, "
		"signal.SIGSYS):\n"
		"    signal.signal(s, h)\n"
		"signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR2})\n"
		"before = [signal.getsignal(s) for s in range(1, 32) if s not in (9, 19)]\n"
		"mask = signal.pthread_sigmask(signal.SIG_BLOCK, set())\n"
		"fd = os.open('/dev/pr', os.O_RDWR)\n"
		"os.write(fd, b'sig'); os.read(fd, 3)\n"
		"p = select.poll(); p.register(fd, select.POLLIN); p.poll(10)\n"
		"b = array.array('i', [0])\n"
		"try:\n"
		"    fcntl.ioctl(fd, termios.FIONREAD, b)\n"
		"except OSError: pass\n"
		"os.close(fd)\n"
		"after = [signal.getsignal(s) for s in range(1, 32) if s not in (9, 19)]\n"
		"print(before == after, mask == signal.pthread_sigmask(signal.SIG_BLOCK, set()))\n",
		"True True\n");
}

Test(process, sigpipe_untouched_after_the_driver_died)
{
	char *out = NULL, pid[16];

	start();
	snprintf(pid, sizeof(pid), "%d", (int)drv.pid);
	/* a C program with the default SIGPIPE action writes to a dead driver */
	cr_assert_eq(H_RUN(H_SHIM, &out, "bash", "-c",
			   "exec 3<>/dev/pr; $1 fd:3 write:1; kill -9 $0; sleep 0.3; "
			   "$1 fd:3 write:1 write:1 sigpipe; echo alive",
			   pid, h_stage("rwprobe")),
		     0);
	cr_expect_str_eq(out, "write=1\nwrite=-1 errno=ENOTCONN\nwrite=-1 errno=ENOTCONN\n"
			      "sigpipe=default\nalive\n");
	free(out);
}

Test(process, other_preload_libraries_in_either_order)
{
	const char *faketime = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1";
	char order1[600], order2[600], libs[600], *out = NULL;

	start();
	if (access(faketime, R_OK))
		cr_skip_test("libfaketime not installed (package faketime)");
	/* libfaketime under ASan's runtime hangs in date(1), shim or not */
	if (h_sanitizers())
		goto fakeroot;
	snprintf(libs, sizeof(libs), "%s %s", h_stage("libcuseshim.so"), faketime);
	h_preload_var(order1, sizeof(order1), libs);
	snprintf(libs, sizeof(libs), "%s %s", faketime, h_stage("libcuseshim.so"));
	h_preload_var(order2, sizeof(order2), libs);
	cr_assert_eq(
		H_RUN(0, &out, "env", order1, H_CLIENT_ASAN, "FAKETIME=@2000-01-01 00:00:00", "sh",
		      "-c",
		      "date +%Y; echo one > /dev/pr; cat /dev/pr; test -c /dev/pr && echo chr"),
		0);
	cr_expect_str_eq(out, "2000\none\nchr\n");
	free(out);
	cr_assert_eq(
		H_RUN(0, &out, "env", order2, H_CLIENT_ASAN, "FAKETIME=@2000-01-01 00:00:00", "sh",
		      "-c",
		      "date +%Y; echo two > /dev/pr; cat /dev/pr; test -c /dev/pr && echo chr"),
		0);
	cr_expect_str_eq(out, "2000\ntwo\nchr\n");
	free(out);
fakeroot:
	if (access("/usr/bin/fakeroot", X_OK))
		return;
	/* fakeroot outside cuse-run, and inside it */
	cr_assert_eq(H_RUN(0, &out, "fakeroot", "--", h_stage("cuse-run"), "--", "sh", "-c",
			   "id -u; echo fr > /dev/pr; cat /dev/pr"),
		     0);
	cr_expect_str_eq(out, "0\nfr\n");
	free(out);
	cr_assert_eq(H_RUN(H_SHIM, &out, "fakeroot", "--", "sh", "-c",
			   "id -u; echo rf > /dev/pr; cat /dev/pr"),
		     0);
	cr_expect_str_eq(out, "0\nrf\n");
	free(out);
}

Test(process, ls_l_shows_a_character_device)
{
	char *out = NULL;

	start();
	cr_assert_eq(H_RUN(H_SHIM, &out, "sh", "-c", "ls -l /dev/pr | cut -d' ' -f1,5,6"), 0);
	cr_expect(!strncmp(out, "crw------- ", 11), "%s", out);
	free(out);
	/* no ACL marker, no error, like a devtmpfs node */
	cr_assert_eq(H_RUN(H_SHIM, &out, "sh", "-c", "ls -l /dev/pr 2>&1 | cut -c1-11"), 0);
	free(out);
}

/* Successful calls on a device leave errno as the program set it. */
Test(process, errno_untouched_by_successful_calls)
{
	start();
	expect_py("import ctypes, os\n"
		  "libc = ctypes.CDLL(None, use_errno=True)\n"
		  "buf = ctypes.create_string_buffer(256)\n"
		  "n = ctypes.c_int(0)\n"
		  "pfd = (ctypes.c_int * 2)()\n"
		  "st = ctypes.create_string_buffer(256)\n"
		  "fd = None\n"
		  "def op(name, f):\n"
		  "    global fd\n"
		  "    ctypes.set_errno(77)\n"
		  "    r = f()\n"
		  "    if name == 'open': fd = r\n"
		  "    print(name, r >= 0, ctypes.get_errno())\n"
		  "op('open', lambda: libc.open(b'/dev/pr', os.O_RDWR))\n"
		  "op('write', lambda: libc.write(fd, b'abc', 3))\n"
		  "op('ioctl', lambda: libc.ioctl(fd, 0x541b, ctypes.byref(n)))\n"
		  "pfd[0] = fd; pfd[1] = 1  # struct pollfd: fd, POLLIN\n"
		  "op('poll', lambda: libc.poll(pfd, 1, 0))\n"
		  "op('read', lambda: libc.read(fd, buf, 3))\n"
		  "op('fstat', lambda: libc.fstat(fd, st))\n"
		  "op('stat', lambda: libc.stat(b'/dev/pr', st))\n"
		  "op('access', lambda: libc.access(b'/dev/pr', os.R_OK))\n"
		  "op('fcntl', lambda: libc.fcntl(fd, 3))  # F_GETFL\n"
		  "op('dup', lambda: libc.close(libc.dup(fd)))\n"
		  "ok = True\n"
		  "for i in range(16):  # past the point where the channel asks for a ring\n"
		  "    ctypes.set_errno(77)\n"
		  "    ok &= libc.write(fd, b'abc', 3) == 3 and libc.ioctl(fd, 0x541b, "
		  "ctypes.byref(n)) == 0 and libc.read(fd, buf, 3) == 3 and ctypes.get_errno() "
		  "== 77\n"
		  "print('many', ok)\n"
		  "op('close', lambda: libc.close(fd))\n",
		  "open True 77\nwrite True 77\nioctl True 77\npoll True 77\nread True 77\n"
		  "fstat True 77\nstat True 77\naccess True 77\nfcntl True 77\ndup True 77\n"
		  "many True\nclose True 77\n");
	expect_balanced(1);
}

Test(process, raw_syscall_calls_reach_the_device)
{
	start();
	expect_py("import ctypes, os\n"
		  "libc = ctypes.CDLL(None, use_errno=True)\n"
		  "sc = libc.syscall\n"
		  "sc.restype = ctypes.c_long\n"
		  "fd = sc(257, -100, b'/dev/pr', os.O_RDWR, 0)  # openat(AT_FDCWD, ...)\n"
		  "print(fd >= 0)\n"
		  "print(sc(1, fd, b'raw-call', 8))  # write\n"
		  "n = ctypes.c_int(-1)\n"
		  "print(sc(16, fd, 0x541b, ctypes.byref(n)), n.value)  # ioctl FIONREAD\n"
		  "buf = ctypes.create_string_buffer(16)\n"
		  "print(sc(0, fd, buf, 16), buf.value)  # read\n"
		  "print(sc(3, fd))  # close\n"
		  "print(sc(39) == os.getpid())  # getpid, untouched\n"
		  "print(sc(257, -100, b'/dev/nosuch', 0, 0), ctypes.get_errno() == 2)\n",
		  "True\n8\n0 8\n8 b'raw-call'\n0\nTrue\n-1 True\n");
	expect_balanced(1);
}

/* Another preload library's constructor opens the device.  Which
 * constructor runs first is the loader's choice (here it runs ours first
 * in both orders, so this shows both orders work; a call before ours is
 * a_device_call_before_the_shims_constructor). */
Test(process, another_preloads_constructor_opens_the_device)
{
	char o1[600], o2[600], libs[600], *out = NULL;

	start();
	snprintf(libs, sizeof(libs), "%s %s", h_stage("libearly.so"), h_stage("libcuseshim.so"));
	h_preload_var(o1, sizeof(o1), libs);
	snprintf(libs, sizeof(libs), "%s %s", h_stage("libcuseshim.so"), h_stage("libearly.so"));
	h_preload_var(o2, sizeof(o2), libs);
	cr_assert_eq(H_RUN(0, NULL, "env", o1, H_CLIENT_ASAN, "EARLY_DEV=/dev/pr", "true"), 0);
	cr_assert_eq(H_RUN(0, NULL, "env", o2, H_CLIENT_ASAN, "EARLY_DEV=/dev/pr", "true"), 0);
	cr_assert_eq(H_RUN(H_SHIM, &out, "cat", "/dev/pr"), 0);
	cr_expect_str_eq(out, "early\nearly\n");
	free(out);
}

/* A device call before the shim's constructor has run: the program's
 * .preinit_array comes before every library's initialiser, and the shim
 * initialises itself on that first call. */
Test(process, a_device_call_before_the_shims_constructor)
{
	char *out = NULL;

#ifdef CUSESHIM_SAN_RUNTIME
	/* the instrumented shim needs ASan's runtime set up first, and a
	 * preloaded libasan is set up only after .preinit_array */
	cr_skip_test("not with the ASan-instrumented shim");
#endif
	start();
	cr_assert_eq(H_RUN(H_SHIM, NULL, h_stage("preinitprobe"), "/dev/pr"), 0);
	cr_assert_eq(H_RUN(H_SHIM, &out, "cat", "/dev/pr"), 0);
	cr_expect_str_eq(out, "preinit\nmain\n");
	free(out);
}

/* A set-user-ID program runs without LD_PRELOAD (the loader's secure
 * mode), so without the devices: the exec says so instead of leaving an
 * ENOENT to puzzle over; a plain program says nothing. */
Test(process, exec_of_a_setuid_program_says_it_sees_no_devices)
{
	char prog[600], cmd[1300], *out = NULL, *err = NULL;
	struct statvfs vfs;

	if (!h_root())
		cr_skip_test("needs root to make a set-user-ID program");
	if (statvfs(h_dir(), &vfs) == 0 && (vfs.f_flag & ST_NOSUID))
		cr_skip_test("the test directory is mounted nosuid");
	snprintf(prog, sizeof(prog), "%s/suidtrue", h_dir());
	snprintf(cmd, sizeof(cmd), "cp /bin/true '%s' && chmod 4755 '%s'", prog, prog);
	cr_assert_eq(system(cmd), 0);
	start();
	cr_assert_eq(h_run(H_SHIM, NULL, &out, &err, (const char *const[]){"sh", "-c", prog, NULL}),
		     0);
	cr_expect(strstr(err, "suidtrue is set-user-ID: the loader drops LD_PRELOAD"), "%s", err);
	free(out);
	free(err);
	cr_assert_eq(
		h_run(H_SHIM, NULL, &out, &err, (const char *const[]){"sh", "-c", "true", NULL}),
		0);
	cr_expect_str_eq(err, "");
	free(out);
	free(err);
}

Test(process, closefrom_keeps_the_device_working)
{
	char *out = NULL;

	start();
	/* closefrom above the device fd sweeps the shim's own fds too */
	cr_assert_eq(H_RUN(H_SHIM, &out, h_stage("rwprobe"), "open:/dev/pr:rw", "write:2",
			   "closefrom:4", "write:2", "read:9", "closefrom:3", "open:/dev/pr:r",
			   "read:9"),
		     0);
	cr_expect_str_eq(out, "open=3\nwrite=2\nclosefrom\nwrite=2\nread=4 data=aaaa\n"
			      "closefrom\nopen=3\nread=0 data=\n");
	free(out);
	expect_balanced(2);
}
