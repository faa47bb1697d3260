// SPDX-License-Identifier: MIT
//
// goprobe: a Go program using a device the way Go programs do.  Go makes
// its own system calls (LD_PRELOAD never sees them), registers an opened
// character device with its netpoller (epoll, edge-triggered) and sets it
// non-blocking, so a read that finds no data parks the goroutine until
// epoll says the fd is readable.  One line per step:
//
//	goprobe PATH STEP...
//	  write:TEXT   -> "write=N"
//	  read:N       one read of N bytes, waiting at most 20 s
//	               -> "read=R data=..." or "read=-1 err=..."
//	  getfl        -> "nonblock=true|false"
//	  stat         -> "mode=chr rdev=MAJ:MIN"
//	  fionread     ioctl(FIONREAD), restricted -> "fionread=N"
//	  reverse:TEXT ptrdev's PTRDEV_REVERSE (examples/ptrdev.h): the
//	               argument points at more memory, which only an
//	               unrestricted device can ask for -> "reverse=N data=..."
//	  recho:TEXT   ptrdev's restricted PTRDEV_R_ECHO on a 64-byte blob
//	               -> "recho=N data=..."
//	The ioctls are syscall.Syscall(SYS_IOCTL, ...), as Go programs make them.
package main

import (
	"bytes"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"
)

// examples/ptrdev.h
type ptrReq struct {
	len   uint32
	flags uint32
	buf   *byte
}

const (
	iocRead       = 2
	iocWrite      = 1
	ptrdevReverse = (iocRead|iocWrite)<<30 | 16<<16 | 'P'<<8 | 1
	ptrdevREcho   = (iocRead|iocWrite)<<30 | 64<<16 | 'P'<<8 | 22
)

func ioctl(f *os.File, cmd uintptr, arg unsafe.Pointer) (int, error) {
	var r uintptr
	err := withFd(f, func(fd uintptr) error {
		var errno syscall.Errno
		r, _, errno = syscall.Syscall(syscall.SYS_IOCTL, fd, cmd, uintptr(arg))
		if errno != 0 {
			return errno
		}
		return nil
	})
	return int(r), err
}

func ioctlStep(f *os.File, what, arg string) string {
	switch what {
	case "fionread":
		var n int32 = -1
		if _, err := ioctl(f, syscall.TIOCINQ, unsafe.Pointer(&n)); err != nil {
			return "fionread=-1 err=" + err.Error()
		}
		return fmt.Sprintf("fionread=%d", n)
	case "reverse":
		buf := []byte(arg)
		req := &ptrReq{len: uint32(len(buf)), buf: &buf[0]}
		r, err := ioctl(f, ptrdevReverse, unsafe.Pointer(req))
		runtime.KeepAlive(buf)
		if err != nil {
			return "reverse=-1 err=" + err.Error()
		}
		return fmt.Sprintf("reverse=%d data=%s", r, buf)
	default: // recho
		var blob [64]byte
		copy(blob[:], arg)
		r, err := ioctl(f, ptrdevREcho, unsafe.Pointer(&blob))
		if err != nil {
			return "recho=-1 err=" + err.Error()
		}
		return fmt.Sprintf("recho=%d data=%s", r, bytes.TrimRight(blob[:], "\x00"))
	}
}

func readOnce(f *os.File, n int) string {
	buf := make([]byte, n)
	if err := f.SetReadDeadline(time.Now().Add(20 * time.Second)); err != nil {
		return "read=-1 err=no deadline: " + err.Error()
	}
	r, err := f.Read(buf)
	if err != nil {
		return "read=-1 err=" + err.Error()
	}
	return fmt.Sprintf("read=%d data=%s", r, buf[:r])
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: goprobe PATH STEP...")
		os.Exit(2)
	}
	f, err := os.OpenFile(os.Args[1], os.O_RDWR, 0)
	if err != nil {
		fmt.Println("open=-1 err=" + err.Error())
		os.Exit(1)
	}
	fmt.Println("open=ok")
	for _, s := range os.Args[2:] {
		what, arg, _ := strings.Cut(s, ":")
		switch what {
		case "write":
			n, err := f.Write([]byte(arg))
			if err != nil {
				fmt.Println("write=-1 err=" + err.Error())
			} else {
				fmt.Printf("write=%d\n", n)
			}
		case "read":
			n, _ := strconv.Atoi(arg)
			fmt.Println(readOnce(f, n))
		case "fionread", "reverse", "recho":
			fmt.Println(ioctlStep(f, what, arg))
		case "getfl":
			fl, err := fcntlGetfl(f)
			if err != nil {
				fmt.Println("getfl=-1 err=" + err.Error())
			} else {
				fmt.Printf("nonblock=%v\n", fl&syscall.O_NONBLOCK != 0)
			}
		case "stat":
			var st syscall.Stat_t
			// not f.Fd(): that would put the file back in blocking mode
			if err := withFd(f, func(fd uintptr) error {
				return syscall.Fstat(int(fd), &st)
			}); err != nil {
				fmt.Println("stat=-1 err=" + err.Error())
			} else {
				kind := "other"
				if st.Mode&syscall.S_IFMT == syscall.S_IFCHR {
					kind = "chr"
				}
				fmt.Printf("mode=%s rdev=%d:%d\n", kind, (st.Rdev>>8)&0xfff,
					(st.Rdev&0xff)|((st.Rdev>>12)&0xfff00))
			}
		default:
			fmt.Fprintln(os.Stderr, "goprobe: unknown step "+what)
			os.Exit(2)
		}
	}
	if err := f.Close(); err != nil {
		fmt.Println("close=-1 err=" + err.Error())
		os.Exit(1)
	}
}

func withFd(f *os.File, fn func(fd uintptr) error) error {
	sc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var inner error
	if err := sc.Control(func(fd uintptr) { inner = fn(fd) }); err != nil {
		return err
	}
	return inner
}

func fcntlGetfl(f *os.File) (int, error) {
	var fl uintptr
	err := withFd(f, func(fd uintptr) error {
		var errno syscall.Errno
		fl, _, errno = syscall.Syscall(syscall.SYS_FCNTL, fd, syscall.F_GETFL, 0)
		if errno != 0 {
			return errno
		}
		return nil
	})
	return int(fl), err
}
