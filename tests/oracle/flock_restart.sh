#!/bin/sh
# SPDX-License-Identifier: MIT
# A blocking flock and a SIGALRM handler with SA_RESTART (rwprobe's
# alarm, copy build/tests/e2e/rwprobe beside this script): restarted.
./realfuse-bufdev -f --name=fr &
drv=$!
for i in $(seq 100); do [ -e /dev/fr ] && break; sleep 0.05; done
f=/tmp/held.$$
python3 -c "import fcntl, os, sys, time
fd = os.open('/dev/fr', os.O_RDWR)
fcntl.flock(fd, fcntl.LOCK_EX)
open(sys.argv[1], 'w').close()
time.sleep(0.6)" $f &
while [ ! -e $f ]; do sleep 0.02; done
./rwprobe open:/dev/fr:rw alarm:150 flock:ex alarms
wait $!
kill $drv
