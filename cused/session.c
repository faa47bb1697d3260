/* SPDX-License-Identifier: MIT */
/*
 * Sessions: cuse_lowlevel_new/setup/main/teardown, the device's place in the
 * registry, and the reference counting of connections and files.
 *
 * A session reserves its name when it is created (OFD lock on the
 * attribute file), so a second driver with the same DEVNAME fails at once,
 * before it daemonizes.  The device becomes visible to clients only when
 * the CUSE_INIT "reply" is made (cused_publish), as with the kernel.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "cused_i.h"

#define EP_KICK	  ((void *)1)
#define EP_LISTEN ((void *)2)

struct cused_conn *cused_conn_get(struct cused_conn *c)
{
	atomic_fetch_add((_Atomic unsigned *)&c->refs, 1);
	return c;
}

void cused_conn_put(struct cused_conn *c)
{
	if (!c || atomic_fetch_sub((_Atomic unsigned *)&c->refs, 1) != 1)
		return;
	if (c->fd >= 0)
		close(c->fd);
	cused_ring_free(c);
	free(c->handles);
	free(c);
}

/* Take @c out of the epoll set and the session; only the thread that owns
 * its (one-shot) epoll event, or the session's destructor, may do this. */
void cused_conn_close(struct fuse_session *se, struct cused_conn *c)
{
	struct cused_conn **pp;
	size_t i;

	pthread_mutex_lock(&se->lock);
	if (c->closed) {
		pthread_mutex_unlock(&se->lock);
		return;
	}
	c->closed = true;
	epoll_ctl(se->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	cused_ring_stop(c);

	for (pp = &se->conns; *pp; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	pthread_mutex_unlock(&se->lock);
	/* The client is gone: what it waited for is interrupted, as the
	 * kernel interrupts the requests of a killed caller. */
	cused_interrupt_all(se, c);
	if (c->kind == CONN_CONTROL)
		cused_plock_conn_closed(se, c->pid);
	for (i = 0; i < c->nhandles; i++)
		if (c->handles[i])
			cused_file_put(se, c->handles[i]);
	c->nhandles = 0;
	if (c->file) {
		struct cused_file *f = c->file;
		bool release = false;

		pthread_mutex_lock(&se->lock);
		f->conn = NULL; /* the client's end is gone for good */
		c->file = NULL;
		/* The last request may have ended between the EOF that made
		 * the release pending and now: it left the release to us. */
		release = cused_release_due_locked(f);
		pthread_mutex_unlock(&se->lock);
		if (release)
			cused_defer_release(se, f);
		cused_file_put(se, f);
	}
	/* Wake the peer at once even if requests in flight keep the fd. */
	shutdown(c->fd, SHUT_RDWR);
	cused_conn_put(c);
}

void cused_file_put(struct fuse_session *se, struct cused_file *f)
{
	struct cused_file **pp;
	bool last;

	pthread_mutex_lock(&se->lock);
	last = --f->refs == 0;
	if (last)
		for (pp = &se->files; *pp; pp = &(*pp)->next)
			if (*pp == f) {
				*pp = f->next;
				break;
			}
	pthread_mutex_unlock(&se->lock);
	if (last) {
		struct cused_waiter *w, *next;

		/* pollers nobody notified, closers nobody answered */
		for (w = f->pollers; w; w = next) {
			next = w->next;
			cused_conn_put(w->conn);
			free(w);
		}
		for (w = f->waiters; w; w = next) {
			next = w->next;
			cused_conn_put(w->conn);
			free(w);
		}
		free(f);
	}
}

int cused_rearm(struct fuse_session *se, struct cused_conn *c)
{
	struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP | EPOLLONESHOT, .data.ptr = c};

	return epoll_ctl(se->epfd, EPOLL_CTL_MOD, c->fd, &ev) ? -errno : 0;
}

/* The driver has taken (or refused) a write that bypassed the shim on @c:
 * read the connection again, and drop the write's reference to it. */
void cused_raw_done(struct fuse_session *se, struct cused_conn *c)
{
	if (!c)
		return;
	if (cused_rearm(se, c))
		cused_conn_close(se, c);
	cused_conn_put(c);
}

static int mkdir_p(const char *path, mode_t mode)
{
	char buf[PATH_MAX];
	size_t i, n = strlen(path);

	if (n >= sizeof(buf))
		return -ENAMETOOLONG;
	memcpy(buf, path, n + 1);
	for (i = 1; i <= n; i++) {
		if (buf[i] != '/' && buf[i] != '\0')
			continue;
		buf[i] = '\0';
		if (mkdir(buf, mode) && errno != EEXIST)
			return -errno;
		buf[i] = path[i];
	}
	return 0;
}

/*
 * The registry directory must be a real directory that is ours or root's,
 * and nobody else may write to it unless it is sticky: otherwise another
 * user could swap entries under us.  A symlink is refused (another user
 * could point a predictable name like /tmp/cuse-UID anywhere).
 */
static int check_dir(const char *dir, const char **why)
{
	struct stat st;

	*why = NULL;
	if (lstat(dir, &st))
		return -errno;
	if (S_ISLNK(st.st_mode))
		*why = "it is a symbolic link";
	else if (!S_ISDIR(st.st_mode))
		*why = "it is not a directory";
	else if (st.st_uid != geteuid() && st.st_uid != 0)
		*why = "it belongs to another user";
	else if ((st.st_mode & 022) && !(st.st_mode & S_ISVTX))
		*why = "others may write to it and it is not sticky";
	return *why ? -EPERM : 0;
}

/* CUSED_DIR_MODE (octal) for directories we create; 0700 by default, so
 * that a registry is private unless its owner shares it. */
static mode_t dir_mode(void)
{
	const char *m = getenv("CUSED_DIR_MODE");
	char *end;
	unsigned long v;

	if (!m || !*m)
		return 0700;
	v = strtoul(m, &end, 8);
	if (*end || v > 07777) {
		cused_log(FUSE_LOG_ERR,
			  "cuse: CUSED_DIR_MODE='%s' is not an octal mode; using 0700\n", m);
		return 0700;
	}
	return (mode_t)v;
}

static pid_t attr_owner(int fd)
{
	struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
	char buf[REGISTRY_ATTR_MAX];
	struct registry_attr a;
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);

	if (n > 0 && !registry_parse_attr(buf, n, &a))
		return a.pid;
	if (!fcntl(fd, F_OFD_GETLK, &fl) && fl.l_type != F_UNLCK)
		return fl.l_pid;
	return 0;
}

/* The last component of a registry path (relative to se->entry_fd). */
static const char *base_name(const char *path)
{
	return strrchr(path, '/') + 1;
}

/* Reserve se->devname: lock its attribute file, reclaiming a stale one. */
static int registry_reserve(struct fuse_session *se)
{
	const char *why;
	char parent[PATH_MAX], *slash;
	int err, tries, waited = 0;

	if (registry_check_name(se->devname, &why)) {
		cused_log(FUSE_LOG_ERR, "cuse: invalid DEVNAME '%s': %s\n", se->devname, why);
		return -EINVAL;
	}
	err = registry_dir(se->dir, sizeof(se->dir), getenv("CUSE_DIR"), getenv("XDG_RUNTIME_DIR"),
			   geteuid());
	if (!err && se->dir[0] != '/') {
		char cwd[PATH_MAX], tmp[PATH_MAX];

		if (!getcwd(cwd, sizeof(cwd)) ||
		    snprintf(tmp, sizeof(tmp), "%s/%s", cwd, se->dir) >= (int)sizeof(tmp))
			err = -ENAMETOOLONG;
		else
			strcpy(se->dir, tmp);
	}
	if (!err)
		err = registry_paths(se->dir, se->devname, se->sock_path, sizeof(se->sock_path),
				     se->attr_path, sizeof(se->attr_path));
	if (err) {
		cused_log(FUSE_LOG_ERR,
			  "cuse: registry path for '%s' under '%s' is too long for a socket "
			  "(%zu bytes at most); set CUSE_DIR to a shorter directory\n",
			  se->devname, se->dir, sizeof(se->sock_path) - 1);
		return err;
	}
	/* The hidden name the socket is bound to before it is renamed into
	 * place; clients recognise inherited device fds by it. */
	snprintf(parent, sizeof(parent), "%s", se->attr_path);
	slash = strrchr(parent, '/');
	*slash = '\0';
	if (snprintf(se->bind_path, sizeof(se->bind_path), "%s/.%s.sock", parent,
		     strrchr(se->sock_path, '/') + 1) >= (int)sizeof(se->bind_path)) {
		cused_log(FUSE_LOG_ERR,
			  "cuse: registry path for '%s' under '%s' is too long for a socket "
			  "(%zu bytes at most); set CUSE_DIR to a shorter directory\n",
			  se->devname, se->dir, sizeof(se->bind_path) - 1);
		return -ENAMETOOLONG;
	}
	{
		mode_t m = dir_mode();
		const char *bad = NULL;
		mode_t old = umask(0);

		err = mkdir_p(se->dir, m);
		if (!err)
			err = check_dir(se->dir, &bad);
		if (!err)
			err = mkdir_p(parent, m);
		umask(old);
		if (err) {
			cused_log(FUSE_LOG_ERR,
				  "cuse: cannot use registry directory '%s': %s; set CUSE_DIR "
				  "to a directory of your own\n",
				  se->dir, bad ? bad : strerror(-err));
			return err;
		}
	}
	/* From here on the registry is used by descriptor: a driver that
	 * chroots or changes directory after starting (swtpm's --chroot)
	 * still publishes where its clients look. */
	se->dir_fd = open(se->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	se->entry_fd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (se->dir_fd < 0 || se->entry_fd < 0) {
		err = -errno;
		cused_log(FUSE_LOG_ERR, "cuse: cannot open registry directory '%s': %s\n", se->dir,
			  strerror(errno));
		return err;
	}
	for (tries = 0; tries < 10; tries++) {
		struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
		struct stat a, b;
		int fd = open(se->attr_path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);

		if (fd < 0) {
			err = -errno;
			cused_log(FUSE_LOG_ERR, "cuse: cannot create '%s': %s\n", se->attr_path,
				  strerror(errno));
			return err;
		}
		if (fcntl(fd, F_OFD_SETLK, &fl)) {
			pid_t owner = attr_owner(fd);

			/* The name is a bridged driver's whose process has
			 * ended: its cuse-bridge lets go in a moment (a
			 * driver restarted at once must not find it taken;
			 * the kernel's node goes with the driver's close). */
			if (owner > 0 && kill(owner, 0) && errno == ESRCH && waited < 100) {
				close(fd);
				waited++;
				tries--;
				usleep(10000);
				continue;
			}
			close(fd);
			cused_log(FUSE_LOG_ERR,
				  "cuse: device '%s' is already served by another driver "
				  "(pid %d, registry %s); stop that driver or choose another "
				  "DEVNAME\n",
				  se->devname, (int)owner, se->dir);
			return -EEXIST;
		}
		/* Locked; make sure it is still the file at that path. */
		if (fstat(fd, &a) || stat(se->attr_path, &b) || a.st_ino != b.st_ino ||
		    a.st_dev != b.st_dev) {
			close(fd);
			continue;
		}
		/* Ours.  Whatever a dead predecessor left is stale. */
		if (ftruncate(fd, 0)) {
			err = -errno;
			close(fd);
			return err;
		}
		unlinkat(se->entry_fd, base_name(se->sock_path), 0);
		unlinkat(se->entry_fd, base_name(se->bind_path), 0);
		se->attr_fd = fd;
		return 0;
	}
	return -EAGAIN;
}

static int listen_socket(struct fuse_session *se)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	if (fd < 0)
		return -errno;
	strcpy(sa.sun_path, se->bind_path);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(fd, SOMAXCONN)) {
		int err = -errno;

		cused_log(FUSE_LOG_ERR, "cuse: cannot listen on '%s': %s\n", se->bind_path,
			  strerror(errno));
		close(fd);
		return err;
	}
	return fd;
}

/* The kernel's "node appears": called after the init reply. */
/*
 * Device numbers, as the kernel hands them out (fs/char_dev.c): a driver
 * that asks for major 0 gets a major no other device has, the highest
 * free one of 254..234, then of 511..384 (find_dynamic_major) - ours
 * first tries the one its name hashes to, so that a device keeps its
 * number across restarts while nothing else holds it; an explicit
 * major:minor another device holds is refused (register_chrdev_region's
 * EBUSY).  The live devices are the registry's; a lock on the registry
 * directory keeps two drivers from choosing at once.
 */
struct numbers {
	const char *self;
	unsigned major, minor;
	unsigned char used[512];
	char holder[256]; /* the device holding major:minor, if any */
};

static int note_number(const char *dir, const char *name, const struct registry_attr *a, void *data)
{
	struct numbers *n = data;

	(void)dir;
	if (!strcmp(name, n->self))
		return 0;
	if (a->major < sizeof(n->used))
		n->used[a->major] = 1;
	if (a->major == n->major && a->minor == n->minor && !n->holder[0])
		snprintf(n->holder, sizeof(n->holder), "%s", name);
	return 0;
}

static unsigned free_major(const struct numbers *n)
{
	unsigned m;

	if (!n->used[n->major])
		return n->major;
	for (m = 254; m >= 234; m--)
		if (!n->used[m])
			return m;
	for (m = 511; m >= 384; m--)
		if (!n->used[m])
			return m;
	return 0;
}

/* Settle se->attr's major:minor; the caller holds the registry's lock. */
static int choose_numbers(struct fuse_session *se)
{
	struct numbers n = {.self = se->devname, .major = se->attr.major, .minor = se->attr.minor};

	registry_scan_at(se->dir_fd, se->dir, note_number, &n);
	if (se->dynamic_major) {
		se->attr.major = free_major(&n);
		if (!se->attr.major) {
			cused_log(FUSE_LOG_ERR, "cuse: %s: no free dynamic major\n", se->devname);
			return -EBUSY;
		}
		return 0;
	}
	if (n.holder[0]) {
		cused_log(FUSE_LOG_ERR,
			  "cuse: %s: device number %u:%u is in use by /dev/%s; choose another "
			  "major and minor\n",
			  se->devname, se->attr.major, se->attr.minor, n.holder);
		return -EBUSY;
	}
	return 0;
}

int cused_publish(struct fuse_session *se)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = EP_LISTEN};
	char line[REGISTRY_ATTR_MAX];
	int n, dfd, err;

	if (fchmodat(se->entry_fd, base_name(se->bind_path), 0777, 0) ||
	    epoll_ctl(se->epfd, EPOLL_CTL_ADD, se->listen_fd, &ev) ||
	    (!se->no_node && linkat(se->entry_fd, base_name(se->bind_path), se->entry_fd,
				    base_name(se->sock_path), 0))) {
		cused_log(FUSE_LOG_ERR, "cuse: cannot publish '%s': %s\n", se->sock_path,
			  strerror(errno));
		return -EIO;
	}
	/* The attributes come last: a complete line means a usable device
	 * (clients treat an entry without one as not there yet). */
	se->attr.pid = se->serving_pid ? se->serving_pid : getpid();
	dfd = se->dir_fd;
	flock(dfd, LOCK_EX);
	err = choose_numbers(se);
	n = err ? -1 : registry_format_attr(line, sizeof(line), &se->attr);
	if (n < 0 || pwrite(se->attr_fd, line, n, 0) != n) {
		if (!err)
			cused_log(FUSE_LOG_ERR, "cuse: cannot write '%s': %s\n", se->attr_path,
				  strerror(errno));
		flock(dfd, LOCK_UN);
		unlinkat(se->entry_fd, base_name(se->sock_path), 0);
		return err ? err : -EIO;
	}
	flock(dfd, LOCK_UN);
	se->published = true;
	cused_debug(se, "cuse: device %s published at %s\n", se->devname, se->sock_path);
	return 0;
}

/* The device disappears (abort): no new opens reach us. */
void cused_unpublish(struct fuse_session *se)
{
	if (se->published) {
		unlinkat(se->entry_fd, base_name(se->sock_path), 0);
		se->published = false;
	}
	epoll_ctl(se->epfd, EPOLL_CTL_DEL, se->listen_fd, NULL);
}

static void registry_remove(struct fuse_session *se)
{
	if (se->published)
		unlinkat(se->entry_fd, base_name(se->sock_path), 0);
	se->published = false;
	if (se->listen_fd >= 0)
		unlinkat(se->entry_fd, base_name(se->bind_path), 0);
	if (se->attr_fd >= 0) {
		unlinkat(se->entry_fd, base_name(se->attr_path), 0);
		close(se->attr_fd);
		se->attr_fd = -1;
	}
	se->published = false;
}

/* [@s, @e) without the white space around it (the kernel's strstrip). */
static void strip(const char **s, const char **e)
{
	while (*s < *e && isspace((unsigned char)**s))
		(*s)++;
	while (*e > *s && isspace((unsigned char)(*e)[-1]))
		(*e)--;
}

/* DEVNAME from the "KEY=VALUE" strings, read as the kernel's
 * cuse_parse_one does: key and value stripped of white space, the last
 * DEVNAME winning, other keys ignored. */
static const char *find_devname(const struct cuse_info *ci, char **out)
{
	const char *name = NULL, *name_end = NULL;
	unsigned i;

	for (i = 0; i < ci->dev_info_argc; i++) {
		const char *key = ci->dev_info_argv[i], *eq = strchr(key, '=');
		const char *key_end = eq ? eq : key + strlen(key);

		strip(&key, &key_end);
		if (key_end - key == 7 && !memcmp(key, "DEVNAME", 7)) {
			name = eq ? eq + 1 : key_end;
			name_end = name + strlen(name);
			strip(&name, &name_end);
		}
	}
	if (!name)
		return NULL;
	*out = strndup(name, (size_t)(name_end - name));
	return *out;
}

static unsigned dynamic_major(const char *name)
{
	unsigned h = 2166136261u;

	for (; *name; name++)
		h = (h ^ (unsigned char)*name) * 16777619u;
	return 234 + h % 21; /* the kernel's dynamic range is 234..254 */
}

/* CUSED_OWNER/CUSED_GROUP (numeric, set by cused run --owner/--group):
 * whom the device's owner and group bits let in. */
static int parse_id_env(const char *var, unsigned *out)
{
	const char *v = getenv(var);
	char *end;
	unsigned long n;

	if (!v || !*v)
		return 0;
	n = strtoul(v, &end, 10);
	if (*end || n > UINT32_MAX - 1) {
		cused_log(FUSE_LOG_ERR, "cuse: %s='%s' is not a numeric id\n", var, v);
		return -EINVAL;
	}
	*out = (unsigned)n;
	return 0;
}

static int parse_mode_env(struct fuse_session *se)
{
	unsigned uid = se->attr.uid, gid = se->attr.gid;

	if (parse_id_env("CUSED_OWNER", &uid) || parse_id_env("CUSED_GROUP", &gid))
		return -EINVAL;
	se->attr.uid = uid;
	se->attr.gid = gid;
	const char *m = getenv("CUSED_MODE");
	char *end;
	unsigned long v;

	if (!m || !*m)
		return 0;
	v = strtoul(m, &end, 8);
	if (*end || v > 07777) {
		cused_log(FUSE_LOG_ERR, "cuse: CUSED_MODE='%s' is not an octal mode\n", m);
		return -EINVAL;
	}
	se->attr.mode = v;
	return 0;
}

CUSED_EXPORT
struct fuse_session *cuse_lowlevel_new(struct fuse_args *args, const struct cuse_info *ci,
				       const struct cuse_lowlevel_ops *clop, void *userdata)
{
	struct cused_session_opts sopts = {0};
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = EP_KICK};
	struct fuse_session *se;
	size_t info_len = 0;
	unsigned i;

	for (i = 0; i < ci->dev_info_argc; i++)
		info_len += strlen(ci->dev_info_argv[i]) + 1;
	if (info_len > CUSE_INIT_INFO_MAX) {
		cused_log(FUSE_LOG_ERR, "cuse: dev_info (%zu) too large, limit=%u\n", info_len,
			  CUSE_INIT_INFO_MAX);
		return NULL;
	}
	if (args && cused_session_parse_opts(args, &sopts))
		return NULL;
	se = calloc(1, sizeof(*se));
	if (!se) {
		cused_log(FUSE_LOG_ERR, "fuse: failed to allocate fuse object\n");
		return NULL;
	}
	se->op = *clop;
	se->userdata = userdata;
	se->debug = sopts.debug;
	se->dev_major = ci->dev_major;
	se->dev_minor = ci->dev_minor;
	se->ci_flags = ci->flags & CUSE_UNRESTRICTED_IOCTL;
	se->epfd = se->listen_fd = se->attr_fd = se->dir_fd = se->entry_fd = -1;
	se->kick[0] = se->kick[1] = -1;
	se->bufsize = sizeof(struct cused_msg) + CUSESHIM_MAX_MSG;
	se->next_unique = 2;
	pthread_mutex_init(&se->lock, NULL);
	pthread_mutex_init(&se->ring_lock, NULL);
	pthread_cond_init(&se->ring_cond, NULL);
	{
		pthread_condattr_t ca;

		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&se->released, &ca);
		pthread_condattr_destroy(&ca);
	}
	se->spin_ns = cused_spin_ns();
	if (!find_devname(ci, &se->devname) || !se->devname[0]) {
		cused_log(FUSE_LOG_ERR, "cuse: DEVNAME unspecified\n");
		goto fail;
	}
	if (registry_node_name(se->devname) == 1) {
		se->no_node = true;
		cused_log(FUSE_LOG_WARNING,
			  "cuse: DEVNAME '%s/' ends with '/': as the kernel does, only the "
			  "directory /dev/%s is made, and no device node\n",
			  se->devname, se->devname);
	}
	se->attr.version = REGISTRY_ATTR_VERSION;
	se->dynamic_major = !ci->dev_major;
	se->attr.major = ci->dev_major ? ci->dev_major : dynamic_major(se->devname);
	se->attr.minor = ci->dev_minor;
	se->attr.mode = 0600;
	se->attr.uid = geteuid();
	se->attr.gid = getegid();
	se->attr.flags = se->ci_flags;
	if (parse_mode_env(se))
		goto fail;
	se->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (se->epfd < 0 || pipe2(se->kick, O_CLOEXEC | O_NONBLOCK) ||
	    epoll_ctl(se->epfd, EPOLL_CTL_ADD, se->kick[0], &ev)) {
		cused_log(FUSE_LOG_ERR, "cuse: cannot create session: %s\n", strerror(errno));
		goto fail;
	}
	if (registry_reserve(se))
		goto fail;
	se->listen_fd = listen_socket(se);
	if (se->listen_fd < 0)
		goto fail;
	/* CUSE_INIT is the first request, as if queued by the kernel. */
	if (write(se->kick[1], "i", 1) != 1)
		goto fail;
	return se;
fail:
	fuse_session_destroy(se);
	return NULL;
}

CUSED_EXPORT
int fuse_session_fd(struct fuse_session *se)
{
	return se->epfd;
}

CUSED_EXPORT
void fuse_session_exit(struct fuse_session *se)
{
	int saved = errno;

	se->exited = 1;
	if (se->kick[1] >= 0 && write(se->kick[1], "x", 1) < 0) {
		/* pipe full: it is readable already */
	}
	errno = saved;
}

CUSED_EXPORT
int fuse_session_exited(struct fuse_session *se)
{
	return se->exited;
}

CUSED_EXPORT
void fuse_session_reset(struct fuse_session *se)
{
	char buf[64];

	se->exited = 0;
	se->error = 0;
	/* Keep the pending-init byte if init has not been delivered. */
	if (se->init_delivered) {
		while (read(se->kick[0], buf, sizeof(buf)) > 0)
			;
		/* ...and the one for releases and polls still to deliver */
		pthread_mutex_lock(&se->lock);
		if ((se->deferred || se->mirrors) && write(se->kick[1], "r", 1) != 1)
			cused_log(FUSE_LOG_ERR, "cuse: %s: cannot wake the loop for a release\n",
				  se->devname);
		pthread_mutex_unlock(&se->lock);
	}
}

CUSED_EXPORT
void fuse_session_destroy(struct fuse_session *se)
{
	struct cused_conn *c;

	if (!se)
		return;
	if (se->got_init && !se->got_destroy) {
		se->got_destroy = true;
		if (se->op.destroy)
			se->op.destroy(se->userdata);
	}
	registry_remove(se);
	while ((c = se->conns))
		cused_conn_close(se, c);
	cused_ring_wait_gone(se);
	cused_plock_fini(se);
	/* Files still open (the loop ended, or the device was aborted) get no
	 * RELEASE, as with an aborted kernel connection; free them and what
	 * waits on them. */
	se->deferred = NULL;
	se->mirrors = NULL;
	for (;;) {
		struct cused_waiter *w, *next;
		struct cused_file *f;

		pthread_mutex_lock(&se->lock);
		f = se->files;
		if (f)
			se->files = f->next;
		pthread_mutex_unlock(&se->lock);
		if (!f)
			break;
		for (w = f->waiters; w; w = next) {
			next = w->next;
			cused_conn_put(w->conn);
			free(w);
		}
		for (w = f->pollers; w; w = next) {
			next = w->next;
			cused_conn_put(w->conn);
			free(w);
		}
		free(f);
	}
	if (se->listen_fd >= 0)
		close(se->listen_fd);
	if (se->dir_fd >= 0)
		close(se->dir_fd);
	if (se->entry_fd >= 0)
		close(se->entry_fd);
	if (se->epfd >= 0)
		close(se->epfd);
	if (se->kick[0] >= 0) {
		close(se->kick[0]);
		close(se->kick[1]);
	}
	pthread_mutex_destroy(&se->lock);
	pthread_mutex_destroy(&se->ring_lock);
	pthread_cond_destroy(&se->ring_cond);
	pthread_cond_destroy(&se->released);
	free(se->devname);
	free(se);
}

CUSED_EXPORT
struct fuse_session *cuse_lowlevel_setup(int argc, char *argv[], const struct cuse_info *ci,
					 const struct cuse_lowlevel_ops *clop, int *multithreaded,
					 void *userdata)
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	struct fuse_cmdline_opts opts;
	struct fuse_session *se;
	int fd, i;

	if (cused_parse_cmdline_312(&args, &opts) == -1)
		return NULL;
	*multithreaded = !opts.singlethread;
	/* libfuse drops the subtype it added: CUSE has no use for it. */
	for (i = 1; i < args.argc; i++)
		if (!strncmp(args.argv[i], "-osubtype=", 10)) {
			free(args.argv[i]);
			memmove(&args.argv[i], &args.argv[i + 1], (args.argc - i) * sizeof(char *));
			args.argc--;
			break;
		}
	do {
		fd = open("/dev/null", O_RDWR);
		if (fd > 2)
			close(fd);
	} while (fd >= 0 && fd <= 2);
	se = cuse_lowlevel_new(&args, ci, clop, userdata);
	if (!se)
		goto out;
	se->cmd_max_threads = opts.max_threads;
	se->cmd_max_idle = opts.max_idle_threads;
	if (fuse_set_signal_handlers(se) == -1)
		goto err_se;
	if (fuse_daemonize(opts.foreground) == -1)
		goto err_sig;
out:
	free(opts.mountpoint);
	fuse_opt_free_args(&args);
	return se;
err_sig:
	fuse_remove_signal_handlers(se);
err_se:
	fuse_session_destroy(se);
	se = NULL;
	goto out;
}

CUSED_EXPORT
void cuse_lowlevel_teardown(struct fuse_session *se)
{
	fuse_remove_signal_handlers(se);
	fuse_session_destroy(se);
}

CUSED_EXPORT
int cuse_lowlevel_main(int argc, char *argv[], const struct cuse_info *ci,
		       const struct cuse_lowlevel_ops *clop, void *userdata)
{
	struct fuse_session *se;
	int mt, res;

	se = cuse_lowlevel_setup(argc, argv, ci, clop, &mt, userdata);
	if (!se)
		return 1;
	if (mt) {
		struct fuse_loop_config *cfg = fuse_loop_cfg_create();

		/* libfuse 3.14 drops -o max_threads= here; we honour it. */
		if (cfg && se->cmd_max_threads)
			fuse_loop_cfg_set_max_threads(cfg, se->cmd_max_threads);
		if (cfg)
			fuse_loop_cfg_set_idle_threads(cfg, se->cmd_max_idle);
		res = fuse_session_loop_mt(se, cfg);
		fuse_loop_cfg_destroy(cfg);
	} else {
		res = fuse_session_loop(se);
	}
	cuse_lowlevel_teardown(se);
	return res == -1 ? 1 : 0;
}
