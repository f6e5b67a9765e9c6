//go:build !linux

package main

import "errors"

// runServeFloor: the floor server is an epoll loop, Linux only.
func runServeFloor([]string) error { return errors.New("serve-floor runs on Linux only") }
