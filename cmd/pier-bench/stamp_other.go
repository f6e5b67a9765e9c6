//go:build !linux

package main

import "net"

// newStampedReader returns a plain read function for tc: kernel receive
// timestamps are read on Linux only, so the latencies reported elsewhere
// are all taken when the client read the data.
func newStampedReader(tc *net.TCPConn) (func([]byte) (int, int64, error), error) {
	return func(buf []byte) (int, int64, error) {
		n, err := tc.Read(buf)
		if n > 0 {
			return n, 0, nil
		}
		if err == nil {
			err = net.ErrClosed
		}
		return 0, 0, err
	}, nil
}
