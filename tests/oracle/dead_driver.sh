#!/bin/sh
# SPDX-License-Identifier: MIT
./realfuse-bufdev -f --name=sem &
drv=$!
for i in $(seq 100); do [ -e /dev/sem ] && break; sleep 0.05; done
python3 -c "
import os, select, threading, time, errno
fd = os.open('/dev/sem', os.O_RDWR)
fd2 = os.open('/dev/sem', os.O_RDWR)
res = {}
def rd():
    try: os.read(fd2, 10)
    except OSError as e: res['inflight'] = errno.errorcode[e.errno]
t = threading.Thread(target=rd); t.start()
p = select.poll(); p.register(fd, select.POLLIN)
time.sleep(0.3)
os.kill($drv, 9)
print('poll', p.poll(5000))
t.join(5)
print('inflight read', res)
try: os.read(fd, 1)
except OSError as e: print('new read', errno.errorcode[e.errno])
try: os.write(fd, b'x')
except OSError as e: print('new write', errno.errorcode[e.errno])
os.close(fd); os.close(fd2)
print('closed')
"
