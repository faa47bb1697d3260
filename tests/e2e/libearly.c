/* SPDX-License-Identifier: MIT */
/* A test-only preload library whose constructor writes to the device in
 * $EARLY_DEV, possibly before the shim's own constructor has run. */
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

__attribute__((constructor)) static void early(void)
{
	const char *dev = getenv("EARLY_DEV");
	int fd;

	if (!dev)
		return;
	fd = open(dev, O_WRONLY);
	if (fd < 0 || write(fd, "early\n", 6) != 6)
		_exit(3);
	close(fd);
}
