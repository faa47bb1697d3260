/* SPDX-License-Identifier: MIT */
/*
 * The termios API on device fds.  glibc issues its termios ioctls inside
 * libc, where our ioctl wrapper never sees them, so every entry point is
 * wrapped here and turned into exactly the ioctl glibc 2.36 would have
 * issued (sysdeps/unix/sysv/linux, sysdeps/unix/bsd, termios/), sent to
 * the driver with shim_dev_ioctl:
 *
 *   tcgetattr, isatty     TCGETS into the kernel's struct termios
 *   tcsetattr             TCSETS, TCSETSW, TCSETSF for TCSANOW, TCSADRAIN,
 *                         TCSAFLUSH; any other action is EINVAL
 *   tcflush               TCFLSH, the selector as the argument value
 *   tcdrain               TCSBRK 1
 *   tcsendbreak           TCSBRK 0 for a duration <= 0, else TCSBRKP with
 *                         the duration in 100 ms units, rounded up
 *   tcflow                TCXONC, the action as the argument value
 *   tcgetpgrp, tcsetpgrp  TIOCGPGRP, TIOCSPGRP on an int
 *   tcgetsid              TIOCGSID; on EINVAL getsid(tcgetpgrp())
 *   ttyname, ttyname_r    TCGETS (the isatty test), then /dev/NAME
 *
 * The rest of <termios.h> (cfsetospeed, cfmakeraw...) only edits the
 * caller's struct and needs no wrapper.  Fds that are not devices, and
 * O_PATH device fds (where the kernel answers EBADF before any driver),
 * go to the real functions untouched.
 *
 * These are old-style ioctl numbers with no _IOC direction or size, so a
 * restricted driver receives them without data, as from the kernel; a
 * tty-like driver must be unrestricted and ask for the buffers by RETRY.
 */
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>

#include "shim_i.h"

/*
 * The kernel's struct termios (asm-generic/termbits.h, used by x86):
 * 19 control characters and no speed fields.  glibc's has 32 control
 * characters and c_ispeed/c_ospeed, which it derives from CBAUD in
 * c_cflag; the unused control characters read as _POSIX_VDISABLE.
 */
#define KERNEL_NCCS 19

struct kernel_termios {
	tcflag_t c_iflag;
	tcflag_t c_oflag;
	tcflag_t c_cflag;
	tcflag_t c_lflag;
	cc_t c_line;
	cc_t c_cc[KERNEL_NCCS];
};
_Static_assert(sizeof(struct kernel_termios) == 36, "the kernel's struct termios is 36 bytes");

/* glibc's cfsetispeed(0) marks "input speed = output speed" in an unused
 * c_iflag bit (termios/speed.c); tcsetattr never passes it on. */
#define IBAUD0 020000000000

static struct shim_file *tty_file(int fd)
{
	struct shim_file *f = shim_fd_get(fd);

	return __builtin_expect(!f || f->opath, 1) ? NULL : f;
}

static void termios_from_kernel(struct termios *t, const struct kernel_termios *k)
{
	t->c_iflag = k->c_iflag;
	t->c_oflag = k->c_oflag;
	t->c_cflag = k->c_cflag;
	t->c_lflag = k->c_lflag;
	t->c_line = k->c_line;
	t->c_ispeed = k->c_cflag & (CBAUD | CBAUDEX);
	t->c_ospeed = k->c_cflag & (CBAUD | CBAUDEX);
	memcpy(t->c_cc, k->c_cc, KERNEL_NCCS);
	memset(t->c_cc + KERNEL_NCCS, _POSIX_VDISABLE, NCCS - KERNEL_NCCS);
}

static void termios_to_kernel(struct kernel_termios *k, const struct termios *t)
{
	memset(k, 0, sizeof(*k));
	k->c_iflag = t->c_iflag & ~IBAUD0;
	k->c_oflag = t->c_oflag;
	k->c_cflag = t->c_cflag;
	k->c_lflag = t->c_lflag;
	k->c_line = t->c_line;
	memcpy(k->c_cc, t->c_cc, KERNEL_NCCS);
}

/* TCGETS; like glibc, a positive ioctl result is returned unconverted. */
static long dev_tcgets(int fd, struct shim_file *f, struct kernel_termios *k)
{
	memset(k, 0, sizeof(*k));
	return shim_dev_ioctl(fd, f, TCGETS, k);
}

static long dev_tcgetattr(int fd, struct shim_file *f, struct termios *t)
{
	struct kernel_termios k;
	long r = dev_tcgets(fd, f, &k);

	if (r == 0)
		termios_from_kernel(t, &k);
	return r;
}

static long dev_tcsetattr(int fd, struct shim_file *f, int action, const struct termios *t)
{
	struct kernel_termios k;
	unsigned cmd;

	switch (action) {
	case TCSANOW: cmd = TCSETS; break;
	case TCSADRAIN: cmd = TCSETSW; break;
	case TCSAFLUSH: cmd = TCSETSF; break;
	default: return -EINVAL;
	}
	termios_to_kernel(&k, t);
	return shim_dev_ioctl(fd, f, cmd, &k);
}

/* An int argument travels as the ioctl's value, zero-extended as the
 * x86-64 calling convention leaves it in glibc's variadic ioctl. */
static long dev_ioctl_value(int fd, struct shim_file *f, unsigned cmd, int value)
{
	return shim_dev_ioctl(fd, f, cmd, (void *)(uintptr_t)(unsigned)value);
}

/* An int the driver fills in: the value is the answer, whatever its sign. */
static long dev_ioctl_int(int fd, struct shim_file *f, unsigned cmd, int *value)
{
	*value = 0;
	return shim_dev_ioctl(fd, f, cmd, value);
}

/* glibc also remembers an EINVAL from TIOCGSID in a static, for kernels
 * older than 2.1.71; a driver's answer is its own, so we ask every time. */
static long dev_tcgetsid(int fd, struct shim_file *f, pid_t *sid)
{
	int v;
	long r = dev_ioctl_int(fd, f, TIOCGSID, &v);

	if (r >= 0) {
		*sid = v;
		return 0;
	}
	if (r != -EINVAL)
		return r;
	r = dev_ioctl_int(fd, f, TIOCGPGRP, &v);
	if (r < 0)
		return r;
	if (v == -1) {
		*sid = -1; /* glibc returns it with errno as it was */
		return 0;
	}
	*sid = getsid(v);
	if (*sid < 0)
		return errno == ESRCH ? -ENOTTY : -errno;
	return 0;
}

/* glibc's order of checks (sysdeps/unix/sysv/linux/ttyname_r.c): the
 * buffer, its minimal size, then the isatty test; the name the kernel
 * would give is the device node's path. */
static int dev_ttyname_r(int fd, struct shim_file *f, char *buf, size_t buflen)
{
	static const char prefix[] = "/dev/";
	struct kernel_termios k;
	size_t len;
	long r;

	if (!buf)
		return -EINVAL;
	if (buflen < sizeof("/dev/pts/"))
		return -ERANGE;
	r = dev_tcgets(fd, f, &k);
	if (r < 0)
		return (int)r;
	len = strlen(f->dev->name);
	if (sizeof(prefix) + len > buflen)
		return -ERANGE;
	memcpy(buf, prefix, sizeof(prefix) - 1);
	memcpy(buf + sizeof(prefix) - 1, f->dev->name, len + 1);
	return 0;
}

/* ttyname_r and friends return the error number and also set errno. */
static int ttyname_ret(int err)
{
	if (err) {
		errno = -err;
		return -err;
	}
	return 0;
}

SHIM_EXPORT int isatty(int fd)
{
	struct shim_file *f = tty_file(fd);
	struct kernel_termios k;
	long r;

	if (!f)
		return REAL(isatty)(fd);
	r = dev_tcgets(fd, f, &k);
	if (r < 0) {
		errno = (int)-r;
		return 0;
	}
	return r == 0;
}

SHIM_EXPORT int tcgetattr(int fd, struct termios *termios_p)
{
	struct shim_file *f = tty_file(fd);

	if (!f)
		return REAL(tcgetattr)(fd, termios_p);
	return (int)shim_ret(dev_tcgetattr(fd, f, termios_p));
}

SHIM_EXPORT int tcsetattr(int fd, int optional_actions, const struct termios *termios_p)
{
	struct shim_file *f = tty_file(fd);

	if (!f)
		return REAL(tcsetattr)(fd, optional_actions, termios_p);
	return (int)shim_ret(dev_tcsetattr(fd, f, optional_actions, termios_p));
}

SHIM_EXPORT int tcflush(int fd, int queue_selector)
{
	struct shim_file *f = tty_file(fd);

	if (!f)
		return REAL(tcflush)(fd, queue_selector);
	return (int)shim_ret(dev_ioctl_value(fd, f, TCFLSH, queue_selector));
}

SHIM_EXPORT int tcdrain(int fd)
{
	struct shim_file *f = tty_file(fd);

	if (!f)
		return REAL(tcdrain)(fd);
	/* TCSBRK with a nonzero argument waits for the output to drain. */
	return (int)shim_ret(dev_ioctl_value(fd, f, TCSBRK, 1));
}

SHIM_EXPORT int tcflow(int fd, int action)
{
	struct shim_file *f = tty_file(fd);

	if (!f)
		return REAL(tcflow)(fd, action);
	return (int)shim_ret(dev_ioctl_value(fd, f, TCXONC, action));
}

SHIM_EXPORT int tcsendbreak(int fd, int duration)
{
	struct shim_file *f = tty_file(fd);

	if (!f)
		return REAL(tcsendbreak)(fd, duration);
	/* 0.25 to 0.5 s for zero; a positive duration is in milliseconds,
	 * and TCSBRKP counts in tenths of a second. */
	if (duration <= 0)
		return (int)shim_ret(dev_ioctl_value(fd, f, TCSBRK, 0));
	return (int)shim_ret(dev_ioctl_value(fd, f, TCSBRKP, (int)(((long)duration + 99) / 100)));
}

SHIM_EXPORT pid_t tcgetpgrp(int fd)
{
	struct shim_file *f = tty_file(fd);
	int pgrp;
	long r;

	if (!f)
		return REAL(tcgetpgrp)(fd);
	r = dev_ioctl_int(fd, f, TIOCGPGRP, &pgrp);
	return r < 0 ? (pid_t)shim_ret(r) : pgrp;
}

SHIM_EXPORT int tcsetpgrp(int fd, pid_t pgrp_id)
{
	struct shim_file *f = tty_file(fd);

	if (!f)
		return REAL(tcsetpgrp)(fd, pgrp_id);
	return (int)shim_ret(shim_dev_ioctl(fd, f, TIOCSPGRP, &pgrp_id));
}

SHIM_EXPORT pid_t tcgetsid(int fd)
{
	struct shim_file *f = tty_file(fd);
	pid_t sid;
	long r;

	if (!f)
		return REAL(tcgetsid)(fd);
	r = dev_tcgetsid(fd, f, &sid);
	return r < 0 ? (pid_t)shim_ret(r) : sid;
}

SHIM_EXPORT char *ttyname(int fd)
{
	static char buf[PATH_MAX];
	struct shim_file *f = tty_file(fd);
	int err;

	if (!f)
		return REAL(ttyname)(fd);
	err = dev_ttyname_r(fd, f, buf, sizeof(buf));
	if (err) {
		errno = -err;
		return NULL;
	}
	return buf;
}

SHIM_EXPORT int ttyname_r(int fd, char *buf, size_t buflen)
{
	struct shim_file *f = tty_file(fd);

	if (!f)
		return REAL(ttyname_r)(fd, buf, buflen);
	return ttyname_ret(dev_ttyname_r(fd, f, buf, buflen));
}

SHIM_EXPORT int __ttyname_r_chk(int fd, char *buf, size_t buflen, size_t nreal)
{
	struct shim_file *f = tty_file(fd);

	/* The real one fails the fortify check (and aborts) before it
	 * looks at the fd. */
	if (!f || buflen > nreal)
		return REAL(__ttyname_r_chk)(fd, buf, buflen, nreal);
	return ttyname_ret(dev_ttyname_r(fd, f, buf, buflen));
}
