/* SPDX-License-Identifier: MIT */
/*
 * poll, ppoll, select and pselect on any mix of device and ordinary fds
 * (fs/fuse/poll.c, fs/select.c).
 *
 * Readiness of a device comes only from the driver: each pass sends
 * FUSE_POLL for every device fd, on the thread's poll channel to that
 * driver, with FUSE_POLL_SCHEDULE_NOTIFY where the kernel would set it.  Sleeping is a
 * real ppoll() on the ordinary fds plus those poll channels: the driver's
 * fuse_lowlevel_notify_poll sends FUSE_NOTIFY_POLL to every connection
 * that polled the file, so every waiter, in every thread and process,
 * wakes on its own channel and nobody eats anyone's wakeup.  After a
 * wakeup the devices are asked again (the notify only says "ask").
 *
 * A driver without a poll op (ENOSYS) is always readable and writable,
 * like the kernel's DEFAULT_POLLMASK; a driver that is gone gives POLLERR.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>

#include "shim_i.h"

#define DEFAULT_POLLMASK (POLLIN | POLLOUT | POLLRDNORM | POLLWRNORM)

/* One device entry of the caller's set. */
struct dev_poll {
	nfds_t index;
	struct shim_file *f;
	struct shim_chan *ch;
	bool waiting; /* polled with SCHEDULE_NOTIFY */
};

static long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000L + ts.tv_nsec;
}

short shim_poll_query(struct shim_chan *ch, int fd, struct shim_file *f, short key, bool schedule)
{
	struct fuse_in_header in = {0};
	struct fuse_poll_in pi = {0};
	struct fuse_poll_out po;
	struct iovec req[2] = {{&in, sizeof(in)}, {&pi, sizeof(pi)}};
	short mask = key;
	uint64_t handle;
	ssize_t n;

	if (f->dev->no_poll)
		return DEFAULT_POLLMASK & mask;
	if (shim_chan_attach(ch, fd, f, &handle))
		return POLLERR;
	in.len = sizeof(in) + sizeof(pi);
	in.opcode = FUSE_POLL;
	in.unique = shim_chan_unique(ch);
	in.nodeid = handle;
	pi.flags = schedule ? FUSE_POLL_SCHEDULE_NOTIFY : 0;
	pi.events = (uint16_t)mask;
	n = shim_chan_call(ch, req, 2, -1, &po, sizeof(po), NULL, 0);
	if (n == -ENOSYS) {
		f->dev->no_poll = true; /* for the whole device, as the kernel */
		return DEFAULT_POLLMASK & mask;
	}
	if (n < 0)
		return POLLERR;
	return (short)po.revents & mask;
}

/* FUSE_POLL for one entry of a poll set, on the thread's poll channel. */
static short query(int fd, struct dev_poll *d, short key, bool schedule)
{
	if (d->f->dev->no_poll)
		return DEFAULT_POLLMASK & key;
	if (!d->ch && shim_chan_get_poll(d->f->dev, &d->ch))
		return POLLERR;
	return shim_poll_query(d->ch, fd, d->f, key, schedule);
}

int shim_poll(struct pollfd *fds, nfds_t nfds, const struct timespec *timeout,
	      const sigset_t *sigmask, bool is_ppoll, bool select_key)
{
	struct dev_poll *devs;
	struct pollfd *real;
	nfds_t i, ndev = 0, nreal, k;
	long deadline = 0;
	int ret = 0, saved = errno, pass;
	bool waits, timed_out = false;

	devs = malloc(nfds * sizeof(*devs) + 1);
	real = malloc((2 * nfds + 1) * sizeof(*real));
	if (!devs || !real) {
		free(devs);
		free(real);
		return -ENOMEM;
	}
	for (i = 0; i < nfds; i++) {
		struct shim_file *f = fds[i].fd >= 0 ? shim_fd_dev(fds[i].fd) : NULL;

		fds[i].revents = 0;
		if (f && !f->opath) {
			devs[ndev].index = i;
			devs[ndev].f = f;
			devs[ndev].ch = NULL;
			ndev++;
		}
	}
	if (timeout)
		deadline = now_ns() + timeout->tv_sec * 1000000000L + timeout->tv_nsec;
	waits = !timeout || timeout->tv_sec || timeout->tv_nsec;
	for (pass = 1;; pass++) {
		struct timespec left, zero = {0, 0};
		bool before = false; /* an fd earlier in the set is ready */
		int count = 0, r;

		/* 1. the ordinary fds, without waiting */
		for (i = 0, nreal = 0, k = 0; i < nfds; i++) {
			if (k < ndev && devs[k].index == i) {
				k++;
				continue;
			}
			real[nreal++] = fds[i];
		}
		r = REAL(ppoll)(real, nreal, &zero, NULL);
		if (r < 0) {
			ret = -errno;
			break;
		}
		/* 2. every device, in the set's order.  The driver gets a poll
		 * handle (SCHEDULE_NOTIFY) as from the kernel: where someone
		 * waits on the file, that is on the first pass for the devices
		 * before the first ready fd of a poll that may sleep, and on
		 * later passes for those that got one (fs/select.c,
		 * fuse_file_poll). */
		for (i = 0, nreal = 0, k = 0; i < nfds; i++) {
			struct pollfd *p = &fds[i];
			short key;

			if (k == ndev || devs[k].index != i) {
				p->revents = real[nreal++].revents;
				before |= p->revents != 0;
				count += p->revents != 0;
				continue;
			}
			/* the key the driver sees (fs/select.c): poll(2) always
			 * asks for POLLERR|POLLHUP too; select's sets are the
			 * key as they are */
			key = select_key ? p->events : p->events | POLLERR | POLLHUP;
			if (pass == 1)
				devs[k].waiting = waits && !before;
			p->revents = query(p->fd, &devs[k], key, devs[k].waiting);
			before |= p->revents != 0;
			count += p->revents != 0;
			k++;
		}
		/* the kernel looks once more after the timeout */
		if (count || !waits || timed_out) {
			ret = count;
			break;
		}
		/* 3. sleep on the ordinary fds and the poll channels */
		for (k = 0; k < ndev; k++) {
			int cfd = devs[k].ch ? shim_chan_fd(devs[k].ch) : -1;
			nfds_t j;

			for (j = nreal; j-- > 0;)
				if (real[j].fd == cfd)
					break;
			if (cfd >= 0 && j == (nfds_t)-1)
				real[nreal++] = (struct pollfd){.fd = cfd, .events = POLLIN};
		}
		if (timeout) {
			long ns = deadline - now_ns();

			if (ns < 0)
				ns = 0;
			left.tv_sec = ns / 1000000000L;
			left.tv_nsec = ns % 1000000000L;
		}
		r = REAL(ppoll)(real, nreal, timeout ? &left : NULL, is_ppoll ? sigmask : NULL);
		if (r < 0) {
			ret = -errno;
			break;
		}
		for (k = 0; k < ndev; k++)
			if (devs[k].ch)
				shim_chan_drain(devs[k].ch);
		timed_out = r == 0;
		/* woken, or the time is up: ask everyone again */
	}
	free(devs);
	free(real);
	if (ret >= 0)
		errno = saved;
	return ret;
}

static bool any_device(const struct pollfd *fds, nfds_t nfds)
{
	nfds_t i;

	for (i = 0; i < nfds; i++)
		if (fds[i].fd >= 0 && __builtin_expect(shim_fd_get(fds[i].fd) != NULL, 0))
			return true;
	return false;
}

SHIM_EXPORT int poll(struct pollfd *fds, nfds_t nfds, int timeout)
{
	struct timespec ts = {timeout / 1000, (timeout % 1000) * 1000000L};

	if (__builtin_expect(!any_device(fds, nfds), 1))
		return REAL(poll)(fds, nfds, timeout);
	return (int)shim_ret(shim_poll(fds, nfds, timeout < 0 ? NULL : &ts, NULL, false, false));
}

SHIM_EXPORT int __poll_chk(struct pollfd *fds, nfds_t nfds, int timeout, size_t fdslen)
{
	if (fdslen / sizeof(*fds) < nfds)
		return REAL(__poll_chk)(fds, nfds, timeout, fdslen); /* fails as glibc does */
	return poll(fds, nfds, timeout);
}

SHIM_EXPORT int ppoll(struct pollfd *fds, nfds_t nfds, const struct timespec *timeout,
		      const sigset_t *sigmask)
{
	if (__builtin_expect(!any_device(fds, nfds), 1))
		return REAL(ppoll)(fds, nfds, timeout, sigmask);
	if (timeout &&
	    (timeout->tv_sec < 0 || timeout->tv_nsec < 0 || timeout->tv_nsec >= 1000000000L))
		return (int)shim_ret(-EINVAL);
	return (int)shim_ret(shim_poll(fds, nfds, timeout, sigmask, true, false));
}

SHIM_EXPORT int __ppoll_chk(struct pollfd *fds, nfds_t nfds, const struct timespec *timeout,
			    const sigset_t *sigmask, size_t fdslen)
{
	if (fdslen / sizeof(*fds) < nfds)
		return REAL(__ppoll_chk)(fds, nfds, timeout, sigmask, fdslen);
	return ppoll(fds, nfds, timeout, sigmask);
}

/*
 * select through poll, with the kernel's event sets (fs/select.c):
 * readable is POLLIN_SET, writable POLLOUT_SET, exceptional POLLEX_SET.
 */
#define POLLIN_SET  (POLLRDNORM | POLLRDBAND | POLLIN | POLLHUP | POLLERR)
#define POLLOUT_SET (POLLWRBAND | POLLWRNORM | POLLOUT | POLLERR)
#define POLLEX_SET  (POLLPRI | POLLNVAL)

static bool select_has_device(int nfds, fd_set *r, fd_set *w, fd_set *e)
{
	int fd;

	for (fd = 0; fd < nfds && fd < FD_SETSIZE; fd++)
		if (((r && FD_ISSET(fd, r)) || (w && FD_ISSET(fd, w)) || (e && FD_ISSET(fd, e))) &&
		    shim_fd_get(fd))
			return true;
	return false;
}

static int do_select(int nfds, fd_set *r, fd_set *w, fd_set *e, const struct timespec *timeout,
		     const sigset_t *sigmask, bool is_pselect)
{
	struct pollfd *fds;
	int fd, n = 0, count = 0, ret;

	if (nfds < 0 || nfds > FD_SETSIZE)
		return -EINVAL;
	fds = malloc((nfds + 1) * sizeof(*fds));
	if (!fds)
		return -ENOMEM;
	for (fd = 0; fd < nfds; fd++) {
		short ev = 0;

		if (r && FD_ISSET(fd, r))
			ev |= POLLIN_SET | POLLEX_SET;
		if (w && FD_ISSET(fd, w))
			ev |= POLLOUT_SET | POLLEX_SET;
		if (e && FD_ISSET(fd, e))
			ev |= POLLEX_SET;
		if (ev)
			fds[n++] = (struct pollfd){.fd = fd, .events = ev};
	}
	ret = shim_poll(fds, n, timeout, sigmask, is_pselect, true);
	if (ret >= 0) {
		int i;

		for (i = 0; i < n; i++)
			if (fds[i].revents & POLLNVAL) {
				free(fds);
				return -EBADF;
			}
		for (i = 0; i < n; i++) {
			fd = fds[i].fd;
			if (r && FD_ISSET(fd, r)) {
				if (fds[i].revents & POLLIN_SET)
					count++;
				else
					FD_CLR(fd, r);
			}
			if (w && FD_ISSET(fd, w)) {
				if (fds[i].revents & POLLOUT_SET)
					count++;
				else
					FD_CLR(fd, w);
			}
			if (e && FD_ISSET(fd, e)) {
				if (fds[i].revents & POLLEX_SET)
					count++;
				else
					FD_CLR(fd, e);
			}
		}
		ret = count;
	}
	free(fds);
	return ret;
}

SHIM_EXPORT int select(int nfds, fd_set *r, fd_set *w, fd_set *e, struct timeval *tv)
{
	struct timespec ts, end;
	int ret;

	if (__builtin_expect(!select_has_device(nfds, r, w, e), 1))
		return REAL(select)(nfds, r, w, e, tv);
	if (tv && (tv->tv_sec < 0 || tv->tv_usec < 0))
		return (int)shim_ret(-EINVAL);
	if (tv) {
		ts.tv_sec = tv->tv_sec + tv->tv_usec / 1000000;
		ts.tv_nsec = (tv->tv_usec % 1000000) * 1000;
		clock_gettime(CLOCK_MONOTONIC, &end);
		end.tv_sec += ts.tv_sec;
		end.tv_nsec += ts.tv_nsec;
		if (end.tv_nsec >= 1000000000L) {
			end.tv_sec++;
			end.tv_nsec -= 1000000000L;
		}
	}
	ret = do_select(nfds, r, w, e, tv ? &ts : NULL, NULL, false);
	if (tv) {
		/* Linux writes the time left back. */
		struct timespec now;
		long left;

		clock_gettime(CLOCK_MONOTONIC, &now);
		left = (end.tv_sec - now.tv_sec) * 1000000L + (end.tv_nsec - now.tv_nsec) / 1000;
		if (left < 0)
			left = 0;
		tv->tv_sec = left / 1000000;
		tv->tv_usec = left % 1000000;
	}
	return (int)shim_ret(ret);
}

SHIM_EXPORT int pselect(int nfds, fd_set *r, fd_set *w, fd_set *e, const struct timespec *ts,
			const sigset_t *sigmask)
{
	if (__builtin_expect(!select_has_device(nfds, r, w, e), 1))
		return REAL(pselect)(nfds, r, w, e, ts, sigmask);
	if (ts && (ts->tv_sec < 0 || ts->tv_nsec < 0 || ts->tv_nsec >= 1000000000L))
		return (int)shim_ret(-EINVAL);
	return (int)shim_ret(do_select(nfds, r, w, e, ts, sigmask, true));
}
