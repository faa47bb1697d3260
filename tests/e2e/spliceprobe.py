# SPDX-License-Identifier: MIT
# spliceprobe.py DEV: sendfile, splice and copy_file_range with the device
# at either end (os.* and, on x86-64, syscall(2) through ctypes) must fail
# EINVAL as on a kernel CUSE node; shutil.copyfile to the device falls back
# to read/write and its bytes reach the driver.  One line per step.
import ctypes
import errno
import os
import platform
import shutil
import sys
import tempfile

dev = sys.argv[1]
libc = ctypes.CDLL(None, use_errno=True)


def step(name, call):
    try:
        call()
        print(name, "ok")
    except OSError as e:
        print(name, errno.errorcode.get(e.errno, e.errno))


def raw(nr, *args):
    if libc.syscall(nr, *args) == -1:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


with tempfile.NamedTemporaryFile(delete=False) as src:
    src.write(b"copied-by-shutil\n")
try:
    shutil.copyfile(src.name, dev)
    print("copyfile ok")
    fd = os.open(dev, os.O_RDWR)
    plain = os.open(src.name, os.O_RDWR)
    r, w = os.pipe()
    os.write(w, b"pipe!")
    step("sendfile-to", lambda: os.sendfile(fd, plain, 0, 5))
    step("sendfile-from", lambda: os.sendfile(w, fd, None, 5))
    step("splice-to", lambda: os.splice(r, fd, 5))
    step("splice-from", lambda: os.splice(fd, w, 5))
    step("copy_file_range-to", lambda: os.copy_file_range(plain, fd, 5))
    step("copy_file_range-from", lambda: os.copy_file_range(fd, plain, 5))
    if platform.machine() == "x86_64":  # SYS_sendfile 40, SYS_splice 275
        step("syscall-sendfile", lambda: raw(40, fd, plain, None, 5))
        step("syscall-splice", lambda: raw(275, r, None, fd, None, 5, 0))
    else:
        print("syscall-sendfile EINVAL\nsyscall-splice EINVAL")
    os.close(fd)
    with open(dev, "rb") as d:
        sys.stdout.write(d.read().decode())
finally:
    os.unlink(src.name)
