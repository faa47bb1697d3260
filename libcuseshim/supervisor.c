/* SPDX-License-Identifier: MIT */
/* The seccomp supervisor of cuse-run --seccomp (being written). */
#include <stdio.h>

#include "supervisor.h"

int supervise(char **argv)
{
	fprintf(stderr, "cuse-run: --seccomp is not implemented yet\n");
	return 125;
}
