/* SPDX-License-Identifier: MIT */
/* The table of real libc entry points (the next definition after ours),
 * resolved once at load and again lazily if something calls us first. */
#define SHIM_SYSCALL_C
#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/mman.h>

#include "shim_i.h"

struct shim_real shim_real;

void shim_resolve(void)
{
#define SHIM_REAL(ret, name, args) shim_real.name = (ret(*) args)dlsym(RTLD_NEXT, #name);
#include "real.def"
#undef SHIM_REAL
}

struct shim_real *shim_resolved(void)
{
	shim_resolve();
	return &shim_real;
}
