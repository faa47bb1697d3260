#!/bin/sh
# SPDX-License-Identifier: MIT
# read and write of a driver without those callbacks; flock on the node
# (flockprobe.py, run beside this script).
./realfuse-bufdev -f --name=nrw --no-rw &
d1=$!
./realfuse-bufdev -f --name=lk &
d2=$!
for i in $(seq 100); do [ -e /dev/nrw ] && [ -e /dev/lk ] && break; sleep 0.05; done
python3 -c "
import errno, os
fd = os.open('/dev/nrw', os.O_RDWR)
for name, call in (('read', lambda: os.read(fd, 4)), ('write', lambda: os.write(fd, b'abcd'))):
    try:
        call()
        print(name, 'ok')
    except OSError as e:
        print(name, errno.errorcode[e.errno])
"
python3 ./flockprobe.py /dev/lk
kill $d1 $d2
