# SPDX-License-Identifier: MIT
# flockprobe.py DEV: flock(2) on the device as on a kernel CUSE node, one
# line per step: two opens and a dup, another process, unlock and
# conversion, a blocking wait ended by the holder's close, one ended by
# a signal, and the lock going with the last close of its file.
import fcntl
import os
import signal
import subprocess
import sys
import threading
import time

dev = sys.argv[1]
EX, SH, NB, UN = fcntl.LOCK_EX, fcntl.LOCK_SH, fcntl.LOCK_NB, fcntl.LOCK_UN


def try_(fd, op):
    try:
        fcntl.flock(fd, op)
        return "ok"
    except BlockingIOError:
        return "busy"


a = os.open(dev, os.O_RDWR)
b = os.open(dev, os.O_RDWR)
d = os.dup(a)
print(try_(a, EX | NB), try_(b, EX | NB), try_(b, SH | NB), try_(d, EX | NB))
other = subprocess.run(
    [sys.executable, "-c",
     "import fcntl, os, sys\n"
     "try:\n"
     "    fcntl.flock(os.open(sys.argv[1], os.O_RDONLY), fcntl.LOCK_EX | fcntl.LOCK_NB)\n"
     "    print('ok')\n"
     "except BlockingIOError:\n"
     "    print('busy')\n", dev],
    capture_output=True, text=True)
print("other", other.stdout.strip())
fcntl.flock(a, UN)
print(try_(b, SH | NB), try_(a, SH | NB), try_(a, EX | NB), try_(a, SH | NB))
fcntl.flock(a, UN)
fcntl.flock(b, EX)
got = []
t = threading.Thread(target=lambda: (fcntl.flock(a, EX), got.append(time.time())))
t.start()
time.sleep(0.3)
closed = time.time()
os.close(b)
t.join(5)
print("waited", bool(got) and got[0] >= closed)
c = os.open(dev, os.O_RDWR)


def alarm(*_):
    raise TimeoutError


signal.signal(signal.SIGALRM, alarm)
signal.setitimer(signal.ITIMER_REAL, 0.2)
try:
    fcntl.flock(c, EX)
    print("not interrupted")
except TimeoutError:
    print("interrupted", try_(c, SH | NB))
os.close(a)
print(try_(c, EX | NB), end=" ")
os.close(d)
print(try_(c, EX | NB))
