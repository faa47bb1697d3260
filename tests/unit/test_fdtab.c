/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of libcuseshim/fdtab.c, the lock-free fd -> open-file table:
 * lookups, reference counting, recycling and concurrent use.  Criterion
 * runs every test in its own process, so each starts with an empty table
 * and an empty free list.
 */
#include <criterion/criterion.h>
#include <unistd.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shim_i.h"

#define FD_LIMIT (1 << 20) /* fds the table can hold */

/* The real shim_log lives in init.c; count calls and keep the last line. */
static int log_count;
static char last_log[256];

void shim_log(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(last_log, sizeof(last_log), fmt, ap);
	va_end(ap);
	log_count++;
}

/* Devices are only carried through, never dereferenced by fdtab.c. */
static struct shim_dev dev_a, dev_b;

static unsigned refs(const struct shim_file *f)
{
	return atomic_load((_Atomic unsigned *)&f->refs);
}

Test(fdtab, empty_table)
{
	static const int fds[] = {
		0,	 1,  2,	 3,	1023,	1024, 500000, FD_LIMIT - 1, FD_LIMIT, FD_LIMIT + 1,
		INT_MAX, -1, -2, -1024, INT_MIN};

	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
		cr_assert_null(shim_fd_get(fds[i]), "fd %d", fds[i]);
		cr_assert_null(shim_fd_take(fds[i]), "fd %d", fds[i]);
		shim_fd_forget(fds[i]);
	}
	cr_assert_eq(log_count, 0);
}

Test(fdtab, file_new)
{
	struct shim_file *f = shim_file_new(&dev_a, 42);

	cr_assert_not_null(f);
	cr_assert_eq(f->dev, &dev_a);
	cr_assert_eq(f->ino, 42);
	cr_assert_eq(refs(f), 1);
	cr_assert_eq(f->open_flags, 0);
	cr_assert_eq(f->flags_known, false);
	shim_file_put(f);
}

Test(fdtab, set_get_take)
{
	struct shim_file *f = shim_file_new(&dev_a, 1);

	shim_fd_set(3, f);
	cr_assert_eq(refs(f), 2, "the table holds its own reference");
	cr_assert_eq(shim_fd_get(3), f);
	cr_assert_eq(refs(f), 2, "get takes no reference");
	cr_assert_null(shim_fd_get(2));
	cr_assert_null(shim_fd_get(4));

	cr_assert_eq(shim_fd_take(3), f);
	cr_assert_eq(refs(f), 2, "take hands the table's reference to the caller");
	cr_assert_null(shim_fd_get(3));
	cr_assert_null(shim_fd_take(3), "a second take finds nothing");
	shim_file_put(f);
	cr_assert_eq(refs(f), 1);
	shim_file_put(f);
	cr_assert_eq(log_count, 0);
}

Test(fdtab, forget)
{
	struct shim_file *f = shim_file_new(&dev_a, 1);

	shim_fd_set(5, f);
	cr_assert_eq(refs(f), 2);
	shim_fd_forget(5);
	cr_assert_eq(refs(f), 1, "forget drops the table's reference");
	cr_assert_null(shim_fd_get(5));
	shim_fd_forget(5);
	cr_assert_eq(refs(f), 1, "forgetting an empty slot drops nothing");
	/* Same chunk, never set. */
	shim_fd_forget(6);
	cr_assert_eq(refs(f), 1);
	shim_file_put(f);
}

/* dup(2), inheritance: several fds, one open file description. */
Test(fdtab, shared_file)
{
	struct shim_file *f = shim_file_new(&dev_a, 7);
	struct shim_file *t;

	shim_fd_set(3, f);
	shim_fd_set(4, f);
	shim_fd_set(10, f);
	shim_fd_set(2000, f);
	cr_assert_eq(refs(f), 5);
	cr_assert_eq(shim_fd_get(3), f);
	cr_assert_eq(shim_fd_get(4), f);
	cr_assert_eq(shim_fd_get(10), f);
	cr_assert_eq(shim_fd_get(2000), f);

	shim_fd_forget(4);
	cr_assert_eq(refs(f), 4);
	t = shim_fd_take(10);
	cr_assert_eq(t, f);
	cr_assert_eq(refs(f), 4);
	shim_file_put(t);
	cr_assert_eq(refs(f), 3);
	cr_assert_eq(shim_fd_get(3), f, "the other fds are untouched");
	cr_assert_eq(shim_fd_get(2000), f);
	cr_assert_null(shim_fd_get(4));
	cr_assert_null(shim_fd_get(10));

	shim_fd_forget(3);
	shim_fd_forget(2000);
	cr_assert_eq(refs(f), 1);
	shim_file_put(f);
}

/* dup2(a, b) over a device fd: the old file loses the table's reference. */
Test(fdtab, set_replaces_old_entry)
{
	struct shim_file *a = shim_file_new(&dev_a, 1);
	struct shim_file *b = shim_file_new(&dev_b, 2);

	shim_fd_set(3, a);
	cr_assert_eq(refs(a), 2);
	shim_fd_set(3, b);
	cr_assert_eq(shim_fd_get(3), b);
	cr_assert_eq(refs(a), 1, "the replaced file's reference is dropped");
	cr_assert_eq(refs(b), 2);

	/* Setting the same file again keeps one table reference. */
	shim_fd_set(3, b);
	cr_assert_eq(shim_fd_get(3), b);
	cr_assert_eq(refs(b), 2);

	shim_fd_forget(3);
	cr_assert_eq(refs(b), 1);
	shim_file_put(a);
	shim_file_put(b);
}

/* The table's reference can be the last one: replacing or forgetting the
 * fd then recycles the file. */
Test(fdtab, table_holds_last_reference)
{
	struct shim_file *a = shim_file_new(&dev_a, 1);
	struct shim_file *b = shim_file_new(&dev_b, 2);
	struct shim_file *c;

	shim_fd_set(3, a);
	shim_file_put(a);
	cr_assert_eq(refs(a), 1);
	cr_assert_eq(shim_fd_get(3), a, "still reachable through the table");

	shim_fd_set(3, b); /* drops a's last reference */
	cr_assert_eq(refs(a), 0);
	c = shim_file_new(&dev_a, 3);
	cr_assert_eq(c, a, "the replaced file was recycled");

	shim_file_put(b);
	shim_fd_forget(3); /* drops b's last reference */
	cr_assert_eq(shim_file_new(&dev_b, 4), b, "the forgotten file was recycled");
	shim_file_put(b);
	shim_file_put(c);
}

/*
 * Intended behaviour: a file whose last reference goes is never returned to
 * malloc.  It goes to a free list and the next shim_file_new() hands out the
 * same memory, re-initialised, so that a lock-free reader still holding an
 * old pointer from shim_fd_get() never touches freed memory.
 */
Test(fdtab, put_to_zero_recycles)
{
	struct shim_file *f = shim_file_new(&dev_a, 42), *g, *h, *x, *y;

	f->open_flags = 02;
	f->flags_known = true;
	shim_file_put(f);
	cr_assert_eq(refs(f), 0);
	g = shim_file_new(&dev_b, 7);
	cr_assert_eq(g, f, "a later shim_file_new returns the same object");
	cr_assert_eq(g->dev, &dev_b);
	cr_assert_eq(g->ino, 7);
	cr_assert_eq(refs(g), 1);
	cr_assert_eq(g->open_flags, 0, "recycled object is cleared");
	cr_assert_eq(g->flags_known, false);

	/* The free list is last in, first out. */
	h = shim_file_new(&dev_a, 8);
	cr_assert_neq(h, g);
	shim_file_put(g);
	shim_file_put(h);
	x = shim_file_new(&dev_a, 9);
	y = shim_file_new(&dev_a, 10);
	cr_assert_eq(x, h);
	cr_assert_eq(y, g);
	shim_file_put(x);
	shim_file_put(y);
}

Test(fdtab, put_null)
{
	shim_file_put(NULL);
}

/* CHUNK_SIZE is 1024: these fds sit in five different chunks. */
Test(fdtab, fds_in_different_chunks)
{
	static const int fds[] = {0, 1023, 1024, 500000, FD_LIMIT - 1};
	enum { N = sizeof(fds) / sizeof(fds[0]) };
	struct shim_file *f[N];

	for (int i = 0; i < N; i++) {
		f[i] = shim_file_new(&dev_a, (uint64_t)i);
		shim_fd_set(fds[i], f[i]);
	}
	for (int i = 0; i < N; i++) {
		cr_assert_eq(shim_fd_get(fds[i]), f[i], "fd %d", fds[i]);
		cr_assert_eq(refs(f[i]), 2);
	}
	/* Neighbours, in the same and in adjacent chunks, stay empty. */
	cr_assert_null(shim_fd_get(1));
	cr_assert_null(shim_fd_get(1022));
	cr_assert_null(shim_fd_get(1025));
	cr_assert_null(shim_fd_get(2047));
	cr_assert_null(shim_fd_get(2048));
	cr_assert_null(shim_fd_get(499999));
	cr_assert_null(shim_fd_get(500001));
	cr_assert_null(shim_fd_get(FD_LIMIT - 2));
	cr_assert_null(shim_fd_get(FD_LIMIT));

	for (int i = 0; i < N; i++) {
		cr_assert_eq(shim_fd_take(fds[i]), f[i], "fd %d", fds[i]);
		cr_assert_null(shim_fd_get(fds[i]));
		shim_file_put(f[i]);
		cr_assert_eq(refs(f[i]), 1);
		shim_file_put(f[i]);
	}
	cr_assert_eq(log_count, 0);
}

/* shim_fd_next walks the held fds in order, across chunks and gaps of
 * unallocated chunks, and ends with -1. */
Test(fdtab, next_walks_the_held_fds)
{
	static const int fds[] = {0, 5, 1023, 1024, 500000, FD_LIMIT - 1};
	enum { N = sizeof(fds) / sizeof(fds[0]) };
	struct shim_file *f = shim_file_new(&dev_a, 1);
	int fd, i = 0;

	cr_assert_eq(shim_fd_next(0), -1, "an empty table");
	for (int k = 0; k < N; k++)
		shim_fd_set(fds[k], f);
	for (fd = shim_fd_next(0); fd >= 0; fd = shim_fd_next(fd + 1), i++) {
		cr_assert_lt(i, N, "fd %d beyond the held ones", fd);
		cr_assert_eq(fd, fds[i]);
	}
	cr_assert_eq(i, N);
	cr_assert_eq(shim_fd_next(-7), 0, "a negative start is 0");
	cr_assert_eq(shim_fd_next(6), 1023);
	cr_assert_eq(shim_fd_next(FD_LIMIT), -1);
	cr_assert_eq(shim_fd_next(INT_MAX), -1);
	shim_fd_forget(5);
	cr_assert_eq(shim_fd_next(1), 1023, "a forgotten fd is skipped");
	for (int k = 0; k < N; k++)
		shim_fd_forget(fds[k]);
	cr_assert_eq(shim_fd_next(0), -1);
	cr_assert_eq(refs(f), 1);
	shim_file_put(f);
}

/* fds the table cannot hold: refused with one log line, nothing stored, no
 * reference taken. */
Test(fdtab, fd_beyond_table)
{
	static const int fds[] = {FD_LIMIT, FD_LIMIT + 1, INT_MAX, -1, INT_MIN};
	struct shim_file *f = shim_file_new(&dev_a, 1);

	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
		char want[64];

		shim_fd_set(fds[i], f);
		cr_assert_eq(log_count, (int)i + 1, "fd %d: no log line", fds[i]);
		snprintf(want, sizeof(want), "fd %d ", fds[i]);
		cr_assert(strstr(last_log, want), "log line \"%s\" does not name fd %d", last_log,
			  fds[i]);
		cr_assert_eq(refs(f), 1, "fd %d: a reference was taken", fds[i]);
		cr_assert_null(shim_fd_get(fds[i]));
		cr_assert_null(shim_fd_take(fds[i]));
		shim_fd_forget(fds[i]);
		cr_assert_eq(refs(f), 1);
	}
	/* The table still works. */
	shim_fd_set(FD_LIMIT - 1, f);
	cr_assert_eq(shim_fd_get(FD_LIMIT - 1), f);
	cr_assert_eq(log_count, 5);
	shim_fd_forget(FD_LIMIT - 1);
	shim_file_put(f);
}

/* ---- concurrency
 *
 * Writers set, take and get random fds of a small range with random files;
 * a reader only calls shim_fd_get.  Every non-NULL pointer seen must be one
 * of the test's files, and once every fd has been taken, each file's
 * refcount must be back to the test's own reference.  The fd range crosses
 * a chunk boundary so that two chunks are created concurrently.
 */

#define NWRITERS 4
#define NOPS	 100000
#define NFILES	 8
#define FD_FIRST 1016
#define NFDS	 16 /* 1016..1031: chunks 0 and 1 */

static struct shim_file *files[NFILES];
static atomic_int start_gate;
static atomic_bool writers_done;
static atomic_ulong bad_pointers, reader_hits, reader_loops;

static bool is_test_file(const struct shim_file *f)
{
	for (int i = 0; i < NFILES; i++)
		if (f == files[i])
			return true;
	return false;
}

static void wait_for_start(void)
{
	atomic_fetch_add(&start_gate, 1);
	while (atomic_load(&start_gate) < NWRITERS + 1)
		;
}

static void *writer(void *arg)
{
	unsigned seed = (unsigned)(uintptr_t)arg * 2654435761u + 1;

	wait_for_start();
	for (int i = 0; i < NOPS; i++) {
		unsigned r = rand_r(&seed);
		int fd = FD_FIRST + (int)(r % NFDS);
		struct shim_file *f;

		switch ((r / NFDS) % 3) {
		case 0: shim_fd_set(fd, files[(r / NFDS / 3) % NFILES]); break;
		case 1:
			f = shim_fd_take(fd);
			if (f && !is_test_file(f))
				atomic_fetch_add(&bad_pointers, 1);
			else
				shim_file_put(f);
			break;
		case 2:
			f = shim_fd_get(fd);
			if (f && !is_test_file(f))
				atomic_fetch_add(&bad_pointers, 1);
			break;
		}
	}
	return NULL;
}

static void *reader(void *arg)
{
	wait_for_start();
	do {
		for (int fd = FD_FIRST; fd < FD_FIRST + NFDS; fd++) {
			struct shim_file *f = shim_fd_get(fd);

			if (!f)
				continue;
			atomic_fetch_add_explicit(&reader_hits, 1, memory_order_relaxed);
			if (!is_test_file(f))
				atomic_fetch_add(&bad_pointers, 1);
		}
		atomic_fetch_add_explicit(&reader_loops, 1, memory_order_relaxed);
	} while (!atomic_load(&writers_done));
	return NULL;
}

Test(fdtab, concurrent_set_take_get, .timeout = 120)
{
	pthread_t w[NWRITERS], rd;
	unsigned long table_refs = 0, held = 0;

	for (int i = 0; i < NFILES; i++) {
		files[i] = shim_file_new(&dev_a, (uint64_t)i);
		cr_assert_not_null(files[i]);
	}
	cr_assert_eq(pthread_create(&rd, NULL, reader, NULL), 0);
	for (int i = 0; i < NWRITERS; i++)
		cr_assert_eq(pthread_create(&w[i], NULL, writer, (void *)(uintptr_t)(i + 1)), 0);
	for (int i = 0; i < NWRITERS; i++)
		pthread_join(w[i], NULL);
	atomic_store(&writers_done, true);
	pthread_join(rd, NULL);

	cr_assert_eq(atomic_load(&bad_pointers), 0, "%lu pointers that are not test files",
		     atomic_load(&bad_pointers));
	cr_assert_gt(atomic_load(&reader_loops), 0);
	cr_log_info("reader: %lu passes, %lu entries seen", atomic_load(&reader_loops),
		    atomic_load(&reader_hits));

	/* Each slot that is still set holds exactly one reference. */
	for (int fd = FD_FIRST; fd < FD_FIRST + NFDS; fd++)
		if (shim_fd_get(fd))
			held++;
	for (int i = 0; i < NFILES; i++) {
		cr_assert_geq(refs(files[i]), 1, "file %d lost the test's reference", i);
		table_refs += refs(files[i]) - 1;
	}
	cr_assert_eq(table_refs, held, "%lu table references for %lu occupied fds", table_refs,
		     held);

	for (int fd = FD_FIRST; fd < FD_FIRST + NFDS; fd++) {
		struct shim_file *f = shim_fd_take(fd);

		if (f) {
			cr_assert(is_test_file(f));
			shim_file_put(f);
		}
	}
	for (int i = 0; i < NFILES; i++) {
		cr_assert_eq(refs(files[i]), 1, "file %d has %u references, expected 1", i,
			     refs(files[i]));
		shim_file_put(files[i]);
	}
	cr_assert_eq(log_count, 0);
}

/* fdtab.c's raw calls go through the shim's syscall(); here, libc's. */
#undef syscall
long shim_raw_syscall(long nr, ...)
{
	va_list ap;
	long a[6];
	int i;

	va_start(ap, nr);
	for (i = 0; i < 6; i++)
		a[i] = va_arg(ap, long);
	va_end(ap);
	return syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
}
