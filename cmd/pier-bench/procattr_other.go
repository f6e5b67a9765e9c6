//go:build !linux

package main

import "syscall"

// childAttr is nil off Linux, which has no parent-death signal: children
// are stopped by the runner's own cleanup only.
func childAttr() *syscall.SysProcAttr { return nil }
