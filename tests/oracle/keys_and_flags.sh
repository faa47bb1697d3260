#!/bin/sh
# SPDX-License-Identifier: MIT
# The keys select and epoll ask a CUSE file for, and the f_flags its
# RELEASE carries after an F_SETFL, a FIONBIO or an RWF_DSYNC write.
./realfuse-bufdev -f --name=kf --log=/tmp/kf.log &
drv=$!
for i in $(seq 100); do [ -e /dev/kf ] && break; sleep 0.05; done
python3 -c "
import fcntl, os, select, struct, termios
fd = os.open('/dev/kf', os.O_RDWR)
select.select([fd], [], [], 0)
select.select([], [fd], [], 0)
select.select([], [], [fd], 0)
ep = select.epoll(); ep.register(fd, select.EPOLLIN); ep.poll(0); ep.close()
os.write(fd, b'x')
fcntl.fcntl(fd, fcntl.F_SETFL, os.O_NONBLOCK)
os.close(fd)
fd = os.open('/dev/kf', os.O_WRONLY)
os.pwritev(fd, [b'ab'], 0, os.RWF_DSYNC)
os.close(fd)
fd = os.open('/dev/kf', os.O_RDONLY)
fcntl.ioctl(fd, termios.FIONBIO, struct.pack('i', 1))
os.close(fd)
"
sleep 0.3
kill $drv
grep -E '^(poll|release|write)' /tmp/kf.log
