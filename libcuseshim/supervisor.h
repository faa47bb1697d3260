/* SPDX-License-Identifier: MIT */
/* The seccomp supervisor of cuse-run --seccomp (see supervisor.c). */
#ifndef SUPERVISOR_H
#define SUPERVISOR_H

/*
 * Run argv[0] (searched in PATH) with @argv under a seccomp user-notification
 * filter and serve its device calls, and those of all its descendants,
 * until none of them is left.  The registry comes from CUSE_DIR /
 * XDG_RUNTIME_DIR, the explicit maps from CUSESHIM_MAP, debug output from
 * CUSESHIM_DEBUG, as for the shim.  Returns the program's exit status
 * (128 + signal if it was killed, 127/126 if it could not be run, 125 if
 * the supervisor could not be set up).
 */
int supervise(char **argv);

#endif
