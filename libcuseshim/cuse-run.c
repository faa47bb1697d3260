/* SPDX-License-Identifier: MIT */
/* cuse-run: run a program with the cuseshim interposer, the way padsp and
 * umockdev-run do. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "supervisor.h"

static void usage(FILE *out)
{
	fprintf(out, "Usage: cuse-run [OPTION]... [--] PROGRAM [ARG]...\n"
		     "Run PROGRAM so that it sees the character devices served by cuseshim\n"
		     "drivers as /dev/NAME.\n"
		     "\n"
		     "  -d, --debug            log every emulated call to stderr\n"
		     "      --dir=DIR          registry directory (default: $CUSE_DIR,\n"
		     "                         $XDG_RUNTIME_DIR/cuse, /run/cuse for root,\n"
		     "                         /tmp/cuse-UID otherwise)\n"
		     "      --map=PATH=NAME    make PATH (e.g. /dev/ttyUSB0) open device NAME;\n"
		     "                         may be repeated\n"
		     "      --seccomp          supervise PROGRAM with seccomp user notification\n"
		     "                         instead of preloading the shim: reaches static\n"
		     "                         binaries, Go and raw system calls (slower: see\n"
		     "                         the README); sets no_new_privs\n"
		     "  -h, --help             show this help and exit\n"
		     "  -V, --version          show the version and exit\n");
}

static int exists(const char *path)
{
	return access(path, R_OK) == 0;
}

/* The shim next to us in the build tree, else the installed one. */
static const char *find_shim(void)
{
	static char path[PATH_MAX + 64];
	char exe[PATH_MAX], *slash;
	const char *env = getenv("CUSESHIM_LIB");
	ssize_t n;

	if (env && *env)
		return env;
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = '\0';
		slash = strrchr(exe, '/');
		if (slash) {
			*slash = '\0';
			snprintf(path, sizeof(path), "%s/libcuseshim/.libs/libcuseshim.so", exe);
			if (exists(path))
				return path;
			snprintf(path, sizeof(path), "%s/libcuseshim.so", exe);
			if (exists(path))
				return path;
		}
	}
	snprintf(path, sizeof(path), "%s", SHIMDIR "/libcuseshim.so");
	return path;
}

static char *append(char *list, const char *sep, const char *item)
{
	size_t a = list ? strlen(list) : 0, b = strlen(item);
	char *n = malloc(a + strlen(sep) + b + 1);

	if (!n) {
		perror("cuse-run");
		exit(125);
	}
	if (list && *list)
		sprintf(n, "%s%s%s", list, sep, item);
	else
		strcpy(n, item);
	return n;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"debug", no_argument, NULL, 'd'},
		{"dir", required_argument, NULL, 'D'},
		{"map", required_argument, NULL, 'm'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{"seccomp", no_argument, NULL, 'S'},
		{NULL, 0, NULL, 0},
	};
	char *maps = getenv("CUSESHIM_MAP") ? strdup(getenv("CUSESHIM_MAP")) : NULL;
	const char *shim, *preload;
	char *ld;
	int c, seccomp = 0;

	while ((c = getopt_long(argc, argv, "+dhV", opts, NULL)) != -1) {
		switch (c) {
		case 'd': setenv("CUSESHIM_DEBUG", "1", 1); break;
		case 'D': {
			char abs[PATH_MAX];

			if (optarg[0] != '/' && getcwd(abs, sizeof(abs))) {
				char *full = append(abs, "/", optarg);

				setenv("CUSE_DIR", full, 1);
				free(full);
			} else {
				setenv("CUSE_DIR", optarg, 1);
			}
			break;
		}
		case 'm':
			if (optarg[0] != '/' || !strchr(optarg, '=')) {
				fprintf(stderr, "cuse-run: --map wants /PATH=NAME, not '%s'\n",
					optarg);
				return 125;
			}
			maps = append(maps, ":", optarg);
			break;
		case 'S': seccomp = 1; break;
		case 'h': usage(stdout); return 0;
		case 'V': printf("cuse-run (cuseshim) %s\n", PACKAGE_VERSION); return 0;
		default: usage(stderr); return 125;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "cuse-run: no program given\n");
		usage(stderr);
		return 125;
	}
	if (seccomp) {
		/* The supervisor does everything: no shim in the program. */
		if (maps)
			setenv("CUSESHIM_MAP", maps, 1);
		return supervise(argv + optind);
	}
	shim = find_shim();
	if (!exists(shim)) {
		fprintf(stderr, "cuse-run: cannot find the shim library '%s'\n", shim);
		return 125;
	}
	preload = getenv("LD_PRELOAD");
	ld = append((char *)shim, " ", preload ? preload : "");
	setenv("LD_PRELOAD", ld, 1);
	if (maps)
		setenv("CUSESHIM_MAP", maps, 1);
	execvp(argv[optind], argv + optind);
	fprintf(stderr, "cuse-run: cannot run '%s': %s\n", argv[optind], strerror(errno));
	return errno == ENOENT ? 127 : 126;
}
