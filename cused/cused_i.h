/* SPDX-License-Identifier: MIT */
/*
 * Private interface of libcused, our implementation of libfuse3's CUSE API.
 *
 * Objects and lifetimes:
 *   struct fuse_session  one emulated device: its listening socket in the
 *                        registry, the epoll set every worker waits on, the
 *                        table of connections and of open files.
 *   struct cused_conn    one accepted socket.  A control connection carries
 *                        requests from one client thread; a file connection
 *                        is the driver's end of one open file description
 *                        (its EOF is the last close anywhere -> RELEASE).
 *                        Refcounted: the session table, every request in
 *                        flight and every buffer handed to the driver hold
 *                        a reference; the fd is closed with the last one.
 *   struct cused_file    one open file description (driver's fh); owned by
 *                        its file connection, looked up by the inode of the
 *                        client's socket end when a process attaches.
 *   struct fuse_req      one request in flight; freed by its single reply.
 */
#ifndef CUSED_I_H
#define CUSED_I_H

#ifndef FUSE_USE_VERSION
#define FUSE_USE_VERSION 312
#endif

#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <limits.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <time.h>

#include <fuse_lowlevel.h>
#include <fuse_opt.h>
#include <cuse_lowlevel.h>

#include "proto/cuseshim_proto.h"
#include "proto/registry.h"

struct cused_file;
struct cused_ring;

enum cused_conn_kind { CONN_NEW, CONN_CONTROL, CONN_FILE };

struct cused_conn {
	int fd;
	enum cused_conn_kind kind;
	unsigned refs; /* atomic */
	pid_t pid;     /* SO_PEERCRED at accept */
	uid_t uid;
	gid_t gid;
	pid_t tid; /* verified calling thread (control), else pid */
	/* the last thread of a descendant that a request named (in->pid) */
	pid_t as_tid; /* under the session lock */
	uid_t as_uid;
	gid_t as_gid;
	bool closed; /* out of the epoll set and the session list */
	/* control: files attached through this connection, by handle - 1 */
	struct cused_file **handles;
	size_t nhandles;
	/* file: the open file this connection is the driver's end of */
	struct cused_file *file;
	/* requests in flight from this connection, for FUSE_INTERRUPT */
	struct fuse_req *inflight;
	uint64_t pending_intr;	 /* an INTERRUPT that came before its request */
	struct cused_ring *ring; /* control: its request ring (ring.c), or NULL */
	struct cused_conn *next;
};

enum cused_file_state { FILE_OPENING, FILE_OPEN, FILE_RELEASING, FILE_RELEASED };

struct cused_waiter {
	struct cused_conn *conn;
	uint64_t unique;
	struct cused_waiter *next;
};

struct cused_file {
	uint64_t ino;	     /* inode of the client's end */
	uint64_t fh;	     /* from the driver's open */
	uint32_t open_flags; /* as passed to the driver's open */
	uint32_t last_flags; /* f_flags of the latest request, for RELEASE */
	enum cused_file_state state;
	bool no_release; /* opened while the driver's open is ENOSYS */
	bool releasing;	 /* its RELEASE is with the driver (se->releasing) */
	unsigned refs;	 /* under se->lock */
	struct cused_conn *conn;
	struct cused_waiter *waiters; /* CLOSED requests waiting for RELEASE */
	struct cused_waiter *pollers; /* connections to notify (FUSE_NOTIFY_POLL) */
	uint64_t kh;		      /* the kernel's poll handle id */
	unsigned busy;		      /* requests in flight on this file */
	unsigned answering;	      /* ...of which answered, or being answered */
	unsigned raw;		      /* ...of which writes past the shim (raw_write) */
	bool release_pending;	      /* last close seen while busy */
	/* POLLIN mirrored on the client's end for callers the shim cannot
	 * wrap (Go's netpoller, io_uring, seccomp): a read answered EAGAIN
	 * queues a poll of our own; its POLLIN, or the driver's next notify,
	 * sends one byte down the file connection. */
	bool mirror_queued; /* in se->mirrors */
	bool mirror_wanted; /* the next POLLIN or notify sends it */
	int lock;	    /* flock(2): 0, LOCK_SH or LOCK_EX (dispatch.c, FLOCK) */
	struct cused_file *next;
	struct cused_file *next_deferred; /* in se->deferred */
	struct cused_file *next_mirror;	  /* in se->mirrors */
};

/* What receive_buf puts in front of each message it hands to the driver.
 * Drivers treat struct fuse_buf as opaque, so the prefix travels with it. */
struct cused_msg {
	struct cused_conn *conn; /* holds a reference; NULL for internal ones */
	struct cused_file *file; /* internal RELEASE: holds a reference */
	int fd;			 /* SCM_RIGHTS fd that came with it, or -1 */
	uint32_t len;
	/* a write that bypassed the shim: its connection, whose one-shot
	 * event stays unarmed until the driver has taken the data, so the
	 * next write cannot overtake it */
	struct cused_conn *raw_conn;
};
#define CUSED_MSG_DATA(m) ((void *)((struct cused_msg *)(m) + 1))

struct fuse_session {
	struct cuse_lowlevel_ops op;
	void *userdata;
	char *devname;
	unsigned dev_major, dev_minor;
	uint32_t ci_flags;
	struct fuse_conn_info conn_info;
	uint32_t max_read, max_write;
	int debug;

	int epfd;
	int kick[2]; /* readable: init pending or session exited */
	int listen_fd;
	int attr_fd;  /* OFD write lock = this name is ours */
	int dir_fd;   /* the registry directory, and the one of this entry: */
	int entry_fd; /* used by descriptor once found (a driver may chroot) */
	char dir[PATH_MAX];
	char sock_path[108];
	char bind_path[108];
	char attr_path[PATH_MAX];
	struct registry_attr attr;
	bool published;
	bool no_node; /* DEVNAME ended with '/': listed, but no node to open */
	/* the process the registry names as serving the device: ours, or
	 * for cuse-bridge the driver's (0: ours) */
	pid_t serving_pid;

	pthread_mutex_t lock; /* conns, files, handles, counters below */
	struct cused_conn *conns;
	struct cused_file *files;
	/* Files whose RELEASE became due inside a reply call: the loop hands
	 * each to the driver as a message of its own, as the kernel would.
	 * The kick pipe holds one byte for them while the list is not empty. */
	struct cused_file *deferred;
	/* Files whose mirror poll is due (busy and answering for it); the
	 * same kick byte stands for both lists. */
	struct cused_file *mirrors;
	/* FLOCK requests waiting for a lock, oldest first (dispatch.c) */
	struct fuse_req *lock_waiters;
	/* PLOCK (plock.c): the node's record locks, the requests waiting for
	 * one (oldest first), and the thread that watches their owners */
	struct cused_plock *plocks;
	struct fuse_req *plock_waiters;
	struct cused_reaper *reaper;
	uint64_t next_unique;
	uint64_t next_kh;
	bool no_open;
	bool dynamic_major;	  /* the driver asked for major 0 */
	unsigned cmd_max_threads; /* -o max_threads=, for cuse_lowlevel_main */
	unsigned waiting;	  /* requests in flight (under lock) */
	bool aborted;
	unsigned cmd_max_idle;

	/* RELEASEs with the driver, and when the last one started; an open
	 * waits for them (do_open) */
	unsigned releasing;
	struct timespec release_started;
	pthread_cond_t released;

	/* Request rings (ring.c): live ring threads, and their dispatches in
	 * progress; whether one of our loops runs; the callbacks that may run
	 * at once (1 for the single-threaded loop, max_threads for the other),
	 * which the loop's workers and the rings share. */
	pthread_mutex_t ring_lock;
	pthread_cond_t ring_cond;
	unsigned rings, ring_busy;
	bool in_loop;
	unsigned slots;
	uint64_t spin_ns; /* CUSESHIM_SPIN_US, read once */

	volatile int exited;
	int error;
	bool init_delivered, got_init, got_destroy;
	size_t bufsize;
	struct fuse_session *next_sig;
};

struct fuse_req {
	struct fuse_session *se;
	struct cused_conn *conn; /* reply goes here; NULL when nobody waits */
	struct cused_file *file; /* holds a reference */
	uint64_t unique;
	uint32_t opcode;
	uint32_t size; /* READ/WRITE: bytes asked */
	char *raw;     /* a write that bypassed the shim: our copy */
	size_t raw_len;
	struct cused_conn *raw_conn; /* rearmed when the write is done */
	struct fuse_ctx ctx;
	struct fuse_file_info fi;
	unsigned refs; /* under se->lock: the reply, an interrupt */
	bool interrupted;
	bool intr_delivered;
	fuse_interrupt_func_t ifunc;
	void *idata;
	struct fuse_req *next_inflight;
	uint32_t ioctl_flags;  /* IOCTL: the request's flags */
	struct timespec start; /* with -d: when the request arrived */
	bool answering;	       /* counted in file->answering */
	bool mirror;	       /* POLL of our own, for the mirror */
	bool mirror_after;     /* OPEN/READ: arm the mirror once answered */
	int lock_type;	       /* FLOCK waiting in se->lock_waiters: the lock */
	struct fuse_req *next_lockwait;
	struct cused_plock *plock; /* PLOCK waiting in se->plock_waiters */
};

struct fuse_pollhandle {
	struct fuse_session *se;
	uint64_t kh;
};

/* plock.c: fcntl/lockf record locks (PLOCK), under the session's own
 * lock.  cused_plock answers @req now or once the lock is granted;
 * a close by a process drops its POSIX locks, a release the OFD locks of
 * the file and the POSIX locks of the processes that locked through it,
 * the end of a control connection those of its process if it is gone. */
/* reply.c: a success answer of ours with @size bytes of @data. */
int cused_reply_data(fuse_req_t req, const void *data, size_t size);
void cused_plock(struct fuse_session *se, struct fuse_req *req, struct cused_file *f,
		 const struct cuseshim_plock_in *pi, pid_t pid);
void cused_plock_closed(struct fuse_session *se, pid_t pid);
void cused_plock_conn_closed(struct fuse_session *se, pid_t pid);
void cused_plock_released(struct fuse_session *se, struct cused_file *f);
void cused_plock_fini(struct fuse_session *se);

/* session.c */
void cused_conn_put(struct cused_conn *c);
struct cused_conn *cused_conn_get(struct cused_conn *c);
void cused_conn_close(struct fuse_session *se, struct cused_conn *c);
void cused_file_put(struct fuse_session *se, struct cused_file *f);
int cused_rearm(struct fuse_session *se, struct cused_conn *c);
void cused_raw_done(struct fuse_session *se, struct cused_conn *c);
int cused_publish(struct fuse_session *se);
void cused_unpublish(struct fuse_session *se);
/* dispatch.c */
void cused_dispatch(struct fuse_session *se, void *mem, size_t size);
void cused_release_done(struct fuse_session *se, struct cused_file *f);
void cused_raw_write(struct fuse_session *se, struct fuse_req *req);
void cused_start_release(struct fuse_session *se, struct cused_file *f);
/* reply.c: a request on @f (@answered: counted in f->answering) is over;
 * starts the release if it was due. */
void cused_file_unbusy(struct fuse_session *se, struct cused_file *f, bool answered);
void cused_file_raw_unbusy(struct fuse_session *se, struct cused_file *f);
/* reply.c, under se->lock: a pending release whose last request has ended
 * and whose client end is gone becomes due (state RELEASING, a reference
 * for the message); true if the caller must hand it to
 * cused_defer_release. */
bool cused_release_due_locked(struct cused_file *f);
/* loop.c: queue @f (state RELEASING, holding a reference for the message)
 * for a RELEASE the loop delivers. */
void cused_defer_release(struct fuse_session *se, struct cused_file *f);
/* loop.c: after a read of @f answered EAGAIN, poll the driver for the
 * mirror from the loop (never inside the reply call). */
void cused_mirror_queue(struct fuse_session *se, struct cused_file *f);
/* reply.c: the driver says @f may be readable: send the mirror byte if one
 * is wanted. */
void cused_mirror_fire(struct fuse_session *se, struct cused_file *f);
/* ring.c */
int cused_ring_start(struct fuse_session *se, struct cused_conn *c, int memfd);
/* The connection is closed: its ring thread ends. */
void cused_ring_stop(struct cused_conn *c);
/* The connection's last reference: unmap its ring. */
void cused_ring_free(struct cused_conn *c);
/* The reply to @unique if it is the request its ring is serving: true,
 * and *@ret, when it went there. */
bool cused_ring_reply(struct cused_conn *c, uint64_t unique, int error, const struct iovec *iov,
		      int count, int *ret);
/* One of our loops starts (@running, allowing @slots callbacks at once)
 * or ends: rings serve only while one runs, and an ending loop waits for
 * their dispatches in progress. */
void cused_ring_loop(struct fuse_session *se, bool running, unsigned slots);
/* Around every dispatch in our loops and rings: one of the slots. */
void cused_slot_take(struct fuse_session *se);
void cused_slot_give(struct fuse_session *se);
/* The session goes: wait for every ring thread to end. */
void cused_ring_wait_gone(struct fuse_session *se);
/* How long a ring thread waits awake for a request (CUSESHIM_SPIN_US). */
uint64_t cused_spin_ns(void);
/* reply.c */
struct fuse_req *cused_req_new(struct fuse_session *se, struct cused_conn *c, uint32_t opcode,
			       uint64_t unique);
void cused_req_free(struct fuse_req *req);
void cused_interrupt(struct fuse_session *se, struct cused_conn *c, uint64_t unique);
void cused_interrupt_all(struct fuse_session *se, struct cused_conn *c);
int cused_send(struct cused_conn *c, uint64_t unique, int error, const struct iovec *iov,
	       int count);
void cused_notify_pollers(struct fuse_session *se, struct cused_waiter *w, uint64_t kh);
void cused_debug(struct fuse_session *se, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define CUSED_EXPORT __attribute__((visibility("default")))

/* Log through the driver's fuse_set_log_func handler (stderr by default). */
void cused_log(enum fuse_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Options fuse_session_new() understands (libfuse's lowlevel and mount
 * options).  cused_session_parse_opts() removes every one it knows from
 * @args and fails with "fuse: unknown option(s): `...'" on anything left. */
struct cused_session_opts {
	int debug;
	int allow_other;
	int allow_root;
};
int cused_session_parse_opts(struct fuse_args *args, struct cused_session_opts *opts);

int cused_parse_cmdline_30(struct fuse_args *args, struct fuse_cmdline_opts *opts);
int cused_parse_cmdline_312(struct fuse_args *args, struct fuse_cmdline_opts *opts);

#endif
