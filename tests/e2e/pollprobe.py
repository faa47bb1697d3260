# SPDX-License-Identifier: MIT
# Which polls of a CUSE file carry a poll handle (FUSE_POLL_SCHEDULE_NOTIFY):
# bufdev logs ph=1 or ph=0 for each.  Run as: pollprobe.py DEV LOG DEV2
# (DEV2: a --per-open bufdev), on the kernel's CUSE
# (tests/oracle/poll_handles.sh) and under the shim; prints, phase by
# phase, the ph= of the driver's poll lines.
import os, select, subprocess, sys, time

dev, log, dev2 = sys.argv[1], sys.argv[2], sys.argv[3]
seen = 0


def phase(name):
    global seen
    time.sleep(0.1)
    with open(log) as f:
        lines = [l for l in f.read().splitlines() if l.startswith('poll ')]
    print(name, ' '.join(l.split()[-1] for l in lines[seen:]))
    seen = len(lines)


def write_later(path, ms):
    return subprocess.Popen(['sh', '-c', 'sleep %s; printf x > %s' % (ms / 1000, path)])


fd = os.open(dev, os.O_RDWR | os.O_NONBLOCK)
phase('open')
select.poll().register(fd, select.POLLIN)
p = select.poll(); p.register(fd, select.POLLIN)
p.poll(0)
phase('poll0')
p.poll(150)
phase('poll150')
w = write_later(dev, 200)
print('ready', p.poll(5000) == [(fd, select.POLLIN)])
w.wait()
phase('pollwake')
os.read(fd, 10)
select.select([fd], [], [], 0)
phase('select0')
select.select([fd], [], [], 0.15)
phase('select150')
ep = select.epoll(); ep.register(fd, select.EPOLLIN)
phase('epolladd')
ep.poll(0)
phase('epoll0')
w = write_later(dev, 200)
print('ready', ep.poll(5) == [(fd, select.EPOLLIN)])
w.wait()
phase('epollwake')
ep.poll(0)
phase('epollagain')
os.read(fd, 10)
ep.close()
os.close(fd)
# two files of a --per-open driver: one with data, one without
a = os.open(dev2, os.O_RDWR | os.O_NONBLOCK)
b = os.open(dev2, os.O_RDWR | os.O_NONBLOCK)
os.write(a, b'x')
log = log.replace('.log', '2.log'); seen = 0
phase('open2')
p = select.poll(); p.register(a, select.POLLIN); p.register(b, select.POLLIN)
p.poll(1000)
phase('readyfirst')
p = select.poll(); p.register(b, select.POLLIN); p.register(a, select.POLLIN)
p.poll(1000)
phase('readysecond')
