/* SPDX-License-Identifier: MIT */
/* Which executables LD_PRELOAD cannot follow into (see elfkind.c). */
#ifndef CUSESHIM_ELFKIND_H
#define CUSESHIM_ELFKIND_H

#include <sys/types.h>

typedef ssize_t (*elf_pread_fn)(int fd, void *buf, size_t n, off_t off);

/*
 * NULL if the executable open at @fd takes LD_PRELOAD (a dynamically
 * linked program, a script, anything that is not a 64-bit ELF file of our
 * machine), else why not: "statically linked" (no PT_INTERP) or "a Go
 * program" (a .go.buildinfo section: Go makes raw system calls).  @rd
 * reads the file, so that the shim can pass a raw system call.
 */
const char *elf_unreachable(int fd, elf_pread_fn rd);

#endif
