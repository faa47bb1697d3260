/* SPDX-License-Identifier: MIT */
/* The driver cuse-bench measures against: answers every read with as many
 * bytes as asked (from a static buffer) and accepts every write.  Written
 * against <cuse_lowlevel.h> like any driver, linked with libcused. */
#define FUSE_USE_VERSION 31

#include <cuse_lowlevel.h>

#include <stdio.h>
#include <string.h>

static char data[CUSESHIM_BENCH_MAX];

static void bench_read(fuse_req_t req, size_t size, off_t off, struct fuse_file_info *fi)
{
	fuse_reply_buf(req, data, size < sizeof(data) ? size : sizeof(data));
}

static void bench_write(fuse_req_t req, const char *buf, size_t size, off_t off,
			struct fuse_file_info *fi)
{
	fuse_reply_write(req, size);
}

static const struct cuse_lowlevel_ops ops = {
	.read = bench_read,
	.write = bench_write,
};

int main(int argc, char **argv)
{
	char devname[256];
	const char *info[1] = {devname};
	struct cuse_info ci = {.dev_info_argc = 1, .dev_info_argv = info};

	if (argc < 2) {
		fprintf(stderr, "usage: bench-driver NAME [libfuse options]\n");
		return 2;
	}
	snprintf(devname, sizeof(devname), "DEVNAME=%s", argv[1]);
	memset(data, 'b', sizeof(data));
	argv[1] = argv[0];
	return cuse_lowlevel_main(argc - 1, argv + 1, &ci, &ops, NULL);
}
