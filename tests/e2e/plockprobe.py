# SPDX-License-Identifier: MIT
# fcntl(2) and lockf(3) record locks on a device, between processes: run as
# plockprobe.py DEV, on the kernel's CUSE (tests/oracle/plocks.sh) and
# under the shim; each line is what one step saw.
import errno, fcntl, os, signal, struct, sys, time

dev = sys.argv[1]
F_OFD_GETLK, F_OFD_SETLK, F_OFD_SETLKW = 36, 37, 38


def flock(typ, start, length, whence=0, pid=0):
    return struct.pack('hh4xqqi4x', typ, whence, start, length, pid)


def setlk(fd, typ, start, length, cmd=fcntl.F_SETLK, whence=0, pid=0):
    try:
        fcntl.fcntl(fd, cmd, flock(typ, start, length, whence, pid))
        return 'ok'
    except OSError as e:
        return errno.errorcode[e.errno]


def getlk(fd, typ, start, length, cmd=fcntl.F_GETLK):
    try:
        r = fcntl.fcntl(fd, cmd, flock(typ, start, length))
    except OSError as e:
        return errno.errorcode[e.errno]
    t, w, s, l, p = struct.unpack('hh4xqqi4x', r)
    if t == fcntl.F_UNLCK:
        return 'unlocked'
    who = 'parent' if p == os.getppid() else 'me' if p == os.getpid() else str(p)
    return '%s %d+%d %s' % ('rd' if t == fcntl.F_RDLCK else 'wr', s, l, who)


def spawn(fn):
    """Start fn() in a child, which inherits the fds; collect() prints
    what it returned."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        os.write(w, (fn() + '\n').encode())
        os._exit(0)
    os.close(w)
    return pid, r


def collect(child):
    pid, r = child
    sys.stdout.write(os.read(r, 1000).decode())
    os.close(r)
    os.waitpid(pid, 0)


def child(fn):
    collect(spawn(fn))


fd = os.open(dev, os.O_RDWR)
print('lock', setlk(fd, fcntl.F_WRLCK, 0, 10))
child(lambda: ' '.join([setlk(fd, fcntl.F_WRLCK, 5, 10), setlk(fd, fcntl.F_WRLCK, 10, 10),
                        getlk(fd, fcntl.F_WRLCK, 0, 100), getlk(fd, fcntl.F_RDLCK, 3, 1)]))
# the parent's own locks never get in its way; a second child sees both
print('own', getlk(fd, fcntl.F_WRLCK, 0, 100), setlk(fd, fcntl.F_RDLCK, 100, 100))
child(lambda: ' '.join([setlk(fd, fcntl.F_RDLCK, 150, 10), setlk(fd, fcntl.F_WRLCK, 150, 10),
                        getlk(fd, fcntl.F_WRLCK, 50, 0)]))
# a hole in the middle, then a merge back; whence and negative lengths
print('unlock', setlk(fd, fcntl.F_UNLCK, 4, 2), setlk(fd, fcntl.F_UNLCK, 100, 0))
child(lambda: ' '.join([getlk(fd, fcntl.F_WRLCK, 4, 2), getlk(fd, fcntl.F_WRLCK, 2, 5),
                        getlk(fd, fcntl.F_WRLCK, 5, 10)]))
print('merge', setlk(fd, fcntl.F_WRLCK, 4, 2), setlk(fd, fcntl.F_WRLCK, 10, -5, whence=1))
child(lambda: getlk(fd, fcntl.F_WRLCK, 0, 0))
# bad arguments
print('bad', setlk(fd, fcntl.F_WRLCK, -1, 5), setlk(fd, fcntl.F_WRLCK, 2, -5),
      setlk(fd, 7, 0, 1), getlk(fd, fcntl.F_UNLCK, 0, 1),
      setlk(fd, fcntl.F_WRLCK, 0, 1, whence=3), setlk(fd, fcntl.F_WRLCK, 1, 2 ** 63 - 1))
ro = os.open(dev, os.O_RDONLY)
print('access', setlk(ro, fcntl.F_WRLCK, 500, 1), setlk(ro, fcntl.F_RDLCK, 500, 1))
# closing any fd of the node drops all of the process's locks
os.close(ro)
child(lambda: getlk(fd, fcntl.F_WRLCK, 0, 0))
# a blocked F_SETLKW waits for the unlock
print('again', setlk(fd, fcntl.F_WRLCK, 0, 10))


def waiter():
    t = time.time()
    got = setlk(fd, fcntl.F_WRLCK, 0, 1, fcntl.F_SETLKW)
    return 'waited %s %s' % (got, time.time() - t > 0.15)


w = spawn(waiter)
time.sleep(0.3)
print('release', setlk(fd, fcntl.F_UNLCK, 0, 0))
collect(w)
# a cycle: the child holds 1, waits for 0; the parent holds 0, asks for 1
print('hold', setlk(fd, fcntl.F_WRLCK, 0, 1))
r, w = os.pipe()
pid = os.fork()
if pid == 0:
    os.close(r)
    setlk(fd, fcntl.F_WRLCK, 1, 1)
    os.write(w, b'x')
    got = setlk(fd, fcntl.F_WRLCK, 0, 1, fcntl.F_SETLKW)
    os.write(w, ('child ' + got + '\n').encode())
    os._exit(0)
os.close(w)
os.read(r, 1)
time.sleep(0.2)
print('cycle', setlk(fd, fcntl.F_WRLCK, 1, 1, fcntl.F_SETLKW))
setlk(fd, fcntl.F_UNLCK, 0, 0)
sys.stdout.write(os.read(r, 100).decode())
os.waitpid(pid, 0)
os.close(r)
# a signal whose handler raises ends a waiting F_SETLKW; the lock stays


class Alarm(Exception):
    pass


def interrupted():
    def alarm(*_):
        raise Alarm

    signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, 0.2)
    try:
        setlk(fd, fcntl.F_WRLCK, 0, 1, fcntl.F_SETLKW)
        return 'not interrupted'
    except Alarm:
        return 'interrupted ' + setlk(fd, fcntl.F_WRLCK, 0, 1)


print('hold', setlk(fd, fcntl.F_WRLCK, 0, 1))
child(interrupted)
setlk(fd, fcntl.F_UNLCK, 0, 0)
# a process that dies holding a lock loses it
pid = os.fork()
if pid == 0:
    setlk(fd, fcntl.F_WRLCK, 0, 0)
    os._exit(0)
os.waitpid(pid, 0)
print('dead', getlk(fd, fcntl.F_WRLCK, 0, 0))
# OFD locks: owned by the open file, l_pid -1, and in a POSIX lock's way
print('ofd', setlk(fd, fcntl.F_WRLCK, 0, 10, F_OFD_SETLK),
      setlk(fd, fcntl.F_WRLCK, 0, 10, F_OFD_SETLK, pid=1),
      getlk(fd, fcntl.F_WRLCK, 0, 1), getlk(fd, fcntl.F_WRLCK, 0, 1, F_OFD_GETLK),
      setlk(fd, fcntl.F_WRLCK, 5, 1))
fd2 = os.open(dev, os.O_RDWR)
print('ofd2', getlk(fd2, fcntl.F_WRLCK, 0, 1, F_OFD_GETLK),
      setlk(fd2, fcntl.F_RDLCK, 0, 1, F_OFD_SETLK))
child(lambda: getlk(fd, fcntl.F_RDLCK, 0, 1, F_OFD_GETLK))
# lockf(3): a write lock from the offset, F_TEST
os.close(fd)
print('lockf', os.lockf(fd2, os.F_TLOCK, 10) is None)


def lockf_child():
    out = []
    for cmd in (os.F_TEST, os.F_TLOCK):
        try:
            os.lockf(fd2, cmd, 5)
            out.append('ok')
        except OSError as e:
            out.append(errno.errorcode[e.errno])
    return 'lockf ' + ' '.join(out)


child(lockf_child)
print('test own', os.lockf(fd2, os.F_TEST, 10) is None, os.lockf(fd2, os.F_ULOCK, 0) is None)
child(lockf_child)
os.close(fd2)
