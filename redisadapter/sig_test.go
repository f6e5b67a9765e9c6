package redisadapter_test

import "syscall"

var sigStop = syscall.SIGSTOP
