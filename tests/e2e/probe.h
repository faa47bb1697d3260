/* SPDX-License-Identifier: MIT */
/*
 * What rwprobe and staticprobe share: a SIGALRM handler that counts, for
 * their alarm:MS and alarms steps.
 */
#ifndef CUSESHIM_PROBE_H
#define CUSESHIM_PROBE_H

#include <signal.h>
#include <sys/time.h>

static volatile sig_atomic_t probe_alarms;

static void probe_on_alarm(int sig)
{
	(void)sig;
	probe_alarms++;
}

/* A SIGALRM handler with @flags (SA_RESTART or 0), firing once in @ms ms. */
static void probe_alarm(long ms, int flags)
{
	struct sigaction sa = {.sa_handler = probe_on_alarm, .sa_flags = flags};
	struct itimerval it = {{0, 0}, {ms / 1000, (ms % 1000) * 1000}};

	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, NULL);
	setitimer(ITIMER_REAL, &it, NULL);
}

#endif
