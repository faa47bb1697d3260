#!/bin/sh
# SPDX-License-Identifier: MIT
# The bridged acceptance suites (bridge-suites.sh) against bufdev built
# with libfuse 2 (libfuse.so.2).
CUSESHIM_DROPIN_DRIVER=fuse2-bufdev
export CUSESHIM_DROPIN_DRIVER
exec "$(dirname "$0")/bridge-suites.sh" "$@"
