/* SPDX-License-Identifier: MIT */
/* The seccomp supervisor of cuse-run --seccomp (being written). */
#ifndef SUPERVISOR_H
#define SUPERVISOR_H
/* Run argv under the supervisor; returns its exit status. */
int supervise(char **argv);
#endif
