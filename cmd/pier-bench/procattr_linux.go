package main

import "syscall"

// childAttr makes the kernel kill a child process (server, load
// generator, redis-server) when the runner dies, whatever the cause, so
// that an interrupted or crashed run leaves nothing behind.
func childAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} }
