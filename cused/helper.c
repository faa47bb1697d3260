/* SPDX-License-Identifier: MIT */
/* Process helpers of the libfuse API: logging, signals, daemonizing, and
 * the version queries. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cused_i.h"

static void default_log(enum fuse_log_level level, const char *fmt, va_list ap)
{
	vfprintf(stderr, fmt, ap);
}

static fuse_log_func_t log_func = default_log;

CUSED_EXPORT
void fuse_set_log_func(fuse_log_func_t func)
{
	log_func = func ? func : default_log;
}

CUSED_EXPORT
void fuse_log(enum fuse_log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_func(level, fmt, ap);
	va_end(ap);
}

void cused_log(enum fuse_log_level level, const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	log_func(level, fmt, ap);
	va_end(ap);
	errno = saved;
}

/* One session gets the signals, as in libfuse. */
static struct fuse_session *signal_session;

static void exit_handler(int sig)
{
	if (signal_session) {
		signal_session->error = sig;
		fuse_session_exit(signal_session);
	}
}

static void do_nothing(int sig)
{
}

static int set_one(int sig, void (*handler)(int), int remove)
{
	struct sigaction sa, old;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = remove ? SIG_DFL : handler;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0; /* no SA_RESTART: a blocked receive must see EINTR */
	if (sigaction(sig, NULL, &old) == -1) {
		cused_log(FUSE_LOG_ERR, "fuse: cannot get old signal handler: %s\n",
			  strerror(errno));
		return -1;
	}
	if ((!remove && old.sa_handler == SIG_DFL) || (remove && old.sa_handler == handler)) {
		if (sigaction(sig, &sa, NULL) == -1) {
			cused_log(FUSE_LOG_ERR, "fuse: cannot set signal handler: %s\n",
				  strerror(errno));
			return -1;
		}
	}
	return 0;
}

CUSED_EXPORT
int fuse_set_signal_handlers(struct fuse_session *se)
{
	if (set_one(SIGHUP, exit_handler, 0) == -1 || set_one(SIGINT, exit_handler, 0) == -1 ||
	    set_one(SIGTERM, exit_handler, 0) == -1 || set_one(SIGPIPE, do_nothing, 0) == -1)
		return -1;
	signal_session = se;
	return 0;
}

CUSED_EXPORT
void fuse_remove_signal_handlers(struct fuse_session *se)
{
	if (signal_session != se)
		cused_log(FUSE_LOG_ERR, "fuse: fuse_remove_signal_handlers: unknown session\n");
	else
		signal_session = NULL;
	set_one(SIGHUP, exit_handler, 1);
	set_one(SIGINT, exit_handler, 1);
	set_one(SIGTERM, exit_handler, 1);
	set_one(SIGPIPE, do_nothing, 1);
}

CUSED_EXPORT
int fuse_daemonize(int foreground)
{
	if (!foreground) {
		int waiter[2], nullfd;
		char completed;

		if (pipe(waiter)) {
			cused_log(FUSE_LOG_ERR, "fuse_daemonize: pipe: %s\n", strerror(errno));
			return -1;
		}
		switch (fork()) {
		case -1:
			cused_log(FUSE_LOG_ERR, "fuse_daemonize: fork: %s\n", strerror(errno));
			return -1;
		case 0: break;
		default: (void)read(waiter[0], &completed, sizeof(completed)); _exit(0);
		}
		if (setsid() == -1) {
			cused_log(FUSE_LOG_ERR, "fuse_daemonize: setsid: %s\n", strerror(errno));
			return -1;
		}
		(void)chdir("/");
		nullfd = open("/dev/null", O_RDWR, 0);
		if (nullfd != -1) {
			(void)dup2(nullfd, 0);
			(void)dup2(nullfd, 1);
			(void)dup2(nullfd, 2);
			if (nullfd > 2)
				close(nullfd);
		}
		completed = 1;
		(void)write(waiter[1], &completed, sizeof(completed));
		close(waiter[0]);
		close(waiter[1]);
	} else {
		(void)chdir("/");
	}
	return 0;
}

CUSED_EXPORT
int fuse_version(void)
{
	return FUSE_VERSION;
}

CUSED_EXPORT
const char *fuse_pkgversion(void)
{
	return "3.14.0 (cuseshim libcused " PACKAGE_VERSION ")";
}
