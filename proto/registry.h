/* SPDX-License-Identifier: MIT */
/*
 * The device registry: where a driver publishes its device and a client
 * finds it.  Pure string code shared by both sides; each side does its own
 * I/O (the shim must never call a function it wraps).
 *
 * Layout under the registry directory DIR, for device NAME = "D/B" (D may
 * be empty, names may contain '/' as DEVNAME does in the kernel):
 *
 *   DIR/D/B          the driver's listening SOCK_SEQPACKET socket.  It
 *                    appears (rename) only after the init reply.
 *   DIR/D/.B.attr    the device's attributes, one line of key=value pairs.
 *                    The driver holds an OFD write lock on it for as long
 *                    as it lives: a client or a second driver that finds it
 *                    unlocked knows the entry is stale.
 *
 * DIR is $CUSE_DIR, else $XDG_RUNTIME_DIR/cuse, else /run/cuse for root and
 * /tmp/cuse-UID for everyone else.
 */
#ifndef CUSESHIM_REGISTRY_H
#define CUSESHIM_REGISTRY_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define REGISTRY_ATTR_VERSION 1
#define REGISTRY_ATTR_MAX     512

struct registry_attr {
	unsigned version;
	unsigned major, minor;
	unsigned mode; /* permission bits only */
	uid_t uid;
	gid_t gid;
	pid_t pid;
	uint32_t flags; /* CUSE_UNRESTRICTED_IOCTL */
};

/* /dev/cuse as a stock Debian system has it (crw------- root root 10,203):
 * under the shim and the supervisor it is there when no registry device
 * of that name is, and an open of it reaches cuse-bridge. */
#define REGISTRY_CUSE_NAME "cuse"
void registry_cuse_attr(struct registry_attr *a);

/* Fill @buf with the registry directory; -ENAMETOOLONG if it does not fit. */
int registry_dir(char *buf, size_t size, const char *cuse_dir, const char *xdg_runtime_dir,
		 uid_t uid);
/* A driver's DEVNAME made into the path of its node under /dev, in place,
 * as the kernel's devtmpfs makes it (tests/oracle/raw_driver.sh): empty
 * and "." components go ("/dev/x" is dev/x, "a//b" a/b, "./x" x).
 * Returns 1 when the name ends with '/': the kernel then makes only that
 * directory, and no node. */
int registry_node_name(char *name);
/* 0 if @name is a usable DEVNAME, else -EINVAL with *why set. */
int registry_check_name(const char *name, const char **why);
/* Paths of the socket and the attribute file.  -ENAMETOOLONG if the socket
 * path exceeds what sockaddr_un can hold. */
int registry_paths(const char *dir, const char *name, char *sock, size_t sock_size, char *attr,
		   size_t attr_size);
int registry_format_attr(char *buf, size_t size, const struct registry_attr *a);
/* 0, or -EINVAL for text that is not a complete attribute line. */
int registry_parse_attr(const char *buf, size_t n, struct registry_attr *a);

/* Each live device under the registry @dir: @fn(dir, name, attributes,
 * @data), until it returns nonzero, which registry_scan then returns
 * (else 0).  Driver side only (registry_scan.c does its own I/O). */
typedef int registry_scan_fn(const char *dir, const char *name, const struct registry_attr *a,
			     void *data);
int registry_scan(const char *dir, registry_scan_fn *fn, void *data);
/* The same in the registry open at @dfd, whatever the process's root and
 * cwd are now; @dir is only passed on to @fn. */
int registry_scan_at(int dfd, const char *dir, registry_scan_fn *fn, void *data);

/* Lexically normalise an absolute path ("//dev/./x" -> "/dev/x", ".."
 * resolved).  Returns the length or -ENAMETOOLONG/-EINVAL. */
int registry_normalize(const char *path, char *out, size_t size);

/* What a client says, once per process and device, when an open fails
 * for a reason its user can fix.  Arguments: the device path and the
 * registry directory; the path, mode, owner and group. */
#define REGISTRY_MSG_STALE                                                                         \
	"%s: its driver is no longer running (a stale entry in %s); start the driver again\n"
#define REGISTRY_MSG_DENIED                                                                        \
	"%s: permission denied: mode 0%o, owner %u, group %u; run as them, or start the "          \
	"driver with CUSED_MODE or CUSED_GROUP\n"

#endif
