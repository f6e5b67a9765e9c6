package main

import (
	"encoding/binary"
	"net"
	"syscall"
	"time"
	"unsafe"
)

// newStampedReader returns a read function for tc that also gives the
// kernel's receive timestamp of the data (SO_TIMESTAMPNS through recvmsg),
// in Unix nanoseconds, or 0 when the kernel attached none.
func newStampedReader(tc *net.TCPConn) (func([]byte) (int, int64, error), error) {
	rc, err := tc.SyscallConn()
	if err != nil {
		return nil, err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_TIMESTAMPNS, 1)
	}); err != nil {
		return nil, err
	}
	if serr != nil {
		return nil, serr
	}
	oob := make([]byte, 128)
	return func(buf []byte) (int, int64, error) {
		var n, oobn int
		var rerr error
		err := rc.Read(func(fd uintptr) bool {
			n, oobn, _, _, rerr = syscall.Recvmsg(int(fd), buf, oob, 0)
			return rerr != syscall.EAGAIN
		})
		if err != nil {
			return 0, 0, err
		}
		if rerr != nil {
			return 0, 0, rerr
		}
		if n == 0 {
			return 0, 0, net.ErrClosed
		}
		return n, kernelStamp(oob[:oobn]), nil
	}, nil
}

// kernelStamp is the SO_TIMESTAMPNS time in the control messages of a
// recvmsg(2), Unix ns, or 0 without one.
func kernelStamp(oob []byte) int64 {
	const align = int(unsafe.Sizeof(uintptr(0)))
	for len(oob) >= syscall.SizeofCmsghdr {
		h := (*syscall.Cmsghdr)(unsafe.Pointer(&oob[0]))
		l := int(h.Len)
		if l < syscall.SizeofCmsghdr || l > len(oob) {
			return 0
		}
		if h.Level == syscall.SOL_SOCKET && h.Type == syscall.SO_TIMESTAMPNS && l-syscall.SizeofCmsghdr >= 16 {
			d := oob[syscall.SizeofCmsghdr:]
			return int64(binary.NativeEndian.Uint64(d[0:8]))*int64(time.Second) + int64(binary.NativeEndian.Uint64(d[8:16]))
		}
		l = (l + align - 1) &^ (align - 1)
		if l >= len(oob) {
			return 0
		}
		oob = oob[l:]
	}
	return 0
}
