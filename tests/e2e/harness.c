/* SPDX-License-Identifier: MIT */
/* End-to-end test helpers (see harness.h). */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "harness.h"

#define TEST_UID       65534
#define TEST_GID       65534
#define OTHER_UID      65533
#define MAX_DRIVERS    16
#define VALGRIND_ERROR 99

static char dir[64];
static char stage_path[8][512];
static unsigned stage_next;
static pid_t drivers[MAX_DRIVERS];
static int ndrivers;

bool h_root(void)
{
	return geteuid() == 0;
}

const char *h_dir(void)
{
	return dir;
}

const char *h_stage(const char *file)
{
	const char *stage = getenv("CUSESHIM_STAGE");
	char *p = stage_path[stage_next++ % 8];

	cr_assert(stage, "CUSESHIM_STAGE is not set: run the tests with make check");
	snprintf(p, sizeof(stage_path[0]), "%s/%s", stage, file);
	return p;
}

const char *h_lock_holder(char *buf, size_t size, const char *dev, const char *pylock, int hold_ms)
{
	snprintf(buf, size,
		 "f=/tmp/held.$$; python3 -c \"import fcntl, os, sys, time\n"
		 "fd = os.open('/dev/%s', os.O_RDWR)\n"
		 "fcntl.%s(fd, fcntl.LOCK_EX)\n"
		 "open(sys.argv[1], 'w').close()\n"
		 "time.sleep(%d / 1000)\" $f & "
		 "while [ ! -e $f ]; do sleep 0.02; done; rm -f $f; ",
		 dev, pylock, hold_ms);
	return buf;
}

void h_msleep(int ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void rm_rf(const char *path)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
	if (system(cmd) != 0)
		fprintf(stderr, "harness: could not remove %s\n", path);
}

void h_setup(void)
{
	strcpy(dir, "/tmp/cse.XXXXXX");
	cr_assert(mkdtemp(dir), "mkdtemp: %s", strerror(errno));
	cr_assert(!chmod(dir, 0755));
	if (h_root())
		cr_assert(!chown(dir, TEST_UID, TEST_GID));
	ndrivers = 0;
}

/* Under valgrind, a driver that is still running ends with SIGTERM so
 * that valgrind can check it; its verdict is the exit status. */
static bool stop_checked(pid_t pid)
{
	int status, i;

	kill(pid, SIGTERM);
	for (i = 0; i < 1000; i++) {
		pid_t r = waitpid(pid, &status, WNOHANG);

		if (r == pid) {
			cr_expect(!(WIFEXITED(status) && WEXITSTATUS(status) == VALGRIND_ERROR),
				  "valgrind found errors in the driver: see the log above");
			return true; /* reaped: its pid may be someone else's now */
		}
		if (r < 0)
			return false; /* not our child (a daemon) */
		h_msleep(10);
	}
	return false;
}

void h_teardown(void)
{
	int i;

	for (i = 0; i < ndrivers; i++)
		if (drivers[i] > 0) {
			if (getenv("CUSESHIM_VALGRIND") && stop_checked(drivers[i]))
				continue;
			kill(-drivers[i], SIGKILL);
			kill(drivers[i], SIGKILL);
			waitpid(drivers[i], NULL, 0); /* ECHILD for a daemon: fine */
		}
	ndrivers = 0;
	if (dir[0] && getenv("CUSESHIM_KEEP_TEST_DIRS"))
		fprintf(stderr, "harness: keeping %s\n", dir);
	else if (dir[0])
		rm_rf(dir);
}

/* In a child: become the test user, die with the test, get our env. */
static void child_setup(int flags)
{
	const char *stage = getenv("CUSESHIM_STAGE");
	char buf[600];

	setpgid(0, 0);
	/* Nothing of the test runner's leaks into the program. */
	syscall(SYS_close_range, 3, ~0U, 0);
	if (h_root() && !(flags & H_KEEP_ROOT)) {
		uid_t uid = (flags & H_AS_OTHER) ? OTHER_UID : TEST_UID;

		gid_t groups[2] = {100, 27};

		gid_t gid = (flags & H_NOGROUP) ? 65533 : TEST_GID;

		if (setgroups((flags & H_GROUPS) ? 2 : 0, groups) || setresgid(gid, gid, gid) ||
		    setresuid(uid, uid, uid)) {
			perror("harness: dropping privileges");
			_exit(126);
		}
	}
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	{
		char *asan = getenv("ASAN_OPTIONS"), *ubsan = getenv("UBSAN_OPTIONS");

		asan = asan ? strdup(asan) : NULL;
		ubsan = ubsan ? strdup(ubsan) : NULL;
		clearenv();
		if (asan)
			setenv("ASAN_OPTIONS", asan, 1);
		if (ubsan)
			setenv("UBSAN_OPTIONS", ubsan, 1);
	}
	setenv("PATH", "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin", 1);
	setenv("LC_ALL", "C", 1);
	setenv("HOME", "/tmp", 1);
	if (flags & H_REGISTRY_SUBDIR) {
		char sub[600];

		snprintf(sub, sizeof(sub), "%s/new/reg", dir);
		setenv("CUSE_DIR", sub, 1);
	} else if (!(flags & H_NODIR)) {
		setenv("CUSE_DIR", dir, 1);
	}
	if (flags & H_MODE660)
		setenv("CUSED_MODE", "0660", 1);
	if (flags & H_MODE604)
		setenv("CUSED_MODE", "0604", 1);
	snprintf(buf, sizeof(buf), "%s", stage ? stage : "/nonexistent");
	setenv("LD_LIBRARY_PATH", buf, 1);
	if (flags & H_PRELOAD) {
#ifdef CUSESHIM_SAN_RUNTIME
		/* the instrumented shim: as cuse-run does */
		const char *opts = getenv("ASAN_OPTIONS");
		char o[512];

		snprintf(buf, sizeof(buf), "%s %s/libcuseshim.so", CUSESHIM_SAN_RUNTIME,
			 stage ? stage : "");
		snprintf(o, sizeof(o), "%s%sdetect_leaks=0:verify_asan_link_order=0",
			 opts ? opts : "", opts ? ":" : "");
		setenv("ASAN_OPTIONS", o, 1);
#else
		snprintf(buf, sizeof(buf), "%s/libcuseshim.so", stage ? stage : "");
#endif
		setenv("LD_PRELOAD", buf, 1);
	}
	if (chdir("/tmp")) {
		/* stay where we are */
	}
}

static void append(char **buf, size_t *len, const char *data, size_t n)
{
	*buf = realloc(*buf, *len + n + 1);
	memcpy(*buf + *len, data, n);
	*len += n;
	(*buf)[*len] = '\0';
}

int h_run(int flags, const char *in, char **out, char **err, const char *const argv[])
{
	int pin[2], pout[2], perr[2], status = 0;
	const char *args[64];
	char *obuf = NULL, *ebuf = NULL;
	size_t olen = 0, elen = 0, n = 0, inlen = in ? strlen(in) : 0, inoff = 0;
	long deadline = now_ms() + 60000;
	bool open_out = true, open_err = true;
	pid_t pid;

	if (flags & H_SHIM) {
		args[n++] = h_stage("cuse-run");
		args[n++] = "--";
	}
	for (; *argv && n < 63; argv++)
		args[n++] = *argv;
	args[n] = NULL;
	cr_assert(!pipe2(pin, O_CLOEXEC) && !pipe2(pout, O_CLOEXEC) && !pipe2(perr, O_CLOEXEC));
	append(&obuf, &olen, "", 0);
	append(&ebuf, &elen, "", 0);
	pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		dup2(pin[0], 0);
		dup2(pout[1], 1);
		dup2(perr[1], 2);
		child_setup(flags);
		execvp(args[0], (char *const *)args);
		fprintf(stderr, "harness: exec %s: %s\n", args[0], strerror(errno));
		_exit(127);
	}
	close(pin[0]);
	close(pout[1]);
	close(perr[1]);
	if (!inlen) {
		close(pin[1]);
		pin[1] = -1;
	} else {
		fcntl(pin[1], F_SETFL, O_NONBLOCK);
	}
	signal(SIGPIPE, SIG_IGN);
	while (open_out || open_err) {
		struct pollfd p[3] = {
			{pout[0], POLLIN, 0}, {perr[0], POLLIN, 0}, {pin[1], POLLOUT, 0}};
		long left = deadline - now_ms();
		char buf[4096];
		ssize_t r;

		if (!open_out)
			p[0].fd = -1;
		if (!open_err)
			p[1].fd = -1;
		if (left <= 0 || poll(p, 3, left) == 0) {
			kill(-pid, SIGKILL);
			kill(pid, SIGKILL);
			status = -1;
			break;
		}
		if (p[0].revents) {
			r = read(pout[0], buf, sizeof(buf));
			if (r > 0)
				append(&obuf, &olen, buf, r);
			else
				open_out = false;
		}
		if (p[1].revents) {
			r = read(perr[0], buf, sizeof(buf));
			if (r > 0)
				append(&ebuf, &elen, buf, r);
			else
				open_err = false;
		}
		if (pin[1] >= 0 && p[2].revents) {
			r = write(pin[1], in + inoff, inlen - inoff);
			if (r > 0)
				inoff += r;
			if (r < 0 || inoff == inlen) {
				close(pin[1]);
				pin[1] = -1;
			}
		}
	}
	if (pin[1] >= 0)
		close(pin[1]);
	close(pout[0]);
	close(perr[0]);
	if (status == -1) {
		waitpid(pid, NULL, 0);
	} else {
		waitpid(pid, &status, 0);
		status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	}
	if (elen && !err)
		fprintf(stderr, "[%s stderr] %s", args[0], ebuf);
	if (out)
		*out = obuf;
	else
		free(obuf);
	if (err)
		*err = ebuf;
	else
		free(ebuf);
	return status;
}

int h_driver_start_argv(struct h_driver *d, const char *name, const char *const argv[], int flags)
{
	const char *args[64];
	char attr[600], want[32];
	long deadline;
	size_t n = 0;
	pid_t pid;
	int fd;

	memset(d, 0, sizeof(*d));
	snprintf(d->name, sizeof(d->name), "%s", name);
	snprintf(d->log, sizeof(d->log), "%s/%s.log", dir, name);
	snprintf(d->err, sizeof(d->err), "%s/%s.err", dir, name);
	for (char *p = strchr(d->log + strlen(dir) + 1, '/'); p; p = strchr(p, '/'))
		*p = '_';
	for (char *p = strchr(d->err + strlen(dir) + 1, '/'); p; p = strchr(p, '/'))
		*p = '_';
	if (getenv("CUSESHIM_VALGRIND") && argv[0][0] != '/') {
		/* the driver side under memcheck: errors and definite leaks
		 * end it with VALGRIND_ERROR, reported at teardown */
		args[n++] = "valgrind";
		args[n++] = "-q";
		args[n++] = "--leak-check=full";
		args[n++] = "--errors-for-leak-kinds=definite";
		args[n++] = "--error-exitcode=99";
	}
	args[n++] = argv[0][0] == '/' ? argv[0] : h_stage(argv[0]);
	for (argv++; *argv && n < 63; argv++)
		args[n++] = *argv;
	args[n] = NULL;
	fd = open(d->err, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
	cr_assert(fd >= 0);
	if (h_root() && fchown(fd, TEST_UID, TEST_GID)) {
		/* the driver may not be able to write it */
	}
	pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		int nul = open("/dev/null", O_RDONLY);

		dup2(nul, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		child_setup(flags);
		execvp(args[0], (char *const *)args);
		fprintf(stderr, "harness: exec %s: %s\n", args[0], strerror(errno));
		_exit(127);
	}
	close(fd);
	d->pid = pid;
	cr_assert(ndrivers < MAX_DRIVERS);
	drivers[ndrivers++] = pid;
	{
		const char *base = strrchr(name, '/');
		char regdir[300];

		if (flags & H_REGISTRY_SUBDIR)
			snprintf(regdir, sizeof(regdir), "%s/new/reg", dir);
		else if (flags & H_NODIR)
			snprintf(regdir, sizeof(regdir), "/tmp/cuse-%u",
				 h_root() ? TEST_UID : (unsigned)geteuid());
		else
			snprintf(regdir, sizeof(regdir), "%s", dir);
		if (base)
			snprintf(attr, sizeof(attr), "%s/%.*s/.%s.attr", regdir, (int)(base - name),
				 name, base + 1);
		else
			snprintf(attr, sizeof(attr), "%s/.%s.attr", regdir, name);
	}
	/* Published: the attribute line names this very driver (or, for a
	 * driver in its own pid namespace, any driver). */
	snprintf(want, sizeof(want), (flags & H_ANYPID) ? " pid=" : " pid=%d ", (int)pid);
	for (deadline = now_ms() + 10000; now_ms() < deadline; h_msleep(5)) {
		char line[512] = "";
		FILE *f = fopen(attr, "re");
		int status;

		if (f) {
			if (!fgets(line, sizeof(line), f))
				line[0] = '\0';
			fclose(f);
			if (strstr(line, want))
				return 0;
		}
		if (waitpid(pid, &status, WNOHANG) == pid) {
			d->pid = -1;
			return -1;
		}
	}
	return -1;
}

static int start_bufdev(struct h_driver *d, const char *name, const char *const extra[], bool eof)
{
	const char *args[32];
	char namearg[200], logarg[600];
	size_t n = 0;

	snprintf(namearg, sizeof(namearg), "--name=%s", name);
	if (getenv("CUSESHIM_DROPIN")) {
		/* the acceptance suites again, against bufdev linked with
		 * Debian's libfuse3 and run unmodified under `cused run`; with
		 * CUSESHIM_DROPIN=bridge, through cuse-bridge on /dev/cuse */
		const char *drv = getenv("CUSESHIM_DROPIN_DRIVER");

		args[n++] = "cused";
		args[n++] = "run";
		if (!strcmp(getenv("CUSESHIM_DROPIN"), "bridge"))
			args[n++] = "--bridge";
		args[n++] = "--";
		args[n++] = h_stage(drv && *drv ? drv : "realfuse-bufdev");
	} else {
		args[n++] = "bufdev";
	}
	args[n++] = "-f";
	args[n++] = namearg;
	args[n++] = logarg;
	if (eof)
		args[n++] = "--eof";
	for (; extra && *extra && n < 31; extra++)
		args[n++] = *extra;
	args[n] = NULL;
	/* the log path is known only once d->log is set */
	snprintf(logarg, sizeof(logarg), "--log=%s/%s.log", dir, name);
	for (char *p = strchr(logarg + strlen("--log=") + strlen(dir) + 1, '/'); p;
	     p = strchr(p, '/'))
		*p = '_';
	return h_driver_start_argv(d, name, args, 0);
}

bool h_bridged(void)
{
	const char *d = getenv("CUSESHIM_DROPIN");

	return d && !strcmp(d, "bridge");
}

bool h_poll_events(void)
{
	const char *drv = getenv("CUSESHIM_DROPIN_DRIVER");

	return !getenv("CUSESHIM_DROPIN") || !drv || strncmp(drv, "fuse2", 5);
}

int h_driver_start(struct h_driver *d, const char *name, const char *const extra[])
{
	return start_bufdev(d, name, extra, true);
}

int h_driver_start_blocking(struct h_driver *d, const char *name, const char *const extra[])
{
	return start_bufdev(d, name, extra, false);
}

void h_track_pid(pid_t pid)
{
	cr_assert(ndrivers < MAX_DRIVERS);
	drivers[ndrivers++] = pid;
}

pid_t h_registry_pid(const char *name)
{
	char path[600], line[512] = "";
	const char *p;
	FILE *f;

	snprintf(path, sizeof(path), "%s/.%s.attr", dir, name);
	f = fopen(path, "re");
	if (!f)
		return -1;
	if (!fgets(line, sizeof(line), f))
		line[0] = '\0';
	fclose(f);
	p = strstr(line, " pid=");
	return p ? (pid_t)atoi(p + 5) : -1;
}

void h_driver_stop(struct h_driver *d, int sig)
{
	if (d->pid > 0)
		kill(d->pid, sig);
}

int h_driver_wait(struct h_driver *d, int timeout_ms)
{
	long deadline = now_ms() + timeout_ms;
	int status;

	if (d->pid <= 0)
		return -1;
	while (now_ms() < deadline) {
		if (waitpid(d->pid, &status, WNOHANG) == d->pid) {
			int i;

			for (i = 0; i < ndrivers; i++)
				if (drivers[i] == d->pid)
					drivers[i] = 0;
			d->pid = 0;
			return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
		}
		h_msleep(5);
	}
	return -1;
}

char *h_log(const struct h_driver *d)
{
	FILE *f = fopen(d->log, "re");
	char *buf = NULL;
	size_t len = 0;
	char chunk[4096];
	size_t n;

	if (!f)
		return strdup("");
	buf = calloc(1, 1);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		append(&buf, &len, chunk, n);
	fclose(f);
	return buf;
}

char *h_driver_story(const struct h_driver *d)
{
	char *log = h_log(d), *buf = calloc(1, 1), chunk[4096];
	size_t len = 0, n;
	FILE *f = fopen(d->err, "re");
	long size;

	append(&buf, &len, "log:\n", 5);
	append(&buf, &len, log, strlen(log));
	free(log);
	append(&buf, &len, "stderr (the end):\n", 18);
	if (f && fseek(f, 0, SEEK_END) == 0 && (size = ftell(f)) >= 0) {
		fseek(f, size > 8192 ? size - 8192 : 0, SEEK_SET);
		while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
			append(&buf, &len, chunk, n);
	}
	if (f)
		fclose(f);
	return buf;
}

int h_log_count(const struct h_driver *d, const char *prefix)
{
	char *log = h_log(d), *line, *save = NULL;
	int count = 0;

	for (line = strtok_r(log, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		if (!strncmp(line, prefix, strlen(prefix)))
			count++;
	free(log);
	return count;
}

bool h_log_before(const struct h_driver *d, const char *first, const char *then)
{
	char *log = h_log(d), *a = strstr(log, first);
	bool yes = a && strstr(a + strlen(first), then);

	free(log);
	return yes;
}

bool h_log_wait(const struct h_driver *d, const char *prefix, int n, int timeout_ms)
{
	long deadline = now_ms() + timeout_ms;

	do {
		if (h_log_count(d, prefix) >= n)
			return true;
		h_msleep(5);
	} while (now_ms() < deadline);
	return false;
}

void h_expect_balanced(const struct h_driver *d, int opens)
{
	cr_expect(h_log_wait(d, "release ", opens, 5000));
	h_msleep(50);
	cr_expect_eq(h_log_count(d, "open "), opens, "opens in log:\n%s", h_log(d));
	cr_expect_eq(h_log_count(d, "release "), opens, "releases in log:\n%s", h_log(d));
}

const char *h_with_uid(const char *tmpl)
{
	static char out[4096];
	char uid[16];
	size_t o = 0;

	snprintf(uid, sizeof(uid), "%u", h_root() ? TEST_UID : (unsigned)geteuid());
	for (; *tmpl && o < sizeof(out) - sizeof(uid); tmpl++) {
		if (tmpl[0] == '%' && tmpl[1] == 'u') {
			o += snprintf(out + o, sizeof(out) - o, "%s", uid);
			tmpl++;
		} else {
			out[o++] = *tmpl;
		}
	}
	out[o] = '\0';
	return out;
}

pid_t h_run_after(const struct h_driver *d, const char *prefix, int delay_ms,
		  const char *const argv[])
{
	pid_t pid = fork();

	cr_assert(pid >= 0, "fork: %s", strerror(errno));
	if (pid == 0) {
		if (h_log_wait(d, prefix, 1, 20000))
			h_msleep(delay_ms);
		_exit(h_run(H_SHIM, NULL, NULL, NULL, argv));
	}
	return pid;
}

pid_t h_write_after(const struct h_driver *d, const char *prefix, int delay_ms, const char *path,
		    const char *text)
{
	return h_run_after(
		d, prefix, delay_ms,
		(const char *const[]){"sh", "-c", "printf %s \"$1\" > \"$0\"", path, text, NULL});
}

bool h_sanitizers(void)
{
	const char *s = getenv("CUSESHIM_SANITIZERS");

	return s && !strcmp(s, "yes");
}

const char *h_preload_var(char *buf, size_t size, const char *libs)
{
#ifdef CUSESHIM_SAN_RUNTIME
	snprintf(buf, size, "LD_PRELOAD=%s %s", CUSESHIM_SAN_RUNTIME, libs);
#else
	snprintf(buf, size, "LD_PRELOAD=%s", libs);
#endif
	return buf;
}

pid_t h_kill_after(const struct h_driver *d, const char *prefix, int delay_ms)
{
	pid_t pid = fork();

	cr_assert(pid >= 0, "fork: %s", strerror(errno));
	if (pid == 0) {
		if (h_log_wait(d, prefix, 1, 20000))
			h_msleep(delay_ms);
		kill(d->pid, SIGKILL);
		_exit(0);
	}
	return pid;
}
