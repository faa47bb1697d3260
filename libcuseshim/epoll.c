/* SPDX-License-Identifier: MIT */
/*
 * epoll on device fds (fs/eventpoll.c over fs/fuse/poll.c).
 *
 * The kernel polls a FUSE file when it is added to an epoll set and again
 * whenever the driver's notify wakes it; a level-triggered item that was
 * reported is polled again at the next epoll_wait.  We do the same:
 *
 *  - each device registration ("item") gets its own watch connection to
 *    the driver, on which FUSE_POLL is sent with SCHEDULE_NOTIFY, so the
 *    driver's fuse_lowlevel_notify_poll makes that connection readable;
 *  - the watch connections sit in a private "shadow" epoll set, and the
 *    shadow sits in the program's epoll set under a random per-process
 *    cookie as its data;
 *  - epoll_ctl's ADD and MOD poll the item; epoll_wait polls those that
 *    need it (ready then, woken, or level-triggered and reported last
 *    time), then waits on the real set; the cookie event means "some
 *    item was woken".
 *
 * EPOLLET items are reported when polled after a wakeup only; EPOLLONESHOT
 * items are disabled after one report until EPOLL_CTL_MOD.  The state of a
 * set lives in this process; a set inherited across exec loses its device
 * items (its ordinary fds keep working).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "shim_i.h"

struct ep_item {
	int fd;
	struct shim_file *f;
	struct shim_chan *watch;
	uint32_t events; /* the program's */
	epoll_data_t data;
	bool check;    /* poll it at the next epoll_wait */
	bool disabled; /* EPOLLONESHOT, reported */
	struct ep_item *next;
};

struct ep_set {
	int epfd;
	int shadow;
	struct ep_item *items;
	pthread_mutex_t lock;
	struct ep_set *next;
};

static pthread_mutex_t sets_lock = PTHREAD_MUTEX_INITIALIZER;
static struct ep_set *sets;
static uint64_t cookie;
#define SET_BITS (1 << 16)
static _Atomic uint64_t has_set[SET_BITS / 64]; /* epfds we track, fast test */

static bool tracked(int epfd)
{
	return (unsigned)epfd < SET_BITS &&
	       (atomic_load_explicit(&has_set[epfd >> 6], memory_order_relaxed) &
		(1ull << (epfd & 63)));
}

static struct ep_set *find_set(int epfd)
{
	struct ep_set *s;

	pthread_mutex_lock(&sets_lock);
	for (s = sets; s; s = s->next)
		if (s->epfd == epfd)
			break;
	pthread_mutex_unlock(&sets_lock);
	return s;
}

static struct ep_set *get_set(int epfd, int *err)
{
	struct epoll_event ev = {.events = EPOLLIN};
	struct ep_set *s = find_set(epfd);

	if (s)
		return s;
	if ((unsigned)epfd >= SET_BITS) {
		*err = -EMFILE;
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (!s) {
		*err = -ENOMEM;
		return NULL;
	}
	pthread_mutex_lock(&sets_lock);
	while (!cookie && getrandom(&cookie, sizeof(cookie), 0) != sizeof(cookie))
		;
	pthread_mutex_unlock(&sets_lock);
	s->epfd = epfd;
	s->shadow = REAL(epoll_create1)(EPOLL_CLOEXEC);
	ev.data.u64 = cookie;
	if (s->shadow < 0 || REAL(epoll_ctl)(epfd, EPOLL_CTL_ADD, s->shadow, &ev)) {
		*err = -errno;
		if (s->shadow >= 0)
			shim_sys_close(s->shadow);
		free(s);
		return NULL;
	}
	pthread_mutex_init(&s->lock, NULL);
	pthread_mutex_lock(&sets_lock);
	s->next = sets;
	sets = s;
	atomic_fetch_or(&has_set[epfd >> 6], 1ull << (epfd & 63));
	pthread_mutex_unlock(&sets_lock);
	return s;
}

static void item_free(struct ep_set *s, struct ep_item *it)
{
	int wfd = shim_chan_fd(it->watch);

	if (wfd >= 0)
		REAL(epoll_ctl)(s->shadow, EPOLL_CTL_DEL, wfd, NULL);
	shim_chan_free(it->watch);
	shim_file_put(it->f);
	free(it);
}

/* The driver's poll of @it with the key epoll_ctl gives every item. */
static short item_poll(struct ep_item *it)
{
	return shim_poll_query(
		it->watch, it->fd, it->f,
		(short)((it->events & ~(EPOLLET | EPOLLONESHOT)) | EPOLLERR | EPOLLHUP), true);
}

/* The kernel polls an item when it is added or modified, and keeps it for
 * the next epoll_wait if it is ready then (which polls it again). */
static void first_look(struct ep_item *it)
{
	it->check = (item_poll(it) & (short)(it->events | EPOLLERR | EPOLLHUP | POLLNVAL)) != 0;
}

static int ctl_device(int epfd, int op, int fd, struct shim_file *f, struct epoll_event *ev)
{
	struct ep_item *it, **pp;
	struct ep_set *s;
	int err = 0;

	if (epfd == fd)
		return -EINVAL;
	if (op != EPOLL_CTL_DEL && !ev)
		return -EFAULT;
	s = op == EPOLL_CTL_ADD ? get_set(epfd, &err) : find_set(epfd);
	if (!s)
		return op == EPOLL_CTL_ADD ? err : -ENOENT;
	pthread_mutex_lock(&s->lock);
	for (pp = &s->items; *pp; pp = &(*pp)->next)
		if ((*pp)->fd == fd && (*pp)->f == f)
			break;
	it = *pp;
	switch (op) {
	case EPOLL_CTL_ADD: {
		struct epoll_event wev = {.events = EPOLLIN};

		if (it) {
			err = -EEXIST;
			break;
		}
		it = calloc(1, sizeof(*it));
		if (!it) {
			err = -ENOMEM;
			break;
		}
		err = shim_chan_new_watch(f->dev, &it->watch);
		if (err) {
			free(it);
			break;
		}
		it->fd = fd;
		it->f = f;
		atomic_fetch_add((_Atomic unsigned *)&f->refs, 1);
		{
			/* Prove we hold the file now, while @fd is surely it. */
			uint64_t handle;

			err = shim_chan_attach(it->watch, fd, f, &handle);
			if (err) {
				item_free(s, it);
				break;
			}
		}
		it->events = ev->events;
		it->data = ev->data;
		wev.data.ptr = it;
		if (REAL(epoll_ctl)(s->shadow, EPOLL_CTL_ADD, shim_chan_fd(it->watch), &wev)) {
			err = -errno;
			item_free(s, it);
			break;
		}
		it->next = s->items;
		s->items = it;
		first_look(it);
		break;
	}
	case EPOLL_CTL_MOD:
		if (!it) {
			err = -ENOENT;
			break;
		}
		it->events = ev->events;
		it->data = ev->data;
		it->disabled = false;
		first_look(it);
		break;
	case EPOLL_CTL_DEL:
		if (!it) {
			err = -ENOENT;
			break;
		}
		*pp = it->next;
		item_free(s, it);
		break;
	default: err = -EINVAL;
	}
	pthread_mutex_unlock(&s->lock);
	return err;
}

SHIM_EXPORT int epoll_ctl(int epfd, int op, int fd, struct epoll_event *ev)
{
	struct shim_file *f = shim_fd_dev(fd);

	if (__builtin_expect(!f || f->opath, 1))
		return REAL(epoll_ctl)(epfd, op, fd, ev);
	return (int)shim_ret(ctl_device(epfd, op, fd, f, ev));
}

/* Poll the items that need it; fill @out.  Lock held. */
static int poll_items(struct ep_set *s, struct epoll_event *out, int max)
{
	struct ep_item *it, **pp;
	int n = 0;

	for (pp = &s->items; (it = *pp) && n < max;) {
		short rev;

		if (!it->check || it->disabled) {
			pp = &it->next;
			continue;
		}
		it->check = false;
		/* epoll_ctl adds EPOLLERR|EPOLLHUP to every item's events */
		rev = item_poll(it);
		if (rev & POLLNVAL) {
			*pp = it->next; /* the file is gone: the kernel drops it */
			item_free(s, it);
			continue;
		}
		rev &= (short)(it->events | EPOLLERR | EPOLLHUP);
		if (rev) {
			out[n].events = (uint16_t)rev;
			out[n].data = it->data;
			n++;
			if (it->events & EPOLLONESHOT)
				it->disabled = true;
			else if (!(it->events & EPOLLET))
				it->check = true; /* level-triggered: ask again next time */
		}
		pp = &it->next;
	}
	return n;
}

/* Which watch connections fired: mark their items for polling. */
static void take_wakeups(struct ep_set *s)
{
	struct epoll_event ev[32];
	int n, i;

	while ((n = REAL(epoll_wait)(s->shadow, ev, 32, 0)) > 0) {
		pthread_mutex_lock(&s->lock);
		for (i = 0; i < n; i++) {
			struct ep_item *it;

			for (it = s->items; it; it = it->next)
				if (it == ev[i].data.ptr)
					break;
			if (!it)
				continue;
			shim_chan_drain(it->watch);
			it->check = true;
		}
		pthread_mutex_unlock(&s->lock);
		if (n < 32)
			break;
	}
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static int do_wait(int epfd, struct epoll_event *events, int max, long timeout_ms,
		   const sigset_t *sigmask)
{
	struct ep_set *s = find_set(epfd);
	long deadline = timeout_ms >= 0 ? now_ms() + timeout_ms : 0;

	if (!s) {
		int r = REAL(epoll_pwait)(epfd, events, max, (int)timeout_ms, sigmask);

		return r < 0 ? -errno : r;
	}
	if (max <= 0)
		return -EINVAL;
	for (;;) {
		int n, r, i, k;
		long left = timeout_ms < 0 ? -1 : deadline - now_ms();

		pthread_mutex_lock(&s->lock);
		n = poll_items(s, events, max);
		pthread_mutex_unlock(&s->lock);
		if (left < 0 && timeout_ms >= 0)
			left = 0;
		r = REAL(epoll_pwait)(epfd, events + n, max - n, n ? 0 : (int)left, sigmask);
		if (r < 0)
			return n ? n : -errno;
		/* drop our own cookie event, remember it */
		for (i = k = 0; i < r; i++) {
			if (events[n + i].data.u64 == cookie) {
				take_wakeups(s);
				continue;
			}
			events[n + k++] = events[n + i];
		}
		if (n + k > 0)
			return n + k;
		if (r == 0)
			return 0; /* timed out */
				  /* woken for a device: poll it and wait again if need be */
	}
}

SHIM_EXPORT int epoll_wait(int epfd, struct epoll_event *events, int max, int timeout)
{
	int r;

	if (__builtin_expect(!tracked(epfd), 1))
		return REAL(epoll_wait)(epfd, events, max, timeout);
	r = do_wait(epfd, events, max, timeout, NULL);
	return (int)shim_ret(r);
}

SHIM_EXPORT int epoll_pwait(int epfd, struct epoll_event *events, int max, int timeout,
			    const sigset_t *sigmask)
{
	if (__builtin_expect(!tracked(epfd), 1))
		return REAL(epoll_pwait)(epfd, events, max, timeout, sigmask);
	return (int)shim_ret(do_wait(epfd, events, max, timeout, sigmask));
}

SHIM_EXPORT int epoll_pwait2(int epfd, struct epoll_event *events, int max,
			     const struct timespec *timeout, const sigset_t *sigmask)
{
	long ms = -1;

	if (__builtin_expect(!tracked(epfd), 1))
		return REAL(epoll_pwait2)(epfd, events, max, timeout, sigmask);
	if (timeout)
		ms = timeout->tv_sec * 1000L + (timeout->tv_nsec + 999999L) / 1000000L;
	return (int)shim_ret(do_wait(epfd, events, max, ms, sigmask));
}

SHIM_EXPORT int epoll_create(int size)
{
	int fd = REAL(epoll_create)(size);

	if (fd >= 0)
		shim_fd_forget(fd);
	return fd;
}

SHIM_EXPORT int epoll_create1(int flags)
{
	int fd = REAL(epoll_create1)(flags);

	if (fd >= 0)
		shim_fd_forget(fd);
	return fd;
}

/* close(epfd): forget the set.  Returns true if @fd was one. */
bool shim_epoll_close(int fd)
{
	struct ep_set *s, **pp;

	if (__builtin_expect(!tracked(fd), 1))
		return false;
	pthread_mutex_lock(&sets_lock);
	for (pp = &sets; (s = *pp); pp = &s->next)
		if (s->epfd == fd) {
			*pp = s->next;
			break;
		}
	atomic_fetch_and(&has_set[fd >> 6], ~(1ull << (fd & 63)));
	pthread_mutex_unlock(&sets_lock);
	if (!s)
		return false;
	while (s->items) {
		struct ep_item *it = s->items;

		s->items = it->next;
		item_free(s, it);
	}
	shim_sys_close(s->shadow);
	pthread_mutex_destroy(&s->lock);
	free(s);
	return true;
}
