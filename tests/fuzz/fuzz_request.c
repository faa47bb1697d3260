/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness: everything the driver side decodes from a peer
 * before trusting it — a request datagram (proto_check_request, then the
 * fields dispatch reads), the registry's attribute line, names and paths.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/cuseshim_proto.h"
#include "proto/registry.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* the receive buffer is aligned and never smaller than a header */
	uint64_t *buf = calloc(1, size + sizeof(struct fuse_in_header) + 64);
	char text[1024], out[1024];
	struct registry_attr a;
	const char *why;

	if (!buf)
		return 0;
	memcpy(buf, data, size);
	if (proto_check_request(buf, size) == 0) {
		const struct fuse_in_header *in = (const void *)buf;
		long argsz = proto_in_arg_size(in->opcode);

		/* what a valid message promises: its args are all there */
		if (argsz < 0 || (size_t)argsz + sizeof(*in) > size || in->len != size)
			abort();
		(void)proto_opname(in->opcode);
	}
	if (size < sizeof(text)) {
		memcpy(text, data, size);
		text[size] = '\0';
		(void)registry_parse_attr(text, size, &a);
		(void)registry_check_name(text, &why);
		(void)registry_normalize(text, out, sizeof(out));
		(void)registry_normalize(text, out, 8);
	}
	free(buf);
	return 0;
}
