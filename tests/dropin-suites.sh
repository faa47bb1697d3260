#!/bin/sh
# SPDX-License-Identifier: MIT
# The acceptance suites once more, against bufdev linked with Debian's
# real libfuse3 and run unmodified under `cused run` (issue 6): takes
# Criterion's arguments, like the test binaries criterion-tap.sh runs.
CUSESHIM_DROPIN=1
export CUSESHIM_DROPIN
exec "${CUSESHIM_BUILDDIR:-.}/tests/e2e/test_e2e" \
	--filter='@(e2e|semantics|ioctl|stdio|reliability)/*' "$@"
