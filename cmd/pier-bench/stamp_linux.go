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
		var kts int64
		if msgs, err := syscall.ParseSocketControlMessage(oob[:oobn]); err == nil {
			for _, m := range msgs {
				if m.Header.Level == syscall.SOL_SOCKET && m.Header.Type == syscall.SO_TIMESTAMPNS && len(m.Data) >= int(unsafe.Sizeof(syscall.Timespec{})) {
					sec := int64(binary.NativeEndian.Uint64(m.Data[0:8]))
					nsec := int64(binary.NativeEndian.Uint64(m.Data[8:16]))
					kts = sec*int64(time.Second) + nsec
				}
			}
		}
		return n, kts, nil
	}, nil
}
