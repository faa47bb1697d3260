#!/bin/sh
# SPDX-License-Identifier: MIT
# The acceptance suites once more, against bufdev linked with Debian's
# real libfuse3 and run bridged (`cused run --bridge`): its open of
# /dev/cuse goes to cuse-bridge, which plays the kernel's side of it
# (issue 18).  CUSESHIM_DROPIN_DRIVER picks another build of the driver.
if [ "${CUSESHIM_SANITIZERS:-}" = yes ]; then
	# The sanitizer build runs bridge/* (test_e2e) against its
	# instrumented cuse-bridge; these repeats only add minutes of load.
	echo "1..0 # SKIP the bridged suites run in the plain build"
	exit 0
fi
CUSESHIM_DROPIN=bridge
export CUSESHIM_DROPIN
exec "${CUSESHIM_BUILDDIR:-.}/tests/e2e/test_e2e" \
	--filter='@(e2e|semantics|ioctl|stdio|reliability)/*' "$@"
