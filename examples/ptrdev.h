/* SPDX-License-Identifier: MIT */
/*
 * ptrdev's ioctl commands, shared by the driver (examples/ptrdev.c) and the
 * client that exercises them (tests/e2e/ioctlprobe.c).
 *
 * The pointer-chasing commands only work on an unrestricted device: their
 * argument is a struct ptr_req whose buf member points at more of the
 * caller's memory, which the driver asks for in RETRY rounds.  The
 * PTRDEV_R_* commands are plain _IOR/_IOW/_IOWR ones, for a device started
 * with --restricted, where the buffer is {arg, _IOC_SIZE(cmd)}.
 */
#ifndef PTRDEV_H
#define PTRDEV_H

#include <stdint.h>
#include <sys/ioctl.h>

struct ptr_req {
	uint32_t len;	/* bytes at buf */
	uint32_t flags; /* PTR_F_*; the fill byte for PTRDEV_FILL */
	char *buf;
};

/* Put zero-length iovecs (NULL based) around every real one of a RETRY. */
#define PTR_F_ZEROIOV 0x100u

/* A 64-byte blob for the restricted commands. */
struct ptr_blob {
	char data[64];
};

/* Text PTRDEV_GET and PTRDEV_R_GET hand out. */
#define PTRDEV_MESSAGE "the quick brown fox jumps over the lazy dog"

/* buf[0..len) is reversed in place; returns len.  Three rounds:
 * the struct, then the struct and buf in, buf out. */
#define PTRDEV_REVERSE _IOWR('P', 1, struct ptr_req)
/* Up to len bytes of PTRDEV_MESSAGE into buf, the struct written back
 * with len set to what was copied; returns that count.  How much goes
 * out is known only once the struct was read. */
#define PTRDEV_GET _IOWR('P', 2, struct ptr_req)
/* len bytes of the byte in flags into buf; returns len. */
#define PTRDEV_FILL _IOWR('P', 3, struct ptr_req)
/* Retry with buf out, then reply with flags bytes (more than len). */
#define PTRDEV_OVERLONG _IOWR('P', 4, struct ptr_req)
/* Retry with buf out, then reply -EBUSY and the text "partial". */
#define PTRDEV_NEGDATA _IOWR('P', 5, struct ptr_req)
/* arg points at 256 bytes: one retry of 128 one-byte in iovecs
 * (arg[0..128)) and 128 one-byte out iovecs (arg[128..256)), then
 * arg[128 + i] = arg[127 - i].  256 iovecs: the most allowed. */
#define PTRDEV_IOV256 _IO('P', 6)
/* arg points at 8192 bytes: a retry with them out, then a retry of
 * 257 iovecs, whose array fits the 8192-byte reply buffer. */
#define PTRDEV_IOV257_FIT _IO('P', 7)
/* At once a retry of 257 iovecs: 4112 bytes, more than the 4096-byte
 * reply buffer of a round with no out data. */
#define PTRDEV_IOV257_NOFIT _IO('P', 8)
/* arg is a number, never dereferenced: returns (arg + 1) & INT_MAX. */
#define PTRDEV_RAW _IO('P', 9)
/* fuse_reply_ioctl(req, -arg, NULL, 0) */
#define PTRDEV_RESULT _IO('P', 10)
/* fuse_reply_err(req, arg) */
#define PTRDEV_ERR _IO('P', 11)

/* Restricted commands (any mode): */
/* out: PTRDEV_MESSAGE, NUL-padded; returns its length. */
#define PTRDEV_R_GET _IOR('P', 20, struct ptr_blob)
/* in: a string; returns its length. */
#define PTRDEV_R_PUT _IOW('P', 21, struct ptr_blob)
/* in and out: the string upper-cased; returns its length. */
#define PTRDEV_R_ECHO _IOWR('P', 22, struct ptr_blob)
/* out: 4 bytes, but the driver replies with 8. */
#define PTRDEV_R_LONG _IOR('P', 23, uint32_t)

/* FIONREAD answers this many bytes (in unrestricted mode after a retry). */
#define PTRDEV_FIONREAD 42

#endif
