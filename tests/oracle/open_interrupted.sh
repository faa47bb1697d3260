#!/bin/sh
# SPDX-License-Identifier: MIT
# An open the driver takes 500 ms over, interrupted by a SIGALRM handler
# after 100 ms (copy build/tests/e2e/rwprobe beside the script): the
# driver sees the interrupt, and its EINTR is the open's; without the
# signal the open succeeds.  The failed open gets no release.
./realfuse-bufdev -f --name=od --log=/tmp/od.log --open-delay=500 &
drv=$!
for i in $(seq 100); do [ -e /dev/od ] && break; sleep 0.05; done
./rwprobe alarm:100 open:/dev/od:rw alarms
./rwprobe open:/dev/od:rw alarms
sleep 0.3
kill $drv
grep -E '^(open|release)' /tmp/od.log | sed 's/ uid=.*//'
