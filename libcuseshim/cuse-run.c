/* SPDX-License-Identifier: MIT */
/* cuse-run: run a program with the cuseshim interposer, the way padsp and
 * umockdev-run do. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "elfkind.h"
#include "supervisor.h"

static void usage(FILE *out)
{
	fprintf(out, "Usage: cuse-run [OPTION]... [--] PROGRAM [ARG]...\n"
		     "Run PROGRAM so that it sees the character devices served by cuseshim\n"
		     "drivers as /dev/NAME.\n"
		     "\n"
		     "  -d, --debug            log every emulated call to stderr: one line per\n"
		     "                         request (opcode, fh, sizes, flags, result,\n"
		     "                         latency)\n"
		     "      --debug-file=FILE  the same, appended to FILE\n"
		     "      --dir=DIR          registry directory (default: $CUSE_DIR,\n"
		     "                         $XDG_RUNTIME_DIR/cuse, /run/cuse for root,\n"
		     "                         /tmp/cuse-UID otherwise)\n"
		     "      --map=PATH=NAME    make PATH (e.g. /dev/ttyUSB0) open device NAME;\n"
		     "                         may be repeated\n"
		     "      --seccomp          supervise PROGRAM with seccomp user notification\n"
		     "                         instead of preloading the shim: reaches static\n"
		     "                         binaries, Go and raw system calls (slower: see\n"
		     "                         the README); sets no_new_privs.  Chosen by\n"
		     "                         itself for static and Go programs\n"
		     "                         (CUSESHIM_NO_AUTO_SECCOMP=1 turns that off)\n"
		     "      --in-place         with --seccomp: keep our pid; PROGRAM replaces\n"
		     "                         cuse-run and a detached supervisor serves it\n"
		     "                         (how the shim execs a static or Go program)\n"
		     "      --as=ARGV0         with --in-place: PROGRAM's argv[0]\n"
		     "  -h, --help             show this help and exit\n"
		     "  -V, --version          show the version and exit\n");
}

/* LD_PRELOAD cannot reach static and Go programs (elfkind.h): those run
 * under the supervisor. */
static bool needs_seccomp(const char *prog, const char **why)
{
	char path[PATH_MAX];
	int fd;

	if (!find_program(prog, path, sizeof(path)))
		return false;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	*why = elf_unreachable(fd, pread);
	close(fd);
	return *why != NULL;
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
		{"debug", no_argument, NULL, 'd'},     {"debug-file", required_argument, NULL, 'L'},
		{"dir", required_argument, NULL, 'D'}, {"map", required_argument, NULL, 'm'},
		{"help", no_argument, NULL, 'h'},      {"version", no_argument, NULL, 'V'},
		{"seccomp", no_argument, NULL, 'S'},   {"in-place", no_argument, NULL, 'I'},
		{"as", required_argument, NULL, 'A'},  {NULL, 0, NULL, 0},
	};
	const char *argv0 = NULL;
	bool in_place = false;
	char *maps = getenv("CUSESHIM_MAP") ? strdup(getenv("CUSESHIM_MAP")) : NULL;
	const char *shim, *preload;
	char *ld;
	int c, seccomp = 0;
	const char *why = NULL;

	argv[0] = "cuse-run"; /* getopt's messages name it */
	while ((c = getopt_long(argc, argv, "+dhV", opts, NULL)) != -1) {
		switch (c) {
		case 'd': setenv("CUSESHIM_DEBUG", "1", 1); break;
		case 'L': {
			char cwd[PATH_MAX];
			char *full = optarg[0] == '/' || !getcwd(cwd, sizeof(cwd))
					     ? append(NULL, "", optarg)
					     : append(cwd, "/", optarg);

			if (!strchr(full, '/')) {
				/* "./" keeps a bare name from meaning stderr */
				char *dot = append("./", "", full);

				free(full);
				full = dot;
			}
			setenv("CUSESHIM_DEBUG", full, 1);
			free(full);
			break;
		}
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
			{
				char *more = append(maps, ":", optarg);

				free(maps);
				maps = more;
			}
			break;
		case 'S': seccomp = 1; break;
		case 'I': in_place = true; break;
		case 'A': argv0 = optarg; break;
		case 'h': usage(stdout); return 0;
		case 'V': printf("cuse-run (cuseshim) %s\n", PACKAGE_VERSION); return 0;
		default:
			fprintf(stderr, "Try 'cuse-run --help' for more information.\n");
			return 125;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "cuse-run: no program given\n");
		usage(stderr);
		return 125;
	}
	if (!seccomp && getenv("CUSESHIM_NO_AUTO_SECCOMP") == NULL &&
	    needs_seccomp(argv[optind], &why)) {
		if (getenv("CUSESHIM_DEBUG"))
			fprintf(stderr, "cuse-run: %s is %s: using --seccomp\n", argv[optind], why);
		seccomp = 1;
	}
	if (in_place && !seccomp) {
		fprintf(stderr, "cuse-run: --in-place needs --seccomp\n");
		return 125;
	}
	if (seccomp) {
		/* The supervisor does everything: no shim in the program. */
		if (maps)
			setenv("CUSESHIM_MAP", maps, 1);
		free(maps);
		if (in_place) {
			const char *path = argv[optind];

			if (argv0)
				argv[optind] = (char *)argv0;
			return supervise_in_place(path, argv + optind);
		}
		return supervise(argv + optind);
	}
	shim = find_shim();
	if (!exists(shim)) {
		fprintf(stderr, "cuse-run: cannot find the shim library '%s'\n", shim);
		return 125;
	}
	preload = getenv("LD_PRELOAD");
	ld = append((char *)shim, " ", preload ? preload : "");
#ifdef CUSESHIM_SAN_RUNTIME
	/* A sanitizer build's shim: ASan's runtime must be the first library
	 * of the program, and the program's own leaks are not ours. */
	ld = append(CUSESHIM_SAN_RUNTIME, " ", ld);
	setenv("ASAN_OPTIONS",
	       append(getenv("ASAN_OPTIONS"), ":", "detect_leaks=0:verify_asan_link_order=0"), 1);
#endif
	setenv("LD_PRELOAD", ld, 1);
	{
		/* for the shim, when the program execs a static one */
		char self[PATH_MAX];
		ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

		if (n > 0) {
			self[n] = '\0';
			setenv("CUSESHIM_RUN", self, 1);
		}
	}
	if (maps)
		setenv("CUSESHIM_MAP", maps, 1);
	execvp(argv[optind], argv + optind);
	fprintf(stderr, "cuse-run: cannot run '%s': %s\n", argv[optind], strerror(errno));
	return errno == ENOENT ? 127 : 126;
}
