/* SPDX-License-Identifier: MIT */
/*
 * fuse_opt_*: argument vectors and libfuse's option-template parser.
 *
 * fuse_opt_parse() walks a driver's argv once.  Every word is either a
 * non-option, a plain option ("-f", "--help", anything starting with '-'), or
 * a "-o" group whose comma-separated members are options too.  Each option is
 * tried against every template of the table, in order, and every matching
 * template is applied; an option no template claims goes to the processing
 * function as FUSE_OPT_KEY_OPT.  Whatever is kept is copied into a fresh
 * vector: plain words in their order, kept "-o" members gathered into one
 * "-o a,b" pair right after argv[0].  The caller's vector is replaced only
 * if the whole parse succeeds.  Drivers depend on every detail of this
 * (escapes, "--", the order of outargs), so it follows libfuse 3.14 exactly.
 */
#include <assert.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cused_i.h"

struct opt_parser {
	void *data;
	const struct fuse_opt *templates;
	fuse_opt_proc_t proc;
	int argc;
	char **argv;
	int pos; /* argv element being parsed */
	struct fuse_args out;
	char *kept_group;   /* kept "-o" members, escaped, comma-joined */
	int after_dashdash; /* out.argc once "--" was copied, else 0 */
};

static int nomem(void)
{
	cused_log(FUSE_LOG_ERR, "fuse: memory allocation failed\n");
	return -1;
}

CUSED_EXPORT void fuse_opt_free_args(struct fuse_args *args)
{
	if (!args)
		return;
	if (args->argv && args->allocated) {
		for (int i = 0; i < args->argc; i++)
			free(args->argv[i]);
		free(args->argv);
	}
	args->argc = 0;
	args->argv = NULL;
	args->allocated = 0;
}

CUSED_EXPORT int fuse_opt_add_arg(struct fuse_args *args, const char *arg)
{
	char **argv;
	char *copy;

	/* Growing a vector we do not own would realloc() the caller's memory;
	 * libfuse asserts here as well. */
	assert(!args->argv || args->allocated);

	copy = strdup(arg);
	if (!copy)
		return nomem();
	argv = realloc(args->argv, (args->argc + 2) * sizeof(*argv));
	if (!argv) {
		free(copy);
		return nomem();
	}
	argv[args->argc++] = copy;
	argv[args->argc] = NULL;
	args->argv = argv;
	args->allocated = 1;
	return 0;
}

CUSED_EXPORT int fuse_opt_insert_arg(struct fuse_args *args, int pos, const char *arg)
{
	char *added;

	assert(pos >= 0 && pos <= args->argc);
	if (fuse_opt_add_arg(args, arg) == -1)
		return -1;
	added = args->argv[args->argc - 1];
	memmove(&args->argv[pos + 1], &args->argv[pos],
		(args->argc - 1 - pos) * sizeof(*args->argv));
	args->argv[pos] = added;
	return 0;
}

/* Append @opt to a comma-separated list; with @escape, ',' and '\' in @opt
 * get a backslash so the list splits back into the same members.  An empty
 * list (NULL or "") takes @opt without a leading comma. */
static int append_opt(char **opts, const char *opt, bool escape)
{
	size_t used = *opts ? strlen(*opts) : 0;
	char *list = realloc(*opts, used + 1 + 2 * strlen(opt) + 1);
	char *d;

	if (!list)
		return nomem();
	*opts = list;
	d = list + used;
	if (used)
		*d++ = ',';
	for (; *opt; opt++) {
		if (escape && (*opt == ',' || *opt == '\\'))
			*d++ = '\\';
		*d++ = *opt;
	}
	*d = '\0';
	return 0;
}

CUSED_EXPORT int fuse_opt_add_opt(char **opts, const char *opt)
{
	return append_opt(opts, opt, false);
}

CUSED_EXPORT int fuse_opt_add_opt_escaped(char **opts, const char *opt)
{
	return append_opt(opts, opt, true);
}

/*
 * Template forms, decided by the first '=' (else the first ' ') in it:
 *   "name"        exact match only;
 *   "name="       any option starting with "name=";
 *   "name=%fmt"   the same, the text after '=' is the parameter;
 *   "name %fmt"   any option starting with "name", the rest is the
 *                 parameter; if nothing follows, the next argv word is.
 * A '=' or ' ' followed by anything but '%' or the end ("opt=value") makes
 * the template exact.  *sep is the offset of that '='/' ' in the template,
 * 0 for an exact match.
 */
static bool template_matches(const char *templ, const char *arg, size_t *sep)
{
	const char *mark = strchr(templ, '=');

	if (!mark)
		mark = strchr(templ, ' ');
	if (mark && (mark[1] == '\0' || mark[1] == '%')) {
		size_t len = mark - templ + (*mark == '=');

		if (strncmp(arg, templ, len) == 0) {
			*sep = mark - templ;
			return true;
		}
	}
	if (strcmp(templ, arg) == 0) {
		*sep = 0;
		return true;
	}
	return false;
}

static const struct fuse_opt *find_template(const struct fuse_opt *t, const char *arg, size_t *sep)
{
	for (; t && t->templ; t++)
		if (template_matches(t->templ, arg, sep))
			return t;
	return NULL;
}

CUSED_EXPORT int fuse_opt_match(const struct fuse_opt opts[], const char *opt)
{
	size_t sep;

	return find_template(opts, opt, &sep) ? 1 : 0;
}

/* Offer @arg to the processing function under @key and keep it unless that
 * returns 0 (discard) or -1 (error).  KEEP and DISCARD bypass the function. */
static int pass_on(struct opt_parser *p, const char *arg, int key, bool in_group)
{
	if (key == FUSE_OPT_KEY_DISCARD)
		return 0;
	if (key != FUSE_OPT_KEY_KEEP && p->proc) {
		int res = p->proc(p->data, arg, key, &p->out);

		if (res == -1 || res == 0)
			return res;
	}
	if (in_group)
		return append_opt(&p->kept_group, arg, true);
	return fuse_opt_add_arg(&p->out, arg);
}

/* "%s" replaces (and frees) the previous string; any other conversion is
 * handed to sscanf() with the variable the template points at. */
static int store_param(void *var, const char *format, const char *param, const char *arg)
{
	int converted;

	if (format[1] == 's') {
		char *copy = strdup(param);

		if (!copy)
			return nomem();
		free(*(char **)var);
		*(char **)var = copy;
		return 0;
	}
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
	converted = sscanf(param, format, var);
#pragma GCC diagnostic pop
	if (converted != 1) {
		cused_log(FUSE_LOG_ERR, "fuse: invalid parameter in option `%s'\n", arg);
		return -1;
	}
	return 0;
}

static int apply_template(struct opt_parser *p, const struct fuse_opt *t, size_t sep,
			  const char *arg, bool in_group)
{
	void *var;

	if (t->offset == -1U)
		return pass_on(p, arg, t->value, in_group);

	var = (char *)p->data + t->offset;
	if (sep && t->templ[sep + 1]) {
		const char *param = arg + sep + (t->templ[sep] == '=');

		return store_param(var, t->templ + sep + 1, param, arg);
	}
	*(int *)var = t->value;
	return 0;
}

static int take_next_word(struct opt_parser *p, const char *arg)
{
	if (p->pos + 1 >= p->argc) {
		cused_log(FUSE_LOG_ERR, "fuse: missing argument after `%s'\n", arg);
		return -1;
	}
	p->pos++;
	return 0;
}

/* "name %fmt" given as two words ("-p", "3"): the template sees them glued
 * together ("-p3"), as if they had been written as one. */
static int apply_with_next_word(struct opt_parser *p, const struct fuse_opt *t, size_t sep,
				const char *arg, bool in_group)
{
	const char *param;
	char *joined;
	int res;

	if (take_next_word(p, arg) == -1)
		return -1;
	param = p->argv[p->pos];
	joined = malloc(sep + strlen(param) + 1);
	if (!joined)
		return nomem();
	memcpy(joined, arg, sep);
	strcpy(joined + sep, param);
	res = apply_template(p, t, sep, joined, in_group);
	free(joined);
	return res;
}

static int parse_option(struct opt_parser *p, const char *arg, bool in_group)
{
	const struct fuse_opt *t;
	size_t sep;

	t = find_template(p->templates, arg, &sep);
	if (!t)
		return pass_on(p, arg, FUSE_OPT_KEY_OPT, in_group);

	for (; t; t = find_template(t + 1, arg, &sep)) {
		int res;

		if (sep && t->templ[sep] == ' ' && arg[sep] == '\0')
			res = apply_with_next_word(p, t, sep, arg, in_group);
		else
			res = apply_template(p, t, sep, arg, in_group);
		if (res == -1)
			return -1;
	}
	return 0;
}

static bool is_octal_escape(const char *s)
{
	return s[0] >= '0' && s[0] <= '3' && s[1] >= '0' && s[1] <= '7' && s[2] >= '0' &&
	       s[2] <= '7';
}

/*
 * Split a "-o" group on commas.  A backslash makes the next character
 * literal ("\," "\\"), or turns three octal digits, the first 0-3, into one
 * byte ("\054" is a comma that does not split); a backslash at the very end
 * stays.  Members are decoded in place, each from the start of the copy.
 */
static int parse_group(struct opt_parser *p, const char *group)
{
	char *copy = strdup(group);
	char *s, *d;
	int res = 0;

	if (!copy)
		return nomem();
	for (s = d = copy;; s++) {
		if (*s == ',' || *s == '\0') {
			bool last = *s == '\0';

			*d = '\0';
			res = parse_option(p, copy, true);
			if (res == -1 || last)
				break;
			d = copy;
		} else if (s[0] == '\\' && s[1] != '\0') {
			s++;
			if (is_octal_escape(s)) {
				*d++ = (char)((s[0] - '0') * 64 + (s[1] - '0') * 8 + (s[2] - '0'));
				s += 2;
			} else {
				*d++ = *s;
			}
		} else {
			*d++ = *s;
		}
	}
	free(copy);
	return res;
}

static int parse_word(struct opt_parser *p, const char *arg)
{
	if (p->after_dashdash || arg[0] != '-')
		return pass_on(p, arg, FUSE_OPT_KEY_NONOPT, false);

	if (arg[1] == 'o') {
		if (arg[2])
			return parse_group(p, arg + 2);
		if (take_next_word(p, arg) == -1)
			return -1;
		return parse_group(p, p->argv[p->pos]);
	}

	if (strcmp(arg, "--") == 0) {
		if (fuse_opt_add_arg(&p->out, arg) == -1)
			return -1;
		p->after_dashdash = p->out.argc;
		return 0;
	}

	return parse_option(p, arg, false);
}

static int parse_all(struct opt_parser *p)
{
	if (fuse_opt_add_arg(&p->out, p->argv[0]) == -1)
		return -1;

	for (p->pos = 1; p->pos < p->argc; p->pos++)
		if (parse_word(p, p->argv[p->pos]) == -1)
			return -1;

	if (p->kept_group && (fuse_opt_insert_arg(&p->out, 1, "-o") == -1 ||
			      fuse_opt_insert_arg(&p->out, 2, p->kept_group) == -1))
		return -1;

	/* A "--" that ended up last separates nothing: drop it.  (If "-o"
	 * members were re-inserted in front it no longer counts as last, and
	 * libfuse keeps it; so do we.) */
	if (p->after_dashdash && p->after_dashdash == p->out.argc &&
	    strcmp(p->out.argv[p->out.argc - 1], "--") == 0) {
		free(p->out.argv[--p->out.argc]);
		p->out.argv[p->out.argc] = NULL;
	}
	return 0;
}

CUSED_EXPORT int fuse_opt_parse(struct fuse_args *args, void *data, const struct fuse_opt opts[],
				fuse_opt_proc_t proc)
{
	struct opt_parser p = {
		.data = data,
		.templates = opts,
		.proc = proc,
	};
	int res;

	if (!args || !args->argv || !args->argc)
		return 0;

	p.argc = args->argc;
	p.argv = args->argv;
	res = parse_all(&p);
	if (res == 0) {
		struct fuse_args old = *args;

		*args = p.out;
		p.out = old;
	}
	free(p.kept_group);
	fuse_opt_free_args(&p.out);
	return res;
}
