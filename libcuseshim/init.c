/* SPDX-License-Identifier: MIT */
/*
 * Start-up of the shim in each program image: resolve the real functions,
 * read the configuration from the environment once, and recognise device
 * fds inherited across exec (`cat < /dev/foo`, `exec 3<>/dev/foo; cmd`).
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "shim_i.h"

struct shim_config shim_cfg;

/*
 * Who owns this memory.  A vfork child (system, popen, posix_spawn,
 * python's subprocess) shares the parent's memory until it execs: it must
 * not change the shim's tables or channels.  A fork child has a copy and
 * must take it over.  The page below is MADV_WIPEONFORK: a fork child
 * finds it zeroed, a vfork child finds it as the parent left it.  This
 * works for _Fork and raw clone too, where no atfork handler runs.
 */
static volatile char *fork_page;
static pid_t owner_pid;

static void mark_owner(void)
{
	owner_pid = shim_sys_getpid();
	if (fork_page)
		fork_page[0] = 1;
}

bool shim_shared_child(void)
{
	return shim_shared_child_is(shim_sys_getpid());
}

bool shim_shared_child_is(pid_t pid)
{
	if (fork_page && !fork_page[0]) {
		mark_owner(); /* a fork child: this copy is ours now */
		return false;
	}
	return pid != owner_pid && owner_pid != 0;
}

static void setup_fork_page(void)
{
	void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p != MAP_FAILED && madvise(p, 4096, MADV_WIPEONFORK) == 0)
		fork_page = p;
	else if (p != MAP_FAILED)
		munmap(p, 4096);
	/* without WIPEONFORK (before 4.14), atfork is the best we have */
	pthread_atfork(NULL, NULL, mark_owner);
	mark_owner();
}

static void log_line(int fd, const char *fmt, va_list ap)
{
	char buf[512];
	int n, saved = errno;

	n = snprintf(buf, sizeof(buf), "cuseshim[%d]: ", (int)shim_sys_getpid());
	vsnprintf(buf + n, sizeof(buf) - n, fmt, ap);
	if (REAL(write)(fd, buf, strlen(buf)) < 0) {
		/* nowhere to report it */
	}
	errno = saved;
}

void shim_log(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_line(2, fmt, ap);
	va_end(ap);
}

void shim_trace(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_line(shim_cfg.trace_fd, fmt, ap);
	va_end(ap);
}

/* CUSESHIM_DEBUG: unset, "" or "0" off; a path (with a '/') appends to
 * that file; anything else writes to stderr. */
static void setup_debug(const char *d)
{
	int fd;

	shim_cfg.trace_fd = 2;
	shim_cfg.debug = d && *d && strcmp(d, "0");
	if (!shim_cfg.debug || !strchr(d, '/'))
		return;
	fd = REAL(open)(d, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0644);
	if (fd < 0) {
		shim_log("cannot open debug file %s: %s; debug output goes to stderr\n", d,
			 strerror(errno));
		return;
	}
	shim_cfg.trace_fd = shim_make_internal_fd(fd);
}

/* CUSESHIM_MAP="/dev/ttyUSB0=foo:/dev/x=bar" */
static void parse_maps(const char *spec)
{
	char *copy, *item, *save = NULL;

	if (!spec || !*spec)
		return;
	copy = strdup(spec);
	if (!copy)
		return;
	for (item = strtok_r(copy, ":", &save); item; item = strtok_r(NULL, ":", &save)) {
		char *eq = strchr(item, '='), norm[PATH_MAX];
		struct shim_map *m;

		if (!eq || eq == item || !eq[1] ||
		    registry_normalize(item, norm, sizeof(norm)) < 0) {
			shim_log("ignoring bad CUSESHIM_MAP entry '%s' (want /dev/PATH=NAME)\n",
				 item);
			continue;
		}
		*eq = '\0';
		if (registry_normalize(item, norm, sizeof(norm)) < 0)
			continue;
		m = realloc(shim_cfg.maps, (shim_cfg.nmaps + 1) * sizeof(*m));
		if (!m)
			break;
		shim_cfg.maps = m;
		m[shim_cfg.nmaps].path = strdup(norm);
		m[shim_cfg.nmaps].name = strdup(eq + 1);
		if (m[shim_cfg.nmaps].path && m[shim_cfg.nmaps].name)
			shim_cfg.nmaps++;
	}
	free(copy);
}

/* A socket whose peer is bound to "<dir>/.<name>.sock" is a device fd
 * some ancestor opened (see proto/registry.h). */
void shim_adopt_fd(int fd)
{
	struct sockaddr_un sa;
	socklen_t len = sizeof(sa);
	struct shim_file *f;
	struct shim_dev *dev;
	struct stat st;
	const char *base;
	size_t n;

	if (shim_sys_fstat(fd, &st) || !S_ISSOCK(st.st_mode))
		return;
	memset(&sa, 0, sizeof(sa));
	if (getpeername(fd, (struct sockaddr *)&sa, &len) || sa.sun_family != AF_UNIX ||
	    len <= offsetof(struct sockaddr_un, sun_path) || !sa.sun_path[0])
		return;
	sa.sun_path[sizeof(sa.sun_path) - 1] = '\0';
	base = strrchr(sa.sun_path, '/');
	n = strlen(sa.sun_path);
	if (!base || base[1] != '.' || n < 6 || strcmp(sa.sun_path + n - 5, ".sock"))
		return;
	dev = shim_dev_by_socket(sa.sun_path);
	if (!dev)
		return;
	f = shim_file_new(dev, st.st_ino);
	if (!f)
		return;
	shim_fd_set(fd, f);
	shim_file_put(f);
	if (shim_cfg.debug)
		shim_trace("fd %d is an inherited open file of %s\n", fd, dev->name);
}

static void adopt_inherited(void)
{
	char buf[4096];
	int dfd = (int)syscall(SYS_openat, AT_FDCWD, "/proc/self/fd",
			       O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (dfd < 0)
		return;
	for (;;) {
		long n = syscall(SYS_getdents64, dfd, buf, sizeof(buf)), off;

		if (n <= 0)
			break;
		for (off = 0; off < n;) {
			struct dirent64 *d = (struct dirent64 *)(buf + off);
			char *end;
			long fd = strtol(d->d_name, &end, 10);

			off += d->d_reclen;
			if (*end || end == d->d_name || fd == dfd)
				continue;
			shim_adopt_fd((int)fd);
		}
	}
	shim_sys_close(dfd);
}

/*
 * A program's .preinit_array runs before libc's own initialiser, with
 * environ still NULL: a device call from there would set the shim up
 * without CUSE_DIR and the rest, for the whole process.  Give it the
 * environment the kernel passed (/proc/self/environ); libc sets environ
 * to the real one when its turn comes.
 */
static void early_environ(void)
{
	static char buf[256 * 1024];
	static char *vec[4096];
	size_t len = 0, n = 0, i;
	int fd = (int)shim_raw_syscall(SYS_openat, AT_FDCWD, "/proc/self/environ",
				       O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return;
	while (len < sizeof(buf) - 1) {
		long r = shim_raw_syscall(SYS_read, fd, buf + len, sizeof(buf) - 1 - len);

		if (r <= 0)
			break;
		len += (size_t)r;
	}
	shim_sys_close(fd);
	buf[len] = '\0';
	for (i = 0; i < len && n < sizeof(vec) / sizeof(vec[0]) - 1; i += strlen(buf + i) + 1)
		vec[n++] = buf + i;
	vec[n] = NULL;
	environ = vec;
}

static pthread_once_t init_once = PTHREAD_ONCE_INIT;

static void init_once_fn(void)
{
	int saved = errno;
	const char *d;

	if (!environ)
		early_environ();
	d = getenv("CUSESHIM_DEBUG");

	shim_resolve();
	setup_fork_page();
	setup_debug(d);
	if (registry_dir(shim_cfg.dir, sizeof(shim_cfg.dir), getenv("CUSE_DIR"),
			 getenv("XDG_RUNTIME_DIR"), geteuid()) < 0)
		shim_log("registry directory name too long; no devices\n");
	if (shim_cfg.dir[0] && shim_cfg.dir[0] != '/') {
		/* relative to where we started, whatever the program's chdir */
		char cwd[PATH_MAX], abs[PATH_MAX];

		if (getcwd(cwd, sizeof(cwd)) &&
		    snprintf(abs, sizeof(abs), "%s/%s", cwd, shim_cfg.dir) < (int)sizeof(abs))
			memcpy(shim_cfg.dir, abs, sizeof(abs));
	}
	parse_maps(getenv("CUSESHIM_MAP"));
	shim_cwd_changed();
	shim_exec_init();
	adopt_inherited();
	shim_stdio_init();
	errno = saved;
}

/* Another preload library's constructor, or a C++ static initialiser, may
 * open a device before our constructor has run: the device paths call
 * this first. */
void shim_ensure_init(void)
{
	pthread_once(&init_once, init_once_fn);
}

__attribute__((constructor(101))) static void shim_init(void)
{
	shim_ensure_init();
}

/* The last of our destructors, so after the program's atexit handlers and
 * C++ static destructors: the device fds it still holds are closed as the
 * kernel's exit would (fd.c). */
__attribute__((destructor(101))) static void shim_fini(void)
{
	int saved = errno;

	shim_exit_files();
	errno = saved;
}
