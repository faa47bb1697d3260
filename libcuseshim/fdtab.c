/* SPDX-License-Identifier: MIT */
/*
 * The fd table: which fd numbers are open files of emulated devices.
 * Two levels of atomic pointers, so that the question every wrapper asks
 * ("is this fd ours?") is a few loads, takes no lock and never allocates.
 * Chunks are allocated on first use and never freed.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "shim_i.h"

#define CHUNK_BITS 10
#define CHUNK_SIZE (1u << CHUNK_BITS)
#define NCHUNKS	   1024u /* fds below 1,048,576 */

typedef _Atomic(struct shim_file *) slot_t;
static _Atomic(slot_t *) chunks[NCHUNKS];

static pthread_mutex_t free_lock = PTHREAD_MUTEX_INITIALIZER;
static struct shim_file *free_files;

struct shim_file *shim_file_new(struct shim_dev *dev, uint64_t ino)
{
	struct shim_file *f;

	pthread_mutex_lock(&free_lock);
	f = free_files;
	if (f)
		free_files = f->next_free;
	pthread_mutex_unlock(&free_lock);
	if (!f)
		f = malloc(sizeof(*f));
	if (!f)
		return NULL;
	memset(f, 0, sizeof(*f));
	f->dev = dev;
	f->ino = ino;
	f->refs = 1;
	return f;
}

void shim_file_put(struct shim_file *f)
{
	if (!f || atomic_fetch_sub((_Atomic unsigned *)&f->refs, 1) != 1)
		return;
	pthread_mutex_lock(&free_lock);
	f->next_free = free_files;
	free_files = f;
	pthread_mutex_unlock(&free_lock);
}

struct shim_file *shim_fd_get(int fd)
{
	slot_t *c;

	if ((unsigned)fd >= NCHUNKS * CHUNK_SIZE)
		return NULL;
	c = atomic_load_explicit(&chunks[fd >> CHUNK_BITS], memory_order_acquire);
	if (__builtin_expect(!c, 1))
		return NULL;
	return atomic_load_explicit(&c[fd & (CHUNK_SIZE - 1)], memory_order_acquire);
}

static slot_t *chunk_for(int fd)
{
	slot_t *c, *fresh, *expected = NULL;

	if ((unsigned)fd >= NCHUNKS * CHUNK_SIZE)
		return NULL;
	c = atomic_load_explicit(&chunks[fd >> CHUNK_BITS], memory_order_acquire);
	if (c)
		return c;
	fresh = calloc(CHUNK_SIZE, sizeof(*fresh));
	if (!fresh)
		return NULL;
	if (!atomic_compare_exchange_strong(&chunks[fd >> CHUNK_BITS], &expected, fresh)) {
		free(fresh);
		return expected;
	}
	return fresh;
}

void shim_fd_set(int fd, struct shim_file *f)
{
	slot_t *c = chunk_for(fd);
	struct shim_file *old;

	if (!c) {
		shim_log("fd %d is beyond the shim's fd table; it will not be emulated\n", fd);
		return;
	}
	atomic_fetch_add((_Atomic unsigned *)&f->refs, 1);
	old = atomic_exchange(&c[fd & (CHUNK_SIZE - 1)], f);
	shim_file_put(old);
}

struct shim_file *shim_fd_take(int fd)
{
	slot_t *c;

	if ((unsigned)fd >= NCHUNKS * CHUNK_SIZE)
		return NULL;
	c = atomic_load_explicit(&chunks[fd >> CHUNK_BITS], memory_order_acquire);
	if (!c)
		return NULL;
	return atomic_exchange(&c[fd & (CHUNK_SIZE - 1)], NULL);
}

void shim_fd_forget(int fd)
{
	if (__builtin_expect(shim_fd_get(fd) == NULL, 1))
		return;
	shim_file_put(shim_fd_take(fd));
}

struct shim_file *shim_fd_verify(int fd, struct shim_file *f)
{
	struct stat st;
	int saved = errno;

	if (shim_sys_fstat(fd, &st) == 0 && st.st_ino == f->ino &&
	    (f->opath || S_ISSOCK(st.st_mode))) {
		errno = saved;
		return f;
	}
	errno = saved;
	/* Not ours any more: forget it, let the real call have it. */
	if (shim_fd_get(fd) == f)
		shim_file_put(shim_fd_take(fd));
	return NULL;
}

int shim_fd_next(int from)
{
	unsigned fd = from < 0 ? 0 : (unsigned)from;

	while (fd < NCHUNKS * CHUNK_SIZE) {
		slot_t *c = atomic_load_explicit(&chunks[fd >> CHUNK_BITS], memory_order_acquire);

		if (!c) {
			fd = ((fd >> CHUNK_BITS) + 1) << CHUNK_BITS;
			continue;
		}
		if (atomic_load_explicit(&c[fd & (CHUNK_SIZE - 1)], memory_order_acquire))
			return (int)fd;
		fd++;
	}
	return -1;
}

void shim_fd_take_range(unsigned first, unsigned last, void (*fn)(struct shim_file *))
{
	unsigned c, i;

	for (c = first >> CHUNK_BITS; c < NCHUNKS && c <= (last >> CHUNK_BITS); c++) {
		slot_t *chunk = atomic_load_explicit(&chunks[c], memory_order_acquire);

		if (!chunk)
			continue;
		for (i = 0; i < CHUNK_SIZE; i++) {
			unsigned fd = (c << CHUNK_BITS) | i;
			struct shim_file *f;

			if (fd < first || fd > last || !atomic_load(&chunk[i]))
				continue;
			f = atomic_exchange(&chunk[i], NULL);
			if (f)
				fn(f);
		}
	}
}
