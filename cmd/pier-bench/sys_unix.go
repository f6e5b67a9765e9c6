//go:build unix

package main

import "syscall"

// raiseNofile raises the soft limit of open files to the hard limit. It is
// set explicitly (rather than relying on the Go runtime's own raise) so that
// the child processes started by the runner inherit it too.
func raiseNofile() (uint64, error) {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return 0, err
	}
	l.Cur = l.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return 0, err
	}
	return uint64(l.Cur), nil
}
