/* SPDX-License-Identifier: MIT */
/*
 * Private interface of libcuseshim, the LD_PRELOAD interposer.
 *
 * Objects:
 *   struct shim_dev   a registry entry this process has used (path of the
 *                     driver's socket, attributes).  Never freed.
 *   struct shim_file  one open file description: the device and the inode
 *                     of our socket end.  Every fd number that refers to it
 *                     (dup, inherited) points at the same object from the
 *                     fd table; recycled, never returned to malloc, so a
 *                     lock-free reader can never touch freed memory.
 *   struct shim_chan  a thread's control connection to one driver.
 *
 * Rules: wrappers return -1/errno; everything below them returns -errno.
 * Internal code never calls a wrapped function: it uses shim_real.* or the
 * shim_sys_* raw calls.  errno is untouched on success.
 */
#ifndef SHIM_I_H
#define SHIM_I_H

#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <time.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <spawn.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/select.h>
#include <sys/sendfile.h>
#include <termios.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

#include "proto/cuseshim_proto.h"
#include "proto/registry.h"

#define SHIM_EXPORT __attribute__((visibility("default")))

/* ---- real.c: the next definition of everything we wrap */
struct shim_real {
#define SHIM_REAL(ret, name, args) ret(*name) args;
#include "real.def"
#undef SHIM_REAL
};
extern struct shim_real shim_real;
void shim_resolve(void);
struct shim_real *shim_resolved(void);
#define REAL(name)                                                                                 \
	((__builtin_expect(shim_real.name != NULL, 1) ? &shim_real : shim_resolved())->name)

/* glibc entry points without a public prototype. */
int __open_2(const char *, int);
int __open64_2(const char *, int);
int __openat_2(int, const char *, int);
int __openat64_2(int, const char *, int);
ssize_t __read_chk(int, void *, size_t, size_t);
ssize_t __pread_chk(int, void *, size_t, off_t, size_t);
ssize_t __pread64_chk(int, void *, size_t, off_t, size_t);
int __poll_chk(struct pollfd *, nfds_t, int, size_t);
int __ppoll_chk(struct pollfd *, nfds_t, const struct timespec *, const sigset_t *, size_t);
int __ttyname_r_chk(int, char *, size_t, size_t);
ssize_t __readlink_chk(const char *, char *, size_t, size_t);
ssize_t __readlinkat_chk(int, const char *, char *, size_t, size_t);
char *__realpath_chk(const char *, char *, size_t);
int __xstat(int, const char *, struct stat *);
int __xstat64(int, const char *, struct stat64 *);
int __lxstat(int, const char *, struct stat *);
int __lxstat64(int, const char *, struct stat64 *);
int __fxstat(int, int, struct stat *);
int __fxstat64(int, int, struct stat64 *);
int __fxstatat(int, int, const char *, struct stat *, int);
int __fxstatat64(int, int, const char *, struct stat64 *, int);

/* Raw system calls for internal use.  The shim wraps syscall() itself,
 * so internal code reaches libc's through shim_raw_syscall. */
long shim_raw_syscall(long nr, ...);
static inline int shim_sys_close(int fd)
{
	return (int)shim_raw_syscall(SYS_close, fd);
}
static inline int shim_sys_fcntl(int fd, int cmd, long arg)
{
	return (int)shim_raw_syscall(SYS_fcntl, fd, cmd, arg);
}
static inline int shim_sys_fstat(int fd, struct stat *st)
{
	return (int)shim_raw_syscall(SYS_fstat, fd, st);
}
static inline pid_t shim_sys_getpid(void)
{
	return (pid_t)shim_raw_syscall(SYS_getpid);
}
static inline pid_t shim_sys_gettid(void)
{
	return (pid_t)shim_raw_syscall(SYS_gettid);
}

/* ---- exec.c: where the shim lives, for the exec wrappers (at start-up) */
void shim_exec_init(void);
/* ---- init.c: configuration, read once */
/* True in a vfork child sharing its parent's memory: hands off the
 * shim's state (costs a getpid). */
bool shim_shared_child(void);
/* The same, for a caller that has our pid already. */
bool shim_shared_child_is(pid_t pid);
/* A socket we did not open: if its peer is a registry device, adopt it. */
void shim_adopt_fd(int fd);
struct shim_map {
	char *path; /* normalised absolute path */
	char *name; /* device name */
};
struct shim_config {
	char dir[PATH_MAX];
	struct shim_map *maps;
	unsigned nmaps;
	int debug;
	int trace_fd; /* where debug lines go: 2, or CUSESHIM_DEBUG's file */
};
extern struct shim_config shim_cfg;
void shim_ensure_init(void);
/* A problem the user should see: one line on stderr. */
void shim_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A debug line (CUSESHIM_DEBUG): to stderr or the debug file. */
void shim_trace(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- path.c: which paths are devices */
struct shim_dev {
	char name[256];
	char sock_path[108];
	char attr_path[PATH_MAX];
	struct registry_attr attr; /* as of the latest lookup */
	struct timespec mtime;
	bool no_poll;		      /* the driver answered ENOSYS to FUSE_POLL */
	bool told_stale, told_denied; /* each said once per process */
	bool is_cuse;		      /* /dev/cuse itself (path.c, cuse.c) */
	struct shim_dev *next;
};
/* Cheap test, no system call: could @path name a device? */
bool shim_path_candidate(const char *path);
/* Resolve @path (absolute, or relative to @dirfd) to a live device.
 * Returns 1 with *dev set, 0 if it is not a device path, or -errno for a
 * device path that cannot be used (stale: -ENOENT). */
int shim_path_lookup(int dirfd, const char *path, struct shim_dev **dev);
/* @path (relative to @dirfd) failed ENOENT for real: does it reach a
 * device through symlinks, as the kernel would follow them (the last
 * component too when @follow_last)?  As shim_path_lookup. */
int shim_path_follow(int dirfd, const char *path, bool follow_last, struct shim_dev **dev);
/* Re-read @dev's attributes; -ESRCH when the driver is gone (its entry
 * is stale), -ENOENT when there is none or it is not published yet. */
int shim_dev_refresh(struct shim_dev *dev);
struct shim_dev *shim_dev_by_socket(const char *bound_path);
/* Track the cwd and directory fds that make relative paths devices. */
void shim_cwd_changed(void);
void shim_dirfd_opened(int fd, const char *path);
bool shim_dirfd_changes(int fd, const char *path);
void shim_dirfd_closed(int fd);
/* The absolute form of @path relative to @dirfd, when that could be a
 * device path; false (no system call made) when it cannot. */
bool shim_path_absolute(int dirfd, const char *path, char *out, size_t size);

/* ---- fdtab.c: fd -> file, lock-free for readers */
struct shim_file {
	struct shim_dev *dev;
	uint64_t ino;
	uint32_t open_flags; /* f_flags as at open, when known */
	bool flags_known;
	bool opath;    /* O_PATH: the driver never hears of it */
	unsigned refs; /* atomic */
	struct shim_file *next_free;
};
struct shim_file *shim_file_new(struct shim_dev *dev, uint64_t ino);
void shim_file_put(struct shim_file *f);
struct shim_file *shim_fd_get(int fd);
/* The device file behind @fd, after checking that @fd still is our
 * socket (a number closed behind our back and reused for something else
 * must not be taken for the device).  Costs one fstat, only for fds in
 * the table. */
struct shim_file *shim_fd_verify(int fd, struct shim_file *f);
static inline struct shim_file *shim_fd_dev(int fd)
{
	struct shim_file *f = shim_fd_get(fd);

	if (__builtin_expect(!f, 1))
		return NULL;
	return shim_fd_verify(fd, f);
}
void shim_fd_set(int fd, struct shim_file *f); /* takes a reference */
/* Forget @fd; returns the file it referred to (caller owns that ref). */
struct shim_file *shim_fd_take(int fd);
/* Forget every fd in [first, last]; call @fn for each file it held. */
void shim_fd_take_range(unsigned first, unsigned last, void (*fn)(struct shim_file *));
void shim_fd_forget(int fd);
/* The lowest fd at or after @from in the table, or -1. */
int shim_fd_next(int from);

/* ---- chan.c: per-thread control connections */
struct shim_chan;
int shim_chan_get(struct shim_dev *dev, struct shim_chan **out);
/* FUSE_INTERRUPT of @unique on @ch (an OPEN's, which has no channel of its own). */
void shim_chan_interrupt(struct shim_chan *ch, uint64_t unique);
/* The thread's poll channel to @dev: FUSE_POLL requests, and the driver's
 * FUSE_NOTIFY_POLL wakeups, which make its fd readable. */
int shim_chan_get_poll(struct shim_dev *dev, struct shim_chan **out);
int shim_chan_fd(struct shim_chan *ch);
int shim_chan_new_watch(struct shim_dev *dev, struct shim_chan **out);
void shim_chan_free(struct shim_chan *ch);
/* FUSE_POLL of @f on @ch asking for @key (the kernel's poll key: the
 * caller adds the ERR|HUP the kernel would): the driver's revents masked
 * by @key, POLLERR if it is gone, the default mask if it has no poll op. */
short shim_poll_query(struct shim_chan *ch, int fd, struct shim_file *f, short key, bool schedule);
/* ---- stdio.c: at start-up, device fds 0-2 get stdio streams that reach
 * the driver (glibc's own stdin/stdout/stderr use internal syscalls). */
void shim_stdio_init(void);
/* At exit, before device fds are closed: write out what stdio holds for
 * them (glibc would only after the shim's destructor). */
void shim_stdio_exit_flush(void);
/* ---- epoll.c */
bool shim_epoll_close(int fd);
unsigned shim_chan_drain(struct shim_chan *ch);
/* The handle of @f on @ch (ATTACH on first use); fills f->open_flags. */
int shim_chan_attach(struct shim_chan *ch, int fd, struct shim_file *f, uint64_t *handle);
/* The thread's channel to @f's device, and @f's handle on it. */
int shim_file_chan(int fd, struct shim_file *f, struct shim_chan **ch, uint64_t *handle);
const struct cuseshim_hello_out *shim_chan_hello(struct shim_chan *ch);
/* FUSE's lock_owner for this process's requests on @ch: the same for its
 * threads, another after fork. */
uint64_t shim_chan_lock_owner(struct shim_chan *ch);
/* One request/reply.  @req: header + fixed args (+ payload) to send; the
 * reply's fixed out struct goes to @out (exactly @out_size bytes on
 * success) and its payload to @payload.  Returns the payload length or
 * -errno (the driver's error, or ECONNABORTED if the driver went away). */
ssize_t shim_chan_call(struct shim_chan *ch, struct iovec *req, int nreq, int sendfd, void *out,
		       size_t out_size, const struct iovec *payload, int npayload);
uint64_t shim_chan_unique(struct shim_chan *ch);
bool shim_is_internal_fd(int fd);
/* Makes @fd one of ours: moved out of the program's way, close-on-exec,
 * and kept from the program's close().  Returns the new number. */
int shim_make_internal_fd(int fd);
/* The next internal fd at or after @fd, or -1. */
int shim_next_internal_fd(unsigned fd);
/* An internal fd is in the way of dup2(x, @fd): move it elsewhere. */
void shim_move_internal_fd(int fd);
/* After close(2) of a device fd: wait for RELEASE if it was the last. */
void shim_closed(struct shim_file *f);

/* ---- proc.c: the device fd named by /proc/self/fd/N and its aliases */
struct shim_file *shim_fd_link(const char *path);
/* ---- fd.c */
void shim_after_close(struct shim_file *f);
/* F_SETFL or FIONBIO changed @fd's f_flags: tell the driver. */
void shim_flags_changed(int fd, struct shim_file *f);
/* exit(): close device fds as close() would, waiting for the releases. */
void shim_exit_files(void);
/* ---- cuse.c: /dev/cuse for drivers, with cuse-bridge on the other end */
int shim_cuse_open(int flags);
bool shim_cuse_channel(int fd);
/* A read of @fd returned 0: 0 again, or -1 with errno ENODEV when @fd is
 * a /dev/cuse channel whose other end has gone (the kernel's answer). */
ssize_t shim_cuse_read_end(int fd);
/* @st, a socket's, is @fd's as a /dev/cuse channel: make it the node's. */
bool shim_cuse_stat(int fd, struct stat *st);
/* path.c: /dev/cuse itself */
struct shim_dev *shim_cuse_node(void);
/* ---- dir.c: listing /dev.  A directory only a DEVNAME makes (/dev/sub
 * of sub/x), as devtmpfs shows it: 0, or -1 when @path is none. */
int shim_dev_dir_stat(const char *path, struct stat *st);
/* ---- exec.c: @name beside the shim, in the build tree or installed */
const char *shim_helper(const char *name, char *buf, size_t size);
/* ---- open.c */
int shim_open_device(struct shim_dev *dev, int flags);
/* ---- rw.c */
/* read(2)/write(2) of a device file, by the kernel's rules; -errno. */
ssize_t shim_dev_rw(int fd, struct shim_file *f, void *buf, size_t n, bool is_write);
uint32_t shim_file_flags(int fd, struct shim_file *f);
int shim_ensure_flags(int fd, struct shim_file *f);
/* ---- ioctl.c: @cmd on device file @f; result or -errno */
long shim_dev_ioctl(int fd, struct shim_file *f, unsigned cmd, void *arg);
/* ---- poll.c */
/* @select_key: the events are select's key as it is, not poll(2)'s
 * events to which the kernel adds POLLERR|POLLHUP. */
int shim_poll(struct pollfd *fds, nfds_t nfds, const struct timespec *timeout,
	      const sigset_t *sigmask, bool is_ppoll, bool select_key);
/* ---- stat.c */
void shim_fill_stat(const struct shim_dev *dev, struct stat *st);

/* Internal code never calls our own syscall() wrapper. */
#ifndef SHIM_SYSCALL_C
#define syscall shim_raw_syscall
#endif

/* glibc declares path parameters nonnull, and GCC 12 drops a NULL check
 * of a wrapper's own nonnull parameter even with
 * -fno-delete-null-pointer-checks: a wrapper that tests one for NULL
 * looks at it through this first. */
static inline const char *shim_may_be_null(const char *p)
{
	__asm__("" : "+r"(p));
	return p;
}

/* Set errno once at the boundary. */
static inline long shim_ret(long r)
{
	if (r < 0) {
		errno = (int)-r;
		return -1;
	}
	return r;
}

#endif
