/* SPDX-License-Identifier: MIT */
/*
 * PLOCK: the record locks of fcntl(2) (F_SETLK, F_SETLKW, F_GETLK and
 * their F_OFD_ forms) and lockf(3), kept as the kernel keeps them on the
 * device node's inode (fs/locks.c), so that they are shared by every open
 * of the device in every process.  The driver never sees them, as with
 * the kernel's CUSE, which leaves them to the VFS.
 *
 * A lock has an owner: the process (POSIX locks; the pid of its
 * connections) or the open file (OFD locks).  Locks of different owners
 * conflict where their ranges overlap and one is a write lock; an
 * owner's own locks over a range are replaced, split and merged.  POSIX
 * locks go when their process closes any fd of the device (CLOSED), or
 * dies (a pidfd per owner, watched by the reaper thread, for _exit and
 * fatal signals; without pidfds, /proc when its connections close); OFD
 * locks when their file's release begins.  A lock
 * taken through a file whose last close has come goes too: its owner
 * closed that fd.  A request that must wait (F_SETLKW) stays in
 * se->plock_waiters until nothing is in its way, it would wait in a cycle
 * of POSIX owners (EDEADLK, as posix_locks_deadlock), or an INTERRUPT ends
 * it (EINTR).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cused_i.h"

struct cused_plock {
	struct cused_plock *next;
	int64_t start, end;	/* both included */
	int type;		/* F_RDLCK or F_WRLCK (F_UNLCK in a request) */
	pid_t pid;		/* POSIX: the owner process; OFD: -1 */
	struct cused_file *ofd; /* OFD: the owner */
	struct cused_file *via; /* the open file it was taken through */
};

/* At most this many owner processes are watched for their death; the
 * locks of others go only with their close. */
#define WATCH_MAX 256

struct cused_reaper {
	pthread_t thread;
	int wake[2];
	bool stop;
	unsigned n;
	pid_t pid[WATCH_MAX];
	int pidfd[WATCH_MAX];
};

/* fs/locks.c MAX_DEADLK_ITERATIONS */
#define DEADLK_STEPS 10

static bool same_owner(const struct cused_plock *a, const struct cused_plock *b)
{
	if (a->ofd || b->ofd)
		return a->ofd == b->ofd;
	return a->pid == b->pid;
}

static bool overlap(const struct cused_plock *a, const struct cused_plock *b)
{
	return a->start <= b->end && b->start <= a->end;
}

/* The last close of @f has come (its socket's peer is gone): the kernel
 * dropped its owners' locks at that close already. */
static bool file_gone(const struct cused_file *f)
{
	struct pollfd p = {.fd = f->conn ? f->conn->fd : -1, .events = POLLRDHUP};

	return f->state != FILE_OPEN || !f->conn ||
	       (poll(&p, 1, 0) == 1 && (p.revents & (POLLHUP | POLLRDHUP)));
}

/* Drop every lock of @owner's owner (a copy: @owner may be one of them). */
static void drop_owner(struct fuse_session *se, struct cused_plock owner)
{
	struct cused_plock **pp, *l;

	for (pp = &se->plocks; (l = *pp);) {
		if (same_owner(l, &owner)) {
			*pp = l->next;
			free(l);
		} else {
			pp = &l->next;
		}
	}
}

/* Without a pidfd (valgrind, old kernels): @pid is exiting or gone, by
 * /proc/PID/stat.  PF_EXITING (0x4 in its flags) is set before an
 * exiting process's files are closed. */
static bool proc_exiting(pid_t pid)
{
	char path[64], buf[1024], state;
	unsigned long flags;
	const char *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT || errno == ESRCH;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return true;
	buf[n] = '\0';
	p = strrchr(buf, ')'); /* after the command name, which may hold anything */
	if (!p || sscanf(p + 1, " %c %*d %*d %*d %*d %*d %lu", &state, &flags) != 2)
		return false;
	return state == 'Z' || state == 'X' || (flags & 0x4);
}

/* The owner process @pid has exited, though the reaper may not have seen
 * it yet: the kernel drops a process's locks before its parent can know
 * that it is gone. */
static bool owner_dead(struct fuse_session *se, pid_t pid)
{
	struct cused_reaper *r = se->reaper;
	unsigned i;

	for (i = 0; r && i < r->n; i++)
		if (r->pid[i] == pid) {
			struct pollfd p = {.fd = r->pidfd[i], .events = POLLIN};

			return poll(&p, 1, 0) == 1;
		}
	return pid > 0 && proc_exiting(pid);
}

/* The first lock of another owner in @want's way, or NULL; locks whose
 * file has had its last close, or whose process has exited, are dropped
 * on the way. */
static struct cused_plock *in_the_way(struct fuse_session *se, const struct cused_plock *want)
{
	struct cused_plock *l;

again:
	for (l = se->plocks; l; l = l->next) {
		if (same_owner(l, want) || !overlap(l, want) ||
		    (l->type == F_RDLCK && want->type == F_RDLCK))
			continue;
		if (file_gone(l->via) || (!l->ofd && owner_dead(se, l->pid))) {
			drop_owner(se, *l);
			goto again;
		}
		return l;
	}
	return NULL;
}

/* @want's owner's locks over its range become @want (none for F_UNLCK):
 * the parts of older ones outside it stay, split if need be, and locks of
 * the same type that touch it merge with it.  0 or -ENOLCK. */
static int apply(struct fuse_session *se, const struct cused_plock *want)
{
	struct cused_plock *spare = malloc(sizeof(*spare)), *nl = malloc(sizeof(*nl));
	struct cused_plock **pp, *l;

	if (!spare || !nl) {
		free(spare);
		free(nl);
		return -ENOLCK;
	}
	for (pp = &se->plocks; (l = *pp);) {
		if (!same_owner(l, want) || !overlap(l, want)) {
			pp = &l->next;
		} else if (l->start < want->start && l->end > want->end) {
			/* one split at most: the owner's locks do not overlap */
			*spare = *l;
			spare->start = want->end + 1;
			l->end = want->start - 1;
			l->next = spare;
			spare = NULL;
			pp = &l->next->next;
		} else if (l->start < want->start) {
			l->end = want->start - 1;
			pp = &l->next;
		} else if (l->end > want->end) {
			l->start = want->end + 1;
			pp = &l->next;
		} else {
			*pp = l->next;
			free(l);
		}
	}
	if (want->type != F_UNLCK) {
		*nl = *want;
		for (pp = &se->plocks; (l = *pp);) {
			if (same_owner(l, want) && l->type == want->type &&
			    ((l->end != CUSESHIM_PLOCK_EOF && l->end + 1 == nl->start) ||
			     (nl->end != CUSESHIM_PLOCK_EOF && nl->end + 1 == l->start))) {
				nl->start = l->start < nl->start ? l->start : nl->start;
				nl->end = l->end > nl->end ? l->end : nl->end;
				*pp = l->next;
				free(l);
			} else {
				pp = &l->next;
			}
		}
		nl->next = se->plocks;
		se->plocks = nl;
		nl = NULL;
	}
	free(spare);
	free(nl);
	return 0;
}

/* The lock a waiting POSIX request of process @pid waits for, or NULL. */
static struct cused_plock *waits_for(struct fuse_session *se, pid_t pid)
{
	struct fuse_req *req;

	for (req = se->plock_waiters; req; req = req->next_lockwait)
		if (!req->plock->ofd && req->plock->pid == pid)
			return in_the_way(se, req->plock);
	return NULL;
}

/* Would @want, with @by in its way, wait in a cycle of POSIX owners? */
static bool deadlock(struct fuse_session *se, const struct cused_plock *want,
		     const struct cused_plock *by)
{
	int i;

	if (want->ofd)
		return false; /* OFD locks are not checked (fs/locks.c) */
	for (i = 0; i < DEADLK_STEPS && by && !by->ofd; i++) {
		by = waits_for(se, by->pid);
		if (by && !by->ofd && by->pid == want->pid)
			return true;
	}
	return false;
}

/* ---------------------------------------------------------------- the reaper */

static bool has_locks(struct fuse_session *se, pid_t pid)
{
	const struct cused_plock *l;

	for (l = se->plocks; l; l = l->next)
		if (!l->ofd && l->pid == pid)
			return true;
	return false;
}

static void reaper_kick(struct cused_reaper *r)
{
	if (write(r->wake[1], "w", 1) < 0) {
		/* the pipe is full: the thread will look anyway */
	}
}

static void plocks_changed(struct fuse_session *se);

static void *reaper_thread(void *arg)
{
	struct fuse_session *se = arg;
	struct cused_reaper *r = se->reaper;
	struct pollfd p[WATCH_MAX + 1];
	pid_t pid[WATCH_MAX];

	for (;;) {
		unsigned n, i;
		bool dropped = false;
		char buf[64];

		pthread_mutex_lock(&se->lock);
		if (r->stop) {
			pthread_mutex_unlock(&se->lock);
			return NULL;
		}
		n = r->n;
		for (i = 0; i < n; i++) {
			p[i + 1] = (struct pollfd){.fd = r->pidfd[i], .events = POLLIN};
			pid[i] = r->pid[i];
		}
		pthread_mutex_unlock(&se->lock);
		p[0] = (struct pollfd){.fd = r->wake[0], .events = POLLIN};
		if (poll(p, n + 1, -1) < 0)
			continue;
		if (p[0].revents)
			while (read(r->wake[0], buf, sizeof(buf)) == sizeof(buf))
				;
		pthread_mutex_lock(&se->lock);
		for (i = 0; i < n; i++) {
			struct cused_plock owner = {.pid = pid[i]};

			if (!(p[i + 1].revents & POLLIN))
				continue;
			/* the process is gone: so are its locks (and the
			 * watch, at the next watch_update) */
			drop_owner(se, owner);
			dropped = true;
		}
		pthread_mutex_unlock(&se->lock);
		if (dropped)
			plocks_changed(se);
	}
}

/* Watch every owner process that has locks, and no other.  se->lock held. */
static void watch_update(struct fuse_session *se)
{
	struct cused_reaper *r = se->reaper;
	const struct cused_plock *l;
	bool changed = false;
	unsigned i;

	if (!r && !se->plocks)
		return;
	if (!r) {
		sigset_t all, old;

		r = calloc(1, sizeof(*r));
		if (!r)
			return;
		if (pipe2(r->wake, O_CLOEXEC | O_NONBLOCK)) {
			free(r);
			return;
		}
		se->reaper = r;
		sigfillset(&all);
		pthread_sigmask(SIG_BLOCK, &all, &old);
		if (pthread_create(&r->thread, NULL, reaper_thread, se)) {
			close(r->wake[0]);
			close(r->wake[1]);
			free(r);
			se->reaper = NULL;
			pthread_sigmask(SIG_SETMASK, &old, NULL);
			return;
		}
		pthread_sigmask(SIG_SETMASK, &old, NULL);
	}
	for (i = 0; i < r->n;) {
		if (has_locks(se, r->pid[i])) {
			i++;
			continue;
		}
		close(r->pidfd[i]);
		r->n--;
		r->pid[i] = r->pid[r->n];
		r->pidfd[i] = r->pidfd[r->n];
		changed = true;
	}
	for (l = se->plocks; l; l = l->next) {
		int fd;

		if (l->ofd || l->pid <= 0 || r->n == WATCH_MAX)
			continue;
		for (i = 0; i < r->n && r->pid[i] != l->pid; i++)
			;
		if (i < r->n)
			continue;
		/* a process we cannot watch (another pid namespace, an old
		 * kernel) keeps its locks until its close */
		fd = (int)syscall(SYS_pidfd_open, l->pid, 0);
		if (fd < 0)
			continue;
		r->pid[r->n] = l->pid;
		r->pidfd[r->n++] = fd;
		changed = true;
	}
	if (changed)
		reaper_kick(r);
}

/* ---------------------------------------------------------------- requests */

static void answer(fuse_req_t req, int err, const struct cuseshim_plock_out *out)
{
	if (err)
		fuse_reply_err(req, -err);
	else
		cused_reply_data(req, out, sizeof(*out));
}

/* Some lock went or shrank: grant, oldest first, what is no longer in
 * anyone's way. */
static void plocks_changed(struct fuse_session *se)
{
	struct fuse_req **pp, *req, *granted = NULL, **tail = &granted;
	static const struct cuseshim_plock_out none;

	pthread_mutex_lock(&se->lock);
	for (pp = &se->plock_waiters; (req = *pp);) {
		if (in_the_way(se, req->plock)) {
			pp = &req->next_lockwait;
			continue;
		}
		req->lock_type = apply(se, req->plock);
		free(req->plock);
		req->plock = NULL;
		*pp = req->next_lockwait;
		req->next_lockwait = NULL;
		*tail = req;
		tail = &req->next_lockwait;
	}
	watch_update(se);
	pthread_mutex_unlock(&se->lock);
	for (; granted; granted = req) {
		req = granted->next_lockwait;
		answer(granted, granted->lock_type, &none);
	}
}

/* The INTERRUPT of a waiting PLOCK (cused_interrupt calls it). */
static void plock_wait_interrupted(fuse_req_t req, void *data)
{
	struct fuse_session *se = req->se;
	struct fuse_req **pp;
	bool waiting = false;

	(void)data;
	pthread_mutex_lock(&se->lock);
	for (pp = &se->plock_waiters; *pp; pp = &(*pp)->next_lockwait)
		if (*pp == req) {
			*pp = req->next_lockwait;
			free(req->plock);
			req->plock = NULL;
			waiting = true;
			break;
		}
	pthread_mutex_unlock(&se->lock);
	if (waiting) /* else it was granted meanwhile, and answered */
		fuse_reply_err(req, EINTR);
}

void cused_plock(struct fuse_session *se, struct fuse_req *req, struct cused_file *f,
		 const struct cuseshim_plock_in *pi, pid_t pid)
{
	struct cused_plock want = {.start = pi->start,
				   .end = pi->end,
				   .type = (int)pi->type,
				   .pid = pi->ofd ? -1 : pid,
				   .ofd = pi->ofd ? f : NULL,
				   .via = f};
	struct cuseshim_plock_out out = {0};
	int acc = (int)(f->open_flags & O_ACCMODE), err = 0;
	bool wait = false, changed = false;
	struct cused_plock *l;

	if ((want.type != F_RDLCK && want.type != F_WRLCK && want.type != F_UNLCK) ||
	    pi->cmd > CUSESHIM_PLOCK_WAIT || pi->ofd > 1 || want.start < 0 ||
	    want.end < want.start || (pi->cmd == CUSESHIM_PLOCK_GET && want.type == F_UNLCK)) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	if (pi->cmd != CUSESHIM_PLOCK_GET && ((want.type == F_RDLCK && acc == O_WRONLY) ||
					      (want.type == F_WRLCK && acc == O_RDONLY))) {
		fuse_reply_err(req, EBADF);
		return;
	}
	pthread_mutex_lock(&se->lock);
	if (pi->cmd == CUSESHIM_PLOCK_GET) {
		l = in_the_way(se, &want);
		out.type = l ? (uint32_t)l->type : F_UNLCK;
		if (l) {
			out.start = l->start;
			out.end = l->end;
			out.pid = l->ofd ? -1 : l->pid;
		}
	} else if (want.type == F_UNLCK || !(l = in_the_way(se, &want))) {
		err = apply(se, &want);
		changed = true;
	} else if (pi->cmd == CUSESHIM_PLOCK_SET) {
		err = -EAGAIN;
	} else if (deadlock(se, &want, l)) {
		err = -EDEADLK;
	} else if (req->interrupted) {
		err = -EINTR;
	} else if (!(req->plock = malloc(sizeof(*req->plock)))) {
		err = -ENOLCK;
	} else {
		struct fuse_req **pp;

		*req->plock = want;
		req->ifunc = plock_wait_interrupted;
		for (pp = &se->plock_waiters; *pp; pp = &(*pp)->next_lockwait)
			;
		*pp = req;
		wait = true;
	}
	if (changed)
		watch_update(se);
	changed = changed && se->plock_waiters;
	pthread_mutex_unlock(&se->lock);
	if (!wait)
		answer(req, err, &out);
	if (changed)
		plocks_changed(se); /* an unlock or a downgrade may let waiters in */
}

/* The POSIX locks of process @pid go (if it is dead, with @if_dead). */
static void drop_process(struct fuse_session *se, pid_t pid, bool if_dead)
{
	struct cused_plock owner = {.pid = pid};
	bool had;

	pthread_mutex_lock(&se->lock);
	had = has_locks(se, pid) && (!if_dead || owner_dead(se, pid));
	if (had) {
		drop_owner(se, owner);
		watch_update(se);
	}
	had = had && se->plock_waiters;
	pthread_mutex_unlock(&se->lock);
	if (had)
		plocks_changed(se);
}

void cused_plock_closed(struct fuse_session *se, pid_t pid)
{
	drop_process(se, pid, false);
}

void cused_plock_conn_closed(struct fuse_session *se, pid_t pid)
{
	drop_process(se, pid, true);
}

void cused_plock_released(struct fuse_session *se, struct cused_file *f)
{
	struct cused_plock *l, file = {.ofd = f};
	bool had = false;

	pthread_mutex_lock(&se->lock);
	/* POSIX locks taken through @f: their process closed its fd of it */
again:
	for (l = se->plocks; l; l = l->next)
		if (l->via == f || l->ofd == f) {
			drop_owner(se, l->ofd ? file : *l);
			had = true;
			goto again;
		}
	if (had)
		watch_update(se);
	had = had && se->plock_waiters;
	pthread_mutex_unlock(&se->lock);
	if (had)
		plocks_changed(se);
}

void cused_plock_fini(struct fuse_session *se)
{
	struct cused_reaper *r;
	struct cused_plock *l;
	unsigned i;

	pthread_mutex_lock(&se->lock);
	r = se->reaper;
	if (r) {
		r->stop = true;
		reaper_kick(r);
	}
	pthread_mutex_unlock(&se->lock);
	if (r) {
		pthread_join(r->thread, NULL);
		for (i = 0; i < r->n; i++)
			close(r->pidfd[i]);
		close(r->wake[0]);
		close(r->wake[1]);
		free(r);
		se->reaper = NULL;
	}
	while ((l = se->plocks)) {
		se->plocks = l->next;
		free(l);
	}
}
