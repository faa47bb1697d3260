/* SPDX-License-Identifier: MIT */
/* Unit tests of cused/opt.c: fuse_opt_* must parse exactly as libfuse 3.14. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cused_i.h"

/* The real cused_log lives in the session code; record the last message. */
static char last_log[1024];
static int log_count;

void cused_log(enum fuse_log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(last_log, sizeof(last_log), fmt, ap);
	va_end(ap);
	log_count++;
}

/* A driver's argv: borrowed, not allocated. */
#define ARGS(...) make_args((char *[]){__VA_ARGS__, NULL})

static struct fuse_args make_args(char **argv)
{
	struct fuse_args args = FUSE_ARGS_INIT(0, argv);

	while (argv[args.argc])
		args.argc++;
	return args;
}

#define EXPECT_ARGS(args, ...) expect_args(args, (const char *[]){__VA_ARGS__, NULL})

static void expect_args(const struct fuse_args *args, const char **want)
{
	int n = 0;

	while (want[n])
		n++;
	cr_assert_eq(args->argc, n, "argc is %d, expected %d", args->argc, n);
	for (int i = 0; i < n; i++)
		cr_assert_str_eq(args->argv[i], want[i], "argv[%d] is \"%s\", expected \"%s\"", i,
				 args->argv[i], want[i]);
	cr_assert_null(args->argv[n], "argv is not NULL-terminated");
	cr_assert_eq(args->allocated, 1);
}

/* Processing-function recorder: every call is logged as "key:arg". */
static char calls[16][64];
static int ncalls;
static int proc_result = 1;

static int record_proc(void *data, const char *arg, int key, struct fuse_args *outargs)
{
	if (ncalls < 16)
		snprintf(calls[ncalls++], sizeof(calls[0]), "%d:%s", key, arg);
	return proc_result;
}

struct vals {
	int flag;
	int other;
	char *str;
	unsigned int u;
	int i;
	unsigned long lu;
	unsigned int o;
	unsigned int x;
};

/* clang-format off */
#define VAL(templ, field, value) { templ, offsetof(struct vals, field), value }
/* clang-format on */

/* --- argument vectors --- */

Test(opt_args, add_arg_grows_and_terminates)
{
	struct fuse_args args = FUSE_ARGS_INIT(0, NULL);

	cr_assert_eq(fuse_opt_add_arg(&args, "a"), 0);
	cr_assert_eq(fuse_opt_add_arg(&args, "b"), 0);
	EXPECT_ARGS(&args, "a", "b");
	fuse_opt_free_args(&args);
	cr_assert_eq(args.argc, 0);
	cr_assert_null(args.argv);
	cr_assert_eq(args.allocated, 0);
}

Test(opt_args, insert_arg_at_front_middle_end)
{
	struct fuse_args args = FUSE_ARGS_INIT(0, NULL);

	fuse_opt_add_arg(&args, "b");
	cr_assert_eq(fuse_opt_insert_arg(&args, 0, "a"), 0);
	cr_assert_eq(fuse_opt_insert_arg(&args, 2, "d"), 0);
	cr_assert_eq(fuse_opt_insert_arg(&args, 2, "c"), 0);
	EXPECT_ARGS(&args, "a", "b", "c", "d");
	fuse_opt_free_args(&args);
}

Test(opt_args, free_borrowed_args_only_resets)
{
	struct fuse_args args = ARGS("prog", "x");

	fuse_opt_free_args(&args);
	cr_assert_eq(args.argc, 0);
	cr_assert_null(args.argv);
	fuse_opt_free_args(NULL);
}

Test(opt_args, add_arg_to_borrowed_argv_aborts, .signal = SIGABRT)
{
	struct fuse_args args = ARGS("prog");

	fuse_opt_add_arg(&args, "x");
}

Test(opt_args, add_opt_joins_with_commas)
{
	char *opts = NULL;

	cr_assert_eq(fuse_opt_add_opt(&opts, "a"), 0);
	cr_assert_eq(fuse_opt_add_opt(&opts, "b,c\\d"), 0);
	cr_assert_str_eq(opts, "a,b,c\\d");
	free(opts);

	opts = strdup("");
	fuse_opt_add_opt(&opts, "x");
	cr_assert_str_eq(opts, "x", "an empty list takes no leading comma");
	free(opts);
}

Test(opt_args, add_opt_escaped_escapes_comma_and_backslash)
{
	char *opts = NULL;

	cr_assert_eq(fuse_opt_add_opt_escaped(&opts, "a,b\\c"), 0);
	cr_assert_eq(fuse_opt_add_opt_escaped(&opts, "d"), 0);
	cr_assert_str_eq(opts, "a\\,b\\\\c,d");
	free(opts);
}

Test(opt_args, match)
{
	const struct fuse_opt opts[] = {
		FUSE_OPT_KEY("exact", 0),
		FUSE_OPT_KEY("pre=", 0),
		FUSE_OPT_KEY("-p %u", 0),
		FUSE_OPT_KEY("ra=no", 0),
		FUSE_OPT_END,
	};

	cr_assert_eq(fuse_opt_match(opts, "exact"), 1);
	cr_assert_eq(fuse_opt_match(opts, "exactly"), 0);
	cr_assert_eq(fuse_opt_match(opts, "pre=anything"), 1);
	cr_assert_eq(fuse_opt_match(opts, "pre"), 0);
	cr_assert_eq(fuse_opt_match(opts, "-p"), 1);
	cr_assert_eq(fuse_opt_match(opts, "-p5"), 1);
	cr_assert_eq(fuse_opt_match(opts, "ra=no"), 1);
	cr_assert_eq(fuse_opt_match(opts, "ra=nope"), 0, "'=' before a non-format is exact");
	cr_assert_eq(fuse_opt_match(NULL, "exact"), 0);
}

/* --- basic parsing --- */

Test(opt_parse, argv0_copied_everything_kept_without_opts_or_proc)
{
	struct fuse_args args = ARGS("prog", "-x", "-o", "a,b", "mnt", "-oc");

	cr_assert_eq(fuse_opt_parse(&args, NULL, NULL, NULL), 0);
	EXPECT_ARGS(&args, "prog", "-o", "a,b,c", "-x", "mnt");
	fuse_opt_free_args(&args);
}

Test(opt_parse, argv0_only)
{
	char *argv[] = {"prog", NULL};
	struct fuse_args args = make_args(argv);

	cr_assert_eq(fuse_opt_parse(&args, NULL, NULL, NULL), 0);
	EXPECT_ARGS(&args, "prog");
	cr_assert_neq(args.argv, argv, "argv must be a fresh copy");
	fuse_opt_free_args(&args);
}

Test(opt_parse, empty_args_untouched)
{
	struct fuse_args args = FUSE_ARGS_INIT(0, NULL);

	cr_assert_eq(fuse_opt_parse(&args, NULL, NULL, NULL), 0);
	cr_assert_eq(args.argc, 0);
	cr_assert_null(args.argv);
	cr_assert_eq(fuse_opt_parse(NULL, NULL, NULL, NULL), 0);
}

Test(opt_parse, o_joined_and_separate_are_equivalent)
{
	struct vals v = {0};
	const struct fuse_opt opts[] = {VAL("a", flag, 1), VAL("b", other, 2), FUSE_OPT_END};
	struct fuse_args one = ARGS("p", "-oa,b");
	struct fuse_args two = ARGS("p", "-o", "a,b");

	cr_assert_eq(fuse_opt_parse(&one, &v, opts, NULL), 0);
	cr_assert_eq(v.flag, 1);
	cr_assert_eq(v.other, 2);
	EXPECT_ARGS(&one, "p");
	v = (struct vals){0};
	cr_assert_eq(fuse_opt_parse(&two, &v, opts, NULL), 0);
	cr_assert_eq(v.flag, 1);
	cr_assert_eq(v.other, 2);
	EXPECT_ARGS(&two, "p");
	fuse_opt_free_args(&one);
	fuse_opt_free_args(&two);
}

Test(opt_parse, kept_o_options_reemitted_at_position_1)
{
	struct fuse_args args = ARGS("p", "mnt", "-oa", "-x", "-o", "b,c", "y");

	cr_assert_eq(fuse_opt_parse(&args, NULL, NULL, NULL), 0);
	EXPECT_ARGS(&args, "p", "-o", "a,b,c", "mnt", "-x", "y");
	fuse_opt_free_args(&args);
}

Test(opt_parse, empty_group_members)
{
	struct fuse_args args = ARGS("p", "-o", ",,");

	cr_assert_eq(fuse_opt_parse(&args, NULL, NULL, record_proc), 0);
	cr_assert_eq(ncalls, 3);
	cr_assert_str_eq(calls[0], "-1:");
	cr_assert_str_eq(calls[2], "-1:");
	EXPECT_ARGS(&args, "p", "-o", "");
	fuse_opt_free_args(&args);
}

Test(opt_parse, dash_and_empty_words)
{
	struct fuse_args args = ARGS("p", "-", "");

	cr_assert_eq(fuse_opt_parse(&args, NULL, NULL, record_proc), 0);
	cr_assert_eq(ncalls, 2);
	cr_assert_str_eq(calls[0], "-1:-", "a lone '-' is an option");
	cr_assert_str_eq(calls[1], "-2:", "an empty word is a non-option");
	EXPECT_ARGS(&args, "p", "-", "");
	fuse_opt_free_args(&args);
}

Test(opt_parse, missing_o_argument)
{
	char *argv[] = {"p", "-o", NULL};
	struct fuse_args args = make_args(argv);

	cr_assert_eq(fuse_opt_parse(&args, NULL, NULL, NULL), -1);
	cr_assert_str_eq(last_log, "fuse: missing argument after `-o'\n");
	cr_assert_eq(args.argv, argv, "args must be untouched on failure");
	cr_assert_eq(args.argc, 2);
	cr_assert_eq(args.allocated, 0);
}

/* --- escapes inside -o groups --- */

static void expect_member(const char *group, const char *member, const char *reemitted)
{
	struct fuse_args args = ARGS("p", "-o", (char *)group);

	ncalls = 0;
	cr_assert_eq(fuse_opt_parse(&args, NULL, NULL, record_proc), 0);
	cr_assert_eq(ncalls, 1, "%s: %d members", group, ncalls);
	cr_assert_str_eq(calls[0] + 3, member, "%s", group);
	EXPECT_ARGS(&args, "p", "-o", reemitted);
	fuse_opt_free_args(&args);
}

Test(opt_escape, backslash_comma)
{
	expect_member("a\\,b", "a,b", "a\\,b");
}

Test(opt_escape, backslash_backslash)
{
	expect_member("c\\\\d", "c\\d", "c\\\\d");
}

Test(opt_escape, octal)
{
	expect_member("e\\101f", "eAf", "eAf");
	expect_member("x\\054y", "x,y", "x\\,y");
}

Test(opt_escape, not_octal_is_literal)
{
	expect_member("g\\401h", "g401h", "g401h");
	expect_member("i\\8j", "i8j", "i8j");
	expect_member("k\\12x", "k12x", "k12x");
	expect_member("\\q", "q", "q");
}

Test(opt_escape, trailing_backslash_kept)
{
	expect_member("k\\", "k\\", "k\\\\");
}

Test(opt_escape, octal_nul_truncates_member)
{
	expect_member("a\\000b", "a", "a");
}

Test(opt_escape, split_and_escape_mixed)
{
	struct fuse_args args = ARGS("p", "-oa\\,b,c\\\\d,e");

	cr_assert_eq(fuse_opt_parse(&args, NULL, NULL, record_proc), 0);
	cr_assert_eq(ncalls, 3);
	cr_assert_str_eq(calls[0], "-1:a,b");
	cr_assert_str_eq(calls[1], "-1:c\\d");
	cr_assert_str_eq(calls[2], "-1:e");
	EXPECT_ARGS(&args, "p", "-o", "a\\,b,c\\\\d,e");
	fuse_opt_free_args(&args);
}

/* --- "--" --- */

Test(opt_dashdash, stops_option_processing)
{
	struct vals v = {0};
	const struct fuse_opt opts[] = {VAL("-f", flag, 1), FUSE_OPT_END};
	struct fuse_args args = ARGS("p", "--", "-f", "-ox");

	cr_assert_eq(fuse_opt_parse(&args, &v, opts, record_proc), 0);
	cr_assert_eq(v.flag, 0);
	cr_assert_eq(ncalls, 2);
	cr_assert_str_eq(calls[0], "-2:-f");
	cr_assert_str_eq(calls[1], "-2:-ox");
	EXPECT_ARGS(&args, "p", "--", "-f", "-ox");
	fuse_opt_free_args(&args);
}

Test(opt_dashdash, dropped_when_last)
{
	struct fuse_args a = ARGS("p", "x", "--");
	struct fuse_args b = ARGS("p", "--");

	cr_assert_eq(fuse_opt_parse(&a, NULL, NULL, NULL), 0);
	EXPECT_ARGS(&a, "p", "x");
	cr_assert_eq(fuse_opt_parse(&b, NULL, NULL, NULL), 0);
	EXPECT_ARGS(&b, "p");
	fuse_opt_free_args(&a);
	fuse_opt_free_args(&b);
}

Test(opt_dashdash, dropped_when_everything_after_is_discarded)
{
	struct fuse_args args = ARGS("p", "--", "x");

	proc_result = 0;
	cr_assert_eq(fuse_opt_parse(&args, NULL, NULL, record_proc), 0);
	EXPECT_ARGS(&args, "p");
	fuse_opt_free_args(&args);
}

Test(opt_dashdash, kept_when_o_options_were_reinserted)
{
	struct fuse_args args = ARGS("p", "-ofoo", "--");

	cr_assert_eq(fuse_opt_parse(&args, NULL, NULL, NULL), 0);
	EXPECT_ARGS(&args, "p", "-o", "foo", "--");
	fuse_opt_free_args(&args);
}

/* --- templates --- */

Test(opt_template, value_template_sets_int)
{
	struct vals v = {0};
	const struct fuse_opt opts[] = {VAL("big", flag, 42), VAL("-b", other, -7), FUSE_OPT_END};
	struct fuse_args args = ARGS("p", "-obig", "-b");

	cr_assert_eq(fuse_opt_parse(&args, &v, opts, NULL), 0);
	cr_assert_eq(v.flag, 42);
	cr_assert_eq(v.other, -7);
	EXPECT_ARGS(&args, "p");
	fuse_opt_free_args(&args);
}

Test(opt_template, prefix_match)
{
	struct vals v = {0};
	const struct fuse_opt opts[] = {VAL("x=", flag, 1), FUSE_OPT_END};
	struct fuse_args args = ARGS("p", "-ox=1,x,xy=2,x=");

	cr_assert_eq(fuse_opt_parse(&args, &v, opts, NULL), 0);
	cr_assert_eq(v.flag, 1);
	EXPECT_ARGS(&args, "p", "-o", "x,xy=2");
	fuse_opt_free_args(&args);
}

Test(opt_template, exact_match_only)
{
	struct vals v = {0};
	const struct fuse_opt opts[] = {VAL("ra=no", flag, 1), FUSE_OPT_END};
	struct fuse_args args = ARGS("p", "-ora=nope,ra=n");

	cr_assert_eq(fuse_opt_parse(&args, &v, opts, NULL), 0);
	cr_assert_eq(v.flag, 0);
	EXPECT_ARGS(&args, "p", "-o", "ra=nope,ra=n");
	fuse_opt_free_args(&args);
}

Test(opt_template, all_matching_templates_applied_in_order)
{
	struct vals v = {0};
	const struct fuse_opt opts[] = {
		VAL("-d", flag, 1),  FUSE_OPT_KEY("-d", 5),
		VAL("-d", other, 1), FUSE_OPT_KEY("-d", FUSE_OPT_KEY_KEEP),
		FUSE_OPT_END,
	};
	struct fuse_args args = ARGS("p", "-d");

	proc_result = 0;
	cr_assert_eq(fuse_opt_parse(&args, &v, opts, record_proc), 0);
	cr_assert_eq(v.flag, 1);
	cr_assert_eq(v.other, 1);
	cr_assert_eq(ncalls, 1);
	cr_assert_str_eq(calls[0], "5:-d");
	EXPECT_ARGS(&args, "p", "-d");
	fuse_opt_free_args(&args);
}

Test(opt_template, string_param_replaces_and_frees)
{
	struct vals v = {.str = strdup("initial")};
	const struct fuse_opt opts[] = {VAL("name=%s", str, 0), FUSE_OPT_END};
	struct fuse_args args = ARGS("p", "-oname=a,name=b\\,c", "-oname=");

	cr_assert_eq(fuse_opt_parse(&args, &v, opts, NULL), 0);
	cr_assert_str_eq(v.str, "");
	free(v.str);
	fuse_opt_free_args(&args);

	v.str = NULL;
	args = ARGS("p", "-oname=a,name=b\\,c");
	cr_assert_eq(fuse_opt_parse(&args, &v, opts, NULL), 0);
	cr_assert_str_eq(v.str, "b,c");
	EXPECT_ARGS(&args, "p");
	free(v.str);
	fuse_opt_free_args(&args);
}

Test(opt_template, scanf_formats)
{
	struct vals v = {0};
	const struct fuse_opt opts[] = {
		VAL("u=%u", u, 0), VAL("i=%i", i, 0), VAL("lu=%lu", lu, 0),
		VAL("o=%o", o, 0), VAL("x=%x", x, 0), FUSE_OPT_END,
	};
	struct fuse_args args =
		ARGS("p", "-ou=4294967295,i=0x10,lu=18446744073709551615,o=17,x=ff");

	cr_assert_eq(fuse_opt_parse(&args, &v, opts, NULL), 0);
	cr_assert_eq(v.u, 4294967295u);
	cr_assert_eq(v.i, 16);
	cr_assert_eq(v.lu, 18446744073709551615ul);
	cr_assert_eq(v.o, 017);
	cr_assert_eq(v.x, 0xff);
	EXPECT_ARGS(&args, "p");
	fuse_opt_free_args(&args);

	args = ARGS("p", "-oi=-5,u=7junk");
	cr_assert_eq(fuse_opt_parse(&args, &v, opts, NULL), 0);
	cr_assert_eq(v.i, -5);
	cr_assert_eq(v.u, 7, "sscanf stops at trailing junk, as in libfuse");
	fuse_opt_free_args(&args);
}

Test(opt_template, invalid_param)
{
	struct vals v = {0};
	const struct fuse_opt opts[] = {VAL("n=%u", u, 0), FUSE_OPT_END};
	char *argv[] = {"p", "-on=abc", NULL};
	struct fuse_args args = make_args(argv);

	cr_assert_eq(fuse_opt_parse(&args, &v, opts, NULL), -1);
	cr_assert_str_eq(last_log, "fuse: invalid parameter in option `n=abc'\n");
	cr_assert_eq(args.argv, argv);

	args = ARGS("p", "-on=");
	cr_assert_eq(fuse_opt_parse(&args, &v, opts, NULL), -1);
	cr_assert_str_eq(last_log, "fuse: invalid parameter in option `n='\n");
}

Test(opt_template, space_form_one_or_two_words)
{
	struct vals v = {0};
	const struct fuse_opt opts[] = {VAL("-p %u", u, 0), FUSE_OPT_END};
	struct fuse_args one = ARGS("p", "-p3", "m");
	struct fuse_args two = ARGS("p", "-p", "4", "m");

	cr_assert_eq(fuse_opt_parse(&one, &v, opts, NULL), 0);
	cr_assert_eq(v.u, 3);
	EXPECT_ARGS(&one, "p", "m");
	cr_assert_eq(fuse_opt_parse(&two, &v, opts, NULL), 0);
	cr_assert_eq(v.u, 4);
	EXPECT_ARGS(&two, "p", "m");
	fuse_opt_free_args(&one);
	fuse_opt_free_args(&two);
}

Test(opt_template, space_form_key_sees_joined_word)
{
	const struct fuse_opt opts[] = {FUSE_OPT_KEY("-p ", 9), FUSE_OPT_END};
	struct fuse_args args = ARGS("p", "-p", "3", "-p7");

	cr_assert_eq(fuse_opt_parse(&args, NULL, opts, record_proc), 0);
	cr_assert_eq(ncalls, 2);
	cr_assert_str_eq(calls[0], "9:-p3");
	cr_assert_str_eq(calls[1], "9:-p7");
	EXPECT_ARGS(&args, "p", "-p3", "-p7");
	fuse_opt_free_args(&args);
}

Test(opt_template, space_form_missing_argument)
{
	struct vals v = {0};
	const struct fuse_opt opts[] = {VAL("-p %u", u, 0), FUSE_OPT_END};
	struct fuse_args args = ARGS("p", "-p");

	cr_assert_eq(fuse_opt_parse(&args, &v, opts, NULL), -1);
	cr_assert_str_eq(last_log, "fuse: missing argument after `-p'\n");
	cr_assert_eq(args.allocated, 0);
}

Test(opt_template, space_form_invalid_reports_joined_word)
{
	struct vals v = {0};
	const struct fuse_opt opts[] = {VAL("-p %u", u, 0), FUSE_OPT_END};
	struct fuse_args args = ARGS("p", "-p", "zz");

	cr_assert_eq(fuse_opt_parse(&args, &v, opts, NULL), -1);
	cr_assert_str_eq(last_log, "fuse: invalid parameter in option `-pzz'\n");
}

/* --- keys and the processing function --- */

Test(opt_key, opt_and_nonopt_keys)
{
	struct fuse_args args = ARGS("p", "-x", "-oy", "mnt");

	cr_assert_eq(fuse_opt_parse(&args, NULL, NULL, record_proc), 0);
	cr_assert_eq(ncalls, 3);
	cr_assert_str_eq(calls[0], "-1:-x");
	cr_assert_str_eq(calls[1], "-1:y");
	cr_assert_str_eq(calls[2], "-2:mnt");
	EXPECT_ARGS(&args, "p", "-o", "y", "-x", "mnt");
	fuse_opt_free_args(&args);
}

Test(opt_key, template_key_passed_to_proc)
{
	const struct fuse_opt opts[] = {FUSE_OPT_KEY("-k", 3), FUSE_OPT_KEY("k=", 4), FUSE_OPT_END};
	struct fuse_args args = ARGS("p", "-k", "-ok=v");

	cr_assert_eq(fuse_opt_parse(&args, NULL, opts, record_proc), 0);
	cr_assert_eq(ncalls, 2);
	cr_assert_str_eq(calls[0], "3:-k");
	cr_assert_str_eq(calls[1], "4:k=v");
	EXPECT_ARGS(&args, "p", "-o", "k=v", "-k");
	fuse_opt_free_args(&args);
}

Test(opt_key, proc_zero_discards)
{
	struct fuse_args args = ARGS("p", "-x", "-oy", "mnt");

	proc_result = 0;
	cr_assert_eq(fuse_opt_parse(&args, NULL, NULL, record_proc), 0);
	cr_assert_eq(ncalls, 3);
	EXPECT_ARGS(&args, "p");
	fuse_opt_free_args(&args);
}

Test(opt_key, proc_minus_one_fails_and_stops)
{
	char *argv[] = {"p", "-x", "-y", NULL};
	struct fuse_args args = make_args(argv);

	proc_result = -1;
	cr_assert_eq(fuse_opt_parse(&args, NULL, NULL, record_proc), -1);
	cr_assert_eq(ncalls, 1);
	cr_assert_eq(args.argv, argv);
	cr_assert_eq(args.argc, 3);
}

Test(opt_key, proc_other_positive_keeps)
{
	struct fuse_args args = ARGS("p", "-x");

	proc_result = 2;
	cr_assert_eq(fuse_opt_parse(&args, NULL, NULL, record_proc), 0);
	EXPECT_ARGS(&args, "p", "-x");
	fuse_opt_free_args(&args);
}

Test(opt_key, keep_and_discard_bypass_proc)
{
	const struct fuse_opt opts[] = {
		FUSE_OPT_KEY("keep", FUSE_OPT_KEY_KEEP),
		FUSE_OPT_KEY("-drop", FUSE_OPT_KEY_DISCARD),
		FUSE_OPT_END,
	};
	struct fuse_args args = ARGS("p", "-okeep,drop", "-drop", "-keep");

	proc_result = 0;
	cr_assert_eq(fuse_opt_parse(&args, NULL, opts, record_proc), 0);
	cr_assert_eq(ncalls, 2, "only the unmatched 'drop' and '-keep' reach proc");
	cr_assert_str_eq(calls[0], "-1:drop");
	cr_assert_str_eq(calls[1], "-1:-keep");
	EXPECT_ARGS(&args, "p", "-o", "keep");
	fuse_opt_free_args(&args);
}

static int adding_proc(void *data, const char *arg, int key, struct fuse_args *outargs)
{
	if (key == FUSE_OPT_KEY_NONOPT)
		fuse_opt_add_arg(outargs, "added");
	return 0;
}

Test(opt_key, proc_may_extend_outargs)
{
	struct fuse_args args = ARGS("p", "mnt", "-ox");

	cr_assert_eq(fuse_opt_parse(&args, NULL, NULL, adding_proc), 0);
	EXPECT_ARGS(&args, "p", "added");
	fuse_opt_free_args(&args);
}

Test(opt_key, null_proc_keeps_unmatched_and_keys)
{
	const struct fuse_opt opts[] = {FUSE_OPT_KEY("k", 1), FUSE_OPT_END};
	struct fuse_args args = ARGS("p", "-ok,z", "m");

	cr_assert_eq(fuse_opt_parse(&args, NULL, opts, NULL), 0);
	EXPECT_ARGS(&args, "p", "-o", "k,z", "m");
	fuse_opt_free_args(&args);
}

Test(opt_key, reparse_of_own_output_is_stable)
{
	struct fuse_args args = ARGS("p", "-oa\\,b,c", "m", "-x");

	cr_assert_eq(fuse_opt_parse(&args, NULL, NULL, NULL), 0);
	EXPECT_ARGS(&args, "p", "-o", "a\\,b,c", "m", "-x");
	cr_assert_eq(fuse_opt_parse(&args, NULL, NULL, NULL), 0);
	EXPECT_ARGS(&args, "p", "-o", "a\\,b,c", "m", "-x");
	fuse_opt_free_args(&args);
}
