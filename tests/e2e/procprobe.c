/* SPDX-License-Identifier: MIT */
/*
 * procprobe: a client the end-to-end tests run under the shim to use a
 * device across processes (fork, vfork, exec, popen), around the shim's
 * own fds, with the program's own signal state, and with NULL paths, and
 * print what came back, one line per step.
 *
 *   procprobe STEP...
 *     open:PATH[:FLAGS]   FLAGS from r w rw, +c(loexec)   -> "open=FD"
 *     fd:N                use fd N from now on
 *     write:TEXT / read:N / close / getfd / fionread
 *     isdev:N             is fd N a character device?  -> "isdev:N=yes|no|EBADF"
 *     forkhammer:N        FIONREAD, fork; parent and child both make N rounds of
 *                         write, FIONREAD and read on the one fd at once,
 *                         sizes odd in the parent, even in the child, and
 *                         check every count   -> "hammer child=ok ..." lines
 *     exec:STEPS          execv this program with STEPS (comma-separated)
 *     vforkexec:N:STEPS   vfork; the child dup2s the fd to N (unless N is
 *                         -1), closes the fd and execs STEPS; the parent
 *                         waits                -> "vforkexec=STATUS"
 *     popenw:PATH:TEXT    popen("cat > PATH", "w"), write TEXT, pclose
 *     popenr:PATH         popen("cat PATH", "r"), read, pclose
 *     fdopenclose         fdopen the fd, fclose, then close(2) the number
 *     nofile:N            the soft RLIMIT_NOFILE
 *     internal            sockets and ring memfds in /proc/self/fd this
 *                         program did not open
 *                         -> "internal=none|some high=yes|no"
 *     dup2internal        dup2 /dev/null onto each of them; each must then
 *                         be the program's: /dev/null, and closable
 *     dup2all / closeall  dup2 /dev/null onto, or close, every fd number
 *                         from 3 to the limit but the fd
 *     sigsetup            own handlers for SIGINT SIGTERM SIGCHLD SIGPIPE
 *                         SIGSYS, SIGUSR2 blocked, a second thread that
 *                         blocks SIGWINCH and uses the device
 *     sigcheck            the dispositions and both masks as set, and
 *                         every handler fires   -> "sigcheck ..." lines
 *     nullpaths           stat, lstat, fstatat, access, faccessat, open,
 *                         openat, fopen, realpath, canonicalize_file_name,
 *                         readlink, readlinkat, the 64-bit and fortified
 *                         opens, creat, stat64 & co, statx, chdir,
 *                         getxattr of NULL
 *     readlinkatdirs      readlinkat of "FD" in /proc/self/fd, "fd/FD" in
 *                         /proc/self
 *     readlinkn:N         readlink("/proc/self/fd/FD") into a 64-byte buffer
 *     readlinkatn:N       with a length N the compiler cannot see
 *                         (__readlink_chk, __readlinkat_chk when fortified)
 * Errors print "STEP=-1 errno=NAME".
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

/* the fortified open's entry points, declared here for the plain build */
int __open_2(const char *, int);
int __openat_2(int, const char *, int);

#define MAX_FDS 4096

static int fd = -1;
static bool mine[MAX_FDS]; /* fds this program opened, and 0 1 2 */

static void own(int n)
{
	if (n >= 0 && n < MAX_FDS)
		mine[n] = true;
}

static const char *ename(int e)
{
	const char *n = strerrorname_np(e);

	return n ? n : "?";
}

static void result(const char *what, long r)
{
	if (r < 0)
		printf("%s=-1 errno=%s\n", what, ename(errno));
	else
		printf("%s=%ld\n", what, r);
}

static void fail(const char *what, long got, long want)
{
	printf("%s failed: got %ld, want %ld (%s)\n", what, got, want, ename(errno));
	fflush(stdout);
	_exit(1);
}

static int parse_flags(const char *s)
{
	int f = O_RDWR;

	if (!s)
		return f;
	if (!strncmp(s, "rw", 2))
		s += 2;
	else if (*s == 'r')
		f = O_RDONLY, s++;
	else if (*s == 'w')
		f = O_WRONLY, s++;
	if (strchr(s, 'c'))
		f |= O_CLOEXEC;
	return f;
}

/* execv this program with the comma-separated @steps. */
static void exec_steps(const char *steps)
{
	char *copy = strdup(steps), *save = NULL, *s;
	char *argv[64];
	int n = 0;

	argv[n++] = "procprobe";
	for (s = strtok_r(copy, ",", &save); s && n < 63; s = strtok_r(NULL, ",", &save))
		argv[n++] = s;
	argv[n] = NULL;
	execv("/proc/self/exe", argv);
	_exit(127);
}

/* ---------------------------------------------------------------- fork */

static void hammer(long rounds, int odd, int ready)
{
	static char buf[4096];
	unsigned seed = (unsigned)getpid();
	long i;

	memset(buf, odd ? 'p' : 'c', sizeof(buf));
	for (i = 0; i < rounds; i++) {
		/* odd sizes in the parent, even in the child: a reply that
		 * went to the wrong process has the wrong count */
		long k = 2 * (1 + rand_r(&seed) % 1000) - odd, n;
		int avail = -1;

		if ((n = write(fd, buf, k)) != k)
			fail("write", n, k);
		/* this process's own bytes are still queued */
		if (ioctl(fd, FIONREAD, &avail) || avail < k)
			fail("fionread", avail, k);
		if ((n = read(fd, buf, k)) != k)
			fail("read", n, k);
		if (i == 0 && ready >= 0) {
			if (write(ready, "r", 1) != 1)
				fail("ready", -1, 1);
			close(ready);
		}
	}
}

static void forkhammer(long rounds)
{
	int p[2], status, avail;
	pid_t kid;
	char c;

	/* the parent's own connection exists before the fork */
	if (ioctl(fd, FIONREAD, &avail))
		fail("fionread", -1, 0);
	if (pipe(p))
		fail("pipe", -1, 0);
	fflush(stdout);
	kid = fork();
	if (kid < 0)
		fail("fork", -1, 0);
	if (kid == 0) {
		close(p[0]);
		hammer(rounds, 0, p[1]);
		printf("hammer child=ok pid=%d\n", (int)getpid());
		fflush(stdout);
		_exit(0);
	}
	close(p[1]);
	/* start once the child has made its first round (it connected) */
	if (read(p[0], &c, 1) != 1)
		fail("child ready", -1, 1);
	close(p[0]);
	hammer(rounds, 1, -1);
	if (waitpid(kid, &status, 0) != kid || !WIFEXITED(status) || WEXITSTATUS(status))
		fail("child", status, 0);
	printf("hammer parent=ok pid=%d child=%d\n", (int)getpid(), (int)kid);
}

static void vforkexec(int target, const char *steps)
{
	int status;
	pid_t kid;

	fflush(stdout);
	kid = vfork();
	if (kid == 0) {
		/* through the shim's wrappers, in memory shared with the
		 * parent: none of this may touch the parent's view */
		if (target >= 0 && target != fd) {
			if (dup2(fd, target) != target)
				_exit(126);
			close(fd);
		}
		exec_steps(steps);
	}
	if (kid < 0 || waitpid(kid, &status, 0) != kid)
		fail("vfork", -1, 0);
	printf("vforkexec=%d\n", WIFEXITED(status) ? WEXITSTATUS(status) : 128);
}

static void popen_step(const char *mode, const char *path, const char *text)
{
	char cmd[PATH_MAX + 16], buf[256];
	size_t n = 0;
	FILE *p;

	snprintf(cmd, sizeof(cmd), mode[0] == 'w' ? "cat > %s" : "cat %s", path);
	fflush(stdout);
	p = popen(cmd, mode);
	if (!p) {
		result(mode[0] == 'w' ? "popenw" : "popenr", -1);
		return;
	}
	if (mode[0] == 'w')
		fputs(text, p);
	else
		n = fread(buf, 1, sizeof(buf), p);
	if (mode[0] == 'w')
		printf("popenw=%d\n", pclose(p));
	else
		printf("popenr=%d data=%.*s\n", pclose(p), (int)n, buf);
}

/* ---------------------------------------------------------------- internal fds */

static int nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) || rl.rlim_cur > MAX_FDS)
		return MAX_FDS;
	return (int)rl.rlim_cur;
}

/* A request ring's memfd (the shim's too, once a thread is busy). */
static bool ring_memfd(int i)
{
	char path[64], target[128];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", i);
	n = readlink(path, target, sizeof(target) - 1);
	if (n < 0)
		return false;
	target[n] = '\0';
	return !strncmp(target, "/memfd:cuseshim-ring", strlen("/memfd:cuseshim-ring"));
}

/* Sockets and ring memfds in /proc/self/fd that this program did not open. */
static int internal_fds(int *out, int max)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (!d)
		return 0;
	while ((e = readdir(d))) {
		int i = atoi(e->d_name);
		struct stat st;

		if (e->d_name[0] < '0' || e->d_name[0] > '9' || i == dirfd(d) ||
		    (i < MAX_FDS && mine[i]))
			continue;
		if (!fstat(i, &st) && (S_ISSOCK(st.st_mode) || ring_memfd(i)) && n < max)
			out[n++] = i;
	}
	closedir(d);
	return n;
}

static void internal(void)
{
	int fds[64], n = internal_fds(fds, 64), i, high = 1;

	for (i = 0; i < n; i++)
		high &= fds[i] >= nofile() / 2;
	printf("internal=%s high=%s\n", n ? "some" : "none", high ? "yes" : "no");
}

static void dup2internal(void)
{
	int fds[64], n = internal_fds(fds, 64), i, owned = 0;
	int null = open("/dev/null", O_RDONLY);

	for (i = 0; i < n; i++) {
		struct stat st;

		if (dup2(null, fds[i]) != fds[i])
			continue;
		if (!fstat(fds[i], &st) && S_ISCHR(st.st_mode) && st.st_rdev == makedev(1, 3) &&
		    !close(fds[i]))
			owned++;
	}
	close(null);
	printf("dup2internal=%d owned=%d\n", n, owned);
}

static void every_fd(bool dup)
{
	int null = dup ? open("/dev/null", O_RDONLY) : -1, i, lim = nofile(), failed = 0;

	for (i = 3; i < lim; i++) {
		if (i == fd || i == null)
			continue;
		if (dup) {
			if (dup2(null, i) != i)
				failed++;
			else
				own(i);
		} else {
			close(i);
		}
	}
	if (dup) {
		close(null);
		printf("dup2all failed=%d\n", failed);
	} else {
		printf("closeall\n");
	}
}

/* ---------------------------------------------------------------- signals */

static const int sigs[] = {SIGINT, SIGTERM, SIGCHLD, SIGPIPE, SIGSYS};
#define NSIGS (sizeof(sigs) / sizeof(sigs[0]))
static struct sigaction set_to[NSIGS];
static volatile sig_atomic_t fired[NSIGS];
static sigset_t main_mask, thread_mask, thread_saw;
static pthread_t sig_thread;
static int thread_go[2], thread_used[2];

static void on_signal(int sig)
{
	size_t i;

	for (i = 0; i < NSIGS; i++)
		if (sigs[i] == sig)
			fired[i]++;
}

static void on_siginfo(int sig, siginfo_t *si, void *uc)
{
	(void)si;
	(void)uc;
	on_signal(sig);
}

static bool same_mask(const sigset_t *a, const sigset_t *b)
{
	int s;

	for (s = 1; s < SIGRTMIN; s++)
		if (sigismember(a, s) != sigismember(b, s))
			return false;
	return true;
}

static void *sig_thread_main(void *arg)
{
	struct pollfd p = {.fd = fd, .events = POLLOUT};
	int avail;
	char c;

	(void)arg;
	pthread_sigmask(SIG_BLOCK, &thread_mask, NULL);
	pthread_sigmask(SIG_BLOCK, NULL, &thread_mask);
	if (ioctl(fd, FIONREAD, &avail) || poll(&p, 1, 1000) != 1)
		printf("sigthread device use failed (%s)\n", ename(errno));
	if (write(thread_used[1], "u", 1) != 1)
		printf("sigthread: cannot say it is done\n");
	/* wait for sigcheck, then say what the mask is now */
	if (read(thread_go[0], &c, 1) != 1)
		printf("sigthread: no go\n");
	pthread_sigmask(SIG_BLOCK, NULL, &thread_saw);
	return NULL;
}

static void sigsetup(void)
{
	char c;
	static const int flags[NSIGS] = {SA_RESTART, SA_SIGINFO | SA_NODEFER,
					 SA_NOCLDSTOP | SA_RESTART, 0, SA_SIGINFO | SA_ONSTACK};
	size_t i;

	for (i = 0; i < NSIGS; i++) {
		struct sigaction sa = {.sa_flags = flags[i]};

		if (flags[i] & SA_SIGINFO)
			sa.sa_sigaction = on_siginfo;
		else
			sa.sa_handler = on_signal;
		sigemptyset(&sa.sa_mask);
		sigaddset(&sa.sa_mask, SIGUSR1);
		sigaddset(&sa.sa_mask, SIGRTMIN - 1 - (int)i);
		sigaction(sigs[i], &sa, NULL);
		sigaction(sigs[i], NULL, &set_to[i]); /* as the kernel keeps it */
	}
	sigemptyset(&main_mask);
	sigaddset(&main_mask, SIGUSR2);
	sigprocmask(SIG_BLOCK, &main_mask, NULL);
	sigprocmask(SIG_BLOCK, NULL, &main_mask);
	sigemptyset(&thread_mask);
	sigaddset(&thread_mask, SIGWINCH);
	if (pipe(thread_go) || pipe(thread_used) ||
	    pthread_create(&sig_thread, NULL, sig_thread_main, NULL))
		fail("sigsetup", -1, 0);
	/* the thread has used the device */
	if (read(thread_used[0], &c, 1) != 1)
		fail("sigthread", -1, 1);
	printf("sigsetup\n");
}

static void sigcheck(void)
{
	sigset_t now;
	size_t i;
	int p[2];

	for (i = 0; i < NSIGS; i++) {
		struct sigaction sa;

		sigaction(sigs[i], NULL, &sa);
		printf("sigcheck %s=%s\n", sigabbrev_np(sigs[i]),
		       sa.sa_handler == set_to[i].sa_handler && sa.sa_flags == set_to[i].sa_flags &&
				       same_mask(&sa.sa_mask, &set_to[i].sa_mask)
			       ? "same"
			       : "changed");
	}
	sigprocmask(SIG_BLOCK, NULL, &now);
	printf("sigcheck mask=%s\n", same_mask(&now, &main_mask) ? "same" : "changed");
	if (write(thread_go[1], "g", 1) != 1)
		fail("thread go", -1, 1);
	pthread_join(sig_thread, NULL);
	printf("sigcheck thread mask=%s\n",
	       same_mask(&thread_saw, &thread_mask) && sigismember(&thread_saw, SIGWINCH)
		       ? "same"
		       : "changed");
	/* and each handler runs */
	raise(SIGINT);
	raise(SIGTERM);
	raise(SIGCHLD);
	raise(SIGSYS);
	if (pipe(p) == 0) {
		close(p[0]);
		if (write(p[1], "x", 1) != -1 || errno != EPIPE)
			printf("sigcheck write to a broken pipe did not fail EPIPE\n");
		close(p[1]);
	}
	printf("sigcheck fired");
	for (i = 0; i < NSIGS; i++)
		printf(" %s=%d", sigabbrev_np(sigs[i]), (int)fired[i]);
	printf("\n");
}

/* ---------------------------------------------------------------- paths */

/* Each call in a child of its own: a crash is one line, not the end. */
#define NULL_CALL(name, expr)                                                                      \
	do {                                                                                       \
		pid_t kid_;                                                                        \
		int status_;                                                                       \
                                                                                                   \
		fflush(stdout);                                                                    \
		if ((kid_ = fork()) == 0) {                                                        \
			result(name, (long)(expr));                                                \
			fflush(stdout);                                                            \
			_exit(0);                                                                  \
		}                                                                                  \
		waitpid(kid_, &status_, 0);                                                        \
		if (!WIFEXITED(status_))                                                           \
			printf("%s=killed by %s\n", name, sigabbrev_np(WTERMSIG(status_)));        \
	} while (0)

static void nullpaths(void)
{
	const char *volatile none = NULL; /* as a careless program passes it */
	char buf[PATH_MAX];
	struct stat st;
	struct stat64 st64;
	struct statx stx;

	NULL_CALL("stat", stat(none, &st));
	NULL_CALL("lstat", lstat(none, &st));
	NULL_CALL("fstatat", fstatat(AT_FDCWD, none, &st, 0));
	NULL_CALL("access", access(none, F_OK));
	NULL_CALL("faccessat", faccessat(AT_FDCWD, none, R_OK, 0));
	NULL_CALL("open", open(none, O_RDONLY));
	NULL_CALL("openat", openat(AT_FDCWD, none, O_RDWR));
	NULL_CALL("fopen", fopen(none, "r") ? 0 : -1);
	NULL_CALL("realpath", realpath(none, buf) ? 0 : -1);
	NULL_CALL("canonicalize_file_name", canonicalize_file_name(none) ? 0 : -1);
	NULL_CALL("readlink", readlink(none, buf, sizeof(buf)));
	NULL_CALL("readlinkat", readlinkat(AT_FDCWD, none, buf, sizeof(buf)));
	NULL_CALL("open64", open64(none, O_RDONLY));
	NULL_CALL("openat64", openat64(AT_FDCWD, none, O_RDONLY));
	NULL_CALL("__open_2", __open_2(none, O_RDONLY));
	NULL_CALL("__openat_2", __openat_2(AT_FDCWD, none, O_RDONLY));
	NULL_CALL("creat", creat(none, 0600));
	NULL_CALL("creat64", creat64(none, 0600));
	NULL_CALL("fopen64", fopen64(none, "r") ? 0 : -1);
	NULL_CALL("stat64", stat64(none, &st64));
	NULL_CALL("lstat64", lstat64(none, &st64));
	NULL_CALL("fstatat64", fstatat64(AT_FDCWD, none, &st64, 0));
	NULL_CALL("statx", statx(AT_FDCWD, none, 0, STATX_BASIC_STATS, &stx));
	NULL_CALL("chdir", chdir(none));
	NULL_CALL("getxattr", getxattr(none, "user.x", buf, sizeof(buf)));
	NULL_CALL("lgetxattr", lgetxattr(none, "user.x", buf, sizeof(buf)));
}

static void readlink_step(const char *what, long len)
{
	char link[64], target[64];
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	/* the length is not a constant: fortified, these are the _chk forms */
	if (what[8] == 'a')
		n = readlinkat(AT_FDCWD, link, target, len);
	else
		n = readlink(link, target, len);
	if (n < 0)
		result(what, n);
	else
		printf("%s=%.*s\n", what, (int)n, target);
}

/* readlinkat of "N" in /proc/self/fd and of "fd/N" in /proc/self. */
static void readlinkat_dirs(void)
{
	static const char *const dirs[] = {"/proc/self/fd", "/proc/self"};
	char name[32], target[64];
	int i;

	printf("readlinkatdirs");
	for (i = 0; i < 2; i++) {
		int dir = open(dirs[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		ssize_t n;

		snprintf(name, sizeof(name), "%s%d", i ? "fd/" : "", fd);
		n = readlinkat(dir, name, target, sizeof(target));
		if (n < 0)
			printf(" %s=%s", name, ename(errno));
		else
			printf(" %s=%.*s", name, (int)n, target);
		close(dir);
	}
	printf("\n");
}

/* ---------------------------------------------------------------- steps */

static void step(char *s)
{
	char *arg = strchr(s, ':'), *arg2 = NULL, *rest = NULL;
	long a = 0;

	if (arg) {
		*arg++ = '\0';
		rest = arg;
		a = strtol(arg, NULL, 0);
		arg2 = strchr(arg, ':');
		if (arg2)
			arg2++;
	}
	if (!strcmp(s, "open")) {
		if (arg2)
			arg2[-1] = '\0';
		fd = open(arg, parse_flags(arg2));
		own(fd);
		result("open", fd);
	} else if (!strcmp(s, "fd")) {
		fd = (int)a;
		own(fd);
	} else if (!strcmp(s, "write")) {
		result("write", write(fd, arg, strlen(arg)));
	} else if (!strcmp(s, "read")) {
		char buf[256];
		ssize_t n = read(fd, buf, a < (long)sizeof(buf) ? (size_t)a : sizeof(buf));

		if (n < 0)
			result("read", n);
		else
			printf("read=%zd data=%.*s\n", n, (int)n, buf);
	} else if (!strcmp(s, "close")) {
		result("close", close(fd));
	} else if (!strcmp(s, "getfd")) {
		result("getfd", fcntl(fd, F_GETFD));
	} else if (!strcmp(s, "fionread")) {
		int n = -1;

		if (ioctl(fd, FIONREAD, &n) < 0)
			result("fionread", -1);
		else
			printf("fionread=%d\n", n);
	} else if (!strcmp(s, "isdev")) {
		struct stat st;

		if (fstat((int)a, &st))
			printf("isdev:%ld=%s\n", a, ename(errno));
		else
			printf("isdev:%ld=%s\n", a, S_ISCHR(st.st_mode) ? "yes" : "no");
	} else if (!strcmp(s, "forkhammer")) {
		forkhammer(a);
	} else if (!strcmp(s, "exec")) {
		fflush(stdout);
		exec_steps(rest);
	} else if (!strcmp(s, "vforkexec")) {
		vforkexec((int)a, arg2 ? arg2 : "");
	} else if (!strcmp(s, "popenw") || !strcmp(s, "popenr")) {
		if (arg2)
			arg2[-1] = '\0';
		popen_step(s + 5, arg, arg2 ? arg2 : "");
	} else if (!strcmp(s, "fdopenclose")) {
		FILE *f = fdopen(fd, "r+");

		if (!f) {
			result("fdopen", -1);
		} else {
			result("fclose", fclose(f));
			result("close", close(fd));
		}
	} else if (!strcmp(s, "nofile")) {
		struct rlimit rl;

		getrlimit(RLIMIT_NOFILE, &rl);
		rl.rlim_cur = (rlim_t)a;
		result("nofile", setrlimit(RLIMIT_NOFILE, &rl));
	} else if (!strcmp(s, "internal")) {
		internal();
	} else if (!strcmp(s, "dup2internal")) {
		dup2internal();
	} else if (!strcmp(s, "dup2all") || !strcmp(s, "closeall")) {
		every_fd(s[0] == 'd');
	} else if (!strcmp(s, "sigsetup")) {
		sigsetup();
	} else if (!strcmp(s, "sigcheck")) {
		sigcheck();
	} else if (!strcmp(s, "nullpaths")) {
		nullpaths();
	} else if (!strcmp(s, "readlinkatdirs")) {
		readlinkat_dirs();
	} else if (!strcmp(s, "readlinkn") || !strcmp(s, "readlinkatn")) {
		readlink_step(s, a);
	} else {
		fprintf(stderr, "procprobe: unknown step '%s'\n", s);
		exit(2);
	}
	fflush(stdout);
}

int main(int argc, char **argv)
{
	int i;

	own(0);
	own(1);
	own(2);
	for (i = 1; i < argc; i++)
		step(argv[i]);
	return 0;
}
