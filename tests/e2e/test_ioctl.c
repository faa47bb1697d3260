/* SPDX-License-Identifier: MIT */
/*
 * End-to-end: ioctl as kernel CUSE does it (cuse-semantics.md B4 and (g)),
 * with the ptrdev example driver and our ioctlprobe under the shim.  The
 * probe prints each call's result, errno and the caller's buffer; ptrdev's
 * log has one line per callback (so per round), naming what the reply
 * function returned to the driver.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "examples/ptrdev.h"
#include "harness.h"

TestSuite(ioctl, .init = h_setup, .fini = h_teardown, .timeout = 120);

static struct h_driver drv;

static void start_mode(bool restricted)
{
	char namearg[64], logarg[600];

	snprintf(namearg, sizeof(namearg), "--name=ptr0");
	snprintf(logarg, sizeof(logarg), "--log=%s/ptr0.log", h_dir());
	cr_assert_eq(
		h_driver_start_argv(&drv, "ptr0",
				    (const char *const[]){"ptrdev", "-f", namearg, logarg,
							  restricted ? "--restricted" : NULL, NULL},
				    0),
		0, "ptrdev did not start");
}

static void start(void)
{
	start_mode(false);
}

/* Run ioctlprobe STEPS... on /dev/ptr0 under the shim; expect @expect
 * after the "open" line. */
static void probe(const char *expect, const char *const steps[])
{
	const char *argv[64];
	char *out = NULL, *want = malloc(strlen(expect) + 32);
	size_t n = 0;
	int rc;

	argv[n++] = h_stage("ioctlprobe");
	argv[n++] = "open:/dev/ptr0";
	for (; *steps && n < 63; steps++)
		argv[n++] = *steps;
	argv[n] = NULL;
	cr_assert(want);
	sprintf(want, "open=3 errno=0\n%s", expect);
	rc = h_run(H_SHIM, NULL, &out, NULL, argv);
	cr_expect_eq(rc, 0, "ioctlprobe exited %d", rc);
	cr_expect_str_eq(out, want, "ioctlprobe printed\n%s", out);
	free(out);
	free(want);
}
#define PROBE(expect, ...) probe((expect), (const char *const[]){__VA_ARGS__, NULL})

/* The driver logged exactly @n lines starting with @prefix (its lines are
 * written just after each reply, so wait for them). */
static void expect_calls(const char *prefix, int n)
{
	h_log_wait(&drv, prefix, n, 5000);
	h_msleep(50);
	cr_expect_eq(h_log_count(&drv, prefix), n, "%d lines '%s' expected in\n%s", n, prefix,
		     h_log(&drv));
}

/* The log holds a line containing @text. */
static void expect_logged(const char *text)
{
	char *log = NULL;
	int i;

	for (i = 0; i < 500; i++) {
		free(log);
		log = h_log(&drv);
		if (strstr(log, text))
			break;
		h_msleep(10);
	}
	cr_expect(strstr(log, text), "'%s' not in the log:\n%s", text, log);
	free(log);
}

/* ------------------------------------------------------ pointer chasing */

Test(ioctl, struct_then_buffer_in_three_rounds)
{
	start();
	PROBE("reverse=5 errno=0 data=olleh\n", "reverse:hello");
	expect_calls("ioctl REVERSE ", 3);
	expect_logged("ioctl REVERSE cmd=0xc0105001 flags=0x2 ");
	expect_logged(" in=0 out=0 -> retry in=1 out=0 = 0\n");
	expect_logged(" in=16 out=0 -> retry in=2 out=1 = 0\n");
	expect_logged(" in=21 out=5 -> reply result=5 size=5 = 0\n");
}

Test(ioctl, output_size_known_after_round_one)
{
	start();
	PROBE("get=10 errno=0 len=10 data=the quick \n"
	      "get=43 errno=0 len=43 data=the quick brown fox jumps over the lazy dog{.*57}\n",
	      "get:10", "get:100");
	expect_calls("ioctl GET ", 6);
	expect_logged("ioctl GET cmd=0xc0105002 flags=0x2 ");
	expect_logged(" in=16 out=0 -> retry in=1 out=2 = 0\n");
	expect_logged(" in=16 out=26 -> reply result=10 size=26 = 0\n");
	expect_logged(" in=16 out=59 -> reply result=43 size=59 = 0\n");
}

Test(ioctl, zero_length_iovecs_are_legal)
{
	start();
	PROBE("reverse=5 errno=0 data=olleh\n", "reverse:hello:z");
	expect_calls("ioctl REVERSE ", 3);
	expect_logged(" in=16 out=0 -> retry in=5 out=3 = 0\n");
	expect_logged(" in=21 out=5 -> reply result=5 size=5 = 0\n");
}

/* ---------------------------------------------------------------- limits */

Test(ioctl, retry_with_256_iovecs)
{
	char expect[256], in[128];
	int i;

	start();
	for (i = 0; i < 128; i++)
		in[i] = (char)('A' + i % 26);
	i = snprintf(expect, sizeof(expect), "iov256=128 errno=0 data=");
	for (int k = 0; k < 128; k++)
		expect[i++] = in[127 - k];
	expect[i++] = '\n';
	expect[i] = '\0';
	PROBE(expect, "iov256");
	expect_calls("ioctl IOV256 ", 2);
	expect_logged(" in=0 out=0 -> retry in=128 out=128 = 0\n");
	expect_logged(" in=128 out=128 -> reply result=128 size=128 = 0\n");
}

Test(ioctl, too_many_iovecs_that_fit_are_enomem)
{
	start();
	PROBE("iov257fit=-1 errno=ENOMEM data={.*8192}\n", "iov257fit");
	expect_calls("ioctl IOV257_FIT ", 2);
	expect_logged(" in=0 out=0 -> retry in=0 out=1 = 0\n");
	/* the array fits the 8192-byte reply buffer: only the count is wrong */
	expect_logged(" in=0 out=8192 -> retry in=0 out=257 = 0\n");
}

Test(ioctl, too_many_iovecs_that_do_not_fit_are_eio)
{
	start();
	PROBE("iov257nofit=-1 errno=EIO data={.*512}\n", "iov257nofit");
	expect_calls("ioctl IOV257_NOFIT ", 1);
	/* 4112 bytes of array in a 4096-byte buffer: the driver's write fails */
	expect_logged(" in=0 out=0 -> retry in=0 out=257 = -22\n");
}

Test(ioctl, at_most_128k_each_way)
{
	start();
	PROBE("fill=131072 errno=0 data={a*131072}\n"
	      "fill=-1 errno=ENOMEM data={.*131073}\n"
	      "reversen=131056 errno=0 data={b*65528}{a*65528}\n"
	      "reversen=-1 errno=ENOMEM data={a*65528}{b*65529}\n",
	      "fill:131072:a", "fill:131073:a", "reversen:131056", "reversen:131057");
	/* 3 rounds for each good one, 2 for each refused */
	expect_calls("ioctl FILL ", 5);
	expect_calls("ioctl REVERSE ", 5);
	expect_logged(" in=16 out=131072 -> reply result=131072 size=131072 = 0\n");
	expect_logged(" in=131072 out=131056 -> reply result=131056 size=131056 = 0\n");
}

Test(ioctl, efault_reading_the_struct)
{
	start();
	PROBE("reversebadarg=-1 errno=EFAULT\nfill=3 errno=0 data=xxx\n", "reversebadarg",
	      "fill:3:x");
	expect_calls("ioctl FILL ", 3);
	expect_calls("ioctl REVERSE ", 1);
}

Test(ioctl, efault_copying_in_comes_before_the_driver)
{
	start();
	PROBE("reversebad=-1 errno=EFAULT\nfill=3 errno=0 data=xxx\n", "reversebad", "fill:3:x");
	expect_calls("ioctl FILL ", 3);
	/* the round that would have carried buf never reached the driver */
	expect_calls("ioctl REVERSE ", 2);
	expect_logged(" in=16 out=0 -> retry in=2 out=1 = 0\n");
}

Test(ioctl, efault_copying_out_comes_after_the_driver)
{
	start();
	PROBE("fillbad=-1 errno=EFAULT\nreverse=2 errno=0 data=ba\n", "fillbad", "reverse:ab");
	expect_calls("ioctl REVERSE ", 3);
	expect_calls("ioctl FILL ", 3);
	expect_logged(" in=16 out=16 -> reply result=16 size=16 = 0\n");
}

Test(ioctl, the_channel_survives_efault)
{
	start();
	PROBE("reversebadarg=-1 errno=EFAULT\nreversebad=-1 errno=EFAULT\n"
	      "fillbad=-1 errno=EFAULT\nreverse=5 errno=0 data=olleh\n"
	      "get=3 errno=0 len=3 data=the\n",
	      "reversebadarg", "reversebad", "fillbad", "reverse:hello", "get:3");
}

Test(ioctl, reply_longer_than_out_size_is_eio)
{
	start();
	PROBE("overlong=16 errno=0 data={#*16}\n"
	      "overlong=-1 errno=EIO data={.*16}\n"
	      "overlong=-1 errno=EIO data={.*16}\n",
	      "overlong:16:16", "overlong:16:32", "overlong:16:5000");
	expect_calls("ioctl OVERLONG ", 9);
	/* up to max(out_size, 4096) the driver's write succeeds, beyond fails */
	expect_logged(" in=16 out=16 -> reply result=32 size=32 = 0\n");
	expect_logged(" in=16 out=16 -> reply result=5000 size=5000 = -22\n");
}

Test(ioctl, negative_result_still_copies_data)
{
	start();
	PROBE("negdata=-1 errno=EBUSY data=partial...\n", "negdata:10");
	expect_calls("ioctl NEGDATA ", 3);
	expect_logged(" in=16 out=10 -> reply result=-16 size=7 = 0\n");
}

/* -------------------------------------------------------- plain results */

Test(ioctl, enosys_becomes_enotty)
{
	start();
	PROBE("result=-1 errno=ENOTTY\nerr=-1 errno=ENOTTY\n"
	      "result=-1 errno=EPERM\nerr=-1 errno=EPERM\nresult=0 errno=0\n",
	      "result:38", "err:38", "result:1", "err:1", "result:0");
	expect_calls("ioctl RESULT ", 3);
	expect_calls("ioctl ERR ", 2);
	expect_logged(" -> reply result=-38 size=0 = 0\n");
	expect_logged(" -> err 38 = 0\n");
}

Test(ioctl, empty_success_reply_is_eio)
{
	start();
	/* fuse_reply_err(req, 0): too short for an ioctl reply */
	PROBE("err=-1 errno=EIO\nraw=2 errno=0\n", "err:0", "raw:1");
	expect_calls("ioctl ERR ", 1);
}

Test(ioctl, io_arg_arrives_raw)
{
	start();
	PROBE("raw=12346 errno=0\nraw=878082203 errno=0\nraw64=8 errno=0\n", "raw:12345",
	      "raw:0x123456789a", "raw64:7");
	expect_calls("ioctl RAW ", 3);
	expect_logged("ioctl RAW cmd=0x5009 flags=0x2 arg=0x3039 in=0 out=0 -> reply "
		      "result=12346 size=0 = 0\n");
	expect_logged(" arg=0x123456789a in=0 out=0 ");
	/* the request number is cut to 32 bits */
	expect_logged("ioctl RAW cmd=0x5009 flags=0x2 arg=0x7 in=0 out=0 ");
}

Test(ioctl, ioc_sizes_mean_nothing_unrestricted)
{
	start();
	PROBE("rget=43 errno=0 data=the quick brown fox jumps over the lazy dog\n"
	      "recho=2 errno=0 data=HI\n",
	      "rget", "recho:hi");
	/* the first round carries no data, whatever _IOC says */
	expect_calls("ioctl R_GET ", 2);
	expect_calls("ioctl R_ECHO ", 2);
	expect_logged(" in=0 out=0 -> retry in=0 out=1 = 0\n");
	expect_logged(" in=0 out=0 -> retry in=1 out=1 = 0\n");
	expect_logged(" in=0 out=64 -> reply result=43 size=64 = 0\n");
}

Test(ioctl, fionread_reaches_the_driver)
{
	start();
	PROBE("fionread=0 errno=0 value=0x2a\n", "fionread");
	expect_calls("ioctl FIONREAD ", 2);
}

Test(ioctl, vfs_ioctls_never_reach_the_driver)
{
	start();
	PROBE("fionbio_bad=-1 errno=EFAULT\nfionbio=0 errno=0\nfionbio_off=0 errno=0\n"
	      "figetbsz=0 errno=0 value=4096\nfioqsize=-1 errno=ENOTTY\nfioclex=0 errno=0\n"
	      "getfd=1\ndup_getfd=0\nfionclex=0 errno=0\ngetfd=0\nraw=1 errno=0\n",
	      "vfs", "raw:0");
	expect_calls("ioctl RAW ", 1);
	expect_calls("ioctl ", 1);
}

/* ------------------------------------------------------------ restricted */

Test(ioctl, restricted_buffers_come_from_ioc_size)
{
	char line[128];

	start_mode(true);
	PROBE("rget=43 errno=0 data=the quick brown fox jumps over the lazy dog\n"
	      "rput=5 errno=0 data=hello\nrecho=5 errno=0 data=HELLO\nraw=6 errno=0\n"
	      "fionread=0 errno=0 value=0x55555555\n",
	      "rget", "rput:hello", "recho:hello", "raw:5", "fionread");
	/* one round each, with the buffer the kernel derives */
	snprintf(line, sizeof(line), "ioctl R_GET cmd=0x%x flags=0x0 ", (unsigned)PTRDEV_R_GET);
	expect_logged(line);
	expect_logged(" in=0 out=64 -> reply result=43 size=64 = 0\n");
	expect_logged(" in=64 out=0 -> reply result=5 size=0 = 0\n");
	expect_logged(" in=64 out=64 -> reply result=5 size=64 = 0\n");
	expect_logged("ioctl RAW cmd=0x5009 flags=0x0 arg=0x5 in=0 out=0 ");
	/* FIONREAD is _IO-shaped: nothing either way, the int stays */
	expect_logged("ioctl FIONREAD cmd=0x541b flags=0x0 ");
	expect_calls("ioctl ", 5);
}

Test(ioctl, restricted_retry_is_eio)
{
	start_mode(true);
	PROBE("reverse=-1 errno=EIO data=hello\nraw=1 errno=0\n", "reverse:hello", "raw:0");
	expect_calls("ioctl REVERSE ", 1);
	expect_logged("ioctl REVERSE cmd=0xc0105001 flags=0x0 ");
	expect_logged(" in=16 out=16 -> retry in=2 out=1 = 0\n");
}

Test(ioctl, restricted_iow_fault_comes_before_the_driver)
{
	start_mode(true);
	PROBE("rputbad=-1 errno=EFAULT\nrget=43 errno=0 data=the quick brown fox jumps over "
	      "the lazy dog\n",
	      "rputbad", "rget");
	expect_calls("ioctl R_GET ", 1);
	expect_calls("ioctl R_PUT ", 0);
}

Test(ioctl, restricted_ior_fault_comes_after_the_driver)
{
	start_mode(true);
	PROBE("rgetbad=-1 errno=EFAULT\nrput=1 errno=0 data=x\n", "rgetbad", "rput:x");
	expect_calls("ioctl R_PUT ", 1);
	expect_calls("ioctl R_GET ", 1);
	expect_logged(" in=0 out=64 -> reply result=43 size=64 = 0\n");
}

Test(ioctl, restricted_reply_longer_than_ioc_size_is_eio)
{
	start_mode(true);
	PROBE("rlong=-1 errno=EIO value=0x33333333,0x44444444\nraw=1 errno=0\n", "rlong", "raw:0");
	expect_calls("ioctl R_LONG ", 1);
	expect_logged(" in=0 out=4 -> reply result=0 size=8 = 0\n");
}

/* ------------------------------------------------- other files untouched */

Test(ioctl, pipes_and_ttys_are_left_alone)
{
	char *plain = NULL, *shim = NULL, *tail;
	const char *probe_path;
	int rc;

	start();
	probe_path = h_stage("ioctlprobe");
	rc = H_RUN(0, &plain, probe_path, "pipe", "file", "tty", "pty");
	cr_assert_eq(rc, 0);
	/* the same calls in a process that has a device open */
	rc = H_RUN(H_SHIM, &shim, probe_path, "open:/dev/ptr0", "pipe", "file", "tty", "pty");
	cr_assert_eq(rc, 0);
	cr_assert(!strncmp(shim, "open=3 errno=0\n", 15), "%s", shim);
	tail = shim + 15;
	cr_expect_str_eq(tail, plain, "under the shim:\n%s\nwithout:\n%s", tail, plain);
	cr_expect(strstr(plain, "pipe_fionread=0 errno=0 value=0x5\n"
				"pipe_fionread_bad=-1 errno=EFAULT\n"
				"pipe_tcgets=-1 errno=ENOTTY\n"
				"pipe_fionbio=0 errno=0\n"
				"pipe_getfl_nonblock=1\n"),
		  "%s", plain);
	cr_expect(strstr(plain, "pts_tcgets=0 errno=0\n"), "%s", plain);
	cr_expect(strstr(plain, "ptmx_tiocgwinsz=0 errno=0 value=24x80\n"), "%s", plain);
	free(plain);
	free(shim);
	h_msleep(100);
	cr_expect_eq(h_log_count(&drv, "ioctl "), 0, "%s", h_log(&drv));
}

/* ptrdev has no read or write op: libcused answers ENOSYS, and read(2)
 * and write(2) fail with it, as on the kernel's CUSE, which passes the
 * error on (tests/oracle/no_rw_and_flock.sh); under the supervisor too. */
Test(ioctl, a_driver_without_read_or_write_is_enosys)
{
	const char *steps[] = {h_stage("rwprobe"), "open:/dev/ptr0:rw", "read:4", "write:4", NULL};
	const char *want = "open=3\nread=-1 errno=ENOSYS\nwrite=-1 errno=ENOSYS\n";
	char *out = NULL;

	start();
	cr_assert_eq(h_run(H_SHIM, NULL, &out, NULL, steps), 0);
	cr_expect_str_eq(out, want);
	free(out);
	cr_assert_eq(h_run(0, NULL, &out, NULL,
			   (const char *const[]){h_stage("cuse-run"), "--seccomp", "--",
						 h_stage("rwprobe"), "open:/dev/ptr0:rw", "read:4",
						 "write:4", NULL}),
		     0);
	cr_expect_str_eq(out, want, "under --seccomp: %s", out);
	free(out);
}
