#!/bin/sh
# SPDX-License-Identifier: MIT
# A blocking flock while another process holds the lock, stopped
# (SIGSTOP) and continued (SIGCONT) in the middle of the wait (copy
# build/tests/e2e/rwprobe beside this script): the wait goes on and the
# flock succeeds ("flock=0"), no EINTR.
./realfuse-bufdev -f --name=fs &
drv=$!
for i in $(seq 100); do [ -e /dev/fs ] && break; sleep 0.05; done
f=/tmp/held.$$
python3 -c "import fcntl, os, sys, time
fd = os.open('/dev/fs', os.O_RDWR)
fcntl.flock(fd, fcntl.LOCK_EX)
open(sys.argv[1], 'w').close()
time.sleep(0.6)" $f &
holder=$!
while [ ! -e $f ]; do sleep 0.02; done
./rwprobe open:/dev/fs:rw flock:ex &
p=$!
sleep 0.15
kill -STOP $p
sleep 0.15
kill -CONT $p
wait $p
wait $holder
kill $drv
