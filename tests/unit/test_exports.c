/* SPDX-License-Identifier: MIT */
/*
 * What the two libraries export.  libcused must export only libfuse3 names,
 * each under the version node libfuse3 uses for it, so that a driver
 * binary linked with libfuse3 binds to it; the shim exports its wrappers
 * and nothing else.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_SYMS 512

struct sym {
	char name[96];
	char version[32];
};

/* Defined dynamic symbols of @lib as name + version ("(FUSE_3.0)" for
 * non-default versions, as objdump prints them). */
static int exports(const char *lib, struct sym *out)
{
	char cmd[1024], line[512];
	FILE *p;
	int n = 0;

	snprintf(cmd, sizeof(cmd), "objdump -T '%s'", lib);
	p = popen(cmd, "r");
	cr_assert(p, "cannot run objdump");
	while (fgets(line, sizeof(line), p) && n < MAX_SYMS) {
		char addr[32], flags[16], section[32], size[32], version[32], name[96];

		/* 0000000000001234 g    DF .text  0000000000000005  FUSE_3.2    name */
		if (sscanf(line, "%31s %15s DF %31s %31s %31s %95s", addr, flags, section, size,
			   version, name) != 6 ||
		    strcmp(section, ".text"))
			continue;
		snprintf(out[n].name, sizeof(out[n].name), "%s", name);
		snprintf(out[n].version, sizeof(out[n].version), "%s", version);
		n++;
	}
	pclose(p);
	return n;
}

static const char *builddir(void)
{
	const char *b = getenv("CUSESHIM_BUILDDIR");

	return b ? b : ".";
}

Test(exports, libcused_matches_libfuse3)
{
	static struct sym ours[MAX_SYMS], theirs[MAX_SYMS];
	const char *real = "/usr/lib/x86_64-linux-gnu/libfuse3.so.3";
	char lib[512];
	int n, m, i, j;

	snprintf(lib, sizeof(lib), "%s/cused/.libs/libcused.so", builddir());
	n = exports(lib, ours);
	cr_assert_gt(n, 50, "only %d exports in %s", n, lib);
	if (access(real, R_OK))
		cr_skip_test("libfuse3.so.3 not installed: cannot compare");
	m = exports(real, theirs);
	for (i = 0; i < n; i++) {
		bool found = false;

		for (j = 0; j < m && !found; j++)
			found = !strcmp(ours[i].name, theirs[j].name) &&
				!strcmp(ours[i].version, theirs[j].version);
		cr_expect(found, "libcused exports %s %s, which libfuse3 does not", ours[i].name,
			  ours[i].version);
	}
}

Test(exports, libcused_has_the_versioned_loop_abis)
{
	static struct sym ours[MAX_SYMS];
	static const char *const want[][2] = {
		{"fuse_session_loop_mt", "(FUSE_3.0)"},	 {"fuse_session_loop_mt", "(FUSE_3.2)"},
		{"fuse_session_loop_mt", "FUSE_3.12"},	 {"fuse_session_loop_mt_31", "FUSE_3.2"},
		{"fuse_session_loop_mt_32", "FUSE_3.2"}, {"fuse_session_loop_mt_312", "FUSE_3.12"},
		{"fuse_parse_cmdline", "(FUSE_3.0)"},	 {"fuse_parse_cmdline", "FUSE_3.12"},
		{"cuse_lowlevel_main", "FUSE_3.0"},	 {"fuse_log", "FUSE_3.7"},
	};
	char lib[512];
	size_t k;
	int n, i;

	snprintf(lib, sizeof(lib), "%s/cused/.libs/libcused.so", builddir());
	n = exports(lib, ours);
	for (k = 0; k < sizeof(want) / sizeof(want[0]); k++) {
		bool found = false;

		for (i = 0; i < n && !found; i++)
			found = !strcmp(ours[i].name, want[k][0]) &&
				!strcmp(ours[i].version, want[k][1]);
		cr_expect(found, "missing %s %s", want[k][0], want[k][1]);
	}
}

/* The names between "global:" and "local:" of the shim's version script. */
static int listed_wrappers(char out[][128])
{
	char sym[512], word[128];
	bool global = false;
	FILE *f;
	int n = 0;

	snprintf(sym, sizeof(sym), "%s/libcuseshim/libcuseshim.sym",
		 getenv("CUSESHIM_SRCDIR") ? getenv("CUSESHIM_SRCDIR") : "..");
	f = fopen(sym, "re");
	cr_assert(f, "cannot read %s", sym);
	while (n < MAX_SYMS && fscanf(f, " %127[^; \t\n]", word) == 1) {
		if (!strcmp(word, "local:"))
			break;
		if (global)
			snprintf(out[n++], 128, "%s", word);
		global |= !strcmp(word, "global:");
		if (fscanf(f, "%*[; \t\n]") < 0)
			break;
	}
	fclose(f);
	return n;
}

static bool has_export(const struct sym *syms, int n, const char *name)
{
	int i;

	for (i = 0; i < n; i++)
		if (!strcmp(syms[i].name, name))
			return true;
	return false;
}

static char wrappers[MAX_SYMS][128];

Test(exports, shim_exports_only_wrappers)
{
	static struct sym ours[MAX_SYMS];
	char lib[512];
	int n, w, i, j;

	snprintf(lib, sizeof(lib), "%s/libcuseshim/.libs/libcuseshim.so", builddir());
	n = exports(lib, ours);
	w = listed_wrappers(wrappers);
	cr_assert_gt(n, 40);
	cr_assert_gt(w, 40);
	for (i = 0; i < n; i++) {
		bool listed = false;

		for (j = 0; j < w && !listed; j++)
			listed = !strcmp(wrappers[j], ours[i].name);
		cr_expect(listed, "the shim exports %s, which is not a wrapper", ours[i].name);
		cr_expect(strncmp(ours[i].name, "shim_", 5), "internal %s exported", ours[i].name);
	}
}

/* A name in the version script that no code defines is silently dropped
 * by the linker: the wrapper would simply not be there. */
Test(exports, shim_exports_every_listed_wrapper)
{
	static struct sym ours[MAX_SYMS];
	char lib[512];
	int n, w, j;

	snprintf(lib, sizeof(lib), "%s/libcuseshim/.libs/libcuseshim.so", builddir());
	n = exports(lib, ours);
	w = listed_wrappers(wrappers);
	cr_assert_gt(w, 40);
	for (j = 0; j < w; j++)
		cr_expect(has_export(ours, n, wrappers[j]), "%s is listed but not exported",
			  wrappers[j]);
}
