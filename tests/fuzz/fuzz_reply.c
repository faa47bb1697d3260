/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness: everything the client side decodes from a driver —
 * replies and notifications (proto_check_reply for every opcode), and the
 * iovec arrays of ioctl RETRY replies (proto_ioctl_retry), whose limits
 * must hold for any input.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include "proto/cuseshim_proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint32_t opcodes[] = {
	FUSE_OPEN,	    FUSE_READ,		FUSE_WRITE,	   FUSE_RELEASE,
	FUSE_IOCTL,	    FUSE_POLL,		CUSESHIM_OP_HELLO, CUSESHIM_OP_OPEN,
	CUSESHIM_OP_ATTACH, CUSESHIM_OP_CLOSED, 0xffffffffu,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint64_t *buf = calloc(1, size + 64);
	struct iovec in[FUSE_IOCTL_MAX_IOV], out[FUSE_IOCTL_MAX_IOV];
	size_t i, in_size, out_size;

	if (!buf)
		return 0;
	memcpy(buf, data, size);
	for (i = 0; i < sizeof(opcodes) / sizeof(opcodes[0]); i++)
		(void)proto_check_reply(buf, size, opcodes[i], size);
	if (size >= sizeof(struct fuse_ioctl_out)) {
		struct fuse_ioctl_out o;

		memcpy(&o, data, sizeof(o));
		if (proto_ioctl_retry(&o, data + sizeof(o), size - sizeof(o), in, &in_size, out,
				      &out_size) == 0) {
			/* what the client relies on after a valid array */
			if (o.in_iovs + o.out_iovs > FUSE_IOCTL_MAX_IOV ||
			    in_size > CUSESHIM_MAX_PAYLOAD || out_size > CUSESHIM_MAX_PAYLOAD)
				abort();
		}
	}
	free(buf);
	return 0;
}
