/* SPDX-License-Identifier: MIT */
/*
 * The seccomp supervisor of cuse-run --seccomp: it reaches the programs
 * LD_PRELOAD cannot (static binaries, Go, raw syscalls) with seccomp user
 * notification, and talks to drivers exactly as the shim does, on behalf
 * of the supervised process.
 *
 * Shape.  cuse-run forks; the child sets no_new_privs, loads a filter
 * (built with libseccomp, loaded with the raw seccomp(2) call so that
 * SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV can be asked for, which libseccomp
 * 2.5 does not offer), passes the listener fd to the parent over a
 * socketpair and execs the program.  The filter is inherited by every
 * descendant; the parent serves notifications until the listener hangs up
 * (no task holds the filter any more), reaping orphans as a subreaper, and
 * exits with the direct child's status.  With --in-place (the shim's
 * exec of a static program) the roles turn round: the process installs
 * the filter and execs the program itself, keeping its pid, and a
 * detached grandchild serves it (supervise_in_place); under Yama's
 * ptrace_scope 1 that grandchild may reach the program (PR_SET_PTRACER)
 * but not the program's own children.
 *
 * Objects.
 *   struct sv_dev   a registry entry we have used: socket and attribute
 *                   paths, attributes, a pool of idle control connections.
 *                   Never freed.
 *   struct sv_conn  one control connection (HELLO done) with its ATTACH
 *                   cache; owned by one worker at a time, else idle in its
 *                   device's pool.
 *   struct sv_file  a device open file, known by the inode of its socket
 *                   (every fd the target holds on it, dup'd, inherited or
 *                   passed, is that same socket).  Never freed.
 *   struct sv_job   one notification that needs a driver round trip, run
 *                   by the receiver thread that took it (serve: several
 *                   threads wait in NOTIF_RECV, and one that takes a
 *                   notification while no other waits starts another).
 *
 * Which fds are devices: on every fd-taking notification we readlink
 * /proc/PID/fd/N.  Anything but "socket:[INO]" is answered CONTINUE at
 * once.  An inode we opened or adopted is a device; an unknown socket is
 * copied out of the target (pidfd_getfd) and its peer address checked: a
 * peer "DIR/.NAME.sock" with "DIR/.NAME.attr" beside it is a registry
 * device some shimmed ancestor opened, and is adopted.  No fd tracking is
 * needed: fork, exec, dup2 and close work natively.  Known non-device
 * socket inodes are remembered.
 *
 * Cost.  Every notified call stops the calling thread until the supervisor
 * answers: a user-notification round trip is about 5 us with both on one
 * CPU and about 30 us across CPUs on the reference VM
 * (reference/perf-anchors.md), plus a readlink of /proc/PID/fd/N for fd
 * calls and a process_vm_readv of the path for path calls.  On Linux 6.6+
 * the listener's SYNC_WAKE_UP keeps the target and the receiver on one
 * CPU.  Measured here (Linux 6.18): busybox dd bs=1 of /dev/zero to
 * /dev/null (200,000 read/write calls, none a device) takes 0.05 s plain,
 * 1.6 s supervised pinned to one CPU and 1.7 s unpinned (+8 us a call;
 * 11.8 s unpinned without SYNC_WAKE_UP).
 *
 * That cost is paid by *every* call of these, device or not, anywhere in
 * the supervised tree: open, openat, openat2, creat, stat, lstat,
 * newfstatat, statx, access, faccessat, faccessat2, read, write, readv,
 * writev, pread64, pwrite64, preadv, pwritev, preadv2, pwritev2, ioctl,
 * fstat, lseek, fcntl, fsync, fdatasync, flock, sendfile, splice,
 * copy_file_range and file-backed mmap.  Non-device calls are answered CONTINUE at once (fcntl
 * other than F_GETFL/F_SETFL and the record locks, and the FIOCLEX/FIONCLEX/FIONBIO ioctls,
 * without even a readlink).
 * Everything else (close, dup*, poll, select, epoll, sockets, anonymous mmap, ...) costs only the
 * BPF filter (about 15 ns).  A device call costs one notification on top of the shim's driver round
 * trip.
 *
 * Readiness: poll, select and epoll of a device fd are native on its
 * socket, on which libcused mirrors the driver's POLLIN from the open
 * (CUSESHIM_OPEN_MIRROR) and again after each read that took the mirror
 * byte (CUSESHIM_READ_MIRROR); the socket is always writable.
 *
 * Callers: requests name the target's thread (fuse_in_header.pid, OPEN's
 * tid), and libcused, having checked that it is below us, gives the
 * driver that thread and its credentials in fuse_req_ctx.
 *
 * Limits of this slice: O_PATH opens of devices fail EOPNOTSUPP; /proc/PID/root
 * (chroot) is not applied to paths; i386 and x32 system calls fail ENOSYS;
 * sv_file records are never freed (one small struct per device open).  If
 * the supervisor dies, every notified call in the tree fails ENOSYS: loud,
 * never a hang.  no_new_privs is inherited: setuid programs do not gain
 * privileges under --seccomp.
 *
 * Sections: configuration and registry; target access; files; control
 * connections; device operations (worker threads); the notification
 * handlers and their table; filter, launch and the main loop.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/fiemap.h>
#include <linux/filter.h>
#include <linux/fs.h>
#include <linux/openat2.h>
#include <poll.h>
#include <pthread.h>
#include <seccomp.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "proto/cuseshim_proto.h"
#include "proto/registry.h"
#include "supervisor.h"

#ifndef PIDFD_THREAD
#define PIDFD_THREAD O_EXCL
#endif

#ifndef SECCOMP_IOCTL_NOTIF_SET_FLAGS /* Linux 6.6 */
#define SECCOMP_IOCTL_NOTIF_SET_FLAGS	   SECCOMP_IOW(4, __u64)
#define SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP (1UL << 0)
#endif
#define SV_CONTINUE (-100000L) /* answer SECCOMP_USER_NOTIF_FLAG_CONTINUE */
#define SV_DONE	    (-100002L) /* answered already (ADDFD with SEND) */

#define MAX_SEGS  40 /* a request covers at most 32 pages: 33 segments */
#define MAX_IOV	  FUSE_IOCTL_MAX_IOV
#define IDLE_MAX  4
#define WAIT_POLL 50 /* ms between checks of a waiting target for signals */
#define LAZY_US	  20 /* a driver's answer awaited before handing off receiving */

static int listener = -1;
static uint32_t native_arch; /* AUDIT_ARCH_* of the supervised programs */

static int trace_fd = 2; /* debug lines: stderr or CUSESHIM_DEBUG's file */

static void sv_vlog(int fd, const char *fmt, va_list ap)
{
	char buf[512];
	int n = vsnprintf(buf, sizeof(buf), fmt, ap);

	if (n > 0) {
		ssize_t w = write(fd, buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);

		(void)w;
	}
}

static void sv_trace(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void sv_trace(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	sv_vlog(trace_fd, fmt, ap);
	va_end(ap);
}

static void sv_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void sv_log(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	sv_vlog(2, fmt, ap);
	va_end(ap);
}

/* ------------------------------------------------ configuration, registry */

struct sv_conn;

struct sv_dev {
	char name[256];
	char sock_path[108];
	char attr_path[PATH_MAX];
	struct registry_attr attr;
	struct timespec mtime;
	pthread_mutex_t lock; /* attr, mtime, idle */
	struct sv_conn *idle;
	unsigned nidle;
	atomic_bool told_stale, told_denied, told_lock_eintr; /* each said once */
	bool is_cuse; /* /dev/cuse itself: an open starts cuse-bridge */
	struct sv_dev *next;
};

static struct {
	char dir[PATH_MAX];
	struct {
		char *path, *name;
	} * maps;
	unsigned nmaps;
	bool debug;
} cfg;

static pthread_mutex_t devs_lock = PTHREAD_MUTEX_INITIALIZER;
static struct sv_dev *devs;

/* The shim's CUSESHIM_MAP format: /dev/PATH=NAME[:...]. */
static void parse_maps(const char *spec)
{
	char *copy, *item, *save = NULL;

	if (!spec || !*spec || !(copy = strdup(spec)))
		return;
	for (item = strtok_r(copy, ":", &save); item; item = strtok_r(NULL, ":", &save)) {
		char *eq = strchr(item, '='), norm[PATH_MAX];
		void *m;

		if (!eq || eq == item || !eq[1])
			continue;
		*eq = '\0';
		if (registry_normalize(item, norm, sizeof(norm)) < 0)
			continue;
		m = realloc(cfg.maps, (cfg.nmaps + 1) * sizeof(*cfg.maps));
		if (!m)
			break;
		cfg.maps = m;
		cfg.maps[cfg.nmaps].path = strdup(norm);
		cfg.maps[cfg.nmaps].name = strdup(eq + 1);
		if (cfg.maps[cfg.nmaps].path && cfg.maps[cfg.nmaps].name)
			cfg.nmaps++;
	}
	free(copy);
}

static void load_config(void)
{
	const char *d = getenv("CUSESHIM_DEBUG");

	cfg.debug = d && *d && strcmp(d, "0");
	if (cfg.debug && strchr(d, '/')) {
		int fd = open(d, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0644);

		if (fd >= 0)
			trace_fd = fd;
		else
			sv_log("cuse-run: cannot open debug file %s: %s; debug output goes to "
			       "stderr\n",
			       d, strerror(errno));
	}
	if (registry_dir(cfg.dir, sizeof(cfg.dir), getenv("CUSE_DIR"), getenv("XDG_RUNTIME_DIR"),
			 geteuid()) < 0) {
		sv_log("cuse-run: registry directory name too long; no devices\n");
		cfg.dir[0] = '\0';
	}
	if (cfg.dir[0] && cfg.dir[0] != '/') {
		char cwd[PATH_MAX], abs[PATH_MAX + 2];

		if (getcwd(cwd, sizeof(cwd)) &&
		    snprintf(abs, sizeof(abs), "%s/%s", cwd, cfg.dir) < (int)sizeof(cfg.dir))
			memcpy(cfg.dir, abs, sizeof(cfg.dir));
	}
	parse_maps(getenv("CUSESHIM_MAP"));
}

static struct sv_dev *dev_find_or_add(const char *name, const char *sock, const char *attr)
{
	struct sv_dev *d;

	pthread_mutex_lock(&devs_lock);
	for (d = devs; d; d = d->next)
		if (!strcmp(d->sock_path, sock))
			break;
	if (!d && (d = calloc(1, sizeof(*d)))) {
		snprintf(d->name, sizeof(d->name), "%s", name);
		snprintf(d->sock_path, sizeof(d->sock_path), "%s", sock);
		snprintf(d->attr_path, sizeof(d->attr_path), "%s", attr);
		pthread_mutex_init(&d->lock, NULL);
		d->next = devs;
		devs = d;
	}
	pthread_mutex_unlock(&devs_lock);
	return d;
}

/* Re-read the attributes; -ESRCH when the entry is stale, -ENOENT when it
 * is unpublished (the live driver holds an OFD write lock on the
 * attribute file). */
static int dev_refresh(struct sv_dev *d)
{
	struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
	char buf[REGISTRY_ATTR_MAX];
	struct registry_attr a;
	struct stat st;
	ssize_t n;
	int fd, err = 0;

	fd = open(d->attr_path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -ENOENT;
	if (fcntl(fd, F_OFD_GETLK, &fl) || fl.l_type == F_UNLCK)
		err = -ESRCH; /* nobody holds it: the driver is gone */
	if (!err) {
		n = pread(fd, buf, sizeof(buf) - 1, 0);
		if (n <= 0 || registry_parse_attr(buf, n, &a))
			err = -ENOENT;
	}
	if (!err && !fstat(fd, &st)) {
		pthread_mutex_lock(&d->lock);
		d->attr = a;
		d->mtime = st.st_mtim;
		pthread_mutex_unlock(&d->lock);
	}
	close(fd);
	return err;
}

/* /dev/cuse (registry.h), for a static driver's open of it. */
static int cuse_node(struct sv_dev **out)
{
	static struct sv_dev node = {
		.name = REGISTRY_CUSE_NAME, .lock = PTHREAD_MUTEX_INITIALIZER, .is_cuse = true};
	struct timespec now, up;

	pthread_mutex_lock(&node.lock);
	registry_cuse_attr(&node.attr);
	if (!node.mtime.tv_sec && !clock_gettime(CLOCK_REALTIME, &now) &&
	    !clock_gettime(CLOCK_BOOTTIME, &up))
		node.mtime.tv_sec = now.tv_sec - up.tv_sec; /* made at boot */
	pthread_mutex_unlock(&node.lock);
	*out = &node;
	return 1;
}

/* 1 and *out for a device path, 0 for any other path, -ENOENT for a
 * mapped path whose device is gone (as shim_path_lookup). */
static int dev_lookup(const char *norm, struct sv_dev **out)
{
	char sock[108], attr[PATH_MAX];
	const char *name = NULL, *why;
	bool mapped = false;
	struct sv_dev *d;
	unsigned i;
	int r;

	for (i = 0; i < cfg.nmaps; i++)
		if (!strcmp(cfg.maps[i].path, norm)) {
			name = cfg.maps[i].name;
			mapped = true;
			break;
		}
	if (!name) {
		if (strncmp(norm, "/dev/", 5) || !norm[5])
			return 0;
		name = norm + 5;
	}
	if (registry_check_name(name, &why) || !cfg.dir[0] ||
	    registry_paths(cfg.dir, name, sock, sizeof(sock), attr, sizeof(attr)))
		return mapped ? -ENOENT : 0;
	if (faccessat(AT_FDCWD, sock, F_OK, 0)) {
		if (!mapped && !strcmp(name, REGISTRY_CUSE_NAME))
			return cuse_node(out);
		return mapped ? -ENOENT : 0;
	}
	d = dev_find_or_add(name, sock, attr);
	if (!d)
		return -ENOMEM;
	r = dev_refresh(d);
	if (r == -ESRCH && !atomic_exchange(&d->told_stale, true))
		sv_log("cuse-run: " REGISTRY_MSG_STALE, norm, cfg.dir);
	if (r)
		return mapped ? -ENOENT : 0;
	*out = d;
	return 1;
}

/* A peer bound to "D/.NAME.sock" with "D/.NAME.attr" beside it. */
static struct sv_dev *dev_by_peer(const char *bound)
{
	char sock[108], name[256], attr[PATH_MAX];
	const char *slash = strrchr(bound, '/');
	size_t dlen, blen, n = strlen(bound);

	if (!slash || slash[1] != '.' || n < 6 || strcmp(bound + n - 5, ".sock"))
		return NULL;
	dlen = slash - bound;
	blen = strlen(slash + 2) - 5;
	if (blen == 0 || blen > 200)
		return NULL;
	if (snprintf(sock, sizeof(sock), "%.*s/%.*s", (int)dlen, bound, (int)blen, slash + 2) >=
		    (int)sizeof(sock) ||
	    snprintf(attr, sizeof(attr), "%.*s/.%.*s.attr", (int)dlen, bound, (int)blen,
		     slash + 2) >= (int)sizeof(attr))
		return NULL;
	n = strlen(cfg.dir);
	if (n && !strncmp(sock, cfg.dir, n) && sock[n] == '/')
		snprintf(name, sizeof(name), "%s", sock + n + 1);
	else
		snprintf(name, sizeof(name), "%.*s", (int)blen, slash + 2);
	if (access(attr, F_OK))
		return NULL;
	return dev_find_or_add(name, sock, attr);
}

/* -------------------------------------------------------- target access */

static bool notif_valid(uint64_t id)
{
	return ioctl(listener, SECCOMP_IOCTL_NOTIF_ID_VALID, &id) == 0;
}

static void respond(uint64_t id, long r)
{
	struct seccomp_notif_resp resp = {.id = id};

	if (r == SV_DONE)
		return;
	if (r == SV_CONTINUE)
		resp.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
	else if (r < 0)
		resp.error = r < -4095 ? -EIO : (int)r;
	else
		resp.val = r;
	/* ENOENT: the target died or the call was interrupted; dropped. */
	while (ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, &resp) && errno == EINTR)
		;
}

static int mem_read(pid_t pid, uint64_t addr, void *buf, size_t n)
{
	struct iovec l = {buf, n}, r = {(void *)(uintptr_t)addr, n};

	if (!n)
		return 0;
	return process_vm_readv(pid, &l, 1, &r, 1, 0) == (ssize_t)n ? 0 : -EFAULT;
}

static int mem_write(pid_t pid, uint64_t addr, const void *buf, size_t n)
{
	struct iovec l = {(void *)buf, n}, r = {(void *)(uintptr_t)addr, n};

	if (!n)
		return 0;
	return process_vm_writev(pid, &l, 1, &r, 1, 0) == (ssize_t)n ? 0 : -EFAULT;
}

/* A NUL-terminated string, page by page so that a string ending just
 * before an unmapped page reads fine.  Length, -EFAULT or -ENAMETOOLONG. */
static int mem_read_str(pid_t pid, uint64_t addr, char *buf, size_t size)
{
	size_t got = 0;

	while (got < size) {
		size_t want = CUSESHIM_PAGE_SIZE - (addr + got) % CUSESHIM_PAGE_SIZE;
		char *nul;

		if (want > size - got)
			want = size - got;
		if (mem_read(pid, addr + got, buf + got, want))
			return -EFAULT;
		nul = memchr(buf + got, '\0', want);
		if (nul)
			return (int)(nul - buf);
		got += want;
	}
	return -ENAMETOOLONG;
}

static int proc_readlink(pid_t pid, const char *what, char *buf, size_t size)
{
	char path[64];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, what);
	n = readlink(path, buf, size - 1);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	return (int)n;
}

static int proc_fd_link(pid_t pid, int fd, char *buf, size_t size)
{
	char what[32];

	snprintf(what, sizeof(what), "fd/%d", fd);
	return proc_readlink(pid, what, buf, size);
}

/* A pidfd of the notifying thread: a process's for its leader, else the
 * thread's own (Go makes its calls from any thread; kernels refuse a plain
 * pidfd of a non-leader with EINVAL before 6.9 and ENOENT since). */
static int target_pidfd(const struct seccomp_notif *n)
{
	int pfd = (int)syscall(SYS_pidfd_open, n->pid, 0);

	if (pfd < 0 && (errno == EINVAL || errno == ENOENT))
		pfd = (int)syscall(SYS_pidfd_open, n->pid, PIDFD_THREAD);
	return pfd;
}

/*
 * Our copy of the target's fd (close-on-exec), or -errno.  The pidfds are
 * kept, one per thread id in a small table: a pidfd of a task that is
 * gone fails ESRCH and is opened again, so a reused thread id is never
 * the wrong task.  The lock covers the getfd, so that no worker closes a
 * pidfd another is using.
 */
#define PIDFD_SLOTS 64

static pthread_mutex_t pidfd_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
	pid_t tid;
	int pfd;
} pidfds[PIDFD_SLOTS];

static int target_fd_copy(const struct seccomp_notif *n, int fd)
{
	unsigned slot = (unsigned)n->pid % PIDFD_SLOTS;
	int copy = -1, err = 0, tries;

	pthread_mutex_lock(&pidfd_lock);
	for (tries = 0; tries < 2 && copy < 0; tries++) {
		if (pidfds[slot].tid != (pid_t)n->pid || pidfds[slot].pfd <= 0) {
			int pfd = target_pidfd(n);

			if (pfd < 0) {
				err = errno;
				break;
			}
			if (pidfds[slot].pfd > 0)
				close(pidfds[slot].pfd);
			pidfds[slot].tid = (pid_t)n->pid;
			pidfds[slot].pfd = pfd;
		}
		copy = (int)syscall(SYS_pidfd_getfd, pidfds[slot].pfd, fd, 0);
		err = errno;
		if (copy < 0 && err == ESRCH)
			pidfds[slot].tid = 0; /* an old task's: open it again */
		else
			break;
	}
	pthread_mutex_unlock(&pidfd_lock);
	if (copy < 0)
		return -err;
	if (!notif_valid(n->id)) { /* the pid may have been reused */
		close(copy);
		return -ENOENT;
	}
	return copy;
}

static int target_abs_path(const struct seccomp_notif *n, int dirfd, const char *path, char *out,
			   size_t size)
{
	char base[PATH_MAX], joined[2 * PATH_MAX + 2];
	int r;

	if (path[0] == '/')
		return registry_normalize(path, out, size);
	if (!path[0])
		return -ENOENT;
	r = dirfd == AT_FDCWD ? proc_readlink(n->pid, "cwd", base, sizeof(base))
			      : proc_fd_link(n->pid, dirfd, base, sizeof(base));
	if (r < 0 || base[0] != '/')
		return -ENOENT;
	snprintf(joined, sizeof(joined), "%s/%s", base, path);
	return registry_normalize(joined, out, size);
}

/* Read the path at @addr: 1 and *dev for a device, 0 for anything else
 * (the kernel then does the call, including its EFAULT), <0 errno. */
static int target_path_dev(const struct seccomp_notif *n, int dirfd, uint64_t addr,
			   struct sv_dev **dev)
{
	char path[PATH_MAX], norm[PATH_MAX];
	int r;

	if (!addr || mem_read_str(n->pid, addr, path, sizeof(path)) <= 0)
		return 0;
	/* Absolute paths that cannot normalise to /dev/X cost no more. */
	if (path[0] == '/' && !cfg.nmaps && strncmp(path, "/dev/", 5) && path[1] != '/' &&
	    path[1] != '.')
		return 0;
	if (target_abs_path(n, dirfd, path, norm, sizeof(norm)) < 0)
		return 0;
	r = dev_lookup(norm, dev);
	if (r && !notif_valid(n->id))
		return -ENOENT;
	return r;
}

struct sv_creds {
	uid_t ruid, euid;
	gid_t rgid, egid;
	gid_t groups[256];
	int ngroups;
};

/* /proc/PID/status of a process or thread, NUL-terminated in @buf. */
static int target_status(pid_t pid, char *buf, size_t size)
{
	char path[64];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, size - 1);
	close(fd);
	if (n <= 0)
		return -EIO;
	buf[n] = '\0';
	return 0;
}

static uint64_t status_mask(const char *buf, const char *field)
{
	const char *p = strstr(buf, field);

	return p ? strtoull(p + strlen(field), NULL, 16) : 0;
}

/* The kernel's "restart the call" answer (ERESTARTSYS, not in the
 * uapi headers): as the call returns, the signal that ended it turns it
 * into EINTR, or a restart when the handler has SA_RESTART or there is no
 * handler (a stop), as for the kernel's own lock waits. */
#define SV_ERESTARTSYS 512

/*
 * Whether thread @tid has a signal waiting that it does not block: 0 for
 * none.  In the kernel a FUSE request waits interruptibly, and such a
 * signal makes it send FUSE_INTERRUPT; our target waits killably
 * (WAIT_KILLABLE_RECV), so the signal stays pending and we look for it.
 * Ignored signals are never queued, so what is pending is caught, fatal
 * or a stop.
 *
 * 1 when the thread will take it as its call returns: sent to the thread
 * itself, or to its process when it has no other thread to take it
 * instead.  Only then may its call be answered SV_ERESTARTSYS (the code
 * must never reach the program, and no one else can take such a signal
 * while the thread waits for us).  -1 when it is sent to a process of
 * several threads: which thread takes it is the kernel's choice, which we
 * cannot see.
 */
static int target_signal(pid_t tid)
{
	char buf[4096];
	const char *p;
	uint64_t blocked;

	if (target_status(tid, buf, sizeof(buf)))
		return 0;
	blocked = status_mask(buf, "\nSigBlk:");
	if (status_mask(buf, "\nSigPnd:") & ~blocked)
		return 1;
	if (!(status_mask(buf, "\nShdPnd:") & ~blocked))
		return 0;
	p = strstr(buf, "\nThreads:");
	return p && strtol(p + 9, NULL, 10) == 1 ? 1 : -1;
}

static int target_creds(pid_t pid, struct sv_creds *c)
{
	char buf[8192], *p;
	unsigned long a, b;
	int err = target_status(pid, buf, sizeof(buf));

	if (err)
		return err;
	memset(c, 0, sizeof(*c));
	p = strstr(buf, "\nUid:");
	if (!p || sscanf(p + 5, "%lu %lu", &a, &b) != 2)
		return -EIO;
	c->ruid = a;
	c->euid = b;
	p = strstr(buf, "\nGid:");
	if (!p || sscanf(p + 5, "%lu %lu", &a, &b) != 2)
		return -EIO;
	c->rgid = a;
	c->egid = b;
	p = strstr(buf, "\nGroups:");
	if (p) {
		char *end;

		for (p += 8; c->ngroups < 256; p = end) {
			a = strtoul(p, &end, 10);
			if (end == p)
				break;
			c->groups[c->ngroups++] = a;
		}
	}
	return 0;
}

/* ---------------------------------------------------------------- files */

struct sv_file {
	uint64_t ino;
	struct sv_dev *dev;
	_Atomic uint32_t open_flags;
	_Atomic bool flags_known;
	struct sv_file *next;
};

#define FILE_BUCKETS 256
static pthread_mutex_t files_lock = PTHREAD_MUTEX_INITIALIZER;
static struct sv_file *files[FILE_BUCKETS];

static struct sv_file *file_find(uint64_t ino)
{
	struct sv_file *f;

	pthread_mutex_lock(&files_lock);
	for (f = files[ino % FILE_BUCKETS]; f; f = f->next)
		if (f->ino == ino)
			break;
	pthread_mutex_unlock(&files_lock);
	return f;
}

static struct sv_file *file_add(uint64_t ino, struct sv_dev *dev, bool known, uint32_t flags)
{
	struct sv_file *f;

	pthread_mutex_lock(&files_lock);
	for (f = files[ino % FILE_BUCKETS]; f; f = f->next)
		if (f->ino == ino)
			break;
	if (!f && (f = calloc(1, sizeof(*f)))) {
		f->ino = ino;
		f->next = files[ino % FILE_BUCKETS];
		files[ino % FILE_BUCKETS] = f;
	}
	if (f) {
		f->dev = dev;
		atomic_store(&f->open_flags, flags);
		atomic_store(&f->flags_known, known);
	}
	pthread_mutex_unlock(&files_lock);
	return f;
}

/* Sockets known not to be devices (main thread only).  Socket inode
 * numbers are not reused before the 32-bit counter wraps. */
#define NOTDEV_SLOTS 4096
static uint64_t notdev[NOTDEV_SLOTS];
static unsigned notdev_used;

static pthread_mutex_t notdev_lock = PTHREAD_MUTEX_INITIALIZER;

static bool notdev_has(uint64_t ino)
{
	unsigned i = (unsigned)(ino * 0x9e3779b97f4a7c15ull >> 52) % NOTDEV_SLOTS;
	bool found = false;

	pthread_mutex_lock(&notdev_lock);
	for (; notdev[i] && !found; i = (i + 1) % NOTDEV_SLOTS)
		found = notdev[i] == ino;
	pthread_mutex_unlock(&notdev_lock);
	return found;
}

static void notdev_add(uint64_t ino)
{
	unsigned i = (unsigned)(ino * 0x9e3779b97f4a7c15ull >> 52) % NOTDEV_SLOTS;

	if (!ino)
		return;
	pthread_mutex_lock(&notdev_lock);
	if (notdev_used >= NOTDEV_SLOTS * 3 / 4) {
		memset(notdev, 0, sizeof(notdev));
		notdev_used = 0;
	}
	while (notdev[i] && notdev[i] != ino)
		i = (i + 1) % NOTDEV_SLOTS;
	if (!notdev[i]) {
		notdev[i] = ino;
		notdev_used++;
	}
	pthread_mutex_unlock(&notdev_lock);
}

/*
 * Is the target's @fd a device file?  The file, or NULL for anything else
 * (including a closed fd: the kernel then answers EBADF itself).  We look
 * through our own copy of the fd, so that what is classified is what a
 * job then uses even if another thread reuses the number meanwhile: with
 * @copy, a device file's copy is left in *@copy for the caller to close
 * (else -1).
 */
static struct sv_file *classify_copy(const struct seccomp_notif *n, int fd, int *copy)
{
	struct sockaddr_un sa;
	socklen_t len = sizeof(sa);
	struct sv_file *f;
	struct sv_dev *dev;
	struct stat st;
	int c;

	if (copy)
		*copy = -1;
	if (fd < 0 || (c = target_fd_copy(n, fd)) < 0)
		return NULL;
	if (fstat(c, &st) || !S_ISSOCK(st.st_mode)) {
		close(c); /* no socket, so none of ours */
		return NULL;
	}
	f = file_find(st.st_ino);
	if (!f && !notdev_has(st.st_ino)) {
		memset(&sa, 0, sizeof(sa));
		if (getpeername(c, (struct sockaddr *)&sa, &len) || sa.sun_family != AF_UNIX ||
		    len <= offsetof(struct sockaddr_un, sun_path) || !sa.sun_path[0]) {
			notdev_add(st.st_ino);
		} else {
			sa.sun_path[sizeof(sa.sun_path) - 1] = '\0';
			dev = dev_by_peer(sa.sun_path);
			if (!dev || dev_refresh(dev))
				notdev_add(st.st_ino);
			else
				f = file_add(st.st_ino, dev, false, 0);
			if (f && cfg.debug)
				sv_trace("cuse-run: pid %d fd %d is an inherited open file of %s\n",
					 (int)n->pid, fd, dev->name);
		}
	}
	if (f && copy)
		*copy = c;
	else
		close(c);
	return f;
}

static struct sv_file *classify(const struct seccomp_notif *n, int fd)
{
	return classify_copy(n, fd, NULL);
}

/* ------------------------------------------------- control connections */

struct sv_conn {
	int fd;
	uint64_t unique;
	struct cuseshim_hello_out hello;
	struct {
		uint64_t ino, handle;
	} cache[8];
	unsigned next_slot;
	struct sv_conn *next;
};

/* Before a wait for a driver: another thread receives meanwhile. */
static void recv_handoff(void);
static void recv_handoff_lazy(int fd);

static int send_msg(int fd, struct iovec *iov, int n, int sendfd)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct msghdr mh = {.msg_iov = iov, .msg_iovlen = n};
	ssize_t r;

	if (sendfd >= 0) {
		struct cmsghdr *cm;

		memset(&ctl, 0, sizeof(ctl));
		mh.msg_control = ctl.buf;
		mh.msg_controllen = sizeof(ctl.buf);
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &sendfd, sizeof(int));
	}
	do
		r = sendmsg(fd, &mh, MSG_NOSIGNAL);
	while (r < 0 && errno == EINTR);
	return r < 0 ? -errno : 0;
}

static void conn_break(struct sv_conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

/* A request a signal in the target interrupts: the FUSE ones, and FLOCK's
 * and PLOCK's wait for a lock. */
static bool is_fuse_op(uint32_t opcode)
{
	return opcode < CUSESHIM_OP_HELLO || opcode == CUSESHIM_OP_FLOCK ||
	       opcode == CUSESHIM_OP_PLOCK;
}

/*
 * One request and its reply, as shim_chan_call.  While we wait, the target
 * is checked every WAIT_POLL ms: once it has a signal pending, or its
 * notification is no longer valid (it was killed), the driver gets a
 * FUSE_INTERRUPT, and we keep waiting for its answer: the call's result,
 * EINTR if the driver honours the interrupt, which the kernel returns to
 * the target before it runs the handler, as for a real CUSE device.
 */
static ssize_t conn_call_raw(struct sv_conn *c, const struct seccomp_notif *n, struct iovec *req,
			     int nreq, int sendfd, void *out, size_t out_size,
			     const struct iovec *payload, int npayload)
{
	const struct fuse_in_header *in = req[0].iov_base;
	struct fuse_out_header hdr;
	struct iovec v[2 + MAX_SEGS];
	bool interrupted = false;
	int i, nv = 0, err;
	long result;

	if (c->fd < 0)
		return -ENOTCONN;
	if (npayload > MAX_SEGS)
		return -EINVAL;
	err = send_msg(c->fd, req, nreq, sendfd);
	if (err) {
		conn_break(c);
		return -ENOTCONN; /* never delivered: the driver is gone */
	}
	v[nv++] = (struct iovec){&hdr, sizeof(hdr)};
	if (out_size)
		v[nv++] = (struct iovec){out, out_size};
	for (i = 0; i < npayload; i++)
		v[nv++] = payload[i];
	for (;;) {
		struct msghdr mh = {.msg_iov = v, .msg_iovlen = nv};
		ssize_t r;

		/* the driver may take its time: if it does not answer at
		 * once, let another receiver take the next notification */
		recv_handoff_lazy(c->fd);
		/* SO_RCVTIMEO (conn_connect) ends the wait every WAIT_POLL ms */
		r = recvmsg(c->fd, &mh, MSG_CMSG_CLOEXEC);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && errno == EAGAIN) {
			if (n && !interrupted && is_fuse_op(in->opcode) &&
			    (!notif_valid(n->id) || target_signal(n->pid))) {
				struct fuse_in_header ih = {.len = sizeof(ih) +
								   sizeof(struct fuse_interrupt_in),
							    .opcode = FUSE_INTERRUPT,
							    .unique = in->unique | 1};
				struct fuse_interrupt_in ii = {.unique = in->unique};
				struct iovec iv[2] = {{&ih, sizeof(ih)}, {&ii, sizeof(ii)}};

				interrupted = true;
				send_msg(c->fd, iv, 2, -1);
			}
			continue;
		}
		if (r <= 0) {
			conn_break(c);
			return -ECONNABORTED; /* the driver died with our request */
		}
		switch (proto_reply_take(&hdr, (size_t)r, mh.msg_flags & MSG_TRUNC, in->unique,
					 out_size, &result)) {
		case PROTO_REPLY_DONE: return result;
		case PROTO_REPLY_NOTIFY:
		case PROTO_REPLY_LATE: continue; /* a late reply to a request given up on */
		case PROTO_REPLY_BROKEN:
			sv_log("cuse-run: malformed reply from a driver; dropping the "
			       "connection\n");
			conn_break(c);
			return -EIO;
		}
	}
}

static ssize_t conn_call(struct sv_conn *c, const struct seccomp_notif *n, struct iovec *req,
			 int nreq, int sendfd, void *out, size_t out_size,
			 const struct iovec *payload, int npayload)
{
	struct timespec t0, t1;
	char line[256];
	ssize_t r;

	if (!cfg.debug)
		return conn_call_raw(c, n, req, nreq, sendfd, out, out_size, payload, npayload);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	r = conn_call_raw(c, n, req, nreq, sendfd, out, out_size, payload, npayload);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	proto_trace_line(line, sizeof(line), req, nreq, r, out, out_size,
			 (double)(t1.tv_sec - t0.tv_sec) * 1e6 +
				 (double)(t1.tv_nsec - t0.tv_nsec) / 1e3);
	sv_trace("cuse-run: pid %d: %s\n", n ? (int)n->pid : 0, line);
	return r;
}

static uint64_t conn_unique(struct sv_conn *c)
{
	c->unique += 2;
	return c->unique;
}

static int conn_connect(struct sv_dev *d, struct sv_conn **out)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct fuse_in_header in = {0};
	struct cuseshim_hello_in hi = {0};
	struct iovec req[2] = {{&in, sizeof(in)}, {&hi, sizeof(hi)}};
	struct sv_conn *c;
	ssize_t n;

	recv_handoff(); /* a connect to a busy driver waits */
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		free(c);
		return -ENOMEM;
	}
	memcpy(sa.sun_path, d->sock_path, sizeof(sa.sun_path) - 1);
	if (setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &(struct timeval){0, WAIT_POLL * 1000},
		       sizeof(struct timeval)) ||
	    connect(c->fd, (struct sockaddr *)&sa, sizeof(sa))) {
		conn_break(c);
		free(c);
		return -ENOTCONN;
	}
	in.len = sizeof(in) + sizeof(hi);
	in.opcode = CUSESHIM_OP_HELLO;
	in.unique = conn_unique(c);
	hi.magic = CUSESHIM_MAGIC;
	hi.major = CUSESHIM_PROTO_MAJOR;
	hi.minor = CUSESHIM_PROTO_MINOR;
	hi.tid = (uint32_t)gettid();
	n = conn_call(c, NULL, req, 2, -1, &c->hello, sizeof(c->hello), NULL, 0);
	if (n < 0 || c->hello.magic != CUSESHIM_MAGIC || c->hello.major != CUSESHIM_PROTO_MAJOR) {
		sv_log("cuse-run: %s: handshake with the driver failed\n", d->name);
		conn_break(c);
		free(c);
		return -ENOTCONN;
	}
	*out = c;
	return 0;
}

static int conn_get(struct sv_dev *d, struct sv_conn **out)
{
	pthread_mutex_lock(&d->lock);
	*out = d->idle;
	if (*out) {
		d->idle = (*out)->next;
		d->nidle--;
	}
	pthread_mutex_unlock(&d->lock);
	return *out ? 0 : conn_connect(d, out);
}

static void conn_put(struct sv_dev *d, struct sv_conn *c)
{
	if (c->fd >= 0) {
		pthread_mutex_lock(&d->lock);
		if (d->nidle < IDLE_MAX) {
			c->next = d->idle;
			d->idle = c;
			d->nidle++;
			c = NULL;
		}
		pthread_mutex_unlock(&d->lock);
	}
	if (c) {
		conn_break(c);
		free(c);
	}
}

/* The file's handle on @c (ATTACH with our copy of the target's fd). */
static int conn_attach(struct sv_conn *c, const struct seccomp_notif *n, int copy,
		       struct sv_file *f, uint64_t *handle)
{
	struct fuse_in_header in = {0};
	struct iovec req[1] = {{&in, sizeof(in)}};
	struct cuseshim_attach_out out;
	unsigned i;
	ssize_t r;

	for (i = 0; i < 8; i++)
		if (c->cache[i].handle && c->cache[i].ino == f->ino) {
			*handle = c->cache[i].handle;
			return 0;
		}
	in.len = sizeof(in);
	in.opcode = CUSESHIM_OP_ATTACH;
	in.unique = conn_unique(c);
	r = conn_call(c, n, req, 1, copy, &out, sizeof(out), NULL, 0);
	if (r < 0)
		return (int)r;
	i = c->next_slot++ % 8;
	c->cache[i].ino = f->ino;
	c->cache[i].handle = out.handle;
	atomic_store(&f->open_flags, out.open_flags);
	atomic_store(&f->flags_known, true);
	*handle = out.handle;
	return 0;
}

/* ------------------------------------------- device operations (workers) */

enum sv_kind {
	K_NONE,
	K_OPEN,
	K_OPENAT,
	K_OPENAT2,
	K_CREAT,
	K_READ,
	K_WRITE,
	K_READV,
	K_WRITEV,
	K_PREAD,
	K_PWRITE,
	K_PREADV,
	K_PWRITEV,
	K_PREADV2,
	K_PWRITEV2,
	K_STAT,
	K_FSTATAT,
	K_STATX,
	K_ACCESS,
	K_FACCESSAT,
	K_FACCESSAT2,
	K_SENDFILE,
	K_SPLICE,
};

struct sv_job {
	struct seccomp_notif n;
	struct sv_file *file;
	struct sv_dev *dev;
	int copy;  /* our copy of the target's fd (classify_copy), or -1 */
	int flags; /* open flags, for opens */
	int kind;
};

/* What every operation on an open file starts with. */
struct sv_op {
	int copy; /* our copy of the target's fd */
	struct sv_conn *conn;
	uint64_t handle;
};

static long op_begin(struct sv_job *j, struct sv_op *op)
{
	int err;

	op->conn = NULL;
	op->copy = j->copy; /* the job's now: classify_copy found it j->file */
	j->copy = -1;
	err = conn_get(j->file->dev, &op->conn);
	if (!err) {
		err = conn_attach(op->conn, &j->n, op->copy, j->file, &op->handle);
		if (err) {
			conn_put(j->file->dev, op->conn);
			op->conn = NULL;
		}
	}
	if (err) {
		close(op->copy);
		return err;
	}
	return 0;
}

static void op_end(struct sv_job *j, struct sv_op *op)
{
	if (op->conn)
		conn_put(j->file->dev, op->conn);
	close(op->copy);
}

/* The f_flags the kernel would have now: open flags with the run-time ones
 * read back from the socket (which shares the open file description). */
static uint32_t op_flags(struct sv_job *j, struct sv_op *op)
{
	const uint32_t dynamic = O_NONBLOCK | O_APPEND | O_NOATIME | O_DIRECT;
	int now = fcntl(op->copy, F_GETFL);

	if (now < 0)
		now = 0;
	return (atomic_load(&j->file->open_flags) & ~dynamic) | ((uint32_t)now & dynamic);
}

static int recv_open_reply(int fd, uint64_t unique, struct cuseshim_open_out *out)
{
	struct fuse_out_header hdr;
	struct iovec v[2] = {{&hdr, sizeof(hdr)}, {out, sizeof(*out)}};
	struct msghdr mh = {.msg_iov = v, .msg_iovlen = 2};
	ssize_t n;

	do
		n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n <= 0)
		return -ENXIO;
	if ((size_t)n < sizeof(hdr) || hdr.len != (uint32_t)n || hdr.unique != unique)
		return -EIO;
	if (hdr.error)
		return hdr.error > -1000 && hdr.error < 0 && n == sizeof(hdr) ? hdr.error : -EIO;
	if ((size_t)n != sizeof(hdr) + sizeof(*out) || out->hello.magic != CUSESHIM_MAGIC)
		return -EIO;
	return 0;
}

/*
 * Open, as shim_open_device: a new connection to the driver is the file;
 * its first message is OPEN with the socket itself in SCM_RIGHTS.  The
 * socket is then installed in the target and the open answered in one
 * step (ADDFD with SEND), so a signal can never leak it.
 */
/* Where cuse-bridge is: beside us (the test stage), in the build tree
 * (cused/), or installed beside the shim. */
static const char *bridge_path(char *buf, size_t size)
{
	static const char *const rel[] = {"/cuse-bridge", "/cused/cuse-bridge"};
	char exe[PATH_MAX], *slash;
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	size_t i;

	if (n > 0) {
		exe[n] = '\0';
		slash = strrchr(exe, '/');
		if (slash) {
			*slash = '\0';
			for (i = 0; i < sizeof(rel) / sizeof(rel[0]); i++)
				if (snprintf(buf, size, "%s%s", exe, rel[i]) < (int)size &&
				    access(buf, X_OK) == 0)
					return buf;
		}
	}
	snprintf(buf, size, "%s", SHIMDIR "/cuse-bridge");
	return access(buf, X_OK) == 0 ? buf : NULL;
}

/* Our environment without LD_PRELOAD: the bridge never runs under the
 * shim.  Made once; nothing changes our environment meanwhile. */
static char **clean_env;

static void clean_env_make(void)
{
	size_t n = 0, i;

	while (environ[n])
		n++;
	clean_env = calloc(n + 1, sizeof(char *));
	if (!clean_env)
		return;
	for (i = 0, n = 0; environ[i]; i++)
		if (strncmp(environ[i], "LD_PRELOAD=", 11))
			clean_env[n++] = environ[i];
}

static char **bridge_env(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	pthread_once(&once, clean_env_make);
	return clean_env ? clean_env : environ;
}

/*
 * A static driver's open of /dev/cuse (the shim's cuse.c for dynamic
 * ones): one end of a socketpair goes into the target, cuse-bridge runs
 * detached on the other.  Its reads and writes of that fd are the
 * kernel's own (the socket is no device of ours); only the end differs:
 * after an abort its read gives 0 where the kernel says ENODEV.
 */
static long job_cuse_open(struct sv_job *j)
{
	struct seccomp_notif_addfd add = {0};
	char path[PATH_MAX], fdarg[16];
	char *argv[] = {"cuse-bridge", fdarg, NULL};
	posix_spawn_file_actions_t fa;
	int sv[2], r, err;
	pid_t pid;

	if ((j->flags & O_ACCMODE) != O_RDWR)
		return -EACCES;
	if (!bridge_path(path, sizeof(path))) {
		sv_log("cuse-run: cannot find cuse-bridge: /dev/cuse is not available\n");
		return -ENODEV;
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv))
		return -ENFILE;
	/* The bridge's end is its fd 3.  It is our child, and we reap every
	 * child (reap): it needs no detaching here. */
	snprintf(fdarg, sizeof(fdarg), "3");
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, sv[1], 3);
	r = posix_spawn(&pid, path, &fa, NULL, argv, bridge_env());
	posix_spawn_file_actions_destroy(&fa);
	close(sv[1]);
	if (r) {
		sv_log("cuse-run: cannot start %s for /dev/cuse\n", path);
		close(sv[0]);
		return -ENODEV;
	}
	if (j->flags & O_NONBLOCK)
		fcntl(sv[0], F_SETFL, O_NONBLOCK);
	add.id = j->n.id;
	add.flags = SECCOMP_ADDFD_FLAG_SEND;
	add.srcfd = sv[0];
	add.newfd_flags = j->flags & O_CLOEXEC;
	r = ioctl(listener, SECCOMP_IOCTL_NOTIF_ADDFD, &add);
	err = errno;
	close(sv[0]);
	if (cfg.debug)
		sv_trace("cuse-run: pid %d open /dev/cuse -> %d (cuse-bridge on the other end)\n",
			 (int)j->n.pid, r < 0 ? -err : r);
	if (r < 0 && err != ENOENT)
		return -err;
	return SV_DONE;
}

static long job_open(struct sv_job *j)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct fuse_in_header in = {0};
	struct cuseshim_open_in oi = {0};
	struct cuseshim_open_out out;
	struct iovec iov[2] = {{&in, sizeof(in)}, {&oi, sizeof(oi)}};
	struct seccomp_notif_addfd add = {0};
	struct stat st;
	int fd, err, r;

	if (j->dev->is_cuse)
		return job_cuse_open(j);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -ENFILE;
	memcpy(sa.sun_path, j->dev->sock_path, sizeof(sa.sun_path) - 1);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		/* ECONNREFUSED: nobody listens any more, the driver (or its
		 * bridge, a moment after the driver) is ending: the kernel's
		 * node is gone then */
		err = errno == ENOENT || errno == ECONNREFUSED ? -ENOENT
		      : errno == EACCES			       ? -EACCES
							       : -ENXIO;
		goto fail;
	}
	in.len = sizeof(in) + sizeof(oi);
	in.opcode = CUSESHIM_OP_OPEN;
	in.unique = 2;
	oi.hello.magic = CUSESHIM_MAGIC;
	oi.hello.major = CUSESHIM_PROTO_MAJOR;
	oi.hello.minor = CUSESHIM_PROTO_MINOR;
	oi.hello.tid = (uint32_t)j->n.pid; /* the driver checks it is below us */
	oi.open.flags = proto_open_flags(j->flags);
	oi.open.open_flags = CUSESHIM_OPEN_MIRROR; /* select/epoll see the fd itself */
	if (send_msg(fd, iov, 2, fd)) {
		err = -ENXIO;
		goto fail;
	}
	err = recv_open_reply(fd, in.unique, &out);
	if (err)
		goto fail;
	if (out.hello.flags & CUSESHIM_OPEN_MIRRORED) {
		/* always ready: its mirror byte is on the way; the program's
		 * first poll must see it */
		struct pollfd p = {.fd = fd, .events = POLLIN};

		(void)poll(&p, 1, 1000);
	}
	if ((j->flags & (O_NONBLOCK | O_APPEND)) &&
	    fcntl(fd, F_SETFL, j->flags & (O_NONBLOCK | O_APPEND))) {
		err = -errno;
		goto fail;
	}
	if (fstat(fd, &st) || !file_add(st.st_ino, j->dev, true, oi.open.flags)) {
		err = -ENOMEM;
		goto fail;
	}
	add.id = j->n.id;
	add.flags = SECCOMP_ADDFD_FLAG_SEND;
	add.srcfd = fd;
	add.newfd_flags = j->flags & O_CLOEXEC;
	r = ioctl(listener, SECCOMP_IOCTL_NOTIF_ADDFD, &add);
	err = errno;
	close(fd); /* the target's copy is the file now; or, if it died, EOF */
	if (cfg.debug)
		sv_trace("cuse-run: pid %d open %s flags 0%o -> %d\n", (int)j->n.pid, j->dev->name,
			 oi.open.flags, r < 0 ? -err : r);
	if (r < 0 && err != ENOENT)
		return -err; /* EMFILE, ... : answer it */
	return SV_DONE;
fail:
	close(fd);
	if (err == -EACCES && !atomic_exchange(&j->dev->told_denied, true)) {
		char path[300];

		snprintf(path, sizeof(path), "/dev/%s", j->dev->name);
		sv_log("cuse-run: " REGISTRY_MSG_DENIED, path, j->dev->attr.mode,
		       (unsigned)j->dev->attr.uid, (unsigned)j->dev->attr.gid);
	}
	return err;
}

/* One byte of every page of @seg must be readable: the kernel pins the
 * pages before it sends a READ, so a bad buffer never consumes data. */
static int probe_target(pid_t pid, const struct iovec *seg, int nseg)
{
	struct iovec remote[MAX_SEGS + CUSESHIM_MAX_PAGES + 2];
	char sink[MAX_SEGS + CUSESHIM_MAX_PAGES + 2];
	struct iovec local = {sink, 0};
	unsigned k = 0;
	int i;

	for (i = 0; i < nseg; i++) {
		uintptr_t a = (uintptr_t)seg[i].iov_base, end = a + seg[i].iov_len;

		while (a < end && k < sizeof(sink)) {
			remote[k++] = (struct iovec){(void *)a, 1};
			a = (a | (CUSESHIM_PAGE_SIZE - 1)) + 1;
		}
	}
	local.iov_len = k;
	if (!k)
		return 0;
	return process_vm_readv(pid, &local, 1, remote, k, 0) == (ssize_t)k ? 0 : -EFAULT;
}

static int rwf_flags(uint64_t rwf, bool is_write, uint32_t *extra)
{
	*extra = 0;
	if (rwf & RWF_NOWAIT)
		return -EOPNOTSUPP; /* no FMODE_NOWAIT on CUSE files */
	if (rwf & ~(uint64_t)(RWF_HIPRI | RWF_DSYNC | RWF_SYNC | RWF_APPEND))
		return -EOPNOTSUPP;
	if (is_write && (rwf & RWF_DSYNC))
		*extra |= O_DSYNC;
	if (is_write && (rwf & RWF_SYNC))
		*extra |= O_SYNC;
	if (is_write && (rwf & RWF_APPEND))
		*extra |= O_APPEND;
	return 0;
}

/*
 * The read and write families, with the shim's rules (see rw.c): access
 * mode first, zero length never reaches the driver, offsets ignored, the
 * request split by proto_next_chunk over the *target's* iovecs, a short
 * reply ends the call, an error after data returns the data.  Data moves
 * through a bounce buffer with process_vm_readv/writev.
 */
static long dev_io(struct sv_job *j, struct sv_op *op, const struct iovec *tiov, int iovcnt,
		   bool is_write, uint32_t extra)
{
	const struct cuseshim_hello_out *h = &op->conn->hello;
	size_t total = 0, done = 0, max;
	uint64_t lock_owner = (uint64_t)j->n.pid * 0x9e3779b97f4a7c15ull;
	uint32_t flags, acc = atomic_load(&j->file->open_flags) & O_ACCMODE, mirror = 0;
	char *bounce;
	int i;

	for (i = 0; i < iovcnt; i++) {
		if (tiov[i].iov_len > SSIZE_MAX - total)
			return -EINVAL;
		total += tiov[i].iov_len;
	}
	if (acc == (is_write ? O_RDONLY : O_WRONLY))
		return -EBADF;
	if (total == 0)
		return 0;
	flags = op_flags(j, op) | extra;
	/* POLLIN mirror bytes (select, epoll, Go's netpoller wait on the
	 * fd): the fd turns readable again only when the driver says so,
	 * after this read. */
	if (!is_write && proto_drain_mirror(op->copy, recvmmsg))
		mirror = CUSESHIM_READ_MIRROR;
	max = is_write ? h->max_write : h->max_read;
	if (max == 0 || max > CUSESHIM_MAX_PAYLOAD)
		max = CUSESHIM_MAX_PAYLOAD;
	bounce = malloc(max);
	if (!bounce)
		return -ENOMEM;
	while (done < total) {
		struct fuse_in_header in = {0};
		struct iovec seg[MAX_SEGS], req[3], data;
		size_t chunk = proto_next_chunk(tiov, iovcnt, done, max);
		int nseg = proto_iov_slice(tiov, iovcnt, done, chunk, seg, MAX_SEGS);
		struct iovec local = {bounce, chunk};
		ssize_t n;

		in.opcode = is_write ? FUSE_WRITE : FUSE_READ;
		in.unique = conn_unique(op->conn);
		in.nodeid = op->handle;
		in.pid = j->n.pid;
		req[0] = (struct iovec){&in, sizeof(in)};
		if (is_write) {
			struct fuse_write_in wi = {.offset = done,
						   .size = chunk,
						   .write_flags = FUSE_WRITE_LOCKOWNER,
						   .lock_owner = lock_owner,
						   .flags = flags};
			struct fuse_write_out wo;

			if (process_vm_readv(j->n.pid, &local, 1, seg, nseg, 0) != (ssize_t)chunk) {
				n = -EFAULT;
			} else if (!notif_valid(j->n.id)) {
				n = -ENOENT;
			} else {
				in.len = sizeof(in) + sizeof(wi) + chunk;
				req[1] = (struct iovec){&wi, sizeof(wi)};
				req[2] = local;
				n = conn_call(op->conn, &j->n, req, 3, -1, &wo, sizeof(wo), NULL,
					      0);
				if (n >= 0)
					n = wo.size > chunk ? -EIO : (ssize_t)wo.size;
			}
		} else {
			struct fuse_read_in ri = {.offset = done,
						  .size = chunk,
						  .read_flags = FUSE_READ_LOCKOWNER | mirror,
						  .lock_owner = lock_owner,
						  .flags = flags};

			n = probe_target(j->n.pid, seg, nseg);
			if (!n) {
				in.len = sizeof(in) + sizeof(ri);
				req[1] = (struct iovec){&ri, sizeof(ri)};
				data = local;
				n = conn_call(op->conn, &j->n, req, 2, -1, NULL, 0, &data, 1);
			}
			if (n > 0) {
				struct iovec back = {bounce, n};

				nseg = proto_iov_slice(tiov, iovcnt, done, n, seg, MAX_SEGS);
				if (process_vm_writev(j->n.pid, &back, 1, seg, nseg, 0) != n)
					n = -EFAULT;
			}
		}
		if (n < 0) {
			free(bounce);
			return done ? (long)done : n;
		}
		done += n;
		if ((size_t)n < chunk)
			break;
	}
	free(bounce);
	return (long)done;
}

static long job_rw(struct sv_job *j)
{
	const __u64 *a = j->n.data.args;
	bool is_write = j->kind == K_WRITE || j->kind == K_WRITEV || j->kind == K_PWRITE ||
			j->kind == K_PWRITEV || j->kind == K_PWRITEV2;
	struct iovec one, *tiov = &one;
	uint32_t extra = 0;
	struct sv_op op;
	int iovcnt = 1;
	long r;

	switch (j->kind) {
	case K_PREAD:
	case K_PWRITE:
		if ((int64_t)a[3] < 0)
			return -EINVAL;
		/* fall through */
	case K_READ:
	case K_WRITE: one = (struct iovec){(void *)(uintptr_t)a[1], a[2]}; break;
	default:
		if ((j->kind == K_PREADV || j->kind == K_PWRITEV) && (int64_t)a[3] < 0)
			return -EINVAL;
		if ((j->kind == K_PREADV2 || j->kind == K_PWRITEV2) && (int64_t)a[3] < -1)
			return -EINVAL;
		if (j->kind == K_PREADV2 || j->kind == K_PWRITEV2) {
			r = rwf_flags(a[5], is_write, &extra);
			if (r)
				return r;
		}
		iovcnt = (int)a[2];
		if (iovcnt < 0 || iovcnt > IOV_MAX)
			return -EINVAL;
		tiov = calloc(iovcnt ? iovcnt : 1, sizeof(*tiov));
		if (!tiov)
			return -ENOMEM;
		/* struct iovec has the kernel's layout on 64-bit */
		if (mem_read(j->n.pid, a[1], tiov, iovcnt * sizeof(*tiov))) {
			free(tiov);
			return -EFAULT;
		}
		break;
	}
	r = op_begin(j, &op);
	if (!r) {
		r = dev_io(j, &op, tiov, iovcnt, is_write, extra);
		op_end(j, &op);
	}
	if (tiov != &one)
		free(tiov);
	return r;
}

static int take_iovs(const struct fuse_ioctl_iovec *src, unsigned n, struct iovec *dst,
		     size_t *total)
{
	unsigned i;

	*total = 0;
	for (i = 0; i < n; i++) {
		dst[i].iov_base = (void *)(uintptr_t)src[i].base;
		dst[i].iov_len = src[i].len;
		if (src[i].len > CUSESHIM_MAX_PAYLOAD || *total + src[i].len > CUSESHIM_MAX_PAYLOAD)
			return -ENOMEM;
		*total += src[i].len;
	}
	return 0;
}

/*
 * ioctl, as the shim's dev_ioctl (see ioctl.c for the protocol), except
 * that every copy between the caller's memory and the driver goes through
 * our buffers with process_vm_readv/writev on the target.  Restricted mode:
 * {arg, _IOC_SIZE} in if _IOC_WRITE, out if _IOC_READ, RETRY is EIO.
 * Unrestricted: RETRY rounds naming target addresses, any number of them.
 */
static long dev_ioctl(struct sv_job *j, struct sv_op *op)
{
	unsigned cmd = (unsigned)j->n.data.args[1];
	uint64_t arg = j->n.data.args[2];
	bool unrestricted = op->conn->hello.flags & CUSE_UNRESTRICTED_IOCTL;
	struct iovec in_iov[MAX_IOV], out_iov[MAX_IOV];
	unsigned nin = 0, nout = 0;
	size_t in_size = 0, out_size = 0;
	char *inbuf = NULL, *bounce = NULL;
	long ret;

	if (!unrestricted && _IOC_SIZE(cmd)) {
		if (_IOC_DIR(cmd) & _IOC_WRITE) {
			in_iov[nin++] = (struct iovec){(void *)(uintptr_t)arg, _IOC_SIZE(cmd)};
			in_size = _IOC_SIZE(cmd);
		}
		if (_IOC_DIR(cmd) & _IOC_READ) {
			out_iov[nout++] = (struct iovec){(void *)(uintptr_t)arg, _IOC_SIZE(cmd)};
			out_size = _IOC_SIZE(cmd);
		}
	}
	for (;;) {
		struct fuse_in_header in = {0};
		struct fuse_ioctl_in ii = {
			.flags = unrestricted ? FUSE_IOCTL_UNRESTRICTED : 0,
			.cmd = cmd,
			.arg = arg,
			.in_size = in_size,
			.out_size = out_size,
		};
		struct fuse_ioctl_out out;
		size_t room = out_size > 4096 ? out_size : 4096;
		struct iovec req[3], dst;
		char *b;
		ssize_t n;
		int err;

		b = realloc(inbuf, in_size ? in_size : 1);
		if (!b) {
			ret = -ENOMEM;
			break;
		}
		inbuf = b;
		if (in_size) {
			struct iovec local = {inbuf, in_size};

			if (process_vm_readv(j->n.pid, &local, 1, in_iov, nin, 0) !=
			    (ssize_t)in_size) {
				ret = -EFAULT;
				break;
			}
		}
		if (!notif_valid(j->n.id)) {
			ret = -ENOENT;
			break;
		}
		b = realloc(bounce, room);
		if (!b) {
			ret = -ENOMEM;
			break;
		}
		bounce = b;
		in.len = sizeof(in) + sizeof(ii) + in_size;
		in.opcode = FUSE_IOCTL;
		in.unique = conn_unique(op->conn);
		in.nodeid = op->handle;
		in.pid = j->n.pid;
		req[0] = (struct iovec){&in, sizeof(in)};
		req[1] = (struct iovec){&ii, sizeof(ii)};
		req[2] = (struct iovec){inbuf, in_size};
		dst = (struct iovec){bounce, room};
		n = conn_call(op->conn, &j->n, req, 3, -1, &out, sizeof(out), &dst, 1);
		if (n < 0) {
			ret = n == -ENOSYS ? -ENOTTY : n;
			break;
		}
		if (!(out.flags & FUSE_IOCTL_RETRY)) {
			if ((size_t)n > out_size) {
				ret = -EIO;
				break;
			}
			if (n) {
				struct iovec local = {bounce, n}, remote[MAX_IOV];
				unsigned i, k = 0;
				size_t left = n;

				for (i = 0; i < nout && left; i++) {
					remote[k] = out_iov[i];
					if (remote[k].iov_len > left)
						remote[k].iov_len = left;
					left -= remote[k].iov_len;
					if (remote[k].iov_len)
						k++;
				}
				if (process_vm_writev(j->n.pid, &local, 1, remote, k, 0) != n) {
					ret = -EFAULT;
					break;
				}
			}
			ret = out.result == -ENOSYS ? -ENOTTY : out.result;
			break;
		}
		if (!unrestricted) {
			ret = -EIO;
			break;
		}
		if (out.in_iovs > MAX_IOV || out.out_iovs > MAX_IOV ||
		    out.in_iovs + out.out_iovs > MAX_IOV) {
			ret = -ENOMEM;
			break;
		}
		if ((size_t)n != (out.in_iovs + out.out_iovs) * sizeof(struct fuse_ioctl_iovec)) {
			ret = -EIO;
			break;
		}
		err = take_iovs((struct fuse_ioctl_iovec *)bounce, out.in_iovs, in_iov, &in_size);
		if (!err)
			err = take_iovs((struct fuse_ioctl_iovec *)bounce + out.in_iovs,
					out.out_iovs, out_iov, &out_size);
		if (err) {
			ret = err;
			break;
		}
		nin = out.in_iovs;
		nout = out.out_iovs;
	}
	free(inbuf);
	free(bounce);
	return ret;
}

static long job_ioctl(struct sv_job *j)
{
	struct sv_op op;
	long r = op_begin(j, &op);

	if (r)
		return r;
	r = dev_ioctl(j, &op);
	op_end(j, &op);
	return r;
}

static long job_getfl(struct sv_job *j)
{
	struct sv_op op;
	long r = op_begin(j, &op);

	if (r)
		return r;
	r = op_flags(j, &op);
	op_end(j, &op);
	return r;
}

/* The answer for a lock wait a signal ended: the kernel's own lock waits
 * restart after a handler with SA_RESTART and after a stop, so we answer
 * "restart" and let the kernel decide, where we can (README). */
static long lock_wait_interrupted(struct sv_job *j, const char *call)
{
	int its = target_signal(j->n.pid);

	if (its > 0)
		return -SV_ERESTARTSYS;
	if (its < 0 && !atomic_exchange(&j->file->dev->told_lock_eintr, true))
		sv_log("cuse-run: %s on /dev/%s ended EINTR by a signal to a multi-threaded "
		       "process, even if its handler has SA_RESTART (see README)\n",
		       call, j->file->dev->name);
	return -EINTR;
}

/* flock(2): the lock is the device node's, kept by libcused (see the
 * shim's fd.c); a driver that predates FLOCK gets it on the socket. */
static long job_flock(struct sv_job *j)
{
	struct cuseshim_flock_in li = {.op = (uint32_t)j->n.data.args[1]};
	struct fuse_in_header in = {.len = sizeof(in) + sizeof(li), .opcode = CUSESHIM_OP_FLOCK};
	struct iovec req[2] = {{&in, sizeof(in)}, {&li, sizeof(li)}};
	struct sv_op op;
	long r = op_begin(j, &op);

	if (r)
		return r;
	in.unique = conn_unique(op.conn);
	in.nodeid = op.handle;
	in.pid = j->n.pid;
	r = conn_call(op.conn, &j->n, req, 2, -1, NULL, 0, NULL, 0);
	if (r == -ENOSYS)
		r = flock(op.copy, (int)li.op) ? -errno : 0;
	else if (r == -EINTR)
		r = lock_wait_interrupted(j, "flock");
	op_end(j, &op);
	return r;
}

/* fcntl's record locks (F_GETLK, F_SETLK, F_SETLKW and the F_OFD_ forms):
 * the device node's, kept by libcused, as under the shim (fd.c), the
 * owner of a POSIX one the target's process (libcused takes it from the
 * thread the request names).  A driver that predates PLOCK: as native. */
static long job_plock(struct sv_job *j)
{
	struct cuseshim_plock_in pi;
	struct fuse_in_header in = {.len = sizeof(in) + sizeof(pi), .opcode = CUSESHIM_OP_PLOCK};
	struct iovec req[2] = {{&in, sizeof(in)}, {&pi, sizeof(pi)}};
	struct cuseshim_plock_out po;
	struct flock fl;
	struct sv_op op;
	long r;

	if (mem_read(j->n.pid, j->n.data.args[2], &fl, sizeof(fl)))
		return -EFAULT;
	r = proto_plock_in((int)j->n.data.args[1], &fl, &pi);
	if (r)
		return r;
	r = op_begin(j, &op);
	if (r)
		return r;
	if (op.conn->hello.minor < 8) {
		op_end(j, &op);
		return SV_CONTINUE;
	}
	in.unique = conn_unique(op.conn);
	in.nodeid = op.handle;
	in.pid = j->n.pid;
	r = conn_call(op.conn, &j->n, req, 2, -1, &po, sizeof(po), NULL, 0);
	op_end(j, &op);
	if (r == -EINTR)
		r = lock_wait_interrupted(j, "F_SETLKW");
	if (r < 0)
		return r;
	if (pi.cmd != CUSESHIM_PLOCK_GET)
		return 0;
	proto_plock_out(&po, &fl);
	return mem_write(j->n.pid, j->n.data.args[2], &fl, sizeof(fl));
}

/* A device operation, run by the receiver that took its notification
 * (see serve): it may wait for the driver as long as the driver likes. */
static long run_job(const struct seccomp_notif *n, int kind, struct sv_file *f, struct sv_dev *dev,
		    int copy, int flags, long (*run)(struct sv_job *))
{
	struct sv_job j = {.n = *n,
			   .kind = kind,
			   .file = f,
			   .dev = dev ? dev
				  : f ? f->dev
				      : NULL,
			   .copy = copy,
			   .flags = flags};
	long r;

	/* an open waits for the driver in job_open; the rest of the jobs
	 * wait only in conn_call_raw, which hands off when the driver takes
	 * longer than LAZY_US */
	if (run == job_open)
		recv_handoff();
	r = run(&j);
	if (j.copy >= 0)
		close(j.copy); /* the job ended before it used it */
	return r;
}

/* ------------------------------------------------ notification handlers */

static uint64_t name_ino(const char *name)
{
	uint64_t h = 1469598103934665603ull;

	for (; *name; name++)
		h = (h ^ (unsigned char)*name) * 1099511628211ull;
	return (h & 0xffffffffull) | 1;
}

/* What devtmpfs would report for the node (as the shim's stat.c). */
static void fill_stat(struct sv_dev *d, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	pthread_mutex_lock(&d->lock);
	st->st_dev = makedev(0, 5);
	st->st_ino = name_ino(d->name);
	st->st_mode = S_IFCHR | (d->attr.mode & 07777);
	st->st_nlink = 1;
	st->st_uid = d->attr.uid;
	st->st_gid = d->attr.gid;
	st->st_rdev = makedev(d->attr.major, d->attr.minor);
	st->st_blksize = 4096;
	st->st_atim = st->st_mtim = st->st_ctim = d->mtime;
	pthread_mutex_unlock(&d->lock);
}

static long put_stat(const struct seccomp_notif *n, struct sv_dev *d, uint64_t buf)
{
	struct stat st;

	fill_stat(d, &st); /* struct stat is the kernel's on x86_64 */
	return mem_write(n->pid, buf, &st, sizeof(st));
}

static long put_statx(const struct seccomp_notif *n, struct sv_dev *d, uint64_t buf)
{
	struct statx sx;
	struct stat st;

	fill_stat(d, &st);
	memset(&sx, 0, sizeof(sx));
	sx.stx_mask = STATX_BASIC_STATS;
	sx.stx_blksize = st.st_blksize;
	sx.stx_nlink = st.st_nlink;
	sx.stx_uid = st.st_uid;
	sx.stx_gid = st.st_gid;
	sx.stx_mode = st.st_mode;
	sx.stx_ino = st.st_ino;
	sx.stx_atime.tv_sec = sx.stx_mtime.tv_sec = sx.stx_ctime.tv_sec = st.st_mtim.tv_sec;
	sx.stx_atime.tv_nsec = sx.stx_mtime.tv_nsec = sx.stx_ctime.tv_nsec = st.st_mtim.tv_nsec;
	sx.stx_rdev_major = major(st.st_rdev);
	sx.stx_rdev_minor = minor(st.st_rdev);
	sx.stx_dev_minor = 5;
	return mem_write(n->pid, buf, &sx, sizeof(sx));
}

static long on_open(struct seccomp_notif *n, int kind)
{
	const __u64 *a = n->data.args;
	int dirfd = AT_FDCWD, flags, r;
	uint64_t path;
	struct sv_dev *dev;

	switch (kind) {
	case K_OPEN:
		path = a[0];
		flags = (int)a[1];
		break;
	case K_CREAT:
		path = a[0];
		flags = O_CREAT | O_WRONLY | O_TRUNC;
		break;
	case K_OPENAT:
		dirfd = (int)a[0];
		path = a[1];
		flags = (int)a[2];
		break;
	default: {
		struct open_how how;

		if (a[3] < sizeof(how) || mem_read(n->pid, a[2], &how, sizeof(how)) ||
		    how.flags > UINT32_MAX)
			return SV_CONTINUE;
		dirfd = (int)a[0];
		path = a[1];
		flags = (int)how.flags;
		break;
	}
	}
	r = target_path_dev(n, dirfd, path, &dev);
	if (r <= 0)
		return r ? r : SV_CONTINUE;
	if (flags & O_DIRECTORY)
		return -ENOTDIR;
	/* The kernel gives an O_PATH fd without calling the driver; we have
	 * nothing to inject (ADDFD refuses O_PATH files), so say so. */
	if (flags & O_PATH) {
		sv_log("cuse-run: O_PATH open of device %s is not supported under --seccomp\n",
		       dev->name);
		return -EOPNOTSUPP;
	}
	return run_job(n, kind, NULL, dev, -1, flags, job_open);
}

static long on_rw(struct seccomp_notif *n, int kind)
{
	int fd = (int)(unsigned)n->data.args[0], copy;
	struct sv_file *f = classify_copy(n, fd, &copy);

	if (!f)
		return SV_CONTINUE;
	return run_job(n, kind, f, NULL, copy, 0, job_rw);
}

static struct sv_dev *fd_dev(struct seccomp_notif *n, int fd)
{
	struct sv_file *f = classify(n, fd);

	return f ? f->dev : NULL;
}

static long on_fstat(struct seccomp_notif *n, int kind)
{
	struct sv_dev *d = fd_dev(n, (int)(unsigned)n->data.args[0]);

	return d ? put_stat(n, d, n->data.args[1]) : SV_CONTINUE;
}

/* The empty-path form of newfstatat/statx: 1 when @addr is NULL or "". */
static int empty_path(const struct seccomp_notif *n, uint64_t addr)
{
	char c;

	if (!addr)
		return 1;
	return mem_read(n->pid, addr, &c, 1) ? -EFAULT : c == '\0';
}

/* stat, lstat, newfstatat and statx: fds with AT_EMPTY_PATH, and paths. */
static long on_stat(struct seccomp_notif *n, int kind)
{
	const __u64 *a = n->data.args;
	int dirfd = AT_FDCWD, flags = 0, r;
	uint64_t path = a[0], buf = a[1];
	struct sv_dev *d;

	if (kind == K_FSTATAT) {
		dirfd = (int)a[0];
		path = a[1];
		buf = a[2];
		flags = (int)a[3];
	} else if (kind == K_STATX) {
		dirfd = (int)a[0];
		path = a[1];
		flags = (int)a[2];
		buf = a[4];
	}
	if (kind != K_STAT && (flags & AT_EMPTY_PATH) && empty_path(n, path) == 1) {
		if (dirfd == AT_FDCWD || !(d = fd_dev(n, dirfd)))
			return SV_CONTINUE;
	} else {
		r = target_path_dev(n, dirfd, path, &d);
		if (r <= 0)
			return r ? r : SV_CONTINUE;
	}
	return kind == K_STATX ? put_statx(n, d, buf) : put_stat(n, d, buf);
}

/* The node's permission bits against the target's real or effective ids. */
static long dev_access(const struct seccomp_notif *n, struct sv_dev *d, int mode, bool effective)
{
	struct sv_creds c;
	uid_t uid;
	gid_t gid;
	unsigned bits;
	int i;

	if (mode == F_OK)
		return 0;
	if (target_creds(n->pid, &c))
		return -EACCES;
	uid = effective ? c.euid : c.ruid;
	gid = effective ? c.egid : c.rgid;
	if (uid == 0)
		return 0;
	pthread_mutex_lock(&d->lock);
	if (uid == d->attr.uid) {
		bits = d->attr.mode >> 6;
	} else {
		bool member = gid == d->attr.gid;

		for (i = 0; i < c.ngroups && !member; i++)
			member = c.groups[i] == d->attr.gid;
		bits = member ? d->attr.mode >> 3 : d->attr.mode;
	}
	pthread_mutex_unlock(&d->lock);
	return ((bits & 7) & mode) == (unsigned)mode ? 0 : -EACCES;
}

static long on_access(struct seccomp_notif *n, int kind)
{
	const __u64 *a = n->data.args;
	int dirfd = AT_FDCWD, mode = (int)a[1], flags = 0, r;
	uint64_t path = a[0];
	struct sv_dev *d;

	if (kind != K_ACCESS) {
		dirfd = (int)a[0];
		path = a[1];
		mode = (int)a[2];
		flags = kind == K_FACCESSAT2 ? (int)a[3] : 0;
	}
	r = target_path_dev(n, dirfd, path, &d);
	if (r <= 0)
		return r ? r : SV_CONTINUE;
	return dev_access(n, d, mode, flags & AT_EACCESS);
}

static long on_lseek(struct seccomp_notif *n, int kind)
{
	return fd_dev(n, (int)(unsigned)n->data.args[0]) ? 0 : SV_CONTINUE;
}

static long on_mmap(struct seccomp_notif *n, int kind)
{
	return fd_dev(n, (int)(unsigned)n->data.args[4]) ? -ENODEV : SV_CONTINUE;
}

static long on_fsync(struct seccomp_notif *n, int kind)
{
	return fd_dev(n, (int)(unsigned)n->data.args[0]) ? -EINVAL : SV_CONTINUE;
}

static long on_fcntl(struct seccomp_notif *n, int kind)
{
	int fd = (int)(unsigned)n->data.args[0], cmd = (int)n->data.args[1], copy, r;
	struct sv_file *f;

	bool lock = cmd == F_GETLK || cmd == F_SETLK || cmd == F_SETLKW || cmd == F_OFD_GETLK ||
		    cmd == F_OFD_SETLK || cmd == F_OFD_SETLKW;

	if (cmd != F_GETFL && !lock && !(cmd == F_SETFL && (n->data.args[2] & O_ASYNC)))
		return SV_CONTINUE;
	f = classify_copy(n, fd, &copy);
	if (!f)
		return SV_CONTINUE;
	if (cmd == F_GETFL)
		return run_job(n, kind, f, NULL, copy, 0, job_getfl);
	if (lock)
		return run_job(n, kind, f, NULL, copy, 0, job_plock);
	/* CUSE files have no fasync: O_ASYNC is accepted and dropped. */
	r = fcntl(copy, F_SETFL, (int)(n->data.args[2] & ~(uint64_t)O_ASYNC)) ? -errno : 0;
	close(copy);
	return r;
}

static long on_flock(struct seccomp_notif *n, int kind)
{
	int copy;
	struct sv_file *f = classify_copy(n, (int)(unsigned)n->data.args[0], &copy);

	if (!f)
		return SV_CONTINUE;
	return run_job(n, kind, f, NULL, copy, 0, job_flock);
}

/* sendfile, splice and copy_file_range: a CUSE file has no splice_read or
 * splice_write and is not a regular file, so the kernel refuses them with
 * EINVAL (and programs such as busybox cat fall back to read/write).
 * Natively they would block on, or write into, our socket. */
static long on_splice(struct seccomp_notif *n, int kind)
{
	int out_arg = kind == K_SENDFILE ? 0 : 2, in_arg = kind == K_SENDFILE ? 1 : 0;

	if (fd_dev(n, (int)(unsigned)n->data.args[in_arg]) ||
	    fd_dev(n, (int)(unsigned)n->data.args[out_arg]))
		return -EINVAL;
	return SV_CONTINUE;
}

/* The ioctls the VFS answers for every file (fs/ioctl.c do_vfs_ioctl):
 * true with the answer in *@r; false for the rest, which reach the driver. */
static bool vfs_ioctl(struct seccomp_notif *n, unsigned cmd, uint64_t arg, long *r)
{
	struct sv_creds c;
	int v;

	switch (cmd) {
	case FIOASYNC:
		*r = mem_read(n->pid, arg, &v, sizeof(v)) ? -EFAULT : v ? -ENOTTY : 0;
		return true;
	case FIOQSIZE: *r = -ENOTTY; return true;
	case FIGETBSZ:
		v = 4096;
		*r = mem_write(n->pid, arg, &v, sizeof(v));
		return true;
	case FIFREEZE:
	case FITHAW:
		*r = !target_creds(n->pid, &c) && c.euid == 0 ? -EOPNOTSUPP : -EPERM;
		return true;
	case FS_IOC_FIEMAP: *r = -EOPNOTSUPP; return true;
	default: return false;
	}
}

static long on_ioctl(struct seccomp_notif *n, int kind)
{
	int fd = (int)(unsigned)n->data.args[0], copy;
	unsigned cmd = (unsigned)n->data.args[1];
	struct sv_file *f;
	long r;

	if (cmd == FIOCLEX || cmd == FIONCLEX || cmd == FIONBIO)
		return SV_CONTINUE; /* per fd / per open file: right on our socket */
	f = classify_copy(n, fd, &copy);
	if (!f)
		return SV_CONTINUE;
	if (vfs_ioctl(n, cmd, n->data.args[2], &r)) {
		close(copy);
		return r;
	}
	return run_job(n, kind, f, NULL, copy, 0, job_ioctl);
}

struct sv_call {
	const char *name;
	long (*handler)(struct seccomp_notif *n, int kind);
	int kind;
};

static const struct sv_call calls[] = {
	{"open", on_open, K_OPEN},
	{"openat", on_open, K_OPENAT},
	{"openat2", on_open, K_OPENAT2},
	{"creat", on_open, K_CREAT},
	{"read", on_rw, K_READ},
	{"write", on_rw, K_WRITE},
	{"readv", on_rw, K_READV},
	{"writev", on_rw, K_WRITEV},
	{"pread64", on_rw, K_PREAD},
	{"pwrite64", on_rw, K_PWRITE},
	{"preadv", on_rw, K_PREADV},
	{"pwritev", on_rw, K_PWRITEV},
	{"preadv2", on_rw, K_PREADV2},
	{"pwritev2", on_rw, K_PWRITEV2},
	{"ioctl", on_ioctl, K_NONE},
	{"fstat", on_fstat, K_NONE},
	{"stat", on_stat, K_STAT},
	{"lstat", on_stat, K_STAT},
	{"newfstatat", on_stat, K_FSTATAT},
	{"statx", on_stat, K_STATX},
	{"access", on_access, K_ACCESS},
	{"faccessat", on_access, K_FACCESSAT},
	{"faccessat2", on_access, K_FACCESSAT2},
	{"lseek", on_lseek, K_NONE},
	{"fcntl", on_fcntl, K_NONE},
	{"mmap", on_mmap, K_NONE},
	{"fsync", on_fsync, K_NONE},
	{"fdatasync", on_fsync, K_NONE},
	{"sendfile", on_splice, K_SENDFILE},
	{"splice", on_splice, K_SPLICE},
	{"copy_file_range", on_splice, K_SPLICE},
	{"flock", on_flock, K_NONE},
};

#define NR_MAX 1024
static const struct sv_call *by_nr[NR_MAX];

/* ------------------------------------------------ filter, launch, loop */

/* The BPF program: calls[] notified (file-backed mmap only), everything
 * else allowed, other architectures ENOSYS. */
static int build_filter(struct sock_fprog *prog)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
	struct sock_filter *code = NULL;
	size_t i;
	off_t size;
	int fd = -1, err = -ENOMEM;

	if (!ctx)
		return -ENOMEM;
	err = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_ERRNO(ENOSYS));
	for (i = 0; !err && i < sizeof(calls) / sizeof(calls[0]); i++) {
		int nr = seccomp_syscall_resolve_name(calls[i].name);

		if (nr == __NR_SCMP_ERROR || nr < 0 || nr >= NR_MAX)
			continue; /* not on this architecture */
		by_nr[nr] = &calls[i];
		if (calls[i].handler == on_mmap)
			err = seccomp_rule_add(ctx, SCMP_ACT_NOTIFY, nr, 2,
					       SCMP_A4_32(SCMP_CMP_NE, 0xffffffffu),
					       SCMP_A3(SCMP_CMP_MASKED_EQ, MAP_ANONYMOUS, 0));
		else
			err = seccomp_rule_add(ctx, SCMP_ACT_NOTIFY, nr, 0);
	}
	if (!err) {
		fd = memfd_create("cuse-run-filter", MFD_CLOEXEC);
		err = fd < 0 ? -errno : seccomp_export_bpf(ctx, fd);
	}
	if (!err) {
		size = lseek(fd, 0, SEEK_END);
		code = size > 0 ? malloc(size) : NULL;
		if (!code || pread(fd, code, size, 0) != size)
			err = -EIO;
	}
	if (fd >= 0)
		close(fd);
	seccomp_release(ctx);
	if (err) {
		free(code);
		return err;
	}
	prog->len = size / sizeof(struct sock_filter);
	prog->filter = code;
	return 0;
}

/* In the child: install the filter and return the listener. */
static int load_filter(struct sock_fprog *prog)
{
	int fd;

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		return -errno;
	fd = (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER,
			  SECCOMP_FILTER_FLAG_NEW_LISTENER | SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV,
			  prog);
	if (fd < 0 && errno == EINVAL) /* before 5.19: signals may restart calls */
		fd = (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER,
				  SECCOMP_FILTER_FLAG_NEW_LISTENER, prog);
	return fd < 0 ? -errno : fd;
}

static int recv_fd(int sock)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} ctl;
	char byte;
	struct iovec v = {&byte, 1};
	struct msghdr mh = {.msg_iov = &v,
			    .msg_iovlen = 1,
			    .msg_control = ctl.buf,
			    .msg_controllen = sizeof(ctl)};
	struct cmsghdr *cm;
	ssize_t n;
	int fd;

	do
		n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n <= 0)
		return -1;
	cm = CMSG_FIRSTHDR(&mh);
	if (!cm || cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS ||
	    cm->cmsg_len != CMSG_LEN(sizeof(int)))
		return -1;
	memcpy(&fd, CMSG_DATA(cm), sizeof(int));
	return fd;
}

bool find_program(const char *prog, char *out, size_t size)
{
	const char *path = getenv("PATH"), *p;

	if (strchr(prog, '/'))
		return snprintf(out, size, "%s", prog) < (int)size && access(out, X_OK) == 0;
	for (p = path ? path : "/usr/bin:/bin"; *p;) {
		const char *colon = strchr(p, ':');
		size_t len = colon ? (size_t)(colon - p) : strlen(p);

		if (snprintf(out, size, "%.*s/%s", (int)len, len ? p : ".", prog) < (int)size &&
		    access(out, X_OK) == 0)
			return true;
		if (!colon)
			break;
		p = colon + 1;
	}
	return false;
}

/* execvp, with the raw system call: the shim may be loaded in us, and
 * its execve would send a static program back to cuse-run (whose filter
 * this process already has).  What the raw call cannot run (a script
 * without #!) goes to libc's execvp. */
static void exec_program(const char *path, char **argv)
{
	char found[PATH_MAX];

	if (!path) {
		if (!find_program(argv[0], found, sizeof(found))) {
			errno = ENOENT;
			return;
		}
		path = found;
	}
	syscall(SYS_execve, path, argv, environ);
	if (errno == ENOEXEC)
		execvp(path, argv);
}

static void child(char **argv, struct sock_fprog *prog, int sock, const sigset_t *mask)
{
	int fd;

	sigprocmask(SIG_SETMASK, mask, NULL);
	fd = load_filter(prog);
	if (fd < 0) {
		fprintf(stderr, "cuse-run: cannot install the seccomp filter: %s\n", strerror(-fd));
		_exit(125);
	}
	if (send_msg(sock, &(struct iovec){"L", 1}, 1, fd)) {
		fprintf(stderr, "cuse-run: cannot pass the seccomp listener\n");
		_exit(125);
	}
	close(fd);
	close(sock);
	exec_program(NULL, argv);
	fprintf(stderr, "cuse-run: cannot run '%s': %s\n", argv[0], strerror(errno));
	_exit(errno == ENOENT ? 127 : 126);
}

static int status_code(int st)
{
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* Reap every child (we are a subreaper); remember the direct child's. */
static void reap(pid_t pid, int *status, bool *exited)
{
	pid_t r;
	int st;

	while ((r = waitpid(-1, &st, WNOHANG)) > 0)
		if (r == pid) {
			*status = status_code(st);
			*exited = true;
		}
}

static void handle_notification(struct seccomp_notif *n)
{
	const struct sv_call *c = n->data.nr < NR_MAX ? by_nr[n->data.nr] : NULL;
	long r = SV_CONTINUE;

	if (c && n->data.arch == native_arch)
		r = c->handler(n, c->kind);
	respond(n->id, r);
}

/*
 * The receivers.  One thread at a time waits in SECCOMP_IOCTL_NOTIF_RECV
 * (each notification wakes every thread waiting there) and handles what
 * it takes itself, so a call answered at once costs no hand-off between
 * threads.  Before anything that may wait for a driver (recv_handoff, in
 * run_job for an open and in conn_connect; in conn_call_raw once the
 * driver has not answered within LAZY_US, recv_handoff_lazy) it gives the
 * turn to receive to a parked receiver, or starts one: a device call may
 * block for ever, so receivers are not capped.  After that call it parks until the turn
 * comes back; more than RECEIVERS_IDLE_MAX parked ones end.
 */
#define RECEIVERS_IDLE_MAX 8

static pthread_mutex_t recv_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t recv_cond = PTHREAD_COND_INITIALIZER;
static bool recv_taken; /* a receiver has the turn */
static unsigned recv_parked;
static __thread bool recv_turn; /* this thread has it */
static size_t notif_size;

static int start_receiver(void);

/* Wait for the turn to receive; false when enough others wait already. */
static bool recv_take(void)
{
	bool ok = true;

	pthread_mutex_lock(&recv_lock);
	while (recv_taken && (ok = recv_parked < RECEIVERS_IDLE_MAX)) {
		recv_parked++;
		pthread_cond_wait(&recv_cond, &recv_lock);
		recv_parked--;
	}
	if (ok)
		recv_taken = true;
	pthread_mutex_unlock(&recv_lock);
	recv_turn = ok;
	return ok;
}

static void recv_handoff(void)
{
	bool start;

	if (!recv_turn)
		return;
	recv_turn = false;
	pthread_mutex_lock(&recv_lock);
	recv_taken = false;
	start = recv_parked == 0;
	if (!start)
		pthread_cond_signal(&recv_cond);
	pthread_mutex_unlock(&recv_lock);
	if (start && start_receiver()) {
		/* no thread to take over: receive again after this call */
		pthread_mutex_lock(&recv_lock);
		recv_turn = !recv_taken;
		recv_taken = true;
		pthread_mutex_unlock(&recv_lock);
	}
}

/*
 * Before waiting for a driver's answer on @fd: hand off the turn to
 * receive (recv_handoff) unless the answer comes within LAZY_US.  A call
 * the driver answers at once then costs no thread hand-off; one that
 * waits holds up the next notification for at most that long.
 */
static void recv_handoff_lazy(int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	const struct timespec lazy = {0, LAZY_US * 1000};

	if (recv_turn && ppoll(&p, 1, &lazy, NULL) <= 0)
		recv_handoff();
}

static void *receiver(void *arg)
{
	struct seccomp_notif *n = calloc(1, notif_size);

	(void)arg;
	if (!n)
		sv_log("cuse-run: out of memory\n");
	while (n && (recv_turn || recv_take())) {
		memset(n, 0, notif_size);
		if (ioctl(listener, SECCOMP_IOCTL_NOTIF_RECV, n)) {
			/* EINTR; ENOENT: the caller went away meanwhile */
			if (errno != EINTR && errno != ENOENT) {
				sv_log("cuse-run: receiving a notification: %s\n", strerror(errno));
				break;
			}
			continue;
		}
		handle_notification(n);
	}
	if (recv_turn) {
		pthread_mutex_lock(&recv_lock);
		recv_taken = false;
		pthread_cond_signal(&recv_cond);
		pthread_mutex_unlock(&recv_lock);
	}
	free(n);
	return NULL;
}

static int start_receiver(void)
{
	pthread_attr_t attr;
	pthread_t t;
	sigset_t all, old;
	int err;

	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, 256 * 1024);
	/* signals stay with the main thread's signalfd */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	err = pthread_create(&t, &attr, receiver, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&attr);
	if (err)
		sv_log("cuse-run: cannot start a thread: %s\n", strerror(err));
	return err;
}

/* The main thread: signals, orphans, and the listener's hang-up once no
 * task uses the filter; the receivers do the rest. */
static int serve(pid_t pid, int sigfd)
{
	struct seccomp_notif_sizes sizes = {0};
	bool exited = false;
	int status = 0;

	if (syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sizes))
		sizes.seccomp_notif = sizeof(struct seccomp_notif);
	notif_size = sizes.seccomp_notif > sizeof(struct seccomp_notif)
			     ? sizes.seccomp_notif
			     : sizeof(struct seccomp_notif);
	/* Linux 6.6+: wake a receiver on the caller's CPU and the caller on
	 * ours, as one synchronous hand-over, instead of waking a thread on
	 * a CPU that may sleep (tens of microseconds on a VM) */
	ioctl(listener, SECCOMP_IOCTL_NOTIF_SET_FLAGS, SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP);
	if (start_receiver())
		return 125;
	for (;;) {
		struct pollfd p[2] = {{listener, 0, 0}, {sigfd, POLLIN, 0}};

		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			sv_log("cuse-run: poll: %s\n", strerror(errno));
			break;
		}
		if (p[1].revents) {
			struct signalfd_siginfo si;

			while (read(sigfd, &si, sizeof(si)) == sizeof(si))
				if (si.ssi_signo != SIGCHLD)
					kill(pid, (int)si.ssi_signo); /* SIGTERM, SIGHUP */
			reap(pid, &status, &exited);
		}
		if (p[0].revents & (POLLHUP | POLLERR | POLLNVAL))
			break; /* no task uses the filter any more */
	}
	while (!exited) {
		int st;
		pid_t r = waitpid(pid, &st, 0);

		if (r == pid) {
			status = status_code(st);
			exited = true;
		} else if (r < 0 && errno != EINTR) {
			break;
		}
	}
	reap(pid, &status, &exited);
	return status;
}

/* What both ways of supervising start with: the configuration, the
 * filter, and the socketpair that carries the listener.  Says why not. */
static int prepare(struct sock_fprog *prog, int sv[2])
{
	int err;

	load_config();
	native_arch = seccomp_arch_native();
	err = build_filter(prog);
	if (err) {
		fprintf(stderr, "cuse-run: cannot build the seccomp filter: %s\n", strerror(-err));
		return -1;
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv)) {
		perror("cuse-run: socketpair");
		free(prog->filter);
		return -1;
	}
	return 0;
}

/* LD_PRELOAD without the shim (its entries named libcuseshim.so). */
static void drop_shim_from_preload(void)
{
	const char *old = getenv("LD_PRELOAD");
	char *copy, *out, *tok, *save = NULL;
	size_t used = 0;

	if (!old || !strstr(old, "libcuseshim.so"))
		return;
	copy = strdup(old);
	out = calloc(1, strlen(old) + 1);
	if (!copy || !out) {
		free(copy);
		free(out);
		return;
	}
	for (tok = strtok_r(copy, " :", &save); tok; tok = strtok_r(NULL, " :", &save)) {
		const char *base = strrchr(tok, '/');

		if (!strcmp(base ? base + 1 : tok, "libcuseshim.so"))
			continue;
		used += (size_t)sprintf(out + used, "%s%s", used ? " " : "", tok);
	}
	if (used)
		setenv("LD_PRELOAD", out, 1);
	else
		unsetenv("LD_PRELOAD");
	free(copy);
	free(out);
}

/* The detached supervisor of supervise_in_place: it tells the target its
 * pid (for Yama's PR_SET_PTRACER), takes the listener and serves it. */
static void detached_supervisor(int sock)
{
	pid_t self = getpid();
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);

	/* None of the program's fds: a device fd held here would delay its
	 * release, a pipe its reader's EOF.  stderr stays for our lines
	 * unless it is a socket (maybe a device). */
	if (null >= 0) {
		struct stat st;

		dup2(null, 0);
		dup2(null, 1);
		if (fstat(2, &st) || S_ISSOCK(st.st_mode))
			dup2(null, 2);
	}
	if (sock != 3) {
		dup2(sock, 3);
		sock = 3;
	}
	syscall(SYS_close_range, 4, ~0U, 0);
	signal(SIGINT, SIG_IGN);
	signal(SIGQUIT, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	if (send_msg(sock, &(struct iovec){&self, sizeof(self)}, 1, -1))
		_exit(1);
	listener = recv_fd(sock);
	close(sock);
	if (listener < 0)
		_exit(1);
	_exit(serve(-1, -1) ? 1 : 0);
}

int supervise_in_place(const char *path, char **argv)
{
	struct sock_fprog prog;
	pid_t pid, sup = 0;
	int sv[2], fd, st;

	if (prepare(&prog, sv))
		return 125;
	pid = fork();
	if (pid < 0) {
		perror("cuse-run: fork");
		return 125;
	}
	if (pid == 0) {
		close(sv[0]);
		setpgid(0, 0); /* out of the terminal's signals; same session */
		pid = fork();
		if (pid == 0)
			detached_supervisor(sv[1]);
		_exit(pid < 0);
	}
	close(sv[1]);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (recv(sv[0], &sup, sizeof(sup), 0) != sizeof(sup)) {
		fprintf(stderr, "cuse-run: the supervisor did not start\n");
		return 125;
	}
	prctl(PR_SET_PTRACER, sup, 0, 0, 0); /* EINVAL without Yama: fine */
	fd = load_filter(&prog);
	if (fd < 0) {
		fprintf(stderr, "cuse-run: cannot install the seccomp filter: %s\n", strerror(-fd));
		return 125;
	}
	if (send_msg(sv[0], &(struct iovec){"L", 1}, 1, fd)) {
		fprintf(stderr, "cuse-run: cannot pass the seccomp listener\n");
		return 125;
	}
	close(fd);
	close(sv[0]);
	free(prog.filter);
	drop_shim_from_preload();
	exec_program(path, argv);
	fprintf(stderr, "cuse-run: cannot run '%s': %s\n", path, strerror(errno));
	return errno == ENOENT ? 127 : 126;
}

int supervise(char **argv)
{
	struct sock_fprog prog;
	sigset_t block, old;
	int sv[2], sigfd;
	pid_t pid;

	if (prepare(&prog, sv))
		return 125;
	sigemptyset(&block);
	sigaddset(&block, SIGCHLD);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGHUP);
	sigprocmask(SIG_BLOCK, &block, &old);
	sigfd = signalfd(-1, &block, SFD_NONBLOCK | SFD_CLOEXEC);
	if (sigfd < 0) {
		perror("cuse-run: signalfd");
		return 125;
	}
	/* Orphaned descendants still hold the filter: reap them too, or the
	 * listener never hangs up. */
	prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
	pid = fork();
	if (pid < 0) {
		perror("cuse-run: fork");
		return 125;
	}
	if (pid == 0) {
		close(sv[0]);
		close(sigfd);
		child(argv, &prog, sv[1], &old);
	}
	close(sv[1]);
	free(prog.filter);
	/* The terminal signals reach the whole group; the program decides. */
	signal(SIGINT, SIG_IGN);
	signal(SIGQUIT, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	listener = recv_fd(sv[0]);
	close(sv[0]);
	if (listener < 0) {
		int st = 125 << 8;

		while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
			;
		return status_code(st); /* the child said why */
	}
	if (cfg.debug)
		sv_trace("cuse-run: supervising pid %d (registry %s)\n", (int)pid, cfg.dir);
	return serve(pid, sigfd);
}
