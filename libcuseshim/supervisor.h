/* SPDX-License-Identifier: MIT */
/* The seccomp supervisor of cuse-run --seccomp (see supervisor.c). */
#ifndef SUPERVISOR_H
#define SUPERVISOR_H

#include <stdbool.h>
#include <stddef.h>

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

/*
 * The same for this very process, which keeps its pid and parent: a
 * detached supervisor (a grandchild in a process group of its own, holding none
 * of our fds) serves the filter we install before we exec @path with
 * @argv.  The shim's copy is taken out of LD_PRELOAD: the supervisor
 * serves the whole tree.  Returns only if that failed, with the status
 * to exit with.
 */
int supervise_in_place(const char *path, char **argv);

/* @prog as execvp would find it, in @out. */
bool find_program(const char *prog, char *out, size_t size);

#endif
