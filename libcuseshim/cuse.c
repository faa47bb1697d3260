/* SPDX-License-Identifier: MIT */
/*
 * /dev/cuse for drivers that are not linked with libcused.  Their open of
 * /dev/cuse gets one end of a SOCK_SEQPACKET socketpair; cuse-bridge,
 * started detached on the other end, plays the kernel there (see
 * cused/bridge.c).  A socket differs from the kernel's channel in two
 * answers a driver relies on, mended here on the rare paths only:
 *   - after the other side ended (cused abort), read gives 0 where the
 *     kernel says ENODEV, the clean end of libfuse's loop;
 *   - a write after that fails EPIPE where the kernel says ENODEV;
 *   - its fstat shows a socket, where the kernel's shows the node 10:203.
 * The channels are few; the table is looked at only when a read returned
 * 0 or a write failed EPIPE, and checked there against the socket's inode
 * (a number closed and reused meanwhile is not ours any more).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "shim_i.h"

extern char **environ;

#define MAX_CHANNELS 16

static struct {
	_Atomic int fd1; /* the fd + 1; 0: free, -1: being filled */
	uint64_t ino;
} channels[MAX_CHANNELS];
static _Atomic unsigned nchannels; /* slots ever used */

static void channel_add(int fd, uint64_t ino)
{
	unsigned i, n = atomic_load(&nchannels);

	for (i = 0; i < n; i++) {
		int expected = 0;

		if (atomic_compare_exchange_strong(&channels[i].fd1, &expected, -1))
			break;
	}
	if (i == n) {
		i = atomic_fetch_add(&nchannels, 1);
		if (i >= MAX_CHANNELS) {
			atomic_fetch_sub(&nchannels, 1);
			shim_log("more than %d /dev/cuse channels in one process: the one on fd %d "
				 "reads 0, not ENODEV, once its device is gone\n",
				 MAX_CHANNELS, fd);
			return;
		}
	}
	channels[i].ino = ino;
	atomic_store(&channels[i].fd1, fd + 1);
}

bool shim_cuse_channel(int fd)
{
	unsigned i, n = atomic_load_explicit(&nchannels, memory_order_relaxed);
	struct stat st;

	for (i = 0; i < n; i++) {
		if (atomic_load(&channels[i].fd1) != fd + 1)
			continue;
		if (!shim_sys_fstat(fd, &st) && S_ISSOCK(st.st_mode) &&
		    st.st_ino == channels[i].ino)
			return true;
		atomic_store(&channels[i].fd1, 0); /* closed and reused */
	}
	return false;
}

bool shim_cuse_stat(int fd, struct stat *st)
{
	unsigned i, n = atomic_load_explicit(&nchannels, memory_order_relaxed);

	for (i = 0; i < n; i++)
		if (atomic_load(&channels[i].fd1) == fd + 1 && channels[i].ino == st->st_ino) {
			shim_fill_stat(shim_cuse_node(), st);
			return true;
		}
	return false;
}

ssize_t shim_cuse_read_end(int fd)
{
	if (!atomic_load_explicit(&nchannels, memory_order_relaxed) || !shim_cuse_channel(fd))
		return 0;
	errno = ENODEV;
	return -1;
}

/* ------------------------------------------------------------ the bridge */

struct spawn {
	const char *path;
	char **argv, **envp;
	int fd;
};

/* In the vfork-like child: only system calls, on its own stack. */
static int spawn_child(void *arg)
{
	struct spawn *s = arg;

	shim_raw_syscall(SYS_fcntl, s->fd, F_SETFD, 0);
	shim_raw_syscall(SYS_execve, s->path, s->argv, s->envp);
	shim_raw_syscall(SYS_exit, 127);
	return 127;
}

/* Start cuse-bridge on @fd, detached: it forks away at once, so the driver
 * never has a child of ours to see exit. */
static int spawn_bridge(int fd)
{
	char path[PATH_MAX], fdarg[16];
	char *argv[] = {"cuse-bridge", "--detach", fdarg, NULL};
	struct spawn s = {
		.path = shim_helper("cuse-bridge", path, sizeof(path)), .argv = argv, .fd = fd};
	size_t n = 0, i;
	sigset_t all, old;
	char *stack;
	int status = -1, err = 0; /* -1: not exited */
	pid_t pid;

	if (!s.path) {
		shim_log("cannot find cuse-bridge beside the shim: /dev/cuse is not available\n");
		return -ENODEV;
	}
	snprintf(fdarg, sizeof(fdarg), "%d", fd);
	while (environ && environ[n])
		n++;
	s.envp = malloc((n + 1) * sizeof(char *));
	stack = malloc(64 * 1024);
	if (!s.envp || !stack) {
		free(s.envp);
		free(stack);
		return -ENOMEM;
	}
	/* the bridge is ours: it never runs under the shim */
	for (i = 0, n = 0; environ && environ[i]; i++)
		if (strncmp(environ[i], "LD_PRELOAD=", 11))
			s.envp[n++] = environ[i];
	s.envp[n] = NULL;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pid = clone(spawn_child, stack + 64 * 1024, CLONE_VM | CLONE_VFORK, &s);
	if (pid < 0)
		err = -errno;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	while (pid > 0 && waitpid(pid, &status, __WALL) < 0 && errno == EINTR)
		;
	if (!err && !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
		shim_log("cannot start %s for /dev/cuse\n", s.path);
		err = -ENODEV;
	}
	free(s.envp);
	free(stack);
	return err;
}

int shim_cuse_open(int flags)
{
	int sv[2], type = SOCK_SEQPACKET | SOCK_CLOEXEC, err;
	struct stat st;

	if (flags & O_PATH) {
		/* nothing to talk to: an O_PATH fd of the node */
		return (int)shim_raw_syscall(SYS_openat, AT_FDCWD, "/dev/null", flags);
	}
	if ((flags & O_ACCMODE) != O_RDWR)
		return -EACCES; /* /dev/cuse is opened read-write, or not at all */
	if (socketpair(AF_UNIX, type, 0, sv))
		return -errno;
	err = spawn_bridge(sv[1]);
	shim_sys_close(sv[1]);
	if (err) {
		shim_sys_close(sv[0]);
		return err;
	}
	if (!(flags & O_CLOEXEC))
		shim_sys_fcntl(sv[0], F_SETFD, 0);
	if ((flags & O_NONBLOCK) && shim_sys_fcntl(sv[0], F_SETFL, O_NONBLOCK)) {
		err = -errno;
		shim_sys_close(sv[0]);
		return err;
	}
	if (!shim_sys_fstat(sv[0], &st))
		channel_add(sv[0], st.st_ino);
	if (shim_cfg.debug)
		shim_trace("open /dev/cuse -> fd %d (cuse-bridge on the other end)\n", sv[0]);
	return sv[0];
}
