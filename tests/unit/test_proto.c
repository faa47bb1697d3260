/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of proto/proto.c and proto/registry.c: request splitting must
 * match what the kernel was measured to send, validation must refuse every
 * malformed datagram, and registry names and paths must be exactly as
 * registry.h describes.  Expected sizes are written out as numbers (taken
 * from <linux/fuse.h> and the kernel), never computed with sizeof, so that
 * the tests check the tables rather than repeat them.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "proto/cuseshim_proto.h"
#include "proto/registry.h"

/* ---- proto_next_chunk
 *
 * The iovec bases are fake addresses: proto_next_chunk only looks at their
 * page offsets and never dereferences them.
 */

#define PAGE 4096u
#define BASE 0x10000000u

static void *fake_addr(uintptr_t page, size_t off)
{
	return (void *)(uintptr_t)(BASE + page * PAGE + off);
}

/* Walk @iov the way rw.c does and compare every chunk with @want (0-ended).
 * After the last expected chunk the next one must be 0. */
static void expect_chunks(const struct iovec *iov, int iovcnt, size_t max, const size_t *want)
{
	size_t skip = 0, got;
	int i;

	for (i = 0; want[i]; i++) {
		got = proto_next_chunk(iov, iovcnt, skip, max);
		cr_assert_eq(got, want[i], "chunk %d at skip %zu is %zu bytes, expected %zu", i,
			     skip, got, want[i]);
		skip += got;
	}
	got = proto_next_chunk(iov, iovcnt, skip, max);
	cr_assert_eq(got, 0, "after %d chunks (%zu bytes) another chunk of %zu bytes", i, skip,
		     got);
}

#define EXPECT_CHUNKS(iov, iovcnt, max, ...)                                                       \
	expect_chunks(iov, iovcnt, max, (const size_t[]){__VA_ARGS__, 0})

Test(next_chunk, limits_match_the_kernel)
{
	cr_assert_eq(CUSESHIM_PAGE_SIZE, 4096);
	cr_assert_eq(CUSESHIM_MAX_PAGES, 32);
	cr_assert_eq(CUSESHIM_MAX_PAYLOAD, 131072);
	cr_assert_eq(CUSESHIM_MAX_READ, 131072);
}

/* Measured: writev of 40 x 10 bytes arrives as WRITE 320@0 + 80@320. */
Test(next_chunk, writev_40_small_iovecs)
{
	struct iovec iov[40];

	for (int i = 0; i < 40; i++)
		iov[i] = (struct iovec){fake_addr(i, 0), 10};
	EXPECT_CHUNKS(iov, 40, CUSESHIM_MAX_PAYLOAD, 320, 80);
}

/* The same small iovecs at a page offset still take one page each. */
Test(next_chunk, writev_40_small_iovecs_unaligned)
{
	struct iovec iov[40];

	for (int i = 0; i < 40; i++)
		iov[i] = (struct iovec){fake_addr(i, 1000), 10};
	EXPECT_CHUNKS(iov, 40, CUSESHIM_MAX_PAYLOAD, 320, 80);
}

/* Measured: a 200000-byte read into a buffer at page offset 100 arrives as
 * READ 130972@0 + 69028@130972. */
Test(next_chunk, unaligned_buffer_loses_head_offset)
{
	struct iovec iov = {fake_addr(0, 100), 200000};

	EXPECT_CHUNKS(&iov, 1, CUSESHIM_MAX_READ, 130972, 69028);
}

/* Measured: page-aligned 300 KiB as 131072@0, 131072@131072, 45056@262144. */
Test(next_chunk, aligned_300k)
{
	struct iovec iov = {fake_addr(0, 0), 307200};

	EXPECT_CHUNKS(&iov, 1, CUSESHIM_MAX_PAYLOAD, 131072, 131072, 45056);
}

Test(next_chunk, one_byte)
{
	struct iovec aligned = {fake_addr(0, 0), 1};
	struct iovec last_byte_of_page = {fake_addr(0, 4095), 1};

	EXPECT_CHUNKS(&aligned, 1, CUSESHIM_MAX_PAYLOAD, 1);
	EXPECT_CHUNKS(&last_byte_of_page, 1, CUSESHIM_MAX_PAYLOAD, 1);
}

Test(next_chunk, zero_total)
{
	struct iovec iov[3] = {
		{fake_addr(0, 0), 0},
		{fake_addr(1, 17), 0},
		{NULL, 0},
	};

	cr_assert_eq(proto_next_chunk(iov, 0, 0, CUSESHIM_MAX_PAYLOAD), 0);
	cr_assert_eq(proto_next_chunk(NULL, 0, 0, CUSESHIM_MAX_PAYLOAD), 0);
	cr_assert_eq(proto_next_chunk(iov, 3, 0, CUSESHIM_MAX_PAYLOAD), 0);
}

Test(next_chunk, zero_length_iovecs_skipped)
{
	struct iovec iov[5] = {
		{fake_addr(0, 0), 0},  {fake_addr(1, 0), 10}, {fake_addr(2, 0), 0}, {NULL, 0},
		{fake_addr(3, 0), 20},
	};

	EXPECT_CHUNKS(iov, 5, CUSESHIM_MAX_PAYLOAD, 30);
}

/* Empty segments take no page slot: 40 x 10 bytes interleaved with 40 empty
 * iovecs split exactly like 40 x 10 bytes. */
Test(next_chunk, zero_length_iovecs_take_no_page)
{
	struct iovec iov[80];

	for (int i = 0; i < 40; i++) {
		iov[2 * i] = (struct iovec){fake_addr(2 * i, 0), 0};
		iov[2 * i + 1] = (struct iovec){fake_addr(2 * i + 1, 0), 10};
	}
	EXPECT_CHUNKS(iov, 80, CUSESHIM_MAX_PAYLOAD, 320, 80);
}

/* A request that starts inside a segment starts at that byte's page offset. */
Test(next_chunk, skip_inside_a_segment)
{
	struct iovec one = {fake_addr(0, 0), 300000};
	struct iovec two[2] = {
		{fake_addr(0, 0), 1000},
		{fake_addr(100, 0), 200000},
	};

	/* 100 bytes into an aligned buffer: as if it were at page offset 100. */
	cr_assert_eq(proto_next_chunk(&one, 1, 100, CUSESHIM_MAX_PAYLOAD), 130972);
	/* 4096 bytes in: aligned again. */
	cr_assert_eq(proto_next_chunk(&one, 1, 4096, CUSESHIM_MAX_PAYLOAD), 131072);
	/* Near the end: only the rest. */
	cr_assert_eq(proto_next_chunk(&one, 1, 299990, CUSESHIM_MAX_PAYLOAD), 10);
	cr_assert_eq(proto_next_chunk(&one, 1, 300000, CUSESHIM_MAX_PAYLOAD), 0);
	cr_assert_eq(proto_next_chunk(&one, 1, 400000, CUSESHIM_MAX_PAYLOAD), 0);

	/* 500 bytes into the first segment: its 500-byte tail (1 page), then
	 * 31 pages of the second segment. */
	cr_assert_eq(proto_next_chunk(two, 2, 500, CUSESHIM_MAX_PAYLOAD), 500 + 31 * 4096);
	/* Exactly at the segment boundary: the second segment alone. */
	cr_assert_eq(proto_next_chunk(two, 2, 1000, CUSESHIM_MAX_PAYLOAD), 131072);
	/* 100 bytes into the second segment. */
	cr_assert_eq(proto_next_chunk(two, 2, 1100, CUSESHIM_MAX_PAYLOAD), 131072 - 100);
}

/* A request spanning iovecs: the first chunk of an aligned 1000 + 200000
 * pair covers both (readv/writev gather, B3.8). */
Test(next_chunk, chunk_spans_iovecs)
{
	struct iovec two[2] = {
		{fake_addr(0, 0), 1000},
		{fake_addr(100, 0), 200000},
	};

	/* 1000 (1 page) + 31 pages; then the remaining 200000 - 126976. */
	EXPECT_CHUNKS(two, 2, CUSESHIM_MAX_PAYLOAD, 1000 + 126976, 73024);
}

Test(next_chunk, max_below_page_limit)
{
	struct iovec aligned = {fake_addr(0, 0), 5 * 4096 + 1};
	struct iovec unaligned = {fake_addr(0, 100), 10000};
	struct iovec small[40];

	EXPECT_CHUNKS(&aligned, 1, 4096, 4096, 4096, 4096, 4096, 4096, 1);
	/* 4096 bytes at page offset 100 pin 2 pages: still 4096 bytes. */
	EXPECT_CHUNKS(&unaligned, 1, 4096, 4096, 4096, 1808);

	/* The byte limit cuts inside a segment. */
	for (int i = 0; i < 40; i++)
		small[i] = (struct iovec){fake_addr(i, 0), 10};
	EXPECT_CHUNKS(small, 40, 25, 25, 25, 25, 25, 25, 25, 25, 25, 25, 25, 25, 25, 25, 25, 25,
		      25);
	/* max reached exactly at a segment end. */
	EXPECT_CHUNKS(small, 40, 100, 100, 100, 100, 100);
}

Test(next_chunk, max_above_page_limit)
{
	struct iovec aligned = {fake_addr(0, 0), 1 << 20};

	/* A driver's max_write may be 1 MiB: the 32 pages still limit. */
	cr_assert_eq(proto_next_chunk(&aligned, 1, 0, 1 << 20), 131072);
}

/*
 * A 2-byte segment at page offset 4095 crosses into the next page, so it
 * pins 2 pages: 16 such segments fill the 32 page slots.  33 of them go out
 * as 16 + 16 + 1 segments: 32, 32 and 2 bytes.
 */
Test(next_chunk, segment_crossing_a_page_counts_two)
{
	struct iovec iov[33];

	for (int i = 0; i < 33; i++)
		iov[i] = (struct iovec){fake_addr(2 * i, 4095), 2};
	cr_assert_eq(proto_next_chunk(iov, 33, 0, CUSESHIM_MAX_PAYLOAD), 32);
	EXPECT_CHUNKS(iov, 33, CUSESHIM_MAX_PAYLOAD, 32, 32, 2);
}

/*
 * When the last free page slot cannot hold a whole crossing segment, the
 * request takes the part that fits in that page: a 1-byte aligned segment
 * (1 page) plus fifteen 2-byte crossing segments (30 pages) leave one slot,
 * which holds the first byte of the next crossing segment.  The next request
 * starts on its second byte, page-aligned.
 */
Test(next_chunk, last_page_slot_takes_part_of_a_segment)
{
	struct iovec iov[18];

	iov[0] = (struct iovec){fake_addr(0, 0), 1};
	for (int i = 1; i < 18; i++)
		iov[i] = (struct iovec){fake_addr(2 * i, 4095), 2};
	/* 1 + 15 * 2 + 1, then 1 + 1 * 2 */
	EXPECT_CHUNKS(iov, 18, CUSESHIM_MAX_PAYLOAD, 32, 3);
}

/* A large segment after small ones gets only the slots that are left. */
Test(next_chunk, big_segment_gets_remaining_pages)
{
	struct iovec iov[3] = {
		{fake_addr(0, 0), 10},
		{fake_addr(1, 0), 10},
		{fake_addr(10, 0), 200000},
	};

	/* 2 pages + 30 pages of the big one; then 200000 - 122880. */
	EXPECT_CHUNKS(iov, 3, CUSESHIM_MAX_PAYLOAD, 20 + 122880, 77120);
}

/* ---- proto_open_flags */

Test(open_flags, largefile_added)
{
	cr_assert_eq(proto_open_flags(O_RDONLY), 0100000);
	cr_assert_eq(proto_open_flags(O_WRONLY), 0100001);
	cr_assert_eq(proto_open_flags(O_RDWR), 0100002);
	/* Already present (open64 on 32-bit callers): stays once. */
	cr_assert_eq(proto_open_flags(O_RDWR | 0100000), 0100002);
}

Test(open_flags, open_time_flags_removed)
{
	int strip = O_CREAT | O_EXCL | O_NOCTTY | O_TRUNC | O_CLOEXEC;

	cr_assert_eq(proto_open_flags(O_RDWR | strip), 0100002);
	cr_assert_eq(proto_open_flags(O_WRONLY | O_CREAT | O_TRUNC), 0100001);
	cr_assert_eq(proto_open_flags(O_RDONLY | O_CLOEXEC), 0100000);
	cr_assert_eq(proto_open_flags(O_RDONLY | O_NOCTTY), 0100000);
	cr_assert_eq(proto_open_flags(O_RDONLY | O_EXCL), 0100000);
}

Test(open_flags, status_flags_kept)
{
	cr_assert_eq(proto_open_flags(O_RDWR | O_NONBLOCK), 0100002 | O_NONBLOCK);
	cr_assert_eq(proto_open_flags(O_WRONLY | O_APPEND), 0100001 | O_APPEND);
	cr_assert_eq(proto_open_flags(O_WRONLY | O_SYNC), 0100001 | O_SYNC);
	cr_assert_eq(proto_open_flags(O_WRONLY | O_DSYNC), 0100001 | O_DSYNC);
	cr_assert_eq(
		proto_open_flags(O_RDWR | O_NONBLOCK | O_APPEND | O_SYNC | O_CREAT | O_CLOEXEC),
		0100002 | O_NONBLOCK | O_APPEND | O_SYNC);
	/* The literal values the driver sees. */
	cr_assert_eq(proto_open_flags(O_RDWR | O_NONBLOCK), 0104002);
	cr_assert_eq(proto_open_flags(O_WRONLY | O_APPEND), 0102001);
	cr_assert_eq(proto_open_flags(O_WRONLY | O_SYNC), 04110001);
}

/* ---- message builders */

/* Large enough for the biggest datagram plus a few bytes. */
static union {
	struct fuse_in_header in;
	struct fuse_out_header out;
	unsigned char bytes[CUSESHIM_MAX_MSG + 64];
} msg;

/* A request of @opcode, @n bytes in all, header length = @n. */
static void *request(uint32_t opcode, size_t n)
{
	memset(&msg, 0, sizeof(msg));
	msg.in.len = (uint32_t)n;
	msg.in.opcode = opcode;
	msg.in.unique = 2;
	msg.in.nodeid = 1;
	return &msg;
}

static void *args(void)
{
	return msg.bytes + 40;
}

static void *reply(int32_t error, size_t n)
{
	memset(&msg, 0, sizeof(msg));
	msg.out.len = (uint32_t)n;
	msg.out.error = error;
	msg.out.unique = 2;
	return &msg;
}

/* ---- proto_check_request */

Test(check_request, valid_read)
{
	struct fuse_read_in *r;

	request(FUSE_READ, 80);
	r = args();
	r->size = 4096;
	cr_assert_eq(proto_check_request(&msg, 80), 0);
	r->size = 0;
	cr_assert_eq(proto_check_request(&msg, 80), 0);
	r->size = CUSESHIM_MAX_PAYLOAD;
	cr_assert_eq(proto_check_request(&msg, 80), 0);
}

Test(check_request, valid_write)
{
	struct fuse_write_in *w;

	request(FUSE_WRITE, 80 + 100);
	w = args();
	w->size = 100;
	cr_assert_eq(proto_check_request(&msg, 180), 0);

	request(FUSE_WRITE, 80);
	cr_assert_eq(proto_check_request(&msg, 80), 0, "an empty WRITE is well-formed");

	request(FUSE_WRITE, 80 + CUSESHIM_MAX_PAYLOAD);
	w = args();
	w->size = CUSESHIM_MAX_PAYLOAD;
	cr_assert_eq(proto_check_request(&msg, 80 + CUSESHIM_MAX_PAYLOAD), 0);
}

Test(check_request, valid_shim_ops)
{
	request(CUSESHIM_OP_HELLO, 40 + 16);
	cr_assert_eq(proto_check_request(&msg, 56), 0);
	request(CUSESHIM_OP_OPEN, 40 + 24);
	cr_assert_eq(proto_check_request(&msg, 64), 0);
	request(CUSESHIM_OP_ATTACH, 40);
	cr_assert_eq(proto_check_request(&msg, 40), 0);
	request(CUSESHIM_OP_CLOSED, 40 + 8);
	cr_assert_eq(proto_check_request(&msg, 48), 0);
}

Test(check_request, valid_other_fuse_ops)
{
	request(FUSE_OPEN, 40 + 8);
	cr_assert_eq(proto_check_request(&msg, 48), 0);
	request(FUSE_RELEASE, 40 + 24);
	cr_assert_eq(proto_check_request(&msg, 64), 0);
	request(FUSE_INTERRUPT, 40 + 8);
	msg.in.unique = 7; /* target 6, odd like the kernel's */
	((struct fuse_interrupt_in *)args())->unique = 6;
	cr_assert_eq(proto_check_request(&msg, 48), 0);
	request(FUSE_POLL, 40 + 24);
	cr_assert_eq(proto_check_request(&msg, 64), 0);
	request(FUSE_IOCTL, 40 + 32);
	cr_assert_eq(proto_check_request(&msg, 72), 0);
	request(FUSE_IOCTL, 40 + 32 + 64);
	((struct fuse_ioctl_in *)args())->in_size = 64;
	cr_assert_eq(proto_check_request(&msg, 136), 0, "IOCTL carries input data");
}

Test(check_request, ioctl_in_size_must_match)
{
	struct fuse_ioctl_in *ii;

	request(FUSE_IOCTL, 40 + 32 + 64);
	ii = args();
	ii->in_size = 63;
	cr_assert_eq(proto_check_request(&msg, 136), -EPROTO);
	ii->in_size = 64;
	ii->out_size = CUSESHIM_MAX_PAYLOAD + 1;
	cr_assert_eq(proto_check_request(&msg, 136), -EPROTO, "out_size over 128 KiB");
	request(FUSE_IOCTL, 40 + 32);
	cr_assert_eq(proto_check_request(&msg, 72), 0);
	((struct fuse_ioctl_in *)args())->in_size = 8;
	cr_assert_eq(proto_check_request(&msg, 72), -EPROTO, "in_size without the data");
}

Test(check_request, interrupt_unique_is_target_or_one)
{
	request(FUSE_INTERRUPT, 48);
	msg.in.unique = 9;
	((struct fuse_interrupt_in *)args())->unique = 6;
	cr_assert_eq(proto_check_request(&msg, 48), -EPROTO);
}

Test(check_request, shorter_than_header)
{
	request(CUSESHIM_OP_ATTACH, 40);
	cr_assert_eq(proto_check_request(&msg, 0), -EPROTO);
	cr_assert_eq(proto_check_request(&msg, 4), -EPROTO);
	cr_assert_eq(proto_check_request(&msg, 39), -EPROTO);
	request(CUSESHIM_OP_ATTACH, 39);
	cr_assert_eq(proto_check_request(&msg, 39), -EPROTO);
}

Test(check_request, header_len_differs_from_datagram)
{
	request(CUSESHIM_OP_CLOSED, 48);
	msg.in.len = 47;
	cr_assert_eq(proto_check_request(&msg, 48), -EPROTO);
	msg.in.len = 49;
	cr_assert_eq(proto_check_request(&msg, 48), -EPROTO);
	msg.in.len = 0;
	cr_assert_eq(proto_check_request(&msg, 48), -EPROTO);
	msg.in.len = UINT32_MAX;
	cr_assert_eq(proto_check_request(&msg, 48), -EPROTO);
}

Test(check_request, unknown_opcode)
{
	static const uint32_t bad[] = {
		0,
		FUSE_LOOKUP,
		FUSE_FLUSH,
		FUSE_FSYNC,
		FUSE_DESTROY,
		FUSE_POLL + 1,
		CUSE_INIT, /* never travels on our sockets */
		CUSESHIM_OP_HELLO - 1,
		CUSESHIM_OP_PLOCK + 1,
		0x80000000u,
		UINT32_MAX,
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		/* Generous sizes: only the opcode is wrong. */
		request(bad[i], 40);
		cr_assert_eq(proto_check_request(&msg, 40), -EPROTO, "opcode %#x accepted", bad[i]);
		request(bad[i], 40 + 64);
		cr_assert_eq(proto_check_request(&msg, 104), -EPROTO, "opcode %#x accepted",
			     bad[i]);
	}
}

Test(check_request, args_too_short)
{
	request(FUSE_READ, 40 + 39);
	cr_assert_eq(proto_check_request(&msg, 79), -EPROTO);
	request(FUSE_READ, 40);
	cr_assert_eq(proto_check_request(&msg, 40), -EPROTO);
	request(FUSE_WRITE, 40 + 39);
	cr_assert_eq(proto_check_request(&msg, 79), -EPROTO);
	request(FUSE_IOCTL, 40 + 31);
	cr_assert_eq(proto_check_request(&msg, 71), -EPROTO);
	request(CUSESHIM_OP_HELLO, 40 + 15);
	cr_assert_eq(proto_check_request(&msg, 55), -EPROTO);
	request(CUSESHIM_OP_OPEN, 40 + 16);
	cr_assert_eq(proto_check_request(&msg, 56), -EPROTO);
	request(CUSESHIM_OP_CLOSED, 40 + 7);
	cr_assert_eq(proto_check_request(&msg, 47), -EPROTO);
	request(FUSE_RELEASE, 40 + 23);
	cr_assert_eq(proto_check_request(&msg, 63), -EPROTO);
	request(FUSE_POLL, 40);
	cr_assert_eq(proto_check_request(&msg, 40), -EPROTO);
}

Test(check_request, extra_bytes_on_fixed_size_op)
{
	request(FUSE_READ, 40 + 40 + 1);
	cr_assert_eq(proto_check_request(&msg, 81), -EPROTO);
	request(CUSESHIM_OP_ATTACH, 41);
	cr_assert_eq(proto_check_request(&msg, 41), -EPROTO);
	request(CUSESHIM_OP_HELLO, 40 + 16 + 8);
	cr_assert_eq(proto_check_request(&msg, 64), -EPROTO);
	request(CUSESHIM_OP_OPEN, 40 + 24 + 1);
	cr_assert_eq(proto_check_request(&msg, 65), -EPROTO);
	request(CUSESHIM_OP_CLOSED, 40 + 16);
	cr_assert_eq(proto_check_request(&msg, 56), -EPROTO);
	request(FUSE_OPEN, 40 + 16);
	cr_assert_eq(proto_check_request(&msg, 56), -EPROTO);
	request(FUSE_RELEASE, 40 + 32);
	cr_assert_eq(proto_check_request(&msg, 72), -EPROTO);
	request(FUSE_INTERRUPT, 40 + 9);
	cr_assert_eq(proto_check_request(&msg, 49), -EPROTO);
	request(FUSE_POLL, 40 + 25);
	cr_assert_eq(proto_check_request(&msg, 65), -EPROTO);
}

Test(check_request, write_size_disagrees_with_payload)
{
	struct fuse_write_in *w;

	request(FUSE_WRITE, 180);
	w = args();
	w->size = 99;
	cr_assert_eq(proto_check_request(&msg, 180), -EPROTO);
	w->size = 101;
	cr_assert_eq(proto_check_request(&msg, 180), -EPROTO);
	w->size = 0;
	cr_assert_eq(proto_check_request(&msg, 180), -EPROTO);
	w->size = UINT32_MAX;
	cr_assert_eq(proto_check_request(&msg, 180), -EPROTO);

	request(FUSE_WRITE, 80);
	w = args();
	w->size = 1;
	cr_assert_eq(proto_check_request(&msg, 80), -EPROTO, "size 1 without payload");
}

Test(check_request, write_payload_over_max)
{
	struct fuse_write_in *w;
	size_t n = 80 + CUSESHIM_MAX_PAYLOAD + 1;

	cr_assert_leq(n, CUSESHIM_MAX_MSG, "the datagram itself is within the limit");
	request(FUSE_WRITE, n);
	w = args();
	w->size = CUSESHIM_MAX_PAYLOAD + 1;
	cr_assert_eq(proto_check_request(&msg, n), -EPROTO);
}

Test(check_request, read_asking_more_than_max)
{
	struct fuse_read_in *r;

	request(FUSE_READ, 80);
	r = args();
	r->size = CUSESHIM_MAX_PAYLOAD + 1;
	cr_assert_eq(proto_check_request(&msg, 80), -EPROTO);
	r->size = UINT32_MAX;
	cr_assert_eq(proto_check_request(&msg, 80), -EPROTO);
}

Test(check_request, larger_than_max_msg)
{
	/* IOCTL input data: at most 128 KiB, and never past the datagram
	 * limit. */
	request(FUSE_IOCTL, 72 + CUSESHIM_MAX_PAYLOAD);
	((struct fuse_ioctl_in *)args())->in_size = CUSESHIM_MAX_PAYLOAD;
	cr_assert_eq(proto_check_request(&msg, 72 + CUSESHIM_MAX_PAYLOAD), 0);
	request(FUSE_IOCTL, 72 + CUSESHIM_MAX_PAYLOAD + 1);
	((struct fuse_ioctl_in *)args())->in_size = CUSESHIM_MAX_PAYLOAD + 1;
	cr_assert_eq(proto_check_request(&msg, 72 + CUSESHIM_MAX_PAYLOAD + 1), -EPROTO);
	request(FUSE_IOCTL, CUSESHIM_MAX_MSG + 1);
	cr_assert_eq(proto_check_request(&msg, CUSESHIM_MAX_MSG + 1), -EPROTO);

	request(FUSE_WRITE, CUSESHIM_MAX_MSG + 1);
	((struct fuse_write_in *)args())->size = CUSESHIM_MAX_MSG + 1 - 80;
	cr_assert_eq(proto_check_request(&msg, CUSESHIM_MAX_MSG + 1), -EPROTO);
}

/* ---- proto_reply_take: a datagram received as header (16 bytes), fixed
 * out struct and payload, for the caller waiting for request 42 */

static enum proto_reply take(int32_t error, uint64_t unique, uint32_t len, size_t n, bool trunc,
			     size_t out_size, long *result)
{
	struct fuse_out_header h = {.len = len, .error = error, .unique = unique};

	*result = 12345;
	return proto_reply_take(&h, n, trunc, 42, out_size, result);
}

Test(reply_take, answers)
{
	long r;

	cr_assert_eq(take(0, 42, 16 + 8 + 100, 124, false, 8, &r), PROTO_REPLY_DONE);
	cr_assert_eq(r, 100, "the payload length");
	cr_assert_eq(take(0, 42, 16, 16, false, 0, &r), PROTO_REPLY_DONE);
	cr_assert_eq(r, 0);
	cr_assert_eq(take(-ENOTTY, 42, 16, 16, false, 8, &r), PROTO_REPLY_DONE);
	cr_assert_eq(r, -ENOTTY, "the driver's error");
}

Test(reply_take, bad_answers_are_eio)
{
	long r;

	cr_assert_eq(take(0, 42, 16 + 4, 20, false, 8, &r), PROTO_REPLY_DONE);
	cr_assert_eq(r, -EIO, "shorter than the fixed out struct");
	cr_assert_eq(take(-EIO, 42, 16 + 1, 17, false, 0, &r), PROTO_REPLY_DONE);
	cr_assert_eq(r, -EIO, "an error with a body");
	cr_assert_eq(take(1, 42, 16, 16, false, 0, &r), PROTO_REPLY_DONE);
	cr_assert_eq(r, -EIO, "a positive error");
	cr_assert_eq(take(-1000, 42, 16, 16, false, 0, &r), PROTO_REPLY_DONE);
	cr_assert_eq(r, -EIO, "an error out of range");
	cr_assert_eq(take(-999, 42, 16, 16, false, 0, &r), PROTO_REPLY_DONE);
	cr_assert_eq(r, -999, "the last error in range");
	cr_assert_eq(take(0, 42, 16 + 8 + 5000, 16 + 8 + 4096, true, 8, &r), PROTO_REPLY_DONE);
	cr_assert_eq(r, -EIO, "longer than the caller's buffers");
}

Test(reply_take, wakeups_and_late_replies_are_skipped)
{
	long r;

	cr_assert_eq(take(FUSE_NOTIFY_POLL, 0, 24, 24, false, 8, &r), PROTO_REPLY_NOTIFY);
	cr_assert_eq(take(0, 40, 16 + 8, 24, false, 8, &r), PROTO_REPLY_LATE);
	cr_assert_eq(take(-EINTR, 41, 16, 16, false, 8, &r), PROTO_REPLY_LATE);
	cr_assert_eq(take(0, 40, 16 + 8 + 9000, 16 + 8 + 4096, true, 8, &r), PROTO_REPLY_LATE,
		     "another request's answer, cut");
	cr_assert_eq(take(0, 0, 16, 16, false, 0, &r), PROTO_REPLY_LATE,
		     "unique 0 that is no wakeup");
}

Test(reply_take, garbage_breaks_the_connection)
{
	long r;

	cr_assert_eq(take(0, 42, 16, 15, false, 0, &r), PROTO_REPLY_BROKEN, "short of a header");
	cr_assert_eq(r, -EIO);
	cr_assert_eq(take(0, 42, 16, 0, false, 0, &r), PROTO_REPLY_BROKEN, "empty");
	cr_assert_eq(take(0, 42, 16, 15, true, 0, &r), PROTO_REPLY_BROKEN, "cut short of a header");
	cr_assert_eq(take(0, 42, 99, 24, false, 8, &r), PROTO_REPLY_BROKEN,
		     "len disagrees, not cut");
	cr_assert_eq(take(0, 40, 10, 24, false, 8, &r), PROTO_REPLY_BROKEN,
		     "len disagrees on another unique");
}

/* ---- proto_check_reply */

Test(check_reply, error_reply_header_only)
{
	reply(-ENOENT, 16);
	cr_assert_eq(proto_check_reply(&msg, 16, FUSE_READ, 4096), 0);
	cr_assert_eq(proto_check_reply(&msg, 16, FUSE_WRITE, 0), 0);
	cr_assert_eq(proto_check_reply(&msg, 16, CUSESHIM_OP_HELLO, 0), 0);
	cr_assert_eq(proto_check_reply(&msg, 16, FUSE_IOCTL, 4096), 0);

	reply(-EIO, 16 + 8);
	cr_assert_eq(proto_check_reply(&msg, 24, FUSE_WRITE, 0), -EPROTO,
		     "an error reply with an out struct");
	reply(-EIO, 16 + 1);
	cr_assert_eq(proto_check_reply(&msg, 17, FUSE_READ, 4096), -EPROTO,
		     "an error reply with payload");
}

Test(check_reply, error_range)
{
	reply(-1, 16);
	cr_assert_eq(proto_check_reply(&msg, 16, FUSE_READ, 0), 0);
	reply(-999, 16);
	cr_assert_eq(proto_check_reply(&msg, 16, FUSE_READ, 0), 0);
	reply(-1000, 16);
	cr_assert_eq(proto_check_reply(&msg, 16, FUSE_READ, 0), -EPROTO);
	reply(-1001, 16);
	cr_assert_eq(proto_check_reply(&msg, 16, FUSE_READ, 0), -EPROTO);
	reply(INT32_MIN, 16);
	cr_assert_eq(proto_check_reply(&msg, 16, FUSE_READ, 0), -EPROTO);
	reply(1, 16);
	cr_assert_eq(proto_check_reply(&msg, 16, FUSE_READ, 0), -EPROTO);
	reply(EIO, 16);
	cr_assert_eq(proto_check_reply(&msg, 16, FUSE_READ, 0), -EPROTO);
	reply(INT32_MAX, 16);
	cr_assert_eq(proto_check_reply(&msg, 16, FUSE_READ, 0), -EPROTO);
}

Test(check_reply, success_needs_the_fixed_out_struct)
{
	reply(0, 16 + 8);
	cr_assert_eq(proto_check_reply(&msg, 24, FUSE_WRITE, 0), 0);
	reply(0, 16 + 7);
	cr_assert_eq(proto_check_reply(&msg, 23, FUSE_WRITE, 0), -EPROTO);
	reply(0, 16);
	cr_assert_eq(proto_check_reply(&msg, 16, FUSE_WRITE, 0), -EPROTO);

	reply(0, 16 + 32);
	cr_assert_eq(proto_check_reply(&msg, 48, CUSESHIM_OP_HELLO, 0), 0);
	reply(0, 16 + 31);
	cr_assert_eq(proto_check_reply(&msg, 47, CUSESHIM_OP_HELLO, 0), -EPROTO);

	reply(0, 16 + 32);
	cr_assert_eq(proto_check_reply(&msg, 48, CUSESHIM_OP_OPEN, 0), 0);
	reply(0, 16);
	cr_assert_eq(proto_check_reply(&msg, 16, CUSESHIM_OP_OPEN, 0), -EPROTO);

	reply(0, 16 + 16);
	cr_assert_eq(proto_check_reply(&msg, 32, CUSESHIM_OP_ATTACH, 0), 0);
	reply(0, 16 + 15);
	cr_assert_eq(proto_check_reply(&msg, 31, CUSESHIM_OP_ATTACH, 0), -EPROTO);

	reply(0, 16 + 16);
	cr_assert_eq(proto_check_reply(&msg, 32, FUSE_OPEN, 0), 0);
	reply(0, 16 + 16);
	cr_assert_eq(proto_check_reply(&msg, 32, FUSE_IOCTL, 0), 0);
	reply(0, 16 + 12);
	cr_assert_eq(proto_check_reply(&msg, 28, FUSE_IOCTL, 0), -EPROTO);
	reply(0, 16 + 8);
	cr_assert_eq(proto_check_reply(&msg, 24, FUSE_POLL, 0), 0);
	reply(0, 16 + 4);
	cr_assert_eq(proto_check_reply(&msg, 20, FUSE_POLL, 0), -EPROTO);

	/* Header-only successes. */
	reply(0, 16);
	cr_assert_eq(proto_check_reply(&msg, 16, FUSE_READ, 4096), 0, "EOF");
	cr_assert_eq(proto_check_reply(&msg, 16, CUSESHIM_OP_CLOSED, 0), 0);
	cr_assert_eq(proto_check_reply(&msg, 16, FUSE_RELEASE, 0), 0);
}

Test(check_reply, payload_over_max)
{
	reply(0, 16 + 4096);
	cr_assert_eq(proto_check_reply(&msg, 16 + 4096, FUSE_READ, 4096), 0);
	cr_assert_eq(proto_check_reply(&msg, 16 + 4096, FUSE_READ, 4095), -EPROTO);
	cr_assert_eq(proto_check_reply(&msg, 16 + 4096, FUSE_READ, 0), -EPROTO);

	reply(0, 16 + 16 + 100);
	cr_assert_eq(proto_check_reply(&msg, 132, FUSE_IOCTL, 100), 0);
	cr_assert_eq(proto_check_reply(&msg, 132, FUSE_IOCTL, 99), -EPROTO);

	reply(0, 16 + 8 + 1);
	cr_assert_eq(proto_check_reply(&msg, 25, FUSE_WRITE, 0), -EPROTO);
	reply(0, 16 + 32 + 1);
	cr_assert_eq(proto_check_reply(&msg, 49, CUSESHIM_OP_HELLO, 0), -EPROTO);
	reply(0, 16 + 1);
	cr_assert_eq(proto_check_reply(&msg, 17, CUSESHIM_OP_CLOSED, 0), -EPROTO);

	reply(0, 16 + CUSESHIM_MAX_PAYLOAD);
	cr_assert_eq(
		proto_check_reply(&msg, 16 + CUSESHIM_MAX_PAYLOAD, FUSE_READ, CUSESHIM_MAX_PAYLOAD),
		0);
}

Test(check_reply, len_differs_from_datagram)
{
	reply(0, 16);
	cr_assert_eq(proto_check_reply(&msg, 17, FUSE_READ, 4096), -EPROTO);
	reply(0, 17);
	cr_assert_eq(proto_check_reply(&msg, 16, FUSE_READ, 4096), -EPROTO);
	reply(-EIO, 0);
	cr_assert_eq(proto_check_reply(&msg, 16, FUSE_READ, 4096), -EPROTO);
	reply(0, 24);
	cr_assert_eq(proto_check_reply(&msg, 32, FUSE_WRITE, 8), -EPROTO);
}

Test(check_reply, shorter_than_header)
{
	reply(0, 15);
	cr_assert_eq(proto_check_reply(&msg, 15, FUSE_READ, 4096), -EPROTO);
	reply(0, 0);
	cr_assert_eq(proto_check_reply(&msg, 0, FUSE_READ, 4096), -EPROTO);
}

Test(check_reply, unknown_opcode)
{
	reply(0, 16);
	cr_assert_eq(proto_check_reply(&msg, 16, 0, 4096), -EPROTO);
	cr_assert_eq(proto_check_reply(&msg, 16, FUSE_LOOKUP, 4096), -EPROTO);
	cr_assert_eq(proto_check_reply(&msg, 16, CUSESHIM_OP_CLOSED + 1, 4096), -EPROTO);
	reply(-EIO, 16);
	cr_assert_eq(proto_check_reply(&msg, 16, UINT32_MAX, 4096), -EPROTO);
}

/* ---- opcode table */

struct op_expect {
	uint32_t opcode;
	long in, out;
	const char *name;
};

/* Sizes from <linux/fuse.h> (reference section c) and cuseshim_proto.h. */
static const struct op_expect ops[] = {
	{FUSE_OPEN, 8, 16, "OPEN"},
	{FUSE_READ, 40, 0, "READ"},
	{FUSE_WRITE, 40, 8, "WRITE"},
	{FUSE_RELEASE, 24, 0, "RELEASE"},
	{FUSE_INTERRUPT, 8, 0, "INTERRUPT"},
	{FUSE_IOCTL, 32, 16, "IOCTL"},
	{FUSE_POLL, 24, 8, "POLL"},
	{CUSESHIM_OP_HELLO, 16, 32, "HELLO"},
	{CUSESHIM_OP_OPEN, 24, 32, "SHIM_OPEN"},
	{CUSESHIM_OP_ATTACH, 0, 16, "ATTACH"},
	{CUSESHIM_OP_CLOSED, 8, 0, "CLOSED"},
	{CUSESHIM_OP_RING, 0, 0, "RING"},
	{CUSESHIM_OP_FLOCK, 8, 0, "FLOCK"},
	{CUSESHIM_OP_SETFL, 8, 0, "SETFL"},
	{CUSESHIM_OP_PLOCK, 32, 24, "PLOCK"},
};

Test(opcodes, opcode_values)
{
	cr_assert_eq(FUSE_OPEN, 14);
	cr_assert_eq(FUSE_READ, 15);
	cr_assert_eq(FUSE_WRITE, 16);
	cr_assert_eq(FUSE_RELEASE, 18);
	cr_assert_eq(FUSE_INTERRUPT, 36);
	cr_assert_eq(FUSE_IOCTL, 39);
	cr_assert_eq(FUSE_POLL, 40);
	cr_assert_eq(CUSE_INIT, 4096);
}

Test(opcodes, known)
{
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		cr_assert_eq(proto_in_arg_size(ops[i].opcode), ops[i].in, "%s in", ops[i].name);
		cr_assert_eq(proto_out_arg_size(ops[i].opcode), ops[i].out, "%s out", ops[i].name);
		cr_assert_str_eq(proto_opname(ops[i].opcode), ops[i].name);
	}
}

Test(opcodes, unknown)
{
	static const uint32_t bad[] = {
		0,
		FUSE_LOOKUP,
		FUSE_FLUSH,
		FUSE_POLL + 1,
		1000,
		CUSESHIM_OP_HELLO - 1,
		CUSESHIM_OP_PLOCK + 1,
		0x7fffffffu,
		UINT32_MAX,
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_assert_eq(proto_in_arg_size(bad[i]), -1, "%#x", bad[i]);
		cr_assert_eq(proto_out_arg_size(bad[i]), -1, "%#x", bad[i]);
		cr_assert_str_eq(proto_opname(bad[i]), "UNKNOWN", "%#x", bad[i]);
	}
	/* CUSE_INIT has a name for logs but is not carried. */
	cr_assert_str_eq(proto_opname(CUSE_INIT), "CUSE_INIT");
	cr_assert_eq(proto_in_arg_size(CUSE_INIT), -1);
	cr_assert_eq(proto_out_arg_size(CUSE_INIT), -1);
}

/* ---- registry_dir */

static void expect_dir(const char *cuse_dir, const char *xdg, uid_t uid, const char *want)
{
	char buf[256];

	memset(buf, 'X', sizeof(buf));
	cr_assert_eq(registry_dir(buf, sizeof(buf), cuse_dir, xdg, uid), 0, "CUSE_DIR=%s XDG=%s",
		     cuse_dir ? cuse_dir : "(unset)", xdg ? xdg : "(unset)");
	cr_assert_str_eq(buf, want, "CUSE_DIR=%s XDG=%s uid=%u", cuse_dir ? cuse_dir : "(unset)",
			 xdg ? xdg : "(unset)", (unsigned)uid);
}

Test(registry_dir, precedence)
{
	expect_dir("/srv/cuse", "/run/user/1000", 1000, "/srv/cuse");
	expect_dir("/srv/cuse", "/run/user/0", 0, "/srv/cuse");
	expect_dir("/srv/cuse", NULL, 0, "/srv/cuse");
	expect_dir(NULL, "/run/user/1000", 1000, "/run/user/1000/cuse");
	expect_dir("", "/run/user/1000", 1000, "/run/user/1000/cuse");
	expect_dir(NULL, "/run/user/0", 0, "/run/user/0/cuse");
	expect_dir(NULL, NULL, 0, "/run/cuse");
	expect_dir(NULL, NULL, 1000, "/tmp/cuse-1000");
	expect_dir("", "", 1000, "/tmp/cuse-1000");
	expect_dir(NULL, NULL, 4294967294u, "/tmp/cuse-4294967294");
}

Test(registry_dir, relative_xdg_ignored)
{
	expect_dir(NULL, "run/user/1000", 1000, "/tmp/cuse-1000");
	expect_dir(NULL, "./x", 0, "/run/cuse");
	expect_dir(NULL, "", 0, "/run/cuse");
}

Test(registry_dir, trailing_slashes_trimmed)
{
	expect_dir("/srv/cuse/", NULL, 1000, "/srv/cuse");
	expect_dir("/srv/cuse///", NULL, 1000, "/srv/cuse");
	expect_dir("/", NULL, 1000, "/");
	expect_dir("///", NULL, 1000, "/");
}

Test(registry_dir, too_long)
{
	char buf[16];

	cr_assert_eq(registry_dir(buf, 10, NULL, NULL, 0), 0);
	cr_assert_str_eq(buf, "/run/cuse");
	cr_assert_eq(registry_dir(buf, 9, NULL, NULL, 0), -ENAMETOOLONG);
	cr_assert_eq(registry_dir(buf, 1, NULL, NULL, 0), -ENAMETOOLONG);
	cr_assert_eq(registry_dir(buf, sizeof(buf), "/a/very/long/registry", NULL, 0),
		     -ENAMETOOLONG);
	cr_assert_eq(registry_dir(buf, sizeof(buf), NULL, "/run/user/1000", 0), -ENAMETOOLONG);
	cr_assert_eq(registry_dir(buf, 15, NULL, NULL, 1000), 0);
	cr_assert_str_eq(buf, "/tmp/cuse-1000");
	cr_assert_eq(registry_dir(buf, 14, NULL, NULL, 1000), -ENAMETOOLONG);
}

/* ---- registry_check_name */

static void expect_name_ok(const char *name)
{
	const char *why = "not cleared";

	cr_assert_eq(registry_check_name(name, &why), 0, "\"%s\" refused: %s", name,
		     why ? why : "(no reason)");
	cr_assert_null(why, "\"%s\" accepted but why = \"%s\"", name, why);
}

static void expect_name_bad(const char *name, const char *label)
{
	const char *why = NULL;

	cr_assert_eq(registry_check_name(name, &why), -EINVAL, "%s accepted", label);
	cr_assert_not_null(why, "%s refused without a reason", label);
	cr_assert_neq(why[0], '\0', "%s refused with an empty reason", label);
}

Test(check_name, accepted)
{
	expect_name_ok("foo");
	expect_name_ok("a/b");
	expect_name_ok("spdk/nvme0n1");
	expect_name_ok("x/y/z");
	expect_name_ok("a.b");
	expect_name_ok("b.");
	expect_name_ok("a/b..");
	expect_name_ok("snd/dsp-1_2:3");
}

Test(check_name, rejected)
{
	expect_name_bad("", "empty name");
	expect_name_bad("/x", "\"/x\"");
	expect_name_bad("x/", "\"x/\"");
	expect_name_bad("/", "\"/\"");
	expect_name_bad("a//b", "\"a//b\"");
	expect_name_bad(".", "\".\"");
	expect_name_bad("..", "\"..\"");
	expect_name_bad("a/../b", "\"a/../b\"");
	expect_name_bad("a/./b", "\"a/./b\"");
	expect_name_bad("../a", "\"../a\"");
	expect_name_bad("./a", "\"./a\"");
	expect_name_bad("a/..", "\"a/..\"");
}

/*
 * The registry keeps its own files beside the sockets: DIR/D/.B.attr and the
 * clients' bind paths DIR/D/.B.sock.  A device whose last component has that
 * form would collide with another device's files; any other leading dot is
 * a valid DEVNAME (the kernel accepts "/dev/.hidden").
 */
Test(check_name, registry_file_names_reserved)
{
	expect_name_bad(".b.attr", "\".b.attr\"");
	expect_name_bad("a/.b.attr", "\"a/.b.attr\"");
	expect_name_bad(".b.sock", "\".b.sock\"");
	expect_name_bad("spdk/.nvme0n1.sock", "\"spdk/.nvme0n1.sock\"");
	expect_name_ok(".hidden");
	expect_name_ok("a/.b");
	expect_name_ok(".b.attr/c");
	expect_name_ok("b.attr");
	expect_name_ok("b.sock");
}

Test(check_name, control_characters)
{
	expect_name_bad("a\001b", "\\001");
	expect_name_bad("a\nb", "newline");
	expect_name_bad("\tab", "tab");
	expect_name_bad("ab\x1f", "\\x1f");
	expect_name_bad("a\x7f", "DEL");
	expect_name_bad("dir\x1b/b", "ESC in a directory component");
	/* Bytes >= 0x80 are not control characters. */
	expect_name_ok("caf\xc3\xa9");
}

Test(check_name, length_limit)
{
	char name[260];
	const char *why = NULL;

	memset(name, 'n', 200);
	name[200] = '\0';
	expect_name_ok(name);
	name[100] = '/';
	expect_name_ok(name);
	memset(name, 'n', 201);
	name[201] = '\0';
	cr_assert_eq(registry_check_name(name, &why), -EINVAL);
	cr_assert_not_null(why);
	memset(name, 'n', 259);
	name[259] = '\0';
	expect_name_bad(name, "259 bytes");
}

/* ---- registry_paths */

/* ---- registry_node_name: where the kernel's devtmpfs puts a DEVNAME
 * (tests/oracle/raw_driver.sh asked the 6.1 kernel) */
static void node_name(const char *devname, const char *node, int dir_only)
{
	char buf[256];

	snprintf(buf, sizeof(buf), "%s", devname);
	cr_expect_eq(registry_node_name(buf), dir_only, "%s", devname);
	cr_expect_str_eq(buf, node, "%s", devname);
}

Test(node_name, as_devtmpfs_makes_it)
{
	node_name("foo", "foo", 0);
	node_name("sub/dir/name", "sub/dir/name", 0);
	node_name("/dev/odd1", "dev/odd1", 0); /* /dev/dev/odd1 */
	node_name("a//b", "a/b", 0);
	node_name("./x", "x", 0);
	node_name("a/./b", "a/b", 0);
	node_name("trailing/", "trailing", 1); /* the directory alone */
	node_name("a/b//", "a/b", 1);
	node_name("../x", "../x", 0); /* kept: registry_check_name refuses it */
}

Test(registry_paths, flat_name)
{
	char sock[108], attr[256];

	cr_assert_eq(registry_paths("/tmp/c", "foo", sock, sizeof(sock), attr, sizeof(attr)), 0);
	cr_assert_str_eq(sock, "/tmp/c/foo");
	cr_assert_str_eq(attr, "/tmp/c/.foo.attr");
}

Test(registry_paths, name_with_directory)
{
	char sock[108], attr[256];

	cr_assert_eq(registry_paths("/tmp/c", "a/b", sock, sizeof(sock), attr, sizeof(attr)), 0);
	cr_assert_str_eq(sock, "/tmp/c/a/b");
	cr_assert_str_eq(attr, "/tmp/c/a/.b.attr");

	cr_assert_eq(
		registry_paths("/run/cuse", "spdk/nvme0n1", sock, sizeof(sock), attr, sizeof(attr)),
		0);
	cr_assert_str_eq(sock, "/run/cuse/spdk/nvme0n1");
	cr_assert_str_eq(attr, "/run/cuse/spdk/.nvme0n1.attr");

	cr_assert_eq(registry_paths("/d", "x/y/z", sock, sizeof(sock), attr, sizeof(attr)), 0);
	cr_assert_str_eq(sock, "/d/x/y/z");
	cr_assert_str_eq(attr, "/d/x/y/.z.attr");
}

Test(registry_paths, socket_path_limit)
{
	char dir[128], sock[256], attr[256];

	/* dir (100) + "/" + name (6) = 107 bytes: the longest sun_path. */
	memset(dir, 'd', 100);
	dir[0] = '/';
	dir[100] = '\0';
	cr_assert_eq(registry_paths(dir, "abcdef", sock, sizeof(sock), attr, sizeof(attr)), 0);
	cr_assert_eq(strlen(sock), 107);
	/* 108 bytes does not fit with its NUL. */
	cr_assert_eq(registry_paths(dir, "abcdefg", sock, sizeof(sock), attr, sizeof(attr)),
		     -ENAMETOOLONG);
	cr_assert_eq(registry_paths(dir, "a/cdefg", sock, sizeof(sock), attr, sizeof(attr)),
		     -ENAMETOOLONG);
}

Test(registry_paths, small_buffers)
{
	char sock[108], attr[256];

	cr_assert_eq(registry_paths("/tmp/c", "foo", sock, 11, attr, sizeof(attr)), 0);
	cr_assert_eq(registry_paths("/tmp/c", "foo", sock, 10, attr, sizeof(attr)), -ENAMETOOLONG);
	cr_assert_eq(registry_paths("/tmp/c", "foo", sock, sizeof(sock), attr, 17), 0);
	cr_assert_str_eq(attr, "/tmp/c/.foo.attr");
	cr_assert_eq(registry_paths("/tmp/c", "foo", sock, sizeof(sock), attr, 16), -ENAMETOOLONG);
	cr_assert_eq(registry_paths("/tmp/c", "a/b", sock, sizeof(sock), attr, 16), -ENAMETOOLONG);
}

/* ---- attribute line */

static const struct registry_attr sample = {
	.version = 1,
	.major = 245,
	.minor = 3,
	.mode = 0660,
	.uid = 1000,
	.gid = 100,
	.pid = 4242,
	.flags = 1,
};

#define SAMPLE_LINE "version=1 major=245 minor=3 mode=0660 uid=1000 gid=100 pid=4242 flags=1\n"

static int parse(const char *s, struct registry_attr *a)
{
	return registry_parse_attr(s, strlen(s), a);
}

static void expect_attr_eq(const struct registry_attr *a, const struct registry_attr *b)
{
	cr_assert_eq(a->version, b->version);
	cr_assert_eq(a->major, b->major);
	cr_assert_eq(a->minor, b->minor);
	cr_assert_eq(a->mode, b->mode, "mode %o, expected %o", a->mode, b->mode);
	cr_assert_eq(a->uid, b->uid);
	cr_assert_eq(a->gid, b->gid);
	cr_assert_eq(a->pid, b->pid);
	cr_assert_eq(a->flags, b->flags);
}

Test(attr, format)
{
	char buf[REGISTRY_ATTR_MAX];
	struct registry_attr a = sample;

	cr_assert_eq(registry_format_attr(buf, sizeof(buf), &a), (int)strlen(SAMPLE_LINE));
	cr_assert_str_eq(buf, SAMPLE_LINE);

	/* Only permission bits are written; the version is always ours. */
	a.mode = 020644;
	a.version = 7;
	cr_assert_gt(registry_format_attr(buf, sizeof(buf), &a), 0);
	cr_assert_str_eq(
		buf, "version=1 major=245 minor=3 mode=0644 uid=1000 gid=100 pid=4242 flags=1\n");
}

Test(attr, format_too_small)
{
	char buf[REGISTRY_ATTR_MAX];
	size_t n = strlen(SAMPLE_LINE);

	cr_assert_eq(registry_format_attr(buf, n + 1, &sample), (int)n);
	cr_assert_eq(registry_format_attr(buf, n, &sample), -ENAMETOOLONG);
}

Test(attr, round_trip)
{
	struct registry_attr in[] = {
		sample,
		{.version = 1},
		{.version = 1,
		 .major = 4095,
		 .minor = 1048575,
		 .mode = 07777,
		 .uid = 4294967294u,
		 .gid = 4294967294u,
		 .pid = 4194304,
		 .flags = 1},
		{.version = 1, .major = 10, .minor = 203, .mode = 0600},
	};
	char buf[REGISTRY_ATTR_MAX];
	struct registry_attr out;

	for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
		int n = registry_format_attr(buf, sizeof(buf), &in[i]);

		cr_assert_gt(n, 0);
		memset(&out, 0xa5, sizeof(out));
		cr_assert_eq(registry_parse_attr(buf, (size_t)n, &out), 0, "%s", buf);
		expect_attr_eq(&out, &in[i]);
	}
}

/* @n bounds the text: nothing after it is read, no NUL needed. */
Test(attr, parse_uses_n)
{
	char buf[REGISTRY_ATTR_MAX];
	struct registry_attr a;
	size_t n = strlen(SAMPLE_LINE);

	memset(buf, 'Z', sizeof(buf));
	memcpy(buf, SAMPLE_LINE, n);
	cr_assert_eq(registry_parse_attr(buf, n, &a), 0);
	expect_attr_eq(&a, &sample);
}

Test(attr, mode_is_octal)
{
	struct registry_attr a;

	cr_assert_eq(parse("version=1 major=1 minor=2 mode=755 uid=0 gid=0 pid=1 flags=0\n", &a),
		     0);
	cr_assert_eq(a.mode, 0755, "mode %o", a.mode);
	cr_assert_eq(parse("version=1 major=1 minor=2 mode=0644 uid=0 gid=0 pid=1 flags=0\n", &a),
		     0);
	cr_assert_eq(a.mode, 0644, "mode %o", a.mode);
	cr_assert_eq(parse("version=1 major=1 minor=2 mode=0 uid=0 gid=0 pid=1 flags=0\n", &a), 0);
	cr_assert_eq(a.mode, 0);
	/* Not decimal: 10 means 010. */
	cr_assert_eq(parse("version=1 major=10 minor=2 mode=10 uid=0 gid=0 pid=1 flags=0\n", &a),
		     0);
	cr_assert_eq(a.mode, 010);
	cr_assert_eq(a.major, 10, "other keys stay decimal");
	/* Only permission bits are kept. */
	cr_assert_eq(parse("version=1 major=1 minor=2 mode=020644 uid=0 gid=0 pid=1 flags=0\n", &a),
		     0);
	cr_assert_eq(a.mode, 0644, "mode %o", a.mode);
	/* 8 and 9 are not octal digits. */
	cr_assert_eq(parse("version=1 major=1 minor=2 mode=0648 uid=0 gid=0 pid=1 flags=0\n", &a),
		     -EINVAL);
	cr_assert_eq(parse("version=1 major=1 minor=2 mode=9 uid=0 gid=0 pid=1 flags=0\n", &a),
		     -EINVAL);
}

Test(attr, missing_keys)
{
	static const char *const keys[] = {"version", "major", "minor", "mode",
					   "uid",     "gid",   "pid",	"flags"};
	struct registry_attr a;

	for (size_t k = 0; k < 8; k++) {
		char line[REGISTRY_ATTR_MAX] = "";

		for (size_t i = 0; i < 8; i++)
			if (i != k)
				snprintf(line + strlen(line), sizeof(line) - strlen(line), "%s=1 ",
					 keys[i]);
		strcat(line, "\n");
		cr_assert_eq(parse(line, &a), -EINVAL, "accepted without %s: %s", keys[k], line);
	}
	cr_assert_eq(parse("\n", &a), -EINVAL);
	cr_assert_eq(parse(" \n", &a), -EINVAL);
}

Test(attr, needs_trailing_newline)
{
	struct registry_attr a;
	const size_t n = strlen(SAMPLE_LINE);

	cr_assert_eq(registry_parse_attr(SAMPLE_LINE, n, &a), 0);
	cr_assert_eq(registry_parse_attr(SAMPLE_LINE, n - 1, &a), -EINVAL, "no newline");
	cr_assert_eq(registry_parse_attr(SAMPLE_LINE, n - 2, &a), -EINVAL, "cut inside flags");
	cr_assert_eq(registry_parse_attr(SAMPLE_LINE, 0, &a), -EINVAL);
	cr_assert_eq(registry_parse_attr("", 0, &a), -EINVAL);
}

Test(attr, too_long)
{
	char line[REGISTRY_ATTR_MAX + 16];
	struct registry_attr a;
	size_t n = strlen(SAMPLE_LINE);

	/* Pad with spaces before the newline up to REGISTRY_ATTR_MAX bytes. */
	memcpy(line, SAMPLE_LINE, n - 1);
	memset(line + n - 1, ' ', sizeof(line) - n);
	line[REGISTRY_ATTR_MAX - 2] = '\n';
	cr_assert_eq(registry_parse_attr(line, REGISTRY_ATTR_MAX - 1, &a), 0);
	line[REGISTRY_ATTR_MAX - 2] = ' ';
	line[REGISTRY_ATTR_MAX - 1] = '\n';
	cr_assert_eq(registry_parse_attr(line, REGISTRY_ATTR_MAX, &a), -EINVAL);
}

Test(attr, junk_values)
{
	static const char *const bad[] = {
		"version=1 major=abc minor=3 mode=0660 uid=1000 gid=100 pid=4242 flags=1\n",
		"version=1 major=12x minor=3 mode=0660 uid=1000 gid=100 pid=4242 flags=1\n",
		"version=1 major= minor=3 mode=0660 uid=1000 gid=100 pid=4242 flags=1\n",
		"version=1 major=0x10 minor=3 mode=0660 uid=1000 gid=100 pid=4242 flags=1\n",
		"version=1 major=245 minor=3 mode=rw uid=1000 gid=100 pid=4242 flags=1\n",
		"version=1 major=245 minor=3 mode=0660 uid=1000 gid=100 pid=4242 flags=1x\n",
		"version=1 major=245 minor=3 mode=0660 uid=1000 gid=100 pid=4242 flags=1\r\n",
		"version=1 major=245=1 minor=3 mode=0660 uid=1000 gid=100 pid=4242 flags=1\n",
		"version=x major=245 minor=3 mode=0660 uid=1000 gid=100 pid=4242 flags=1\n",
		"version=1 major=99999999999999999999999 minor=3 mode=0660 uid=1000 gid=100 pid=1 "
		"flags=1\n",
	};
	struct registry_attr a;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_eq(parse(bad[i], &a), -EINVAL, "accepted: %s", bad[i]);
}

Test(attr, empty_key_or_no_equals)
{
	struct registry_attr a;

	cr_assert_eq(
		parse("version=1 major=245 minor=3 mode=0660 uid=1000 gid=100 pid=4242 flags=1 "
		      "=5\n",
		      &a),
		-EINVAL);
	cr_assert_eq(parse("=1 version=1 major=245 minor=3 mode=0660 uid=1000 gid=100 pid=4242 "
			   "flags=1\n",
			   &a),
		     -EINVAL);
	cr_assert_eq(
		parse("version=1 major=245 minor=3 mode=0660 uid=1000 gid=100 pid=4242 flags=1 "
		      "extra\n",
		      &a),
		-EINVAL);
}

Test(attr, version_zero)
{
	struct registry_attr a;

	cr_assert_eq(parse("version=0 major=245 minor=3 mode=0660 uid=1000 gid=100 pid=4242 "
			   "flags=1\n",
			   &a),
		     -EINVAL);
}

Test(attr, unknown_keys_ignored)
{
	struct registry_attr a;

	cr_assert_eq(parse("version=2 major=245 minor=3 colour=7 mode=0660 uid=1000 gid=100 "
			   "pid=4242 flags=1 epoch=123\n",
			   &a),
		     0);
	cr_assert_eq(a.version, 2, "a newer writer's version is accepted");
	cr_assert_eq(a.major, 245);
	cr_assert_eq(a.minor, 3);
	cr_assert_eq(a.mode, 0660);
	cr_assert_eq(a.flags, 1);
	/* Keys that merely share a prefix with ours are other keys. */
	cr_assert_eq(
		parse("version=1 major=245 minor=3 mode=0660 uid=1000 gid=100 pid=4242 flags=1 "
		      "majors=9 mod=7\n",
		      &a),
		0);
	cr_assert_eq(a.major, 245);
	cr_assert_eq(a.mode, 0660);
}

Test(attr, any_order_and_spacing)
{
	struct registry_attr a;

	cr_assert_eq(parse("  flags=1 pid=4242  gid=100 uid=1000 mode=0660 minor=3 major=245 "
			   "version=1 \n",
			   &a),
		     0);
	expect_attr_eq(&a, &sample);
}

/*
 * Values a writer using registry_format_attr can never produce and that do
 * not fit the field.  strtoul() accepts a minus sign and wraps "-1" to
 * ULONG_MAX, and values above 32 bits are truncated into the unsigned fields
 * (uid=4294967296 would read as uid 0).
 */
Test(attr, out_of_range_values)
{
	static const char *const bad[] = {
		"version=1 major=-1 minor=3 mode=0660 uid=1000 gid=100 pid=4242 flags=1\n",
		"version=1 major=245 minor=3 mode=0660 uid=-2 gid=100 pid=4242 flags=1\n",
		"version=1 major=245 minor=3 mode=0660 uid=4294967296 gid=100 pid=4242 flags=1\n",
	};
	struct registry_attr a;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_expect_eq(parse(bad[i], &a), -EINVAL, "accepted: %s(uid=%u major=%u flags=%u)",
			     bad[i], (unsigned)a.uid, a.major, a.flags);
}

/* ---- registry_normalize */

static void expect_norm(const char *path, const char *want)
{
	char out[256];
	int n;

	memset(out, 'X', sizeof(out));
	n = registry_normalize(path, out, sizeof(out));
	cr_assert_eq(n, (int)strlen(want), "\"%s\" -> %d, expected \"%s\"", path, n, want);
	cr_assert_str_eq(out, want, "\"%s\"", path);
}

Test(normalize, basic)
{
	expect_norm("/dev/foo", "/dev/foo");
	expect_norm("//dev/./foo", "/dev/foo");
	expect_norm("/dev//foo", "/dev/foo");
	expect_norm("/./dev/foo", "/dev/foo");
	expect_norm("/", "/");
	expect_norm("//", "/");
	expect_norm("/.", "/");
	expect_norm("/dev/spdk/nvme0n1", "/dev/spdk/nvme0n1");
	expect_norm("/dev/.hidden", "/dev/.hidden");
	expect_norm("/dev/...", "/dev/...");
}

Test(normalize, dotdot)
{
	expect_norm("/dev/x/../y", "/dev/y");
	expect_norm("/..", "/");
	expect_norm("/../..", "/");
	expect_norm("/../dev/foo", "/dev/foo");
	expect_norm("/a/b/../../..", "/");
	expect_norm("/a/b/c/../../d", "/a/d");
	expect_norm("/dev/..foo", "/dev/..foo");
	expect_norm("/dev/foo..", "/dev/foo..");
	expect_norm("/usr/../dev/./spdk//../foo", "/dev/foo");
}

/* A trailing slash names a directory, so the result never equals a device
 * path: open("/dev/foo/") is ENOTDIR on the real kernel. */
Test(normalize, trailing_slash_kept)
{
	expect_norm("/dev/foo/", "/dev/foo/");
	expect_norm("/dev/foo//", "/dev/foo/");
	expect_norm("/dev/foo/./", "/dev/foo/");
	expect_norm("/dev/x/../", "/dev/");
	expect_norm("/dev/../", "/");
}

/* A trailing "." also names a directory: open("/dev/foo/.") on a character
 * device is ENOTDIR in the kernel, so it must not normalise to "/dev/foo"
 * (which shim_path_lookup would then open as the device). */
Test(normalize, trailing_dot_is_a_directory)
{
	char out[256];
	int n = registry_normalize("/dev/foo/.", out, sizeof(out));

	cr_assert_gt(n, 0);
	cr_assert_str_neq(out, "/dev/foo", "\"/dev/foo/.\" normalises to the device path");
	cr_assert_str_eq(out, "/dev/foo/");
	expect_norm("/dev/foo/./.", "/dev/foo/");
	/* ".." at the end names a directory too. */
	expect_norm("/dev/foo/..", "/dev/");
	expect_norm("/dev/spdk/x/..", "/dev/spdk/");
	/* Not at the end: lexical, as registry.h says. */
	expect_norm("/dev/./foo", "/dev/foo");
	expect_norm("/dev/../dev/foo", "/dev/foo");
}

Test(normalize, relative_rejected)
{
	char out[64];

	cr_assert_eq(registry_normalize("dev/foo", out, sizeof(out)), -EINVAL);
	cr_assert_eq(registry_normalize("./dev/foo", out, sizeof(out)), -EINVAL);
	cr_assert_eq(registry_normalize("../foo", out, sizeof(out)), -EINVAL);
	cr_assert_eq(registry_normalize("", out, sizeof(out)), -EINVAL);
	cr_assert_eq(registry_normalize(NULL, out, sizeof(out)), -EINVAL);
}

Test(normalize, too_long)
{
	char out[64];

	/* "/dev/foo" is 8 bytes plus its NUL. */
	cr_assert_eq(registry_normalize("/dev/foo", out, 9), 8);
	cr_assert_str_eq(out, "/dev/foo");
	cr_assert_eq(registry_normalize("/dev/foo", out, 8), -ENAMETOOLONG);
	cr_assert_eq(registry_normalize("/dev/foo", out, 5), -ENAMETOOLONG);
	cr_assert_eq(registry_normalize("/dev/foo", out, 4), -ENAMETOOLONG);
	/* The kept trailing slash counts too. */
	cr_assert_eq(registry_normalize("/dev/foo/", out, 10), 9);
	cr_assert_eq(registry_normalize("/dev/foo/", out, 9), -ENAMETOOLONG);
	/* What counts is the result, not the input. */
	cr_assert_eq(registry_normalize("//dev//.//foo", out, 9), 8);
	cr_assert_str_eq(out, "/dev/foo");
	cr_assert_eq(registry_normalize("/", out, 2), 1);
	cr_assert_str_eq(out, "/");
}

/* ---- proto_ioctl_retry: the kernel's limits on RETRY iovec arrays */

static struct fuse_ioctl_iovec retry_arr[FUSE_IOCTL_MAX_IOV + 1];
static struct iovec retry_in[FUSE_IOCTL_MAX_IOV], retry_out[FUSE_IOCTL_MAX_IOV];

static int retry(unsigned nin, unsigned nout, size_t n, size_t *in_size, size_t *out_size)
{
	struct fuse_ioctl_out o = {.flags = FUSE_IOCTL_RETRY, .in_iovs = nin, .out_iovs = nout};

	return proto_ioctl_retry(&o, retry_arr, n, retry_in, in_size, retry_out, out_size);
}

Test(ioctl_retry, counts_and_totals)
{
	size_t in, out;
	unsigned i;

	for (i = 0; i <= FUSE_IOCTL_MAX_IOV; i++) {
		retry_arr[i].base = 0x10000 + i * 4096;
		retry_arr[i].len = 10;
	}
	cr_assert_eq(retry(1, 2, 3 * 16, &in, &out), 0);
	cr_expect_eq(in, 10);
	cr_expect_eq(out, 20);
	cr_expect_eq((uintptr_t)retry_out[1].iov_base, 0x10000 + 2 * 4096);
	cr_expect_eq(retry(128, 128, 256 * 16, &in, &out), 0, "256 iovecs are allowed");
	cr_expect_eq(retry(129, 128, 257 * 16, &in, &out), -ENOMEM);
	cr_expect_eq(retry(257, 0, 257 * 16, &in, &out), -ENOMEM);
	cr_expect_eq(retry(1, 1, 3 * 16, &in, &out), -EIO, "array longer than its counts");
	cr_expect_eq(retry(2, 1, 2 * 16, &in, &out), -EIO, "array shorter than its counts");
	cr_expect_eq(retry(0, 0, 0, &in, &out), 0);
}

Test(ioctl_retry, per_direction_limit)
{
	size_t in, out;

	retry_arr[0].len = CUSESHIM_MAX_PAYLOAD;
	retry_arr[1].len = 0;
	cr_expect_eq(retry(1, 1, 32, &in, &out), 0, "128 KiB in one direction is allowed");
	retry_arr[1].len = 1;
	cr_expect_eq(retry(2, 0, 32, &in, &out), -ENOMEM, "128 KiB + 1 in");
	cr_expect_eq(retry(0, 2, 32, &in, &out), -ENOMEM, "128 KiB + 1 out");
	retry_arr[0].len = ~0ull;
	cr_expect_eq(retry(1, 0, 16, &in, &out), -ENOMEM);
}

/* ---- debug lines */

static void trace(char *buf, uint32_t opcode, const void *arg, size_t alen, long result,
		  const void *out, size_t out_size)
{
	struct fuse_in_header in = {.len = (uint32_t)(40 + alen), .opcode = opcode, .unique = 42};
	struct iovec req[2] = {{&in, sizeof(in)}, {(void *)arg, alen}};

	proto_trace_line(buf, 256, req, arg ? 2 : 1, result, out, out_size, 12.34);
}

Test(trace, read_write_and_errors)
{
	struct fuse_read_in r = {
		.fh = 9, .offset = 7, .size = 4096, .flags = O_RDONLY | O_NONBLOCK};
	struct fuse_write_in w = {.offset = 0, .size = 3, .flags = O_WRONLY};
	struct fuse_write_out wo = {.size = 3};
	char buf[256];

	trace(buf, FUSE_READ, &r, sizeof(r), 5, NULL, 0);
	cr_expect_str_eq(buf, "READ unique 42 offset 7 size 4096 flags 04000 -> 5 (12.3 us)");
	trace(buf, FUSE_READ, &r, sizeof(r), -EAGAIN, NULL, 0);
	cr_expect_str_eq(buf, "READ unique 42 offset 7 size 4096 flags 04000 -> -EAGAIN (12.3 us)");
	trace(buf, FUSE_WRITE, &w, sizeof(w), 0, &wo, sizeof(wo));
	cr_expect_str_eq(buf, "WRITE unique 42 offset 0 size 3 flags 01 -> 3 (12.3 us)");
	/* an errno without a name still reads as a number */
	trace(buf, FUSE_WRITE, &w, sizeof(w), -4000, NULL, 0);
	cr_expect_str_eq(buf, "WRITE unique 42 offset 0 size 3 flags 01 -> -4000 (12.3 us)");
}

Test(trace, ioctl_poll_and_others)
{
	struct fuse_ioctl_in io = {.cmd = 0x541b, .arg = 0x1000, .out_size = 4, .flags = 2};
	struct fuse_ioctl_out ok = {.result = 0},
			      retry = {.flags = FUSE_IOCTL_RETRY, .in_iovs = 0, .out_iovs = 1};
	struct fuse_poll_in pi = {.events = 1, .flags = FUSE_POLL_SCHEDULE_NOTIFY};
	struct fuse_poll_out po = {.revents = 5};
	uint32_t r_short = 0;
	char buf[256];

	trace(buf, FUSE_IOCTL, &io, sizeof(io), 4, &ok, sizeof(ok));
	cr_expect_str_eq(buf, "IOCTL unique 42 cmd 0x541b arg 0x1000 in 0 out 4 flags 0x2 -> "
			      "result 0, 4 bytes out (12.3 us)");
	trace(buf, FUSE_IOCTL, &io, sizeof(io), 16, &retry, sizeof(retry));
	cr_expect_str_eq(buf, "IOCTL unique 42 cmd 0x541b arg 0x1000 in 0 out 4 flags 0x2 -> "
			      "retry, 0 in 1 out iovecs (12.3 us)");
	trace(buf, FUSE_IOCTL, &io, sizeof(io), -ENOTTY, NULL, 0);
	cr_expect_str_eq(buf, "IOCTL unique 42 cmd 0x541b arg 0x1000 in 0 out 4 flags 0x2 -> "
			      "-ENOTTY (12.3 us)");
	trace(buf, FUSE_POLL, &pi, sizeof(pi), 0, &po, sizeof(po));
	cr_expect_str_eq(buf, "POLL unique 42 events 0x1 flags 0x1 -> revents 0x5 (12.3 us)");
	/* a short argument is not read past */
	trace(buf, FUSE_READ, &r_short, 4, 0, NULL, 0);
	cr_expect_str_eq(buf, "READ unique 42 insize 44 -> 0 (12.3 us)");
	trace(buf, CUSESHIM_OP_ATTACH, NULL, 0, 0, NULL, 0);
	cr_expect_str_eq(buf, "ATTACH unique 42 insize 40 -> 0 (12.3 us)");
}

/* Every mirror byte goes, however many more than one batch, and then the
 * socket is empty (the fd is not readable until the driver says so). */
Test(drain_mirror, takes_every_byte_and_no_more)
{
	int sv[2], i;
	char c;

	cr_assert(!socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv));
	cr_expect_eq(proto_drain_mirror(sv[0], recvmmsg), 0);
	for (i = 0; i < 9; i++)
		cr_assert_eq(send(sv[1], "p", 1, 0), 1);
	cr_expect_eq(proto_drain_mirror(sv[0], recvmmsg), 9);
	cr_expect_eq(recv(sv[0], &c, 1, MSG_DONTWAIT), -1);
	cr_expect_eq(errno, EAGAIN);
	close(sv[0]);
	close(sv[1]);
}

/* The ring's layout is part of the protocol: both sides map it. */
Test(ring, layout)
{
	cr_expect_eq(sizeof(struct cuseshim_ring), 64);
	cr_expect_eq(CUSESHIM_RING_REQ, 4096);
	cr_expect_eq(CUSESHIM_RING_REP, 4096 + CUSESHIM_MAX_MSG);
	cr_expect_eq(CUSESHIM_RING_SIZE, 4096 + 2 * CUSESHIM_MAX_MSG);
	cr_expect_eq(CUSESHIM_RING_SIZE % 4096, 0);
	/* 1.3: the waiters' words, where 1.2 had reserved zeros */
	cr_expect_eq(offsetof(struct cuseshim_ring, flags), 8);
	cr_expect_eq(offsetof(struct cuseshim_ring, srv_sleep), 12);
	cr_expect_eq(offsetof(struct cuseshim_ring, cli_sleep), 16);
	cr_expect_eq(offsetof(struct cuseshim_ring, srv_cpu), 20);
	cr_expect_eq(offsetof(struct cuseshim_ring, cli_cpu), 24);
	cr_expect_eq(CUSESHIM_RING_WAITERS, 1);
	cr_expect_eq(CUSESHIM_FEAT_RING_WAITERS, 2);
}

/* CUSESHIM_SPIN_US: microseconds up to a second; anything else is the
 * default, and says so. */
Test(ring, spin_option)
{
	static const struct {
		const char *s;
		int rc;
		uint64_t ns;
	} cases[] = {
		{NULL, 0, 50000},
		{"", 0, 50000},
		{"0", 0, 0},
		{"7", 0, 7000},
		{"1000000", 0, 1000000000},
		{"1000001", -1, 50000},
		{"-1", -1, 50000},
		{"12x", -1, 50000},
		{"99999999999999999999", -1, 50000},
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint64_t ns = 1;

		cr_expect_eq(proto_spin_ns(cases[i].s, &ns), cases[i].rc, "%s", cases[i].s);
		cr_expect_eq(ns, cases[i].ns, "%s", cases[i].s);
	}
}

/* struct flock's range on a CUSE file as the kernel's flock_to_posix_lock
 * makes it (every l_whence counts from 0), and back for F_GETLK. */
Test(plock, ranges)
{
	static const struct {
		int whence;
		int64_t l_start, l_len;
		int rc;
		int64_t start, end;
	} cases[] = {
		{SEEK_SET, 0, 10, 0, 0, 9},
		{SEEK_CUR, 5, 1, 0, 5, 5},
		{SEEK_END, 7, 0, 0, 7, INT64_MAX},
		{SEEK_SET, 10, -5, 0, 5, 9},
		{SEEK_SET, 10, -10, 0, 0, 9},
		{SEEK_SET, 10, -11, -EINVAL, 0, 0},
		{SEEK_SET, -1, 5, -EINVAL, 0, 0},
		{3, 0, 1, -EINVAL, 0, 0},
		{SEEK_SET, 1, INT64_MAX, 0, 1, INT64_MAX},
		{SEEK_SET, 2, INT64_MAX, -EOVERFLOW, 0, 0},
		{SEEK_SET, INT64_MAX, 1, 0, INT64_MAX, INT64_MAX},
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int64_t start = 0, end = 0, l_start, l_len;
		int rc = proto_lock_range(cases[i].whence, cases[i].l_start, cases[i].l_len, &start,
					  &end);

		cr_expect_eq(rc, cases[i].rc, "case %zu", i);
		if (rc)
			continue;
		cr_expect_eq(start, cases[i].start, "case %zu", i);
		cr_expect_eq(end, cases[i].end, "case %zu", i);
		proto_lock_flock(start, end, &l_start, &l_len);
		cr_expect_eq(l_start, start, "case %zu", i);
		cr_expect_eq(l_len, end == INT64_MAX ? 0 : end - start + 1, "case %zu", i);
	}
}
