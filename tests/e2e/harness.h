/* SPDX-License-Identifier: MIT */
/*
 * Helpers for end-to-end tests: every test gets a private registry
 * directory, runs drivers and clients as real processes (as nobody when
 * the suite runs as root), and leaves no process behind, whatever happens
 * to the test.
 */
#ifndef HARNESS_H
#define HARNESS_H

#include <stdbool.h>
#include <sys/types.h>

struct h_driver {
	pid_t pid;
	char name[128];
	char log[512];
	char err[512];
};

enum {
	H_SHIM = 1,		 /* run under cuse-run */
	H_PRELOAD = 2,		 /* LD_PRELOAD=libcuseshim.so, no cuse-run */
	H_NODIR = 4,		 /* no CUSE_DIR in the environment */
	H_AS_OTHER = 8,		 /* as a second unprivileged user (needs root) */
	H_GROUPS = 16,		 /* with supplementary groups 100 and 27 (needs root) */
	H_MODE660 = 32,		 /* driver: CUSED_MODE=0660 */
	H_MODE604 = 64,		 /* driver: CUSED_MODE=0604 */
	H_NOGROUP = 128,	 /* with gid 65533 instead of the driver's 65534 */
	H_REGISTRY_SUBDIR = 256, /* CUSE_DIR=<test dir>/new/reg (not yet there) */
	H_ANYPID = 512,		 /* driver in another pid namespace: any pid will do */
	H_KEEP_ROOT = 1024,	 /* keep root (the command drops it itself) */
};

/* What flockprobe.py DEV prints, on the kernel's CUSE too
 * (tests/oracle/no_rw_and_flock.sh). */
#define FLOCKPROBE_OUT                                                                             \
	"ok busy busy ok\nother busy\nok ok busy ok\nwaited True\ninterrupted busy\nbusy ok\n"

/* What plockprobe.py DEV prints, on the kernel's CUSE too
 * (tests/oracle/plocks.sh). */
#define PLOCKPROBE_OUT                                                                             \
	"lock ok\n"                                                                                \
	"EAGAIN ok wr 0+10 parent wr 0+10 parent\n"                                                \
	"own unlocked ok\n"                                                                        \
	"ok EAGAIN rd 100+100 parent\n"                                                            \
	"unlock ok ok\n"                                                                           \
	"unlocked wr 0+4 parent wr 6+4 parent\n"                                                   \
	"merge ok ok\n"                                                                            \
	"wr 0+10 parent\n"                                                                         \
	"bad EINVAL EINVAL EINVAL EINVAL EINVAL ok\n"                                              \
	"access EBADF ok\n"                                                                        \
	"unlocked\n"                                                                               \
	"again ok\n"                                                                               \
	"release ok\n"                                                                             \
	"waited ok True\n"                                                                         \
	"hold ok\n"                                                                                \
	"cycle EDEADLOCK\n"                                                                        \
	"child ok\n"                                                                               \
	"hold ok\n"                                                                                \
	"interrupted EAGAIN\n"                                                                     \
	"dead unlocked\n"                                                                          \
	"ofd ok EINVAL wr 0+10 -1 unlocked EAGAIN\n"                                               \
	"ofd2 wr 0+10 -1 EAGAIN\n"                                                                 \
	"unlocked\n"                                                                               \
	"lockf True\n"                                                                             \
	"lockf EACCES EAGAIN\n"                                                                    \
	"test own True True\n"                                                                     \
	"lockf ok ok\n"

/* Does the driver under test see poll's events?  Not when it is bufdev
 * built with libfuse 2 (CUSESHIM_DROPIN_DRIVER=fuse2-...), whose poll
 * callback gets no events: such assertions are about libfuse 2. */
bool h_poll_events(void);
/* Are the drivers under test bridged (CUSESHIM_DROPIN=bridge)? */
bool h_bridged(void);

/* Criterion fixture: .init = h_setup, .fini = h_teardown */
void h_setup(void);
void h_teardown(void);
const char *h_dir(void);
const char *h_stage(const char *file);
bool h_root(void);

/* Start bufdev serving @name with extra arguments (NULL-terminated); an
 * empty queue reads as end of file (--eof). */
int h_driver_start(struct h_driver *d, const char *name, const char *const extra[]);
/* The same, with bufdev's blocking reads. */
int h_driver_start_blocking(struct h_driver *d, const char *name, const char *const extra[]);
/* Same, for any driver argv (argv[0] is a stage file name). */
int h_driver_start_argv(struct h_driver *d, const char *name, const char *const argv[], int flags);
void h_driver_stop(struct h_driver *d, int sig);
/* Kill @pid (a daemonized driver) at teardown, whatever happens. */
void h_track_pid(pid_t pid);
/* The pid a live registry entry names, or -1. */
pid_t h_registry_pid(const char *name);
/* Wait for the driver to exit; returns its exit status or -1 on timeout. */
int h_driver_wait(struct h_driver *d, int timeout_ms);
int h_log_count(const struct h_driver *d, const char *prefix);
char *h_log(const struct h_driver *d);
/* @d's log and the end of its stderr, for a failure's message (free it;
 * it is leaked when the assertion fails). */
char *h_driver_story(const struct h_driver *d);
/* Does @d's log have @first, and @then somewhere after it? */
bool h_log_before(const struct h_driver *d, const char *first, const char *then);

/* Run @argv (NULL-terminated) with @flags; stdin from @in (may be NULL).
 * Returns the exit status (128+sig when killed, -1 on timeout); *out and
 * *err get what it printed (may be NULL, free them). */
int h_run(int flags, const char *in, char **out, char **err, const char *const argv[]);
#define H_RUN(flags, out, ...)                                                                     \
	h_run((flags), NULL, (out), NULL, (const char *const[]){__VA_ARGS__, NULL})

/* Sleep @ms, then count lines again: for tests that wait for a release. */
/* Shell for the start of a bash -c script: a process that takes /dev/@dev's
 * lock (fcntl.@pylock, "flock" or "lockf", LOCK_EX), holds it @hold_ms ms,
 * and is holding it when the script goes on (its job is still to wait). */
const char *h_lock_holder(char *buf, size_t size, const char *dev, const char *pylock, int hold_ms);
void h_msleep(int ms);
/* Poll until the driver log holds @n lines starting with @prefix. */
bool h_log_wait(const struct h_driver *d, const char *prefix, int n, int timeout_ms);
/* Expect exactly @opens opens and as many releases in @d's log (waiting
 * for the releases). */
void h_expect_balanced(const struct h_driver *d, int opens);
/* @tmpl with every "%u" replaced by the test user's uid (static buffer). */
const char *h_with_uid(const char *tmpl);
/* Fork a child that SIGKILLs @d's driver once a line starting with
 * @prefix is in its log, and @delay_ms later.  Returns its pid. */
pid_t h_kill_after(const struct h_driver *d, const char *prefix, int delay_ms);
/* A sanitizer build (configure --enable-sanitizers)? */
bool h_sanitizers(void);
/* "LD_PRELOAD=@libs" for env(1), with the ASan runtime first in a
 * sanitizer build, as cuse-run puts it (in @buf). */
const char *h_preload_var(char *buf, size_t size, const char *libs);
/* ASAN_OPTIONS for env(1) and programs under an instrumented shim: their
 * own leaks are not ours (harmless in other builds). */
#define H_CLIENT_ASAN "ASAN_OPTIONS=detect_leaks=0:verify_asan_link_order=0"
/* Fork a child that waits for a line starting with @prefix in @d's log,
 * then @delay_ms more, and runs @argv under the shim.  Returns its pid
 * (wait for it). */
pid_t h_run_after(const struct h_driver *d, const char *prefix, int delay_ms,
		  const char *const argv[]);
/* h_run_after of a shell that writes @text to @path. */
pid_t h_write_after(const struct h_driver *d, const char *prefix, int delay_ms, const char *path,
		    const char *text);

/* Expect @n lines starting with @prefix in @d's log within @ms; on a
 * timeout the message tells the driver's story. */
#define H_EXPECT_LOG(d, prefix, n, ms)                                                             \
	do {                                                                                       \
		bool h_ok_ = h_log_wait((d), (prefix), (n), (ms));                                 \
		char *h_story_ = h_ok_ ? NULL : h_driver_story(d);                                 \
		cr_expect(h_ok_, "no %d \"%s\" lines in %d ms\n%s", (n), (prefix), (ms),           \
			  h_story_ ? h_story_ : "");                                               \
		free(h_story_);                                                                    \
	} while (0)

#endif
