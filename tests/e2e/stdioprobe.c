/* SPDX-License-Identifier: MIT */
/*
 * stdioprobe: a client the end-to-end tests run under the shim to use a
 * device through stdio and print what came back, one line per step.
 * Results go to a copy of the original stdout, so a step may freopen
 * stdout itself.
 *
 *   stdioprobe STEP...
 *     fopen:PATH:MODE      fopen       -> "fopen=FILENO" or errno
 *     fopen64:PATH:MODE    fopen64
 *     open:PATH:FLAGS      open(2), FLAGS from r w rw -> "open=FD"
 *     fd:N                 use fd N for fdopen from now on
 *     dup2:N               dup2 of that fd onto N -> "dup2=N"
 *     fdopen:MODE          fdopen of that fd -> "fdopen=FILENO"
 *     freopen:PATH:MODE    freopen onto the current stream; PATH "-" is
 *     freopen64:PATH:MODE  NULL -> "freopen=same|new|std fileno=N"
 *     std:in|out|err       the current stream is stdin/stdout/stderr
 *     fread:N              -> "fread=R data=..."
 *     fgets:N              -> "fgets=LINE" (newline as \n) or "fgets=NULL"
 *     getline              -> "getline=R data=..."
 *     fscanf               "%d %15s" -> "fscanf=R int=I str=S"
 *     fgetc                -> "fgetc=C" (a number, -1 at EOF)
 *     fprintf:TEXT         -> "fprintf=R"   (TEXT: \n for a newline)
 *     fputs:TEXT           -> "fputs=R"
 *     fwrite:N[:CH]        N bytes of CH (default 'a') -> "fwrite=R"
 *     fflush               -> "fflush=R"
 *     lines:N              fprintf and fflush of "I\n" for I in 1..N, each
 *                          its own write -> "lines=N" or the failed one
 *     setvbuf:n|l|f[:SIZE] -> "setvbuf=R"
 *     fileno               -> "fileno=N"
 *     fionread             ioctl(fileno, FIONREAD) -> "fionread=N"
 *     rawread:N            read(2) on fileno -> "rawread=R data=..."
 *     state                -> "feof=X ferror=Y"
 *     clearerr
 *     ftell                -> "ftell=R"
 *     fclose               -> "fclose=R"
 *     closefd              close(2) of fileno behind stdio's back
 *     sleep:MS
 * Errors print "STEP=-1 errno=NAME"; a stream step that succeeds but changed
 * errno says "errno-changed".
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

static FILE *fp;
static int fd = -1;
static int out = 1;

static const char *ename(int e)
{
	static char buf[16];
	static const struct {
		int e;
		const char *n;
	} names[] = {
		{EBADF, "EBADF"},   {EINVAL, "EINVAL"}, {ENOENT, "ENOENT"}, {ENXIO, "ENXIO"},
		{EACCES, "EACCES"}, {EIO, "EIO"},	{ENOTTY, "ENOTTY"}, {EEXIST, "EEXIST"},
		{ESPIPE, "ESPIPE"}, {EAGAIN, "EAGAIN"}, {EINTR, "EINTR"},   {ENOMEM, "ENOMEM"},
	};
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (names[i].e == e)
			return names[i].n;
	snprintf(buf, sizeof(buf), "%d", e);
	return buf;
}

static void result(const char *what, long r)
{
	if (r < 0)
		dprintf(out, "%s=-1 errno=%s\n", what, ename(errno));
	else
		dprintf(out, "%s=%ld\n", what, r);
}

static void print_data(const char *what, long r, const char *buf)
{
	char shown[160];
	size_t o = 0;

	if (r < 0) {
		result(what, r);
		return;
	}
	for (long i = 0; i < r && i < 64; i++) {
		if (buf[i] == '\n') {
			shown[o++] = '\\';
			shown[o++] = 'n';
		} else {
			shown[o++] = buf[i];
		}
	}
	shown[o] = '\0';
	dprintf(out, "%s=%ld data=%s\n", what, r, shown);
}

/* The errno a successful call must leave alone. */
#define CANARY 4242

static void print_stream(const char *what, FILE *f)
{
	int e = errno;

	if (!f)
		dprintf(out, "%s=-1 errno=%s\n", what, ename(e));
	else
		dprintf(out, "%s=%d%s\n", what, fileno(f), e == CANARY ? "" : " errno-changed");
}

/* "\n" in an argument stands for a newline. */
static char *unescape(const char *s)
{
	char *r = malloc(strlen(s) + 1), *o = r;

	for (; *s; s++) {
		if (s[0] == '\\' && s[1] == 'n') {
			*o++ = '\n';
			s++;
		} else {
			*o++ = *s;
		}
	}
	*o = '\0';
	return r;
}

static int parse_flags(const char *s)
{
	if (!strcmp(s, "rw"))
		return O_RDWR;
	return *s == 'w' ? O_WRONLY : O_RDONLY;
}

static void do_freopen(const char *what, const char *path, const char *mode)
{
	FILE *was = fp, *r;
	const char *how = "new";
	int e;

	errno = CANARY;
	r = what[7] == '6' ? freopen64(path, mode, fp) : freopen(path, mode, fp);
	e = errno;
	if (!r) {
		dprintf(out, "%s=-1 errno=%s\n", what, ename(e));
		return;
	}
	if (r == was)
		how = "same";
	else if (r == stdin || r == stdout || r == stderr)
		how = "std";
	dprintf(out, "%s=%s fileno=%d%s\n", what, how, fileno(r),
		e == CANARY ? "" : " errno-changed");
	fp = r;
}

static void step(char *s)
{
	char *arg = strchr(s, ':'), *arg2 = NULL;
	long a = 0;

	if (arg) {
		*arg++ = '\0';
		arg2 = strchr(arg, ':');
		if (arg2)
			*arg2++ = '\0';
		a = strtol(arg, NULL, 0);
	}
	errno = CANARY;
	if (!strcmp(s, "fopen")) {
		fp = fopen(arg, arg2 ? arg2 : "r");
		print_stream("fopen", fp);
	} else if (!strcmp(s, "fopen64")) {
		fp = fopen64(arg, arg2 ? arg2 : "r");
		print_stream("fopen64", fp);
	} else if (!strcmp(s, "open")) {
		fd = open(arg, arg2 ? parse_flags(arg2) : O_RDWR);
		result("open", fd);
	} else if (!strcmp(s, "fd")) {
		fd = (int)a;
	} else if (!strcmp(s, "dup2")) {
		result("dup2", dup2(fd, (int)a));
	} else if (!strcmp(s, "fdopen")) {
		fp = fdopen(fd, arg ? arg : "r");
		print_stream("fdopen", fp);
	} else if (!strcmp(s, "freopen") || !strcmp(s, "freopen64")) {
		do_freopen(s, !strcmp(arg, "-") ? NULL : arg, arg2 ? arg2 : "r");
	} else if (!strcmp(s, "std")) {
		fp = !strcmp(arg, "in") ? stdin : !strcmp(arg, "out") ? stdout : stderr;
	} else if (!strcmp(s, "fread")) {
		char *buf = malloc(a ? a : 1);
		size_t n = fread(buf, 1, a, fp);

		print_data("fread", (long)n, buf);
		free(buf);
	} else if (!strcmp(s, "fgets")) {
		char *buf = malloc(a ? a : 1);

		if (fgets(buf, (int)a, fp))
			print_data("fgets", (long)strlen(buf), buf);
		else
			dprintf(out, "fgets=NULL\n");
		free(buf);
	} else if (!strcmp(s, "getline")) {
		char *line = NULL;
		size_t size = 0;
		ssize_t n = getline(&line, &size, fp);

		if (n < 0 && !ferror(fp))
			dprintf(out, "getline=-1 eof\n");
		else
			print_data("getline", n, line);
		free(line);
	} else if (!strcmp(s, "fscanf")) {
		char str[16] = "";
		int i = 0, n = fscanf(fp, "%d %15s", &i, str);

		dprintf(out, "fscanf=%d int=%d str=%s\n", n, i, str);
	} else if (!strcmp(s, "fgetc")) {
		dprintf(out, "fgetc=%d\n", fgetc(fp));
	} else if (!strcmp(s, "fprintf") || !strcmp(s, "fputs")) {
		char *text = unescape(arg ? arg : "");

		result(s, s[1] == 'p' ? fprintf(fp, "%s", text) : fputs(text, fp));
		free(text);
	} else if (!strcmp(s, "fwrite")) {
		char *buf = malloc(a ? a : 1);

		memset(buf, arg2 ? arg2[0] : 'a', a);
		result("fwrite", (long)fwrite(buf, 1, a, fp));
		free(buf);
	} else if (!strcmp(s, "fflush")) {
		result("fflush", fflush(fp));
	} else if (!strcmp(s, "lines")) {
		long i;

		for (i = 1; i <= a; i++)
			if (fprintf(fp, "%ld\n", i) < 0 || fflush(fp))
				break;
		result("lines", i > a ? a : -1);
	} else if (!strcmp(s, "setvbuf")) {
		int mode = arg[0] == 'n' ? _IONBF : arg[0] == 'l' ? _IOLBF : _IOFBF;

		result("setvbuf", setvbuf(fp, NULL, mode, arg2 ? strtoul(arg2, NULL, 0) : 0));
	} else if (!strcmp(s, "fileno")) {
		result("fileno", fileno(fp));
	} else if (!strcmp(s, "fionread")) {
		int n = -1, r = ioctl(fileno(fp), FIONREAD, &n);

		if (r < 0)
			result("fionread", r);
		else
			dprintf(out, "fionread=%d\n", n);
	} else if (!strcmp(s, "rawread")) {
		char *buf = malloc(a ? a : 1);

		print_data("rawread", read(fileno(fp), buf, a), buf);
		free(buf);
	} else if (!strcmp(s, "state")) {
		dprintf(out, "feof=%d ferror=%d\n", !!feof(fp), !!ferror(fp));
	} else if (!strcmp(s, "clearerr")) {
		clearerr(fp);
	} else if (!strcmp(s, "ftell")) {
		result("ftell", ftell(fp));
	} else if (!strcmp(s, "fclose")) {
		result("fclose", fclose(fp));
		fp = NULL;
	} else if (!strcmp(s, "closefd")) {
		result("closefd", close(fileno(fp)));
	} else if (!strcmp(s, "sleep")) {
		struct timespec ts = {a / 1000, (a % 1000) * 1000000};

		nanosleep(&ts, NULL);
	} else {
		dprintf(2, "stdioprobe: unknown step '%s'\n", s);
		exit(2);
	}
}

int main(int argc, char **argv)
{
	int i;

	out = fcntl(1, F_DUPFD_CLOEXEC, 10);
	if (out < 0)
		out = 2;
	for (i = 1; i < argc; i++)
		step(argv[i]);
	return 0;
}
