/* SPDX-License-Identifier: MIT */
/*
 * exec of a program the shim cannot follow into: a static or a Go one
 * (elfkind.h) would never see the devices.  Such an exec becomes
 *
 *     cuse-run --seccomp --in-place --as ARGV0 -- PATH ARG...
 *
 * which keeps the pid and the parent, puts the program under a detached
 * seccomp supervisor and execs it; its whole tree is served there.  The
 * check costs an open, an fstat and four reads of the program's headers
 * per exec.  A set-ID program is run as asked, with a log line.
 * CUSESHIM_NO_AUTO_SECCOMP=1 turns it off, as for cuse-run.
 *
 * Everything here may run in a vfork child (posix_spawn, system): no
 * allocation, no locks, no change to the shim's state; the new argument
 * vector lives on the stack.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>

#include "elfkind.h"
#include "shim_i.h"

#define MAX_ARGS 2048 /* a longer vector is exec'd unchanged, and we say so */

extern char **environ;

static ssize_t raw_pread(int fd, void *buf, size_t n, off_t off)
{
	return shim_raw_syscall(SYS_pread64, fd, buf, n, off);
}

/*
 * A set-user-ID or set-group-ID program that changes our credentials runs
 * in the loader's secure mode, which drops LD_PRELOAD, and a supervisor
 * could follow it only by taking the privilege away (no_new_privs).  It
 * runs as asked, without the devices; say so, or its ENOENT would be a
 * mystery (`sudo cat /dev/foo`).
 */
static void say_if_setid(const char *path, int fd)
{
	struct stat st;
	struct statfs sf;

	if (shim_sys_fstat(fd, &st) || !(st.st_mode & (S_ISUID | S_ISGID)) ||
	    shim_raw_syscall(SYS_fstatfs, fd, &sf) || (sf.f_flags & ST_NOSUID))
		return;
	if (((st.st_mode & S_ISUID) && st.st_uid != geteuid()) ||
	    ((st.st_mode & S_ISGID) && st.st_gid != getegid()))
		shim_log("%s is set-%s-ID: the loader drops LD_PRELOAD for it, so it will not "
			 "see emulated devices (see README)\n",
			 path, (st.st_mode & S_ISUID) && st.st_uid != geteuid() ? "user" : "group");
}

/* Why @path cannot take the shim, or NULL (also when it cannot be read:
 * the exec then fails, or succeeds, exactly as asked). */
static const char *unreachable(const char *path)
{
	const char *why;
	char *off;
	int fd;

	if (!path)
		return NULL;
	fd = (int)shim_raw_syscall(SYS_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	say_if_setid(path, fd);
	off = getenv("CUSESHIM_NO_AUTO_SECCOMP");
	why = off && *off && strcmp(off, "0") ? NULL : elf_unreachable(fd, raw_pread);
	shim_sys_close(fd);
	return why;
}

static bool executable(const char *path)
{
	return shim_raw_syscall(SYS_faccessat, AT_FDCWD, path, X_OK) == 0;
}

/* Where the shim was loaded from, found at start-up (dladdr takes the
 * loader's lock, which a vfork child must not). */
static char shim_dir[PATH_MAX];

void shim_exec_init(void)
{
	Dl_info info;
	const char *slash;

	if (dladdr((void *)shim_exec_init, &info) && info.dli_fname &&
	    (slash = strrchr(info.dli_fname, '/')) && slash - info.dli_fname < PATH_MAX)
		snprintf(shim_dir, sizeof(shim_dir), "%.*s", (int)(slash - info.dli_fname),
			 info.dli_fname);
}

/* cuse-run: as cuse-run said ($CUSESHIM_RUN), else beside the shim (the
 * test stage), in the build tree, or installed. */
static const char *cuse_run(char *buf, size_t size)
{
	const char *env = getenv("CUSESHIM_RUN");
	static const char *const rel[] = {"/cuse-run", "/../../cuse-run"};
	size_t i;

	if (env && *env && executable(env))
		return env;
	if (shim_dir[0])
		for (i = 0; i < sizeof(rel) / sizeof(rel[0]); i++)
			if (snprintf(buf, size, "%s%s", shim_dir, rel[i]) < (int)size &&
			    executable(buf))
				return buf;
	return executable(BINDIR "/cuse-run") ? BINDIR "/cuse-run" : NULL;
}

const char *shim_helper(const char *name, char *buf, size_t size)
{
	/* beside the shim (installed, or the test stage), or in the build
	 * tree, where the shim is libcuseshim/.libs/ and helpers are in cused/ */
	static const char *const rel[] = {"/", "/../../cused/"};
	size_t i;

	if (shim_dir[0])
		for (i = 0; i < sizeof(rel) / sizeof(rel[0]); i++)
			if (snprintf(buf, size, "%s%s%s", shim_dir, rel[i], name) < (int)size &&
			    executable(buf))
				return buf;
	if (snprintf(buf, size, "%s/%s", SHIMDIR, name) < (int)size && executable(buf))
		return buf;
	return NULL;
}

/*
 * The argument vector that runs @path under cuse-run in @out (room for
 * MAX_ARGS + 8), or NULL if the exec should go ahead unchanged.
 */
static char **supervised(const char *path, char *const argv[], char **out, char *run, size_t size)
{
	const char *why = unreachable(path), *cr;
	size_t n = 0, i;

	if (!why)
		return NULL;
	cr = cuse_run(run, size);
	if (!cr) {
		shim_log("%s is %s: its device calls cannot be reached (cuse-run not found; run "
			 "it with cuse-run --seccomp)\n",
			 path, why);
		return NULL;
	}
	for (i = 0; argv && argv[i]; i++)
		if (i >= MAX_ARGS) {
			shim_log("%s is %s, but its %zu+ arguments are too many for cuse-run: "
				 "run it with cuse-run --seccomp\n",
				 path, why, i);
			return NULL;
		}
	out[n++] = (char *)cr;
	out[n++] = "--seccomp";
	out[n++] = "--in-place";
	if (argv && argv[0]) {
		out[n++] = "--as";
		out[n++] = argv[0];
	}
	out[n++] = "--";
	out[n++] = (char *)path;
	for (i = 1; argv && argv[0] && argv[i]; i++)
		out[n++] = argv[i];
	out[n] = NULL;
	if (shim_cfg.debug)
		shim_trace("exec %s: %s, so under cuse-run --seccomp\n", path, why);
	return out;
}

SHIM_EXPORT int execve(const char *path, char *const argv[], char *const envp[])
{
	char *nargv[MAX_ARGS + 8], run[PATH_MAX];
	char **v = supervised(path, argv, nargv, run, sizeof(run));

	if (__builtin_expect(!v, 1))
		return REAL(execve)(path, argv, envp);
	return REAL(execve)(v[0], v, envp);
}

SHIM_EXPORT int execv(const char *path, char *const argv[])
{
	return execve(path, argv, environ);
}

/* The program execvp would run: the first executable PATH entry. */
static const char *search(const char *file, char *buf, size_t size)
{
	const char *p = getenv("PATH");

	if (strchr(file, '/'))
		return file;
	for (p = p ? p : "/bin:/usr/bin"; *p;) {
		const char *colon = strchr(p, ':');
		size_t len = colon ? (size_t)(colon - p) : strlen(p);

		if (snprintf(buf, size, "%.*s/%s", (int)len, len ? p : ".", file) < (int)size &&
		    executable(buf))
			return buf;
		if (!colon)
			break;
		p = colon + 1;
	}
	return NULL;
}

SHIM_EXPORT int execvpe(const char *file, char *const argv[], char *const envp[])
{
	char *nargv[MAX_ARGS + 8], run[PATH_MAX], found[PATH_MAX];
	const char *path = file && *file ? search(file, found, sizeof(found)) : NULL;
	char **v = path ? supervised(path, argv, nargv, run, sizeof(run)) : NULL;

	if (__builtin_expect(!v, 1))
		return REAL(execvpe)(file, argv, envp);
	return REAL(execve)(v[0], v, envp);
}

SHIM_EXPORT int execvp(const char *file, char *const argv[])
{
	return execvpe(file, argv, environ);
}

/*
 * execl, execle, execlp: the argument list as a vector on the stack, then
 * as execve, execve or execvpe.  A list longer than MAX_ARGS fails E2BIG,
 * as the kernel would nearly always fail it anyway.
 */
enum list_exec { LIST_PATH, LIST_ENV, LIST_SEARCH };

static int exec_list(enum list_exec how, const char *file, const char *arg, va_list *ap)
{
	char *argv[MAX_ARGS + 1];
	size_t n = 0;

	argv[n] = (char *)arg;
	while (argv[n]) {
		if (++n > MAX_ARGS) {
			errno = E2BIG;
			return -1;
		}
		argv[n] = va_arg(*ap, char *);
	}
	switch (how) {
	case LIST_ENV: return execve(file, argv, va_arg(*ap, char **));
	case LIST_SEARCH: return execvpe(file, argv, environ);
	default: return execve(file, argv, environ);
	}
}

SHIM_EXPORT int execl(const char *path, const char *arg, ...)
{
	va_list ap;
	int r;

	va_start(ap, arg);
	r = exec_list(LIST_PATH, path, arg, &ap);
	va_end(ap);
	return r;
}

SHIM_EXPORT int execle(const char *path, const char *arg, ...)
{
	va_list ap;
	int r;

	va_start(ap, arg);
	r = exec_list(LIST_ENV, path, arg, &ap);
	va_end(ap);
	return r;
}

SHIM_EXPORT int execlp(const char *file, const char *arg, ...)
{
	va_list ap;
	int r;

	va_start(ap, arg);
	r = exec_list(LIST_SEARCH, file, arg, &ap);
	va_end(ap);
	return r;
}

SHIM_EXPORT int posix_spawn(pid_t *pid, const char *path, const posix_spawn_file_actions_t *fa,
			    const posix_spawnattr_t *attr, char *const argv[], char *const envp[])
{
	char *nargv[MAX_ARGS + 8], run[PATH_MAX];
	char **v = supervised(path, argv, nargv, run, sizeof(run));

	if (__builtin_expect(!v, 1))
		return REAL(posix_spawn)(pid, path, fa, attr, argv, envp);
	return REAL(posix_spawn)(pid, v[0], fa, attr, v, envp);
}

SHIM_EXPORT int posix_spawnp(pid_t *pid, const char *file, const posix_spawn_file_actions_t *fa,
			     const posix_spawnattr_t *attr, char *const argv[], char *const envp[])
{
	char *nargv[MAX_ARGS + 8], run[PATH_MAX], found[PATH_MAX];
	const char *path = file && *file ? search(file, found, sizeof(found)) : NULL;
	char **v = path ? supervised(path, argv, nargv, run, sizeof(run)) : NULL;

	if (__builtin_expect(!v, 1))
		return REAL(posix_spawnp)(pid, file, fa, attr, argv, envp);
	return REAL(posix_spawn)(pid, v[0], fa, attr, v, envp);
}
