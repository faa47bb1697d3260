/* SPDX-License-Identifier: MIT */
/*
 * The ELF check shared by cuse-run and the shim's exec wrappers.  Four
 * reads at most (header, program headers, section headers, their names),
 * on the stack: the shim runs it in vfork children too.
 */
#include <elf.h>
#include <stdbool.h>
#include <string.h>

#include "elfkind.h"

#define MAX_PHDRS 64
#define MAX_SHDRS 128
#define MAX_NAMES 4096

static bool has_go_section(int fd, elf_pread_fn rd, const Elf64_Ehdr *eh)
{
	Elf64_Shdr sh[MAX_SHDRS];
	char names[MAX_NAMES];
	size_t n = eh->e_shnum, size;
	ssize_t got;
	size_t i;

	if (eh->e_shentsize != sizeof(Elf64_Shdr) || n == 0 || n > MAX_SHDRS ||
	    eh->e_shstrndx >= n ||
	    rd(fd, sh, n * sizeof(sh[0]), (off_t)eh->e_shoff) != (ssize_t)(n * sizeof(sh[0])))
		return false;
	size = sh[eh->e_shstrndx].sh_size < MAX_NAMES ? sh[eh->e_shstrndx].sh_size : MAX_NAMES;
	got = rd(fd, names, size, (off_t)sh[eh->e_shstrndx].sh_offset);
	if (got <= 0)
		return false;
	for (i = 0; i < n; i++)
		if (sh[i].sh_name + sizeof(".go.buildinfo") <= (size_t)got &&
		    !memcmp(names + sh[i].sh_name, ".go.buildinfo", sizeof(".go.buildinfo")))
			return true;
	return false;
}

const char *elf_unreachable(int fd, elf_pread_fn rd)
{
	Elf64_Phdr ph[MAX_PHDRS];
	Elf64_Ehdr eh;
	bool interp = false;
	size_t i, n;

	if (rd(fd, &eh, sizeof(eh), 0) != sizeof(eh) || memcmp(eh.e_ident, ELFMAG, SELFMAG) ||
	    eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_machine != EM_X86_64 ||
	    eh.e_phentsize != sizeof(Elf64_Phdr) || eh.e_phnum > MAX_PHDRS)
		return NULL;
	n = eh.e_phnum;
	if (rd(fd, ph, n * sizeof(ph[0]), (off_t)eh.e_phoff) != (ssize_t)(n * sizeof(ph[0])))
		return NULL;
	for (i = 0; i < n; i++)
		interp |= ph[i].p_type == PT_INTERP;
	if (has_go_section(fd, rd, &eh))
		return "a Go program";
	return interp ? NULL : "statically linked";
}
