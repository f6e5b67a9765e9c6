package redistest

import "syscall"

// procAttr makes the kernel stop redis-server when the test process dies.
func procAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM} }
