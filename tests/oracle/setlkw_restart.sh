#!/bin/sh
# SPDX-License-Identifier: MIT
# A blocking F_SETLKW while another process holds the lock, and a SIGALRM
# handler with SA_RESTART (copy build/tests/e2e/rwprobe beside the
# script): the wait is restarted and succeeds ("setlkw=0", "alarms=1").
./realfuse-bufdev -f --name=sr --log=/tmp/sr.log &
drv=$!
for i in $(seq 100); do [ -e /dev/sr ] && break; sleep 0.05; done
python3 -c "import fcntl, os, time
fd = os.open('/dev/sr', os.O_RDWR)
fcntl.lockf(fd, fcntl.LOCK_EX)
open('/tmp/held', 'w').close()
time.sleep(0.6)" &
while [ ! -e /tmp/held ]; do sleep 0.02; done
./rwprobe open:/dev/sr:rw alarm:150 setlkw:w alarms
wait $!
kill $drv
