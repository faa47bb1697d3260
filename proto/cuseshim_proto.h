/* SPDX-License-Identifier: MIT */
/*
 * The cuseshim wire protocol, shared by libcuseshim (clients) and libcused
 * (drivers).  One header, fixed-width little-endian host-order fields,
 * explicit padding.
 *
 * Changelog
 *   1.0  first version: HELLO, OPEN, ATTACH, CLOSED; FUSE READ/WRITE,
 *        IOCTL, POLL, INTERRUPT; STATUS and ABORT for the driver's user.
 *   1.1  CUSESHIM_OPEN_MIRROR, CUSESHIM_READ_MIRROR; fuse_in_header.pid
 *        and the tid of HELLO/OPEN may name a thread of a descendant of
 *        the client (the seccomp supervisor asks for the programs it
 *        supervises).
 *   1.2  the request ring: RING brings a shared memory area, in which
 *        READ, WRITE and IOCTL then travel (struct cuseshim_ring).
 *   1.3  ring waiters: each side says when it sleeps, so that the other
 *        wakes it only then, and where it runs, so that the other spins
 *        instead of sleeping when they are on different CPUs
 *        (CUSESHIM_FEAT_RING_WAITERS, CUSESHIM_RING_WAITERS).
 *   1.4  CUSESHIM_OPEN_MIRRORED in OPEN's answer: the mirror byte follows.
 *   1.5  FLOCK: flock(2) locks, kept by the driver's library.
 *   1.6  SETFL: the file's f_flags changed (for the RELEASE's flags).
 *   1.7  FUSE_INTERRUPT of an OPEN: an OPEN's unique has
 *        CUSESHIM_OPEN_UNIQUE set, and its interrupt comes on a control
 *        connection of the same process (the file connection is not read
 *        until the open is answered).
 *   1.8  PLOCK: fcntl(2)/lockf(3) record locks, POSIX and OFD, kept by the
 *        driver's library.
 *
 * Version rule: the client sends its major.minor in HELLO/OPEN; the driver
 * refuses a different major (EPROTO) and answers with its own minor.  Each
 * side uses only what min(minor) provides.
 *
 * Transport.  A driver listens on one AF_UNIX SOCK_SEQPACKET socket per
 * device, published in the registry (see registry.h).  Every message is one
 * datagram: a header, the operation's arguments, then a payload.  Lengths in
 * the header must equal the datagram's size; a receiver drops a connection
 * whose message fails validation.
 *
 * Two kinds of connection reach that socket:
 *
 *   file connection    made by open(2) in the client.  The client's end *is*
 *                      the program's device fd: a real kernel object, so
 *                      dup, fork, exec, SCM_RIGHTS and close-on-exec behave
 *                      natively.  Its first and only request is OPEN, sent
 *                      with the client's end itself attached (SCM_RIGHTS) so
 *                      the driver learns and verifies its inode.  After
 *                      that nothing travels on it; when every copy of the
 *                      client's end is closed the driver reads EOF, which is
 *                      the kernel's "last close anywhere": RELEASE.
 *
 *   control connection one per client thread and device.  Requests for open
 *                      files travel here, never on the file connection, so
 *                      that two processes sharing a file never read each
 *                      other's replies.  A thread proves it holds a file by
 *                      passing the fd in ATTACH; the driver answers with a
 *                      handle valid on this connection only, carried in
 *                      fuse_in_header.nodeid of later requests.
 *
 * Requests use struct fuse_in_header, replies struct fuse_out_header, and
 * FUSE operations (READ, WRITE, ...) their <linux/fuse.h> argument structs,
 * so a CUSE driver sees exactly what the kernel would send.  The client's
 * uid/gid fields are ignored, and its pid field (0: the connection's own
 * thread) is only a claim: the driver accepts a thread of the connecting
 * process (SO_PEERCRED) or of a process below it, and takes that thread's
 * fsuid/fsgid from /proc, else it uses the connection's credentials.
 * fh fields from the client are ignored too; the driver uses the fh its own
 * open() returned.
 */
#ifndef CUSESHIM_PROTO_H
#define CUSESHIM_PROTO_H

#include <linux/fuse.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#define CUSESHIM_PROTO_MAJOR 1
#define CUSESHIM_PROTO_MINOR 8

/* The uniques of OPEN requests have this bit, and no others do (1.7). */
#define CUSESHIM_OPEN_UNIQUE (1ull << 62)
#define CUSESHIM_MAGIC	     0x43555345u /* "CUSE" */

/* Our own opcodes live far above FUSE's. */
enum cuseshim_opcode {
	CUSESHIM_OP_HELLO = 0x43530001,	 /* control connection handshake */
	CUSESHIM_OP_OPEN = 0x43530002,	 /* first message of a file connection */
	CUSESHIM_OP_ATTACH = 0x43530003, /* fd in SCM_RIGHTS -> handle */
	CUSESHIM_OP_CLOSED = 0x43530004, /* a holder closed; wait for RELEASE */
	CUSESHIM_OP_STATUS = 0x43530005, /* the driver's user: counts (waiting) */
	CUSESHIM_OP_ABORT = 0x43530006,	 /* the driver's user: abort the device */
	CUSESHIM_OP_RING = 0x43530007,	 /* memfd in SCM_RIGHTS -> a request ring */
	CUSESHIM_OP_FLOCK = 0x43530008,	 /* flock(2) of a file (nodeid: its handle) */
	CUSESHIM_OP_SETFL = 0x43530009,	 /* its f_flags changed (nodeid: handle) */
	CUSESHIM_OP_PLOCK = 0x4353000a,	 /* an fcntl/lockf record lock (nodeid: handle) */
};

/* Kernel CUSE limits (fs/fuse): at most 32 pinned user pages per request,
 * and libfuse's fixed max_read. */
#define CUSESHIM_PAGE_SIZE   4096u
#define CUSESHIM_MAX_PAGES   32u
#define CUSESHIM_MAX_PAYLOAD (CUSESHIM_MAX_PAGES * CUSESHIM_PAGE_SIZE)
#define CUSESHIM_MAX_READ    131072u
/* Largest datagram either side accepts: a header, the biggest argument
 * struct and a full payload. */
#define CUSESHIM_MAX_MSG (CUSESHIM_MAX_PAYLOAD + 4096u)

struct cuseshim_hello_in {
	uint32_t magic;
	uint16_t major;
	uint16_t minor;
	uint32_t tid; /* the calling thread; verified against /proc */
	uint32_t padding;
};

struct cuseshim_hello_out {
	uint32_t magic;
	uint16_t major;
	uint16_t minor;
	uint32_t flags;	    /* CUSE_UNRESTRICTED_IOCTL */
	uint32_t max_read;  /* bytes per READ request */
	uint32_t max_write; /* bytes per WRITE request */
	uint32_t dev_major;
	uint32_t dev_minor;
	uint32_t features; /* CUSESHIM_FEAT_* */
};

/* The driver takes RING (1.2). */
#define CUSESHIM_FEAT_RING 1u
/* The driver keeps srv_sleep and srv_cpu of its rings (1.3). */
#define CUSESHIM_FEAT_RING_WAITERS 2u

/*
 * The request ring of a control connection (1.2).  One request and its
 * reply at a time, as a client thread makes them, in shared memory with
 * futex wake-ups instead of a socket round trip: READ, WRITE and IOCTL
 * only.  A client asks for it with RING (fuse_in_header alone, a memfd
 * of CUSESHIM_RING_SIZE bytes sealed against shrinking in SCM_RIGHTS;
 * the reply is the header, error 0 if the driver serves it), once the
 * connection is busy enough to pay for the driver's thread.  Everything
 * else stays on the socket (HELLO, ATTACH, CLOSED, INTERRUPT), and so
 * do the connection's life and death: the client checks the socket for
 * the driver's hang-up while it waits.
 *
 * The client writes a request (fuse_in_header, arguments, payload, as on
 * the socket) at CUSESHIM_RING_REQ, stores req_seq + 1 and wakes req_seq;
 * the driver copies it out, checks it as any request, and answers at
 * CUSESHIM_RING_REP (fuse_out_header ...), storing rep_seq = req_seq and
 * waking rep_seq.  Both futexes are shared ones (not FUTEX_PRIVATE).
 *
 * Waiters (1.3).  A client that sets CUSESHIM_RING_WAITERS in flags before
 * RING, talking to a driver with CUSESHIM_FEAT_RING_WAITERS, keeps
 * cli_sleep and cli_cpu; the driver keeps srv_sleep and srv_cpu.  A side
 * about to sleep stores its *_sleep = 1 and then looks at the sequence
 * number once more before FUTEX_WAIT; a side that stores a sequence number
 * then wakes the other only if the other's *_sleep is 1 (both orders
 * sequentially consistent: no lost wake-up).  *_cpu is the CPU a side
 * last ran on, plus one (0: unknown); a side may spin for a while rather
 * than sleep when the other is on another CPU.  Neither side trusts the
 * other's words for anything but whether to wake or to spin.
 */
struct cuseshim_ring {
	uint32_t req_seq;
	uint32_t rep_seq;
	uint32_t flags;	    /* CUSESHIM_RING_*, set by the client before RING */
	uint32_t srv_sleep; /* 1.3: the driver sleeps on req_seq */
	uint32_t cli_sleep; /* 1.3: the client sleeps on rep_seq */
	uint32_t srv_cpu;   /* 1.3: the driver's ring thread's CPU + 1 */
	uint32_t cli_cpu;   /* 1.3: the client thread's CPU + 1 */
	uint32_t reserved[9];
};
#define CUSESHIM_RING_WAITERS 1u
#define CUSESHIM_RING_REQ     4096u
#define CUSESHIM_RING_REP     (CUSESHIM_RING_REQ + CUSESHIM_MAX_MSG)
#define CUSESHIM_RING_SIZE    (CUSESHIM_RING_REP + CUSESHIM_MAX_MSG)

/* OPEN: fuse_in_header + cuseshim_open_in, SCM_RIGHTS = the client's end. */
struct cuseshim_open_in {
	struct cuseshim_hello_in hello;
	struct fuse_open_in open; /* flags as the kernel passes them */
};

struct cuseshim_open_out {
	struct cuseshim_hello_out hello;
};

/* OPEN's fuse_open_in.open_flags: mirror POLLIN on the fd from the start
 * (the supervisor's programs wait on the fd itself: select, epoll). */
#define CUSESHIM_OPEN_MIRROR (1u << 31)
/* OPEN's answer, hello.flags (1.4): the driver has no poll op, so the
 * file is always ready, and the POLLIN mirror's byte comes right after
 * this answer on the same socket; a client that asked for the mirror
 * waits for it before the program can poll. */
#define CUSESHIM_OPEN_MIRRORED (1u << 31)
/* READ's fuse_read_in.read_flags: the reader took a mirror byte first;
 * mirror the driver's readiness again after this read, so that the fd
 * stays readable while the driver has data (level-triggered). */
#define CUSESHIM_READ_MIRROR (1u << 31)

/* FLOCK: flock(2)'s operation, LOCK_SH, LOCK_EX or LOCK_UN, maybe with
 * LOCK_NB.  The answer is the error alone: 0, EWOULDBLOCK, EINTR (an
 * INTERRUPT ended the wait), EINVAL. */
struct cuseshim_flock_in {
	uint32_t op;
	uint32_t padding;
};

/* SETFL: F_SETFL or FIONBIO changed the file's f_flags, which the
 * kernel's RELEASE carries (file->f_flags at the last close): the new
 * ones.  The answer is the error alone. */
struct cuseshim_setfl_in {
	uint32_t flags;
	uint32_t padding;
};

/* PLOCK: a POSIX (owner: the process) or OFD (owner: the open file)
 * record lock of fcntl(2) or lockf(3), kept by the driver's library on
 * the device node as the kernel keeps them on its inode.  The range is
 * start..end, both included, end CUSESHIM_PLOCK_EOF for "to the end of
 * the file"; the client has resolved l_whence.  The answer is a
 * cuseshim_plock_out, or an error alone: EAGAIN (a conflict, _SET),
 * EDEADLK (_WAIT would wait in a cycle), EINTR (an INTERRUPT ended the
 * wait), EBADF (a read lock on a file not open for reading, a write lock
 * on one not open for writing), EINVAL, ENOLCK. */
enum { CUSESHIM_PLOCK_GET, CUSESHIM_PLOCK_SET, CUSESHIM_PLOCK_WAIT };
#define CUSESHIM_PLOCK_EOF INT64_MAX
struct cuseshim_plock_in {
	int64_t start;
	int64_t end;
	uint32_t cmd;  /* CUSESHIM_PLOCK_GET (F_GETLK), _SET (F_SETLK), _WAIT (F_SETLKW) */
	uint32_t type; /* F_RDLCK, F_WRLCK, F_UNLCK */
	uint32_t ofd;  /* 1: an OFD lock (F_OFD_*) */
	uint32_t padding;
};

/* PLOCK's answer: for _GET the first lock in the way (type F_UNLCK if
 * none), zeroes otherwise. */
struct cuseshim_plock_out {
	int64_t start;
	int64_t end;
	uint32_t type;
	int32_t pid; /* its owner process; -1 for an OFD lock */
};

/* ATTACH: fuse_in_header alone, SCM_RIGHTS = a device fd. */
struct cuseshim_attach_out {
	uint64_t handle;
	uint32_t open_flags; /* f_flags at open (access mode etc.) */
	uint32_t padding;
};

/* CLOSED: sent after close(2) of a device fd; answered once RELEASE is done
 * if that close was the last one, at once otherwise. */
struct cuseshim_closed_in {
	uint64_t ino; /* inode of the client's end */
};

/* STATUS: the kernel's /sys/class/cuse/NAME/waiting, and more. */
struct cuseshim_status_out {
	uint32_t open_files;
	uint32_t waiting; /* requests the driver has not answered yet */
	uint32_t connections;
	uint32_t padding;
};

_Static_assert(sizeof(struct fuse_in_header) == 40, "fuse_in_header");
_Static_assert(sizeof(struct fuse_out_header) == 16, "fuse_out_header");
_Static_assert(sizeof(struct cuseshim_hello_in) == 16, "hello_in");
_Static_assert(sizeof(struct cuseshim_ring) == 64, "ring");
_Static_assert(sizeof(struct cuseshim_hello_out) == 32, "hello_out");
_Static_assert(sizeof(struct cuseshim_open_in) == 24, "open_in");
_Static_assert(sizeof(struct cuseshim_attach_out) == 16, "attach_out");
_Static_assert(sizeof(struct cuseshim_closed_in) == 8, "closed_in");
_Static_assert(sizeof(struct cuseshim_flock_in) == 8, "flock_in");
_Static_assert(sizeof(struct cuseshim_setfl_in) == 8, "setfl_in");
_Static_assert(sizeof(struct cuseshim_plock_in) == 32, "plock_in");
_Static_assert(sizeof(struct cuseshim_plock_out) == 24, "plock_out");

/*
 * Validation, used by both sides on every datagram before any field is
 * trusted.  Return 0 or -EPROTO.
 */
/* A request of @n bytes: header length equals @n, opcode known, arguments
 * of the opcode's size present. */
int proto_check_request(const void *msg, size_t n);
/* A reply of @n bytes to a request of @opcode: length equals @n, error is
 * 0 or in (-1000, 0), error replies carry no payload, success replies carry
 * exactly the opcode's fixed out struct plus at most @max_payload bytes. */
int proto_check_reply(const void *msg, size_t n, uint32_t opcode, size_t max_payload);
/* Size of the fixed argument struct following fuse_in_header, or -1 for an
 * opcode we do not carry. */
long proto_in_arg_size(uint32_t opcode);
/* Size of the fixed out struct following fuse_out_header on success. */
long proto_out_arg_size(uint32_t opcode);
const char *proto_opname(uint32_t opcode);
/* What a request asks, for debug output: "offset 0 size 4096 flags 02"
 * for READ, the like for WRITE, IOCTL and POLL, "insize N"
 * otherwise.  @arg/@alen: the bytes after the header. */
void proto_describe(const struct fuse_in_header *in, const void *arg, size_t alen, char *buf,
		    size_t size);
/* The debug line of one request @req: opcode, unique, what it asks
 * (offset, size, flags, ioctl cmd, poll events) and what came back after
 * @us microseconds: @result (payload bytes or -errno) and the reply's
 * fixed out struct @out, e.g.
 * "READ unique 4 offset 0 size 4096 flags 02 -> 5 (12.3 us)". */
void proto_trace_line(char *buf, size_t size, const struct iovec *req, int nreq, long result,
		      const void *out, size_t out_size, double us);

/*
 * Request splitting, exactly as the kernel's fuse_get_user_pages(): a
 * request covers at most @max bytes and at most CUSESHIM_MAX_PAGES user
 * pages, where every iovec segment starts a new page run and a buffer that
 * does not start on a page boundary loses its head offset.  Returns the
 * length of the next request starting @skip bytes into @iov.
 */
size_t proto_next_chunk(const struct iovec *iov, int iovcnt, size_t skip, size_t max);

/*
 * The iovec array of an ioctl RETRY reply (fs/fuse/ioctl.c): at most 256
 * iovecs in all (-ENOMEM), exactly @n bytes of fuse_ioctl_iovec
 * (-EIO), every value representable here (-EIO), at most 128 KiB per
 * direction (-ENOMEM).  Fills the in/out iovecs and their totals.
 */
int proto_ioctl_retry(const struct fuse_ioctl_out *out, const void *arr, size_t n, struct iovec *in,
		      size_t *in_size, struct iovec *outv, size_t *out_size);

/*
 * What a datagram is to a caller waiting for the answer to request
 * @unique.  It was received as a fuse_out_header @hdr, then the request's
 * fixed out struct (@out_size bytes), then the payload: @n bytes in all,
 * @trunc when the kernel cut it (MSG_TRUNC).
 *   PROTO_REPLY_DONE    the answer: *@result is the payload length, or
 *                       -errno (the driver's error; -EIO for one out of
 *                       range, a short or an over-long answer)
 *   PROTO_REPLY_NOTIFY  a FUSE_NOTIFY_POLL wakeup
 *   PROTO_REPLY_LATE    another request's answer (one given up on)
 *   PROTO_REPLY_BROKEN  not a message at all: drop the connection
 */
enum proto_reply { PROTO_REPLY_DONE, PROTO_REPLY_NOTIFY, PROTO_REPLY_LATE, PROTO_REPLY_BROKEN };
enum proto_reply proto_reply_take(const struct fuse_out_header *hdr, size_t n, bool trunc,
				  uint64_t unique, size_t out_size, long *result);

/* The ring's *_cpu word for the CPU the caller runs on (1.3). */
uint32_t proto_ring_cpu(void);
/* One turn of a spin-wait: the CPU's pause hint where it has one. */
static inline void proto_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ volatile("yield");
#endif
}
/* CLOCK_MONOTONIC in nanoseconds, for bounding a spin. */
uint64_t proto_now_ns(void);
/* How long a side of a ring waits awake for the other on another CPU:
 * CUSESHIM_SPIN_US (@s, may be NULL) in nanoseconds, 50 us when unset.
 * Returns -1, with the default in *@ns, when @s is not a number of
 * microseconds up to a second (the caller says so in its log). */
#define CUSESHIM_SPIN_US_DEFAULT 50
int proto_spin_ns(const char *s, uint64_t *ns);
/* struct flock's l_whence, l_start and l_len on a CUSE file, whose offset
 * and size are always 0, as the range start..end of a PLOCK (the
 * kernel's flock_to_posix_lock): 0, -EINVAL or -EOVERFLOW. */
int proto_lock_range(int whence, int64_t l_start, int64_t l_len, int64_t *start, int64_t *end);
/* And back, for F_GETLK's answer (l_whence SEEK_SET). */
void proto_lock_flock(int64_t start, int64_t end, int64_t *l_start, int64_t *l_len);
struct flock;
/* fcntl's record lock command @cmd (F_GETLK, F_SETLK, F_SETLKW, the F_OFD_
 * forms) with the caller's @fl as a PLOCK request: 0 or the kernel's
 * error for the arguments (-EINVAL, -EOVERFLOW). */
int proto_plock_in(int cmd, const struct flock *fl, struct cuseshim_plock_in *pi);
/* F_GETLK's answer into @fl, as the kernel's posix_lock_to_flock. */
void proto_plock_out(const struct cuseshim_plock_out *po, struct flock *fl);

/* The segments of @iov covering bytes [@skip, @skip + @len), at most @max
 * of them, into @out; returns how many. */
int proto_iov_slice(const struct iovec *iov, int iovcnt, size_t skip, size_t len, struct iovec *out,
		    int max);

/* Open flags the driver sees (fs/fuse/file.c, fs/open.c): O_CREAT, O_EXCL,
 * O_NOCTTY, O_TRUNC and O_CLOEXEC removed, O_LARGEFILE added on 64-bit. */
uint32_t proto_open_flags(int flags);

/* Takes every POLLIN mirror byte waiting on the device socket @fd, with
 * as few calls as it can (@rmm: recvmmsg, or the shim's real one).
 * Returns how many there were. */
struct mmsghdr;
typedef int (*proto_recvmmsg_fn)(int, struct mmsghdr *, unsigned int, int, struct timespec *);
unsigned proto_drain_mirror(int fd, proto_recvmmsg_fn rmm);

#endif
