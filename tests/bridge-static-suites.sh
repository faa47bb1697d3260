#!/bin/sh
# SPDX-License-Identifier: MIT
# The bridged acceptance suites (bridge-suites.sh) against bufdev built
# with a static libfuse3 (libfuse3.a) and the dynamic libc.
CUSESHIM_DROPIN_DRIVER=static-fuse3-bufdev
export CUSESHIM_DROPIN_DRIVER
exec "$(dirname "$0")/bridge-suites.sh" "$@"
