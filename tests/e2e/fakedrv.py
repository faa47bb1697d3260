# SPDX-License-Identifier: MIT
"""A hostile driver for the tests: it publishes a device in the registry
like libcused does, speaks the cuseshim protocol, and answers READ and
IOCTL requests with the broken reply named by MODE, to show that a
client never crashes, never writes outside its buffers, and gets the
kernel's errors.

    python3 fakedrv.py DIR NAME MODE
"""
import fcntl
import os
import socket
import struct
import sys
import threading

DIR, NAME, MODE = sys.argv[1], sys.argv[2], sys.argv[3]
MAGIC = 0x43555345
OP_HELLO, OP_OPEN, OP_ATTACH, OP_CLOSED = 0x43530001, 0x43530002, 0x43530003, 0x43530004
FUSE_READ, FUSE_IOCTL = 15, 39
HDR_IN = struct.Struct('<IIQQIIIHH')   # fuse_in_header, 40 bytes
HDR_OUT = struct.Struct('<IiQ')        # fuse_out_header, 16 bytes


def hello_out():
    return struct.pack('<IHHIIIIII', MAGIC, 1, 0, 1, 131072, 131072, 240, 7, 0)


def reply(conn, unique, error=0, payload=b'', length=None):
    n = HDR_OUT.size + len(payload) if length is None else length
    conn.send(HDR_OUT.pack(n, error, unique) + payload)


def broken_read(conn, unique, size):
    if MODE == 'read-too-long':
        reply(conn, unique, 0, b'X' * (size + 100))
    elif MODE == 'read-bad-length':
        reply(conn, unique, 0, b'Y' * 4, length=0xffffff00)
    elif MODE == 'read-positive-error':
        reply(conn, unique, 5)
    elif MODE == 'read-error-with-data':
        reply(conn, unique, -5, b'Z' * 4)
    elif MODE == 'read-wrong-unique':
        reply(conn, unique + 1000, 0, b'W' * size)   # for someone else: ignored
        reply(conn, unique, 0, b'ok')
    elif MODE == 'read-short-header':
        conn.send(b'\x01\x02\x03')
    else:
        reply(conn, unique, 0, b'ok')


def broken_ioctl(conn, unique, out_size):
    out = struct.Struct('<iIII')  # fuse_ioctl_out
    retry = 4
    if MODE == 'ioctl-retry-unmapped':
        # round 1: copy out to an address nothing is mapped at; round 2:
        # the answer, whose copy-out must fail
        if out_size == 0:
            reply(conn, unique, 0, out.pack(0, retry, 0, 1) + struct.pack('<QQ', 8, 16))
        else:
            reply(conn, unique, 0, out.pack(0, 0, 0, 0) + b'U' * 16)
    elif MODE == 'ioctl-retry-257-fits':
        # round 1 asks for 8 KiB out, so that 257 iovecs fit the reply
        if out_size == 0:
            reply(conn, unique, 0, out.pack(0, retry, 0, 1) + struct.pack('<QQ', 0x1000, 8192))
        else:
            reply(conn, unique, 0, out.pack(0, retry, 257, 0) + struct.pack('<QQ', 0x1000, 1) * 257)
    elif MODE == 'ioctl-retry-257':
        reply(conn, unique, 0, out.pack(0, retry, 257, 0) + struct.pack('<QQ', 0x1000, 1) * 257)
    elif MODE == 'ioctl-retry-count-mismatch':
        reply(conn, unique, 0, out.pack(0, retry, 3, 0) + struct.pack('<QQ', 0x1000, 1))
    elif MODE == 'ioctl-too-long':
        reply(conn, unique, 0, out.pack(0, 0, 0, 0) + b'L' * (out_size + 64))
    else:
        reply(conn, unique, 0, out.pack(0, 0, 0, 0))


def serve(conn):
    handles = 0
    while True:
        try:
            msg, anc, _, _ = conn.recvmsg(1 << 18, socket.CMSG_SPACE(16))
        except OSError:
            return
        if not msg:
            return
        for level, typ, data in anc:
            if level == socket.SOL_SOCKET and typ == socket.SCM_RIGHTS:
                for fd in struct.unpack('%di' % (len(data) // 4), data[:len(data) // 4 * 4]):
                    os.close(fd)
        if len(msg) < HDR_IN.size:
            continue
        n, op, unique = HDR_IN.unpack_from(msg)[:3]
        if op in (OP_HELLO, OP_OPEN):
            reply(conn, unique, 0, hello_out())
            if op == OP_OPEN:
                return   # a file connection: nothing more on it
        elif op == OP_ATTACH:
            handles += 1
            reply(conn, unique, 0, struct.pack('<QII', handles, 0o100002, 0))
        elif op == OP_CLOSED:
            reply(conn, unique)
        elif op == FUSE_READ:
            size = struct.unpack_from('<QQI', msg, HDR_IN.size)[2]
            broken_read(conn, unique, size)
        elif op == FUSE_IOCTL:
            out_size = struct.unpack_from('<QIIQII', msg, HDR_IN.size)[5]
            broken_ioctl(conn, unique, out_size)
        else:
            reply(conn, unique, -38)


attr = os.path.join(DIR, '.%s.attr' % NAME)
fd = os.open(attr, os.O_RDWR | os.O_CREAT, 0o644)
fcntl.fcntl(fd, 37, struct.pack('hhqqi4x', fcntl.F_WRLCK, 0, 0, 0, 0))  # F_OFD_SETLK
bind = os.path.join(DIR, '.%s.sock' % NAME)
lst = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
lst.bind(bind)
lst.listen(64)
os.link(bind, os.path.join(DIR, NAME))
line = 'version=1 major=240 minor=7 mode=0600 uid=%d gid=%d pid=%d flags=1\n' % (
    os.geteuid(), os.getegid(), os.getpid())
os.pwrite(fd, line.encode(), 0)
while True:
    c, _ = lst.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
