#!/bin/sh
# SPDX-License-Identifier: MIT
# close(2) of a CUSE fd while another thread's read is blocked in it:
# what does the real kernel do?
./realfuse-bufdev -f --name=sem --log=/mnt/host/sem.log &
drv=$!
for i in $(seq 100); do [ -e /dev/sem ] && break; sleep 0.05; done
python3 -c "
import os, threading, time, signal
signal.alarm(5)
fd = os.open('/dev/sem', os.O_RDONLY)
got = []
r = threading.Thread(target=lambda: got.append(os.read(fd, 10)))
r.start(); time.sleep(0.3)
t0 = time.time(); os.close(fd); print('closed', got, 'in %.2f s' % (time.time() - t0))
w = os.open('/dev/sem', os.O_WRONLY)
os.write(w, b'x'); r.join(5); os.close(w)
print(got)
"
sleep 0.3
kill $drv
wait $drv
cat /mnt/host/sem.log
